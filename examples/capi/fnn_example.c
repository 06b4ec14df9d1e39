/* fnn_example.c: a C extension calling fastnn's kernels through its C API. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fastnn/fastnn_capi.h>

/* Does buffer v hold at least rows x cols floats? */
static int fits(const Py_buffer *v, long long rows, long long cols) {
    return rows <= 0 || cols <= 0 || v->len / (Py_ssize_t)sizeof(float) / rows >= cols;
}

static PyObject *fail(const char *what, int rc) {
    return PyErr_Format(PyExc_ValueError, "%s failed with error %d", what, rc);
}

/* matmul(a, b, c, m, n, k): c = a @ b for C-contiguous float32 buffers
 * a (m x k), b (k x n) and c (m x n), e.g. NumPy arrays. */
static PyObject *matmul(PyObject *self, PyObject *args) {
    Py_buffer a, b, c;
    long long m, n, k;
    int rc = FNN_EINVAL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*w*LLL", &a, &b, &c, &m, &n, &k)) return NULL;
    if (fits(&a, m, k) && fits(&b, k, n) && fits(&c, m, n)) {
        Py_BEGIN_ALLOW_THREADS
        rc = fnn_sgemm('N', 'N', m, n, k, 1.0f, a.buf, k > 1 ? k : 1, b.buf, n > 1 ? n : 1,
                       0.0f, c.buf, n > 1 ? n : 1);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&c);
    if (rc != FNN_OK) return fail("fnn_sgemm", rc);
    Py_RETURN_NONE;
}

/* sigmoid(x, y): y = 1 / (1 + exp(-x)) for float32 buffers of one length. */
static PyObject *sigmoid(PyObject *self, PyObject *args) {
    Py_buffer x, y;
    int rc = FNN_EINVAL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*", &x, &y)) return NULL;
    if (x.len == y.len) {
        Py_BEGIN_ALLOW_THREADS
        rc = fnn_act_forward_f32(FNN_ACT_SIGMOID, x.len / (Py_ssize_t)sizeof(float), x.buf, y.buf, 0.0f);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    if (rc != FNN_OK) return fail("fnn_act_forward_f32", rc);
    Py_RETURN_NONE;
}

/* num_threads(): threads a fastnn kernel called now would use. */
static PyObject *num_threads(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(fnn_get_num_threads());
}

static PyMethodDef methods[] = {
    {"matmul", matmul, METH_VARARGS, "c = a @ b (float32)"},
    {"sigmoid", sigmoid, METH_VARARGS, "y = sigmoid(x) (float32)"},
    {"num_threads", num_threads, METH_NOARGS, "fastnn's thread count"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "fnn_example", NULL, -1, methods};

PyMODINIT_FUNC PyInit_fnn_example(void) {
    if (import_fastnn() < 0) return NULL; /* ImportError already set */
    return PyModule_Create(&moduledef);
}
