// Debian's libopenblas-dev installs cblas.h (with openblas_set_num_threads) on the default include path.
#include <cblas.h>

// The OPENBLAS_CORETYPE whose kernels this CPU runs: "SKYLAKEX" with AVX-512 (F, BW, DQ, VL), "HASWELL" with AVX2
// and FMA, NULL otherwise. For BLAS.coreTypeForMisdetectedCPU: OpenBLAS's own detection misses CPUs newer than it.
static inline const char *fuse_cpu_kernel_family(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl")) return "SKYLAKEX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "HASWELL";
    return 0;
}
