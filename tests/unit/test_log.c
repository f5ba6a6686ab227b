#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* ---- capturing fd 2 ---- */

static int saved_fd = -1, capture_fd = -1;

static void capture_begin(void)
{
    fflush(stderr);
    capture_fd = memfd_create("log", 0);
    saved_fd = dup(STDERR_FILENO);
    dup2(capture_fd, STDERR_FILENO);
}

/* Everything written to fd 2 since capture_begin; caller frees. */
static char *capture_end(void)
{
    off_t len = lseek(capture_fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    ssize_t got = pread(capture_fd, buf, (size_t)len, 0);

    CHECK(got == len);
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    close(capture_fd);
    return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "2006/01/02 15:04:05 " */
static bool is_text_time(const char *s)
{
    const char *pat = "dddd/dd/dd dd:dd:dd ";

    for (size_t i = 0; pat[i]; i++) {
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
            return false;
    }
    return true;
}

/* {"time":"2006-01-02T15:04:05.000Z" or ...+01:00" */
static bool is_json_time(const char *s)
{
    const char *pat = "{\"time\":\"dddd-dd-ddTdd:dd:dd.ddd";
    size_t i = 0;

    for (; pat[i]; i++) {
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
            return false;
    }
    return strncmp(s + i, "Z\"", 2) == 0 || s[i] == '+' || s[i] == '-';
}

static void test_human_size(void)
{
    static const struct {
        double in;
        const char *out;
    } table[] = {
        {0, "0B"}, {12, "12B"}, {999, "999B"}, {1000, "1kB"}, {1500, "1.5kB"},
        {999999, "1000kB"}, {1234567, "1.235MB"}, {1e6, "1MB"}, {2e6, "2MB"},
        {5.5e9, "5.5GB"}, {1e12, "1TB"}, {1e15, "1PB"}, {1e18, "1EB"},
        {1e21, "1ZB"}, {1e24, "1YB"}, {1e27, "1000YB"}, {1e28, "1e+04YB"},
        {10240, "10.24kB"}, {65536, "65.54kB"},
    };
    char buf[32];

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        log_human_size(table[i].in, buf, sizeof(buf));
        CHECK_STR(buf, table[i].out);
    }
}

static void test_msg_text(void)
{
    char *out;

    log_setup(LOG_FORMAT_TEXT);
    capture_begin();
    log_info("Listening on port: %d", 8080);
    log_error("ends with newline\n");
    out = capture_end();
    CHECK(is_text_time(out));
    CHECK(starts_with(out + 20, "Listening on port: 8080\n"));
    CHECK(is_text_time(out + 44));
    CHECK_STR(out + 64, "ends with newline\n");
    free(out);
}

static void test_msg_json(void)
{
    char *out, *p;

    log_setup(LOG_FORMAT_JSON);
    capture_begin();
    log_warn("q=\"%s\" back\\slash tab\t nl\n cr\r bell\x07 utf8 \xc3\xa9 bad \xff end", "x");
    out = capture_end();
    log_setup(LOG_FORMAT_TEXT);
    CHECK(is_json_time(out));
    p = strstr(out, "\",\"level\"");
    CHECK(p != NULL);
    if (p)
        CHECK_STR(p, "\",\"level\":\"warn\",\"msg\":\"q=\\\"x\\\" back\\\\slash tab\\t nl\\n"
                     " cr\\r bell\\u0007 utf8 \xc3\xa9 bad \\ufffd end\"}\n");
    free(out);
}

/* Expected text printed by Go 1.19's fmt.Sprintf("%q", b) for the same bytes. */
static void test_quoted(void)
{
    static const char in[] = "a\"b\\c\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f \xc3\xa9 \xff \xc2\x85 "
                             "\xc2\xa0 \xc2\xad \xe2\x80\xa8 \xef\xbb\xbf \xee\x80\x80 \xe6\x97\xa5 "
                             "\xed\xa0\x80 \xe2\x80\x8b \xe3\x80\x80 end";
    char *out;

    log_setup(LOG_FORMAT_TEXT);
    capture_begin();
    log_quoted("got ", in, sizeof(in) - 1, "; err=<nil>");
    out = capture_end();
    CHECK(is_text_time(out));
    CHECK_STR(out + 20, "got \"a\\\"b\\\\c\\x00\\a\\b\\t\\n\\v\\f\\r\\x1b\\x7f \xc3\xa9 \\xff \\u0085 "
                        "\\u00a0 \\u00ad \\u2028 \\ufeff \\ue000 \xe6\x97\xa5 \\xed\\xa0\\x80 "
                        "\\u200b \\u3000 end\"; err=<nil>\n");
    free(out);
}

static void test_request_text(void)
{
    struct log_request r = {"GET", "/path?x=1", 200, NULL, 12, 0.0012, NULL};
    char *out;

    log_setup(LOG_FORMAT_TEXT);
    capture_begin();
    log_request(&r);
    r.call_id = "abc-123";
    r.bytes = 1500;
    r.status = 502;
    log_request(&r);
    r.call_id = "";
    log_request(&r);
    out = capture_end();

    char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    CHECK(is_text_time(l1) && is_text_time(l2) && is_text_time(l3));
    CHECK(starts_with(l1 + 20, "GET /path?x=1 - 200 - ContentLength: 12B (0.0012s)\n"));
    CHECK(starts_with(l2 + 20,
                      "GET /path?x=1 - 502 - ContentLength: 1.5kB (0.0012s) [abc-123]\n"));
    CHECK_STR(l3 + 20, "GET /path?x=1 - 502 - ContentLength: 1.5kB (0.0012s) [none]\n");
    free(out);

    /* A proxied answer: Go logs the status line and the function's
     * Content-Length, -1 when it sent none. */
    struct log_request p = {"GET", "/", 200, "OK", -1, 0.5, NULL};
    capture_begin();
    log_request(&p);
    out = capture_end();
    CHECK(is_text_time(out));
    CHECK_STR(out + 20, "GET / - 200 OK - ContentLength: -1B (0.5000s)\n");
    free(out);
}

static void test_request_json(void)
{
    struct log_request r = {"POST", "/a\"b", 201, NULL, 1234567, 0.5, "id-1"};
    char *out, *p;

    log_setup(LOG_FORMAT_JSON);
    capture_begin();
    log_request(&r);
    out = capture_end();
    log_setup(LOG_FORMAT_TEXT);
    CHECK(is_json_time(out));
    p = strstr(out, "\",\"level\"");
    CHECK(p != NULL);
    if (p)
        CHECK_STR(p, "\",\"level\":\"info\",\"msg\":\"POST /a\\\"b - 201\",\"method\":\"POST\","
                     "\"path\":\"/a\\\"b\",\"status\":201,\"bytes\":1234567,"
                     "\"duration_seconds\":0.500000,\"call_id\":\"id-1\"}\n");
    free(out);
}

/* Drops the 20-byte time stamp of each line so output can be compared. */
static void strip_times(char *s)
{
    char *w = s;

    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        CHECK(is_text_time(line));
        memmove(w, line + 20, n - 20);
        w += n - 20;
        line += n;
    }
    *w = '\0';
}

static void test_lines_prefix(void)
{
    struct log_lines *ll = log_lines_new("stderr", true);
    char *out;

    log_setup(LOG_FORMAT_TEXT);
    capture_begin();
    log_lines_feed(ll, "one\ntw", 6);
    log_lines_feed(ll, "o\r\n\nthr", 7);
    log_lines_feed(ll, "ee", 2);
    log_lines_flush(ll);
    log_lines_flush(ll); /* nothing pending: no line */
    log_lines_feed(ll, "tail", 4);
    log_lines_free(ll); /* flushes */
    out = capture_end();
    strip_times(out);
    CHECK_STR(out, "stderr: one\nstderr: two\nstderr: \nstderr: three\nstderr: tail\n");
    free(out);
}

static void test_lines_bare(void)
{
    struct log_lines *ll = log_lines_new("stdout", false);
    char *out;

    capture_begin();
    log_lines_feed(ll, "a\r\nb\nc", 6);
    log_lines_free(ll);
    out = capture_end();
    CHECK_STR(out, "a\nb\nc\n");
    free(out);
}

static void test_lines_long(void)
{
    size_t n = 3 * 1024 * 1024;
    char *big = malloc(n);
    struct log_lines *ll = log_lines_new("stdout", false);
    char *out;

    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    capture_begin();
    /* Fed in odd-sized pieces, as a pipe would deliver it. */
    for (size_t off = 0; off < n; off += 4093)
        log_lines_feed(ll, big + off, n - off < 4093 ? n - off : 4093);
    log_lines_feed(ll, "\nnext\n", 6);
    log_lines_free(ll);
    out = capture_end();
    CHECK(strlen(out) == n + 6);
    CHECK(memcmp(out, big, n) == 0);
    CHECK_STR(out + n, "\nnext\n");
    free(out);
    free(big);
}

static void test_lines_json(void)
{
    struct log_lines *ll = log_lines_new("stderr", true);
    char *out, *p;

    log_setup(LOG_FORMAT_JSON);
    capture_begin();
    log_lines_feed(ll, "say \"hi\"\t\xff\r\n", 12);
    log_lines_free(ll);
    out = capture_end();
    log_setup(LOG_FORMAT_TEXT);
    CHECK(is_json_time(out));
    p = strstr(out, "\",\"level\"");
    CHECK(p != NULL);
    if (p)
        CHECK_STR(p, "\",\"level\":\"info\",\"stream\":\"stderr\","
                     "\"msg\":\"say \\\"hi\\\"\\t\\ufffd\"}\n");
    free(out);
}

/* ---- held lines ---- */

static int wakes;

static void count_wake(void *arg)
{
    (void)arg;
    wakes++;
}

static off_t captured_len(void)
{
    return lseek(capture_fd, 0, SEEK_END);
}

/* Lines wait for log_flush, leave whole and in order, and wake the loop
 * once per batch. */
static void test_defer_holds_until_flush(void)
{
    struct log_lines *ll = log_lines_new("stdout", false);
    char *out;

    wakes = 0;
    capture_begin();
    log_defer(count_wake, NULL);
    log_lines_feed(ll, "one\ntwo\n", 8);
    log_lines_feed(ll, "three\n", 6);
    CHECK(captured_len() == 0);
    CHECK(wakes == 1);
    log_flush();
    CHECK(captured_len() == 14);
    log_lines_feed(ll, "four\n", 5);
    CHECK(wakes == 2);
    log_defer(NULL, NULL); /* flushes, then writes at once */
    CHECK(captured_len() == 19);
    log_lines_feed(ll, "five\n", 5);
    CHECK(captured_len() == 24);
    log_lines_free(ll);
    out = capture_end();
    CHECK_STR(out, "one\ntwo\nthree\nfour\nfive\n");
    free(out);
}

/* A line that does not fit what is held sends the held lines first; one
 * longer than the whole hold goes out on its own, after them. */
static void test_defer_overflow_keeps_order(void)
{
    size_t n = 10000;
    char *big = malloc(n + 1);
    struct log_lines *ll = log_lines_new("stdout", false);
    char *out;

    memset(big, 'x', n);
    big[n] = '\n';
    capture_begin();
    log_defer(count_wake, NULL);
    log_lines_feed(ll, "first\n", 6);
    log_lines_feed(ll, big, n + 1);
    CHECK(captured_len() == (off_t)(6 + n + 1));
    for (int i = 0; i < 1000; i++)
        log_lines_feed(ll, "0123456789\n", 11);
    CHECK(captured_len() > (off_t)(6 + n + 1)); /* the hold filled up and went out */
    log_defer(NULL, NULL);
    log_lines_free(ll);
    out = capture_end();
    CHECK(strlen(out) == 6 + n + 1 + 11000);
    CHECK(strncmp(out, "first\nxxx", 9) == 0);
    CHECK(out[6 + n] == '\n');
    for (int i = 0; i < 1000; i++)
        CHECK(strncmp(out + 6 + n + 1 + 11 * i, "0123456789\n", 11) == 0);
    free(out);
    free(big);
}

/* Go's time.Duration.String, from Go's own table of examples. */
/* What Go's utf8.DecodeRune takes as one character, and what it refuses. */
static void test_utf8_seq(void)
{
#define SEQ(lit) utf8_seq((const unsigned char *)(lit), sizeof(lit) - 1)
    CHECK(SEQ("a") == 1);
    CHECK(SEQ("\xc3\xa9") == 2);
    CHECK(SEQ("\xe2\x80\xa8") == 3);
    CHECK(SEQ("\xf0\x9f\x98\x80") == 4);
    CHECK(SEQ("\xef\xbf\xbd") == 3);      /* U+FFFD itself is valid */
    CHECK(SEQ("\xe9") == 0);                /* a latin-1 byte */
    CHECK(SEQ("\xc3") == 0);                /* cut short */
    CHECK(SEQ("\xc0\xaf") == 0);            /* overlong */
    CHECK(SEQ("\xed\xa0\x80") == 0);        /* a surrogate */
    CHECK(SEQ("\xf4\x90\x80\x80") == 0);    /* past U+10FFFF */
    CHECK(SEQ("\x80") == 0);                /* a lone continuation byte */
#undef SEQ
}

static void test_go_duration(void)
{
    static const struct {
        int64_t ns;
        const char *out;
    } table[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {500000, "500\xc2\xb5s"},
        {2200000, "2.2ms"},
        {999999999, "999.999999ms"},
        {1000000000, "1s"},
        {1500000000, "1.5s"},
        {3300000000, "3.3s"},
        {60000000000, "1m0s"},
        {90000000000, "1m30s"},
        {150500000000, "2m30.5s"},
        {3600000000000, "1h0m0s"},
        {4 * 3600000000000 + 5 * 60000000000 + 6000000000 + 7, "4h5m6.000000007s"},
        {-1, "-1ns"},
        {-1000000000, "-1s"},
        {-90000000000, "-1m30s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    char buf[64];

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        log_go_duration(table[i].ns, buf, sizeof(buf));
        CHECK_STR(buf, table[i].out);
    }
}

int main(void)
{
    test_human_size();
    test_go_duration();
    test_msg_text();
    test_msg_json();
    test_quoted();
    test_request_text();
    test_request_json();
    test_lines_prefix();
    test_lines_bare();
    test_lines_long();
    test_lines_json();
    test_defer_holds_until_flush();
    test_defer_overflow_keeps_order();
    test_utf8_seq();
    return check_done("test_log");
}
