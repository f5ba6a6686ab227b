/* jwt.c and jwks.c: token parsing and checks, key sets, base64url, and the
 * function-claim patterns. Keys and tokens come from jwt_vectors.h. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jwks.h"
#include "jwt.h"
#include "jwt_vectors.h"

static struct jwks *keys;
static int skipped;

static void on_skip(void *arg, const char *kid, const char *why)
{
    (void)arg;
    (void)why;
    CHECK(strcmp(kid, "sym") == 0);
    skipped++;
}

/* The result for token at now, with why checked to contain want. */
static enum jwt_result run(const char *token, const char *ref, double now, const char *want)
{
    struct jwt_check chk = {keys, VEC_ISSUER, ref, now};
    char why[512];
    enum jwt_result r = jwt_check_token(&chk, token, strlen(token), NULL, why, sizeof(why));
    if (want && !strstr(why, want)) {
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why, want);
        CHECK(!"reason");
    }
    return r;
}

static void test_patterns(void)
{
    CHECK(jwt_pattern_match("dev:fn", "dev:fn"));
    CHECK(!jwt_pattern_match("dev:fn", "dev:fn2"));
    CHECK(!jwt_pattern_match("dev:fn", "staging-dev:fn"));
    CHECK(!jwt_pattern_match("dev:fn", "dev:f"));
    CHECK(jwt_pattern_match("*", "dev:fn"));
    CHECK(jwt_pattern_match("dev:*", "dev:fn"));
    CHECK(jwt_pattern_match("dev:*", "dev:"));
    CHECK(!jwt_pattern_match("dev:*", "staging:fn"));
    CHECK(jwt_pattern_match("*:fn", "dev:fn"));
    CHECK(!jwt_pattern_match("*:fn", "dev:fn2"));
    CHECK(jwt_pattern_match("d*:f*", "dev:fn"));
    CHECK(jwt_pattern_match("*e*:*n", "dev:fn"));
    CHECK(jwt_pattern_match("**", "x"));
    CHECK(jwt_pattern_match("a*b*c", "aXbYbZc"));
    CHECK(!jwt_pattern_match("a*b*c", "aXbYbZ"));
    CHECK(!jwt_pattern_match("", "dev:fn"));
    CHECK(jwt_pattern_match("", ""));
    /* Regular-expression characters are plain characters. */
    CHECK(!jwt_pattern_match("dev.fn", "dev:fn"));
    CHECK(jwt_pattern_match("dev.fn", "dev.fn"));
    CHECK(!jwt_pattern_match("d?v:fn", "dev:fn"));
}

static void test_base64url(void)
{
    unsigned char *out;
    size_t len, bad;

    CHECK(jwt_b64url_decode("aGk", 3, false, &out, &len, &bad) == 0 && len == 2 &&
          memcmp(out, "hi", 2) == 0);
    free(out);
    CHECK(jwt_b64url_decode("_-8", 3, false, &out, &len, &bad) == 0 && len == 2 &&
          out[0] == 0xff && out[1] == 0xef);
    free(out);
    CHECK(jwt_b64url_decode("", 0, false, &out, &len, &bad) == 0 && len == 0);
    free(out);
    CHECK(jwt_b64url_decode("aGk=", 4, false, &out, &len, &bad) == -1 && bad == 3);
    CHECK(jwt_b64url_decode("aGk=", 4, true, &out, &len, &bad) == 0 && len == 2);
    free(out);
    CHECK(jwt_b64url_decode("aG+k", 4, false, &out, &len, &bad) == -1 && bad == 2);
    CHECK(jwt_b64url_decode("aGkxa", 5, false, &out, &len, &bad) == -1 && bad == 4);
    CHECK(jwt_b64url_decode("a b", 3, false, &out, &len, &bad) == -1 && bad == 1);
    /* Every character of the alphabet, in order: 64 values, 48 bytes. */
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *want = "\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51"
                       "\x55\x97\x61\x96\x9b\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a"
                       "\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb\xf3\xdf\xbf";
    CHECK(jwt_b64url_decode(all, 64, false, &out, &len, &bad) == 0 && len == 48 &&
          memcmp(out, want, 48) == 0);
    free(out);
    CHECK(jwt_b64url_decode("Zm9vYmFy", 8, false, &out, &len, &bad) == 0 && len == 6 &&
          memcmp(out, "foobar", 6) == 0);
    free(out);
    CHECK(jwt_b64url_decode("Zm9vYg", 6, false, &out, &len, &bad) == 0 && len == 4 &&
          memcmp(out, "foob", 4) == 0);
    free(out);
    /* Bits past the last byte are not checked, as in Go's decoder. */
    CHECK(jwt_b64url_decode("QR", 2, false, &out, &len, &bad) == 0 && len == 1 && out[0] == 'A');
    free(out);
    CHECK(jwt_b64url_decode("QR==", 4, true, &out, &len, &bad) == 0 && len == 1 && out[0] == 'A');
    free(out);
}

static void test_jwks(void)
{
    struct jwks *set;
    char err[200];

    CHECK(jwks_parse(VEC_JWKS, strlen(VEC_JWKS), &keys, on_skip, NULL, err, sizeof(err)) == 0);
    CHECK(skipped == 1);
    CHECK(jwks_count(keys) == 2);
    CHECK(jwks_find(keys, "rsa-1") && jwks_find(keys, "ec-1") && !jwks_find(keys, "sym"));
    CHECK_STR(jwks_kid(keys, 0), "rsa-1");

    CHECK(jwks_parse("[]", 2, &set, NULL, NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "\"keys\"") != NULL);
    CHECK(jwks_parse("{\"keys\":[]}", 11, &set, NULL, NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "no usable") != NULL);
    CHECK(jwks_parse("{\"keys\":", 8, &set, NULL, NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "not JSON") != NULL);
    /* A key that claims another algorithm is left out; a short RSA key too. */
    const char *small = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"s\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                        "{\"kty\":\"EC\",\"kid\":\"c\",\"crv\":\"P-192\",\"x\":\"AA\",\"y\":\"AA\"},"
                        "{\"kty\":\"RSA\",\"kid\":\"h\",\"alg\":\"HS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
    CHECK(jwks_parse(small, strlen(small), &set, NULL, NULL, err, sizeof(err)) == -1);
}

static void test_tokens(void)
{
    double now = VEC_NOW;

    CHECK(run(VEC_TOKEN_RS256, "dev:fn", now, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_PS256, "dev:fn", now, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_ES256, "dev:fn", now, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_AUD_STRING, "dev:fn", now, NULL) == JWT_OK);
    /* exp and nbf, with one second of leeway */
    CHECK(run(VEC_TOKEN_RS256, "dev:fn", now + 600.5, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_RS256, "dev:fn", now + 601, "token has invalid claims: token is expired") ==
          JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_RS256, "dev:fn", now - 11, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_RS256, "dev:fn", now - 11.5, "token is not valid yet") == JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_WRONG_ISS, "dev:fn", now, "token has invalid issuer") == JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_NO_AUD, "dev:fn", now, "aud claim is required") == JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_BAD_TYPE, "dev:fn", now, "invalid type for claim exp") == JWT_UNAUTHORIZED);
    /* keys */
    CHECK(run(VEC_TOKEN_NO_KID, "dev:fn", now, "invalid kid: <nil>") == JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_UNKNOWN_KID, "dev:fn", now, "invalid kid: rsa-9") == JWT_UNKNOWN_KID);
    CHECK(run(VEC_TOKEN_ES256_WITH_RSA_KID, "dev:fn", now,
              "key is of invalid type: ECDSA verify expects *ecdsa.PublicKey") ==
          JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_TAMPERED, "dev:fn", now, "crypto/rsa: verification error") ==
          JWT_UNAUTHORIZED);
    /* refused algorithms and forgeries */
    /* golang-jwt's Verify, given the JWKS public key */
    CHECK(run(VEC_TOKEN_HS256, "dev:fn", now,
              "token signature is invalid: key is of invalid type: HMAC verify expects []byte") ==
          JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_NONE, "dev:fn", now,
              "token signature is invalid: token is unverifiable: 'none' signature type is not "
              "allowed") == JWT_UNAUTHORIZED);
    CHECK(run(VEC_TOKEN_DUP_ALG, "dev:fn", now, "could not JSON decode header") == JWT_UNAUTHORIZED);
    /* malformed */
    CHECK(run("abc", "dev:fn", now, "invalid number of segments") == JWT_UNAUTHORIZED);
    CHECK(run("a.b.c.d", "dev:fn", now, "invalid number of segments") == JWT_UNAUTHORIZED);
    CHECK(run("!.e30.", "dev:fn", now, "could not base64 decode header") == JWT_UNAUTHORIZED);
    CHECK(run("e30.e30.", "dev:fn", now, "signing method (alg) is unspecified") == JWT_UNAUTHORIZED);
    CHECK(run("eyJhbGciOiJYWVoifQ.e30.", "dev:fn", now, "signing method (alg) is unavailable") ==
          JWT_UNAUTHORIZED);
    /* encoding/json's words, as golang-jwt passes them on */
    CHECK(run("W10.e30.", "dev:fn", now,
              "could not JSON decode header: json: cannot unmarshal array into Go value of type "
              "map[string]interface {}") == JWT_UNAUTHORIZED);
    CHECK(run("eyJhIjoxfQ.MTI.", "dev:fn", now,
              "could not JSON decode claim: json: cannot unmarshal number into Go value of type "
              "auth.FunctionClaims") == JWT_UNAUTHORIZED);
    CHECK(run("abc.def.ghi", "dev:fn", now,
              "token is malformed: could not JSON decode header: invalid character 'i' looking "
              "for beginning of value") == JWT_UNAUTHORIZED);
    CHECK(run("Jw.e30.", "dev:fn", now, "invalid character '\\'' looking for") ==
          JWT_UNAUTHORIZED);
    CHECK(run("AQ.e30.", "dev:fn", now, "invalid character '\\x01' looking for") ==
          JWT_UNAUTHORIZED);
    CHECK(run("Cw.e30.", "dev:fn", now, "invalid character '\\v' looking for") ==
          JWT_UNAUTHORIZED);
    CHECK(run("gA.e30.", "dev:fn", now, "invalid character '\\u0080' looking for") ==
          JWT_UNAUTHORIZED);
    CHECK(run("6Q.e30.", "dev:fn", now, "invalid character '\xc3\xa9' looking for") ==
          JWT_UNAUTHORIZED);
    CHECK(run(".e30.", "dev:fn", now,
              "could not JSON decode header: unexpected end of JSON input") == JWT_UNAUTHORIZED);
    CHECK(run("IA.e30.", "dev:fn", now,
              "could not JSON decode header: unexpected end of JSON input") == JWT_UNAUTHORIZED);
    CHECK(run("e30..", "dev:fn", now, "could not JSON decode claim: unexpected end of JSON input") ==
          JWT_UNAUTHORIZED);
    /* null decodes to nothing */
    CHECK(run("bnVsbA.e30.", "dev:fn", now, "signing method (alg) is unspecified") ==
          JWT_UNAUTHORIZED);
    /* the function claim: permissions ["dev:fn"], audience ["dev:*"] */
    CHECK(run(VEC_TOKEN_RS256, "dev:fn2", now, "insufficient permissions") == JWT_FORBIDDEN);
    CHECK(run(VEC_TOKEN_RS256, "staging:fn", now, "insufficient permissions") == JWT_FORBIDDEN);
    CHECK(run(VEC_TOKEN_OTHER_FN, "dev:fn", now, NULL) == JWT_FORBIDDEN);
    CHECK(run(VEC_TOKEN_OTHER_FN, "dev:fn2", now, NULL) == JWT_OK);
    CHECK(run(VEC_TOKEN_NO_FUNCTION, "dev:fn", now, NULL) == JWT_FORBIDDEN);
}

static void test_info(void)
{
    struct jwt_check chk = {keys, VEC_ISSUER, "dev:fn", VEC_NOW};
    struct jwt_info info;
    char why[256];

    CHECK(jwt_check_token(&chk, VEC_TOKEN_ES256, strlen(VEC_TOKEN_ES256), &info, why,
                          sizeof(why)) == JWT_OK);
    CHECK_STR(info.kid, "ec-1");
    CHECK(info.claims && strstr(info.claims, "\"permissions\":[\"dev:fn\"]"));
    jwt_info_free(&info);
}

/* A token's signature is checked once per key set; its claims on every
 * use; a changed byte is a different token; the oldest is forgotten. */
static void test_verified_once(void)
{
    struct jwks *set = NULL;
    char err[256], why[256];
    unsigned char d[JWKS_DIGEST_LEN], other[JWKS_DIGEST_LEN];
    const char *tok = VEC_TOKEN_ES256;
    size_t len = strlen(tok);

    CHECK(jwks_parse(VEC_JWKS, strlen(VEC_JWKS), &set, NULL, NULL, err, sizeof(err)) == 0);
    if (!set)
        return;
    struct jwt_check chk = {set, VEC_ISSUER, "dev:fn", VEC_NOW};
    CHECK(jwks_token_digest(tok, len, d) == 0);
    CHECK(!jwks_verified_before(set, d));
    CHECK(jwt_check_token(&chk, tok, len, NULL, why, sizeof(why)) == JWT_OK);
    CHECK(jwks_verified_before(set, d));
    CHECK(jwt_check_token(&chk, tok, len, NULL, why, sizeof(why)) == JWT_OK);
    /* claims still checked on a remembered token */
    chk.now = VEC_NOW + 601;
    CHECK(jwt_check_token(&chk, tok, len, NULL, why, sizeof(why)) == JWT_UNAUTHORIZED);
    CHECK(strstr(why, "token is expired") != NULL);
    chk.now = VEC_NOW;
    /* a byte of the signature changed (not the last character, whose low
     * bits are padding): checked, refused, not remembered */
    char *bad = strdup(tok);
    CHECK(bad != NULL);
    if (bad) {
        bad[len - 10] = bad[len - 10] == 'A' ? 'B' : 'A';
        CHECK(jwt_check_token(&chk, bad, len, NULL, why, sizeof(why)) == JWT_UNAUTHORIZED);
        CHECK(strstr(why, "crypto/ecdsa: verification error") != NULL);
        CHECK(jwks_token_digest(bad, len, other) == 0 && !jwks_verified_before(set, other));
        free(bad);
    }
    /* the newest JWKS_REMEMBERED are kept */
    for (int i = 0; i < JWKS_REMEMBERED; i++) {
        memset(other, 0, sizeof(other));
        memcpy(other, &i, sizeof(i));
        jwks_remember_verified(set, other);
    }
    CHECK(!jwks_verified_before(set, d));
    CHECK(jwks_verified_before(set, other));
    jwks_free(set);
}

int main(void)
{
    test_patterns();
    test_base64url();
    test_jwks();
    test_tokens();
    test_info();
    test_verified_once();
    jwks_free(keys);
    return check_done("jwt");
}
