/* JSON Web Key Sets (RFC 7517) as an OpenID issuer publishes them at its
 * jwks_uri: the public keys that sign function tokens. Only asymmetric
 * signing keys are kept (RSA, EC P-256/384/521); the signature checks run
 * in mbedTLS. No I/O here: the document comes in as bytes. */
#ifndef FW_JWKS_H
#define FW_JWKS_H

#include <stdbool.h>
#include <stddef.h>

/* The signing algorithms a token may name (RFC 7518 3.1). Everything else
 * (none, HS*, EdDSA) is refused once its key is found, as golang-jwt's
 * Verify refuses a public key for them. */
enum jwt_alg {
    JWT_ALG_INVALID = 0,
    JWT_RS256, JWT_RS384, JWT_RS512,
    JWT_PS256, JWT_PS384, JWT_PS512,
    JWT_ES256, JWT_ES384, JWT_ES512,
};

/* By its JOSE name; JWT_ALG_INVALID when not one of ours. */
enum jwt_alg jwt_alg_from_name(const char *name);
const char *jwt_alg_name(enum jwt_alg alg);

struct jwks;
struct jwk;

/* Told about each key left out of the set, and why (kid may be ""). */
typedef void (*jwks_skip_fn)(void *arg, const char *kid, const char *why);

/* Parse a JWKS document. Keys that cannot be used (another type, not for
 * signatures, bad numbers) are skipped and reported through skip (NULL:
 * silently); a document that is not a key set, or holds no usable key, is
 * an error. 0, or -1 with one line in err. */
int jwks_parse(const char *json, size_t len, struct jwks **out, jwks_skip_fn skip, void *arg,
               char *err, size_t errlen);
void jwks_free(struct jwks *set);
size_t jwks_count(const struct jwks *set);
const char *jwks_kid(const struct jwks *set, size_t i);
/* The key with this kid, NULL when none. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid);

/* A token's signature is checked once per key set: checking is the costly
 * part (an ECDSA verification in mbedTLS takes milliseconds) and a client
 * sends the same token until it expires. A token is known by the SHA-256
 * of all of it, signature included; a set remembers the newest
 * JWKS_REMEMBERED that verified against it, and a new set (a refetch)
 * starts with none. Claims are still checked on every request. */
#define JWKS_DIGEST_LEN 32
#define JWKS_REMEMBERED 64
/* 0, or -1 when the hash is not available. */
int jwks_token_digest(const char *token, size_t len, unsigned char out[JWKS_DIGEST_LEN]);
bool jwks_verified_before(const struct jwks *set, const unsigned char digest[JWKS_DIGEST_LEN]);
void jwks_remember_verified(struct jwks *set, const unsigned char digest[JWKS_DIGEST_LEN]);

/* Check sig over data with key for alg. 0 when valid; -1 with Go's
 * wording of the reason in why ("key is of invalid type",
 * "crypto/rsa: verification error", ...). */
int jwk_verify(const struct jwk *key, enum jwt_alg alg, const unsigned char *data, size_t len,
               const unsigned char *sig, size_t siglen, char *why, size_t whylen);

/* base64url without padding (RFC 7515 2), the way tokens carry their
 * parts; allow_pad also takes trailing '=' (some issuers pad JWK values).
 * On success *out is malloc'd (free it) and *outlen set. On failure -1 and
 * *bad_at is the offset of the first byte that cannot be decoded. Bits
 * past the last whole byte are ignored, as by Go's decoder. */
int jwt_b64url_decode(const char *in, size_t len, bool allow_pad, unsigned char **out,
                      size_t *outlen, size_t *bad_at);

#endif
