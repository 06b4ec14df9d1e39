/* fastnn_capi.h: call fastnn's kernels from another Python extension.
 *
 *     #include <Python.h>
 *     #include <fastnn/fastnn_capi.h>        // include_dirs=[fastnn.get_include()]
 *
 *     PyMODINIT_FUNC PyInit_mymod(void) {
 *         if (import_fastnn() < 0) return NULL;   // ImportError is set
 *         ...
 *     }
 *     ...  rc = fnn_sgemm('N', 'N', m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
 *
 * Do not link to fastnn and do not compile csrc/ into your module: every
 * kernel runs inside fastnn._C, with its ISA dispatch, its OpenMP pool and
 * its thread setting (fastnn.set_num_threads(), threadpoolctl), so your
 * module needs neither -fopenmp nor any fastnn library.
 *
 * import_fastnn() imports fastnn._C (needs the GIL; call it once, in module
 * init), fetches the capsule "fastnn._C._C_API" and checks it: its ABI major
 * must equal FNN_CAPI_ABI_MAJOR of this header and its table must hold at
 * least the entries this header knows (otherwise ImportError naming both
 * versions: rebuild against, or upgrade to, the installed fastnn).  It returns
 * 0, or -1 with a Python exception set.
 *
 * After it, every fastnn.h function is called by its name, e.g. fnn_sgemm(...):
 * the names are macros over the table (fnn_capi_table->sgemm).  They are
 * ordinary function pointers, so `fnn_sgemm` may also be stored or passed.
 * The kernels do not need the GIL: release it around long calls.  Argument
 * conventions, error codes and thread-safety are those of fastnn.h.
 *
 * Several C files in one module: in every file define
 * FASTNN_CAPI_UNIQUE_SYMBOL to one name (e.g. mymod_fastnn_capi) before
 * including this header; in all files but the one that calls import_fastnn(),
 * also define FASTNN_CAPI_NO_IMPORT (NumPy's PY_ARRAY_UNIQUE_SYMBOL /
 * NO_IMPORT_ARRAY pattern).  Without them the table pointer is static to the
 * including file.
 */
#ifndef FASTNN_CAPI_H
#define FASTNN_CAPI_H
#include <Python.h>

#include "fastnn/fastnn.h"
#include "fastnn/fastnn_capi_table.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FASTNN_CAPI_UNIQUE_SYMBOL)
#define fnn_capi_table FASTNN_CAPI_UNIQUE_SYMBOL
#endif

#if defined(FASTNN_CAPI_NO_IMPORT)
#if !defined(FASTNN_CAPI_UNIQUE_SYMBOL)
#error "FASTNN_CAPI_NO_IMPORT needs FASTNN_CAPI_UNIQUE_SYMBOL (the table pointer of the file that imports)"
#endif
extern const fnn_capi_t *fnn_capi_table;
#else
#if defined(FASTNN_CAPI_UNIQUE_SYMBOL)
const fnn_capi_t *fnn_capi_table = NULL;
#else
static const fnn_capi_t *fnn_capi_table = NULL;
#endif

/* Entries of a table of `size` bytes (for the messages below). */
static inline size_t fnn_capi_entries_(size_t size) {
    return size > offsetof(fnn_capi_t, get_num_threads)
               ? (size - offsetof(fnn_capi_t, get_num_threads)) / sizeof(void (*)(void))
               : 0;
}

static inline int import_fastnn(void) {
    const fnn_capi_t *t;
    if (fnn_capi_table) return 0;
    t = (const fnn_capi_t *)PyCapsule_Import(FNN_CAPI_CAPSULE_NAME, 0);
    if (!t) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ImportError,
                            "fastnn C API: fastnn._C has no valid capsule " FNN_CAPI_CAPSULE_NAME
                            " (is the installed fastnn too old?)");
        }
        return -1;
    }
    if (t->abi_major != FNN_CAPI_ABI_MAJOR) {
        PyErr_Format(PyExc_ImportError,
                     "fastnn C API ABI mismatch: this module was built against ABI %d.%d, but the installed "
                     "fastnn provides ABI %u.%u; rebuild the module against the installed fastnn "
                     "(include_dirs=[fastnn.get_include()])",
                     FNN_CAPI_ABI_MAJOR, FNN_CAPI_ABI_MINOR, t->abi_major, t->abi_minor);
        return -1;
    }
    if (t->size < sizeof(fnn_capi_t)) {
        PyErr_Format(PyExc_ImportError,
                     "fastnn C API too old: this module was built against ABI %d.%d (%zu functions), but the "
                     "installed fastnn provides ABI %u.%u (%zu functions); upgrade fastnn or rebuild the module "
                     "against the installed one",
                     FNN_CAPI_ABI_MAJOR, FNN_CAPI_ABI_MINOR, fnn_capi_entries_(sizeof(fnn_capi_t)),
                     t->abi_major, t->abi_minor, fnn_capi_entries_(t->size));
        return -1;
    }
    fnn_capi_table = t;
    return 0;
}
#endif /* FASTNN_CAPI_NO_IMPORT */

/* fastnn.h's functions, by name, through the table (same order as
 * FNN_CAPI_FUNCTIONS). */
#define fnn_get_num_threads (fnn_capi_table->get_num_threads)
#define fnn_set_num_threads (fnn_capi_table->set_num_threads)
#define fnn_get_isa (fnn_capi_table->get_isa)
#define fnn_best_isa (fnn_capi_table->best_isa)
#define fnn_set_isa (fnn_capi_table->set_isa)
#define fnn_isa_name (fnn_capi_table->isa_name)
#define fnn_act_forward_f32 (fnn_capi_table->act_forward_f32)
#define fnn_act_forward_f64 (fnn_capi_table->act_forward_f64)
#define fnn_act_backward_f32 (fnn_capi_table->act_backward_f32)
#define fnn_act_backward_f64 (fnn_capi_table->act_backward_f64)
#define fnn_row_forward_f32 (fnn_capi_table->row_forward_f32)
#define fnn_row_forward_f64 (fnn_capi_table->row_forward_f64)
#define fnn_row_backward_f32 (fnn_capi_table->row_backward_f32)
#define fnn_row_backward_f64 (fnn_capi_table->row_backward_f64)
#define fnn_cross_entropy_index_f32 (fnn_capi_table->cross_entropy_index_f32)
#define fnn_cross_entropy_index_f64 (fnn_capi_table->cross_entropy_index_f64)
#define fnn_cross_entropy_prob_f32 (fnn_capi_table->cross_entropy_prob_f32)
#define fnn_cross_entropy_prob_f64 (fnn_capi_table->cross_entropy_prob_f64)
#define fnn_layer_norm_forward_f32 (fnn_capi_table->layer_norm_forward_f32)
#define fnn_layer_norm_forward_f64 (fnn_capi_table->layer_norm_forward_f64)
#define fnn_layer_norm_backward_f32 (fnn_capi_table->layer_norm_backward_f32)
#define fnn_layer_norm_backward_f64 (fnn_capi_table->layer_norm_backward_f64)
#define fnn_batch_norm_forward_f32 (fnn_capi_table->batch_norm_forward_f32)
#define fnn_batch_norm_forward_f64 (fnn_capi_table->batch_norm_forward_f64)
#define fnn_batch_norm_backward_f32 (fnn_capi_table->batch_norm_backward_f32)
#define fnn_batch_norm_backward_f64 (fnn_capi_table->batch_norm_backward_f64)
#define fnn_sgd_step_f32 (fnn_capi_table->sgd_step_f32)
#define fnn_sgd_step_f64 (fnn_capi_table->sgd_step_f64)
#define fnn_adam_step_f32 (fnn_capi_table->adam_step_f32)
#define fnn_adam_step_f64 (fnn_capi_table->adam_step_f64)
#define fnn_adamw_step_f32 (fnn_capi_table->adamw_step_f32)
#define fnn_adamw_step_f64 (fnn_capi_table->adamw_step_f64)
#define fnn_rmsprop_step_f32 (fnn_capi_table->rmsprop_step_f32)
#define fnn_rmsprop_step_f64 (fnn_capi_table->rmsprop_step_f64)
#define fnn_sgemm (fnn_capi_table->sgemm)
#define fnn_dgemm (fnn_capi_table->dgemm)
#define fnn_gemm_batched_f32 (fnn_capi_table->gemm_batched_f32)
#define fnn_gemm_batched_f64 (fnn_capi_table->gemm_batched_f64)
#define fnn_linear_f32 (fnn_capi_table->linear_f32)
#define fnn_linear_f64 (fnn_capi_table->linear_f64)
#define fnn_conv2d_forward_f32 (fnn_capi_table->conv2d_forward_f32)
#define fnn_conv2d_forward_f64 (fnn_capi_table->conv2d_forward_f64)
#define fnn_conv2d_backward_input_f32 (fnn_capi_table->conv2d_backward_input_f32)
#define fnn_conv2d_backward_input_f64 (fnn_capi_table->conv2d_backward_input_f64)
#define fnn_conv2d_backward_weight_f32 (fnn_capi_table->conv2d_backward_weight_f32)
#define fnn_conv2d_backward_weight_f64 (fnn_capi_table->conv2d_backward_weight_f64)
#define fnn_max_pool2d_forward_f32 (fnn_capi_table->max_pool2d_forward_f32)
#define fnn_max_pool2d_forward_f64 (fnn_capi_table->max_pool2d_forward_f64)
#define fnn_max_pool2d_backward_f32 (fnn_capi_table->max_pool2d_backward_f32)
#define fnn_max_pool2d_backward_f64 (fnn_capi_table->max_pool2d_backward_f64)
#define fnn_avg_pool2d_forward_f32 (fnn_capi_table->avg_pool2d_forward_f32)
#define fnn_avg_pool2d_forward_f64 (fnn_capi_table->avg_pool2d_forward_f64)
#define fnn_avg_pool2d_backward_f32 (fnn_capi_table->avg_pool2d_backward_f32)
#define fnn_avg_pool2d_backward_f64 (fnn_capi_table->avg_pool2d_backward_f64)
#define fnn_rnn_tanh_cell_forward_f32 (fnn_capi_table->rnn_tanh_cell_forward_f32)
#define fnn_rnn_tanh_cell_forward_f64 (fnn_capi_table->rnn_tanh_cell_forward_f64)
#define fnn_rnn_tanh_cell_backward_f32 (fnn_capi_table->rnn_tanh_cell_backward_f32)
#define fnn_rnn_tanh_cell_backward_f64 (fnn_capi_table->rnn_tanh_cell_backward_f64)
#define fnn_lstm_cell_forward_f32 (fnn_capi_table->lstm_cell_forward_f32)
#define fnn_lstm_cell_forward_f64 (fnn_capi_table->lstm_cell_forward_f64)
#define fnn_lstm_cell_backward_f32 (fnn_capi_table->lstm_cell_backward_f32)
#define fnn_lstm_cell_backward_f64 (fnn_capi_table->lstm_cell_backward_f64)
#define fnn_gru_cell_forward_f32 (fnn_capi_table->gru_cell_forward_f32)
#define fnn_gru_cell_forward_f64 (fnn_capi_table->gru_cell_forward_f64)
#define fnn_gru_cell_backward_f32 (fnn_capi_table->gru_cell_backward_f32)
#define fnn_gru_cell_backward_f64 (fnn_capi_table->gru_cell_backward_f64)
#define fnn_embedding_forward_f32 (fnn_capi_table->embedding_forward_f32)
#define fnn_embedding_forward_f64 (fnn_capi_table->embedding_forward_f64)
#define fnn_embedding_backward_f32 (fnn_capi_table->embedding_backward_f32)
#define fnn_embedding_backward_f64 (fnn_capi_table->embedding_backward_f64)
#define fnn_rnn_layer_forward_f32 (fnn_capi_table->rnn_layer_forward_f32)
#define fnn_rnn_layer_forward_f64 (fnn_capi_table->rnn_layer_forward_f64)
#define fnn_rnn_layer_backward_f32 (fnn_capi_table->rnn_layer_backward_f32)
#define fnn_rnn_layer_backward_f64 (fnn_capi_table->rnn_layer_backward_f64)
#define fnn_attention_forward_f32 (fnn_capi_table->attention_forward_f32)
#define fnn_attention_forward_f64 (fnn_capi_table->attention_forward_f64)
#define fnn_attention_backward_f32 (fnn_capi_table->attention_backward_f32)
#define fnn_attention_backward_f64 (fnn_capi_table->attention_backward_f64)
#define fnn_attention_masked_forward_f32 (fnn_capi_table->attention_masked_forward_f32)
#define fnn_attention_masked_forward_f64 (fnn_capi_table->attention_masked_forward_f64)
#define fnn_attention_masked_backward_f32 (fnn_capi_table->attention_masked_backward_f32)
#define fnn_attention_masked_backward_f64 (fnn_capi_table->attention_masked_backward_f64)

#ifdef __cplusplus
}
#endif
#endif
