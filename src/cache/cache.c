/* cache.c — the hot tier's facade: creates the two local partitions, sends kv calls
 * to the local partition or, with a cache_url, to the remote backend, owns the
 * configuration and the active-expiry thread.
 *
 * Switching backends at run time: the remote pointer is read with one atomic load
 * per call, so a call that started on the old backend finishes there. A replaced
 * remote is disconnected (its in-flight call completes first: it holds the remote's
 * mutex) but its memory is kept until cache_destroy, so no call can touch freed
 * memory.
 *
 * Active expiry: a thread started when the first key gets a TTL (a store that never
 * uses TTLs never has it). Ten times a second it pops expired keys off every shard's
 * heap, at most EXPIRE_PER_SHARD per shard per pass; when a pass left work behind it
 * runs again after 1 ms instead of 100 (Redis's fast cycle), within a 25 ms budget.
 * cache_destroy stops and joins it. */
#include "cache/cache_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KV_SHARDS 64
#define DOC_SHARDS 16
#define EXPIRE_TICK_MS 100
#define EXPIRE_BUDGET_NS (25 * 1000000ull)
#define EXPIRE_PER_SHARD 64

static int64_t real_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t cache_now(cache *c) { return c->clock(c->clock_ctx); }

static const char *const policy_names[] = { "noeviction", "allkeys-lru", "allkeys-lfu", "volatile-ttl" };

const char *cache_policy_name(int policy) {
    return policy >= 0 && policy < 4 ? policy_names[policy] : NULL;
}

int cache_policy_parse(const char *name, int *policy) {
    for (int i = 0; name && i < 4; i++)
        if (strcasecmp(name, policy_names[i]) == 0) {
            *policy = i;
            return STRATA_OK;
        }
    return STRATA_EINVAL;
}

/* ---- the active-expiry thread ---- */
uint64_t cache_expire_cycle(cache *c) {
    int more = 0;
    return lp_expire_cycle(c->kv, cache_now(c), EXPIRE_PER_SHARD, &more);
}

static void *expiry_main(void *arg) {
    cache *c = arg;
    pthread_mutex_lock(&c->thr_mu);
    int wait_ms = EXPIRE_TICK_MS;
    while (!c->thr_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)wait_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        int e = 0;
        while (!c->thr_stop && e != ETIMEDOUT) e = pthread_cond_timedwait(&c->thr_cv, &c->thr_mu, &ts);
        if (c->thr_stop) break;
        pthread_mutex_unlock(&c->thr_mu);
        uint64_t start = mono_ns();
        int more;
        do {
            more = 0;
            lp_expire_cycle(c->kv, cache_now(c), EXPIRE_PER_SHARD, &more);
        } while (more && mono_ns() - start < EXPIRE_BUDGET_NS);
        wait_ms = more ? 1 : EXPIRE_TICK_MS;
        pthread_mutex_lock(&c->thr_mu);
    }
    pthread_mutex_unlock(&c->thr_mu);
    return NULL;
}

void cache_ttl_seen(cache *c) {
    if (__atomic_load_n(&c->thr_state, __ATOMIC_ACQUIRE) != 0) return;
    pthread_mutex_lock(&c->thr_mu);
    if (c->thr_state == 0) {
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_destroy(&c->thr_cv);
        pthread_cond_init(&c->thr_cv, &a);
        pthread_condattr_destroy(&a);
        /* Without the thread, expiry is lazy only: keys still vanish when touched. */
        int st = pthread_create(&c->thr, NULL, expiry_main, c) == 0 ? 1 : 2;
        __atomic_store_n(&c->thr_state, st, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&c->thr_mu);
}

int cache_expiry_thread_running(cache *c) {
    return __atomic_load_n(&c->thr_state, __ATOMIC_ACQUIRE) == 1;
}

/* ---- life ---- */
int cache_create(const cache_params *p, cache **out) {
    *out = NULL;
    cache *c = calloc(1, sizeof *c);
    if (!c) return STRATA_ENOMEM;
    c->clock = p->clock ? p->clock : real_clock;
    c->clock_ctx = p->clock_ctx;
    c->doc_maxmemory = p->doc_maxmemory;
    c->thr_state = p->no_expiry_thread ? -1 : 0;
    pthread_mutex_init(&c->cfg_mu, NULL);
    pthread_mutex_init(&c->thr_mu, NULL);
    pthread_cond_init(&c->thr_cv, NULL);
    int rc = lp_create(c, KV_SHARDS, p->maxmemory, p->policy, 0, &c->kv);
    if (!rc) rc = lp_create(c, DOC_SHARDS, p->doc_maxmemory, STRATA_CACHE_ALLKEYS_LFU, 1, &c->doc);
    if (rc) {
        cache_destroy(c);
        return rc;
    }
    *out = c;
    return STRATA_OK;
}

void cache_destroy(cache *c) {
    if (!c) return;
    pthread_mutex_lock(&c->thr_mu);
    int running = c->thr_state == 1;
    c->thr_stop = 1;
    pthread_cond_broadcast(&c->thr_cv);
    pthread_mutex_unlock(&c->thr_mu);
    if (running) pthread_join(c->thr, NULL);
    rc_free(atomic_load(&c->remote));
    for (size_t i = 0; i < c->nretired; i++) rc_free(c->retired[i]);
    free(c->retired);
    lp_destroy(c->kv);
    lp_destroy(c->doc);
    pthread_mutex_destroy(&c->cfg_mu);
    pthread_mutex_destroy(&c->thr_mu);
    pthread_cond_destroy(&c->thr_cv);
    free(c);
}

/* ---- kv calls ---- */
static inline rcache *remote_of(cache *c) {
    return atomic_load_explicit(&c->remote, memory_order_acquire);
}

int cache_set(cache *c, const void *k, size_t kl, const void *v, size_t vl, const strata_cache_set_opts *o,
              cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_set(r, k, kl, v, vl, o, cache_now(c), err) : lp_set(c->kv, k, kl, v, vl, o, err);
}

static void count_remote_read(cache *c, int rc) {
    if (rc == STRATA_OK) atomic_fetch_add_explicit(&c->rhits, 1, memory_order_relaxed);
    else if (rc == STRATA_ENOTFOUND) atomic_fetch_add_explicit(&c->rmisses, 1, memory_order_relaxed);
}

int cache_get(cache *c, const void *k, size_t kl, strata_write_fn fn, void *ctx, cache_err *err) {
    rcache *r = remote_of(c);
    if (!r) return lp_get(c->kv, k, kl, fn, ctx, 1);
    int rc = rc_get(r, k, kl, fn, ctx, err);
    count_remote_read(c, rc);
    return rc;
}

int cache_getex(cache *c, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del, strata_write_fn fn,
                void *ctx, cache_err *err) {
    rcache *r = remote_of(c);
    if (!r) return lp_getex(c->kv, k, kl, ttl_mode, ttl, del, fn, ctx, err);
    int rc = rc_getex(r, k, kl, ttl_mode, ttl, del, fn, ctx, err);
    count_remote_read(c, rc);
    return rc;
}

int cache_del(cache *c, const void *k, size_t kl, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_del(r, k, kl, err) : lp_del(c->kv, k, kl);
}

int cache_exists(cache *c, const void *k, size_t kl, int *exists, cache_err *err) {
    rcache *r = remote_of(c);
    if (r) return rc_exists(r, k, kl, exists, err);
    *exists = lp_exists(c->kv, k, kl);
    return STRATA_OK;
}

int cache_expire(cache *c, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags, int *applied,
                 cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_expire(r, k, kl, ttl_mode, t, flags, applied, err)
             : lp_expire(c->kv, k, kl, ttl_mode, t, flags, applied, err);
}

int cache_persist(cache *c, const void *k, size_t kl, int *applied, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_persist(r, k, kl, applied, err) : lp_persist(c->kv, k, kl, applied);
}

int cache_ttl(cache *c, const void *k, size_t kl, int64_t *ttl_ms, int64_t *at_ms, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_ttl(r, k, kl, cache_now(c), ttl_ms, at_ms, err) : lp_ttl(c->kv, k, kl, ttl_ms, at_ms);
}

int cache_incrby(cache *c, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_incrby(r, k, kl, delta, result, err) : lp_incrby(c->kv, k, kl, delta, result, err);
}

int cache_append(cache *c, const void *k, size_t kl, const void *v, size_t vl, size_t *len, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_append(r, k, kl, v, vl, len, err) : lp_append(c->kv, k, kl, v, vl, len, err);
}

int cache_strlen(cache *c, const void *k, size_t kl, size_t *len, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_strlen(r, k, kl, len, err) : lp_strlen(c->kv, k, kl, len);
}

int cache_mget(cache *c, size_t n, const void *const *ks, const size_t *kls, strata_cache_mget_fn fn, void *ctx,
               cache_err *err) {
    rcache *r = remote_of(c);
    if (r) return rc_mget(r, n, ks, kls, fn, ctx, err);
    int rc = lp_mget(c->kv, n, ks, kls, fn, ctx);
    if (rc == STRATA_ENOMEM) CACHE_ERR(err, "out of memory");
    return rc;
}

int cache_mset(cache *c, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
               const size_t *vls, int cond, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_mset(r, n, ks, kls, vs, vls, cond, err) : lp_mset(c->kv, n, ks, kls, vs, vls, cond, err);
}

int cache_scan(cache *c, uint64_t cursor, const char *match, size_t mlen, size_t count, strata_cache_key_fn fn,
               void *ctx, uint64_t *next, cache_err *err) {
    rcache *r = remote_of(c);
    return r ? rc_scan(r, cursor, match, mlen, count, fn, ctx, next, err)
             : lp_scan(c->kv, cursor, match, mlen, count, fn, ctx, next, err);
}

int cache_dbsize(cache *c, uint64_t *n, cache_err *err) {
    rcache *r = remote_of(c);
    if (r) return rc_dbsize(r, n, err);
    lp_counts k;
    lp_counts_get(c->kv, &k);
    *n = k.keys;
    return STRATA_OK;
}

int cache_flush(cache *c, cache_err *err) {
    rcache *r = remote_of(c);
    if (r) return rc_flush(r, err);
    lp_flush(c->kv);
    return STRATA_OK;
}

static double rate(uint64_t hits, uint64_t misses) {
    return hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
}

int cache_stats(cache *c, strata_cache_stats *o, cache_err *err) {
    memset(o, 0, sizeof *o);
    lp_counts k;
    rcache *r = remote_of(c);
    if (r) {
        int rc = rc_info(r, o, err);
        if (rc) return rc;
        o->remote = 1;
        o->hits = atomic_load(&c->rhits);
        o->misses = atomic_load(&c->rmisses);
    } else {
        lp_counts_get(c->kv, &k);
        o->keys = k.keys;
        o->expires = k.expires;
        o->hits = k.hits;
        o->misses = k.misses;
        o->evictions = k.evictions;
        o->expirations = k.expirations;
        o->used_memory = k.used;
        o->maxmemory = lp_maxmemory(c->kv);
        o->policy = lp_policy(c->kv);
    }
    o->hit_rate = rate(o->hits, o->misses);
    lp_counts_get(c->doc, &k);
    o->doc_entries = k.keys;
    o->doc_hits = k.hits;
    o->doc_misses = k.misses;
    o->doc_evictions = k.evictions;
    o->doc_used_memory = k.used;
    o->doc_maxmemory = lp_maxmemory(c->doc);
    o->doc_hit_rate = rate(k.hits, k.misses);
    return STRATA_OK;
}

int cache_stats_reset(cache *c, cache_err *err) {
    (void)err;
    lp_counts_reset(c->kv);
    lp_counts_reset(c->doc);
    atomic_store(&c->rhits, 0);
    atomic_store(&c->rmisses, 0);
    return STRATA_OK;
}

int cache_config_get(cache *c, strata_cache_config *o, cache_err *err) {
    memset(o, 0, sizeof *o);
    pthread_mutex_lock(&c->cfg_mu);
    rcache *r = remote_of(c);
    int rc = STRATA_OK;
    if (r) {
        strata_cache_stats st;
        rc = rc_info(r, &st, err);
        o->maxmemory = st.maxmemory;
        o->policy = st.policy;
    } else {
        o->maxmemory = lp_maxmemory(c->kv);
        o->policy = lp_policy(c->kv);
    }
    o->doc_maxmemory = lp_maxmemory(c->doc);
    memcpy(o->url, c->url, sizeof o->url);
    pthread_mutex_unlock(&c->cfg_mu);
    return rc;
}

int cache_config_set(cache *c, const strata_cache_config *in, cache_err *err) {
    if (in->policy < STRATA_CACHE_NOEVICTION || in->policy > STRATA_CACHE_VOLATILE_TTL) {
        CACHE_ERR(err, "unknown eviction policy %d", in->policy);
        return STRATA_EINVAL;
    }
    if (!memchr(in->url, 0, sizeof in->url)) {
        CACHE_ERR(err, "url is not NUL-terminated within %d bytes", STRATA_CACHE_URL_MAX);
        return STRATA_EINVAL;
    }
    pthread_mutex_lock(&c->cfg_mu);
    int rc = STRATA_OK;
    if (strcmp(in->url, c->url) != 0) {
        rcache *nr = NULL;
        if (in->url[0] && (rc = rc_connect(in->url, &nr, err)) != STRATA_OK) goto done;
        rcache **grown = realloc(c->retired, (c->nretired + 1) * sizeof *grown);
        if (!grown) {
            rc_free(nr);
            CACHE_ERR(err, "out of memory");
            rc = STRATA_ENOMEM;
            goto done;
        }
        c->retired = grown;
        rcache *old = atomic_exchange(&c->remote, nr);
        if (old) {
            rc_disconnect(old);
            c->retired[c->nretired++] = old;
        }
        memcpy(c->url, in->url, sizeof c->url);
        lp_flush(c->kv); /* the local keys would be stale when we come back */
    }
    rcache *r = remote_of(c);
    if (r) {
        strata_cache_stats st;
        if ((rc = rc_info(r, &st, err)) == STRATA_OK && (st.maxmemory != in->maxmemory || st.policy != in->policy))
            rc = rc_config(r, in->maxmemory, in->policy, err);
    } else {
        lp_configure(c->kv, in->maxmemory, in->policy);
    }
    lp_configure(c->doc, in->doc_maxmemory, STRATA_CACHE_ALLKEYS_LFU);
    c->doc_maxmemory = in->doc_maxmemory;
done:
    pthread_mutex_unlock(&c->cfg_mu);
    return rc;
}

int cache_audit(cache *c, char *msg, size_t len) {
    int rc = lp_audit(c->kv, msg, len);
    return rc ? rc : lp_audit(c->doc, msg, len);
}

/* ---- documents ---- */
uint64_t cache_doc_token(cache *c, const void *id, size_t len) {
    return lp_token(c->doc, id, len);
}

typedef struct copy_out { void *data; size_t len; } copy_out;
static int copy_value(void *ctx, const void *data, size_t len) {
    copy_out *o = ctx;
    if (!(o->data = malloc(len + 1))) return STRATA_ENOMEM;
    memcpy(o->data, data, len);
    ((char *)o->data)[len] = 0;
    o->len = len;
    return STRATA_OK;
}

int cache_doc_get(cache *c, const void *id, size_t len, void **data, size_t *dlen) {
    copy_out o = { NULL, 0 };
    *data = NULL;
    *dlen = 0;
    int rc = lp_get(c->doc, id, len, copy_value, &o, 1);
    if (rc == STRATA_OK) {
        *data = o.data;
        *dlen = o.len;
    }
    return rc;
}

/* The content is copied out under the lock and handed to fn after it: fn may be
 * slow (a pipe, a socket) and must not stall other readers or the commit path's
 * invalidations. A copy costs far less than the decompression it saves. */
int cache_doc_get_fn(cache *c, const void *id, size_t len, strata_write_fn fn, void *ctx) {
    copy_out o = { NULL, 0 };
    int rc = lp_get(c->doc, id, len, copy_value, &o, 1);
    if (rc != STRATA_OK) return rc;
    rc = fn(ctx, o.data, o.len);
    free(o.data);
    return rc;
}

int cache_doc_put(cache *c, const void *id, size_t len, const void *data, size_t dlen, uint64_t token) {
    return lp_put_if_token(c->doc, id, len, data, dlen, token);
}

void cache_doc_invalidate(cache *c, const void *id, size_t len) {
    lp_invalidate(c->doc, id, len);
}

void cache_doc_clear(cache *c) {
    lp_invalidate_all(c->doc);
}
