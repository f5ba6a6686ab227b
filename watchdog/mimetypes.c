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
 * tables at once, and lookups are binary searches. */
#include "mimetypes.h"

#include <stdbool.h>
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

struct entry {
    char *ext;
    char *type;
    size_t seq; /* the order it was stored in */
};

struct mime_table {
    struct entry *all;    /* every candidate; owns ext and type */
    size_t nall;
    struct entry *exact;  /* one per extension as written */
    size_t nexact;
    struct entry *lower;  /* one per lower-case extension; owns ext */
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

/* setExtensionType's form of a type: NULL when Go's ParseMediaType refuses
 * it; a text/ type without parameters gains the charset, in lower case.
 * (The system files hold no parameters; a type with some is kept as
 * written.) *oom on allocation failure. */
static char *type_form(const char *t, size_t n, bool *oom)
{
    const char *semi = memchr(t, ';', n), *slash;
    size_t main_len = semi ? (size_t)(semi - t) : n;
    while (main_len > 0 && (t[main_len - 1] == ' ' || t[main_len - 1] == '\t'))
        main_len--;
    /* a token, or token/token */
    slash = memchr(t, '/', main_len);
    if (slash ? !is_token(t, (size_t)(slash - t)) ||
                    !is_token(slash + 1, main_len - (size_t)(slash - t) - 1)
              : !is_token(t, main_len))
        return NULL;
    bool charset = n >= 5 && strncmp(t, "text/", 5) == 0 && !semi;
    char *out = malloc(n + (charset ? sizeof("; charset=utf-8") : 1));
    if (!out) {
        *oom = true;
        return NULL;
    }
    memcpy(out, t, n);
    out[n] = '\0';
    if (charset) {
        ascii_lower(out);
        strcat(out, "; charset=utf-8");
    }
    return out;
}

struct cands {
    struct entry *v;
    size_t n, cap;
    bool oom;
};

/* One setExtensionType(ext, type) call, in order. */
static void add(struct cands *c, const char *ext, size_t elen, const char *type, size_t tlen)
{
    char *t = type_form(type, tlen, &c->oom), *e;
    if (!t)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct entry *v = realloc(c->v, cap * sizeof(*v));
        if (!v) {
            free(t);
            c->oom = true;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    if (!(e = strndup(ext, elen))) {
        free(t);
        c->oom = true;
        return;
    }
    c->v[c->n] = (struct entry){e, t, c->n};
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

static int by_ext_then_seq(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int k = strcmp(x->ext, y->ext);
    return k ? k : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_ext(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->ext, ((const struct entry *)b)->ext);
}

/* One entry per extension: the first stored (globs) or the last (types). */
static bool build_exact(struct mime_table *t, bool first_wins)
{
    qsort(t->all, t->nall, sizeof(*t->all), by_ext_then_seq);
    if (!(t->exact = malloc((t->nall ? t->nall : 1) * sizeof(*t->exact))))
        return false;
    for (size_t i = 0; i < t->nall;) {
        size_t j = i;
        while (j + 1 < t->nall && strcmp(t->all[j + 1].ext, t->all[i].ext) == 0)
            j++;
        t->exact[t->nexact++] = t->all[first_wins ? i : j];
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
        if (!(e.ext = strdup(e.ext)))
            return false;
        ascii_lower(e.ext);
        t->lower[t->nlower++] = e;
    }
    qsort(t->lower, t->nlower, sizeof(*t->lower), by_ext_then_seq);
    size_t n = 0;
    for (size_t i = 0; i < t->nlower; i++) {
        if (i + 1 < t->nlower && strcmp(t->lower[i + 1].ext, t->lower[i].ext) == 0)
            free(t->lower[i].ext); /* a later one of the same form replaces it */
        else
            t->lower[n++] = t->lower[i];
    }
    t->nlower = n;
    return true;
}

struct mime_table *mime_table_load(const char *const *globs, const char *const *types)
{
    struct cands c = {0};
    struct mime_table *t = calloc(1, sizeof(*t));
    bool from_globs = false;
    if (!t)
        return NULL;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        add(&c, builtin[i][0], strlen(builtin[i][0]), builtin[i][1], strlen(builtin[i][1]));
    for (size_t i = 0; globs[i] && !from_globs; i++)
        from_globs = read_lines(&c, globs[i], globs_line);
    for (size_t i = 0; types[i] && !from_globs; i++)
        read_lines(&c, types[i], types_line);
    t->all = c.v;
    t->nall = c.n;
    if (c.oom || !build_exact(t, from_globs) || !build_lower(t)) {
        mime_table_free(t);
        return NULL;
    }
    return t;
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nall; i++) {
        free(t->all[i].ext);
        free(t->all[i].type);
    }
    for (size_t i = 0; i < t->nlower; i++)
        free(t->lower[i].ext);
    free(t->all);
    free(t->exact);
    free(t->lower);
    free(t);
}

static const char *find(const struct entry *v, size_t n, const char *ext)
{
    struct entry key = {(char *)ext, NULL, 0};
    const struct entry *e = bsearch(&key, v, n, sizeof(*v), by_ext);
    return e ? e->type : NULL;
}

const char *mime_table_lookup(const struct mime_table *t, const char *ext)
{
    char lower[128];
    const char *type = find(t->exact, t->nexact, ext);
    size_t n = strlen(ext);
    if (type || n >= sizeof(lower))
        return type;
    memcpy(lower, ext, n + 1);
    ascii_lower(lower);
    return find(t->lower, t->nlower, lower);
}
