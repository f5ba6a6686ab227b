/* Value syntaxes shared by every setting: integers, booleans, Go
 * durations, byte sizes and commands. What each setting accepts, its
 * default and its messages are rows of the table in settings.c. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

/* ---- errors ---- */

int config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
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

int config_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = (*s == '-');
    uint64_t v;
    const char *end;

    /* A leading '+' as Go's strconv.Atoi takes it. */
    if (parse_digits(s + (neg || *s == '+'), &v, &end) < 0 || *end != '\0')
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

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(s, *list) == 0)
            return true;
    }
    return false;
}

int config_parse_bool(const char *s, enum bool_dialect d, bool *out)
{
    static const char *const truths[][7] = {
        [BOOL_PLAIN] = {"true", "1", NULL},
        [BOOL_PARSEBOOL] = {"true", "1", "t", "T", "TRUE", "True", NULL},
        [BOOL_TRUE_ONLY] = {"true", NULL},
    };
    static const char *const falsehoods[][8] = {
        [BOOL_PLAIN] = {"", "false", "0", NULL},
        [BOOL_PARSEBOOL] = {"", "false", "0", "f", "F", "FALSE", "False", NULL},
        [BOOL_TRUE_ONLY] = {"", "false", "0", "1", NULL},
    };

    if (!s)
        return -1;
    if (one_of(s, truths[d]))
        *out = true;
    else if (one_of(s, falsehoods[d]))
        *out = false;
    else
        return -1;
    return 0;
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

/* Go duration syntax (time.ParseDuration) to nanoseconds, sign included. */
static int parse_go_duration(const char *s, int64_t *ns)
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
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

int config_parse_duration(const char *s, int64_t *out_ns)
{
    uint64_t secs;
    const char *end;

    if (!s || *s == '\0')
        return -1;
    /* A bare integer is seconds (the Go watchdog's rule, with strconv.Atoi's
     * optional '+'); keep the same range as a Go duration so both spellings
     * agree. A bare negative integer is neither seconds nor a Go duration. */
    if (parse_digits(s + (*s == '+'), &secs, &end) == 0 && *end == '\0') {
        if (secs > (uint64_t)(INT64_MAX / NS_PER_S))
            return -1;
        *out_ns = (int64_t)secs * NS_PER_S;
        return 0;
    }
    return parse_go_duration(s, out_ns);
}

int config_parse_size(const char *s, int64_t *out)
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
                return config_fail(err, errlen, "unbalanced %s quote",
                            q == '"' ? "double" : "single");
            s++;
        }
        if (buf)
            buf[pos] = '\0';
        pos++;
        words++;
    }
    if (words == 0)
        return config_fail(err, errlen, "empty command");
    *nwords = words;
    return 0;
}

char **config_split_command(const char *s, char *err, size_t errlen)
{
    size_t n = 0;

    if (!s) {
        config_fail(err, errlen, "empty command");
        return NULL;
    }
    if (tokenize(s, NULL, NULL, &n, err, errlen) < 0)
        return NULL;
    /* Words never take more room than the input plus one NUL, so one block
     * holds the pointer array and the strings; free() releases both. */
    size_t ptrs = (n + 1) * sizeof(char *);
    char **argv = malloc(ptrs + strlen(s) + 1);
    if (!argv) {
        config_fail(err, errlen, "out of memory");
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
