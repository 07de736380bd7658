#include "CVectorMath.h"
#include <math.h>
#include <immintrin.h>

// C = A·B for the Winograd products of narrow layers (depth under 128), without packing.
// Every element is one chain of fused multiply-adds over p = 0..<k from zero, so the AVX2 kernel (its last
// columns masked) and the portable build give the same bits, whatever the blocking.

static void gemm_portable(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                          size_t m, size_t n, size_t k) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (size_t p = 0; p < k; p++) acc = fmaf(a[i * lda + p], b[p * ldb + j], acc);
            c[i * ldc + j] = acc;
        }
}

#define ROWS 4

// Rows 0..<rows (rows ≤ ROWS) × `vecs` vectors of 8 columns, the last one masked to `last` lanes.
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
block(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc, size_t k, int rows,
      int vecs, __m256i last) {
    __m256 acc[ROWS][3];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < 3; v++) acc[r][v] = _mm256_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m256 bv[3];
        for (int v = 0; v < vecs; v++)
            bv[v] = v == vecs - 1 ? _mm256_maskload_ps(b + p * ldb + 8 * v, last) : _mm256_loadu_ps(b + p * ldb + 8 * v);
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * lda + p);
            for (int v = 0; v < vecs; v++) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) {
            if (v == vecs - 1) _mm256_maskstore_ps(c + r * ldc + 8 * v, last, acc[r][v]);
            else _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
        }
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(const float *a, size_t lda, const float *b, size_t ldb,
                                                          float *c, size_t ldc, size_t m, size_t n, size_t k) {
    const __m256i all = _mm256_set1_epi32(-1);
    // Column blocks outermost: a block's k × 24 slice of B stays in L1 while every row block passes over it.
    for (size_t j = 0; j < n; j += 24) {
        size_t cols = n - j < 24 ? n - j : 24;
        int vecs = (int)((cols + 7) / 8), tail = (int)(cols - 8 * (vecs - 1));
        __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t i = 0; i < m; i += ROWS) {
            int rows = m - i < ROWS ? (int)(m - i) : ROWS;
            const float *ai = a + i * lda, *bj = b + j;
            float *cij = c + i * ldc + j;
            if (rows == ROWS && vecs == 3 && tail == 8) block(ai, lda, bj, ldb, cij, ldc, k, ROWS, 3, all);
            else if (rows == ROWS && vecs == 3) block(ai, lda, bj, ldb, cij, ldc, k, ROWS, 3, last);
            else if (rows == ROWS && vecs == 2) block(ai, lda, bj, ldb, cij, ldc, k, ROWS, 2, last);
            else if (rows == ROWS) block(ai, lda, bj, ldb, cij, ldc, k, ROWS, 1, last);
            else block(ai, lda, bj, ldb, cij, ldc, k, rows, vecs, last);
        }
    }
}

void svm_small_gemm(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                    size_t m, size_t n, size_t k) {
    if (svm_uses_avx2()) gemm_avx2(a, lda, b, ldb, c, ldc, m, n, k);
    else gemm_portable(a, lda, b, ldb, c, ldc, m, n, k);
}

void svm_portable_small_gemm(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                             size_t m, size_t n, size_t k) {
    gemm_portable(a, lda, b, ldb, c, ldc, m, n, k);
}
