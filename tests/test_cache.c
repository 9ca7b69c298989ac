/* test_cache.c — the hot tier's embedded cache through the public API: Redis's
 * string semantics and their edges (SET options, TTLs with an injected clock,
 * INCR parsing and overflow, APPEND, MGET/MSET, SCAN's guarantee), lazy and active
 * expiry, exact memory accounting (an audit recomputes the books after every
 * phase), the eviction policies, the document partition, configuration, error
 * paths, and a threaded run. */
#include "test.h"
#include "internal.h"
#include "cache/cache.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t fake_now = 1700000000000;
static int64_t test_clock(void *ctx) { (void)ctx; return atomic_load(&fake_now); }
static void advance(int64_t ms) { atomic_fetch_add(&fake_now, ms); }

static strata *open_store(const char *dir, int fake) {
    strata_options o = t_options();
    o.create = 1;
    o.backup_interval_hours = -1;
    if (fake) o.clock = test_clock;
    strata *db = NULL;
    int rc = strata_open(dir, &o, &db);
    if (rc) {
        fprintf(stderr, "open: %s\n", strata_open_errmsg());
        exit(1);
    }
    return db;
}

static void audit(strata *db, int line) {
    char msg[256] = "";
    int rc = cache_audit(db->cache, msg, sizeof msg);
    if (rc) {
        t_failed++;
        fprintf(stderr, "%s:%d: audit: %s\n", __FILE__, line, msg);
    } else {
        t_passed++;
    }
}
#define AUDIT(db) audit(db, __LINE__)

/* GET into a string for comparisons ("(nil)" on a miss). */
static char got[4096];
static const char *get(strata *db, const char *k) {
    void *v = NULL;
    size_t n = 0;
    int rc = strata_cache_get(db, k, strlen(k), &v, &n);
    if (rc == STRATA_ENOTFOUND) return "(nil)";
    if (rc) return "(error)";
    snprintf(got, sizeof got, "%.*s", (int)n, (char *)v);
    strata_free(v);
    return got;
}
static int set(strata *db, const char *k, const char *v) {
    return strata_cache_set(db, k, strlen(k), v, strlen(v), NULL);
}
static int set_o(strata *db, const char *k, const char *v, int cond, int mode, int64_t ttl) {
    strata_cache_set_opts o = { 0 };
    o.cond = cond;
    o.ttl_mode = mode;
    o.ttl = ttl;
    return strata_cache_set(db, k, strlen(k), v, strlen(v), &o);
}
static int64_t pttl(strata *db, const char *k) {
    int64_t t = 0;
    int rc = strata_cache_ttl(db, k, strlen(k), &t, NULL);
    return rc == STRATA_ENOTFOUND ? -2 : t;
}

static int count_keys(void *ctx, const void *key, size_t len) {
    (void)key; (void)len;
    (*(int *)ctx)++;
    return 0;
}

static int collect_old(void *ctx, const void *data, size_t len) {
    snprintf(ctx, 64, "%.*s", (int)len, (const char *)data);
    return 0;
}

static void test_basics(strata *db) {
    CHECK_OK(set(db, "a", "1"));
    CHECK(strcmp(get(db, "a"), "1") == 0);
    CHECK(strcmp(get(db, "missing"), "(nil)") == 0);
    /* keys and values are bytes: NULs, the empty key, the empty value */
    CHECK_OK(strata_cache_set(db, "k\0x", 3, "v\0w", 3, NULL));
    void *v;
    size_t n;
    CHECK_OK(strata_cache_get(db, "k\0x", 3, &v, &n));
    CHECK(n == 3 && memcmp(v, "v\0w", 3) == 0 && ((char *)v)[3] == 0);
    strata_free(v);
    CHECK_RC(strata_cache_get(db, "k", 1, &v, &n), STRATA_ENOTFOUND);
    CHECK(v == NULL && n == 0);
    CHECK(strstr(strata_errmsg(db), "no such key") != NULL);
    CHECK_OK(strata_cache_set(db, NULL, 0, "", 0, NULL));
    CHECK_OK(strata_cache_get(db, "", 0, &v, &n));
    CHECK(n == 0);
    strata_free(v);
    int ex = -1;
    CHECK_OK(strata_cache_exists(db, "", 0, &ex));
    CHECK(ex == 1);
    CHECK_OK(strata_cache_del(db, "", 0));
    CHECK_RC(strata_cache_del(db, "", 0), STRATA_ENOTFOUND);
    CHECK_OK(strata_cache_exists(db, "", 0, &ex));
    CHECK(ex == 0);
    /* overwrite with longer and shorter values */
    CHECK_OK(set(db, "a", "a much longer value than before, to move the entry"));
    CHECK(strcmp(get(db, "a"), "a much longer value than before, to move the entry") == 0);
    CHECK_OK(set(db, "a", "s"));
    CHECK(strcmp(get(db, "a"), "s") == 0);
    AUDIT(db);
}

/* Keys on both sides of the short/long key encoding (63/64 bytes), with and without
 * TTLs, through every operation that resizes or moves an entry. */
static void test_key_lengths(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    size_t lens[] = { 0, 1, 62, 63, 64, 65, 1000, 100000 };
    char *k = malloc(100001);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t kl = lens[i];
        for (size_t j = 0; j < kl; j++) k[j] = (char)('a' + (j * 7 + i) % 26);
        void *v;
        size_t n;
        CHECK_OK(strata_cache_set(db, k, kl, "v1", 2, NULL));
        strata_cache_set_opts o = { 0 };
        o.ttl_mode = STRATA_CACHE_TTL_REL;
        o.ttl = 5000 + (int64_t)i;
        CHECK_OK(strata_cache_set(db, k, kl, "value-two", 9, &o));
        CHECK_OK(strata_cache_append(db, k, kl, "-and-more-bytes-to-grow-the-entry", 33, &n));
        CHECK(n == 42);
        int64_t t = 0;
        CHECK_OK(strata_cache_ttl(db, k, kl, &t, NULL));
        CHECK(t == 5000 + (int64_t)i);
        CHECK_OK(strata_cache_get(db, k, kl, &v, &n));
        CHECK(n == 42 && memcmp(v, "value-two-and-more", 18) == 0);
        strata_free(v);
        CHECK_OK(strata_cache_set(db, k, kl, "7", 1, &o)); /* shrink, TTL kept by the new one */
        CHECK_OK(strata_cache_incrby(db, k, kl, 3, &t));
        CHECK(t == 10);
        CHECK_OK(strata_cache_persist(db, k, kl, NULL));
        CHECK_OK(strata_cache_expire(db, k, kl, STRATA_CACHE_TTL_REL, 100, 0, NULL));
        o.ttl_mode = STRATA_CACHE_TTL_KEEP;
        CHECK_OK(strata_cache_set(db, k, kl, "a longer value than before", 26, &o));
        CHECK_OK(strata_cache_ttl(db, k, kl, &t, NULL));
        CHECK(t == 100);
    }
    uint64_t size = 0, cur = 0;
    CHECK_OK(strata_cache_dbsize(db, &size));
    CHECK(size == sizeof lens / sizeof lens[0]);
    int seen = 0;
    do CHECK_OK(strata_cache_scan(db, cur, NULL, 100, count_keys, &seen, &cur)); while (cur);
    CHECK(seen == (int)(sizeof lens / sizeof lens[0]));
    AUDIT(db);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t j = 0; j < lens[i]; j++) k[j] = (char)('a' + (j * 7 + i) % 26);
        CHECK_OK(strata_cache_del(db, k, lens[i]));
    }
    free(k);
    AUDIT(db);
}

static void test_set_options(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    CHECK_RC(set_o(db, "nx", "1", STRATA_CACHE_XX, 0, 0), STRATA_ENOTFOUND);
    CHECK(strcmp(get(db, "nx"), "(nil)") == 0);
    CHECK_OK(set_o(db, "nx", "1", STRATA_CACHE_NX, 0, 0));
    CHECK_RC(set_o(db, "nx", "2", STRATA_CACHE_NX, 0, 0), STRATA_EEXIST);
    CHECK(strcmp(get(db, "nx"), "1") == 0);
    CHECK_OK(set_o(db, "nx", "3", STRATA_CACHE_XX, 0, 0));
    CHECK(strcmp(get(db, "nx"), "3") == 0);

    /* SET ... GET: the old value, written or not */
    char old[64] = "";
    strata_cache_set_opts o = { 0 };
    o.old_value = collect_old;
    o.old_value_ctx = old;
    CHECK_OK(strata_cache_set(db, "nx", 2, "4", 1, &o));
    CHECK(strcmp(old, "3") == 0);
    old[0] = 0;
    o.cond = STRATA_CACHE_NX;
    CHECK_RC(strata_cache_set(db, "nx", 2, "5", 1, &o), STRATA_EEXIST);
    CHECK(strcmp(old, "4") == 0 && strcmp(get(db, "nx"), "4") == 0);
    strcpy(old, "untouched");
    o.cond = STRATA_CACHE_ALWAYS;
    CHECK_OK(strata_cache_set(db, "fresh", 5, "v", 1, &o));
    CHECK(strcmp(old, "untouched") == 0);

    /* TTLs: EX/PX, EXAT/PXAT, KEEPTTL, and SET without options clears a TTL */
    CHECK_OK(set_o(db, "t", "v", 0, STRATA_CACHE_TTL_REL, 10000));
    CHECK(pttl(db, "t") == 10000);
    advance(2500);
    CHECK(pttl(db, "t") == 7500);
    CHECK_OK(set_o(db, "t", "w", 0, STRATA_CACHE_TTL_KEEP, 0));
    CHECK(pttl(db, "t") == 7500 && strcmp(get(db, "t"), "w") == 0);
    CHECK_OK(set(db, "t", "x"));
    CHECK(pttl(db, "t") == -1);
    int64_t at = atomic_load(&fake_now) + 5000, at_out = 0, ttl_out = 0;
    CHECK_OK(set_o(db, "t", "y", 0, STRATA_CACHE_TTL_AT, at));
    CHECK_OK(strata_cache_ttl(db, "t", 1, &ttl_out, &at_out));
    CHECK(ttl_out == 5000 && at_out == at);
    /* invalid expire times, Redis's wording */
    CHECK_RC(set_o(db, "t", "z", 0, STRATA_CACHE_TTL_REL, 0), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "invalid expire time in 'set' command") != NULL);
    CHECK_RC(set_o(db, "t", "z", 0, STRATA_CACHE_TTL_REL, -5), STRATA_EINVAL);
    CHECK_RC(set_o(db, "t", "z", 0, STRATA_CACHE_TTL_AT, 0), STRATA_EINVAL);
    CHECK_RC(set_o(db, "t", "z", 0, STRATA_CACHE_TTL_REL, INT64_MAX), STRATA_EINVAL);
    CHECK(strcmp(get(db, "t"), "y") == 0); /* failed calls change nothing */
    /* a past absolute time: written, then expired on the next touch */
    CHECK_OK(set_o(db, "past", "v", 0, STRATA_CACHE_TTL_AT, 1));
    CHECK(strcmp(get(db, "past"), "(nil)") == 0);
    /* bad options */
    strata_cache_set_opts bad = { 0 };
    bad.reserved[0] = 1;
    CHECK_RC(strata_cache_set(db, "a", 1, "b", 1, &bad), STRATA_EINVAL);
    bad.reserved[0] = 0;
    bad.cond = 7;
    CHECK_RC(strata_cache_set(db, "a", 1, "b", 1, &bad), STRATA_EINVAL);
    bad.cond = 0;
    bad.ttl_mode = 9;
    CHECK_RC(strata_cache_set(db, "a", 1, "b", 1, &bad), STRATA_EINVAL);
    AUDIT(db);
}

static void test_getex_getdel(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    void *v;
    size_t n;
    CHECK_OK(set(db, "g", "val"));
    CHECK_OK(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_REL, 3000, &v, &n));
    CHECK(n == 3 && memcmp(v, "val", 3) == 0);
    strata_free(v);
    CHECK(pttl(db, "g") == 3000);
    CHECK_OK(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_KEEP, 0, &v, &n));
    strata_free(v);
    CHECK(pttl(db, "g") == 3000);
    CHECK_OK(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_NONE, 0, &v, &n));
    strata_free(v);
    CHECK(pttl(db, "g") == -1);
    CHECK_RC(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_REL, 0, &v, &n), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "'getex'") != NULL);
    /* an absolute time already past: the value is returned and the key deleted */
    CHECK_OK(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_AT, atomic_load(&fake_now) - 1, &v, &n));
    strata_free(v);
    CHECK(strcmp(get(db, "g"), "(nil)") == 0);
    CHECK_RC(strata_cache_getex(db, "g", 1, STRATA_CACHE_TTL_KEEP, 0, &v, &n), STRATA_ENOTFOUND);
    CHECK_OK(set(db, "d", "x"));
    CHECK_OK(strata_cache_getdel(db, "d", 1, &v, &n));
    CHECK(n == 1 && memcmp(v, "x", 1) == 0);
    strata_free(v);
    CHECK_RC(strata_cache_getdel(db, "d", 1, &v, &n), STRATA_ENOTFOUND);
    CHECK_RC(strata_cache_getex(db, "d", 1, 17, 0, &v, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_getex(db, "d", 1, STRATA_CACHE_TTL_KEEP, 0, NULL, &n), STRATA_EINVAL);
    AUDIT(db);
}

static void test_expire(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    int ap = -1;
    CHECK_RC(strata_cache_expire(db, "none", 4, STRATA_CACHE_TTL_REL, 1000, 0, &ap), STRATA_ENOTFOUND);
    CHECK(ap == 0);
    CHECK_OK(set(db, "e", "v"));
    /* NX: only without a TTL; XX: only with one */
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 1000, STRATA_CACHE_EXPIRE_XX, &ap));
    CHECK(ap == 0 && pttl(db, "e") == -1);
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 1000, STRATA_CACHE_EXPIRE_NX, &ap));
    CHECK(ap == 1 && pttl(db, "e") == 1000);
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 5000, STRATA_CACHE_EXPIRE_NX, &ap));
    CHECK(ap == 0 && pttl(db, "e") == 1000);
    /* GT / LT */
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 500, STRATA_CACHE_EXPIRE_GT, &ap));
    CHECK(ap == 0 && pttl(db, "e") == 1000);
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 2000, STRATA_CACHE_EXPIRE_GT, &ap));
    CHECK(ap == 1 && pttl(db, "e") == 2000);
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 3000, STRATA_CACHE_EXPIRE_LT, &ap));
    CHECK(ap == 0);
    CHECK_OK(strata_cache_expire(db, "e", 1, STRATA_CACHE_TTL_REL, 100, STRATA_CACHE_EXPIRE_LT | STRATA_CACHE_EXPIRE_XX, &ap));
    CHECK(ap == 1 && pttl(db, "e") == 100);
    /* no TTL is an infinite one: GT never applies, LT always does */
    CHECK_OK(set(db, "p", "v"));
    CHECK_OK(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, 100, STRATA_CACHE_EXPIRE_GT, &ap));
    CHECK(ap == 0);
    CHECK_OK(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, 100, STRATA_CACHE_EXPIRE_LT, &ap));
    CHECK(ap == 1);
    /* incompatible flags, Redis's messages */
    CHECK_RC(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, 1, STRATA_CACHE_EXPIRE_NX | STRATA_CACHE_EXPIRE_GT, &ap),
             STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "NX and XX, GT or LT") != NULL);
    CHECK_RC(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, 1, STRATA_CACHE_EXPIRE_GT | STRATA_CACHE_EXPIRE_LT, &ap),
             STRATA_EINVAL);
    CHECK_RC(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, 1, 64, &ap), STRATA_EINVAL);
    CHECK_RC(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_KEEP, 1, 0, &ap), STRATA_EINVAL);
    CHECK_RC(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, INT64_MAX, 0, &ap), STRATA_EINVAL);
    /* a negative TTL or a past time deletes the key and counts as applied */
    CHECK_OK(strata_cache_expire(db, "p", 1, STRATA_CACHE_TTL_REL, -1, 0, &ap));
    CHECK(ap == 1 && strcmp(get(db, "p"), "(nil)") == 0);
    CHECK_OK(set(db, "q", "v"));
    CHECK_OK(strata_cache_expire(db, "q", 1, STRATA_CACHE_TTL_AT, atomic_load(&fake_now), 0, &ap));
    CHECK(ap == 1 && pttl(db, "q") == -2);
    /* PERSIST */
    CHECK_OK(set_o(db, "r", "v", 0, STRATA_CACHE_TTL_REL, 100));
    CHECK_OK(strata_cache_persist(db, "r", 1, &ap));
    CHECK(ap == 1 && pttl(db, "r") == -1);
    CHECK_OK(strata_cache_persist(db, "r", 1, &ap));
    CHECK(ap == 0);
    CHECK_RC(strata_cache_persist(db, "zz", 2, &ap), STRATA_ENOTFOUND);
    /* lazy expiry: the key is alive at its exact expiry time, gone 1 ms later */
    CHECK_OK(set_o(db, "l", "v", 0, STRATA_CACHE_TTL_REL, 50));
    advance(50);
    CHECK(strcmp(get(db, "l"), "v") == 0 && pttl(db, "l") == 0);
    advance(1);
    strata_cache_stats st;
    CHECK_OK(strata_cache_stats_get(db, &st));
    uint64_t before = st.expirations;
    CHECK(strcmp(get(db, "l"), "(nil)") == 0);
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.expirations == before + 1);
    /* active expiry: the cycle reaps keys nobody touches */
    CHECK_OK(strata_cache_flush(db));
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof k, "act:%d", i);
        CHECK_OK(set_o(db, k, "v", 0, STRATA_CACHE_TTL_REL, 10 + i % 7));
    }
    uint64_t size0 = 0, size1 = 0;
    CHECK_OK(strata_cache_dbsize(db, &size0));
    CHECK_OK(strata_cache_stats_get(db, &st));
    before = st.expirations;
    advance(100);
    /* (the background thread may reap some of them first: it runs on this clock too) */
    for (int i = 0; i < 20; i++) cache_expire_cycle(db->cache);
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.expirations == before + 300);
    CHECK_OK(strata_cache_dbsize(db, &size1));
    CHECK(size1 == size0 - 300);
    AUDIT(db);
}

static void test_incr(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    int64_t r = 0;
    CHECK_OK(strata_cache_incrby(db, "n", 1, 1, &r));
    CHECK(r == 1);
    CHECK_OK(strata_cache_incrby(db, "n", 1, -11, &r));
    CHECK(r == -10 && strcmp(get(db, "n"), "-10") == 0);
    /* Redis's strict integer form */
    const char *bad[] = { "", " 1", "1 ", "+1", "01", "-0", "1.5", "abc", "0x10", "-", "99999999999999999999",
                          "9223372036854775808", "-9223372036854775809", "123456789012345678901" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(set(db, "s", bad[i]));
        CHECK_RC(strata_cache_incrby(db, "s", 1, 1, &r), STRATA_EINVAL);
        CHECK(strstr(strata_errmsg(db), "value is not an integer or out of range") != NULL);
        CHECK(strcmp(get(db, "s"), bad[i]) == 0);
    }
    CHECK_OK(set(db, "s", "0"));
    CHECK_OK(strata_cache_incrby(db, "s", 1, 0, &r));
    CHECK(r == 0);
    /* overflow both ways */
    CHECK_OK(set(db, "big", "9223372036854775807"));
    CHECK_RC(strata_cache_incrby(db, "big", 3, 1, &r), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "increment or decrement would overflow") != NULL);
    CHECK_OK(strata_cache_incrby(db, "big", 3, -1, &r));
    CHECK(r == INT64_MAX - 1);
    CHECK_OK(set(db, "small", "-9223372036854775808"));
    CHECK_RC(strata_cache_incrby(db, "small", 5, -1, &r), STRATA_EINVAL);
    CHECK_OK(strata_cache_incrby(db, "small", 5, INT64_MAX, &r));
    CHECK(r == -1);
    /* the TTL survives INCR */
    CHECK_OK(set_o(db, "ttl", "5", 0, STRATA_CACHE_TTL_REL, 9000));
    CHECK_OK(strata_cache_incrby(db, "ttl", 3, 5, &r));
    CHECK(r == 10 && pttl(db, "ttl") == 9000);
    CHECK_OK(strata_cache_incrby(db, "ttl", 3, 1, NULL));
    AUDIT(db);
}

static void test_append_strlen(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    size_t n = 0;
    CHECK_OK(strata_cache_append(db, "a", 1, "he", 2, &n));
    CHECK(n == 2);
    CHECK_OK(strata_cache_append(db, "a", 1, "llo", 3, &n));
    CHECK(n == 5 && strcmp(get(db, "a"), "hello") == 0);
    CHECK_OK(strata_cache_append(db, "a", 1, "", 0, &n));
    CHECK(n == 5);
    /* many small appends stay linear (greedy growth) and exact in the books */
    for (int i = 0; i < 2000; i++) CHECK_OK(strata_cache_append(db, "grow", 4, "0123456789", 10, &n));
    CHECK(n == 20000);
    CHECK_OK(strata_cache_strlen(db, "grow", 4, &n));
    CHECK(n == 20000);
    CHECK_RC(strata_cache_strlen(db, "none", 4, &n), STRATA_ENOTFOUND);
    CHECK(n == 0);
    /* past the value limit: refused before anything is read or written */
    char small[8] = "x";
    CHECK_RC(strata_cache_append(db, "a", 1, small, STRATA_CACHE_VALUE_MAX - 2, &n), STRATA_ETOOBIG);
    CHECK(strstr(strata_errmsg(db), "proto-max-bulk-len") != NULL);
    CHECK_RC(strata_cache_append(db, "a", 1, small, (size_t)STRATA_CACHE_VALUE_MAX + 1, &n), STRATA_ETOOBIG);
    CHECK(strcmp(get(db, "a"), "hello") == 0);
    /* the TTL survives APPEND */
    CHECK_OK(set_o(db, "t", "x", 0, STRATA_CACHE_TTL_REL, 4000));
    CHECK_OK(strata_cache_append(db, "t", 1, "y", 1, &n));
    CHECK(pttl(db, "t") == 4000);
    AUDIT(db);
}

typedef struct mget_out { char v[8][16]; int missing[8]; } mget_out;
static int mget_cb(void *ctx, size_t i, const void *val, size_t len) {
    mget_out *o = ctx;
    o->missing[i] = val == NULL;
    if (val) snprintf(o->v[i], sizeof o->v[i], "%.*s", (int)len, (const char *)val);
    return 0;
}

static void test_mget_mset(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    const void *ks[4] = { "m1", "m2", "m1", "m3" };
    size_t kl[4] = { 2, 2, 2, 2 };
    const void *vs[4] = { "a", "b", "c", "d" };
    size_t vl[4] = { 1, 1, 1, 1 };
    CHECK_OK(set_o(db, "m1", "old", 0, STRATA_CACHE_TTL_REL, 1000));
    CHECK_OK(strata_cache_mset(db, 3, ks, kl, vs, vl, STRATA_CACHE_ALWAYS));
    CHECK(strcmp(get(db, "m1"), "c") == 0 && pttl(db, "m1") == -1); /* last wins, TTL cleared */
    mget_out o;
    memset(&o, 0, sizeof o);
    const void *gk[3] = { "m1", "nope", "m2" };
    size_t gl[3] = { 2, 4, 2 };
    CHECK_OK(strata_cache_mget(db, 3, gk, gl, mget_cb, &o));
    CHECK(strcmp(o.v[0], "c") == 0 && o.missing[1] && strcmp(o.v[2], "b") == 0);
    /* MSETNX: all or nothing */
    const void *nk[2] = { "m3", "m2" };
    CHECK_RC(strata_cache_mset(db, 2, nk, kl, vs, vl, STRATA_CACHE_NX), STRATA_EEXIST);
    CHECK(strcmp(get(db, "m3"), "(nil)") == 0);
    const void *nk2[2] = { "m3", "m4" };
    CHECK_OK(strata_cache_mset(db, 2, nk2, kl, vs, vl, STRATA_CACHE_NX));
    CHECK(strcmp(get(db, "m4"), "b") == 0);
    CHECK_RC(strata_cache_mset(db, 2, nk2, kl, vs, vl, STRATA_CACHE_XX), STRATA_EINVAL);
    CHECK_RC(strata_cache_mset(db, 2, NULL, kl, vs, vl, 0), STRATA_EINVAL);
    CHECK_RC(strata_cache_mget(db, 2, gk, gl, NULL, NULL), STRATA_EINVAL);
    CHECK_OK(strata_cache_mget(db, 0, NULL, NULL, mget_cb, &o));
    AUDIT(db);
}

/* SCAN: every key present throughout is returned at least once, even while the
 * tables grow between steps; MATCH filters; COUNT bounds the work. */
typedef struct seen { unsigned char *hit; int n, returned, bad; } seen;
static int scan_cb(void *ctx, const void *key, size_t len) {
    seen *s = ctx;
    int i;
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)key);
    s->returned++;
    if (sscanf(buf, "scan:%d", &i) == 1 && i >= 0 && i < s->n) s->hit[i] = 1;
    else if (strncmp(buf, "extra:", 6) != 0) s->bad++;
    return 0;
}

static void test_scan(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "scan:%d", i);
        CHECK_OK(set(db, k, "v"));
    }
    seen s = { calloc(N, 1), N, 0, 0 };
    uint64_t cur = 0, steps = 0;
    int extra = 0;
    do {
        CHECK_OK(strata_cache_scan(db, cur, NULL, 50, scan_cb, &s, &cur));
        /* grow the tables while the scan is under way */
        for (int j = 0; j < 20; j++) {
            char k[32];
            snprintf(k, sizeof k, "extra:%d", extra++);
            set(db, k, "v");
        }
    } while (cur != 0 && ++steps < 100000);
    int all = 1;
    for (int i = 0; i < N; i++) all &= s.hit[i];
    CHECK(all && s.bad == 0 && cur == 0);
    /* MATCH */
    memset(s.hit, 0, N);
    s.returned = 0;
    cur = 0;
    do CHECK_OK(strata_cache_scan(db, cur, "scan:1[0-9]", 1000, scan_cb, &s, &cur)); while (cur);
    CHECK(s.returned == 10);
    free(s.hit);
    CHECK_RC(strata_cache_scan(db, 0, NULL, 10, scan_cb, &s, NULL), STRATA_EINVAL);
    /* glob patterns, Redis's rules */
    CHECK(cache_glob_match("h?llo", 5, "hello", 5, 0));
    CHECK(cache_glob_match("h*llo", 5, "heeeello", 8, 0));
    CHECK(cache_glob_match("h[ae]llo", 8, "hallo", 5, 0));
    CHECK(!cache_glob_match("h[ae]llo", 8, "hillo", 5, 0));
    CHECK(cache_glob_match("h[^e]llo", 8, "hallo", 5, 0));
    CHECK(!cache_glob_match("h[^e]llo", 8, "hello", 5, 0));
    CHECK(cache_glob_match("h[a-b]llo", 9, "hbllo", 5, 0));
    CHECK(cache_glob_match("h\\*llo", 6, "h*llo", 5, 0));
    CHECK(!cache_glob_match("h\\*llo", 6, "hallo", 5, 0));
    CHECK(!cache_glob_match("*", 1, "", 0, 0)); /* as Redis's stringmatchlen; SCAN treats a lone * as "all" */
    CHECK(cache_glob_match("a*", 2, "a", 1, 0));
    CHECK(!cache_glob_match("[", 1, "a", 1, 0));
    CHECK(cache_glob_match("HeLLo", 5, "hello", 5, 1));
    /* the backtracking guard: this is quick, not exponential */
    const char *p = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    char str[200];
    memset(str, 'a', sizeof str);
    CHECK(!cache_glob_match(p, strlen(p), str, sizeof str, 0));
    AUDIT(db);
}

/* ---- memory accounting ---- */
static uint64_t used(strata *db) {
    strata_cache_stats st;
    strata_cache_stats_get(db, &st);
    return st.used_memory;
}

static void test_memory(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    uint64_t base = used(db);
    CHECK(base > 0); /* bucket arrays and sketches count too */
    CHECK_OK(set(db, "k1", "0123456789"));
    CHECK(used(db) - base == cache_entry_cost(2, 10));
    char big[5000];
    memset(big, 'x', sizeof big);
    CHECK_OK(strata_cache_set(db, "k1", 2, big, sizeof big, NULL));
    CHECK(used(db) - base == cache_entry_cost(2, sizeof big));
    CHECK_OK(strata_cache_set(db, "k1", 2, "y", 1, NULL));
    CHECK(used(db) - base == cache_entry_cost(2, 1));
    CHECK_OK(set_o(db, "k1", "y", 0, STRATA_CACHE_TTL_REL, 100000)); /* the heap array appears */
    CHECK(used(db) - base >= cache_entry_cost(2, 1));
    CHECK_OK(strata_cache_del(db, "k1", 2));
    AUDIT(db);
    /* random operations keep the books exact */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        char k[32], v[301];
        snprintf(k, sizeof k, "r:%d", rand() % 2000);
        int vl = rand() % 300;
        memset(v, 'a' + i % 26, (size_t)vl);
        v[vl] = 0;
        switch (rand() % 8) {
        case 0: case 1: case 2: strata_cache_set(db, k, strlen(k), v, (size_t)vl, NULL); break;
        case 3: strata_cache_del(db, k, strlen(k)); break;
        case 4: strata_cache_append(db, k, strlen(k), v, (size_t)(vl % 40), NULL); break;
        case 5: set_o(db, k, v, 0, STRATA_CACHE_TTL_REL, 1 + rand() % 500); break;
        case 6: strata_cache_persist(db, k, strlen(k), NULL); break;
        default: advance(7); get(db, k); break;
        }
    }
    AUDIT(db);
    cache_expire_cycle(db->cache);
    AUDIT(db);
}

/* ---- eviction ---- */
static strata_cache_config config(strata *db, uint64_t maxmemory, int policy) {
    strata_cache_config c;
    strata_cache_config_get(db, &c);
    c.maxmemory = maxmemory;
    c.policy = policy;
    CHECK_OK(strata_cache_config_set(db, &c));
    return c;
}

static void test_eviction(strata *db) {
    char v[100];
    memset(v, 'v', sizeof v);
    int policies[2] = { STRATA_CACHE_ALLKEYS_LRU, STRATA_CACHE_ALLKEYS_LFU };
    for (int pi = 0; pi < 2; pi++) {
        CHECK_OK(strata_cache_flush(db));
        config(db, 0, policies[pi]);
        uint64_t limit = used(db) + 200 * 1024;
        config(db, limit, policies[pi]);
        CHECK_OK(strata_cache_stats_reset(db));
        int over = 0;
        for (int i = 0; i < 20000; i++) {
            char k[32];
            snprintf(k, sizeof k, "ev:%d", i);
            CHECK_OK(strata_cache_set(db, k, strlen(k), v, sizeof v, NULL));
            if (used(db) > limit) over++;
        }
        CHECK(over == 0);
        strata_cache_stats st;
        CHECK_OK(strata_cache_stats_get(db, &st));
        CHECK(st.evictions > 10000 && st.keys < 20000 && st.keys > 500);
        CHECK(st.keys + st.evictions == 20000);
        AUDIT(db);
        /* a value larger than one shard's share still fits: the budget is global */
        char *huge = malloc(100 * 1024);
        memset(huge, 'h', 100 * 1024);
        CHECK_OK(strata_cache_flush(db));
        CHECK_OK(strata_cache_set(db, "huge", 4, huge, 100 * 1024, NULL));
        size_t n = 0;
        CHECK_OK(strata_cache_strlen(db, "huge", 4, &n));
        CHECK(n == 100 * 1024);
        free(huge);
        /* lowering maxmemory evicts at once */
        for (int i = 0; i < 1000; i++) {
            char k[32];
            snprintf(k, sizeof k, "low:%d", i);
            strata_cache_set(db, k, strlen(k), v, sizeof v, NULL);
        }
        uint64_t low = used(db) - 100 * 1024;
        config(db, low, policies[pi]);
        CHECK(used(db) <= low);
        AUDIT(db);
    }

    /* noeviction: above maxmemory, writes that need memory fail; reads and deletes work */
    CHECK_OK(strata_cache_flush(db));
    CHECK_OK(strata_cache_stats_reset(db));
    config(db, 0, STRATA_CACHE_NOEVICTION);
    uint64_t limit = used(db) + 50 * 1024;
    config(db, limit, STRATA_CACHE_NOEVICTION);
    int i, rc = 0;
    for (i = 0; i < 5000 && rc == 0; i++) {
        char k[32];
        snprintf(k, sizeof k, "ne:%d", i);
        rc = strata_cache_set(db, k, strlen(k), v, sizeof v, NULL);
    }
    CHECK_RC(rc, STRATA_ENOMEM);
    CHECK(strstr(strata_errmsg(db), "OOM command not allowed") != NULL);
    CHECK(strcmp(get(db, "ne:0"), "(nil)") != 0);
    /* (a lookup may finish a table resize and free a little: go clearly over) */
    config(db, used(db) - 4096, STRATA_CACHE_NOEVICTION);
    CHECK_RC(strata_cache_incrby(db, "ne:x", 4, 1, NULL), STRATA_ENOMEM);
    CHECK_RC(strata_cache_append(db, "ne:0", 4, "x", 1, NULL), STRATA_ENOMEM);
    for (int j = 0; j < 50; j++) {
        char k[32];
        snprintf(k, sizeof k, "ne:%d", j);
        CHECK_OK(strata_cache_del(db, k, strlen(k)));
    }
    CHECK_OK(set(db, "ne:again", "v"));
    strata_cache_stats st;
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.evictions == 0);
    AUDIT(db);

    /* volatile-ttl: keys with a TTL go first, soonest expiry first; none left: OOM */
    CHECK_OK(strata_cache_flush(db));
    CHECK_OK(strata_cache_stats_reset(db));
    config(db, 0, STRATA_CACHE_VOLATILE_TTL);
    limit = used(db) + 100 * 1024;
    config(db, limit, STRATA_CACHE_VOLATILE_TTL);
    for (int j = 0; j < 200; j++) {
        char k[32];
        snprintf(k, sizeof k, "vt:%d", j);
        strata_cache_set_opts o = { 0 };
        o.ttl_mode = STRATA_CACHE_TTL_REL;
        o.ttl = 100000 + j; /* vt:0 expires first */
        CHECK_OK(strata_cache_set(db, k, strlen(k), v, sizeof v, &o));
    }
    for (i = 0; i < 5000; i++) {
        char k[32];
        snprintf(k, sizeof k, "perm:%d", i);
        if ((rc = strata_cache_set(db, k, strlen(k), v, sizeof v, NULL)) != STRATA_OK) break;
    }
    CHECK_RC(rc, STRATA_ENOMEM);
    CHECK(strcmp(get(db, "vt:199"), "(nil)") == 0 && strcmp(get(db, "perm:0"), "(nil)") != 0);
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.evictions == 200 && st.expires == 0);
    AUDIT(db);
    config(db, STRATA_CACHE_DEFAULT_MAXMEMORY, STRATA_CACHE_DEFAULT_POLICY);
}

/* TinyLFU keeps a hot set against a stream of one-hit keys that LRU would let
 * through; a small check here, the real hit ratios are in bench/cache. */
static void test_scan_resistance(strata *db) {
    CHECK_OK(strata_cache_flush(db));
    config(db, 0, STRATA_CACHE_ALLKEYS_LFU);
    char v[64];
    memset(v, 'z', sizeof v);
    config(db, used(db) + 120 * 1024, STRATA_CACHE_ALLKEYS_LFU);
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 400; i++) {
            char k[32];
            snprintf(k, sizeof k, "hot:%d", i);
            if (strata_cache_get_fn(db, k, strlen(k), collect_old, (char[64]){ 0 }) == STRATA_ENOTFOUND)
                strata_cache_set(db, k, strlen(k), v, sizeof v, NULL);
        }
    for (int i = 0; i < 20000; i++) {
        char k[32];
        snprintf(k, sizeof k, "once:%d", i);
        strata_cache_set(db, k, strlen(k), v, sizeof v, NULL);
    }
    int kept = 0;
    for (int i = 0; i < 400; i++) {
        char k[32];
        snprintf(k, sizeof k, "hot:%d", i);
        int ex = 0;
        strata_cache_exists(db, k, strlen(k), &ex);
        kept += ex;
    }
    CHECK(kept > 350);
    AUDIT(db);
    config(db, STRATA_CACHE_DEFAULT_MAXMEMORY, STRATA_CACHE_DEFAULT_POLICY);
}

/* ---- documents ---- */
static void test_docs(strata *db) {
    cache *c = db->cache;
    void *d;
    size_t n;
    CHECK_RC(cache_doc_get(c, "doc1", 4, &d, &n), STRATA_ENOTFOUND);
    uint64_t tok = cache_doc_token(c, "doc1", 4);
    CHECK_OK(cache_doc_put(c, "doc1", 4, "content one", 11, tok));
    CHECK_OK(cache_doc_get(c, "doc1", 4, &d, &n));
    CHECK(n == 11 && memcmp(d, "content one", 11) == 0 && ((char *)d)[11] == 0);
    free(d);
    /* the race: a token taken before an invalidation cannot put stale content */
    tok = cache_doc_token(c, "doc1", 4);
    cache_doc_invalidate(c, "doc1", 4);
    CHECK_RC(cache_doc_get(c, "doc1", 4, &d, &n), STRATA_ENOTFOUND);
    CHECK_OK(cache_doc_put(c, "doc1", 4, "stale", 5, tok));
    CHECK_RC(cache_doc_get(c, "doc1", 4, &d, &n), STRATA_ENOTFOUND);
    tok = cache_doc_token(c, "doc1", 4);
    CHECK_OK(cache_doc_put(c, "doc1", 4, "fresh", 5, tok));
    tok = cache_doc_token(c, "doc2", 4);
    cache_doc_clear(c);
    CHECK_RC(cache_doc_get(c, "doc1", 4, &d, &n), STRATA_ENOTFOUND);
    CHECK_OK(cache_doc_put(c, "doc2", 4, "stale", 5, tok));
    CHECK_RC(cache_doc_get(c, "doc2", 4, &d, &n), STRATA_ENOTFOUND);
    /* the doc namespace is separate from the keys */
    CHECK_OK(cache_doc_put(c, "same", 4, "doc", 3, cache_doc_token(c, "same", 4)));
    CHECK(strcmp(get(db, "same"), "(nil)") == 0);
    char out[64] = "";
    CHECK_OK(cache_doc_get_fn(c, "same", 4, collect_old, out));
    CHECK(strcmp(out, "doc") == 0);
    /* documents larger than doc_maxmemory / 8 are not kept */
    strata_cache_config cfg;
    CHECK_OK(strata_cache_config_get(db, &cfg));
    cfg.doc_maxmemory = 1 << 20;
    CHECK_OK(strata_cache_config_set(db, &cfg));
    char *big = calloc(1, 200 * 1024);
    CHECK_OK(cache_doc_put(c, "big", 3, big, 200 * 1024, cache_doc_token(c, "big", 3)));
    CHECK_RC(cache_doc_get(c, "big", 3, &d, &n), STRATA_ENOTFOUND);
    CHECK_OK(cache_doc_put(c, "mid", 3, big, 100 * 1024, cache_doc_token(c, "mid", 3)));
    CHECK_OK(cache_doc_get(c, "mid", 3, &d, &n));
    free(d);
    /* the budget holds */
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "d%d", i);
        CHECK_OK(cache_doc_put(c, id, strlen(id), big, 50 * 1024, cache_doc_token(c, id, strlen(id))));
    }
    free(big);
    strata_cache_stats st;
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.doc_used_memory <= (1 << 20) && st.doc_evictions > 0);
    CHECK(st.doc_hits >= 3 && st.doc_misses >= 4 && st.doc_hit_rate > 0 && st.doc_maxmemory == (1 << 20));
    /* doc_maxmemory 0: nothing is kept */
    cfg.doc_maxmemory = 0;
    CHECK_OK(strata_cache_config_set(db, &cfg));
    CHECK_OK(cache_doc_put(c, "x", 1, "y", 1, cache_doc_token(c, "x", 1)));
    CHECK_RC(cache_doc_get(c, "x", 1, &d, &n), STRATA_ENOTFOUND);
    cfg.doc_maxmemory = STRATA_CACHE_DEFAULT_DOC_MAXMEMORY;
    CHECK_OK(strata_cache_config_set(db, &cfg));
    AUDIT(db);
}

static void test_config_stats_errors(strata *db) {
    strata_cache_config c;
    CHECK_OK(strata_cache_config_get(db, &c));
    CHECK(c.maxmemory == STRATA_CACHE_DEFAULT_MAXMEMORY && c.policy == STRATA_CACHE_DEFAULT_POLICY && c.url[0] == 0);
    strata_cache_config bad = c;
    bad.policy = 9;
    CHECK_RC(strata_cache_config_set(db, &bad), STRATA_EINVAL);
    bad = c;
    bad.reserved[3] = 1;
    CHECK_RC(strata_cache_config_set(db, &bad), STRATA_EINVAL);
    bad = c;
    snprintf(bad.url, sizeof bad.url, "http://example");
    CHECK_RC(strata_cache_config_set(db, &bad), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "redis://") != NULL);
    snprintf(bad.url, sizeof bad.url, "redis://127.0.0.1:1");
    CHECK_RC(strata_cache_config_set(db, &bad), STRATA_EIO);
    memset(bad.url, 'x', sizeof bad.url);
    CHECK_RC(strata_cache_config_set(db, &bad), STRATA_EINVAL);
    CHECK_OK(strata_cache_config_get(db, &c));
    CHECK(c.url[0] == 0);
    CHECK_RC(strata_cache_config_set(db, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_config_get(db, NULL), STRATA_EINVAL);

    /* policy names */
    int p = -1;
    CHECK_OK(strata_cache_policy_parse("AllKeys-LRU", &p));
    CHECK(p == STRATA_CACHE_ALLKEYS_LRU);
    CHECK_RC(strata_cache_policy_parse("allkeys-random", &p), STRATA_EINVAL);
    CHECK_RC(strata_cache_policy_parse(NULL, &p), STRATA_EINVAL);
    CHECK(strcmp(strata_cache_policy_name(STRATA_CACHE_VOLATILE_TTL), "volatile-ttl") == 0);
    CHECK(strata_cache_policy_name(4) == NULL && strata_cache_policy_name(-1) == NULL);

    /* stats */
    CHECK_OK(strata_cache_flush(db));
    CHECK_OK(strata_cache_stats_reset(db));
    set(db, "h", "v");
    get(db, "h");
    get(db, "h");
    get(db, "x");
    strata_cache_stats st;
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.hits == 2 && st.misses == 1 && st.keys == 1 && st.hit_rate > 0.66 && st.hit_rate < 0.67);
    CHECK(st.remote == 0 && st.maxmemory == STRATA_CACHE_DEFAULT_MAXMEMORY);
    CHECK_RC(strata_cache_stats_get(db, NULL), STRATA_EINVAL);

    /* every function: a NULL handle, NULL out-pointers, oversized keys and values */
    void *v;
    size_t n;
    int ex;
    uint64_t u;
    char tiny[4] = "abc";
    CHECK_RC(strata_cache_set(NULL, "k", 1, "v", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_get(NULL, "k", 1, &v, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_get_fn(NULL, "k", 1, collect_old, tiny), STRATA_EINVAL);
    CHECK_RC(strata_cache_getdel(NULL, "k", 1, &v, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_getex(NULL, "k", 1, 0, 0, &v, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_del(NULL, "k", 1), STRATA_EINVAL);
    CHECK_RC(strata_cache_exists(NULL, "k", 1, &ex), STRATA_EINVAL);
    CHECK_RC(strata_cache_expire(NULL, "k", 1, STRATA_CACHE_TTL_REL, 1, 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_persist(NULL, "k", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_ttl(NULL, "k", 1, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_incrby(NULL, "k", 1, 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_append(NULL, "k", 1, "v", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_strlen(NULL, "k", 1, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_mget(NULL, 0, NULL, NULL, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_mset(NULL, 0, NULL, NULL, NULL, NULL, 0), STRATA_EINVAL);
    CHECK_RC(strata_cache_scan(NULL, 0, NULL, 0, NULL, NULL, &u), STRATA_EINVAL);
    CHECK_RC(strata_cache_dbsize(NULL, &u), STRATA_EINVAL);
    CHECK_RC(strata_cache_flush(NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_stats_get(NULL, &st), STRATA_EINVAL);
    CHECK_RC(strata_cache_stats_reset(NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_config_get(NULL, &c), STRATA_EINVAL);
    CHECK_RC(strata_cache_config_set(NULL, &c), STRATA_EINVAL);
    CHECK_RC(strata_cache_get(db, NULL, 3, &v, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_get(db, tiny, (size_t)STRATA_CACHE_KEY_MAX + 1, &v, &n), STRATA_ETOOBIG);
    CHECK_RC(strata_cache_set(db, "k", 1, NULL, 2, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_set(db, "k", 1, tiny, (size_t)STRATA_CACHE_VALUE_MAX + 1, NULL), STRATA_ETOOBIG);
    CHECK_RC(strata_cache_get(db, "k", 1, NULL, &n), STRATA_EINVAL);
    CHECK_RC(strata_cache_get_fn(db, "k", 1, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_exists(db, "k", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_strlen(db, "k", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cache_dbsize(db, NULL), STRATA_EINVAL);
    const void *nk[1] = { NULL };
    size_t nl[1] = { 0 };
    CHECK_RC(strata_cache_mget(db, 1, nk, nl, mget_cb, NULL), STRATA_EINVAL);
    const void *k1[1] = { "k" };
    size_t l1[1] = { 1 };
    const void *v1[1] = { NULL };
    CHECK_RC(strata_cache_mset(db, 1, k1, l1, v1, l1, 0), STRATA_EINVAL);
}

static int stop_cb(void *ctx, const void *data, size_t len) { (void)ctx; (void)data; (void)len; return 42; }

static void test_callbacks(strata *db) {
    CHECK_OK(set(db, "cb", "v"));
    CHECK(strata_cache_get_fn(db, "cb", 2, stop_cb, NULL) == 42);
    strata_cache_set_opts o = { 0 };
    o.old_value = stop_cb;
    CHECK(strata_cache_set(db, "cb", 2, "w", 1, &o) == 42);
    CHECK(strcmp(get(db, "cb"), "v") == 0); /* stopped before the write */
}

/* ---- threads: concurrent mixed operations, then an exact audit ---- */
typedef struct worker { strata *db; int id; int errors; } worker;
static void *work(void *arg) {
    worker *w = arg;
    unsigned seed = (unsigned)w->id * 7919u + 1;
    for (int i = 0; i < 30000; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "w:%d", rand_r(&seed) % 500);
        int vl = rand_r(&seed) % 64;
        memset(v, 'a' + w->id, (size_t)vl);
        int rc = STRATA_OK;
        switch (rand_r(&seed) % 9) {
        case 0: rc = strata_cache_set(w->db, k, strlen(k), v, (size_t)vl, NULL); break;
        case 1: { void *o; size_t n; rc = strata_cache_get(w->db, k, strlen(k), &o, &n); if (!rc) strata_free(o); break; }
        case 2: rc = strata_cache_del(w->db, k, strlen(k)); break;
        case 3: rc = strata_cache_incrby(w->db, "counter", 7, 1, NULL); break;
        case 4: rc = strata_cache_append(w->db, k, strlen(k), "x", 1, NULL); break;
        case 5: rc = strata_cache_expire(w->db, k, strlen(k), STRATA_CACHE_TTL_REL, rand_r(&seed) % 5, 0, NULL); break;
        case 6: {
            const void *ks[3] = { k, "w:1", "w:2" };
            size_t kl[3] = { strlen(k), 3, 3 };
            const void *vs[3] = { v, v, v };
            size_t vls[3] = { (size_t)vl, (size_t)vl, (size_t)vl };
            rc = strata_cache_mset(w->db, 3, ks, kl, vs, vls, 0);
            break;
        }
        case 7: { uint64_t next; rc = strata_cache_scan(w->db, (uint64_t)rand_r(&seed), NULL, 5, NULL, NULL, &next); break; }
        default: { int64_t t; rc = strata_cache_ttl(w->db, k, strlen(k), &t, NULL); break; }
        }
        if (rc != STRATA_OK && rc != STRATA_ENOTFOUND && rc != STRATA_EINVAL) w->errors++;
    }
    return NULL;
}

static void test_threads(const char *dir) {
    strata *db = open_store(dir, 0); /* the real clock: the expiry thread runs */
    strata_cache_config c;
    strata_cache_config_get(db, &c);
    c.maxmemory = 300 * 1024; /* eviction under contention too */
    CHECK_OK(strata_cache_config_set(db, &c));
    enum { T = 4 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){ db, i, 0 };
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].errors == 0);
    }
    CHECK(cache_expiry_thread_running(db->cache));
    AUDIT(db);
    /* the active cycle empties keys nobody reads (real clock, real thread) */
    for (int i = 0; i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "bg:%d", i);
        strata_cache_set_opts o = { 0 };
        o.ttl_mode = STRATA_CACHE_TTL_REL;
        o.ttl = 20;
        CHECK_OK(strata_cache_set(db, k, strlen(k), "v", 1, &o));
    }
    strata_cache_stats st;
    int waited = 0;
    do {
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
        strata_cache_stats_get(db, &st);
    } while (st.expires > 0 && ++waited < 100);
    CHECK(st.expires == 0);
    AUDIT(db);
    CHECK_OK(strata_close(db));
}

int main(void) {
    char *dir = t_tmpdir("cache");
    strata *db = open_store(dir, 1);
    test_basics(db);
    test_key_lengths(db);
    test_set_options(db);
    test_getex_getdel(db);
    test_expire(db);
    test_incr(db);
    test_append_strlen(db);
    test_mget_mset(db);
    test_scan(db);
    test_memory(db);
    test_eviction(db);
    test_scan_resistance(db);
    test_docs(db);
    test_config_stats_errors(db);
    test_callbacks(db);
    CHECK_OK(strata_close(db));
    char *dir2 = t_tmpdir("cache-threads");
    test_threads(dir2);
    t_rmtree(dir2);
    t_rmtree(dir);
    return t_done();
}
