/* Drivers of the recurrent-cell and embedding kernels (rnn/rnn_body.inc),
 * float and double: argument checks and the split across threads.
 *
 * Cells: whole batch rows per thread.  Embedding backward: thread t owns a
 * fixed range of rows of the weight gradient and scans every index in order,
 * adding the rows that fall in its range; so each row's sum runs in index
 * order at any thread count (bit-identical results, no races, no sorting).
 * The drivers that run whole sequences through the GEMM are in rnn_seq.c. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

#define FNN_CELL_GRAIN (1 << 12)
#define FNN_EMB_GRAIN (1 << 14)

static int fnn_rnn_dims(int64_t rows, int64_t n) {
    if (rows < 0 || n < 0) return FNN_EINVAL;
    if (n > 0 && rows > INT64_MAX / 4 / n) return FNN_EOVERFLOW;
    return FNN_OK;
}

#define T float
#define DT f32
#include "rnn/rnn_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "rnn/rnn_driver.inc"
#undef T
#undef DT
