/* The cache of large freed blocks (memcache.h). */
#include "cpu/memcache.h"
#include "cpu/workspace.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Distinct sizes kept at once; a training step has a few dozen. */
#define FNN_MEMCACHE_SLOTS 256

typedef struct {
    size_t size; /* 0: an empty slot */
    void *head;  /* kept blocks of this size, linked through their first word */
    size_t count;
} fnn_memcache_slot;

static pthread_mutex_t fnn_memcache_lock = PTHREAD_MUTEX_INITIALIZER;
static fnn_memcache_slot fnn_memcache_slots[FNN_MEMCACHE_SLOTS];
static size_t fnn_memcache_kept, fnn_memcache_limit, fnn_memcache_hits, fnn_memcache_misses;
static fnn_memcache_next fnn_memcache_fallback;
static int fnn_memcache_ready;

static void fnn_memcache_prepare(void) { pthread_mutex_lock(&fnn_memcache_lock); }
static void fnn_memcache_parent(void) { pthread_mutex_unlock(&fnn_memcache_lock); }
static void fnn_memcache_child(void) { pthread_mutex_init(&fnn_memcache_lock, 0); }

void fnn_memcache_init(const fnn_memcache_next *next) {
    pthread_mutex_lock(&fnn_memcache_lock);
    fnn_memcache_fallback = *next;
    if (!fnn_memcache_ready) pthread_atfork(fnn_memcache_prepare, fnn_memcache_parent, fnn_memcache_child);
    fnn_memcache_ready = 1;
    pthread_mutex_unlock(&fnn_memcache_lock);
}

/* The slot of size, or the empty slot to put it in (NULL when full). */
static fnn_memcache_slot *fnn_memcache_find(size_t size, int insert) {
    size_t h = (size >> 6) * (size_t)0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < FNN_MEMCACHE_SLOTS; i++) {
        fnn_memcache_slot *s = &fnn_memcache_slots[(h + i) % FNN_MEMCACHE_SLOTS];
        if (s->size == size) return s;
        if (s->size == 0) {
            if (!insert) return 0;
            s->size = size;
            return s;
        }
    }
    return 0;
}

static void *fnn_memcache_take(size_t size) {
    void *p = 0;
    pthread_mutex_lock(&fnn_memcache_lock);
    fnn_memcache_slot *s = fnn_memcache_find(size, 0);
    if (s && s->head) {
        p = s->head;
        memcpy(&s->head, p, sizeof(void *));
        s->count--;
        fnn_memcache_kept -= size;
        fnn_memcache_hits++;
    } else {
        fnn_memcache_misses++;
    }
    pthread_mutex_unlock(&fnn_memcache_lock);
    return p;
}

void *fnn_memcache_malloc(void *ctx, size_t size) {
    (void)ctx;
    if (size < FNN_MEMCACHE_MIN) return fnn_memcache_fallback.malloc(fnn_memcache_fallback.ctx, size);
    void *p = fnn_memcache_take(size);
    return p ? p : fnn_alloc_lines(size); /* a new block */
}

void *fnn_memcache_calloc(void *ctx, size_t nelem, size_t elsize) {
    (void)ctx;
    if (elsize && nelem > SIZE_MAX / elsize) return 0;
    size_t size = nelem * elsize;
    if (size < FNN_MEMCACHE_MIN) return fnn_memcache_fallback.calloc(fnn_memcache_fallback.ctx, nelem, elsize);
    void *p = fnn_memcache_take(size);
    if (!p) return calloc(nelem, elsize);
    memset(p, 0, size);
    return p;
}

void *fnn_memcache_realloc(void *ctx, void *ptr, size_t new_size) {
    (void)ctx;
    return realloc(ptr, new_size);
}

static size_t fnn_memcache_trim(size_t keep);

/* A freed block is kept unless it alone is over the limit: older blocks make
 * room for it (the sizes a loop uses now are the ones worth keeping), and a
 * table full of sizes no longer freed is emptied. */
void fnn_memcache_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (!ptr) return;
    if (size < FNN_MEMCACHE_MIN) {
        fnn_memcache_fallback.free(fnn_memcache_fallback.ctx, ptr, size);
        return;
    }
    pthread_mutex_lock(&fnn_memcache_lock);
    if (size <= fnn_memcache_limit) {
        if (fnn_memcache_kept + size > fnn_memcache_limit) fnn_memcache_trim(fnn_memcache_limit - size);
        fnn_memcache_slot *s = fnn_memcache_find(size, 1);
        if (!s) {
            fnn_memcache_trim(0);
            s = fnn_memcache_find(size, 1);
        }
        memcpy(ptr, &s->head, sizeof(void *));
        s->head = ptr;
        s->count++;
        fnn_memcache_kept += size;
        ptr = 0;
    }
    pthread_mutex_unlock(&fnn_memcache_lock);
    free(ptr);
}

/* Frees kept blocks until at most `keep` bytes are kept; the lock is held. */
static size_t fnn_memcache_trim(size_t keep) {
    size_t freed = 0;
    for (size_t i = 0; i < FNN_MEMCACHE_SLOTS && fnn_memcache_kept > keep; i++) {
        fnn_memcache_slot *s = &fnn_memcache_slots[i];
        while (s->head && fnn_memcache_kept > keep) {
            void *p = s->head;
            memcpy(&s->head, p, sizeof(void *));
            s->count--;
            fnn_memcache_kept -= s->size;
            freed += s->size;
            free(p);
        }
    }
    if (fnn_memcache_kept == 0) /* empty slots again, so a new set of sizes finds room */
        memset(fnn_memcache_slots, 0, sizeof fnn_memcache_slots);
    return freed;
}

void fnn_memcache_set_limit(size_t bytes) {
    pthread_mutex_lock(&fnn_memcache_lock);
    fnn_memcache_limit = bytes;
    fnn_memcache_trim(bytes);
    pthread_mutex_unlock(&fnn_memcache_lock);
}

size_t fnn_memcache_release(void) {
    pthread_mutex_lock(&fnn_memcache_lock);
    size_t freed = fnn_memcache_trim(0);
    pthread_mutex_unlock(&fnn_memcache_lock);
    return freed;
}

void fnn_memcache_stats(size_t out[4]) {
    pthread_mutex_lock(&fnn_memcache_lock);
    out[0] = fnn_memcache_kept;
    out[1] = fnn_memcache_limit;
    out[2] = fnn_memcache_hits;
    out[3] = fnn_memcache_misses;
    pthread_mutex_unlock(&fnn_memcache_lock);
}
