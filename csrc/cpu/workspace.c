/* Grow-only per-thread scratch blocks (workspace.h). */
#include "cpu/workspace.h"
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

void *fnn_alloc_lines(size_t bytes) {
    size_t align = 64;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* From 2 MB (a large product's packed B panel, read once per row block
     * of every thread's slice; a large output, whose rows each tile of C
     * touches) in huge pages where the kernel gives them on request, as
     * NumPy asks for its large arrays: in 4 KB pages such a block's pages
     * outnumber the TLB's entries. */
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge) align = huge;
#endif
    void *p = 0;
    if (posix_memalign(&p, align, bytes) != 0) return 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align > 64) (void)madvise(p, bytes & ~(align - 1), MADV_HUGEPAGE); /* advice: no huge pages is no error */
#endif
    return p;
}

void *fnn_workspace_get(fnn_workspace *ws, size_t bytes) {
    if (bytes <= ws->bytes) return ws->p;
    size_t want = (bytes + 4095) & ~(size_t)4095;
    void *p = fnn_alloc_lines(want);
    if (!p) return 0;
    free(ws->p);
    ws->p = p;
    ws->bytes = want;
    return p;
}
