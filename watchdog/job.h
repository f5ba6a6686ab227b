/* A function process run for one request (or, in http mode, for the whole
 * life of the watchdog): pipes, stdin feeding, stdout delivery, stderr
 * logging, the exec timeout, and cleanup of its whole process group. */
#ifndef FW_JOB_H
#define FW_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct evbuffer;
struct proc_table;
struct job;

#define JOB_TIMEOUT (-1)
/* Pending stdin above which callers should stop feeding until drained. */
#define JOB_STDIN_HIGH (256 * 1024)

struct job_ops {
    /* stdout bytes; the callee takes them all (evbuffer_add_buffer/drain).
     * NULL: stdout is logged line by line like stderr. */
    void (*out)(void *arg, struct evbuffer *data);
    /* All pending stdin was written (after a write left some pending). */
    void (*in_drained)(void *arg);
    /* The process exited (result = exit code, 128+signal) or timed out
     * (JOB_TIMEOUT). Every stdout byte it wrote was delivered before this.
     * Called once; the job must still be freed with job_free. */
    void (*done)(void *arg, int result);
};

/* Someone counting function processes (metrics). Optional in job_params. */
struct job_observer {
    void (*started)(void *arg);
    /* Once per started process: its result as for job_ops.done, or 128+9
     * when the job was freed while the process still ran (client gone). */
    void (*finished)(void *arg, int result);
    void *arg;
};

struct fd_reserve;

struct job_params {
    struct event_base *base;
    struct proc_table *procs;
    char *const *argv;
    char *const *envp;
    int64_t timeout_ms;      /* 0: none */
    bool prefix_logs;
    bool merge_stderr;       /* stderr into the stdout pipe (classic combine_output) */
    bool log_stdout_to_stdout; /* stdout logged (ops->out NULL) to our stdout */
    /* The exit ends nothing else (http mode, where an fprocess may leave a
     * daemon behind, as under the Go watchdog): its process group is not
     * killed and its output is logged until the last writer closes it. */
    bool outlive;
    const struct job_observer *observer; /* NULL: nobody counts */
    struct fd_reserve *reserve; /* released when the pipes cannot be made */
};

/* Spawn. NULL on failure with *exit_code 127/126 (exec failure, logged)
 * or 1 (resources). */
struct job *job_start(const struct job_params *p, const struct job_ops *ops,
                      void *arg, int *exit_code);
/* Queue stdin bytes; silently dropped once the function closed its stdin.
 * Returns the bytes still pending. */
size_t job_write_in(struct job *j, const void *data, size_t len);
size_t job_write_in_buf(struct job *j, struct evbuffer *buf); /* moves buf */
/* Close stdin once what is pending was written. */
void job_close_in(struct job *j);
/* Backpressure on stdout (client too slow). */
void job_pause_out(struct job *j, bool paused);
pid_t job_pid(const struct job *j);
/* Hand a running job to a new owner (a prespawned process taken by a
 * request): every later callback goes to ops/arg. */
void job_rebind(struct job *j, const struct job_ops *ops, void *arg);
/* Arm the exec timeout from now, replacing any; 0: none. -1 when the timer
 * cannot be created. */
int job_set_timeout(struct job *j, int64_t timeout_ms);
/* Send a signal to the whole process group. */
void job_signal(struct job *j, int sig);
/* The owner is gone (its client went away): as under the Go watchdog the
 * process is not killed. Its stdin closes; its stdout closes too (a
 * function that keeps writing gets EPIPE) or, with drain_out, is read and
 * dropped (a function whose output would have been collected runs to its
 * end); stderr is still logged and the exec timeout still ends it. The
 * job frees itself when the process is over; no callback runs after
 * this. Safe on NULL. */
void job_release(struct job *j, bool drain_out);
/* The Go watchdog's text for a result: "exit status N" or "signal: killed". */
void job_result_text(const struct job *j, int result, char *buf, size_t len);
/* Kill the whole process group (SIGKILL), close everything, free. No
 * callback runs after this. Safe on NULL. */
void job_free(struct job *j);

#endif
