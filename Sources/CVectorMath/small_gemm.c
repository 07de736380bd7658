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

#define ROWS 6

// Rows 0..<rows (rows ≤ ROWS) × `vecs` (1 or 2) vectors of 8 columns, the last one masked by `last` if
// `masked`. Called with constants, so the accumulators stay in registers (6 × 2 + 2 + 1 of the 16; clang
// spills a 4 × 24 block's 12 + 3 + 1).
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
block(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc, size_t k, int rows,
      int vecs, int masked, __m256i last) {
    __m256 acc[ROWS][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m256 b0, b1 = _mm256_setzero_ps();
        if (vecs == 2) {
            b0 = _mm256_loadu_ps(b + p * ldb);
            b1 = masked ? _mm256_maskload_ps(b + p * ldb + 8, last) : _mm256_loadu_ps(b + p * ldb + 8);
        } else {
            b0 = masked ? _mm256_maskload_ps(b + p * ldb, last) : _mm256_loadu_ps(b + p * ldb);
        }
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * lda + p);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            if (vecs == 2) acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        __m256 *tail = &acc[r][vecs - 1];
        float *to = c + r * ldc + 8 * (vecs - 1);
        if (vecs == 2) _mm256_storeu_ps(c + r * ldc, acc[r][0]);
        if (masked) _mm256_maskstore_ps(to, last, *tail);
        else _mm256_storeu_ps(to, *tail);
    }
}

#define ROW_CASES(V, M)                                                                                    \
    switch (rows) {                                                                                        \
    case 6: block(ai, lda, bj, ldb, cij, ldc, k, 6, V, M, last); break;                                    \
    case 5: block(ai, lda, bj, ldb, cij, ldc, k, 5, V, M, last); break;                                    \
    case 4: block(ai, lda, bj, ldb, cij, ldc, k, 4, V, M, last); break;                                    \
    case 3: block(ai, lda, bj, ldb, cij, ldc, k, 3, V, M, last); break;                                    \
    case 2: block(ai, lda, bj, ldb, cij, ldc, k, 2, V, M, last); break;                                    \
    default: block(ai, lda, bj, ldb, cij, ldc, k, 1, V, M, last); break;                                   \
    }

__attribute__((target("avx2,fma"))) static void gemm_avx2(const float *a, size_t lda, const float *b, size_t ldb,
                                                          float *c, size_t ldc, size_t m, size_t n, size_t k) {
    // Column blocks outermost: a block's k × 16 slice of B stays in L1 while every row block passes over it.
    for (size_t j = 0; j < n; j += 16) {
        size_t cols = n - j < 16 ? n - j : 16;
        int vecs = cols > 8 ? 2 : 1, tail = (int)(cols - 8 * (vecs - 1));
        __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t i = 0; i < m; i += ROWS) {
            int rows = m - i < ROWS ? (int)(m - i) : ROWS;
            const float *ai = a + i * lda, *bj = b + j;
            float *cij = c + i * ldc + j;
            if (cols == 16) { ROW_CASES(2, 0) }
            else if (vecs == 2) { ROW_CASES(2, 1) }
            else if (cols == 8) { ROW_CASES(1, 0) }
            else { ROW_CASES(1, 1) }
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
