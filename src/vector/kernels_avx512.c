/* kernels_avx512.c — AVX-512 kernels (F, BW, VL, VNNI; F16C comes with AVX-512F's
 * vcvtph2ps). Tails are masked loads, so there is no scalar remainder. The i8 dot
 * uses VNNI's vpdpbusd, which multiplies unsigned by signed bytes: with a' = a + 128
 * (a XOR 0x80 as unsigned), sum a'b - 128 sum b = sum ab, and the second term is a
 * second vpdpbusd of a constant 0x80 vector with b. Exact, no saturation (products
 * are at most 255*127, four of them per 32-bit lane per step). */
#include "vector/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define VK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

VK_AVX512 static inline __mmask16 tailmask16(size_t r) { return (__mmask16)((1u << r) - 1u); }

VK_AVX512 static float dot_f32_512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= d; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = tailmask16(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

VK_AVX512 static float l2_f32_512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 t2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 t3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(t0, t0, s0); s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2); s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 m = tailmask16(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

VK_AVX512 static inline __m512 ld_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
VK_AVX512 static inline __m512 ld_f16_tail(const uint16_t *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

VK_AVX512 static float dot_f16_512(const float *a, const uint16_t *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld_f16(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), ld_f16(b + i + 16), s1);
    }
    for (; i + 16 <= d; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld_f16(b + i), s0);
    if (i < d) {
        __mmask16 m = tailmask16(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), ld_f16_tail(b + i, m), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

VK_AVX512 static float l2_f16_512(const float *a, const uint16_t *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), ld_f16(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), ld_f16(b + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0); s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), ld_f16(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 m = tailmask16(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), ld_f16_tail(b + i, m));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

VK_AVX512 static int32_t dot_i8_512(const int8_t *a, const int8_t *b, size_t d) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc = _mm512_setzero_si512(), corr = acc;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i));
        __m512i y = _mm512_loadu_si512((const void *)(b + i));
        acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(x, flip), y);
        corr = _mm512_dpbusd_epi32(corr, flip, y);
    }
    if (i < d) {
        __mmask64 m = (d - i) >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (d - i)) - 1);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i); /* zero bytes of y cancel x's 0x80 */
        acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(x, flip), y);
        corr = _mm512_dpbusd_epi32(corr, flip, y);
    }
    return _mm512_reduce_add_epi32(_mm512_sub_epi32(acc, corr));
}

VK_AVX512 static int32_t l2_i8_512(const int8_t *a, const int8_t *b, size_t d) {
    __m512i s = _mm512_setzero_si512();
    size_t i = 0;
    for (; i < d; i += 32) {
        __mmask32 m = (d - i) >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << (d - i)) - 1);
        __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
        __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
        __m512i t = _mm512_sub_epi16(x, y);
        s = _mm512_add_epi32(s, _mm512_madd_epi16(t, t));
    }
    return _mm512_reduce_add_epi32(s);
}

VK_AVX512 static void f16_to_f32_512(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, ld_f16(in + i));
    if (i < n) {
        __mmask16 m = tailmask16(n - i);
        _mm512_mask_storeu_ps(out + i, m, ld_f16_tail(in + i, m));
    }
}

static const vk_table avx512_table = {
    "avx512", dot_f32_512, l2_f32_512, dot_f16_512, l2_f16_512, dot_i8_512, l2_i8_512,
    f16_to_f32_512,
};

const vk_table *vk_avx512(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && vk_avx2())
        return &avx512_table;
    return NULL;
}
#else
const vk_table *vk_avx512(void) { return NULL; }
#endif
