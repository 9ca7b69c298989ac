/* test_vec_hnsw.c — the HNSW index against brute force on seeded clustered data:
 * recall@10 at the default ef for f32 (>= 0.95) and f16/i8 (within 0.01 of f32),
 * every metric, filtered search at 1%/10%/50% selectivity, remove + slot reuse,
 * replace, rebuild, bad input (index unchanged), concurrent search while inserting. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "test.h"
#include "vector/vec.h"

#define DIM 64
#define N 3000
#define NQ 100
#define K 10

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
/* libstrata does not link libm, so neither do the tests: Irwin-Hall normal, Newton sqrt. */
static float gauss(void) {
    double s = 0;
    for (int i = 0; i < 12; i++) s += urand();
    return (float)(s - 6);
}
static double t_sqrt(double x) {
    if (x <= 0) return 0;
    double y = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++) {
        double z = 0.5 * (y + x / y);
        if (z == y) break;
        y = z;
    }
    return y;
}

/* n points around 40 cluster centres (spread 0.8: clusters overlap), plus nq queries from the same mix. */
static float *make_data(size_t n, uint32_t dim, uint64_t seed) {
    rng = seed * 2654435761u + 1;
    float cent[40][DIM];
    for (int c = 0; c < 40; c++)
        for (uint32_t j = 0; j < dim; j++) cent[c][j] = gauss();
    float *x = malloc(n * dim * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(urand() * 40) % 40;
        for (uint32_t j = 0; j < dim; j++) x[i * dim + j] = cent[c][j] + 0.8f * gauss();
    }
    return x;
}

static double ref_dist(int metric, const float *a, const float *b, uint32_t d) {
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (uint32_t i = 0; i < d; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    if (metric == VEC_METRIC_L2) return l2;
    if (metric == VEC_METRIC_IP) return 1 - dot;
    return 1 - dot / t_sqrt(na * nb);
}

typedef struct { double d; uint64_t l; } dl;
static int dl_cmp(const void *a, const void *b) {
    const dl *x = a, *y = b;
    return x->d < y->d ? -1 : x->d > y->d ? 1 : 0;
}

/* Exact top-K labels (label = row) of each query, optionally only allowed rows. */
static void truth(int metric, const float *x, size_t n, const float *q, size_t nq, uint64_t *gt,
                  int (*allow)(void *, uint64_t), void *ctx) {
    dl *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < nq; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (allow && !allow(ctx, j)) continue;
            all[m].d = ref_dist(metric, q + i * DIM, x + j * DIM, DIM);
            all[m].l = j;
            m++;
        }
        qsort(all, m, sizeof *all, dl_cmp);
        for (size_t k = 0; k < K; k++) gt[i * K + k] = k < m ? all[k].l : UINT64_MAX;
    }
    free(all);
}

static double recall(vec_hnsw *h, const float *q, size_t nq, const uint64_t *gt, const vec_search_opts *o) {
    vec_hit hits[K];
    size_t hit = 0, want = 0;
    for (size_t i = 0; i < nq; i++) {
        size_t nh = 0;
        if (vec_hnsw_search(h, q + i * DIM, DIM, o, hits, &nh) != STRATA_OK) continue;
        for (size_t k = 0; k < K; k++) {
            if (gt[i * K + k] == UINT64_MAX) continue;
            want++;
            for (size_t j = 0; j < nh; j++)
                if (hits[j].label == gt[i * K + k]) { hit++; break; }
        }
    }
    return want ? (double)hit / want : 1.0;
}

static vec_hnsw *build(int metric, int dtype, const float *x, size_t n, int threads) {
    vec_params p;
    vec_params_init(&p, DIM);
    p.metric = metric;
    p.dtype = dtype;
    vec_hnsw *h = NULL;
    CHECK_OK(vec_hnsw_create(&p, &h));
    uint64_t *labels = malloc(n * sizeof *labels);
    for (size_t i = 0; i < n; i++) labels[i] = i;
    CHECK_OK(vec_hnsw_add_batch(h, labels, x, n, DIM, threads, NULL));
    free(labels);
    return h;
}

static int allow_mod(void *ctx, uint64_t label) {
    uint64_t m = *(uint64_t *)ctx;
    return (label * 2654435761u) % 1000 < m; /* selectivity m/1000, spread over the data */
}

static void test_recall(const float *x, const float *q) {
    static const char *mn[] = {"cosine", "ip", "l2"}, *tn[] = {"f32", "f16", "i8"};
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    for (int metric = 0; metric < 3; metric++) {
        truth(metric, x, N, q, NQ, gt, NULL, NULL);
        double r32 = 0;
        for (int dt = 0; dt < 3; dt++) {
            if (metric == VEC_METRIC_IP && dt != VEC_DTYPE_F32) continue; /* same code path as cosine */
            vec_hnsw *h = build(metric, dt, x, N, 2);
            vec_search_opts o = {.k = K};
            double r = recall(h, q, NQ, gt, &o);
            o.mode = VEC_SEARCH_EXACT;
            double re = recall(h, q, NQ, gt, &o);
            printf("recall@10 %s %s: graph %.4f exact %.4f\n", mn[metric], tn[dt], r, re);
            if (dt == VEC_DTYPE_F32) {
                r32 = r;
                CHECK(r >= 0.95);
            } else {
                CHECK(r >= r32 - 0.01);
            }
            CHECK(re >= 0.999);
            if (metric == VEC_METRIC_COSINE && dt == VEC_DTYPE_F32) {
                /* filtered search at 1%, 10%, 50% selectivity */
                uint64_t sel[3] = {10, 100, 500};
                uint64_t *fgt = malloc(NQ * K * sizeof *fgt);
                for (int s = 0; s < 3; s++) {
                    truth(metric, x, N, q, NQ, fgt, allow_mod, &sel[s]);
                    vec_search_opts fo = {.k = K, .allow = allow_mod, .allow_ctx = &sel[s]};
                    double fr = recall(h, q, NQ, fgt, &fo);
                    fo.mode = VEC_SEARCH_GRAPH;
                    double gr = recall(h, q, NQ, fgt, &fo);
                    printf("filtered recall@10 at %2d%%: auto %.4f (graph only %.4f)\n",
                           (int)(sel[s] / 10), fr, gr);
                    CHECK(fr >= 0.95);
                }
                free(fgt);
            }
            vec_hnsw_free(h);
        }
    }
    free(gt);
}

/* remove, slot reuse, replace, rebuild, bad input */
static void test_mutations(const float *x, const float *q) {
    vec_hnsw *h = build(VEC_METRIC_L2, VEC_DTYPE_F32, x, N, 1);
    vec_stats st;
    vec_hnsw_stats(h, &st);
    CHECK(st.live == N && st.slots == N && st.tombstones == 0);
    /* remove the first third */
    for (uint64_t l = 0; l < N / 3; l++) CHECK_OK(vec_hnsw_remove(h, l));
    CHECK_RC(vec_hnsw_remove(h, 0), STRATA_ENOTFOUND);
    CHECK_RC(vec_hnsw_remove(h, 999999), STRATA_ENOTFOUND);
    CHECK(!vec_hnsw_contains(h, 5) && vec_hnsw_contains(h, N - 1));
    vec_hnsw_stats(h, &st);
    CHECK(st.live == N - N / 3 && st.tombstones == N / 3);
    /* removed labels never come back from a search */
    vec_search_opts o = {.k = K, .ef = 100};
    vec_hit hits[K];
    size_t nh;
    int leaked = 0;
    for (int i = 0; i < NQ; i++) {
        CHECK_OK(vec_hnsw_search(h, q + i * DIM, DIM, &o, hits, &nh));
        for (size_t j = 0; j < nh; j++) leaked += hits[j].label < N / 3;
    }
    CHECK(leaked == 0);
    /* re-add them under new labels: slots are reused, none appended */
    for (uint64_t l = 0; l < N / 3; l++) CHECK_OK(vec_hnsw_add(h, 100000 + l, x + l * DIM, DIM));
    vec_hnsw_stats(h, &st);
    CHECK(st.slots == N && st.live == N && st.tombstones == 0);
    /* recall with relabelled truth */
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    truth(VEC_METRIC_L2, x, N, q, NQ, gt, NULL, NULL);
    for (size_t i = 0; i < NQ * K; i++)
        if (gt[i] < N / 3) gt[i] += 100000;
    double r = recall(h, q, NQ, gt, &(vec_search_opts){.k = K});
    printf("recall@10 after removing and re-adding a third (slot reuse): %.4f\n", r);
    CHECK(r >= 0.95);
    /* replace: label 100000's vector becomes row N-1's; its slot is reused */
    CHECK_OK(vec_hnsw_add(h, 100000, x + (N - 1) * DIM, DIM));
    float back[DIM];
    CHECK_OK(vec_hnsw_get(h, 100000, back, DIM));
    CHECK(memcmp(back, x + (N - 1) * DIM, sizeof back) == 0);
    vec_hnsw_stats(h, &st);
    CHECK(st.slots == N && st.live == N);
    CHECK_OK(vec_hnsw_search(h, x + (N - 1) * DIM, DIM, &o, hits, &nh));
    CHECK(nh == K && hits[0].dist < 1e-5f && hits[1].dist < 1e-5f);
    /* bad input: nothing changes */
    float bad[DIM];
    memcpy(bad, x, sizeof bad);
    bad[7] = NAN;
    CHECK_RC(vec_hnsw_add(h, 777777, bad, DIM), STRATA_EINVAL);
    bad[7] = INFINITY;
    CHECK_RC(vec_hnsw_add(h, 777777, bad, DIM), STRATA_EINVAL);
    CHECK_RC(vec_hnsw_add(h, 100001, bad, DIM), STRATA_EINVAL); /* existing label kept */
    CHECK_RC(vec_hnsw_add(h, 777777, x, DIM - 1), STRATA_EINVAL);
    CHECK_RC(vec_hnsw_search(h, bad, DIM, &o, hits, &nh), STRATA_EINVAL);
    CHECK_RC(vec_hnsw_search(h, x, DIM + 1, &o, hits, &nh), STRATA_EINVAL);
    CHECK_RC(vec_hnsw_search(h, x, DIM, &(vec_search_opts){.k = 0}, hits, &nh), STRATA_EINVAL);
    uint64_t bl[2] = {1, 2};
    float bv[2 * DIM];
    memcpy(bv, x, sizeof bv);
    bv[DIM + 3] = NAN;
    size_t bi = 99;
    CHECK_RC(vec_hnsw_add_batch(h, bl, bv, 2, DIM, 1, &bi), STRATA_EINVAL);
    CHECK(bi == 1);
    CHECK(!vec_hnsw_contains(h, 777777) && !vec_hnsw_contains(h, 1));
    CHECK_OK(vec_hnsw_get(h, 100001, back, DIM));
    CHECK(memcmp(back, x + DIM, sizeof back) == 0);
    vec_hnsw_stats(h, &st);
    CHECK(st.slots == N && st.live == N);
    /* rebuild drops tombstones */
    for (uint64_t l = N / 3; l < N / 2; l++) CHECK_OK(vec_hnsw_remove(h, l));
    CHECK_OK(vec_hnsw_rebuild(h, 2));
    vec_hnsw_stats(h, &st);
    CHECK(st.slots == st.live && st.tombstones == 0 && st.live == N - (N / 2 - N / 3));
    CHECK(!vec_hnsw_contains(h, N / 3) && vec_hnsw_contains(h, N / 2));
    free(gt);
    vec_hnsw_free(h);

    /* cosine refuses a zero vector; small index is searched exactly */
    vec_params p;
    vec_params_init(&p, DIM);
    CHECK_OK(vec_hnsw_create(&p, &h));
    float zero[DIM] = {0};
    CHECK_RC(vec_hnsw_add(h, 1, zero, DIM), STRATA_EINVAL);
    CHECK_OK(vec_hnsw_search(h, x, DIM, &o, hits, &nh));
    CHECK(nh == 0);
    CHECK_OK(vec_hnsw_add(h, 1, x, DIM));
    CHECK_OK(vec_hnsw_remove(h, 1)); /* the only node, and the entry point */
    CHECK_OK(vec_hnsw_add(h, 2, x + DIM, DIM)); /* reuses it */
    CHECK_OK(vec_hnsw_search(h, x + DIM, DIM, &(vec_search_opts){.k = 3, .mode = VEC_SEARCH_GRAPH}, hits, &nh));
    CHECK(nh == 1 && hits[0].label == 2);
    vec_hnsw_free(h);
    vec_params_init(&p, 0);
    CHECK_RC(vec_hnsw_create(&p, &h), STRATA_EINVAL);
    vec_params_init(&p, 8);
    p.M = 1;
    CHECK_RC(vec_hnsw_create(&p, &h), STRATA_EINVAL);
}

/* Searches on two threads while the main thread inserts the second half. */
typedef struct conc {
    vec_hnsw *h;
    const float *q;
    _Atomic int stop;
    _Atomic long searches, bad;
} conc;

static void *searcher(void *arg) {
    conc *c = arg;
    vec_hit hits[K];
    size_t nh;
    vec_search_opts o = {.k = K, .mode = VEC_SEARCH_GRAPH};
    uint64_t one_pct = 10;
    /* every 4th search is filtered at 1%: the exact-scan path reads labels of slots
     * that adds are writing */
    vec_search_opts fo = {.k = K, .allow = allow_mod, .allow_ctx = &one_pct};
    for (int i = 0; !atomic_load(&c->stop) || i < 50; i++) {
        if (vec_hnsw_search(c->h, c->q + (i % NQ) * DIM, DIM, i % 4 == 3 ? &fo : &o, hits, &nh) != STRATA_OK)
            c->bad++;
        for (size_t j = 0; j < nh; j++)
            if (hits[j].label >= N) c->bad++;
        c->searches++;
    }
    return NULL;
}

static void test_concurrent(const float *x, const float *q) {
    vec_hnsw *h = build(VEC_METRIC_COSINE, VEC_DTYPE_I8, x, N / 2, 1);
    conc c = {.h = h, .q = q};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, searcher, &c);
    for (size_t i = N / 2; i < N; i++) CHECK_OK(vec_hnsw_add(h, i, x + i * DIM, DIM));
    /* a few removes and re-adds while searching (exclusive paths) */
    for (uint64_t l = 0; l < 50; l++) CHECK_OK(vec_hnsw_remove(h, l));
    for (uint64_t l = 0; l < 50; l++) CHECK_OK(vec_hnsw_add(h, l, x + l * DIM, DIM));
    atomic_store(&c.stop, 1);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    printf("concurrent: %ld searches during %d inserts, %ld bad\n", (long)c.searches, N / 2 + 100, (long)c.bad);
    CHECK(c.bad == 0 && c.searches > 0);
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    truth(VEC_METRIC_COSINE, x, N, q, NQ, gt, NULL, NULL);
    double r = recall(h, q, NQ, gt, &(vec_search_opts){.k = K});
    printf("recall@10 (i8) after concurrent inserts: %.4f\n", r);
    CHECK(r >= 0.94);
    /* batch search equals single searches */
    vec_hit *bh = malloc(NQ * K * sizeof *bh);
    size_t bn[NQ];
    vec_search_opts o = {.k = K};
    CHECK_OK(vec_hnsw_search_batch(h, q, NQ, DIM, &o, 2, bh, bn));
    int same = 1;
    for (int i = 0; i < NQ; i++) {
        vec_hit hits[K];
        size_t nh;
        vec_hnsw_search(h, q + i * DIM, DIM, &o, hits, &nh);
        if (nh != bn[i]) same = 0;
        for (size_t j = 0; j < nh && j < bn[i]; j++)
            if (hits[j].label != bh[i * K + j].label || hits[j].dist != bh[i * K + j].dist) same = 0;
    }
    CHECK(same);
    free(bh);
    free(gt);
    vec_hnsw_free(h);
}

int main(void) {
    float *x = make_data(N + NQ, DIM, 1); /* the last NQ rows are the queries */
    const float *q = x + (size_t)N * DIM;
    test_recall(x, q);
    test_mutations(x, q);
    test_concurrent(x, q);
    free(x);
    return t_done();
}
