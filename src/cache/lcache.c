/* lcache.c — the embedded cache: a partition of independently locked shards, each a
 * chained hash table with incremental rehash, a W-TinyLFU eviction structure, an
 * expiry heap and exact memory accounting.
 *
 * Shards. A key's 64-bit hash (wyhash-style, seeded per process) picks its shard by
 * its top bits and its bucket by its low bits. Every operation locks one shard (MGET
 * and MSET lock all the shards of their keys, in index order), so threads working on
 * different shards never meet. The stats counters live in the shards and are summed
 * on demand; only the partition's byte total is a shared atomic, because maxmemory
 * is one number for the whole partition.
 *
 * Hash table (per shard). Chained buckets, power-of-two sizes, grown at load factor
 * 1 and shrunk below 1/8. Resizing is incremental, as Redis's dict.c does it: two
 * tables live side by side and every operation moves one bucket, so no call pays
 * for a whole rehash. SCAN's cursor is Redis's reverse-binary cursor per shard,
 * which survives resizes between calls.
 *
 * Entries. One malloc per key: a 28-byte header (chain link, two list links, the
 * value's length with the segment in its two spare bits), a tag byte (TTL flag, and
 * the length of a key under 64 bytes; longer keys add 4 bytes of length), the key,
 * the value, and for a key with a TTL its 4-byte slot in the shard's expiry heap
 * (plus 16 bytes in the heap). The hash is not stored: resizes and evictions
 * recompute it from the key. The memory counted is what the allocator really hands
 * out (malloc_usable_size + its 8-byte chunk header), plus bucket arrays, heaps and
 * sketches: used_memory is the cache's true footprint. An 11-byte key with a 64-byte
 * value costs 112 bytes of entry (Redis: ~150 with its dictEntry, robj and sds),
 * ~10 of buckets and ~10 of sketch.
 *
 * Eviction: W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017), laid out as Caffeine does:
 *
 *     new key --> [ window LRU ] --overflow--> candidate --admit?--> [ probation | protected ]
 *                                                  |                    \__ main: segmented LRU __/
 *                                                  +--rejected--> evicted
 *
 * The three segments are LRU lists kept in CLOCK fashion: a hit sets a bit in the
 * entry, and eviction reorders lazily (second chance, promotion on reach), so a
 * read never touches other entries' memory.
 * A 4-bit count-min sketch (one 64-byte block per key hash, halved every 10 x its
 * width additions so old popularity fades) estimates how often each key - present
 * or not - was asked for. When memory must be freed, the oldest window overflow
 * (candidate) is compared with the probation LRU entry (victim) and the less
 * frequent one goes. Sampled LRU (Redis) keeps whatever was touched last; on skewed
 * streams TinyLFU keeps the keys that will be asked for again, which is what lifts
 * the hit ratio above Redis's at equal memory. allkeys-lfu uses a 1% window,
 * allkeys-lru a 20% window (more weight on recency). volatile-ttl evicts from the
 * expiry heap, soonest expiry first; noeviction refuses writes above maxmemory.
 *
 * Memory budget. maxmemory is global to the partition, but a shard can only evict
 * its own keys. A write evicts in its own shard while the partition is over budget
 * and the shard is over its fair share (maxmemory / shards); if the partition is
 * still over, it visits the other shards one at a time (never two locks at once),
 * first those over their share, then any. So one value may be larger than a share.
 *
 * Expiry. Lazy on access (a key past its time is deleted when touched) and active: a
 * background thread (cache.c) calls lp_expire_cycle ten times a second, which pops
 * expired keys off each shard's heap, a bounded number per shard per pass. */
#include "cache/cache_int.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 64
#define HT_MIN 4
#define ALLOC_OVERHEAD 8        /* glibc's chunk header beside malloc_usable_size */
#define SKETCH_MIN_WORDS 64
#define SKETCH_MAX_WORDS (1u << 26)
#define EXPIRE_PER_SHARD 64

enum { SEG_WINDOW = 0, SEG_PROBATION = 1, SEG_PROTECTED = 2 };

typedef struct centry {
    struct centry *hnext;        /* hash chain */
    struct centry *prev, *next;  /* segment list: prev toward the MRU head */
    uint32_t vlen : 30;
    uint32_t seg : 2;
    unsigned char data[];        /* tag, [klen], key, value, [heap slot] */
} centry;

/* data[0], the tag: bit 7 the entry has a TTL (its 1-based expiry-heap slot, 4
 * bytes, follows the value); bit 6 a long key (its length follows as 4 bytes);
 * bit 5 referenced (read or written since eviction last looked at it); bits 0-4
 * the length of a short key (< 32 bytes, nearly every key). */
#define E_HDR offsetof(centry, data) /* 28 */
#define TAG_TTL 0x80u
#define TAG_LONG 0x40u
#define TAG_REF 0x20u
#define SHORT_KEY_MAX 31

_Static_assert(offsetof(centry, data) == 28, "an entry header is 28 bytes");

static inline size_t e_klen(const centry *e) {
    if (!(e->data[0] & TAG_LONG)) return e->data[0] & SHORT_KEY_MAX;
    uint32_t v;
    memcpy(&v, e->data + 1, sizeof v);
    return v;
}
static inline size_t key_prefix(size_t kl) { return kl <= SHORT_KEY_MAX ? 1 : 5; }
static inline unsigned char *e_key(const centry *e) {
    return (unsigned char *)e->data + (e->data[0] & TAG_LONG ? 5 : 1);
}
static inline unsigned char *e_val(const centry *e) { return e_key(e) + e_klen(e); }
static inline int e_ttl(const centry *e) { return (e->data[0] & TAG_TTL) != 0; }
static inline int e_ref(const centry *e) { return (e->data[0] & TAG_REF) != 0; }
static inline void e_clear_ref(centry *e) { e->data[0] = (unsigned char)(e->data[0] & ~TAG_REF); }
static inline void e_set_ttl(centry *e, int on) {
    e->data[0] = (unsigned char)(on ? e->data[0] | TAG_TTL : e->data[0] & ~TAG_TTL);
}
/* Bytes of the allocation in use: header, tag, key, value, slot. */
static inline size_t e_size(const centry *e, size_t vlen) {
    size_t kl = e_klen(e);
    return E_HDR + key_prefix(kl) + kl + vlen + (e_ttl(e) ? sizeof(uint32_t) : 0);
}

/* The heap slot of an entry with a TTL lives after its value (unaligned). */
static inline uint32_t e_slot(const centry *e) {
    uint32_t v = 0;
    if (e_ttl(e)) memcpy(&v, e_val(e) + e->vlen, sizeof v);
    return v;
}
static inline void e_set_slot(centry *e, uint32_t v) { memcpy(e_val(e) + e->vlen, &v, sizeof v); }

typedef struct clist { centry *head, *tail; uint64_t bytes; } clist;
typedef struct heapent { int64_t at; centry *e; } heapent;

typedef struct sketch {
    uint64_t *t;
    uint64_t words, block_mask, adds, sample;
} sketch;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
    centry **tab[2];
    uint64_t tsize[2];
    int64_t rehash;              /* -1: not resizing; else next bucket of tab[0] to move */
    clist seg[3];
    heapent *heap;
    uint32_t nheap, heapcap;
    sketch sk;
    uint64_t bytes, keys;
    uint64_t hits, misses, evictions, expired;
    uint64_t gen;                /* doc partition: invalidations seen */
    uint64_t rng;
} shard;

struct lpart {
    cache *c;
    shard *sh;
    unsigned n, bits;
    int is_doc;
    uint64_t seed;
    _Atomic uint64_t used;
    _Atomic uint64_t maxmem;
    _Atomic uint64_t share, wcap, pcap; /* per-shard caps derived from maxmem */
    _Atomic int policy;
    _Atomic unsigned cursor;
};

/* ---- hashing ---- */
static inline uint64_t mum(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t rd8(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t rd4(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static const uint64_t K0 = 0xa0761d6478bd642full, K1 = 0xe7037ed1a0b428dbull,
                      K2 = 0x8ebc6af09c88c6e3ull, K3 = 0x589965cc75374cc3ull;

/* wyhash's construction (multiply-and-fold), seeded per process so that collisions
 * cannot be precomputed by a network client. */
static uint64_t hash_key(uint64_t seed, const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t a, b;
    seed ^= mum(seed ^ K0, K1);
    if (len <= 16) {
        if (len >= 4) {
            a = (rd4(p) << 32) | rd4(p + ((len >> 3) << 2));
            b = (rd4(p + len - 4) << 32) | rd4(p + len - 4 - ((len >> 3) << 2));
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mum(rd8(p) ^ K1, rd8(p + 8) ^ seed);
                s1 = mum(rd8(p + 16) ^ K2, rd8(p + 24) ^ s1);
                s2 = mum(rd8(p + 32) ^ K3, rd8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mum(rd8(p) ^ K1, rd8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = rd8(p + i - 16);
        b = rd8(p + i - 8);
    }
    a ^= K1;
    b ^= seed;
    __uint128_t r = (__uint128_t)a * b;
    a = (uint64_t)r;
    b = (uint64_t)(r >> 64);
    return mum(a ^ K0 ^ len, b ^ K1);
}

static inline shard *shard_of(lpart *p, uint64_t h) {
    return &p->sh[p->bits ? h >> (64 - p->bits) : 0];
}

/* Entries do not store their hash (4 bytes saved per key): chains and resizes
 * recompute it from the key, which for a short key costs a few nanoseconds. */
static inline uint64_t e_hash(lpart *p, const centry *e) { return hash_key(p->seed, e_key(e), e_klen(e)); }

/* ---- memory ---- */
static inline uint64_t ecost(const centry *e) {
    return malloc_usable_size((void *)e) + ALLOC_OVERHEAD;
}
static inline void acct(lpart *p, shard *s, int64_t d) {
    s->bytes += (uint64_t)d;
    atomic_fetch_add_explicit(&p->used, (uint64_t)d, memory_order_relaxed);
}
static inline uint64_t arr_cost(uint64_t bytes) {
    return bytes ? bytes + ALLOC_OVERHEAD : 0;
}

uint64_t cache_entry_cost(size_t klen, size_t vlen) {
    size_t n = E_HDR + key_prefix(klen) + klen + vlen;
    void *m = malloc(n);
    if (!m) return n + ALLOC_OVERHEAD;
    uint64_t c = malloc_usable_size(m) + ALLOC_OVERHEAD;
    free(m);
    return c;
}

/* ---- lists ---- */
static inline void list_unlink(clist *l, centry *e) {
    if (e->prev) e->prev->next = e->next; else l->head = e->next;
    if (e->next) e->next->prev = e->prev; else l->tail = e->prev;
    e->prev = e->next = NULL;
}
static inline void list_push(clist *l, centry *e) {
    e->prev = NULL;
    e->next = l->head;
    if (l->head) l->head->prev = e; else l->tail = e;
    l->head = e;
}
static inline void list_to_head(clist *l, centry *e) {
    if (l->head == e) return;
    list_unlink(l, e);
    list_push(l, e);
}

/* ---- the frequency sketch (4-bit count-min, Caffeine's block layout) ---- */
static uint64_t ceil_pow2(uint64_t x) {
    uint64_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

/* The sketch follows the shard's key count: one 64-bit word (16 counters) per key,
 * rounded up to a power of two, as Caffeine sizes it to the cache's capacity. It
 * grows when the keys outnumber its words and shrinks below a quarter (a flush, a
 * lowered maxmemory), so it never holds memory the keys no longer need. A resize
 * starts from zero counts. */
static void sketch_resize(lpart *p, shard *s, uint64_t want) {
    uint64_t words = ceil_pow2(want < SKETCH_MIN_WORDS ? SKETCH_MIN_WORDS : want);
    if (words > SKETCH_MAX_WORDS) words = SKETCH_MAX_WORDS;
    if (words == s->sk.words) return;
    uint64_t *t = calloc(words, sizeof *t);
    if (!t) return; /* keep the old one: a smaller sketch is still a sketch */
    acct(p, s, (int64_t)arr_cost(words * 8) - (int64_t)arr_cost(s->sk.words * 8));
    free(s->sk.t);
    s->sk.t = t;
    s->sk.words = words;
    s->sk.block_mask = (words >> 3) - 1;
    s->sk.adds = 0;
    s->sk.sample = 10 * words;
}

static inline uint64_t spread32(uint32_t h) {
    uint64_t x = (uint64_t)h * 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 31);
}

static inline void sketch_prefetch(const sketch *k, uint32_t h) {
    if (k->t) __builtin_prefetch(&k->t[(spread32(h) & k->block_mask) << 3], 1);
}

static unsigned sketch_freq(const sketch *k, uint32_t h) {
    if (!k->t) return 0;
    uint64_t bh = spread32(h), ch = mum(bh, K2);
    uint64_t block = (bh & k->block_mask) << 3;
    unsigned f = 15;
    for (unsigned i = 0; i < 4; i++) {
        uint32_t hh = (uint32_t)(ch >> (i << 3));
        unsigned idx = (hh >> 1) & 15, off = hh & 1;
        unsigned c = (unsigned)(k->t[block + off + (i << 1)] >> (idx << 2)) & 15;
        if (c < f) f = c;
    }
    return f;
}

static void sketch_incr(sketch *k, uint32_t h) {
    if (!k->t) return;
    uint64_t bh = spread32(h), ch = mum(bh, K2);
    uint64_t block = (bh & k->block_mask) << 3;
    uint64_t slot[4];
    unsigned sh[4], min = 15;
    for (unsigned i = 0; i < 4; i++) {
        uint32_t hh = (uint32_t)(ch >> (i << 3));
        unsigned idx = (hh >> 1) & 15, off = hh & 1;
        slot[i] = block + off + (i << 1);
        sh[i] = idx << 2;
        unsigned c = (unsigned)(k->t[slot[i]] >> sh[i]) & 15;
        if (c < min) min = c;
    }
    if (min == 15) return;
    /* Conservative update: only the counters at the minimum grow. */
    for (unsigned i = 0; i < 4; i++)
        if (((k->t[slot[i]] >> sh[i]) & 15) == min) k->t[slot[i]] += 1ull << sh[i];
    if (++k->adds >= k->sample) {
        uint64_t odd = 0;
        for (uint64_t w = 0; w < k->words; w++) {
            odd += (uint64_t)__builtin_popcountll(k->t[w] & 0x1111111111111111ull);
            k->t[w] = (k->t[w] >> 1) & 0x7777777777777777ull;
        }
        k->adds = (k->adds - (odd >> 2)) >> 1;
    }
}

static inline uint64_t rng_next(shard *s) {
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return s->rng = x;
}

/* ---- expiry heap (min-heap on time; entries know their slot) ---- */
static inline void heap_place(shard *s, uint32_t i, heapent h) {
    s->heap[i] = h;
    e_set_slot(h.e, i + 1);
}
static void heap_up(shard *s, uint32_t i) {
    heapent h = s->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (s->heap[parent].at <= h.at) break;
        heap_place(s, i, s->heap[parent]);
        i = parent;
    }
    heap_place(s, i, h);
}
static void heap_down(shard *s, uint32_t i) {
    heapent h = s->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t best = h.at;
        if (l < s->nheap && s->heap[l].at < best) { m = l; best = s->heap[l].at; }
        if (r < s->nheap && s->heap[r].at < best) m = r;
        if (m == i) break;
        heap_place(s, i, s->heap[m]);
        i = m;
    }
    heap_place(s, i, h);
}
static centry *entry_realloc(lpart *p, shard *s, centry *e, size_t size, uint32_t slot);

/* Give e a TTL at `at` (or move it). An entry without one grows by its 4-byte slot
 * first, which may move it: the entry to use afterwards is returned (NULL: out of
 * memory, e unchanged). */
static centry *heap_set(lpart *p, shard *s, centry *e, int64_t at) {
    uint32_t slot = e_slot(e);
    if (slot) {
        uint32_t i = slot - 1;
        int64_t old = s->heap[i].at;
        s->heap[i].at = at;
        if (at < old) heap_up(s, i); else heap_down(s, i);
        return e;
    }
    if (s->nheap == s->heapcap) {
        uint32_t cap = s->heapcap ? s->heapcap * 2 : 16;
        if (cap <= s->heapcap) return NULL;
        heapent *n = realloc(s->heap, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        acct(p, s, (int64_t)arr_cost((uint64_t)cap * sizeof *n) - (int64_t)arr_cost((uint64_t)s->heapcap * sizeof *n));
        s->heap = n;
        s->heapcap = cap;
    }
    size_t need = e_size(e, e->vlen) + sizeof(uint32_t);
    if (need > malloc_usable_size(e)) {
        centry *n = entry_realloc(p, s, e, need, 0);
        if (!n) return NULL;
        e = n;
    }
    e_set_ttl(e, 1);
    uint32_t i = s->nheap++;
    s->heap[i] = (heapent){ at, e };
    e_set_slot(e, i + 1);
    heap_up(s, i);
    cache_ttl_seen(p->c);
    return e;
}
/* Remove e's TTL; its slot bytes stay allocated as slack. */
static void heap_del(shard *s, centry *e) {
    uint32_t slot = e_slot(e);
    if (!slot) return;
    uint32_t i = slot - 1;
    e_set_ttl(e, 0);
    s->nheap--;
    if (i == s->nheap) return;
    heapent last = s->heap[s->nheap];
    int64_t old = s->heap[i].at;
    s->heap[i] = last;
    e_set_slot(last.e, i + 1);
    if (last.at < old) heap_up(s, i); else heap_down(s, i);
}
static inline int64_t entry_at(const shard *s, const centry *e) {
    uint32_t slot = e_slot(e);
    return slot ? s->heap[slot - 1].at : -1;
}

/* ---- hash table ---- */
static void rehash_step(lpart *p, shard *s, unsigned n) {
    unsigned empty = n * 10;
    while (n && s->rehash >= 0) {
        if ((uint64_t)s->rehash >= s->tsize[0]) {
            free(s->tab[0]);
            acct(p, s, -(int64_t)arr_cost(s->tsize[0] * sizeof(centry *)));
            s->tab[0] = s->tab[1];
            s->tsize[0] = s->tsize[1];
            s->tab[1] = NULL;
            s->tsize[1] = 0;
            s->rehash = -1;
            return;
        }
        centry *e = s->tab[0][s->rehash];
        if (!e) {
            s->rehash++;
            if (--empty == 0) return;
            continue;
        }
        while (e) {
            centry *next = e->hnext;
            uint64_t idx = e_hash(p, e) & (s->tsize[1] - 1);
            e->hnext = s->tab[1][idx];
            s->tab[1][idx] = e;
            e = next;
        }
        s->tab[0][s->rehash++] = NULL;
        n--;
    }
}

static void resize_start(lpart *p, shard *s, uint64_t size) {
    if (s->rehash >= 0 || size == s->tsize[0] || size < HT_MIN || size > (1ull << 32)) return;
    centry **t = calloc(size, sizeof *t);
    if (!t) return; /* longer chains, still correct */
    acct(p, s, (int64_t)arr_cost(size * sizeof *t));
    s->tab[1] = t;
    s->tsize[1] = size;
    s->rehash = 0;
}

static inline void resize_check(lpart *p, shard *s) {
    if (s->sk.words > SKETCH_MIN_WORDS && s->keys * 4 < s->sk.words) sketch_resize(p, s, s->keys * 2);
    if (s->rehash >= 0) return;
    if (s->keys >= s->tsize[0]) resize_start(p, s, s->tsize[0] * 2);
    else if (s->tsize[0] > HT_MIN && s->keys < s->tsize[0] / 8) resize_start(p, s, ceil_pow2(s->keys * 2 + 1));
}

static centry *ht_find(lpart *p, shard *s, uint32_t h, const void *k, size_t kl) {
    if (s->rehash >= 0) rehash_step(p, s, 1);
    for (int t = 0; t < 2; t++) {
        if (!s->tab[t]) break;
        for (centry *e = s->tab[t][h & (s->tsize[t] - 1)]; e; e = e->hnext)
            if (e_klen(e) == kl && memcmp(e_key(e), k, kl) == 0) return e;
    }
    return NULL;
}

/* The link (bucket slot or a predecessor's hnext) that points at e. */
static centry **ht_link(lpart *p, shard *s, centry *e) {
    uint64_t h = e_hash(p, e);
    for (int t = 0; t < 2; t++) {
        if (!s->tab[t]) break;
        for (centry **l = &s->tab[t][h & (s->tsize[t] - 1)]; *l; l = &(*l)->hnext)
            if (*l == e) return l;
    }
    return NULL;
}

static void ht_add(shard *s, centry *e, uint64_t h) {
    int t = s->rehash >= 0 ? 1 : 0;
    uint64_t idx = h & (s->tsize[t] - 1);
    e->hnext = s->tab[t][idx];
    s->tab[t][idx] = e;
}

/* ---- entries ---- */
enum { GONE_DELETED, GONE_EVICTED, GONE_EXPIRED };

static void entry_remove(lpart *p, shard *s, centry *e, int why) {
    centry **l = ht_link(p, s, e);
    if (l) *l = e->hnext;
    uint64_t c = ecost(e);
    list_unlink(&s->seg[e->seg], e);
    s->seg[e->seg].bytes -= c;
    heap_del(s, e);
    s->keys--;
    if (why == GONE_EVICTED) s->evictions++;
    else if (why == GONE_EXPIRED) s->expired++;
    acct(p, s, -(int64_t)c);
    free(e);
}

/* A new entry with key k and room for a value of vl bytes (value not copied). */
static centry *entry_new(const void *k, size_t kl, size_t vl) {
    centry *e = malloc(E_HDR + key_prefix(kl) + kl + vl);
    if (!e) return NULL;
    e->hnext = e->prev = e->next = NULL;
    if (kl <= SHORT_KEY_MAX) {
        e->data[0] = (unsigned char)kl;
    } else {
        uint32_t l = (uint32_t)kl;
        e->data[0] = TAG_LONG;
        memcpy(e->data + 1, &l, sizeof l);
    }
    e->vlen = (uint32_t)vl;
    e->seg = SEG_WINDOW;
    memcpy(e_key(e), k, kl);
    return e;
}

static void entry_insert(lpart *p, shard *s, centry *e, uint64_t h) {
    uint64_t c = ecost(e);
    ht_add(s, e, h);
    e->seg = SEG_WINDOW;
    list_push(&s->seg[SEG_WINDOW], e);
    s->seg[SEG_WINDOW].bytes += c;
    s->keys++;
    acct(p, s, (int64_t)c);
    if (s->keys > s->sk.words && s->sk.words < SKETCH_MAX_WORDS) sketch_resize(p, s, s->keys);
}

/* realloc e to `size` bytes and fix every pointer to it (chain, list, heap slot
 * `slot` if it has one) and the books. NULL on failure (e intact). */
static centry *entry_realloc(lpart *p, shard *s, centry *e, size_t size, uint32_t slot) {
    centry **l = ht_link(p, s, e);
    uint64_t before = ecost(e);
    centry *n = realloc(e, size);
    if (!n) return NULL;
    if (n != e) {
        if (l) *l = n;
        clist *list = &s->seg[n->seg];
        if (n->prev) n->prev->next = n; else list->head = n;
        if (n->next) n->next->prev = n; else list->tail = n;
        if (slot) s->heap[slot - 1].e = n;
    }
    uint64_t after = ecost(n);
    s->seg[n->seg].bytes += after - before;
    acct(p, s, (int64_t)after - (int64_t)before);
    return n;
}

/* Resize e's value to vl bytes (value bytes kept up to min(old, new); the heap slot
 * moves along). Greedy (APPEND) over-allocates so that appends stay linear. NULL on
 * malloc failure (e intact). */
static centry *entry_resize(lpart *p, shard *s, centry *e, size_t vl, int greedy) {
    uint32_t slot = e_slot(e);
    size_t need = e_size(e, vl);
    size_t usable = malloc_usable_size(e);
    if (!(need <= usable && (greedy || usable - need < 64 + need / 4))) {
        size_t alloc = need;
        if (greedy) alloc = need < (1u << 20) ? need * 2 : need + (1u << 20); /* amortized APPEND */
        centry *n = entry_realloc(p, s, e, alloc, slot);
        if (!n && alloc != need) n = entry_realloc(p, s, e, need, slot);
        if (!n) return NULL;
        e = n;
    }
    e->vlen = (uint32_t)vl;
    if (e_ttl(e)) e_set_slot(e, slot);
    return e;
}

/* ---- policy ---- */
static inline int over_budget(lpart *p) {
    uint64_t max = atomic_load_explicit(&p->maxmem, memory_order_relaxed);
    return max && atomic_load_explicit(&p->used, memory_order_relaxed) > max;
}
static inline int shard_needs(lpart *p, shard *s, int any_shard) {
    return over_budget(p) && (any_shard || s->bytes > atomic_load_explicit(&p->share, memory_order_relaxed));
}

/* Move e from its segment to the MRU end of segment g. */
static void seg_move(shard *s, centry *e, unsigned g) {
    uint64_t c = ecost(e);
    list_unlink(&s->seg[e->seg], e);
    s->seg[e->seg].bytes -= c;
    e->seg = g;
    list_push(&s->seg[g], e);
    s->seg[g].bytes += c;
}

/* A read or write of e only marks it referenced: the segments are CLOCK-ordered
 * approximations of LRU, reordered when eviction reaches an entry (a referenced
 * window or protected tail gets a second chance at its MRU end; a referenced
 * probation entry is promoted). A hit thus writes one byte of the entry it just
 * read instead of relinking three list nodes scattered in memory, which is what
 * keeps GET fast once the keys no longer fit in the CPU caches. */
static inline void on_access(lpart *p, shard *s, centry *e) {
    (void)p;
    (void)s;
    e->data[0] = (unsigned char)(e->data[0] | TAG_REF);
}

#define SECOND_CHANCES 64 /* per call: bounded work even if every tail is referenced */

/* A probation entry read since it got there joins protected (Caffeine promotes at
 * the read; here eviction does it when it reaches the entry). Protected's overflow
 * goes back to probation's MRU end. */
static void promote(lpart *p, shard *s, centry *e) {
    uint64_t pcap = atomic_load_explicit(&p->pcap, memory_order_relaxed);
    e_clear_ref(e);
    seg_move(s, e, SEG_PROTECTED);
    unsigned chances = 0;
    while (s->seg[SEG_PROTECTED].bytes > pcap && s->seg[SEG_PROTECTED].tail != e) {
        centry *d = s->seg[SEG_PROTECTED].tail;
        if (e_ref(d) && chances++ < SECOND_CHANCES) {
            e_clear_ref(d);
            list_to_head(&s->seg[SEG_PROTECTED], d);
            continue;
        }
        e_clear_ref(d);
        seg_move(s, d, SEG_PROBATION);
    }
}

/* Move the window's overflow to the MRU end of probation; returns the oldest moved
 * entry (the first candidate), or NULL. */
static centry *window_overflow(lpart *p, shard *s) {
    uint64_t wcap = atomic_load_explicit(&p->wcap, memory_order_relaxed);
    centry *first = NULL;
    unsigned chances = 0;
    while (s->seg[SEG_WINDOW].bytes > wcap && s->seg[SEG_WINDOW].tail) {
        centry *e = s->seg[SEG_WINDOW].tail;
        if (e_ref(e) && chances++ < SECOND_CHANCES) {
            e_clear_ref(e);
            list_to_head(&s->seg[SEG_WINDOW], e);
            continue;
        }
        e_clear_ref(e);
        seg_move(s, e, SEG_PROBATION);
        if (!first) first = e;
    }
    return first;
}

/* TinyLFU admission: the candidate enters if the sketch says it is asked for more
 * often than the victim. A small random chance for warm candidates defeats an
 * attacker who keeps a victim's count high (Caffeine's hash-flooding guard). */
static int admit(lpart *p, shard *s, centry *cand, centry *victim) {
    unsigned cf = sketch_freq(&s->sk, (uint32_t)e_hash(p, cand)), vf = sketch_freq(&s->sk, (uint32_t)e_hash(p, victim));
    if (cf > vf) return 1;
    if (cf >= 6) return (rng_next(s) & 127) == 0;
    return 0;
}

static void evict_tinylfu(lpart *p, shard *s, centry *cand, int any_shard) {
    centry *victim = s->seg[SEG_PROBATION].tail;
    while (shard_needs(p, s, any_shard)) {
        centry *gone;
        if (victim && victim != cand && e_ref(victim)) { /* read on probation: promoted, not evicted */
            centry *next = victim->prev;
            promote(p, s, victim);
            victim = next;
            continue;
        }
        if (!victim && !cand) {
            gone = s->seg[SEG_PROBATION].tail ? s->seg[SEG_PROBATION].tail
                 : s->seg[SEG_PROTECTED].tail ? s->seg[SEG_PROTECTED].tail : s->seg[SEG_WINDOW].tail;
            if (!gone) return;
        } else if (!cand) {
            gone = victim;
            victim = victim->prev;
        } else if (!victim || victim == cand) {
            gone = cand;
            cand = cand->prev;
            if (victim == gone) victim = cand;
        } else if (admit(p, s, cand, victim)) {
            gone = victim;
            victim = victim->prev;
        } else {
            gone = cand;
            cand = cand->prev;
        }
        entry_remove(p, s, gone, GONE_EVICTED);
    }
}

static void evict_volatile(lpart *p, shard *s, int any_shard) {
    while (s->nheap && shard_needs(p, s, any_shard)) entry_remove(p, s, s->heap[0].e, GONE_EVICTED);
}

/* After a write in s (locked): window overflow, local eviction, table resize. */
static void maintain(lpart *p, shard *s) {
    centry *cand = window_overflow(p, s);
    switch (atomic_load_explicit(&p->policy, memory_order_relaxed)) {
    case STRATA_CACHE_ALLKEYS_LRU:
    case STRATA_CACHE_ALLKEYS_LFU: evict_tinylfu(p, s, cand, 0); break;
    case STRATA_CACHE_VOLATILE_TTL: evict_volatile(p, s, 0); break;
    default: break;
    }
    resize_check(p, s);
}

/* Bring the partition under maxmemory by evicting in every shard, one lock at a
 * time: first from shards above their share, then from any. */
static void evict_global(lpart *p) {
    int pol = atomic_load_explicit(&p->policy, memory_order_relaxed);
    if (pol == STRATA_CACHE_NOEVICTION) return;
    unsigned start = atomic_fetch_add_explicit(&p->cursor, 1, memory_order_relaxed);
    for (int pass = 0; pass < 2 && over_budget(p); pass++)
        for (unsigned i = 0; i < p->n && over_budget(p); i++) {
            shard *s = &p->sh[(start + i) & (p->n - 1)];
            pthread_mutex_lock(&s->mu);
            if (pol == STRATA_CACHE_VOLATILE_TTL) evict_volatile(p, s, pass);
            else evict_tinylfu(p, s, NULL, pass);
            resize_check(p, s);
            pthread_mutex_unlock(&s->mu);
        }
}

/* Before a write that may need memory: Redis refuses it when the partition is above
 * maxmemory and nothing can be evicted. */
static int write_admitted(lpart *p, cache_err *err) {
    if (!over_budget(p)) return STRATA_OK;
    int pol = atomic_load_explicit(&p->policy, memory_order_relaxed);
    if (pol != STRATA_CACHE_NOEVICTION) evict_global(p);
    if (pol == STRATA_CACHE_NOEVICTION || pol == STRATA_CACHE_VOLATILE_TTL) {
        if (over_budget(p)) {
            CACHE_ERR(err, CACHE_OOM_MSG);
            return STRATA_ENOMEM;
        }
    }
    return STRATA_OK;
}

static inline void write_done(lpart *p, shard *s) {
    maintain(p, s);
    pthread_mutex_unlock(&s->mu);
    if (over_budget(p)) evict_global(p);
}

/* ---- lookups ---- */
#define NOW_UNSET INT64_MIN

static inline int64_t now_of(lpart *p, int64_t *now) {
    if (*now == NOW_UNSET) *now = cache_now(p->c);
    return *now;
}

/* The live entry for k, deleting it first if its time passed (Redis: expired when
 * now > expire time). */
static centry *lookup(lpart *p, shard *s, uint32_t h, const void *k, size_t kl, int64_t *now) {
    centry *e = ht_find(p, s, h, k, kl);
    if (e && e_ttl(e) && entry_at(s, e) < now_of(p, now)) {
        entry_remove(p, s, e, GONE_EXPIRED);
        return NULL;
    }
    return e;
}

typedef struct keyref { uint64_t h64; uint32_t h; shard *s; } keyref;
static inline keyref keyref_of(lpart *p, const void *k, size_t kl) {
    keyref r;
    r.h64 = hash_key(p->seed, k, kl);
    r.h = (uint32_t)r.h64;
    r.s = shard_of(p, r.h64);
    return r;
}

/* Resolve a TTL request into an absolute time; 0 for "no TTL", -1 for "keep". */
static int resolve_at(lpart *p, int mode, int64_t ttl, int64_t *now, int64_t *at, const char *cmd,
                      cache_err *err) {
    switch (mode) {
    case STRATA_CACHE_TTL_NONE: *at = 0; return STRATA_OK;
    case STRATA_CACHE_TTL_KEEP: *at = -1; return STRATA_OK;
    case STRATA_CACHE_TTL_REL:
        if (ttl <= 0 || ttl > INT64_MAX - now_of(p, now)) break;
        *at = *now + ttl;
        return STRATA_OK;
    case STRATA_CACHE_TTL_AT:
        if (ttl <= 0) break;
        *at = ttl;
        return STRATA_OK;
    default:
        CACHE_ERR(err, "unknown TTL mode %d", mode);
        return STRATA_EINVAL;
    }
    CACHE_ERR(err, "invalid expire time in '%s' command", cmd);
    return STRATA_EINVAL;
}

/* ---- the operations ---- */
int lp_set(lpart *p, const void *k, size_t kl, const void *v, size_t vl, const strata_cache_set_opts *o,
           cache_err *err) {
    static const strata_cache_set_opts none;
    if (!o) o = &none;
    int64_t now = NOW_UNSET, at;
    int rc = resolve_at(p, o->ttl_mode, o->ttl, &now, &at, "set", err);
    if (rc) return rc;
    if ((rc = write_admitted(p, err)) != STRATA_OK) return rc;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    sketch_incr(&s->sk, r.h);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    if (o->old_value && e && (rc = o->old_value(o->old_value_ctx, e_val(e), e->vlen)) != 0) {
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    if ((o->cond == STRATA_CACHE_NX && e) || (o->cond == STRATA_CACHE_XX && !e)) {
        pthread_mutex_unlock(&s->mu);
        return e ? STRATA_EEXIST : STRATA_ENOTFOUND;
    }
    if (e) {
        centry *n = entry_resize(p, s, e, vl, 0);
        if (!n) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        e = n;
        memcpy(e_val(e), v, vl);
        on_access(p, s, e);
    } else {
        if (!(e = entry_new(k, kl, vl))) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        memcpy(e_val(e), v, vl);
        entry_insert(p, s, e, r.h64);
    }
    if (at == 0) heap_del(s, e);
    else if (at > 0 && !heap_set(p, s, e, at)) {
        entry_remove(p, s, e, GONE_DELETED); /* a key without its TTL would outlive it */
        pthread_mutex_unlock(&s->mu);
        CACHE_ERR(err, "out of memory");
        return STRATA_ENOMEM;
    }
    write_done(p, s);
    return STRATA_OK;
}

int lp_get(lpart *p, const void *k, size_t kl, strata_write_fn fn, void *ctx, int stats) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    sketch_prefetch(&s->sk, r.h); /* its miss overlaps the bucket's and the entry's */
    centry *e = lookup(p, s, r.h, k, kl, &now);
    sketch_incr(&s->sk, r.h);
    int rc = STRATA_ENOTFOUND;
    if (e) {
        if (stats) s->hits++;
        on_access(p, s, e);
        rc = fn ? fn(ctx, e_val(e), e->vlen) : STRATA_OK;
    } else if (stats) {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int lp_getex(lpart *p, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del, strata_write_fn fn,
             void *ctx, cache_err *err) {
    int64_t now = NOW_UNSET, at;
    int rc = resolve_at(p, ttl_mode, ttl, &now, &at, "getex", err);
    if (rc) return rc;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    sketch_incr(&s->sk, r.h);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    if (!e) {
        s->misses++;
        pthread_mutex_unlock(&s->mu);
        return STRATA_ENOTFOUND;
    }
    s->hits++;
    on_access(p, s, e);
    rc = fn ? fn(ctx, e_val(e), e->vlen) : STRATA_OK;
    if (rc == STRATA_OK) {
        /* GETEX with EXAT/PXAT in the past deletes the key, as Redis does. */
        if (del || (at > 0 && at <= now_of(p, &now))) entry_remove(p, s, e, GONE_DELETED);
        else if (at == 0) heap_del(s, e);
        else if (at > 0 && !heap_set(p, s, e, at)) {
            CACHE_ERR(err, "out of memory");
            rc = STRATA_ENOMEM;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int lp_del(lpart *p, const void *k, size_t kl) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    if (e) {
        entry_remove(p, s, e, GONE_DELETED);
        resize_check(p, s);
    }
    pthread_mutex_unlock(&s->mu);
    return e ? STRATA_OK : STRATA_ENOTFOUND;
}

int lp_exists(lpart *p, const void *k, size_t kl) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    int found = lookup(p, s, r.h, k, kl, &now) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

int lp_expire(lpart *p, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags, int *applied,
              cache_err *err) {
    int64_t now = NOW_UNSET, at;
    if (applied) *applied = 0;
    if (ttl_mode == STRATA_CACHE_TTL_REL) {
        if (t > INT64_MAX - now_of(p, &now)) {
            CACHE_ERR(err, "invalid expire time in 'expire' command");
            return STRATA_EINVAL;
        }
        at = now_of(p, &now) + t;
    } else if (ttl_mode == STRATA_CACHE_TTL_AT) {
        at = t;
    } else {
        CACHE_ERR(err, "TTL mode must be STRATA_CACHE_TTL_REL or STRATA_CACHE_TTL_AT");
        return STRATA_EINVAL;
    }
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return STRATA_ENOTFOUND;
    }
    int64_t cur = entry_at(s, e);
    int ok = !((flags & STRATA_CACHE_EXPIRE_NX) && cur != -1) && !((flags & STRATA_CACHE_EXPIRE_XX) && cur == -1) &&
             !((flags & STRATA_CACHE_EXPIRE_GT) && (cur == -1 || at <= cur)) &&
             !((flags & STRATA_CACHE_EXPIRE_LT) && cur != -1 && at >= cur);
    int rc = STRATA_OK;
    if (ok) {
        if (at <= now_of(p, &now)) {
            entry_remove(p, s, e, GONE_DELETED);
            resize_check(p, s);
        } else if (!heap_set(p, s, e, at)) {
            CACHE_ERR(err, "out of memory");
            rc = STRATA_ENOMEM;
            ok = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (applied) *applied = ok;
    return rc;
}

int lp_persist(lpart *p, const void *k, size_t kl, int *applied) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    int had = e && e_ttl(e);
    if (had) heap_del(s, e);
    pthread_mutex_unlock(&s->mu);
    if (applied) *applied = had;
    return e ? STRATA_OK : STRATA_ENOTFOUND;
}

int lp_ttl(lpart *p, const void *k, size_t kl, int64_t *ttl_ms, int64_t *at_ms) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    int64_t at = e ? entry_at(s, e) : -1;
    pthread_mutex_unlock(&s->mu);
    if (!e) return STRATA_ENOTFOUND;
    if (at_ms) *at_ms = at;
    if (ttl_ms) {
        if (at < 0) *ttl_ms = -1;
        else {
            int64_t left = at - now_of(p, &now);
            *ttl_ms = left < 0 ? 0 : left;
        }
    }
    return STRATA_OK;
}

int cache_parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len >= 21) return 0;
    if (len == 1 && s[0] == '0') { *out = 0; return 1; }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') { neg = 1; i = 1; if (len == 1) return 0; }
    if (s[i] < '1' || s[i] > '9') return 0;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

int lp_incrby(lpart *p, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err) {
    int rc = write_admitted(p, err);
    if (rc) return rc;
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    sketch_incr(&s->sk, r.h);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    long long old = 0;
    if (e && !cache_parse_ll((const char *)e_val(e), e->vlen, &old)) {
        pthread_mutex_unlock(&s->mu);
        CACHE_ERR(err, CACHE_NOT_INT_MSG);
        return STRATA_EINVAL;
    }
    if ((delta < 0 && old < 0 && delta < LLONG_MIN - old) || (delta > 0 && old > 0 && delta > LLONG_MAX - old)) {
        pthread_mutex_unlock(&s->mu);
        CACHE_ERR(err, CACHE_OVERFLOW_MSG);
        return STRATA_EINVAL;
    }
    long long nv = old + delta;
    char buf[24];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%lld", nv);
    if (e) {
        centry *ne = entry_resize(p, s, e, n, 0);
        if (!ne) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        e = ne;
        memcpy(e_val(e), buf, n);
        on_access(p, s, e);
    } else {
        if (!(e = entry_new(k, kl, n))) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        memcpy(e_val(e), buf, n);
        entry_insert(p, s, e, r.h64);
    }
    if (result) *result = nv;
    write_done(p, s);
    return STRATA_OK;
}

int lp_append(lpart *p, const void *k, size_t kl, const void *v, size_t vl, size_t *len, cache_err *err) {
    int rc = write_admitted(p, err);
    if (rc) return rc;
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    sketch_incr(&s->sk, r.h);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    size_t old = e ? e->vlen : 0;
    if (vl > STRATA_CACHE_VALUE_MAX - old) {
        pthread_mutex_unlock(&s->mu);
        CACHE_ERR(err, CACHE_TOO_LONG_MSG);
        return STRATA_ETOOBIG;
    }
    if (e) {
        centry *ne = vl ? entry_resize(p, s, e, old + vl, 1) : e;
        if (!ne) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        e = ne;
        memcpy(e_val(e) + old, v, vl);
        on_access(p, s, e);
    } else {
        if (!(e = entry_new(k, kl, vl))) {
            pthread_mutex_unlock(&s->mu);
            CACHE_ERR(err, "out of memory");
            return STRATA_ENOMEM;
        }
        memcpy(e_val(e), v, vl);
        entry_insert(p, s, e, r.h64);
    }
    if (len) *len = old + vl;
    write_done(p, s);
    return STRATA_OK;
}

int lp_strlen(lpart *p, const void *k, size_t kl, size_t *len) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    centry *e = lookup(p, s, r.h, k, kl, &now);
    *len = e ? e->vlen : 0;
    if (e) s->hits++; else s->misses++;
    pthread_mutex_unlock(&s->mu);
    return e ? STRATA_OK : STRATA_ENOTFOUND;
}

/* ---- many keys: every shard involved is locked, in index order ---- */
static void lock_mask(lpart *p, uint64_t mask) {
    for (unsigned i = 0; i < p->n; i++)
        if (mask >> i & 1) pthread_mutex_lock(&p->sh[i].mu);
}
static void unlock_mask(lpart *p, uint64_t mask) {
    for (unsigned i = 0; i < p->n; i++)
        if (mask >> i & 1) pthread_mutex_unlock(&p->sh[i].mu);
}

int lp_mget(lpart *p, size_t n, const void *const *ks, const size_t *kls, strata_cache_mget_fn fn, void *ctx) {
    keyref small[16], *refs = n <= 16 ? small : malloc(n * sizeof *refs);
    if (!refs) return STRATA_ENOMEM;
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        refs[i] = keyref_of(p, ks[i], kls[i]);
        mask |= 1ull << (refs[i].s - p->sh);
    }
    int64_t now = NOW_UNSET;
    int rc = STRATA_OK;
    lock_mask(p, mask);
    for (size_t i = 0; i < n && rc == STRATA_OK; i++) {
        shard *s = refs[i].s;
        sketch_incr(&s->sk, refs[i].h);
        centry *e = lookup(p, s, refs[i].h, ks[i], kls[i], &now);
        if (e) {
            s->hits++;
            on_access(p, s, e);
            rc = fn ? fn(ctx, i, e_val(e), e->vlen) : STRATA_OK;
        } else {
            s->misses++;
            rc = fn ? fn(ctx, i, NULL, 0) : STRATA_OK;
        }
    }
    unlock_mask(p, mask);
    if (refs != small) free(refs);
    return rc;
}

int lp_mset(lpart *p, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
            const size_t *vls, int cond, cache_err *err) {
    int rc = write_admitted(p, err);
    if (rc) return rc;
    keyref small[16], *refs = n <= 16 ? small : malloc(n * sizeof *refs);
    centry *esmall[16], **fresh = n <= 16 ? esmall : malloc(n * sizeof *fresh);
    if (!refs || !fresh) {
        if (refs != small) free(refs);
        if (fresh != esmall) free(fresh);
        CACHE_ERR(err, "out of memory");
        return STRATA_ENOMEM;
    }
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        refs[i] = keyref_of(p, ks[i], kls[i]);
        mask |= 1ull << (refs[i].s - p->sh);
    }
    int64_t now = NOW_UNSET;
    /* Allocate every new entry first, so that the write is all or nothing. */
    for (size_t i = 0; i < n; i++) {
        if (!(fresh[i] = entry_new(ks[i], kls[i], vls[i]))) {
            for (size_t j = 0; j < i; j++) free(fresh[j]);
            rc = STRATA_ENOMEM;
            CACHE_ERR(err, "out of memory");
            goto done;
        }
        memcpy(e_val(fresh[i]), vs[i], vls[i]);
    }
    lock_mask(p, mask);
    if (cond == STRATA_CACHE_NX)
        for (size_t i = 0; i < n; i++)
            if (lookup(p, refs[i].s, refs[i].h, ks[i], kls[i], &now)) { rc = STRATA_EEXIST; break; }
    for (size_t i = 0; i < n; i++) {
        if (rc) { free(fresh[i]); continue; }
        shard *s = refs[i].s;
        sketch_incr(&s->sk, refs[i].h);
        centry *old = lookup(p, s, refs[i].h, ks[i], kls[i], &now);
        if (old) entry_remove(p, s, old, GONE_DELETED);
        entry_insert(p, s, fresh[i], refs[i].h64);
    }
    if (!rc)
        for (unsigned i = 0; i < p->n; i++)
            if (mask >> i & 1) maintain(p, &p->sh[i]);
    unlock_mask(p, mask);
    if (!rc && over_budget(p)) evict_global(p);
done:
    if (refs != small) free(refs);
    if (fresh != esmall) free(fresh);
    return rc;
}

/* ---- SCAN ---- */
static uint64_t rev64(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

typedef struct keybuf {
    unsigned char *data;
    size_t len, cap, n;
    int oom;
    const char *match;
    size_t mlen;
    int64_t now;
} keybuf;

static void keybuf_add(keybuf *b, const shard *s, const centry *e) {
    if (e_ttl(e) && entry_at(s, e) < b->now) return; /* expired: not returned */
    size_t kl = e_klen(e);
    if (b->match && !cache_glob_match(b->match, b->mlen, (const char *)e_key(e), kl, 0)) return;
    size_t need = sizeof(size_t) + kl;
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + need) cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) { b->oom = 1; return; }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, &kl, sizeof kl);
    memcpy(b->data + b->len + sizeof kl, e_key(e), kl);
    b->len += need;
    b->n++;
}

static void scan_bucket(keybuf *b, const shard *s, centry **tab, uint64_t idx) {
    for (const centry *e = tab[idx]; e; e = e->hnext) keybuf_add(b, s, e);
}

/* One step of Redis's dictScan over a shard's one or two tables. */
static uint64_t scan_shard(keybuf *b, const shard *s, uint64_t v) {
    if (s->rehash < 0) {
        uint64_t m0 = s->tsize[0] - 1;
        scan_bucket(b, s, s->tab[0], v & m0);
        v |= ~m0;
        v = rev64(v);
        v++;
        v = rev64(v);
        return v;
    }
    int small = s->tsize[0] <= s->tsize[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = s->tsize[small] - 1, m1 = s->tsize[large] - 1;
    scan_bucket(b, s, s->tab[small], v & m0);
    do {
        scan_bucket(b, s, s->tab[large], v & m1);
        v |= ~m1;
        v = rev64(v);
        v++;
        v = rev64(v);
    } while (v & (m0 ^ m1));
    return v;
}

int lp_scan(lpart *p, uint64_t cursor, const char *match, size_t mlen, size_t count, strata_cache_key_fn fn,
            void *ctx, uint64_t *next, cache_err *err) {
    if (!count) count = STRATA_CACHE_SCAN_DEFAULT_COUNT;
    keybuf b = { 0 };
    if (match && mlen == 1 && match[0] == '*') match = NULL; /* as Redis: a lone * is no filter */
    b.match = match;
    b.mlen = mlen;
    b.now = cache_now(p->c);
    uint64_t si = cursor & (p->n - 1), v = cursor >> p->bits;
    size_t iters = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    int done = 0;
    while (b.n < count && iters-- > 0 && !b.oom) {
        shard *s = &p->sh[si];
        pthread_mutex_lock(&s->mu);
        /* A cursor from an older, larger table may exceed this one: dictScan masks it. */
        v = scan_shard(&b, s, v);
        pthread_mutex_unlock(&s->mu);
        if (v == 0 && ++si == p->n) { done = 1; break; }
    }
    if (b.oom) {
        free(b.data);
        CACHE_ERR(err, "out of memory");
        return STRATA_ENOMEM;
    }
    *next = done ? 0 : (v << p->bits) | si;
    int rc = STRATA_OK;
    for (size_t off = 0; off < b.len && rc == STRATA_OK;) {
        size_t kl;
        memcpy(&kl, b.data + off, sizeof kl);
        rc = fn ? fn(ctx, b.data + off + sizeof kl, kl) : STRATA_OK;
        off += sizeof kl + kl;
    }
    free(b.data);
    return rc;
}

/* ---- whole partition ---- */
static void shard_clear(lpart *p, shard *s) {
    for (int t = 0; t < 2; t++) {
        if (!s->tab[t]) continue;
        for (uint64_t i = 0; i < s->tsize[t]; i++)
            for (centry *e = s->tab[t][i], *n; e; e = n) {
                n = e->hnext;
                acct(p, s, -(int64_t)ecost(e));
                free(e);
            }
    }
    if (s->tab[1]) {
        free(s->tab[1]);
        acct(p, s, -(int64_t)arr_cost(s->tsize[1] * sizeof(centry *)));
        s->tab[1] = NULL;
        s->tsize[1] = 0;
    }
    s->rehash = -1;
    if (s->tsize[0] != HT_MIN) {
        centry **t = calloc(HT_MIN, sizeof *t);
        if (t) {
            free(s->tab[0]);
            acct(p, s, (int64_t)arr_cost(HT_MIN * sizeof *t) - (int64_t)arr_cost(s->tsize[0] * sizeof *t));
            s->tab[0] = t;
            s->tsize[0] = HT_MIN;
        } else {
            memset(s->tab[0], 0, s->tsize[0] * sizeof *t);
        }
    } else {
        memset(s->tab[0], 0, HT_MIN * sizeof(centry *));
    }
    memset(s->seg, 0, sizeof s->seg);
    s->nheap = 0;
    s->keys = 0;
    sketch_resize(p, s, SKETCH_MIN_WORDS);
}

void lp_flush(lpart *p) {
    for (unsigned i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->sh[i].mu);
        shard_clear(p, &p->sh[i]);
        pthread_mutex_unlock(&p->sh[i].mu);
    }
}

void lp_counts_get(lpart *p, lp_counts *o) {
    memset(o, 0, sizeof *o);
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->sh[i];
        pthread_mutex_lock(&s->mu);
        o->keys += s->keys;
        o->expires += s->nheap;
        o->hits += s->hits;
        o->misses += s->misses;
        o->evictions += s->evictions;
        o->expirations += s->expired;
        pthread_mutex_unlock(&s->mu);
    }
    o->used = atomic_load(&p->used);
}

void lp_counts_reset(lpart *p) {
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->sh[i];
        pthread_mutex_lock(&s->mu);
        s->hits = s->misses = s->evictions = s->expired = 0;
        pthread_mutex_unlock(&s->mu);
    }
}

uint64_t lp_expire_cycle(lpart *p, int64_t now, unsigned max_per_shard, int *more) {
    uint64_t n = 0;
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->sh[i];
        pthread_mutex_lock(&s->mu);
        unsigned k = 0;
        while (s->nheap && s->heap[0].at < now && k < max_per_shard) {
            entry_remove(p, s, s->heap[0].e, GONE_EXPIRED);
            k++;
        }
        if (k && s->nheap && s->heap[0].at < now) *more = 1;
        if (k) resize_check(p, s);
        pthread_mutex_unlock(&s->mu);
        n += k;
    }
    return n;
}

/* ---- configuration ---- */
void lp_configure(lpart *p, uint64_t maxmemory, int policy) {
    uint64_t share = maxmemory ? maxmemory / p->n : UINT64_MAX / 2;
    if (maxmemory && share == 0) share = 1;
    unsigned wpct = policy == STRATA_CACHE_ALLKEYS_LRU ? 20 : 1;
    uint64_t wcap = share / 100 * wpct + (share % 100) * wpct / 100;
    uint64_t pcap = (share - wcap) / 10 * 8;
    atomic_store(&p->share, share);
    atomic_store(&p->wcap, wcap);
    atomic_store(&p->pcap, pcap);
    atomic_store(&p->policy, policy);
    atomic_store(&p->maxmem, maxmemory);
    if (over_budget(p)) evict_global(p);
}

uint64_t lp_maxmemory(lpart *p) { return atomic_load(&p->maxmem); }
int lp_policy(lpart *p) { return atomic_load(&p->policy); }

int lp_create(cache *c, unsigned nshards, uint64_t maxmemory, int policy, int is_doc, lpart **out) {
    *out = NULL;
    if (nshards == 0 || nshards > MAX_SHARDS || (nshards & (nshards - 1))) return STRATA_EINVAL;
    lpart *p = calloc(1, sizeof *p);
    if (!p) return STRATA_ENOMEM;
    p->sh = aligned_alloc(64, nshards * sizeof *p->sh);
    if (!p->sh) { free(p); return STRATA_ENOMEM; }
    memset(p->sh, 0, nshards * sizeof *p->sh);
    p->c = c;
    p->n = nshards;
    while ((1u << p->bits) < nshards) p->bits++;
    p->is_doc = is_doc;
    uint64_t seed[2] = { 0x243f6a8885a308d3ull, (uint64_t)(uintptr_t)p };
    FILE *f = fopen("/dev/urandom", "rb"); /* getrandom may be missing from old libcs */
    if (f) {
        if (fread(seed, sizeof seed, 1, f) != 1) seed[0] ^= (uint64_t)(uintptr_t)&seed;
        fclose(f);
    }
    p->seed = seed[0];
    int rc = STRATA_OK;
    for (unsigned i = 0; i < nshards; i++) {
        shard *s = &p->sh[i];
        pthread_mutex_init(&s->mu, NULL);
        s->rehash = -1;
        s->rng = (seed[1] | 1) + i * 0x9e3779b97f4a7c15ull;
        if (!s->rng) s->rng = 1;
        if (!(s->tab[0] = calloc(HT_MIN, sizeof(centry *)))) rc = STRATA_ENOMEM;
        else {
            s->tsize[0] = HT_MIN;
            acct(p, s, (int64_t)arr_cost(HT_MIN * sizeof(centry *)));
        }
        sketch_resize(p, s, SKETCH_MIN_WORDS);
        if (!s->sk.t) rc = STRATA_ENOMEM;
    }
    if (rc) { lp_destroy(p); return rc; }
    lp_configure(p, maxmemory, is_doc ? STRATA_CACHE_ALLKEYS_LFU : policy);
    *out = p;
    return STRATA_OK;
}

void lp_destroy(lpart *p) {
    if (!p) return;
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->sh[i];
        if (s->tab[0]) shard_clear(p, s);
        free(s->tab[0]);
        free(s->heap);
        free(s->sk.t);
        pthread_mutex_destroy(&s->mu);
    }
    free(p->sh);
    free(p);
}

/* ---- doc partition ---- */
uint64_t lp_token(lpart *p, const void *k, size_t kl) {
    keyref r = keyref_of(p, k, kl);
    pthread_mutex_lock(&r.s->mu);
    uint64_t g = r.s->gen;
    pthread_mutex_unlock(&r.s->mu);
    return g;
}

int lp_put_if_token(lpart *p, const void *k, size_t kl, const void *v, size_t vl, uint64_t token) {
    uint64_t max = atomic_load(&p->maxmem);
    if (!max || vl > max / 8 || kl > STRATA_CACHE_KEY_MAX) return STRATA_OK;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    centry *n = entry_new(k, kl, vl); /* outside the lock: documents can be large */
    if (!n) return STRATA_ENOMEM;
    memcpy(e_val(n), v, vl);
    pthread_mutex_lock(&s->mu);
    if (s->gen != token) {
        pthread_mutex_unlock(&s->mu);
        free(n);
        return STRATA_OK;
    }
    int64_t now = NOW_UNSET;
    centry *old = lookup(p, s, r.h, k, kl, &now);
    if (old) entry_remove(p, s, old, GONE_DELETED);
    entry_insert(p, s, n, r.h64);
    write_done(p, s);
    return STRATA_OK;
}

void lp_invalidate(lpart *p, const void *k, size_t kl) {
    int64_t now = NOW_UNSET;
    keyref r = keyref_of(p, k, kl);
    shard *s = r.s;
    pthread_mutex_lock(&s->mu);
    s->gen++;
    centry *e = lookup(p, s, r.h, k, kl, &now);
    if (e) entry_remove(p, s, e, GONE_DELETED);
    pthread_mutex_unlock(&s->mu);
}

void lp_invalidate_all(lpart *p) {
    for (unsigned i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->sh[i].mu);
        p->sh[i].gen++;
        shard_clear(p, &p->sh[i]);
        pthread_mutex_unlock(&p->sh[i].mu);
    }
}

/* ---- audit (tests) ---- */
#define AUDIT_FAIL(...) do { snprintf(msg, len, __VA_ARGS__); rc = STRATA_ECORRUPT; goto next; } while (0)

int lp_audit(lpart *p, char *msg, size_t len) {
    uint64_t total = 0;
    int rc = STRATA_OK;
    for (unsigned i = 0; i < p->n && rc == STRATA_OK; i++) {
        shard *s = &p->sh[i];
        pthread_mutex_lock(&s->mu);
        uint64_t bytes = arr_cost(s->tsize[0] * sizeof(centry *)) + arr_cost(s->tsize[1] * sizeof(centry *)) +
                         arr_cost((uint64_t)s->heapcap * sizeof(heapent)) + arr_cost(s->sk.words * 8);
        uint64_t keys = 0, segbytes[3] = { 0, 0, 0 }, segn[3] = { 0, 0, 0 }, heaped = 0;
        for (int t = 0; t < 2; t++) {
            if (!s->tab[t]) continue;
            for (uint64_t b = 0; b < s->tsize[t]; b++)
                for (centry *e = s->tab[t][b]; e; e = e->hnext) {
                    if ((e_hash(p, e) & (s->tsize[t] - 1)) != b) AUDIT_FAIL("shard %u: entry in the wrong bucket", i);
                    if (keyref_of(p, e_key(e), e_klen(e)).s != s) AUDIT_FAIL("shard %u: entry in the wrong shard", i);
                    keys++;
                    bytes += ecost(e);
                    segbytes[e->seg] += ecost(e);
                    if (e_ttl(e)) {
                        heaped++;
                        uint32_t slot = e_slot(e);
                        if (!slot || slot > s->nheap || s->heap[slot - 1].e != e) AUDIT_FAIL("shard %u: heap slot", i);
                    }
                }
        }
        for (int g = 0; g < 3; g++) {
            centry *prev = NULL;
            for (centry *e = s->seg[g].head; e; prev = e, e = e->next) {
                if (e->prev != prev || e->seg != (uint32_t)g) AUDIT_FAIL("shard %u: segment %d links", i, g);
                segn[g]++;
            }
            if (s->seg[g].tail != prev) AUDIT_FAIL("shard %u: segment %d tail", i, g);
            if (segbytes[g] != s->seg[g].bytes)
                AUDIT_FAIL("shard %u: segment %d counts %llu bytes, holds %llu", i, g,
                           (unsigned long long)s->seg[g].bytes, (unsigned long long)segbytes[g]);
        }
        if (segn[0] + segn[1] + segn[2] != keys) AUDIT_FAIL("shard %u: lists hold %llu, table %llu", i,
                                                            (unsigned long long)(segn[0] + segn[1] + segn[2]),
                                                            (unsigned long long)keys);
        if (keys != s->keys) AUDIT_FAIL("shard %u: keys %llu, counted %llu", i, (unsigned long long)s->keys,
                                        (unsigned long long)keys);
        if (heaped != s->nheap) AUDIT_FAIL("shard %u: heap holds %u, entries %llu", i, s->nheap, (unsigned long long)heaped);
        for (uint32_t h = 1; h < s->nheap; h++)
            if (s->heap[(h - 1) / 2].at > s->heap[h].at) AUDIT_FAIL("shard %u: heap order", i);
        if (bytes != s->bytes) AUDIT_FAIL("shard %u: bytes %llu, recomputed %llu", i, (unsigned long long)s->bytes,
                                          (unsigned long long)bytes);
        total += bytes;
    next:
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == STRATA_OK && total != atomic_load(&p->used)) {
        snprintf(msg, len, "partition: used %llu, shards hold %llu", (unsigned long long)atomic_load(&p->used),
                 (unsigned long long)total);
        rc = STRATA_ECORRUPT;
    }
    return rc;
}
