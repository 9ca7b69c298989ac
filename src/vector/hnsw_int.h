/* hnsw_int.h — the in-memory layout of an HNSW index, shared by hnsw.c (build,
 * remove, repair), hnsw_search.c (queries), quant.c (vector encodings) and
 * checkpoint.c (file image). Private to src/vector; store.c sees only vec.h.
 *
 * Storage is a table of fixed-size blocks of 2^shift slots, so growing never moves
 * a node under a concurrent reader. A slot's level-0 record is contiguous, like
 * hnswlib's, and starts on a 64-byte boundary:
 *
 *   +---------------------------------+--------------------------------------------+
 *   | vector (compact)                | hdr u32 | links0[M0] u32                   |
 *   |  f32: dim*4                     |  hdr bits 0..15: link count              |
 *   |  f16: dim*2 (rounded up to 4)   |  bit 31: LIVE (searchable)               |
 *   |  i8:  dim (rounded up to 4),    |                                          |
 *   |       f32 scale, f32 |x|^2      |                                          |
 *   +---------------------------------+--------------------------------------------+
 *
 * Beside each block: labels (u64 per slot), upper-layer link lists (one pointer per
 * slot, NULL on level 0; the list is u32 level, then per level 1..level: u32 count +
 * u32 links[M]) and, for f16/i8, the f32 copy used to rerank (dim floats per slot).
 * The block arrays may point into a checkpoint's private mapping (see owned flags).
 */
#ifndef STRATA_VECTOR_HNSW_INT_H
#define STRATA_VECTOR_HNSW_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vector/kernels.h"
#include "vector/vec.h"

#define VH_MAX_BLOCKS   65536u
#define VH_MAX_LEVEL    30u
#define VH_NONE         0xFFFFFFFFu
#define VH_LIVE         0x80000000u /* level-0 hdr: searchable (set after insert, cleared by remove) */
#define VH_COUNT_MASK   0xFFFFu
#define VH_LOCK_STRIPES 4096u

typedef struct vh_block {
    uint8_t *nodes;     /* slots * node_size */
    uint64_t *labels;   /* slots */
    uint32_t **upper;   /* slots pointers */
    float *raw;         /* slots * dim, f16/i8 only */
    uint8_t own_nodes, own_labels, own_raw;
} vh_block;

/* A prepared query: the f32 form (unit length for cosine) and, for i8, its codes. */
typedef struct vh_query {
    const float *f;
    int8_t *q8;
    float scale, norm2;
} vh_query;

/* Search scratch, pooled: epoch-tagged visited marks and the two heaps. */
typedef struct vh_scratch {
    struct vh_scratch *next;
    uint16_t *visited;
    size_t visited_cap;
    uint16_t epoch;
    uint32_t exclude;  /* a slot searches must not enter (the one being inserted) */
    size_t budget;     /* query walks: give up past this many distances (0: none) */
    int aborted;       /* the last SEARCH-LAYER gave up on its budget */
    void *cand, *res;  /* vh_pair arrays */
    size_t cand_cap, res_cap;
    float *fbuf;       /* dim floats: normalised query / decoded vector */
    float *fbuf2;
    int8_t *q8;        /* dim codes */
} vh_scratch;

typedef struct vh_pair { float d; uint32_t id; } vh_pair;

struct vec_hnsw {
    vec_params p;
    const vk_table *k;
    uint32_t M, M0;
    double mult;                  /* level multiplier 1/ln(M) */
    size_t vec_bytes;             /* compact vector incl. i8 scale/norm */
    size_t node_size;
    size_t links_off;             /* offset of hdr in a slot */
    uint32_t shift;               /* slots per block = 1 << shift */
    uint32_t mask;

    uint8_t *ntab[VH_MAX_BLOCKS]; /* block node storage, read without locks */
    vh_block *btab[VH_MAX_BLOCKS];
    _Atomic uint32_t nblocks;

    _Atomic uint32_t nslots;      /* slots handed out (ids < nslots exist) */
    _Atomic uint64_t live;
    _Atomic uint64_t entry;       /* (maxlevel << 32) | entry id; entry VH_NONE when empty */
    _Atomic uint64_t upper_bytes; /* bytes of upper-layer lists (accounting) */
    _Atomic uint64_t nsearch;     /* searches so far: seeds the selectivity sample */

    /* label -> slot, open addressing; map_lock */
    pthread_mutex_t map_lock;
    uint64_t *map_keys;
    uint32_t *map_vals;           /* VH_NONE: empty; VH_NONE-1: deleted */
    size_t map_cap, map_used, map_count;

    /* removed slots waiting for reuse; free_lock */
    pthread_mutex_t free_lock;
    uint32_t *free_ids;
    size_t free_n, free_cap;

    pthread_mutex_t grow_lock;    /* allocating blocks */
    pthread_mutex_t ep_lock;      /* inserts that raise the max level */
    pthread_mutex_t stripes[VH_LOCK_STRIPES]; /* per-node link-list locks */
    pthread_rwlock_t mut_lock;    /* writers: shared = fresh adds, exclusive = the rest */
    pthread_rwlock_t search_lock; /* searches shared; slot rewrites exclusive */

    pthread_mutex_t scratch_lock;
    vh_scratch *scratch_free;

    /* checkpoint mapping (checkpoint.c) */
    void *map_base;
    size_t map_len;
};

static inline uint8_t *vh_node(const vec_hnsw *h, uint32_t id) {
    return h->ntab[id >> h->shift] + (size_t)(id & h->mask) * h->node_size;
}
static inline _Atomic uint32_t *vh_hdr0(const vec_hnsw *h, uint32_t id) {
    return (_Atomic uint32_t *)(void *)(vh_node(h, id) + h->links_off);
}
static inline uint32_t *vh_links0(const vec_hnsw *h, uint32_t id) {
    return (uint32_t *)(void *)(vh_node(h, id) + h->links_off + 4);
}
static inline vh_block *vh_blk(const vec_hnsw *h, uint32_t id) { return h->btab[id >> h->shift]; }
/* Labels are read without locks (filters, selectivity samples) while an add may be
 * writing a fresh slot's: relaxed atomic loads/stores (plain moves on x86). */
static inline uint64_t vh_label(const vec_hnsw *h, uint32_t id) {
    return __atomic_load_n(&vh_blk(h, id)->labels[id & h->mask], __ATOMIC_RELAXED);
}
static inline void vh_set_label(const vec_hnsw *h, uint32_t id, uint64_t label) {
    __atomic_store_n(&vh_blk(h, id)->labels[id & h->mask], label, __ATOMIC_RELAXED);
}
static inline uint32_t *vh_upper(const vec_hnsw *h, uint32_t id) {
    return vh_blk(h, id)->upper[id & h->mask];
}
static inline uint32_t vh_level(const vec_hnsw *h, uint32_t id) {
    uint32_t *u = vh_upper(h, id);
    return u ? u[0] : 0;
}
/* The link list (count word + links) of `id` on `level`. */
static inline _Atomic uint32_t *vh_list(const vec_hnsw *h, uint32_t id, uint32_t level) {
    if (level == 0) return vh_hdr0(h, id);
    return (_Atomic uint32_t *)(void *)(vh_upper(h, id) + 1 + (size_t)(level - 1) * (h->M + 1));
}
static inline float *vh_raw(const vec_hnsw *h, uint32_t id) {
    return vh_blk(h, id)->raw + (size_t)(id & h->mask) * h->p.dim;
}
static inline pthread_mutex_t *vh_stripe(vec_hnsw *h, uint32_t id) {
    return &h->stripes[id & (VH_LOCK_STRIPES - 1)];
}
static inline int vh_is_live(const vec_hnsw *h, uint32_t id) {
    return (atomic_load_explicit(vh_hdr0(h, id), memory_order_acquire) & VH_LIVE) != 0;
}

/* ---- quant.c: encodings and distances ---- */
/* Layout sizes for params p. */
void vh_layout(vec_hnsw *h);
/* 1 if every component is finite. */
int vh_finite(const float *v, uint32_t dim);
/* Prepare q (already normalised for cosine) into qq; q8 is dim bytes of scratch. */
void vh_query_prepare(const vec_hnsw *h, const float *q, int8_t *q8, vh_query *qq);
/* Encode f32 v (normalised for cosine) into the compact vector at dst. */
void vh_encode(const vec_hnsw *h, const float *v, uint8_t *dst);
static inline float vh_from_dot(const vec_hnsw *h, float dot, float na, float nb) {
    if (h->p.metric == VEC_METRIC_L2) {
        float r = na + nb - 2.0f * dot;
        return r > 0 ? r : 0;
    }
    return 1.0f - dot;
}

/* Distance from a prepared query to slot id's compact vector (inline: the hot path). */
static inline float vh_dist_q(const vec_hnsw *h, const vh_query *q, uint32_t id) {
    const uint8_t *x = vh_node(h, id);
    uint32_t d = h->p.dim;
    switch (h->p.dtype) {
    case VEC_DTYPE_F16:
        if (h->p.metric == VEC_METRIC_L2) return h->k->l2_f16(q->f, (const uint16_t *)(const void *)x, d);
        return 1.0f - h->k->dot_f16(q->f, (const uint16_t *)(const void *)x, d);
    case VEC_DTYPE_I8: {
        size_t cb = (d + 3u) & ~3u;
        float sx, nx;
        memcpy(&sx, x + cb, 4);
        memcpy(&nx, x + cb + 4, 4);
        int32_t dot = h->k->dot_i8(q->q8, (const int8_t *)x, d);
        return vh_from_dot(h, (float)dot * q->scale * sx, q->norm2, nx);
    }
    default:
        if (h->p.metric == VEC_METRIC_L2) return h->k->l2_f32(q->f, (const float *)(const void *)x, d);
        return 1.0f - h->k->dot_f32(q->f, (const float *)(const void *)x, d);
    }
}

/* Exact f32 distance from q to f32 vector x. */
float vh_dist_f32(const vec_hnsw *h, const float *q, const float *x);
/* Distance between two slots in the compact type; tmp holds dim floats. */
float vh_dist_ids(const vec_hnsw *h, uint32_t a, uint32_t b, float *tmp);
/* Slot id's vector as f32 (the raw copy for f16/i8). Returns a pointer to it. */
const float *vh_vec_f32(const vec_hnsw *h, uint32_t id);
/* Prepare slot id's own vector as a query (tmp: dim floats for f16). */
void vh_query_from_id(const vec_hnsw *h, uint32_t id, float *tmp, vh_query *qq);

/* ---- hnsw_search.c ---- */
/* Scratch for one operation, sized for the current slot count. NULL on ENOMEM. */
vh_scratch *vh_scratch_get(vec_hnsw *h);
void vh_scratch_put(vec_hnsw *h, vh_scratch *s);
void vh_scratch_free_all(vec_hnsw *h);
/* Algorithm 2 (SEARCH-LAYER) from eps[0..neps) on `level` with width ef. Build mode
 * (query_mode 0) returns every node met; query mode only live and allowed ones (the
 * others are still walked through). Results: *out (scratch-owned, unsorted), *nout.
 * STRATA_ENOMEM. */
int vh_search_layer(vec_hnsw *h, vh_scratch *s, const vh_query *q, const vh_pair *eps, size_t neps,
                    size_t ef, uint32_t level, int query_mode, vec_allow_fn allow, void *ctx,
                    vh_pair **out, size_t *nout);
/* Greedy descent (ef = 1) on one upper level from *cur. */
void vh_greedy(vec_hnsw *h, const vh_query *q, uint32_t level, uint32_t *cur, float *curd,
               uint32_t exclude);
int vh_pair_cmp(const void *a, const void *b);
/* Sort the max-heap a[0..n) (as SEARCH-LAYER returns it) ascending, in place. */
void vh_heap_sort(vh_pair *a, size_t n);

/* ---- hnsw.c internals used by checkpoint.c ---- */
/* An empty index shell with p's layout (no blocks). */
int vh_alloc(const vec_params *p, vec_hnsw **out);
/* Insert label -> id into the label map (caller holds map_lock or is single). */
int vh_map_put(vec_hnsw *h, uint64_t label, uint32_t id);
/* Allocate block b's side arrays; nodes/labels/raw NULL to allocate, else borrowed. */
int vh_block_init(vec_hnsw *h, uint32_t b, uint8_t *nodes, uint64_t *labels, float *raw);
/* Free-list push (single-threaded use). */
int vh_free_push(vec_hnsw *h, uint32_t id);
#endif
