/* A cache of large freed blocks behind NumPy's data allocations.
 *
 * A training step frees and allocates the same large temporaries every
 * step.  Served by malloc, blocks of that size are mapped fresh from the
 * kernel each time and cost a page fault per 4 KB touched (about a tenth of
 * a small Transformer's step).  The module installs these functions as
 * NumPy's memory handler (as PyTorch's caching allocator, behind fresh
 * arrays): a freed block of at least FNN_MEMCACHE_MIN bytes is kept, keyed
 * by its exact size, and handed out again for a request of that size, while
 * the bytes kept stay within a limit.  Smaller requests go to the handler
 * that was active before.  Every block is a malloc block, so free and
 * realloc of any of them stay valid whichever path made it; the blocks
 * this cache allocates for malloc requests start on a 64-byte line.  Thread-safe
 * (NumPy may allocate without the GIL) and fork-safe. */
#ifndef FASTNN_MEMCACHE_H
#define FASTNN_MEMCACHE_H
#include <stddef.h>

#define FNN_MEMCACHE_MIN ((size_t)128 << 10)

typedef struct fnn_memcache_next {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
} fnn_memcache_next;

/* The handler small requests go to (NumPy's previous one). */
void fnn_memcache_init(const fnn_memcache_next *next);
void *fnn_memcache_malloc(void *ctx, size_t size);
void *fnn_memcache_calloc(void *ctx, size_t nelem, size_t elsize);
void *fnn_memcache_realloc(void *ctx, void *ptr, size_t new_size);
void fnn_memcache_free(void *ctx, void *ptr, size_t size);
/* The most bytes kept (0 keeps none); frees what is over it. */
void fnn_memcache_set_limit(size_t bytes);
/* Frees every kept block; returns the bytes freed. */
size_t fnn_memcache_release(void);
/* out: bytes kept, the limit, requests served from the cache, requests
 * of a cacheable size that missed. */
void fnn_memcache_stats(size_t out[4]);

#endif
