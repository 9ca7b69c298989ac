/* test_docs.c — the document store: round trips, dedup, transactions, bad input,
 * cursors, streaming, corruption caught on read and by check, recovery of segment
 * tails, compaction (deleted content gone from every file), dictionaries, rollover. */
#include "test.h"
#include "util/sha256.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <dirent.h>

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx) { (void)ctx; return __atomic_load_n(&fake_now, __ATOMIC_RELAXED); }

static strata *open_opts(const char *dir, uint64_t seg_bytes, uint64_t max_doc) {
    strata_options o = t_options();
    o.create = 1;
    o.clock = fake_clock;
    o.segment_bytes = seg_bytes;
    o.max_doc_bytes = max_doc;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) { fprintf(stderr, "open: %s\n", strata_open_errmsg()); abort(); }
    return db;
}
static strata *open_store(const char *dir) { return open_opts(dir, 0, 0); }

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }
static void fill_random(uint8_t *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd(); }
static void fill_text(char *p, size_t n, unsigned seed) {
    static const char *words[] = { "storage ", "engine ", "segment ", "document ", "vector ", "the ", "of ",
                                   "commit ", "durable ", "index ", "query ", "cache ", "\n" };
    size_t o = 0;
    unsigned s = seed;
    while (o < n) {
        s = s * 1103515245u + 12345u;
        const char *w = words[(s >> 16) % 13];
        for (size_t k = 0; w[k] && o < n; k++) p[o++] = w[k];
    }
}

static int doc_is(strata *db, const char *id, const void *want, size_t n) {
    void *got = NULL;
    size_t len = 0;
    int rc = strata_doc_get(db, id, strlen(id), &got, &len);
    int ok = rc == STRATA_OK && len == n && (n == 0 || memcmp(got, want, n) == 0) && ((char *)got)[len] == 0;
    if (!ok) fprintf(stderr, "doc %s: rc=%d len=%zu want %zu (%s)\n", id, rc, len, n, strata_errmsg(db));
    strata_free(got);
    return ok;
}

static int put(strata *db, strata_txn *t, const char *id, const void *p, size_t n) {
    return strata_doc_put(db, t, id, strlen(id), p, n, NULL);
}

static void test_round_trips(const char *dir) {
    strata *db = open_store(dir);
    CHECK_OK(put(db, NULL, "empty", "", 0));
    CHECK(doc_is(db, "empty", "", 0));
    CHECK_OK(put(db, NULL, "small", "hello world", 11));
    CHECK(doc_is(db, "small", "hello world", 11));
    uint8_t bin[300];
    for (int i = 0; i < 300; i++) bin[i] = (uint8_t)i;
    CHECK_OK(put(db, NULL, "binary", bin, sizeof bin));
    CHECK(doc_is(db, "binary", bin, sizeof bin));
    size_t big = 3 * 1024 * 1024 + 12345; /* several records */
    char *text = malloc(big);
    fill_text(text, big, 7);
    CHECK_OK(put(db, NULL, "big", text, big));
    CHECK(doc_is(db, "big", text, big));
    uint8_t *noise = malloc(200000);
    fill_random(noise, 200000);
    CHECK_OK(put(db, NULL, "noise", noise, 200000));
    CHECK(doc_is(db, "noise", noise, 200000));

    /* Binary ids, including NUL and 0xff bytes, are distinct documents. */
    const uint8_t id1[] = { 0, 1, 0xff }, id2[] = { 0, 1, 0xfe };
    CHECK_OK(strata_doc_put(db, NULL, id1, 3, "one", 3, NULL));
    CHECK_OK(strata_doc_put(db, NULL, id2, 3, "two", 3, NULL));
    void *got;
    size_t len;
    CHECK_OK(strata_doc_get(db, id1, 3, &got, &len));
    CHECK(len == 3 && !memcmp(got, "one", 3));
    strata_free(got);

    /* Replace; stat fields; metadata; filename. */
    __atomic_store_n(&fake_now, 1700000001000, __ATOMIC_RELAXED);
    strata_doc_put_opts o = { .metadata_json = "{\"lang\":\"en\",\"n\":3}", .filename = "a.txt" };
    CHECK_OK(strata_doc_put(db, NULL, "small", 5, "hello again", 11, &o));
    CHECK(doc_is(db, "small", "hello again", 11));
    strata_doc_info *info = NULL;
    CHECK_OK(strata_doc_stat(db, "small", 5, &info));
    uint8_t sha[32];
    su_sha256("hello again", 11, sha);
    CHECK(info && info->size == 11 && !memcmp(info->content_hash, sha, 32) && !strcmp(info->filename, "a.txt") &&
          !strcmp(info->metadata_json, "{\"lang\":\"en\",\"n\":3}") && info->updated_at_ms == 1700000001000 &&
          info->created_at_ms == 1700000000000 && info->lsn > 0 && info->stored_size > 0 &&
          !strcmp(info->tier, "warm") && info->id_len == 5 && !memcmp(info->id, "small", 5));
    strata_doc_info_free(info);
    CHECK_OK(strata_doc_stat(db, "big", 3, &info));
    CHECK(info && info->stored_size < info->size && !strcmp(info->codec, "lz4"));
    strata_doc_info_free(info);
    CHECK_OK(strata_doc_stat(db, "noise", 5, &info));
    CHECK(info && !strcmp(info->codec, "raw"));
    strata_doc_info_free(info);

    int ex = -1;
    CHECK_OK(strata_doc_exists(db, "big", 3, &ex));
    CHECK(ex == 1);
    CHECK_OK(strata_doc_exists(db, "nope", 4, &ex));
    CHECK(ex == 0);
    CHECK_OK(strata_doc_delete(db, NULL, "noise", 5));
    CHECK_RC(strata_doc_get(db, "noise", 5, &got, &len), STRATA_ENOTFOUND);
    CHECK(strstr(strata_errmsg(db), "'noise' not found") != NULL);
    CHECK_RC(strata_doc_delete(db, NULL, "noise", 5), STRATA_ENOTFOUND);
    CHECK_RC(strata_doc_stat(db, "noise", 5, &info), STRATA_ENOTFOUND);
    CHECK_OK(strata_close(db));

    /* Everything survives a reopen; the last read time was recorded. */
    __atomic_store_n(&fake_now, 1700000009000, __ATOMIC_RELAXED);
    db = open_store(dir);
    CHECK(doc_is(db, "big", text, big));
    CHECK(doc_is(db, "empty", "", 0));
    CHECK_OK(strata_close(db));
    db = open_store(dir);
    CHECK_OK(strata_doc_stat(db, "big", 3, &info));
    CHECK(info && info->last_access_ms == 1700000009000);
    strata_doc_info_free(info);
    uint64_t problems = 99;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    CHECK_OK(strata_close(db));
    free(text);
    free(noise);
}

static void test_dedup_and_txn(const char *dir) {
    strata *db = open_store(dir);
    strata_stats a, b;
    CHECK_OK(strata_stats_get(db, &a));
    char *text = malloc(50000);
    fill_text(text, 50000, 99);
    CHECK_OK(put(db, NULL, "dup1", text, 50000));
    CHECK_OK(put(db, NULL, "dup2", text, 50000));
    CHECK_OK(strata_stats_get(db, &b));
    CHECK(b.documents == a.documents + 2 && b.contents == a.contents + 1);
    CHECK_OK(strata_doc_delete(db, NULL, "dup1", 4));
    CHECK(doc_is(db, "dup2", text, 50000));

    /* Identical new content twice in one transaction is appended once. */
    strata_stats c, d;
    CHECK_OK(strata_stats_get(db, &c));
    fill_text(text, 50000, 1234);
    strata_txn *tx;
    CHECK_OK(strata_txn_begin(db, &tx));
    CHECK_OK(put(db, tx, "same1", text, 50000));
    CHECK_OK(put(db, tx, "same2", text, 50000));
    CHECK_OK(strata_txn_commit(tx, NULL));
    CHECK_OK(strata_stats_get(db, &d));
    CHECK(d.contents == c.contents + 1);
    strata_doc_info *one = NULL;
    CHECK_OK(strata_doc_stat(db, "same1", 5, &one));
    CHECK(one && d.segment_bytes - c.segment_bytes == one->stored_size); /* one copy, not two */
    strata_doc_info_free(one);
    CHECK(doc_is(db, "same1", text, 50000) && doc_is(db, "same2", text, 50000));

    /* A transaction: all or nothing. */
    strata_txn *t;
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(put(db, t, "t1", "one", 3));
    CHECK_OK(put(db, t, "t2", "two", 3));
    CHECK_OK(strata_setting_set(db, t, "t.setting", "true"));
    CHECK_OK(strata_doc_delete(db, t, "never-existed", 13));
    CHECK_RC(strata_txn_commit(t, NULL), STRATA_ENOTFOUND);
    int ex = 1;
    CHECK_OK(strata_doc_exists(db, "t1", 2, &ex));
    CHECK(ex == 0);
    char *v = NULL;
    CHECK_RC(strata_setting_get(db, "t.setting", &v, NULL), STRATA_ENOTFOUND);
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(put(db, t, "t1", "one", 3));
    strata_txn_abort(t);
    CHECK_OK(strata_doc_exists(db, "t1", 2, &ex));
    CHECK(ex == 0);
    uint64_t lsn = 0;
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(put(db, t, "t1", "one", 3));
    CHECK_OK(put(db, t, "t2", "two", 3));
    CHECK_OK(strata_doc_delete(db, t, "dup2", 4));
    CHECK_OK(strata_txn_commit(t, &lsn));
    CHECK(doc_is(db, "t1", "one", 3) && doc_is(db, "t2", "two", 3));
    strata_doc_info *info;
    CHECK_OK(strata_doc_stat(db, "t2", 2, &info));
    CHECK(info && info->lsn == lsn);
    strata_doc_info_free(info);
    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    free(text);
}

static void test_bad_input(const char *dir) {
    strata *db = open_opts(dir, 0, 1000);
    strata_stats a, b;
    CHECK_OK(strata_stats_get(db, &a));
    void *got;
    size_t len;
    char id[1026];
    memset(id, 'i', sizeof id);
    CHECK_RC(strata_doc_put(db, NULL, id, 0, "x", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_put(db, NULL, id, 1025, "x", 1, NULL), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "longer than 1024") != NULL);
    CHECK_OK(strata_doc_put(db, NULL, id, 1024, "x", 1, NULL));
    CHECK_OK(strata_doc_delete(db, NULL, id, 1024));
    CHECK_RC(strata_doc_put(db, NULL, NULL, 3, "x", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, NULL, 5, NULL), STRATA_EINVAL);
    strata_doc_put_opts o = { .metadata_json = "[1,2]" };
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, "x", 1, &o), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "JSON object") != NULL);
    o.metadata_json = "{\"a\":";
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, "x", 1, &o), STRATA_EINVAL);
    o.metadata_json = NULL;
    o.reserved[0] = 1;
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, "x", 1, &o), STRATA_EINVAL);
    char *fname = malloc(5000);
    memset(fname, 'f', 4999);
    fname[4999] = 0;
    strata_doc_put_opts o2 = { .filename = fname };
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, "x", 1, &o2), STRATA_EINVAL);
    free(fname);
    char big[1001];
    memset(big, 'b', sizeof big);
    CHECK_RC(strata_doc_put(db, NULL, "a", 1, big, 1001, NULL), STRATA_ETOOBIG);
    CHECK(strstr(strata_errmsg(db), "limit") != NULL);
    CHECK_OK(strata_doc_put(db, NULL, "a", 1, big, 1000, NULL));
    CHECK_OK(strata_doc_delete(db, NULL, "a", 1));
    CHECK_RC(strata_doc_get(db, "", 0, &got, &len), STRATA_EINVAL);
    CHECK_RC(strata_doc_get(db, "a", 1, NULL, &len), STRATA_EINVAL);
    CHECK_RC(strata_doc_exists(db, "a", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_stat(db, "a", 1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_put_stream(db, NULL, "a", 1, NULL, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_get_stream(db, "a", 1, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_put_fd(db, NULL, "a", 1, -1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_doc_get_fd(db, "a", 1, -1), STRATA_EINVAL);
    CHECK_OK(strata_stats_get(db, &b));
    CHECK(b.documents == a.documents && b.contents == a.contents);
    strata_close(db);
}

/* ---- streaming ---- */
typedef struct gen { uint64_t left, total; int fail_at; unsigned seed; } gen;
static long long gen_read(void *ctx, void *buf, size_t cap) {
    gen *g = ctx;
    if (g->fail_at && g->total >= (uint64_t)g->fail_at) return -1;
    size_t n = cap < 70000 ? cap : 70000; /* odd sizes: chunks do not line up */
    if (n > g->left) n = (size_t)g->left;
    /* Bytes depend only on their position, however the reads are cut. */
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 \n";
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = g->total + i;
        ((char *)buf)[i] = alpha[(pos * 7 + g->seed + pos / 1000) % 38];
    }
    g->left -= n;
    g->total += n;
    return (long long)n;
}
typedef struct hasher { su_sha256_ctx c; uint64_t n; } hasher;
static int hash_write(void *ctx, const void *d, size_t n) {
    hasher *h = ctx;
    su_sha256_update(&h->c, d, n);
    h->n += n;
    return 0;
}

static void test_streaming(const char *dir) {
    strata *db = open_opts(dir, 0, 10u << 20);
    uint64_t size = 5u * 1024 * 1024 + 777;
    gen g = { size, 0, 0, 5 };
    CHECK_OK(strata_doc_put_stream(db, NULL, "stream", 6, gen_read, &g, NULL));
    /* The same bytes through a second generator give the expected hash. */
    gen g2 = { size, 0, 0, 5 };
    su_sha256_ctx want;
    su_sha256_init(&want);
    char *buf = malloc(1 << 20);
    long long n;
    while ((n = gen_read(&g2, buf, 1 << 20)) > 0) su_sha256_update(&want, buf, (size_t)n);
    uint8_t w[32], h[32];
    su_sha256_final(&want, w);
    hasher hs;
    su_sha256_init(&hs.c);
    hs.n = 0;
    CHECK_OK(strata_doc_get_stream(db, "stream", 6, hash_write, &hs));
    su_sha256_final(&hs.c, h);
    CHECK(hs.n == size && !memcmp(w, h, 32));
    strata_doc_info *info;
    CHECK_OK(strata_doc_stat(db, "stream", 6, &info));
    CHECK(info && info->size == size && !memcmp(info->content_hash, w, 32));
    strata_doc_info_free(info);

    /* An empty stream, an exact multiple of the chunk size. */
    gen e = { 0, 0, 0, 1 };
    CHECK_OK(strata_doc_put_stream(db, NULL, "empty-stream", 12, gen_read, &e, NULL));
    CHECK(doc_is(db, "empty-stream", "", 0));
    gen m = { 2u << 20, 0, 0, 3 };
    CHECK_OK(strata_doc_put_stream(db, NULL, "two-mib", 7, gen_read, &m, NULL));
    void *got;
    size_t len;
    CHECK_OK(strata_doc_get(db, "two-mib", 7, &got, &len));
    CHECK(len == (2u << 20));
    strata_free(got);

    /* A failing reader stores nothing; an oversized stream is refused. */
    strata_stats a, b;
    CHECK_OK(strata_stats_get(db, &a));
    gen f = { size, 0, 3000000, 9 };
    CHECK_RC(strata_doc_put_stream(db, NULL, "fails", 5, gen_read, &f, NULL), STRATA_EIO);
    gen big = { 11u << 20, 0, 0, 9 };
    CHECK_RC(strata_doc_put_stream(db, NULL, "toobig", 6, gen_read, &big, NULL), STRATA_ETOOBIG);
    CHECK_OK(strata_stats_get(db, &b));
    CHECK(a.documents == b.documents && a.segment_bytes == b.segment_bytes);

    /* fd variants through a file. */
    char path[4200];
    snprintf(path, sizeof path, "%s/../fdfile", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fill_text(buf, 100000, 42);
    CHECK(write(fd, buf, 100000) == 100000);
    lseek(fd, 0, SEEK_SET);
    CHECK_OK(strata_doc_put_fd(db, NULL, "fromfd", 6, fd, NULL));
    CHECK(doc_is(db, "fromfd", buf, 100000));
    CHECK(ftruncate(fd, 0) == 0);
    lseek(fd, 0, SEEK_SET);
    CHECK_OK(strata_doc_get_fd(db, "fromfd", 6, fd));
    CHECK(lseek(fd, 0, SEEK_CUR) == 100000);
    close(fd);
    unlink(path);
    free(buf);
    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
}

/* ---- cursors ---- */
static int cursor_count(strata *db, const strata_doc_filter *f, char *first, size_t cap) {
    strata_doc_cursor *c;
    if (strata_doc_cursor_open(db, f, &c) != STRATA_OK) return -1;
    int n = 0;
    const void *id;
    size_t len;
    while (strata_doc_cursor_next(c, &id, &len) == STRATA_OK && id) {
        if (n == 0 && first) { snprintf(first, cap, "%.*s", (int)len, (const char *)id); }
        n++;
    }
    strata_doc_cursor_close(c);
    return n;
}

static void test_cursor(const char *dir) {
    strata *db = open_store(dir);
    strata_txn *t;
    CHECK_OK(strata_txn_begin(db, &t));
    for (int i = 0; i < 600; i++) {
        char id[32], meta[64];
        snprintf(id, sizeof id, "cur/%04d", i);
        snprintf(meta, sizeof meta, "{\"lang\":\"%s\",\"i\":%d}", i % 3 ? "en" : "fr", i);
        strata_doc_put_opts o = { .metadata_json = meta };
        CHECK_OK(strata_doc_put(db, t, id, strlen(id), id, strlen(id), &o));
    }
    CHECK_OK(strata_txn_commit(t, NULL));
    strata_doc_filter f = { .prefix = "cur/", .prefix_len = 4 };
    char first[64] = "";
    CHECK(cursor_count(db, &f, first, sizeof first) == 600);
    CHECK(!strcmp(first, "cur/0000"));
    f.prefix = "cur/01";
    f.prefix_len = 6;
    CHECK(cursor_count(db, &f, NULL, 0) == 100);
    strata_doc_filter m = { .meta_path = "$.lang", .meta_value_json = "\"fr\"" };
    CHECK(cursor_count(db, &m, NULL, 0) == 200);
    m.prefix = "cur/00";
    m.prefix_len = 6;
    CHECK(cursor_count(db, &m, NULL, 0) == 34);
    strata_doc_filter num = { .meta_path = "$.i", .meta_value_json = "42" };
    CHECK(cursor_count(db, &num, first, sizeof first) == 1 && !strcmp(first, "cur/0042"));
    CHECK(cursor_count(db, NULL, NULL, 0) >= 600);
    /* A prefix of 0xff bytes has no upper bound. */
    const uint8_t ffid[] = { 0xff, 0xff, 'x' };
    CHECK_OK(strata_doc_put(db, NULL, ffid, 3, "f", 1, NULL));
    strata_doc_filter ff = { .prefix = ffid, .prefix_len = 2 };
    CHECK(cursor_count(db, &ff, NULL, 0) == 1);
    /* Bad filters. */
    strata_doc_cursor *c;
    strata_doc_filter bad = { .meta_path = "$.x" };
    CHECK_RC(strata_doc_cursor_open(db, &bad, &c), STRATA_EINVAL);
    strata_doc_filter bad2 = { .meta_path = "lang", .meta_value_json = "1" };
    CHECK_RC(strata_doc_cursor_open(db, &bad2, &c), STRATA_EINVAL);
    strata_doc_filter bad3 = { .meta_path = "$[[", .meta_value_json = "1" };
    CHECK_OK(strata_doc_cursor_open(db, &bad3, &c));
    const void *id;
    size_t len;
    CHECK_RC(strata_doc_cursor_next(c, &id, &len), STRATA_EINVAL);
    strata_doc_cursor_close(c);
    strata_doc_filter bad4 = { .meta_path = "$.a", .meta_value_json = "{oops" };
    CHECK_RC(strata_doc_cursor_open(db, &bad4, &c), STRATA_EINVAL);
    CHECK_RC(strata_doc_cursor_open(db, NULL, NULL), STRATA_EINVAL);
    strata_doc_cursor_close(NULL);
    strata_close(db);
}

/* ---- corruption and recovery ---- */
static char *seg_file(const char *dir, int which) {
    char d[4200];
    snprintf(d, sizeof d, "%s/docs", dir);
    DIR *dd = opendir(d);
    struct dirent *e;
    char *best = NULL;
    int i = 0;
    while ((e = readdir(dd))) {
        if (strncmp(e->d_name, "seg-", 4)) continue;
        if (i++ == which || which < 0) {
            free(best);
            best = malloc(strlen(d) + strlen(e->d_name) + 2);
            sprintf(best, "%s/%s", d, e->d_name);
            if (which >= 0) break;
        }
    }
    closedir(dd);
    return best;
}

static int named_a;
static void count_problem(void *ctx, const char *msg) {
    ++*(int *)ctx;
    if (strstr(msg, "document 'a'")) named_a = 1;
    fprintf(stderr, "  (expected) problem: %s\n", msg);
}

static void test_corruption(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/corrupt", base);
    strata *db = open_store(dir);
    char *a = malloc(20000), *b = malloc(20000);
    fill_text(a, 20000, 1);
    fill_text(b, 20000, 2);
    CHECK_OK(put(db, NULL, "a", a, 20000));
    CHECK_OK(put(db, NULL, "b", b, 20000));
    strata_doc_info *ia;
    CHECK_OK(strata_doc_stat(db, "a", 1, &ia));
    strata_close(db);
    /* Flip one byte inside a's record. */
    char *seg = seg_file(dir, 0);
    int fd = open(seg, O_RDWR);
    uint8_t byte;
    off_t at = (off_t)(64 + 24 + 100);
    CHECK(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x5a;
    CHECK(pwrite(fd, &byte, 1, at) == 1);
    close(fd);
    db = open_store(dir);
    void *got = NULL;
    size_t len;
    CHECK_RC(strata_doc_get(db, "a", 1, &got, &len), STRATA_ECORRUPT);
    CHECK(got == NULL);
    CHECK(strstr(strata_errmsg(db), "'a'") && strstr(strata_errmsg(db), "segment"));
    CHECK(doc_is(db, "b", b, 20000));
    int nprob = 0;
    uint64_t problems = 0;
    CHECK_OK(strata_check(db, count_problem, &nprob, &problems));
    CHECK(problems >= 1 && nprob == (int)problems);
    CHECK(named_a); /* the damaged document is named */
    strata_close(db);
    /* Truncated by another program: reads fail cleanly, open still works. */
    CHECK(truncate(seg, 64 + 10) == 0);
    db = open_store(dir);
    CHECK_RC(strata_doc_get(db, "b", 1, &got, &len), STRATA_ECORRUPT);
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems >= 2);
    strata_close(db);
    strata_doc_info_free(ia);
    free(seg);

    /* Garbage past the committed length and an orphan segment are cleaned at open. */
    snprintf(dir, sizeof dir, "%s/tail", base);
    db = open_store(dir);
    CHECK_OK(put(db, NULL, "x", a, 20000));
    strata_close(db);
    seg = seg_file(dir, 0);
    struct stat st;
    stat(seg, &st);
    off_t committed = st.st_size;
    fd = open(seg, O_WRONLY | O_APPEND);
    CHECK(write(fd, "garbage-garbage", 15) == 15);
    close(fd);
    char orphan[4400];
    snprintf(orphan, sizeof orphan, "%s/docs/seg-000777.dat", dir);
    fd = open(orphan, O_WRONLY | O_CREAT, 0600);
    CHECK(write(fd, "junk", 4) == 4);
    close(fd);
    db = open_store(dir);
    stat(seg, &st);
    CHECK(st.st_size == committed);
    CHECK(access(orphan, F_OK) != 0);
    CHECK(doc_is(db, "x", a, 20000));
    CHECK_OK(put(db, NULL, "y", b, 20000)); /* appends continue after the truncation */
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    db = open_store(dir);
    CHECK(doc_is(db, "y", b, 20000) && doc_is(db, "x", a, 20000));
    strata_close(db);
    free(seg);
    free(a);
    free(b);
}

/* Search every file below dir for needle. */
static int tree_contains(const char *dir, const uint8_t *needle, size_t n) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find '%s' -type f", dir);
    FILE *p = popen(cmd, "r");
    char path[4400];
    int found = 0;
    while (fgets(path, sizeof path, p)) {
        path[strcspn(path, "\n")] = 0;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)sz + 1);
        size_t got = fread(buf, 1, (size_t)sz, f);
        fclose(f);
        if (got >= n) for (size_t i = 0; i + n <= got; i++) if (!memcmp(buf + i, needle, n)) { found = 1; break; }
        free(buf);
    }
    pclose(p);
    return found;
}

static void test_compaction(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/compact", base);
    strata *db = open_opts(dir, 256 * 1024, 0); /* small segments: several of them */
    uint8_t secret[4096];
    fill_random(secret, sizeof secret); /* incompressible: stored verbatim */
    char *text = malloc(100000);
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "keep-%02d", i);
        fill_text(text, 100000, (unsigned)i + 100);
        CHECK_OK(put(db, NULL, id, text, 100000));
        if (i == 10) {
            strata_doc_put_opts o = { .metadata_json = "{\"secret\":\"meta-needle-7781\"}" };
            CHECK_OK(strata_doc_put(db, NULL, "secret", 6, secret, sizeof secret, &o));
        }
        snprintf(id, sizeof id, "drop-%02d", i);
        fill_text(text, 100000, (unsigned)i + 500);
        CHECK_OK(put(db, NULL, id, text, 100000));
    }
    strata_close(db);
    db = open_opts(dir, 256 * 1024, 0);
    CHECK(tree_contains(dir, secret, sizeof secret)); /* the test can fail: it is there */
    CHECK_OK(strata_doc_delete(db, NULL, "secret", 6));
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "drop-%02d", i);
        CHECK_OK(strata_doc_delete(db, NULL, id, strlen(id)));
    }
    strata_stats before, after;
    CHECK_OK(strata_stats_get(db, &before));
    strata_compact_stats cs;
    CHECK_RC(strata_compact(db, 1.5, &cs), STRATA_EINVAL);
    CHECK_OK(strata_compact(db, 0.0, &cs));
    CHECK(cs.segments_rewritten > 0 && cs.contents_dropped >= 31);
    CHECK_OK(strata_stats_get(db, &after));
    CHECK(after.segment_bytes < before.segment_bytes);
    printf("compaction: %llu -> %llu segment bytes, %llu segments rewritten\n",
           (unsigned long long)before.segment_bytes, (unsigned long long)after.segment_bytes,
           (unsigned long long)cs.segments_rewritten);
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "keep-%02d", i);
        fill_text(text, 100000, (unsigned)i + 100);
        CHECK(doc_is(db, id, text, 100000));
    }
    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    CHECK(!tree_contains(dir, secret, sizeof secret));
    CHECK(!tree_contains(dir, (const uint8_t *)"meta-needle-7781", 16));
    db = open_opts(dir, 256 * 1024, 0);
    CHECK(doc_is(db, "keep-29", text, 100000));
    CHECK_OK(put(db, NULL, "after", "compaction", 10));
    CHECK(doc_is(db, "after", "compaction", 10));
    CHECK_OK(strata_compact(db, 0.5, NULL)); /* nothing much to do */
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    free(text);
}

static void test_dictionary(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/dict", base);
    strata *db = open_store(dir);
    uint32_t did = 99;
    CHECK_RC(strata_doc_train_dict(db, &did), STRATA_ENOTFOUND);
    char *text = malloc(3000);
    for (int i = 0; i < 400; i++) {
        char id[32];
        snprintf(id, sizeof id, "d%03d", i);
        fill_text(text, 1000 + (size_t)(i * 5), (unsigned)i);
        CHECK_OK(put(db, NULL, id, text, 1000 + (size_t)(i * 5)));
    }
    CHECK_OK(strata_doc_train_dict(db, &did));
    CHECK(did == 1);
    fill_text(text, 2000, 4242);
    CHECK_OK(put(db, NULL, "with-dict", text, 2000));
    strata_doc_info *info;
    CHECK_OK(strata_doc_stat(db, "with-dict", 9, &info));
    CHECK(info && !strcmp(info->codec, "lz4+dict"));
    strata_doc_info_free(info);
    uint32_t did2 = 0;
    CHECK_OK(strata_doc_train_dict(db, &did2));
    CHECK(did2 == 2);
    strata_close(db);
    db = open_store(dir);
    CHECK(doc_is(db, "with-dict", text, 2000));
    fill_text(text, 1000, 0);
    CHECK(doc_is(db, "d000", text, 1000));
    CHECK_OK(strata_compact(db, 0.0, NULL));
    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    free(text);
}

/* A store trains its dictionary by itself, and compaction re-encodes what was
 * written before it with the dictionary at the compaction level. */
static void test_auto_dict(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/autodict", base);
    strata *db = open_store(dir);
    char *text = malloc(4096);
    strata_txn *t = NULL;
    int n = 0;
    for (uint64_t total = 0; total < STRATA_AUTO_DICT_BYTES + 8192; total += 2048, n++) {
        char id[32];
        snprintf(id, sizeof id, "auto%05d", n);
        fill_text(text, 2048, (unsigned)n * 7u);
        if (n % 100 == 0) CHECK_OK(strata_txn_begin(db, &t));
        CHECK_OK(put(db, t, id, text, 2048));
        if (n % 100 == 99) { CHECK_OK(strata_txn_commit(t, NULL)); t = NULL; }
    }
    if (t) CHECK_OK(strata_txn_commit(t, NULL));
    fill_text(text, 2048, 99991);
    CHECK_OK(put(db, NULL, "after-train", text, 2048));
    strata_doc_info *i = NULL;
    CHECK_OK(strata_doc_stat(db, "after-train", 11, &i));
    CHECK(i && !strcmp(i->codec, "lz4+dict"));
    strata_doc_info_free(i);
    CHECK_OK(strata_doc_stat(db, "auto00000", 9, &i));
    CHECK(i && !strcmp(i->codec, "lz4"));
    uint64_t before = i ? i->stored_size : 0;
    strata_doc_info_free(i);
    strata_stats a, b;
    CHECK_OK(strata_stats_get(db, &a));
    CHECK_OK(strata_compact(db, 0.5, NULL));
    CHECK_OK(strata_stats_get(db, &b));
    CHECK_OK(strata_doc_stat(db, "auto00000", 9, &i));
    CHECK(i && !strcmp(i->codec, "lz4+dict") && i->stored_size < before);
    strata_doc_info_free(i);
    CHECK(b.doc_stored_bytes < a.doc_stored_bytes);
    printf("auto dictionary + compaction: %llu -> %llu stored bytes for %llu raw\n",
           (unsigned long long)a.doc_stored_bytes, (unsigned long long)b.doc_stored_bytes,
           (unsigned long long)b.doc_raw_bytes);
    fill_text(text, 2048, 0);
    CHECK(doc_is(db, "auto00000", text, 2048));
    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    free(text);
}

/* The hot tier: a second read comes from the cache; the commit that changes a
 * document drops its cached copy, so a read never returns an old version. */
static void test_hot_tier(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/hot", base);
    strata *db = open_store(dir);
    CHECK_OK(put(db, NULL, "h", "version one", 11));
    strata_cache_stats a, b;
    CHECK_OK(strata_cache_stats_get(db, &a));
    CHECK(doc_is(db, "h", "version one", 11));
    CHECK(doc_is(db, "h", "version one", 11));
    CHECK_OK(strata_cache_stats_get(db, &b));
    CHECK(b.doc_hits == a.doc_hits + 1 && b.doc_misses == a.doc_misses + 1);
    CHECK_OK(put(db, NULL, "h", "version two!", 12));
    CHECK(doc_is(db, "h", "version two!", 12));
    hasher hs;
    su_sha256_init(&hs.c);
    hs.n = 0;
    CHECK_OK(strata_doc_get_stream(db, "h", 1, hash_write, &hs)); /* served by the cache */
    CHECK(hs.n == 12);
    CHECK_OK(strata_doc_delete(db, NULL, "h", 1));
    void *got = NULL;
    size_t len = 0;
    CHECK_RC(strata_doc_get(db, "h", 1, &got, &len), STRATA_ENOTFOUND);
    /* With the document partition off every read goes to the segments. */
    strata_cache_config cfg;
    CHECK_OK(strata_cache_config_get(db, &cfg));
    cfg.doc_maxmemory = 0;
    CHECK_OK(strata_cache_config_set(db, &cfg));
    CHECK_OK(put(db, NULL, "w", "warm", 4));
    CHECK_OK(strata_cache_stats_get(db, &a));
    CHECK(doc_is(db, "w", "warm", 4) && doc_is(db, "w", "warm", 4));
    CHECK_OK(strata_cache_stats_get(db, &b));
    CHECK(b.doc_hits == a.doc_hits);
    strata_close(db);
}

/* Concurrent writers and readers: group commit with content. */
static strata *cc_db;
static int cc_fail;
static void *cc_worker(void *arg) {
    long t = (long)arg;
    char buf[5000];
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "cc-%ld-%d", t, i);
        fill_text(buf, sizeof buf, (unsigned)(t * 1000 + i));
        if (strata_doc_put(cc_db, NULL, id, strlen(id), buf, sizeof buf, NULL)) __atomic_add_fetch(&cc_fail, 1, 0);
        void *got;
        size_t len;
        if (strata_doc_get(cc_db, id, strlen(id), &got, &len) || len != sizeof buf || memcmp(got, buf, len))
            __atomic_add_fetch(&cc_fail, 1, 0);
        strata_free(got);
    }
    return NULL;
}

static void test_concurrency(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/concurrent", base);
    cc_db = open_opts(dir, 128 * 1024, 0);
    pthread_t th[4];
    for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, cc_worker, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK(cc_fail == 0);
    strata_stats st;
    CHECK_OK(strata_stats_get(cc_db, &st));
    CHECK(st.documents == 400 && st.segments > 1);
    uint64_t problems = 9;
    CHECK_OK(strata_check(cc_db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(cc_db);
}

int main(void) {
    char *base = t_tmpdir("docs");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/main", base);
    test_round_trips(dir);
    test_dedup_and_txn(dir);
    snprintf(dir, sizeof dir, "%s/bad", base);
    test_bad_input(dir);
    snprintf(dir, sizeof dir, "%s/stream", base);
    test_streaming(dir);
    snprintf(dir, sizeof dir, "%s/cursor", base);
    test_cursor(dir);
    test_corruption(base);
    test_compaction(base);
    test_dictionary(base);
    test_auto_dict(base);
    test_hot_tier(base);
    test_concurrency(base);
    t_rmtree(base);
    return t_done();
}
