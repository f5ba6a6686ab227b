/* Configuration: the environment parsed once into one read-only struct.
 * Every default and every error message lives in config.c. */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct config {
    char *fprocess;           /* raw command string; NULL when unset */
    char **argv;              /* fprocess split into words (NULL-terminated); NULL when unset */
    const char *mode;         /* "streaming", "serializing", "http", "static", "classic" */
    int port;                 /* port, else PORT, else 8080 */
    int metrics_port;         /* 0 = disabled */
    int64_t read_timeout_ms;
    int64_t write_timeout_ms; /* always > 0 */
    int64_t exec_timeout_ms;  /* 0 = none */
    int64_t healthcheck_interval_ms;
    char *upstream_url;       /* NULL when unset */
    bool buffer_req_body;
    char *content_type;       /* NULL when unset (modes pick their default) */
    char *static_path;
    int max_inflight;         /* 0 = no limit */
    bool suppress_lock;
    bool prefix_logs;
    size_t log_buffer_size;
    bool log_callid;
    char *ready_path;         /* NULL when unset or empty */
    bool cgi_headers;
    bool cgi_response;        /* fork modes: stdout starts with a CGI header block */
    bool combine_output;      /* classic */
    bool write_debug;         /* classic */
    bool marshal_request;     /* classic */
    bool debug_headers;       /* classic: request and response headers on stdout */
    enum log_format log_format;
    int64_t max_request_body; /* bytes; 0 = unlimited */
    int max_connections;
    int prespawn;             /* fork modes: processes kept started and idle; 0 = off */
    char *lock_path;          /* $TMPDIR/.lock or /tmp/.lock */
    /* jwt_auth: OpenFaaS IAM function tokens (auth.c) */
    bool jwt_auth;
    bool jwt_auth_debug;
    bool jwt_auth_local;
    char *jwt_auth_discovery_url; /* NULL: the gateway's, or 127.0.0.1:8000's (local) */
    char *function_name;      /* OPENFAAS_NAME; set when jwt_auth */
    char *function_namespace; /* OPENFAAS_NAMESPACE, else the service account's; set when jwt_auth */
    char *resolv_conf;        /* NULL: /etc/resolv.conf */
    char *hosts_file;         /* NULL: /etc/hosts */
};

/* Parse envp into cfg. On error returns -1 and writes one line (no newline)
 * naming the variable into err; the caller prints it and exits 2. */
int config_load(struct config *cfg, char *const *envp, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Durations: a bare integer is seconds, else Go syntax ("500ms", "1m30s").
 * Result in milliseconds, sub-millisecond values rounded up. 0 / -1. */
int config_parse_duration(const char *s, int64_t *out_ms);
/* "true"/"1" -> true, "false"/"0"/"" -> false, else -1. */
int config_parse_bool(const char *s, bool *out);
/* Split a command on spaces; single and double quotes group words.
 * Returns a NULL-terminated malloc'd argv (free with config_free_argv),
 * NULL with a message in err on unbalanced quotes or an empty command. */
char **config_split_command(const char *s, char *err, size_t errlen);
void config_free_argv(char **argv);
/* The lock file path for an environment ($TMPDIR/.lock, default /tmp/.lock). */
char *config_lock_path(char *const *envp);

/* --help text: every setting with its default. */
void config_print_help(FILE *out);

#endif
