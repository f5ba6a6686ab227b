/* Configuration: the environment parsed once into one read-only struct.
 * Every setting is a row of the table in settings.c, which holds its
 * names, default, rules and help; config.c holds the value syntaxes. */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct mode;
struct upstream_url;

struct config {
    const struct mode *mode;
    char *fprocess;           /* raw command string; NULL when unset */
    char **argv;              /* fprocess split into words (NULL-terminated); NULL when unset */
    int port;                 /* port, else PORT, else 8080 */
    int metrics_port;         /* 0 = disabled */
    /* Durations in nanoseconds, as configured (the startup line shows them
     * as Go does); the timers take config_ms() of them. */
    int64_t read_timeout_ns;  /* <= 0: no limit */
    int64_t write_timeout_ns; /* <= 0: no limit; 0 only in classic mode */
    int64_t exec_timeout_ns;  /* <= 0: none */
    int64_t healthcheck_interval_ns; /* <= 0: no drain window */
    char *upstream_url;       /* NULL when unset */
    struct upstream_url *upstream; /* http mode: upstream_url parsed; NULL in the others */
    bool buffer_req_body;
    /* http mode: time the function gets between SIGTERM and SIGKILL at shutdown */
    int64_t function_grace_ns;
    /* http mode: the function gets SIGTERM when the drain starts */
    bool forward_sigterm;
    char *content_type;       /* NULL in classic mode when unset: the request's */
    char *static_path;
    int max_inflight;         /* 0 = no limit */
    /* fork modes and http: requests over max_inflight wait in a FIFO queue
     * of this size; 0 = no queue */
    int max_queue;
    int64_t queue_timeout_ns; /* how long a request may wait in that queue; > 0 */
    int max_connections;
    int64_t max_request_body; /* bytes; 0 = unlimited */
    bool suppress_lock;
    bool prefix_logs;
    int64_t log_buffer_size;  /* accepted for compatibility; lines are never cut */
    bool log_callid;
    enum log_format log_format;
    char *ready_path;         /* NULL when unset or empty */
    bool cgi_headers;
    /* streaming, serializing, classic: the function's stdout starts with
     * a CGI header block */
    bool cgi_response;
    int prespawn;             /* fork modes: processes kept started and idle; 0 = off */
    bool combine_output;      /* classic */
    bool write_debug;         /* classic */
    bool marshal_request;     /* classic */
    bool debug_headers;       /* classic: request and response headers on stdout */
    char *lock_path;          /* $TMPDIR/.lock or /tmp/.lock */
    /* jwt_auth: OpenFaaS IAM function tokens (auth.c) */
    bool jwt_auth;
    bool jwt_auth_debug;
    bool jwt_auth_local;
    char *jwt_auth_discovery_url; /* NULL: the gateway's, or 127.0.0.1:8000's (local) */
    char *function_name;      /* OPENFAAS_NAME; set when jwt_auth */
    char *function_namespace; /* OPENFAAS_NAMESPACE, else the service account's; set when jwt_auth */
    char *resolv_conf;
    char *hosts_file;
};

/* Parse envp into cfg. On error returns -1 and writes one line (no newline)
 * naming the variable into err; the caller prints it and exits 2. */
int config_load(struct config *cfg, char *const *envp, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Durations: a bare integer is seconds, else Go syntax ("500ms", "1m30s",
 * "-1s"). Result in nanoseconds, as a Go time.Duration. 0 / -1. */
int config_parse_duration(const char *s, int64_t *out_ns);

/* A duration as the timers take it: milliseconds, sub-millisecond values
 * rounded up (500us must not turn into "no limit"); 0 for 0 and for a
 * negative duration, which the Go watchdogs treat as no limit. */
static inline int64_t config_ms(int64_t ns)
{
    return ns <= 0 ? 0 : (ns - 1) / 1000000 + 1;
}
/* Booleans as the Go watchdogs read them. Each takes true and false, and
 * "" as false; the spellings past those differ. */
enum bool_dialect {
    BOOL_PLAIN,      /* also 1 (true) and 0 (false): of-watchdog's getBool */
    BOOL_PARSEBOOL,  /* Go's strconv.ParseBool: 1 t T TRUE True / 0 f F FALSE False */
    BOOL_TRUE_ONLY,  /* the classic watchdog: only true is true, so 1 and 0 are false */
};
/* s in dialect d: 0 with *out set, or -1 for any other spelling. */
int config_parse_bool(const char *s, enum bool_dialect d, bool *out);
/* A whole decimal integer in [min, max]. 0 / -1. */
int config_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Bytes: an integer with an optional k, M or G suffix (1024-based). 0 / -1. */
int config_parse_size(const char *s, int64_t *out);
/* Split a command on spaces; single and double quotes group words.
 * Returns a NULL-terminated malloc'd argv (free with config_free_argv),
 * NULL with a message in err on unbalanced quotes or an empty command. */
char **config_split_command(const char *s, char *err, size_t errlen);
void config_free_argv(char **argv);
/* Formats one line into err (when err is not NULL) and returns -1. */
int config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The lock file path for an environment ($TMPDIR/.lock, default /tmp/.lock). */
char *config_lock_path(char *const *envp);

/* --help text: every setting with its default. */
void config_print_help(FILE *out);

#endif
