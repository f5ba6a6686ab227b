/* streaming: one process per request; the body flows to its stdin as it
 * arrives and its stdout to the client as it is produced. The status line
 * waits for the first byte of output, so a function that fails or times
 * out before printing anything is answered 500 or 504, not an empty 200.
 * With cgi_response the output starts with a header block: the status line
 * waits for its end instead, and goes out with the function's status and
 * headers; the body then streams as usual. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgiout.h"
#include "fork.h"
#include "log.h"

struct stream {
    const struct fork_mode *fm;
    const struct mode_env *env;
    struct request *r;
    struct job *job;
    int64_t head_bytes;      /* HEAD: the output counted, not sent */
    bool reading_block;      /* cgi_response: the header block is not over yet */
    struct cgiresp block;
    int status;              /* the block's status once read (its headers wait in
                                block until the head goes out); 0: no block */
};

static void stream_free(struct stream *s)
{
    job_free(s->job);
    cgiresp_free(&s->block);
    free(s);
}

static const char *content_type(const struct stream *s)
{
    return s->env->cfg->content_type;
}

/* With a header block read, its status and headers; else 200 and the
 * configured type. */
static void start_response(struct stream *s)
{
    if (s->status) {
        cgiout_apply(&s->block, s->r, content_type(s));
        cgiresp_free(&s->block);
    } else {
        resp_header(s->r, "Content-Type", content_type(s));
    }
    resp_start(s->r, s->status ? s->status : 200, -1);
}

/* The header block is not valid: 502. The function is not killed, as for a
 * client that goes away: it runs to its end or its exec timeout, its
 * output dropped. */
static void refuse_block(struct stream *s)
{
    cgiout_refuse(s->r, &s->block);
    job_release(s->job, true);
    s->job = NULL;
    stream_free(s);
}

/* Output while the header block is read: 1 while it goes on, -1 when it
 * was refused (s is freed), 0 once it is over (what is left in data is
 * body). The answer's head goes out at once, unless the request is HEAD,
 * whose answer waits for the exit. */
static int read_block(struct stream *s, struct evbuffer *data)
{
    enum cgiresp_state st = cgiout_feed(&s->block, data);
    if (st == CGIRESP_MORE)
        return 1;
    if (st == CGIRESP_ERROR) {
        refuse_block(s);
        return -1;
    }
    s->reading_block = false;
    s->status = cgiresp_status(&s->block);
    if (!s->r->head)
        start_response(s);
    return 0;
}

static void on_out(void *arg, struct evbuffer *data)
{
    struct stream *s = arg;
    if (s->reading_block && read_block(s, data) != 0)
        return;
    /* HEAD: the output is counted, not sent, and the head waits for the
     * exit, as under Go, which answers it when the function is done. */
    if (s->r->head) {
        s->head_bytes += (int64_t)evbuffer_get_length(data);
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (!resp_started(s->r))
        start_response(s);
    resp_write_buf(s->r, data);
    if (resp_queued(s->r) > RESP_HIGH_WATERMARK)
        job_pause_out(s->job, true);
}

static void on_in_drained(void *arg)
{
    struct stream *s = arg;
    req_resume_body(s->r);
}

static void answer_failure(struct stream *s, int result)
{
    char text[64], body[72];
    if (result == JOB_TIMEOUT) {
        resp_simple(s->r, 504, "Function timed out\n");
        return;
    }
    job_result_text(s->job, result, text, sizeof(text));
    snprintf(body, sizeof(body), "%s\n", text);
    resp_simple(s->r, 500, body);
}

static void on_done(void *arg, int result)
{
    struct stream *s = arg;
    char text[64];
    if (result != 0) {
        /* Go's line for a failed function, and its request line says 500
         * even when output already went out with 200. */
        job_result_text(s->job, result, text, sizeof(text));
        log_info("%s", text);
        resp_log_status(s->r, 500);
    }
    /* Every byte of stdout was delivered before this: a block still open
     * never ends. A function that failed is answered as any that failed. */
    if (result == 0 && s->reading_block && cgiresp_end(&s->block) == CGIRESP_ERROR) {
        refuse_block(s);
        return;
    }
    /* A HEAD request's head waits for the exit even after a header block:
     * a timeout is then still answered 504, and a failed exit with the
     * block's status, as the head of a GET would have gone out. */
    if (result != 0 && !resp_started(s->r) && (result == JOB_TIMEOUT || !s->status)) {
        answer_failure(s, result);
    } else if (result == JOB_TIMEOUT) {
        /* Cut short by the exec timeout: the client must be able to tell
         * the body is incomplete, so no final chunk (Go sends one). */
        resp_abort(s->r);
    } else {
        /* Output already went out with 200: the response still ends
         * cleanly, as under the Go watchdog. */
        if (s->r->head)
            resp_log_size(s->r, s->head_bytes);
        if (!resp_started(s->r))
            start_response(s);
        resp_end(s->r);
    }
    stream_free(s);
}

static const struct job_ops stream_job_ops = {on_out, on_in_drained, on_done};

static void on_body(void *arg, const char *data, size_t len)
{
    struct stream *s = arg;
    if (job_write_in(s->job, data, len) > JOB_STDIN_HIGH)
        req_pause_body(s->r);
}

static void on_body_end(void *arg)
{
    struct stream *s = arg;
    job_close_in(s->job);
}

static void on_drain(void *arg)
{
    struct stream *s = arg;
    job_pause_out(s->job, false);
}

/* The client is gone: the function runs on, as under the Go watchdog
 * (a HEAD request's output was being dropped anyway, and still is). */
static void on_abort(void *arg)
{
    struct stream *s = arg;
    job_release(s->job, s->r->head);
    free(s);
}

static const struct req_handler stream_req_ops = {on_body, on_body_end, on_drain, on_abort};

static int stream_init(const struct mode_env *env, void **state)
{
    const struct job_params stdio = {0};
    return fork_mode_init(env, &stdio, false, state);
}

static void stream_handle(void *state, struct request *r)
{
    const struct fork_mode *fm = state;
    const struct mode_env *env = fm->env;
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    s->fm = fm;
    s->env = env;
    s->r = r;
    s->reading_block = env->cfg->cgi_response;
    cgiresp_init(&s->block, CGIRESP_MAX);
    struct job_params p = {.timeout_ms = config_ms(env->cfg->exec_timeout_ns)};
    s->job = fork_start(fm, r, &p, &stream_job_ops, s);
    if (!s->job) {
        free(s);
        return;
    }
    req_attach(r, &stream_req_ops, s);
    if (!r->has_body)
        job_close_in(s->job);
}

const struct mode mode_streaming = {
    .name = "streaming",
    .init = stream_init,
    .handle = stream_handle,
    .stop = fork_mode_stop,
    .free = fork_mode_free,
};
