#include "evmem.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

static struct {
    void *block[EVMEM_KEEP];
    size_t n;
    size_t usable;     /* malloc_usable_size of a block of EVMEM_BLOCK bytes */
} kept;

void *evmem_malloc(size_t size)
{
    if (size == EVMEM_BLOCK && kept.n > 0)
        return kept.block[--kept.n];
    return malloc(size);
}

void *evmem_realloc(void *p, size_t size)
{
    return realloc(p, size);
}

/* A block as usable as a fresh EVMEM_BLOCK one can serve as one. */
void evmem_free(void *p)
{
    if (p && kept.n < EVMEM_KEEP && kept.usable && malloc_usable_size(p) == kept.usable) {
        kept.block[kept.n++] = p;
        return;
    }
    free(p);
}

void evmem_release(void)
{
    while (kept.n > 0)
        free(kept.block[--kept.n]);
}

size_t evmem_kept(void)
{
    return kept.n;
}

void evmem_install(void)
{
    void *p = malloc(EVMEM_BLOCK);
    kept.usable = p ? malloc_usable_size(p) : 0;
    free(p);
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}
