/* kernels.h — distance kernels of src/vector (private to the folder).
 *
 * Three implementations share one table type: a portable scalar reference
 * (kernels.c), AVX2+FMA+F16C (kernels_avx2.c) and AVX-512 F/BW/VL/VNNI
 * (kernels_avx512.c). vk_get() picks the best one the CPU supports, once, on the
 * first call (thread-safe); nothing is compiled with -march, each SIMD function
 * carries its own target attribute.
 *
 * Element types: f32; f16 is IEEE binary16 stored as uint16_t and is always compared
 * against an f32 query (the query is never rounded to f16); i8 compares two int8
 * vectors (values in -127..127) exactly, in int32. Any dimension works: tails are
 * masked or finished in scalar code.
 */
#ifndef STRATA_VECTOR_KERNELS_H
#define STRATA_VECTOR_KERNELS_H
#include <stddef.h>
#include <stdint.h>

typedef float (*vk_f32_fn)(const float *a, const float *b, size_t d);
typedef float (*vk_f16_fn)(const float *a, const uint16_t *b, size_t d);
typedef int32_t (*vk_i8_fn)(const int8_t *a, const int8_t *b, size_t d);

typedef struct vk_table {
    const char *name;     /* "scalar", "avx2", "avx512" */
    vk_f32_fn dot_f32;    /* sum a_i b_i */
    vk_f32_fn l2_f32;     /* sum (a_i - b_i)^2 */
    vk_f16_fn dot_f16;
    vk_f16_fn l2_f16;
    vk_i8_fn dot_i8;      /* exact */
    vk_i8_fn l2_i8;       /* exact */
    /* f16[n] -> f32[n] (exact). */
    void (*f16_to_f32)(const uint16_t *in, float *out, size_t n);
} vk_table;

/* The best table for this CPU (never NULL). */
const vk_table *vk_get(void);
/* Each implementation; the SIMD ones return NULL when the CPU lacks them. */
const vk_table *vk_scalar(void);
const vk_table *vk_avx2(void);
const vk_table *vk_avx512(void);

/* Tests only: make vk_get() return t from now on (indexes created later use it), as
 * on a CPU without the better instruction sets. Not thread-safe; NULL restores. */
void vk_override(const vk_table *t);

/* Scalar conversions (round to nearest even; overflow to +-Inf, NaN kept). */
uint16_t vk_f32_to_f16(float f);
float vk_f16_to_f32(uint16_t h);
#endif
