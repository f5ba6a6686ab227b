/* libevent's memory, with 4 KiB blocks from a pool of their own, and its
 * smallest records from a region of their own.
 *
 * Up to 4 KiB put in an empty evbuffer (a head read behind earlier input
 * or in more than one read) allocates a 4 KiB chain, freed once the bytes
 * are parsed or sent, and a connection's answer waits in a block of the
 * same size until it is written (output.c). glibc's tcache keeps blocks up
 * to 1 KiB only, so every one went through malloc's bins and back; and a
 * block malloc'd for every answer of a burst, between allocations that
 * live on, left free pages malloc_trim could not give back. These blocks
 * come from one mapping of EVMEM_KEEP of them instead, as h2o recycles its
 * socket buffers: taken and put back in a few instructions, never in
 * malloc's heap, and their pages given back to the system when idle. */
#ifndef FW_EVMEM_H
#define FW_EVMEM_H

#include <stddef.h>

/* Blocks in the pool. Every connection made ready by one epoll_wait reads
 * and answers before any answer goes out, so a busy loop holds a block or
 * two per ready connection at once: room for the 32 connections of the
 * benchmarks. 256 KiB of address space; only the pages used are resident,
 * and evmem_release gives them back. When the pool is empty, or could not
 * be mapped, blocks come from malloc. */
#define EVMEM_KEEP 64
/* The size libevent asks for a chain that holds one head read. */
#define EVMEM_BLOCK 4096

/* Allocations of at most this many bytes (libevent's per-descriptor
 * records) come from the small region (evmem.c says why), up to this many
 * at once: 1 MiB of address space, one slot for every descriptor of a
 * process allowed 65,536. Past them, malloc's. */
#define EVMEM_SMALL 16
#define EVMEM_SMALL_SLOTS 65536

/* Map the pool and route libevent's allocations through evmem_malloc,
 * evmem_realloc and evmem_free. Before any libevent call that allocates. */
void evmem_install(void);

void *evmem_malloc(size_t size);
void *evmem_realloc(void *p, size_t size);
/* Also for memory libevent hands to its caller to free (evbuffer_readln's
 * line): it may come from the pool or the small region, not malloc. */
void evmem_free(void *p);
/* Give the pages of the free blocks back to the system (when idle). */
void evmem_release(void);
/* Idle: the free blocks' pages and, with glibc, malloc's free pages go
 * back to the system. */
void evmem_trim(void);
/* Free blocks in the pool (for tests). */
size_t evmem_kept(void);

#endif
