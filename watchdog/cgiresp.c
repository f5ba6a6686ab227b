#include "cgiresp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target.h"

#define NAME_EQ(name, len, lit) ((len) == sizeof(lit) - 1 && strncasecmp(name, lit, len) == 0)

void cgiresp_init(struct cgiresp *p, size_t max)
{
    memset(p, 0, sizeof(*p));
    p->max = max;
}

void cgiresp_free(struct cgiresp *p)
{
    free(p->buf);
    free(p->fields);
    free(p->headers);
    cgiresp_init(p, p->max);
}

static enum cgiresp_state fail(struct cgiresp *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum cgiresp_state fail(struct cgiresp *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    p->state = CGIRESP_ERROR;
    return p->state;
}

bool cgiresp_owned(const char *name, size_t len)
{
    static const char *const owned[] = {
        "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
        "TE", "Trailer", "Upgrade", "Date", "X-Duration-Seconds",
    };
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        if (len == strlen(owned[i]) && strncasecmp(name, owned[i], len) == 0)
            return true;
    }
    return false;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 scheme ":" ahead: a client redirect, not a local path. */
static bool has_scheme(const char *v, size_t len)
{
    size_t i = 1;
    if (len == 0 || !is_alpha(v[0]))
        return false;
    while (i < len && (is_alpha(v[i]) || (v[i] >= '0' && v[i] <= '9') || v[i] == '+' ||
                       v[i] == '-' || v[i] == '.'))
        i++;
    return i < len && v[i] == ':';
}

/* "404", "404 Not Found": three digits, 200 to 599, an optional reason
 * (the answer carries the standard one). */
static int parse_status(const char *v, size_t len)
{
    if (len < 3 || (len > 3 && v[3] != ' ' && v[3] != '\t'))
        return -1;
    for (int i = 0; i < 3; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
    }
    int code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return code >= 200 && code <= 599 ? code : -1;
}

static int add_field(struct cgiresp *p, const struct cgiresp_field *f)
{
    if (p->nfields == p->fields_cap) {
        size_t cap = p->fields_cap ? p->fields_cap * 2 : 16;
        struct cgiresp_field *n = realloc(p->fields, cap * sizeof(*n));
        if (!n)
            return -1;
        p->fields = n;
        p->fields_cap = cap;
    }
    p->fields[p->nfields++] = *f;
    return 0;
}

/* One "Name: value" line of llen bytes at off (its CR or LF just after). */
static enum cgiresp_state take_field(struct cgiresp *p, size_t off, size_t llen)
{
    char *s = p->buf + off;
    const char *colon = memchr(s, ':', llen);
    if (!colon)
        return fail(p, "line %u has no colon", p->line);
    size_t nlen = (size_t)(colon - s), v = nlen + 1, e = llen;
    if (!target_token(s, nlen))
        return fail(p, "line %u: invalid header name", p->line);
    /* As Go's server writes names (and as resp_header takes them). */
    target_canonical_token(s, nlen);
    while (v < e && (s[v] == ' ' || s[v] == '\t'))
        v++;
    while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    /* no control byte (CR, NUL) can reach the client's head */
    if (!target_field_value(s + v, e - v))
        return fail(p, "line %u: invalid header value", p->line);
    s[nlen] = '\0';
    s[e] = '\0';
    if (NAME_EQ(s, nlen, "Status")) {
        if (p->status)
            return fail(p, "line %u: repeated Status", p->line);
        if ((p->status = parse_status(s + v, e - v)) < 0)
            return fail(p, "line %u: invalid Status (a code from 200 to 599 expected)", p->line);
        return CGIRESP_MORE;
    }
    if (NAME_EQ(s, nlen, "Location") && has_scheme(s + v, e - v))
        p->absolute_location = true;
    struct cgiresp_field f = {(uint32_t)off, (uint32_t)nlen, (uint32_t)(off + v), (uint32_t)(e - v)};
    if (!cgiresp_owned(s, nlen) && add_field(p, &f) < 0)
        return fail(p, "out of memory");
    return CGIRESP_MORE;
}

/* The empty line: the headers as pointers, now that buf stays put. */
static enum cgiresp_state finish(struct cgiresp *p)
{
    if (p->nfields > 0 && !(p->headers = malloc(p->nfields * sizeof(*p->headers))))
        return fail(p, "out of memory");
    for (size_t i = 0; i < p->nfields; i++) {
        const struct cgiresp_field *f = &p->fields[i];
        p->headers[i] = (struct header){p->buf + f->name_off, f->name_len, p->buf + f->val_off,
                                        f->val_len};
    }
    p->nheaders = p->nfields;
    p->state = CGIRESP_DONE;
    return p->state;
}

/* buf holds a whole line, its LF last. */
static enum cgiresp_state end_line(struct cgiresp *p)
{
    size_t off = p->line_start, llen = p->len - off - 1;
    if (llen > 0 && p->buf[off + llen - 1] == '\r')
        llen--;
    p->line++;
    p->line_start = p->len;
    return llen == 0 ? finish(p) : take_field(p, off, llen);
}

static int append(struct cgiresp *p, const char *data, size_t len)
{
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 512;
        while (cap < p->len + len)
            cap *= 2;
        char *n = realloc(p->buf, cap);
        if (!n)
            return -1;
        p->buf = n;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

enum cgiresp_state cgiresp_feed(struct cgiresp *p, const char *data, size_t len, size_t *used)
{
    size_t taken = 0;
    while (p->state == CGIRESP_MORE && taken < len) {
        size_t room = p->max - p->len, n = len - taken;
        if (room == 0) {
            fail(p, "no empty line within %zu bytes", p->max);
            break;
        }
        const char *nl = memchr(data + taken, '\n', n < room ? n : room);
        size_t chunk = nl ? (size_t)(nl - (data + taken)) + 1 : (n < room ? n : room);
        if (append(p, data + taken, chunk) < 0) {
            fail(p, "out of memory");
            break;
        }
        taken += chunk;
        if (nl)
            end_line(p);
    }
    *used = taken;
    return p->state;
}

enum cgiresp_state cgiresp_end(struct cgiresp *p)
{
    if (p->state == CGIRESP_MORE)
        fail(p, "output ended before the empty line that ends the header block");
    return p->state;
}

int cgiresp_status(const struct cgiresp *p)
{
    if (p->status)
        return p->status;
    return p->absolute_location ? 302 : 200;
}

const char *cgiresp_header(const struct cgiresp *p, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < p->nheaders; i++) {
        if (p->headers[i].name_len == len && strncasecmp(p->headers[i].name, name, len) == 0)
            return p->headers[i].value;
    }
    return NULL;
}
