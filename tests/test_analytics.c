/* test_analytics.c — analytics.duckdb through the public API: options, recording
 * (structs and JSON) with every validation error, flushing (explicit and at close),
 * the buffer policies, failed writes that lose nothing (injected, and a real write
 * error through RLIMIT_FSIZE), the built-in instrumentation hook, the sampler,
 * statistics, and a store whose analytics is off, unreadable or from the future.
 * SQL, the ADR queries, retention and export are in test_analytics_sql.c. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "test.h"
#include "internal.h"
#include "analytics/analytics.h"

static int64_t fake_now = 1737000000000; /* 2025-01-16T04:00:00Z */
static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

/* Tests record 2025 timestamps: keep retention (30 days by the real clock) from
 * deleting them at the next open, unless a test sets its own. */
static strata *open_store(const char *dir, strata_options *o) {
    strata_options d = strata_options_default();
    if (!o) o = &d;
    o->create = 1;
    if (!o->metric_retention_days) o->metric_retention_days = -1;
    strata *db = NULL;
    int rc = strata_open(dir, o, &db);
    if (rc) fprintf(stderr, "open %s: %s\n", dir, strata_open_errmsg());
    return db;
}

/* The first column of the first row of a query, as int64 (-1 on error). */
static int64_t q1(strata *db, const char *sql) {
    strata_cursor *c = NULL;
    int64_t v = -1;
    int has = 0;
    if (strata_sql(db, sql, NULL, 0, 0, &c) != STRATA_OK) {
        fprintf(stderr, "sql %s: %s\n", sql, strata_errmsg(db));
        return -1;
    }
    if (strata_cursor_next(c, &has) == STRATA_OK && has) strata_cursor_int64(c, 0, &v, NULL);
    strata_cursor_close(c);
    return v;
}

static void test_options(void) {
    char *dir = t_tmpdir("an-opts");
    strata_options o = strata_options_default();
    strata *db = NULL;
    for (int i = 0; i < 7; i++) {
        o = strata_options_default();
        o.create = 1;
        switch (i) {
        case 0: o.analytics_flags = 0x100; break;
        case 1: o.metric_buffer = 3; break;
        case 2: o.metric_when_full = 7; break;
        case 3: o.metric_retention_days = -2; break;
        case 4: o.metric_sample_s = -1; break;
        case 5: o.analytics_memory_limit = 1000; break;
        case 6: o.analytics_threads = -1; break;
        }
        CHECK_RC(strata_open(dir, &o, &db), STRATA_EINVAL);
        CHECK(db == NULL);
        CHECK(strstr(strata_open_errmsg(), "options:") != NULL);
    }
    /* Nothing was created by the refused opens. */
    struct stat st;
    char path[4200];
    snprintf(path, sizeof path, "%s/STRATA", dir);
    CHECK(stat(path, &st) != 0);
    CHECK(sizeof(strata_options) == 168);
    t_rmtree(dir);
}

static void test_off(void) {
    char *dir = t_tmpdir("an-off");
    strata_options o = strata_options_default();
    o.analytics_flags = STRATA_ANALYTICS_OFF;
    strata *db = open_store(dir, &o);
    CHECK(db && db->an == NULL);
    strata_query_metric m = { 0, "search", 1.0, 1, 1, "dense" };
    CHECK_RC(strata_metric_query(db, &m), STRATA_EMISUSE);
    CHECK(strstr(strata_errmsg(db), "STRATA_ANALYTICS_OFF") != NULL);
    strata_cursor *c = NULL;
    CHECK_RC(strata_sql(db, "SELECT 1", NULL, 0, 0, &c), STRATA_EMISUSE);
    CHECK_RC(strata_metric_flush(db), STRATA_EMISUSE);
    strata_analytics_stats s;
    CHECK_RC(strata_analytics_stats_get(db, &s), STRATA_EMISUSE);
    CHECK_RC(strata_analytics_retain(db, NULL), STRATA_EMISUSE);
    CHECK_RC(strata_analytics_export(db, "/tmp/x", NULL), STRATA_EMISUSE);
    an_record_op(db->an, AN_OP_DOC_GET, 5, 0); /* NULL handle: a no-op */
    CHECK(an_op_start(db->an) == 0);
    CHECK_OK(strata_close(db));
    char path[4200];
    snprintf(path, sizeof path, "%s/analytics.duckdb", dir);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    /* NULL handles everywhere. */
    CHECK_RC(strata_metric_query(NULL, &m), STRATA_EINVAL);
    CHECK_RC(strata_sql(NULL, "SELECT 1", NULL, 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_metric_flush(NULL), STRATA_EINVAL);
    strata_embedding_metric e = { 0, "m", 1, 1, 1 };
    strata_reranking_metric r = { 0, "q", 1, 1, 1 };
    strata_system_metric sm = { 0, "n", 1, "u" };
    strata_query_stats qs;
    CHECK_RC(strata_metric_embedding(NULL, &e), STRATA_EINVAL);
    CHECK_RC(strata_metric_reranking(NULL, &r), STRATA_EINVAL);
    CHECK_RC(strata_metric_system(NULL, &sm), STRATA_EINVAL);
    CHECK_RC(strata_metric_record_json(NULL, "query_metrics", "{}"), STRATA_EINVAL);
    CHECK_RC(strata_analytics_stats_get(NULL, &s), STRATA_EINVAL);
    CHECK_RC(strata_analytics_query_stats(NULL, 0, 0, &qs), STRATA_EINVAL);
    CHECK_RC(strata_analytics_latency_percentiles(NULL, 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_analytics_embedding_throughput(NULL, 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_analytics_hourly(NULL, "query_metrics", 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_analytics_retain(NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_analytics_export(NULL, "/tmp/x", NULL), STRATA_EINVAL);
    int has;
    CHECK_RC(strata_cursor_next(NULL, &has), STRATA_EINVAL);
    CHECK(strata_cursor_column_count(NULL) == 0 && strata_cursor_column_name(NULL, 0) == NULL &&
          strata_cursor_column_type(NULL, 0) == -1);
    t_rmtree(dir);
}

/* A store that records nothing never opens DuckDB. */
static void test_lazy(void) {
    char *dir = t_tmpdir("an-lazy");
    strata *db = open_store(dir, NULL);
    CHECK(db != NULL);
    CHECK_OK(strata_setting_set(db, NULL, "k", "1"));
    CHECK_OK(strata_close(db));
    char path[4200];
    snprintf(path, sizeof path, "%s/analytics.duckdb", dir);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    t_rmtree(dir);
}

static void test_record_roundtrip(void) {
    char *dir = t_tmpdir("an-rec");
    strata_options o = strata_options_default();
    o.clock = fake_clock;
    strata *db = open_store(dir, &o);
    CHECK(db != NULL);
    strata_query_metric q = { 1737000001234, "search", 12.5, 7, 1, "hybrid" };
    strata_embedding_metric e = { 0, "bge-m3", 3.25, 512, 1024 };
    strata_reranking_metric r = { 1737000002000, "qa", 20, 8.5, 0.75 };
    strata_system_metric s = { 1737000003000, "cpu.load", 0.5, "ratio" };
    CHECK_OK(strata_metric_query(db, &q));
    CHECK_OK(strata_metric_embedding(db, &e));
    CHECK_OK(strata_metric_reranking(db, &r));
    CHECK_OK(strata_metric_system(db, &s));
    /* A long text goes through the record's heap block. */
    char longname[900];
    memset(longname, 'm', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    strata_embedding_metric e2 = { 1737000004000, longname, 1.0, 1, 8 };
    CHECK_OK(strata_metric_embedding(db, &e2));
    CHECK_OK(strata_metric_flush(db));

    strata_cursor *c = NULL;
    int has = 0, null = 0, b = 0;
    CHECK_OK(strata_sql(db, "SELECT * FROM query_metrics", NULL, 0, 0, &c));
    CHECK(strata_cursor_column_count(c) == 6);
    CHECK(!strcmp(strata_cursor_column_name(c, 0), "timestamp"));
    CHECK(strata_cursor_column_type(c, 0) == STRATA_TYPE_TIMESTAMP);
    CHECK(strata_cursor_column_type(c, 1) == STRATA_TYPE_TEXT);
    CHECK(strata_cursor_column_type(c, 2) == STRATA_TYPE_DOUBLE);
    CHECK(strata_cursor_column_type(c, 3) == STRATA_TYPE_INT);
    CHECK(strata_cursor_column_type(c, 5) == STRATA_TYPE_BOOL);
    CHECK(strata_cursor_column_type(c, 6) == -1 && strata_cursor_column_name(c, 6) == NULL);
    CHECK_OK(strata_cursor_next(c, &has));
    CHECK(has == 1);
    int64_t ts = 0, ival = 0;
    double lat = 0;
    const char *text = NULL;
    size_t len = 0;
    CHECK_OK(strata_cursor_timestamp(c, 0, &ts, &null));
    CHECK(ts == 1737000001234 && null == 0);
    CHECK_OK(strata_cursor_text(c, 1, &text, &len, NULL));
    CHECK(text && !strcmp(text, "search") && len == 6);
    CHECK_OK(strata_cursor_double(c, 2, &lat, NULL));
    CHECK(lat == 12.5);
    CHECK_OK(strata_cursor_int64(c, 3, &ival, NULL));
    CHECK(ival == 7);
    CHECK_OK(strata_cursor_bool(c, 5, &b, NULL));
    CHECK(b == 1);
    /* Type errors name the column and both types. */
    CHECK_RC(strata_cursor_int64(c, 1, &ival, NULL), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "query_type") && strstr(strata_errmsg(db), "TEXT"));
    CHECK_RC(strata_cursor_text(c, 2, &text, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_bool(c, 3, &b, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_timestamp(c, 3, &ts, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_double(c, 1, &lat, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_int64(c, 9, &ival, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_int64(c, 0, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_next(c, NULL), STRATA_EINVAL);
    CHECK_OK(strata_cursor_next(c, &has));
    CHECK(has == 0);
    CHECK_OK(strata_cursor_next(c, &has)); /* past the end stays at the end */
    CHECK(has == 0);
    strata_cursor_close(c);
    strata_cursor_close(NULL);

    /* timestamp 0 took the store's clock. */
    CHECK(q1(db, "SELECT epoch_ms(timestamp) FROM embedding_metrics WHERE model_name = 'bge-m3'") == fake_now);
    CHECK(q1(db, "SELECT dimension FROM embedding_metrics WHERE model_name = 'bge-m3'") == 1024);
    CHECK(q1(db, "SELECT length(model_name) FROM embedding_metrics WHERE dimension = 8") == 899);
    CHECK(q1(db, "SELECT document_count FROM reranking_metrics") == 20);
    CHECK(q1(db, "SELECT (quality_score * 100)::INT FROM reranking_metrics") == 75);
    CHECK(q1(db, "SELECT (metric_value * 10)::INT FROM system_metrics WHERE metric_name = 'cpu.load'") == 5);
    CHECK(q1(db, "SELECT count(*) FROM system_metrics WHERE metric_unit = 'ratio'") == 1);
    /* The hourly rollups were written in the same transaction. */
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 1);
    CHECK(q1(db, "SELECT sum(count) FROM embedding_metrics_hourly") == 2);
    CHECK(q1(db, "SELECT sum(count) FROM metric_histograms_hourly WHERE source = 'query_metrics.latency_ms'") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

static void test_record_errors(void) {
    char *dir = t_tmpdir("an-err");
    strata *db = open_store(dir, NULL);
    strata_query_metric good = { 0, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &good));
    strata_query_metric q = good;
    CHECK_RC(strata_metric_query(db, NULL), STRATA_EINVAL);
    q.query_type = NULL;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "query_type is missing") != NULL);
    q = good;
    q.retrieval_strategy = "\xff\xfe";
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "UTF-8") != NULL);
    q = good;
    q.latency_ms = 0.0 / 0.0;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "latency_ms is not a finite number") != NULL);
    q.latency_ms = -1;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    q.latency_ms = 1e300;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "FLOAT range") != NULL);
    q = good;
    q.success = 2;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    q = good;
    q.timestamp_ms = -5;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    q.timestamp_ms = STRATA_METRIC_TIME_MAX + 1;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "timestamp_ms") != NULL);
    char *big = malloc(STRATA_METRIC_TEXT_MAX + 2);
    memset(big, 'x', STRATA_METRIC_TEXT_MAX + 1);
    big[STRATA_METRIC_TEXT_MAX + 1] = 0;
    q = good;
    q.query_type = big;
    CHECK_RC(strata_metric_query(db, &q), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "longer than") != NULL);
    big[STRATA_METRIC_TEXT_MAX] = 0; /* exactly the maximum is fine */
    CHECK_OK(strata_metric_query(db, &q));
    free(big);
    strata_embedding_metric e = { 0, "m", -3, 1, 1 };
    CHECK_RC(strata_metric_embedding(db, &e), STRATA_EINVAL);
    CHECK_RC(strata_metric_embedding(db, NULL), STRATA_EINVAL);
    strata_reranking_metric r = { 0, "qa", 1, 1.0, 1.0 / 0.0 };
    CHECK_RC(strata_metric_reranking(db, &r), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "quality_score") != NULL);
    r.quality_score = -0.5; /* scores may be negative */
    CHECK_OK(strata_metric_reranking(db, &r));
    strata_system_metric s = { 0, "x", 1, NULL };
    CHECK_RC(strata_metric_system(db, &s), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "metric_unit") != NULL);
    CHECK_RC(strata_metric_system(db, NULL), STRATA_EINVAL);
    /* The good records around the bad ones are all there. */
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 2);
    CHECK(q1(db, "SELECT count(*) FROM reranking_metrics") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

static void test_json(void) {
    char *dir = t_tmpdir("an-json");
    strata *db = open_store(dir, NULL);
    CHECK_OK(strata_metric_record_json(db, "query_metrics",
        "{\"query_type\":\"se\\u00e9rch\",\"latency_ms\":12,\"result_count\":3,"
        "\"retrieval_strategy\":\"dense\",\"success\":false,\"timestamp\":1737000000000}"));
    CHECK_OK(strata_metric_record_json(db, "embedding_metrics",
        " { \"model_name\" : \"bge\\ud83d\\ude00\", \"embedding_time_ms\": 1.5e0, \"text_length\": 10, \"dimension\": 1024 } "));
    CHECK_OK(strata_metric_record_json(db, "reranking_metrics",
        "{\"query_type\":\"qa\",\"document_count\":5,\"rerank_time_ms\":2.5,\"quality_score\":-0.25}"));
    CHECK_OK(strata_metric_record_json(db, "system_metrics",
        "{\"metric_name\":\"q\\\"x\",\"metric_value\":-1e3,\"metric_unit\":\"\"}"));
    struct { const char *table, *json, *msg; } bad[] = {
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1,\"result_count\":1,\"success\":true}",
          "missing field 'retrieval_strategy'" },
        { "query_metrics", "{\"query_type\":1,\"latency_ms\":1,\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":true}", "'query_type' must be a string" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":\"1\",\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":true}", "'latency_ms' must be a number" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1,\"result_count\":1.5,\"retrieval_strategy\":\"d\","
          "\"success\":true}", "'result_count' must be an integer" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1,\"result_count\":3000000000,"
          "\"retrieval_strategy\":\"d\",\"success\":true}", "'result_count' must be an integer" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1,\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":1}", "'success' must be true or false" },
        { "query_metrics", "{\"query_type\":\"s\",\"query_type\":\"t\"}", "given twice" },
        { "query_metrics", "{\"query_typo\":\"s\"}", "no field 'query_typo'" },
        { "query_metrics", "{\"query_type\":\"a\\u0000b\"}", "NUL" },
        { "query_metrics", "{\"query_type\":\"s\",", "not valid JSON" },
        { "query_metrics", "[1,2]", "not valid JSON object" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1e999,\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":true}", "out of range" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":-1,\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":true}", "latency_ms is negative" },
        { "query_metrics", "{\"query_type\":\"s\",\"latency_ms\":1,\"result_count\":1,\"retrieval_strategy\":\"d\","
          "\"success\":true,\"timestamp\":-1}", "'timestamp' must be an integer" },
        { "system_metrics", "{\"metric_name\":\"a\",\"metric_value\":null,\"metric_unit\":\"b\"}",
          "'metric_value' must be a number" },
        { "op_metrics", "{}", "no metric table 'op_metrics'" },
        { NULL, "{}", "table is NULL" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(strata_metric_record_json(db, bad[i].table, bad[i].json), STRATA_EINVAL);
        if (!strstr(strata_errmsg(db), bad[i].msg))
            fprintf(stderr, "json case %zu: message '%s' lacks '%s'\n", i, strata_errmsg(db), bad[i].msg);
        CHECK(strstr(strata_errmsg(db), bad[i].msg) != NULL);
    }
    CHECK_RC(strata_metric_record_json(db, "query_metrics", NULL), STRATA_EINVAL);
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM query_metrics WHERE query_type = 'se\xc3\xa9rch' AND NOT success AND "
                 "epoch_ms(timestamp) = 1737000000000") == 1);
    CHECK(q1(db, "SELECT count(*) FROM embedding_metrics WHERE model_name = 'bge\xf0\x9f\x98\x80'") == 1);
    CHECK(q1(db, "SELECT count(*) FROM system_metrics WHERE metric_name = 'q\"x' AND metric_value = -1000") == 1);
    CHECK(q1(db, "SELECT count(*) FROM reranking_metrics") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* Close writes everything still buffered; a reopened store sees it. */
static void test_flush_on_close(void) {
    char *dir = t_tmpdir("an-close");
    strata_options o = strata_options_default();
    o.metric_when_full = STRATA_METRIC_BLOCK;
    strata *db = open_store(dir, &o);
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        strata_query_metric q = { 1737000000000 + i, i % 2 ? "search" : "chat", (double)(i % 100), i, i % 3 != 0,
                                  "dense" };
        if (strata_metric_query(db, &q) != STRATA_OK) { CHECK(0); break; }
    }
    CHECK_OK(strata_close(db));
    db = open_store(dir, NULL);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == N);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == N);
    CHECK(q1(db, "SELECT sum(successes) FROM query_metrics_hourly") ==
          q1(db, "SELECT count(*) FROM query_metrics WHERE success"));
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A tiny buffer with the BLOCK policy: many threads, nothing dropped. */
typedef struct rec_arg { strata *db; int n, id; } rec_arg;
static void *rec_thread(void *p) {
    rec_arg *a = p;
    char name[32];
    snprintf(name, sizeof name, "t%d", a->id);
    for (int i = 0; i < a->n; i++) {
        strata_system_metric s = { 0, name, (double)i, "count" };
        if (strata_metric_system(a->db, &s) != STRATA_OK) return (void *)1;
        if (i % 1000 == 0) an_record_op(a->db->an, AN_OP_DOC_GET, i, STRATA_OK);
    }
    return NULL;
}

static void test_block_policy_threads(void) {
    char *dir = t_tmpdir("an-block");
    strata_options o = strata_options_default();
    o.metric_buffer = 64;
    o.metric_when_full = STRATA_METRIC_BLOCK;
    strata *db = open_store(dir, &o);
    enum { T = 4, N = 5000 };
    pthread_t th[T];
    rec_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (rec_arg){ db, N, i };
        pthread_create(&th[i], NULL, rec_thread, &args[i]);
    }
    for (int i = 0; i < T; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK(r == NULL);
    }
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM system_metrics") == T * N);
    CHECK(q1(db, "SELECT count(DISTINCT metric_name) FROM system_metrics") == T);
    strata_analytics_stats s;
    CHECK_OK(strata_analytics_stats_get(db, &s));
    CHECK(s.system_rows == T * N);
    CHECK(s.buffer_capacity == 64);
    CHECK(s.dropped <= T * (N / 1000)); /* only op samples may drop: they never wait */
    CHECK_RC(strata_analytics_stats_get(db, NULL), STRATA_EINVAL);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A failed write leaves nothing behind and loses nothing; the DROP policy counts. */
static void test_failed_flush_and_drops(void) {
    char *dir = t_tmpdir("an-fail");
    strata_options o = strata_options_default();
    o.metric_buffer = 64;
    strata *db = open_store(dir, &o);
    CHECK_OK(strata_metric_flush(db)); /* opens the database */
    an_test_fail_flushes(db->an, 1000000);
    for (int i = 0; i < 40; i++) {
        strata_query_metric q = { 1737000000000 + i, "search", 1.0, 1, 1, "dense" };
        CHECK_OK(strata_metric_query(db, &q));
    }
    CHECK_RC(strata_metric_flush(db), STRATA_EIO);
    CHECK(strstr(strata_errmsg(db), "injected") != NULL);
    CHECK(strstr(strata_errmsg(db), "retried") != NULL);
    /* The batch is held (64) and the ring fills (64): the rest is dropped and counted. */
    for (int i = 0; i < 300; i++) {
        strata_query_metric q = { 1737000000000 + 40 + i, "search", 1.0, 1, 1, "dense" };
        CHECK_OK(strata_metric_query(db, &q));
    }
    strata_analytics_stats s;
    CHECK_OK(strata_analytics_stats_get(db, &s));
    CHECK(s.dropped > 0);
    CHECK(s.failed_flushes >= 1);
    CHECK(s.last_error == STRATA_EIO);
    CHECK(s.query_rows == 0);
    CHECK(s.recorded + s.dropped == 340);
    an_test_fail_flushes(db->an, 0);
    int rc = STRATA_EIO;
    for (int i = 0; i < 50 && rc; i++) rc = strata_metric_flush(db);
    CHECK_OK(rc);
    CHECK_OK(strata_analytics_stats_get(db, &s));
    /* Exactly the accepted records, once each, raw and rolled up. */
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == (int64_t)s.recorded);
    CHECK(q1(db, "SELECT count(DISTINCT timestamp) FROM query_metrics") == (int64_t)s.recorded);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == (int64_t)s.recorded);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A real write error (the file size limit: EFBIG, as a full disk gives ENOSPC). */
static void test_write_error(void) {
    char *dir = t_tmpdir("an-efbig");
    strata *db = open_store(dir, NULL);
    strata_query_metric q = { 1737000000000, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &q));
    CHECK_OK(strata_metric_flush(db));
    CHECK_OK(strata_close(db)); /* checkpointed: the WAL is empty */
    db = open_store(dir, NULL);
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1);
    CHECK_OK(strata_metric_flush(db));
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2048;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    char name[64];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "a-rather-long-query-type-%d", i);
        strata_query_metric m = { 1737000000000 + i, name, 1.0, 1, 1, "dense" };
        CHECK_OK(strata_metric_query(db, &m));
    }
    int rc = strata_metric_flush(db);
    CHECK(rc == STRATA_EIO || rc == STRATA_ENOSPC || rc == STRATA_ERROR);
    if (rc == STRATA_OK) fprintf(stderr, "write error test: the flush did not fail\n");
    else CHECK(strstr(strata_errmsg(db), "File too large") != NULL || strstr(strata_errmsg(db), "write") != NULL);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1); /* nothing of the failed batch */
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    rc = STRATA_EIO;
    for (int i = 0; i < 100 && rc; i++) rc = strata_metric_flush(db);
    CHECK_OK(rc);
    int64_t n = q1(db, "SELECT count(*) FROM query_metrics");
    if (n != 501) {
        fprintf(stderr, "write error test: %lld rows, flush said %s\n", (long long)n, strata_errmsg(db));
        fprintf(stderr, "distinct types %lld, plain 'search' %lld, hourly %lld\n",
                (long long)q1(db, "SELECT count(DISTINCT query_type) FROM query_metrics"),
                (long long)q1(db, "SELECT count(*) FROM query_metrics WHERE query_type = 'search'"),
                (long long)q1(db, "SELECT sum(count) FROM query_metrics_hourly"));
    }
    CHECK(n == 501);
    CHECK_OK(strata_close(db));
    db = open_store(dir, NULL);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 501);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 501);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A real full disk (a 4 MiB tmpfs: needs root, else skipped): STRATA_ENOSPC with
 * DuckDB's message, the rows written before survive, and the records of the failed
 * batch are written once space is back. */
static void test_enospc(void) {
    char *base = t_tmpdir("an-enospc");
    char mnt[4200], dir[4300], fill[4300];
    snprintf(mnt, sizeof mnt, "%s/mnt", base);
    mkdir(mnt, 0700);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        printf("skip: full-disk test (cannot mount a tmpfs here)\n");
        t_rmtree(base);
        return;
    }
    snprintf(dir, sizeof dir, "%s/store", mnt);
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    strata *db = open_store(dir, NULL);
    strata_query_metric q = { 1737000000000, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &q));
    CHECK_OK(strata_metric_flush(db));
    FILE *f = fopen(fill, "wb");
    static char block[65536];
    while (f && fwrite(block, 1, sizeof block, f) == sizeof block) {}
    if (f) fclose(f);
    char name[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "query-type-number-%d", i);
        strata_query_metric m = { 1737000000000 + i, name, 2.0, 1, 1, "dense" };
        CHECK_OK(strata_metric_query(db, &m));
    }
    CHECK_RC(strata_metric_flush(db), STRATA_ENOSPC);
    CHECK(strstr(strata_errmsg(db), "No space left on device") != NULL);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1);
    unlink(fill);
    int rc = STRATA_ENOSPC;
    for (int i = 0; i < 100 && rc; i++) rc = strata_metric_flush(db);
    CHECK_OK(rc);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 2001);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 2001);
    CHECK_OK(strata_close(db));
    umount2(mnt, MNT_DETACH);
    t_rmtree(base);
}

/* User SQL dropped a table: the flusher re-creates the schema and retries. */
static void test_dropped_table(void) {
    char *dir = t_tmpdir("an-drop");
    strata *db = open_store(dir, NULL);
    strata_cursor *c = NULL;
    CHECK_OK(strata_sql(db, "DROP TABLE query_metrics", NULL, 0, 0, &c));
    strata_cursor_close(c);
    strata_query_metric q = { 1737000000000, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &q));
    int rc = STRATA_EIO;
    for (int i = 0; i < 100 && rc; i++) rc = strata_metric_flush(db);
    CHECK_OK(rc);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

static void test_instrumentation(void) {
    char *dir = t_tmpdir("an-inst");
    strata_options o = strata_options_default();
    o.clock = fake_clock;
    strata *db = open_store(dir, &o);
    CHECK(an_instrumenting(db->an));
    uint64_t t0 = an_op_start(db->an);
    CHECK(t0 != 0);
    an_op_end(db->an, AN_OP_DOC_GET, t0, STRATA_OK);
    an_record_op(db->an, AN_OP_DOC_GET, 120, STRATA_OK);
    an_record_op(db->an, AN_OP_DOC_GET, 80, STRATA_ENOTFOUND);
    an_record_op(db->an, AN_OP_VEC_SEARCH, 900, STRATA_OK);
    an_record_op(db->an, 9999, 1, STRATA_OK); /* unknown kinds are "other" */
    an_op_end(db->an, AN_OP_CHECK, 0, STRATA_OK); /* t0 0: nothing */
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'doc_get'") == 3);
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'doc_get' AND status = -5") == 1);
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'other'") == 1);
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'check'") == 0);
    CHECK(q1(db, "SELECT epoch_ms(max(timestamp)) FROM op_metrics") == fake_now);
    CHECK(q1(db, "SELECT sum(errors) FROM op_metrics_hourly WHERE op = 'doc_get'") == 1);
    CHECK(q1(db, "SELECT sum(count) FROM op_metrics_hourly WHERE op = 'doc_get'") == 3);
    CHECK(q1(db, "SELECT max(latency_us_max) FROM op_metrics_hourly WHERE op = 'vec_search'") == 900);
    /* Every operation is counted; one in AN_OP_SAMPLE per thread becomes a row. */
    for (int i = 0; i < 1000; i++) {
        uint64_t t = an_op_start(db->an);
        CHECK(t != 0);
        an_op_end(db->an, AN_OP_DOC_PUT, t, i % 10 ? STRATA_OK : STRATA_EIO);
    }
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT sum(count) FROM op_metrics_hourly WHERE op = 'doc_put'") == 1000);
    CHECK(q1(db, "SELECT sum(errors) FROM op_metrics_hourly WHERE op = 'doc_put'") == 100);
    int64_t sampled = q1(db, "SELECT sum(sampled) FROM op_metrics_hourly WHERE op = 'doc_put'");
    CHECK(sampled >= 1000 / 128 && sampled <= 1000 / 128 + 1);
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'doc_put'") == sampled);
    /* strata_sql records itself. */
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT sum(count) FROM op_metrics_hourly WHERE op = 'sql'") >= 5);
    strata_cursor *c = NULL;
    CHECK_OK(strata_analytics_hourly(db, "op_metrics", 0, 0, &c));
    int has = 0, rows = 0;
    while (strata_cursor_next(c, &has) == STRATA_OK && has) rows++;
    CHECK(rows >= 3);
    strata_cursor_close(c);
    CHECK_OK(strata_close(db));

    o.analytics_flags = STRATA_ANALYTICS_NO_INSTRUMENTATION;
    db = open_store(dir, &o);
    CHECK(!an_instrumenting(db->an));
    CHECK(an_op_start(db->an) == 0);
    an_record_op(db->an, AN_OP_DOC_GET, 1, STRATA_OK);
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM op_metrics WHERE op = 'doc_get'") == 3);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

static void test_sampler(void) {
    char *dir = t_tmpdir("an-sample");
    strata_options o = strata_options_default();
    o.metric_sample_s = 1;
    strata *db = open_store(dir, &o);
    CHECK_OK(strata_setting_set(db, NULL, "k", "1"));
    an_record_op(db->an, AN_OP_CACHE_GET, 1, STRATA_OK);
    an_record_op(db->an, AN_OP_CACHE_GET, 1, STRATA_OK);
    an_record_op(db->an, AN_OP_CACHE_GET, 1, STRATA_OK);
    an_record_op(db->an, AN_OP_CACHE_GET, 1, STRATA_ENOTFOUND);
    int64_t n = 0;
    for (int i = 0; i < 100 && n < 1; i++) {
        struct timespec ts = { 0, 100 * 1000000 };
        nanosleep(&ts, NULL);
        CHECK_OK(strata_metric_flush(db));
        n = q1(db, "SELECT count(*) FROM system_metrics WHERE metric_name = 'storage.total_bytes'");
    }
    CHECK(n >= 1);
    CHECK(q1(db, "SELECT count(*) FROM system_metrics WHERE metric_name = 'storage.operational_bytes' AND "
                 "metric_value > 0 AND metric_unit = 'bytes'") >= 1);
    CHECK(q1(db, "SELECT count(*) FROM system_metrics WHERE metric_name = 'storage.analytics_bytes'") >= 1);
    CHECK(q1(db, "SELECT (max(metric_value) * 100)::INT FROM system_metrics WHERE metric_name = 'cache.hit_rate'") ==
          75);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* analytics.duckdb unreadable: the store opens and works; analytics calls say why. */
static void test_corrupt_file(void) {
    char *dir = t_tmpdir("an-corrupt");
    strata *db = open_store(dir, NULL);
    CHECK_OK(strata_close(db));
    char path[4200];
    snprintf(path, sizeof path, "%s/analytics.duckdb", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 5000; i++) fputs("not a database ", f);
    fclose(f);
    db = open_store(dir, NULL);
    CHECK(db != NULL);
    strata_cursor *c = NULL;
    int rc = strata_sql(db, "SELECT 1", NULL, 0, 0, &c);
    CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EIO);
    CHECK(strstr(strata_errmsg(db), "analytics.duckdb") != NULL);
    strata_query_metric q = { 0, "search", 1.0, 1, 1, "dense" };
    CHECK(strata_metric_query(db, &q) == rc);
    CHECK(strata_metric_flush(db) == rc);
    CHECK_OK(strata_setting_set(db, NULL, "still", "\"works\""));
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A creation of analytics.duckdb that never finished (DuckDB leaves an empty file
 * when the disk is full) is started again; a real file is never touched. */
static void test_unfinished_file(void) {
    char *dir = t_tmpdir("an-unfinished");
    strata *db = open_store(dir, NULL);
    CHECK_OK(strata_close(db));
    char path[4200];
    snprintf(path, sizeof path, "%s/analytics.duckdb", dir);
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
    db = open_store(dir, NULL);
    strata_query_metric q = { 1737000000000, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &q));
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* A schema from a newer build is refused before anything is written to it. */
static void test_newer_schema(void) {
    char *dir = t_tmpdir("an-version");
    strata *db = open_store(dir, NULL);
    strata_cursor *c = NULL;
    CHECK_OK(strata_sql(db, "UPDATE analytics_meta SET value = 99 WHERE key = 'schema_version'", NULL, 0, 0, &c));
    strata_cursor_close(c);
    CHECK_OK(strata_close(db));
    db = open_store(dir, NULL);
    CHECK_RC(strata_sql(db, "SELECT 1", NULL, 0, 0, &c), STRATA_EVERSION);
    CHECK(strstr(strata_errmsg(db), "newer") != NULL);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

/* Rollup rows are deltas, one per batch; compaction folds them into one per key. */
static void test_compaction(void) {
    char *dir = t_tmpdir("an-compact");
    strata *db = open_store(dir, NULL);
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 10; i++) {
            strata_query_metric q = { 1737000000000 + b * 1000 + i, "search", 1.0 + i, 2, i % 2, "dense" };
            CHECK_OK(strata_metric_query(db, &q));
            strata_system_metric s = { 1737000000000 + b * 1000 + i, "gauge", (double)(b * 10 + i), "u" };
            CHECK_OK(strata_metric_system(db, &s));
        }
        CHECK_OK(strata_metric_flush(db));
    }
    CHECK(q1(db, "SELECT count(*) FROM query_metrics_hourly") == 3);
    int64_t hist_rows = q1(db, "SELECT count(*) FROM metric_histograms_hourly");
    CHECK(hist_rows == 30);
    CHECK_OK(strata_analytics_retain(db, NULL)); /* retention off here: compaction only */
    CHECK(q1(db, "SELECT count(*) FROM query_metrics_hourly") == 1);
    CHECK(q1(db, "SELECT count, successes, result_count_sum, (latency_ms_sum * 10)::INT, latency_ms_min::INT, "
                 "latency_ms_max::INT FROM query_metrics_hourly") == 30);
    CHECK(q1(db, "SELECT successes FROM query_metrics_hourly") == 15);
    CHECK(q1(db, "SELECT result_count_sum FROM query_metrics_hourly") == 60);
    CHECK(q1(db, "SELECT (latency_ms_sum * 10)::INT FROM query_metrics_hourly") == 1650);
    CHECK(q1(db, "SELECT count(*) FROM metric_histograms_hourly") == 10);
    CHECK(q1(db, "SELECT sum(count) FROM metric_histograms_hourly") == 30);
    CHECK(q1(db, "SELECT count(*) FROM system_metrics_hourly") == 1);
    CHECK(q1(db, "SELECT metric_value_last::INT FROM system_metrics_hourly") == 29);
    CHECK(q1(db, "SELECT metric_value_max::INT FROM system_metrics_hourly") == 29);
    CHECK_OK(strata_analytics_retain(db, NULL)); /* nothing new: nothing to do */
    CHECK(q1(db, "SELECT count(*) FROM query_metrics_hourly") == 1);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
}

int main(void) {
    test_options();
    test_off();
    test_lazy();
    test_record_roundtrip();
    test_record_errors();
    test_json();
    test_flush_on_close();
    test_block_policy_threads();
    test_failed_flush_and_drops();
    test_write_error();
    test_enospc();
    test_dropped_table();
    test_instrumentation();
    test_sampler();
    test_corrupt_file();
    test_unfinished_file();
    test_newer_schema();
    test_compaction();
    return t_done();
}
