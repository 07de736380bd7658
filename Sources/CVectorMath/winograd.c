#include "CVectorMath.h"
#include <immintrin.h>
#include <string.h>

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

// ---- F(4×4, 3×3) data transforms, eight tiles at a time (one per lane). ----
// The 1-D transforms are written once over an 8-lane type and instantiated for AVX2 (__m256) and for a
// portable struct; both perform the same additions and multiplications by constants in the same order.

typedef struct { float v[LANES]; } f8;
static inline f8 p_add(f8 a, f8 b) { f8 r; for (int l = 0; l < LANES; l++) r.v[l] = a.v[l] + b.v[l]; return r; }
static inline f8 p_sub(f8 a, f8 b) { f8 r; for (int l = 0; l < LANES; l++) r.v[l] = a.v[l] - b.v[l]; return r; }
static inline f8 p_mul(f8 a, float c) { f8 r; for (int l = 0; l < LANES; l++) r.v[l] = a.v[l] * c; return r; }
#define v_add(a, b) _mm256_add_ps(a, b)
#define v_sub(a, b) _mm256_sub_ps(a, b)
#define v_mul(a, c) _mm256_mul_ps(a, _mm256_set1_ps(c))

// Bᵀ d (Winograd.swift, F4.input1D).
#define INPUT_1D(T, ADD, SUB, MUL)                                                                          \
    static inline __attribute__((always_inline)) void input1d_##T(const T d[6], T r[6]) {                  \
        T d42 = SUB(d[4], d[2]), d13 = SUB(d[1], d[3]);                                                     \
        r[0] = ADD(SUB(MUL(d[0], 4.0f), MUL(d[2], 5.0f)), d[4]);                                            \
        r[1] = SUB(ADD(d[3], d[4]), MUL(ADD(d[1], d[2]), 4.0f));                                            \
        r[2] = ADD(SUB(d[4], d[3]), MUL(SUB(d[1], d[2]), 4.0f));                                            \
        r[3] = SUB(d42, MUL(d13, 2.0f));                                                                    \
        r[4] = ADD(d42, MUL(d13, 2.0f));                                                                    \
        r[5] = ADD(SUB(MUL(d[1], 4.0f), MUL(d[3], 5.0f)), d[5]);                                            \
    }
// Aᵀ m (F4.output1D).
#define OUTPUT_1D(T, ADD, SUB, MUL)                                                                         \
    static inline __attribute__((always_inline)) void output1d_##T(const T m[6], T r[4]) {                 \
        T a = ADD(m[1], m[2]), b = SUB(m[1], m[2]), c = ADD(m[3], m[4]), d = SUB(m[3], m[4]);               \
        r[0] = ADD(ADD(m[0], a), c);                                                                        \
        r[1] = ADD(b, MUL(d, 2.0f));                                                                        \
        r[2] = ADD(a, MUL(c, 4.0f));                                                                        \
        r[3] = ADD(ADD(b, MUL(d, 8.0f)), m[5]);                                                             \
    }
INPUT_1D(f8, p_add, p_sub, p_mul)
OUTPUT_1D(f8, p_add, p_sub, p_mul)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
INPUT_1D(__m256, v_add, v_sub, v_mul)
OUTPUT_1D(__m256, v_add, v_sub, v_mul)

// Columns j and j+1 (j = 0 or 2) ... of eight 4-float tiles: the 8×4 transposes of 32 consecutive floats.
static inline void columns8(const float *row, __m256 col[4]) {
    __m256 a0 = _mm256_loadu_ps(row), a1 = _mm256_loadu_ps(row + 8);
    __m256 a2 = _mm256_loadu_ps(row + 16), a3 = _mm256_loadu_ps(row + 24);
    __m256 p0 = _mm256_permute2f128_ps(a0, a2, 0x20), p1 = _mm256_permute2f128_ps(a1, a3, 0x20);
    __m256 p2 = _mm256_permute2f128_ps(a0, a2, 0x31), p3 = _mm256_permute2f128_ps(a1, a3, 0x31);
    __m256 u0 = _mm256_unpacklo_ps(p0, p2), u1 = _mm256_unpackhi_ps(p0, p2);
    __m256 u2 = _mm256_unpacklo_ps(p1, p3), u3 = _mm256_unpackhi_ps(p1, p3);
    col[0] = _mm256_shuffle_ps(u0, u2, 0x44);
    col[1] = _mm256_shuffle_ps(u0, u2, 0xEE);
    col[2] = _mm256_shuffle_ps(u1, u3, 0x44);
    col[3] = _mm256_shuffle_ps(u1, u3, 0xEE);
}

static void inputs8_avx2(const float *rows, size_t row_stride, int lanes, float *dst, size_t stride) {
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 h[6][6];
    for (int i = 0; i < 6; i++) {
        __m256 d[6], next[4];
        columns8(rows + i * row_stride, d);
        columns8(rows + i * row_stride + 4, next);  // columns 4 and 5 are columns 0 and 1 of the next tile
        d[4] = next[0];
        d[5] = next[1];
        input1d___m256(d, h[i]);
    }
    for (int j = 0; j < 6; j++) {
        __m256 col[6] = {h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j]}, r[6];
        input1d___m256(col, r);
        for (int i = 0; i < 6; i++) {
            float *out = dst + (size_t)(i * 6 + j) * stride;
            if (lanes == LANES) _mm256_storeu_ps(out, r[i]);
            else _mm256_maskstore_ps(out, mask, r[i]);
        }
    }
}

static void outputs8_avx2(const float *m, size_t stride, float bias, int rows, int columns, float *out,
                          size_t width) {
    __m256 s[4][6], b = _mm256_set1_ps(bias);
    for (int j = 0; j < 6; j++) {
        __m256 col[6], r[4];
        for (int i = 0; i < 6; i++) col[i] = _mm256_loadu_ps(m + (size_t)(i * 6 + j) * stride);
        output1d___m256(col, r);
        for (int i = 0; i < 4; i++) s[i][j] = r[i];
    }
    for (int i = 0; i < rows; i++) {
        __m256 c[4];
        output1d___m256(s[i], c);
        for (int k = 0; k < 4; k++) c[k] = _mm256_add_ps(c[k], b);
        // 4 × 8 → the row's 32 floats, tile by tile.
        __m256 t0 = _mm256_unpacklo_ps(c[0], c[1]), t1 = _mm256_unpackhi_ps(c[0], c[1]);
        __m256 t2 = _mm256_unpacklo_ps(c[2], c[3]), t3 = _mm256_unpackhi_ps(c[2], c[3]);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 o[4] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                       _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
        float *row = out + (size_t)i * width;
        if (columns == 32) {
            for (int k = 0; k < 4; k++) _mm256_storeu_ps(row + 8 * k, o[k]);
        } else {
            float tmp[32];
            for (int k = 0; k < 4; k++) _mm256_storeu_ps(tmp + 8 * k, o[k]);
            memcpy(row, tmp, (size_t)columns * sizeof(float));
        }
    }
}
#pragma clang attribute pop

static void inputs8_portable(const float *rows, size_t row_stride, int lanes, float *dst, size_t stride) {
    f8 h[6][6];
    for (int i = 0; i < 6; i++) {
        f8 d[6];
        for (int j = 0; j < 6; j++)
            for (int l = 0; l < LANES; l++) d[j].v[l] = rows[i * row_stride + 4 * l + j];
        input1d_f8(d, h[i]);
    }
    for (int j = 0; j < 6; j++) {
        f8 col[6] = {h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j]}, r[6];
        input1d_f8(col, r);
        for (int i = 0; i < 6; i++)
            for (int l = 0; l < lanes; l++) dst[(size_t)(i * 6 + j) * stride + l] = r[i].v[l];
    }
}

static void outputs8_portable(const float *m, size_t stride, float bias, int rows, int columns, float *out,
                              size_t width) {
    f8 s[4][6];
    for (int j = 0; j < 6; j++) {
        f8 col[6], r[4];
        for (int i = 0; i < 6; i++)
            for (int l = 0; l < LANES; l++) col[i].v[l] = m[(size_t)(i * 6 + j) * stride + l];
        output1d_f8(col, r);
        for (int i = 0; i < 4; i++) s[i][j] = r[i];
    }
    for (int i = 0; i < rows; i++) {
        f8 c[4];
        output1d_f8(s[i], c);
        for (int x = 0; x < columns; x++) out[(size_t)i * width + x] = c[x % 4].v[x / 4] + bias;
    }
}

void svm_winograd_f4_inputs8(const float *rows, size_t row_stride, int lanes, float *v, size_t stride) {
    if (svm_uses_avx2()) inputs8_avx2(rows, row_stride, lanes, v, stride);
    else inputs8_portable(rows, row_stride, lanes, v, stride);
}

void svm_winograd_f4_outputs8(const float *m, size_t stride, float bias, int rows, int columns, float *out,
                              size_t width) {
    if (svm_uses_avx2()) outputs8_avx2(m, stride, bias, rows, columns, out, width);
    else outputs8_portable(m, stride, bias, rows, columns, out, width);
}

void svm_portable_winograd_f4_inputs8(const float *rows, size_t row_stride, int lanes, float *v, size_t stride) {
    inputs8_portable(rows, row_stride, lanes, v, stride);
}

void svm_portable_winograd_f4_outputs8(const float *m, size_t stride, float bias, int rows, int columns,
                                       float *out, size_t width) {
    outputs8_portable(m, stride, bias, rows, columns, out, width);
}
