#include "CBF16.h"
#include <immintrin.h>
#include <string.h>

#define AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int fuse_bf16_available(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    }
    return known;
}

// float → bfloat16, round to nearest even; NaN stays a quiet NaN (c10::BFloat16's rule).
static inline uint32_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// Any strides, one value at a time.
static void pack_scalar(const float *src, long rowStride, long kStride, int rows, int k, int width,
                        int panelBegin, int panelEnd, uint32_t *out) {
    const int pairs = (k + 1) / 2;
    for (int q = panelBegin; q < panelEnd; q++) {
        uint32_t *panel = out + (long)q * pairs * width;
        for (int i = 0; i < width; i++) {
            const int r = q * width + i;
            uint32_t *dst = panel + i;
            if (r >= rows) {
                for (int p = 0; p < pairs; p++) dst[(long)p * width] = 0;
                continue;
            }
            const float *x = src + (long)r * rowStride;
            for (int p = 0; p < k / 2; p++) {
                dst[(long)p * width] = to_bf16(x[(long)(2 * p) * kStride]) | to_bf16(x[(long)(2 * p + 1) * kStride]) << 16;
            }
            if (k & 1) dst[(long)(pairs - 1) * width] = to_bf16(x[(long)(k - 1) * kStride]);
        }
    }
}

static inline __mmask16 lanes(int n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// 16 floats → 16 bf16 (round to nearest even), each zero-extended to 32 bits.
AVX512_BF16 static inline __m512i widened_bf16(__m512 v) {
    return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v));
}

// Transposes 16 vectors of 16 words in place: r[i][j] → r[j][i].
AVX512_BF16 static inline void transpose16(__m512i r[16]) {
    __m512i a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // b[4i + q], 128-bit lane L: word 4L + q of rows 4i … 4i + 3.
    for (int i = 0; i < 4; i++) {
        b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
        b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
    }
    for (int q = 0; q < 4; q++) {
        const __m512i lo01 = _mm512_shuffle_i32x4(b[q], b[4 + q], 0x44), hi01 = _mm512_shuffle_i32x4(b[q], b[4 + q], 0xee);
        const __m512i lo23 = _mm512_shuffle_i32x4(b[8 + q], b[12 + q], 0x44), hi23 = _mm512_shuffle_i32x4(b[8 + q], b[12 + q], 0xee);
        r[q] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(lo01, lo23, 0xdd);
        r[8 + q] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
        r[12 + q] = _mm512_shuffle_i32x4(hi01, hi23, 0xdd);
    }
}

// Depth contiguous (kStride = 1: weights for x·Wᵀ, activations as A): per 16 rows and 16 pairs, convert each
// row's 32 values to 16 words and transpose, so each pair's words are stored together.
AVX512_BF16 static void pack_depth_contiguous(const float *src, long rowStride, int rows, int k, int width,
                                              int panelBegin, int panelEnd, uint32_t *out) {
    const int pairs = (k + 1) / 2;
    for (int q = panelBegin; q < panelEnd; q++) {
        uint32_t *panel = out + (long)q * pairs * width;
        for (int g = 0; g < width; g += 16) {
            const __mmask16 store = lanes(width - g);
            for (int p0 = 0; p0 < pairs; p0 += 16) {
                __m512i r[16];
                const int j0 = 2 * p0;
                const __mmask16 m0 = lanes(k - j0), m1 = lanes(k - j0 - 16);
                for (int i = 0; i < 16; i++) {
                    const int row = q * width + g + i;
                    if (g + i >= width || row >= rows) { r[i] = _mm512_setzero_si512(); continue; }
                    const float *x = src + (long)row * rowStride + j0;
                    const __m512 lo = _mm512_maskz_loadu_ps(m0, x), hi = _mm512_maskz_loadu_ps(m1, x + 16);
                    r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                }
                transpose16(r);
                const int count = pairs - p0 < 16 ? pairs - p0 : 16;
                for (int p = 0; p < count; p++) _mm512_mask_storeu_epi32(panel + (long)(p0 + p) * width + g, store, r[p]);
            }
        }
    }
}

// Rows contiguous (rowStride = 1: weights for dy·W, transposed activations): each pair is two source lines of
// the panel's rows, converted and interleaved. Eight panels at a time, so each source line is read in runs of
// 8 × width values rather than one panel's width (a narrow strided read wastes most of each cache line).
AVX512_BF16 static void pack_rows_contiguous(const float *src, long kStride, int rows, int k, int width,
                                             int panelBegin, int panelEnd, uint32_t *out) {
    const int pairs = (k + 1) / 2;
    for (int q0 = panelBegin; q0 < panelEnd; q0 += 8) {
        const int q1 = q0 + 8 < panelEnd ? q0 + 8 : panelEnd;
        for (int p = 0; p < pairs; p++) {
            const float *even = src + (long)(2 * p) * kStride;
            const int hasOdd = 2 * p + 1 < k;
            for (int q = q0; q < q1; q++) {
                uint32_t *dst = out + ((long)q * pairs + p) * width;
                for (int g = 0; g < width; g += 16) {
                    const int row = q * width + g;
                    const __mmask16 store = lanes(width - g), load = store & lanes(rows - row);
                    const __m512i lo = widened_bf16(_mm512_maskz_loadu_ps(load, even + row));
                    const __m512i hi = hasOdd ? widened_bf16(_mm512_maskz_loadu_ps(load, even + kStride + row)) : _mm512_setzero_si512();
                    _mm512_mask_storeu_epi32(dst + g, store, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
                }
            }
        }
    }
}

void fuse_bf16_pack(const float *src, long rowStride, long kStride, int rows, int k, int width,
                    int panelBegin, int panelEnd, uint32_t *out) {
    if (kStride == 1 && fuse_bf16_available()) {
        pack_depth_contiguous(src, rowStride, rows, k, width, panelBegin, panelEnd, out);
    } else if (rowStride == 1 && fuse_bf16_available()) {
        pack_rows_contiguous(src, kStride, rows, k, width, panelBegin, panelEnd, out);
    } else {
        pack_scalar(src, rowStride, kStride, rows, k, width, panelBegin, panelEnd, out);
    }
}

// Stores one 16-column half of a tile row: C = alpha·acc + beta·C on the lanes in `mask`.
AVX512_BF16 static inline void store_half(float *c, __m512 acc, float alpha, float beta, __mmask16 mask) {
    __m512 v = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
    if (beta != 0) v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, c), _mm512_set1_ps(beta), v);
    _mm512_mask_storeu_ps(c, mask, v);
}

// One MR × NR tile over `pairs` k-pairs: 24 accumulators, two B vectors, A broadcast from memory.
AVX512_BF16 static void tile(int pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc, int rows, int cols,
                             float alpha, float beta) {
    __m512 acc0[FUSE_BF16_MR], acc1[FUSE_BF16_MR];
    for (int i = 0; i < FUSE_BF16_MR; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }
    for (int p = 0; p < pairs; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        for (int i = 0; i < FUSE_BF16_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
            acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
        }
        a += FUSE_BF16_MR;
        b += FUSE_BF16_NR;
    }
    const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
    for (int i = 0; i < rows; i++) {
        store_half(c + i * ldc, acc0[i], alpha, beta, m0);
        if (m1) store_half(c + i * ldc + 16, acc1[i], alpha, beta, m1);
    }
}

// Cache blocking (AMD Zen 4 / Intel server cores: 32–48 KB L1d, 1–2 MB L2): k in blocks of at most 384 pairs so
// a B panel block (384 × 128 B) stays near L1; 8 column panels (256 columns of C) by 8 row panels (96 rows).
enum { MAX_PAIRS = 384, COLUMN_PANELS = 8, ROW_PANELS = 8 };

void fuse_bf16_gemm(int m, int n, int pairs, float alpha, const uint32_t *a, const uint32_t *b, float beta,
                    float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    const int MR = FUSE_BF16_MR, NR = FUSE_BF16_NR;
    const int rowPanels = (m + MR - 1) / MR, colPanels = (n + NR - 1) / NR;
    // k in equal blocks of at most MAX_PAIRS pairs (one empty block when k = 0: C = beta·C).
    const int blocks = pairs > 0 ? (pairs + MAX_PAIRS - 1) / MAX_PAIRS : 1;
    const int blockPairs = (pairs + blocks - 1) / blocks;
    for (int jc = 0; jc < colPanels; jc += COLUMN_PANELS) {
        const int jEnd = jc + COLUMN_PANELS < colPanels ? jc + COLUMN_PANELS : colPanels;
        for (int block = 0; block < blocks; block++) {
            const int p0 = block * blockPairs;
            const int count = pairs - p0 < blockPairs ? pairs - p0 : blockPairs;
            const float blockBeta = p0 == 0 ? beta : 1;
            for (int ic = 0; ic < rowPanels; ic += ROW_PANELS) {
                const int iEnd = ic + ROW_PANELS < rowPanels ? ic + ROW_PANELS : rowPanels;
                for (int j = jc; j < jEnd; j++) {
                    const uint32_t *bp = b + ((long)j * pairs + p0) * NR;
                    const int cols = n - j * NR < NR ? n - j * NR : NR;
                    for (int i = ic; i < iEnd; i++) {
                        const uint32_t *ap = a + ((long)i * pairs + p0) * MR;
                        const int rows = m - i * MR < MR ? m - i * MR : MR;
                        tile(count, ap, bp, c + (long)i * MR * ldc + (long)j * NR, ldc, rows, cols, alpha, blockBeta);
                    }
                }
            }
        }
    }
}
