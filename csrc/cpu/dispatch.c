/* CPU feature detection and the ISA dispatch tables. */
#include "cpu/kernels.h"
#include "fastnn/fastnn.h"

/* Declarations of every kernel of every built ISA, from the one list. */
#define K(name, sig)                                                  \
    extern sig##_f32_t FNN_KERNEL_NAME(f32, name, generic);           \
    extern sig##_f64_t FNN_KERNEL_NAME(f64, name, generic);
FNN_KERNEL_LIST(K)
#undef K
#define FNN_TABLE(isa)                                                \
    static const fnn_kernel_table fnn_table_##isa = {                 \
        #isa, FNN_KERNEL_LIST(FNN_TABLE_ENTRY_##isa)};

#define FNN_TABLE_ENTRY_generic(name, sig) FNN_KERNEL_NAME(f32, name, generic), FNN_KERNEL_NAME(f64, name, generic),
FNN_TABLE(generic)

#if defined(FNN_HAVE_AVX2)
#define K(name, sig)                                                  \
    extern sig##_f32_t FNN_KERNEL_NAME(f32, name, avx2);              \
    extern sig##_f64_t FNN_KERNEL_NAME(f64, name, avx2);
FNN_KERNEL_LIST(K)
#undef K
#define FNN_TABLE_ENTRY_avx2(name, sig) FNN_KERNEL_NAME(f32, name, avx2), FNN_KERNEL_NAME(f64, name, avx2),
FNN_TABLE(avx2)
#endif

#if defined(FNN_HAVE_AVX512)
#define K(name, sig)                                                  \
    extern sig##_f32_t FNN_KERNEL_NAME(f32, name, avx512);            \
    extern sig##_f64_t FNN_KERNEL_NAME(f64, name, avx512);
FNN_KERNEL_LIST(K)
#undef K
#define FNN_TABLE_ENTRY_avx512(name, sig) FNN_KERNEL_NAME(f32, name, avx512), FNN_KERNEL_NAME(f64, name, avx512),
FNN_TABLE(avx512)
#endif

static const fnn_kernel_table *const fnn_tables[3] = {
    &fnn_table_generic,
#if defined(FNN_HAVE_AVX2)
    &fnn_table_avx2,
#else
    0,
#endif
#if defined(FNN_HAVE_AVX512)
    &fnn_table_avx512,
#else
    0,
#endif
};

const fnn_kernel_table *fnn_active = &fnn_table_generic;
static int fnn_isa_current = FNN_ISA_ID_GENERIC;

/* Kernel names, in table order, for fastnn.config()["kernels"]. */
#define K(name, sig) "fnn_f32_" #name, "fnn_f64_" #name,
static const char *const fnn_kernel_names[] = {FNN_KERNEL_LIST(K)};
#undef K

int fnn_kernel_count(void) { return (int)(sizeof fnn_kernel_names / sizeof fnn_kernel_names[0]); }
const char *fnn_kernel_base_name(int i) {
    return (i >= 0 && i < fnn_kernel_count()) ? fnn_kernel_names[i] : 0;
}

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
static uint64_t fnn_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
/* CPUID says what the core can do; XGETBV says whether the OS saves the
 * register state of it.  Both must agree before an ISA is used. */
static int fnn_detect_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FNN_ISA_ID_GENERIC;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return FNN_ISA_ID_GENERIC;
    uint64_t xcr0 = fnn_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return FNN_ISA_ID_GENERIC; /* SSE + AVX state */
    if (__get_cpuid_max(0, 0) < 7) return FNN_ISA_ID_GENERIC;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1); /* F DQ BW VL */
    int zmm_state = (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (avx512 && zmm_state && fma) return FNN_ISA_ID_AVX512;
    if (avx2 && fma) return FNN_ISA_ID_AVX2;
    return FNN_ISA_ID_GENERIC;
}
#else
static int fnn_detect_isa(void) { return FNN_ISA_ID_GENERIC; }
#endif

static int fnn_best = -1;

int fnn_best_isa(void) {
    if (fnn_best < 0) {
        int isa = fnn_detect_isa();
        while (isa > 0 && !fnn_tables[isa]) isa--; /* not built by this compiler */
        fnn_best = isa;
    }
    return fnn_best;
}

int fnn_get_isa(void) { return fnn_isa_current; }

int fnn_set_isa(int isa) {
    if (isa < 0 || isa > FNN_ISA_ID_AVX512) return FNN_EINVAL;
    if (isa > fnn_best_isa() || !fnn_tables[isa]) return FNN_ENOTSUP;
    fnn_active = fnn_tables[isa];
    fnn_isa_current = isa;
    return FNN_OK;
}

const char *fnn_isa_name(int isa) {
    static const char *const names[3] = {"generic", "avx2", "avx512"};
    return (isa >= 0 && isa <= 2) ? names[isa] : "unknown";
}

const char *fnn_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}
