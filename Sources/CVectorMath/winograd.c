#include "CVectorMath.h"

// Winograd kernel transforms U = G g Gᵀ, eight (out, in) weight pairs at a time, one pair per lane. Only
// additions and multiplications by constants, without contraction, so the AVX2 build and the portable build of
// the same loops give the same bits.

#define LANES 8

static inline __attribute__((always_inline)) void column_f2(const float *g0, const float *g1, const float *g2,
                                                             float u[][LANES]) {
    for (int l = 0; l < LANES; l++) {
        float s = g0[l] + g2[l];
        u[0][l] = g0[l];
        u[1][l] = (s + g1[l]) * 0.5f;
        u[2][l] = (s - g1[l]) * 0.5f;
        u[3][l] = g2[l];
    }
}

static inline __attribute__((always_inline)) void column_f4(const float *g0, const float *g1, const float *g2,
                                                             float u[][LANES]) {
    for (int l = 0; l < LANES; l++) {
        float s = g0[l] + g2[l];
        float p = g0[l] * (1.0f / 24.0f) + g2[l] * (1.0f / 6.0f), q = g1[l] * (1.0f / 12.0f);
        u[0][l] = g0[l] * 0.25f;
        u[1][l] = (s + g1[l]) * (-1.0f / 6.0f);
        u[2][l] = (s - g1[l]) * (-1.0f / 6.0f);
        u[3][l] = p + q;
        u[4][l] = p - q;
        u[5][l] = g2[l];
    }
}

static inline __attribute__((always_inline)) void transform_kernels(const float *w, size_t pairs, size_t first,
                                                                     size_t count, float *u, int alpha) {
    for (size_t start = first; start < first + count; start += LANES) {
        size_t lanes = first + count - start < LANES ? first + count - start : LANES;
        float g[9][LANES] = {{0}};
        for (size_t l = 0; l < lanes; l++)
            for (int k = 0; k < 9; k++) g[k][l] = w[(start + l) * 9 + k];
        float t[3][6][LANES];  // t[kx][i] = (G g)[i][kx]
        float col[6][LANES];
        for (int kx = 0; kx < 3; kx++) {
            if (alpha == 4) column_f2(g[kx], g[3 + kx], g[6 + kx], t[kx]);
            else column_f4(g[kx], g[3 + kx], g[6 + kx], t[kx]);
        }
        for (int i = 0; i < alpha; i++) {
            if (alpha == 4) column_f2(t[0][i], t[1][i], t[2][i], col);
            else column_f4(t[0][i], t[1][i], t[2][i], col);
            for (int j = 0; j < alpha; j++) {
                float *dst = u + (size_t)(i * alpha + j) * pairs + start;
                for (size_t l = 0; l < lanes; l++) dst[l] = col[j][l];
            }
        }
    }
}

__attribute__((target("avx2,fma")))
static void transform_kernels_avx2(const float *w, size_t pairs, size_t first, size_t count, float *u, int alpha) {
    transform_kernels(w, pairs, first, count, u, alpha);
}

void svm_winograd_kernels(const float *weight, size_t pairs, size_t first, size_t count, float *u, int alpha) {
    if (svm_uses_avx2()) transform_kernels_avx2(weight, pairs, first, count, u, alpha);
    else transform_kernels(weight, pairs, first, count, u, alpha);
}
