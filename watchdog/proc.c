/* Spawning function processes and reaping every child.
 *
 * vfork keeps the watchdog's memory out of the picture: no page tables are
 * copied per request, and the child runs on the parent's stack until it
 * execs. glibc's posix_spawn does the same with a clone, but maps and
 * unmaps a fresh stack for every call (the unmap flushes the TLB on every
 * core), asks for RLIMIT_NOFILE once per file action, and resets all 64
 * signal dispositions in the child; together that was a fifth of the
 * watchdog's CPU per forked request. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

struct watch {
    pid_t pid;
    proc_exit_fn fn;
    void *arg;
    struct watch *next;
};

struct proc_table {
    struct watch *head;
    /* Put back to SIG_DFL in the child before exec: what the watchdog
     * inherited as ignored, but what proc_keeps_ignored, and what it
     * ignores itself (SIGPIPE); exec keeps ignored signals ignored. The Go
     * runtime catches every signal but SIGHUP and SIGINT when they come
     * in ignored, so its children get only those ignored. The watchdog
     * catches none (main.c reads signals from a signalfd), so there is
     * nothing else to reset. */
    sigset_t reset;
    bool reset_policy;   /* the watchdog runs SCHED_BATCH; children do not */
};

static bool ignored(int sig)
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

bool proc_keeps_ignored(int sig)
{
    return (sig == SIGHUP || sig == SIGINT) && ignored(sig);
}

struct proc_table *proc_table_new(void)
{
    struct proc_table *t = calloc(1, sizeof(struct proc_table));
    if (!t)
        return NULL;
    sigemptyset(&t->reset);
    for (int sig = 1; sig < NSIG; sig++) {
        if (ignored(sig) && !proc_keeps_ignored(sig))
            sigaddset(&t->reset, sig);
    }
    sigaddset(&t->reset, SIGPIPE);
    return t;
}

void proc_table_free(struct proc_table *t)
{
    if (!t)
        return;
    while (t->head) {
        struct watch *w = t->head;
        t->head = w->next;
        free(w);
    }
    free(t);
}

/* A forked request's function runs on the watchdog's CPU, and the watchdog
 * is woken by each of its writes, by the end of each pipe and by its exit.
 * Under the default policy every one of those wakeups preempts the
 * function half-way through its work. SCHED_BATCH waives only that wakeup
 * preemption (weight and fair share stay as they were), so the watchdog
 * reads when the function blocks or exits, or at once on an idle CPU. The
 * children get the default policy back in child_exec (SCHED_RESET_ON_FORK
 * would only do that for real-time policies). A policy the operator chose
 * is kept, and inherited as it was. */
void proc_yield_to_children(struct proc_table *t)
{
    struct sched_param none = {0};
    if (sched_getscheduler(0) != SCHED_OTHER)
        return;
    if (sched_setscheduler(0, SCHED_BATCH, &none) == 0)
        t->reset_policy = true;
    else
        log_warn("keeping the default scheduling policy: %s", strerror(errno));
}

int proc_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

/* In the child: fd onto target, or /dev/null when fd is -1. Our pipe ends
 * are never 0-2 (main keeps those open), so dup2 always makes a fresh
 * descriptor without the close-on-exec flag. */
static int child_stdio(int fd, int target)
{
    if (fd >= 0)
        return dup2(fd, target) < 0 ? -1 : 0;
    int n = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
    if (n < 0)
        return -1;
    if (n != target) {
        int rc = dup2(n, target);
        close(n);
        return rc < 0 ? -1 : 0;
    }
    return 0;
}

/* execvp's search of the watchdog's PATH (glibc's default when unset),
 * without its /bin/sh fallback for a file that has no #! line:
 * posix_spawnp and Go's os/exec have none either, so such a file stays an
 * exec failure (126). Returns only on failure, with errno EACCES if a
 * candidate was not executable, else the last error. getenv only reads
 * environ, which the suspended parent does not touch (glibc's posix_spawnp
 * reads PATH in its child too). */
static void exec_path(char *const *argv, char *const *envp)
{
    char buf[PATH_MAX];
    const char *file = argv[0];
    const char *path = getenv("PATH");
    size_t flen = strlen(file);
    bool denied = false;

    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return;
    }
    if (!path)
        path = "/bin:/usr/bin";
    errno = ENOENT; /* when no candidate fits in PATH_MAX */
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if (dlen + flen + 2 <= sizeof(buf)) {
            /* An empty entry is the current directory. */
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + (dlen ? dlen + 1 : 0), file, flen + 1);
            execve(buf, argv, envp);
            if (errno == EACCES)
                denied = true;
            else if (errno != ENOENT && errno != ENOTDIR)
                return;
        }
        if (!*end)
            break;
        p = end;
    }
    if (denied)
        errno = EACCES;
}

/* Between vfork and exec: only async-signal-safe calls on memory the
 * parent owns, and never a return. The parent reads *err once we exit. */
static _Noreturn void child_exec(const struct proc_table *t, const struct proc_spawn_args *a,
                                 volatile int *err)
{
    struct sigaction dfl;
    struct sched_param prio = {0};
    sigset_t none;
    if (t->reset_policy)
        sched_setscheduler(0, SCHED_OTHER, &prio);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&t->reset, sig) == 1)
            sigaction(sig, &dfl, NULL);
    }
    /* Its own process group so a timeout can kill grandchildren too. */
    if (setpgid(0, 0) == 0 && child_stdio(a->in_fd, 0) == 0 && child_stdio(a->out_fd, 1) == 0 &&
        child_stdio(a->err_fd, 2) == 0) {
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        exec_path(a->argv, a->envp);
    }
    *err = errno ? errno : ENOEXEC;
    _exit(127);
}

pid_t proc_spawn(const struct proc_table *t, const struct proc_spawn_args *a, int *exit_code)
{
    volatile int err = 0;
    int rc;

    /* No mask change around vfork: the watchdog installs no signal
     * handler, so none can run in the child, and the signals it reads
     * from its signalfd stay blocked in the child until just before exec,
     * where a pending one then acts with its default. */
    pid_t pid = vfork();
    if (pid == 0)
        child_exec(t, a, &err);
    rc = pid < 0 ? errno : err;
    if (pid > 0 && rc != 0) {
        /* It never ran the function: reap it here, not as a request. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
    }
    if (pid < 0) {
        *exit_code = (rc == ENOENT || rc == ENOTDIR) ? 127 : 126;
        errno = rc;
    }
    return pid;
}

int proc_watch(struct proc_table *t, pid_t pid, proc_exit_fn fn, void *arg)
{
    struct watch *w = malloc(sizeof(*w));
    if (!w)
        return -1;
    w->pid = pid;
    w->fn = fn;
    w->arg = arg;
    w->next = t->head;
    t->head = w;
    return 0;
}

static struct watch *take(struct proc_table *t, pid_t pid)
{
    for (struct watch **pp = &t->head; *pp; pp = &(*pp)->next) {
        if ((*pp)->pid == pid) {
            struct watch *w = *pp;
            *pp = w->next;
            return w;
        }
    }
    return NULL;
}

void proc_unwatch(struct proc_table *t, pid_t pid)
{
    free(take(t, pid));
}

void proc_reap(struct proc_table *t)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct watch *w = take(t, pid);
        if (w) {
            w->fn(w->arg, pid, status);
            free(w);
        }
    }
}

int proc_exit_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 1;
}

void proc_kill_group(pid_t pgid, int sig)
{
    if (pgid > 1 && kill(-pgid, sig) != 0 && errno != ESRCH)
        log_warn("kill process group %d: %s", (int)pgid, strerror(errno));
}
