/* remote.c — the kv partition on a Redis or Valkey server (cache_url), through
 * hiredis's blocking API: every call is one command (two where a 0 reply must be
 * told apart from a missing key), on one connection guarded by a mutex.
 *
 * A broken connection fails the call in flight with STRATA_EIO and is reopened by
 * the next call; connects give up after 1 s and commands after 5 s, so a dead
 * server never hangs the caller. Error replies keep the server's own wording:
 * "OOM ..." maps to STRATA_ENOMEM, anything else to STRATA_EINVAL. */
#include "cache/cache_int.h"

#include <hiredis.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CONNECT_TIMEOUT_MS 1000
#define COMMAND_TIMEOUT_MS 5000

struct rcache {
    pthread_mutex_t mu;
    redisContext *ctx;
    int dead;
    char host[256];
    int port;
    char user[128], pass[256];
    int db;
};

/* redis://[[user]:password@]host[:port][/db] */
static int parse_url(rcache *r, const char *url, cache_err *err) {
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) goto bad;
    p += 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) goto bad;
        size_t ul = (size_t)(colon - p), pl = (size_t)(at - colon - 1);
        if (ul >= sizeof r->user || pl >= sizeof r->pass) goto bad;
        memcpy(r->user, p, ul);
        r->user[ul] = 0;
        memcpy(r->pass, colon + 1, pl);
        r->pass[pl] = 0;
        p = at + 1;
    }
    size_t hl;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        if (!e) goto bad;
        hl = (size_t)(e - p - 1);
        if (hl == 0 || hl >= sizeof r->host) goto bad;
        memcpy(r->host, p + 1, hl);
        p = e + 1;
    } else {
        hl = strcspn(p, ":/");
        if (hl == 0 || hl >= sizeof r->host) goto bad;
        memcpy(r->host, p, hl);
        p += hl;
    }
    r->host[hl] = 0;
    r->port = 6379;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535) goto bad;
        r->port = (int)v;
        p = end;
    }
    if (*p == '/') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 0 || v > 1000000) goto bad;
        r->db = (int)v;
        p = end;
    }
    if (*p) goto bad;
    return STRATA_OK;
bad:
    CACHE_ERR(err, "cache_url: expected redis://[[user]:password@]HOST[:PORT][/DB], got '%.100s'", url);
    return STRATA_EINVAL;
}

static int status_of_error(const redisReply *rep) {
    return strncmp(rep->str, "OOM", 3) == 0 ? STRATA_ENOMEM : STRATA_EINVAL;
}

/* Run one command; *out is the reply (not an error reply). Lock held by caller. */
static int run(rcache *r, int argc, const char **argv, const size_t *lens, redisReply **out, cache_err *err);

static int open_ctx(rcache *r, cache_err *err) {
    if (r->dead) {
        CACHE_ERR(err, "cache_url: this connection was replaced");
        return STRATA_EIO;
    }
    struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000 };
    redisContext *ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (!ctx || ctx->err) {
        CACHE_ERR(err, "cache_url: cannot connect to %.100s:%d: %.100s", r->host, r->port, ctx ? ctx->errstr : "out of memory");
        if (ctx) redisFree(ctx);
        return STRATA_EIO;
    }
    struct timeval ct = { COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000 };
    redisSetTimeout(ctx, ct);
    r->ctx = ctx;
    redisReply *rep = NULL;
    int rc = STRATA_OK;
    if (r->pass[0]) {
        const char *av[3] = { "AUTH", r->user, r->pass };
        size_t al[3] = { 4, strlen(r->user), strlen(r->pass) };
        if (!r->user[0]) { /* AUTH password: the default user */
            av[1] = r->pass;
            al[1] = al[2];
        }
        rc = run(r, r->user[0] ? 3 : 2, av, al, &rep, err);
        if (rep) freeReplyObject(rep);
        rep = NULL;
    }
    if (!rc && r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        rc = run(r, 2, (const char *[]){ "SELECT", db }, (size_t[]){ 6, strlen(db) }, &rep, err);
        if (rep) freeReplyObject(rep);
    }
    if (rc && r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    return rc == STRATA_OK ? STRATA_OK : STRATA_EIO;
}

static int run(rcache *r, int argc, const char **argv, const size_t *lens, redisReply **out, cache_err *err) {
    *out = NULL;
    if (!r->ctx) {
        int rc = open_ctx(r, err);
        if (rc) return rc;
    }
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, lens);
    if (!rep) {
        CACHE_ERR(err, "cache_url %.100s:%d: %.100s", r->host, r->port, r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
        redisFree(r->ctx);
        r->ctx = NULL;
        return STRATA_EIO;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        int rc = status_of_error(rep);
        const char *m = rep->str;
        if (strncmp(m, "ERR ", 4) == 0) m += 4;
        CACHE_ERR(err, "%s", m);
        freeReplyObject(rep);
        return rc;
    }
    *out = rep;
    return STRATA_OK;
}

/* Lock, run, unlock. */
static int call(rcache *r, int argc, const char **argv, const size_t *lens, redisReply **out, cache_err *err) {
    pthread_mutex_lock(&r->mu);
    int rc = run(r, argc, argv, lens, out, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int unexpected(redisReply *rep, cache_err *err) {
    CACHE_ERR(err, "cache_url: unexpected reply type %d", rep ? rep->type : -1);
    if (rep) freeReplyObject(rep);
    return STRATA_EIO;
}

int rc_connect(const char *url, rcache **out, cache_err *err) {
    *out = NULL;
    rcache *r = calloc(1, sizeof *r);
    if (!r) return STRATA_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    int rc = parse_url(r, url, err);
    if (rc) {
        rc_free(r);
        return rc;
    }
    redisReply *rep = NULL;
    if ((rc = call(r, 1, (const char *[]){ "PING" }, (size_t[]){ 4 }, &rep, err)) != STRATA_OK) {
        rc_free(r);
        return rc == STRATA_ENOMEM ? rc : STRATA_EIO;
    }
    freeReplyObject(rep);
    *out = r;
    return STRATA_OK;
}

void rc_disconnect(rcache *r) {
    pthread_mutex_lock(&r->mu);
    if (r->ctx) redisFree(r->ctx);
    r->ctx = NULL;
    r->dead = 1;
    pthread_mutex_unlock(&r->mu);
}

void rc_free(rcache *r) {
    if (!r) return;
    if (r->ctx) redisFree(r->ctx);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* A 0 reply means either "missing" or "nothing done": EXISTS tells which. */
static int missing(rcache *r, const void *k, size_t kl, int *gone, cache_err *err) {
    redisReply *rep;
    int rc = call(r, 2, (const char *[]){ "EXISTS", k }, (size_t[]){ 6, kl }, &rep, err);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_INTEGER) return unexpected(rep, err);
    *gone = rep->integer == 0;
    freeReplyObject(rep);
    return STRATA_OK;
}

int rc_set(rcache *r, const void *k, size_t kl, const void *v, size_t vl, const strata_cache_set_opts *o,
           int64_t now, cache_err *err) {
    (void)now;
    static const strata_cache_set_opts none;
    if (!o) o = &none;
    const char *av[8] = { "SET", k, v };
    size_t al[8] = { 3, kl, vl };
    int n = 3;
    char num[24];
    if (o->cond == STRATA_CACHE_NX) { av[n] = "NX"; al[n++] = 2; }
    if (o->cond == STRATA_CACHE_XX) { av[n] = "XX"; al[n++] = 2; }
    if (o->ttl_mode == STRATA_CACHE_TTL_REL || o->ttl_mode == STRATA_CACHE_TTL_AT) {
        if (o->ttl <= 0) {
            CACHE_ERR(err, "invalid expire time in 'set' command");
            return STRATA_EINVAL;
        }
        av[n] = o->ttl_mode == STRATA_CACHE_TTL_REL ? "PX" : "PXAT";
        al[n] = strlen(av[n]);
        n++;
        snprintf(num, sizeof num, "%" PRId64, o->ttl);
        av[n] = num;
        al[n++] = strlen(num);
    } else if (o->ttl_mode == STRATA_CACHE_TTL_KEEP) {
        av[n] = "KEEPTTL";
        al[n++] = 7;
    }
    if (o->old_value) { av[n] = "GET"; al[n++] = 3; }
    redisReply *rep;
    int rc = call(r, n, av, al, &rep, err);
    if (rc) return rc;
    int written;
    if (o->old_value) {
        if (rep->type == REDIS_REPLY_STRING) {
            rc = o->old_value(o->old_value_ctx, rep->str, rep->len);
            written = o->cond != STRATA_CACHE_NX;
        } else if (rep->type == REDIS_REPLY_NIL) {
            written = o->cond != STRATA_CACHE_XX;
        } else {
            return unexpected(rep, err);
        }
    } else if (rep->type == REDIS_REPLY_STATUS) {
        written = 1;
    } else if (rep->type == REDIS_REPLY_NIL) {
        written = 0;
    } else {
        return unexpected(rep, err);
    }
    freeReplyObject(rep);
    if (rc) return rc;
    if (!written) return o->cond == STRATA_CACHE_NX ? STRATA_EEXIST : STRATA_ENOTFOUND;
    return STRATA_OK;
}

static int value_reply(redisReply *rep, strata_write_fn fn, void *ctx, cache_err *err) {
    if (rep->type == REDIS_REPLY_NIL) {
        freeReplyObject(rep);
        return STRATA_ENOTFOUND;
    }
    if (rep->type != REDIS_REPLY_STRING) return unexpected(rep, err);
    int rc = fn ? fn(ctx, rep->str, rep->len) : STRATA_OK;
    freeReplyObject(rep);
    return rc;
}

int rc_get(rcache *r, const void *k, size_t kl, strata_write_fn fn, void *ctx, cache_err *err) {
    redisReply *rep;
    int rc = call(r, 2, (const char *[]){ "GET", k }, (size_t[]){ 3, kl }, &rep, err);
    return rc ? rc : value_reply(rep, fn, ctx, err);
}

int rc_getex(rcache *r, const void *k, size_t kl, int ttl_mode, int64_t ttl, int del, strata_write_fn fn,
             void *ctx, cache_err *err) {
    const char *av[4] = { del ? "GETDEL" : "GETEX", k };
    size_t al[4] = { strlen(av[0]), kl };
    int n = 2;
    char num[24];
    if (!del) {
        if (ttl_mode == STRATA_CACHE_TTL_REL || ttl_mode == STRATA_CACHE_TTL_AT) {
            if (ttl <= 0) {
                CACHE_ERR(err, "invalid expire time in 'getex' command");
                return STRATA_EINVAL;
            }
            av[n] = ttl_mode == STRATA_CACHE_TTL_REL ? "PX" : "PXAT";
            al[n] = strlen(av[n]);
            n++;
            snprintf(num, sizeof num, "%" PRId64, ttl);
            av[n] = num;
            al[n++] = strlen(num);
        } else if (ttl_mode == STRATA_CACHE_TTL_NONE) {
            av[n] = "PERSIST";
            al[n++] = 7;
        }
    }
    redisReply *rep;
    int rc = call(r, n, av, al, &rep, err);
    return rc ? rc : value_reply(rep, fn, ctx, err);
}

static int int_reply(rcache *r, int argc, const char **av, const size_t *al, long long *out, cache_err *err) {
    redisReply *rep;
    int rc = call(r, argc, av, al, &rep, err);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_INTEGER) return unexpected(rep, err);
    *out = rep->integer;
    freeReplyObject(rep);
    return STRATA_OK;
}

int rc_del(rcache *r, const void *k, size_t kl, cache_err *err) {
    long long n;
    int rc = int_reply(r, 2, (const char *[]){ "DEL", k }, (size_t[]){ 3, kl }, &n, err);
    return rc ? rc : n ? STRATA_OK : STRATA_ENOTFOUND;
}

int rc_exists(rcache *r, const void *k, size_t kl, int *exists, cache_err *err) {
    long long n;
    int rc = int_reply(r, 2, (const char *[]){ "EXISTS", k }, (size_t[]){ 6, kl }, &n, err);
    if (!rc) *exists = n > 0;
    return rc;
}

int rc_expire(rcache *r, const void *k, size_t kl, int ttl_mode, int64_t t, unsigned flags, int *applied,
              cache_err *err) {
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, t);
    const char *av[6] = { ttl_mode == STRATA_CACHE_TTL_AT ? "PEXPIREAT" : "PEXPIRE", k, num };
    size_t al[6] = { strlen(av[0]), kl, strlen(num) };
    int n = 3;
    static const char *const names[4] = { "NX", "XX", "GT", "LT" };
    for (int i = 0; i < 4; i++)
        if (flags & (1u << i)) { av[n] = names[i]; al[n++] = 2; }
    long long v = 0;
    int rc = int_reply(r, n, av, al, &v, err);
    if (applied) *applied = !rc && v == 1;
    if (rc || v == 1) return rc;
    int gone = 0;
    if ((rc = missing(r, k, kl, &gone, err)) != STRATA_OK) return rc;
    return gone ? STRATA_ENOTFOUND : STRATA_OK;
}

int rc_persist(rcache *r, const void *k, size_t kl, int *applied, cache_err *err) {
    long long v;
    int rc = int_reply(r, 2, (const char *[]){ "PERSIST", k }, (size_t[]){ 7, kl }, &v, err);
    if (applied) *applied = !rc && v == 1;
    if (rc || v == 1) return rc;
    int gone = 0;
    if ((rc = missing(r, k, kl, &gone, err)) != STRATA_OK) return rc;
    return gone ? STRATA_ENOTFOUND : STRATA_OK;
}

int rc_ttl(rcache *r, const void *k, size_t kl, int64_t now, int64_t *ttl_ms, int64_t *at_ms, cache_err *err) {
    long long v;
    int rc = int_reply(r, 2, (const char *[]){ "PTTL", k }, (size_t[]){ 4, kl }, &v, err);
    if (rc) return rc;
    if (v == -2) return STRATA_ENOTFOUND;
    if (ttl_ms) *ttl_ms = v;
    if (at_ms) *at_ms = v < 0 ? -1 : now + v;
    return STRATA_OK;
}

int rc_incrby(rcache *r, const void *k, size_t kl, int64_t delta, int64_t *result, cache_err *err) {
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, delta);
    long long v;
    int rc = int_reply(r, 3, (const char *[]){ "INCRBY", k, num }, (size_t[]){ 6, kl, strlen(num) }, &v, err);
    if (!rc && result) *result = v;
    return rc;
}

int rc_append(rcache *r, const void *k, size_t kl, const void *v, size_t vl, size_t *len, cache_err *err) {
    long long n;
    int rc = int_reply(r, 3, (const char *[]){ "APPEND", k, v }, (size_t[]){ 6, kl, vl }, &n, err);
    if (!rc && len) *len = (size_t)n;
    return rc;
}

int rc_strlen(rcache *r, const void *k, size_t kl, size_t *len, cache_err *err) {
    long long n;
    *len = 0;
    int rc = int_reply(r, 2, (const char *[]){ "STRLEN", k }, (size_t[]){ 6, kl }, &n, err);
    if (rc) return rc;
    *len = (size_t)n;
    if (n) return STRATA_OK;
    int gone = 0;
    if ((rc = missing(r, k, kl, &gone, err)) != STRATA_OK) return rc;
    return gone ? STRATA_ENOTFOUND : STRATA_OK;
}

/* argv = { cmd, extra..., then the pairs or keys } */
static int build(size_t fixed, size_t n, size_t per, const char ***av, size_t **al, cache_err *err) {
    size_t total = fixed + n * per;
    if (total > INT32_MAX) {
        CACHE_ERR(err, "too many keys");
        return STRATA_EINVAL;
    }
    *av = malloc(total * sizeof **av);
    *al = malloc(total * sizeof **al);
    if (!*av || !*al) {
        free(*av);
        free(*al);
        CACHE_ERR(err, "out of memory");
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

int rc_mget(rcache *r, size_t n, const void *const *ks, const size_t *kls, strata_cache_mget_fn fn, void *ctx,
            cache_err *err) {
    const char **av;
    size_t *al;
    int rc = build(1, n, 1, &av, &al, err);
    if (rc) return rc;
    av[0] = "MGET";
    al[0] = 4;
    for (size_t i = 0; i < n; i++) { av[1 + i] = ks[i]; al[1 + i] = kls[i]; }
    redisReply *rep;
    rc = call(r, (int)(n + 1), av, al, &rep, err);
    free(av);
    free(al);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) return unexpected(rep, err);
    for (size_t i = 0; i < n && !rc; i++) {
        redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_STRING) rc = fn ? fn(ctx, i, e->str, e->len) : 0;
        else rc = fn ? fn(ctx, i, NULL, 0) : 0;
    }
    freeReplyObject(rep);
    return rc;
}

int rc_mset(rcache *r, size_t n, const void *const *ks, const size_t *kls, const void *const *vs,
            const size_t *vls, int cond, cache_err *err) {
    const char **av;
    size_t *al;
    int rc = build(1, n, 2, &av, &al, err);
    if (rc) return rc;
    av[0] = cond == STRATA_CACHE_NX ? "MSETNX" : "MSET";
    al[0] = strlen(av[0]);
    for (size_t i = 0; i < n; i++) {
        av[1 + 2 * i] = ks[i];
        al[1 + 2 * i] = kls[i];
        av[2 + 2 * i] = vs[i];
        al[2 + 2 * i] = vls[i];
    }
    redisReply *rep;
    rc = call(r, (int)(2 * n + 1), av, al, &rep, err);
    free(av);
    free(al);
    if (rc) return rc;
    int exists = rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
    freeReplyObject(rep);
    return exists ? STRATA_EEXIST : STRATA_OK;
}

int rc_scan(rcache *r, uint64_t cursor, const char *match, size_t mlen, size_t count, strata_cache_key_fn fn,
            void *ctx, uint64_t *next, cache_err *err) {
    char cur[24], cnt[24];
    snprintf(cur, sizeof cur, "%" PRIu64, cursor);
    snprintf(cnt, sizeof cnt, "%zu", count ? count : (size_t)STRATA_CACHE_SCAN_DEFAULT_COUNT);
    const char *av[6] = { "SCAN", cur, "COUNT", cnt };
    size_t al[6] = { 4, strlen(cur), 5, strlen(cnt) };
    int n = 4;
    if (match) {
        av[n] = "MATCH";
        al[n++] = 5;
        av[n] = match;
        al[n++] = mlen;
    }
    redisReply *rep;
    int rc = call(r, n, av, al, &rep, err);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_ARRAY)
        return unexpected(rep, err);
    *next = strtoull(rep->element[0]->str, NULL, 10);
    redisReply *keys = rep->element[1];
    for (size_t i = 0; i < keys->elements && !rc; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING)
            rc = fn ? fn(ctx, keys->element[i]->str, keys->element[i]->len) : 0;
    freeReplyObject(rep);
    return rc;
}

int rc_dbsize(rcache *r, uint64_t *n, cache_err *err) {
    long long v;
    int rc = int_reply(r, 1, (const char *[]){ "DBSIZE" }, (size_t[]){ 6 }, &v, err);
    if (!rc) *n = (uint64_t)v;
    return rc;
}

int rc_flush(rcache *r, cache_err *err) {
    redisReply *rep;
    int rc = call(r, 1, (const char *[]){ "FLUSHDB" }, (size_t[]){ 7 }, &rep, err);
    if (rep) freeReplyObject(rep);
    return rc;
}

static uint64_t info_u64(const char *text, const char *field) {
    size_t fl = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') return strtoull(p + fl + 1, NULL, 10);
    return 0;
}

int rc_info(rcache *r, strata_cache_stats *o, cache_err *err) {
    redisReply *rep;
    int rc = call(r, 1, (const char *[]){ "INFO" }, (size_t[]){ 4 }, &rep, err);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_STRING) return unexpected(rep, err);
    const char *t = rep->str;
    o->used_memory = info_u64(t, "used_memory");
    o->maxmemory = info_u64(t, "maxmemory");
    o->evictions = info_u64(t, "evicted_keys");
    o->expirations = info_u64(t, "expired_keys");
    char dbname[32];
    snprintf(dbname, sizeof dbname, "db%d:", r->db);
    const char *db = strstr(t, dbname);
    if (db) {
        const char *k = strstr(db, "keys="), *e = strstr(db, "expires=");
        if (k) o->keys = strtoull(k + 5, NULL, 10);
        if (e) o->expires = strtoull(e + 8, NULL, 10);
    }
    const char *pol = strstr(t, "maxmemory_policy:");
    o->policy = STRATA_CACHE_NOEVICTION;
    if (pol) {
        char name[32];
        size_t n = strcspn(pol + 17, "\r\n");
        if (n < sizeof name) {
            memcpy(name, pol + 17, n);
            name[n] = 0;
            int p;
            if (cache_policy_parse(name, &p) == STRATA_OK) o->policy = p;
        }
    }
    freeReplyObject(rep);
    return STRATA_OK;
}

int rc_config(rcache *r, uint64_t maxmemory, int policy, cache_err *err) {
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, maxmemory);
    const char *pol = cache_policy_name(policy);
    if (!pol) {
        CACHE_ERR(err, "unknown eviction policy %d", policy);
        return STRATA_EINVAL;
    }
    redisReply *rep;
    int rc = call(r, 6, (const char *[]){ "CONFIG", "SET", "maxmemory", num, "maxmemory-policy", pol },
                  (size_t[]){ 6, 3, 9, strlen(num), 16, strlen(pol) }, &rep, err);
    if (rep) freeReplyObject(rep);
    return rc;
}
