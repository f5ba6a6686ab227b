/* Configuration: environment -> struct config. Every default and every
 * error message lives here; nothing else reads the environment. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define DEFAULT_TIMEOUT_MS INT64_C(30000)
#define CLASSIC_TIMEOUT_MS INT64_C(5000)
#define BUFFERED_BODY_LIMIT (INT64_C(64) * 1024 * 1024)
#define PRESPAWN_MAX 64
#define DURATION_HINT "(use e.g. 10s, 500ms, 1m30s)"

static const char *const modes[] = {
    "streaming", "serializing", "http", "static", "classic", NULL,
};

/* ---- errors ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A value quoted in an error message: the message must stay one line and
 * readable whatever the environment holds, so control bytes become '?'
 * and long values are cut. */
static const char *shown(const char *v, char *buf, size_t len)
{
    size_t max = 60, i = 0;

    for (; v[i] && i < max && i + 4 < len; i++) {
        unsigned char c = (unsigned char)v[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (v[i] && i + 3 < len) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* ---- environment lookup ---- */

/* The value of name in envp, NULL when unset. First entry wins, as getenv. */
static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    }
    return NULL;
}

/* Empty values mean "use the default" for everything but booleans, as in
 * the Go watchdog, where an empty string parses as the fallback. */
static const char *env_value(char *const *envp, const char *name)
{
    const char *v = env_get(envp, name);
    return (v && *v) ? v : NULL;
}

/* ---- scalar parsers ---- */

/* Unsigned decimal digits only (no sign, no spaces), with overflow check.
 * *end receives the first byte after the digits. */
static int parse_digits(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (p == s)
        return -1;
    *out = v;
    *end = p;
    return 0;
}

/* A whole string as an integer in [min, max]. */
static int parse_int_range(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = (*s == '-');
    uint64_t v;
    const char *end;

    if (parse_digits(s + neg, &v, &end) < 0 || *end != '\0')
        return -1;
    if (!neg && v > (uint64_t)INT64_MAX)
        return -1;
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return -1;
    int64_t x = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

int config_parse_bool(const char *s, bool *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0) {
        *out = true;
        return 0;
    }
    if (*s == '\0' || strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

/* ---- durations (Go time.ParseDuration syntax) ---- */

struct unit {
    const char *name;
    int64_t ns;
};

static const struct unit units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", NS_PER_MS},
    {"s", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
};

static int64_t unit_ns(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0)
            return units[i].ns;
    }
    return 0;
}

/* Fraction digits after '.': value and scale (10^digits), digits past what
 * fits are dropped because they cannot change the result. */
static const char *parse_fraction(const char *p, uint64_t *frac, double *scale,
                                  bool *any)
{
    bool overflow = false;

    *frac = 0;
    *scale = 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        *any = true;
        if (overflow)
            continue;
        if (*frac > (uint64_t)INT64_MAX / 10) {
            overflow = true;
            continue;
        }
        *frac = *frac * 10 + (uint64_t)(*p - '0');
        *scale *= 10;
    }
    return p;
}

/* One "<number><unit>" element; adds its nanoseconds to *total. */
static const char *parse_element(const char *p, uint64_t *total)
{
    uint64_t whole = 0, frac = 0;
    double scale = 1;
    bool any = false;
    const char *q;

    if (*p >= '0' && *p <= '9') {
        if (parse_digits(p, &whole, &q) < 0)
            return NULL;
        p = q;
        any = true;
    }
    if (*p == '.')
        p = parse_fraction(p + 1, &frac, &scale, &any);
    if (!any)
        return NULL;

    const char *u = p;
    while (*p && *p != '.' && !(*p >= '0' && *p <= '9'))
        p++;
    int64_t ns = unit_ns(u, (size_t)(p - u));
    if (ns == 0)
        return NULL; /* missing or unknown unit */

    uint64_t limit = (uint64_t)INT64_MAX;
    if (whole > limit / (uint64_t)ns)
        return NULL;
    uint64_t v = whole * (uint64_t)ns;
    v += (uint64_t)((double)frac * ((double)ns / scale));
    if (v > limit || *total > limit - v)
        return NULL;
    *total += v;
    return p;
}

/* Go duration syntax to nanoseconds; negative values are rejected because
 * no setting of ours can use one. */
static int parse_go_duration(const char *s, uint64_t *ns)
{
    bool neg = false;
    uint64_t total = 0;

    if (*s == '-' || *s == '+')
        neg = (*s++ == '-');
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    while (*s) {
        s = parse_element(s, &total);
        if (!s)
            return -1;
    }
    if (neg && total != 0)
        return -1;
    *ns = total;
    return 0;
}

int config_parse_duration(const char *s, int64_t *out_ms)
{
    uint64_t ns, secs;
    const char *end;

    if (!s || *s == '\0')
        return -1;
    /* A bare integer is seconds (the Go watchdog's rule); keep the same
     * range as a Go duration so both spellings agree. */
    if (parse_digits(s, &secs, &end) == 0 && *end == '\0') {
        if (secs > (uint64_t)(INT64_MAX / NS_PER_S))
            return -1;
        *out_ms = (int64_t)secs * 1000;
        return 0;
    }
    if (parse_go_duration(s, &ns) < 0)
        return -1;
    /* Rounded up: "500us" must not turn into "no timeout". */
    *out_ms = (int64_t)((ns + (uint64_t)NS_PER_MS - 1) / (uint64_t)NS_PER_MS);
    return 0;
}

/* Byte sizes: integer with an optional k, M or G suffix (1024-based). */
static int parse_size(const char *s, int64_t *out)
{
    uint64_t v, mult = 1;
    const char *end;

    if (parse_digits(s, &v, &end) < 0)
        return -1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1024; end++; break;
    case 'm': case 'M': mult = 1024 * 1024; end++; break;
    case 'g': case 'G': mult = 1024 * 1024 * 1024; end++; break;
    default: return -1;
    }
    if (*end != '\0' || v > (uint64_t)INT64_MAX / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

/* ---- command splitting ---- */

/* One pass over a command line. With buf NULL it only counts words and
 * bytes; otherwise it writes NUL-terminated words into buf and their
 * starts into argv. Both passes share this code so sizes always match. */
static int tokenize(const char *s, char *buf, char **argv, size_t *nwords,
                    char *err, size_t errlen)
{
    size_t words = 0, pos = 0;

    while (*s) {
        if (*s == ' ' || *s == '\t') {
            s++;
            continue;
        }
        if (argv)
            argv[words] = buf + pos;
        while (*s && *s != ' ' && *s != '\t') {
            char q = *s;
            if (q != '"' && q != '\'') {
                if (buf)
                    buf[pos] = q;
                pos++;
                s++;
                continue;
            }
            for (s++; *s && *s != q; s++) {
                if (q == '"' && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                    s++;
                if (buf)
                    buf[pos] = *s;
                pos++;
            }
            if (*s != q)
                return fail(err, errlen, "unbalanced %s quote",
                            q == '"' ? "double" : "single");
            s++;
        }
        if (buf)
            buf[pos] = '\0';
        pos++;
        words++;
    }
    if (words == 0)
        return fail(err, errlen, "empty command");
    *nwords = words;
    return 0;
}

char **config_split_command(const char *s, char *err, size_t errlen)
{
    size_t n = 0;

    if (!s) {
        fail(err, errlen, "empty command");
        return NULL;
    }
    if (tokenize(s, NULL, NULL, &n, err, errlen) < 0)
        return NULL;
    /* Words never take more room than the input plus one NUL, so one block
     * holds the pointer array and the strings; free() releases both. */
    size_t ptrs = (n + 1) * sizeof(char *);
    char **argv = malloc(ptrs + strlen(s) + 1);
    if (!argv) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    tokenize(s, (char *)argv + ptrs, argv, &n, err, errlen);
    argv[n] = NULL;
    return argv;
}

void config_free_argv(char **argv)
{
    free(argv);
}

char *config_lock_path(char *const *envp)
{
    const char *dir = env_value(envp, "TMPDIR");
    size_t len;
    char *path;

    if (!dir)
        dir = "/tmp";
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--; /* "/tmp/" and "/tmp" name the same lock */
    if (len == 1 && dir[0] == '/')
        len = 0;
    path = malloc(len + sizeof("/.lock"));
    if (!path)
        return NULL;
    memcpy(path, dir, len);
    memcpy(path + len, "/.lock", sizeof("/.lock"));
    return path;
}

/* ---- typed loaders: value from envp, default when unset, error naming
 * the variable when invalid ---- */

struct loader {
    char *const *envp;
    char *err;
    size_t errlen;
};

static int load_duration(const struct loader *l, const char *name, int64_t def,
                         bool positive, int64_t *out)
{
    const char *v = env_value(l->envp, name);
    char sb[80];

    *out = def;
    if (!v)
        return 0;
    if (config_parse_duration(v, out) < 0)
        return fail(l->err, l->errlen, "%s: invalid duration \"%s\" " DURATION_HINT,
                    name, shown(v, sb, sizeof(sb)));
    if (positive && *out == 0)
        return fail(l->err, l->errlen, "%s: must be greater than 0 " DURATION_HINT,
                    name);
    return 0;
}

static int load_bool(const struct loader *l, const char *name, bool def, bool *out)
{
    const char *v = env_get(l->envp, name);
    char sb[80];

    *out = def;
    if (!v)
        return 0;
    if (config_parse_bool(v, out) < 0)
        return fail(l->err, l->errlen, "%s: invalid boolean \"%s\" (use true or false)",
                    name, shown(v, sb, sizeof(sb)));
    return 0;
}

/* what names the kind of value in the message ("port", "number"). */
static int load_int(const struct loader *l, const char *name, const char *what,
                    int64_t def, int64_t min, int64_t max, int64_t *out)
{
    const char *v = env_value(l->envp, name);
    char sb[80];

    *out = def;
    if (!v)
        return 0;
    if (parse_int_range(v, min, max, out) < 0) {
        if (max == INT32_MAX || max == INT64_MAX)
            return fail(l->err, l->errlen, "%s: invalid %s \"%s\" (use an integer >= %lld)",
                        name, what, shown(v, sb, sizeof(sb)), (long long)min);
        return fail(l->err, l->errlen, "%s: invalid %s \"%s\" (use %lld-%lld)",
                    name, what, shown(v, sb, sizeof(sb)), (long long)min, (long long)max);
    }
    return 0;
}

static int load_size(const struct loader *l, const char *name, int64_t def,
                     int64_t *out)
{
    const char *v = env_value(l->envp, name);
    char sb[80];

    *out = def;
    if (!v)
        return 0;
    if (parse_size(v, out) < 0)
        return fail(l->err, l->errlen,
                    "%s: invalid size \"%s\" (use bytes, or e.g. 512k, 64M, 1G)",
                    name, shown(v, sb, sizeof(sb)));
    return 0;
}

/* A copy of the value, or of def (which may be NULL) when unset or empty. */
static int load_string(const struct loader *l, const char *name, const char *def,
                       char **out)
{
    const char *v = env_value(l->envp, name);

    if (!v)
        v = def;
    *out = NULL;
    if (!v)
        return 0;
    *out = strdup(v);
    if (!*out)
        return fail(l->err, l->errlen, "%s: out of memory", name);
    return 0;
}

/* Of two spellings, the second one wins when set; the name returned is the
 * winner so errors point at the variable the user actually wrote. */
static const char *pick_name(const struct loader *l, const char *first,
                             const char *second)
{
    return env_value(l->envp, second) ? second : first;
}

/* ---- the settings ---- */

static int load_mode(const struct loader *l, struct config *cfg)
{
    const char *v = env_value(l->envp, "mode");
    char sb[80];

    cfg->mode = modes[0];
    if (!v)
        return 0;
    for (size_t i = 0; modes[i]; i++) {
        if (strcmp(v, modes[i]) == 0) {
            cfg->mode = modes[i];
            return 0;
        }
    }
    return fail(l->err, l->errlen,
                "mode: unknown mode \"%s\" (use streaming, serializing, http, static or classic)",
                shown(v, sb, sizeof(sb)));
}

static bool mode_is(const struct config *cfg, const char *name)
{
    return strcmp(cfg->mode, name) == 0;
}

static int load_fprocess(const struct loader *l, struct config *cfg)
{
    const char *name = pick_name(l, "fprocess", "function_process");
    char why[128];

    if (load_string(l, name, NULL, &cfg->fprocess) < 0)
        return -1;
    if (!cfg->fprocess) {
        if (mode_is(cfg, "static"))
            return 0;
        return fail(l->err, l->errlen,
                    "fprocess: not set (the function command, e.g. fprocess=\"cat\")");
    }
    cfg->argv = config_split_command(cfg->fprocess, why, sizeof(why));
    if (!cfg->argv)
        return fail(l->err, l->errlen, "%s: invalid command: %s", name, why);
    return 0;
}

static int load_ports(const struct loader *l, struct config *cfg)
{
    const char *name = env_value(l->envp, "port") ? "port" : "PORT";
    int64_t port, metrics;

    if (load_int(l, name, "port", 8080, 1, 65535, &port) < 0)
        return -1;
    if (load_int(l, "metrics_port", "port", 8081, 0, 65535, &metrics) < 0)
        return -1;
    if (metrics != 0 && metrics == port)
        return fail(l->err, l->errlen,
                    "metrics_port: %lld is already used by %s (choose another, or 0 to disable)",
                    (long long)metrics, name);
    cfg->port = (int)port;
    cfg->metrics_port = (int)metrics;
    return 0;
}

static int load_timeouts(const struct loader *l, struct config *cfg)
{
    /* The classic watchdog's defaults: 5 s to read and write, no exec limit. */
    bool classic = mode_is(cfg, "classic");
    int64_t exec_def = classic ? 0 : DEFAULT_TIMEOUT_MS;
    int64_t io_def = classic ? CLASSIC_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;

    if (load_duration(l, "read_timeout", io_def, true, &cfg->read_timeout_ms) < 0 ||
        load_duration(l, "write_timeout", io_def, true, &cfg->write_timeout_ms) < 0 ||
        load_duration(l, "exec_timeout", exec_def, false, &cfg->exec_timeout_ms) < 0)
        return -1;
    return load_duration(l, "healthcheck_interval", cfg->write_timeout_ms, false,
                         &cfg->healthcheck_interval_ms);
}

static int load_upstream(const struct loader *l, struct config *cfg)
{
    const char *name = pick_name(l, "upstream_url", "http_upstream_url");
    bool a, b;
    char sb[80];

    if (load_bool(l, "http_buffer_req_body", false, &a) < 0 ||
        load_bool(l, "buffer_http", false, &b) < 0)
        return -1;
    cfg->buffer_req_body = a || b;
    if (load_string(l, name, NULL, &cfg->upstream_url) < 0)
        return -1;
    if (!mode_is(cfg, "http"))
        return 0;
    if (!cfg->upstream_url)
        return fail(l->err, l->errlen,
                    "upstream_url: not set (required in http mode, e.g. upstream_url=\"http://127.0.0.1:5000\")");
    /* The http mode parses it fully; here only catch the obvious mistake. */
    if (strncasecmp(cfg->upstream_url, "http://", 7) != 0)
        return fail(l->err, l->errlen, "%s: invalid URL \"%s\" (must start with http://)",
                    name, shown(cfg->upstream_url, sb, sizeof(sb)));
    return 0;
}

#define SERVICE_ACCOUNT_NAMESPACE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/* The namespace Kubernetes mounts into every pod, trailing newline and
 * spaces dropped. NULL when it cannot be read. */
static char *read_namespace_file(const char *path)
{
    char buf[256];
    FILE *f = fopen(path, "re");
    size_t n;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

/* jwt_auth needs the function's reference (namespace:name) that tokens
 * grant; as in the Go watchdog, OPENFAAS_NAMESPACE may be set and empty. */
static int load_function_ref(const struct loader *l, struct config *cfg)
{
    const char *ns = env_get(l->envp, "OPENFAAS_NAMESPACE");

    if (load_string(l, "OPENFAAS_NAME", NULL, &cfg->function_name) < 0)
        return -1;
    if (!cfg->function_name)
        return fail(l->err, l->errlen,
                    "OPENFAAS_NAME: not set (jwt_auth=true needs the function's name)");
    cfg->function_namespace = ns ? strdup(ns) : read_namespace_file(SERVICE_ACCOUNT_NAMESPACE);
    if (!cfg->function_namespace)
        return fail(l->err, l->errlen,
                    "OPENFAAS_NAMESPACE: not set and " SERVICE_ACCOUNT_NAMESPACE
                    " cannot be read (jwt_auth=true needs the function's namespace)");
    return 0;
}

/* Settings that guard the function (auth.c). */
static int load_security(const struct loader *l, struct config *cfg)
{
    char sb[80];

    if (load_bool(l, "jwt_auth", false, &cfg->jwt_auth) < 0 ||
        load_bool(l, "jwt_auth_debug", false, &cfg->jwt_auth_debug) < 0 ||
        load_bool(l, "jwt_auth_local", false, &cfg->jwt_auth_local) < 0 ||
        load_string(l, "jwt_auth_discovery_url", NULL, &cfg->jwt_auth_discovery_url) < 0 ||
        load_string(l, "resolv_conf", NULL, &cfg->resolv_conf) < 0 ||
        load_string(l, "hosts_file", NULL, &cfg->hosts_file) < 0)
        return -1;
    if (cfg->jwt_auth_discovery_url && strncasecmp(cfg->jwt_auth_discovery_url, "http://", 7) != 0)
        return fail(l->err, l->errlen,
                    "jwt_auth_discovery_url: invalid URL \"%s\" (must start with http://)",
                    shown(cfg->jwt_auth_discovery_url, sb, sizeof(sb)));
    return cfg->jwt_auth ? load_function_ref(l, cfg) : 0;
}

static int load_flags(const struct loader *l, struct config *cfg)
{
    if (load_bool(l, "suppress_lock", false, &cfg->suppress_lock) < 0 ||
        load_bool(l, "prefix_logs", true, &cfg->prefix_logs) < 0 ||
        load_bool(l, "log_callid", false, &cfg->log_callid) < 0 ||
        load_bool(l, "cgi_headers", true, &cfg->cgi_headers) < 0 ||
        load_bool(l, "cgi_response", false, &cfg->cgi_response) < 0 ||
        load_bool(l, "combine_output", true, &cfg->combine_output) < 0 ||
        load_bool(l, "write_debug", false, &cfg->write_debug) < 0 ||
        load_bool(l, "marshal_request", false, &cfg->marshal_request) < 0 ||
        load_bool(l, "debug_headers", false, &cfg->debug_headers) < 0)
        return -1;
    return load_security(l, cfg);
}

static int load_limits(const struct loader *l, struct config *cfg)
{
    bool buffered = mode_is(cfg, "serializing") || mode_is(cfg, "classic");
    int64_t inflight, logbuf, conns;

    if (load_int(l, "max_inflight", "number", 0, 0, INT32_MAX, &inflight) < 0 ||
        load_int(l, "log_buffer_size", "number", 65536, INT64_MIN, INT64_MAX, &logbuf) < 0 ||
        load_int(l, "max_connections", "number", 10000, 1, INT32_MAX, &conns) < 0)
        return -1;
    cfg->max_inflight = (int)inflight;
    /* Any size Go takes (-1: unlimited, in the newest): lines are never cut here. */
    cfg->log_buffer_size = logbuf < 0 ? 0 : (size_t)logbuf;
    cfg->max_connections = (int)conns;
    /* Buffering modes hold the whole body in memory, so they get a cap by
     * default; streaming modes never hold it and need none. */
    return load_size(l, "max_request_body", buffered ? BUFFERED_BODY_LIMIT : 0,
                     &cfg->max_request_body);
}

/* After mode and cgi_headers: both decide whether prespawn can work. */
static int load_prespawn(const struct loader *l, struct config *cfg)
{
    int64_t n;

    if (load_int(l, "prespawn", "number", 0, 0, PRESPAWN_MAX, &n) < 0)
        return -1;
    cfg->prespawn = (int)n;
    if (n == 0)
        return 0;
    if (mode_is(cfg, "http") || mode_is(cfg, "static"))
        return fail(l->err, l->errlen,
                    "prespawn: only for the fork modes (streaming, serializing, classic)");
    if (cfg->cgi_headers)
        return fail(l->err, l->errlen,
                    "prespawn: needs cgi_headers=false (prespawned functions start before "
                    "the request, so they cannot receive Http_* variables)");
    return 0;
}

static int load_log_format(const struct loader *l, struct config *cfg)
{
    const char *v = env_value(l->envp, "log_format");
    char sb[80];

    cfg->log_format = LOG_FORMAT_TEXT;
    if (!v || strcmp(v, "text") == 0)
        return 0;
    if (strcmp(v, "json") == 0) {
        cfg->log_format = LOG_FORMAT_JSON;
        return 0;
    }
    return fail(l->err, l->errlen, "log_format: unknown format \"%s\" (use text or json)",
                shown(v, sb, sizeof(sb)));
}

static int load_paths(const struct loader *l, struct config *cfg)
{
    if (load_string(l, "content_type", NULL, &cfg->content_type) < 0 ||
        load_string(l, "static_path", "/home/app/public", &cfg->static_path) < 0 ||
        load_string(l, "ready_path", NULL, &cfg->ready_path) < 0)
        return -1;
    cfg->lock_path = config_lock_path(l->envp);
    if (!cfg->lock_path)
        return fail(l->err, l->errlen, "TMPDIR: out of memory");
    return 0;
}

int config_load(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    struct loader l = {envp, err, errlen};

    memset(cfg, 0, sizeof(*cfg));
    if (err && errlen > 0)
        err[0] = '\0';
    /* mode first: it decides several defaults below. */
    if (load_mode(&l, cfg) < 0 ||
        load_fprocess(&l, cfg) < 0 ||
        load_ports(&l, cfg) < 0 ||
        load_timeouts(&l, cfg) < 0 ||
        load_upstream(&l, cfg) < 0 ||
        load_flags(&l, cfg) < 0 ||
        load_limits(&l, cfg) < 0 ||
        load_prespawn(&l, cfg) < 0 ||
        load_log_format(&l, cfg) < 0 ||
        load_paths(&l, cfg) < 0)
        goto err;
    return 0;
err:
    config_free(cfg);
    return -1;
}

void config_free(struct config *cfg)
{
    free(cfg->fprocess);
    config_free_argv(cfg->argv);
    free(cfg->upstream_url);
    free(cfg->content_type);
    free(cfg->static_path);
    free(cfg->ready_path);
    free(cfg->lock_path);
    free(cfg->jwt_auth_discovery_url);
    free(cfg->function_name);
    free(cfg->function_namespace);
    free(cfg->resolv_conf);
    free(cfg->hosts_file);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- --help ---- */

struct help_row {
    const char *name;
    const char *def;
    const char *meaning;
};

static const struct help_row help_rows[] = {
    {"fprocess", "(none)", "function command; quotes group words (required except static)"},
    {"function_process", "(none)", "same as fprocess; wins when both are set"},
    {"mode", "streaming", "streaming, serializing, http, static or classic"},
    {"port", "8080", "HTTP port (1-65535)"},
    {"PORT", "8080", "used when port is unset (Knative, Cloud Run)"},
    {"metrics_port", "8081", "Prometheus /metrics port; 0 disables; in use: exit 1"},
    {"read_timeout", "30s", "time to read a request (headers and body) (classic: 5s)"},
    {"write_timeout", "30s", "time to write a response; must be > 0 (classic: 5s)"},
    {"exec_timeout", "30s", "limit for one function call, 0 = none (classic: 0)"},
    {"healthcheck_interval", "write_timeout", "drain window after SIGTERM"},
    {"upstream_url", "(none)", "http mode: where the function listens (http://...)"},
    {"http_upstream_url", "(none)", "same as upstream_url; wins when both are set"},
    {"http_buffer_req_body", "false", "http mode: buffer the request body, send Content-Length"},
    {"buffer_http", "false", "same as http_buffer_req_body"},
    {"content_type", "application/octet-stream", "Content-Type of fork-mode responses (classic: the request's)"},
    {"static_path", "/home/app/public", "root directory for static mode"},
    {"max_inflight", "0", "concurrent requests allowed, 0 = no limit; over it: 429"},
    {"max_connections", "10000", "open client connections allowed"},
    {"max_request_body", "0", "request body limit in bytes (k/M/G), 0 = none;"
                              " serializing, classic: 64M"},
    {"suppress_lock", "false", "do not write the lock file"},
    {"prefix_logs", "true", "prefix function output with date, time and stream"},
    {"log_buffer_size", "65536", "accepted for compatibility; lines are never cut"},
    {"log_callid", "false", "append [X-Call-Id] to request log lines"},
    {"log_format", "text", "text or json"},
    {"ready_path", "(none)", "/_/ready asks the function at this path"},
    {"cgi_headers", "true", "pass request headers as Http_* variables"},
    {"cgi_response", "false", "fork modes: stdout starts with CGI headers (Status:, ...)"},
    {"prespawn", "0", "fork modes: keep N (0-64) functions started, waiting on stdin;"
                      " needs cgi_headers=false"},
    {"combine_output", "true", "classic: stderr goes into the response"},
    {"write_debug", "false", "classic: log request and response bodies"},
    {"marshal_request", "false", "classic: send headers and body as JSON"},
    {"debug_headers", "false", "classic: print request and response headers to stdout"},
    {"TMPDIR", "/tmp", "directory of the lock file ($TMPDIR/.lock)"},
    {"jwt_auth", "false", "require an OpenFaaS IAM function token (Authorization: Bearer)"},
    {"jwt_auth_debug", "false", "log the issuer, key ids and token claims"},
    {"jwt_auth_local", "false", "discover the issuer at http://127.0.0.1:8000"},
    {"jwt_auth_discovery_url", "(gateway)", "OpenID discovery URL (tests, unusual setups)"},
    {"OPENFAAS_NAME", "(none)", "function name; required with jwt_auth"},
    {"OPENFAAS_NAMESPACE", "(service account)", "function namespace for jwt_auth"},
    {"resolv_conf", "/etc/resolv.conf", "nameservers, search list, ndots for host names"},
    {"hosts_file", "/etc/hosts", "host names answered before DNS"},
};

void config_print_help(FILE *out)
{
    fputs("Usage: fwatchdog [-version | --version | -run-healthcheck | --help]\n\n"
          "  -version, --version  print version and git commit, exit\n"
          "  -run-healthcheck     exit 0 when the lock file exists, else 1\n"
          "  --help               this text\n\n"
          "Settings come from the environment. Durations: 10 (seconds), 500ms, 1m30s.\n"
          "Booleans: true/1 or false/0/empty. Invalid values stop the watchdog (exit 2).\n\n",
          out);
    fprintf(out, "  %-22s %-25s %s\n", "VARIABLE", "DEFAULT", "MEANING");
    for (size_t i = 0; i < sizeof(help_rows) / sizeof(help_rows[0]); i++)
        fprintf(out, "  %-22s %-25s %s\n", help_rows[i].name, help_rows[i].def,
                help_rows[i].meaning);
}
