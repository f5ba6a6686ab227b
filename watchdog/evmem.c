#include "evmem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/event.h>

/* Under AddressSanitizer a free block is poisoned, as freed heap memory
 * is: a use after free of a pool block is reported like any other. */
#if defined(__SANITIZE_ADDRESS__)
#define EVMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVMEM_ASAN 1
#endif
#endif
#ifdef EVMEM_ASAN
#include <sanitizer/asan_interface.h>
#define BLOCK_FREED(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define BLOCK_TAKEN(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BLOCK_FREED(p, n) ((void)(p), (void)(n))
#define BLOCK_TAKEN(p, n) ((void)(p), (void)(n))
#endif

static struct {
    char *base;                  /* EVMEM_KEEP blocks; NULL: no pool */
    uint16_t free[EVMEM_KEEP];   /* indexes of free blocks, last freed on top */
    size_t nfree;
    bool used;                   /* a block was handed out since the last release */
    bool page_blocks;            /* a block is whole pages: each can be given back */
} pool;

/* libevent keeps a small record for every descriptor number it has
 * watched (its fd map), made when the number is first watched and kept for
 * the life of the loop. Made during a burst of connections, each one sits
 * between the burst's allocations in malloc's heap; once those are freed,
 * each still pins a page that malloc_trim cannot give back, and the resident
 * size stays at the burst's mark. Allocations this small come from a region
 * of their own instead, packed together: address space for EVMEM_SMALL_SLOTS
 * of them, resident only as far as used. */
static struct {
    char *base;        /* NULL: no region, malloc's */
    size_t used;       /* slots handed out at least once */
    void *free;        /* freed slots, each holding the next one's address */
} small;

/* Compared as addresses: p may be any pointer libevent frees. */
static bool in_region(const void *p, const char *base, size_t size)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return base && a >= b && a - b < size;
}

static bool in_pool(const void *p)
{
    return in_region(p, pool.base, (size_t)EVMEM_KEEP * EVMEM_BLOCK);
}

static bool in_small(const void *p)
{
    return in_region(p, small.base, (size_t)EVMEM_SMALL_SLOTS * EVMEM_SMALL);
}

static void *small_take(void)
{
    void *p = small.free;
    if (p) {
        BLOCK_TAKEN(p, EVMEM_SMALL);
        memcpy(&small.free, p, sizeof(small.free));
    } else if (small.base && small.used < EVMEM_SMALL_SLOTS) {
        p = small.base + small.used++ * EVMEM_SMALL;
        BLOCK_TAKEN(p, EVMEM_SMALL);
    }
    return p;
}

static void small_put(void *p)
{
    memcpy(p, &small.free, sizeof(small.free));
    small.free = p;
    BLOCK_FREED(p, EVMEM_SMALL);
}

static void put_back(void *p)
{
    BLOCK_FREED(p, EVMEM_BLOCK);
    pool.free[pool.nfree++] = (uint16_t)(((char *)p - pool.base) / EVMEM_BLOCK);
}

void *evmem_malloc(size_t size)
{
    if (size == EVMEM_BLOCK && pool.nfree > 0) {
        char *p = pool.base + (size_t)pool.free[--pool.nfree] * EVMEM_BLOCK;
        pool.used = true;
        BLOCK_TAKEN(p, EVMEM_BLOCK);
        return p;
    }
    if (size <= EVMEM_SMALL) {
        void *p = small_take();
        if (p)
            return p;
    }
    return malloc(size);
}

static void *small_realloc(void *p, size_t size)
{
    if (size <= EVMEM_SMALL)
        return p;
    void *q = malloc(size);
    if (q) {
        memcpy(q, p, EVMEM_SMALL);
        small_put(p);
    }
    return q;
}

void *evmem_realloc(void *p, size_t size)
{
    if (in_small(p))
        return small_realloc(p, size);
    if (!in_pool(p))
        return realloc(p, size);
    void *q = malloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, size < EVMEM_BLOCK ? size : EVMEM_BLOCK);
    put_back(p);
    return q;
}

void evmem_free(void *p)
{
    if (in_pool(p))
        put_back(p);
    else if (in_small(p))
        small_put(p);
    else
        free(p);
}

void evmem_release(void)
{
    if (!pool.base || !pool.used)
        return;
    if (pool.nfree == EVMEM_KEEP) {
        madvise(pool.base, (size_t)EVMEM_KEEP * EVMEM_BLOCK, MADV_DONTNEED);
        pool.used = false;
        return;
    }
    /* Some blocks are still queued output: the free ones go back one by
     * one where a block is whole pages, and all of them on a later call
     * otherwise. */
    if (pool.page_blocks)
        for (size_t i = 0; i < pool.nfree; i++)
            madvise(pool.base + (size_t)pool.free[i] * EVMEM_BLOCK, EVMEM_BLOCK, MADV_DONTNEED);
}

void evmem_trim(void)
{
    evmem_release();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

size_t evmem_kept(void)
{
    return pool.nfree;
}

/* The small region: address space only, its pages made resident as the
 * slots are first used. */
static void map_small(void)
{
    size_t size = (size_t)EVMEM_SMALL_SLOTS * EVMEM_SMALL;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    if (small.base) {
        munmap(m, size);
        return;
    }
    small.base = m;
    BLOCK_FREED(m, size);
}

void evmem_install(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, (size_t)EVMEM_KEEP * EVMEM_BLOCK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED && !pool.base) {
        pool.base = m;
        pool.page_blocks = page > 0 && EVMEM_BLOCK % page == 0;
        for (size_t i = 0; i < EVMEM_KEEP; i++)
            pool.free[i] = (uint16_t)(EVMEM_KEEP - 1 - i);
        pool.nfree = EVMEM_KEEP;
        BLOCK_FREED(m, (size_t)EVMEM_KEEP * EVMEM_BLOCK);
    } else if (m != MAP_FAILED) {
        munmap(m, (size_t)EVMEM_KEEP * EVMEM_BLOCK);
    }
    map_small();
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}
