/* test_vec_kernels.c — every SIMD distance kernel the CPU supports against a
 * double-precision reference, on random inputs of every dimension 1..300 and 1024
 * (odd tails included), plus f16 conversion.
 *
 * Tolerance: f32/f16 kernels sum in a different order than the reference, so each
 * result must lie within 1e-5 * sum|a_i b_i| (dot) or 1e-5 * sum (a_i-b_i)^2 (L2),
 * plus 1e-6 absolute — a few ulps of float rounding per term's magnitude. The f16
 * operand is decoded exactly (F16C and the scalar decoder agree bit for bit, checked
 * on all 65536 values), so the same bound holds. i8 kernels are integer: exact. */
#include "test.h"
#include "vector/kernels.h"
#include "vector/vec.h"

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static float frand(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2 - 1); }

static double fabs_d(double x) { return x < 0 ? -x : x; }

static int within(double got, double ref, double mag) { return fabs_d(got - ref) <= 1e-5 * mag + 1e-6; }

static void check_table(const vk_table *t) {
    enum { MAXD = 1024 };
    static float a[MAXD], b[MAXD], bh[MAXD];
    static uint16_t h[MAXD];
    static int8_t x[MAXD], y[MAXD];
    int bad_f32 = 0, bad_f16 = 0, bad_i8 = 0;
    for (size_t d = 1; d <= 301; d++) {
        size_t dim = d == 301 ? 1024 : d;
        for (int rep = 0; rep < 3; rep++) {
            for (size_t i = 0; i < dim; i++) {
                a[i] = frand();
                b[i] = frand() * (rep == 2 ? 100.0f : 1.0f);
                h[i] = vk_f32_to_f16(b[i]);
                bh[i] = vk_f16_to_f32(h[i]);
                x[i] = (int8_t)((int)(rnd() % 255) - 127);
                y[i] = (int8_t)((int)(rnd() % 255) - 127);
                if (rep == 1) { x[i] = (i & 1) ? 127 : -127; y[i] = (i & 2) ? -127 : 127; }
            }
            double dot = 0, mdot = 0, l2 = 0, dh = 0, mdh = 0, l2h = 0;
            long long idot = 0, il2 = 0;
            for (size_t i = 0; i < dim; i++) {
                dot += (double)a[i] * b[i];
                mdot += fabs_d((double)a[i] * b[i]);
                l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
                dh += (double)a[i] * bh[i];
                mdh += fabs_d((double)a[i] * bh[i]);
                l2h += ((double)a[i] - bh[i]) * ((double)a[i] - bh[i]);
                idot += (long long)x[i] * y[i];
                il2 += (long long)(x[i] - y[i]) * (x[i] - y[i]);
            }
            if (!within(t->dot_f32(a, b, dim), dot, mdot)) bad_f32++;
            if (!within(t->l2_f32(a, b, dim), l2, l2)) bad_f32++;
            if (!within(t->dot_f16(a, h, dim), dh, mdh)) bad_f16++;
            if (!within(t->l2_f16(a, h, dim), l2h, l2h)) bad_f16++;
            if (t->dot_i8(x, y, dim) != idot) bad_i8++;
            if (t->l2_i8(x, y, dim) != il2) bad_i8++;
        }
    }
    printf("kernels %-6s: f32 %d bad, f16 %d bad, i8 %d bad (dims 1..300, 1024)\n", t->name, bad_f32, bad_f16, bad_i8);
    CHECK(bad_f32 == 0);
    CHECK(bad_f16 == 0);
    CHECK(bad_i8 == 0);
    /* f16 -> f32 agrees with the scalar decoder on every half (NaNs stay NaN). */
    static uint16_t all[65536];
    static float out[65536];
    for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    t->f16_to_f32(all, out, 65536);
    int conv_bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        float s = vk_f16_to_f32((uint16_t)i);
        if (s != s ? out[i] == out[i] : memcmp(&s, &out[i], 4) != 0) conv_bad++;
    }
    CHECK(conv_bad == 0);
    /* odd-length conversions (masked tails) */
    t->f16_to_f32(all + 15360, out, 13);
    for (int i = 0; i < 13; i++) CHECK(out[i] == vk_f16_to_f32((uint16_t)(15360 + i)));
}

/* The whole index on one kernel table, as on a CPU that has only that: recall@10 of
 * 1500 random 33-d vectors (odd dim: tails) for each dtype against its exact search. */
static void index_on(const vk_table *t) {
    enum { N = 1500, D = 33, NQ = 50 };
    static float x[N * D], q[NQ * D];
    for (size_t i = 0; i < N * D; i++) x[i] = frand();
    for (size_t i = 0; i < NQ * D; i++) q[i] = frand();
    uint64_t labels[N];
    for (uint64_t i = 0; i < N; i++) labels[i] = i;
    vk_override(t);
    for (int dt = 0; dt < 3; dt++) {
        vec_params p;
        vec_params_init(&p, D);
        p.dtype = dt;
        p.metric = dt == 1 ? VEC_METRIC_L2 : VEC_METRIC_COSINE;
        vec_hnsw *h = NULL;
        CHECK_OK(vec_hnsw_create(&p, &h));
        CHECK_OK(vec_hnsw_add_batch(h, labels, x, N, D, 2, NULL));
        vec_stats st;
        vec_hnsw_stats(h, &st);
        CHECK(strcmp(st.kernels, t->name) == 0);
        size_t hit = 0, want = 0;
        for (int i = 0; i < NQ; i++) {
            vec_hit g[10], r[10];
            size_t ng, nr;
            vec_search_opts o = {.k = 10, .ef = 100, .mode = VEC_SEARCH_EXACT};
            CHECK_OK(vec_hnsw_search(h, q + i * D, D, &o, g, &ng));
            o.mode = VEC_SEARCH_GRAPH;
            CHECK_OK(vec_hnsw_search(h, q + i * D, D, &o, r, &nr));
            want += ng;
            for (size_t a = 0; a < nr; a++)
                for (size_t b = 0; b < ng; b++) hit += r[a].label == g[b].label;
        }
        double rec = (double)hit / (double)want;
        printf("index on %s kernels, dtype %d: recall@10 %.3f\n", t->name, dt, rec);
        CHECK(rec >= 0.95);
        vec_hnsw_free(h);
    }
    vk_override(NULL);
}

int main(void) {
    const vk_table *tabs[3] = {vk_scalar(), vk_avx2(), vk_avx512()};
    printf("dispatch picks: %s\n", vk_get()->name);
    for (int i = 0; i < 3; i++) {
        if (tabs[i]) {
            check_table(tabs[i]);
            index_on(tabs[i]);
        } else {
            printf("kernels: table %d not supported by this CPU, skipped\n", i);
        }
    }
    /* f32 -> f16 -> f32 round trip is exact for every finite half; rounding is to nearest even. */
    int rt_bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t hv = (uint16_t)i;
        if ((hv & 0x7C00) == 0x7C00 && (hv & 0x3FF)) continue; /* NaN */
        if (vk_f32_to_f16(vk_f16_to_f32(hv)) != hv) rt_bad++;
    }
    CHECK(rt_bad == 0);
    CHECK(vk_f32_to_f16(1.0f) == 0x3C00);
    CHECK(vk_f32_to_f16(65504.0f) == 0x7BFF);
    CHECK(vk_f32_to_f16(65520.0f) == 0x7C00);      /* rounds up to Inf */
    CHECK(vk_f32_to_f16(1.0f + 1.0f / 2048) == 0x3C00); /* tie -> even */
    CHECK(vk_f32_to_f16(5.9604645e-8f) == 0x0001); /* smallest subnormal */
    CHECK(vk_f32_to_f16(2.9802322e-8f) == 0x0000); /* half of it: tie -> even (0) */
    CHECK(vk_f32_to_f16(-0.0f) == 0x8000);
    return t_done();
}
