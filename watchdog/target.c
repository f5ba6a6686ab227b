/* The request target as the Go watchdog's net/http sees it before any
 * handler runs: percent-decoding, the ServeMux path cleaning that answers
 * 301, and the request methods llhttp knows. */
#include "target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t target_decode(const char *raw, char *out)
{
    size_t n = 0;
    for (const char *p = raw; *p; p++) {
        if (*p != '%') {
            out[n++] = *p;
            continue;
        }
        int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
        if (lo < 0)
            return -1;
        out[n++] = (char)(hi << 4 | lo);
        p += 2;
    }
    out[n] = '\0';
    return (ssize_t)n;
}

/* Go's path.Clean on a path that starts with '/': no empty, "." or ".."
 * segments. out holds at least strlen(p) + 2 bytes. */
static size_t clean(const char *p, char *out)
{
    size_t n = 1;
    out[0] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
            continue;
        }
        if (n > 1)
            out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

bool target_plain(const char *path)
{
    if (path[0] != '/' || strchr(path, '%'))
        return false;
    for (const char *p = path; *p; p++) {
        if (p[0] != '/')
            continue;
        /* "//", "/." at a segment's start: maybe "." or ".." */
        if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
                                            (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))))
            return false;
    }
    return true;
}

char *target_clean(const char *path)
{
    size_t len = strlen(path);
    char *in = malloc(len + 2), *out = malloc(len + 3);
    if (!in || !out)
        goto fail;
    /* ServeMux's cleanPath: a leading '/' added, a trailing one kept. */
    in[0] = '/';
    memcpy(in + (path[0] == '/' ? 0 : 1), path, len + 1);
    size_t n = clean(in, out);
    bool trailing = len > 0 && path[len - 1] == '/';
    if (trailing && n > 1) {
        out[n++] = '/';
        out[n] = '\0';
    }
    free(in);
    return out;
fail:
    free(in);
    free(out);
    return NULL;
}

/* Go's url.PathEscape set for a path: unreserved bytes and "$&+,/:;=@"
 * stay, everything else is %XX in upper case. */
bool target_path_safe(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-_.~$&+,/:;=@", c) != NULL;
}

char *target_location(const char *path, const char *query)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t qlen = query ? strlen(query) : 0;
    char *out = malloc(strlen(path) * 3 + qlen + 2);
    size_t n = 0;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (target_path_safe(*p)) {
            out[n++] = (char)*p;
            continue;
        }
        out[n++] = '%';
        out[n++] = hex[*p >> 4];
        out[n++] = hex[*p & 15];
    }
    if (qlen) {
        out[n++] = '?';
        memcpy(out + n, query, qlen);
        n += qlen;
    }
    out[n] = '\0';
    return out;
}

const char *target_path_part(const char *uri)
{
    /* absolute-form: "http://host/path" */
    const char *scheme = strstr(uri, "://");
    if (uri[0] == '/' || !scheme || memchr(uri, '/', (size_t)(scheme - uri)))
        return uri;
    const char *slash = strchr(scheme + 3, '/');
    return slash ? slash : "";
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *const llhttp_methods[] = {
#define XX(num, name, string) #string,
    HTTP_METHOD_MAP(XX)
#undef XX
};

bool target_method_known(const char *m, size_t len)
{
    for (size_t i = 0; i < sizeof(llhttp_methods) / sizeof(llhttp_methods[0]); i++) {
        if (strlen(llhttp_methods[i]) == len && memcmp(llhttp_methods[i], m, len) == 0)
            return true;
    }
    return false;
}

bool target_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

bool target_canonical(const char *name, size_t len, char *out)
{
    bool token = target_token(name, len);

    memmove(out, name, len);
    if (token)
        target_canonical_token(out, len);
    return token;
}

/* One byte at a time. */
static void canonical_bytes(char *name, size_t len)
{
    bool upper = true;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)name[i], lower = c | 0x20u;
        if (lower - 'a' < 26u)
            name[i] = (char)(upper ? lower ^ 0x20u : lower);
        upper = c == '-';
    }
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Names are short and the answer path runs this for each of them, so it
 * works a word at a time: a byte per instruction or two instead of a
 * dozen instructions per byte. Byte k of a word is bits 8k..8k+7. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGH UINT64_C(0x8080808080808080)

/* The high bit of each byte of w in [lo, hi]; every byte of w below 0x80,
 * so no sum carries into the next byte. */
static inline uint64_t bytes_in(uint64_t w, unsigned lo, unsigned hi)
{
    return (w + ONES * (0x80u - lo)) & ~(w + ONES * (0x7fu - hi)) & HIGH;
}

/* The bytes of w in canonical case, where start marks (high bit) the
 * bytes that begin a word. */
static inline uint64_t canonical_word(uint64_t w, uint64_t start)
{
    uint64_t lower = w | ONES * 0x20; /* no byte but a letter lands on a-z */
    uint64_t letters = bytes_in(lower, 'a', 'z');
    w |= letters >> 2;
    return w & ~((letters & start) >> 2);
}

static inline uint64_t load(const char *p, size_t n)
{
    uint64_t w = 0;
    memcpy(&w, p, n);
    return w;
}

static inline void store(char *p, uint64_t w, size_t n)
{
    memcpy(p, &w, n);
}

/* The high bit of each byte of w that is a letter, a digit or a '-'. */
static inline uint64_t plain_bytes(uint64_t w)
{
    if (w & HIGH)
        return 0;
    return bytes_in(w | ONES * 0x20, 'a', 'z') | bytes_in(w, '0', '9') | bytes_in(w, '-', '-');
}

/* Whether the word of n bytes (the others zero) is left to the caller:
 * with plain, when a byte is not a letter, a digit or a '-' (the name is
 * refused); without, when a byte is 0x80 or more (the byte rule takes the
 * name). */
static inline bool word_refused(uint64_t w, size_t n, bool plain)
{
    return plain ? plain_bytes(w) != HIGH >> (8 * (8 - n)) : (w & HIGH) != 0;
}

/* Four to seven bytes: two four-byte halves that overlap. False when the
 * word is refused (word_refused), the name unchanged. */
static inline bool canonical_short(char *name, size_t len, bool plain)
{
    unsigned shift = 8 * (unsigned)(len - 4);
    uint64_t w = load(name, 4) | load(name + len - 4, 4) << shift;
    if (word_refused(w, len, plain))
        return false;
    w = canonical_word(w, bytes_in(w, '-', '-') << 8 | 0x80);
    store(name + len - 4, w >> shift, 4);
    store(name, w, 4);
    return true;
}

/* Eight bytes or more: whole words, then the last eight bytes (overlapping
 * some already done, which stay as they are). False at the first word
 * refused (word_refused), the words before it done. */
static inline bool canonical_long(char *name, size_t len, bool plain)
{
    uint64_t first = 0x80;
    size_t at = 0;
    for (;;) {
        uint64_t w = load(name + at, 8);
        if (word_refused(w, 8, plain))
            return false;
        uint64_t dash = bytes_in(w, '-', '-');
        store(name + at, canonical_word(w, (dash << 8) | first), 8);
        if (at + 8 == len)
            return true;
        first = dash >> 56;
        at += 8;
        if (at + 8 > len) {
            at = len - 8;
            first = name[at - 1] == '-' ? 0x80 : 0;
        }
    }
}

void target_canonical_token(char *name, size_t len)
{
    bool words = len < 4    ? false
                 : len < 8 ? canonical_short(name, len, false)
                           : canonical_long(name, len, false);
    /* A byte of 0x80 or more: the case of each letter byte by byte (the
     * words done before it are done again, to the same bytes). */
    if (!words)
        canonical_bytes(name, len);
}

bool target_plain_name(const char *name, size_t len)
{
    if (len < 4) {
        for (size_t i = 0; i < len; i++)
            if (!target_plain_byte((unsigned char)name[i]))
                return false;
        return len > 0;
    }
    if (len < 8) {
        uint64_t w = load(name, 4) | load(name + len - 4, 4) << (8 * (unsigned)(len - 4));
        return !word_refused(w, len, true);
    }
    for (size_t at = 0;;) {
        if (word_refused(load(name + at, 8), 8, true))
            return false;
        if (at + 8 == len)
            return true;
        at = at + 16 <= len ? at + 8 : len - 8;
    }
}

bool target_canonical_plain(char *name, size_t len)
{
    if (len >= 8)
        return canonical_long(name, len, true);
    if (len >= 4)
        return canonical_short(name, len, true);
    for (size_t i = 0; i < len; i++)
        if (!target_plain_byte((unsigned char)name[i]))
            return false;
    canonical_bytes(name, len);
    return len > 0;
}
#else
void target_canonical_token(char *name, size_t len)
{
    canonical_bytes(name, len);
}

bool target_plain_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!target_plain_byte((unsigned char)name[i]))
            return false;
    return len > 0;
}

bool target_canonical_plain(char *name, size_t len)
{
    if (!target_plain_name(name, len))
        return false;
    canonical_bytes(name, len);
    return true;
}
#endif

bool target_field_value(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

bool target_method_token(const char *m, size_t len)
{
    return len <= TARGET_METHOD_MAX && target_token(m, len);
}

int target_byte_before(const char *at, size_t k, const char *start, const char tail[2])
{
    size_t have = (size_t)(at - start);
    if (k <= have)
        return (unsigned char)at[-(ptrdiff_t)k];
    k -= have;
    return k <= 2 ? (unsigned char)tail[2 - k] : -1;
}

size_t target_bare_cr_scan(const char *at, const char *start, const char tail[2])
{
    for (size_t k = 2;; k++) {
        int cr = target_byte_before(at, k, start, tail),
            next = target_byte_before(at, k - 1, start, tail);
        if (cr == '\r' && next != '\n')
            return k;
        if (next != ' ' && next != '\t')
            return 0;
    }
}

void target_note_tail(char tail[2], const char *p, size_t n)
{
    if (n >= 2) {
        tail[0] = p[n - 2];
        tail[1] = p[n - 1];
    } else if (n == 1) {
        tail[0] = tail[1];
        tail[1] = p[0];
    }
}
