# fnn_example_cy.pyx: the same in Cython.
from libc.stdint cimport int64_t
from fastnn.capi cimport (FNN_ACT_SIGMOID, fnn_act_forward_f32, fnn_get_num_threads,
                          fnn_sgemm, import_fastnn)

import_fastnn()


def matmul(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c):
    """c = a @ b (float32, C-contiguous)."""
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("matmul: shapes do not match")
    cdef const float *pa = &a[0, 0] if m and k else NULL
    cdef const float *pb = &b[0, 0] if k and n else NULL
    cdef float *pc = &c[0, 0] if m and n else NULL
    cdef int rc
    with nogil:
        rc = fnn_sgemm(b'N', b'N', m, n, k, 1.0, pa, max(k, 1), pb, max(n, 1), 0.0, pc, max(n, 1))
    if rc != 0:
        raise ValueError(f"fnn_sgemm failed with error {rc}")


def sigmoid(const float[::1] x, float[::1] y):
    """y = 1 / (1 + exp(-x)) (float32)."""
    if x.shape[0] != y.shape[0]:
        raise ValueError("sigmoid: lengths differ")
    if x.shape[0] == 0:
        return
    cdef int rc
    with nogil:
        rc = fnn_act_forward_f32(FNN_ACT_SIGMOID, x.shape[0], &x[0], &y[0], 0.0)
    if rc != 0:
        raise ValueError(f"fnn_act_forward_f32 failed with error {rc}")


def num_threads():
    """Threads a fastnn kernel called now would use."""
    return fnn_get_num_threads()
