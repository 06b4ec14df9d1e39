/* Grow-only per-thread scratch blocks (workspace.h). */
#include "cpu/workspace.h"
#include <stdlib.h>

void *fnn_workspace_get(fnn_workspace *ws, size_t bytes) {
    if (bytes <= ws->bytes) return ws->p;
    size_t want = (bytes + 4095) & ~(size_t)4095;
    void *p = 0;
    if (posix_memalign(&p, 64, want) != 0) return 0;
    free(ws->p);
    ws->p = p;
    ws->bytes = want;
    return p;
}
