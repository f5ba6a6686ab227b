/* plainreq.c: which request heads are read without llhttp, and what they
 * are split into. */
#include <llhttp.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "plainreq.h"

static size_t split(const char *head, struct plainreq *r)
{
    return plainreq_split(head, strlen(head), r);
}

static bool field_is(const struct plainreq *r, size_t i, const char *name, const char *value)
{
    const struct plainreq_field *f = &r->fields[i];
    return i < r->nfields && f->name_len == strlen(name) &&
           memcmp(f->name, name, f->name_len) == 0 && f->value_len == strlen(value) &&
           memcmp(f->value, value, f->value_len) == 0;
}

static void test_taken(void)
{
    struct plainreq r;
    const char *get = "GET /a?b=c%20d HTTP/1.1\r\nHost: x:8080\r\nX-Sp:  a b \t\r\n"
                      "x-empty:\r\n\r\nNEXT";
    CHECK(split(get, &r) == strlen(get) - 4);
    CHECK(r.method == HTTP_GET && r.minor == 1 && r.flags == 0);
    CHECK(r.target_len == 10 && memcmp(r.target, "/a?b=c%20d", 10) == 0);
    CHECK(r.nfields == 3);
    CHECK(field_is(&r, 0, "Host", "x:8080"));
    CHECK(field_is(&r, 1, "X-Sp", "a b"));
    CHECK(field_is(&r, 2, "x-empty", ""));

    const char *post = "POST / HTTP/1.0\r\ncontent-length: 0\r\nConnection:keep-alive\r\n\r\n";
    CHECK(split(post, &r) == strlen(post));
    CHECK(r.method == HTTP_POST && r.minor == 0);
    CHECK(r.flags == (F_CONTENT_LENGTH | F_CONNECTION_KEEP_ALIVE));

    CHECK(split("DELETE /x HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", &r) > 0);
    CHECK(r.method == HTTP_DELETE && r.flags == F_CONNECTION_CLOSE);
    CHECK(split("OPTIONS / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HTTP_OPTIONS);
    CHECK(split("PATCH / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HTTP_PATCH);
    CHECK(split("HEAD / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HTTP_HEAD);
    CHECK(split("PUT / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HTTP_PUT);
}

/* Each of these is left to llhttp. */
static void test_left(void)
{
    static const char *const heads[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n",                      /* not whole */
        "GET / HTTP/1.1\r\nHost: x\r\n\r",
        "QUERY / HTTP/1.1\r\n\r\n",                           /* an unknown method */
        "get / HTTP/1.1\r\n\r\n",
        "CONNECT h:443 HTTP/1.1\r\n\r\n",
        "GET http://h/ HTTP/1.1\r\n\r\n",                     /* not origin-form */
        "GET * HTTP/1.1\r\n\r\n",
        "GET /a#f HTTP/1.1\r\n\r\n",                          /* not an ordinary byte */
        "GET /a\"b HTTP/1.1\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",                            /* the request line's spaces */
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\n\r\n",                               /* line ends */
        "GET / HTTP/1.1\r\nHost: x\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\n",
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",                 /* names */
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET / HTTP/1.1\r\nX_Y: x\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: \x01\r\n\r\n",               /* values */
        "GET / HTTP/1.1\r\nHost: \x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",  /* framing */
        "POST / HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0 \r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length:  0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: close\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.1\r\nProxy-Connection: close\r\n\r\n",
    };
    struct plainreq r;
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        if (split(heads[i], &r) != 0)
            fprintf(stderr, "taken: %s\n", heads[i]);
        CHECK(split(heads[i], &r) == 0);
    }
}

static void test_many_fields(void)
{
    char head[2048] = "GET / HTTP/1.1\r\n";
    struct plainreq r;
    for (int i = 0; i < PLAINREQ_FIELDS; i++)
        strcat(head, "A: b\r\n");
    strcat(head, "\r\n");
    CHECK(split(head, &r) == strlen(head) && r.nfields == PLAINREQ_FIELDS);
    strcpy(head + strlen(head) - 2, "A: b\r\n\r\n");
    CHECK(split(head, &r) == 0);
}

int main(void)
{
    test_taken();
    test_left();
    test_many_fields();
    return check_done("plainreq");
}
