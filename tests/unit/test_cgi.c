#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "check.h"

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

/* The value of name in env, NULL when absent. */
static const char *get(char **env, const char *name)
{
    size_t n = strlen(name);

    for (; *env; env++) {
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    }
    return NULL;
}

static size_t count(char **env, const char *name)
{
    size_t n = strlen(name), c = 0;

    for (; *env; env++)
        c += strncmp(*env, name, n) == 0 && (*env)[n] == '=';
    return c;
}

static void check_name(const char *in, const char *want)
{
    char out[128] = {0};

    cgi_env_name(in, strlen(in), out);
    CHECK_STR(out, want);
}

static void test_names(void)
{
    check_name("X-Call-Id", "X_Call_Id");
    check_name("content-type", "Content_Type");
    check_name("CONTENT-TYPE", "Content_Type");
    check_name("x-forwarded-for", "X_Forwarded_For");
    check_name("accept", "Accept");
    check_name("x_under_score", "X_under_score");
    check_name("x-1a", "X_1a");
    check_name("-lead", "_Lead");
    check_name("a--b", "A__B");
    check_name("WWW-Authenticate", "Www_Authenticate");
    check_name("x-custom.v2", "X_Custom.v2");
    /* A byte outside the token set: left as is (only '-' -> '_'). */
    check_name("bad header-x", "bad header_x");
    check_name("x-\xc3\xa9t\xc3\xa9", "x_\xc3\xa9t\xc3\xa9");
}

static void test_env(void)
{
    char *base[] = {"PATH=/usr/bin", "HOME=/root", "Http_X_Call_Id=stale",
                    "Http_Method=BOGUS", "Http_Query=stale", "Http_Other=kept", NULL};
    struct header hs[] = {
        H("X-Call-Id", "abc"),
        H("content-type", "text/plain"),
        H("Accept", "a/b"),
        H("ACCEPT", "c/d"),
        H("accept", "e/f"),
        H("Host", "spoof"),
        H("Content-Length", "999"),
        H("Transfer-Encoding", "spoof"),
        H("Proxy", "http://evil"),
        H("proxy", "http://evil"),
        H("Method", "DELETE"),
        H("X-Multi", "line1\r\nline2\0end"),
        H("X-Empty", ""),
    };
    struct cgi_request req = {
        .method = "POST", .path = "/fn/x", .query = "a=1&b=2", .host = "example.com:8080",
        .content_length = "42", .content_length_old = "42", .transfer_encoding = NULL,
        .headers = hs, .nheaders = sizeof(hs) / sizeof(hs[0]),
    };
    char **env = cgi_build_env(base, &req);

    CHECK(env != NULL);
    if (!env)
        return;
    /* Base pointers are reused, not copied. */
    CHECK(get(env, "PATH") == base[0] + 5);
    CHECK(get(env, "HOME") == base[1] + 5);
    CHECK(get(env, "Http_Other") == base[5] + 11);

    CHECK_STR(get(env, "Http_X_Call_Id"), "abc");
    CHECK_STR(get(env, "Http_Content_Type"), "text/plain");
    CHECK_STR(get(env, "Http_Accept"), "a/b, c/d, e/f");
    CHECK_STR(get(env, "Http_X_Multi"), "line1  line2 end");
    CHECK_STR(get(env, "Http_X_Empty"), "");
    CHECK_STR(get(env, "Http_Method"), "POST");
    CHECK_STR(get(env, "Http_Path"), "/fn/x");
    CHECK_STR(get(env, "Http_Query"), "a=1&b=2");
    CHECK_STR(get(env, "Http_Host"), "example.com:8080");
    CHECK_STR(get(env, "Http_Content_Length"), "42");
    CHECK_STR(get(env, "Http_ContentLength"), "42");
    CHECK(get(env, "Http_Transfer_Encoding") == NULL);
    CHECK(get(env, "Http_Proxy") == NULL);

    /* Every name once: ours replace the base and header copies. */
    CHECK(count(env, "Http_X_Call_Id") == 1);
    CHECK(count(env, "Http_Method") == 1);
    CHECK(count(env, "Http_Host") == 1);
    CHECK(count(env, "Http_Content_Length") == 1);
    CHECK(count(env, "Http_Query") == 1);
    CHECK(count(env, "Http_Accept") == 1);

    size_t n = 0;
    while (env[n])
        n++;
    /* PATH HOME Http_Other, 5 header variables, 6 fixed ones. */
    CHECK(n == 14);
    free(env);
}

static void test_no_query_chunked(void)
{
    char *base[] = {"Http_Query=stale", NULL};
    struct header hs[] = {H("X-A", "1"), H("x-a", "2"), H("X_A", "3")};
    struct cgi_request req = {
        .method = "GET", .path = "/", .query = "", .host = NULL,
        .content_length = NULL, .transfer_encoding = "chunked",
        .headers = hs, .nheaders = 3,
    };
    char **env = cgi_build_env(base, &req);

    CHECK(env != NULL);
    if (!env)
        return;
    CHECK(get(env, "Http_Query") == NULL);
    /* of-watchdog's set: no Http_Host, no Http_Content_Length when chunked. */
    CHECK(get(env, "Http_Host") == NULL);
    CHECK(get(env, "Http_Content_Length") == NULL);
    CHECK(get(env, "Http_ContentLength") == NULL);
    CHECK_STR(get(env, "Http_Transfer_Encoding"), "chunked");
    CHECK_STR(get(env, "Http_X_A"), "1, 2");
    CHECK_STR(get(env, "Http_X_a"), "3");
    free(env);
}

static void test_empty(void)
{
    struct cgi_request req = {
        .method = "GET", .path = "/", .query = "", .host = "h",
        .content_length = "0", .headers = NULL, .nheaders = 0,
    };
    char **env = cgi_build_env(NULL, &req);

    CHECK(env != NULL);
    if (!env)
        return;
    CHECK_STR(env[0], "Http_Method=GET");
    CHECK_STR(env[1], "Http_Path=/");
    CHECK_STR(env[2], "Http_Host=h");
    CHECK_STR(env[3], "Http_Content_Length=0");
    CHECK(env[4] == NULL);
    free(env);
}

/* Many headers, most repeated: grouping must stay fast and exact. */
static void test_many(void)
{
    size_t n = 20000;
    struct header *hs = calloc(n, sizeof(*hs));
    char names[4][8] = {"a", "B", "c-d", "A"};
    struct cgi_request req = {
        .method = "GET", .path = "/", .query = "", .host = NULL,
        .content_length = NULL, .headers = hs, .nheaders = n,
    };
    char **env;

    for (size_t i = 0; i < n; i++)
        hs[i] = (struct header){names[i % 4], strlen(names[i % 4]), "v", 1};
    env = cgi_build_env(NULL, &req);
    CHECK(env != NULL);
    if (env) {
        const char *a = get(env, "Http_A");
        CHECK(a && strlen(a) == (n / 2) * 3 - 2); /* "v, v, ..." */
        CHECK(count(env, "Http_A") == 1);
        CHECK(get(env, "Http_B") != NULL);
        CHECK(get(env, "Http_C_D") != NULL);
        free(env);
    }
    free(hs);
}

static void test_header_find(void)
{
    /* Names in canonical case, as the parsers keep them. */
    const struct header h[] = {
        {"Content-Type", 12, "text/plain", 10},
        {"X-Rep", 5, "one", 3},
        {"X-Rep", 5, "two", 3},
    };
    CHECK_STR(header_find(h, 3, "Content-Type"), "text/plain");
    CHECK_STR(header_find(h, 3, "X-Rep"), "one");
    CHECK(header_find(h, 3, "X-Re") == NULL);
    CHECK(header_find(h, 3, "X-Reps") == NULL);
    CHECK(header_find(h, 0, "X-Rep") == NULL);
}

int main(void)
{
    test_names();
    test_env();
    test_no_query_chunked();
    test_empty();
    test_many();
    test_header_find();
    return check_done("test_cgi");
}
