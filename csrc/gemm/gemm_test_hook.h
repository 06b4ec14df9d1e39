/* Test hook of the GEMM driver and the recurrent layers' drivers, not part
 * of the C API: tests/test_gemm.py and tests/test_seq_layers.py (through
 * fastnn._C._gemm_test_flags) force paths that a shape would not take, so
 * small test shapes reach every branch of the drivers.  0 in normal
 * use; not thread-safe (set it between calls).  The driver reads it once
 * per call, and the production plan is compiled without its tests (see
 * plan in gemm_driver.inc). */
#ifndef FNN_GEMM_TEST_HOOK_H
#define FNN_GEMM_TEST_HOOK_H

#define FNN_GEMM_FORCE_PACK_A 1
#define FNN_GEMM_FORCE_DIRECT_A 2
#define FNN_GEMM_FORCE_PACK_B 4
#define FNN_GEMM_FORCE_DIRECT_B 8
#define FNN_GEMM_FORCE_KSPLIT 16
#define FNN_GEMM_FORCE_NO_KSPLIT 32
#define FNN_GEMM_FORCE_TINY_BLOCKS 64
#define FNN_GEMM_FORCE_ALL_THREADS 128 /* all threads, however small the product */
#define FNN_GEMM_FORCE_TRANS_C 256     /* A B^T run as C^T = B A^T whenever the layout allows */
#define FNN_GEMM_FORCE_NO_TRANS_C 512  /* never */
#define FNN_GEMM_FORCE_MASK 1023       /* the GEMM's flags; the bits above are other drivers' */
/* The recurrent layers' threads split the batch rows, or the hidden units
 * (rnn_seq_driver.inc), whatever the shape. */
#define FNN_RNN_FORCE_BY_ROWS 1024
#define FNN_RNN_FORCE_BY_UNITS 2048

/* The FNN_GEMM_FORCE_* flags in force (gemm_test_hook.c). */
extern int fnn_gemm_test_flags;
/* Sets them; returns the previous ones. */
int fnn_gemm_set_test_flags(int flags);
#endif
