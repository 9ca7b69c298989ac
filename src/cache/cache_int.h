/* cache_int.h — what the files of src/cache share: the local partition engine
 * (lcache.c), the hiredis backend (remote.c) and the facade that picks one
 * (cache.c). Nothing outside src/cache includes it. */
#ifndef STRATA_CACHE_INT_H
#define STRATA_CACHE_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include "cache/cache.h"

#define CACHE_ERR(err, ...) \
    do { if (err) snprintf((err)->msg, sizeof (err)->msg, __VA_ARGS__); } while (0)

#define CACHE_OOM_MSG "OOM command not allowed when used memory > 'maxmemory'."
#define CACHE_NOT_INT_MSG "value is not an integer or out of range"
#define CACHE_OVERFLOW_MSG "increment or decrement would overflow"
#define CACHE_TOO_LONG_MSG "string exceeds maximum allowed size (proto-max-bulk-len)"

/* ---- local partitions (lcache.c) ---- */
typedef struct lpart lpart;

/* nshards: a power of two <= 64. is_doc: no TTLs, always W-TinyLFU. */
int lp_create(cache *c, unsigned nshards, uint64_t maxmemory, int policy, int is_doc, lpart **out);
void lp_destroy(lpart *p);
void lp_configure(lpart *p, uint64_t maxmemory, int policy);
uint64_t lp_maxmemory(lpart *p);
int lp_policy(lpart *p);

int lp_set(lpart *p, const void *k, size_t kl, const void *v, size_t vl, const strata_cache_set_opts *o,
           cache_err *err);
int lp_get(lpart *p, const void *k, size_t kl, strata_write_fn fn, void *ctx, int stats);
int lp_getex(lpart *p, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del, strata_write_fn fn,
             void *ctx, cache_err *err);
int lp_del(lpart *p, const void *k, size_t kl);
int lp_exists(lpart *p, const void *k, size_t kl);
int lp_expire(lpart *p, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags, int *applied,
              cache_err *err);
int lp_persist(lpart *p, const void *k, size_t kl, int *applied);
int lp_ttl(lpart *p, const void *k, size_t kl, int64_t *ttl_ms, int64_t *at_ms);
int lp_incrby(lpart *p, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err);
int lp_append(lpart *p, const void *k, size_t kl, const void *v, size_t vl, size_t *len, cache_err *err);
int lp_strlen(lpart *p, const void *k, size_t kl, size_t *len);
int lp_mget(lpart *p, size_t n, const void *const *ks, const size_t *kls, strata_cache_mget_fn fn, void *ctx);
int lp_mset(lpart *p, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
            const size_t *vls, int cond, cache_err *err);
int lp_scan(lpart *p, uint64_t cursor, const char *match, size_t mlen, size_t count, strata_cache_key_fn fn,
            void *ctx, uint64_t *next, cache_err *err);
void lp_flush(lpart *p);

typedef struct lp_counts {
    uint64_t keys, expires, hits, misses, evictions, expirations, used;
} lp_counts;
void lp_counts_get(lpart *p, lp_counts *out);
void lp_counts_reset(lpart *p);

int lp_audit(lpart *p, char *msg, size_t len);

/* Expire keys whose time passed, at most `max_per_shard` per shard; *more = 1 when
 * a shard had more. Returns the number expired. */
uint64_t lp_expire_cycle(lpart *p, int64_t now, unsigned max_per_shard, int *more);

/* doc partition */
uint64_t lp_token(lpart *p, const void *k, size_t kl);
int lp_put_if_token(lpart *p, const void *k, size_t kl, const void *v, size_t vl, uint64_t token);
void lp_invalidate(lpart *p, const void *k, size_t kl);
/* Drop everything; a token taken before cannot put after. */
void lp_invalidate_all(lpart *p);

/* ---- the remote backend (remote.c) ---- */
typedef struct rcache rcache;
int rc_connect(const char *url, rcache **out, cache_err *err);
void rc_free(rcache *r);
void rc_disconnect(rcache *r); /* close the connection; later calls fail with STRATA_EIO */
int rc_set(rcache *r, const void *k, size_t kl, const void *v, size_t vl, const strata_cache_set_opts *o,
           int64_t now, cache_err *err);
int rc_get(rcache *r, const void *k, size_t kl, strata_write_fn fn, void *ctx, cache_err *err);
int rc_getex(rcache *r, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del, strata_write_fn fn,
             void *ctx, cache_err *err);
int rc_del(rcache *r, const void *k, size_t kl, cache_err *err);
int rc_exists(rcache *r, const void *k, size_t kl, int *exists, cache_err *err);
int rc_expire(rcache *r, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags, int *applied,
              cache_err *err);
int rc_persist(rcache *r, const void *k, size_t kl, int *applied, cache_err *err);
int rc_ttl(rcache *r, const void *k, size_t kl, int64_t now, int64_t *ttl_ms, int64_t *at_ms, cache_err *err);
int rc_incrby(rcache *r, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err);
int rc_append(rcache *r, const void *k, size_t kl, const void *v, size_t vl, size_t *len, cache_err *err);
int rc_strlen(rcache *r, const void *k, size_t kl, size_t *len, cache_err *err);
int rc_mget(rcache *r, size_t n, const void *const *ks, const size_t *kls, strata_cache_mget_fn fn, void *ctx,
            cache_err *err);
int rc_mset(rcache *r, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
            const size_t *vls, int cond, cache_err *err);
int rc_scan(rcache *r, uint64_t cursor, const char *match, size_t mlen, size_t count, strata_cache_key_fn fn,
            void *ctx, uint64_t *next, cache_err *err);
int rc_dbsize(rcache *r, uint64_t *n, cache_err *err);
int rc_flush(rcache *r, cache_err *err);
/* keys, expires, evictions, expirations, used memory, maxmemory, policy from INFO. */
int rc_info(rcache *r, strata_cache_stats *out, cache_err *err);
int rc_config(rcache *r, uint64_t maxmemory, int policy, cache_err *err);

/* ---- the facade's state (cache.c) ---- */
struct cache {
    cache_clock_fn clock;
    void *clock_ctx;
    lpart *kv, *doc;
    _Atomic(rcache *) remote;        /* non-NULL: kv calls go there */
    _Atomic uint64_t rhits, rmisses; /* this handle's reads through the remote */
    pthread_mutex_t cfg_mu;          /* configuration changes, retired remotes */
    rcache **retired;                /* remotes replaced; freed at destroy (a call may still use one) */
    size_t nretired;
    char url[STRATA_CACHE_URL_MAX];
    uint64_t doc_maxmemory;

    /* active expiry */
    pthread_mutex_t thr_mu;
    pthread_cond_t thr_cv;
    pthread_t thr;
    int thr_state;                   /* 0 not started, 1 running, 2 failed to start, -1 disabled */
    int thr_stop;
};

/* Current time on the cache's clock. */
int64_t cache_now(cache *c);
/* A key got a TTL: make sure the active-expiry thread runs. */
void cache_ttl_seen(cache *c);

/* Strict signed 64-bit decimal (Redis's string2ll): 1 and *out, or 0. */
int cache_parse_ll(const char *s, size_t len, long long *out);
#endif
