/* Opens the target region of one ISA for the rest of a translation unit.
 * Define FNN_ISA_GENERIC, FNN_ISA_AVX2 or FNN_ISA_AVX512 first.  The build
 * never uses -march: each <area>_<isa>.c file asks for its instruction set
 * here, and the dispatcher only calls it on a CPU that has it.  FNN_ISA_BUILT
 * is 0 when the compiler could not target the ISA (setup.py's probe), and
 * the file then compiles to nothing. */
#if defined(FNN_ISA_GENERIC)
#define FNN_ISA_BUILT 1
#elif defined(FNN_ISA_AVX2)
#if defined(FNN_HAVE_AVX2)
#define FNN_ISA_BUILT 1
#pragma GCC target("avx2,fma")
#else
#define FNN_ISA_BUILT 0
#endif
#elif defined(FNN_ISA_AVX512)
#if defined(FNN_HAVE_AVX512)
#define FNN_ISA_BUILT 1
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#else
#define FNN_ISA_BUILT 0
#endif
#else
#error "isa_begin.h: define FNN_ISA_GENERIC, FNN_ISA_AVX2 or FNN_ISA_AVX512"
#endif
