/* Request headers -> Http_* environment (CGI style) for fork-mode functions. */
#include "cgi.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target.h"

#define PREFIX "Http_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* Names the watchdog sets itself from the request line and framing. A base
 * variable or header that would produce one of them is dropped, so a
 * function always sees the real request (a "Method: GET" header cannot
 * pose as Http_Method). Proxy is dropped for httpoxy. */
static const char *const fixed_names[] = {
    "Method", "Path", "Query", "Host", "Content_Length", "ContentLength", "Transfer_Encoding", NULL,
};

/* ---- header names ---- */

void cgi_env_name(const char *name, size_t name_len, char *out)
{
    target_canonical(name, name_len, out);
    for (size_t i = 0; i < name_len; i++) {
        if (out[i] == '-')
            out[i] = '_';
    }
}

static bool is_fixed(const char *name, size_t len)
{
    for (size_t i = 0; fixed_names[i]; i++) {
        if (strlen(fixed_names[i]) == len && memcmp(fixed_names[i], name, len) == 0)
            return true;
    }
    return false;
}

/* ---- headers grouped by variable name ---- */

/* A header that becomes a variable: its name after "Http_", and its index
 * in the request so repeated headers keep their order when joined. */
struct hvar {
    const char *name;
    size_t len;
    size_t idx;
};

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : (alen > blen);
}

/* By name, then by position in the request. */
static int hvar_cmp(const void *a, const void *b)
{
    const struct hvar *x = a, *y = b;
    int c = name_cmp(x->name, x->len, y->name, y->len);

    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static bool name_usable(const struct header *h)
{
    /* '=' or NUL would change where the variable name ends. */
    return h->name_len > 0 && !memchr(h->name, '=', h->name_len) &&
           !memchr(h->name, '\0', h->name_len);
}

/* Headers that become variables, sorted by variable name so repeats sit
 * together (grouping by the final name, not the header name, guarantees no
 * variable appears twice). One malloc: entries then names. */
static struct hvar *collect(const struct cgi_request *req, size_t *count)
{
    size_t names = 0, n = 0;
    struct hvar *v;
    char *area;

    for (size_t i = 0; i < req->nheaders; i++)
        names += req->headers[i].name_len;
    v = malloc(req->nheaders * sizeof(*v) + names + 1);
    if (!v)
        return NULL;
    area = (char *)(v + req->nheaders);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct header *h = &req->headers[i];
        if (!name_usable(h))
            continue;
        cgi_env_name(h->name, h->name_len, area);
        if (is_fixed(area, h->name_len) ||
            (h->name_len == 5 && memcmp(area, "Proxy", 5) == 0))
            continue;
        v[n++] = (struct hvar){area, h->name_len, i};
        area += h->name_len;
    }
    qsort(v, n, sizeof(*v), hvar_cmp);
    *count = n;
    return v;
}

static bool have_var(const struct hvar *v, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, v[mid].name, v[mid].len);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

/* ---- the environment writer ----
 * The same build runs twice: first with nothing allocated to count pointers
 * and bytes, then into the single block. Sharing the code keeps the two
 * passes from ever disagreeing. */

struct envw {
    char **vec; /* NULL on the counting pass */
    char *str;
    size_t nvec, nstr;
};

static void w_ptr(struct envw *w, char *p)
{
    if (w->vec)
        w->vec[w->nvec] = p;
    w->nvec++;
}

static void w_put(struct envw *w, const char *s, size_t n)
{
    if (w->vec && n > 0)
        memcpy(w->str + w->nstr, s, n);
    w->nstr += n;
}

/* Values cannot carry line breaks or NULs into the environment. */
static void w_put_clean(struct envw *w, const char *s, size_t n)
{
    if (w->vec) {
        char *d = w->str + w->nstr;
        for (size_t i = 0; i < n; i++)
            d[i] = (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') ? ' ' : s[i];
    }
    w->nstr += n;
}

static void w_var_begin(struct envw *w, const char *name, size_t len)
{
    w_ptr(w, w->vec ? w->str + w->nstr : NULL);
    w_put(w, PREFIX, PREFIX_LEN);
    w_put(w, name, len);
    w_put(w, "=", 1);
}

static void w_var(struct envw *w, const char *name, const char *value)
{
    w_var_begin(w, name, strlen(name));
    w_put_clean(w, value, strlen(value));
    w_put(w, "", 1);
}

/* A base variable that one of ours replaces. */
static bool shadowed(const char *entry, const struct hvar *v, size_t n)
{
    const char *eq;

    if (strncmp(entry, PREFIX, PREFIX_LEN) != 0)
        return false;
    entry += PREFIX_LEN;
    eq = strchr(entry, '=');
    if (!eq)
        return false;
    return is_fixed(entry, (size_t)(eq - entry)) ||
           have_var(v, n, entry, (size_t)(eq - entry));
}

/* One variable per run of equal names, values joined with ", ". */
static size_t w_group(struct envw *w, const struct cgi_request *req,
                      const struct hvar *v, size_t n, size_t i)
{
    size_t j = i;

    w_var_begin(w, v[i].name, v[i].len);
    for (; j < n && name_cmp(v[j].name, v[j].len, v[i].name, v[i].len) == 0; j++) {
        const struct header *h = &req->headers[v[j].idx];
        if (j > i)
            w_put(w, ", ", 2);
        if (h->value)
            w_put_clean(w, h->value, h->value_len);
    }
    w_put(w, "", 1);
    return j;
}

static void w_var_opt(struct envw *w, const char *name, const char *value)
{
    if (value)
        w_var(w, name, value);
}

static void build(struct envw *w, char *const *base, const struct cgi_request *req,
                  const struct hvar *v, size_t n)
{
    for (; base && *base; base++) {
        if (!shadowed(*base, v, n))
            w_ptr(w, *base);
    }
    for (size_t i = 0; i < n;)
        i = w_group(w, req, v, n, i);
    w_var(w, "Method", req->method ? req->method : "");
    w_var(w, "Path", req->path ? req->path : "");
    if (req->query && *req->query)
        w_var(w, "Query", req->query);
    w_var_opt(w, "Host", req->host);
    w_var_opt(w, "Content_Length", req->content_length);
    w_var_opt(w, "ContentLength", req->content_length_old);
    w_var_opt(w, "Transfer_Encoding", req->transfer_encoding);
}

char **cgi_build_env(char *const *base, const struct cgi_request *req)
{
    struct envw w = {0};
    struct hvar *v;
    size_t n = 0, ptrs;
    char **env = NULL;

    v = collect(req, &n);
    if (!v)
        return NULL;
    build(&w, base, req, v, n);
    ptrs = (w.nvec + 1) * sizeof(char *);
    env = malloc(ptrs + w.nstr);
    if (!env)
        goto out;
    w = (struct envw){.vec = env, .str = (char *)env + ptrs};
    build(&w, base, req, v, n);
    env[w.nvec] = NULL;
out:
    free(v);
    return env;
}
