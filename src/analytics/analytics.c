/* analytics.c — the analytics backend's life: the recording ring, the flusher thread
 * that opens analytics.duckdb and writes batches (raw rows through DuckDB's appender
 * plus the hourly rollups, one transaction per batch), the system sampler's clock,
 * retention, and the connection pool queries lease from.
 *
 * Why rollups are kept as rows arrive rather than computed at query time: at 10M
 * rows DuckDB needs ~270 ms for exact percentiles by strategy and ~150 ms for an
 * hourly GROUP BY on this class of machine, against a goal of < 100 ms. The flusher
 * already holds every record once, in memory, so it aggregates each batch by (hour,
 * dimensions) in C — sums, minima, maxima and log-linear latency histograms, which
 * all merge exactly — and appends the few resulting rows to the *_hourly tables in
 * the same transaction as the raw rows. Raw rows and rollups never disagree (a failed
 * batch rolls both back), and retention only has to delete raw rows.
 *
 * Rollup rows are deltas: a key (hour, dimensions) may have several rows, one per
 * batch that touched it, and every reader aggregates by key. Appending is what keeps
 * ingest at appender speed (an upsert of a batch's histogram rows through a primary
 * key costs 2-5x the append); compaction folds each key's rows into one, every
 * minute, for the hours batches touched since the last pass (AN_COMPACT_EVERY_MS).
 *
 * Built-in instrumentation must cost next to nothing on a 600 ns document get, so
 * it counts every operation in per-thread counters (a plain store to a cache line
 * only its thread writes) and records one operation in AN_OP_SAMPLE (with its
 * latency) as an op_metrics row. The flusher adds the counters' growth to
 * op_metrics_hourly (count, errors: exact) in each batch's transaction; the sampled
 * rows give the latency columns (sampled, latency_us_*, the histogram).
 *
 * Failure policy: a batch that cannot be written (disk full, a table dropped by user
 * SQL) is rolled back and kept in memory; the flusher re-creates the schema if it is
 * missing and retries with exponential backoff (AN_RETRY_MIN_MS..AN_RETRY_MAX_MS).
 * While it is kept, the ring fills and the buffer policy applies. Close makes three
 * last attempts; what still cannot be written is reported by an_close. */
#include "an_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- names ---- */
static const char *const table_names[AN_NTABLES] = {
    "query_metrics", "embedding_metrics", "reranking_metrics", "system_metrics", "op_metrics",
};
const char *an_table_name(int table) {
    return table >= 0 && table < AN_NTABLES ? table_names[table] : NULL;
}

static const char *const op_names[AN_OP_COUNT] = {
    "other", "doc_put", "doc_get", "doc_delete", "doc_stat", "doc_list",
    "vec_put", "vec_search", "vec_delete",
    "cache_get", "cache_set", "cache_delete",
    "setting_get", "setting_set", "session_get", "session_put",
    "txn_commit", "backup", "restore", "compact", "check", "sql",
};
const char *an_op_name(int op) { return op > 0 && op < AN_OP_COUNT ? op_names[op] : op_names[0]; }

/* ---- small helpers ---- */
void an_errf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t an_now_ms(analytics *an) {
    if (an->cfg.now) return an->cfg.now(an->cfg.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int an_duck_status(duckdb_error_type t, const char *msg) {
    if (msg && (strstr(msg, "No space left on device") || strstr(msg, "Disk quota exceeded"))) return STRATA_ENOSPC;
    switch (t) {
    case DUCKDB_ERROR_PERMISSION: return STRATA_EACCES;
    case DUCKDB_ERROR_IO: return STRATA_EIO;
    case DUCKDB_ERROR_OUT_OF_MEMORY: return STRATA_ENOMEM;
    case DUCKDB_ERROR_FATAL: case DUCKDB_ERROR_INTERNAL: return STRATA_EINTERNAL;
    case DUCKDB_ERROR_TRANSACTION: case DUCKDB_ERROR_INTERRUPT: return STRATA_ERROR;
    default: return STRATA_EINVAL;
    }
}

int an_exec(duckdb_connection con, const char *sql, const char *what, char *err, size_t errlen) {
    duckdb_result res;
    int rc = STRATA_OK;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        rc = an_duck_status(duckdb_result_error_type(&res), m);
        an_errf(err, errlen, "%s: %s", what, m ? m : "DuckDB error");
    }
    duckdb_destroy_result(&res); /* always, even after a failed query */
    return rc;
}

/* Run fixed SQL; its first column of its first row as int64 (0 if none). */
static int query_i64(duckdb_connection con, const char *sql, int64_t *out, char *err, size_t errlen) {
    duckdb_result res;
    int rc = STRATA_OK;
    *out = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        rc = an_duck_status(duckdb_result_error_type(&res), m);
        an_errf(err, errlen, "%s", m ? m : "DuckDB error");
    } else {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        if (ch) {
            if (duckdb_data_chunk_get_size(ch) > 0) {
                duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
                uint64_t *valid = duckdb_vector_get_validity(v);
                if (!valid || duckdb_validity_row_is_valid(valid, 0)) *out = ((int64_t *)duckdb_vector_get_data(v))[0];
            }
            duckdb_destroy_data_chunk(&ch);
        }
    }
    duckdb_destroy_result(&res);
    return rc;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- options ---- */
int an_check_options(const strata_options *o, char *err, size_t errlen) {
    const int known = STRATA_ANALYTICS_OFF | STRATA_ANALYTICS_NO_INSTRUMENTATION | STRATA_ANALYTICS_NO_SAMPLER |
                      STRATA_ANALYTICS_SEALED;
    if (o->analytics_flags & ~known) {
        an_errf(err, errlen, "analytics_flags has unknown bits 0x%x", (unsigned)(o->analytics_flags & ~known));
        return STRATA_EINVAL;
    }
    if (o->analytics_memory_limit && o->analytics_memory_limit < (16ull << 20)) {
        an_errf(err, errlen, "analytics_memory_limit must be 0 (default) or at least 16 MiB");
        return STRATA_EINVAL;
    }
    if (o->analytics_threads < 0 || o->analytics_threads > 1024) {
        an_errf(err, errlen, "analytics_threads must be within 0..1024");
        return STRATA_EINVAL;
    }
    if (o->metric_buffer && (o->metric_buffer < STRATA_METRIC_BUFFER_MIN || o->metric_buffer > STRATA_METRIC_BUFFER_MAX)) {
        an_errf(err, errlen, "metric_buffer must be 0 (default) or within %d..%d records", STRATA_METRIC_BUFFER_MIN,
                STRATA_METRIC_BUFFER_MAX);
        return STRATA_EINVAL;
    }
    if (o->metric_when_full != STRATA_METRIC_DROP && o->metric_when_full != STRATA_METRIC_BLOCK) {
        an_errf(err, errlen, "metric_when_full must be STRATA_METRIC_DROP or STRATA_METRIC_BLOCK");
        return STRATA_EINVAL;
    }
    if (o->metric_retention_days < -1 || o->metric_retention_days > 36500) {
        an_errf(err, errlen, "metric_retention_days must be -1 (forever), 0 (default) or 1..36500");
        return STRATA_EINVAL;
    }
    if (o->metric_sample_s < 0 || o->metric_sample_s > 86400) {
        an_errf(err, errlen, "metric_sample_s must be within 0..86400");
        return STRATA_EINVAL;
    }
    return STRATA_OK;
}

/* ---- schema ---- */
static const char *const schema_sql[] = {
    "CREATE TABLE IF NOT EXISTS query_metrics (timestamp TIMESTAMP, query_type VARCHAR, latency_ms FLOAT, "
    "result_count INTEGER, retrieval_strategy VARCHAR, success BOOLEAN)",
    "CREATE TABLE IF NOT EXISTS embedding_metrics (timestamp TIMESTAMP, model_name VARCHAR, "
    "embedding_time_ms FLOAT, text_length INTEGER, dimension INTEGER)",
    "CREATE TABLE IF NOT EXISTS reranking_metrics (timestamp TIMESTAMP, query_type VARCHAR, "
    "document_count INTEGER, rerank_time_ms FLOAT, quality_score FLOAT)",
    "CREATE TABLE IF NOT EXISTS system_metrics (timestamp TIMESTAMP, metric_name VARCHAR, metric_value FLOAT, "
    "metric_unit VARCHAR)",
    "CREATE TABLE IF NOT EXISTS op_metrics (timestamp TIMESTAMP, op VARCHAR, latency_us BIGINT, status INTEGER)",
    "CREATE TABLE IF NOT EXISTS query_metrics_hourly (hour TIMESTAMP, query_type VARCHAR, "
    "retrieval_strategy VARCHAR, count BIGINT, successes BIGINT, latency_ms_sum DOUBLE, latency_ms_min FLOAT, "
    "latency_ms_max FLOAT, result_count_sum BIGINT)",
    "CREATE TABLE IF NOT EXISTS embedding_metrics_hourly (hour TIMESTAMP, model_name VARCHAR, count BIGINT, "
    "embedding_time_ms_sum DOUBLE, embedding_time_ms_min FLOAT, embedding_time_ms_max FLOAT, "
    "text_length_sum BIGINT, dimension_min INTEGER, dimension_max INTEGER)",
    "CREATE TABLE IF NOT EXISTS reranking_metrics_hourly (hour TIMESTAMP, query_type VARCHAR, count BIGINT, "
    "document_count_sum BIGINT, rerank_time_ms_sum DOUBLE, rerank_time_ms_min FLOAT, rerank_time_ms_max FLOAT, "
    "quality_score_sum DOUBLE, quality_score_min FLOAT, quality_score_max FLOAT)",
    "CREATE TABLE IF NOT EXISTS system_metrics_hourly (hour TIMESTAMP, metric_name VARCHAR, metric_unit VARCHAR, "
    "count BIGINT, metric_value_sum DOUBLE, metric_value_min FLOAT, metric_value_max FLOAT, "
    "metric_value_last FLOAT, last_timestamp TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS op_metrics_hourly (hour TIMESTAMP, op VARCHAR, count BIGINT, errors BIGINT, "
    "sampled BIGINT, latency_us_sum BIGINT, latency_us_min BIGINT, latency_us_max BIGINT)",
    "CREATE TABLE IF NOT EXISTS metric_histograms_hourly (source VARCHAR, hour TIMESTAMP, dim1 VARCHAR, "
    "dim2 VARCHAR, bucket SMALLINT, count BIGINT)",
    "CREATE TABLE IF NOT EXISTS analytics_meta (key VARCHAR PRIMARY KEY, value BIGINT)",
};

/* The rollup tables, in enum an_table order, then the histograms. */
enum { RU_HIST = AN_NTABLES, RU_N };
static const char *const rollup_names[RU_N] = {
    "query_metrics_hourly", "embedding_metrics_hourly", "reranking_metrics_hourly", "system_metrics_hourly",
    "op_metrics_hourly", "metric_histograms_hourly",
};
/* Compaction: each key with several delta rows since `$1` becomes one row. The
 * merged rows go through a TEMP table of the flusher's connection. */
static const char *const compact_merge_sql[RU_N] = {
    "INSERT INTO temp.compact_query SELECT hour, query_type, retrieval_strategy, sum(count), sum(successes), "
    "sum(latency_ms_sum), min(latency_ms_min), max(latency_ms_max), sum(result_count_sum) "
    "FROM query_metrics_hourly WHERE hour >= $1 GROUP BY ALL HAVING count(*) > 1",
    "INSERT INTO temp.compact_embedding SELECT hour, model_name, sum(count), sum(embedding_time_ms_sum), "
    "min(embedding_time_ms_min), max(embedding_time_ms_max), sum(text_length_sum), min(dimension_min), "
    "max(dimension_max) FROM embedding_metrics_hourly WHERE hour >= $1 GROUP BY ALL HAVING count(*) > 1",
    "INSERT INTO temp.compact_reranking SELECT hour, query_type, sum(count), sum(document_count_sum), "
    "sum(rerank_time_ms_sum), min(rerank_time_ms_min), max(rerank_time_ms_max), sum(quality_score_sum), "
    "min(quality_score_min), max(quality_score_max) FROM reranking_metrics_hourly WHERE hour >= $1 "
    "GROUP BY ALL HAVING count(*) > 1",
    "INSERT INTO temp.compact_system SELECT hour, metric_name, metric_unit, sum(count), sum(metric_value_sum), "
    "min(metric_value_min), max(metric_value_max), arg_max(metric_value_last, last_timestamp), "
    "max(last_timestamp) FROM system_metrics_hourly WHERE hour >= $1 GROUP BY ALL HAVING count(*) > 1",
    "INSERT INTO temp.compact_op SELECT hour, op, sum(count), sum(errors), sum(sampled), sum(latency_us_sum), "
    "min(latency_us_min), max(latency_us_max) FROM op_metrics_hourly WHERE hour >= $1 "
    "GROUP BY ALL HAVING count(*) > 1",
    ("INSERT INTO temp.compact_hist SELECT source, hour, dim1, dim2, bucket, sum(count) "
     "FROM metric_histograms_hourly WHERE hour >= $1 GROUP BY ALL HAVING count(*) > 1"),
};
static const char *const compact_delete_sql[RU_N] = {
    "DELETE FROM query_metrics_hourly r USING temp.compact_query c WHERE r.hour = c.hour AND "
    "r.query_type = c.query_type AND r.retrieval_strategy = c.retrieval_strategy",
    "DELETE FROM embedding_metrics_hourly r USING temp.compact_embedding c WHERE r.hour = c.hour AND "
    "r.model_name = c.model_name",
    "DELETE FROM reranking_metrics_hourly r USING temp.compact_reranking c WHERE r.hour = c.hour AND "
    "r.query_type = c.query_type",
    "DELETE FROM system_metrics_hourly r USING temp.compact_system c WHERE r.hour = c.hour AND "
    "r.metric_name = c.metric_name AND r.metric_unit = c.metric_unit",
    "DELETE FROM op_metrics_hourly r USING temp.compact_op c WHERE r.hour = c.hour AND r.op = c.op",
    "DELETE FROM metric_histograms_hourly r USING temp.compact_hist c WHERE r.source = c.source AND "
    "r.hour = c.hour AND r.dim1 = c.dim1 AND r.dim2 = c.dim2 AND r.bucket = c.bucket",
};
static const char *const compact_temp[RU_N] = {
    "compact_query", "compact_embedding", "compact_reranking", "compact_system", "compact_op", "compact_hist",
};

/* Histogram sources, by aggregate group kind (NULL: none). Query latencies are
 * kept by (hour, retrieval_strategy) — AN_G_QHIST groups — not by the rollup's
 * (query_type, retrieval_strategy): percentiles are asked by strategy, and the
 * histogram rows are most of what the percentiles query reads. */
enum { AN_G_QHIST = AN_NTABLES, AN_G_KINDS };
static const char *const hist_source[AN_G_KINDS] = {
    NULL, "embedding_metrics.embedding_time_ms", "reranking_metrics.rerank_time_ms", NULL, "op_metrics.latency_us",
    "query_metrics.latency_ms",
};
static int ensure_schema(analytics *an, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof schema_sql / sizeof schema_sql[0]; i++) {
        int rc = an_exec(an->fcon, schema_sql[i], "creating the analytics schema", err, errlen);
        if (rc) return rc;
    }
    return STRATA_OK;
}

/* The raw tables' column types, in order, for the appender's data chunks. */
static const duckdb_type raw_types[AN_NTABLES][6] = {
    { DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_FLOAT, DUCKDB_TYPE_INTEGER, DUCKDB_TYPE_VARCHAR,
      DUCKDB_TYPE_BOOLEAN },
    { DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_FLOAT, DUCKDB_TYPE_INTEGER, DUCKDB_TYPE_INTEGER },
    { DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_INTEGER, DUCKDB_TYPE_FLOAT, DUCKDB_TYPE_FLOAT },
    { DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_FLOAT, DUCKDB_TYPE_VARCHAR },
    { DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_INTEGER },
};
static const int raw_ncols[AN_NTABLES] = { 6, 5, 5, 4, 4 };

static int make_chunks(analytics *an) {
    for (int t = 0; t < AN_NTABLES; t++) {
        duckdb_logical_type lt[6];
        for (int c = 0; c < raw_ncols[t]; c++) lt[c] = duckdb_create_logical_type(raw_types[t][c]);
        an->chunk[t] = duckdb_create_data_chunk(lt, (idx_t)raw_ncols[t]);
        for (int c = 0; c < raw_ncols[t]; c++) duckdb_destroy_logical_type(&lt[c]);
        if (!an->chunk[t]) return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static int open_status(const char *msg) {
    if (!msg) return STRATA_EIO;
    if (strstr(msg, "No space left")) return STRATA_ENOSPC;
    if (strstr(msg, "ermission denied")) return STRATA_EACCES;
    if (strstr(msg, "not a valid DuckDB database") || strstr(msg, "orrupt")) return STRATA_ECORRUPT;
    if (strstr(msg, "storage version") || strstr(msg, "newer version")) return STRATA_EVERSION;
    if (strstr(msg, "Could not set lock")) return STRATA_EBUSY;
    return STRATA_EIO;
}

static int set_config(duckdb_config cfg, const char *name, const char *value, char *err, size_t errlen) {
    if (duckdb_set_config(cfg, name, value) == DuckDBError) {
        an_errf(err, errlen, "DuckDB refused the setting %s = %s", name, value);
        return STRATA_EINVAL;
    }
    return STRATA_OK;
}

/* SET GLOBAL allowed_directories = [stage_dir/] — a bound list value, not SQL text. */
static int allow_stage_dir(analytics *an, char *err, size_t errlen) {
    size_t n = strlen(an->stage_dir);
    char *slash = malloc(n + 2);
    if (!slash) return STRATA_ENOMEM;
    memcpy(slash, an->stage_dir, n);
    memcpy(slash + n, "/", 2);
    duckdb_prepared_statement st = NULL;
    duckdb_value v = NULL, list = NULL;
    duckdb_logical_type vt = NULL;
    int rc = STRATA_OK;
    if (duckdb_prepare(an->fcon, "SET GLOBAL allowed_directories = $1", &st) == DuckDBError) {
        an_errf(err, errlen, "allowed_directories: %s", duckdb_prepare_error(st));
        rc = STRATA_EINTERNAL;
        goto done;
    }
    v = duckdb_create_varchar(slash);
    vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    list = v && vt ? duckdb_create_list_value(vt, &v, 1) : NULL;
    if (!list) { rc = STRATA_ENOMEM; goto done; }
    duckdb_result res;
    if (duckdb_bind_value(st, 1, list) == DuckDBError) {
        an_errf(err, errlen, "allowed_directories: cannot bind the export directory");
        rc = STRATA_EINTERNAL;
        goto done;
    }
    if (duckdb_execute_prepared(st, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        rc = an_duck_status(duckdb_result_error_type(&res), m);
        an_errf(err, errlen, "allowed_directories: %s", m ? m : "DuckDB error");
    }
    duckdb_destroy_result(&res);
done:
    if (list) duckdb_destroy_value(&list);
    if (v) duckdb_destroy_value(&v);
    if (vt) duckdb_destroy_logical_type(&vt);
    duckdb_destroy_prepare(&st);
    free(slash);
    return rc;
}

static int cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Open analytics.duckdb with its settings and schema (flusher thread). */
static int open_duck(analytics *an, char *err, size_t errlen) {
    duckdb_config cfg = NULL;
    if (duckdb_create_config(&cfg) == DuckDBError) {
        an_errf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    char buf[64];
    uint64_t mem = an->cfg.memory_limit ? an->cfg.memory_limit : STRATA_DEFAULT_ANALYTICS_MEMORY;
    int threads = an->cfg.threads ? an->cfg.threads : STRATA_DEFAULT_ANALYTICS_THREADS;
    if (threads > cores()) threads = cores();
    int rc;
    snprintf(buf, sizeof buf, "%" PRIu64 " bytes", mem);
    if ((rc = set_config(cfg, "memory_limit", buf, err, errlen)) != STRATA_OK) goto fail_cfg;
    snprintf(buf, sizeof buf, "%d", threads);
    if ((rc = set_config(cfg, "threads", buf, err, errlen)) != STRATA_OK) goto fail_cfg;
    /* Local-first: nothing is ever downloaded or loaded behind the caller's back. */
    if ((rc = set_config(cfg, "autoinstall_known_extensions", "false", err, errlen)) != STRATA_OK) goto fail_cfg;
    if ((rc = set_config(cfg, "autoload_known_extensions", "false", err, errlen)) != STRATA_OK) goto fail_cfg;
    char *oerr = NULL;
    duckdb_state ost = duckdb_open_ext(an->db_path, &an->db, cfg, &oerr);
    struct stat st;
    if (ost == DuckDBError && oerr && strstr(oerr, "not a valid DuckDB database file") &&
        stat(an->db_path, &st) == 0 && st.st_size < AN_DUCKDB_HEADERS) {
        /* A file shorter than DuckDB's headers is a creation that never finished (a
         * full disk, a crash): it holds nothing. Start it again. */
        duckdb_free(oerr);
        oerr = NULL;
        char *wal = path_join(an->dir, "analytics.duckdb.wal");
        unlink(an->db_path);
        if (wal) unlink(wal);
        free(wal);
        ost = duckdb_open_ext(an->db_path, &an->db, cfg, &oerr);
    }
    if (ost == DuckDBError) {
        rc = open_status(oerr);
        an_errf(err, errlen, "%s: %s", an->db_path, oerr ? oerr : "cannot open");
        if (oerr) duckdb_free(oerr);
        an->db = NULL;
        goto fail_cfg;
    }
    duckdb_destroy_config(&cfg);
    if (duckdb_connect(an->db, &an->fcon) == DuckDBError) {
        an_errf(err, errlen, "%s: cannot connect", an->db_path);
        return STRATA_EIO;
    }
    if ((rc = an_exec(an->fcon, "SET GLOBAL TimeZone = 'UTC'", "TimeZone", err, errlen)) != STRATA_OK) return rc;
    if ((rc = allow_stage_dir(an, err, errlen)) != STRATA_OK) return rc;
    if (an->cfg.flags & STRATA_ANALYTICS_SEALED) {
        if ((rc = an_exec(an->fcon, "SET GLOBAL enable_external_access = false", "sealing", err, errlen))) return rc;
        atomic_store(&an->sealed, 1);
    }
    int64_t version = 0;
    /* A newer schema is refused before anything is written to it. */
    if (query_i64(an->fcon,
                  "SELECT value FROM duckdb_tables() t, analytics_meta m WHERE t.table_name = 'analytics_meta' "
                  "AND t.schema_name = 'main' AND m.key = 'schema_version'",
                  &version, err, errlen) == STRATA_OK &&
        version > AN_SCHEMA_VERSION) {
        an_errf(err, errlen, "%s: analytics schema version %" PRId64 " is newer than this build's %d", an->db_path,
                version, AN_SCHEMA_VERSION);
        return STRATA_EVERSION;
    }
    /* The tables are created when the schema is not there yet (and re-created by
     * the flusher if user SQL dropped one). */
    if (version != AN_SCHEMA_VERSION && (rc = ensure_schema(an, err, errlen)) != STRATA_OK) return rc;
    /* Written only when missing: an open that finds everything in place writes
     * nothing (so closing it has nothing to checkpoint). */
    if (version == 0 &&
        (rc = an_exec(an->fcon, "INSERT INTO analytics_meta VALUES ('schema_version', 1) ON CONFLICT DO NOTHING",
                      "creating the analytics schema", err, errlen)) != STRATA_OK)
        return rc;
    int64_t wm = 0;
    if ((rc = query_i64(an->fcon, "SELECT value FROM analytics_meta WHERE key = 'retained_before_us'", &wm, err,
                        errlen)) != STRATA_OK)
        return rc;
    atomic_store(&an->retained_before_us, wm);
    if (make_chunks(an) != STRATA_OK) {
        an_errf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
fail_cfg:
    duckdb_destroy_config(&cfg);
    return rc;
}

static void close_duck(analytics *an) {
    for (int t = 0; t < AN_NTABLES; t++)
        if (an->chunk[t]) duckdb_destroy_data_chunk(&an->chunk[t]);
    for (int i = 0; i < an->npool; i++) duckdb_disconnect(&an->pool[i]);
    an->npool = 0;
    if (an->fcon) duckdb_disconnect(&an->fcon);
    if (an->db) duckdb_close(&an->db);
}

/* ---- records ---- */
int an_rec_set_text(an_rec *r, const char *s0, size_t len0, const char *s1, size_t len1) {
    char *p = r->text;
    r->heap = NULL;
    if (len0 + len1 + 2 > sizeof r->text) {
        if (!(p = r->heap = malloc(len0 + len1 + 2))) return STRATA_ENOMEM;
    }
    if (len0) memcpy(p, s0, len0);
    p[len0] = 0;
    if (len1) memcpy(p + len0 + 1, s1, len1);
    p[len0 + 1 + len1] = 0;
    r->len0 = (uint32_t)len0;
    r->len1 = (uint32_t)len1;
    return STRATA_OK;
}

static inline const char *rec_s0(const an_rec *r) { return r->heap ? r->heap : r->text; }
static inline const char *rec_s1(const an_rec *r) { return rec_s0(r) + r->len0 + 1; }

/* Claim a slot and copy r in: 1 done, 0 full. */
static int ring_try_push(analytics *an, const an_rec *r) {
    uint64_t pos = atomic_load_explicit(&an->enq, memory_order_relaxed);
    for (;;) {
        an_slot *s = &an->ring[pos & an->mask];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            /* seq_cst: this claim and the load of `sleeping` below pair with the
             * flusher's store of `sleeping` and load of `enq` (one of the two sides
             * sees the other, so a sleeping flusher is never missed). */
            if (atomic_compare_exchange_weak_explicit(&an->enq, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                s->r = *r;
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                /* Wake a sleeping flusher, and a busy one every quarter of the ring. */
                if ((pos & an->kick_mask) == 0 || atomic_load_explicit(&an->sleeping, memory_order_seq_cst)) {
                    pthread_mutex_lock(&an->mu);
                    pthread_cond_signal(&an->wake_cv);
                    pthread_mutex_unlock(&an->mu);
                }
                return 1;
            }
        } else if (dif < 0) {
            return 0;
        } else {
            pos = atomic_load_explicit(&an->enq, memory_order_relaxed);
        }
    }
}

static int push(analytics *an, an_rec *r, int may_block) {
    int state = __atomic_load_n(&an->state, __ATOMIC_ACQUIRE);
    if (state < 0) {
        free(r->heap);
        return state;
    }
    if (ring_try_push(an, r)) return STRATA_OK;
    if (!may_block || an->cfg.when_full != STRATA_METRIC_BLOCK) {
        atomic_fetch_add_explicit(&an->dropped, 1, memory_order_relaxed);
        free(r->heap);
        return STRATA_OK;
    }
    atomic_fetch_add(&an->waiters, 1);
    int rc = STRATA_OK;
    pthread_mutex_lock(&an->mu);
    for (;;) {
        if (an->closing || an->state < 0) {
            rc = an->state < 0 ? an->state : STRATA_EMISUSE;
            break;
        }
        pthread_mutex_unlock(&an->mu);
        if (ring_try_push(an, r)) {
            pthread_mutex_lock(&an->mu);
            r = NULL;
            break;
        }
        pthread_mutex_lock(&an->mu);
        /* Sleep until the flusher has emptied half the ring (or 10 ms pass): blocked
         * producers resume in long runs instead of one wake-up per free slot. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        while (!an->closing && an->state >= 0 && atomic_load(&an->enq) - atomic_load(&an->deq_pub) > an->cap / 2) {
            pthread_cond_signal(&an->wake_cv);
            if (pthread_cond_timedwait(&an->done_cv, &an->mu, &ts) != 0) break;
        }
    }
    pthread_mutex_unlock(&an->mu);
    atomic_fetch_sub(&an->waiters, 1);
    if (r) free(r->heap);
    return rc;
}

int an_push(analytics *an, an_rec *r) { return push(an, r, 1); }
int an_push_nowait(analytics *an, an_rec *r) { return push(an, r, 0); }

int an_instrumenting(const analytics *an) { return an && atomic_load_explicit(&an->instrument, memory_order_relaxed); }

/* ---- instrumentation: per-thread counters and 1-in-AN_OP_SAMPLE samples ---- */
static _Atomic uint64_t next_handle_id = 1;
/* Each thread caches its block for the last AN_TLS_SLOTS stores it used; the one
 * it used last is found first. initial-exec: no __tls_get_addr call in libstrata.so. */
#define AN_TLS_SLOTS 4
struct an_tls { uint64_t id; an_tblock *b; uint32_t n; };
static _Thread_local struct an_tls tls[AN_TLS_SLOTS] __attribute__((tls_model("initial-exec")));
static _Thread_local unsigned tls_next __attribute__((tls_model("initial-exec")));
static _Thread_local struct an_tls *tls_last __attribute__((tls_model("initial-exec")));

static struct an_tls *tls_miss(analytics *an) {
    for (int i = 0; i < AN_TLS_SLOTS; i++)
        if (tls[i].id == an->id) return tls_last = &tls[i];
    /* A miss: this thread's block may exist already (a cache slot was reused). */
    pthread_t me = pthread_self();
    an_tblock *b = atomic_load(&an->blocks);
    while (b && !pthread_equal(b->owner, me)) b = b->next;
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        b->owner = me;
        b->next = atomic_load(&an->blocks);
        while (!atomic_compare_exchange_weak(&an->blocks, &b->next, b)) {}
    }
    struct an_tls *t = &tls[tls_next++ % AN_TLS_SLOTS];
    *t = (struct an_tls){ an->id, b, 0 };
    return tls_last = t;
}

static inline struct an_tls *tls_of(analytics *an) {
    struct an_tls *t = tls_last;
    return t && t->id == an->id ? t : tls_miss(an);
}

static inline void count_op(an_tblock *b, int op, int status) {
    int k = status == STRATA_OK ? AN_OUT_OK : status == STRATA_ENOTFOUND ? AN_OUT_NOTFOUND : AN_OUT_ERROR;
    _Atomic uint64_t *c = &b->count[op][k];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t an_op_start(analytics *an) {
    if (!an_instrumenting(an)) return 0;
    struct an_tls *t = tls_of(an);
    if (!t) return 0;
    if ((t->n++ & (AN_OP_SAMPLE - 1)) != 0) return 1; /* counted, not timed */
    return mono_ns() + 2;                       /* never 0 or 1 */
}

static void sample_op(analytics *an, int op, int64_t latency_us, int status) {
    an_rec r;
    r.table = AN_T_OP;
    r.op = (uint16_t)op;
    r.i0 = latency_us < 0 ? 0 : latency_us;
    r.i1 = status;
    r.len0 = r.len1 = 0;
    r.heap = NULL;
    if (an->cfg.clock_injected) {
        r.ts_us = an_now_ms(an) * 1000;
    } else {
        /* A coarse clock (a few ms of resolution, a few ns to read): op rows are
         * bucketed by the hour; their latency is exact. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        r.ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    (void)push(an, &r, 0); /* never blocks: a full ring drops and counts */
}

void an_op_end(analytics *an, int op, uint64_t t0, int status) {
    if (!t0) return;
    struct an_tls *t = tls_of(an);
    if (op <= 0 || op >= AN_OP_COUNT) op = AN_OP_OTHER;
    if (t) count_op(t->b, op, status);
    if (t0 > 1) sample_op(an, op, (int64_t)((mono_ns() + 2 - t0) / 1000), status);
}

void an_record_op(analytics *an, int op, int64_t latency_us, int status) {
    if (!an_instrumenting(an)) return;
    if (op <= 0 || op >= AN_OP_COUNT) op = AN_OP_OTHER;
    struct an_tls *t = tls_of(an);
    if (t) count_op(t->b, op, status);
    sample_op(an, op, latency_us, status);
}

void an_cache_counts(analytics *an, uint64_t *hits, uint64_t *misses) {
    *hits = an->cache_hits;
    *misses = an->cache_misses;
    an->cache_hits = an->cache_misses = 0;
}

/* ---- the flusher: rollup aggregation ---- */
typedef struct an_group {
    uint64_t hash;
    int64_t hour;
    const char *s0, *s1;
    uint32_t len0, len1;
    uint8_t table;
    uint64_t count, aux, sampled;
    double sum0, min0, max0, sum1, min1, max1;
    int64_t isum, imin, imax;
    int64_t last_ts;
    double last_val;
    uint32_t *hist;
} an_group;

typedef struct an_agg {
    an_group *g;
    size_t n, cap;
    uint32_t *slots; /* index + 1 into g; 0 empty */
    size_t nslots;
    uint32_t **hist_pool;
    size_t nhist, hist_cap;
} an_agg;

/* A group key's hash: 8 bytes at a time, multiply-xorshift mixing. */
static inline uint64_t mix64(uint64_t h, uint64_t v) {
    h ^= v * 0x9e3779b97f4a7c15ull;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n) {
    uint64_t v;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&v, p, 8);
        h = mix64(h, v);
    }
    v = 0;
    memcpy(&v, p, n);
    return mix64(h, v ^ ((uint64_t)n << 56));
}

static int agg_grow_slots(an_agg *a) {
    size_t ns = a->nslots ? a->nslots * 2 : 256;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return STRATA_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        size_t k = a->g[i].hash & (ns - 1);
        while (sl[k]) k = (k + 1) & (ns - 1);
        sl[k] = (uint32_t)i + 1;
    }
    free(a->slots);
    a->slots = sl;
    a->nslots = ns;
    return STRATA_OK;
}

static uint32_t *agg_hist(an_agg *a) {
    if (a->nhist < a->hist_cap) {
        uint32_t *h = a->hist_pool[a->nhist++];
        memset(h, 0, AN_NBUCKETS * sizeof *h);
        return h;
    }
    size_t cap = a->hist_cap ? a->hist_cap * 2 : 16;
    uint32_t **np = realloc(a->hist_pool, cap * sizeof *np);
    if (!np) return NULL;
    a->hist_pool = np;
    uint32_t *h = calloc(AN_NBUCKETS, sizeof *h);
    if (!h) return NULL;
    a->hist_pool[a->hist_cap++] = h;
    a->nhist++;
    return h;
}

static an_group *agg_find(an_agg *a, uint8_t table, int64_t hour, const char *s0, uint32_t len0, const char *s1,
                          uint32_t len1) {
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix64(h, (uint64_t)hour ^ ((uint64_t)table << 60));
    h = hash_bytes(h, s0, len0);
    h = hash_bytes(h, s1, len1);
    if ((a->n + 1) * 2 > a->nslots && agg_grow_slots(a) != STRATA_OK) return NULL;
    size_t k = h & (a->nslots - 1);
    for (; a->slots[k]; k = (k + 1) & (a->nslots - 1)) {
        an_group *g = &a->g[a->slots[k] - 1];
        if (g->hash == h && g->table == table && g->hour == hour && g->len0 == len0 && g->len1 == len1 &&
            !memcmp(g->s0, s0, len0) && !memcmp(g->s1, s1, len1))
            return g;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        an_group *ng = realloc(a->g, cap * sizeof *ng);
        if (!ng) return NULL;
        a->g = ng;
        a->cap = cap;
    }
    an_group *g = &a->g[a->n];
    memset(g, 0, sizeof *g);
    /* The key's texts are copied: the batch they come from may move as it grows. */
    char *key = malloc((size_t)len0 + len1 + 2);
    if (!key) return NULL;
    memcpy(key, s0, len0);
    key[len0] = 0;
    memcpy(key + len0 + 1, s1, len1);
    key[len0 + 1 + len1] = 0;
    g->hash = h;
    g->table = table;
    g->hour = hour;
    g->s0 = key;
    g->len0 = len0;
    g->s1 = key + len0 + 1;
    g->len1 = len1;
    g->min0 = g->min1 = INFINITY;
    g->max0 = g->max1 = -INFINITY;
    g->imin = INT64_MAX;
    g->imax = INT64_MIN;
    g->last_ts = INT64_MIN;
    if (hist_source[table] && !(g->hist = agg_hist(a))) {
        free(key);
        return NULL;
    }
    a->slots[k] = (uint32_t)a->n + 1;
    a->n++;
    return g;
}

static void agg_reset(an_agg *a) {
    for (size_t i = 0; i < a->n; i++) free((char *)a->g[i].s0);
    a->n = 0;
    a->nhist = 0;
    if (a->slots) memset(a->slots, 0, a->nslots * sizeof *a->slots);
}

static void agg_free(an_agg *a) {
    agg_reset(a);
    free(a->g);
    free(a->slots);
    for (size_t i = 0; i < a->hist_cap; i++) free(a->hist_pool[i]);
    free(a->hist_pool);
    memset(a, 0, sizeof *a);
}

static uint64_t us_of_ms(double ms) {
    double us = ms * 1000.0;
    if (!(us > 0)) return 0;
    if (us >= 4.0e18) return (uint64_t)4e18;
    return (uint64_t)us;
}

static int agg_add(an_agg *a, const an_rec *r) {
    int64_t hour = r->ts_us - r->ts_us % AN_HOUR_US;
    const char *s0 = rec_s0(r), *s1 = rec_s1(r);
    uint32_t l0 = r->len0, l1 = r->len1;
    if (r->table == AN_T_OP) {
        s0 = an_op_name(r->op);
        l0 = (uint32_t)strlen(s0);
        s1 = "";
        l1 = 0;
    }
    an_group *g = agg_find(a, r->table, hour, s0, l0, s1, l1);
    if (!g) return STRATA_ENOMEM;
    if (r->table != AN_T_OP) g->count++; /* operations are counted by the counters */
    double v0 = (float)r->f0; /* what the FLOAT column holds */
    if (r->table != AN_T_OP) {
        g->sum0 += v0;
        if (v0 < g->min0) g->min0 = v0;
        if (v0 > g->max0) g->max0 = v0;
    }
    switch (r->table) {
    case AN_T_QUERY: {
        g->aux += r->b;
        g->isum += r->i0;
        an_group *hg = agg_find(a, AN_G_QHIST, hour, s1, l1, "", 0);
        if (!hg) return STRATA_ENOMEM;
        hg->hist[an_bucket(us_of_ms(v0))]++;
        break;
    }
    case AN_T_EMBEDDING:
        g->isum += r->i0;
        if (r->i1 < g->imin) g->imin = r->i1;
        if (r->i1 > g->imax) g->imax = r->i1;
        g->hist[an_bucket(us_of_ms(v0))]++;
        break;
    case AN_T_RERANKING: {
        double v1 = (float)r->f1;
        g->isum += r->i0;
        g->sum1 += v1;
        if (v1 < g->min1) g->min1 = v1;
        if (v1 > g->max1) g->max1 = v1;
        g->hist[an_bucket(us_of_ms(v0))]++;
        break;
    }
    case AN_T_SYSTEM:
        if (r->ts_us >= g->last_ts) {
            g->last_ts = r->ts_us;
            g->last_val = v0;
        }
        break;
    case AN_T_OP:
        g->sampled++;
        g->isum += r->i0;
        if (r->i0 < g->imin) g->imin = r->i0;
        if (r->i0 > g->imax) g->imax = r->i0;
        g->hist[an_bucket((uint64_t)r->i0)]++;
        break;
    }
    return STRATA_OK;
}

/* ---- the flusher: writing a batch ---- */
static int appender_fail(duckdb_appender *ap, const char *what, char *err, size_t errlen) {
    duckdb_error_data e = *ap ? duckdb_appender_error_data(*ap) : NULL;
    const char *m = e ? duckdb_error_data_message(e) : NULL;
    int rc = an_duck_status(e ? duckdb_error_data_error_type(e) : DUCKDB_ERROR_INVALID, m);
    if (rc == STRATA_EINVAL) rc = STRATA_EIO; /* our rows are valid: a failed append is the storage's */
    an_errf(err, errlen, "%s: %s", what, m ? m : "appender error");
    if (e) duckdb_destroy_error_data(&e);
    if (*ap) duckdb_appender_destroy(ap);
    return rc;
}

static int open_appender(analytics *an, const char *catalog, const char *table, duckdb_appender *ap, char *err,
                         size_t errlen) {
    if (duckdb_appender_create_ext(an->fcon, catalog, NULL, table, ap) == DuckDBError)
        return appender_fail(ap, table, err, errlen);
    return STRATA_OK;
}

static int close_appender(duckdb_appender *ap, const char *table, char *err, size_t errlen) {
    if (duckdb_appender_close(*ap) == DuckDBError) return appender_fail(ap, table, err, errlen);
    duckdb_appender_destroy(ap);
    return STRATA_OK;
}

static void set_str(duckdb_vector v, idx_t row, const char *s, uint32_t len) {
    duckdb_vector_assign_string_element_len(v, row, s, len);
}

/* The raw tables' appenders of one transaction, each filling its table's data chunk. */
typedef struct raw_app {
    duckdb_appender ap;
    idx_t n;                 /* rows in the chunk */
    duckdb_vector v[6];
    void *d[6];
} raw_app;

static int raw_chunk_out(analytics *an, raw_app *a, int t, char *err, size_t errlen) {
    duckdb_data_chunk_set_size(an->chunk[t], a->n);
    a->n = 0;
    if (duckdb_append_data_chunk(a->ap, an->chunk[t]) == DuckDBError)
        return appender_fail(&a->ap, table_names[t], err, errlen);
    return STRATA_OK;
}

/* Append batch[from, to) to the tables' appenders (opened on first use) and add it
 * to the rollup aggregates — one pass, while the records are in the cache. */
static int raw_append(analytics *an, raw_app *ra, an_agg *agg, size_t from, size_t to, char *err, size_t errlen) {
    idx_t vs = duckdb_vector_size();
    for (size_t i = from; i < to; i++) {
        const an_rec *r = &an->batch[i];
        int t = r->table;
        raw_app *a = &ra[t];
        int rc;
        if (agg_add(agg, r) != STRATA_OK) {
            an_errf(err, errlen, "out of memory aggregating metrics");
            return STRATA_ENOMEM;
        }
        if (!a->ap && (rc = open_appender(an, NULL, table_names[t], &a->ap, err, errlen)) != STRATA_OK) return rc;
        if (a->n == 0) {
            duckdb_data_chunk_reset(an->chunk[t]);
            for (int c = 0; c < raw_ncols[t]; c++) {
                a->v[c] = duckdb_data_chunk_get_vector(an->chunk[t], (idx_t)c);
                a->d[c] = duckdb_vector_get_data(a->v[c]);
            }
        }
        idx_t n = a->n;
        ((int64_t *)a->d[0])[n] = r->ts_us;
        switch (t) {
        case AN_T_QUERY:
            set_str(a->v[1], n, rec_s0(r), r->len0);
            ((float *)a->d[2])[n] = (float)r->f0;
            ((int32_t *)a->d[3])[n] = (int32_t)r->i0;
            set_str(a->v[4], n, rec_s1(r), r->len1);
            ((bool *)a->d[5])[n] = r->b != 0;
            break;
        case AN_T_EMBEDDING:
            set_str(a->v[1], n, rec_s0(r), r->len0);
            ((float *)a->d[2])[n] = (float)r->f0;
            ((int32_t *)a->d[3])[n] = (int32_t)r->i0;
            ((int32_t *)a->d[4])[n] = r->i1;
            break;
        case AN_T_RERANKING:
            set_str(a->v[1], n, rec_s0(r), r->len0);
            ((int32_t *)a->d[2])[n] = (int32_t)r->i0;
            ((float *)a->d[3])[n] = (float)r->f0;
            ((float *)a->d[4])[n] = (float)r->f1;
            break;
        case AN_T_SYSTEM:
            set_str(a->v[1], n, rec_s0(r), r->len0);
            ((float *)a->d[2])[n] = (float)r->f0;
            set_str(a->v[3], n, rec_s1(r), r->len1);
            break;
        case AN_T_OP: {
            const char *name = an_op_name(r->op);
            set_str(a->v[1], n, name, (uint32_t)strlen(name));
            ((int64_t *)a->d[2])[n] = r->i0;
            ((int32_t *)a->d[3])[n] = r->i1;
            break;
        }
        }
        if (++a->n == vs && (rc = raw_chunk_out(an, a, t, err, errlen)) != STRATA_OK) return rc;
    }
    return STRATA_OK;
}

/* Append the partial chunks and close the appenders (their rows join the
 * transaction); on failure (or abort) destroy what is left. */
static int raw_close(analytics *an, raw_app *ra, int abort, char *err, size_t errlen) {
    int rc = STRATA_OK;
    for (int t = 0; t < AN_NTABLES; t++) {
        raw_app *a = &ra[t];
        if (!a->ap) continue;
        if (!abort && !rc && a->n) rc = raw_chunk_out(an, a, t, err, errlen);
        if (!a->ap) continue; /* raw_chunk_out's failure destroyed it */
        if (!abort && !rc) rc = close_appender(&a->ap, table_names[t], err, errlen);
        else duckdb_appender_destroy(&a->ap);
        a->ap = NULL;
    }
    return rc;
}

static void ap_ts(duckdb_appender ap, int64_t us) { duckdb_append_timestamp(ap, (duckdb_timestamp){ us }); }
static void ap_str(duckdb_appender ap, const char *s, uint32_t n) { duckdb_append_varchar_length(ap, s, n); }

/* Append the aggregated groups to the rollups (as delta rows: see the top). */
static int write_rollups(analytics *an, an_agg *a, char *err, size_t errlen) {
    int used[RU_N] = { 0 };
    for (size_t i = 0; i < a->n; i++) {
        used[a->g[i].table] = 1;
        if (a->g[i].hist) used[RU_HIST] = 1;
    }
    for (int s = 0; s < RU_N; s++) {
        if (!used[s]) continue;
        duckdb_appender ap;
        int rc = open_appender(an, NULL, rollup_names[s], &ap, err, errlen);
        if (rc) return rc;
        for (size_t i = 0; i < a->n; i++) {
            const an_group *g = &a->g[i];
            if (s == RU_HIST) {
                if (!g->hist) continue;
                for (int b = 0; b < AN_NBUCKETS; b++) {
                    if (!g->hist[b]) continue;
                    ap_str(ap, hist_source[g->table], (uint32_t)strlen(hist_source[g->table]));
                    ap_ts(ap, g->hour);
                    ap_str(ap, g->s0, g->len0);
                    ap_str(ap, g->s1, g->len1);
                    duckdb_append_int16(ap, (int16_t)b);
                    duckdb_append_int64(ap, g->hist[b]);
                    if (duckdb_appender_end_row(ap) == DuckDBError)
                        return appender_fail(&ap, rollup_names[s], err, errlen);
                }
                continue;
            }
            if (g->table != s) continue;
            ap_ts(ap, g->hour);
            ap_str(ap, g->s0, g->len0);
            switch (s) {
            case AN_T_QUERY:
                ap_str(ap, g->s1, g->len1);
                duckdb_append_int64(ap, (int64_t)g->count);
                duckdb_append_int64(ap, (int64_t)g->aux);
                duckdb_append_double(ap, g->sum0);
                duckdb_append_float(ap, (float)g->min0);
                duckdb_append_float(ap, (float)g->max0);
                duckdb_append_int64(ap, g->isum);
                break;
            case AN_T_EMBEDDING:
                duckdb_append_int64(ap, (int64_t)g->count);
                duckdb_append_double(ap, g->sum0);
                duckdb_append_float(ap, (float)g->min0);
                duckdb_append_float(ap, (float)g->max0);
                duckdb_append_int64(ap, g->isum);
                duckdb_append_int32(ap, (int32_t)g->imin);
                duckdb_append_int32(ap, (int32_t)g->imax);
                break;
            case AN_T_RERANKING:
                duckdb_append_int64(ap, (int64_t)g->count);
                duckdb_append_int64(ap, g->isum);
                duckdb_append_double(ap, g->sum0);
                duckdb_append_float(ap, (float)g->min0);
                duckdb_append_float(ap, (float)g->max0);
                duckdb_append_double(ap, g->sum1);
                duckdb_append_float(ap, (float)g->min1);
                duckdb_append_float(ap, (float)g->max1);
                break;
            case AN_T_SYSTEM:
                ap_str(ap, g->s1, g->len1);
                duckdb_append_int64(ap, (int64_t)g->count);
                duckdb_append_double(ap, g->sum0);
                duckdb_append_float(ap, (float)g->min0);
                duckdb_append_float(ap, (float)g->max0);
                duckdb_append_float(ap, (float)g->last_val);
                ap_ts(ap, g->last_ts);
                break;
            case AN_T_OP:
                /* count and errors come from the counters; the rest from the samples. */
                duckdb_append_int64(ap, (int64_t)g->count);
                duckdb_append_int64(ap, (int64_t)g->aux);
                duckdb_append_int64(ap, (int64_t)g->sampled);
                duckdb_append_int64(ap, g->isum);
                if (g->sampled) {
                    duckdb_append_int64(ap, g->imin);
                    duckdb_append_int64(ap, g->imax);
                } else {
                    duckdb_append_null(ap);
                    duckdb_append_null(ap);
                }
                break;
            }
            if (duckdb_appender_end_row(ap) == DuckDBError) return appender_fail(&ap, rollup_names[s], err, errlen);
        }
        if ((rc = close_appender(&ap, rollup_names[s], err, errlen)) != STRATA_OK) return rc;
    }
    return STRATA_OK;
}

/* The instrumentation counters' growth since the last look goes into op_pending (kept
 * until a batch carrying it commits). */
static int collect_op_counts(analytics *an) {
    int any = 0;
    for (an_tblock *b = atomic_load(&an->blocks); b; b = b->next)
        for (int op = 0; op < AN_OP_COUNT; op++)
            for (int k = 0; k < AN_OUTCOMES; k++) {
                uint64_t cur = atomic_load_explicit(&b->count[op][k], memory_order_relaxed);
                if (cur != b->seen[op][k]) {
                    an->op_pending[op][k] += cur - b->seen[op][k];
                    b->seen[op][k] = cur;
                }
            }
    for (int op = 0; op < AN_OP_COUNT; op++)
        for (int k = 0; k < AN_OUTCOMES; k++) any |= an->op_pending[op][k] != 0;
    return any;
}

static void take(analytics *an);
static int ring_has(analytics *an);

/* Wait (flusher) up to ms for a record to be published. */
static int wait_record(analytics *an, int ms) {
    if (ring_has(an)) return 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += ms * 1000000L;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&an->mu);
    if (!ring_has(an) && !an->closing) pthread_cond_timedwait(&an->wake_cv, &an->mu, &ts);
    pthread_mutex_unlock(&an->mu);
    return ring_has(an);
}

/* One transaction: the batch's raw rows and its rollups, or nothing.
 *
 * While records stream in (the first take found the ring at least half full), the
 * transaction stays open and keeps taking and appending until AN_BATCH_ROWS: a
 * transaction that appends at least a row group (122,880 rows) to a table lets
 * DuckDB write the row groups straight into the database file (its "optimistic
 * writes") instead of through the WAL and a later checkpoint, and commits ~10x
 * cheaper — what lets the pipeline keep pace with a plain appender. */
static int write_batch(analytics *an, an_agg *agg, int retry, char *err, size_t errlen) {
    raw_app ra[AN_NTABLES];
    memset(ra, 0, sizeof ra);
    int busy = !retry && an->nbatch * 2 >= an->cap;
    agg_reset(agg);
    int rc = an_exec(an->fcon, "BEGIN TRANSACTION", "begin", err, errlen);
    if (rc) return rc;
    size_t done = 0;
    for (;;) {
        if ((rc = raw_append(an, ra, agg, done, an->nbatch, err, errlen)) != STRATA_OK) break;
        done = an->nbatch;
        if (!busy || an->nbatch >= AN_BATCH_ROWS || an->closing || !wait_record(an, 5)) break;
        take(an);
    }
    if (!rc) rc = raw_close(an, ra, 0, err, errlen);
    else (void)raw_close(an, ra, 1, NULL, 0);
    /* Operation counts: the hour they are written in. */
    collect_op_counts(an);
    int64_t hour = an_now_ms(an) * 1000;
    hour -= hour % AN_HOUR_US;
    for (int op = 0; op < AN_OP_COUNT && !rc; op++) {
        uint64_t *pend = an->op_pending[op];
        if (!(pend[0] | pend[1] | pend[2])) continue;
        const char *name = an_op_name(op);
        an_group *g = agg_find(agg, AN_T_OP, hour, name, (uint32_t)strlen(name), "", 0);
        if (!g) {
            an_errf(err, errlen, "out of memory aggregating metrics");
            rc = STRATA_ENOMEM;
            break;
        }
        g->count += pend[0] + pend[1] + pend[2];
        g->aux += pend[1] + pend[2];
    }
    if (!rc) rc = write_rollups(an, agg, err, errlen);
    if (!rc && an->test_fail > 0) {
        an->test_fail--;
        an_errf(err, errlen, "injected flush failure (test)");
        rc = STRATA_EIO;
    }
    if (!rc) rc = an_exec(an->fcon, "COMMIT", "commit", err, errlen);
    if (rc) {
        char ignore[8];
        (void)an_exec(an->fcon, "ROLLBACK", "rollback", ignore, sizeof ignore);
        return rc;
    }
    for (size_t i = 0; i < agg->n; i++)
        if (agg->g[i].hour < an->dirty_hour) an->dirty_hour = agg->g[i].hour;
    an->cache_hits += an->op_pending[AN_OP_CACHE_GET][AN_OUT_OK];
    an->cache_misses += an->op_pending[AN_OP_CACHE_GET][AN_OUT_NOTFOUND];
    memset(an->op_pending, 0, sizeof an->op_pending);
    return STRATA_OK;
}

/* Fold the delta rows of every hour batches touched since the last pass into one
 * row per key (flusher thread). Best effort: a failure leaves the deltas, which
 * every reader aggregates anyway. */
static int compact_on(analytics *an, duckdb_connection con, char *err, size_t errlen) {
    int rc = STRATA_OK;
    pthread_mutex_lock(&an->write_mu); /* dirty_hour is the writers' */
    int64_t since = an->dirty_hour;
    if (since == INT64_MAX) {
        pthread_mutex_unlock(&an->write_mu);
        return STRATA_OK;
    }
    for (int s = 0; s < RU_N && !rc; s++) {
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE TEMP TABLE IF NOT EXISTS %s AS SELECT * FROM %s LIMIT 0", compact_temp[s],
                 rollup_names[s]); /* identifiers from the fixed lists above */
        rc = an_exec(con, sql, "compaction", err, errlen);
    }
    if (!rc) rc = an_exec(con, "BEGIN TRANSACTION", "compaction", err, errlen);
    for (int s = 0; s < RU_N && !rc; s++) {
        duckdb_prepared_statement st;
        duckdb_result res;
        if (duckdb_prepare(con, compact_merge_sql[s], &st) == DuckDBError) {
            an_errf(err, errlen, "compaction: %s", duckdb_prepare_error(st));
            rc = STRATA_EINTERNAL;
        } else {
            duckdb_bind_timestamp(st, 1, (duckdb_timestamp){ since });
            if (duckdb_execute_prepared(st, &res) == DuckDBError) {
                const char *m = duckdb_result_error(&res);
                rc = an_duck_status(duckdb_result_error_type(&res), m);
                an_errf(err, errlen, "compaction: %s", m ? m : "DuckDB error");
            }
            duckdb_destroy_result(&res);
        }
        duckdb_destroy_prepare(&st);
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO %s SELECT * FROM temp.%s", rollup_names[s], compact_temp[s]);
        if (!rc) rc = an_exec(con, compact_delete_sql[s], "compaction", err, errlen);
        if (!rc) rc = an_exec(con, sql, "compaction", err, errlen);
        snprintf(sql, sizeof sql, "DELETE FROM temp.%s", compact_temp[s]);
        if (!rc) rc = an_exec(con, sql, "compaction", err, errlen);
    }
    if (!rc) rc = an_exec(con, "COMMIT", "compaction", err, errlen);
    if (rc) {
        char ignore[8];
        (void)an_exec(con, "ROLLBACK", "rollback", ignore, sizeof ignore);
    } else {
        an->dirty_hour = INT64_MAX;
    }
    pthread_mutex_unlock(&an->write_mu);
    return rc;
}

int an_compact(analytics *an, char *err, size_t errlen) {
    duckdb_connection con;
    int rc = an_lease(an, &con, err, errlen);
    if (rc) return rc;
    rc = compact_on(an, con, err, errlen);
    an_unlease(an, con);
    return rc;
}

/* Move published records from the ring into the batch. */
static void take(analytics *an) {
    for (;;) {
        if (an->nbatch == an->batch_cap) {
            /* The batch grows (up to AN_BATCH_ROWS, or the ring) while records stream in. */
            size_t limit = an->cap > AN_BATCH_ROWS ? an->cap : AN_BATCH_ROWS;
            size_t cap = an->batch_cap * 2 < limit ? an->batch_cap * 2 : limit;
            an_rec *nb = cap > an->batch_cap ? realloc(an->batch, cap * sizeof *nb) : NULL;
            if (!nb) break;
            an->batch = nb;
            an->batch_cap = cap;
        }
        an_slot *s = &an->ring[an->deq & an->mask];
        if (atomic_load_explicit(&s->seq, memory_order_acquire) != an->deq + 1) break;
        /* The fixed fields and only the used part of the inline texts. */
        size_t used = s->r.heap ? 0 : (size_t)s->r.len0 + s->r.len1 + 2;
        memcpy(&an->batch[an->nbatch++], &s->r, offsetof(an_rec, text) + used);
        atomic_store_explicit(&s->seq, an->deq + an->cap, memory_order_release);
        an->deq++;
    }
    an->batch_end = an->deq;
    atomic_store(&an->deq_pub, an->deq);
    if (atomic_load(&an->waiters)) {
        pthread_mutex_lock(&an->mu);
        pthread_cond_broadcast(&an->done_cv);
        pthread_mutex_unlock(&an->mu);
    }
}

static int ring_has(analytics *an) {
    return atomic_load_explicit(&an->ring[an->deq & an->mask].seq, memory_order_acquire) == an->deq + 1;
}

static void free_batch(analytics *an) {
    for (size_t i = 0; i < an->nbatch; i++) free(an->batch[i].heap);
    an->nbatch = 0;
}

/* Take what the ring holds, with the counters' growth, and write them as one batch.
 * Returns STRATA_OK or the failure (the batch is kept). Flush requests made before
 * the cycle began are answered by its outcome. */
static int cycle(analytics *an, an_agg *agg) {
    pthread_mutex_lock(&an->mu);
    uint64_t serving = an->flush_reqs;
    pthread_mutex_unlock(&an->mu);
    /* A batch kept after a failure is retried as it is: while writes fail, memory
     * stays bounded by the batch and the ring, and the buffer policy applies. */
    int retry = an->nbatch > 0;
    if (!retry) take(an);
    int counts = collect_op_counts(an);
    int rc = STRATA_OK;
    char err[512] = "";
    if (an->nbatch || counts) {
        pthread_mutex_lock(&an->write_mu);
        rc = write_batch(an, agg, retry, err, sizeof err);
        if (rc) {
            /* The schema may be what failed (a table dropped by user SQL): bring it
             * back for the retry. ROLLBACK ran: no transaction is open. */
            char ignore[256];
            (void)ensure_schema(an, ignore, sizeof ignore);
        }
        pthread_mutex_unlock(&an->write_mu);
    }
    pthread_mutex_lock(&an->mu);
    if (rc == STRATA_OK) {
        atomic_fetch_add(&an->written, an->nbatch);
        an->done_pos = an->batch_end;
        free_batch(an);
        an->flush_served = serving;
    } else {
        atomic_fetch_add(&an->failed_flushes, 1);
        an->flush_failed = serving;
        an->last_err = rc;
        snprintf(an->last_msg, sizeof an->last_msg, "%.250s", err);
    }
    pthread_cond_broadcast(&an->done_cv);
    pthread_mutex_unlock(&an->mu);
    return rc;
}

/* ---- retention ---- */
static int retain_on(analytics *an, duckdb_connection con, uint64_t *deleted, char *err, size_t errlen) {
    int rc;
    if (deleted) *deleted = 0;
    if (an->cfg.retention_days < 0) return STRATA_OK;
    int days = an->cfg.retention_days ? an->cfg.retention_days : STRATA_DEFAULT_METRIC_RETENTION_DAYS;
    int64_t now_us = an_now_ms(an) * 1000;
    int64_t cutoff = now_us - (int64_t)days * 24 * AN_HOUR_US;
    if (cutoff <= 0) return STRATA_OK;
    cutoff -= cutoff % AN_HOUR_US; /* whole hours: an hour is all raw or all gone */
    static const char *const del_sql[AN_NTABLES] = {
        "DELETE FROM query_metrics WHERE timestamp < $1", "DELETE FROM embedding_metrics WHERE timestamp < $1",
        "DELETE FROM reranking_metrics WHERE timestamp < $1", "DELETE FROM system_metrics WHERE timestamp < $1",
        "DELETE FROM op_metrics WHERE timestamp < $1",
    };
    uint64_t total = 0;
    /* Most runs find nothing old enough: find out with a read, not a write. */
    int64_t oldest = 0;
    rc = query_i64(con,
                   "SELECT epoch_us(least((SELECT min(timestamp) FROM query_metrics), (SELECT min(timestamp) FROM "
                   "embedding_metrics), (SELECT min(timestamp) FROM reranking_metrics), (SELECT min(timestamp) FROM "
                   "system_metrics), (SELECT min(timestamp) FROM op_metrics)))",
                   &oldest, err, errlen);
    if (rc || oldest == 0 || oldest >= cutoff) return rc;
    pthread_mutex_lock(&an->write_mu);
    rc = an_exec(con, "BEGIN TRANSACTION", "retention", err, errlen);
    for (int t = 0; t < AN_NTABLES + 1 && !rc; t++) {
        const char *sql = t < AN_NTABLES ? del_sql[t]
                                         : "INSERT INTO analytics_meta VALUES ('retained_before_us', $1) "
                                           "ON CONFLICT DO UPDATE SET value = greatest(value, excluded.value)";
        duckdb_prepared_statement st;
        duckdb_result res;
        if (duckdb_prepare(con, sql, &st) == DuckDBError) {
            an_errf(err, errlen, "retention: %s", duckdb_prepare_error(st));
            rc = STRATA_EINTERNAL;
        } else {
            if (t < AN_NTABLES) duckdb_bind_timestamp(st, 1, (duckdb_timestamp){ cutoff });
            else duckdb_bind_int64(st, 1, cutoff);
            if (duckdb_execute_prepared(st, &res) == DuckDBError) {
                const char *m = duckdb_result_error(&res);
                rc = an_duck_status(duckdb_result_error_type(&res), m);
                an_errf(err, errlen, "retention: %s", m ? m : "DuckDB error");
            } else if (t < AN_NTABLES) {
                total += duckdb_rows_changed(&res);
            }
            duckdb_destroy_result(&res);
        }
        duckdb_destroy_prepare(&st);
    }
    if (!rc) rc = an_exec(con, "COMMIT", "retention", err, errlen);
    if (rc) {
        char ignore[8];
        (void)an_exec(con, "ROLLBACK", "rollback", ignore, sizeof ignore);
    } else if (cutoff > atomic_load(&an->retained_before_us)) {
        atomic_store(&an->retained_before_us, cutoff);
    }
    pthread_mutex_unlock(&an->write_mu);
    if (!rc && deleted) *deleted = total;
    return rc;
}

int an_retain(analytics *an, uint64_t *deleted, char *err, size_t errlen) {
    if (deleted) *deleted = 0;
    duckdb_connection con;
    int rc = an_lease(an, &con, err, errlen);
    if (rc) return rc;
    rc = retain_on(an, con, deleted, err, errlen);
    if (!rc) rc = compact_on(an, con, err, errlen);
    an_unlease(an, con);
    return rc;
}

/* ---- the flusher thread ---- */
static void wait_until(analytics *an, int64_t deadline_mono_ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline_mono_ms / 1000);
    ts.tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000;
    pthread_cond_timedwait(&an->wake_cv, &an->mu, &ts);
}

static void *flusher_main(void *arg) {
    analytics *an = arg;
    char err[512] = "";
    /* Open lazily: at the first record, the first call that needs the database, or
     * the first sample, whichever comes first. A process that uses the store briefly
     * and records nothing (most CLI commands) never pays for DuckDB. */
    int sample_s = an->cfg.sample_s ? an->cfg.sample_s : STRATA_DEFAULT_METRIC_SAMPLE_S;
    int sampling = !(an->cfg.flags & STRATA_ANALYTICS_NO_SAMPLER) && an->cfg.sample;
    int64_t first_sample = sampling ? mono_ms() + sample_s * 1000LL : INT64_MAX;
    pthread_mutex_lock(&an->mu);
    for (;;) {
        int64_t now = mono_ms();
        if (an->closing || an->demand || atomic_load(&an->enq) != 0 || now >= first_sample) break;
        atomic_store(&an->sleeping, 1);
        if (atomic_load(&an->enq) == 0) wait_until(an, first_sample < now + 10000 ? first_sample : now + 10000);
        atomic_store(&an->sleeping, 0);
    }
    int idle = an->closing && !an->demand && atomic_load(&an->enq) == 0;
    pthread_mutex_unlock(&an->mu);
    if (idle) return NULL;

    int rc = open_duck(an, err, sizeof err);
    if (rc) close_duck(an);
    /* Retention once at open, before anyone sees the database (and before the first
     * batch: records made while it opened are never its victims); then hourly. */
    if (rc == STRATA_OK) {
        char rerr[256];
        (void)retain_on(an, an->fcon, NULL, rerr, sizeof rerr); /* best effort */
    }
    pthread_mutex_lock(&an->mu);
    snprintf(an->open_msg, sizeof an->open_msg, "%s", err);
    __atomic_store_n(&an->state, rc ? rc : 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&an->done_cv);
    pthread_mutex_unlock(&an->mu);

    an_agg agg = { 0 };
    int64_t now = mono_ms();
    int64_t next_sample = sampling ? (now >= first_sample ? now : first_sample) : INT64_MAX;
    int64_t next_retain = now + AN_RETAIN_EVERY_MS;
    int64_t next_compact = now + AN_COMPACT_EVERY_MS;
    int64_t next_counts = an_instrumenting(an) ? now + AN_COUNTS_EVERY_MS : INT64_MAX;
    int64_t first_seen = 0, retry_at = 0, backoff = AN_RETRY_MIN_MS;
    int failing = 0, close_tries = 0;

    for (;;) {
        pthread_mutex_lock(&an->mu);
        for (;;) {
            now = mono_ms();
            if (an->closing || an->flush_reqs > an->flush_served) break;
            int avail = rc == STRATA_OK && ring_has(an);
            int64_t deadline = INT64_MAX;
            if (rc == STRATA_OK) {
                int64_t due[] = { next_sample, next_retain, next_compact, next_counts };
                for (size_t k = 0; k < sizeof due / sizeof due[0]; k++)
                    if (due[k] < deadline) deadline = due[k];
            }
            if (failing) {
                if (retry_at < deadline) deadline = retry_at;
            } else if (avail) {
                if (!first_seen) first_seen = now;
                uint64_t fill = atomic_load(&an->enq) - an->deq;
                if (fill * 4 >= an->cap) break;
                if (first_seen + AN_FLUSH_DELAY_MS < deadline) deadline = first_seen + AN_FLUSH_DELAY_MS;
            }
            if (now >= deadline) break;
            if (!avail && !failing && rc == STRATA_OK) {
                atomic_store(&an->sleeping, 1);
                if (atomic_load(&an->enq) != an->deq) { /* claimed, not yet published */
                    atomic_store(&an->sleeping, 0);
                    if (now + 1 < deadline) deadline = now + 1;
                }
            }
            wait_until(an, deadline > now + 10000 ? now + 10000 : deadline);
            atomic_store(&an->sleeping, 0);
        }
        int closing = an->closing;
        int urgent = closing || an->flush_reqs > an->flush_served;
        pthread_mutex_unlock(&an->mu);

        if (rc != STRATA_OK) {
            /* The database never opened: records were refused at the door; anything
             * queued while it was opening is lost, and an_close says so. */
            take(an);
            pthread_mutex_lock(&an->mu);
            an->lost += an->nbatch;
            free_batch(an);
            an->done_pos = an->batch_end;
            pthread_cond_broadcast(&an->done_cv);
            pthread_mutex_unlock(&an->mu);
            if (closing) break;
            continue;
        }

        now = mono_ms();
        if (!failing || urgent || now >= retry_at) {
            first_seen = 0;
            int crc = cycle(an, &agg);
            if (crc) {
                failing = 1;
                retry_at = now + backoff;
                backoff = backoff * 2 > AN_RETRY_MAX_MS ? AN_RETRY_MAX_MS : backoff * 2;
                if (closing && ++close_tries >= 3) {
                    take(an);
                    pthread_mutex_lock(&an->mu);
                    an->lost += an->nbatch;
                    pthread_mutex_unlock(&an->mu);
                    free_batch(an);
                    break;
                }
                if (closing) {
                    struct timespec ts = { 0, AN_RETRY_MIN_MS * 1000000L };
                    nanosleep(&ts, NULL);
                }
            } else {
                failing = 0;
                backoff = AN_RETRY_MIN_MS;
            }
        }
        now = mono_ms();
        if (now >= next_counts) next_counts = now + AN_COUNTS_EVERY_MS; /* cycle() just looked */
        if (!closing && !failing && now >= next_compact) {
            char cerr[256];
            (void)compact_on(an, an->fcon, cerr, sizeof cerr); /* best effort: readers aggregate deltas anyway */
            next_compact = now + AN_COMPACT_EVERY_MS;
        }
        if (!closing && now >= next_sample) {
            an->cfg.sample(an->cfg.sample_ctx, an);
            next_sample = now + sample_s * 1000LL;
        }
        if (!closing && now >= next_retain) {
            char rerr[256];
            (void)an_retain(an, NULL, rerr, sizeof rerr); /* best effort; retried next hour */
            next_retain = now + AN_RETAIN_EVERY_MS;
        }
        if (closing && !failing && an->nbatch == 0 && !ring_has(an)) break;
    }
    agg_free(&agg);
    return NULL;
}

/* ---- open / close ---- */
int an_wait_open(analytics *an, char *err, size_t errlen) {
    int st = __atomic_load_n(&an->state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        pthread_mutex_lock(&an->mu);
        an->demand = 1;
        pthread_cond_signal(&an->wake_cv);
        while (an->state == 0) pthread_cond_wait(&an->done_cv, &an->mu);
        st = an->state;
        pthread_mutex_unlock(&an->mu);
    }
    if (st < 0) {
        an_errf(err, errlen, "analytics.duckdb is unavailable: %s", an->open_msg);
        return st;
    }
    return STRATA_OK;
}

int an_lease(analytics *an, duckdb_connection *out, char *err, size_t errlen) {
    *out = NULL;
    int rc = an_wait_open(an, err, errlen);
    if (rc) return rc;
    pthread_mutex_lock(&an->pool_mu);
    if (an->npool) *out = an->pool[--an->npool];
    pthread_mutex_unlock(&an->pool_mu);
    if (*out) return STRATA_OK;
    if (duckdb_connect(an->db, out) == DuckDBError) {
        an_errf(err, errlen, "cannot connect to analytics.duckdb");
        *out = NULL;
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

void an_unlease(analytics *an, duckdb_connection con) {
    if (!con) return;
    pthread_mutex_lock(&an->pool_mu);
    if (an->npool < AN_POOL_MAX) {
        an->pool[an->npool++] = con;
        con = NULL;
    }
    pthread_mutex_unlock(&an->pool_mu);
    if (con) duckdb_disconnect(&con);
}

int an_open(const an_config *cfg, analytics **out, char *err, size_t errlen) {
    *out = NULL;
    if (cfg->flags & STRATA_ANALYTICS_OFF) return STRATA_OK;
    analytics *an = calloc(1, sizeof *an);
    if (!an) goto nomem;
    an->cfg = *cfg;
    if (!(an->dir = realpath(cfg->dir, NULL))) {
        int e = errno;
        an_errf(err, errlen, "%s: %s", cfg->dir, strerror(e));
        free(an);
        return e == ENOMEM ? STRATA_ENOMEM : STRATA_EIO;
    }
    an->cfg.dir = an->dir;
    if (!(an->db_path = path_join(an->dir, "analytics.duckdb")) ||
        !(an->stage_dir = path_join(an->dir, "analytics-export.tmp")))
        goto nomem_free;
    uint64_t want = cfg->buffer ? (uint64_t)cfg->buffer : STRATA_DEFAULT_METRIC_BUFFER;
    an->cap = 64;
    while (an->cap < want) an->cap <<= 1;
    an->mask = an->cap - 1;
    an->kick_mask = an->cap / 4 - 1;
    an->ring = aligned_alloc(64, an->cap * sizeof *an->ring);
    an->batch_cap = an->cap < 4096 ? an->cap : 4096;
    an->batch = malloc(an->batch_cap * sizeof *an->batch);
    if (!an->ring || !an->batch) goto nomem_free;
    for (uint64_t i = 0; i < an->cap; i++) atomic_init(&an->ring[i].seq, i);
    atomic_init(&an->instrument, !(cfg->flags & STRATA_ANALYTICS_NO_INSTRUMENTATION));
    an->id = atomic_fetch_add(&next_handle_id, 1);
    an->dirty_hour = INT64_MAX;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&an->mu, NULL);
    pthread_cond_init(&an->wake_cv, &ca);
    pthread_cond_init(&an->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&an->write_mu, NULL);
    pthread_mutex_init(&an->pool_mu, NULL);
    pthread_mutex_init(&an->seal_mu, NULL);
    if (pthread_create(&an->thread, NULL, flusher_main, an) != 0) {
        an_errf(err, errlen, "cannot start the analytics thread");
        pthread_mutex_destroy(&an->mu);
        pthread_cond_destroy(&an->wake_cv);
        pthread_cond_destroy(&an->done_cv);
        pthread_mutex_destroy(&an->write_mu);
        pthread_mutex_destroy(&an->pool_mu);
        pthread_mutex_destroy(&an->seal_mu);
        free(an->ring);
        free(an->batch);
        free(an->db_path);
        free(an->stage_dir);
        free(an->dir);
        free(an);
        return STRATA_ENOMEM;
    }
    an->thread_started = 1;
    *out = an;
    return STRATA_OK;
nomem_free:
    free(an->ring);
    free(an->batch);
    free(an->db_path);
    free(an->stage_dir);
    free(an->dir);
    free(an);
nomem:
    an_errf(err, errlen, "out of memory");
    return STRATA_ENOMEM;
}

int an_close(analytics *an, char *err, size_t errlen) {
    if (!an) return STRATA_OK;
    pthread_mutex_lock(&an->mu);
    an->closing = 1;
    pthread_cond_broadcast(&an->wake_cv);
    pthread_cond_broadcast(&an->done_cv);
    pthread_mutex_unlock(&an->mu);
    if (an->thread_started) pthread_join(an->thread, NULL);
    /* Anything a producer published after the flusher's last look (a call racing
     * with close) is lost too. */
    while (ring_has(an)) {
        an_slot *s = &an->ring[an->deq & an->mask];
        free(s->r.heap);
        atomic_store(&s->seq, an->deq + an->cap);
        an->deq++;
        an->lost++;
    }
    int rc = STRATA_OK;
    if (an->lost) {
        rc = an->state < 0 ? an->state : (an->last_err ? an->last_err : STRATA_EIO);
        an_errf(err, errlen, "%" PRIu64 " metric records could not be written to analytics.duckdb: %s", an->lost,
                an->state < 0 ? an->open_msg : an->last_msg[0] ? an->last_msg : "the store closed while they were recorded");
    }
    close_duck(an);
    for (an_tblock *b = atomic_load(&an->blocks), *next; b; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&an->mu);
    pthread_cond_destroy(&an->wake_cv);
    pthread_cond_destroy(&an->done_cv);
    pthread_mutex_destroy(&an->write_mu);
    pthread_mutex_destroy(&an->pool_mu);
    pthread_mutex_destroy(&an->seal_mu);
    free(an->ring);
    free(an->batch);
    free(an->db_path);
    free(an->stage_dir);
    free(an->dir);
    free(an);
    return rc;
}

/* ---- flush, stats, seal ---- */
int an_flush(analytics *an, char *err, size_t errlen) {
    int rc = an_wait_open(an, err, errlen);
    if (rc) return rc;
    uint64_t target = atomic_load(&an->enq);
    pthread_mutex_lock(&an->mu);
    uint64_t want = ++an->flush_reqs;
    pthread_cond_signal(&an->wake_cv);
    while (!an->closing) {
        if (an->flush_served >= want && an->done_pos >= target) break;
        if (an->flush_failed >= want) {
            rc = an->last_err ? an->last_err : STRATA_EIO;
            an_errf(err, errlen, "writing metrics to analytics.duckdb failed (they stay buffered and are retried): %s",
                    an->last_msg);
            break;
        }
        if (an->flush_served >= want) want = ++an->flush_reqs; /* a record was still being written: again */
        pthread_cond_signal(&an->wake_cv);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&an->done_cv, &an->mu, &ts);
    }
    pthread_mutex_unlock(&an->mu);
    return rc;
}

int an_stats_get(analytics *an, an_stats *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->buffer_capacity = an->cap;
    out->recorded = atomic_load(&an->enq); /* every accepted record took one position */
    out->written = atomic_load(&an->written);
    out->dropped = atomic_load(&an->dropped);
    out->failed_flushes = atomic_load(&an->failed_flushes);
    out->sealed = atomic_load(&an->sealed);
    pthread_mutex_lock(&an->mu);
    out->pending = atomic_load(&an->enq) - an->done_pos;
    out->last_error = an->last_err;
    snprintf(out->last_error_msg, sizeof out->last_error_msg, "%s", an->last_msg);
    pthread_mutex_unlock(&an->mu);
    duckdb_connection con;
    int rc = an_lease(an, &con, err, errlen);
    if (rc) return rc;
    static const char *const count_sql[AN_NTABLES + 1] = {
        "SELECT count(*) FROM query_metrics", "SELECT count(*) FROM embedding_metrics",
        "SELECT count(*) FROM reranking_metrics", "SELECT count(*) FROM system_metrics",
        "SELECT count(*) FROM op_metrics",
        "SELECT (SELECT count(*) FROM query_metrics_hourly) + (SELECT count(*) FROM embedding_metrics_hourly) + "
        "(SELECT count(*) FROM reranking_metrics_hourly) + (SELECT count(*) FROM system_metrics_hourly) + "
        "(SELECT count(*) FROM op_metrics_hourly)",
    };
    for (int t = 0; t <= AN_NTABLES && !rc; t++) {
        int64_t v = 0;
        rc = query_i64(con, count_sql[t], &v, err, errlen);
        if (t < AN_NTABLES) out->rows[t] = (uint64_t)v;
        else out->hourly_rows = (uint64_t)v;
    }
    an_unlease(an, con);
    return rc;
}

int an_seal(analytics *an, char *err, size_t errlen) {
    int rc = an_wait_open(an, err, errlen);
    if (rc || atomic_load(&an->sealed)) return rc;
    pthread_mutex_lock(&an->seal_mu);
    if (!atomic_load(&an->sealed)) {
        duckdb_connection con;
        if ((rc = an_lease(an, &con, err, errlen)) == STRATA_OK) {
            rc = an_exec(con, "SET GLOBAL enable_external_access = false", "sealing analytics.duckdb", err, errlen);
            an_unlease(an, con);
            if (!rc) atomic_store(&an->sealed, 1);
        }
    }
    pthread_mutex_unlock(&an->seal_mu);
    return rc;
}

void an_test_fail_flushes(analytics *an, int n) {
    pthread_mutex_lock(&an->write_mu);
    an->test_fail = n;
    pthread_mutex_unlock(&an->write_mu);
}
