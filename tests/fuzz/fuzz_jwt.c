/* libFuzzer target: the token and key-set parsing of jwt_auth, which read
 * whatever a client (the token) or the issuer (the key set) sends.
 * The first byte picks what the rest is:
 *   0  a key set document (jwks_parse)
 *   1  a token, checked against the fixed key set of jwt_vectors.h
 *   2  a pattern, a NUL, a function reference (jwt_pattern_match) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: fuzz_keyset(data + 1, size - 1); break;
    case 1: fuzz_token(data + 1, size - 1); break;
    default: fuzz_pattern(data + 1, size - 1); break;
    }
    return 0;
}
