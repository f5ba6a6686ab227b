/* Function tokens: parse, verify, check the claims, match the permissions. */
#include "jwt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gojson.h"

/* A token split and decoded; the JSON is jansson's. */
struct token {
    json_t *header;
    json_t *claims;
    enum jwt_alg alg;
    unsigned char *sig;
    size_t siglen;
    size_t signed_len;   /* "header.payload": the bytes the signature covers */
};

static enum jwt_result say(char *why, size_t whylen, enum jwt_result r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum jwt_result say(char *why, size_t whylen, enum jwt_result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return r;
}

static void token_free(struct token *t)
{
    json_decref(t->header);
    json_decref(t->claims);
    free(t->sig);
}

/* ---- parsing ---- */

/* Exactly three parts: the offsets of the two dots. */
static bool split(const char *s, size_t len, size_t dot[2])
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '.')
            continue;
        if (n == 2)
            return false;
        dot[n++] = i;
    }
    return n == 2;
}

/* Go's name for a JSON value that is not an object. */
static const char *go_json_kind(const json_t *v)
{
    if (json_is_string(v))
        return "string";
    if (json_is_number(v))
        return "number";
    if (json_is_array(v))
        return "array";
    return "bool";
}

/* One base64url JSON object: the header or the claims. gotype: what Go
 * decodes it into, named in its error for another kind of value. */
static enum jwt_result decode_object(const char *part, size_t len, const char *what,
                                     const char *gotype, json_t **out, char *why, size_t whylen)
{
    unsigned char *raw;
    size_t rawlen, bad;
    json_error_t jerr;
    char gobuf[128];
    const char *goerr;

    if (jwt_b64url_decode(part, len, false, &raw, &rawlen, &bad))
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is malformed: could not base64 decode %s: illegal base64 data at "
                   "input byte %zu", what, bad);
    /* Go checks the syntax before it decodes: its words for a bad byte. */
    goerr = gojson_check(raw, rawlen, gobuf, sizeof(gobuf));
    /* Duplicate names are refused: two "alg" or two "exp" must not mean
     * one thing here and another to whoever issued or logged the token.
     * Numbers are doubles, as Go decodes them, so an integer past 64 bits
     * in a claim nobody reads does not refuse the token. */
    *out = goerr ? NULL
                 : json_loadb((const char *)raw, rawlen,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                              &jerr);
    free(raw);
    if (!*out)
        return say(why, whylen, JWT_UNAUTHORIZED, "token is malformed: could not JSON decode %s: %s",
                   what, goerr ? goerr : jerr.text);
    /* null decodes to nothing, as in Go */
    if (json_is_null(*out)) {
        json_decref(*out);
        *out = json_object();
        if (!*out)
            return say(why, whylen, JWT_UNAUTHORIZED, "out of memory");
    }
    if (!json_is_object(*out))
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is malformed: could not JSON decode %s: json: cannot unmarshal %s into "
                   "Go value of type %s", what, go_json_kind(*out), gotype);
    return JWT_OK;
}

/* Algorithms golang-jwt knows but this watchdog refuses: the symmetric
 * ones (a public key used as an HMAC secret is the classic forgery), the
 * unsigned one, and EdDSA, which mbedTLS 2 does not have. */
static bool known_elsewhere(const char *alg)
{
    static const char *const names[] = {"none", "HS256", "HS384", "HS512", "EdDSA", "Ed25519", NULL};
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(alg, names[i]) == 0)
            return true;
    }
    return false;
}

/* The value types golang-jwt's claim structs accept; anything else fails
 * its JSON decoding. null is the same as absent. */
static bool is_strings(json_t *v, bool single_ok)
{
    size_t i;
    json_t *e;
    if (!v || json_is_null(v) || (single_ok && json_is_string(v)))
        return true;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

static bool is_opt(json_t *v, bool (*pred)(const json_t *))
{
    return !v || json_is_null(v) || pred(v);
}

static bool is_string_pred(const json_t *v)
{
    return json_is_string(v);
}

static bool is_number_pred(const json_t *v)
{
    return json_is_number(v);
}

static const char *bad_claim(json_t *c)
{
    static const char *const strs[] = {"iss", "sub", "jti", NULL};
    static const char *const dates[] = {"exp", "nbf", "iat", NULL};
    json_t *fn = json_object_get(c, "function");

    for (size_t i = 0; strs[i]; i++) {
        if (!is_opt(json_object_get(c, strs[i]), is_string_pred))
            return strs[i];
    }
    for (size_t i = 0; dates[i]; i++) {
        if (!is_opt(json_object_get(c, dates[i]), is_number_pred))
            return dates[i];
    }
    if (!is_strings(json_object_get(c, "aud"), true))
        return "aud";
    if (fn && !json_is_null(fn) && !json_is_object(fn))
        return "function";
    if (!is_strings(json_object_get(fn, "permissions"), false))
        return "function.permissions";
    if (!is_strings(json_object_get(fn, "audience"), false))
        return "function.audience";
    return NULL;
}

static enum jwt_result parse_alg(struct token *t, char *why, size_t whylen)
{
    const char *alg = json_string_value(json_object_get(t->header, "alg"));

    if (!alg)
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is unverifiable: signing method (alg) is unspecified");
    t->alg = jwt_alg_from_name(alg);
    if (t->alg == JWT_ALG_INVALID && !known_elsewhere(alg))
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is unverifiable: signing method (alg) is unavailable");
    return JWT_OK;
}

/* Go's ParseUnverified, in its order, then the algorithm allow-list. */
static enum jwt_result parse(struct token *t, const char *s, size_t len, char *why, size_t whylen)
{
    size_t dot[2], bad;
    enum jwt_result r;
    const char *what;

    if (!split(s, len, dot))
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is malformed: token contains an invalid number of segments");
    if ((r = decode_object(s, dot[0], "header", "map[string]interface {}", &t->header, why,
                           whylen)) != JWT_OK ||
        (r = decode_object(s + dot[0] + 1, dot[1] - dot[0] - 1, "claim", "auth.FunctionClaims",
                           &t->claims, why, whylen)) != JWT_OK)
        return r;
    if ((what = bad_claim(t->claims)) != NULL)
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is malformed: could not JSON decode claim: invalid type for claim %s",
                   what);
    if ((r = parse_alg(t, why, whylen)) != JWT_OK)
        return r;
    if (jwt_b64url_decode(s + dot[1] + 1, len - dot[1] - 1, false, &t->sig, &t->siglen, &bad))
        return say(why, whylen, JWT_UNAUTHORIZED,
                   "token is malformed: could not base64 decode signature: illegal base64 "
                   "data at input byte %zu", bad);
    t->signed_len = dot[1];
    return JWT_OK;
}

/* ---- key and signature ---- */

/* An algorithm of known_elsewhere, refused as golang-jwt's Verify refuses
 * a JWKS public key for it. */
static enum jwt_result refused_alg(const char *alg, char *why, size_t whylen)
{
    const char *reason = "key is of invalid type: Ed25519 verify expects ed25519.PublicKey";
    if (strcmp(alg, "none") == 0)
        reason = "token is unverifiable: 'none' signature type is not allowed";
    else if (alg[0] == 'H')
        reason = "key is of invalid type: HMAC verify expects []byte";
    return say(why, whylen, JWT_UNAUTHORIZED, "token signature is invalid: %s", reason);
}

static enum jwt_result verify(const struct token *t, const struct jwt_check *chk, const char *s,
                              size_t len, char *why, size_t whylen)
{
    unsigned char digest[JWKS_DIGEST_LEN];
    json_t *kid = json_object_get(t->header, "kid");
    const struct jwk *key;
    char reason[96];

    if (!json_is_string(kid)) {
        char *shown = kid ? json_dumps(kid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        enum jwt_result r = say(why, whylen, JWT_UNAUTHORIZED,
                                "token is unverifiable: error while executing keyfunc: "
                                "invalid kid: %.64s", shown ? shown : "<nil>");
        free(shown);
        return r;
    }
    key = jwks_find(chk->keys, json_string_value(kid));
    if (!key)
        return say(why, whylen, JWT_UNKNOWN_KID,
                   "token is unverifiable: error while executing keyfunc: invalid kid: %.128s",
                   json_string_value(kid));
    if (t->alg == JWT_ALG_INVALID)
        return refused_alg(json_string_value(json_object_get(t->header, "alg")), why, whylen);
    bool digested = jwks_token_digest(s, len, digest) == 0;
    if (digested && jwks_verified_before(chk->keys, digest))
        return JWT_OK;
    if (jwk_verify(key, t->alg, (const unsigned char *)s, t->signed_len, t->sig, t->siglen,
                   reason, sizeof(reason)))
        return say(why, whylen, JWT_UNAUTHORIZED, "token signature is invalid: %s", reason);
    if (digested)
        jwks_remember_verified(chk->keys, digest);
    return JWT_OK;
}

/* ---- registered claims ---- */

struct errlist {
    char buf[256];
    size_t len;
};

static void add_err(struct errlist *e, const char *msg)
{
    int n = snprintf(e->buf + e->len, sizeof(e->buf) - e->len, "%s%s", e->len ? ", " : "", msg);
    if (n > 0)
        e->len += (size_t)n < sizeof(e->buf) - e->len ? (size_t)n : sizeof(e->buf) - e->len - 1;
}

/* NumericDate: golang-jwt keeps whole seconds, as an int64 converted from
 * the double; out of its range, that conversion gives the smallest int64
 * (amd64), a time long past. false when absent. */
static bool claim_time(json_t *c, const char *name, double *out)
{
    json_t *v = json_object_get(c, name);
    if (!json_is_number(v))
        return false;
    *out = floor(json_number_value(v));
    if (!(*out >= -0x1p63 && *out < 0x1p63))
        *out = -0x1p63;
    return true;
}

static bool aud_has(json_t *aud, const char *want, bool *empty)
{
    size_t i;
    json_t *e;

    if (json_is_string(aud)) {
        *empty = json_string_length(aud) == 0;
        return strcmp(json_string_value(aud), want) == 0;
    }
    *empty = json_array_size(aud) == 0 ||
             (json_array_size(aud) == 1 && json_string_length(json_array_get(aud, 0)) == 0);
    json_array_foreach(aud, i, e) {
        if (strcmp(json_string_value(e), want) == 0)
            return true;
    }
    return false;
}

/* golang-jwt's Validator: every failure, joined with ", ". */
static enum jwt_result check_claims(json_t *c, const struct jwt_check *chk, char *why,
                                    size_t whylen)
{
    struct errlist e = {.len = 0};
    const char *iss = json_string_value(json_object_get(c, "iss"));
    double t;
    bool empty;

    e.buf[0] = '\0';
    if (claim_time(c, "exp", &t) && !(chk->now < t + JWT_LEEWAY))
        add_err(&e, "token is expired");
    if (claim_time(c, "nbf", &t) && chk->now < t - JWT_LEEWAY)
        add_err(&e, "token is not valid yet");
    bool has = aud_has(json_object_get(c, "aud"), chk->issuer, &empty);
    if (empty)
        add_err(&e, "token is missing required claim: aud claim is required");
    else if (!has)
        add_err(&e, "token has invalid audience");
    if (!iss || !*iss)
        add_err(&e, "token is missing required claim: iss claim is required");
    else if (strcmp(iss, chk->issuer) != 0)
        add_err(&e, "token has invalid issuer");
    if (e.len == 0)
        return JWT_OK;
    return say(why, whylen, JWT_UNAUTHORIZED, "token has invalid claims: %s", e.buf);
}

/* ---- the function claim ---- */

bool jwt_pattern_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;

    /* Greedy match with one backtrack point, the last star: linear in
     * practice, and never worse than pattern length times reference. */
    while (*s) {
        if (*p == '*') {
            star = ++p;
            resume = s;
        } else if (*p && *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* required: an empty or missing list allows nothing (permissions);
 * otherwise it allows everything (audience). */
static bool match_list(json_t *list, const char *ref, bool required)
{
    size_t i;
    json_t *e;

    if (!required && json_array_size(list) == 0)
        return true;
    json_array_foreach(list, i, e) {
        const char *pat = json_string_value(e);
        if (strcmp(pat, "*") == 0 || jwt_pattern_match(pat, ref))
            return true;
    }
    return false;
}

static bool function_allowed(json_t *claims, const char *ref)
{
    json_t *fn = json_object_get(claims, "function");
    return match_list(json_object_get(fn, "audience"), ref, false) &&
           match_list(json_object_get(fn, "permissions"), ref, true);
}

/* ---- the whole decision ---- */

static void fill_info(struct jwt_info *info, const struct token *t)
{
    const char *kid = json_string_value(json_object_get(t->header, "kid"));
    if (!info)
        return;
    info->kid = kid ? strdup(kid) : NULL;
    info->claims = t->claims ? json_dumps(t->claims, JSON_COMPACT) : NULL;
}

enum jwt_result jwt_check_token(const struct jwt_check *chk, const char *token, size_t len,
                                struct jwt_info *info, char *why, size_t whylen)
{
    struct token t = {.header = NULL};
    enum jwt_result r;

    if (info)
        memset(info, 0, sizeof(*info));
    why[0] = '\0';
    r = parse(&t, token, len, why, whylen);
    if (r == JWT_OK)
        r = verify(&t, chk, token, len, why, whylen);
    if (r == JWT_OK)
        r = check_claims(t.claims, chk, why, whylen);
    if (r == JWT_OK && !function_allowed(t.claims, chk->ref))
        r = say(why, whylen, JWT_FORBIDDEN, "insufficient permissions");
    fill_info(info, &t);
    token_free(&t);
    return r;
}

void jwt_info_free(struct jwt_info *info)
{
    if (!info)
        return;
    free(info->kid);
    free(info->claims);
    memset(info, 0, sizeof(*info));
}
