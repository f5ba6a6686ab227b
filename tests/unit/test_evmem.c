/* evmem: 4 KiB blocks from a pool of their own, and the smallest records
 * from a region of their own, outside malloc's heap. */
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check.h"
#include "evmem.h"

/* Whether the page holding p is resident. */
static bool resident(void *p)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char v = 0;
    void *start = (void *)((unsigned long)p & ~((unsigned long)page - 1));
    return mincore(start, (size_t)page, &v) == 0 && (v & 1);
}

/* A freed block comes back for the next one. */
static void test_block_comes_back(void)
{
    CHECK(evmem_kept() == EVMEM_KEEP);
    void *a = evmem_malloc(EVMEM_BLOCK);
    CHECK(a != NULL);
    CHECK(evmem_kept() == EVMEM_KEEP - 1);
    evmem_free(a);
    CHECK(evmem_kept() == EVMEM_KEEP);
    void *b = evmem_malloc(EVMEM_BLOCK);
    CHECK(b == a);
    evmem_free(b);
}

/* Past the pool's blocks, malloc's; those go back to malloc, and the pool
 * ends with all its own. */
static void test_bounded(void)
{
    void *p[EVMEM_KEEP + 3];
    for (size_t i = 0; i < EVMEM_KEEP + 3; i++) {
        p[i] = evmem_malloc(EVMEM_BLOCK);
        CHECK(p[i] != NULL);
        memset(p[i], (int)i, EVMEM_BLOCK);
    }
    CHECK(evmem_kept() == 0);
    for (size_t i = 0; i < EVMEM_KEEP + 3; i++)
        evmem_free(p[i]);
    CHECK(evmem_kept() == EVMEM_KEEP);
}

/* Other sizes are malloc's, and a block malloc made never joins the pool. */
static void test_other_sizes_pass_through(void)
{
    void *small = evmem_malloc(100);
    void *big = evmem_malloc(65536);
    CHECK(small != NULL && big != NULL);
    CHECK(evmem_kept() == EVMEM_KEEP);
    evmem_free(small);
    evmem_free(big);
    evmem_free(malloc(EVMEM_BLOCK));
    evmem_free(NULL);
    CHECK(evmem_kept() == EVMEM_KEEP);
}

/* A pool block grown by realloc moves to malloc with its bytes, and its
 * place in the pool is free again. */
static void test_realloc_leaves_the_pool(void)
{
    char *p = evmem_malloc(EVMEM_BLOCK);
    memset(p, 'q', EVMEM_BLOCK);
    char *q = evmem_realloc(p, 2 * EVMEM_BLOCK);
    CHECK(q != NULL && q != p);
    CHECK(evmem_kept() == EVMEM_KEEP);
    CHECK(q[0] == 'q' && q[EVMEM_BLOCK - 1] == 'q');
    q = evmem_realloc(q, 3 * EVMEM_BLOCK);   /* malloc's own from here */
    CHECK(q != NULL && q[EVMEM_BLOCK - 1] == 'q');
    evmem_free(q);
    CHECK(evmem_kept() == EVMEM_KEEP);
}

/* Through libevent: reserving a head's room in an empty evbuffer and
 * draining it takes a pool block and gives it back. */
static void test_through_libevent(void)
{
    struct evbuffer *buf = evbuffer_new();
    struct evbuffer_iovec v;
    CHECK(buf != NULL);
    CHECK(evbuffer_reserve_space(buf, 4096 - 128, &v, 1) == 1);
    CHECK(evmem_kept() == EVMEM_KEEP - 1);
    v.iov_len = 10;
    CHECK(evbuffer_commit_space(buf, &v, 1) == 0);
    CHECK(evbuffer_drain(buf, 10) == 0);
    CHECK(evmem_kept() == EVMEM_KEEP);
    evbuffer_free(buf);
}

/* Idle: the pages of the free blocks go back to the system, and the
 * blocks stay usable; a block still in use keeps its bytes. */
static void test_release(void)
{
    char *a = evmem_malloc(EVMEM_BLOCK);
    char *b = evmem_malloc(EVMEM_BLOCK);
    memset(a, 'a', EVMEM_BLOCK);
    memset(b, 'b', EVMEM_BLOCK);
    evmem_free(a);
    CHECK(resident(a) && resident(b));
    evmem_release();
    if (sysconf(_SC_PAGESIZE) <= EVMEM_BLOCK)
        CHECK(!resident(a));
    CHECK(b[0] == 'b' && b[EVMEM_BLOCK - 1] == 'b');
    evmem_free(b);
    evmem_release();
    CHECK(!resident(a) && !resident(b));
    CHECK(evmem_kept() == EVMEM_KEEP);
    char *c = evmem_malloc(EVMEM_BLOCK);
    CHECK(c != NULL);
    memset(c, 'c', EVMEM_BLOCK);
    CHECK(c[10] == 'c');
    evmem_free(c);
}

/* Small records are packed together whatever malloc hands out between
 * them, and a freed one is the next one given. */
static void test_small_packed(void)
{
    char *a = evmem_malloc(EVMEM_SMALL);
    void *between = evmem_malloc(200);
    void *block = evmem_malloc(EVMEM_BLOCK);
    char *b = evmem_malloc(EVMEM_SMALL - 2);
    char *c = evmem_malloc(8);
    CHECK(a && b && c && between && block);
    CHECK(b - a == EVMEM_SMALL && c - b == EVMEM_SMALL);
    memset(a, 'a', EVMEM_SMALL);
    memset(b, 'b', EVMEM_SMALL - 2);
    memset(c, 'c', 8);
    evmem_free(b);
    CHECK(a[EVMEM_SMALL - 1] == 'a' && c[0] == 'c');
    CHECK(evmem_malloc(EVMEM_SMALL) == b);
    evmem_free(between);
    evmem_free(block);
    evmem_free(a);
    evmem_free(b);
    evmem_free(c);
}

/* A small record grown by realloc moves to malloc with its bytes, and its
 * slot is given again; one that still fits stays where it is. */
static void test_small_realloc(void)
{
    char *p = evmem_malloc(10);
    memcpy(p, "0123456789", 10);
    CHECK(evmem_realloc(p, EVMEM_SMALL) == p);
    char *q = evmem_realloc(p, 64);
    CHECK(q != NULL && q != p && memcmp(q, "0123456789", 10) == 0);
    memset(q + 10, 'x', 54);
    CHECK(evmem_malloc(EVMEM_SMALL) == p);
    evmem_free(p);
    q = evmem_realloc(q, 128);
    CHECK(q != NULL && memcmp(q, "0123456789", 10) == 0 && q[63] == 'x');
    evmem_free(q);
}

/* Through libevent: the record for a descriptor number watched the first
 * time comes from the small region, next to the one before it. */
static void test_small_through_libevent(void)
{
    struct event_base *base = event_base_new();
    int fds[4];
    CHECK(base != NULL);
    CHECK(pipe(fds) == 0 && pipe(fds + 2) == 0);
    char *mark = evmem_malloc(EVMEM_SMALL);
    struct event *r = event_new(base, fds[0], EV_READ, NULL, NULL);
    struct event *w = event_new(base, fds[2], EV_READ, NULL, NULL);
    CHECK(r && w && event_add(r, NULL) == 0 && event_add(w, NULL) == 0);
    /* the two records were the next slots after the mark */
    char *next = evmem_malloc(EVMEM_SMALL);
    CHECK(next - mark >= 3 * EVMEM_SMALL && next - mark <= 4 * EVMEM_SMALL);
    evmem_free(next);
    evmem_free(mark);
    event_free(r);
    event_free(w);
    event_base_free(base);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

int main(void)
{
    evmem_install();
    test_block_comes_back();
    test_bounded();
    test_other_sizes_pass_through();
    test_realloc_leaves_the_pool();
    test_through_libevent();
    test_release();
    test_small_packed();
    test_small_realloc();
    test_small_through_libevent();
    return check_done("evmem");
}
