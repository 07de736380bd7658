#include "CHalf.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CHALF_X86 1
#endif

static inline uint32_t half_to_float_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f)  /* infinity, or NaN made quiet (bit 22) as F16C does */
        return sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0);
    if (exponent != 0)     /* normal: rebias 15 → 127 */
        return sign | ((exponent + 112) << 23) | (mantissa << 13);
    if (mantissa == 0)
        return sign;
    /* Subnormal m·2^-24: the leading bit at position p becomes the implicit one, exponent p − 24. */
    int p = 31 - __builtin_clz(mantissa);
    return sign | ((uint32_t)(p + 103) << 23) | ((mantissa << (23 - p)) & 0x7fffffu);
}

static inline uint16_t load16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void chalf_f16_to_f32_scalar(const void *src, float *dst, size_t count) {
    const unsigned char *s = src;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = half_to_float_bits(load16(s + 2 * i));
        memcpy(dst + i, &bits, 4);
    }
}

void chalf_bf16_to_f32(const void *src, float *dst, size_t count) {
    const unsigned char *s = src;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)load16(s + 2 * i) << 16;
        memcpy(dst + i, &bits, 4);
    }
}

#ifdef CHALF_X86
__attribute__((target("f16c,avx")))
static void f16_to_f32_f16c(const void *source, float *dst, size_t count) {
    const uint16_t *src = source;  /* only read through unaligned loads */
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 8));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 24));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(a));
        _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(b));
        _mm256_storeu_ps(dst + i + 16, _mm256_cvtph_ps(c));
        _mm256_storeu_ps(dst + i + 24, _mm256_cvtph_ps(d));
    }
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    chalf_f16_to_f32_scalar(src + i, dst + i, count - i);
}

static int has_f16c(void) {
    static int cached = -1;  /* benign race: every thread computes the same value */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    }
    return cached;
}
#endif

int chalf_uses_f16c(void) {
#ifdef CHALF_X86
    return has_f16c();
#else
    return 0;
#endif
}

void chalf_f16_to_f32(const void *src, float *dst, size_t count) {
#ifdef CHALF_X86
    if (has_f16c()) { f16_to_f32_f16c(src, dst, count); return; }
#endif
    chalf_f16_to_f32_scalar(src, dst, count);
}
