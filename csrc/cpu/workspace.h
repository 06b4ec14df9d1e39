/* Grow-only scratch blocks, one per calling thread and area (the GEMM and
 * convolution packing buffers): 64-byte aligned, reused by every later call
 * from that thread, so steady-state calls allocate nothing. */
#ifndef FNN_WORKSPACE_H
#define FNN_WORKSPACE_H
#include <stddef.h>

typedef struct fnn_workspace {
    void *p;
    size_t bytes;
} fnn_workspace;

/* A block of `bytes` on a cache line (free() releases it): malloc's large
 * blocks start 16 bytes into one, so every vector load of a kernel would
 * straddle two lines, and threads' output ranges, cut at multiples of 64
 * bytes, would each share a line with the next.  From 2 MB on 2 MB-aligned
 * and, where the OS has them, in huge pages.  NULL when the allocation
 * fails.  The memory cache's new blocks and the workspaces come from it. */
void *fnn_alloc_lines(size_t bytes);

/* At least `bytes` from ws (grown, old contents dropped, when too small);
 * NULL when the allocation fails. */
void *fnn_workspace_get(fnn_workspace *ws, size_t bytes);
#endif
