#ifndef CVECTORMATH_H
#define CVECTORMATH_H

// Lane-wise square root for Swift's SIMD8<Float> (Clang's ext_vector_type(8) float imports as SIMD8<Float>).
// Swift's SIMD8.squareRoot() lowers to eight libm sqrtf calls with errno checks; this builtin is one
// vector instruction per four or eight lanes, correctly rounded like the scalar one.
typedef float fuse_float8 __attribute__((ext_vector_type(8)));

static inline __attribute__((always_inline)) fuse_float8 fuse_sqrt8(fuse_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

// AVX-512 versions of VectorMath's hot element-wise loops (Elementwise.c). Swift compiles for baseline x86-64
// (SSE2: four lanes, no FMA); these run sixteen lanes on CPUs that have AVX-512F and compute every lane with the
// very operations, in the very order, of the Swift versions (no fused multiply-add), so results are
// bit-identical with or without them. Callers check fuse_avx512_available() first.
int fuse_avx512_available(void);

// dst[i] = exp(src[i] − shift) for i < n (VectorMath.exp's polynomial); adds the values of each whole block of
// eight to acc[0 ..< 8] lane-wise in order — the Swift loop's eight running sums. The last n mod 8 values are
// not added (the Swift loop sums them one by one, after the lanes).
void fuse_exp_shifted(const float *src, float *dst, long n, float shift, float *acc);

// max over src[0 ..< 16·blocks], NaN ignored as in VectorMath.max (−inf when all are NaN).
float fuse_max_blocks(const float *src, long blocks);

// SwiGLU over 8·blocks values: out = g·σ(g)·u; backward dUp = d·g·σ, dGate = d·u·σ·(1 + g·(1 − σ)).
void fuse_swiglu_forward_blocks(const float *gate, const float *up, float *out, long blocks);
void fuse_swiglu_backward_blocks(const float *dOut, const float *gate, const float *up, float *dGate, float *dUp,
                                 long blocks);

// AdamW over 8·blocks values, in AdamWKernel.step's order of operations.
typedef struct {
    float decay, oneMinusBeta1, beta2, oneMinusBeta2, negStepSize, bias2Sqrt, eps, gradientScale;
} fuse_adamw_constants;
void fuse_adamw_blocks(float *p, const float *g, float *m, float *v, long blocks, const fuse_adamw_constants *c);

#endif
