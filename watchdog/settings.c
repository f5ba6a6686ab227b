/* Settings: environment -> struct config, through one table. Each row
 * names a variable (and its aliases), its type, default and field, the
 * modes it applies to and the rules past its syntax; the loader walks the
 * rows in order and --help prints them. Nothing else reads the
 * environment for a setting. */
#include "settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mode.h"
#include "upstream.h"

#define DURATION_HINT "(use e.g. 10s, 500ms, 1m30s)"
#define SERVICE_ACCOUNT_NAMESPACE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
/* upstream_url's host names: a static binary has no resolver. */
#define UPSTREAM_HOSTS "/etc/hosts"
#define LOCK_DIR "TMPDIR"
#define MAX_NAMES (SETTING_ALIASES + 1)

#define FIELD(f) .offset = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
#define FAIL(l, ...) config_fail((l)->err, (l)->errlen, __VA_ARGS__)

struct loader {
    char *const *envp;
    char *err;
    size_t errlen;
    const struct config *cfg; /* what is loaded so far (the mode comes first) */
};

static unsigned mode_bits(const struct config *cfg)
{
    return cfg->mode ? mode_bit(cfg->mode) : 0;
}

/* ---- values from the environment ---- */

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

/* The names of s in the order they are looked up. */
static size_t lookup_order(const struct setting *s, const char *names[MAX_NAMES])
{
    size_t n = 0;

    if (!s->alias_wins)
        names[n++] = s->name;
    for (size_t i = 0; i < SETTING_ALIASES && s->aliases[i]; i++)
        names[n++] = s->aliases[i];
    if (s->alias_wins)
        names[n++] = s->name;
    return n;
}

/* name's value when it is set. An empty value means "the default", as in
 * the Go watchdogs (for booleans too: an empty prefix_logs, cgi_headers or
 * combine_output leaves them true), except where empty is a value itself
 * (an empty namespace). */
static const char *value_of(const struct loader *l, const struct setting *s, const char *name)
{
    const char *v = env_get(l->envp, name);

    return v && (*v || s->keep_empty) ? v : NULL;
}

/* The first of s's names that is set, with its value in *v; when none is,
 * *v is NULL and the name is the last one looked up, which errors name. */
static const char *pick(const struct loader *l, const struct setting *s, const char **v)
{
    const char *names[MAX_NAMES];
    size_t n = lookup_order(s, names);

    for (size_t i = 0; i < n; i++) {
        if ((*v = value_of(l, s, names[i])) != NULL)
            return names[i];
    }
    return names[n - 1];
}

/* ---- one loader per type: v is valid, or the message names name ---- */

typedef int (*type_loader)(const struct loader *l, const struct setting *s, const char *name,
                           const char *v, void *field);

/* A parser's result rc for v: 0, or -1 with "NAME: invalid KIND "V" HINT",
 * the message of every value that does not parse. */
static int parsed(const struct loader *l, const char *name, const char *v, int rc,
                  const char *kind, const char *hint)
{
    char sb[80];

    if (rc == 0)
        return 0;
    return FAIL(l, "%s: invalid %s \"%s\" %s", name, kind, shown(v, sb, sizeof(sb)), hint);
}

static int load_bool(const struct loader *l, const struct setting *s, const char *name,
                     const char *v, void *field)
{
    enum bool_dialect d = s->dialect;

    if (s->classic_true_only && l->cfg && (mode_bits(l->cfg) & MODE_CLASSIC))
        d = BOOL_TRUE_ONLY;
    return parsed(l, name, v, config_parse_bool(v, d, field), "boolean", "(use true or false)");
}

static int load_int(const struct loader *l, const struct setting *s, const char *name,
                    const char *v, void *field)
{
    int64_t x;
    char hint[64];

    if (s->min <= INT32_MIN)
        snprintf(hint, sizeof(hint), "(use an integer)");
    else if (s->max == INT32_MAX || s->max == INT64_MAX)
        snprintf(hint, sizeof(hint), "(use an integer >= %lld)", (long long)s->min);
    else
        snprintf(hint, sizeof(hint), "(use %lld-%lld)", (long long)s->min, (long long)s->max);
    if (parsed(l, name, v, config_parse_int(v, s->min, s->max, &x), s->what, hint) < 0)
        return -1;
    if (s->size == sizeof(int))
        *(int *)field = (int)x;
    else
        *(int64_t *)field = x;
    return 0;
}

static int load_duration(const struct loader *l, const struct setting *s, const char *name,
                         const char *v, void *field)
{
    int64_t *ns = field;

    if (parsed(l, name, v, config_parse_duration(v, ns), "duration", DURATION_HINT) < 0)
        return -1;
    if (*ns < 0 && !s->negative_is_none)
        return FAIL(l, "%s: must not be negative " DURATION_HINT, name);
    if (s->positive && *ns == 0)
        return FAIL(l, "%s: must be greater than 0 " DURATION_HINT, name);
    return 0;
}

static int load_size(const struct loader *l, const struct setting *s, const char *name,
                     const char *v, void *field)
{
    (void)s;
    return parsed(l, name, v, config_parse_size(v, field), "size",
                  "(use bytes, or e.g. 512k, 64M, 1G)");
}

static int load_string(const struct loader *l, const struct setting *s, const char *name,
                       const char *v, void *field)
{
    char **out = field;

    (void)s;
    *out = strdup(v);
    if (!*out)
        return FAIL(l, "%s: out of memory", name);
    return 0;
}

/* The index of v among s's values; -1 with the message listing them. */
static int find_choice(const struct loader *l, const struct setting *s, const char *name,
                       const char *v)
{
    int i = setting_choice(s, v);
    char list[160], sb[80];

    if (i >= 0)
        return i;
    setting_choice_list(s, list, sizeof(list));
    return FAIL(l, "%s: unknown %s \"%s\" (use %s)", name, s->what, shown(v, sb, sizeof(sb)),
                list);
}

/* An enum keeps the index of its value; a mode, the mode itself. */
static int load_choice(const struct loader *l, const struct setting *s, const char *name,
                       const char *v, void *field)
{
    int i = find_choice(l, s, name, v);

    if (i < 0)
        return -1;
    if (s->type == SETTING_MODE)
        *(const struct mode **)field = mode_find(v);
    else
        *(int *)field = i;
    return 0;
}

static const type_loader loaders[] = {
    [SETTING_BOOL] = load_bool,
    [SETTING_INT] = load_int,
    [SETTING_DURATION] = load_duration,
    [SETTING_SIZE] = load_size,
    [SETTING_STRING] = load_string,
    [SETTING_ENUM] = load_choice,
    [SETTING_MODE] = load_choice,
};

/* ---- rules past the syntax (the rows' check) ---- */

static int check_command(const struct loader *l, const char *name, struct config *cfg)
{
    char why[128];

    if (!cfg->fprocess)
        return 0;
    cfg->argv = config_split_command(cfg->fprocess, why, sizeof(why));
    return cfg->argv ? 0 : FAIL(l, "%s: invalid command: %s", name, why);
}

static int check_metrics_port(const struct loader *l, const char *name, struct config *cfg)
{
    const char *v;

    if (cfg->metrics_port == 0 || cfg->metrics_port != cfg->port)
        return 0;
    return FAIL(l, "%s: %d is already used by %s (choose another, or 0 to disable)", name,
                cfg->metrics_port, pick(l, setting_find("port"), &v));
}

static int require_http(const struct loader *l, const char *name, const char *url)
{
    char sb[80];

    if (!url || strncasecmp(url, "http://", 7) == 0)
        return 0;
    return FAIL(l, "%s: invalid URL \"%s\" (must start with http://)", name,
                shown(url, sb, sizeof(sb)));
}

/* Parsed once here, so the http mode starts from an address that works. */
static int check_upstream(const struct loader *l, const char *name, struct config *cfg)
{
    char why[256];

    if (require_http(l, name, cfg->upstream_url) < 0)
        return -1;
    cfg->upstream = calloc(1, sizeof(*cfg->upstream));
    if (!cfg->upstream)
        return FAIL(l, "%s: out of memory", name);
    if (upstream_parse_url(cfg->upstream_url, UPSTREAM_HOSTS, cfg->upstream, why,
                           sizeof(why)) != 0)
        return FAIL(l, "%s: %s", name, why);
    return 0;
}

/* of-watchdog refuses 0 (and takes a negative value, as its http.Server
 * does, as no write deadline); the classic watchdog's takes 0 so too. */
static int check_write_timeout(const struct loader *l, const char *name, struct config *cfg)
{
    if (cfg->write_timeout_ns != 0 || (mode_bits(cfg) & MODE_CLASSIC))
        return 0;
    return FAIL(l, "%s: must be greater than 0 " DURATION_HINT, name);
}

static int check_discovery_url(const struct loader *l, const char *name, struct config *cfg)
{
    return require_http(l, name, cfg->jwt_auth_discovery_url);
}

/* A prespawned function starts before its request exists. */
static int check_prespawn(const struct loader *l, const char *name, struct config *cfg)
{
    if (cfg->prespawn == 0 || !cfg->cgi_headers)
        return 0;
    return FAIL(l, "%s: needs cgi_headers=false (prespawned functions start before the "
                   "request, so they cannot receive Http_* variables)",
                name);
}

static char *lock_path_in(const char *dir)
{
    size_t len = strlen(dir);
    char *path;

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

/* TMPDIR's row loads the directory into lock_path; the lock is in it. */
static int check_lock_dir(const struct loader *l, const char *name, struct config *cfg)
{
    char *path = lock_path_in(cfg->lock_path);

    if (!path)
        return FAIL(l, "%s: out of memory", name);
    free(cfg->lock_path);
    cfg->lock_path = path;
    return 0;
}

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
static int check_function_name(const struct loader *l, const char *name, struct config *cfg)
{
    if (!cfg->jwt_auth || cfg->function_name)
        return 0;
    return FAIL(l, "%s: not set (jwt_auth=true needs the function's name)", name);
}

static int check_function_namespace(const struct loader *l, const char *name,
                                    struct config *cfg)
{
    if (!cfg->jwt_auth || cfg->function_namespace)
        return 0;
    cfg->function_namespace = read_namespace_file(SERVICE_ACCOUNT_NAMESPACE);
    if (cfg->function_namespace)
        return 0;
    return FAIL(l, "%s: not set and " SERVICE_ACCOUNT_NAMESPACE
                   " cannot be read (jwt_auth=true needs the function's namespace)",
                name);
}

/* ---- the table ---- */

static const char *const log_formats[] = {"text", "json", NULL};

/* Rows load in this order, and a row's default and rules may read the rows
 * above it: mode first, port before metrics_port, write_timeout before
 * healthcheck_interval, cgi_headers before prespawn, jwt_auth before
 * OPENFAAS_*. */
static const struct setting settings[] = {
    {.name = "mode", .type = SETTING_MODE, FIELD(mode), .def = "streaming", .what = "mode"},
    {.name = "fprocess", .aliases = {"function_process"}, .alias_wins = true,
     .type = SETTING_STRING, FIELD(fprocess), .modes = MODES_FORK | MODE_HTTP,
     .required = MODES_FORK | MODE_HTTP,
     .unset_hint = "the function command, e.g. fprocess=\"cat\"", .check = check_command,
     .help = "the function command (required); quotes group words"},
    {.name = "port", .aliases = {"PORT"}, .type = SETTING_INT, FIELD(port), .def = "8080",
     .min = 1, .max = 65535, .what = "port",
     .help = "HTTP port (1-65535)"},
    {.name = "metrics_port", .type = SETTING_INT, FIELD(metrics_port), .def = "8081",
     .min = 0, .max = 65535, .what = "port", .check = check_metrics_port,
     .help = "Prometheus /metrics port; 0 disables; in use: exit 1"},
    {.name = "read_timeout", .type = SETTING_DURATION, FIELD(read_timeout_ns), .def = "30s",
     .negative_is_none = true,
     .help = "time to read a request (headers and body); 0 = no limit; negative = no "
             "limit, and a kept-alive connection closes after each answer"},
    {.name = "write_timeout", .type = SETTING_DURATION, FIELD(write_timeout_ns), .def = "30s",
     .check = check_write_timeout,
     .negative_is_none = true,
     .help = "time to write a response; must not be 0 (classic: 0 = no limit); "
             "negative = no limit"},
    {.name = "exec_timeout", .type = SETTING_DURATION, FIELD(exec_timeout_ns), .def = "30s",
     .def_modes = MODE_CLASSIC, .mode_def = "0", .modes = MODES_FORK | MODE_HTTP,
     .negative_is_none = true, .help = "limit for one function call, 0 or negative = none"},
    {.name = "healthcheck_interval", .type = SETTING_DURATION, FIELD(healthcheck_interval_ns),
     .follows = "write_timeout", .negative_is_none = true,
     .help = "drain window after SIGTERM; 0 or negative = none"},
    {.name = "upstream_url", .aliases = {"http_upstream_url"}, .alias_wins = true,
     .type = SETTING_STRING, FIELD(upstream_url), .modes = MODE_HTTP, .required = MODE_HTTP,
     .unset_hint = "required in http mode, e.g. upstream_url=\"http://127.0.0.1:5000\"",
     .check = check_upstream, .help = "where the function listens (http://host:port)"},
    {.name = "http_buffer_req_body", .aliases = {"buffer_http"}, .either = true,
     .type = SETTING_BOOL, FIELD(buffer_req_body), .def = "false", .modes = MODE_HTTP,
     .help = "buffer the request body, send Content-Length"},
    {.name = "function_grace", .type = SETTING_DURATION, FIELD(function_grace_ns), .def = "5s",
     .modes = MODE_HTTP, .help = "time from SIGTERM to SIGKILL for the function at shutdown"},
    {.name = "forward_sigterm", .type = SETTING_BOOL, FIELD(forward_sigterm), .def = "false",
     .modes = MODE_HTTP, .help = "SIGTERM goes to the function when the drain starts"},
    /* Set and empty, the Go watchdog answers with an empty Content-Type. */
    {.name = "content_type", .type = SETTING_STRING, FIELD(content_type), .keep_empty = true,
     .def = "application/octet-stream", .def_modes = MODE_CLASSIC,
     .mode_def_shown = "the request's", .modes = MODES_FORK,
     .help = "Content-Type of responses"},
    {.name = "static_path", .type = SETTING_STRING, FIELD(static_path),
     .def = "/home/app/public", .modes = MODE_STATIC, .help = "root directory"},
    /* Below 1 is no limit, as in the Go watchdogs (max_inflight=-1). */
    {.name = "max_inflight", .type = SETTING_INT, FIELD(max_inflight), .def = "0", .min = INT32_MIN,
     .max = INT32_MAX, .what = "number",
     .help = "concurrent requests allowed, 0 (or less) = no limit; over it: 429"},
    {.name = "max_queue", .type = SETTING_INT, FIELD(max_queue), .def = "0", .min = 0,
     .max = INT32_MAX, .what = "number", .modes = MODES_FORK | MODE_HTTP,
     .help = "requests over max_inflight wait in a FIFO queue of this size, 0 = none"},
    {.name = "queue_timeout", .type = SETTING_DURATION, FIELD(queue_timeout_ns), .def = "10s",
     .positive = true, .modes = MODES_FORK | MODE_HTTP,
     .help = "how long a request may wait in that queue"},
    {.name = "max_connections", .type = SETTING_INT, FIELD(max_connections), .def = "10000",
     .min = 1, .max = INT32_MAX, .what = "number", .help = "open client connections allowed"},
    {.name = "max_request_body", .type = SETTING_SIZE, FIELD(max_request_body), .def = "0",
     .def_modes = MODE_SERIALIZING | MODE_CLASSIC, .mode_def = "64M",
     .help = "request body limit in bytes (k/M/G), 0 = none"},
    {.name = "suppress_lock", .type = SETTING_BOOL, FIELD(suppress_lock), .def = "false",
     .classic_true_only = true,
     .help = "do not write the lock file"},
    {.name = "prefix_logs", .type = SETTING_BOOL, FIELD(prefix_logs), .def = "true",
     .modes = MODES_FORK | MODE_HTTP,
     .dialect = BOOL_PARSEBOOL,
     .help = "prefix function output with date, time and stream"},
    /* Set and empty, the Go watchdog refuses to start (strconv.Atoi("")). */
    {.name = "log_buffer_size", .type = SETTING_INT, FIELD(log_buffer_size), .def = "65536",
     .min = INT64_MIN, .max = INT64_MAX, .what = "number", .keep_empty = true,
     .help = "accepted for compatibility; lines are never cut"},
    {.name = "log_callid", .type = SETTING_BOOL, FIELD(log_callid), .def = "false",
     .dialect = BOOL_PARSEBOOL,
     .help = "append [X-Call-Id] to request log lines"},
    {.name = "log_format", .type = SETTING_ENUM, FIELD(log_format), .def = "text",
     .choices = log_formats, .what = "format"},
    {.name = "ready_path", .type = SETTING_STRING, FIELD(ready_path),
     .help = "/_/ready asks the function at this path"},
    {.name = "cgi_headers", .type = SETTING_BOOL, FIELD(cgi_headers), .def = "true",
     .modes = MODES_FORK, .classic_true_only = true,
     .help = "pass request headers as Http_* variables"},
    {.name = "cgi_response", .type = SETTING_BOOL, FIELD(cgi_response), .def = "false",
     .modes = MODES_FORK, .help = "the function's stdout starts with a CGI header block"},
    {.name = "prespawn", .type = SETTING_INT, FIELD(prespawn), .def = "0", .min = 0, .max = 64,
     .what = "number", .modes = MODES_FORK, .only = "the fork modes", .check = check_prespawn,
     .help = "keep N (0-64) functions started, waiting on stdin; needs cgi_headers=false"},
    {.name = "combine_output", .type = SETTING_BOOL, FIELD(combine_output), .def = "true",
     .modes = MODE_CLASSIC, .classic_true_only = true,
     .help = "stderr goes into the response"},
    {.name = "write_debug", .type = SETTING_BOOL, FIELD(write_debug), .def = "false",
     .modes = MODE_CLASSIC, .classic_true_only = true,
     .help = "log request and response bodies"},
    {.name = "marshal_request", .type = SETTING_BOOL, FIELD(marshal_request), .def = "false",
     .modes = MODE_CLASSIC, .classic_true_only = true,
     .help = "send headers and body as JSON"},
    {.name = "debug_headers", .type = SETTING_BOOL, FIELD(debug_headers), .def = "false",
     .modes = MODE_CLASSIC, .classic_true_only = true,
     .help = "print request and response headers to stdout"},
    {.name = LOCK_DIR, .type = SETTING_STRING, FIELD(lock_path), .def = "/tmp",
     .check = check_lock_dir, .help = "directory of the lock file ($TMPDIR/.lock)"},
    {.name = "jwt_auth", .type = SETTING_BOOL, FIELD(jwt_auth), .def = "false",
     .help = "require an OpenFaaS IAM function token (Authorization: Bearer)"},
    {.name = "jwt_auth_debug", .type = SETTING_BOOL, FIELD(jwt_auth_debug), .def = "false",
     .classic_true_only = true,
     .help = "log the issuer, key ids and token claims"},
    {.name = "jwt_auth_local", .type = SETTING_BOOL, FIELD(jwt_auth_local), .def = "false",
     .classic_true_only = true,
     .help = "discover the issuer at http://127.0.0.1:8000"},
    {.name = "jwt_auth_discovery_url", .type = SETTING_STRING, FIELD(jwt_auth_discovery_url),
     .shown_def = "the gateway's", .check = check_discovery_url,
     .help = "OpenID discovery URL (tests, unusual setups)"},
    {.name = "OPENFAAS_NAME", .type = SETTING_STRING, FIELD(function_name),
     .check = check_function_name, .help = "function name; required with jwt_auth"},
    {.name = "OPENFAAS_NAMESPACE", .type = SETTING_STRING, FIELD(function_namespace),
     .keep_empty = true, .shown_def = "the service account's",
     .check = check_function_namespace, .help = "function namespace for jwt_auth"},
    {.name = "resolv_conf", .type = SETTING_STRING, FIELD(resolv_conf),
     .def = "/etc/resolv.conf", .help = "nameservers, search list, ndots for host names"},
    {.name = "hosts_file", .type = SETTING_STRING, FIELD(hosts_file), .def = "/etc/hosts",
     .help = "host names answered before DNS"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

const struct setting *setting_at(size_t i)
{
    return i < N_SETTINGS ? &settings[i] : NULL;
}

const struct setting *setting_find(const char *name)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (strcmp(s->name, name) == 0)
            return s;
        for (size_t a = 0; a < SETTING_ALIASES && s->aliases[a]; a++) {
            if (strcmp(s->aliases[a], name) == 0)
                return s;
        }
    }
    return NULL;
}

/* ---- the walk ---- */

static void *field_of(const struct setting *s, struct config *cfg)
{
    return (char *)cfg + s->offset;
}

/* What s takes when unset: its default, its mode's, or the value of the
 * setting it follows (loaded before it). */
static int load_default(const struct loader *l, const struct setting *s, struct config *cfg)
{
    const char *def = (s->def_modes & mode_bits(cfg)) ? s->mode_def : s->def;

    if (def)
        return loaders[s->type](l, s, s->name, def, field_of(s, cfg));
    if (s->follows)
        memcpy(field_of(s, cfg), field_of(setting_find(s->follows), cfg), s->size);
    return 0;
}

/* A boolean with several names is true when any of them is; each one set
 * must be valid. */
static int load_either(const struct loader *l, const struct setting *s, struct config *cfg)
{
    const char *names[MAX_NAMES];
    size_t n = lookup_order(s, names);
    bool set = false, any = false, one;

    for (size_t i = 0; i < n; i++) {
        const char *v = value_of(l, s, names[i]);
        if (!v)
            continue;
        if (load_bool(l, s, names[i], v, &one) < 0)
            return -1;
        set = true;
        any = any || one;
    }
    if (!set)
        return load_default(l, s, cfg);
    *(bool *)field_of(s, cfg) = any;
    return 0;
}

static bool is_zero(const void *field, size_t size)
{
    static const char zero[sizeof(int64_t)];

    return size <= sizeof(zero) && memcmp(field, zero, size) == 0;
}

/* The row's rules once its value is in cfg: required, only, check. */
static int apply_rules(const struct loader *l, const struct setting *s, const char *name,
                       struct config *cfg)
{
    bool applies = !s->modes || (s->modes & mode_bits(cfg));
    char list[160];

    if ((s->required & mode_bits(cfg)) && !*(char **)field_of(s, cfg))
        return FAIL(l, "%s: not set (%s)", s->name, s->unset_hint);
    if (!applies && s->only && !is_zero(field_of(s, cfg), s->size)) {
        setting_mode_list(s->modes, list, sizeof(list));
        return FAIL(l, "%s: only for %s (%s)", s->name, s->only, list);
    }
    return applies && s->check ? s->check(l, name, cfg) : 0;
}

static int load_setting(const struct loader *l, const struct setting *s, struct config *cfg)
{
    const char *v = NULL;
    const char *name = pick(l, s, &v);
    int rc;

    if (s->either)
        rc = load_either(l, s, cfg);
    else if (v)
        rc = loaders[s->type](l, s, name, v, field_of(s, cfg));
    else
        rc = load_default(l, s, cfg);
    return rc < 0 ? -1 : apply_rules(l, s, name, cfg);
}

int config_load(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    struct loader l = {envp, err, errlen, cfg};

    memset(cfg, 0, sizeof(*cfg));
    if (err && errlen > 0)
        err[0] = '\0';
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (load_setting(&l, &settings[i], cfg) < 0) {
            config_free(cfg);
            return -1;
        }
    }
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (settings[i].type == SETTING_STRING)
            free(*(char **)field_of(&settings[i], cfg));
    }
    config_free_argv(cfg->argv);
    if (cfg->upstream)
        upstream_url_free(cfg->upstream);
    free(cfg->upstream);
    memset(cfg, 0, sizeof(*cfg));
}

char *config_lock_path(char *const *envp)
{
    struct loader l = {envp, NULL, 0, NULL};
    const struct setting *s = setting_find(LOCK_DIR);
    const char *dir;

    pick(&l, s, &dir);
    return lock_path_in(dir ? dir : s->def);
}
