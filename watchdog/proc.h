/* Spawning function processes, process groups, and reaping every child. */
#ifndef FW_PROC_H
#define FW_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_table;
typedef void (*proc_exit_fn)(void *arg, pid_t pid, int wait_status);

struct proc_table *proc_table_new(void);
void proc_table_free(struct proc_table *t);

/* Child stdio: fds to dup onto 0/1/2 (-1: /dev/null). The child gets its own
 * process group (pgid = pid). Returns pid, or -1 with *exit_code set to 127
 * (not found) or 126 (not executable / other exec failure) and errno set. */
pid_t proc_spawn(char *const *argv, char *const *envp, int in_fd, int out_fd,
                 int err_fd, int *exit_code);

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

/* A pipe with both ends close-on-exec; the end given to a child is dup2'd,
 * which clears the flag on the copy only. */
int proc_pipe(int fds[2]);

#endif
