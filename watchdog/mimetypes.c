/* Go's mime.TypeByExtension, built as Go 1.19 builds it (mime/type.go and
 * mime/type_unix.go):
 *   - its built-in table comes first;
 *   - the first of the globs files that opens is read, and then nothing
 *     else: an extension already known keeps its type (the file is in
 *     weight order and the built-in table wins);
 *   - without one, every mime.types file is read, each entry replacing
 *     what came before (the built-in table too);
 *   - a text/ type without a charset gets "; charset=utf-8", in lower case;
 *   - a lookup tries the extension as given, then in lower case, where the
 *     last entry stored for that lower-case form answers.
 * Every entry read is a candidate with its order; sorting them gives both
 * tables at once, and lookups are binary searches. The strings live in one
 * arena, so the table costs little more than the text it holds. */
#include "mimetypes.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mime_globs_files[] = {"/usr/local/share/mime/globs2", "/usr/share/mime/globs2",
                                        NULL};
const char *const mime_types_files[] = {"/etc/mime.types", "/etc/apache2/mime.types",
                                        "/etc/apache/mime.types", "/etc/httpd/conf/mime.types",
                                        NULL};

/* Go 1.19's builtinTypesLower. */
static const char *const builtin[][2] = {
    {".avif", "image/avif"},
    {".css", "text/css; charset=utf-8"},
    {".gif", "image/gif"},
    {".htm", "text/html; charset=utf-8"},
    {".html", "text/html; charset=utf-8"},
    {".jpeg", "image/jpeg"},
    {".jpg", "image/jpeg"},
    {".js", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".pdf", "application/pdf"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".wasm", "application/wasm"},
    {".webp", "image/webp"},
    {".xml", "text/xml; charset=utf-8"},
};

/* Offsets into the table's string arena (which moves while it grows). */
struct entry {
    uint32_t ext;
    uint32_t type;
    uint32_t seq; /* the order it was stored in */
};

struct mime_table {
    char *arena;          /* every extension and type, NUL-terminated */
    size_t len, cap;
    struct entry *exact;  /* one per extension as written, sorted */
    size_t nexact;
    struct entry *lower;  /* one per lower-case extension, sorted */
    size_t nlower;
};

/* Go's mime token: printable ASCII but the tspecials. */
static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
            return false;
    }
    return true;
}

static void ascii_lower(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

/* Append n bytes and a NUL; the offset, or UINT32_MAX when out of memory. */
static uint32_t put(struct mime_table *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *a = cap <= UINT32_MAX ? realloc(t->arena, cap) : NULL;
        if (!a)
            return UINT32_MAX;
        t->arena = a;
        t->cap = cap;
    }
    uint32_t at = (uint32_t)t->len;
    memcpy(t->arena + at, s, n);
    t->arena[at + n] = '\0';
    t->len += n + 1;
    return at;
}

/* setExtensionType's form of a type, put in the arena: Go's ParseMediaType
 * must take it (a token, or token/token); a text/ type without parameters
 * gains the charset, in lower case. (The system files hold no parameters;
 * a type with some is kept as written.) UINT32_MAX for a refused type;
 * *oom on allocation failure. */
static uint32_t put_type(struct mime_table *t, const char *type, size_t n, bool *oom)
{
    static const char charset[] = "; charset=utf-8";
    const char *semi = memchr(type, ';', n), *slash;
    size_t main_len = semi ? (size_t)(semi - type) : n;
    while (main_len > 0 && (type[main_len - 1] == ' ' || type[main_len - 1] == '\t'))
        main_len--;
    slash = memchr(type, '/', main_len);
    if (slash ? !is_token(type, (size_t)(slash - type)) ||
                    !is_token(slash + 1, main_len - (size_t)(slash - type) - 1)
              : !is_token(type, main_len))
        return UINT32_MAX;
    bool text = n >= 5 && strncmp(type, "text/", 5) == 0 && !semi;
    uint32_t at = put(t, type, n);
    if (at == UINT32_MAX) {
        *oom = true;
        return at;
    }
    if (text) {
        ascii_lower(t->arena + at);
        t->len--; /* over the NUL */
        if (put(t, charset, sizeof(charset) - 1) == UINT32_MAX) {
            *oom = true;
            return UINT32_MAX;
        }
    }
    return at;
}

struct cands {
    struct mime_table *t;
    struct entry *v;
    size_t n, cap;
    bool oom;
};

/* One setExtensionType(ext, type) call, in order. */
static void add(struct cands *c, const char *ext, size_t elen, const char *type, size_t tlen)
{
    uint32_t ty = put_type(c->t, type, tlen, &c->oom), ex;
    if (ty == UINT32_MAX)
        return;
    if ((ex = put(c->t, ext, elen)) == UINT32_MAX) {
        c->oom = true;
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct entry *v = realloc(c->v, cap * sizeof(*v));
        if (!v) {
            c->oom = true;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = (struct entry){ex, ty, (uint32_t)c->n};
    c->n++;
}

static void strip_eol(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

/* weight:type:glob[:more]; only "*.ext" globs without wildcards. */
static void globs_line(struct cands *c, char *line)
{
    char *f1 = strchr(line, ':'), *f2, *end;
    if (!f1 || f1 == line || line[0] == '#')
        return;
    f1++;
    if (!(f2 = strchr(f1, ':')))
        return;
    f2++;
    end = f2 + strcspn(f2, ":");
    if (end - f2 < 3 || f2[0] != '*' || f2[1] != '.')
        return;
    const char *ext = f2 + 1;
    size_t elen = (size_t)(end - ext);
    if (memchr(ext, '?', elen) || memchr(ext, '*', elen) || memchr(ext, '[', elen))
        return;
    add(c, ext, elen, f1, (size_t)(f2 - 1 - f1));
}

/* type ext ext ... # comment */
static void types_line(struct cands *c, char *line)
{
    static const char ws[] = " \t\v\f\r\n";
    char *type = line + strspn(line, ws), *p;
    size_t tlen = strcspn(type, ws);
    if (tlen == 0 || type[0] == '#')
        return;
    char ext[256];
    for (p = type + tlen;;) {
        p += strspn(p, ws);
        size_t n = strcspn(p, ws);
        if (n == 0 || p[0] == '#')
            return;
        if (n < sizeof(ext) - 1) {
            ext[0] = '.';
            memcpy(ext + 1, p, n);
            add(c, ext, n + 1, type, tlen);
        }
        p += n;
    }
}

/* Every line of path through fn; false when it does not open. */
static bool read_lines(struct cands *c, const char *path, void (*fn)(struct cands *, char *))
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    if (!f)
        return false;
    while (getline(&line, &cap, f) >= 0) {
        strip_eol(line);
        fn(c, line);
    }
    free(line);
    fclose(f);
    return true;
}

static int by_ext_then_seq(const void *a, const void *b, void *arena)
{
    const struct entry *x = a, *y = b;
    int k = strcmp((char *)arena + x->ext, (char *)arena + y->ext);
    return k ? k : (x->seq > y->seq) - (x->seq < y->seq);
}

/* One entry per extension: the first stored (globs) or the last (types). */
static bool build_exact(struct mime_table *t, struct cands *c, bool first_wins)
{
    qsort_r(c->v, c->n, sizeof(*c->v), by_ext_then_seq, t->arena);
    if (!(t->exact = malloc((c->n ? c->n : 1) * sizeof(*t->exact))))
        return false;
    for (size_t i = 0; i < c->n;) {
        size_t j = i;
        while (j + 1 < c->n && strcmp(t->arena + c->v[j + 1].ext, t->arena + c->v[i].ext) == 0)
            j++;
        t->exact[t->nexact++] = c->v[first_wins ? i : j];
        i = j + 1;
    }
    return true;
}

/* One entry per lower-case extension: the last stored of those kept. */
static bool build_lower(struct mime_table *t)
{
    if (!(t->lower = malloc((t->nexact ? t->nexact : 1) * sizeof(*t->lower))))
        return false;
    for (size_t i = 0; i < t->nexact; i++) {
        struct entry e = t->exact[i];
        const char *ext = t->arena + e.ext;
        if (strpbrk(ext, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
            if ((e.ext = put(t, ext, strlen(ext))) == UINT32_MAX)
                return false;
            ascii_lower(t->arena + e.ext);
        }
        t->lower[t->nlower++] = e;
    }
    qsort_r(t->lower, t->nlower, sizeof(*t->lower), by_ext_then_seq, t->arena);
    size_t n = 0;
    for (size_t i = 0; i < t->nlower; i++) {
        /* a later one of the same form replaces it */
        if (i + 1 == t->nlower ||
            strcmp(t->arena + t->lower[i + 1].ext, t->arena + t->lower[i].ext) != 0)
            t->lower[n++] = t->lower[i];
    }
    t->nlower = n;
    return true;
}

/* The arrays and the arena at their final sizes: the table lives as long
 * as the process. */
static void shrink(struct mime_table *t)
{
    char *a = realloc(t->arena, t->len ? t->len : 1);
    struct entry *e = realloc(t->exact, (t->nexact ? t->nexact : 1) * sizeof(*e));
    struct entry *l = realloc(t->lower, (t->nlower ? t->nlower : 1) * sizeof(*l));
    if (a)
        t->arena = a;
    if (e)
        t->exact = e;
    if (l)
        t->lower = l;
}

struct mime_table *mime_table_load(const char *const *globs, const char *const *types)
{
    struct mime_table *t = calloc(1, sizeof(*t));
    struct cands c = {t, NULL, 0, 0, false};
    bool from_globs = false, ok;
    if (!t)
        return NULL;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        add(&c, builtin[i][0], strlen(builtin[i][0]), builtin[i][1], strlen(builtin[i][1]));
    for (size_t i = 0; globs[i] && !from_globs; i++)
        from_globs = read_lines(&c, globs[i], globs_line);
    for (size_t i = 0; types[i] && !from_globs; i++)
        read_lines(&c, types[i], types_line);
    ok = !c.oom && build_exact(t, &c, from_globs) && build_lower(t);
    free(c.v);
    if (!ok) {
        mime_table_free(t);
        return NULL;
    }
    shrink(t);
    return t;
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    free(t->arena);
    free(t->exact);
    free(t->lower);
    free(t);
}

static const char *find(const struct mime_table *t, const struct entry *v, size_t n,
                        const char *ext)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = strcmp(ext, t->arena + v[mid].ext);
        if (k == 0)
            return t->arena + v[mid].type;
        if (k < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *mime_table_lookup(const struct mime_table *t, const char *ext)
{
    char lower[128];
    const char *type = find(t, t->exact, t->nexact, ext);
    size_t n = strlen(ext);
    if (type || n >= sizeof(lower))
        return type;
    memcpy(lower, ext, n + 1);
    ascii_lower(lower);
    return find(t, t->lower, t->nlower, lower);
}
