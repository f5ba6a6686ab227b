#include "plainreq.h"

#include <llhttp.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "plainline.h"
#include "target.h"

static const struct {
    const char *name;
    uint8_t len, method;
} methods[] = {
    {"GET", 3, HTTP_GET},       {"POST", 4, HTTP_POST},        {"PUT", 3, HTTP_PUT},
    {"HEAD", 4, HTTP_HEAD},     {"DELETE", 6, HTTP_DELETE},    {"PATCH", 5, HTTP_PATCH},
    {"OPTIONS", 7, HTTP_OPTIONS},
};

/* The longest method above and its space. */
#define METHOD_SPAN 8

/* The method and the space after it: past them, or NULL. */
static const char *split_method(const char *p, const char *end, struct plainreq *r)
{
    size_t have = (size_t)(end - p);
    const char *sp = memchr(p, ' ', have < METHOD_SPAN ? have : METHOD_SPAN);
    if (!sp)
        return NULL;
    size_t n = (size_t)(sp - p);
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].len == n && memcmp(p, methods[i].name, n) == 0) {
            r->method = methods[i].method;
            return sp + 1;
        }
    }
    return NULL;
}

/* RFC 3986's pchar, '/' and '?': what an ordinary path and query are made
 * of, and what every parser reads alike. */
static bool target_byte(unsigned char b)
{
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9'))
        return true;
    return b != '\0' && strchr("-._~%!$&'()*+,;=:@/?", b) != NULL;
}

/* Every request has a target to check: target_byte, from a table. */
static const bool *target_table(void)
{
    static bool table[256], ready;
    if (!ready) {
        for (unsigned b = 0; b < 256; b++)
            table[b] = target_byte((unsigned char)b);
        ready = true;
    }
    return table;
}

/* An origin-form target and the space after it: past them, or NULL. */
static const char *split_target(const char *p, const char *end, struct plainreq *r)
{
    const bool *ok = target_table();
    const char *t = p;
    if (p == end || *p != '/')
        return NULL;
    while (p < end && ok[(unsigned char)*p])
        p++;
    if (p == end || *p != ' ')
        return NULL;
    r->target = t;
    r->target_len = (size_t)(p - t);
    return p + 1;
}

static const char *split_version(const char *p, const char *end, struct plainreq *r)
{
    if (end - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != '\r' || p[9] != '\n')
        return NULL;
    r->minor = (uint8_t)(p[7] - '0');
    return p + 10;
}

static bool value_byte(unsigned char b)
{
    return (b >= 0x20 && b < 0x7f) || b == '\t';
}

/* A field llhttp reads for framing, noted in r as llhttp notes it, when it
 * is one let through here (plainreq.h); true for any other field. The
 * framing values must follow the colon and at most one space, and end the
 * line, as whitespace around them is where parsers differ. */
static bool frame_field(struct plainreq *r, const char *name, size_t nlen, const char *v,
                        size_t vlen, bool bare)
{
    uint16_t flag;
    switch (nlen) {
    case 7:
        return strncasecmp(name, "Upgrade", 7) != 0;
    case 16:
        return strncasecmp(name, "Proxy-Connection", 16) != 0;
    case 17:
        return strncasecmp(name, "Transfer-Encoding", 17) != 0;
    case 14:
        if (strncasecmp(name, "Content-Length", 14) != 0)
            return true;
        if (!bare || (r->flags & F_CONTENT_LENGTH) || vlen != 1 || v[0] != '0')
            return false;
        r->flags |= F_CONTENT_LENGTH;
        return true;
    case 10:
        if (strncasecmp(name, "Connection", 10) != 0)
            return true;
        flag = bare ? plainline_connection(v, vlen) : 0;
        if (!flag || (r->flags & (F_CONNECTION_KEEP_ALIVE | F_CONNECTION_CLOSE)))
            return false;
        r->flags |= flag;
        return true;
    default:
        return true;
    }
}

/* The field from name to its colon and from there to the CR that ends
 * its line, into r; false when it leaves the head to llhttp. */
static bool add_field(struct plainreq *r, const char *name, const char *colon, const char *cr)
{
    const char *v, *e;
    bool bare = plainline_value(colon, cr, &v, &e);
    size_t nlen = (size_t)(colon - name), vlen = (size_t)(e - v);
    if (r->nfields == PLAINREQ_FIELDS || !frame_field(r, name, nlen, v, vlen, bare))
        return false;
    r->fields[r->nfields++] = (struct plainreq_field){name, v, (uint32_t)nlen, (uint32_t)vlen};
    return true;
}

/* The field lines from p on and the blank line after them: past it, or
 * NULL. */
static const char *split_fields(const char *p, const char *end, struct plainreq *r)
{
    for (;;) {
        if (end - p < 2)
            return NULL;
        if (p[0] == '\r')
            return p[1] == '\n' ? p + 2 : NULL;
        const char *name = p;
        while (p < end && target_plain_byte((unsigned char)*p))
            p++;
        if (p == name || p == end || *p != ':')
            return NULL;
        const char *colon = p++;
        while (p < end && value_byte((unsigned char)*p))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n' || !add_field(r, name, colon, p))
            return NULL;
        p += 2;
    }
}

size_t plainreq_split(const char *data, size_t len, struct plainreq *r)
{
    const char *end = data + len, *p;
    r->nfields = 0;
    r->flags = 0;
    p = split_method(data, end, r);
    p = p ? split_target(p, end, r) : NULL;
    p = p ? split_version(p, end, r) : NULL;
    p = p ? split_fields(p, end, r) : NULL;
    return p ? (size_t)(p - data) : 0;
}
