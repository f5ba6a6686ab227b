/* msghead: spans of a message head collected into one buffer. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "msghead.h"

/* Feed a header as llhttp would, each part split into one-byte spans. */
static void feed_header(struct msghead *h, const char *name, const char *value)
{
    for (const char *p = name; *p; p++)
        CHECK(msghead_name(h, p, 1) == 0);
    CHECK(msghead_name_done(h) != NULL);
    for (const char *p = value; *p; p++)
        CHECK(msghead_value(h, p, 1) == 0);
    CHECK(msghead_value_done(h) == 0);
}

static void test_fields(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    feed_header(&h, "Host", "example");
    feed_header(&h, "X-Empty", "");
    feed_header(&h, "X-Long", "a value that makes the buffer grow past its first size");
    CHECK(msghead_build(&h) == 0);
    CHECK(h.nfields == 3);
    CHECK(h.headers[0].name_len == 4 && strcmp(h.headers[0].name, "Host") == 0);
    CHECK_STR(h.headers[0].value, "example");
    CHECK(h.headers[1].value_len == 0);
    CHECK_STR(h.headers[1].value, "");
    CHECK_STR(h.headers[2].name, "X-Long");
    msghead_reset(&h);
    CHECK(h.len == 0 && h.nfields == 0);
    feed_header(&h, "A", "b");
    CHECK(msghead_build(&h) == 0 && h.nfields == 1);
    CHECK_STR(h.headers[0].value, "b");
    msghead_free(&h);
}

static void test_find(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    feed_header(&h, "Host", "example");
    feed_header(&h, "x-two", "first");
    feed_header(&h, "X-Two", "second");
    /* Names are kept in Go's canonical case, and found in it. */
    const struct msghead_field *f = msghead_find(&h, "X-Two", 5);
    CHECK(f == &h.fields[1]);
    CHECK(strncmp(h.buf + f->name_off, "X-Two", 5) == 0);
    CHECK(msghead_count(&h, "X-Two", 5) == 2);
    CHECK(f->val_len == 5 && strncmp(h.buf + f->val_off, "first", 5) == 0);
    CHECK(msghead_find(&h, "X-Tw", 4) == NULL);
    CHECK(msghead_find(&h, "Missing", 7) == NULL);
    msghead_free(&h);
}

/* Trailing whitespace is not part of a value (llhttp already drops the
 * leading); inner whitespace is. */
static void test_value_trimmed(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    feed_header(&h, "X-Trail", "v  \t ");
    feed_header(&h, "X-Inner", "a  b\t");
    feed_header(&h, "X-Blank", " \t ");
    CHECK(msghead_build(&h) == 0 && h.nfields == 3);
    CHECK_STR(h.headers[0].value, "v");
    CHECK(h.headers[0].value_len == 1);
    CHECK_STR(h.headers[1].value, "a  b");
    CHECK_STR(h.headers[2].value, "");
    CHECK(h.headers[2].value_len == 0);
    CHECK_STR(h.headers[1].name, "X-Inner");
    msghead_free(&h);
}

static void test_copy_survives_growth(void)
{
    struct msghead h;
    char big[3000];
    msghead_init(&h, 1 << 20);
    memset(big, 'u', sizeof(big));
    CHECK(msghead_append(&h, big, sizeof(big)) == 0);
    CHECK(msghead_terminate(&h) == 0);
    size_t cap = h.cap;
    /* the copy needs more room than is left: the buffer moves under it */
    CHECK(msghead_copy(&h, 0, sizeof(big)) == 0);
    CHECK(h.cap > cap);
    CHECK(memcmp(h.buf + sizeof(big) + 1, big, sizeof(big)) == 0);
    msghead_free(&h);
}

static void test_limit(void)
{
    struct msghead h;
    char buf[64] = {0};
    msghead_init(&h, 100);
    CHECK(msghead_append(&h, buf, 64) == 0);
    CHECK(!h.too_large);
    CHECK(msghead_append(&h, buf, 64) == -1);
    CHECK(h.too_large);
    msghead_reset(&h);
    CHECK(!h.too_large);
    msghead_free(&h);
}

/* Feed a name and report whether it repeats an earlier Content-Length. */
static bool name_repeats(struct msghead *h, const char *name)
{
    CHECK(msghead_name(h, name, strlen(name)) == 0);
    CHECK(msghead_name_done(h) != NULL);
    return msghead_repeats(h, "Content-Length", 14);
}

static void feed_value(struct msghead *h, const char *value)
{
    CHECK(msghead_value(h, value, strlen(value)) == 0);
    CHECK(msghead_value_done(h) == 0);
}

static void test_repeat_dropped(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    CHECK(!name_repeats(&h, "Content-Length"));
    feed_value(&h, "3");
    CHECK(!name_repeats(&h, "X-Between"));
    feed_value(&h, "1");
    CHECK(name_repeats(&h, "content-LENGTH"));
    feed_value(&h, "3 ");
    CHECK(msghead_drop_repeat(&h) == 0);
    /* the next field starts where the repeat did */
    feed_header(&h, "After", "yes");
    CHECK(msghead_build(&h) == 0);
    CHECK(h.nfields == 3);
    CHECK_STR(h.headers[0].name, "Content-Length");
    CHECK_STR(h.headers[0].value, "3");
    CHECK_STR(h.headers[1].name, "X-Between");
    CHECK_STR(h.headers[2].name, "After");
    CHECK_STR(h.headers[2].value, "yes");
    msghead_free(&h);
}

static void test_repeat_differs(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    CHECK(!name_repeats(&h, "Content-Length"));
    feed_value(&h, "3");
    CHECK(name_repeats(&h, "Content-Length"));
    feed_value(&h, "03");   /* the same number, another value: Go refuses it */
    CHECK(msghead_drop_repeat(&h) == 1);
    CHECK(h.nfields == 2);
    /* other repeated names are not repeats of a Content-Length */
    msghead_reset(&h);
    CHECK(!name_repeats(&h, "X-A"));
    feed_value(&h, "1");
    CHECK(!name_repeats(&h, "X-A"));
    msghead_free(&h);
}

/* A name cut short (llhttp stopped inside it) leaves no field behind; a
 * name stopped at its first byte leaves the field before it alone. */
static void test_partial_name_dropped(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    feed_header(&h, "Host", "x");
    size_t len = h.len;
    CHECK(msghead_name(&h, "Ba", 2) == 0);
    CHECK(h.nfields == 2);
    msghead_drop_partial_name(&h);
    CHECK(h.nfields == 1 && h.len == len);
    msghead_drop_partial_name(&h);   /* nothing begun: Host stays */
    CHECK(h.nfields == 1 && h.len == len);
    feed_header(&h, "After", "yes");
    /* llhttp hands an empty name over as an empty span */
    CHECK(msghead_name(&h, "", 0) == 0);
    CHECK(msghead_name_done(&h) != NULL);
    feed_value(&h, "v");
    CHECK(h.nfields == 3 && h.fields[2].name_len == 0);
    msghead_drop_last(&h);
    CHECK(msghead_build(&h) == 0);
    CHECK(h.nfields == 2);
    CHECK_STR(h.headers[0].value, "x");
    CHECK_STR(h.headers[1].name, "After");
    CHECK_STR(h.headers[1].value, "yes");
    msghead_free(&h);
}

/* A continuation line: the value so far loses its trailing whitespace and
 * gains one space, unless it is empty. */
static void test_value_fold(void)
{
    struct msghead h;
    msghead_init(&h, 1 << 20);
    CHECK(msghead_name(&h, "X-Fold", 6) == 0);
    CHECK(msghead_name_done(&h) != NULL);
    CHECK(msghead_value(&h, "a \t", 3) == 0);
    CHECK(msghead_value_fold(&h) == 0);
    CHECK(msghead_value(&h, "b ", 2) == 0);
    CHECK(msghead_value_done(&h) == 0);
    CHECK(msghead_name(&h, "X-E", 3) == 0);
    CHECK(msghead_name_done(&h) != NULL);
    CHECK(msghead_value_fold(&h) == 0);
    CHECK(msghead_value(&h, "e", 1) == 0);
    CHECK(msghead_value_done(&h) == 0);
    CHECK(msghead_build(&h) == 0 && h.nfields == 2);
    CHECK_STR(h.headers[0].value, "a b");
    CHECK_STR(h.headers[1].value, "e");
    msghead_free(&h);
}

int main(void)
{
    test_fields();
    test_find();
    test_value_trimmed();
    test_copy_survives_growth();
    test_limit();
    test_repeat_dropped();
    test_repeat_differs();
    test_partial_name_dropped();
    test_value_fold();
    return check_done("test_msghead");
}
