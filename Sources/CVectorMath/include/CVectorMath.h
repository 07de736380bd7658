#ifndef CVECTORMATH_H
#define CVECTORMATH_H
#include <stddef.h>

// Vectorised activations with one exact definition: the AVX2 path and the portable path perform the same
// IEEE operations (explicit fused multiply-adds, no contraction), so results are bit-identical on every
// x86-64 machine and independent of which path runs.

/// y[i] = silu(x[i] * scale + shift)
void svm_affine_silu(const float *x, float *y, size_t n, float scale, float shift);
/// y[i] = x[i] * scale + shift
void svm_affine(const float *x, float *y, size_t n, float scale, float shift);
/// y[i] = x[i] / (1 + exp(-x[i]))
void svm_silu(const float *x, float *y, size_t n);
/// y[i] = value[i] * gelu(gate[i]), GELU with erf (PyTorch's default).
void svm_gelu_gate(const float *value, const float *gate, float *y, size_t n);
/// y[i] = gelu(x[i])
void svm_gelu(const float *x, float *y, size_t n);
/// p[0..<n] = softmax(p[0..<n]) in place.
void svm_softmax(float *p, size_t n);
/// p[i] = exp(p[i] − max p) in place; returns their sum (softmax is p / sum).
float svm_softmax_numerators(float *p, size_t n);
float svm_portable_softmax_numerators(float *p, size_t n);
/// Winograd kernel transforms U[ξ][pair] = (G g Gᵀ)[ξ] for weight pairs first..<first+count of weight
/// [pairs][3×3]; alpha 4 is F(2×2, 3×3), alpha 6 is F(4×4, 3×3) (G as documented in Winograd.swift).
void svm_winograd_kernels(const float *weight, size_t pairs, size_t first, size_t count, float *u, int alpha);
/// F(4×4, 3×3) input transform of 8 tiles, one per lane: tile k's 6×6 input is rows[i·rowStride + 4k + j]
/// (i, j < 6; 36 floats read per row); V element ξ of tile k goes to v[ξ·stride + k] for k < lanes.
void svm_winograd_f4_inputs8(const float *rows, size_t row_stride, int lanes, float *v, size_t stride);
/// F(4×4, 3×3) output transform of 8 tiles from M element ξ of tile k at m[ξ·stride + k] (8 floats read per ξ):
/// Aᵀ M A + bias, tile k's 4×4 block at out[i·width + 4k + x], for rows i < `rows` and the first `columns`
/// of the 32 columns.
void svm_winograd_f4_outputs8(const float *m, size_t stride, float bias, int rows, int columns, float *out,
                              size_t width);
void svm_portable_winograd_f4_inputs8(const float *rows, size_t row_stride, int lanes, float *v, size_t stride);
void svm_portable_winograd_f4_outputs8(const float *m, size_t stride, float bias, int rows, int columns,
                                       float *out, size_t width);
/// c[i·ldc + j] = Σ_p a[i·lda + p]·b[p·ldb + j] for i < m, j < n (row-major), each element one fused
/// multiply-add chain over p in order from zero: for the Winograd products of narrow layers, where BLAS's
/// packing and per-call costs outweigh its faster kernel.
void svm_small_gemm(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                    size_t m, size_t n, size_t k);
void svm_portable_small_gemm(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                             size_t m, size_t n, size_t k);
/// The portable paths, for tests that prove both paths agree bit for bit.
void svm_portable_exp(const float *x, float *y, size_t n);
void svm_portable_gelu(const float *x, float *y, size_t n);
void svm_exp(const float *x, float *y, size_t n);
/// 1 when the AVX2+FMA path is in use.
int svm_uses_avx2(void);

#endif
