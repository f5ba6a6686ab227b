/* static: files under static_path for any method, as Go's FileServer, with index.html or a
 * listing for directories, conditional requests, byte ranges (several as
 * multipart/byteranges), and zero-copy sending in slices so a large file or
 * a slow client costs neither memory nor loop time. Nothing outside the root is ever opened:
 * openat2(RESOLVE_BENEATH) where the kernel has it, else a realpath prefix
 * check; only regular files and directories are served. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif
/* glibc has no openat2 wrapper; older headers may not name the number. */
#if defined(HAVE_OPENAT2_H) && !defined(SYS_openat2)
#define SYS_openat2 437
#endif

#include "log.h"
#include "mimetypes.h"
#include "sniff.h"
#include "target.h"
#include "mode.h"

/* Bytes queued per drain: memory stays flat whatever the file size. */
#define SLICE ((int64_t)1 << 20)
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
/* net/http's bufferBeforeChunkingSize. */
#define GO_CHUNKING_BUFFER 2048

/* The root is opened by its name for each request, as Go's FileServer
 * does: a static_path that is a link swapped to a new release serves the
 * new one at once, and one recreated is found again. */
struct root {
    char *path;    /* static_path */
    bool beneath;  /* openat2(RESOLVE_BENEATH) works on this kernel */
    struct mime_table *mime;
};

/* ---- the request path ---- */

/* Append segment seg (len bytes) to the normalised path out, or drop its
 * last segment for "..". 0, or 403 when ".." would leave the root. */
static int push_segment(char *out, size_t *olen, const char *seg, size_t len)
{
    if (len == 0 || (len == 1 && seg[0] == '.'))
        return 0;
    if (len == 2 && seg[0] == '.' && seg[1] == '.') {
        if (*olen == 0)
            return 403;
        char *slash = memrchr(out, '/', *olen);
        *olen = slash ? (size_t)(slash - out) : 0;
        out[*olen] = '\0';
        return 0;
    }
    if (*olen > 0)
        out[(*olen)++] = '/';
    memcpy(out + *olen, seg, len);
    *olen += len;
    out[*olen] = '\0';
    return 0;
}

/* The request path, decoded and normalised into a path relative to the
 * root ("" for the root itself) in *rel (malloc'd). *slash: it ended with
 * '/'. Returns 0, or the status to answer: 400 malformed, 500 NUL, 404
 * backslash (no such name can be served), 403 leaving the root. */
static int clean_path(const char *raw, char **rel, bool *slash)
{
    size_t cap = strlen(raw) + 1, olen = 0;
    char *dec = malloc(cap), *out = malloc(cap);
    int status = 500;
    if (!dec || !out)
        goto err;
    ssize_t n = target_decode(raw, dec);
    status = 400;
    if (n < 1 || dec[0] != '/')
        goto err;
    /* Go's open fails on a NUL with EINVAL, which its FileServer answers
     * with 500 */
    status = 500;
    if (memchr(dec, '\0', (size_t)n))
        goto err;
    status = 404;
    if (memchr(dec, '\\', (size_t)n))
        goto err;
    out[0] = '\0';
    for (const char *p = dec; *p;) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        if ((status = push_segment(out, &olen, p, len)) != 0)
            goto err;
        p += len;
    }
    *slash = dec[n - 1] == '/';
    *rel = out;
    free(dec);
    return 0;
err:
    free(dec);
    free(out);
    return status;
}

/* ---- opening beneath the root ---- */

/* An errno from opening as the status to answer. */
static int open_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ENXIO:
        return 404;
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EPERM:
        return 403;
    default:
        log_error("static: open: %s", strerror(err));
        return 500;
    }
}

#ifdef HAVE_OPENAT2_H
static int openat2_beneath(int dirfd, const char *path)
{
    /* Symlinks inside the root are followed; any step out of it, by "..",
     * an absolute link or a /proc magic link, fails with EXDEV/ELOOP. */
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}
#endif

/* Without openat2: resolve every link, check the result is still under the
 * root, and refuse a final component that became a link meanwhile. */
static int open_realpath(const struct root *rt, const char *rel)
{
    char *real = NULL, *full = NULL, *res = NULL;
    int fd = -1, err = 0;
    if (!(real = realpath(rt->path, NULL))) {
        err = errno;
        goto out;
    }
    if (asprintf(&full, "%s/%s", real, rel) < 0) {
        full = NULL;
        err = ENOMEM;
        goto out;
    }
    if (!(res = realpath(full, NULL))) {
        err = errno;
        goto out;
    }
    size_t n = strlen(real);
    bool inside = strcmp(real, "/") == 0 ||
                  (strncmp(res, real, n) == 0 && (res[n] == '\0' || res[n] == '/'));
    if (!inside) {
        err = EXDEV;
        goto out;
    }
    if ((fd = open(res, OPEN_FLAGS | O_NOFOLLOW)) < 0)
        err = errno;
out:
    free(real);
    free(full);
    free(res);
    errno = err;
    return fd;
}

#ifdef HAVE_OPENAT2_H
static int open_beneath(const struct root *rt, const char *path)
{
    int root = open(rt->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, err;
    if (root < 0)
        return -1;
    fd = openat2_beneath(root, path);
    err = errno;
    close(root);
    errno = err;
    return fd;
}
#endif

/* Open rel under the root; only a regular file or a directory is kept.
 * Returns 0 with *fd and *st, or the status to answer. */
static int open_under(const struct root *rt, const char *rel, int *fd, struct stat *st)
{
    const char *path = *rel ? rel : ".";
    int f = -1;
#ifdef HAVE_OPENAT2_H
    if (rt->beneath)
        f = open_beneath(rt, path);
    else
#endif
        f = open_realpath(rt, rel);
    if (f < 0)
        return open_status(errno);
    if (fstat(f, st) != 0 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
        close(f);
        return 403;
    }
    *fd = f;
    return 0;
}

/* ---- headers ---- */

/* By extension (Go's table and the system's, mimetypes.h), else sniffed
 * from the first bytes, as Go's FileServer. */
static const char *content_type(const struct root *rt, const char *rel, int fd)
{
    char head[SNIFF_LEN];
    const char *base = strrchr(rel, '/');
    const char *dot = strrchr(base ? base + 1 : rel, '.');
    const char *type = dot ? mime_table_lookup(rt->mime, dot) : NULL;
    if (type)
        return type;
    ssize_t n = pread(fd, head, sizeof(head), 0);
    return sniff_type(head, n > 0 ? (size_t)n : 0);
}

static void http_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* RFC 9110 dates: IMF-fixdate, and the obsolete RFC 850 and asctime forms. */
static bool parse_http_date(const char *s, time_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm = {0};
        const char *end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            *out = timegm(&tm);
            return true;
        }
    }
    return false;
}

/* ---- conditional requests, in the order of Go's checkPreconditions ---- */

enum cond { COND_NONE, COND_TRUE, COND_FALSE };

static bool get_or_head(const struct request *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

/* Go's scanETag: the quoted tag (W/ kept) at the start of p, its length in
 * *len; NULL when p does not start with one. */
static const char *scan_etag(const char *p, size_t *len)
{
    size_t start = strncmp(p, "W/", 2) == 0 ? 2 : 0;
    if (p[start] != '"')
        return NULL;
    for (size_t i = start + 1; p[i]; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"') {
            *len = i + 1;
            return p;
        }
        if ((c != 0x21 && c < 0x23) || c == 0x7f)
            return NULL; /* a control byte, a space or DEL cannot be in a tag */
    }
    return NULL;
}

/* Whether a list of entity tags names etag, or is "*". Strong comparison
 * (If-Match): the same quoted tag; weak (If-None-Match): W/ set aside on
 * both sides. As Go, the walk stops at the first item that is not a tag. */
static bool etag_listed(const char *list, const char *etag, bool weak)
{
    size_t elen = strlen(etag), n;
    const char *p = list, *t;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '*')
            return true;
        if (!(t = scan_etag(p, &n)))
            return false;
        p += n;
        if (weak && strncmp(t, "W/", 2) == 0)
            t += 2, n -= 2;
        if (n == elen && memcmp(t, etag, n) == 0)
            return true;
    }
}

static enum cond if_match(const struct request *r, const char *etag)
{
    const char *im = req_header(r, "If-Match");
    if (!im || !*im)
        return COND_NONE;
    return etag_listed(im, etag, false) ? COND_TRUE : COND_FALSE;
}

static enum cond if_none_match(const struct request *r, const char *etag)
{
    const char *inm = req_header(r, "If-None-Match");
    if (!inm || !*inm)
        return COND_NONE;
    return etag_listed(inm, etag, true) ? COND_FALSE : COND_TRUE;
}

/* Go takes a time of exactly the epoch for unknown: no Last-Modified, and
 * no date condition holds against it (images built for reproducibility
 * often carry such times). */
static bool zero_time(const struct stat *st)
{
    return st->st_mtim.tv_sec == 0 && st->st_mtim.tv_nsec == 0;
}

/* A date header against the file's time: COND_NONE when absent or not a
 * date; COND_TRUE when the file is no newer than it. */
static enum cond not_newer(const char *date, const struct stat *st)
{
    time_t t;
    if (!date || !*date || zero_time(st) || !parse_http_date(date, &t))
        return COND_NONE;
    return st->st_mtime <= t ? COND_TRUE : COND_FALSE;
}

/* COND_FALSE: not modified since (GET and HEAD only). */
static enum cond if_modified_since(const struct request *r, const struct stat *st)
{
    if (!get_or_head(r))
        return COND_NONE;
    enum cond c = not_newer(req_header(r, "If-Modified-Since"), st);
    return c == COND_NONE ? c : c == COND_TRUE ? COND_FALSE : COND_TRUE;
}

/* The status a file's conditional headers answer, 0 to serve it: 412 when
 * If-Match (else If-Unmodified-Since) fails; then 304 (412 for methods but
 * GET and HEAD) when If-None-Match matches, or without it when
 * If-Modified-Since holds. */
static int precondition(const struct request *r, const struct stat *st, const char *etag)
{
    enum cond c = if_match(r, etag);
    if (c == COND_NONE)
        c = not_newer(req_header(r, "If-Unmodified-Since"), st);
    if (c == COND_FALSE)
        return 412;
    switch (if_none_match(r, etag)) {
    case COND_FALSE:
        return get_or_head(r) ? 304 : 412;
    case COND_NONE:
        return if_modified_since(r, st) == COND_FALSE ? 304 : 0;
    default:
        return 0;
    }
}

/* ---- ranges, read as Go's ServeContent reads them ---- */

struct brange {
    int64_t start, len;
};

/* What one piece of a "bytes=" list is. */
enum piece { PIECE_END, PIECE_SPAN, PIECE_PAST_END, PIECE_BAD };

/* What a whole Range header asks for. */
enum range { RANGE_NONE, RANGE_ONE, RANGE_MANY, RANGE_BAD, RANGE_UNSATISFIABLE };

/* strconv.ParseInt(s, 10, 64) over [s, e): an optional sign, then decimal
 * digits, within int64. */
static bool parse_int(const char *s, const char *e, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0, limit = (uint64_t)INT64_MAX;
    if (s < e && (*s == '+' || *s == '-'))
        neg = *s++ == '-';
    if (s == e)
        return false;
    if (neg)
        limit++;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9' || v > (limit - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = !neg ? (int64_t)v : v == limit ? INT64_MIN : -(int64_t)v;
    return true;
}

/* textproto.TrimString: ASCII space, tab, CR and LF off both ends. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && strchr(" \t\r\n", **s))
        (*s)++;
    while (*e > *s && strchr(" \t\r\n", (*e)[-1]))
        (*e)--;
}

/* One piece of the list at *p, which moves past it; empty pieces are
 * skipped. "A-B", "A-" (to the end) or "-N" (the last N bytes). */
static enum piece next_piece(const char **p, int64_t size, struct brange *out)
{
    for (;;) {
        const char *s = *p;
        if (*s == '\0')
            return PIECE_END;
        const char *e = s + strcspn(s, ",");
        *p = *e ? e + 1 : e;
        trim(&s, &e);
        if (s == e)
            continue;
        const char *dash = memchr(s, '-', (size_t)(e - s));
        if (!dash)
            return PIECE_BAD;
        const char *as = s, *ae = dash, *bs = dash + 1, *be = e;
        int64_t a, b;
        trim(&as, &ae);
        trim(&bs, &be);
        if (as == ae) {
            if (bs == be || *bs == '-' || !parse_int(bs, be, &b) || b < 0)
                return PIECE_BAD;
            out->len = b > size ? size : b;
            out->start = size - out->len;
            return PIECE_SPAN;
        }
        if (!parse_int(as, ae, &a) || a < 0)
            return PIECE_BAD;
        if (a >= size)
            return PIECE_PAST_END;
        out->start = a;
        if (bs == be) {
            out->len = size - a;
            return PIECE_SPAN;
        }
        if (!parse_int(bs, be, &b) || a > b)
            return PIECE_BAD;
        out->len = (b >= size ? size - 1 : b) - a + 1;
        return PIECE_SPAN;
    }
}

/* The next range of the list at *p, past those that start after the end. */
static bool next_range(const char **p, int64_t size, struct brange *out)
{
    enum piece k;
    while ((k = next_piece(p, size, out)) == PIECE_PAST_END)
        continue;
    return k == PIECE_SPAN;
}

/* The whole header, checked before anything is sent: any bad piece makes
 * it 416 "invalid range"; only pieces past the end, 416 with the size;
 * ranges that add up to more than the file are ignored (the whole file is
 * sent), as Go does against an attack or a confused client. A single
 * range is put in *first. */
static enum range scan_ranges(const char *h, int64_t size, struct brange *first)
{
    const char *p = h + 6;
    bool past_end = false;
    int64_t count = 0, sum = 0;
    struct brange b, f = {0, 0};
    enum piece k;
    if (strncmp(h, "bytes=", 6) != 0)
        return RANGE_BAD;
    while ((k = next_piece(&p, size, &b)) != PIECE_END) {
        if (k == PIECE_BAD)
            return RANGE_BAD;
        if (k == PIECE_PAST_END) {
            past_end = true;
            continue;
        }
        if (count++ == 0)
            f = b;
        /* capped: only "more than the file" matters */
        sum = sum + b.len > size ? size + 1 : sum + b.len;
    }
    if (count == 0)
        return past_end ? RANGE_UNSATISFIABLE : RANGE_NONE;
    if (sum > size)
        return RANGE_NONE;
    if (count > 1)
        return RANGE_MANY;
    *first = f;
    return RANGE_ONE;
}

/* If-Range: the Range applies only while the file is what the client has.
 * Go looks at it for GET and HEAD only. */
static bool if_range_holds(const struct request *r, const struct stat *st, const char *etag)
{
    const char *ir = req_header(r, "If-Range"), *tag;
    size_t n;
    time_t t;
    if (!ir || !*ir || !get_or_head(r))
        return true;
    if ((tag = scan_etag(ir, &n)))
        return n == strlen(etag) && memcmp(tag, etag, n) == 0;
    return parse_http_date(ir, &t) && t == st->st_mtime;
}

/* ---- sending ---- */

struct sender {
    struct request *r;
    int fd;
    int64_t off, left;
};

static void sender_free(struct sender *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* Queue the next slice; the last one hands over the fd itself. */
static void send_slice(struct sender *s)
{
    struct request *r = s->r;
    int64_t n = s->left < SLICE ? s->left : SLICE;
    int fd = n == s->left ? s->fd : dup(s->fd);
    if (fd < 0) {
        log_error("static: dup: %s", strerror(errno));
        sender_free(s);
        resp_abort(r);
        return;
    }
    if (fd == s->fd)
        s->fd = -1;
    resp_write_file(r, fd, s->off, n);
    s->off += n;
    s->left -= n;
    if (s->left == 0) {
        sender_free(s);
        resp_end(r);
    }
}

static void on_drain(void *arg)
{
    send_slice(arg);
}

static void on_abort(void *arg)
{
    sender_free(arg);
}

static const struct req_handler sender_ops = {NULL, NULL, on_drain, on_abort};

/* Send len bytes of fd from off; takes the fd. */
static void send_file(struct request *r, int fd, int64_t off, int64_t len)
{
    struct sender *s;
    if (len == 0 || r->head || !(s = malloc(sizeof(*s)))) {
        close(fd);
        if (len == 0 || r->head)
            resp_end(r);
        else
            resp_abort(r);
        return;
    }
    *s = (struct sender){r, fd, off, len};
    req_attach(r, &sender_ops, s);
    send_slice(s);
}

/* ---- several ranges: multipart/byteranges, as Go's ServeContent ---- */

/* Go's multipart writer: 30 random bytes in hex. */
#define BOUNDARY_LEN 60
/* Bytes of a part read per pread. */
#define PART_READ (64 * 1024)

struct parts {
    struct request *r;
    int fd;
    const char *type;     /* each part's Content-Type: the file's */
    char *list;           /* the Range header, read again part by part */
    const char *next;     /* the ranges not yet sent */
    int64_t size, off, left;
    bool first;
    char *buf;            /* PART_READ bytes */
    char boundary[BOUNDARY_LEN + 1];
};

/* The boundary only has to be absent from the parts. Without the kernel's
 * random bytes (a seccomp profile may refuse getrandom), the clock and a
 * counter, mixed, are as unlikely to be in a file. */
static void make_boundary(char *out)
{
    static uint64_t counter;
    unsigned char raw[BOUNDARY_LEN / 2];
    if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
        for (size_t i = 0; i < sizeof(raw); i++) {
            /* splitmix64 */
            uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15) + counter++);
            z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
            raw[i] = (unsigned char)(z ^ (z >> 31));
        }
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* A part's head, or with b NULL the closing line, into buf (PART_HEAD
 * bytes); its length. */
#define PART_HEAD 512
static int part_head(char *buf, const char *boundary, bool first, const struct brange *b,
                     int64_t size, const char *type)
{
    if (!b)
        return snprintf(buf, PART_HEAD, "\r\n--%s--\r\n", boundary);
    return snprintf(buf, PART_HEAD,
                    "%s--%s\r\nContent-Range: bytes %lld-%lld/%lld\r\nContent-Type: %s\r\n\r\n",
                    first ? "" : "\r\n", boundary, (long long)b->start,
                    (long long)(b->start + b->len - 1), (long long)size, type);
}

/* The answer's length: every part's head and bytes, and the closing line. */
static int64_t parts_length(const struct parts *s)
{
    char head[PART_HEAD];
    const char *p = s->next;
    struct brange b;
    bool first = true;
    int64_t n = 0;
    while (next_range(&p, s->size, &b)) {
        n += part_head(head, s->boundary, first, &b, s->size, s->type) + b.len;
        first = false;
    }
    return n + part_head(head, s->boundary, false, NULL, s->size, s->type);
}

static void parts_free(struct parts *s)
{
    close(s->fd);
    free(s->list);
    free(s->buf);
    free(s);
}

/* The next part's head, or the closing line at the end. false once all is
 * queued. */
static bool parts_next(struct parts *s)
{
    char head[PART_HEAD];
    struct brange b;
    bool more = next_range(&s->next, s->size, &b);
    resp_write(s->r, head, (size_t)part_head(head, s->boundary, s->first, more ? &b : NULL,
                                             s->size, s->type));
    s->first = false;
    s->off = b.start;
    s->left = more ? b.len : 0;
    return more;
}

/* Queue up to a slice: part heads, and the parts' bytes read with pread
 * (file segments would each hold a descriptor, and parts may be many and
 * small). */
static void parts_send(struct parts *s)
{
    struct request *r = s->r;
    while (resp_queued(r) < (size_t)SLICE) {
        if (s->left == 0) {
            if (parts_next(s))
                continue;
            parts_free(s);
            resp_end(r);
            return;
        }
        size_t want = s->left < PART_READ ? (size_t)s->left : PART_READ;
        ssize_t n = pread(s->fd, s->buf, want, s->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* the file shrank or cannot be read: the answer cannot be whole */
            log_error("static: reading a range: %s", n < 0 ? strerror(errno) : "end of file");
            parts_free(s);
            resp_abort(r);
            return;
        }
        resp_write(r, s->buf, (size_t)n);
        s->off += n;
        s->left -= n;
    }
}

static void parts_on_drain(void *arg)
{
    parts_send(arg);
}

static void parts_on_abort(void *arg)
{
    parts_free(arg);
}

static const struct req_handler parts_ops = {NULL, NULL, parts_on_drain, parts_on_abort};

/* 206 with each range of the Range header h (checked by scan_ranges) as a
 * part of its own. Takes fd. */
static void serve_parts(struct request *r, int fd, const char *h, int64_t size, const char *type)
{
    char ctype[64 + BOUNDARY_LEN];
    struct parts *s = malloc(sizeof(*s));
    char *list = strdup(h + 6), *buf = r->head ? NULL : malloc(PART_READ);
    if (!s || !list || (!r->head && !buf)) {
        free(s);
        free(list);
        free(buf);
        close(fd);
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    *s = (struct parts){r, fd, type, list, list, size, 0, 0, true, buf, {0}};
    make_boundary(s->boundary);
    snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", s->boundary);
    resp_header(r, "Content-Type", ctype);
    resp_length_in_head(r); /* Go's serveContent sets it */
    resp_start(r, 206, parts_length(s));
    if (r->head) {
        parts_free(s);
        resp_end(r);
        return;
    }
    req_attach(r, &parts_ops, s);
    parts_send(s);
}

/* A regular file: conditional requests, ranges, then the bytes. Takes fd. */
static void serve_file(const struct root *rt, struct request *r, const char *rel, int fd,
                       const struct stat *st)
{
    char etag[64], mtime[40], crange[96];
    int64_t size = st->st_size;
    snprintf(etag, sizeof(etag), "\"%llx-%lx-%llx\"", (unsigned long long)st->st_mtim.tv_sec,
             (long)st->st_mtim.tv_nsec, (unsigned long long)size);
    if (!zero_time(st)) {
        http_date(st->st_mtime, mtime, sizeof(mtime));
        resp_header(r, "Last-Modified", mtime);
    }
    resp_header(r, "Etag", etag);
    resp_header(r, "Accept-Ranges", "bytes");
    int status = precondition(r, st, etag);
    if (status != 0) {
        close(fd);
        resp_empty(r, status);
        return;
    }
    const char *range = req_header(r, "Range");
    struct brange one = {0, size};
    enum range kind = RANGE_NONE;
    if (range && *range && if_range_holds(r, st, etag))
        kind = scan_ranges(range, size, &one);
    if (kind == RANGE_BAD) {
        close(fd);
        resp_go_error(r, 416, "invalid range\n");
        return;
    }
    if (kind == RANGE_UNSATISFIABLE) {
        close(fd);
        snprintf(crange, sizeof(crange), "bytes */%lld", (long long)size);
        resp_header(r, "Content-Range", crange);
        resp_go_error(r, 416, "invalid range: failed to overlap\n");
        return;
    }
    const char *type = content_type(rt, rel, fd);
    if (kind == RANGE_MANY) {
        serve_parts(r, fd, range, size, type);
        return;
    }
    resp_header(r, "Content-Type", type);
    if (kind == RANGE_ONE) {
        /* Go's figures, also for an empty range ("bytes 13-12/13") */
        snprintf(crange, sizeof(crange), "bytes %lld-%lld/%lld", (long long)one.start,
                 (long long)(one.start + one.len - 1), (long long)size);
        resp_header(r, "Content-Range", crange);
    }
    resp_length_in_head(r); /* Go's serveContent sets it */
    resp_start(r, kind == RANGE_ONE ? 206 : 200, one.len);
    send_file(r, fd, one.start, one.len);
}

/* ---- directories ---- */

/* Listing links are escaped as Go's url.URL{Path: name}.String() escapes
 * them (target_path_safe), which also makes them safe inside an HTML
 * attribute. A redirect's Location keeps the rest of RFC 3986's path
 * characters too (LOCATION_KEEP): Go sends the decoded name there as it
 * is, and with this set every name that is valid there is sent as Go
 * sends it, and only what would lead elsewhere (%, ?, #, a space) is
 * escaped. */
#define LOCATION_KEEP "!'()*"

/* name (with a slash for a directory) escaped, keeping also the bytes in
 * keep (NULL: none). */
static void path_escape(struct evbuffer *out, const char *s, bool dir, const char *keep)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (target_path_safe(c) || (keep && strchr(keep, c)))
            evbuffer_add(out, s, 1);
        else
            evbuffer_add_printf(out, "%%%02X", c);
    }
    if (dir)
        evbuffer_add(out, "/", 1);
}

/* The same, as a whole relative reference: a colon before any slash would
 * read as a scheme, so such a name is prefixed with "./". A listing's link
 * to a file named "*" stays "*", as Go's URL type leaves that path alone. */
static void link_escape(struct evbuffer *out, const char *name, bool dir, const char *keep)
{
    if (!dir && strcmp(name, "*") == 0) {
        evbuffer_add(out, "*", 1);
        return;
    }
    if (strchr(name, ':'))
        evbuffer_add(out, "./", 2);
    path_escape(out, name, dir, keep);
}

static void html_escape(struct evbuffer *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': evbuffer_add(out, "&amp;", 5); break;
        case '<': evbuffer_add(out, "&lt;", 4); break;
        case '>': evbuffer_add(out, "&gt;", 4); break;
        case '"': evbuffer_add(out, "&#34;", 5); break;
        case '\'': evbuffer_add(out, "&#39;", 5); break;
        default: evbuffer_add(out, s, 1);
        }
    }
}

/* Go's localRedirect: a 301 to prefix + name (+ "/" for a directory),
 * relative so that it also works behind a gateway that strips a prefix,
 * keeping the query, with no body. The name is escaped where Go's decoded
 * one would lead elsewhere (LOCATION_KEEP). */
static void local_redirect(struct request *r, const char *prefix, const char *name, bool dir)
{
    struct evbuffer *loc = evbuffer_new();
    if (!loc) {
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    evbuffer_add(loc, prefix, strlen(prefix));
    if (*prefix)
        path_escape(loc, name, dir, LOCATION_KEEP);
    else
        link_escape(loc, name, dir, LOCATION_KEEP);
    if (*r->query)
        evbuffer_add_printf(loc, "?%s", r->query);
    evbuffer_add(loc, "", 1);
    resp_header(r, "Location", (const char *)evbuffer_pullup(loc, -1));
    resp_empty(r, 301);
    evbuffer_free(loc);
}

static const char *base_name(const char *rel)
{
    const char *base = strrchr(rel, '/');
    return base ? base + 1 : rel;
}

static void redirect_dir(struct request *r, const char *rel)
{
    local_redirect(r, "", *rel ? base_name(rel) : ".", true);
}

struct entry {
    char *name;
    bool dir;
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static bool entry_is_dir(DIR *d, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    return fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The directory's entries, sorted by name. Takes fd. -1 on failure. */
static int read_entries(int fd, struct entry **out, size_t *count)
{
    DIR *d = fdopendir(fd);
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    if (!d) {
        close(fd);
        return -1;
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            struct entry *nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));
            if (!nv)
                goto err;
            v = nv;
        }
        if (!(v[n].name = strdup(e->d_name)))
            goto err;
        v[n++].dir = entry_is_dir(d, e);
    }
    closedir(d);
    if (n > 1) /* an empty directory has no array to sort */
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    *count = n;
    return 0;
err:
    while (n > 0)
        free(v[--n].name);
    free(v);
    closedir(d);
    return -1;
}

/* The listing Go's FileServer gives for a directory without index.html. */
static void serve_listing(struct request *r, int fd)
{
    struct entry *v = NULL;
    size_t n = 0;
    struct stat st;
    char mtime[40];
    /* Go's listing: If-Modified-Since against the directory's time, which
     * is its Last-Modified; the names in a <pre>. */
    if (fstat(fd, &st) == 0) {
        if (if_modified_since(r, &st) == COND_FALSE) {
            close(fd);
            resp_empty(r, 304);
            return;
        }
        if (!zero_time(&st)) {
            http_date(st.st_mtime, mtime, sizeof(mtime));
            resp_header(r, "Last-Modified", mtime);
        }
    }
    struct evbuffer *out = evbuffer_new();
    if (!out || read_entries(fd, &v, &n) != 0) {
        if (!out)
            close(fd);
        resp_simple(r, 500, "Error reading directory\n");
        goto out;
    }
    /* The head Go's FileServer has written since Go 1.21, which every
     * current of-watchdog release is built with. */
    static const char head[] = "<!doctype html>\n"
                               "<meta name=\"viewport\" content=\"width=device-width\">\n"
                               "<pre>\n";
    evbuffer_add(out, head, sizeof(head) - 1);
    for (size_t i = 0; i < n; i++) {
        evbuffer_add(out, "<a href=\"", 9);
        link_escape(out, v[i].name, v[i].dir, NULL);
        evbuffer_add(out, "\">", 2);
        html_escape(out, v[i].name);
        evbuffer_add(out, v[i].dir ? "/</a>\n" : "</a>\n", v[i].dir ? 6 : 5);
        free(v[i].name);
    }
    evbuffer_add(out, "</pre>\n", 7);
    resp_header(r, "Content-Type", "text/html; charset=utf-8");
    /* Go's server announces a length only for an answer its handler ended
     * within its 2 KiB buffer: a longer listing goes chunked. */
    size_t len = evbuffer_get_length(out);
    resp_start(r, 200, len > GO_CHUNKING_BUFFER ? -1 : (int64_t)len);
    resp_write_buf(r, out);
    resp_end(r);
out:
    free(v);
    if (out)
        evbuffer_free(out);
}

/* http.Error's answers, as Go's FileServer gives them. */
static void answer_status(struct request *r, int status)
{
    switch (status) {
    case 400: resp_go_error(r, 400, "400 Bad Request\n"); break;
    case 403: resp_go_error(r, 403, "403 Forbidden\n"); break;
    case 404: resp_go_error(r, 404, "404 page not found\n"); break;
    default: resp_go_error(r, 500, "500 Internal Server Error\n"); break;
    }
}

/* A directory: index.html when it has one, else a listing. Takes fd. */
static void serve_dir(const struct root *rt, struct request *r, const char *rel, int fd)
{
    char *index = NULL;
    struct stat st;
    int ifd = -1;
    if (asprintf(&index, "%s%sindex.html", rel, *rel ? "/" : "") < 0) {
        close(fd);
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    int status = open_under(rt, index, &ifd, &st);
    if (status == 0 && S_ISREG(st.st_mode)) {
        close(fd);
        serve_file(rt, r, index, ifd, &st);
    } else if (status == 0 || status == 404) {
        if (ifd >= 0)
            close(ifd);
        serve_listing(r, fd);
    } else {
        close(fd);
        answer_status(r, status);
    }
    free(index);
}

/* ".../index.html" is answered with a redirect to its directory. */
static bool is_index_path(const char *rel, bool slash)
{
    return !slash && strcmp(base_name(rel), "index.html") == 0;
}

static void static_handle(void *state, struct request *r)
{
    const struct root *rt = state;
    char *rel = NULL;
    bool slash = false;
    struct stat st;
    int fd = -1, status;
    /* Go's FileServer serves any method as GET (HEAD without the body),
     * and logs nothing. */
    resp_log_status(r, -1);
    if ((status = clean_path(r->path, &rel, &slash)) != 0) {
        answer_status(r, status);
    } else if (is_index_path(rel, slash)) {
        local_redirect(r, "./", "", false);
    } else if ((status = open_under(rt, rel, &fd, &st)) != 0) {
        answer_status(r, status);
    } else if (S_ISDIR(st.st_mode) && !slash) {
        close(fd);
        redirect_dir(r, rel);
    } else if (S_ISDIR(st.st_mode)) {
        serve_dir(rt, r, rel, fd);
    } else if (slash) {
        close(fd);
        local_redirect(r, "../", base_name(rel), false);
    } else {
        serve_file(rt, r, rel, fd, &st);
    }
    free(rel);
}

/* ---- lifecycle ---- */

/* Old kernels lack openat2 (ENOSYS); old container seccomp profiles
 * refuse it (EPERM). Either way the realpath check takes over. */
static bool probe_openat2(int dirfd)
{
#ifdef HAVE_OPENAT2_H
    int fd = openat2_beneath(dirfd, ".");
    if (fd >= 0) {
        close(fd);
        return true;
    }
#else
    (void)dirfd;
#endif
    return false;
}

static void static_free(void *state)
{
    struct root *rt = state;
    if (!rt)
        return;
    free(rt->path);
    mime_table_free(rt->mime);
    free(rt);
}

static int static_init(const struct mode_env *env, void **state)
{
    const char *path = env->cfg->static_path;
    struct root *rt = calloc(1, sizeof(*rt));
    int rc = -1;
    if (!rt) {
        log_error("static: out of memory");
        return -1;
    }
    /* A root that cannot be opened is a setting that cannot work: Go's
     * FileServer would start and answer every request with 404. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        log_error("static_path %s: %s", path, errno == ENOTDIR ? "not a directory" : strerror(errno));
        rc = 2;
        goto err;
    }
    rt->beneath = probe_openat2(fd);
    close(fd);
    if (!(rt->path = strdup(path))) {
        log_error("static: out of memory");
        goto err;
    }
    if (!(rt->mime = mime_table_load(mime_globs_files, mime_types_files))) {
        log_error("static: out of memory reading the content types");
        goto err;
    }
    if (!rt->beneath)
        log_info("static: openat2 unavailable, confining paths with realpath checks");
    log_info("Serving files at: %s", path);
    *state = rt;
    return 0;
err:
    static_free(rt);
    return rc;
}

const struct mode mode_static = {
    .name = "static",
    .init = static_init,
    .handle = static_handle,
    .free = static_free,
};
