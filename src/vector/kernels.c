/* kernels.c — the scalar reference kernels, f16 conversion, and the run-time choice
 * of a kernel table. The scalar kernels are the specification the SIMD ones are
 * tested against (tests/test_vec_kernels.c); they use four accumulators so they
 * are not needlessly slow on CPUs without AVX2. */
#include "vector/kernels.h"

#include <pthread.h>
#include <string.h>

uint16_t vk_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) /* Inf or NaN */
        return (uint16_t)(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u | ((ax >> 13) & 0x3FFu) : 0));
    if (ax >= 0x477FF000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7C00u);
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to zero */
        uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - e; /* 14 + (112 - e) + ... : bits to drop */
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13);
    uint32_t rem = ax & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

float vk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, x;
    if (e == 0) {
        if (m == 0) x = sign;
        else { /* subnormal: normalise */
            e = 113;
            while (!(m & 0x400u)) { m <<= 1; e--; }
            x = sign | (e << 23) | ((m & 0x3FFu) << 13);
        }
    } else if (e == 31) x = sign | 0x7F800000u | (m << 13);
    else x = sign | ((e + 112u) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static float dot_f32_s(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2_f32_s(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1], t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
        s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;
    }
    for (; i < d; i++) { float t = a[i] - b[i]; s0 += t * t; }
    return (s0 + s1) + (s2 + s3);
}

static float dot_f16_s(const float *a, const uint16_t *b, size_t d) {
    float s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= d; i += 2) {
        s0 += a[i] * vk_f16_to_f32(b[i]);
        s1 += a[i + 1] * vk_f16_to_f32(b[i + 1]);
    }
    for (; i < d; i++) s0 += a[i] * vk_f16_to_f32(b[i]);
    return s0 + s1;
}

static float l2_f16_s(const float *a, const uint16_t *b, size_t d) {
    float s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= d; i += 2) {
        float t0 = a[i] - vk_f16_to_f32(b[i]), t1 = a[i + 1] - vk_f16_to_f32(b[i + 1]);
        s0 += t0 * t0; s1 += t1 * t1;
    }
    for (; i < d; i++) { float t = a[i] - vk_f16_to_f32(b[i]); s0 += t * t; }
    return s0 + s1;
}

static int32_t dot_i8_s(const int8_t *a, const int8_t *b, size_t d) {
    int32_t s = 0;
    for (size_t i = 0; i < d; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static int32_t l2_i8_s(const int8_t *a, const int8_t *b, size_t d) {
    int32_t s = 0;
    for (size_t i = 0; i < d; i++) { int32_t t = (int32_t)a[i] - (int32_t)b[i]; s += t * t; }
    return s;
}

static void f16_to_f32_s(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = vk_f16_to_f32(in[i]);
}

static const vk_table scalar_table = {
    "scalar", dot_f32_s, l2_f32_s, dot_f16_s, l2_f16_s, dot_i8_s, l2_i8_s, f16_to_f32_s,
};

const vk_table *vk_scalar(void) { return &scalar_table; }

static const vk_table *chosen, *forced;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const vk_table *t = vk_avx512();
    if (!t) t = vk_avx2();
    chosen = t ? t : &scalar_table;
}

const vk_table *vk_get(void) {
    if (forced) return forced;
    pthread_once(&choose_once, choose);
    return chosen;
}

void vk_override(const vk_table *t) { forced = t; }
