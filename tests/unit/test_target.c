/* target.c: the request target as Go's net/http treats it. */
#include <stdlib.h>

#include "check.h"
#include "target.h"

static void check_clean(const char *path, const char *want)
{
    char *got = target_clean(path);
    CHECK_STR(got, want);
    free(got);
}

static void test_clean(void)
{
    check_clean("/", "/");
    check_clean("", "/");
    check_clean("/a/b", "/a/b");
    check_clean("//x", "/x");
    check_clean("/a/./b", "/a/b");
    check_clean("/a/../b", "/b");
    check_clean("/../../etc", "/etc");
    check_clean("/a/b/", "/a/b/");
    check_clean("/a//b/", "/a/b/");
    check_clean("/a/..", "/");
    check_clean("/a/../", "/");
    check_clean("/.", "/");
    check_clean("x", "/x");
}

static void test_decode(void)
{
    char out[32];
    CHECK(target_decode("/a%20b", out) == 4);
    CHECK_STR(out, "/a b");
    CHECK(target_decode("/%2F%2f", out) == 3);
    CHECK_STR(out, "///");
    CHECK(target_decode("/%zz", out) == -1);
    CHECK(target_decode("/a%2", out) == -1);
    CHECK(target_decode("/a%", out) == -1);
    CHECK(target_decode("/+", out) == 2);
    CHECK_STR(out, "/+");
}

static void test_location(void)
{
    char *l = target_location("/a b/é", "x=1");
    CHECK_STR(l, "/a%20b/%C3%A9?x=1");
    free(l);
    l = target_location("/$&+,/:;=@-_.~", "");
    CHECK_STR(l, "/$&+,/:;=@-_.~");
    free(l);
    l = target_location("/a?b#c", NULL);
    CHECK_STR(l, "/a%3Fb%23c");
    free(l);
}

static void test_path_part(void)
{
    CHECK_STR(target_path_part("/p?q"), "/p?q");
    CHECK_STR(target_path_part("http://host/abs"), "/abs");
    CHECK_STR(target_path_part("http://host"), "");
    CHECK_STR(target_path_part("*"), "*");
    CHECK_STR(target_path_part("/a/http://b"), "/a/http://b");
}

static void test_plain(void)
{
    CHECK(target_plain("/"));
    CHECK(target_plain("/a/b.txt"));
    CHECK(target_plain("/a/.hidden"));
    CHECK(target_plain("/a/..b"));
    CHECK(target_plain("/a/b/"));
    CHECK(!target_plain("//x"));
    CHECK(!target_plain("/a/./b"));
    CHECK(!target_plain("/a/../b"));
    CHECK(!target_plain("/a/."));
    CHECK(!target_plain("/a/.."));
    CHECK(!target_plain("/a%20b"));
    CHECK(!target_plain("*"));
    CHECK(!target_plain(""));
}

static void test_methods(void)
{
    CHECK(target_method_known("GET", 3));
    CHECK(target_method_known("M-SEARCH", 8));
    CHECK(!target_method_known("QUERY", 5));
    CHECK(!target_method_known("get", 3));
    CHECK(target_method_token("X-CUSTOM", 8));
    CHECK(target_method_token("QUERY", 5));
    CHECK(!target_method_token("GE(T", 4));
    CHECK(!target_method_token("", 0));
    CHECK(!target_method_token("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 33));
}

static void test_field_value(void)
{
    CHECK(target_field_value("", 0));
    CHECK(target_field_value("a b\tc", 5));
    CHECK(target_field_value("caf\xc3\xa9", 5));   /* obs-text */
    CHECK(!target_field_value("a\x01", 2));
    CHECK(!target_field_value("a\rb", 3));
    CHECK(!target_field_value("a\x7f", 2));
    CHECK(!target_field_value("a\0b", 3));
}

static void check_canonical(const char *in, bool token, const char *want)
{
    char out[64] = {0};

    CHECK(target_canonical(in, strlen(in), out) == token);
    CHECK_STR(out, want);
}

static void test_canonical(void)
{
    check_canonical("etag", true, "Etag");
    check_canonical("ETag", true, "Etag");
    check_canonical("x-api-KEY", true, "X-Api-Key");
    check_canonical("content-type", true, "Content-Type");
    check_canonical("-x--y", true, "-X--Y");
    check_canonical("x_y.z1", true, "X_y.z1");
    /* Not a token: Go leaves it alone. */
    check_canonical("bad name", false, "bad name");
    check_canonical("x(y", false, "x(y");
    /* In place, as the parsers call it. */
    char buf[] = "www-AUTHENTICATE";
    CHECK(target_canonical(buf, strlen(buf), buf));
    CHECK_STR(buf, "Www-Authenticate");
    char tok[] = "x-API-key_2-9a";
    target_canonical_token(tok, strlen(tok));
    CHECK_STR(tok, "X-Api-Key_2-9a");
}

/* Go's rule one byte at a time, to hold the word-at-a-time code to. */
static void reference_canonical(char *s, size_t len)
{
    bool upper = true;
    for (size_t i = 0; i < len; i++) {
        if (upper && s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char)(s[i] - 'a' + 'A');
        else if (!upper && s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
        upper = s[i] == '-';
    }
}

static void test_canonical_every_length(void)
{
    static const char alphabet[] = "aZzA-_09.~mM-@[`{";
    unsigned seed = 7;
    for (size_t len = 0; len <= 40; len++) {
        for (int round = 0; round < 200; round++) {
            char got[48], want[48];
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                got[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
            }
            /* The bytes around the name must not change. */
            got[len] = 'x';
            memcpy(want, got, len + 1);
            reference_canonical(want, len);
            target_canonical_token(got, len);
            CHECK(memcmp(got, want, len + 1) == 0);
        }
    }
    /* A byte of 0x80 and up (not a token): still left to the byte rule. */
    char high[] = "x-\xc3\xa9t\xc3\xa9-long-name-here";
    char want[sizeof(high)];
    memcpy(want, high, sizeof(high));
    reference_canonical(want, strlen(want));
    target_canonical_token(high, strlen(high));
    CHECK_STR(high, want);
}

/* The value span llhttp hands over at offset `at` of s, looked at with s
 * cut into two pieces at `cut`: the tail noted over the first. */
static size_t bare_cr_cut(const char *s, size_t at, size_t cut)
{
    char tail[2] = {0, 0};
    target_note_tail(tail, s, cut);
    return target_bare_cr_before(s + at, s + cut, tail);
}

static void test_bare_cr_before(void)
{
    /* "X-A: \rc" then the span after the byte llhttp took for the LF */
    const char lead[] = "X-A: \rc\r\n";
    for (size_t cut = 0; cut <= 7; cut++)
        CHECK(bare_cr_cut(lead, 7, cut) == 2);
    /* the byte after the CR is a space, or a fold follows it */
    CHECK(bare_cr_cut("X-A: \r c", 7, 7) == 2);
    CHECK(bare_cr_cut("X-A: \r\t c", 8, 7) == 3);
    CHECK(bare_cr_cut("X-A: \r\t c", 8, 6) == 3);
    CHECK(bare_cr_cut("X-A: \r\r\r\n", 7, 7) == 2);
    /* the byte after the CR is a colon, as after a name */
    CHECK(bare_cr_cut("X-A: \r:\r\n", 7, 0) == 2);
    CHECK(bare_cr_cut("X-A: \r: v", 8, 0) == 3);
    CHECK(bare_cr_cut("X-A:\r:v", 6, 0) == 2);
    /* values llhttp reads as they are */
    CHECK(bare_cr_cut("X-A: v", 5, 5) == 0);
    CHECK(bare_cr_cut("X-A: v", 5, 0) == 0);
    CHECK(bare_cr_cut("X-A:v", 4, 0) == 0);
    CHECK(bare_cr_cut("X-A:\r\nX-B", 6, 6) == 0);
    CHECK(bare_cr_cut("X-A: a\r\n b", 9, 9) == 0);
    CHECK(bare_cr_cut("X-A: a\r\n b", 9, 8) == 0);
    CHECK(bare_cr_cut("X-A: a\r\n b", 9, 7) == 0);
    CHECK(bare_cr_cut("X-A: ab", 6, 6) == 0);
    CHECK(bare_cr_cut("\rc", 2, 2) == 2);
    CHECK(bare_cr_cut("c", 1, 1) == 0);
}

/* The two bytes before a chunk's end, "3\r\n" cut at every place: from
 * the piece, from the tail, or from both. */
static void test_byte_before(void)
{
    const char s[] = "3\r\n";
    for (size_t cut = 1; cut <= 3; cut++) {
        char tail[2] = {0, 0};
        target_note_tail(tail, s, cut);
        CHECK(target_byte_before(s + 3, 1, s + cut, tail) == '\n');
        CHECK(target_byte_before(s + 3, 2, s + cut, tail) == '\r');
        CHECK(target_crlf_before(s + 3, s + cut, tail));
        /* "3\r": no CRLF before the LF */
        CHECK(cut > 2 || !target_crlf_before(s + 2, s + cut, tail));
    }
    char tail[2] = {'a', 'b'};
    CHECK(target_byte_before(s, 1, s, tail) == 'b');
    CHECK(target_byte_before(s, 2, s, tail) == 'a');
    CHECK(target_byte_before(s, 3, s, tail) == -1);
    CHECK(target_byte_before(s + 1, 3, s, tail) == 'a');
    /* a byte above 127 is not taken for -1 */
    const char high[] = "\xff";
    CHECK(target_byte_before(high + 1, 1, high, tail) == 0xff);
}

static void test_note_tail(void)
{
    char tail[2] = {'x', 'y'};
    target_note_tail(tail, "", 0);
    CHECK(tail[0] == 'x' && tail[1] == 'y');
    target_note_tail(tail, "a", 1);
    CHECK(tail[0] == 'y' && tail[1] == 'a');
    target_note_tail(tail, "bcd", 3);
    CHECK(tail[0] == 'c' && tail[1] == 'd');
}

/* Letters, digits and '-' one byte at a time, to hold the word-at-a-time
 * target_canonical_plain to. */
static bool reference_plain(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return len > 0;
}

static void check_canonical_plain(const char *in, bool plain, const char *want)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", in);
    CHECK(target_canonical_plain(buf, strlen(buf)) == plain);
    if (plain)
        CHECK_STR(buf, want);
}

static void test_canonical_plain(void)
{
    check_canonical_plain("content-LENGTH", true, "Content-Length");
    check_canonical_plain("etag", true, "Etag");
    check_canonical_plain("x-1", true, "X-1");
    check_canonical_plain("www-authenticate", true, "Www-Authenticate");
    check_canonical_plain("", false, "");
    check_canonical_plain("Bad Name", false, "");
    check_canonical_plain("X_Under", false, "");
    check_canonical_plain("X-Caf\xc3\xa9", false, "");
    /* Every length, each byte from letters, digits, '-' and their
     * neighbours in the table (which a carry or a case bit could let in):
     * the answer is the byte rule's, target_plain_name's too (the name
     * left as it is), and a plain name comes out in Go's case, the bytes
     * around it untouched. */
    static const char alphabet[] = "aZzA-09mM@[`{/:,.\x7f\x80\t _";
    unsigned seed = 11;
    for (size_t len = 0; len <= 40; len++) {
        for (int round = 0; round < 400; round++) {
            char name[48], want[48];
            /* Mostly plain names, so the ones with one odd byte are many. */
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned pick = (seed >> 16) % 64;
                name[i] = pick < 40 ? alphabet[pick % 9] : alphabet[pick % (sizeof(alphabet) - 1)];
            }
            name[len] = 'a';
            memcpy(want, name, len + 1);
            reference_canonical(want, len);
            bool plain = reference_plain(name, len);
            char before[48];
            memcpy(before, name, len + 1);
            CHECK(target_plain_name(name, len) == plain);
            CHECK(memcmp(name, before, len + 1) == 0);
            CHECK(target_canonical_plain(name, len) == plain);
            if (plain)
                CHECK(memcmp(name, want, len + 1) == 0);
        }
    }
}

int main(void)
{
    test_clean();
    test_decode();
    test_location();
    test_path_part();
    test_plain();
    test_methods();
    test_field_value();
    test_canonical();
    test_canonical_every_length();
    test_canonical_plain();
    test_bare_cr_before();
    test_byte_before();
    test_note_tail();
    return check_done("test_target");
}
