/* hnsw_search.c — queries on an HNSW graph: SEARCH-LAYER (Algorithm 2), the greedy
 * descent and K-NN-SEARCH (Algorithm 5) of Malkov & Yashunin (TPAMI 2018), plus the
 * exact scan, filtered search, f32 reranking and batch search.
 *
 * Search path: normalise the query (cosine), descend greedily from the entry point
 * to level 1, run SEARCH-LAYER on level 0 with width ef, then
 *   - f32: the ef results are already exact; the best k are returned;
 *   - f16/i8: the walk used compact distances; the best `rerank` candidates
 *     (default 2k for f16, 4k for i8, at most ef) are re-scored with exact f32
 *     distances from the f32 copies (prefetched together) and the best k of those
 *     are returned.
 * Tombstones and filtered-out labels are walked through but never returned.
 *
 * Filtered search. A graph walk with a filter keeps expanding until ef allowed hits
 * are found: at 50% selectivity that costs ~2x, at 10% ~10x, and at ~1% it degrades
 * to visiting most of the graph through nodes it cannot return, while the links
 * among allowed nodes alone no longer form a connected graph (recall collapses).
 * So VEC_SEARCH_AUTO first estimates the selectivity p by asking the filter about
 * 128 labels (16 random runs of 8 slots: ~16 cache misses; 1024 when fewer than 4
 * are allowed), then compares costs in
 * distance computations: a scan asks the filter about every label (each ~lambda of
 * a distance, lambda shrinking with dim) and computes p*n distances; a walk needs
 * ~4 ef / p. Below params.filter_exact_below (5%) the cheaper one runs — at 1% a
 * 100K-vector collection scans, a 1M one walks (bench_vector shows both); with no
 * allowed label in the sample it always scans. A walk at p < 50% carries a budget
 * of twice the scan's cost: past it, or with fewer than k hits, the scan runs.
 * The scan reads labels from the contiguous label arrays and touches only allowed
 * slots' nodes.
 *
 * Exact scan: every live slot, exact f32 distance with the SIMD kernels, a k-heap.
 * It is used on request (VEC_SEARCH_EXACT: ground truth), below
 * params.exact_threshold live vectors, and for selective filters.
 *
 * Scratch (visited marks with 16-bit epochs like hnswlib's VisitedList, the two
 * heaps, query buffers) is pooled per index so the hot path does not allocate.
 */
#include "vector/hnsw_int.h"
#include "strata.h"

#include "vector/vmath.h"
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
#else
#define PREFETCH(p) ((void)0)
#endif

int vh_pair_cmp(const void *a, const void *b) {
    const vh_pair *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* ---------- scratch pool ---------- */

static void scratch_destroy(vh_scratch *s) {
    if (!s) return;
    free(s->visited);
    free(s->cand);
    free(s->res);
    free(s->fbuf);
    free(s->fbuf2);
    free(s->q8);
    free(s);
}

/* Size the visited marks for every slot of the allocated blocks (the index grows
 * while a batch holds its scratch). */
static int scratch_fit(vec_hnsw *h, vh_scratch *s) {
    size_t need = (size_t)atomic_load_explicit(&h->nblocks, memory_order_acquire) << h->shift;
    if (s->visited_cap >= need) return STRATA_OK;
    uint16_t *v = calloc(need, sizeof *v);
    if (!v) return STRATA_ENOMEM;
    free(s->visited);
    s->visited = v;
    s->visited_cap = need;
    s->epoch = 0;
    return STRATA_OK;
}

vh_scratch *vh_scratch_get(vec_hnsw *h) {
    pthread_mutex_lock(&h->scratch_lock);
    vh_scratch *s = h->scratch_free;
    if (s) h->scratch_free = s->next;
    pthread_mutex_unlock(&h->scratch_lock);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        size_t d = h->p.dim;
        s->fbuf = malloc(2 * d * sizeof(float));
        s->fbuf2 = malloc(d * sizeof(float));
        s->q8 = malloc(d + 64);
        s->cand_cap = 256;
        s->cand = malloc(s->cand_cap * sizeof(vh_pair));
        if (!s->fbuf || !s->fbuf2 || !s->q8 || !s->cand) {
            scratch_destroy(s);
            return NULL;
        }
    }
    if (scratch_fit(h, s)) {
        scratch_destroy(s);
        return NULL;
    }
    s->exclude = VH_NONE;
    return s;
}

void vh_scratch_put(vec_hnsw *h, vh_scratch *s) {
    if (!s) return;
    pthread_mutex_lock(&h->scratch_lock);
    s->next = h->scratch_free;
    h->scratch_free = s;
    pthread_mutex_unlock(&h->scratch_lock);
}

void vh_scratch_free_all(vec_hnsw *h) {
    vh_scratch *s = h->scratch_free;
    while (s) {
        vh_scratch *n = s->next;
        scratch_destroy(s);
        s = n;
    }
    h->scratch_free = NULL;
}

static void new_epoch(vh_scratch *s) {
    if (++s->epoch == 0) {
        memset(s->visited, 0, s->visited_cap * sizeof *s->visited);
        s->epoch = 1;
    }
}

/* ---------- heaps of (distance, id) ---------- */

/* Min-heap (candidates). */
static inline void minheap_push(vh_pair *a, size_t *n, vh_pair v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a[p].d <= v.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = v;
}
static inline vh_pair minheap_pop(vh_pair *a, size_t *n) {
    vh_pair top = a[0], v = a[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c = i;
        float cd = v.d;
        if (l < m && a[l].d < cd) { c = l; cd = a[l].d; }
        if (r < m && a[r].d < cd) c = r;
        if (c == i) break;
        a[i] = a[c];
        i = c;
    }
    if (m) a[i] = v;
    return top;
}
/* Max-heap (results). */
static inline void maxheap_push(vh_pair *a, size_t *n, vh_pair v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a[p].d >= v.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = v;
}
static inline void maxheap_pop(vh_pair *a, size_t *n) {
    vh_pair v = a[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c = i;
        float cd = v.d;
        if (l < m && a[l].d > cd) { c = l; cd = a[l].d; }
        if (r < m && a[r].d > cd) c = r;
        if (c == i) break;
        a[i] = a[c];
        i = c;
    }
    if (m) a[i] = v;
}

/* Sort a max-heap ascending in place (heapsort's second half). */
void vh_heap_sort(vh_pair *a, size_t n) {
    for (size_t m = n; m > 1;) {
        vh_pair top = a[0];
        maxheap_pop(a, &m);
        a[m] = top;
    }
}

static int reserve(void **arr, size_t *cap, size_t need) {
    if (*cap >= need) return STRATA_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*arr, c * sizeof(vh_pair));
    if (!p) return STRATA_ENOMEM;
    *arr = p;
    *cap = c;
    return STRATA_OK;
}

static inline int allowed(const vec_hnsw *h, uint32_t id, vec_allow_fn allow, void *ctx) {
    if (!vh_is_live(h, id)) return 0;
    return !allow || allow(ctx, vh_label(h, id));
}

/* ---------- Algorithm 2: SEARCH-LAYER ---------- */

int vh_search_layer(vec_hnsw *h, vh_scratch *s, const vh_query *q, const vh_pair *eps, size_t neps,
                    size_t ef, uint32_t level, int query_mode, vec_allow_fn allow, void *ctx,
                    vh_pair **out, size_t *nout) {
    if (reserve(&s->res, &s->res_cap, ef + 1) || scratch_fit(h, s)) return STRATA_ENOMEM;
    vh_pair *res = s->res, *cand = s->cand;
    size_t nres = 0, ncand = 0, vcap = s->visited_cap;
    uint16_t *vis = s->visited;
    new_epoch(s);
    uint16_t ep = s->epoch;
    if (s->exclude < vcap) vis[s->exclude] = ep;
    for (size_t i = 0; i < neps; i++) {
        uint32_t id = eps[i].id;
        if (id >= vcap || vis[id] == ep) continue;
        vis[id] = ep;
        if (ncand == s->cand_cap) {
            if (reserve(&s->cand, &s->cand_cap, ncand + 1)) return STRATA_ENOMEM;
            cand = s->cand;
        }
        minheap_push(cand, &ncand, eps[i]);
        if (!query_mode || allowed(h, id, allow, ctx)) {
            maxheap_push(res, &nres, eps[i]);
            if (nres > ef) maxheap_pop(res, &nres);
        }
    }
    float bound = nres >= ef ? res[0].d : __builtin_inff();
    /* Results need a liveness/filter check only when tombstones exist or a filter is set. */
    int check = query_mode &&
                (allow || atomic_load_explicit(&h->live, memory_order_relaxed) !=
                              atomic_load_explicit(&h->nslots, memory_order_relaxed));
    size_t lines = (h->vec_bytes + 63) / 64;
    if (lines > 16) lines = 16; /* the hardware prefetcher streams the rest */
    uint32_t fresh[2 * VEC_MAX_M];
    size_t computed = 0, budget = s->budget;
    s->aborted = 0;
    while (ncand) {
        vh_pair c = minheap_pop(cand, &ncand);
        if (c.d > bound) break;
        _Atomic uint32_t *list = vh_list(h, c.id, level);
        uint32_t n = atomic_load_explicit(list, memory_order_acquire) & VH_COUNT_MASK;
        /* Gather the unvisited neighbours first and prefetch all their vectors, so
         * their cache misses overlap instead of being paid one after the other. */
        uint32_t nf = 0;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t x = atomic_load_explicit(&list[1 + j], memory_order_acquire);
            if (x >= vcap || vis[x] == ep) continue;
            vis[x] = ep;
            fresh[nf++] = x;
            const uint8_t *np = vh_node(h, x);
            for (size_t l = 0; l < lines; l++) PREFETCH(np + 64 * l);
        }
        computed += nf;
        if (budget && computed > budget) { /* the walk costs more than a scan: caller scans */
            s->aborted = 1;
            break;
        }
        for (uint32_t j = 0; j < nf; j++) {
            uint32_t x = fresh[j];
            float d = vh_dist_q(h, q, x);
            if (nres < ef || d < bound) {
                if (ncand == s->cand_cap) {
                    if (reserve(&s->cand, &s->cand_cap, ncand + 1)) return STRATA_ENOMEM;
                    cand = s->cand;
                }
                vh_pair v = {d, x};
                minheap_push(cand, &ncand, v);
                if (!check || allowed(h, x, allow, ctx)) {
                    maxheap_push(res, &nres, v);
                    if (nres > ef) maxheap_pop(res, &nres);
                    if (nres >= ef) bound = res[0].d;
                }
            }
        }
        /* The next node to expand: fetch its link list while the heaps settle. */
        if (ncand) {
            const char *lp = (const char *)(void *)vh_list(h, cand[0].id, level);
            PREFETCH(lp);
            PREFETCH(lp + 64);
            PREFETCH(lp + 128);
        }
    }
    *out = res;
    *nout = nres;
    return STRATA_OK;
}

void vh_greedy(vec_hnsw *h, const vh_query *q, uint32_t level, uint32_t *cur, float *curd,
               uint32_t exclude) {
    int changed = 1;
    while (changed) {
        changed = 0;
        if (vh_level(h, *cur) < level) return;
        _Atomic uint32_t *list = vh_list(h, *cur, level);
        uint32_t n = atomic_load_explicit(list, memory_order_acquire) & VH_COUNT_MASK;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t x = atomic_load_explicit(&list[1 + j], memory_order_acquire);
            if (j + 1 < n) PREFETCH(vh_node(h, atomic_load_explicit(&list[2 + j], memory_order_relaxed)));
            if (x == exclude) continue;
            float d = vh_dist_q(h, q, x);
            if (d < *curd) {
                *curd = d;
                *cur = x;
                changed = 1;
            }
        }
    }
}

/* ---------- exact scan ---------- */

static int exact_scan(vec_hnsw *h, vh_scratch *s, const float *q, uint32_t k, vec_allow_fn allow,
                      void *ctx, vec_hit *out, size_t *nout) {
    if (reserve(&s->res, &s->res_cap, (size_t)k + 1)) return STRATA_ENOMEM;
    vh_pair *res = s->res;
    size_t nres = 0;
    uint32_t n = atomic_load_explicit(&h->nslots, memory_order_acquire);
    for (uint32_t id = 0; id < n; id++) {
        if (allow) {
            /* Filter first, from the contiguous labels (8 per cache line): a selective
             * filter then touches only the allowed slots' nodes. Unwritten slots read
             * label 0 (calloc) and are dropped by the liveness check below. */
            uint64_t l = vh_label(h, id);
            if (!allow(ctx, l)) continue;
            if (!vh_is_live(h, id)) continue;
            if (vh_label(h, id) != l && !allow(ctx, vh_label(h, id))) continue; /* rewritten meanwhile */
        } else {
            if (id + 4 < n) PREFETCH(vh_vec_f32(h, id + 4));
            if (!vh_is_live(h, id)) continue;
        }
        float d = vh_dist_f32(h, q, vh_vec_f32(h, id));
        if (nres < k || d < res[0].d) {
            vh_pair v = {d, id};
            maxheap_push(res, &nres, v);
            if (nres > k) maxheap_pop(res, &nres);
        }
    }
    vh_heap_sort(res, nres);
    for (size_t i = 0; i < nres; i++) {
        out[i].label = vh_label(h, res[i].id);
        out[i].dist = res[i].d;
    }
    *nout = nres;
    return STRATA_OK;
}

/* Fraction of labels the filter allows, from 128 labels: 16 runs of 8 consecutive
 * slots at pseudo-random places (one cache line of labels each, ~16 misses in all),
 * up to 1024 labels when the filter is selective.
 * Tombstones' stale labels are sampled too: they stand for the data's distribution. */
static double estimate_selectivity(vec_hnsw *h, vec_allow_fn allow, void *ctx) {
    uint32_t n = atomic_load_explicit(&h->nslots, memory_order_acquire);
    if (n == 0) return 1.0;
    uint64_t x = (atomic_fetch_add_explicit(&h->nsearch, 1, memory_order_relaxed) + 1) * 0x9E3779B97F4A7C15ull;
    unsigned yes = 0, total = 0;
    /* 16 runs; when they find fewer than 4 allowed labels (p below ~3%), 128 runs,
     * so a 1% filter is not mistaken for an empty one (0.99^128 = 28% of the time). */
    for (int i = 0; i < 128 && (i < 16 || yes < 4); i++) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27; /* xorshift64 */
        uint32_t base = (uint32_t)((((x * 0x2545F4914F6CDD1Dull) >> 32) * (uint64_t)n) >> 32) & ~7u;
        for (uint32_t id = base; id < base + 8 && id < n; id++) {
            total++;
            yes += allow(ctx, vh_label(h, id)) != 0;
        }
    }
    return total ? (double)yes / total : 0.0;
}

/* ---------- Algorithm 5: K-NN-SEARCH ---------- */

static int graph_search(vec_hnsw *h, vh_scratch *s, const float *qf, uint32_t k, uint32_t ef,
                        uint32_t rerank, vec_allow_fn allow, void *ctx, vec_hit *out, size_t *nout) {
    *nout = 0;
    uint64_t e = atomic_load_explicit(&h->entry, memory_order_acquire);
    if ((uint32_t)e == VH_NONE) return STRATA_OK;
    vh_query q;
    vh_query_prepare(h, qf, s->q8, &q);
    uint32_t cur = (uint32_t)e, top = (uint32_t)(e >> 32);
    float curd = vh_dist_q(h, &q, cur);
    for (uint32_t lc = top; lc > 0; lc--) vh_greedy(h, &q, lc, &cur, &curd, VH_NONE);
    vh_pair ep = {curd, cur}, *w;
    size_t nw;
    int rc = vh_search_layer(h, s, &q, &ep, 1, ef, 0, 1, allow, ctx, &w, &nw);
    if (rc) return rc;
    vh_heap_sort(w, nw);
    if (h->p.dtype != VEC_DTYPE_F32) {
        /* Default rerank depth: f16 distances are within ~1e-3 of exact, so the true
         * top k is almost always inside the best 2k; i8's coarser ones need 4k. */
        size_t r = rerank ? rerank : (size_t)k * (h->p.dtype == VEC_DTYPE_F16 ? 2 : 4);
        if (r > nw) r = nw;
        if (r < k) r = nw < k ? nw : k;
        size_t lines = ((size_t)h->p.dim * 4 + 63) / 64;
        if (lines > 16) lines = 16;
        for (size_t i = 0; i < r; i++) {
            const char *np = (const char *)vh_raw(h, w[i].id);
            for (size_t l = 0; l < lines; l++) PREFETCH(np + 64 * l);
        }
        for (size_t i = 0; i < r; i++) w[i].d = vh_dist_f32(h, qf, vh_raw(h, w[i].id));
        qsort(w, r, sizeof *w, vh_pair_cmp);
        nw = r;
    }
    size_t m = nw < k ? nw : k;
    for (size_t i = 0; i < m; i++) {
        out[i].label = vh_label(h, w[i].id);
        out[i].dist = w[i].d;
    }
    *nout = m;
    return STRATA_OK;
}

static int normalise_query(const vec_hnsw *h, const float *q, float *dst) {
    uint32_t d = h->p.dim;
    if (!vh_finite(q, d)) return STRATA_EINVAL;
    if (h->p.metric != VEC_METRIC_COSINE) {
        memcpy(dst, q, (size_t)d * 4);
        return STRATA_OK;
    }
    double n2 = 0;
    for (uint32_t i = 0; i < d; i++) n2 += (double)q[i] * q[i];
    if (!(n2 > 0) || !vm_finite(n2)) return STRATA_EINVAL;
    float inv = (float)(1.0 / vm_sqrt(n2));
    for (uint32_t i = 0; i < d; i++) dst[i] = q[i] * inv;
    return STRATA_OK;
}

int vec_hnsw_search(vec_hnsw *h, const float *q, uint32_t dim, const vec_search_opts *o,
                    vec_hit *out, size_t *nout) {
    if (nout) *nout = 0;
    if (!h || !q || !o || !out || !nout || dim != h->p.dim) return STRATA_EINVAL;
    if (o->k < 1 || o->k > VEC_MAX_K || o->ef > VEC_MAX_EF) return STRATA_EINVAL;
    if (o->mode < VEC_SEARCH_AUTO || o->mode > VEC_SEARCH_EXACT) return STRATA_EINVAL;
    uint32_t ef = o->ef ? o->ef : VEC_DEFAULT_EF_SEARCH;
    if (ef < o->k) ef = o->k;
    vh_scratch *s = vh_scratch_get(h);
    if (!s) return STRATA_ENOMEM;
    int rc = normalise_query(h, q, s->fbuf);
    if (rc) goto out;
    pthread_rwlock_rdlock(&h->search_lock);
    int exact = o->mode == VEC_SEARCH_EXACT;
    s->budget = 0;
    if (o->mode == VEC_SEARCH_AUTO) {
        uint64_t live = atomic_load_explicit(&h->live, memory_order_relaxed);
        if (live < h->p.exact_threshold) exact = 1;
        else if (o->allow) {
            double n = (double)atomic_load_explicit(&h->nslots, memory_order_relaxed);
            double sel = estimate_selectivity(h, o->allow, o->allow_ctx);
            /* Costs in distance computations. Scan: every label through the filter
             * (a label check costs ~lambda of a distance; distances grow with dim)
             * plus a distance per allowed vector. Walk: ~4 ef / p, as it meets one
             * allowed node per 1/p and pays a cache miss per distance. */
            double lambda = 4.0 / (32.0 + h->p.dim / 2.0);
            double scan = sel * n + lambda * n;
            double walk = sel > 0 ? 4.0 * ef / sel : 1e300;
            if (sel == 0 || (sel < h->p.filter_exact_below && scan < walk)) exact = 1;
            else if (sel < 0.5) s->budget = (size_t)(2 * scan) + 1000; /* walk, but never far past a scan */
        }
    }
    if (exact) rc = exact_scan(h, s, s->fbuf, o->k, o->allow, o->allow_ctx, out, nout);
    else {
        rc = graph_search(h, s, s->fbuf, o->k, ef, o->rerank, o->allow, o->allow_ctx, out, nout);
        /* A filtered walk that gave up (over budget) or found fewer than k hits: the
         * exact scan knows better. */
        if (rc == STRATA_OK && o->allow && o->mode == VEC_SEARCH_AUTO && (s->aborted || *nout < o->k))
            rc = exact_scan(h, s, s->fbuf, o->k, o->allow, o->allow_ctx, out, nout);
    }
    s->budget = 0;
    pthread_rwlock_unlock(&h->search_lock);
out:
    vh_scratch_put(h, s);
    return rc;
}

/* ---------- batch ---------- */

typedef struct batch_q {
    vec_hnsw *h;
    const float *qs;
    size_t nq;
    uint32_t dim;
    const vec_search_opts *o;
    vec_hit *out;
    size_t *nout;
    _Atomic size_t next;
    _Atomic int rc;
} batch_q;

static void *batch_q_worker(void *arg) {
    batch_q *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->nq || atomic_load(&b->rc)) break;
        int rc = vec_hnsw_search(b->h, b->qs + i * b->dim, b->dim, b->o, b->out + i * b->o->k, &b->nout[i]);
        if (rc) {
            int z = 0;
            atomic_compare_exchange_strong(&b->rc, &z, rc);
        }
    }
    return NULL;
}

int vec_hnsw_search_batch(vec_hnsw *h, const float *qs, size_t nq, uint32_t dim,
                          const vec_search_opts *o, int nthreads, vec_hit *out, size_t *nout) {
    if (!h || (nq && (!qs || !out || !nout)) || !o || nthreads < 0 || nthreads > VEC_MAX_THREADS)
        return STRATA_EINVAL;
    if (nthreads == 0) nthreads = 1;
    batch_q b = {.h = h, .qs = qs, .nq = nq, .dim = dim, .o = o, .out = out, .nout = nout};
    atomic_init(&b.next, 0);
    atomic_init(&b.rc, 0);
    pthread_t th[VEC_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < nthreads && (size_t)t < nq; t++) {
        if (pthread_create(&th[started], NULL, batch_q_worker, &b) != 0) break;
        started++;
    }
    batch_q_worker(&b);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return atomic_load(&b.rc);
}
