/* api_cache.c — the public hot-tier calls (strata_cache_*) and the RESP server's
 * entry points (strata_server_*): validate at the boundary, call the cache
 * (src/cache) or the server (src/server), turn their messages into the handle's
 * per-thread message (strata_errmsg). */
#include "internal.h"
#include "cache/cache.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#define CHECK_DB(db) do { if (!(db)) return STRATA_EINVAL; } while (0)

/* Report a cache failure; callbacks' own non-zero results pass through untouched. */
static int fail(strata *db, int rc, const cache_err *e, const char *what) {
    if (rc == STRATA_OK) return rc;
    if (e->msg[0]) return strata__err(db, rc, "%s", e->msg);
    if (rc == STRATA_ENOTFOUND) return strata__err(db, rc, "%s: no such key", what);
    if (rc == STRATA_EEXIST) return strata__err(db, rc, "%s: the key exists", what);
    return rc;
}

static int check_key(strata *db, const void *key, size_t klen) {
    if (!key && klen) return strata__err(db, STRATA_EINVAL, "key is NULL");
    if (klen > STRATA_CACHE_KEY_MAX)
        return strata__err(db, STRATA_ETOOBIG, "key is longer than %u bytes", STRATA_CACHE_KEY_MAX);
    return STRATA_OK;
}

static int check_val(strata *db, const void *val, size_t vlen) {
    if (!val && vlen) return strata__err(db, STRATA_EINVAL, "value is NULL");
    if (vlen > STRATA_CACHE_VALUE_MAX)
        return strata__err(db, STRATA_ETOOBIG, "string exceeds maximum allowed size (proto-max-bulk-len)");
    return STRATA_OK;
}

static int reserved_zero(const uint64_t *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (r[i]) return 0;
    return 1;
}

#define K(key) ((key) ? (key) : (const void *)"")

const char *strata_cache_policy_name(int policy) { return cache_policy_name(policy); }

int strata_cache_policy_parse(const char *name, int *policy) {
    if (!name || !policy) return STRATA_EINVAL;
    return cache_policy_parse(name, policy);
}

int strata_cache_set(strata *db, const void *key, size_t klen, const void *val, size_t vlen,
                     const strata_cache_set_opts *opts) {
    CHECK_DB(db);
    int rc;
    if ((rc = check_key(db, key, klen)) || (rc = check_val(db, val, vlen))) return rc;
    if (opts) {
        if (!reserved_zero(opts->reserved, sizeof opts->reserved / sizeof opts->reserved[0]))
            return strata__err(db, STRATA_EINVAL, "set options: reserved fields must be zero");
        if (opts->cond < STRATA_CACHE_ALWAYS || opts->cond > STRATA_CACHE_XX)
            return strata__err(db, STRATA_EINVAL, "set options: unknown condition %d", opts->cond);
        if (opts->ttl_mode < STRATA_CACHE_TTL_NONE || opts->ttl_mode > STRATA_CACHE_TTL_KEEP)
            return strata__err(db, STRATA_EINVAL, "set options: unknown TTL mode %d", opts->ttl_mode);
    }
    cache_err e = { "" };
    rc = cache_set(db->cache, K(key), klen, val ? val : "", vlen, opts, &e);
    return fail(db, rc, &e, "set");
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

static int copy_result(strata *db, int rc, copy_out *o, const cache_err *e, void **val, size_t *vlen,
                       const char *what) {
    if (rc == STRATA_OK) {
        *val = o->data;
        *vlen = o->len;
        return rc;
    }
    free(o->data);
    if (rc == STRATA_ENOMEM && !e->msg[0]) return strata__err(db, rc, "%s: out of memory", what);
    return fail(db, rc, e, what);
}

static int out_args(strata *db, void **val, size_t *vlen) {
    if (!val || !vlen) return strata__err(db, STRATA_EINVAL, "val or vlen is NULL");
    *val = NULL;
    *vlen = 0;
    return STRATA_OK;
}

int strata_cache_get(strata *db, const void *key, size_t klen, void **val, size_t *vlen) {
    CHECK_DB(db);
    int rc;
    if ((rc = out_args(db, val, vlen)) || (rc = check_key(db, key, klen))) return rc;
    copy_out o = { NULL, 0 };
    cache_err e = { "" };
    rc = cache_get(db->cache, K(key), klen, copy_value, &o, &e);
    return copy_result(db, rc, &o, &e, val, vlen, "get");
}

int strata_cache_get_fn(strata *db, const void *key, size_t klen, strata_write_fn fn, void *ctx) {
    CHECK_DB(db);
    if (!fn) return strata__err(db, STRATA_EINVAL, "callback is NULL");
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    rc = cache_get(db->cache, K(key), klen, fn, ctx, &e);
    return fail(db, rc, &e, "get");
}

static int getex(strata *db, const void *key, size_t klen, int mode, int64_t ttl, int del, void **val,
                 size_t *vlen, const char *what) {
    CHECK_DB(db);
    int rc;
    if ((rc = out_args(db, val, vlen)) || (rc = check_key(db, key, klen))) return rc;
    if (mode < STRATA_CACHE_TTL_NONE || mode > STRATA_CACHE_TTL_KEEP)
        return strata__err(db, STRATA_EINVAL, "%s: unknown TTL mode %d", what, mode);
    copy_out o = { NULL, 0 };
    cache_err e = { "" };
    rc = cache_getex(db->cache, K(key), klen, mode, ttl, del, copy_value, &o, &e);
    return copy_result(db, rc, &o, &e, val, vlen, what);
}

int strata_cache_getdel(strata *db, const void *key, size_t klen, void **val, size_t *vlen) {
    return getex(db, key, klen, STRATA_CACHE_TTL_KEEP, 0, 1, val, vlen, "getdel");
}

int strata_cache_getex(strata *db, const void *key, size_t klen, int ttl_mode, int64_t ttl, void **val,
                       size_t *vlen) {
    return getex(db, key, klen, ttl_mode, ttl, 0, val, vlen, "getex");
}

int strata_cache_del(strata *db, const void *key, size_t klen) {
    CHECK_DB(db);
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_del(db->cache, K(key), klen, &e), &e, "del");
}

int strata_cache_exists(strata *db, const void *key, size_t klen, int *exists) {
    CHECK_DB(db);
    if (!exists) return strata__err(db, STRATA_EINVAL, "exists is NULL");
    *exists = 0;
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_exists(db->cache, K(key), klen, exists, &e), &e, "exists");
}

int strata_cache_expire(strata *db, const void *key, size_t klen, int ttl_mode, int64_t t, unsigned flags,
                        int *applied) {
    CHECK_DB(db);
    if (applied) *applied = 0;
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    if (ttl_mode != STRATA_CACHE_TTL_REL && ttl_mode != STRATA_CACHE_TTL_AT)
        return strata__err(db, STRATA_EINVAL, "expire: TTL mode must be STRATA_CACHE_TTL_REL or STRATA_CACHE_TTL_AT");
    if (flags & ~15u) return strata__err(db, STRATA_EINVAL, "expire: unknown flags 0x%x", flags);
    if ((flags & STRATA_CACHE_EXPIRE_NX) && (flags & ~STRATA_CACHE_EXPIRE_NX))
        return strata__err(db, STRATA_EINVAL, "NX and XX, GT or LT options at the same time are not compatible");
    if ((flags & STRATA_CACHE_EXPIRE_GT) && (flags & STRATA_CACHE_EXPIRE_LT))
        return strata__err(db, STRATA_EINVAL, "GT and LT options at the same time are not compatible");
    cache_err e = { "" };
    return fail(db, cache_expire(db->cache, K(key), klen, ttl_mode, t, flags, applied, &e), &e, "expire");
}

int strata_cache_persist(strata *db, const void *key, size_t klen, int *applied) {
    CHECK_DB(db);
    if (applied) *applied = 0;
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_persist(db->cache, K(key), klen, applied, &e), &e, "persist");
}

int strata_cache_ttl(strata *db, const void *key, size_t klen, int64_t *ttl_ms, int64_t *expire_at_ms) {
    CHECK_DB(db);
    if (ttl_ms) *ttl_ms = -1;
    if (expire_at_ms) *expire_at_ms = -1;
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_ttl(db->cache, K(key), klen, ttl_ms, expire_at_ms, &e), &e, "ttl");
}

int strata_cache_incrby(strata *db, const void *key, size_t klen, int64_t delta, int64_t *result) {
    CHECK_DB(db);
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_incrby(db->cache, K(key), klen, delta, result, &e), &e, "incrby");
}

int strata_cache_append(strata *db, const void *key, size_t klen, const void *val, size_t vlen, size_t *new_len) {
    CHECK_DB(db);
    int rc;
    if ((rc = check_key(db, key, klen)) || (rc = check_val(db, val, vlen))) return rc;
    cache_err e = { "" };
    return fail(db, cache_append(db->cache, K(key), klen, val ? val : "", vlen, new_len, &e), &e, "append");
}

int strata_cache_strlen(strata *db, const void *key, size_t klen, size_t *len) {
    CHECK_DB(db);
    if (!len) return strata__err(db, STRATA_EINVAL, "len is NULL");
    *len = 0;
    int rc = check_key(db, key, klen);
    if (rc) return rc;
    cache_err e = { "" };
    return fail(db, cache_strlen(db->cache, K(key), klen, len, &e), &e, "strlen");
}

static int check_keys(strata *db, size_t n, const void *const *keys, const size_t *klens) {
    if (n && (!keys || !klens)) return strata__err(db, STRATA_EINVAL, "keys or klens is NULL");
    for (size_t i = 0; i < n; i++) {
        int rc = check_key(db, keys[i], klens[i]);
        if (rc) return rc;
        if (!keys[i]) return strata__err(db, STRATA_EINVAL, "key %zu is NULL", i);
    }
    return STRATA_OK;
}

int strata_cache_mget(strata *db, size_t n, const void *const *keys, const size_t *klens, strata_cache_mget_fn fn,
                      void *ctx) {
    CHECK_DB(db);
    if (!fn) return strata__err(db, STRATA_EINVAL, "callback is NULL");
    int rc = check_keys(db, n, keys, klens);
    if (rc || n == 0) return rc;
    cache_err e = { "" };
    return fail(db, cache_mget(db->cache, n, keys, klens, fn, ctx, &e), &e, "mget");
}

int strata_cache_mset(strata *db, size_t n, const void *const *keys, const size_t *klens, const void *const *vals,
                      const size_t *vlens, int cond) {
    CHECK_DB(db);
    int rc = check_keys(db, n, keys, klens);
    if (rc) return rc;
    if (cond != STRATA_CACHE_ALWAYS && cond != STRATA_CACHE_NX)
        return strata__err(db, STRATA_EINVAL, "mset: cond must be STRATA_CACHE_ALWAYS or STRATA_CACHE_NX");
    if (n && (!vals || !vlens)) return strata__err(db, STRATA_EINVAL, "vals or vlens is NULL");
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_val(db, vals[i], vlens[i])) != STRATA_OK) return rc;
        if (!vals[i]) return strata__err(db, STRATA_EINVAL, "value %zu is NULL", i);
    }
    if (n == 0) return STRATA_OK;
    cache_err e = { "" };
    rc = cache_mset(db->cache, n, keys, klens, vals, vlens, cond, &e);
    if (rc == STRATA_EEXIST && !e.msg[0]) return strata__err(db, rc, "msetnx: a key exists; nothing was set");
    return fail(db, rc, &e, "mset");
}

int strata_cache_scan(strata *db, uint64_t cursor, const char *match, size_t count, strata_cache_key_fn fn,
                      void *ctx, uint64_t *next) {
    CHECK_DB(db);
    if (!next) return strata__err(db, STRATA_EINVAL, "next is NULL");
    *next = 0;
    cache_err e = { "" };
    int rc = cache_scan(db->cache, cursor, match, match ? strlen(match) : 0, count, fn, ctx, next, &e);
    return fail(db, rc, &e, "scan");
}

int strata_cache_dbsize(strata *db, uint64_t *n) {
    CHECK_DB(db);
    if (!n) return strata__err(db, STRATA_EINVAL, "n is NULL");
    *n = 0;
    cache_err e = { "" };
    return fail(db, cache_dbsize(db->cache, n, &e), &e, "dbsize");
}

int strata_cache_flush(strata *db) {
    CHECK_DB(db);
    cache_err e = { "" };
    return fail(db, cache_flush(db->cache, &e), &e, "flush");
}

int strata_cache_stats_get(strata *db, strata_cache_stats *out) {
    CHECK_DB(db);
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    cache_err e = { "" };
    return fail(db, cache_stats(db->cache, out, &e), &e, "stats");
}

int strata_cache_stats_reset(strata *db) {
    CHECK_DB(db);
    cache_err e = { "" };
    return fail(db, cache_stats_reset(db->cache, &e), &e, "stats reset");
}

int strata_cache_config_get(strata *db, strata_cache_config *out) {
    CHECK_DB(db);
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    cache_err e = { "" };
    return fail(db, cache_config_get(db->cache, out, &e), &e, "config get");
}

int strata_cache_config_set(strata *db, const strata_cache_config *cfg) {
    CHECK_DB(db);
    if (!cfg) return strata__err(db, STRATA_EINVAL, "cfg is NULL");
    if (!reserved_zero(cfg->reserved, sizeof cfg->reserved / sizeof cfg->reserved[0]))
        return strata__err(db, STRATA_EINVAL, "cache config: reserved fields must be zero");
    cache_err e = { "" };
    return fail(db, cache_config_set(db->cache, cfg, &e), &e, "config set");
}

/* ---- the RESP server ---- */
strata_server_opts strata_server_opts_default(void) {
    strata_server_opts o;
    memset(&o, 0, sizeof o);
    o.port = STRATA_SERVER_DEFAULT_PORT;
    return o;
}

int strata_server_open(strata *db, const strata_server_opts *opts, strata_server **out) {
    CHECK_DB(db);
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    strata_server_opts o = opts ? *opts : strata_server_opts_default();
    char err[512] = "";
    int rc = srv_open(db, db->dir, &o, out, err, sizeof err);
    if (rc) return strata__err(db, rc, "%s", err[0] ? err : strata_errstr(rc));
    return STRATA_OK;
}

/* Calls on a server report through its store handle (strata_errmsg(db)). */
int strata_server_port(strata_server *srv, int *port) {
    if (!srv) return STRATA_EINVAL;
    if (!port) return strata__err(srv_db(srv), STRATA_EINVAL, "port is NULL");
    *port = srv_port(srv);
    return STRATA_OK;
}

int strata_server_run(strata_server *srv) {
    if (!srv) return STRATA_EINVAL;
    char err[256] = "";
    int rc = srv_run(srv, err, sizeof err);
    return rc ? strata__err(srv_db(srv), rc, "%s", err) : STRATA_OK;
}

int strata_server_stop(strata_server *srv) {
    if (!srv) return STRATA_EINVAL; /* no message: this may run in a signal handler */
    srv_stop(srv);
    return STRATA_OK;
}

void strata_server_close(strata_server *srv) {
    srv_close(srv);
}
