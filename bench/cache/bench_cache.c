/* bench_cache.c — the hot tier against its anchor, Redis (bench/cache/README.md).
 *
 *   bench_cache get [--keys N] [--ops M]
 *       In-process GET of a small value, single-threaded: strata_cache_get (a
 *       malloc'd copy the caller frees) and strata_cache_get_fn (the value handed to
 *       a callback), on a hot set of 1000 keys and on N keys. Goal >= 10M ops/s.
 *
 *   bench_cache hitratio --port P [--keys N] [--requests R] [--warmup W] [--value B] [--strata-only]
 *       One Zipf(0.99) stream of R requests over N keys, replayed cache-aside (GET;
 *       on a miss SET) against redis-server at 127.0.0.1:P (allkeys-lru, then
 *       allkeys-lfu) and against Strata's embedded cache (the same two policies),
 *       with maxmemory at 10% of the working set: the bytes redis-server needs to
 *       hold all N keys (used_memory with every key loaded, less used_memory empty).
 *       Both sides get that same data budget (Redis's maxmemory adds its empty
 *       baseline, because Redis counts its own bookkeeping against maxmemory). Also
 *       printed: exact LRU and the static top-10%-keys oracle for the same stream,
 *       and Strata at 10% of its own working set. Hits are counted after the first
 *       W requests. Requests go in batches of 64 (GETs, then the SETs of the misses)
 *       on both sides, so the two see exactly the same order. Goal: >= 0.80.
 */
#include "strata.h"

#include <hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define KEYLEN 11

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* "key:0001234": 11 bytes for ids below 10 million */
static void key_of(uint32_t id, char *k) {
    memcpy(k, "key:", 4);
    for (int i = KEYLEN - 1; i >= 4; i--, id /= 10) k[i] = (char)('0' + id % 10);
    k[KEYLEN] = 0;
}

static strata *open_tmp(char *dir, size_t len) {
    snprintf(dir, len, "/tmp/bench-cache-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    strata_options o = strata_options_default();
    o.create = 1;
    o.backup_interval_hours = -1;
    strata *db;
    if (strata_open(dir, &o, &db)) { fprintf(stderr, "open: %s\n", strata_open_errmsg()); exit(1); }
    return db;
}

static void rm_tmp(strata *db, const char *dir) {
    strata_close(db);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}

static void config(strata *db, uint64_t maxmemory, int policy) {
    strata_cache_config c;
    strata_cache_config_get(db, &c);
    c.maxmemory = maxmemory;
    c.policy = policy;
    if (strata_cache_config_set(db, &c)) { fprintf(stderr, "config: %s\n", strata_errmsg(db)); exit(1); }
}

/* ---- in-process GET ---- */
static volatile size_t sink;
static int take(void *ctx, const void *data, size_t len) {
    char *buf = ctx;
    memcpy(buf, data, len < 64 ? len : 64);
    sink += len;
    return 0;
}

static void bench_get(uint32_t nkeys, uint64_t ops) {
    char dir[64];
    strata *db = open_tmp(dir, sizeof dir);
    config(db, 0, STRATA_CACHE_ALLKEYS_LFU);
    char val[32];
    memset(val, 'v', sizeof val);
    uint32_t sets[2] = { 1000, nkeys };
    printf("in-process GET, single thread, 11-byte keys, 32-byte values (goal >= 10M ops/s)\n");
    for (int si = 0; si < 2; si++) {
        uint32_t n = sets[si];
        strata_cache_flush(db);
        char (*keys)[KEYLEN + 1] = malloc((size_t)n * sizeof *keys);
        for (uint32_t i = 0; i < n; i++) {
            key_of(i, keys[i]);
            strata_cache_set(db, keys[i], KEYLEN, val, sizeof val, NULL);
        }
        uint32_t *order = malloc(sizeof *order * (1u << 20));
        for (uint32_t i = 0; i < (1u << 20); i++) order[i] = (uint32_t)(rnd() % n);
        for (int variant = 0; variant < 2; variant++) {
            double best = 0;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = now_s();
                char buf[64];
                for (uint64_t i = 0; i < ops; i++) {
                    const char *k = keys[order[i & ((1u << 20) - 1)]];
                    if (variant == 0) {
                        void *v;
                        size_t len;
                        if (strata_cache_get(db, k, KEYLEN, &v, &len) == STRATA_OK) {
                            sink += len;
                            strata_free(v);
                        }
                    } else {
                        strata_cache_get_fn(db, k, KEYLEN, take, buf);
                    }
                }
                double r = (double)ops / (now_s() - t0);
                if (r > best) best = r;
            }
            printf("  %-8u keys  %-22s %6.2fM ops/s\n", n, variant == 0 ? "strata_cache_get" : "strata_cache_get_fn",
                   best / 1e6);
        }
        free(order);
        free(keys);
    }
    rm_tmp(db, dir);
}

/* ---- hit ratio ---- */
static uint32_t *zipf_stream(uint32_t n, uint64_t r, double s) {
    double *cdf = malloc(sizeof *cdf * n);
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) cdf[i] = (sum += 1.0 / pow((double)(i + 1), s));
    uint32_t *perm = malloc(sizeof *perm * n); /* popular ranks land on scattered keys */
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint32_t *out = malloc(sizeof *out * r);
    for (uint64_t q = 0; q < r; q++) {
        double u = (double)(rnd() >> 11) / 9007199254740992.0 * sum;
        uint32_t lo = 0, hi = n - 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] < u) lo = mid + 1; else hi = mid;
        }
        out[q] = perm[lo];
    }
    free(cdf);
    free(perm);
    return out;
}

/* Exact LRU of `cap` keys (a hash of ids -> list node) and the static oracle. */
static double exact_lru(const uint32_t *st, uint64_t r, uint64_t warm, uint32_t n, uint32_t cap) {
    uint32_t *prev = malloc(sizeof *prev * n), *next = malloc(sizeof *next * n);
    unsigned char *in = calloc(n, 1);
    uint32_t head = UINT32_MAX, tail = UINT32_MAX, size = 0;
    uint64_t hits = 0;
    for (uint64_t q = 0; q < r; q++) {
        uint32_t k = st[q];
        if (in[k]) {
            if (q >= warm) hits++;
            if (head == k) continue;
            next[prev[k]] = next[k];
            if (next[k] != UINT32_MAX) prev[next[k]] = prev[k]; else tail = prev[k];
        } else {
            if (size == cap) {
                uint32_t t = tail;
                in[t] = 0;
                tail = prev[t];
                if (tail != UINT32_MAX) next[tail] = UINT32_MAX; else head = UINT32_MAX;
                size--;
            }
            in[k] = 1;
            size++;
        }
        prev[k] = UINT32_MAX;
        next[k] = head;
        if (head != UINT32_MAX) prev[head] = k;
        head = k;
        if (tail == UINT32_MAX) tail = k;
    }
    free(prev);
    free(next);
    free(in);
    return (double)hits / (double)(r - warm);
}

static int cmp_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static double top_oracle(const uint32_t *st, uint64_t r, uint64_t warm, uint32_t n, uint32_t cap) {
    uint64_t *cnt = calloc(n, sizeof *cnt);
    for (uint64_t q = warm; q < r; q++) cnt[st[q]]++;
    qsort(cnt, n, sizeof *cnt, cmp_desc);
    uint64_t hits = 0;
    for (uint32_t i = 0; i < cap; i++) hits += cnt[i];
    free(cnt);
    return (double)hits / (double)(r - warm);
}

static redisReply *must(redisContext *c, redisReply *r) {
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "redis: %s\n", r ? r->str : c->errstr);
        exit(1);
    }
    return r;
}

static uint64_t redis_used(redisContext *c) {
    redisReply *r = must(c, redisCommand(c, "INFO memory"));
    const char *p = strstr(r->str, "used_memory:");
    uint64_t v = p ? strtoull(p + 12, NULL, 10) : 0;
    freeReplyObject(r);
    return v;
}

static uint64_t redis_dbsize(redisContext *c) {
    redisReply *r = must(c, redisCommand(c, "DBSIZE"));
    uint64_t v = (uint64_t)r->integer;
    freeReplyObject(r);
    return v;
}

static void redis_load(redisContext *c, uint32_t n, const char *val, size_t vl) {
    char k[KEYLEN + 1];
    for (uint32_t i = 0; i < n; i++) {
        key_of(i, k);
        redisAppendCommand(c, "SET %b %b", k, (size_t)KEYLEN, val, vl);
        if ((i + 1) % 1000 == 0 || i + 1 == n)
            for (uint32_t j = i - (i % 1000); j <= i; j++) {
                redisReply *r;
                redisGetReply(c, (void **)&r);
                freeReplyObject(must(c, r));
            }
    }
}

static double redis_run(redisContext *c, const uint32_t *st, uint64_t r, uint64_t warm, const char *val, size_t vl) {
    uint64_t hits = 0;
    char keys[BATCH][KEYLEN + 1];
    for (uint64_t q = 0; q < r; q += BATCH) {
        uint64_t m = r - q < BATCH ? r - q : BATCH;
        for (uint64_t i = 0; i < m; i++) {
            key_of(st[q + i], keys[i]);
            redisAppendCommand(c, "GET %b", keys[i], (size_t)KEYLEN);
        }
        int miss[BATCH], nmiss = 0;
        for (uint64_t i = 0; i < m; i++) {
            redisReply *rep;
            redisGetReply(c, (void **)&rep);
            must(c, rep);
            if (rep->type == REDIS_REPLY_STRING) {
                if (q + i >= warm) hits++;
            } else {
                miss[nmiss++] = (int)i;
            }
            freeReplyObject(rep);
        }
        for (int i = 0; i < nmiss; i++)
            redisAppendCommand(c, "SET %b %b", keys[miss[i]], (size_t)KEYLEN, val, vl);
        for (int i = 0; i < nmiss; i++) {
            redisReply *rep;
            redisGetReply(c, (void **)&rep);
            freeReplyObject(must(c, rep));
        }
    }
    return (double)hits / (double)(r - warm);
}

static int noop(void *ctx, const void *d, size_t l) { (void)ctx; (void)d; (void)l; return 0; }

static double strata_run(strata *db, const uint32_t *st, uint64_t r, uint64_t warm, const char *val, size_t vl) {
    uint64_t hits = 0;
    char keys[BATCH][KEYLEN + 1];
    for (uint64_t q = 0; q < r; q += BATCH) {
        uint64_t m = r - q < BATCH ? r - q : BATCH;
        int miss[BATCH], nmiss = 0;
        for (uint64_t i = 0; i < m; i++) {
            key_of(st[q + i], keys[i]);
            if (strata_cache_get_fn(db, keys[i], KEYLEN, noop, NULL) == STRATA_OK) {
                if (q + i >= warm) hits++;
            } else {
                miss[nmiss++] = (int)i;
            }
        }
        for (int i = 0; i < nmiss; i++) strata_cache_set(db, keys[miss[i]], KEYLEN, val, vl, NULL);
    }
    return (double)hits / (double)(r - warm);
}

static uint64_t strata_used(strata *db, uint64_t *keys) {
    strata_cache_stats s;
    strata_cache_stats_get(db, &s);
    if (keys) *keys = s.keys;
    return s.used_memory;
}

static void bench_hitratio(int port, uint32_t n, uint64_t r, uint64_t warm, size_t vl, int skip_redis) {
    char *val = malloc(vl);
    for (size_t i = 0; i < vl; i++) val[i] = (char)('a' + i % 26);
    printf("hit ratio: Zipf(0.99), %u keys (11 B) with %zu-byte values, %" PRIu64 " requests, hits counted after %" PRIu64 "\n",
           n, vl, r, warm);
    double t0 = now_s();
    uint32_t *st = zipf_stream(n, r, 0.99);
    printf("  stream generated in %.1f s\n", now_s() - t0);

    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) { fprintf(stderr, "cannot connect to redis-server on %d\n", port); exit(1); }

    freeReplyObject(must(c, redisCommand(c, "FLUSHALL")));
    freeReplyObject(must(c, redisCommand(c, "CONFIG SET maxmemory 0")));
    uint64_t base = redis_used(c);
    redis_load(c, n, val, vl);
    uint64_t full = redis_used(c), ws = full - base, budget = ws / 10;
    freeReplyObject(must(c, redisCommand(c, "FLUSHALL")));
    base = redis_used(c);
    char dir[64];
    strata *db = open_tmp(dir, sizeof dir);
    config(db, 0, STRATA_CACHE_ALLKEYS_LFU);
    uint64_t sbase = strata_used(db, NULL);
    char k[KEYLEN + 1];
    for (uint32_t i = 0; i < n; i++) {
        key_of(i, k);
        strata_cache_set(db, k, KEYLEN, val, vl, NULL);
    }
    uint64_t sws = strata_used(db, NULL) - sbase;
    printf("  working set: redis-server %.1f MB (%.0f B/key), Strata %.1f MB (%.0f B/key)\n", ws / 1048576.0,
           (double)ws / n, sws / 1048576.0, (double)sws / n);
    printf("  budget: %.2f MB of data (Redis maxmemory = that + its empty used_memory %.2f MB)\n\n", budget / 1048576.0,
           base / 1048576.0);
    printf("  %-34s %9s %12s\n", "", "hit ratio", "keys held");
    printf("  %-34s %9.4f %12u\n", "exact LRU, 10% of the keys", exact_lru(st, r, warm, n, n / 10), n / 10);
    printf("  %-34s %9.4f %12u\n", "top 10% of the keys (oracle)", top_oracle(st, r, warm, n, n / 10), n / 10);

    const char *names[2] = { "allkeys-lru", "allkeys-lfu" };
    int pols[2] = { STRATA_CACHE_ALLKEYS_LRU, STRATA_CACHE_ALLKEYS_LFU };
    double rr[2] = { 1, 1 }, sr[2];
    for (int p = 0; p < 2 && !skip_redis; p++) {
        freeReplyObject(must(c, redisCommand(c, "FLUSHALL")));
        freeReplyObject(must(c, redisCommand(c, "CONFIG SET maxmemory-policy %s", names[p])));
        freeReplyObject(must(c, redisCommand(c, "CONFIG SET maxmemory %llu", (unsigned long long)(base + budget))));
        freeReplyObject(must(c, redisCommand(c, "CONFIG RESETSTAT")));
        t0 = now_s();
        rr[p] = redis_run(c, st, r, warm, val, vl);
        printf("  %-34s %9.4f %12" PRIu64 "   (%.1f s)\n", names[p], rr[p], redis_dbsize(c), now_s() - t0);
        freeReplyObject(must(c, redisCommand(c, "CONFIG SET maxmemory 0")));
        /* (the line above names redis-server's policy) */
    }
    for (int p = 0; p < 2; p++) {
        strata_cache_flush(db);
        config(db, budget, pols[p]);
        t0 = now_s();
        sr[p] = strata_run(db, st, r, warm, val, vl);
        uint64_t held;
        strata_used(db, &held);
        printf("  Strata %-27s %9.4f %12" PRIu64 "   (%.1f s)\n", names[p], sr[p], held, now_s() - t0);
    }
    for (int p = 0; p < 2; p++) {
        strata_cache_flush(db);
        config(db, sws / 10, pols[p]);
        double h = strata_run(db, st, r, warm, val, vl);
        uint64_t held;
        strata_used(db, &held);
        printf("  Strata %-27s %9.4f %12" PRIu64 "   (10%% of Strata's own working set)\n", names[p], h, held);
    }
    if (!skip_redis)
        printf("\n  ratio Strata/Redis: allkeys-lru %.3f, allkeys-lfu %.3f\n", sr[0] / rr[0], sr[1] / rr[1]);
    printf("  Strata's best hit ratio %.4f (goal >= 0.80)\n", sr[0] > sr[1] ? sr[0] : sr[1]);
    redisFree(c);
    rm_tmp(db, dir);
    free(st);
    free(val);
}

static void usage(void) {
    fprintf(stderr, "usage: bench_cache get [--keys N] [--ops M]\n"
                    "       bench_cache hitratio --port P [--keys N] [--requests R] [--warmup W] [--value B] [--strata-only]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    uint64_t keys = 1000000, ops = 20000000, reqs = 6000000, warm = 1000000, value = 64;
    int port = 0, strata_only = 0;
    for (int i = 2; i < argc; i += 2) {
        if (!strcmp(argv[i], "--strata-only")) {
            strata_only = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc) usage();
        uint64_t v = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--keys")) keys = v;
        else if (!strcmp(argv[i], "--ops")) ops = v;
        else if (!strcmp(argv[i], "--requests")) reqs = v;
        else if (!strcmp(argv[i], "--warmup")) warm = v;
        else if (!strcmp(argv[i], "--value")) value = v;
        else if (!strcmp(argv[i], "--port")) port = (int)v;
        else usage();
    }
    if (!strcmp(argv[1], "get")) bench_get((uint32_t)keys, ops);
    else if (!strcmp(argv[1], "hitratio") && port > 0 && warm < reqs && keys >= 10) bench_hitratio(port, (uint32_t)keys, reqs, warm, value, strata_only);
    else usage();
    return 0;
}
