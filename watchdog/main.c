/* fwatchdog: flags, PID-1 duties, configuration, the mode, the loop. */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "evmem.h"
#include "front.h"
#include "fdreserve.h"
#include "lockfile.h"
#include "log.h"
#include "metrics.h"
#include "mode.h"
#include "proc.h"
#include "version.h"

extern char **environ;

/* The pieces the loop's callbacks need, passed explicitly. */
struct app {
    struct config cfg;
    struct event_base *base;
    struct proc_table *procs;
    struct metrics *metrics;  /* NULL when metrics_port is 0 */
    struct mode_env env;
    struct fd_reserve fds;    /* for a function started when the table is full */
    const struct mode *mode;
    void *mode_state;
    struct front *front;
    struct event *sig_ev;
    int sig_fd;               /* signalfd for SIGCHLD, SIGTERM, SIGINT; -1: none */
    struct event *log_ev;     /* writes the log lines held during a pass */
};

enum flag_action { RUN, DONE_OK, DONE_FAIL, DONE_USAGE };

/* The first line of every run, as the Go watchdogs log it. */
static void log_version(void)
{
    log_info("Version: %s\tSHA: %s", FW_VERSION, FW_GIT_COMMIT);
    log_flush();
}

/* As the Go watchdogs answer it: of-watchdog logs its version first (the
 * classic one does not), and both say on stderr when the lock is missing,
 * which Docker keeps in the container's health log. */
static enum flag_action run_healthcheck(void)
{
    const char *mode = getenv("mode");
    if (!mode || strcmp(mode, "classic") != 0)
        log_version();
    char *path = config_lock_path(environ);
    bool ok = path && lock_exists(path);
    free(path);
    if (!ok)
        fputs("unable to find lock file.\n", stderr);
    return ok ? DONE_OK : DONE_FAIL;
}

/* strconv.ParseBool, which Go's flag package uses for -name=value. */
static bool go_bool(const char *v, bool *out)
{
    static const char *const words[] = {"1", "t", "T", "TRUE", "true", "True",
                                        "0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(v, words[i]) == 0) {
            *out = i < 6;
            return true;
        }
    }
    return false;
}

static bool flag_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncmp(name, want, len) == 0;
}

/* The flags as Go's flag package reads them: -name or --name, =value for
 * a boolean, and the first argument that is not a flag (or "--") ends
 * them, the rest being ignored. All are read before any acts, and
 * -version wins. */
static enum flag_action handle_flags(int argc, char **argv)
{
    bool version = false, healthcheck = false;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i] + 1;
        if (argv[i][0] != '-' || *name == '\0' || (*name == '-' && *++name == '\0'))
            break;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool on = true;
        if (eq && !go_bool(eq + 1, &on) && (flag_is(name, len, "version") ||
                                            flag_is(name, len, "run-healthcheck"))) {
            fprintf(stderr, "fwatchdog: invalid boolean value \"%s\" for -%.*s\n", eq + 1,
                    (int)len, name);
            return DONE_USAGE;
        }
        if (flag_is(name, len, "version")) {
            version = on;
        } else if (flag_is(name, len, "run-healthcheck")) {
            healthcheck = on;
        } else if (!eq && (!strcmp(name, "h") || !strcmp(name, "help"))) {
            config_print_help(stdout);
            return DONE_OK;
        } else {
            fprintf(stderr, "fwatchdog: unknown flag %s (try --help)\n", argv[i]);
            return DONE_USAGE;
        }
    }
    if (version) {
        log_version();
        return DONE_OK;
    }
    return healthcheck ? run_healthcheck() : RUN;
}

/* Functions and our pipes assume 0-2 exist; an image may start us without. */
static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd)
                close(n);
        }
    }
}

/* libevent's own warnings would go straight to stderr, past the log format. */
static void on_libevent_log(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_ERR)
        log_error("libevent: %s", msg);
    else if (severity == EVENT_LOG_WARN)
        log_warn("libevent: %s", msg);
}

/* Streaming moves bodies through 256 KiB buffers. glibc would give each one
 * fresh pages (mmap above 128 KiB, and heap trims past 256 KiB) that the
 * kernel must fault in and zero on every allocation; keep them in the heap
 * and keep up to 2 MiB of freed heap for the next one. Peak RSS is unchanged;
 * after a large transfer up to 2 MiB stays resident. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
#endif
}

/* Every signal the watchdog acts on arrives on one signalfd, an fd like
 * the function's pipes: an exit seen in the same wait as the last output is
 * reaped in the same pass, so the end of the response goes out with that
 * output in one write. And with no handler installed at all, nothing of
 * ours can run in a vfork child before its exec: proc_spawn needs no mask
 * change around vfork and resets only what was ignored. */
static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct app *app = arg;
    struct signalfd_siginfo info[8];
    bool chld = false;
    (void)what;
    ssize_t n = read(fd, info, sizeof(info));
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_warn("signalfd: %s", strerror(errno));
    for (ssize_t i = 0; i < n / (ssize_t)sizeof(info[0]); i++) {
        uint32_t sig = info[i].ssi_signo;
        if (sig == SIGCHLD) {
            chld = true;
            continue;
        }
        front_shutdown(app->front, 0, sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    /* SIGCHLD does not queue: once is enough, waitpid finds them all. */
    if (chld)
        proc_reap(app->procs);
}

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    log_flush();
}

/* Activated when a pass logs its first line: active events run in the
 * order they were activated, so the lines follow the answers that the
 * same pass queued (those activate their writes before logging). */
static void wake_log(void *arg)
{
    event_active(arg, 0, 0);
}

static int setup_log(struct app *app)
{
    app->log_ev = event_new(app->base, -1, 0, on_log_flush, NULL);
    if (!app->log_ev)
        return -1;
    log_defer(wake_log, app->log_ev);
    /* libevent ends the process with exit() on an internal error: the
     * lines held in this pass, its reason among them, still go out. */
    atexit(log_flush);
    return 0;
}

static int setup_signals(struct app *app)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT};
    sigset_t set;
    /* A client or function that goes away must not kill us through a write. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        /* A SIGINT kept ignored then stops nothing. */
        if (proc_keeps_ignored(sigs[i]))
            continue;
        /* Inherited as ignored, SIGCHLD would be discarded (and exits
         * reaped by the kernel): back to the default. */
        signal(sigs[i], SIG_DFL);
        sigaddset(&set, sigs[i]);
    }
    /* Blocked, so they only show on the fd; proc_spawn gives every child
     * an empty mask. Exactly these: a signal blocked by whoever started
     * us is no concern of ours. */
    if (sigprocmask(SIG_SETMASK, &set, NULL) != 0)
        return -1;
    app->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (app->sig_fd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    app->sig_ev = event_new(app->base, app->sig_fd, EV_READ | EV_PERSIST, on_signal, app);
    if (!app->sig_ev)
        return -1;
    return event_add(app->sig_ev, NULL);
}

static void on_fatal(void *arg, int code)
{
    struct app *app = arg;
    front_shutdown(app->front, code, NULL);
}

static void on_maybe_ready(void *arg)
{
    struct app *app = arg;
    if (app->front)
        front_check_ready(app->front);
}

/* Last, once the listener and the mode's processes have what they need:
 * the reserve is whatever the table still allows, up to its size. */
static void fill_reserve(struct fd_reserve *r)
{
    fd_reserve_fill(r);
    if (!fd_reserve_settle(r))
        log_warn("descriptor reserve: the descriptor table is small: keeping %d of %d", r->have,
                 FD_RESERVE_SIZE);
}

static void become_reaper(void)
{
    /* As PID 1 orphans come to us anyway; otherwise ask for them, so the
     * grandchildren of functions are reaped here and not left as zombies. */
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        log_warn("cannot become a child subreaper: %s", strerror(errno));
}

/* s as Go's %q writes it: quotes, backslashes and control bytes escaped. */
static void go_quote(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 6 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
}

/* The Go watchdogs' lines between the mode's own (Forking, Serving files)
 * and "Listening on port"; a mode may have its own (classic). */
static void log_banner(const struct app *app)
{
    const struct config *c = &app->cfg;
    char rd[32], wr[32], hard[32], health[32];
    log_go_duration(c->read_timeout_ns, rd, sizeof(rd));
    log_go_duration(c->write_timeout_ns, wr, sizeof(wr));
    log_go_duration(c->exec_timeout_ns, hard, sizeof(hard));
    log_go_duration(c->healthcheck_interval_ns, health, sizeof(health));
    if (app->mode->banner) {
        app->mode->banner(c, rd, wr, hard, health);
    } else {
        char fprocess[1024];
        go_quote(c->fprocess ? c->fprocess : "", fprocess, sizeof(fprocess));
        log_info("Watchdog mode: %s\tfprocess: \"%s\"", app->mode->name, fprocess);
        log_info("Timeouts: read: %s write: %s hard: %s health: %s", rd, wr, hard, health);
    }
    if (c->jwt_auth)
        log_info("JWT Auth: true");
}

static void log_metrics_listening(const struct app *app)
{
    if (app->metrics)
        log_info("Metrics listening on port: %d", app->cfg.metrics_port);
}

/* Listening, then the lock file once the mode is ready, with the metrics
 * port's line where the Go watchdog being replaced prints it. */
static int serve(struct app *app)
{
    bool metrics_first = app->mode->metrics_line_before_lock;
    if (front_listen(app->front) != 0)
        return -1;
    if (metrics_first)
        log_metrics_listening(app);
    if (front_start(app->front) != 0)
        return -1;
    if (!metrics_first)
        log_metrics_listening(app);
    return 0;
}

/* Before the mode starts anything: a taken metrics port stops us with
 * nothing to clean up. */
static int setup_metrics(struct app *app)
{
    if (app->cfg.metrics_port == 0)
        return 0;
    app->metrics = metrics_new();
    if (!app->metrics) {
        log_error("metrics: out of memory");
        return -1;
    }
    if (app->cfg.max_queue > 0)
        metrics_queue_enable(app->metrics);
    return metrics_listen(app->metrics, app->base, app->cfg.metrics_port);
}

static int run(struct app *app)
{
    int rc = 1;
    struct front_hooks hooks;
    app->sig_fd = -1;
    evmem_install();
    app->base = event_base_new();
    if (!app->base || setup_log(app) || setup_signals(app))
        goto out;
    /* After setup_signals: what it sets back to the default is not
     * counted as inherited-ignored, to be reset in every child. */
    app->procs = proc_table_new();
    if (!app->procs)
        goto out;
    become_reaper();
    log_version();
    if (setup_metrics(app) != 0)
        goto out;
    fd_reserve_init(&app->fds);
    app->env = (struct mode_env){&app->cfg, app->base, app->procs, environ, on_fatal, app,
                                 on_maybe_ready,
                                 app->metrics ? metrics_job_observer(app->metrics) : NULL,
                                 &app->fds};
    int init_rc = app->mode->init(&app->env, &app->mode_state);
    if (init_rc != 0) {
        rc = init_rc > 0 ? init_rc : 1;
        goto out;
    }
    log_banner(app);
    if (app->metrics)
        hooks = metrics_front_hooks(app->metrics);
    app->front = front_new(&app->cfg, app->base, app->mode, app->mode_state,
                           app->metrics ? &hooks : NULL, &app->fds);
    if (!app->front || serve(app) != 0)
        goto out;
    fill_reserve(&app->fds);
    event_base_dispatch(app->base);
    rc = front_exit_code(app->front);
    /* A stop that was asked for ends as the Go watchdogs end it; a failure
     * says its code. */
    if (rc == 0)
        log_info("Exiting. Active connections: %d", front_inflight(app->front));
    else
        log_info("Exiting with code %d", rc);
out:
    front_free(app->front);
    log_defer(NULL, NULL);
    if (app->log_ev)
        event_free(app->log_ev);
    if (app->mode_state && app->mode->free)
        app->mode->free(app->mode_state);
    metrics_free(app->metrics);
    if (app->sig_ev)
        event_free(app->sig_ev);
    if (app->sig_fd >= 0)
        close(app->sig_fd);
    proc_table_free(app->procs);
    fd_reserve_release(&app->fds);
    if (app->base)
        event_base_free(app->base);
    return rc;
}

int main(int argc, char **argv)
{
    static struct app app;
    char err[512];

    switch (handle_flags(argc, argv)) {
    case DONE_OK: return 0;
    case DONE_FAIL: return 1;
    case DONE_USAGE: return 2;
    case RUN: break;
    }
    ensure_stdio();
    tune_malloc();
    if (config_load(&app.cfg, environ, err, sizeof(err)) != 0) {
        /* One plain line: the log format is not known (it may be the
         * invalid value), and it is what an operator reads first. */
        fprintf(stderr, "fwatchdog: %s\n", err);
        return 2;
    }
    app.mode = app.cfg.mode;
    /* From here on every line on stderr goes through log.c. */
    log_setup(app.cfg.log_format);
    event_set_log_callback(on_libevent_log);
    int rc = run(&app);
    config_free(&app.cfg);
    return rc;
}
