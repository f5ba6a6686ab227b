/* Function tokens (JWT, RFC 7519) as the OpenFaaS gateway issues them: the
 * whole decision for one token, with the keys and the issuer given. No I/O
 * and no clock of its own, so tests and fuzzers drive it directly.
 *
 * The checks and their order are faas-middleware's (auth/
 * jwt_authenticator.go with golang-jwt v5), and so are the reasons, which
 * the 401 body carries: segments, base64url, JSON header and claims, a
 * known algorithm, the key by "kid", the signature, then exp and nbf (1 s
 * of leeway), aud containing the issuer and iss equal to it, and last the
 * "function" claim. Stricter: only asymmetric algorithms, JSON with
 * duplicate names refused, and whole-reference pattern matching. */
#ifndef FW_JWT_H
#define FW_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include "jwks.h"

enum jwt_result {
    JWT_OK,            /* the token allows this function */
    JWT_UNAUTHORIZED,  /* 401: no valid token */
    JWT_UNKNOWN_KID,   /* 401, and the key set may be stale */
    JWT_FORBIDDEN,     /* 403: a valid token without permission here */
};

/* Seconds of clock skew allowed on exp and nbf, as the Go middleware. */
#define JWT_LEEWAY 1.0

struct jwt_check {
    struct jwks *keys;    /* remembers the tokens it verified */
    const char *issuer;   /* iss must equal it; aud must contain it */
    const char *ref;      /* "namespace:name" of this function */
    double now;           /* seconds since the epoch */
};

/* Optional: what the token says, for jwt_auth_debug. Strings are
 * malloc'd (free with jwt_info_free); NULL when not known. */
struct jwt_info {
    char *kid;
    char *claims;         /* the claims as compact JSON */
};

/* Decide for token (the text after "Bearer "). why gets the reason for
 * anything but JWT_OK, worded as Go's ("token is malformed: ...",
 * "token has invalid claims: token is expired", "insufficient
 * permissions"). info may be NULL. */
enum jwt_result jwt_check_token(const struct jwt_check *chk, const char *token, size_t len,
                                struct jwt_info *info, char *why, size_t whylen);
void jwt_info_free(struct jwt_info *info);

/* A permission pattern against a function reference: "*" alone matches
 * everything, and "*" inside a pattern matches any run of characters,
 * possibly empty. The whole reference must match (Go matches anywhere in
 * it, so "dev:fn" also let "dev:fn2" through). */
bool jwt_pattern_match(const char *pattern, const char *ref);

#endif
