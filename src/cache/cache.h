/* cache.h — the hot tier's contract with the rest of the library: an in-memory cache
 * with Redis string semantics (the KV partition, reached through strata_cache_* in
 * api_cache.c) and a document-content partition that the document read path fills
 * and the commit path invalidates.
 *
 * Two partitions, each with its own memory budget, eviction and statistics:
 *   kv   keys and values of the public API; maxmemory + policy (strata_cache_config);
 *        with a cache_url its calls go to a Redis/Valkey server instead (remote.c).
 *   doc  decompressed document content keyed by document id bytes; always local,
 *        always W-TinyLFU (allkeys-lfu), budget doc_maxmemory.
 *
 * Dependency rule: this folder includes strata.h (for types and status codes) and
 * hiredis, never SQLite, DuckDB or internal.h. Every function returns a STRATA_*
 * status; a failure fills `err` (may be NULL) with a message in Redis's wording
 * where Redis has one ("value is not an integer or out of range"). Nothing here
 * prints, exits or aborts. */
#ifndef STRATA_CACHE_H
#define STRATA_CACHE_H
#include <stddef.h>
#include <stdint.h>
#include "strata.h"

typedef struct cache cache;

typedef struct cache_err { char msg[256]; } cache_err;

typedef int64_t (*cache_clock_fn)(void *ctx);

typedef struct cache_params {
    uint64_t maxmemory;       /* kv budget; 0: no limit */
    int policy;               /* enum strata_cache_policy */
    uint64_t doc_maxmemory;   /* doc budget; 0: the doc partition is off */
    cache_clock_fn clock;     /* ms since the epoch; NULL: the real-time clock */
    void *clock_ctx;
    int no_expiry_thread;     /* tests: never start the active-expiry thread */
} cache_params;

/* Create an empty cache. The active-expiry thread starts with the first TTL. */
int cache_create(const cache_params *p, cache **out);
/* Stop the expiry thread, free everything. NULL is a no-op. */
void cache_destroy(cache *c);

/* ---- the kv partition (semantics: see the hot-tier section of strata.h) ----
 * Every call is thread-safe. Callbacks marked "locked" run while a shard lock is
 * held: they must not call back into the cache. */
int cache_set(cache *c, const void *k, size_t kl, const void *v, size_t vl,
              const strata_cache_set_opts *o, cache_err *err);
/* Hit: fn(ctx, value, len) once (locked), returns fn's non-zero result or
 * STRATA_OK. Miss: STRATA_ENOTFOUND. */
int cache_get(cache *c, const void *k, size_t kl, strata_write_fn fn, void *ctx, cache_err *err);
/* GETEX (ttl_mode KEEP: a plain read; NONE: PERSIST; REL/AT: new TTL) and GETDEL
 * (del = 1). fn as for cache_get. */
int cache_getex(cache *c, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del,
                strata_write_fn fn, void *ctx, cache_err *err);
int cache_del(cache *c, const void *k, size_t kl, cache_err *err);
int cache_exists(cache *c, const void *k, size_t kl, int *exists, cache_err *err);
/* ttl_mode REL (ms from now) or AT (ms since the epoch); flags STRATA_CACHE_EXPIRE_*. */
int cache_expire(cache *c, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags,
                 int *applied, cache_err *err);
int cache_persist(cache *c, const void *k, size_t kl, int *applied, cache_err *err);
int cache_ttl(cache *c, const void *k, size_t kl, int64_t *ttl_ms, int64_t *at_ms, cache_err *err);
int cache_incrby(cache *c, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err);
int cache_append(cache *c, const void *k, size_t kl, const void *v, size_t vl, size_t *len,
                 cache_err *err);
int cache_strlen(cache *c, const void *k, size_t kl, size_t *len, cache_err *err);
/* fn(ctx, i, value or NULL, len) for every key in order (locked, all at once). */
int cache_mget(cache *c, size_t n, const void *const *ks, const size_t *kls,
               strata_cache_mget_fn fn, void *ctx, cache_err *err);
int cache_mset(cache *c, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
               const size_t *vls, int cond, cache_err *err);
/* One SCAN step: fn(ctx, key, len) for each key returned (not locked). */
int cache_scan(cache *c, uint64_t cursor, const char *match, size_t match_len, size_t count,
               strata_cache_key_fn fn, void *ctx, uint64_t *next, cache_err *err);
int cache_dbsize(cache *c, uint64_t *n, cache_err *err);
int cache_flush(cache *c, cache_err *err);
int cache_stats(cache *c, strata_cache_stats *out, cache_err *err);
int cache_stats_reset(cache *c, cache_err *err);
int cache_config_get(cache *c, strata_cache_config *out, cache_err *err);
int cache_config_set(cache *c, const strata_cache_config *in, cache_err *err);

/* ---- the doc partition: content read through the hot tier ----
 * The race every cache-aside reader has (read version 1 from disk, a commit writes
 * version 2 and invalidates, the reader then caches version 1) is closed by a
 * token: take it BEFORE reading from disk, pass it to the put, and the put is
 * dropped if an invalidation touched that id's shard in between.
 *
 *   uint64_t tok = cache_doc_token(c, id, len);
 *   if (cache_doc_get(c, id, len, &data, &n) == STRATA_OK) return data;   // hit
 *   read from the segments ...;
 *   cache_doc_put(c, id, len, data, n, tok);                              // best effort
 *
 * The commit path calls cache_doc_invalidate for every id a commit put or deleted,
 * AFTER the commit is visible to readers (after SQLite's COMMIT returned), and
 * cache_doc_clear when it cannot name the ids (a restore, say). */
uint64_t cache_doc_token(cache *c, const void *id, size_t len);
/* Hit: STRATA_OK, *data a malloc'd copy (free with free(); NUL-terminated, the NUL
 * not counted in *len). Miss (or partition off): STRATA_ENOTFOUND. */
int cache_doc_get(cache *c, const void *id, size_t len, void **data, size_t *dlen);
/* Hit: fn(ctx, content, len) once, with no lock held (a private copy); returns
 * STRATA_OK or fn's non-zero result (STRATA_ENOMEM if the copy failed). Miss:
 * STRATA_ENOTFOUND. */
int cache_doc_get_fn(cache *c, const void *id, size_t len, strata_write_fn fn, void *ctx);
/* Keep a copy of the content. Best effort: STRATA_OK also when it was not kept (a
 * stale token, content larger than doc_maxmemory / 8, the partition off);
 * STRATA_ENOMEM only when malloc failed. */
int cache_doc_put(cache *c, const void *id, size_t len, const void *data, size_t dlen, uint64_t token);
void cache_doc_invalidate(cache *c, const void *id, size_t len);
void cache_doc_clear(cache *c);

/* ---- internals exposed for tests ---- */
/* Run one active-expiry pass now (what the background thread does each tick);
 * returns how many keys it expired. */
uint64_t cache_expire_cycle(cache *c);
/* Bytes one entry with these lengths costs (header, key, value, allocator). */
uint64_t cache_entry_cost(size_t klen, size_t vlen);
/* Recompute the kv and doc partitions' books from scratch (entries, bytes, lists,
 * heaps, chains) and compare: STRATA_OK, or STRATA_ECORRUPT with the first
 * difference in msg. Locks every shard in turn; for tests. */
int cache_audit(cache *c, char *msg, size_t len);
/* 1 if the background expiry thread is running. */
int cache_expiry_thread_running(cache *c);

/* Policy names ("allkeys-lru"): NULL / STRATA_EINVAL when unknown. */
const char *cache_policy_name(int policy);
int cache_policy_parse(const char *name, int *policy);

/* Redis glob matching (stringmatchlen): * ? [a-z] [^x] \x. 1 on match. */
int cache_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);
#endif
