/* test_operational.c — settings, sessions, transactions and group commit, the commit
 * log's LSNs, per-thread error messages, and schema migrations from every version. */
#include "test.h"
#include "operational/op.h"

#include <pthread.h>
#include <sqlite3.h>

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx) { (void)ctx; return __atomic_load_n(&fake_now, __ATOMIC_RELAXED); }

static strata *open_store(const char *dir) {
    strata_options o = t_options();
    o.create = 1;
    o.clock = fake_clock;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) {
        fprintf(stderr, "open %s: %s\n", dir, strata_open_errmsg());
        abort();
    }
    return db;
}

static char *get(strata *db, const char *key) {
    char *v = NULL;
    return strata_setting_get(db, key, &v, NULL) == STRATA_OK ? v : NULL;
}

static int count_cb(void *ctx, const char *k, const char *v, int64_t t) {
    (void)k; (void)v; (void)t;
    ++*(int *)ctx;
    return 0;
}
static int count_settings(strata *db) {
    int n = 0;
    CHECK_OK(strata_setting_list(db, count_cb, &n));
    return n;
}

static void test_settings(strata *db) {
    char *v;
    int64_t at = 0;
    __atomic_store_n(&fake_now, 1700000000000, __ATOMIC_RELAXED);
    CHECK_OK(strata_setting_set(db, NULL, "theme", "{\"dark\": true}"));
    CHECK_OK(strata_setting_get(db, "theme", &v, &at));
    CHECK(v && !strcmp(v, "{\"dark\": true}"));
    CHECK(at == 1700000000000);
    strata_free(v);
    __atomic_add_fetch(&fake_now, 5000, __ATOMIC_RELAXED);
    CHECK_OK(strata_setting_set(db, NULL, "theme", "\"light\""));
    CHECK_OK(strata_setting_get(db, "theme", &v, &at));
    CHECK(v && !strcmp(v, "\"light\"") && at == 1700000005000);
    strata_free(v);

    /* Bad input: clear error, nothing changes. */
    int before = count_settings(db);
    CHECK_RC(strata_setting_set(db, NULL, "theme", "{bad json"), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "not valid JSON") != NULL);
    CHECK_RC(strata_setting_set(db, NULL, "x", ""), STRATA_EINVAL);
    CHECK_RC(strata_setting_set(db, NULL, "", "1"), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "empty") != NULL);
    CHECK_RC(strata_setting_set(db, NULL, NULL, "1"), STRATA_EINVAL);
    CHECK_RC(strata_setting_set(db, NULL, "x", NULL), STRATA_EINVAL);
    CHECK_RC(strata_setting_set(NULL, NULL, "x", "1"), STRATA_EINVAL);
    char key[STRATA_KEY_MAX + 2];
    memset(key, 'k', sizeof key);
    key[STRATA_KEY_MAX + 1] = 0;
    CHECK_RC(strata_setting_set(db, NULL, key, "1"), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "longer than 1024") != NULL);
    CHECK_RC(strata_setting_set(db, NULL, "bad\xff", "1"), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "UTF-8") != NULL);
    CHECK_RC(strata_session_create(db, NULL, "s\xc3", "{}", 0, NULL), STRATA_EINVAL);
    CHECK_OK(strata_setting_set(db, NULL, "caf\xc3\xa9", "1"));
    CHECK_OK(strata_setting_delete(db, NULL, "caf\xc3\xa9"));
    key[STRATA_KEY_MAX] = 0; /* exactly the limit is fine */
    CHECK_OK(strata_setting_set(db, NULL, key, "1"));
    CHECK_OK(strata_setting_delete(db, NULL, key));
    CHECK(count_settings(db) == before);
    v = get(db, "theme");
    CHECK(v && !strcmp(v, "\"light\""));
    strata_free(v);

    CHECK_RC(strata_setting_get(db, "nope", &v, NULL), STRATA_ENOTFOUND);
    CHECK(v == NULL);
    CHECK(strstr(strata_errmsg(db), "'nope' not found") != NULL);
    CHECK_RC(strata_setting_get(db, "theme", NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_setting_delete(db, NULL, "nope"), STRATA_ENOTFOUND);
    CHECK_OK(strata_setting_delete(db, NULL, "theme"));
    CHECK_RC(strata_setting_get(db, "theme", &v, NULL), STRATA_ENOTFOUND);
    CHECK_RC(strata_setting_list(db, NULL, NULL), STRATA_EINVAL);

    /* A too-large value is refused before anything is stored. */
    size_t big = (size_t)STRATA_JSON_MAX + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '1';
    huge[big] = 0;
    CHECK_RC(strata_setting_set(db, NULL, "huge", huge), STRATA_ETOOBIG);
    free(huge);
}

static int list_stop_cb(void *ctx, const char *k, const char *v, int64_t t) {
    (void)v; (void)t;
    char *order = ctx;
    strcat(order, k);
    return strcmp(k, "b") == 0 ? 42 : 0;
}

static void test_list_order(strata *db) {
    CHECK_OK(strata_setting_set(db, NULL, "c", "3"));
    CHECK_OK(strata_setting_set(db, NULL, "a", "1"));
    CHECK_OK(strata_setting_set(db, NULL, "b", "2"));
    char order[64] = "";
    CHECK_RC(strata_setting_list(db, list_stop_cb, order), 42);
    CHECK(!strcmp(order, "ab"));
}

static int session_ids_cb(void *ctx, const strata_session *s) {
    strcat(ctx, s->id);
    strcat(ctx, ",");
    return 0;
}

static void test_sessions(strata *db) {
    __atomic_store_n(&fake_now, 1800000000000, __ATOMIC_RELAXED);
    char *id = NULL;
    CHECK_OK(strata_session_create(db, NULL, NULL, "{\"user\":\"ann\"}", 0, &id));
    CHECK(id && strlen(id) == STRATA_SESSION_ID_RANDOM_LEN && strspn(id, "0123456789abcdef") == 32);
    char *id2 = NULL;
    CHECK_OK(strata_session_create(db, NULL, NULL, NULL, 0, &id2));
    CHECK(id2 && strcmp(id, id2) != 0);

    strata_session *s = NULL;
    CHECK_OK(strata_session_get(db, id, &s));
    CHECK(s && !strcmp(s->data, "{\"user\":\"ann\"}") && s->created_at_ms == fake_now &&
          s->last_accessed_ms == fake_now && s->ttl_s == 0);
    strata_session_free(s);
    CHECK_OK(strata_session_get(db, id2, &s));
    CHECK(s && !strcmp(s->data, "{}"));
    strata_session_free(s);

    /* Given ids; duplicates refused; data must be an object. */
    CHECK_OK(strata_session_create(db, NULL, "fixed", "{}", 60, NULL));
    CHECK_RC(strata_session_create(db, NULL, "fixed", "{}", 60, NULL), STRATA_EEXIST);
    CHECK(strstr(strata_errmsg(db), "already exists") != NULL);
    CHECK_RC(strata_session_create(db, NULL, "arr", "[1]", 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_session_create(db, NULL, "neg", "{}", -1, NULL), STRATA_EINVAL);
    CHECK_RC(strata_session_create(db, NULL, "", "{}", 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_session_get(db, "arr", &s), STRATA_ENOTFOUND);
    CHECK_RC(strata_session_get(db, "fixed", NULL), STRATA_EINVAL);

    /* Touch moves last_accessed; put replaces data, keeps created_at. */
    __atomic_add_fetch(&fake_now, 10000, __ATOMIC_RELAXED);
    CHECK_OK(strata_session_touch(db, NULL, "fixed"));
    CHECK_RC(strata_session_touch(db, NULL, "nobody"), STRATA_ENOTFOUND);
    __atomic_add_fetch(&fake_now, 10000, __ATOMIC_RELAXED);
    CHECK_OK(strata_session_put(db, NULL, "fixed", "{\"n\":2}", 30));
    CHECK_OK(strata_session_get(db, "fixed", &s));
    CHECK(s && s->created_at_ms == 1800000000000 && s->last_accessed_ms == fake_now && s->ttl_s == 30 &&
          !strcmp(s->data, "{\"n\":2}"));
    strata_session_free(s);
    CHECK_OK(strata_session_put(db, NULL, "fresh", NULL, 0));
    CHECK_RC(strata_session_put(db, NULL, NULL, "{}", 0), STRATA_EINVAL);

    char ids[512] = "";
    CHECK_OK(strata_session_list(db, session_ids_cb, ids));
    CHECK(strstr(ids, "fixed,fresh,") != NULL);
    CHECK_RC(strata_session_list(db, NULL, NULL), STRATA_EINVAL);

    /* Expiry: "fixed" has ttl 30 s; the others only go with an idle TTL. */
    uint64_t n = 99;
    __atomic_add_fetch(&fake_now, 29000, __ATOMIC_RELAXED);
    CHECK_OK(strata_session_expire(db, 0, &n));
    CHECK(n == 0);
    __atomic_add_fetch(&fake_now, 2000, __ATOMIC_RELAXED);
    CHECK_OK(strata_session_expire(db, 0, &n));
    CHECK(n == 1);
    CHECK_RC(strata_session_get(db, "fixed", &s), STRATA_ENOTFOUND);
    CHECK_RC(strata_session_expire(db, -5, &n), STRATA_EINVAL);
    /* id and id2 were last touched 51 s ago, "fresh" 31 s ago. */
    CHECK_OK(strata_session_expire(db, 40, &n));
    CHECK(n == 2);
    CHECK_OK(strata_session_get(db, "fresh", &s));
    strata_session_free(s);
    CHECK_OK(strata_session_expire(db, 1, NULL));
    CHECK_RC(strata_session_get(db, "fresh", &s), STRATA_ENOTFOUND);

    CHECK_OK(strata_session_create(db, NULL, "gone", NULL, 0, NULL));
    CHECK_OK(strata_session_delete(db, NULL, "gone"));
    CHECK_RC(strata_session_delete(db, NULL, "gone"), STRATA_ENOTFOUND);
    strata_free(id);
    strata_free(id2);
}

static void test_transactions(strata *db) {
    strata_stats st0, st1;
    CHECK_OK(strata_stats_get(db, &st0));
    strata_txn *t = NULL;
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_setting_set(db, t, "tx.a", "1"));
    CHECK_OK(strata_setting_set(db, t, "tx.b", "2"));
    CHECK_OK(strata_session_create(db, t, "tx.s", "{}", 0, NULL));
    /* Validation happens at the call, and the txn stays usable. */
    CHECK_RC(strata_setting_set(db, t, "tx.c", "nope"), STRATA_EINVAL);
    /* Not visible before commit. */
    char *v = NULL;
    CHECK_RC(strata_setting_get(db, "tx.a", &v, NULL), STRATA_ENOTFOUND);
    uint64_t lsn = 0;
    CHECK_OK(strata_txn_commit(t, &lsn));
    CHECK(lsn == st0.lsn + 1);
    v = get(db, "tx.b");
    CHECK(v && !strcmp(v, "2"));
    strata_free(v);
    CHECK_OK(strata_stats_get(db, &st1));
    CHECK(st1.lsn == lsn);

    /* One failing write fails the whole transaction: nothing of it is applied. */
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_setting_set(db, t, "tx.d", "4"));
    CHECK_OK(strata_setting_delete(db, t, "tx.missing"));
    CHECK_RC(strata_txn_commit(t, &lsn), STRATA_ENOTFOUND);
    CHECK(lsn == 0);
    CHECK(strstr(strata_errmsg(db), "tx.missing") != NULL);
    CHECK_RC(strata_setting_get(db, "tx.d", &v, NULL), STRATA_ENOTFOUND);
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_session_create(db, t, "tx.s2", NULL, 0, NULL));
    CHECK_OK(strata_session_create(db, t, "tx.s", NULL, 0, NULL)); /* exists */
    CHECK_RC(strata_txn_commit(t, NULL), STRATA_EEXIST);
    strata_session *s = NULL;
    CHECK_RC(strata_session_get(db, "tx.s2", &s), STRATA_ENOTFOUND);

    /* Abort discards; an empty commit is a no-op. */
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_setting_set(db, t, "tx.e", "5"));
    strata_txn_abort(t);
    CHECK_RC(strata_setting_get(db, "tx.e", &v, NULL), STRATA_ENOTFOUND);
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_txn_commit(t, NULL));
    CHECK_OK(strata_stats_get(db, &st0));
    CHECK(st0.lsn == st1.lsn);
    CHECK_RC(strata_txn_begin(db, NULL), STRATA_EINVAL);
}

/* Group commit: threads committing at once share fsyncs; every write lands with its
 * own LSN, and LSNs are unique. */
#define GC_THREADS 4
#define GC_WRITES 100
static strata *gc_db;
static uint64_t gc_lsns[GC_THREADS][GC_WRITES];
static int gc_fail;

static void *gc_worker(void *arg) {
    long tid = (long)arg;
    for (int i = 0; i < GC_WRITES; i++) {
        char key[64];
        snprintf(key, sizeof key, "gc.%ld.%d", tid, i);
        strata_txn *t;
        if (strata_txn_begin(gc_db, &t) || strata_setting_set(gc_db, t, key, "true") ||
            strata_txn_commit(t, &gc_lsns[tid][i]))
            __atomic_add_fetch(&gc_fail, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_group_commit(strata *db) {
    gc_db = db;
    strata_stats before, after;
    CHECK_OK(strata_stats_get(db, &before));
    pthread_t th[GC_THREADS];
    for (long i = 0; i < GC_THREADS; i++) pthread_create(&th[i], NULL, gc_worker, (void *)i);
    for (int i = 0; i < GC_THREADS; i++) pthread_join(th[i], NULL);
    CHECK(gc_fail == 0);
    CHECK_OK(strata_stats_get(db, &after));
    uint64_t commits = after.commits - before.commits, syncs = after.group_commits - before.group_commits;
    CHECK(commits == GC_THREADS * GC_WRITES);
    CHECK(syncs <= commits);
    printf("group commit: %llu commits in %llu group commits\n", (unsigned long long)commits,
           (unsigned long long)syncs);
    qsort(gc_lsns, GC_THREADS * GC_WRITES, sizeof(uint64_t), cmp_u64);
    uint64_t *l = &gc_lsns[0][0];
    int unique = 1;
    for (int i = 1; i < GC_THREADS * GC_WRITES; i++) if (l[i] == l[i - 1] || l[i] == 0) unique = 0;
    CHECK(unique);
    CHECK(l[GC_THREADS * GC_WRITES - 1] == after.lsn);
    char *v = get(db, "gc.3.99");
    CHECK(v && !strcmp(v, "true"));
    strata_free(v);
}

/* strata_errmsg is per thread: another thread's failure does not overwrite ours. */
static void *err_worker(void *arg) {
    strata *db = arg;
    strata_setting_set(db, NULL, "", "1");
    return strstr(strata_errmsg(db), "empty") ? db : NULL;
}

static void test_errmsg_threads(strata *db) {
    char *v;
    CHECK_RC(strata_setting_get(db, "only-mine", &v, NULL), STRATA_ENOTFOUND);
    pthread_t th;
    void *ok = NULL;
    pthread_create(&th, NULL, err_worker, db);
    pthread_join(th, &ok);
    CHECK(ok != NULL);
    CHECK(strstr(strata_errmsg(db), "only-mine") != NULL);
}

static void test_stats(strata *db) {
    strata_stats st;
    CHECK_OK(strata_stats_get(db, &st));
    CHECK(st.format_version == STRATA_FORMAT_VERSION);
    CHECK(st.settings >= 3 && st.operational_bytes > 0 && st.total_bytes >= st.operational_bytes);
    CHECK(st.documents == 0);
    CHECK_RC(strata_stats_get(db, NULL), STRATA_EINVAL);
}

/* Every older schema version migrates to the current one with its data intact. */
static void test_migrations(void) {
    for (int from = 0; from < OP_SCHEMA_VERSION; from++) {
        char *dir = t_tmpdir("migrate");
        char path[4200];
        snprintf(path, sizeof path, "%s/STRATA", dir);
        FILE *f = fopen(path, "w");
        fputs("strata-store\nformat-version 1\n", f);
        fclose(f);
        snprintf(path, sizeof path, "%s/operational.db", dir);
        sqlite3 *raw;
        CHECK(sqlite3_open(path, &raw) == SQLITE_OK);
        char err[256];
        CHECK_OK(op_migrate(raw, from, err, sizeof err));
        if (from >= 1)
            CHECK(sqlite3_exec(raw, "INSERT INTO settings VALUES('old', '\"kept\"', 1);"
                                    "INSERT INTO sessions VALUES('s1', '{}', 1, 1, 0);"
                                    "INSERT INTO commit_log(committed_at, ops) VALUES(1, 1);",
                               NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(raw);

        strata *db = open_store(dir);
        sqlite3_open(path, &raw);
        sqlite3_stmt *s;
        sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, NULL);
        CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == OP_SCHEMA_VERSION);
        sqlite3_finalize(s);
        sqlite3_close(raw);
        if (from >= 1) {
            char *v = get(db, "old");
            CHECK(v && !strcmp(v, "\"kept\""));
            strata_free(v);
            strata_session *ss = NULL;
            CHECK_OK(strata_session_get(db, "s1", &ss));
            strata_session_free(ss);
            uint64_t lsn = 0;
            strata_txn *t;
            CHECK_OK(strata_txn_begin(db, &t));
            CHECK_OK(strata_setting_set(db, t, "new", "1"));
            CHECK_OK(strata_txn_commit(t, &lsn));
            CHECK(lsn == 2); /* LSNs continue after the migrated log */
        } else {
            CHECK_OK(strata_setting_set(db, NULL, "new", "1"));
        }
        strata_stats st;
        CHECK_OK(strata_stats_get(db, &st));
        CHECK(st.documents == 0);
        strata_close(db);
        t_rmtree(dir);
    }
    /* A target beyond this build is refused. */
    sqlite3 *raw;
    sqlite3_open(":memory:", &raw);
    char err[256];
    CHECK_RC(op_migrate(raw, OP_SCHEMA_VERSION + 1, err, sizeof err), STRATA_EINVAL);
    sqlite3_close(raw);
}

static void test_persistence(const char *dir) {
    strata *db = open_store(dir);
    char *v = get(db, "tx.a");
    CHECK(v && !strcmp(v, "1"));
    strata_free(v);
    strata_session *s = NULL;
    CHECK_OK(strata_session_get(db, "tx.s", &s));
    strata_session_free(s);
    strata_close(db);
}

int main(void) {
    char *dir = t_tmpdir("op");
    strata *db = open_store(dir);
    test_settings(db);
    test_list_order(db);
    test_sessions(db);
    test_transactions(db);
    test_group_commit(db);
    test_errmsg_threads(db);
    test_stats(db);
    CHECK_OK(strata_close(db));
    test_persistence(dir);
    t_rmtree(dir);
    test_migrations();
    return t_done();
}
