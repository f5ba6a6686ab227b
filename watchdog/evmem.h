/* libevent's memory, with the 4 KiB blocks of small reads recycled.
 *
 * Up to 4 KiB put in an empty evbuffer (a head read behind earlier input
 * or in more than one read, the body that came with an answer's head on
 * its way to the client) allocates a 4 KiB chain, freed once the bytes are
 * parsed or sent. glibc's tcache keeps blocks up to 1 KiB
 * only, so every one went through malloc's bins and back. Up to EVMEM_KEEP
 * freed blocks of that size are kept here for the next reads instead, as
 * h2o recycles its socket buffers. */
#ifndef FW_EVMEM_H
#define FW_EVMEM_H

#include <stddef.h>

/* How many freed blocks are kept. Every connection made ready by one
 * epoll_wait reads before any of the answers goes out and frees its chains,
 * so a busy loop holds a block per ready connection at once: room here for
 * the 32 connections of the benchmarks, 128 KiB at most, which
 * evmem_release gives back once the watchdog is idle. */
#define EVMEM_KEEP 32
/* The size libevent asks for a chain that holds one head read. */
#define EVMEM_BLOCK 4096
/* Room that, asked of an evbuffer with evbuffer_expand, makes a chain of
 * EVMEM_BLOCK bytes (libevent adds its chain header and rounds up to a
 * power of two): a small body put there takes a kept block instead of a
 * malloc of its own. */
#define EVMEM_ROOM (EVMEM_BLOCK - 128)

/* Route libevent's allocations through evmem_malloc, evmem_realloc and
 * evmem_free. Before any libevent call that allocates. */
void evmem_install(void);

void *evmem_malloc(size_t size);
void *evmem_realloc(void *p, size_t size);
void evmem_free(void *p);
/* Free every kept block (before malloc_trim, when idle). */
void evmem_release(void);
/* Blocks kept now (for tests). */
size_t evmem_kept(void);

#endif
