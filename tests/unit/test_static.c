/* static mode internals: path cleaning, ranges, and both ways of opening
 * beneath the root (openat2 and the realpath fallback, which e2e tests
 * cannot reach on a kernel that has openat2). */
#include "static.c"

#include <stdarg.h>

static int failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static void check_clean(const char *raw, int want_status, const char *want_rel, bool want_slash)
{
    char *rel = NULL;
    bool slash = false;
    int status = clean_path(raw, &rel, &slash);
    CHECK(status == want_status);
    if (status == 0 && want_status == 0) {
        CHECK(strcmp(rel, want_rel) == 0);
        CHECK(slash == want_slash);
    }
    if (status != want_status || (rel && want_rel && strcmp(rel, want_rel) != 0))
        fprintf(stderr, "  clean_path(%s) = %d \"%s\"\n", raw, status, rel ? rel : "");
    free(rel);
}

static void test_clean_path(void)
{
    check_clean("/", 0, "", true);
    check_clean("/a.txt", 0, "a.txt", false);
    check_clean("//a//b/", 0, "a/b", true);
    check_clean("/a/./b/../c", 0, "a/c", false);
    check_clean("/%61%2Fb", 0, "a/b", false);
    check_clean("/a/..", 0, "", false);
    check_clean("/..", 403, NULL, false);
    check_clean("/a/../..", 403, NULL, false);
    check_clean("/%2e%2e/x", 403, NULL, false);
    check_clean("/..%2fx", 403, NULL, false);
    check_clean("/a%00b", 500, NULL, false);
    check_clean("/a\\b", 404, NULL, false);
    check_clean("/%5c", 404, NULL, false);
    check_clean("/%", 400, NULL, false);
    check_clean("/%4", 400, NULL, false);
    check_clean("/%zz", 400, NULL, false);
    check_clean("a.txt", 400, NULL, false);
    check_clean("", 400, NULL, false);
}

static void check_range(const char *h, int64_t size, enum range want, int64_t start, int64_t len)
{
    struct brange one = {-1, -1};
    enum range got = scan_ranges(h, size, &one);
    CHECK(got == want);
    if (got == RANGE_ONE && want == RANGE_ONE)
        CHECK(one.start == start && one.len == len);
    if (got != want || (got == RANGE_ONE && (one.start != start || one.len != len)))
        fprintf(stderr, "  scan_ranges(%s, %lld) = %d [%lld +%lld]\n", h, (long long)size, got,
                (long long)one.start, (long long)one.len);
}

/* As Go 1.19's net/http parseRange and serveContent answer them. */
static void test_ranges(void)
{
    check_range("bytes=0-4", 10, RANGE_ONE, 0, 5);
    check_range("bytes=5-", 10, RANGE_ONE, 5, 5);
    check_range("bytes=-3", 10, RANGE_ONE, 7, 3);
    check_range("bytes=-30", 10, RANGE_ONE, 0, 10);
    check_range("bytes=2-99", 10, RANGE_ONE, 2, 8);
    check_range("bytes= 1 - 3 ", 10, RANGE_ONE, 1, 3);
    check_range("bytes=+1-+3", 10, RANGE_ONE, 1, 3);
    check_range("bytes=0--0", 10, RANGE_ONE, 0, 1);
    check_range("bytes=,,3-3,", 10, RANGE_ONE, 3, 1);
    /* an empty range at the end, and one of an empty file */
    check_range("bytes=-0", 10, RANGE_ONE, 10, 0);
    check_range("bytes=-1", 0, RANGE_ONE, 0, 0);
    /* pieces past the end are dropped while another range is left */
    check_range("bytes=0-1,100-200", 10, RANGE_ONE, 0, 2);
    check_range("bytes=10-", 10, RANGE_UNSATISFIABLE, 0, 0);
    check_range("bytes=10-20,30-", 10, RANGE_UNSATISFIABLE, 0, 0);
    check_range("bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0);
    check_range("bytes=0-1,3-4", 10, RANGE_MANY, 0, 0);
    check_range("bytes=-0,-0", 0, RANGE_MANY, 0, 0);
    /* more bytes than the file: ignored, the whole file is sent */
    check_range("bytes=0-5,3-9", 10, RANGE_NONE, 0, 0);
    check_range("bytes=", 10, RANGE_NONE, 0, 0);
    check_range("bytes=, ,", 10, RANGE_NONE, 0, 0);
    check_range("bytes=4-2", 10, RANGE_BAD, 0, 0);
    check_range("bytes=a-b", 10, RANGE_BAD, 0, 0);
    check_range("bytes=1-2x", 10, RANGE_BAD, 0, 0);
    check_range("bytes=5", 10, RANGE_BAD, 0, 0);
    check_range("bytes=--3", 10, RANGE_BAD, 0, 0);
    check_range("bytes=-", 10, RANGE_BAD, 0, 0);
    check_range("bytes=-+", 10, RANGE_BAD, 0, 0);
    check_range("bytes=0-1,x", 10, RANGE_BAD, 0, 0);
    check_range("bytes=99999999999999999999-", 10, RANGE_BAD, 0, 0);
    check_range("bytes=9223372036854775807-", 10, RANGE_UNSATISFIABLE, 0, 0);
    check_range("bytes=0-9223372036854775808", 10, RANGE_BAD, 0, 0);
    check_range("BYTES=1-1", 10, RANGE_BAD, 0, 0);
    check_range("pages=1-2", 10, RANGE_BAD, 0, 0);
}

static void test_parse_int(void)
{
    int64_t v = 0;
    const char *s = "-9223372036854775808";
    CHECK(parse_int(s, s + strlen(s), &v) && v == INT64_MIN);
    s = "9223372036854775807";
    CHECK(parse_int(s, s + strlen(s), &v) && v == INT64_MAX);
    s = "-0";
    CHECK(parse_int(s, s + strlen(s), &v) && v == 0);
    s = "9223372036854775808";
    CHECK(!parse_int(s, s + strlen(s), &v));
    s = "+";
    CHECK(!parse_int(s, s + strlen(s), &v));
    s = "1_0";
    CHECK(!parse_int(s, s + strlen(s), &v));
}

static void check_parts_length(const char *list, int64_t size, const char *type, int64_t want)
{
    struct parts s = {0};
    s.next = list;
    s.size = size;
    s.type = type;
    memset(s.boundary, 'b', BOUNDARY_LEN);
    int64_t got = parts_length(&s);
    CHECK(got == want);
    if (got != want)
        fprintf(stderr, "  parts_length(%s) = %lld, want %lld\n", list, (long long)got,
                (long long)want);
}

/* Lengths from Go's FileServer for the same files and ranges. */
static void test_parts(void)
{
    check_parts_length("0-1,3-4", 13, "text/plain; charset=utf-8", 346);
    check_parts_length("1-1,3-3,5-5", 51, "text/plain; charset=utf-8", 483);
    check_parts_length("-0,-0", 0, "text/plain; charset=utf-8", 342);
    char a[BOUNDARY_LEN + 1], b[BOUNDARY_LEN + 1];
    make_boundary(a);
    make_boundary(b);
    CHECK(strlen(a) == BOUNDARY_LEN && strspn(a, "0123456789abcdef") == BOUNDARY_LEN);
    CHECK(strcmp(a, b) != 0);
}

/* As Go's checkIfMatch (strong) and checkIfNoneMatch (weak) walk a list. */
static void test_etags(void)
{
    CHECK(etag_listed("\"a\"", "\"a\"", false));
    CHECK(etag_listed(" \"x\" , W/\"a\"", "\"a\"", true));
    CHECK(!etag_listed(" \"x\" , W/\"a\"", "\"a\"", false));
    CHECK(etag_listed("*", "\"a\"", false));
    CHECK(etag_listed(",,\"x\",*", "\"a\"", true));
    CHECK(!etag_listed("\"ab\"", "\"a\"", true));
    CHECK(!etag_listed("", "\"a\"", true));
    /* the walk ends at the first item that is not a tag */
    CHECK(!etag_listed("x, \"a\"", "\"a\"", true));
    CHECK(!etag_listed("\"b c\", \"a\"", "\"a\"", true));
    CHECK(etag_listed("\"b\"\"a\"", "\"a\"", true));
    size_t n = 0;
    CHECK(scan_etag("W/\"x\" rest", &n) && n == 5);
    CHECK(!scan_etag("\"", &n));
    CHECK(!scan_etag("\"a\x7f\"", &n));
    CHECK(scan_etag("\"\xc3\xa9\"", &n) && n == 4);
}

static void test_dates(void)
{
    time_t t;
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994", &t) && t == 784111777);
    CHECK(!parse_http_date("yesterday", &t));
}

/* dir/root with a file, an inner link, links out, and a FIFO. */
static void make_tree(const char *dir)
{
    char p[PATH_MAX], q[PATH_MAX];
    snprintf(p, sizeof(p), "%s/root/sub", dir);
    CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(q, sizeof(q), "%s/root", dir);
    CHECK(mkdir(q, 0700) == 0);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/root/a.txt", dir);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "%s/secret.txt", dir);
    f = fopen(p, "w");
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "%s/root/link.txt", dir);
    CHECK(symlink("sub/../a.txt", p) == 0);
    snprintf(p, sizeof(p), "%s/root/out.txt", dir);
    CHECK(symlink("../secret.txt", p) == 0);
    snprintf(p, sizeof(p), "%s/root/abs", dir);
    CHECK(symlink(dir, p) == 0);
    snprintf(p, sizeof(p), "%s/root/fifo", dir);
    CHECK(mkfifo(p, 0600) == 0);
}

static int try_open(const struct root *rt, const char *rel)
{
    struct stat st;
    int fd = -1;
    int status = open_under(rt, rel, &fd, &st);
    if (status == 0)
        close(fd);
    return status;
}

static void check_opens(const struct root *rt)
{
    CHECK(try_open(rt, "") == 0);
    CHECK(try_open(rt, "a.txt") == 0);
    CHECK(try_open(rt, "sub") == 0);
    CHECK(try_open(rt, "link.txt") == 0);
    CHECK(try_open(rt, "nope") == 404);
    CHECK(try_open(rt, "a.txt/x") == 404);
    CHECK(try_open(rt, "out.txt") == 403);
    CHECK(try_open(rt, "abs/secret.txt") == 403);
    CHECK(try_open(rt, "fifo") == 403);
}

static void test_open(void)
{
    char dir[] = "/tmp/fw-static-XXXXXX", root[PATH_MAX];
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    make_tree(dir);
    snprintf(root, sizeof(root), "%s/root", dir);
    struct root rt = {.path = root};
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    rt.beneath = probe_openat2(fd);
    close(fd);
    if (rt.beneath) {
        check_opens(&rt);
        /* openat2 refuses an absolute link even when it lands back inside;
         * the fallback only looks at where the path ends. */
        CHECK(try_open(&rt, "abs/root/a.txt") == 403);
    }
    rt.beneath = false;
    check_opens(&rt);
    /* the root is found by its name each time: gone, then back */
    char moved[PATH_MAX + 8];
    snprintf(moved, sizeof(moved), "%s.old", root);
    CHECK(rename(root, moved) == 0);
    for (int b = 0; b < 2; b++) {
        rt.beneath = b && probe_openat2(AT_FDCWD);
        CHECK(try_open(&rt, "a.txt") == 404);
    }
    CHECK(rename(moved, root) == 0);
    for (int b = 0; b < 2; b++) {
        rt.beneath = b && probe_openat2(AT_FDCWD);
        CHECK(try_open(&rt, "a.txt") == 0);
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_clean_path();
    test_ranges();
    test_parse_int();
    test_parts();
    test_etags();
    test_dates();
    test_open();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
