/* jwt_auth: the issuer's keys, fetched on the event loop, and the decision
 * for each request. The token checks themselves are in jwt.c. */
#include "auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "clock.h"
#include "fmt.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"
#include "resolve.h"

#define FETCH_TIMEOUT_S 10
#define FETCH_MAX_BODY (1024 * 1024)
#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS 30000
/* Keys are fetched again this often, so a rotation is seen even when no
 * token names the new key yet. */
#define REFRESH_MS (5 * 60 * 1000)
/* A token naming an unknown key fetches the set again, but no more often
 * than this: unknown kids cost the issuer at most one request per period. */
#define KID_REFETCH_MS 2000

enum stage { IDLE, DISCOVERY, JWKS };

struct auth {
    const struct config *cfg;
    struct event_base *base;
    struct evdns_base *dns;
    const char *discovery_url;
    char *ref;                    /* "namespace:name" */
    /* in force */
    char *issuer;
    struct jwks *keys;
    /* the fetch under way */
    enum stage stage;
    struct evhttp_connection *conn;
    struct evhttp_connection *done_conn; /* over, freed by reap_ev */
    struct event *reap_ev;
    char why[160];                /* the error callback's reason */
    char *new_issuer;
    char *jwks_url;
    int failures;                 /* in a row, for the backoff */
    int64_t last_start_ms;        /* monotonic, of the last fetch */
    int64_t next_ms;              /* monotonic, when the timer fires; 0: not armed */
    bool refetch_wanted;          /* an unknown kid arrived during a fetch */
    struct event *timer;
};

static void start_fetch(struct auth *a);

static void arm(struct auth *a, int64_t delay_ms)
{
    a->next_ms = clock_now_ms() + delay_ms;
    clock_arm(a->timer, delay_ms);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct auth *a = arg;
    (void)fd;
    (void)what;
    a->next_ms = 0;
    if (a->stage == IDLE)
        start_fetch(a);
}

/* ---- HTTP GET on the loop (libevent's evhttp client, evdns for names) ---- */

static void set_why(struct auth *a, const char *fmt, const char *arg)
{
    snprintf(a->why, sizeof(a->why), fmt, arg);
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    struct auth *a = arg;
    struct bufferevent *bev = a->conn ? evhttp_connection_get_bufferevent(a->conn) : NULL;
    int dns = bev ? bufferevent_socket_get_dns_error(bev) : 0;
    int sock = EVUTIL_SOCKET_ERROR();

    if (dns) {
        set_why(a, "cannot resolve the host: %s", evutil_gai_strerror(dns));
        return;
    }
    switch (err) {
    case EVREQ_HTTP_TIMEOUT: set_why(a, "%s", "timed out"); break;
    case EVREQ_HTTP_DATA_TOO_LONG: set_why(a, "%s", "response larger than 1 MiB"); break;
    case EVREQ_HTTP_INVALID_HEADER: set_why(a, "%s", "not an HTTP response"); break;
    default:
        /* A refused connection ends here too; errno still says so. */
        set_why(a, "connection failed: %s", sock ? strerror(sock) : "closed");
    }
}

static void on_response(struct evhttp_request *req, void *arg);

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct auth *a = arg;
    (void)fd;
    (void)what;
    if (a->done_conn)
        evhttp_connection_free(a->done_conn);
    a->done_conn = NULL;
}

/* GET url. 0, or -1 with the reason in a->why. */
static int http_get(struct auth *a, const char *url)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    int port = uri ? evhttp_uri_get_port(uri) : -1;
    struct evhttp_request *req = NULL;
    char hostport[300], target[2048];
    int rc = -1;

    if (!scheme || evutil_ascii_strcasecmp(scheme, "http") != 0 || !host || !*host) {
        set_why(a, "%s", "not an http:// URL");
        goto out;
    }
    port = port < 0 ? 80 : port;
    snprintf(hostport, sizeof(hostport), port == 80 ? "%s" : "%s:%d", host, port);
    snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/", query ? "?" : "",
             query ? query : "");
    a->conn = evhttp_connection_base_new(a->base, a->dns, host, (unsigned short)port);
    req = evhttp_request_new(on_response, a);
    if (!a->conn || !req) {
        set_why(a, "%s", "out of memory");
        goto out;
    }
    evhttp_connection_set_timeout(a->conn, FETCH_TIMEOUT_S);
    evhttp_connection_set_max_body_size(a->conn, FETCH_MAX_BODY);
    evhttp_request_set_error_cb(req, on_error);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", hostport);
    evhttp_add_header(evhttp_request_get_output_headers(req), "User-Agent", "openfaas-watchdog");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    a->why[0] = '\0';
    if (evhttp_make_request(a->conn, req, EVHTTP_REQ_GET, target) != 0) {
        req = NULL; /* freed by evhttp_make_request */
        set_why(a, "%s", "cannot send the request");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && req)
        evhttp_request_free(req);
    if (rc != 0 && a->conn) {
        evhttp_connection_free(a->conn);
        a->conn = NULL;
    }
    evhttp_uri_free(uri);
    return rc;
}

/* ---- the fetch: discovery, then the key set ---- */

static const char *stage_url(const struct auth *a)
{
    return a->stage == DISCOVERY ? a->discovery_url : a->jwks_url;
}

static void fetch_failed(struct auth *a, const char *why)
{
    int64_t delay = RETRY_FIRST_MS;
    for (int i = 0; i < a->failures && delay < RETRY_MAX_MS; i++)
        delay *= 2;
    delay = delay > RETRY_MAX_MS ? RETRY_MAX_MS : delay;
    a->failures++;
    log_error("jwt_auth: cannot load the issuer's keys: GET %s: %s; %s, retrying in %.1fs",
              stage_url(a), why, a->keys ? "keeping the keys in use" : "not ready",
              (double)delay / 1000.0);
    a->stage = IDLE;
    arm(a, delay);
}

static void log_skipped(void *arg, const char *kid, const char *why)
{
    (void)arg;
    log_warn("jwt_auth: key \"%.64s\" not used: %s", kid, why);
}

/* The keys are in: put them in force. */
static void install(struct auth *a, struct jwks *keys)
{
    bool first = a->keys == NULL;
    jwks_free(a->keys);
    a->keys = keys;
    free(a->issuer);
    a->issuer = a->new_issuer;
    a->new_issuer = NULL;
    a->failures = 0;
    a->stage = IDLE;
    if (first)
        log_info("jwt_auth: %zu key(s) loaded from %s, issuer %s", jwks_count(keys), a->jwks_url,
                 a->issuer);
    if (a->cfg->jwt_auth_debug) {
        for (size_t i = 0; i < jwks_count(keys); i++)
            log_info("[JWT Auth] Key: %s", jwks_kid(keys, i));
    }
    if (a->refetch_wanted) {
        a->refetch_wanted = false;
        arm(a, KID_REFETCH_MS);
    } else {
        arm(a, REFRESH_MS);
    }
}

/* jwks_uri on https:// cannot be fetched without TLS. The gateway serves
 * the same path on its in-cluster http port, where discovery answered:
 * fetch it from there. */
static char *jwks_fetch_url(const struct auth *a, const char *jwks_uri)
{
    struct evhttp_uri *d, *j;
    char *out = NULL;
    if (evutil_ascii_strncasecmp(jwks_uri, "https://", 8) != 0)
        return strdup(jwks_uri);
    d = evhttp_uri_parse(a->discovery_url);
    j = evhttp_uri_parse(jwks_uri);
    if (d && j) {
        evhttp_uri_set_path(d, evhttp_uri_get_path(j));
        evhttp_uri_set_query(d, evhttp_uri_get_query(j));
        char buf[2048];
        if (evhttp_uri_join(d, buf, sizeof(buf)))
            out = strdup(buf);
    }
    evhttp_uri_free(d);
    evhttp_uri_free(j);
    return out;
}

static int got_discovery(struct auth *a, const char *body, size_t len, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    const char *uri = json_string_value(json_object_get(doc, "jwks_uri"));
    int rc = -1;

    if (!doc)
        snprintf(why, whylen, "not JSON: %s", jerr.text);
    else if (!iss || !*iss || !uri || !*uri)
        snprintf(why, whylen, "no \"issuer\" or \"jwks_uri\" in the discovery document");
    else
        rc = 0;
    if (rc == 0) {
        free(a->new_issuer);
        free(a->jwks_url);
        a->new_issuer = strdup(iss);
        a->jwks_url = jwks_fetch_url(a, uri);
        if (a->cfg->jwt_auth_debug)
            log_info("[JWT Auth] Issuer: %s\tJWKS URI: %s", iss, uri);
        if (!a->new_issuer || !a->jwks_url) {
            snprintf(why, whylen, "cannot use jwks_uri %.100s", uri);
            rc = -1;
        }
    }
    json_decref(doc);
    return rc;
}

/* A whole 200 response for the current stage. */
static void got_body(struct auth *a, const char *body, size_t len)
{
    char why[256];
    struct jwks *keys;

    if (a->stage == DISCOVERY) {
        if (got_discovery(a, body, len, why, sizeof(why)) != 0) {
            fetch_failed(a, why);
            return;
        }
        a->stage = JWKS;
        if (http_get(a, a->jwks_url) != 0)
            fetch_failed(a, a->why);
        return;
    }
    if (jwks_parse(body, len, &keys, log_skipped, a, why, sizeof(why)) != 0) {
        fetch_failed(a, why);
        return;
    }
    install(a, keys);
}

static void on_response(struct evhttp_request *req, void *arg)
{
    struct auth *a = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    char why[200];

    /* The connection cannot be freed inside its own callback, and
     * libevent's free-on-completion misses some failures: free it once the
     * callback is over. */
    if (a->done_conn)
        evhttp_connection_free(a->done_conn);
    a->done_conn = a->conn;
    a->conn = NULL;
    event_active(a->reap_ev, 0, 0);
    if (code == 0) {
        fetch_failed(a, a->why[0] ? a->why : "no response");
        return;
    }
    if (code != 200) {
        snprintf(why, sizeof(why), "status %d", code);
        fetch_failed(a, why);
        return;
    }
    size_t len = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    got_body(a, body ? body : "", len);
}

static void start_fetch(struct auth *a)
{
    a->stage = DISCOVERY;
    a->last_start_ms = clock_now_ms();
    if (http_get(a, a->discovery_url) != 0)
        fetch_failed(a, a->why);
}

/* A token named a key we do not have: fetch again, soon but not at once
 * if we just did. */
static void want_refetch(struct auth *a)
{
    int64_t at = a->last_start_ms + KID_REFETCH_MS, now = clock_now_ms();

    if (a->stage != IDLE) {
        a->refetch_wanted = true;
        return;
    }
    if (a->next_ms != 0 && a->next_ms <= at)
        return;
    arm(a, at > now ? at - now : 0);
}

/* ---- setup ---- */

static char *function_ref(const struct config *cfg)
{
    size_t len = strlen(cfg->function_namespace) + 1 + strlen(cfg->function_name) + 1;
    char *ref = malloc(len);
    if (ref)
        snprintf(ref, len, "%s:%s", cfg->function_namespace, cfg->function_name);
    return ref;
}

struct auth *auth_new(const struct config *cfg, struct event_base *base)
{
    struct auth *a = calloc(1, sizeof(*a));

    if (!a)
        goto nomem;
    a->cfg = cfg;
    a->base = base;
    a->discovery_url = cfg->jwt_auth_discovery_url ? cfg->jwt_auth_discovery_url
                       : cfg->jwt_auth_local       ? AUTH_LOCAL_URL
                                                   : AUTH_GATEWAY_URL;
    a->ref = function_ref(cfg);
    a->timer = evtimer_new(base, on_timer, a);
    a->reap_ev = event_new(base, -1, 0, on_reap, a);
    a->dns = resolve_new(base, cfg->resolv_conf, cfg->hosts_file);
    if (!a->ref || !a->timer || !a->reap_ev || !a->dns)
        goto nomem;
    if (cfg->jwt_auth_debug)
        log_info("[JWT Auth] Function: %s, discovery: %s", a->ref, a->discovery_url);
    start_fetch(a);
    return a;
nomem:
    log_error("jwt_auth: out of memory");
    auth_free(a);
    return NULL;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    /* Not from a callback of its own: libevent drops the pending request
     * without calling back. */
    if (a->conn)
        evhttp_connection_free(a->conn);
    if (a->done_conn)
        evhttp_connection_free(a->done_conn);
    if (a->timer)
        event_free(a->timer);
    if (a->reap_ev)
        event_free(a->reap_ev);
    if (a->dns)
        evdns_base_free(a->dns, 0);
    jwks_free(a->keys);
    free(a->issuer);
    free(a->new_issuer);
    free(a->jwks_url);
    free(a->ref);
    free(a);
}

bool auth_ready(const struct auth *a)
{
    return a->keys != NULL;
}

/* ---- per request ---- */

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void deny(const struct request *r, struct auth_verdict *v, int status,
                 const struct timespec *t0)
{
    char dur[32];
    v->status = status;
    v->logged = true;
    /* rounded to the millisecond, as Go's middleware logs it */
    log_go_duration((int64_t)(since(t0) * 1000 + 0.5) * 1000000, dur, sizeof(dur));
    log_info("%s %s - %d ACCESS DENIED - (%s)", r->method, r->path, status, dur);
}

static void debug_token(const struct auth *a, const struct jwt_info *info)
{
    if (!a->cfg->jwt_auth_debug)
        return;
    for (size_t i = 0; i < jwks_count(a->keys); i++)
        log_info("%s: %s", a->issuer, jwks_kid(a->keys, i));
    log_info("[JWT Auth] Token: kid: %.128s\tclaims: %.2000s", info->kid ? info->kid : "<nil>",
             info->claims ? info->claims : "<none>");
}

bool auth_check(struct auth *a, const struct request *r, struct auth_verdict *v)
{
    const char *bearer = req_header(r, "Authorization");
    struct jwt_info info = {NULL, NULL};
    struct timespec t0;
    char why[sizeof(v->reason) - 32];
    enum jwt_result res;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(v, 0, sizeof(*v));
    if (!a->keys) {
        v->status = 503;
        snprintf(v->reason, sizeof(v->reason), "JWT authentication is not ready: the issuer's keys are not loaded yet");
        return false;
    }
    if (bearer && strncmp(bearer, "Bearer ", 7) == 0)
        bearer += 7;
    if (!bearer || !*bearer) {
        snprintf(v->reason, sizeof(v->reason), "Bearer must be present in Authorization header");
        deny(r, v, 401, &t0);
        return false;
    }
    struct jwt_check chk = {a->keys, a->issuer, a->ref, wall_now()};
    /* The kid and claims are written out only for the debug log. */
    res = jwt_check_token(&chk, bearer, strlen(bearer), a->cfg->jwt_auth_debug ? &info : NULL,
                          why, sizeof(why));
    debug_token(a, &info);
    jwt_info_free(&info);
    if (res == JWT_UNKNOWN_KID)
        want_refetch(a);
    if (res == JWT_FORBIDDEN) {
        snprintf(v->reason, sizeof(v->reason), "%s", why);
        deny(r, v, 403, &t0);
        return false;
    }
    if (res != JWT_OK) {
        snprintf(v->reason, sizeof(v->reason), "failed to parse JWT token: %s", why);
        deny(r, v, 401, &t0);
        return false;
    }
    v->seconds[fmt_seconds(v->seconds, since(&t0))] = '\0';
    return true;
}

void auth_answer(struct request *r, const struct auth_verdict *v)
{
    char body[sizeof(v->reason) + 2];

    snprintf(body, sizeof(body), "%s\n", v->reason);
    resp_header(r, "X-Openfaas-Internal", "faas-middleware");
    if (v->status == 401)
        resp_header(r, "Www-Authenticate", "Bearer realm=IAM function invoke");
    if (v->status == 503)
        resp_header(r, "Retry-After", "1");
    resp_go_error(r, v->status, body);
}
