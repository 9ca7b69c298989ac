/* quant.c — how vectors are stored in a slot and how distances are computed on
 * them: the per-dtype layout, encoding (f32 -> f16 / i8) and the distance of a
 * prepared query or of another slot.
 *
 * i8 is symmetric per-vector scalar quantization: codes c = round(x / s) with
 * s = max|x_i| / 127 (codes in -127..127, so the VNNI trick in kernels_avx512.c is
 * exact), and the slot keeps s and the exact |x|^2. Then <a,b> ~ s_a s_b <c_a,c_b>
 * (an integer dot product) and |a-b|^2 = |a|^2 + |b|^2 - 2<a,b>. The query is
 * quantized the same way, which keeps the inner loop in int8. The graph walk uses
 * these approximate distances; the best candidates are re-scored with exact f32
 * distances (hnsw_search.c), which is what keeps recall within 0.01 of f32.
 *
 * f16 keeps the query in f32 and converts the stored half floats on the fly (F16C),
 * so the only error is the rounding of stored components (2^-11 relative). */
#include "vector/hnsw_int.h"

#include "vector/vmath.h"
#include <string.h>

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

void vh_layout(vec_hnsw *h) {
    uint32_t d = h->p.dim;
    switch (h->p.dtype) {
    case VEC_DTYPE_F16: h->vec_bytes = round_up((size_t)d * 2, 4); break;
    case VEC_DTYPE_I8: h->vec_bytes = round_up(d, 4) + 8; break;
    default: h->vec_bytes = (size_t)d * 4; break;
    }
    h->M = h->p.M;
    h->M0 = 2 * h->p.M;
    h->links_off = h->vec_bytes;
    h->node_size = round_up(h->vec_bytes + 4 + 4 * (size_t)h->M0, 64);
    /* Blocks of ~16 MiB of nodes, 256..65536 slots: capacity 2^(16+shift) slots. */
    uint32_t shift = 8;
    while (shift < 16 && ((size_t)1 << (shift + 1)) * h->node_size <= ((size_t)16 << 20)) shift++;
    h->shift = shift;
    h->mask = (1u << shift) - 1;
}

int vh_finite(const float *v, uint32_t dim) {
    for (uint32_t i = 0; i < dim; i++)
        if (!vm_finite(v[i])) return 0;
    return 1;
}

static void quant_i8(const float *v, uint32_t d, int8_t *c, float *scale, float *norm2) {
    float mx = 0;
    double n2 = 0;
    for (uint32_t i = 0; i < d; i++) {
        float a = v[i] < 0 ? -v[i] : v[i];
        if (a > mx) mx = a;
        n2 += (double)v[i] * v[i];
    }
    float s = mx > 0 ? mx / 127.0f : 0.0f;
    float inv = mx > 0 ? 127.0f / mx : 0.0f;
    for (uint32_t i = 0; i < d; i++) {
        long r = vm_round(v[i] * inv);
        if (r > 127) r = 127;
        if (r < -127) r = -127;
        c[i] = (int8_t)r;
    }
    *scale = s;
    *norm2 = (float)n2;
}

void vh_query_prepare(const vec_hnsw *h, const float *q, int8_t *q8, vh_query *qq) {
    qq->f = q;
    qq->q8 = NULL;
    if (h->p.dtype == VEC_DTYPE_I8) {
        quant_i8(q, h->p.dim, q8, &qq->scale, &qq->norm2);
        qq->q8 = q8;
    }
}

void vh_encode(const vec_hnsw *h, const float *v, uint8_t *dst) {
    uint32_t d = h->p.dim;
    switch (h->p.dtype) {
    case VEC_DTYPE_F16: {
        uint16_t *o = (uint16_t *)(void *)dst;
        for (uint32_t i = 0; i < d; i++) o[i] = vk_f32_to_f16(v[i]);
        if (d & 1) o[d] = 0;
        break;
    }
    case VEC_DTYPE_I8: {
        size_t cb = round_up(d, 4);
        float sc, n2;
        memset(dst, 0, cb);
        quant_i8(v, d, (int8_t *)dst, &sc, &n2);
        memcpy(dst + cb, &sc, 4);
        memcpy(dst + cb + 4, &n2, 4);
        break;
    }
    default: memcpy(dst, v, (size_t)d * 4); break;
    }
}

float vh_dist_f32(const vec_hnsw *h, const float *q, const float *x) {
    if (h->p.metric == VEC_METRIC_L2) return h->k->l2_f32(q, x, h->p.dim);
    return 1.0f - h->k->dot_f32(q, x, h->p.dim);
}

float vh_dist_ids(const vec_hnsw *h, uint32_t a, uint32_t b, float *tmp) {
    uint32_t d = h->p.dim;
    const uint8_t *xa = vh_node(h, a), *xb = vh_node(h, b);
    switch (h->p.dtype) {
    case VEC_DTYPE_F16:
        h->k->f16_to_f32((const uint16_t *)(const void *)xa, tmp, d);
        if (h->p.metric == VEC_METRIC_L2) return h->k->l2_f16(tmp, (const uint16_t *)(const void *)xb, d);
        return 1.0f - h->k->dot_f16(tmp, (const uint16_t *)(const void *)xb, d);
    case VEC_DTYPE_I8: {
        size_t cb = (d + 3u) & ~3u;
        float sa, na, sb, nb;
        memcpy(&sa, xa + cb, 4); memcpy(&na, xa + cb + 4, 4);
        memcpy(&sb, xb + cb, 4); memcpy(&nb, xb + cb + 4, 4);
        int32_t dot = h->k->dot_i8((const int8_t *)xa, (const int8_t *)xb, d);
        return vh_from_dot(h, (float)dot * sa * sb, na, nb);
    }
    default:
        return vh_dist_f32(h, (const float *)(const void *)xa, (const float *)(const void *)xb);
    }
}

const float *vh_vec_f32(const vec_hnsw *h, uint32_t id) {
    if (h->p.dtype == VEC_DTYPE_F32) return (const float *)(const void *)vh_node(h, id);
    return vh_raw(h, id);
}

void vh_query_from_id(const vec_hnsw *h, uint32_t id, float *tmp, vh_query *qq) {
    const uint8_t *x = vh_node(h, id);
    uint32_t d = h->p.dim;
    qq->q8 = NULL;
    switch (h->p.dtype) {
    case VEC_DTYPE_F16:
        h->k->f16_to_f32((const uint16_t *)(const void *)x, tmp, d);
        qq->f = tmp;
        break;
    case VEC_DTYPE_I8: {
        size_t cb = (d + 3u) & ~3u;
        qq->f = NULL;
        qq->q8 = (int8_t *)(uintptr_t)x;
        memcpy(&qq->scale, x + cb, 4);
        memcpy(&qq->norm2, x + cb + 4, 4);
        break;
    }
    default: qq->f = (const float *)(const void *)x; break;
    }
}
