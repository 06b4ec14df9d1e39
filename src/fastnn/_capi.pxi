# The C API capsule: the table of function pointers built in C
# (csrc/cpu/capi_table.c, from FNN_CAPI_FUNCTIONS of fastnn_capi_table.h),
# exported as fastnn._C._C_API for fastnn_capi.h's import_fastnn() and
# fastnn/capi.pxd.  Included at the end of _C.pyx.

from cpython.pycapsule cimport PyCapsule_New

cdef extern from "fastnn/fastnn_capi_table.h":
    ctypedef struct fnn_capi_t:
        unsigned int abi_major
        unsigned int abi_minor
        size_t size
    int FNN_CAPI_ABI_MAJOR, FNN_CAPI_ABI_MINOR
    const char *FNN_CAPI_CAPSULE_NAME

cdef extern from *:
    """
    const fnn_capi_t *fnn_capi_get(void);
    int fnn_capi_count(void);
    const char *fnn_capi_describe(int i, int what);
    """
    const fnn_capi_t *fnn_capi_get()
    int fnn_capi_count()
    const char *fnn_capi_describe(int i, int what)

_C_API = PyCapsule_New(<void *>fnn_capi_get(), FNN_CAPI_CAPSULE_NAME, NULL)


def capi_version():
    """(major, minor, size in bytes) of the exported C API table."""
    cdef const fnn_capi_t *t = fnn_capi_get()
    return (t.abi_major, t.abi_minor, t.size)


def capi_functions():
    """The table's entries in order, as (name, return type, parameter list)
    strings taken from the C list itself."""
    return [tuple(fnn_capi_describe(i, w).decode() for w in range(3)) for i in range(fnn_capi_count())]
