/* test_analytics_sql.c — SQL over analytics.duckdb: bound parameters (positional,
 * named, literal) and every parameter error, typed cursors over DuckDB's types,
 * multi-statement scripts, errors that surface while a query runs, the untrusted
 * mode (file access off, SELECT only); the ADR's common queries checked against
 * exact SQL on the raw rows; retention with an injected clock; Parquet export read
 * back with DuckDB's read_parquet. */
#include <duckdb.h>
#include <math.h>
#include <sys/stat.h>

#include "test.h"

static int64_t fake_now = 1737000000000; /* 2025-01-16T04:00:00Z */
static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static strata *open_store(const char *dir, strata_options *o) {
    strata_options d = strata_options_default();
    if (!o) o = &d;
    o->create = 1;
    if (!o->metric_retention_days) o->metric_retention_days = -1;
    strata *db = NULL;
    if (strata_open(dir, o, &db) != STRATA_OK) fprintf(stderr, "open %s: %s\n", dir, strata_open_errmsg());
    return db;
}

/* First column of the first row (params optional); -1 on error. */
static int64_t qp(strata *db, const char *sql, const strata_param *p, size_t n) {
    strata_cursor *c = NULL;
    int64_t v = -1;
    int has = 0;
    if (strata_sql(db, sql, p, n, 0, &c) != STRATA_OK) {
        fprintf(stderr, "sql %s: %s\n", sql, strata_errmsg(db));
        return -1;
    }
    if (strata_cursor_next(c, &has) == STRATA_OK && has) strata_cursor_int64(c, 0, &v, NULL);
    strata_cursor_close(c);
    return v;
}
static int64_t q1(strata *db, const char *sql) { return qp(db, sql, NULL, 0); }

static void exec(strata *db, const char *sql) {
    strata_cursor *c = NULL;
    int rc = strata_sql(db, sql, NULL, 0, 0, &c);
    if (rc) fprintf(stderr, "sql %s: %s\n", sql, strata_errmsg(db));
    CHECK_OK(rc);
    strata_cursor_close(c);
}

static void test_params(strata *db) {
    exec(db, "CREATE TABLE t (i INTEGER, d DOUBLE, s VARCHAR, b BOOLEAN, ts TIMESTAMP)");
    strata_param ins[] = { STRATA_P_INT(NULL, 7), STRATA_P_DOUBLE(NULL, 2.5), STRATA_P_TEXT(NULL, "it's"),
                           STRATA_P_BOOL(NULL, 1), STRATA_P_TIME(NULL, 1737000000123) };
    strata_cursor *c = NULL;
    CHECK_OK(strata_sql(db, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", ins, 5, 0, &c));
    strata_cursor_close(c);
    strata_param named[] = { STRATA_P_TEXT("s", "it's"), STRATA_P_INT("$i", 7) };
    CHECK(qp(db, "SELECT count(*) FROM t WHERE s = $s AND i = $i", named, 2) == 1);
    CHECK(qp(db, "SELECT epoch_ms(ts) FROM t WHERE b = $1", (strata_param[]){ STRATA_P_BOOL(NULL, 1) }, 1) ==
          1737000000123);
    /* Literals: converted to the type DuckDB infers, or typed by their look. */
    strata_param lit[] = { STRATA_P_LITERAL("x", "7"), STRATA_P_LITERAL("y", "2.5") };
    CHECK(qp(db, "SELECT count(*) FROM t WHERE i = $x AND d = $y", lit, 2) == 1);
    CHECK(qp(db, "SELECT $v + 1", (strata_param[]){ STRATA_P_LITERAL("v", "41") }, 1) == 42);
    CHECK(qp(db, "SELECT $v", (strata_param[]){ STRATA_P_LITERAL("v", "true") }, 1) == 1); /* a BOOL */
    /* Where DuckDB knows the type, it converts the text (and says so when it cannot). */
    CHECK(qp(db, "SELECT ($v)::INTEGER", (strata_param[]){ STRATA_P_LITERAL("v", "12") }, 1) == 12);
    CHECK(qp(db, "SELECT count(*) FROM t WHERE ts > $t",
             (strata_param[]){ STRATA_P_LITERAL("t", "2025-01-01 00:00:00") }, 1) == 1);
    CHECK(qp(db, "SELECT $n IS NULL", (strata_param[]){ STRATA_P_LITERAL("n", "null") }, 1) == 1);
    CHECK(qp(db, "SELECT $n IS NULL", (strata_param[]){ STRATA_P_NULL("n") }, 1) == 1);
    CHECK(qp(db, "SELECT length($s)", (strata_param[]){ STRATA_P_LITERAL("s", "1e5x") }, 1) == 4);

    struct { const char *sql; strata_param p[3]; size_t n; int rc; const char *msg; } bad[] = {
        { "SELECT count(*) FROM t WHERE i = $1", { { 0 } }, 0, STRATA_EINVAL, "has no value" },
        { "SELECT count(*) FROM t WHERE i = $1", { STRATA_P_INT(NULL, 1), STRATA_P_INT(NULL, 2) }, 2, STRATA_EINVAL,
          "takes 1 parameter" },
        { "SELECT count(*) FROM t WHERE i = $i", { STRATA_P_INT("j", 1) }, 1, STRATA_EINVAL, "no such parameter" },
        { "SELECT count(*) FROM t WHERE i = $i", { STRATA_P_INT("i", 1), STRATA_P_INT("i", 2) }, 2, STRATA_EINVAL,
          "given twice" },
        { "SELECT count(*) FROM t WHERE d > $d", { STRATA_P_TEXT("d", "abc") }, 1, STRATA_EINVAL, "Conversion" },
        { "SELECT count(*) FROM t WHERE d > $d", { STRATA_P_LITERAL("d", "abc") }, 1, STRATA_EINVAL, "abc" },
        { "SELECT $s", { STRATA_P_TEXT("s", "\xc3\x28") }, 1, STRATA_EINVAL, "UTF-8" },
        { "SELECT $s", { STRATA_P_TEXT("s", NULL) }, 1, STRATA_EINVAL, "NULL" },
        { "SELECT $s", { { "s", 99, 0, 0, NULL } }, 1, STRATA_EINVAL, "unknown type" },
        { "SELECT $s", { STRATA_P_TIME("s", INT64_MAX) }, 1, STRATA_EINVAL, "out of range" },
        { "SELEC 1", { { 0 } }, 0, STRATA_EINVAL, "syntax error" },
        { "SELECT * FROM no_such_table", { { 0 } }, 0, STRATA_EINVAL, "no_such_table" },
        { "SELECT 1; SELECT $1", { STRATA_P_INT(NULL, 1) }, 1, STRATA_EINVAL, "single statement" },
        { "", { { 0 } }, 0, STRATA_EINVAL, "statement" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = (strata_cursor *)1;
        int rc = strata_sql(db, bad[i].sql, bad[i].p, bad[i].n, 0, &c);
        CHECK_RC(rc, bad[i].rc);
        CHECK(c == NULL);
        if (!strstr(strata_errmsg(db), bad[i].msg))
            fprintf(stderr, "case %zu (%s): message '%s' lacks '%s'\n", i, bad[i].sql, strata_errmsg(db), bad[i].msg);
        CHECK(strstr(strata_errmsg(db), bad[i].msg) != NULL);
    }
    CHECK_RC(strata_sql(db, NULL, NULL, 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SELECT 1", NULL, 1, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SELECT 1", NULL, 0, 0x80, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SELECT 1", NULL, 0, 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SELECT '\xff'", NULL, 0, 0, &c), STRATA_EINVAL);
    /* A failed statement changed nothing. */
    CHECK(q1(db, "SELECT count(*) FROM t") == 1);
}

static void test_types(strata *db) {
    strata_cursor *c = NULL;
    int has = 0, null = 0;
    CHECK_OK(strata_sql(db,
        "SELECT 1::TINYINT, 2::SMALLINT, 3::UTINYINT, 4000000000::UBIGINT, sum(x)::HUGEINT, 12.34::DECIMAL(10,2), "
        "123456789012.5::DECIMAL(20,1), 0.5::FLOAT, DATE '2025-01-02', TIMESTAMP_S '2025-01-02 00:00:01', "
        "TIMESTAMP_MS '2025-01-02 00:00:00.5', TIMESTAMP_NS '2025-01-02 00:00:00.000000999', "
        "TIMESTAMPTZ '2025-01-02 00:00:00+00', 'x'::BLOB, 'b'::ENUM('a','b'), NULL, [1,2], NULL::INTEGER, "
        "(-5)::HUGEINT, TIMESTAMP '1969-12-31 23:59:59.9995' "
        "FROM (VALUES (1), (2)) v(x)", NULL, 0, 0, &c));
    int64_t want_i[] = { 1, 2, 3, 4000000000LL, 3 };
    CHECK_RC(strata_cursor_value(c, 0, &(strata_value){ 0 }), STRATA_EMISUSE); /* before next */
    CHECK_OK(strata_cursor_next(c, &has));
    CHECK(has);
    for (int i = 0; i < 5; i++) {
        int64_t v = 0;
        CHECK(strata_cursor_column_type(c, (size_t)i) == STRATA_TYPE_INT);
        CHECK_OK(strata_cursor_int64(c, (size_t)i, &v, NULL));
        CHECK(v == want_i[i]);
    }
    double d = 0;
    CHECK_OK(strata_cursor_double(c, 5, &d, NULL));
    CHECK(fabs(d - 12.34) < 1e-9);
    CHECK_OK(strata_cursor_double(c, 6, &d, NULL));
    CHECK(fabs(d - 123456789012.5) < 1e-3);
    CHECK_OK(strata_cursor_double(c, 7, &d, NULL));
    CHECK(d == 0.5);
    CHECK_OK(strata_cursor_double(c, 0, &d, NULL)); /* an INT reads as double too */
    CHECK(d == 1.0);
    int64_t ms = 0;
    CHECK_OK(strata_cursor_timestamp(c, 8, &ms, NULL));
    CHECK(ms == 1735776000000);
    CHECK_OK(strata_cursor_timestamp(c, 9, &ms, NULL));
    CHECK(ms == 1735776001000);
    CHECK_OK(strata_cursor_timestamp(c, 10, &ms, NULL));
    CHECK(ms == 1735776000500);
    CHECK_OK(strata_cursor_timestamp(c, 11, &ms, NULL));
    CHECK(ms == 1735776000000);
    CHECK_OK(strata_cursor_timestamp(c, 12, &ms, NULL));
    CHECK(ms == 1735776000000);
    const char *s = NULL;
    size_t len = 0;
    CHECK_OK(strata_cursor_text(c, 13, &s, &len, NULL));
    CHECK(s && len == 1 && s[0] == 'x' && s[1] == 0);
    CHECK_OK(strata_cursor_text(c, 14, &s, &len, NULL));
    CHECK(s && !strcmp(s, "b"));
    strata_value v;
    CHECK_OK(strata_cursor_value(c, 15, &v));
    CHECK(v.type == STRATA_TYPE_NULL);
    CHECK(strata_cursor_column_type(c, 16) == STRATA_TYPE_OTHER);
    CHECK_RC(strata_cursor_value(c, 16, &v), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "LIST") && strstr(strata_errmsg(db), "CAST"));
    int64_t iv = 5;
    CHECK_OK(strata_cursor_int64(c, 17, &iv, &null));
    CHECK(null == 1 && iv == 0);
    CHECK_OK(strata_cursor_int64(c, 18, &iv, &null));
    CHECK(iv == -5 && null == 0);
    CHECK_OK(strata_cursor_timestamp(c, 19, &ms, NULL));
    CHECK(ms == -1); /* floor, not truncation, before the epoch */
    CHECK_RC(strata_cursor_value(c, 99, &v), STRATA_EINVAL);
    CHECK_RC(strata_cursor_value(c, 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_double(c, 0, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_text(c, 13, NULL, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_bool(c, 0, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_timestamp(c, 8, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_value(NULL, 0, &v), STRATA_EINVAL);
    CHECK_RC(strata_cursor_int64(NULL, 0, &iv, NULL), STRATA_EINVAL);
    CHECK_OK(strata_cursor_next(c, &has)); /* one row: an aggregate */
    CHECK(!has);
    strata_cursor_close(c);
    /* Out of int64 range is an error, not a wrap. */
    CHECK_OK(strata_sql(db, "SELECT 18446744073709551615::UBIGINT, (2::HUGEINT ** 70)::HUGEINT", NULL, 0, 0, &c));
    CHECK_OK(strata_cursor_next(c, &has));
    CHECK_RC(strata_cursor_int64(c, 0, &iv, NULL), STRATA_EINVAL);
    CHECK_RC(strata_cursor_int64(c, 1, &iv, NULL), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "64-bit") != NULL);
    strata_cursor_close(c);
    /* Many rows across chunks. */
    CHECK_OK(strata_sql(db, "SELECT range FROM range(5000)", NULL, 0, 0, &c));
    int64_t sum = 0, n = 0;
    while (strata_cursor_next(c, &has) == STRATA_OK && has) {
        strata_cursor_int64(c, 0, &iv, NULL);
        sum += iv;
        n++;
    }
    CHECK(n == 5000 && sum == 4999 * 5000 / 2);
    strata_cursor_close(c);
    /* An error raised while rows stream reaches strata_cursor_next (or the call). */
    int rc = strata_sql(db, "SELECT CAST(s AS INTEGER) FROM (SELECT CASE WHEN range < 4000 THEN '1' ELSE 'x' END AS s "
                            "FROM range(5000))", NULL, 0, 0, &c);
    if (rc == STRATA_OK) {
        while ((rc = strata_cursor_next(c, &has)) == STRATA_OK && has) {}
        strata_cursor_close(c);
    }
    CHECK_RC(rc, STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "Conversion") != NULL);
}

static void test_scripts(strata *db) {
    exec(db, "CREATE TABLE s1 (a INT); INSERT INTO s1 VALUES (1), (2); INSERT INTO s1 VALUES (3)");
    CHECK(q1(db, "SELECT sum(a) FROM s1") == 6);
    /* A transaction left open by a script is rolled back when its cursor closes. */
    exec(db, "BEGIN TRANSACTION; INSERT INTO s1 VALUES (100)");
    CHECK(q1(db, "SELECT sum(a) FROM s1") == 6);
    exec(db, "BEGIN TRANSACTION; INSERT INTO s1 VALUES (4); COMMIT");
    CHECK(q1(db, "SELECT sum(a) FROM s1") == 10);
    /* A failing statement stops the script there. */
    strata_cursor *c = NULL;
    CHECK_RC(strata_sql(db, "INSERT INTO s1 VALUES (5); SELECT * FROM nope; INSERT INTO s1 VALUES (6)", NULL, 0, 0, &c),
             STRATA_EINVAL);
    CHECK(q1(db, "SELECT sum(a) FROM s1") == 15);
}

static void test_untrusted(const char *base) {
    char dir[4200], csv[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/untrusted", base);
    snprintf(csv, sizeof csv, "%s/secret.csv", base);
    snprintf(out, sizeof out, "%s/leak.csv", base);
    FILE *f = fopen(csv, "w");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    strata *db = open_store(dir, NULL);
    strata_query_metric q = { 1737000000000, "search", 3.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &q));
    CHECK_OK(strata_metric_flush(db));
    strata_param p = STRATA_P_TEXT("f", csv);
    /* Trusted SQL may read files (until the store is sealed). */
    CHECK(qp(db, "SELECT count(*) FROM read_csv($f)", &p, 1) == 1);
    strata_cursor *c = NULL;
    strata_analytics_stats st;
    CHECK_OK(strata_analytics_stats_get(db, &st));
    CHECK(st.sealed == 0);
    /* Untrusted: a SELECT of the metrics works... */
    CHECK_OK(strata_sql(db, "SELECT count(*) FROM query_metrics", NULL, 0, STRATA_SQL_UNTRUSTED, &c));
    strata_cursor_close(c);
    /* ...reading a file does not. */
    int rc = strata_sql(db, "SELECT * FROM read_csv($f)", &p, 1, STRATA_SQL_UNTRUSTED, &c);
    CHECK(rc == STRATA_EACCES || rc == STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "Permission") != NULL);
    char sql[4400];
    snprintf(sql, sizeof sql, "SELECT * FROM '%s'", csv);
    CHECK(strata_sql(db, sql, NULL, 0, STRATA_SQL_UNTRUSTED, &c) != STRATA_OK);
    CHECK_RC(strata_sql(db, "SELECT * FROM read_text($f)", &p, 1, STRATA_SQL_UNTRUSTED, &c), STRATA_EACCES);
    /* Nothing but one SELECT. */
    strata_param po = STRATA_P_TEXT("f", out);
    CHECK_RC(strata_sql(db, "COPY query_metrics TO $f", &po, 1, STRATA_SQL_UNTRUSTED, &c), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "SELECT") != NULL);
    CHECK_RC(strata_sql(db, "DELETE FROM query_metrics", NULL, 0, STRATA_SQL_UNTRUSTED, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SET enable_external_access = true", NULL, 0, STRATA_SQL_UNTRUSTED, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "SELECT 1; SELECT 2", NULL, 0, STRATA_SQL_UNTRUSTED, &c), STRATA_EINVAL);
    CHECK_RC(strata_sql(db, "ATTACH 'x.db'", NULL, 0, STRATA_SQL_UNTRUSTED, &c), STRATA_EINVAL);
    /* The database is sealed for good: trusted SQL cannot reach files any more either. */
    CHECK_OK(strata_analytics_stats_get(db, &st));
    CHECK(st.sealed == 1);
    rc = strata_sql(db, "COPY query_metrics TO $f", &po, 1, 0, &c);
    CHECK(rc == STRATA_EACCES || rc == STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "Permission") != NULL);
    struct stat sb;
    CHECK(stat(out, &sb) != 0);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 1);
    CHECK_OK(strata_close(db));

    /* Sealed from the open on, by option. */
    strata_options o = strata_options_default();
    o.analytics_flags = STRATA_ANALYTICS_SEALED;
    db = open_store(dir, &o);
    rc = strata_sql(db, "SELECT * FROM read_csv($f)", &p, 1, 0, &c);
    CHECK(rc == STRATA_EACCES || rc == STRATA_EINVAL);
    CHECK_OK(strata_analytics_stats_get(db, &st));
    CHECK(st.sealed == 1);
    CHECK_OK(strata_close(db));
}

/* ---- the ADR queries against exact SQL over the raw rows ---- */
static double dq(strata *db, const char *sql, const strata_param *p, size_t n) {
    strata_cursor *c = NULL;
    double v = NAN;
    int has = 0;
    if (strata_sql(db, sql, p, n, 0, &c) != STRATA_OK) {
        fprintf(stderr, "sql %s: %s\n", sql, strata_errmsg(db));
        return NAN;
    }
    if (strata_cursor_next(c, &has) == STRATA_OK && has) strata_cursor_double(c, 0, &v, NULL);
    strata_cursor_close(c);
    return v;
}

static void test_adr_queries(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/adr", base);
    strata_options o = strata_options_default();
    o.clock = fake_clock;
    o.metric_when_full = STRATA_METRIC_BLOCK;
    fake_now = 1737000000000 + 30 * 60000; /* 04:30 */
    strata *db = open_store(dir, &o);
    const char *strategies[] = { "dense", "sparse", "hybrid" };
    /* 30 hours of queries, a few per minute, latencies spread over three decades. */
    uint32_t x = 12345;
    int n = 0;
    for (int64_t t = fake_now - 30 * 3600000LL; t < fake_now; t += 20000) {
        x = x * 1103515245 + 12345;
        double lat = 0.5 + (double)(x >> 8 & 0xFFFF) / 65536.0 * ((x >> 24) % 3 == 0 ? 900 : 40);
        strata_query_metric q = { t, (x >> 4) % 2 ? "search" : "qa", lat, (int32_t)(x % 20), (x >> 12) % 10 != 0,
                                  strategies[(x >> 16) % 3] };
        CHECK_OK(strata_metric_query(db, &q));
        n++;
    }
    for (int i = 0; i < 200; i++) {
        strata_embedding_metric e = { fake_now - i * 60000LL, i % 4 ? "bge-m3" : "e5", 2.0 + i % 5, 100 + i,
                                      i % 4 ? 1024 : 768 };
        CHECK_OK(strata_metric_embedding(db, &e));
        strata_reranking_metric r = { fake_now - i * 60000LL, "qa", 10 + i % 3, 5.0 + i % 7, 0.5 + (i % 10) / 20.0 };
        CHECK_OK(strata_metric_reranking(db, &r));
        strata_system_metric s = { fake_now - i * 60000LL, "storage.total_bytes", 1000.0 + i, "bytes" };
        CHECK_OK(strata_metric_system(db, &s));
    }
    CHECK_OK(strata_metric_flush(db));
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == n);

    /* latest query stats: exact, for the ADR window and for odd windows. */
    int64_t windows[][2] = { { 0, 0 }, { fake_now - 5 * 3600000LL - 123456, fake_now - 3600000LL + 7777 },
                             { fake_now - 20 * 60000, fake_now - 10 * 60000 }, { 1, 0 } };
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        strata_query_stats st;
        CHECK_OK(strata_analytics_query_stats(db, windows[w][0], windows[w][1], &st));
        int64_t f = windows[w][0] ? windows[w][0] : fake_now - 86400000LL, t = windows[w][1];
        strata_param p[2] = { STRATA_P_TIME(NULL, f), STRATA_P_TIME(NULL, t ? t : INT64_MAX / 2000) };
        int64_t cnt = qp(db, "SELECT count(*) FROM query_metrics WHERE timestamp >= $1 AND timestamp < $2", p, 2);
        double avg = dq(db, "SELECT avg(latency_ms) FROM query_metrics WHERE timestamp >= $1 AND timestamp < $2", p, 2);
        double rate = dq(db, "SELECT avg(success::INT) FROM query_metrics WHERE timestamp >= $1 AND timestamp < $2",
                         p, 2);
        CHECK((int64_t)st.total_queries == cnt);
        CHECK(fabs(st.avg_latency_ms - avg) < 1e-6 * avg);
        CHECK(fabs(st.success_rate - rate) < 1e-9);
        if ((int64_t)st.total_queries != cnt)
            fprintf(stderr, "window %zu: %llu vs %lld\n", w, (unsigned long long)st.total_queries, (long long)cnt);
    }
    strata_query_stats st;
    CHECK_RC(strata_analytics_query_stats(db, 10, 5, &st), STRATA_EINVAL);
    CHECK_RC(strata_analytics_query_stats(db, -1, 0, &st), STRATA_EINVAL);
    CHECK_RC(strata_analytics_query_stats(db, 0, 0, NULL), STRATA_EINVAL);
    CHECK_OK(strata_analytics_query_stats(db, 1000, 2000, &st)); /* nothing there */
    CHECK(st.total_queries == 0 && st.avg_latency_ms == 0 && st.success_rate == 0);

    /* Percentiles by strategy: within the histogram's 1.6% (plus a rank's slack). */
    strata_cursor *c = NULL;
    int has = 0, rows = 0;
    CHECK_OK(strata_analytics_latency_percentiles(db, 0, 0, &c));
    CHECK(strata_cursor_column_count(c) == 7);
    CHECK(!strcmp(strata_cursor_column_name(c, 3), "p50_ms"));
    while (strata_cursor_next(c, &has) == STRATA_OK && has) {
        const char *strat;
        int64_t count;
        double avg, p50, p95, p99, mx;
        strata_cursor_text(c, 0, &strat, NULL, NULL);
        strata_cursor_int64(c, 1, &count, NULL);
        strata_cursor_double(c, 2, &avg, NULL);
        strata_cursor_double(c, 3, &p50, NULL);
        strata_cursor_double(c, 4, &p95, NULL);
        strata_cursor_double(c, 5, &p99, NULL);
        strata_cursor_double(c, 6, &mx, NULL);
        /* Whole hours: [floor_hour(now - 24h), +inf). */
        strata_param p[2] = { STRATA_P_TEXT(NULL, strat), STRATA_P_TIME(NULL, (fake_now - 86400000LL) / 3600000 * 3600000) };
        CHECK(count == qp(db, "SELECT count(*) FROM query_metrics WHERE retrieval_strategy = $1 AND timestamp >= $2", p, 2));
        double e50 = dq(db, "SELECT quantile_disc(latency_ms, 0.5) FROM query_metrics WHERE retrieval_strategy = $1 "
                            "AND timestamp >= $2", p, 2);
        double e95 = dq(db, "SELECT quantile_disc(latency_ms, 0.95) FROM query_metrics WHERE retrieval_strategy = $1 "
                            "AND timestamp >= $2", p, 2);
        double e99 = dq(db, "SELECT quantile_disc(latency_ms, 0.99) FROM query_metrics WHERE retrieval_strategy = $1 "
                            "AND timestamp >= $2", p, 2);
        double emax = dq(db, "SELECT max(latency_ms) FROM query_metrics WHERE retrieval_strategy = $1 AND timestamp >= $2",
                         p, 2);
        double eavg = dq(db, "SELECT avg(latency_ms) FROM query_metrics WHERE retrieval_strategy = $1 AND timestamp >= $2",
                         p, 2);
        CHECK(fabs(p50 - e50) <= 0.035 * e50);
        CHECK(fabs(p95 - e95) <= 0.035 * e95);
        CHECK(fabs(p99 - e99) <= 0.035 * e99);
        if (fabs(p95 - e95) > 0.035 * e95) fprintf(stderr, "%s p95 %g vs %g\n", strat, p95, e95);
        CHECK(fabs(mx - emax) < 1e-4 * emax);
        CHECK(fabs(avg - eavg) < 1e-6 * eavg);
        CHECK(p50 <= p95 && p95 <= p99 && p99 <= mx);
        rows++;
    }
    CHECK(rows == 3);
    strata_cursor_close(c);

    /* Embedding throughput by model. */
    CHECK_OK(strata_analytics_embedding_throughput(db, 0, 0, &c));
    rows = 0;
    while (strata_cursor_next(c, &has) == STRATA_OK && has) {
        const char *model;
        int64_t emb, chars;
        double avg, eps, cps;
        strata_cursor_text(c, 0, &model, NULL, NULL);
        strata_cursor_int64(c, 1, &emb, NULL);
        strata_cursor_int64(c, 2, &chars, NULL);
        strata_cursor_double(c, 3, &avg, NULL);
        strata_cursor_double(c, 4, &eps, NULL);
        strata_cursor_double(c, 5, &cps, NULL);
        strata_param p = STRATA_P_TEXT(NULL, model);
        CHECK(emb == qp(db, "SELECT count(*) FROM embedding_metrics WHERE model_name = $1", &p, 1));
        CHECK(chars == qp(db, "SELECT sum(text_length) FROM embedding_metrics WHERE model_name = $1", &p, 1));
        double t = dq(db, "SELECT sum(embedding_time_ms) FROM embedding_metrics WHERE model_name = $1", &p, 1);
        CHECK(fabs(eps - emb * 1000.0 / t) < 1e-9 * eps);
        CHECK(fabs(cps - chars * 1000.0 / t) < 1e-9 * cps);
        CHECK(fabs(avg - t / emb) < 1e-9 * avg);
        rows++;
    }
    CHECK(rows == 2);
    strata_cursor_close(c);

    /* Hourly rollups of every table. */
    const char *tables[] = { "query_metrics", "embedding_metrics", "reranking_metrics", "system_metrics", "op_metrics" };
    for (int t = 0; t < 5; t++) {
        CHECK_OK(strata_analytics_hourly(db, tables[t], fake_now - 6 * 3600000LL, fake_now, &c));
        CHECK(!strcmp(strata_cursor_column_name(c, 0), "hour"));
        CHECK(strata_cursor_column_type(c, 0) == STRATA_TYPE_TIMESTAMP);
        int64_t total = 0, prev = 0, count;
        rows = 0;
        while (strata_cursor_next(c, &has) == STRATA_OK && has) {
            int64_t hour;
            strata_cursor_timestamp(c, 0, &hour, NULL);
            CHECK(hour % 3600000 == 0 && hour >= prev);
            prev = hour;
            for (size_t k = 0; k < strata_cursor_column_count(c); k++)
                if (!strcmp(strata_cursor_column_name(c, k), "count")) {
                    strata_cursor_int64(c, k, &count, NULL);
                    total += count;
                }
            rows++;
        }
        strata_cursor_close(c);
        if (t == 0) {
            strata_param p[2] = { STRATA_P_TIME(NULL, (fake_now - 6 * 3600000LL) / 3600000 * 3600000),
                                  STRATA_P_TIME(NULL, fake_now) };
            CHECK(total == qp(db, "SELECT count(*) FROM query_metrics WHERE timestamp >= $1 AND timestamp < $2", p, 2));
            CHECK(rows >= 7 * 4); /* 7 hours x (2 types x 3 strategies, most of them) */
        } else if (t == 3) {
            CHECK(total == 200);
        }
    }
    CHECK_OK(strata_analytics_hourly(db, "query_metrics", 0, 0, &c));
    CHECK_OK(strata_cursor_next(c, &has));
    double avg, mn, mx;
    CHECK(!strcmp(strata_cursor_column_name(c, 5), "avg_latency_ms"));
    strata_cursor_double(c, 5, &avg, NULL);
    strata_cursor_double(c, 6, &mn, NULL);
    strata_cursor_double(c, 7, &mx, NULL);
    CHECK(mn <= avg && avg <= mx);
    strata_cursor_close(c);
    CHECK_RC(strata_analytics_hourly(db, "nope", 0, 0, &c), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "no metric table") != NULL);
    CHECK_RC(strata_analytics_hourly(db, NULL, 0, 0, &c), STRATA_EINVAL);
    CHECK_RC(strata_analytics_hourly(db, "query_metrics", 5, 1, &c), STRATA_EINVAL);
    CHECK_RC(strata_analytics_latency_percentiles(db, 0, 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_analytics_embedding_throughput(db, -5, 0, &c), STRATA_EINVAL);
    CHECK_OK(strata_close(db));
}

/* Raw rows older than the retention are deleted; their hourly rollups stay. */
static void test_retention(const char *base) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/retention", base);
    strata_options o = strata_options_default();
    o.clock = fake_clock;
    o.metric_retention_days = 30;
    fake_now = 1737000000000;
    strata *db = open_store(dir, &o);
    const int64_t day = 86400000LL;
    int64_t ages[] = { 45 * day, 40 * day, 31 * day + 1, 29 * day, day, 0 };
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++)
        for (int k = 0; k < 10; k++) {
            strata_query_metric q = { fake_now - ages[i] - k * 1000, "search", 1.0 + k, k, 1, "dense" };
            CHECK_OK(strata_metric_query(db, &q));
            strata_system_metric s = { fake_now - ages[i] - k * 1000, "m", 1.0, "u" };
            CHECK_OK(strata_metric_system(db, &s));
        }
    CHECK_OK(strata_metric_flush(db));
    uint64_t deleted = 99;
    CHECK_OK(strata_analytics_retain(db, &deleted));
    CHECK(deleted == 2 * 30); /* three ages x 10 rows x 2 tables */
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 30);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 60);
    CHECK(q1(db, "SELECT sum(count) FROM system_metrics_hourly") == 60);
    /* Stats over the deleted span still come from the rollups. */
    strata_query_stats st;
    CHECK_OK(strata_analytics_query_stats(db, fake_now - 50 * day, fake_now - 35 * day, &st));
    CHECK(st.total_queries == 20);
    CHECK(fabs(st.avg_latency_ms - 5.5) < 1e-9);
    CHECK_OK(strata_analytics_query_stats(db, 1, 0, &st));
    CHECK(st.total_queries == 60);
    CHECK_OK(strata_analytics_retain(db, &deleted)); /* idempotent */
    CHECK(deleted == 0);
    /* Ten days later two more ages go; late rows for a retained hour still roll up. */
    __atomic_store_n(&fake_now, fake_now + 10 * day, __ATOMIC_RELAXED);
    strata_query_metric late = { 1737000000000 - 45 * day, "search", 1.0, 1, 1, "dense" };
    CHECK_OK(strata_metric_query(db, &late));
    CHECK_OK(strata_metric_flush(db));
    CHECK_OK(strata_analytics_retain(db, &deleted));
    CHECK(deleted == 2 * 10 + 1);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 20);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 61);
    CHECK_OK(strata_close(db));
    /* Retention at open; -1 keeps everything. */
    __atomic_store_n(&fake_now, fake_now + 40 * day, __ATOMIC_RELAXED);
    o.metric_retention_days = -1;
    db = open_store(dir, &o);
    CHECK_OK(strata_analytics_retain(db, &deleted));
    CHECK(deleted == 0);
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 20);
    CHECK_OK(strata_close(db));
    o.metric_retention_days = 30;
    db = open_store(dir, &o);
    CHECK_OK(strata_metric_flush(db)); /* the open's retention ran before this returned */
    CHECK(q1(db, "SELECT count(*) FROM query_metrics") == 0);
    CHECK(q1(db, "SELECT sum(count) FROM query_metrics_hourly") == 61);
    CHECK_OK(strata_close(db));
}

/* Parquet export, hive layout, read back by DuckDB itself. */
static int64_t duck_count(const char *sql, const char *path) {
    duckdb_database ddb;
    duckdb_connection con;
    int64_t v = -1;
    if (duckdb_open(NULL, &ddb) != DuckDBSuccess) return -1;
    duckdb_connect(ddb, &con);
    duckdb_prepared_statement st;
    duckdb_result res;
    if (duckdb_prepare(con, sql, &st) == DuckDBSuccess) {
        duckdb_bind_varchar(st, 1, path);
        if (duckdb_execute_prepared(st, &res) == DuckDBSuccess) {
            duckdb_data_chunk ch = duckdb_fetch_chunk(res);
            if (ch) {
                v = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
                duckdb_destroy_data_chunk(&ch);
            }
        } else {
            fprintf(stderr, "read back: %s\n", duckdb_result_error(&res));
        }
        duckdb_destroy_result(&res);
    } else {
        fprintf(stderr, "read back: %s\n", duckdb_prepare_error(st));
    }
    duckdb_destroy_prepare(&st);
    duckdb_disconnect(&con);
    duckdb_close(&ddb);
    return v;
}

static void test_export(const char *base, int sealed) {
    char dir[4200], out[4200], glob[4400], file[4400];
    snprintf(dir, sizeof dir, "%s/export%d", base, sealed);
    snprintf(out, sizeof out, "%s/parquet%d", base, sealed);
    strata_options o = strata_options_default();
    if (sealed) o.analytics_flags = STRATA_ANALYTICS_SEALED;
    strata *db = open_store(dir, &o);
    for (int i = 0; i < 300; i++) {
        /* Three days: 2025-01-15, -16, -17. */
        strata_query_metric q = { 1736899200000 + (i % 3) * 86400000LL + i * 1000, "search", 1.0 * i, i, i % 2,
                                  "dense" };
        CHECK_OK(strata_metric_query(db, &q));
    }
    strata_embedding_metric e = { 1736899200000, "bge-m3", 1.0, 10, 1024 };
    CHECK_OK(strata_metric_embedding(db, &e));
    uint64_t files = 0;
    CHECK_OK(strata_analytics_export(db, out, &files));
    CHECK(files >= 3 + 3 + 1 + 1);
    snprintf(file, sizeof file, "%s/table=query_metrics/day=2025-01-16", out);
    struct stat st;
    CHECK(stat(file, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(glob, sizeof glob, "%s/table=query_metrics/*/*.parquet", out);
    CHECK(duck_count("SELECT count(*) FROM read_parquet($1, hive_partitioning = true)", glob) == 300);
    CHECK(duck_count("SELECT count(DISTINCT day) FROM read_parquet($1, hive_partitioning = true)", glob) == 3);
    CHECK(duck_count("SELECT sum(result_count) FROM read_parquet($1)", glob) == 299 * 300 / 2);
    snprintf(glob, sizeof glob, "%s/*/*/*.parquet", out);
    CHECK(duck_count("SELECT count(DISTINCT \"table\") FROM read_parquet($1, hive_partitioning = true, "
                     "union_by_name = true)", glob) >= 5);
    snprintf(glob, sizeof glob, "%s/table=query_metrics_hourly/*/*.parquet", out);
    CHECK(duck_count("SELECT sum(count) FROM read_parquet($1)", glob) == 300);
    /* No staging left behind in the store. */
    snprintf(file, sizeof file, "%s/analytics-export.tmp", dir);
    CHECK(stat(file, &st) != 0);
    /* A non-empty destination is refused; an empty one is fine. */
    CHECK_RC(strata_analytics_export(db, out, NULL), STRATA_EEXIST);
    CHECK(strstr(strata_errmsg(db), "not an empty directory") != NULL);
    snprintf(file, sizeof file, "%s/empty%d", base, sealed);
    mkdir(file, 0700);
    CHECK_OK(strata_analytics_export(db, file, &files));
    CHECK_RC(strata_analytics_export(db, NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_analytics_export(db, "/nonexistent-parent/x/y", NULL), STRATA_ENOTFOUND);
    CHECK_OK(strata_close(db));
}

int main(void) {
    char *base = t_tmpdir("an-sql");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sql", base);
    strata *db = open_store(dir, NULL);
    CHECK(db != NULL);
    test_params(db);
    test_types(db);
    test_scripts(db);
    CHECK_OK(strata_close(db));
    test_untrusted(base);
    test_adr_queries(base);
    test_retention(base);
    test_export(base, 0);
    test_export(base, 1);
    t_rmtree(base);
    return t_done();
}
