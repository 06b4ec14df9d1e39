/* GEMM drivers, float and double (gemm_driver.inc): argument checks, choice
 * of path by shape, cache blocking, packing buffers and threading, over the
 * per-ISA micro-kernels of gemm_body.inc.
 *
 * Determinism: the arithmetic that produces an element of C depends only on
 * the shape (the KC partition of k and the K split are functions of m, n, k
 * and the ISA's MR/NR), never on the thread count or on which thread
 * computes which block.  Threads share out whole output blocks, and the
 * partial sums of a K split are added in index order. */
#include "cpu/workspace.h"
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "gemm/gemm_test_hook.h"
#include "fastnn/fastnn.h"
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

/* Packing buffers: one grow-only, 64-byte aligned block per calling thread,
 * reused by every later call from that thread (the pool threads of a call
 * use slices of it).  It is released when the library is unloaded... never,
 * in practice: a few MB per thread that calls GEMM. */
static _Thread_local fnn_workspace fnn_gemm_ws;

static void *fnn_gemm_workspace(size_t bytes) { return fnn_workspace_get(&fnn_gemm_ws, bytes); }

static int fnn_trans_flag(char t) {
    if (t == 'N' || t == 'n') return 0;
    if (t == 'T' || t == 't' || t == 'C' || t == 'c') return 1;
    return -1;
}

/* A rows x cols matrix with leading dimension ld, elements of `size` bytes. */
static int fnn_check_matrix(int64_t rows, int64_t cols, int64_t ld, const void *p, int64_t size) {
    if (rows < 0 || cols < 0 || ld < FNN_MAX(1, cols)) return FNN_EINVAL;
    if (rows == 0 || cols == 0) return FNN_OK;
    if (!p) return FNN_EINVAL;
    if (rows - 1 > (INT64_MAX / size - cols) / ld) return FNN_EOVERFLOW;
    return FNN_OK;
}

/* `batch` matrices of `extent` elements, `stride` apart, all addressable. */
static int fnn_check_batch(int64_t batch, int64_t stride, int64_t extent, int64_t size) {
    if (batch <= 1 || stride == 0 || extent <= 0) return FNN_OK;
    return batch - 1 > (INT64_MAX / size - extent) / stride ? FNN_EOVERFLOW : FNN_OK;
}

#define FNN_GEMM_MAX_THREADS 256
/* Columns up to which A B and A B^T with A's rows contiguous run
 * gemm_ukr_dot (where gemm_ukr would leave lanes idle). */
#define FNN_GEMM_DOT_MAX_N 12

static int64_t fnn_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* The path of one product, from its shape (and the test hook's flags). */
typedef struct fnn_gemm_plan {
    int pack_a, pack_b; /* pack the A block / B panel, or let the kernel read them in place */
    int cm;             /* gemm_ukr_cm tiles, whole k (few columns, A^T B) */
    int dot;            /* gemm_ukr_dot tiles, whole k (few columns, A's rows contiguous) */
    int split;          /* threads on slices of C: 1 columns, 2 rows; 0 one thread */
    int nt;             /* threads */
    int64_t ksplit;     /* parts of k summed by gemm_ksum (1: no split) */
    int64_t mc, kc, nc; /* cache blocks */
} fnn_gemm_plan;

#define T float
#define DT f32
#include "gemm/gemm_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "gemm/gemm_driver.inc"
#undef T
#undef DT

int fnn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    return fnn_gemm_entry_f32(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int fnn_dgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
              const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
    return fnn_gemm_entry_f64(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
