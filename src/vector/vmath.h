/* vmath.h — the few libm functions src/vector needs, without libm: libstrata does
 * not link -lm (none of the other subsystems needs it). sqrt is the exact IEEE
 * square root (SSE2 sqrtsd on x86-64, else Newton on a bit-hack start, then one
 * correction); log is used only to draw HNSW levels, where determinism across
 * platforms matters more than the last ulp. */
#ifndef STRATA_VECTOR_VMATH_H
#define STRATA_VECTOR_VMATH_H
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

static inline double vm_sqrt(double x) {
    if (!(x > 0)) return x == 0 ? 0 : __builtin_nan("");
#if defined(__x86_64__)
    return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(x)));
#else
    uint64_t b;
    memcpy(&b, &x, 8);
    b = (b >> 1) + ((uint64_t)1023 << 51);
    double y;
    memcpy(&y, &b, 8);
    for (int i = 0; i < 6; i++) y = 0.5 * (y + x / y);
    return y;
#endif
}

/* Natural log of x > 0 (finite): x = m 2^e with m in [1,2), ln m = 2 atanh(s),
 * s = (m-1)/(m+1) <= 1/3, series to 1e-16. */
static inline double vm_log(double x) {
    uint64_t b;
    memcpy(&b, &x, 8);
    int e = (int)((b >> 52) & 0x7FF) - 1023;
    b = (b & 0x000FFFFFFFFFFFFFull) | ((uint64_t)1023 << 52);
    double m;
    memcpy(&m, &b, 8);
    double s = (m - 1) / (m + 1), s2 = s * s, t = s, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += t / k;
        t *= s2;
    }
    return e * 0.69314718055994530942 + 2 * sum;
}

static inline int vm_finite(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x7F800000u) != 0x7F800000u;
}

/* round half away from zero */
static inline long vm_round(float f) { return (long)(f >= 0 ? f + 0.5f : f - 0.5f); }
#endif
