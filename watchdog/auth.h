/* jwt_auth: OpenFaaS IAM function authentication. Every request but the
 * private endpoints must carry "Authorization: Bearer <token>" from the
 * gateway's token exchange, signed by a key of the issuer's key set and
 * allowing this function (namespace:name).
 *
 * The issuer is found through its OpenID discovery document and its keys
 * are fetched from its jwks_uri, on the event loop: until the first key
 * set is in, auth_ready is false (the watchdog keeps its lock file and
 * health endpoints not ready) and requests get 503. A failed fetch is
 * retried with backoff; the keys are fetched again on a timer and when a
 * token names a key that is not in the set (rotation), at most once per
 * KID_REFETCH_MS. */
#ifndef FW_AUTH_H
#define FW_AUTH_H

#include <stdbool.h>

#include "config.h"
#include "request.h"

struct auth;
struct event_base;

#define AUTH_GATEWAY_URL "http://gateway.openfaas:8080/.well-known/openid-configuration"
#define AUTH_LOCAL_URL "http://127.0.0.1:8000/.well-known/openid-configuration"

/* The decision for one request. */
struct auth_verdict {
    int status;            /* 0: allowed; else 401, 403 or 503 */
    bool logged;           /* the denial was logged here, Go's way */
    char seconds[32];      /* allowed: the X-Auth-Seconds value */
    char reason[512];      /* denied: the body's one line */
};

/* Starts the first fetch. NULL (logged) when out of memory or when the
 * discovery URL is not one we can fetch. */
struct auth *auth_new(const struct config *cfg, struct event_base *base);
void auth_free(struct auth *a);
/* True once a key set is loaded. */
bool auth_ready(const struct auth *a);
/* Decide for r. true: allowed (v->seconds set). false: answer it with
 * auth_answer. */
bool auth_check(struct auth *a, const struct request *r, struct auth_verdict *v);
/* The denial, as faas-middleware words it (status, WWW-Authenticate,
 * X-OpenFaaS-Internal, one line of text). r is answered afterwards. */
void auth_answer(struct request *r, const struct auth_verdict *v);

#endif
