#ifndef CBF16_H
#define CBF16_H

#include <stdint.h>

// Matrix products in bf16 with fp32 accumulation on AVX512-BF16 (vdpbf16ps), for `--precision bf16`.
//
// Both operands of C[m×n] += op(A)[m×k] · op(B)[k×n] are packed into panels of bf16 pairs: a panel holds
// `width` rows of the operand (MR rows of A, or NR columns of B) and, for every pair p of the k dimension,
// the `width` 32-bit words (X[r][2p], X[r][2p+1]) — the layout vdpbf16ps multiplies, one broadcast word of A
// against 16 words of B per instruction. An odd k is padded with a zero; rows past the end with zeros.

enum { FUSE_BF16_MR = 12, FUSE_BF16_NR = 32 };

// 1 when the CPU executes AVX512-BF16 (and the AVX512F it builds on), else 0.
int fuse_bf16_available(void);

// Packs panels [panelBegin, panelEnd) of X (rows × k; element (r, j) at src[r·rowStride + j·kStride]) into
// `out` (panel q at out + q·pairs(k)·width). Rounds to nearest even as PyTorch's float → bfloat16 does.
void fuse_bf16_pack(const float *src, long rowStride, long kStride, int rows, int k, int width,
                    int panelBegin, int panelEnd, uint32_t *out);

// C[m×n] = alpha · A·B + beta · C (C row-major, leading dimension ldc) from packed A (panels of MR rows, the
// first at `a`) and packed B (panels of NR columns, the first at `b`), both with `pairs` k-pairs per panel.
// beta = 0 never reads C.
void fuse_bf16_gemm(int m, int n, int pairs, float alpha, const uint32_t *a, const uint32_t *b, float beta,
                    float *c, long ldc);

#endif
