// SGEMM throughput of one library on the training shapes (scripts/bench-sgemm-libraries.sh builds this once per
// library: OpenBLAS and BLIS through their CBLAS interface, oneDNN through dnnl_sgemm).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef USE_DNNL
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

// Row-major C[m×n] = op(A)·op(B).
static void sgemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
#ifdef USE_DNNL
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                b, ldb, 0.0f, c, ldc);
#endif
}

int main(void) {
    // (label, transA, transB, m, n, k): x·Wᵀ forward, dyᵀ·x weight gradient, dy·W input gradient.
    struct { const char *label; int ta, tb, m, n, k; } shapes[] = {
        {"fwd 256x576->576", 0, 1, 256, 576, 576},     {"fwd 256x576->1536", 0, 1, 256, 1536, 576},
        {"fwd 256x1536->576", 0, 1, 256, 576, 1536},   {"fwd 256x576->49152", 0, 1, 256, 49152, 576},
        {"dW 1536x576 (k=256)", 1, 0, 1536, 576, 256}, {"dx 256x576 (k=1536)", 0, 0, 256, 576, 1536},
        {"fwd 1024x256->704", 0, 1, 1024, 704, 256},   {"fwd 1024x256->8192", 0, 1, 1024, 8192, 256},
        {"square 1024", 0, 0, 1024, 1024, 1024},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int ta = shapes[s].ta, tb = shapes[s].tb, m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)(i % 17) * 0.01f;
        for (long i = 0; i < (long)k * n; i++) b[i] = (float)(i % 13) * 0.01f;
        int lda = ta ? m : k, ldb = tb ? k : n;
        sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n);
        double flops = 2.0 * m * n * k, best = 1e9;
        int reps = (int)(2e10 / flops) + 1;
        for (int round = 0; round < 3; round++) {
            double t0 = now();
            for (int r = 0; r < reps; r++) sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n);
            double t = (now() - t0) / reps;
            if (t < best) best = t;
        }
        printf("{\"shape\": \"%s\", \"gflops\": %.1f}\n", shapes[s].label, flops / best / 1e9);
        free(a); free(b); free(c);
    }
    return 0;
}
