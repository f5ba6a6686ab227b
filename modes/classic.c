/* classic: the classic OpenFaaS watchdog's rules on the buffered engine, so
 * images built for it run unchanged. Only GET, POST, PUT, PATCH and DELETE;
 * stderr goes into the response unless combine_output=false; a timeout is
 * 408 "Killed process."; a failure is 500 with the error and the output; the
 * response's Content-Type echoes the request's unless content_type is set;
 * marshal_request sends headers and body as JSON; write_debug logs bodies.
 * With cgi_response the output of a function that succeeded starts with a
 * header block, whose Content-Type wins over all of those. */
#include <event2/buffer.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buffered.h"
#include "cgiout.h"
#include "log.h"
#include "sniff.h"
#include "target.h"

/* ---- marshal_request: {"header":{"Name":["v",...]},"body":{"raw":"<base64>"}} ---- */

/* Request headers, for sorting: the parser keeps each name in Go's
 * canonical case and ends it with a NUL. */
struct named {
    const struct header *h;
};

static int named_cmp(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int c = strcmp(x->h->name, y->h->name);
    /* Keep repeated headers in the order they came in. */
    return c ? c : (x->h < y->h ? -1 : x->h > y->h);
}

/* A character of 0x80 and up as Go's encoding/json writes it: a valid
 * sequence as it is (U+2028 and U+2029 escaped, for JavaScript), each byte
 * of an invalid one as \ufffd. The bytes it took. */
static size_t json_non_ascii(struct evbuffer *out, const unsigned char *s, size_t left)
{
    size_t n = utf8_seq(s, left);
    if (n == 0)
        evbuffer_add(out, "\\ufffd", 6);
    else if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
        evbuffer_add(out, s[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
    else
        evbuffer_add(out, s, n);
    return n ? n : 1;
}

/* A JSON string the way Go's encoding/json writes it, HTML-safe escapes
 * included, so functions see byte-identical input. */
static void json_string(struct evbuffer *out, const char *s, size_t len)
{
    evbuffer_add(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            i += json_non_ascii(out, (const unsigned char *)s + i, len - i) - 1;
        else if (c == '"' || c == '\\')
            evbuffer_add_printf(out, "\\%c", c);
        else if (c == '\n')
            evbuffer_add(out, "\\n", 2);
        else if (c == '\r')
            evbuffer_add(out, "\\r", 2);
        else if (c == '\t')
            evbuffer_add(out, "\\t", 2);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            evbuffer_add_printf(out, "\\u%04x", c);
        else
            evbuffer_add(out, &s[i], 1);
    }
    evbuffer_add(out, "\"", 1);
}

static void base64(struct evbuffer *out, const unsigned char *p, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < len; i += 3) {
        size_t n = len - i < 3 ? len - i : 3;
        unsigned v = (unsigned)p[i] << 16 | (n > 1 ? (unsigned)p[i + 1] << 8 : 0) | (n > 2 ? p[i + 2] : 0);
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = n > 1 ? tab[v >> 6 & 63] : '=';
        q[3] = n > 2 ? tab[v & 63] : '=';
        evbuffer_add(out, q, 4);
    }
}

/* Go keeps Host and Transfer-Encoding out of http.Header. */
static bool hidden_header(const char *canon)
{
    return strcmp(canon, "Host") == 0 || strcmp(canon, "Transfer-Encoding") == 0;
}

/* The headers sorted as Go sorts map keys. free() the result. */
static struct named *sorted_headers(const struct request *r, size_t *count)
{
    struct named *v = malloc((r->nheaders + 1) * sizeof(*v));
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!hidden_header(r->headers[i].name))
            v[n++] = (struct named){&r->headers[i]};
    }
    qsort(v, n, sizeof(*v), named_cmp);
    *count = n;
    return v;
}

static void json_headers(struct evbuffer *out, const struct named *v, size_t n)
{
    evbuffer_add(out, "{", 1);
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(v[i - 1].h->name, v[i].h->name) != 0;
        bool last = i + 1 == n || strcmp(v[i + 1].h->name, v[i].h->name) != 0;
        if (first) {
            if (i > 0)
                evbuffer_add(out, ",", 1);
            json_string(out, v[i].h->name, strlen(v[i].h->name));
            evbuffer_add(out, ":[", 2);
        } else {
            evbuffer_add(out, ",", 1);
        }
        json_string(out, v[i].h->value, v[i].h->value_len);
        if (last)
            evbuffer_add(out, "]", 1);
    }
    evbuffer_add(out, "}", 1);
}

/* Replace body with the JSON document wrapping the headers and body. */
static int marshal(struct request *r, struct evbuffer *body)
{
    size_t n = 0;
    struct named *v = sorted_headers(r, &n);
    struct evbuffer *json = evbuffer_new();
    int rc = -1;
    if (!v || !json)
        goto out;
    size_t len = evbuffer_get_length(body);
    const unsigned char *raw = evbuffer_pullup(body, -1);
    if (len > 0 && !raw)
        goto out;
    evbuffer_add(json, "{\"header\":", 10);
    json_headers(json, v, n);
    evbuffer_add(json, ",\"body\":{\"raw\":\"", 16);
    base64(json, raw, len);
    evbuffer_add(json, "\"}}", 3);
    evbuffer_drain(body, len);
    evbuffer_add_buffer(body, json);
    rc = 0;
out:
    free(v);
    if (json)
        evbuffer_free(json);
    return rc;
}

/* ---- the mode ---- */

/* write_debug, in the classic watchdog's words: "Out=<output>" as one
 * message, the output as it is. */
static void log_out(struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    const char *p = (const char *)evbuffer_pullup(buf, -1);
    log_info("Out=%.*s\n", (int)len, p ? p : "");
}

/* ... and the request's query and path, when it passes Http_* variables. */
static void debug_request(const struct config *cfg, const struct request *r)
{
    char *path = malloc(strlen(r->path) + 1);
    if (!cfg->write_debug || !cfg->cgi_headers || !path) {
        free(path);
        return;
    }
    if (target_decode(r->path, path) < 0)
        strcpy(path, r->path);
    log_info("Query  %s", r->query);
    log_info("Path  %s", path);
    free(path);
}

/* debug_headers: "[in] Name=[v1 v2]" per request header on stdout, as the
 * classic watchdog prints Go's header map (here in sorted order). */
static void debug_in(const struct request *r)
{
    size_t n;
    struct named *v = sorted_headers(r, &n);
    struct evbuffer *out = evbuffer_new();
    if (!v || !out)
        goto done;
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(v[i - 1].h->name, v[i].h->name) != 0;
        bool last = i + 1 == n || strcmp(v[i + 1].h->name, v[i].h->name) != 0;
        if (first)
            evbuffer_add_printf(out, "[in] %s=[", v[i].h->name);
        else
            evbuffer_add(out, " ", 1);
        evbuffer_add(out, v[i].h->value, v[i].h->value_len);
        if (last)
            evbuffer_add(out, "]\n", 2);
    }
    while (evbuffer_get_length(out) > 0 && evbuffer_write(out, STDOUT_FILENO) > 0)
        ;
done:
    free(v);
    if (out)
        evbuffer_free(out);
}

static void debug_out(const char *type, const char *duration)
{
    if (type)
        dprintf(STDOUT_FILENO, "[out] Content-Type=[%s]\n", type);
    dprintf(STDOUT_FILENO, "[out] X-Duration-Seconds=[%s]\n", duration);
}

static int classic_input(const struct mode_env *env, struct request *r, struct evbuffer *body)
{
    const struct config *cfg = env->cfg;
    if (cfg->debug_headers)
        debug_in(r);
    log_info("Forking fprocess.");
    debug_request(cfg, r);
    if (cfg->marshal_request && marshal(r, body) < 0) {
        resp_simple(r, 500, "Out of memory\n");
        return -1;
    }
    return 0;
}

static void classic_params(const struct config *cfg, struct job_params *p)
{
    p->merge_stderr = cfg->combine_output;
}

/* No type configured and none on the request: Go's
 * http.DetectContentType, which the classic watchdog relied on here. */
static const char *sniffed_type(struct evbuffer *out)
{
    size_t len = evbuffer_get_length(out);
    if (len > SNIFF_LEN)
        len = SNIFF_LEN;
    return sniff_type((const char *)evbuffer_pullup(out, (ssize_t)len), len);
}

/* content_type, else the request's; NULL when neither is set. */
static const char *explicit_type(const struct config *cfg, const struct request *r)
{
    const char *ct = req_header(r, "Content-Type");
    if (cfg->content_type && *cfg->content_type)
        return cfg->content_type;
    return ct && *ct ? ct : NULL;
}

static void answer_failure(const struct config *cfg, struct request *r, const char *err,
                           struct evbuffer *out)
{
    struct evbuffer *body = evbuffer_new();
    if (cfg->write_debug) {
        log_info("Success=false, Error=%s", err);
        log_out(out);
    }
    if (!body) {
        resp_simple(r, 500, err);
        return;
    }
    evbuffer_add_printf(body, "%s\n", err);
    evbuffer_add_buffer(body, out);
    resp_sniffed_type(r, "text/plain; charset=utf-8");
    resp_start(r, 500, (int64_t)evbuffer_get_length(body));
    resp_write_buf(r, body);
    resp_end(r);
    evbuffer_free(body);
}

/* Exit 0: the output, after its header block (NULL: cgi_response off). */
static void answer_output(const struct config *cfg, struct request *r, const struct cgiresp *block,
                          struct evbuffer *out)
{
    size_t len = evbuffer_get_length(out);
    const char *own = block ? cgiresp_header(block, "Content-Type") : NULL;
    const char *given = own ? own : explicit_type(cfg, r);
    /* NULL for an empty output with no type given: Go sniffs only bytes. */
    const char *type = given || len == 0 ? given : sniffed_type(out);
    char duration[32];
    snprintf(duration, sizeof(duration), "%f", req_elapsed(r));
    resp_header(r, "X-Duration-Seconds", duration);
    /* write_debug: the output itself on stdout, then the duration. */
    if (cfg->write_debug) {
        const char *p = (const char *)evbuffer_pullup(out, -1);
        if (p && len > 0 && write(STDOUT_FILENO, p, len) < 0)
            log_warn("write_debug: stdout: %s", strerror(errno));
        log_info("Duration: %fs", req_elapsed(r));
    } else {
        log_info("Wrote %zu Bytes - Duration: %fs", len, req_elapsed(r));
    }
    if (cfg->debug_headers)
        debug_out(given, duration);
    int status = 200;
    if (block)
        status = cgiout_apply(block, r, type);
    else if (given)
        resp_header(r, "Content-Type", given);
    else if (type)
        resp_sniffed_type(r, type); /* the classic watchdog left it to Go's server */
    resp_start(r, status, (int64_t)len);
    resp_write_buf(r, out);
    resp_end(r);
}

/* A failure or a timeout is answered as without cgi_response: the block
 * is only read from the output of a function that succeeded. */
static void classic_answer(const struct mode_env *env, struct request *r, int result, const char *why,
                           struct evbuffer *out)
{
    const struct config *cfg = env->cfg;
    struct cgiresp block;
    if (result == JOB_TIMEOUT) {
        log_info("Killing process: %s", cfg->fprocess);
        resp_simple(r, 408, "Killed process.\n");
        return;
    }
    if (result != 0) {
        answer_failure(cfg, r, why, out);
        return;
    }
    if (!cfg->cgi_response) {
        answer_output(cfg, r, NULL, out);
        return;
    }
    cgiresp_init(&block, CGIRESP_MAX);
    if (cgiout_read_all(&block, r, out) == 0)
        answer_output(cfg, r, &block, out);
    cgiresp_free(&block);
}

static const struct buffered_mode classic_mode = {
    .classic_env = true,
    .params = classic_params,
    .input = classic_input,
    .answer = classic_answer,
};

static bool classic_method(const char *m)
{
    static const char *const allowed[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (strcmp(m, allowed[i]) == 0)
            return true;
    }
    return false;
}

/* The classic watchdog says only this (with its full stop). */
static void classic_banner(const struct config *cfg, const char *read, const char *write,
                           const char *hard, const char *health)
{
    (void)cfg;
    log_info("Timeouts: read: %s write: %s hard: %s health: %s.", read, write, hard, health);
}

static int classic_init(const struct mode_env *env, void **state)
{
    return buffered_init(env, &classic_mode, state);
}

static void classic_handle(void *state, struct request *r)
{
    /* The classic watchdog logs its own lines, not a line per request. */
    resp_log_status(r, -1);
    if (!classic_method(r->method)) {
        resp_start(r, 405, 0);
        resp_end(r);
        return;
    }
    buffered_handle(state, r, &classic_mode);
}

const struct mode mode_classic = {
    .name = "classic",
    .no_ready_endpoint = true,
    .lock_dir_must_exist = true,
    .banner = classic_banner,
    .metrics_line_before_lock = true,
    .init = classic_init,
    .handle = classic_handle,
    .stop = fork_mode_stop,
    .free = fork_mode_free,
};
