/* libFuzzer target: the token and key-set parsing of jwt_auth, which read
 * whatever a client (the token) or the issuer (the key set) sends.
 * The first byte picks what the rest is:
 *   0  a key set document (jwks_parse)
 *   1  a token, checked against the fixed key set of jwt_vectors.h
 *   2  a pattern, a NUL, a function reference (jwt_pattern_match)
 *   3  JSON for Go's syntax check (gojson_check), held against jansson */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gojson.h"
#include "jwks.h"
#include "jwt.h"
#include "../unit/jwt_vectors.h"

static struct jwks *fixed_keys(void)
{
    static struct jwks *keys;
    char err[200];
    if (!keys && jwks_parse(VEC_JWKS, strlen(VEC_JWKS), &keys, NULL, NULL, err, sizeof(err)) != 0)
        abort();
    return keys;
}

static void fuzz_keyset(const uint8_t *data, size_t size)
{
    struct jwks *set;
    char err[200];
    if (jwks_parse((const char *)data, size, &set, NULL, NULL, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < jwks_count(set); i++)
            if (jwks_find(set, jwks_kid(set, i)) == NULL)
                abort();
        jwks_free(set);
    }
}

static void fuzz_token(const uint8_t *data, size_t size)
{
    struct jwt_check chk = {fixed_keys(), VEC_ISSUER, "dev:fn", VEC_NOW};
    struct jwt_info info;
    char why[512];
    /* The watchdog hands over a NUL-terminated header value. */
    char *tok = malloc(size + 1);
    if (!tok)
        return;
    memcpy(tok, data, size);
    tok[size] = '\0';
    enum jwt_result r = jwt_check_token(&chk, tok, strlen(tok), &info, why, sizeof(why));
    if (r != JWT_OK && why[0] == '\0')
        abort(); /* every refusal says why */
    jwt_info_free(&info);
    free(tok);
}

static void fuzz_pattern(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    const char *ref = buf + strlen(buf) + 1;
    if (ref > buf + size)
        ref = "";
    bool m = jwt_pattern_match(buf, ref);
    /* A pattern always matches itself when it holds no star... */
    if (!strchr(buf, '*') && !jwt_pattern_match(buf, buf))
        abort();
    /* ...and a star-free pattern matches only an equal reference. */
    if (!strchr(buf, '*') && m != (strcmp(buf, ref) == 0))
        abort();
    free(buf);
}

/* jansson refuses all that Go's scanner refuses (and more: \u0000, bad
 * UTF-8, deep nesting): what it takes, the scanner must take too. But
 * jansson reads a NUL byte outside a string as the end of its input, where
 * Go sees a bad character: such input is only scanned. */
static void fuzz_json(const uint8_t *data, size_t size)
{
    char buf[128];
    const char *err = gojson_check(data, size, buf, sizeof(buf));
    if (err && strncmp(err, "invalid character ", 18) != 0 &&
        strcmp(err, "unexpected end of JSON input") != 0)
        abort();
    if (memchr(data, '\0', size))
        return;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                           &jerr);
    if (v && err)
        abort();
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_keyset(data + 1, size - 1); break;
    case 1: fuzz_token(data + 1, size - 1); break;
    case 3: fuzz_json(data + 1, size - 1); break;
    default: fuzz_pattern(data + 1, size - 1); break;
    }
    return 0;
}
