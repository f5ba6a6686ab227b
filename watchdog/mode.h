/* The one interface every mode fills. The request path calls through it and
 * never asks which mode is running. */
#ifndef FW_MODE_H
#define FW_MODE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "request.h"

struct event;
struct event_base;
struct job_observer;
struct proc_table;

struct mode_env {
    const struct config *cfg;
    struct event_base *base;
    struct proc_table *procs;
    char *const *environ;   /* the watchdog's own environment */
    /* A mode's long-lived process is gone: the watchdog finishes what is in
     * flight and exits with code. */
    void (*fatal)(void *arg, int code);
    void *fatal_arg;
    /* ready() may have become true: ask it now rather than at the next
     * poll (a function that just started listening). Same arg as fatal. */
    void (*maybe_ready)(void *arg);
    /* Put into the job_params of every function process (NULL: none). */
    const struct job_observer *jobs;
    /* Put into the job_params of every function process. */
    struct fd_reserve *fds;
};

struct mode {
    const char *name;
    /* /_/ready is the function's like any other path (the classic
     * watchdog has no readiness endpoint). */
    bool no_ready_endpoint;
    /* The lock file's directory is not made when missing (the classic
     * watchdog only opens the file). */
    bool lock_dir_must_exist;
    /* The startup lines after the version, given the four timeouts as Go
     * prints durations (NULL: of-watchdog's). */
    void (*banner)(const struct config *cfg, const char *read, const char *write,
                   const char *hard, const char *health);
    /* "Metrics listening" comes right after "Listening on port", before
     * the lock file's line (the classic watchdog's order; of-watchdog's
     * comes last). */
    bool metrics_line_before_lock;
    /* Before listening. 0, or -1 after logging why, or a positive exit
     * code for the watchdog (2: bad configuration; 126/127: cannot exec). */
    int (*init)(const struct mode_env *env, void **state);
    /* True once requests can be served (NULL: at once). Polled until true;
     * the lock file is written then. */
    bool (*ready)(void *state);
    /* A request whose head is complete: answer with resp_*, and req_attach
     * to get its body and hear of its abort. */
    void (*handle)(void *state, struct request *r);
    /* No request has been in flight for a while, and the watchdog is about
     * to give its free memory back: free what is kept for the next
     * requests (NULL: nothing is kept). */
    void (*idle)(void *state);
    /* The drain began and forward_sigterm is set: tell long-lived
     * processes, which go on serving (NULL: nothing to tell). */
    void (*drain)(void *state);
    /* Shutdown, after in-flight requests ended: stop long-lived processes.
     * Calls done(arg) when finished (may be at once). NULL: nothing to stop. */
    void (*stop)(void *state, void (*done)(void *arg), void *arg);
    void (*free)(void *state);
};

/* What a mode's stop was given: done(arg), called once the stop is over
 * (mode_stop_finish), never twice. */
struct mode_stop {
    void (*done)(void *arg);
    void *arg;
};
/* Ends the stop: deletes the mode's stop timer (NULL: none) and calls done
 * if it is still owed. */
void mode_stop_finish(struct mode_stop *s, struct event *timer);

extern const struct mode mode_streaming;
extern const struct mode mode_serializing;
extern const struct mode mode_http;
extern const struct mode mode_static;
extern const struct mode mode_classic;

/* Each mode's bit: a setting names the modes it applies to as a mask. */
enum {
    MODE_STREAMING = 1u << 0,
    MODE_SERIALIZING = 1u << 1,
    MODE_HTTP = 1u << 2,
    MODE_STATIC = 1u << 3,
    MODE_CLASSIC = 1u << 4,
};
/* The modes that start a process per request. */
#define MODES_FORK (MODE_STREAMING | MODE_SERIALIZING | MODE_CLASSIC)
#define MODES_ALL (MODES_FORK | MODE_HTTP | MODE_STATIC)

/* By name; NULL when unknown. */
const struct mode *mode_find(const char *name);
/* The i-th mode, in the order settings, messages and --help list them;
 * NULL past the last. */
const struct mode *mode_at(size_t i);
/* The MODE_* bit of a mode of the table; 0 for any other. */
unsigned mode_bit(const struct mode *m);

#endif
