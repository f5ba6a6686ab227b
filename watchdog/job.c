/* One function process and its three pipes, driven by the event loop. */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "evio.h"
#include "fdreserve.h"
#include "log.h"
#include "proc.h"

/* Just under a power of two: libevent rounds a chain's size, header
 * included, up to the next one, and 256 KiB exactly would cost 512 KiB. */
#define READ_CHUNK (256 * 1024 - 256)
/* The first read of stdout: most functions print a few KiB, and reserving
 * a whole READ_CHUNK for each of many concurrent requests churns the heap
 * (brk up and down on every request). Reads that fill what was asked
 * (evio_read never reads more) double it, so a large output soon reads a
 * full pipe at a time. */
#define READ_FIRST (16 * 1024 - 256)
/* On exit, read at most this much that is already in the pipe: the
 * process wrote at most a pipe's worth that we have not seen, and a
 * grandchild still writing must not keep us here. */
#define EXIT_DRAIN_MAX (1024 * 1024)

enum job_state { JOB_RUNNING, JOB_FINISHED };

struct job {
    struct event_base *base;
    struct proc_table *procs;
    const struct job_ops *ops;
    void *arg;
    const struct job_observer *observer;
    pid_t pid;
    enum job_state state;
    bool watched;
    int in_fd, out_fd, err_fd;
    bool close_in_pending;
    bool out_paused;
    struct evbuffer *in_buf;
    struct evbuffer *out_buf;
    struct event *in_ev, *out_ev, *err_ev, *timer;
    struct log_lines *err_log;
    struct log_lines *out_log;   /* when stdout is logged, not delivered */
    size_t out_read;             /* the next stdout read's size */
    int wait_status;             /* from waitpid, once reaped */
    bool released;               /* the owner left: see job_release */
    bool drop_out;               /* released: stdout is read and dropped */
    bool outlive;                /* see job_params.outlive */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void free_event(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}

static void close_in(struct job *j)
{
    free_event(&j->in_ev);
    close_fd(&j->in_fd);
    evbuffer_drain(j->in_buf, evbuffer_get_length(j->in_buf));
}

/* Deliver stdout bytes to the owner, or to the log. */
static void deliver_out(struct job *j)
{
    if (evbuffer_get_length(j->out_buf) == 0)
        return;
    size_t n = evbuffer_get_length(j->out_buf);
    if (j->drop_out) {
        evbuffer_drain(j->out_buf, n);
        return;
    }
    if (j->ops->out) {
        j->ops->out(j->arg, j->out_buf);
        return;
    }
    log_lines_feed(j->out_log, (const char *)evbuffer_pullup(j->out_buf, -1), n);
    evbuffer_drain(j->out_buf, n);
}

/* Read what is available (evio: not in 4 KiB steps); returns 0 at EOF or
 * error, 1 when more may come. */
static int read_out(struct job *j)
{
    ssize_t n = evio_read(j->out_buf, j->out_fd, j->out_read);
    if (n <= 0)
        return n < 0 && (errno == EAGAIN || errno == EINTR);
    if ((size_t)n == j->out_read && j->out_read < READ_CHUNK)
        j->out_read = j->out_read * 2 + 256 < READ_CHUNK ? j->out_read * 2 + 256 : READ_CHUNK;
    return 1;
}

static void drain_err(struct job *j, size_t max)
{
    char buf[READ_CHUNK];
    size_t total = 0;
    while (j->err_fd >= 0 && total < max) {
        ssize_t n = read(j->err_fd, buf, sizeof(buf));
        if (n > 0) {
            log_lines_feed(j->err_log, buf, (size_t)n);
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN) {
            free_event(&j->err_ev);
            close_fd(&j->err_fd);
            log_lines_flush(j->err_log);
        }
        break;
    }
}

static void notify_finished(struct job *j, int result)
{
    if (j->observer)
        j->observer->finished(j->observer->arg, result);
}

/* The request is over for this process: stop everything but keep the
 * struct for the owner to free. */
static void finish(struct job *j, int result)
{
    if (j->state == JOB_FINISHED)
        return;
    j->state = JOB_FINISHED;
    free_event(&j->timer);
    close_in(j);
    if (!j->outlive) {
        /* Same callback as the reap or the timeout, so the group id cannot
         * have been reused: clean up whatever the function left behind. */
        proc_kill_group(j->pid, SIGKILL);
        free_event(&j->out_ev);
        close_fd(&j->out_fd);
        drain_err(j, EXIT_DRAIN_MAX);
        free_event(&j->err_ev);
        close_fd(&j->err_fd);
        log_lines_flush(j->err_log);
        if (j->out_log)
            log_lines_flush(j->out_log);
    }
    notify_finished(j, result);
    if (j->released) {
        job_free(j);
        return;
    }
    j->ops->done(j->arg, result);
}

static void on_exit_status(void *arg, pid_t pid, int status)
{
    struct job *j = arg;
    (void)pid;
    j->watched = false;
    if (j->out_fd >= 0) {
        size_t got = 0;
        while (got < EXIT_DRAIN_MAX) {
            size_t before = evbuffer_get_length(j->out_buf);
            int more = read_out(j);
            size_t now = evbuffer_get_length(j->out_buf);
            if (now == before || !more)
                break;
            got += now - before;
        }
        deliver_out(j);
    }
    j->wait_status = status;
    finish(j, proc_exit_code(status));
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    (void)fd;
    (void)what;
    int more = read_out(j);
    deliver_out(j);
    if (!more) {
        /* EOF: the exit (reaped in the loop) finishes the job. */
        free_event(&j->out_ev);
        close_fd(&j->out_fd);
        if (j->out_log)
            log_lines_flush(j->out_log);
    }
}

static void on_err(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain_err(arg, READ_CHUNK);
}

static void flush_in(struct job *j)
{
    while (evbuffer_get_length(j->in_buf) > 0) {
        int n = evbuffer_write(j->in_buf, j->in_fd);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            event_add(j->in_ev, NULL);
            return;
        }
        /* EPIPE: the function stopped reading; the rest of the body is
         * dropped, the answer still comes from its exit and stdout. */
        close_in(j);
        return;
    }
    if (j->close_in_pending)
        close_in(j);
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    (void)fd;
    (void)what;
    flush_in(j);
    if (evbuffer_get_length(j->in_buf) == 0 && j->ops->in_drained)
        j->ops->in_drained(j->arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    (void)fd;
    (void)what;
    if (j->watched) {
        /* The reaper will collect it as an orphan. */
        proc_unwatch(j->procs, j->pid);
        j->watched = false;
    }
    finish(j, JOB_TIMEOUT);
}

size_t job_write_in(struct job *j, const void *data, size_t len)
{
    if (j->in_fd < 0)
        return 0;
    evbuffer_add(j->in_buf, data, len);
    if (!event_pending(j->in_ev, EV_WRITE, NULL))
        flush_in(j);
    return evbuffer_get_length(j->in_buf);
}

size_t job_write_in_buf(struct job *j, struct evbuffer *buf)
{
    if (j->in_fd < 0) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return 0;
    }
    evbuffer_add_buffer(j->in_buf, buf);
    if (!event_pending(j->in_ev, EV_WRITE, NULL))
        flush_in(j);
    return evbuffer_get_length(j->in_buf);
}

void job_close_in(struct job *j)
{
    if (j->in_fd < 0)
        return;
    j->close_in_pending = true;
    if (evbuffer_get_length(j->in_buf) == 0)
        close_in(j);
}

void job_pause_out(struct job *j, bool paused)
{
    if (!j->out_ev || paused == j->out_paused)
        return;
    j->out_paused = paused;
    if (paused)
        event_del(j->out_ev);
    else
        event_add(j->out_ev, NULL);
}

pid_t job_pid(const struct job *j)
{
    return j->pid;
}

void job_rebind(struct job *j, const struct job_ops *ops, void *arg)
{
    j->ops = ops;
    j->arg = arg;
}

int job_set_timeout(struct job *j, int64_t timeout_ms)
{
    free_event(&j->timer);
    if (timeout_ms <= 0 || j->state != JOB_RUNNING)
        return 0;
    j->timer = evtimer_new(j->base, on_timeout, j);
    if (!j->timer)
        return -1;
    clock_arm(j->timer, timeout_ms);
    return 0;
}

void job_signal(struct job *j, int sig)
{
    if (j->state == JOB_RUNNING)
        proc_kill_group(j->pid, sig);
}

void job_release(struct job *j, bool drain_out)
{
    if (!j || j->state != JOB_RUNNING) {
        job_free(j);
        return;
    }
    j->released = true;
    close_in(j);
    j->drop_out = drain_out;
    evbuffer_drain(j->out_buf, evbuffer_get_length(j->out_buf));
    if (!drain_out) {
        free_event(&j->out_ev);
        close_fd(&j->out_fd);
    } else if (j->out_paused) {
        j->out_paused = false;
        event_add(j->out_ev, NULL);
    }
}

/* Go's exec error texts: "exit status N", or "signal: killed" (lower-case,
 * as Go names signals, and " (core dumped)" after it when it did) for a
 * process ended by a signal or by the exec timeout's SIGKILL. */
void job_result_text(const struct job *j, int result, char *buf, size_t len)
{
    int sig = 0;
    if (result == JOB_TIMEOUT)
        sig = SIGKILL;
    else if (j && WIFSIGNALED(j->wait_status) && proc_exit_code(j->wait_status) == result)
        sig = WTERMSIG(j->wait_status);
    if (!sig) {
        snprintf(buf, len, "exit status %d", result);
        return;
    }
    const char *name = strsignal(sig);
    bool core = result != JOB_TIMEOUT && WCOREDUMP(j->wait_status);
    snprintf(buf, len, "signal: %s%s", name ? name : "unknown", core ? " (core dumped)" : "");
    /* Go's names are glibc's with the first letter lowered, except where
     * it begins a word in capitals ("CPU time limit exceeded", "I/O"). */
    if (len > 9 && buf[8] >= 'A' && buf[8] <= 'Z' && buf[9] >= 'a' && buf[9] <= 'z')
        buf[8] = (char)(buf[8] - 'A' + 'a');
}

void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->state == JOB_RUNNING) {
        proc_kill_group(j->pid, SIGKILL);
        /* Its exit is no longer watched; what it dies of is our SIGKILL. */
        notify_finished(j, 128 + SIGKILL);
    }
    if (j->watched)
        proc_unwatch(j->procs, j->pid);
    free_event(&j->timer);
    free_event(&j->in_ev);
    free_event(&j->out_ev);
    free_event(&j->err_ev);
    close_fd(&j->in_fd);
    close_fd(&j->out_fd);
    close_fd(&j->err_fd);
    if (j->in_buf)
        evbuffer_free(j->in_buf);
    if (j->out_buf)
        evbuffer_free(j->out_buf);
    log_lines_free(j->err_log);
    log_lines_free(j->out_log);
    free(j);
}

/* Only for our ends of pipes pipe2 just made: their status flags are the
 * access mode (which F_SETFL ignores) and nothing else, so no F_GETFL
 * first, one syscall per pipe less. Not O_NONBLOCK in pipe2 itself: the
 * child's ends must stay blocking. */
static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, O_NONBLOCK);
}

static void close_pipes(int in[2], int out[2], int err[2])
{
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&err[i]);
    }
}

/* All or none of the pipes, errno kept on failure. */
static int open_pipes(const struct job_params *p, int in[2], int out[2], int err[2])
{
    if (proc_pipe(in) || proc_pipe(out) ||
        (!p->merge_stderr && proc_pipe(err))) {
        int e = errno;
        close_pipes(in, out, err);
        errno = e;
        return -1;
    }
    return 0;
}

/* Pipes, then the process; the child's ends are closed in the parent. */
static int spawn(struct job *j, const struct job_params *p, int *exit_code)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    int rc = -1;

    *exit_code = 1;
    /* Out of descriptors: the reserve exists for exactly this request. */
    if (open_pipes(p, in, out, err) != 0 &&
        (!fd_exhausted(errno) || fd_reserve_release(p->reserve) == 0 ||
         open_pipes(p, in, out, err) != 0)) {
        log_error("pipe: %s", strerror(errno));
        goto out;
    }
    struct proc_spawn_args a = {p->argv, p->envp, in[0], out[1], p->merge_stderr ? out[1] : err[1]};
    j->pid = proc_spawn(p->procs, &a, exit_code);
    if (j->pid < 0) {
        log_error("could not start %s: %s", p->argv[0], strerror(errno));
        goto out;
    }
    j->in_fd = in[1];
    j->out_fd = out[0];
    j->err_fd = err[0];
    in[1] = out[0] = err[0] = -1;
    rc = 0;
out:
    close_pipes(in, out, err);
    return rc;
}

static int setup_events(struct job *j, const struct job_params *p)
{
    struct event_base *b = p->base;
    if (j->in_fd >= 0) {
        set_nonblock(j->in_fd);
        j->in_ev = event_new(b, j->in_fd, EV_WRITE, on_in, j);
    }
    set_nonblock(j->out_fd);
    j->out_ev = event_new(b, j->out_fd, EV_READ | EV_PERSIST, on_out, j);
    if (j->err_fd >= 0) {
        set_nonblock(j->err_fd);
        j->err_ev = event_new(b, j->err_fd, EV_READ | EV_PERSIST, on_err, j);
    }
    if ((j->in_fd >= 0 && !j->in_ev) || !j->out_ev || (j->err_fd >= 0 && !j->err_ev))
        return -1;
    event_add(j->out_ev, NULL);
    if (j->err_ev)
        event_add(j->err_ev, NULL);
    if (p->timeout_ms > 0) {
        j->timer = evtimer_new(b, on_timeout, j);
        if (!j->timer)
            return -1;
        clock_arm(j->timer, p->timeout_ms);
    }
    return 0;
}

struct job *job_start(const struct job_params *p, const struct job_ops *ops,
                      void *arg, int *exit_code)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->base = p->base;
    j->procs = p->procs;
    j->ops = ops;
    j->arg = arg;
    j->in_fd = j->out_fd = j->err_fd = -1;
    j->out_read = READ_FIRST;
    j->outlive = p->outlive;
    j->in_buf = evbuffer_new();
    j->out_buf = evbuffer_new();
    j->err_log = log_lines_new("stderr", p->prefix_logs);
    if (!ops->out)
        j->out_log = log_lines_new("stdout", p->prefix_logs);
    if (!j->in_buf || !j->out_buf || !j->err_log || (!ops->out && !j->out_log))
        goto fail;
    if (j->out_log && p->log_stdout_to_stdout)
        log_lines_to_stdout(j->out_log);
    if (spawn(j, p, exit_code))
        goto fail;
    if (proc_watch(p->procs, j->pid, on_exit_status, j))
        goto fail;
    j->watched = true;
    if (setup_events(j, p))
        goto fail;
    /* Only now: a job that fails to start is not counted as started, and
     * job_free on the way out of a failure must not count an exit. */
    j->observer = p->observer;
    if (j->observer)
        j->observer->started(j->observer->arg);
    return j;
fail:
    job_free(j);
    return NULL;
}
