#include "CVectorMath.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

// ---- One definition of exp and erf, written twice (scalar, 8 lanes) with the same operation order. ----
// exp: Cephes' expf reduction and polynomial; x clamped to [-87, 88] so 2^n stays a normal float.
#define EXP_LO (-87.0f)
#define EXP_HI 88.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
static const float exp_p[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
// erf: the rational approximation used by Eigen and XLA on [-4, 4] (|erf| rounds to 1 outside).
static const float erf_a[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                               -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                               -1.60960333262415e-02f};
static const float erf_b[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                               -7.37332916720468e-03f, -1.42647390514189e-02f};
#define SQRT1_2 0.70710678118654752440f

static inline float s_exp(float x) {
    x = fminf(fmaxf(x, EXP_LO), EXP_HI);
    float n = floorf(x * LOG2E + 0.5f);
    float r = fmaf(-n, LN2_HI, x);
    r = fmaf(-n, LN2_LO, r);
    float p = exp_p[0];
    for (int i = 1; i < 6; i++) p = fmaf(p, r, exp_p[i]);
    float r2 = r * r;
    float y = fmaf(p, r2, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return y * scale;
}

static inline float s_erf(float x) {
    x = fminf(fmaxf(x, -4.0f), 4.0f);
    float x2 = x * x;
    float p = erf_a[0];
    for (int i = 1; i < 7; i++) p = fmaf(x2, p, erf_a[i]);
    p = x * p;
    float q = erf_b[0];
    for (int i = 1; i < 5; i++) q = fmaf(x2, q, erf_b[i]);
    return p / q;
}

static inline float s_silu(float x) { return x / (1.0f + s_exp(-x)); }
static inline float s_gelu(float x) { return 0.5f * x * (1.0f + s_erf(x * SQRT1_2)); }

__attribute__((target("avx2,fma")))
static inline __m256 v_exp(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_floor_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), n), _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), n), _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(exp_p[0]);
    for (int i = 1; i < 6; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_p[i]));
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

__attribute__((target("avx2,fma")))
static inline __m256 v_erf(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(erf_a[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(erf_a[i]));
    p = _mm256_mul_ps(x, p);
    __m256 q = _mm256_set1_ps(erf_b[0]);
    for (int i = 1; i < 5; i++) q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(erf_b[i]));
    return _mm256_div_ps(p, q);
}

__attribute__((target("avx2,fma")))
static inline __m256 v_silu(__m256 x) {
    __m256 e = v_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

__attribute__((target("avx2,fma")))
static inline __m256 v_gelu(__m256 x) {
    __m256 e = v_erf(_mm256_mul_ps(x, _mm256_set1_ps(SQRT1_2)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// ---- Dispatch ----
static int avx2_state = -1;
int svm_uses_avx2(void) {
    if (avx2_state < 0) {
        __builtin_cpu_init();
        avx2_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return avx2_state;
}

// x * scale + shift is one multiply and one add (not fused), in both paths, as the engine did before.
__attribute__((target("avx2,fma")))
static void affine_silu_avx2(const float *x, float *y, size_t n, float scale, float shift) {
    __m256 s = _mm256_set1_ps(scale), t = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, v_silu(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), t)));
    for (; i < n; i++) y[i] = s_silu(x[i] * scale + shift);
}

void svm_affine_silu(const float *x, float *y, size_t n, float scale, float shift) {
    if (svm_uses_avx2()) { affine_silu_avx2(x, y, n, scale, shift); return; }
    for (size_t i = 0; i < n; i++) y[i] = s_silu(x[i] * scale + shift);
}

void svm_affine(const float *x, float *y, size_t n, float scale, float shift) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * scale + shift;
}

// y[i] = f(x[i]) over an array: 8 lanes at a time on AVX2, the scalar definition for the tail and elsewhere.
#define UNARY_KERNEL(name, vector_f, scalar_f)                                           \
    __attribute__((target("avx2,fma")))                                                  \
    static void name##_avx2(const float *x, float *y, size_t n) {                        \
        size_t i = 0;                                                                    \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vector_f(_mm256_loadu_ps(x + i))); \
        for (; i < n; i++) y[i] = scalar_f(x[i]);                                        \
    }                                                                                    \
    void svm_##name(const float *x, float *y, size_t n) {                                \
        if (svm_uses_avx2()) { name##_avx2(x, y, n); return; }                           \
        for (size_t i = 0; i < n; i++) y[i] = scalar_f(x[i]);                            \
    }

UNARY_KERNEL(silu, v_silu, s_silu)

__attribute__((target("avx2,fma")))
static void gelu_gate_avx2(const float *v, const float *g, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), v_gelu(_mm256_loadu_ps(g + i))));
    for (; i < n; i++) y[i] = v[i] * s_gelu(g[i]);
}

void svm_gelu_gate(const float *value, const float *gate, float *y, size_t n) {
    if (svm_uses_avx2()) { gelu_gate_avx2(value, gate, y, n); return; }
    for (size_t i = 0; i < n; i++) y[i] = value[i] * s_gelu(gate[i]);
}

UNARY_KERNEL(gelu, v_gelu, s_gelu)

UNARY_KERNEL(exp, v_exp, s_exp)

void svm_portable_exp(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = s_exp(x[i]); }
void svm_portable_gelu(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = s_gelu(x[i]); }

// Softmax: the maximum is exact in any order; the sum is accumulated in 8 fixed lanes then combined in a
// fixed order, the same in both paths.
__attribute__((target("avx2,fma")))
static float softmax_numerators_avx2(float *p, size_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(p + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++) m = fmaxf(m, lanes[l]);
    for (; i < n; i++) m = fmaxf(m, p[i]);
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = v_exp(_mm256_sub_ps(_mm256_loadu_ps(p + i), vm));
        _mm256_storeu_ps(p + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    _mm256_storeu_ps(lanes, acc);
    for (; i < n; i++) { float e = s_exp(p[i] - m); p[i] = e; lanes[i % 8] += e; }
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

static float softmax_numerators_portable(float *p, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, p[i]);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) { float e = s_exp(p[i] - m); p[i] = e; lanes[i % 8] += e; }
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

float svm_softmax_numerators(float *p, size_t n) {
    return svm_uses_avx2() ? softmax_numerators_avx2(p, n) : softmax_numerators_portable(p, n);
}

float svm_portable_softmax_numerators(float *p, size_t n) { return softmax_numerators_portable(p, n); }

void svm_softmax(float *p, size_t n) {
    float inv = 1.0f / svm_softmax_numerators(p, n);
    for (size_t i = 0; i < n; i++) p[i] *= inv;
}
