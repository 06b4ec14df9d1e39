/* The GEMM driver's test hook (gemm_test_hook.h). */
#include "gemm/gemm_test_hook.h"

int fnn_gemm_test_flags = 0;

int fnn_gemm_set_test_flags(int flags) {
    int old = fnn_gemm_test_flags;
    fnn_gemm_test_flags = flags;
    return old;
}
