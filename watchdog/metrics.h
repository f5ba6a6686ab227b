/* Prometheus metrics: counters kept by the request path and the function
 * processes, served as text (exposition format 0.0.4) on metrics_port. */
#ifndef FW_METRICS_H
#define FW_METRICS_H

#include <stddef.h>

#include "job.h"
#include "front.h"

struct event_base;
struct evbuffer;
struct metrics;

/* Empty counters, not listening. NULL when out of memory. */
struct metrics *metrics_new(void);
/* Stops listening, closes scrape connections, frees. Safe on NULL. */
void metrics_free(struct metrics *m);
/* Serve /metrics on port, all addresses. 0, or -1 after logging
 * "metrics_port: cannot listen on :PORT: reason". Logs no line of its own:
 * the Go watchdogs say they listen only after the function's port. */
int metrics_listen(struct metrics *m, struct event_base *base, int port);
/* The engine that serves /metrics (made on first call), not listening
 * until metrics_listen. NULL when out of memory. */
struct engine *metrics_engine(struct metrics *m, struct event_base *base, int port);

/* What the server and the jobs call; both point back at m. */
struct front_hooks metrics_front_hooks(struct metrics *m);
const struct job_observer *metrics_job_observer(const struct metrics *m);

/* The recording side, as the hooks call it. */
void metrics_request_begin(struct metrics *m);
void metrics_request_end(struct metrics *m, const char *method, int status, double seconds);
void metrics_function_started(struct metrics *m);
void metrics_function_finished(struct metrics *m, int result);
/* max_queue: the queue's families are shown once enabled. */
void metrics_queue_enable(struct metrics *m);
void metrics_queue_depth(struct metrics *m, int depth);
void metrics_queue_wait(struct metrics *m, double seconds);

/* The whole exposition text, process_* read now. 0 / -1 (out of memory). */
int metrics_format(const struct metrics *m, struct evbuffer *out);

/* The method label, as promhttp gives it: ten known methods in lower case
 * (written all upper or all lower case), anything else "unknown". */
const char *metrics_method_label(const char *method);
/* A sample value: shortest text that reads back as v; +Inf, -Inf, NaN. */
void metrics_format_value(double v, char *buf, size_t len);

#endif
