/* kernels_avx2.c — AVX2 + FMA + F16C kernels. Every function carries its own target
 * attribute, so this file builds with the project's baseline flags and is only
 * called after vk_avx2() saw the features at run time. f32/f16: four 8-lane FMA
 * accumulators, scalar tail; i8: sign-extend to 16 bits and vpmaddwd (exact). */
#include "vector/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define VK_AVX2 __attribute__((target("avx2,fma,f16c")))

VK_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

VK_AVX2 static inline int32_t hsum256i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

VK_AVX2 static float dot_f32_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

VK_AVX2 static float l2_f32_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(t0, t0, s0); s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2); s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < d; i++) { float t = a[i] - b[i]; s += t * t; }
    return s;
}

VK_AVX2 static inline __m256 ld_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

VK_AVX2 static float dot_f16_avx2(const float *a, const uint16_t *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld_f16(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), ld_f16(b + i + 8), s1);
    }
    for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld_f16(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) s += a[i] * _cvtsh_ss(b[i]);
    return s;
}

VK_AVX2 static float l2_f16_avx2(const float *a, const uint16_t *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), ld_f16(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), ld_f16(b + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0); s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), ld_f16(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) { float t = a[i] - _cvtsh_ss(b[i]); s += t * t; }
    return s;
}

VK_AVX2 static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t d) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        __m256i xl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(x));
        __m256i yl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y));
        __m256i xh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1));
        __m256i yh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(y, 1));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(xl, yl));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(xh, yh));
    }
    for (; i + 16 <= d; i += 16) {
        __m256i xl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i yl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(xl, yl));
    }
    int32_t s = hsum256i(_mm256_add_epi32(s0, s1));
    for (; i < d; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

VK_AVX2 static int32_t l2_i8_avx2(const int8_t *a, const int8_t *b, size_t d) {
    __m256i s0 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256i xl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i yl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m256i t = _mm256_sub_epi16(xl, yl); /* |t| <= 254 fits in 16 bits */
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(t, t));
    }
    int32_t s = hsum256i(s0);
    for (; i < d; i++) { int32_t t = (int32_t)a[i] - (int32_t)b[i]; s += t * t; }
    return s;
}

VK_AVX2 static void f16_to_f32_avx2(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, ld_f16(in + i));
    for (; i < n; i++) out[i] = _cvtsh_ss(in[i]);
}

static const vk_table avx2_table = {
    "avx2", dot_f32_avx2, l2_f32_avx2, dot_f16_avx2, l2_f16_avx2, dot_i8_avx2, l2_i8_avx2,
    f16_to_f32_avx2,
};

/* F16C is CPUID leaf 1 ECX bit 29 (clang 14's __builtin_cpu_supports lacks "f16c"). */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

const vk_table *vk_avx2(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c())
        return &avx2_table;
    return NULL;
}
#else
const vk_table *vk_avx2(void) { return NULL; }
#endif
