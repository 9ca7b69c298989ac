/* hnsw.c — building and changing an HNSW graph (Malkov & Yashunin, "Efficient and
 * robust approximate nearest neighbor search using Hierarchical Navigable Small World
 * graphs", IEEE TPAMI 2018; algorithm numbers below are the paper's). Queries are in
 * hnsw_search.c, the memory layout in hnsw_int.h.
 *
 * Build. Each add draws a level from the label (l = floor(-ln U * 1/ln M), U from a
 * hash of label and seed, so a rebuild draws the same levels), descends greedily from
 * the entry point to that level, then on each level from min(level, top) down to 0
 * runs SEARCH-LAYER with ef_construction, keeps M (2M on level 0) neighbours chosen
 * by the heuristic of Algorithm 4 and links both ways; a neighbour whose list
 * overflows re-selects its list with the same heuristic.
 *
 * Concurrency. Two reader/writer locks and per-node striped mutexes:
 *   - mut_lock: adds of labels that take a fresh slot hold it shared and run in
 *     parallel (vec_hnsw_add_batch); remove, replace, slot reuse, rebuild and
 *     checkpoint writing hold it exclusively (one writer at a time).
 *   - search_lock: searches hold it shared; it is taken exclusively only for the
 *     instants that rewrite a slot's vector/label in place (reuse, rebuild's swap),
 *     so a search never pairs a label with another vector's distance.
 *   - a link list is written under its node's stripe mutex, and always as: link
 *     words (release stores), then the count word (release store). Searches take no
 *     node lock: they load the count and links with acquire loads (plain moves on
 *     x86), so they see either list or a mix of both, and every id they see was
 *     fully written (vector, label, upper list) before it was first linked.
 *   - new slots come from a block table that never moves; a block is allocated with
 *     calloc, so a slot that is not yet written reads as "not live, no links".
 *   - the entry point and top level are one atomic word; an add whose level exceeds
 *     the top holds ep_lock for its whole insert (as hnswlib does).
 *
 * Remove and repair. remove() clears the slot's LIVE bit and pushes the slot on the
 * free list: the node stays in the graph as a tombstone that searches walk through
 * but never return, so the graph stays navigable at once and a remove is O(1). A
 * later add reuses the slot: first every out-neighbour n of the old node, on every
 * level, re-selects its list with the heuristic from (n's links ∪ the old node's
 * links) minus the slot — the old node's neighbourhood is stitched together around
 * it, the "repair"; then the new vector is written into the slot (search_lock
 * exclusive for that instant) and inserted as a new node at the slot's level. Links
 * into the slot from nodes that were not its out-neighbours now lead to the new
 * vector: long edges, harmless to navigation. Replacing a label's vector is remove +
 * add into the freed slot. Many tombstones make searches walk dead nodes: rebuild
 * (vec_hnsw_rebuild) builds a fresh graph of the live vectors and swaps it in.
 */
#include "vector/hnsw_int.h"
#include "strata.h"

#include "vector/vmath.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---------- parameters ---------- */

void vec_params_init(vec_params *p, uint32_t dim) {
    memset(p, 0, sizeof *p);
    p->dim = dim;
    p->metric = VEC_METRIC_COSINE;
    p->dtype = VEC_DTYPE_F32;
    p->M = VEC_DEFAULT_M;
    p->ef_construction = VEC_DEFAULT_EF_CONSTRUCTION;
    p->exact_threshold = VEC_DEFAULT_EXACT_THRESHOLD;
    p->filter_exact_below = VEC_DEFAULT_FILTER_EXACT_BELOW;
    p->seed = 0x5EEDu;
}

int vec_params_check(const vec_params *p) {
    if (!p || p->dim == 0 || p->dim > VEC_DIM_MAX) return STRATA_EINVAL;
    if (p->metric < VEC_METRIC_COSINE || p->metric > VEC_METRIC_L2) return STRATA_EINVAL;
    if (p->dtype < VEC_DTYPE_F32 || p->dtype > VEC_DTYPE_I8) return STRATA_EINVAL;
    if (p->M < VEC_MIN_M || p->M > VEC_MAX_M) return STRATA_EINVAL;
    if (p->ef_construction < 1 || p->ef_construction > VEC_MAX_EF) return STRATA_EINVAL;
    if (!(p->filter_exact_below >= 0.0 && p->filter_exact_below <= 1.0)) return STRATA_EINVAL;
    return STRATA_OK;
}

float vec_similarity(int metric, float dist) {
    return metric == VEC_METRIC_L2 ? -dist : 1.0f - dist;
}

/* ---------- allocation ---------- */

int vh_alloc(const vec_params *p, vec_hnsw **out) {
    *out = NULL;
    int rc = vec_params_check(p);
    if (rc) return rc;
    vec_hnsw *h = calloc(1, sizeof *h);
    if (!h) return STRATA_ENOMEM;
    h->p = *p;
    h->k = vk_get();
    vh_layout(h);
    h->mult = 1.0 / vm_log((double)h->M);
    atomic_store(&h->entry, ((uint64_t)0 << 32) | VH_NONE);
    pthread_mutex_init(&h->map_lock, NULL);
    pthread_mutex_init(&h->free_lock, NULL);
    pthread_mutex_init(&h->grow_lock, NULL);
    pthread_mutex_init(&h->ep_lock, NULL);
    pthread_mutex_init(&h->scratch_lock, NULL);
    for (uint32_t i = 0; i < VH_LOCK_STRIPES; i++) pthread_mutex_init(&h->stripes[i], NULL);
    pthread_rwlock_init(&h->mut_lock, NULL);
    pthread_rwlock_init(&h->search_lock, NULL);
    h->map_cap = 64;
    h->map_keys = malloc(h->map_cap * sizeof *h->map_keys);
    h->map_vals = malloc(h->map_cap * sizeof *h->map_vals);
    if (!h->map_keys || !h->map_vals) {
        vec_hnsw_free(h);
        return STRATA_ENOMEM;
    }
    memset(h->map_vals, 0xFF, h->map_cap * sizeof *h->map_vals);
    *out = h;
    return STRATA_OK;
}

int vec_hnsw_create(const vec_params *p, vec_hnsw **out) {
    if (!out) return STRATA_EINVAL;
    return vh_alloc(p, out);
}

const vec_params *vec_hnsw_params(const vec_hnsw *h) { return &h->p; }

static int in_map(const vec_hnsw *h, const void *ptr) {
    return h->map_base && (const char *)ptr >= (const char *)h->map_base &&
           (const char *)ptr < (const char *)h->map_base + h->map_len;
}

/* Free the storage fields (blocks, map, free list, mapping); keep locks. */
static void free_storage(vec_hnsw *h) {
    uint32_t nb = atomic_load(&h->nblocks);
    for (uint32_t b = 0; b < nb; b++) {
        vh_block *blk = h->btab[b];
        if (!blk) continue;
        size_t slots = (size_t)1 << h->shift;
        if (blk->upper)
            for (size_t i = 0; i < slots; i++)
                if (blk->upper[i] && !in_map(h, blk->upper[i])) free(blk->upper[i]);
        free(blk->upper);
        if (blk->own_nodes) free(blk->nodes);
        if (blk->own_labels) free(blk->labels);
        if (blk->own_raw) free(blk->raw);
        free(blk);
        h->btab[b] = NULL;
        h->ntab[b] = NULL;
    }
    atomic_store(&h->nblocks, 0);
    free(h->map_keys);
    free(h->map_vals);
    free(h->free_ids);
    h->map_keys = NULL;
    h->map_vals = NULL;
    h->free_ids = NULL;
    if (h->map_base) munmap(h->map_base, h->map_len);
    h->map_base = NULL;
}

void vec_hnsw_free(vec_hnsw *h) {
    if (!h) return;
    free_storage(h);
    vh_scratch_free_all(h);
    pthread_mutex_destroy(&h->map_lock);
    pthread_mutex_destroy(&h->free_lock);
    pthread_mutex_destroy(&h->grow_lock);
    pthread_mutex_destroy(&h->ep_lock);
    pthread_mutex_destroy(&h->scratch_lock);
    for (uint32_t i = 0; i < VH_LOCK_STRIPES; i++) pthread_mutex_destroy(&h->stripes[i]);
    pthread_rwlock_destroy(&h->mut_lock);
    pthread_rwlock_destroy(&h->search_lock);
    free(h);
}

int vh_block_init(vec_hnsw *h, uint32_t b, uint8_t *nodes, uint64_t *labels, float *raw) {
    size_t slots = (size_t)1 << h->shift;
    vh_block *blk = calloc(1, sizeof *blk);
    if (!blk) return STRATA_ENOMEM;
    blk->upper = calloc(slots, sizeof *blk->upper);
    blk->nodes = nodes ? nodes : calloc(slots, h->node_size);
    blk->own_nodes = nodes == NULL;
    blk->labels = labels ? labels : calloc(slots, sizeof *blk->labels); /* sampled unwritten: zeros */
    blk->own_labels = labels == NULL;
    if (h->p.dtype != VEC_DTYPE_F32) {
        blk->raw = raw ? raw : malloc(slots * h->p.dim * sizeof(float));
        blk->own_raw = raw == NULL;
    }
    if (!blk->upper || !blk->nodes || !blk->labels || (h->p.dtype != VEC_DTYPE_F32 && !blk->raw)) {
        free(blk->upper);
        if (blk->own_nodes) free(blk->nodes);
        if (blk->own_labels) free(blk->labels);
        if (blk->own_raw) free(blk->raw);
        free(blk);
        return STRATA_ENOMEM;
    }
    h->btab[b] = blk;
    h->ntab[b] = blk->nodes;
    return STRATA_OK;
}

/* A fresh slot id (block allocated, counted in nslots). */
static int slot_new(vec_hnsw *h, uint32_t *id) {
    pthread_mutex_lock(&h->grow_lock);
    uint32_t n = atomic_load_explicit(&h->nslots, memory_order_relaxed);
    uint32_t b = n >> h->shift;
    int rc = STRATA_OK;
    if (n == VH_NONE - 1 || b >= VH_MAX_BLOCKS) rc = STRATA_ETOOBIG;
    else if (b >= atomic_load_explicit(&h->nblocks, memory_order_relaxed)) {
        rc = vh_block_init(h, b, NULL, NULL, NULL);
        if (rc == STRATA_OK) atomic_store_explicit(&h->nblocks, b + 1, memory_order_release);
    }
    if (rc == STRATA_OK) {
        *id = n;
        atomic_store_explicit(&h->nslots, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&h->grow_lock);
    return rc;
}

/* ---------- label map (map_lock held) ---------- */

static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define MAP_DEL (VH_NONE - 1)

static uint32_t map_get(const vec_hnsw *h, uint64_t label) {
    size_t m = h->map_cap - 1, i = (size_t)mix64(label) & m;
    for (;;) {
        uint32_t v = h->map_vals[i];
        if (v == VH_NONE) return VH_NONE;
        if (v != MAP_DEL && h->map_keys[i] == label) return v;
        i = (i + 1) & m;
    }
}

static int map_grow(vec_hnsw *h) {
    size_t cap = h->map_cap * 2;
    if (h->map_count * 4 < h->map_cap) cap = h->map_cap; /* mostly deleted marks: rehash in place size */
    uint64_t *k = malloc(cap * sizeof *k);
    uint32_t *v = malloc(cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return STRATA_ENOMEM;
    }
    memset(v, 0xFF, cap * sizeof *v);
    for (size_t i = 0; i < h->map_cap; i++) {
        if (h->map_vals[i] >= MAP_DEL) continue;
        size_t j = (size_t)mix64(h->map_keys[i]) & (cap - 1);
        while (v[j] != VH_NONE) j = (j + 1) & (cap - 1);
        k[j] = h->map_keys[i];
        v[j] = h->map_vals[i];
    }
    free(h->map_keys);
    free(h->map_vals);
    h->map_keys = k;
    h->map_vals = v;
    h->map_cap = cap;
    h->map_used = h->map_count;
    return STRATA_OK;
}

int vh_map_put(vec_hnsw *h, uint64_t label, uint32_t id) {
    if ((h->map_used + 1) * 10 >= h->map_cap * 7) {
        int rc = map_grow(h);
        if (rc) return rc;
    }
    size_t m = h->map_cap - 1, i = (size_t)mix64(label) & m, del = (size_t)-1;
    for (;;) {
        uint32_t v = h->map_vals[i];
        if (v == VH_NONE) break;
        if (v == MAP_DEL) {
            if (del == (size_t)-1) del = i;
        } else if (h->map_keys[i] == label) {
            h->map_vals[i] = id;
            return STRATA_OK;
        }
        i = (i + 1) & m;
    }
    if (del != (size_t)-1) i = del;
    else h->map_used++;
    h->map_keys[i] = label;
    h->map_vals[i] = id;
    h->map_count++;
    return STRATA_OK;
}

static void map_del(vec_hnsw *h, uint64_t label) {
    size_t m = h->map_cap - 1, i = (size_t)mix64(label) & m;
    for (;;) {
        uint32_t v = h->map_vals[i];
        if (v == VH_NONE) return;
        if (v != MAP_DEL && h->map_keys[i] == label) {
            h->map_vals[i] = MAP_DEL;
            h->map_count--;
            return;
        }
        i = (i + 1) & m;
    }
}

int vh_free_push(vec_hnsw *h, uint32_t id) {
    if (h->free_n == h->free_cap) {
        size_t cap = h->free_cap ? h->free_cap * 2 : 64;
        uint32_t *f = realloc(h->free_ids, cap * sizeof *f);
        if (!f) return STRATA_ENOMEM;
        h->free_ids = f;
        h->free_cap = cap;
    }
    h->free_ids[h->free_n++] = id;
    return STRATA_OK;
}

/* ---------- link lists ---------- */

static inline uint32_t list_count(_Atomic uint32_t *list) {
    return atomic_load_explicit(list, memory_order_acquire) & VH_COUNT_MASK;
}

/* Replace a list (stripe lock held): links first, then the count. */
static void list_set(_Atomic uint32_t *list, const uint32_t *ids, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) atomic_store_explicit(&list[1 + i], ids[i], memory_order_release);
    uint32_t old = atomic_load_explicit(list, memory_order_relaxed);
    atomic_store_explicit(list, (old & ~VH_COUNT_MASK) | n, memory_order_release);
}

static void set_live(vec_hnsw *h, uint32_t id, int live) {
    pthread_mutex_t *mx = vh_stripe(h, id);
    pthread_mutex_lock(mx);
    if (live) atomic_fetch_or_explicit(vh_hdr0(h, id), VH_LIVE, memory_order_release);
    else atomic_fetch_and_explicit(vh_hdr0(h, id), ~VH_LIVE, memory_order_release);
    pthread_mutex_unlock(mx);
}

/* Algorithm 4: SELECT-NEIGHBORS-HEURISTIC with extendCandidates = false and
 * keepPrunedConnections = false (as hnswlib). cand[0..n) sorted by distance to the
 * base element; a candidate is kept when it is closer to the base than to every
 * element kept so far. Returns the number kept in out (at most m). */
static uint32_t select_heuristic(vec_hnsw *h, const vh_pair *cand, size_t n, uint32_t m,
                                 uint32_t *out, float *tmp) {
    uint32_t cnt = 0;
    for (size_t i = 0; i < n && cnt < m; i++) {
        vh_query eq;
        vh_query_from_id(h, cand[i].id, tmp, &eq);
        int good = 1;
        for (uint32_t j = 0; j < cnt; j++) {
            if (vh_dist_q(h, &eq, out[j]) < cand[i].d) {
                good = 0;
                break;
            }
        }
        if (good) out[cnt++] = cand[i].id;
    }
    return cnt;
}

/* Add `id` to neighbour n's list on `level`, shrinking it with the heuristic if it is
 * full (the neighbour side of Algorithm 1, lines 11-16). */
static void link_back(vec_hnsw *h, vh_scratch *s, uint32_t n, uint32_t id, uint32_t level) {
    uint32_t mmax = level ? h->M : h->M0;
    vh_pair cand[2 * VEC_MAX_M + 1];
    uint32_t sel[2 * VEC_MAX_M + 1];
    pthread_mutex_t *mx = vh_stripe(h, n);
    pthread_mutex_lock(mx);
    _Atomic uint32_t *list = vh_list(h, n, level);
    uint32_t cnt = list_count(list);
    for (uint32_t i = 0; i < cnt; i++)
        if (atomic_load_explicit(&list[1 + i], memory_order_relaxed) == id) goto done;
    if (cnt < mmax) {
        atomic_store_explicit(&list[1 + cnt], id, memory_order_release);
        uint32_t old = atomic_load_explicit(list, memory_order_relaxed);
        atomic_store_explicit(list, (old & ~VH_COUNT_MASK) | (cnt + 1), memory_order_release);
        goto done;
    }
    {
        vh_query nq;
        vh_query_from_id(h, n, s->fbuf2, &nq);
        size_t nc = 0;
        cand[nc].id = id;
        cand[nc].d = vh_dist_q(h, &nq, id);
        nc++;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t x = atomic_load_explicit(&list[1 + i], memory_order_relaxed);
            cand[nc].id = x;
            cand[nc].d = vh_dist_q(h, &nq, x);
            nc++;
        }
        qsort(cand, nc, sizeof cand[0], vh_pair_cmp);
        /* fbuf2 holds n's decoded vector (f16); the heuristic needs its own buffer. */
        uint32_t k = select_heuristic(h, cand, nc, mmax, sel, s->fbuf + h->p.dim);
        list_set(list, sel, k);
    }
done:
    pthread_mutex_unlock(mx);
}

static uint32_t draw_level(const vec_hnsw *h, uint64_t label) {
    uint64_t r = mix64(label ^ mix64(h->p.seed));
    double u = ((double)(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double l = -vm_log(u) * h->mult;
    return l >= VH_MAX_LEVEL ? VH_MAX_LEVEL : (uint32_t)l;
}

static inline uint64_t ep_pack(uint32_t level, uint32_t id) { return ((uint64_t)level << 32) | id; }

/* Algorithm 1: INSERT the vector already written into slot `id` (its upper list,
 * if any, allocated) at `level`. `v` is its f32 form. */
static int insert_node(vec_hnsw *h, vh_scratch *s, uint32_t id, const float *v, uint32_t level) {
    vh_query q;
    vh_query_prepare(h, v, s->q8, &q);
    int locked_ep = 0;
    uint64_t e = atomic_load_explicit(&h->entry, memory_order_acquire);
    if ((uint32_t)e == VH_NONE || level > (uint32_t)(e >> 32)) {
        pthread_mutex_lock(&h->ep_lock);
        locked_ep = 1;
        e = atomic_load_explicit(&h->entry, memory_order_acquire);
        if ((uint32_t)e == VH_NONE) {
            atomic_store_explicit(&h->entry, ep_pack(level, id), memory_order_release);
            pthread_mutex_unlock(&h->ep_lock);
            return STRATA_OK;
        }
        if (level <= (uint32_t)(e >> 32)) {
            pthread_mutex_unlock(&h->ep_lock);
            locked_ep = 0;
        }
    }
    uint32_t top = (uint32_t)(e >> 32), cur = (uint32_t)e;
    float curd = vh_dist_q(h, &q, cur);
    for (uint32_t lc = top; lc > level; lc--) vh_greedy(h, &q, lc, &cur, &curd, id);
    s->exclude = id;

    vh_pair *eps = malloc(sizeof(vh_pair) * (h->p.ef_construction + 1));
    if (!eps) {
        if (locked_ep) pthread_mutex_unlock(&h->ep_lock);
        return STRATA_ENOMEM;
    }
    size_t neps = 1;
    eps[0].id = cur;
    eps[0].d = curd;
    uint32_t sel[2 * VEC_MAX_M];
    int rc = STRATA_OK;
    for (uint32_t lc = level < top ? level : top;; lc--) {
        vh_pair *w;
        size_t nw;
        rc = vh_search_layer(h, s, &q, eps, neps, h->p.ef_construction, lc, 0, NULL, NULL, &w, &nw);
        if (rc) break;
        vh_heap_sort(w, nw);
        /* The slot itself can be met when a reused slot is still linked from others. */
        size_t k = 0;
        for (size_t i = 0; i < nw; i++)
            if (w[i].id != id) w[k++] = w[i];
        nw = k;
        memcpy(eps, w, nw * sizeof *w);
        neps = nw;
        uint32_t m = select_heuristic(h, eps, neps, h->M, sel, s->fbuf + h->p.dim);
        pthread_mutex_t *mx = vh_stripe(h, id);
        pthread_mutex_lock(mx);
        list_set(vh_list(h, id, lc), sel, m);
        pthread_mutex_unlock(mx);
        for (uint32_t i = 0; i < m; i++) link_back(h, s, sel[i], id, lc);
        if (neps == 0) {
            neps = 1;
            eps[0].id = cur;
            eps[0].d = curd;
        }
        if (lc == 0) break;
    }
    s->exclude = VH_NONE;
    free(eps);
    if (locked_ep) {
        if (rc == STRATA_OK) atomic_store_explicit(&h->entry, ep_pack(level, id), memory_order_release);
        pthread_mutex_unlock(&h->ep_lock);
    }
    return rc;
}

/* Give slot id an upper list for `level` (NULL for level 0). */
static int upper_alloc(vec_hnsw *h, uint32_t id, uint32_t level) {
    vh_block *blk = vh_blk(h, id);
    if (level == 0) {
        blk->upper[id & h->mask] = NULL;
        return STRATA_OK;
    }
    size_t words = 1 + (size_t)level * (h->M + 1);
    uint32_t *u = calloc(words, 4);
    if (!u) return STRATA_ENOMEM;
    u[0] = level;
    atomic_fetch_add(&h->upper_bytes, words * 4);
    blk->upper[id & h->mask] = u;
    return STRATA_OK;
}

/* Write the vector and label of a slot (its f32 form v). */
static void slot_write(vec_hnsw *h, uint32_t id, uint64_t label, const float *v) {
    vh_encode(h, v, vh_node(h, id));
    if (h->p.dtype != VEC_DTYPE_F32) memcpy(vh_raw(h, id), v, (size_t)h->p.dim * 4);
    vh_set_label(h, id, label);
}

/* Validate and bring v into the index's form (unit length for cosine) in dst. */
static int prepare_vec(const vec_hnsw *h, const float *v, float *dst) {
    uint32_t d = h->p.dim;
    if (!vh_finite(v, d)) return STRATA_EINVAL;
    if (h->p.metric == VEC_METRIC_COSINE) {
        double n2 = 0;
        for (uint32_t i = 0; i < d; i++) n2 += (double)v[i] * v[i];
        if (!(n2 > 0) || !vm_finite(n2)) return STRATA_EINVAL;
        float inv = (float)(1.0 / vm_sqrt(n2));
        for (uint32_t i = 0; i < d; i++) dst[i] = v[i] * inv;
    } else {
        memcpy(dst, v, (size_t)d * 4);
    }
    return STRATA_OK;
}

/* Pick a new entry point other than `id` (which is about to be rewritten): the
 * neighbour with the highest level among id's links, top level down. */
static void move_entry_off(vec_hnsw *h, uint32_t id) {
    uint64_t e = atomic_load(&h->entry);
    if ((uint32_t)e != id) return;
    uint32_t top = (uint32_t)(e >> 32);
    for (uint32_t lc = top;; lc--) {
        _Atomic uint32_t *list = vh_list(h, id, lc);
        uint32_t cnt = list_count(list), best = VH_NONE, bl = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t x = atomic_load(&list[1 + i]);
            uint32_t xl = vh_level(h, x);
            if (x != id && (best == VH_NONE || xl > bl)) {
                best = x;
                bl = xl;
            }
        }
        if (best != VH_NONE) {
            atomic_store(&h->entry, ep_pack(bl, best));
            return;
        }
        if (lc == 0) break;
    }
    /* No neighbour at all: the slot was the only node; the graph starts over. */
    atomic_store(&h->entry, ep_pack(0, VH_NONE));
}

/* The repair before slot id is reused (mut_lock exclusive held): every out-neighbour
 * of the old node re-selects its list from its links and the old node's links. */
static void repair_around(vec_hnsw *h, vh_scratch *s, uint32_t id) {
    uint32_t lvl = vh_level(h, id);
    size_t cap = 3 * (size_t)h->M0 + 2;
    vh_pair *cand = malloc(cap * sizeof *cand);
    uint32_t *sel = malloc(cap * sizeof *sel);
    uint32_t *old = malloc(cap * sizeof *old);
    if (!cand || !sel || !old) goto out; /* repair is best effort: skipping it only weakens links */
    for (uint32_t lc = 0; lc <= lvl; lc++) {
        _Atomic uint32_t *il = vh_list(h, id, lc);
        uint32_t icnt = list_count(il);
        for (uint32_t i = 0; i < icnt; i++) old[i] = atomic_load(&il[1 + i]);
        uint32_t mmax = lc ? h->M : h->M0;
        for (uint32_t i = 0; i < icnt; i++) {
            uint32_t n = old[i];
            if (n == id || vh_level(h, n) < lc) continue;
            _Atomic uint32_t *nl = vh_list(h, n, lc);
            uint32_t ncnt = list_count(nl);
            int links_to_id = 0;
            for (uint32_t j = 0; j < ncnt; j++)
                if (atomic_load(&nl[1 + j]) == id) links_to_id = 1;
            if (!links_to_id) continue;
            vh_query nq;
            vh_query_from_id(h, n, s->fbuf2, &nq);
            size_t nc = 0;
            for (uint32_t j = 0; j < ncnt + icnt; j++) {
                uint32_t x = j < ncnt ? atomic_load(&nl[1 + j]) : old[j - ncnt];
                if (x == id || x == n) continue;
                int dup = 0;
                for (size_t t = 0; t < nc; t++)
                    if (cand[t].id == x) dup = 1;
                if (dup) continue;
                cand[nc].id = x;
                cand[nc].d = vh_dist_q(h, &nq, x);
                nc++;
            }
            qsort(cand, nc, sizeof *cand, vh_pair_cmp);
            uint32_t k = select_heuristic(h, cand, nc, mmax, sel, s->fbuf + h->p.dim);
            pthread_mutex_lock(vh_stripe(h, n));
            list_set(nl, sel, k);
            pthread_mutex_unlock(vh_stripe(h, n));
        }
    }
out:
    free(cand);
    free(sel);
    free(old);
}

/* Remove under mut_lock exclusive. */
static int remove_locked(vec_hnsw *h, uint64_t label) {
    pthread_mutex_lock(&h->map_lock);
    uint32_t id = map_get(h, label);
    pthread_mutex_unlock(&h->map_lock);
    if (id == VH_NONE) return STRATA_ENOTFOUND;
    pthread_mutex_lock(&h->free_lock);
    int rc = vh_free_push(h, id); /* first: the only step that can fail */
    pthread_mutex_unlock(&h->free_lock);
    if (rc) return rc;
    pthread_mutex_lock(&h->map_lock);
    map_del(h, label);
    pthread_mutex_unlock(&h->map_lock);
    set_live(h, id, 0);
    atomic_fetch_sub(&h->live, 1);
    return STRATA_OK;
}

/* Add into a reused slot or replace (mut_lock exclusive held). v is prepared. */
static int add_exclusive(vec_hnsw *h, vh_scratch *s, uint64_t label, const float *v) {
    int rc;
    pthread_mutex_lock(&h->map_lock);
    uint32_t old = map_get(h, label);
    pthread_mutex_unlock(&h->map_lock);
    if (old != VH_NONE) {
        rc = remove_locked(h, label);
        if (rc) return rc;
    }
    pthread_mutex_lock(&h->free_lock);
    uint32_t id = h->free_n ? h->free_ids[--h->free_n] : VH_NONE;
    pthread_mutex_unlock(&h->free_lock);
    pthread_mutex_lock(&h->map_lock);
    rc = vh_map_put(h, label, id == VH_NONE ? 0 : id); /* reserve room now: no failure later */
    pthread_mutex_unlock(&h->map_lock);
    if (rc) goto fail;
    if (id == VH_NONE) { /* the freed slot was taken back: a fresh one */
        rc = slot_new(h, &id);
        if (rc == STRATA_OK) rc = upper_alloc(h, id, draw_level(h, label));
        if (rc) goto fail_map;
        slot_write(h, id, label, v);
    } else {
        uint32_t level = vh_level(h, id);
        repair_around(h, s, id);
        move_entry_off(h, id);
        pthread_rwlock_wrlock(&h->search_lock);
        slot_write(h, id, label, v);
        for (uint32_t lc = 0; lc <= level; lc++) {
            _Atomic uint32_t *list = vh_list(h, id, lc);
            uint32_t o = atomic_load(list);
            atomic_store(list, o & ~VH_COUNT_MASK);
        }
        pthread_rwlock_unlock(&h->search_lock);
    }
    pthread_mutex_lock(&h->map_lock);
    vh_map_put(h, label, id); /* cannot fail: the entry exists */
    pthread_mutex_unlock(&h->map_lock);
    rc = insert_node(h, s, id, v, vh_level(h, id));
    /* Even on ENOMEM mid-insert the node is written and partly linked: keep it. */
    set_live(h, id, 1);
    atomic_fetch_add(&h->live, 1);
    return rc == STRATA_ENOMEM ? STRATA_OK : rc;
fail_map:
    pthread_mutex_lock(&h->map_lock);
    map_del(h, label);
    pthread_mutex_unlock(&h->map_lock);
fail:
    if (id != VH_NONE) {
        pthread_mutex_lock(&h->free_lock);
        h->free_ids[h->free_n++] = id; /* it was popped: room exists */
        pthread_mutex_unlock(&h->free_lock);
    }
    return rc;
}

/* One add of a prepared vector v. */
static int add_one(vec_hnsw *h, vh_scratch *s, uint64_t label, const float *v) {
    pthread_rwlock_rdlock(&h->mut_lock);
    pthread_mutex_lock(&h->map_lock);
    int fresh = map_get(h, label) == VH_NONE;
    pthread_mutex_unlock(&h->map_lock);
    if (fresh) {
        pthread_mutex_lock(&h->free_lock);
        fresh = h->free_n == 0;
        pthread_mutex_unlock(&h->free_lock);
    }
    int rc;
    if (fresh) {
        uint32_t id;
        rc = slot_new(h, &id);
        int have_slot = rc == STRATA_OK;
        if (rc == STRATA_OK) rc = upper_alloc(h, id, draw_level(h, label));
        if (rc == STRATA_OK) {
            pthread_mutex_lock(&h->map_lock);
            /* A concurrent add of the same label may have won: then replace later. */
            if (map_get(h, label) != VH_NONE) rc = STRATA_EEXIST;
            else rc = vh_map_put(h, label, id);
            pthread_mutex_unlock(&h->map_lock);
        }
        if (rc && have_slot) {
            /* The unused slot (not live, unlinked) goes to the free list for reuse. */
            vh_set_label(h, id, 0);
            pthread_mutex_lock(&h->free_lock);
            if (vh_free_push(h, id)) { /* out of memory twice: the slot stays unused, unreachable */ }
            pthread_mutex_unlock(&h->free_lock);
        }
        if (rc == STRATA_OK) {
            slot_write(h, id, label, v);
            int irc = insert_node(h, s, id, v, vh_level(h, id));
            set_live(h, id, 1);
            atomic_fetch_add(&h->live, 1);
            rc = irc == STRATA_ENOMEM ? STRATA_OK : irc;
        }
        pthread_rwlock_unlock(&h->mut_lock);
        if (rc != STRATA_EEXIST) return rc;
    } else {
        pthread_rwlock_unlock(&h->mut_lock);
    }
    pthread_rwlock_wrlock(&h->mut_lock);
    rc = add_exclusive(h, s, label, v);
    pthread_rwlock_unlock(&h->mut_lock);
    return rc;
}

int vec_hnsw_add(vec_hnsw *h, uint64_t label, const float *v, uint32_t dim) {
    if (!h || !v || dim != h->p.dim) return STRATA_EINVAL;
    vh_scratch *s = vh_scratch_get(h);
    if (!s) return STRATA_ENOMEM;
    int rc = prepare_vec(h, v, s->fbuf);
    if (rc == STRATA_OK) {
        /* The scratch's fbuf tail is the heuristic's buffer: keep v in its own copy. */
        float *cp = malloc((size_t)dim * 4);
        if (!cp) rc = STRATA_ENOMEM;
        else {
            memcpy(cp, s->fbuf, (size_t)dim * 4);
            rc = add_one(h, s, label, cp);
            free(cp);
        }
    }
    vh_scratch_put(h, s);
    return rc;
}

int vec_hnsw_remove(vec_hnsw *h, uint64_t label) {
    if (!h) return STRATA_EINVAL;
    pthread_rwlock_wrlock(&h->mut_lock);
    int rc = remove_locked(h, label);
    pthread_rwlock_unlock(&h->mut_lock);
    return rc;
}

int vec_hnsw_contains(vec_hnsw *h, uint64_t label) {
    if (!h) return 0;
    pthread_mutex_lock(&h->map_lock);
    uint32_t id = map_get(h, label);
    pthread_mutex_unlock(&h->map_lock);
    return id != VH_NONE;
}

int vec_hnsw_get(vec_hnsw *h, uint64_t label, float *out, uint32_t dim) {
    if (!h || !out || dim != h->p.dim) return STRATA_EINVAL;
    pthread_rwlock_rdlock(&h->mut_lock);
    pthread_mutex_lock(&h->map_lock);
    uint32_t id = map_get(h, label);
    pthread_mutex_unlock(&h->map_lock);
    int rc = STRATA_ENOTFOUND;
    if (id != VH_NONE && vh_is_live(h, id)) {
        memcpy(out, vh_vec_f32(h, id), (size_t)dim * 4);
        rc = STRATA_OK;
    }
    pthread_rwlock_unlock(&h->mut_lock);
    return rc;
}

/* ---------- batch add ---------- */

typedef struct batch_job {
    vec_hnsw *h;
    const uint64_t *labels;
    const float *vecs;
    const size_t *order;   /* indexes to add (duplicates removed) */
    size_t n;
    _Atomic size_t next;
    _Atomic int rc;
} batch_job;

static void *batch_worker(void *arg) {
    batch_job *j = arg;
    vec_hnsw *h = j->h;
    vh_scratch *s = vh_scratch_get(h);
    float *v = malloc((size_t)h->p.dim * 4);
    if (!s || !v) {
        int z = 0;
        atomic_compare_exchange_strong(&j->rc, &z, STRATA_ENOMEM);
        goto out;
    }
    for (;;) {
        if (atomic_load(&j->rc)) break;
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        size_t r = j->order[i];
        prepare_vec(h, j->vecs + r * h->p.dim, v); /* validated before */
        int rc = add_one(h, s, j->labels[r], v);
        if (rc) {
            int z = 0;
            atomic_compare_exchange_strong(&j->rc, &z, rc);
        }
    }
out:
    free(v);
    if (s) vh_scratch_put(h, s);
    return NULL;
}

int vec_hnsw_add_batch(vec_hnsw *h, const uint64_t *labels, const float *vecs, size_t n,
                       uint32_t dim, int nthreads, size_t *bad_index) {
    if (!h || (n && (!labels || !vecs)) || dim != h->p.dim || nthreads < 0 || nthreads > VEC_MAX_THREADS)
        return STRATA_EINVAL;
    if (nthreads == 0) nthreads = 1;
    if (n == 0) return STRATA_OK;
    float *tmp = malloc((size_t)dim * 4);
    if (!tmp) return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (prepare_vec(h, vecs + i * dim, tmp)) {
            if (bad_index) *bad_index = i;
            free(tmp);
            return STRATA_EINVAL;
        }
    }
    free(tmp);
    /* Keep the last row of each label: mark earlier duplicates with a hash set. */
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    uint64_t *keys = malloc(cap * sizeof *keys);
    size_t *rows = malloc(cap * sizeof *rows), *order = malloc(n * sizeof *order);
    if (!keys || !rows || !order) {
        free(keys);
        free(rows);
        free(order);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++) rows[i] = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)mix64(labels[i]) & (cap - 1);
        while (rows[j] != (size_t)-1 && keys[j] != labels[i]) j = (j + 1) & (cap - 1);
        keys[j] = labels[i];
        rows[j] = i; /* last wins */
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)mix64(labels[i]) & (cap - 1);
        while (keys[j] != labels[i]) j = (j + 1) & (cap - 1);
        if (rows[j] == i) order[m++] = i;
    }
    free(keys);
    free(rows);
    batch_job job = {.h = h, .labels = labels, .vecs = vecs, .order = order, .n = m};
    atomic_init(&job.next, 0);
    atomic_init(&job.rc, 0);
    pthread_t th[VEC_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < nthreads; t++) {
        if (pthread_create(&th[started], NULL, batch_worker, &job) != 0) break;
        started++;
    }
    batch_worker(&job);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    free(order);
    return atomic_load(&job.rc);
}

/* ---------- rebuild ---------- */

/* Swap the storage of a and b (locks and scratch stay). */
static void swap_storage(vec_hnsw *a, vec_hnsw *b) {
#define SWAPF(f) do { __typeof__(a->f) t_ = a->f; a->f = b->f; b->f = t_; } while (0)
#define SWAPA(f) do { __typeof__(atomic_load(&a->f)) t_ = atomic_load(&a->f); \
    atomic_store(&a->f, atomic_load(&b->f)); atomic_store(&b->f, t_); } while (0)
    for (uint32_t i = 0; i < VH_MAX_BLOCKS; i++) {
        if (!a->ntab[i] && !b->ntab[i] && !a->btab[i] && !b->btab[i]) continue;
        SWAPF(ntab[i]);
        SWAPF(btab[i]);
    }
    SWAPA(nblocks);
    SWAPA(nslots);
    SWAPA(live);
    SWAPA(entry);
    SWAPA(upper_bytes);
    SWAPF(map_keys);
    SWAPF(map_vals);
    SWAPF(map_cap);
    SWAPF(map_used);
    SWAPF(map_count);
    SWAPF(free_ids);
    SWAPF(free_n);
    SWAPF(free_cap);
    SWAPF(map_base);
    SWAPF(map_len);
#undef SWAPF
#undef SWAPA
}

int vec_hnsw_rebuild(vec_hnsw *h, int nthreads) {
    if (!h || nthreads < 0 || nthreads > VEC_MAX_THREADS) return STRATA_EINVAL;
    pthread_rwlock_wrlock(&h->mut_lock);
    uint32_t n = atomic_load(&h->nslots), d = h->p.dim;
    uint64_t live = atomic_load(&h->live);
    uint64_t *labels = malloc((live ? live : 1) * sizeof *labels);
    float *vecs = malloc((live ? live : 1) * (size_t)d * 4);
    vec_hnsw *nh = NULL;
    int rc = STRATA_ENOMEM;
    if (!labels || !vecs) goto out;
    size_t m = 0;
    for (uint32_t id = 0; id < n && m < live; id++) {
        if (!vh_is_live(h, id)) continue;
        labels[m] = vh_label(h, id);
        memcpy(vecs + m * d, vh_vec_f32(h, id), (size_t)d * 4);
        m++;
    }
    rc = vh_alloc(&h->p, &nh);
    if (rc) goto out;
    rc = vec_hnsw_add_batch(nh, labels, vecs, m, d, nthreads, NULL);
    if (rc) goto out;
    pthread_rwlock_wrlock(&h->search_lock);
    swap_storage(h, nh);
    pthread_rwlock_unlock(&h->search_lock);
out:
    pthread_rwlock_unlock(&h->mut_lock);
    vec_hnsw_free(nh);
    free(labels);
    free(vecs);
    return rc;
}

void vec_hnsw_stats(vec_hnsw *h, vec_stats *st) {
    memset(st, 0, sizeof *st);
    if (!h) return;
    pthread_rwlock_rdlock(&h->mut_lock);
    uint64_t n = atomic_load(&h->nslots);
    st->slots = n;
    st->live = atomic_load(&h->live);
    pthread_mutex_lock(&h->free_lock);
    st->tombstones = h->free_n;
    pthread_mutex_unlock(&h->free_lock);
    st->max_level = (uint32_t)(atomic_load(&h->entry) >> 32);
    pthread_mutex_lock(&h->map_lock);
    uint64_t mapb = h->map_cap * (sizeof(uint64_t) + sizeof(uint32_t));
    pthread_mutex_unlock(&h->map_lock);
    st->index_bytes = n * (h->node_size + sizeof(uint64_t) + sizeof(void *)) +
                      atomic_load(&h->upper_bytes) + mapb;
    st->raw_bytes = h->p.dtype == VEC_DTYPE_F32 ? 0 : n * (uint64_t)h->p.dim * 4;
    st->mapped_bytes = h->map_len;
    st->kernels = h->k->name;
    pthread_rwlock_unlock(&h->mut_lock);
}
