/* JSON Web Key Sets: parsing (jansson) and signature checks (mbedTLS). */
#include "jwks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>

/* RFC 7518 3.3: RSA keys of 2048 bits or more. */
#define RSA_MIN_BITS 2048
/* A key set never needs more; a bigger one is refused whole. */
#define JWKS_MAX_KEYS 64

enum jwk_kind { JWK_RSA, JWK_EC };

struct jwk {
    char *kid;
    enum jwk_kind kind;
    enum jwt_alg alg;            /* from the key's "alg"; INVALID when absent */
    mbedtls_rsa_context rsa;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
};

struct jwks {
    struct jwk *keys;
    size_t n;
    /* Tokens whose signature checked out against these keys, by digest,
     * the newest JWKS_REMEMBERED; the oldest is overwritten. */
    unsigned char verified[JWKS_REMEMBERED][JWKS_DIGEST_LEN];
    size_t nverified, next;
};

/* ---- algorithms ---- */

static const struct {
    const char *name;
    enum jwt_alg alg;
} alg_names[] = {
    {"RS256", JWT_RS256}, {"RS384", JWT_RS384}, {"RS512", JWT_RS512},
    {"PS256", JWT_PS256}, {"PS384", JWT_PS384}, {"PS512", JWT_PS512},
    {"ES256", JWT_ES256}, {"ES384", JWT_ES384}, {"ES512", JWT_ES512},
};

enum jwt_alg jwt_alg_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (strcmp(alg_names[i].name, name) == 0)
            return alg_names[i].alg;
    }
    return JWT_ALG_INVALID;
}

const char *jwt_alg_name(enum jwt_alg alg)
{
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (alg_names[i].alg == alg)
            return alg_names[i].name;
    }
    return "?";
}

static mbedtls_md_type_t alg_md(enum jwt_alg alg)
{
    switch (alg) {
    case JWT_RS256: case JWT_PS256: case JWT_ES256: return MBEDTLS_MD_SHA256;
    case JWT_RS384: case JWT_PS384: case JWT_ES384: return MBEDTLS_MD_SHA384;
    case JWT_RS512: case JWT_PS512: case JWT_ES512: return MBEDTLS_MD_SHA512;
    default: return MBEDTLS_MD_NONE;
    }
}

/* The curve an ES algorithm is defined on (RFC 7518 3.4). */
static mbedtls_ecp_group_id alg_curve(enum jwt_alg alg)
{
    switch (alg) {
    case JWT_ES256: return MBEDTLS_ECP_DP_SECP256R1;
    case JWT_ES384: return MBEDTLS_ECP_DP_SECP384R1;
    case JWT_ES512: return MBEDTLS_ECP_DP_SECP521R1;
    default: return MBEDTLS_ECP_DP_NONE;
    }
}

static bool alg_is_rsa(enum jwt_alg alg)
{
    return alg >= JWT_RS256 && alg <= JWT_PS512;
}

/* ---- base64url ---- */

/* The 6 bits of a base64url character; -1 for any other byte. Decoded
 * without a constant-time table walk, as Go's encoding/base64 decodes: a
 * token is its sender's own input, and mbedTLS's constant-time decoder
 * (made for secret keys) took some 300 instructions a character. */
static int b64url_value(char ch)
{
    unsigned char c = (unsigned char)ch;
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int jwt_b64url_decode(const char *in, size_t len, bool allow_pad, unsigned char **out,
                      size_t *outlen, size_t *bad_at)
{
    size_t i, n = 0;
    unsigned bits = 0;
    uint32_t acc = 0;

    *out = NULL;
    *outlen = 0;
    if (allow_pad) {
        for (i = 0; i < 2 && len > 0 && in[len - 1] == '='; i++)
            len--;
    }
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (!buf) {
        *bad_at = 0;
        return -1;
    }
    /* The bits left over after the last whole byte are dropped unread, as
     * Go's decoder (not in strict mode) drops them. */
    for (i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0) {
            *bad_at = i;
            goto bad;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* One character left over carries fewer than 8 bits: not a byte. */
    if (len % 4 == 1) {
        *bad_at = len - 1;
        goto bad;
    }
    *out = buf;
    *outlen = n;
    return 0;
bad:
    free(buf);
    return -1;
}

/* A base64url member of a key object, decoded; NULL (and a reason) when
 * missing or invalid. */
static unsigned char *member_bytes(json_t *obj, const char *name, size_t *len, char *why,
                                   size_t whylen)
{
    json_t *v = json_object_get(obj, name);
    unsigned char *out;
    size_t bad;

    if (!json_is_string(v)) {
        snprintf(why, whylen, "\"%s\" missing", name);
        return NULL;
    }
    if (jwt_b64url_decode(json_string_value(v), json_string_length(v), true, &out, len, &bad) ||
        *len == 0) {
        free(out);
        snprintf(why, whylen, "\"%s\" is not base64url", name);
        return NULL;
    }
    return out;
}

/* ---- keys ---- */

static void key_free(struct jwk *k)
{
    free(k->kid);
    if (k->kind == JWK_RSA) {
        mbedtls_rsa_free(&k->rsa);
    } else {
        mbedtls_ecp_group_free(&k->grp);
        mbedtls_ecp_point_free(&k->q);
    }
}

static int load_rsa(struct jwk *k, json_t *obj, char *why, size_t whylen)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = member_bytes(obj, "n", &nlen, why, whylen);
    unsigned char *e = n ? member_bytes(obj, "e", &elen, why, whylen) : NULL;
    int rc = -1;

    k->kind = JWK_RSA;
    mbedtls_rsa_init(&k->rsa, MBEDTLS_RSA_PKCS_V15, 0);
    if (!n || !e)
        goto out;
    if (mbedtls_rsa_import_raw(&k->rsa, n, nlen, NULL, 0, NULL, 0, NULL, 0, e, elen) != 0 ||
        mbedtls_rsa_complete(&k->rsa) != 0 || mbedtls_rsa_check_pubkey(&k->rsa) != 0) {
        snprintf(why, whylen, "not a valid RSA public key");
        goto out;
    }
    if (mbedtls_rsa_get_len(&k->rsa) * 8 < RSA_MIN_BITS) {
        snprintf(why, whylen, "RSA key shorter than %d bits", RSA_MIN_BITS);
        goto out;
    }
    rc = 0;
out:
    free(n);
    free(e);
    return rc;
}

static mbedtls_ecp_group_id curve_by_name(const char *crv)
{
    if (!crv)
        return MBEDTLS_ECP_DP_NONE;
    if (strcmp(crv, "P-256") == 0)
        return MBEDTLS_ECP_DP_SECP256R1;
    if (strcmp(crv, "P-384") == 0)
        return MBEDTLS_ECP_DP_SECP384R1;
    if (strcmp(crv, "P-521") == 0)
        return MBEDTLS_ECP_DP_SECP521R1;
    return MBEDTLS_ECP_DP_NONE;
}

/* The point as SEC 1 uncompressed bytes (0x04 || X || Y), checked to be on
 * the curve. RFC 7518 6.2.1.2 wants each coordinate at the full field
 * size, but some issuers drop leading zero bytes (PyJWT before 2.8 did):
 * shorter ones are taken, left-padded. */
static int ec_point(struct jwk *k, const unsigned char *x, size_t xlen, const unsigned char *y,
                    size_t ylen)
{
    size_t flen = (k->grp.pbits + 7) / 8;
    unsigned char buf[1 + 2 * 66] = {0};

    if (xlen > flen || ylen > flen || 1 + 2 * flen > sizeof(buf))
        return -1;
    buf[0] = 0x04;
    memcpy(buf + 1 + flen - xlen, x, xlen);
    memcpy(buf + 1 + 2 * flen - ylen, y, ylen);
    if (mbedtls_ecp_point_read_binary(&k->grp, &k->q, buf, 1 + 2 * flen) != 0)
        return -1;
    return mbedtls_ecp_check_pubkey(&k->grp, &k->q) == 0 ? 0 : -1;
}

static int load_ec(struct jwk *k, json_t *obj, char *why, size_t whylen)
{
    mbedtls_ecp_group_id id = curve_by_name(json_string_value(json_object_get(obj, "crv")));
    size_t xlen = 0, ylen = 0;
    unsigned char *x = NULL, *y = NULL;
    int rc = -1;

    k->kind = JWK_EC;
    mbedtls_ecp_group_init(&k->grp);
    mbedtls_ecp_point_init(&k->q);
    if (id == MBEDTLS_ECP_DP_NONE) {
        snprintf(why, whylen, "curve not supported (use P-256, P-384 or P-521)");
        goto out;
    }
    x = member_bytes(obj, "x", &xlen, why, whylen);
    y = x ? member_bytes(obj, "y", &ylen, why, whylen) : NULL;
    if (!x || !y)
        goto out;
    if (mbedtls_ecp_group_load(&k->grp, id) != 0 || ec_point(k, x, xlen, y, ylen) != 0) {
        snprintf(why, whylen, "not a valid EC public key");
        goto out;
    }
    rc = 0;
out:
    free(x);
    free(y);
    return rc;
}

/* "use" and "alg" are optional; when present they must allow signatures
 * with an algorithm of ours. */
static int key_usage(struct jwk *k, json_t *obj, char *why, size_t whylen)
{
    json_t *use = json_object_get(obj, "use");
    json_t *alg = json_object_get(obj, "alg");

    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) {
        snprintf(why, whylen, "not a signing key (\"use\")");
        return -1;
    }
    k->alg = JWT_ALG_INVALID;
    if (!alg)
        return 0;
    k->alg = jwt_alg_from_name(json_string_value(alg));
    if (k->alg == JWT_ALG_INVALID) {
        snprintf(why, whylen, "algorithm not supported (\"alg\")");
        return -1;
    }
    return 0;
}

/* One key object into k. 0, 1 when skipped (why says why), -1 on memory. */
static int load_key(struct jwk *k, json_t *obj, char *why, size_t whylen)
{
    const char *kty = json_string_value(json_object_get(obj, "kty"));
    const char *kid = json_string_value(json_object_get(obj, "kid"));
    int rc;

    memset(k, 0, sizeof(*k));
    if (!json_is_object(obj) || !kty) {
        snprintf(why, whylen, "not a key object");
        return 1;
    }
    if (!kid || !*kid) {
        snprintf(why, whylen, "no \"kid\" (tokens name their key by kid)");
        return 1;
    }
    if (key_usage(k, obj, why, whylen))
        return 1;
    if (strcmp(kty, "RSA") == 0) {
        rc = load_rsa(k, obj, why, whylen);
    } else if (strcmp(kty, "EC") == 0) {
        rc = load_ec(k, obj, why, whylen);
    } else {
        snprintf(why, whylen, "key type \"%.20s\" not supported", kty);
        return 1;
    }
    k->kid = rc == 0 ? strdup(kid) : NULL;
    if (rc != 0 || !k->kid) {
        key_free(k);
        return rc != 0 ? 1 : -1;
    }
    return 0;
}

static int load_keys(struct jwks *set, json_t *arr, jwks_skip_fn skip, void *arg, char *err,
                     size_t errlen)
{
    size_t i;
    json_t *obj;
    char why[128];

    set->keys = calloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*set->keys));
    if (!set->keys)
        goto nomem;
    json_array_foreach(arr, i, obj) {
        int rc = load_key(&set->keys[set->n], obj, why, sizeof(why));
        if (rc < 0)
            goto nomem;
        if (rc == 0 && jwks_find(set, set->keys[set->n].kid)) {
            /* Two keys under one name: which one signed is ambiguous. */
            key_free(&set->keys[set->n]);
            snprintf(why, sizeof(why), "duplicate \"kid\"");
            rc = 1;
        }
        if (rc == 0)
            set->n++;
        else if (skip)
            skip(arg, json_is_string(json_object_get(obj, "kid"))
                          ? json_string_value(json_object_get(obj, "kid")) : "", why);
    }
    if (set->n == 0) {
        snprintf(err, errlen, "no usable signing key in the key set");
        return -1;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int jwks_parse(const char *json, size_t len, struct jwks **out, jwks_skip_fn skip, void *arg,
               char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *arr = json_object_get(doc, "keys");
    struct jwks *set = NULL;

    *out = NULL;
    if (!doc) {
        snprintf(err, errlen, "key set is not JSON: %s", jerr.text);
        goto err;
    }
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "key set has no \"keys\" array");
        goto err;
    }
    if (json_array_size(arr) > JWKS_MAX_KEYS) {
        snprintf(err, errlen, "key set has more than %d keys", JWKS_MAX_KEYS);
        goto err;
    }
    set = calloc(1, sizeof(*set));
    if (!set) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    if (load_keys(set, arr, skip, arg, err, errlen))
        goto err;
    json_decref(doc);
    *out = set;
    return 0;
err:
    jwks_free(set);
    json_decref(doc);
    return -1;
}

void jwks_free(struct jwks *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        key_free(&set->keys[i]);
    free(set->keys);
    free(set);
}

int jwks_token_digest(const char *token, size_t len, unsigned char out[JWKS_DIGEST_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return md && mbedtls_md(md, (const unsigned char *)token, len, out) == 0 ? 0 : -1;
}

bool jwks_verified_before(const struct jwks *set, const unsigned char digest[JWKS_DIGEST_LEN])
{
    for (size_t i = 0; i < set->nverified; i++) {
        if (memcmp(set->verified[i], digest, JWKS_DIGEST_LEN) == 0)
            return true;
    }
    return false;
}

void jwks_remember_verified(struct jwks *set, const unsigned char digest[JWKS_DIGEST_LEN])
{
    memcpy(set->verified[set->next], digest, JWKS_DIGEST_LEN);
    set->next = (set->next + 1) % JWKS_REMEMBERED;
    if (set->nverified < JWKS_REMEMBERED)
        set->nverified++;
}

size_t jwks_count(const struct jwks *set)
{
    return set ? set->n : 0;
}

const char *jwks_kid(const struct jwks *set, size_t i)
{
    return set && i < set->n ? set->keys[i].kid : NULL;
}

const struct jwk *jwks_find(const struct jwks *set, const char *kid)
{
    for (size_t i = 0; set && kid && i < set->n; i++) {
        if (strcmp(set->keys[i].kid, kid) == 0)
            return &set->keys[i];
    }
    return NULL;
}

/* ---- signatures ---- */

static int fail(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return -1;
}

static int verify_rsa(const struct jwk *k, enum jwt_alg alg, const unsigned char *hash,
                      size_t hlen, const unsigned char *sig, size_t siglen, char *why,
                      size_t whylen)
{
    mbedtls_md_type_t md = alg_md(alg);
    /* The context is only read, but mbedTLS 2 takes it mutable. */
    mbedtls_rsa_context *rsa = (mbedtls_rsa_context *)&k->rsa;
    int rc;

    if (siglen != mbedtls_rsa_get_len(rsa))
        return fail(why, whylen, "crypto/rsa: verification error");
    if (alg >= JWT_PS256)
        /* Any salt length, as Go's verifier (PSSSaltLengthAuto). */
        rc = mbedtls_rsa_rsassa_pss_verify_ext(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
                                               (unsigned)hlen, hash, md,
                                               MBEDTLS_RSA_SALT_LEN_ANY, sig);
    else
        rc = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
                                                 (unsigned)hlen, hash, sig);
    return rc == 0 ? 0 : fail(why, whylen, "crypto/rsa: verification error");
}

/* JWS carries ECDSA signatures as R || S, each the size of the curve's
 * field (RFC 7518 3.4), not DER. */
static int verify_ec(const struct jwk *k, const unsigned char *hash, size_t hlen,
                     const unsigned char *sig, size_t siglen, char *why, size_t whylen)
{
    size_t flen = (k->grp.pbits + 7) / 8;
    mbedtls_mpi r, s;
    int rc = -1;

    if (siglen != 2 * flen)
        return fail(why, whylen, "crypto/ecdsa: verification error");
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_mpi_read_binary(&r, sig, flen) == 0 &&
        mbedtls_mpi_read_binary(&s, sig + flen, flen) == 0)
        rc = mbedtls_ecdsa_verify((mbedtls_ecp_group *)&k->grp, hash, hlen, &k->q, &r, &s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc == 0 ? 0 : fail(why, whylen, "crypto/ecdsa: verification error");
}

/* Why k cannot check alg, NULL when it can. The key must be of the
 * algorithm's family, said in golang-jwt's words; of the algorithm the key
 * itself names, if any (RFC 8725 3.1); and, for EC, on its curve, which Go
 * finds as a bad signature. */
static const char *key_misfit(const struct jwk *k, enum jwt_alg alg)
{
    bool rsa = alg_is_rsa(alg);
    if (k->kind == JWK_RSA && !rsa)
        return "key is of invalid type: ECDSA verify expects *ecdsa.PublicKey";
    if (k->kind != JWK_RSA && rsa)
        return alg >= JWT_PS256 ? "key is of invalid type: RSA-PSS verify expects *rsa.PublicKey"
                                : "key is of invalid type: RSA verify expects *rsa.PublicKey";
    if (k->alg != JWT_ALG_INVALID && k->alg != alg)
        return "key is of invalid type";
    if (k->kind != JWK_RSA && alg_curve(alg) != k->grp.id)
        return "crypto/ecdsa: verification error";
    return NULL;
}

int jwk_verify(const struct jwk *key, enum jwt_alg alg, const unsigned char *data, size_t len,
               const unsigned char *sig, size_t siglen, char *why, size_t whylen)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(alg_md(alg));
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    size_t hlen;

    const char *misfit = md ? key_misfit(key, alg) : "key is of invalid type";
    if (misfit)
        return fail(why, whylen, misfit);
    hlen = mbedtls_md_get_size(md);
    if (mbedtls_md(md, data, len, hash) != 0)
        return fail(why, whylen, "the requested hash function is unavailable");
    if (key->kind == JWK_RSA)
        return verify_rsa(key, alg, hash, hlen, sig, siglen, why, whylen);
    return verify_ec(key, hash, hlen, sig, siglen, why, whylen);
}
