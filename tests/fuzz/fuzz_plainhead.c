/* libFuzzer target for the plain-head path of the upstream client
 * (parse_plain in watchdog/upstream.c). Whenever it takes a head, the
 * callbacks must read the same bytes the same way: the same fields in the
 * same order, the same status, version, reason, framing and keep-alive,
 * and the same end of the head. Where it does not take one, it must leave
 * nothing behind and the read as it came: the callbacks then read the
 * head on that connection as on a fresh one. The input is the answer's
 * first read.
 *
 * upstream.c is included for its parser settings and callbacks; no
 * socket or event loop is used. */
#include "../../watchdog/upstream.c"

#include <stdio.h>

/* What a parse left: the head's end and everything the owner reads. */
struct fz_read {
    const char *end;
    int status, major, minor, keep_alive;
    uint16_t flags;
    uint64_t content_length;
    char reason[sizeof(((struct upconn *)0)->reason)];
    bool reason_sep;
};

static struct upconn *fz_conn(void)
{
    struct upconn *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    msghead_init(&c->head, MAX_HEAD);
    c->state = UPCONN_HEAD;
    parser_init(c);
    return c;
}

static void fz_free(struct upconn *c)
{
    msghead_free(&c->head);
    free(c);
}

static void fz_note(const struct upconn *c, const char *end, struct fz_read *r)
{
    const llhttp_t *p = &c->parser;
    memset(r, 0, sizeof(*r)); /* compared with memcmp, padding included */
    r->end = end;
    r->status = p->status_code;
    r->major = p->http_major;
    r->minor = p->http_minor;
    r->keep_alive = llhttp_should_keep_alive(p);
    r->flags = p->flags;
    r->content_length = p->content_length;
    memcpy(r->reason, c->reason, sizeof(r->reason));
    r->reason_sep = c->reason_sep;
}

/* The callbacks over the whole read, as parse_flat runs them when the
 * head is not plain: NULL unless they stop at the end of a head. */
static const char *fz_callbacks(struct upconn *c, const char *data, size_t len)
{
    c->feed_start = data;
    c->feed_end = data + len;
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    if (err != HPE_PAUSED)
        return NULL;
    const char *used = llhttp_get_error_pos(&c->parser);
    return head_ends_in_lf(c, used, data) ? used : NULL;
}

/* The fields the plain path took, against the callbacks': the same, each
 * with its NUL. */
static void fz_same_plain(const struct plain_fields *a, const struct msghead *b)
{
    if (a->n != b->nfields)
        abort();
    for (size_t i = 0; i < a->n; i++) {
        const struct header *x = &a->f[i];
        const struct msghead_field *y = &b->fields[i];
        if (x->name_len != y->name_len || x->value_len != y->val_len ||
            memcmp(x->name, b->buf + y->name_off, x->name_len + 1) != 0 ||
            memcmp(x->value, b->buf + y->val_off, x->value_len + 1) != 0)
            abort();
    }
}

/* The fields of two heads; with their NULs when the heads ended (a name
 * or value llhttp has not ended yet has none: a read may end inside it,
 * and a continuation line may follow a value). */
static void fz_same_fields(const struct msghead *a, const struct msghead *b, bool ended)
{
    size_t nul = ended ? 1 : 0;
    if (a->nfields != b->nfields)
        abort();
    for (size_t i = 0; i < a->nfields; i++) {
        const struct msghead_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->name_len != y->name_len || x->val_len != y->val_len ||
            memcmp(a->buf + x->name_off, b->buf + y->name_off, x->name_len + nul) != 0 ||
            memcmp(a->buf + x->val_off, b->buf + y->val_off, x->val_len + nul) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init_settings();
        ready = true;
    }
    /* Kept out of the input's own memory, as a read is; the plain path
     * writes into its read, so the callbacks get a copy of their own. */
    char *buf = malloc(size + 1), *copy = malloc(size + 1);
    if (!buf || !copy)
        abort();
    memcpy(buf, data, size);
    memcpy(copy, data, size);
    struct upconn *plain = fz_conn(), *slow = fz_conn();
    plain->feed_start = buf;
    plain->feed_end = buf + size;
    struct plain_fields pf;
    const char *end = parse_plain(plain, buf, size, &pf);
    bool took = end != NULL;
    /* Where the short path did not take the head, it left nothing behind:
     * the callbacks then read it on that connection as on a fresh one. */
    if (!took) {
        if (plain->head.nfields != 0 || plain->head.len != 0 ||
            plain->parser.settings != (void *)&settings || memcmp(buf, data, size) != 0)
            abort();
        end = fz_callbacks(plain, buf, size);
    }
    struct fz_read a, b;
    fz_note(plain, end ? copy + (end - buf) : NULL, &a);
    const char *used = fz_callbacks(slow, copy, size);
    fz_note(slow, used, &b);
    if (memcmp(&a, &b, sizeof(a)) != 0) {
        fprintf(stderr, "plain and callbacks differ: end %td/%td status %d/%d flags %x/%x\n",
                a.end ? a.end - copy : -1, b.end ? b.end - copy : -1, a.status, b.status, a.flags,
                b.flags);
        abort();
    }
    if (took && pf.in_read)
        fz_same_plain(&pf, &slow->head);
    else
        fz_same_fields(&plain->head, &slow->head, a.end != NULL);
    fz_free(plain);
    fz_free(slow);
    free(buf);
    free(copy);
    return 0;
}
