/* Spawning function processes, process groups, and reaping every child. */
#ifndef FW_PROC_H
#define FW_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_table;
typedef void (*proc_exit_fn)(void *arg, pid_t pid, int wait_status);

/* An inherited ignore of SIGHUP or SIGINT (nohup, a shell's background
 * job) is kept, by the watchdog and its functions, as under the Go
 * runtime: true when sig is one of them and ignored now. Every other
 * inherited ignore is undone. */
bool proc_keeps_ignored(int sig);

/* After the watchdog set its own dispositions: what it ignores then is
 * put back to the default in every child, but what proc_keeps_ignored. */
struct proc_table *proc_table_new(void);
void proc_table_free(struct proc_table *t);

/* What a child gets: stdio fds to dup onto 0/1/2 (-1: /dev/null). */
struct proc_spawn_args {
    char *const *argv;   /* argv[0] looked up in the watchdog's PATH */
    char *const *envp;
    int in_fd, out_fd, err_fd;
};

/* Start a child in its own process group (pgid = pid), with default signal
 * dispositions and an empty signal mask, as a shell would start it.
 * Returns pid, or -1 with *exit_code set to 127 (not found) or 126 (not
 * executable, other exec failure, or no process) and errno set. */
pid_t proc_spawn(const struct proc_table *t, const struct proc_spawn_args *a, int *exit_code);

/* Call fn once when pid exits. */
int proc_watch(struct proc_table *t, pid_t pid, proc_exit_fn fn, void *arg);
void proc_unwatch(struct proc_table *t, pid_t pid);
/* waitpid(-1, WNOHANG) until nothing is left: watched pids get their
 * callback, orphans are simply reaped. Call on SIGCHLD. */
void proc_reap(struct proc_table *t);
/* Exit code as a shell reports it: code, or 128+signal. */
int proc_exit_code(int wait_status);
/* Signal a whole process group. */
void proc_kill_group(pid_t pgid, int sig);

/* For modes that start a process per request: the watchdog stops
 * preempting its functions (see proc.c). Changes only the default policy. */
void proc_yield_to_children(struct proc_table *t);

/* A pipe with both ends close-on-exec; the end given to a child is dup2'd,
 * which clears the flag on the copy only. */
int proc_pipe(int fds[2]);

#endif
