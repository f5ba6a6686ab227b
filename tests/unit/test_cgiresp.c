/* cgiresp: the CGI header block ahead of a function's body. */
#include <stdlib.h>
#include <string.h>

#include "cgiresp.h"
#include "check.h"

/* Feed the whole of s at once; the state, *used gets what was taken. */
static enum cgiresp_state feed_str(struct cgiresp *p, const char *s, size_t *used)
{
    return cgiresp_feed(p, s, strlen(s), used);
}

static void test_block_and_body(void)
{
    const char *out = "Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  b c \r\n\r\nbody";
    struct cgiresp p;
    size_t used = 0;
    cgiresp_init(&p, CGIRESP_MAX);
    CHECK(feed_str(&p, out, &used) == CGIRESP_DONE);
    CHECK(used == strlen(out) - 4);
    CHECK(cgiresp_status(&p) == 404);
    CHECK(p.nheaders == 2);
    CHECK_STR(p.headers[0].name, "Content-Type");
    CHECK(p.headers[0].name_len == 12);
    CHECK_STR(p.headers[0].value, "text/plain");
    CHECK(p.headers[0].value_len == 10);
    CHECK_STR(p.headers[1].name, "X-A");
    CHECK_STR(p.headers[1].value, "b c");
    CHECK(p.headers[1].value_len == 3);
    CHECK_STR(cgiresp_header(&p, "content-type"), "text/plain");
    CHECK(cgiresp_header(&p, "Status") == NULL);
    /* Done: nothing more is taken. */
    CHECK(feed_str(&p, "more", &used) == CGIRESP_DONE && used == 0);
    cgiresp_free(&p);
}

/* The same block fed in two pieces split at every offset, and byte by
 * byte, gives the same answer as fed whole. */
static void test_any_split(void)
{
    const char *out = "Content-Type: application/json\nSet-Cookie: a=1\nSet-Cookie: b=2\n"
                      "Status: 201\n\n{\"ok\":true}";
    size_t block = strlen(out) - strlen("{\"ok\":true}");
    for (size_t cut = 0; cut <= strlen(out); cut++) {
        struct cgiresp p;
        size_t u1 = 0, u2 = 0;
        cgiresp_init(&p, CGIRESP_MAX);
        enum cgiresp_state st = cgiresp_feed(&p, out, cut, &u1);
        if (st == CGIRESP_MORE)
            st = cgiresp_feed(&p, out + cut, strlen(out) - cut, &u2);
        CHECK(st == CGIRESP_DONE);
        CHECK(u1 + u2 == block);
        CHECK(cgiresp_status(&p) == 201);
        CHECK(p.nheaders == 3);
        CHECK(p.nheaders == 3 && strcmp(p.headers[1].value, "a=1") == 0 &&
              strcmp(p.headers[2].value, "b=2") == 0);
        cgiresp_free(&p);
    }
    struct cgiresp p;
    size_t used, total = 0;
    enum cgiresp_state st = CGIRESP_MORE;
    cgiresp_init(&p, CGIRESP_MAX);
    for (size_t i = 0; i < strlen(out) && st == CGIRESP_MORE; i++) {
        st = cgiresp_feed(&p, out + i, 1, &used);
        total += used;
    }
    CHECK(st == CGIRESP_DONE && total == block);
    CHECK_STR(cgiresp_header(&p, "CONTENT-TYPE"), "application/json");
    cgiresp_free(&p);
}

/* The state and status a whole output gives, ended after it. */
static enum cgiresp_state parse(const char *out, int *status, char *error, size_t errlen)
{
    struct cgiresp p;
    size_t used;
    cgiresp_init(&p, CGIRESP_MAX);
    enum cgiresp_state st = feed_str(&p, out, &used);
    st = cgiresp_end(&p);
    *status = st == CGIRESP_DONE ? cgiresp_status(&p) : 0;
    snprintf(error, errlen, "%s", st == CGIRESP_ERROR ? p.error : "");
    cgiresp_free(&p);
    return st;
}

static void test_status(void)
{
    static const struct {
        const char *out;
        int status;         /* 0: an error */
    } cases[] = {
        {"\n", 200},
        {"\r\n", 200},
        {"X-A: b\n\n", 200},
        {"Status: 200\n\n", 200},
        {"Status: 599 Whatever\n\n", 599},
        {"status:418\n\n", 418},
        {"Status: 301 Moved\nLocation: https://example.com/\n\n", 301},
        {"Location: https://example.com/x\n\n", 302},
        {"Location: x-app+1.2:thing\n\n", 302},
        {"Location: /local/path\n\n", 200},
        {"Location: //host/path\n\n", 200},
        {"Location: 1http://x/\n\n", 200},
        {"Status: 204\nLocation: http://x/\n\n", 204},
        {"Status: 199\n\n", 0},
        {"Status: 100\n\n", 0},
        {"Status: 600\n\n", 0},
        {"Status: 40\n\n", 0},
        {"Status: 4040\n\n", 0},
        {"Status: abc\n\n", 0},
        {"Status: 404Not Found\n\n", 0},
        {"Status:\n\n", 0},
        {"Status: 200\nStatus: 404\n\n", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status;
        char err[96];
        enum cgiresp_state st = parse(cases[i].out, &status, err, sizeof(err));
        if (cases[i].status) {
            CHECK(st == CGIRESP_DONE);
            CHECK(status == cases[i].status);
        } else {
            CHECK(st == CGIRESP_ERROR);
            CHECK(strstr(err, "Status") != NULL);
        }
        if ((cases[i].status == 0) != (st == CGIRESP_ERROR) || status != cases[i].status)
            fprintf(stderr, "  case %zu: %s", i, cases[i].out);
    }
}

static void test_errors(void)
{
    static const struct {
        const char *out;
        size_t len;         /* 0: strlen */
        const char *error;
    } cases[] = {
        {"hello world\n\nbody", 0, "line 1 has no colon"},
        {"X-A: b\nnot a header\n\n", 0, "line 2 has no colon"},
        {": empty name\n\n", 0, "line 1: invalid header name"},
        {"X A: b\n\n", 0, "line 1: invalid header name"},
        {"X-A : b\n\n", 0, "line 1: invalid header name"},
        {"X-A: b\n folded\n\n", 0, "line 2 has no colon"},
        {"X-A: b\n X-B: c\n\n", 0, "line 2: invalid header name"},
        {"X-\x01: b\n\n", 0, "line 1: invalid header name"},
        {"X-A: b\rc\n\n", 0, "line 1: invalid header value"},
        {"X-A: b\x01\n\n", 0, "line 1: invalid header value"},
        {"X-A: b\x7f\n\n", 0, "line 1: invalid header value"},
        {"X-A: b\0c\n\n", 10, "line 1: invalid header value"},
        {"X-\0A: b\n\n", 9, "line 1: invalid header name"},
        {"\r\r\n", 0, "line 1 has no colon"},
        {"", 0, "output ended before the empty line that ends the header block"},
        {"Status: 200\n", 0, "output ended before the empty line that ends the header block"},
        {"Status: 200\n\r", 0, "output ended before the empty line that ends the header block"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cgiresp p;
        size_t used, len = cases[i].len ? cases[i].len : strlen(cases[i].out);
        cgiresp_init(&p, CGIRESP_MAX);
        cgiresp_feed(&p, cases[i].out, len, &used);
        CHECK(cgiresp_end(&p) == CGIRESP_ERROR);
        CHECK_STR(p.error, cases[i].error);
        /* An error stays an error and takes nothing more. */
        CHECK(feed_str(&p, "\n", &used) == CGIRESP_ERROR && used == 0);
        cgiresp_free(&p);
    }
}

/* Values: obs-text and tabs kept, spaces around trimmed, empty allowed. */
static void test_values(void)
{
    struct cgiresp p;
    size_t used;
    cgiresp_init(&p, CGIRESP_MAX);
    CHECK(feed_str(&p, "X-Latin: caf\xe9\nX-Tab:\ta\tb\t\nX-Empty:\nX-Spaces:    \n\n", &used) ==
          CGIRESP_DONE);
    CHECK(p.nheaders == 4);
    CHECK_STR(cgiresp_header(&p, "X-Latin"), "caf\xe9");
    CHECK_STR(cgiresp_header(&p, "X-Tab"), "a\tb");
    CHECK_STR(cgiresp_header(&p, "X-Empty"), "");
    CHECK_STR(cgiresp_header(&p, "X-Spaces"), "");
    CHECK(p.nheaders == 4 && p.headers[3].value_len == 0);
    cgiresp_free(&p);
}

static void test_owned_headers_left_out(void)
{
    struct cgiresp p;
    size_t used;
    cgiresp_init(&p, CGIRESP_MAX);
    CHECK(feed_str(&p, "Content-Length: 5\ntransfer-encoding: chunked\nConnection: close\n"
                       "Keep-Alive: 5\nTE: trailers\nTrailer: X\nUpgrade: h2c\nDate: x\n"
                       "X-Duration-Seconds: 1\nProxy-Connection: close\nX-Kept: yes\n\n",
                   &used) == CGIRESP_DONE);
    CHECK(p.nheaders == 1);
    CHECK_STR(cgiresp_header(&p, "X-Kept"), "yes");
    cgiresp_free(&p);
    CHECK(cgiresp_owned("content-length", 14));
    CHECK(cgiresp_owned("CONNECTION", 10));
    CHECK(cgiresp_owned("Date", 4));
    CHECK(!cgiresp_owned("Content-Type", 12));
    CHECK(!cgiresp_owned("Location", 8));
    CHECK(!cgiresp_owned("Dates", 5));
    CHECK(!cgiresp_owned("Dat", 3));
}

/* The bound counts the block's bytes, empty line included. */
static void test_bound(void)
{
    char out[80];
    struct cgiresp p;
    size_t used;
    /* 31 bytes of block: exactly the bound is fine. */
    memcpy(out, "X-A: 0123456789012345678901\r\n\r\nbody", 36);
    cgiresp_init(&p, 31);
    CHECK(cgiresp_feed(&p, out, 35, &used) == CGIRESP_DONE);
    CHECK(used == 31);
    cgiresp_free(&p);
    /* One byte fewer allowed: an error, whether fed whole or bytewise. */
    cgiresp_init(&p, 30);
    CHECK(cgiresp_feed(&p, out, 35, &used) == CGIRESP_ERROR);
    CHECK_STR(p.error, "no empty line within 30 bytes");
    cgiresp_free(&p);
    cgiresp_init(&p, 30);
    enum cgiresp_state st = CGIRESP_MORE;
    for (size_t i = 0; i < 35 && st == CGIRESP_MORE; i++)
        st = cgiresp_feed(&p, out + i, 1, &used);
    CHECK(st == CGIRESP_ERROR);
    cgiresp_free(&p);
    /* A line that never ends, longer than the bound. */
    char *big = malloc(CGIRESP_MAX + 10);
    if (!big)
        return;
    memset(big, 'a', CGIRESP_MAX + 10);
    memcpy(big, "X-Big: ", 7);
    cgiresp_init(&p, CGIRESP_MAX);
    CHECK(cgiresp_feed(&p, big, CGIRESP_MAX / 2, &used) == CGIRESP_MORE);
    CHECK(cgiresp_feed(&p, big + CGIRESP_MAX / 2, CGIRESP_MAX / 2 + 10, &used) == CGIRESP_ERROR);
    CHECK_STR(p.error, "no empty line within 65536 bytes");
    cgiresp_free(&p);
    free(big);
}

/* Reused after cgiresp_free, as a fresh parser. */
static void test_reuse(void)
{
    struct cgiresp p;
    size_t used;
    cgiresp_init(&p, CGIRESP_MAX);
    CHECK(feed_str(&p, "junk\n", &used) == CGIRESP_ERROR);
    cgiresp_free(&p);
    CHECK(p.max == CGIRESP_MAX && p.state == CGIRESP_MORE && p.nheaders == 0);
    CHECK(feed_str(&p, "Status: 503\n\n", &used) == CGIRESP_DONE);
    CHECK(cgiresp_status(&p) == 503);
    cgiresp_free(&p);
    cgiresp_free(&p);
}

int main(void)
{
    test_block_and_body();
    test_any_split();
    test_status();
    test_errors();
    test_values();
    test_owned_headers_left_out();
    test_bound();
    test_reuse();
    return check_done("cgiresp");
}
