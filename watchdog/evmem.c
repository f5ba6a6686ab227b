#include "evmem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
#define BLOCK_TAKEN(p) ASAN_UNPOISON_MEMORY_REGION((p), EVMEM_BLOCK)
#else
#define BLOCK_FREED(p, n) ((void)(p), (void)(n))
#define BLOCK_TAKEN(p) ((void)(p))
#endif

static struct {
    char *base;                  /* EVMEM_KEEP blocks; NULL: no pool */
    uint16_t free[EVMEM_KEEP];   /* indexes of free blocks, last freed on top */
    size_t nfree;
    bool used;                   /* a block was handed out since the last release */
    bool page_blocks;            /* a block is whole pages: each can be given back */
} pool;

/* Compared as addresses: p may be any pointer libevent frees. */
static bool in_pool(const void *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)pool.base;
    return pool.base && a >= base && a - base < (uintptr_t)EVMEM_KEEP * EVMEM_BLOCK;
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
        BLOCK_TAKEN(p);
        return p;
    }
    return malloc(size);
}

void *evmem_realloc(void *p, size_t size)
{
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

size_t evmem_kept(void)
{
    return pool.nfree;
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
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}
