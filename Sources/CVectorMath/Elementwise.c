#include "CVectorMath.h"
#include <immintrin.h>

// Built with -ffp-contract=off (Package.swift): a fused multiply-add would round differently from Swift's
// separate multiply and add, and the results must not depend on the CPU.
#define AVX512 __attribute__((target("avx512f,avx512dq")))

int fuse_avx512_available(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    }
    return known;
}

// VectorMath.exp, sixteen lanes: clamp, n = round(x·log2 e), Cody–Waite reduction, degree-5 polynomial, ·2ⁿ.
AVX512 static inline __m512 exp16(__m512 x) {
    // max/min return their second operand when either is NaN: a NaN passes through, as in the Swift version.
    x = _mm512_max_ps(_mm512_set1_ps(-87.33f), x);
    x = _mm512_min_ps(_mm512_set1_ps(88.37f), x);
    const __m512 shifted = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _mm512_set1_ps(12582912.0f));
    const __m512 fx = _mm512_sub_ps(shifted, _mm512_set1_ps(12582912.0f));
    x = _mm512_sub_ps(x, _mm512_mul_ps(fx, _mm512_set1_ps(0.693359375f)));
    x = _mm512_add_ps(x, _mm512_mul_ps(fx, _mm512_set1_ps(2.1219444e-4f)));
    const __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.98756915e-4f);
    y = _mm512_add_ps(_mm512_mul_ps(y, x), _mm512_set1_ps(1.39819995e-3f));
    y = _mm512_add_ps(_mm512_mul_ps(y, x), _mm512_set1_ps(8.3334519e-3f));
    y = _mm512_add_ps(_mm512_mul_ps(y, x), _mm512_set1_ps(4.16657959e-2f));
    y = _mm512_add_ps(_mm512_mul_ps(y, x), _mm512_set1_ps(1.66666655e-1f));
    y = _mm512_add_ps(_mm512_mul_ps(y, x), _mm512_set1_ps(5.00000012e-1f));
    y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(y, z), x), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000)),
                                          _mm512_set1_epi32(127));
    return _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(bits, 23)));
}

AVX512 static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// The blocks' first 8·⌊blocks/2⌋·2 values sixteen at a time, an odd last block eight at a time (masked).
#define FOR_BLOCKS(blocks, ...)                                                    \
    for (long i = 0; i < 8 * (blocks); i += 16) {                                  \
        const __mmask16 mask = 8 * (blocks) - i >= 16 ? 0xffff : 0x00ff;           \
        __VA_ARGS__                                                                \
    }

AVX512 void fuse_exp_shifted(const float *src, float *dst, long n, float shift, float *acc) {
    const __m512 s = _mm512_set1_ps(shift);
    __m256 sum = _mm256_loadu_ps(acc);
    for (long i = 0; i < n; i += 16) {
        const long left = n - i;
        const __mmask16 mask = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, src + i), s));
        _mm512_mask_storeu_ps(dst + i, mask, e);
        if (left >= 8) sum = _mm256_add_ps(sum, _mm512_castps512_ps256(e));
        if (left >= 16) sum = _mm256_add_ps(sum, _mm512_extractf32x8_ps(e, 1));
    }
    _mm256_storeu_ps(acc, sum);
}

AVX512 float fuse_max_blocks(const float *src, long blocks) {
    __m512 m = _mm512_set1_ps(-__builtin_inff());
    for (long i = 0; i < 16 * blocks; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(src + i), m);
    return _mm512_reduce_max_ps(m);
}

AVX512 void fuse_swiglu_forward_blocks(const float *gate, const float *up, float *out, long blocks) {
    FOR_BLOCKS(blocks, {
        const __m512 g = _mm512_maskz_loadu_ps(mask, gate + i);
        const __m512 a = _mm512_mul_ps(_mm512_mul_ps(g, sigmoid16(g)), _mm512_maskz_loadu_ps(mask, up + i));
        _mm512_mask_storeu_ps(out + i, mask, a);
    })
}

AVX512 void fuse_swiglu_backward_blocks(const float *dOut, const float *gate, const float *up, float *dGate, float *dUp,
                                        long blocks) {
    const __m512 one = _mm512_set1_ps(1.0f);
    FOR_BLOCKS(blocks, {
        const __m512 g = _mm512_maskz_loadu_ps(mask, gate + i), s = sigmoid16(g);
        const __m512 d = _mm512_maskz_loadu_ps(mask, dOut + i), u = _mm512_maskz_loadu_ps(mask, up + i);
        _mm512_mask_storeu_ps(dUp + i, mask, _mm512_mul_ps(_mm512_mul_ps(d, g), s));
        const __m512 slope = _mm512_add_ps(one, _mm512_mul_ps(g, _mm512_sub_ps(one, s)));
        _mm512_mask_storeu_ps(dGate + i, mask, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, u), s), slope));
    })
}

AVX512 void fuse_adamw_blocks(float *p, const float *g, float *m, float *v, long blocks, const fuse_adamw_constants *c) {
    const __m512 gradientScale = _mm512_set1_ps(c->gradientScale), oneMinusBeta1 = _mm512_set1_ps(c->oneMinusBeta1);
    const __m512 beta2 = _mm512_set1_ps(c->beta2), oneMinusBeta2 = _mm512_set1_ps(c->oneMinusBeta2);
    const __m512 bias2Sqrt = _mm512_set1_ps(c->bias2Sqrt), eps = _mm512_set1_ps(c->eps);
    const __m512 decay = _mm512_set1_ps(c->decay), negStepSize = _mm512_set1_ps(c->negStepSize);
    FOR_BLOCKS(blocks, {
        const __m512 grad = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, g + i), gradientScale);
        const __m512 m0 = _mm512_maskz_loadu_ps(mask, m + i), v0 = _mm512_maskz_loadu_ps(mask, v + i);
        const __m512 m1 = _mm512_add_ps(m0, _mm512_mul_ps(oneMinusBeta1, _mm512_sub_ps(grad, m0)));
        const __m512 v1 = _mm512_add_ps(_mm512_mul_ps(v0, beta2), _mm512_mul_ps(_mm512_mul_ps(oneMinusBeta2, grad), grad));
        const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v1), bias2Sqrt), eps);
        const __m512 p1 = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, p + i), decay),
                                        _mm512_div_ps(_mm512_mul_ps(negStepSize, m1), denom));
        _mm512_mask_storeu_ps(m + i, mask, m1);
        _mm512_mask_storeu_ps(v + i, mask, v1);
        _mm512_mask_storeu_ps(p + i, mask, p1);
    })
}
