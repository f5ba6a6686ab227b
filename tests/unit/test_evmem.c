/* evmem: freed head-read blocks kept for the next, a bounded few. */
#include <malloc.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "check.h"
#include "evmem.h"

/* A freed block of the head-read size comes back for the next one. */
static void test_block_comes_back(void)
{
    void *a = evmem_malloc(EVMEM_BLOCK);
    CHECK(a != NULL);
    evmem_free(a);
    CHECK(evmem_kept() == 1);
    void *b = evmem_malloc(EVMEM_BLOCK);
    CHECK(b == a);
    CHECK(evmem_kept() == 0);
    evmem_free(b);
    evmem_free(evmem_malloc(EVMEM_BLOCK));
    CHECK(evmem_kept() == 1);
}

/* Never more than EVMEM_KEEP kept; the rest goes back to malloc. */
static void test_bounded(void)
{
    void *p[EVMEM_KEEP + 3];
    for (size_t i = 0; i < EVMEM_KEEP + 3; i++)
        p[i] = evmem_malloc(EVMEM_BLOCK);
    for (size_t i = 0; i < EVMEM_KEEP + 3; i++)
        evmem_free(p[i]);
    CHECK(evmem_kept() == EVMEM_KEEP);
}

/* Other sizes are malloc's: neither kept nor handed out from the list. */
static void test_other_sizes_pass_through(void)
{
    size_t before = evmem_kept();
    void *small = evmem_malloc(100);
    void *big = evmem_malloc(65536);
    CHECK(small != NULL && big != NULL);
    CHECK(evmem_kept() == before);
    while (evmem_kept() > 0)
        free(evmem_malloc(EVMEM_BLOCK));
    evmem_free(small);
    evmem_free(big);
    CHECK(evmem_kept() == 0);
    evmem_free(NULL);
    CHECK(evmem_kept() == 0);
}

/* Through libevent: reserving a head's room in an empty evbuffer and
 * draining it takes a kept block and gives it back. */
static void test_through_libevent(void)
{
    struct evbuffer *buf = evbuffer_new();
    struct evbuffer_iovec v;
    CHECK(buf != NULL);
    while (evmem_kept() > 0)
        free(evmem_malloc(EVMEM_BLOCK));
    evmem_free(malloc(EVMEM_BLOCK));
    CHECK(evmem_kept() == 1);
    CHECK(evbuffer_reserve_space(buf, 4096 - 128, &v, 1) == 1);
    CHECK(evmem_kept() == 0);
    v.iov_len = 10;
    CHECK(evbuffer_commit_space(buf, &v, 1) == 0);
    CHECK(evbuffer_drain(buf, 10) == 0);
    CHECK(evmem_kept() == 1);
    evbuffer_free(buf);
}

/* Idle: every kept block goes back to malloc. */
static void test_release(void)
{
    evmem_free(malloc(EVMEM_BLOCK));
    evmem_free(malloc(EVMEM_BLOCK));
    CHECK(evmem_kept() >= 2);
    evmem_release();
    CHECK(evmem_kept() == 0);
}

int main(void)
{
    evmem_install();
    test_block_comes_back();
    test_bounded();
    test_other_sizes_pass_through();
    test_through_libevent();
    test_release();
    return check_done("evmem");
}
