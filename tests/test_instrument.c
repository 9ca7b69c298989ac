/* test_instrument.c — built-in instrumentation: public operations (document put, get,
 * delete, stat, vector put and search, compaction, check, backup) count themselves
 * in analytics (op_metrics_hourly, exact counts; errors counted as errors), and the
 * option that turns it off records nothing. */
#include "test.h"

static strata *open_flags(const char *dir, int flags) {
    strata_options o = strata_options_default();
    o.create = 1;
    o.backup_interval_hours = -1;
    o.analytics_flags = flags;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) { fprintf(stderr, "open: %s\n", strata_open_errmsg()); abort(); }
    return db;
}

/* sum(count), sum(errors) of op in op_metrics_hourly. */
static void op_counts(strata *db, const char *op, int64_t *count, int64_t *errors) {
    *count = *errors = -1;
    strata_param p = STRATA_P_TEXT("op", op);
    strata_cursor *c = NULL;
    if (strata_sql(db, "SELECT coalesce(sum(count), 0), coalesce(sum(errors), 0) FROM op_metrics_hourly WHERE op = $op",
                   &p, 1, 0, &c) != STRATA_OK) {
        fprintf(stderr, "sql: %s\n", strata_errmsg(db));
        return;
    }
    int has = 0;
    if (strata_cursor_next(c, &has) == STRATA_OK && has) {
        strata_cursor_int64(c, 0, count, NULL);
        strata_cursor_int64(c, 1, errors, NULL);
    }
    strata_cursor_close(c);
}

static void workload(strata *db) {
    void *got;
    size_t len;
    CHECK_OK(strata_doc_put(db, NULL, "a", 1, "alpha", 5, NULL));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(strata_doc_get(db, "a", 1, &got, &len));
        strata_free(got);
    }
    CHECK_RC(strata_doc_get(db, "missing", 7, &got, &len), STRATA_ENOTFOUND);
    strata_doc_info *info;
    CHECK_OK(strata_doc_stat(db, "a", 1, &info));
    strata_doc_info_free(info);
    strata_collection_opts co = { .dim = 2 };
    CHECK_OK(strata_vec_create(db, "v", &co));
    float v[2] = { 1, 2 };
    CHECK_OK(strata_vec_put(db, NULL, "v", "a", 1, v, 2));
    strata_vec_result *r;
    size_t n;
    CHECK_OK(strata_vec_search(db, "v", v, 2, NULL, &r, &n));
    strata_vec_results_free(r, n);
    CHECK_OK(strata_compact(db, 0.5, NULL));
    uint64_t problems;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK_OK(strata_backup_create(db, NULL, NULL));
    CHECK_OK(strata_doc_delete(db, NULL, "a", 1));
}

int main(void) {
    char *dir = t_tmpdir("instr");
    strata *db = open_flags(dir, 0);
    workload(db);
    CHECK_OK(strata_close(db)); /* flushes every buffered record */
    db = open_flags(dir, 0);
    static const struct { const char *op; int64_t count, errors; } want[] = {
        { "doc_put", 1, 0 }, { "doc_get", 4, 1 }, { "doc_stat", 1, 0 }, { "doc_delete", 1, 0 },
        { "vec_put", 1, 0 }, { "vec_search", 1, 0 }, { "compact", 1, 0 }, { "check", 1, 0 }, { "backup", 1, 0 },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int64_t count, errors;
        op_counts(db, want[i].op, &count, &errors);
        if (count != want[i].count || errors != want[i].errors)
            fprintf(stderr, "%s: count %lld errors %lld, want %lld %lld\n", want[i].op, (long long)count,
                    (long long)errors, (long long)want[i].count, (long long)want[i].errors);
        CHECK(count == want[i].count && errors == want[i].errors);
    }
    CHECK_OK(strata_close(db));
    t_rmtree(dir);

    /* Instrumentation off: the same work records nothing. */
    dir = t_tmpdir("noinstr");
    db = open_flags(dir, STRATA_ANALYTICS_NO_INSTRUMENTATION);
    workload(db);
    CHECK_OK(strata_close(db));
    db = open_flags(dir, STRATA_ANALYTICS_NO_INSTRUMENTATION);
    int64_t count, errors;
    op_counts(db, "doc_get", &count, &errors);
    CHECK(count == 0);
    CHECK_OK(strata_close(db));
    t_rmtree(dir);
    return t_done();
}
