/* libFuzzer target for the request path: arbitrary bytes, delivered in
 * fuzzer-chosen pieces over a socketpair, through the real engine (llhttp
 * parsing, routing, the body limit, the response framing, keep-alive and
 * closing) on a real event loop, with no network and no process spawned.
 * The socket is adopted either by the watchdog's front (private
 * endpoints, max_inflight, the CGI environment; the answering mode lives
 * here and answers in-process) or by the metrics engine (/metrics).
 *
 * Input: byte 0 seeds the split sizes, byte 1 bounds them (low 7 bits:
 * 1..128 bytes a piece) and picks the port (high bit: metrics), the rest is
 * what the client sends. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "cgi.h"
#include "config.h"
#include "engine.h"
#include "fork.h"
#include "front.h"
#include "fzclient.h"
#include "metrics.h"
#include "mode.h"

#define LOOP_ROUNDS 8
#define DRAIN_ROUNDS 64

/* ---- a mode that answers from the request itself ---- */

struct fz_req {
    struct request *r;
    size_t got;
    unsigned char sum;
    int plan;
};

static void fz_cgi(const struct request *r)
{
    static char *const base[] = {"PATH=/bin", "HOME=/", NULL};
    char **env = fork_request_env(base, r, r->nheaders % 2 == 0);
    if (!env)
        abort();
    /* touch every string so ASan sees any overrun in what was built */
    size_t n = 0;
    for (char **e = env; *e; e++)
        n += strlen(*e);
    if (n == (size_t)-1)
        abort();
    free(env);
}

static void fz_answer(struct fz_req *q)
{
    struct request *r = q->r;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%zu %u\n", q->got, q->sum);
    switch (q->plan) {
    case 0: /* chunked or close-delimited, in two writes */
        resp_header(r, "X-Fuzz", r->path);
        resp_start(r, 200, -1);
        resp_write(r, buf, (size_t)n);
        resp_write(r, r->uri, strlen(r->uri));
        resp_end(r);
        break;
    case 1: /* known length */
        resp_start(r, 201, n);
        resp_write(r, buf, (size_t)n);
        resp_end(r);
        break;
    case 2: /* cut short */
        resp_start(r, 200, -1);
        resp_write(r, buf, (size_t)n);
        resp_abort(r);
        break;
    default:
        resp_simple(r, 204, "");
        break;
    }
    free(q);
}

static void fz_body(void *arg, const char *data, size_t len)
{
    struct fz_req *q = arg;
    q->got += len;
    for (size_t i = 0; i < len; i++)
        q->sum = (unsigned char)(q->sum + (unsigned char)data[i]);
    /* exercise backpressure: pause on a body byte, resume at once */
    if (len && data[0] == 'P') {
        req_pause_body(q->r);
        req_resume_body(q->r);
    }
    /* answer before the body is complete */
    if (len && data[0] == 'E')
        fz_answer(q);
}

static void fz_body_end(void *arg)
{
    fz_answer(arg);
}

static void fz_abort(void *arg)
{
    free(arg);
}

static const struct req_handler fz_ops = {fz_body, fz_body_end, NULL, fz_abort};

static void fz_handle(void *state, struct request *r)
{
    (void)state;
    fz_cgi(r);
    const char *p = r->path;
    if (p[0] == '/' && p[1] == 'n') {       /* answered at once, body ignored */
        resp_simple(r, 200, "now\n");
        return;
    }
    struct fz_req *q = calloc(1, sizeof(*q));
    if (!q)
        abort();
    q->r = r;
    q->plan = p[0] == '/' && p[1] >= '0' && p[1] <= '3' ? p[1] - '0' : 0;
    /* a bodiless request hears of its end at message complete too */
    req_attach(r, &fz_ops, q);
}

static int fz_init(const struct mode_env *env, void **state)
{
    (void)env;
    *state = NULL;
    return 0;
}

static const struct mode fz_mode = {.name = "fuzz", .init = fz_init, .handle = fz_handle};

/* ---- the harness ---- */

static struct event_base *fz_base;
static struct front *fz_front;
static struct metrics *fz_metrics;
static struct config fz_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char *env[] = {"fprocess=cat", "suppress_lock=true", "metrics_port=0",
                          "max_inflight=4", "ready_path=/r", "max_request_body=4096", NULL};
    char err[256];
    signal(SIGPIPE, SIG_IGN);
    if (config_load(&fz_cfg, env, err, sizeof(err)) != 0) {
        fprintf(stderr, "config: %s\n", err);
        abort();
    }
    fz_base = event_base_new();
    fz_metrics = metrics_new();
    if (!fz_base || !fz_metrics || !metrics_engine(fz_metrics, fz_base, 0))
        abort();
    struct front_hooks hooks = metrics_front_hooks(fz_metrics);
    fz_front = front_new(&fz_cfg, fz_base, &fz_mode, NULL, &hooks, NULL);
    if (!fz_front || front_start(fz_front) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = data[0];
    size_t max_piece = (size_t)(data[1] & 0x7f) + 1;
    struct engine *e = data[1] & 0x80 ? metrics_engine(fz_metrics, fz_base, 0)
                                      : front_engine(fz_front);
    data += 2;
    size -= 2;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (engine_adopt(e, sv[0], (struct sockaddr *)&sin) != 0)
        abort();

    struct fz_client client = {fz_base, e, sv[1], NULL, 0, 0};
    fz_client_feed(&client, data, size, seed, max_piece);
    /* Half-close like a client that sent everything, then go away. */
    shutdown(sv[1], SHUT_WR);
    fz_client_spin(&client, LOOP_ROUNDS);
    close(sv[1]);
    for (int i = 0; i < DRAIN_ROUNDS && engine_connections(e) > 0; i++)
        event_base_loop(fz_base, EVLOOP_NONBLOCK);
    /* Whatever still waits on a timer (linger, read timeout) is aborted as
     * the timer would, so nothing carries over to the next input. */
    engine_abort_all(e);
    if (front_inflight(fz_front) != 0)
        abort();
    return 0;
}
