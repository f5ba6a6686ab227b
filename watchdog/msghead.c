#include "msghead.h"
#include "target.h"

#include <stdlib.h>
#include <string.h>

void msghead_init(struct msghead *h, size_t max)
{
    memset(h, 0, sizeof(*h));
    h->max = max;
}

void msghead_reset(struct msghead *h)
{
    h->len = 0;
    h->nfields = 0;
    h->in_value = false;
    h->too_large = false;
}

void msghead_free(struct msghead *h)
{
    free(h->buf);
    free(h->fields);
    free(h->headers);
    msghead_init(h, h->max);
}

/* The slow half of reserve: over max, or a larger buffer. */
static int grow(struct msghead *h, size_t len)
{
    if (h->len + len + 1 > h->max) {
        h->too_large = true;
        return -1;
    }
    size_t cap = h->cap ? h->cap : 1024;
    while (cap < h->len + len + 1)
        cap *= 2;
    char *p = realloc(h->buf, cap);
    if (!p)
        return -1;
    h->buf = p;
    h->cap = cap;
    return 0;
}

/* Room for len more bytes and the NUL that may follow them. Called for
 * every span of a head, so the common case is inline. */
static inline int reserve(struct msghead *h, size_t len)
{
    size_t need = h->len + len + 1;
    return need <= h->cap && need <= h->max ? 0 : grow(h, len);
}

int msghead_append(struct msghead *h, const char *at, size_t len)
{
    if (reserve(h, len))
        return -1;
    memcpy(h->buf + h->len, at, len);
    h->len += len;
    return 0;
}

int msghead_copy(struct msghead *h, size_t from, size_t len)
{
    if (reserve(h, len))
        return -1;
    memcpy(h->buf + h->len, h->buf + from, len);
    h->len += len;
    return 0;
}

int msghead_terminate(struct msghead *h)
{
    if (reserve(h, 0))
        return -1;
    h->buf[h->len++] = '\0';
    return 0;
}

static int new_field(struct msghead *h)
{
    if (h->nfields == h->fields_cap) {
        size_t cap = h->fields_cap ? h->fields_cap * 2 : 32;
        struct msghead_field *f = realloc(h->fields, cap * sizeof(*f));
        if (!f)
            return -1;
        h->fields = f;
        h->fields_cap = cap;
    }
    struct msghead_field *f = &h->fields[h->nfields++];
    memset(f, 0, sizeof(*f));
    f->name_off = (uint32_t)h->len;
    return 0;
}

int msghead_name(struct msghead *h, const char *at, size_t len)
{
    /* a name may come in several spans; a new one starts after a value */
    if (h->nfields == 0 || h->in_value) {
        if (new_field(h))
            return -1;
        h->in_value = false;
    }
    h->fields[h->nfields - 1].name_len += (uint32_t)len;
    return msghead_append(h, at, len);
}

const struct msghead_field *msghead_name_done(struct msghead *h)
{
    if ((h->nfields == 0 && new_field(h)) || msghead_terminate(h))
        return NULL;
    struct msghead_field *f = &h->fields[h->nfields - 1];
    /* A name that is not a token is refused or dropped by the callers:
     * its case does not matter. */
    target_canonical_token(h->buf + f->name_off, f->name_len);
    h->in_value = true;
    f->val_off = (uint32_t)h->len;
    return f;
}

int msghead_value(struct msghead *h, const char *at, size_t len)
{
    h->fields[h->nfields - 1].val_len += (uint32_t)len;
    return msghead_append(h, at, len);
}

/* A field value does not include the whitespace around it (RFC 9110 5.5);
 * llhttp leaves out the leading whitespace but hands over the trailing. */
static void trim_value(struct msghead *h)
{
    struct msghead_field *f = &h->fields[h->nfields - 1];
    while (f->val_len > 0 && (h->buf[h->len - 1] == ' ' || h->buf[h->len - 1] == '\t')) {
        f->val_len--;
        h->len--;
    }
}

int msghead_value_done(struct msghead *h)
{
    trim_value(h);
    return msghead_terminate(h);
}

int msghead_value_fold(struct msghead *h)
{
    trim_value(h);
    return h->fields[h->nfields - 1].val_len > 0 ? msghead_value(h, " ", 1) : 0;
}

int msghead_field(struct msghead *h, const char *name, size_t nlen, const char *value,
                  size_t vlen)
{
    if (reserve(h, nlen + 1 + vlen) || new_field(h))
        return -1;
    struct msghead_field *f = &h->fields[h->nfields - 1];
    char *p = h->buf + h->len;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    if (!target_canonical_plain(p, nlen)) {
        h->nfields--;
        return -1;
    }
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    f->name_len = (uint32_t)nlen;
    f->val_off = (uint32_t)(h->len + nlen + 1);
    f->val_len = (uint32_t)vlen;
    h->len += nlen + vlen + 2;
    h->in_value = true;
    return 0;
}

void msghead_drop_partial_name(struct msghead *h)
{
    if (h->nfields == 0 || h->in_value)
        return;
    msghead_drop_last(h);
    h->in_value = true; /* the next name starts a new field */
}

void msghead_drop_last(struct msghead *h)
{
    h->len = h->fields[h->nfields - 1].name_off;
    h->nfields--;
}

static bool named(const struct msghead *h, const struct msghead_field *f, const char *name,
                  size_t len)
{
    return f->name_len == len && memcmp(h->buf + f->name_off, name, len) == 0;
}

const struct msghead_field *msghead_find(const struct msghead *h, const char *name, size_t len)
{
    for (size_t i = 0; i < h->nfields; i++) {
        if (named(h, &h->fields[i], name, len))
            return &h->fields[i];
    }
    return NULL;
}

size_t msghead_count(const struct msghead *h, const char *name, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nfields; i++)
        n += named(h, &h->fields[i], name, len);
    return n;
}

/* The first field before the last one that has the last one's name. */
static const struct msghead_field *earlier(const struct msghead *h)
{
    const struct msghead_field *last = &h->fields[h->nfields - 1];
    for (size_t i = 0; i + 1 < h->nfields; i++) {
        if (named(h, &h->fields[i], h->buf + last->name_off, last->name_len))
            return &h->fields[i];
    }
    return NULL;
}

bool msghead_last_repeats(const struct msghead *h)
{
    return earlier(h) != NULL;
}

int msghead_drop_repeat(struct msghead *h)
{
    const struct msghead_field *last = &h->fields[h->nfields - 1], *first = earlier(h);
    if (!first || first->val_len != last->val_len ||
        memcmp(h->buf + first->val_off, h->buf + last->val_off, last->val_len) != 0)
        return 1;
    msghead_drop_last(h);
    return 0;
}

bool msghead_build_into(const struct msghead *h, struct header *out, size_t cap)
{
    if (h->nfields > cap)
        return false;
    for (size_t i = 0; i < h->nfields; i++) {
        const struct msghead_field *f = &h->fields[i];
        out[i] = (struct header){h->buf + f->name_off, f->name_len, h->buf + f->val_off,
                                 f->val_len};
    }
    return true;
}

int msghead_build(struct msghead *h)
{
    if (h->nfields > h->headers_cap) {
        struct header *p = realloc(h->headers, h->nfields * sizeof(*p));
        if (!p)
            return -1;
        h->headers = p;
        h->headers_cap = h->nfields;
    }
    msghead_build_into(h, h->headers, h->headers_cap);
    return 0;
}

int msghead_set(struct msghead *h, const char *name, const char *value)
{
    size_t n = strlen(name), kept = 0;

    for (size_t i = 0; i < h->nfields; i++) {
        if (!named(h, &h->fields[i], name, n))
            h->fields[kept++] = h->fields[i];
    }
    h->nfields = kept;
    h->in_value = true; /* the next name starts a new field */
    if (msghead_name(h, name, n) || !msghead_name_done(h) ||
        msghead_value(h, value, strlen(value)) || msghead_value_done(h))
        return -1;
    return 0;
}

const char *header_find_n(const struct header *h, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == len && memcmp(h[i].name, name, len) == 0)
            return h[i].value;
    }
    return NULL;
}
