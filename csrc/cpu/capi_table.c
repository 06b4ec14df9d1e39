/* The C API table exported by fastnn._C as the PyCapsule "fastnn._C._C_API"
 * (the capsule itself is made in src/fastnn/_capi.pxi; no Python here).
 * Built from the one list FNN_CAPI_FUNCTIONS of fastnn_capi_table.h. */
#include "fastnn/fastnn.h"
#include "fastnn/fastnn_capi_table.h"

/* A table entry whose type differs from the fastnn.h prototype would break
 * every module built against the header: make that a hard error. */
#if defined(__GNUC__)
#pragma GCC diagnostic error "-Wincompatible-pointer-types"
#endif

#define FNN_CAPI_ENTRY_(ret, name, params) fnn_##name,
static const fnn_capi_t fnn_capi_table_ = {
    FNN_CAPI_ABI_MAJOR,
    FNN_CAPI_ABI_MINOR,
    sizeof(fnn_capi_t),
    FNN_CAPI_FUNCTIONS(FNN_CAPI_ENTRY_)};
#undef FNN_CAPI_ENTRY_

/* Name, return type and parameter list of each entry, in table order, for
 * fastnn._C.capi_functions() (and the tests that call every entry). */
#define FNN_CAPI_DESCR_(ret, name, params) {"fnn_" #name, #ret, #params},
static const char *const fnn_capi_descr_[][3] = {FNN_CAPI_FUNCTIONS(FNN_CAPI_DESCR_)};
#undef FNN_CAPI_DESCR_

const fnn_capi_t *fnn_capi_get(void) { return &fnn_capi_table_; }

int fnn_capi_count(void) { return (int)(sizeof fnn_capi_descr_ / sizeof fnn_capi_descr_[0]); }

const char *fnn_capi_describe(int i, int what) {
    if (i < 0 || i >= fnn_capi_count() || what < 0 || what > 2) return 0;
    return fnn_capi_descr_[i][what];
}
