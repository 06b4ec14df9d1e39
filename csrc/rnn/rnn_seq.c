/* Whole-sequence drivers of the recurrent layers (one layer, one direction,
 * time-major arrays), float and double.  Forward: one GEMM for the input
 * projection of every time step, then per step one GEMM for the recurrent
 * projection and the fused cell kernel.  Backward through time with the
 * fused cell backward and one GEMM per step for the gradient of the previous
 * hidden state; the weight, bias and input gradients are then one GEMM (or
 * one column sum) each over the whole sequence.
 *
 * Modes: FNN_RNN_MODE_TANH and FNN_RNN_MODE_RELU (1 gate block),
 * FNN_RNN_MODE_LSTM (4: i f g o), FNN_RNN_MODE_GRU (3: r z n); with
 * FNN_RNN_REVERSE the recurrence runs from the last step to the first.  All
 * results are bit-identical at any thread count: the GEMM is, the cell
 * kernels work per row, and the column sums of the bias gradients add rows
 * in order. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include "gemm/gemm_test_hook.h"
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

static int fnn_rnn_seq_check(int mode, int64_t t, int64_t b, int64_t in, int64_t h) {
    if (mode < FNN_RNN_MODE_TANH || mode > FNN_RNN_MODE_RELU) return FNN_EINVAL;
    if (t < 0 || b < 0 || in < 0 || h < 0) return FNN_EINVAL;
    if (h > (1 << 24) || in > (1 << 24)) return FNN_EOVERFLOW;
    if (b > 0 && t > INT64_MAX / b / (4 * h + in + 1)) return FNN_EOVERFLOW;
    return FNN_OK;
}

static int fnn_rnn_gates(int mode) { return mode == FNN_RNN_MODE_LSTM ? 4 : mode == FNN_RNN_MODE_GRU ? 3 : 1; }
/* tanh and relu: one gate block, an elementwise cell on it, nothing saved but y */
static int fnn_rnn_elementwise(int mode) { return mode == FNN_RNN_MODE_TANH || mode == FNN_RNN_MODE_RELU; }

/* Hidden units per chunk of the recurrence (see rnn_seq_driver.inc): a
 * multiple of every ISA's NR, so chunks start on packed-panel boundaries. */
#define FNN_RNN_CHUNK 64

/* How the threads share a recurrence: 1, by batch rows (each thread runs
 * the whole recurrence for its rows, which need no other row, so the steps
 * need no barrier and no state crosses cores), when every thread gets at
 * least 8 rows and W_hh packed (elements of elem bytes; every thread then
 * reads all of it each step) is at most 1 MB, so it stays in each core's
 * L2; else 0, by chunks of hidden units, with a barrier per step.  The
 * result is the same either way (the step products' and the cells' values
 * do not depend on the split); the test hook can force either. */
static int fnn_rnn_by_rows(int64_t batch, int64_t g, int64_t hid, int nt, size_t elem) {
    if (fnn_gemm_test_flags & FNN_RNN_FORCE_BY_ROWS) return 1;
    if (fnn_gemm_test_flags & FNN_RNN_FORCE_BY_UNITS) return 0;
    return batch >= 8 * (int64_t)nt && g * hid * hid * (int64_t)elem <= (1 << 20);
}

/* The calling thread's block: rows [r_lo, r_hi) and chunks [c_lo, c_hi). */
static void fnn_rnn_share(int by_rows, int64_t batch, int64_t nch, int64_t *r_lo, int64_t *r_hi, int64_t *c_lo,
                          int64_t *c_hi) {
    const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t parts = by_rows ? batch : nch, lo = parts * tid / nt, hi = parts * (tid + 1) / nt;
    *r_lo = by_rows ? lo : 0;
    *r_hi = by_rows ? hi : batch;
    *c_lo = by_rows ? 0 : lo;
    *c_hi = by_rows ? nch : hi;
}

#define FNN_GEMM_f32 fnn_sgemm
#define FNN_GEMM_f64 fnn_dgemm

#define T float
#define DT f32
#include "rnn/rnn_seq_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "rnn/rnn_seq_driver.inc"
#undef T
#undef DT
