/* Spawning function processes and reaping every child.
 *
 * posix_spawn (glibc and musl both use CLONE_VFORK) keeps the watchdog's
 * memory out of the picture: no page tables are copied per request, and an
 * exec failure comes back as the return value instead of through a pipe. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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
};

struct proc_table *proc_table_new(void)
{
    return calloc(1, sizeof(struct proc_table));
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

int proc_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

static int add_stdio(posix_spawn_file_actions_t *fa, int fd, int target)
{
    if (fd < 0)
        return posix_spawn_file_actions_addopen(fa, target, "/dev/null",
                                                target == 0 ? O_RDONLY : O_WRONLY, 0);
    /* Our pipe ends are never 0-2 (main keeps those open), so dup2 always
     * makes a fresh descriptor without the close-on-exec flag. */
    return posix_spawn_file_actions_adddup2(fa, fd, target);
}

pid_t proc_spawn(char *const *argv, char *const *envp, int in_fd, int out_fd,
                 int err_fd, int *exit_code)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid = -1;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    /* Own process group so a timeout can kill grandchildren too; default
     * signal dispositions and an empty mask so the function behaves as if
     * started by a shell, not with the watchdog's SIGPIPE ignored. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    if (add_stdio(&fa, in_fd, 0) || add_stdio(&fa, out_fd, 1) || add_stdio(&fa, err_fd, 2)) {
        rc = ENOMEM;
        goto fail;
    }
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
    if (rc != 0)
        goto fail;
    goto out;
fail:
    pid = -1;
    errno = rc;
    *exit_code = (rc == ENOENT || rc == ENOTDIR) ? 127 : 126;
out:
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (pid < 0)
        errno = rc;
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
