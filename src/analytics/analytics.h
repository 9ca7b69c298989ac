/* analytics.h — the analytics backend's contract with store.c and api_analytics.c:
 * DIR/analytics.duckdb (DuckDB) with the ADR's metric tables, Strata's own
 * op_metrics, hourly rollups, a bounded recording buffer drained by a background
 * flusher, SQL cursors, the ADR's common queries, retention and Parquet export.
 *
 * Dependency rule: this folder is the one seam where DuckDB is used. Its files
 * include duckdb.h; nothing outside includes it, and no DuckDB type crosses this
 * header. It includes strata.h for status codes and option constants only; it never
 * includes internal.h or calls the public API (the sampler is a callback).
 *
 * Errors: functions return STRATA_* codes and fill `err` (errlen bytes, may be NULL)
 * with the reason, DuckDB's own message included where DuckDB failed. Nothing here
 * prints, exits or aborts.
 *
 * Threads: every function may be called from any thread at once, except an_open and
 * an_close. Recording (an_push, an_record_op) takes no lock in the common case. */
#ifndef STRATA_ANALYTICS_H
#define STRATA_ANALYTICS_H
#include <stddef.h>
#include <stdint.h>
#include "strata.h"

typedef struct analytics analytics;
typedef struct an_cursor an_cursor;

/* The tables the recording buffer feeds. */
enum an_table { AN_T_QUERY, AN_T_EMBEDDING, AN_T_RERANKING, AN_T_SYSTEM, AN_T_OP, AN_NTABLES };
/* Name of a table ("query_metrics"), or NULL. */
const char *an_table_name(int table);

/* Operations the built-in instrumentation records into op_metrics (column `op`
 * holds the name an_op_name gives). Numbers are stored nowhere: add freely. */
enum an_op {
    AN_OP_OTHER = 0,
    AN_OP_DOC_PUT, AN_OP_DOC_GET, AN_OP_DOC_DELETE, AN_OP_DOC_STAT, AN_OP_DOC_LIST,
    AN_OP_VEC_PUT, AN_OP_VEC_SEARCH, AN_OP_VEC_DELETE,
    AN_OP_CACHE_GET, AN_OP_CACHE_SET, AN_OP_CACHE_DELETE,
    AN_OP_SETTING_GET, AN_OP_SETTING_SET, AN_OP_SESSION_GET, AN_OP_SESSION_PUT,
    AN_OP_TXN_COMMIT, AN_OP_BACKUP, AN_OP_RESTORE, AN_OP_COMPACT, AN_OP_CHECK, AN_OP_SQL,
    AN_OP_COUNT
};
const char *an_op_name(int op); /* "doc_get"; "other" for unknown numbers */

typedef struct an_config {
    const char *dir;              /* the store directory (analytics.duckdb goes there) */
    uint64_t memory_limit;        /* bytes; 0: STRATA_DEFAULT_ANALYTICS_MEMORY */
    int threads;                  /* 0: STRATA_DEFAULT_ANALYTICS_THREADS; capped at the core count */
    int flags;                    /* STRATA_ANALYTICS_* */
    int buffer;                   /* records; 0: STRATA_DEFAULT_METRIC_BUFFER (rounded up to a power of 2) */
    int when_full;                /* STRATA_METRIC_DROP or STRATA_METRIC_BLOCK */
    int retention_days;           /* 0: default; -1: keep raw rows forever */
    int sample_s;                 /* 0: default */
    int64_t (*now)(void *ctx);    /* the store's clock, ms since the epoch */
    void *now_ctx;
    int clock_injected;           /* 1: `now` is a test clock; use it for every timestamp */
    /* Called from the flusher thread every sample_s (unless STRATA_ANALYTICS_NO_SAMPLER)
     * to record system metrics; it must not block on the recording buffer. */
    void (*sample)(void *ctx, analytics *an);
    void *sample_ctx;
} an_config;

/* Check the analytics fields of the options (before anything is created). */
int an_check_options(const strata_options *o, char *err, size_t errlen);

/* Start the backend: the recording buffer and the flusher thread. The thread opens
 * (or creates) analytics.duckdb lazily — at the first record, the first call that
 * needs the database, or the first sample — so opening a store never waits for
 * DuckDB and a short process that records nothing never opens it. Calls that need
 * the database wait for that open and return its error if it failed. With
 * STRATA_ANALYTICS_OFF nothing starts and *out is NULL. */
int an_open(const an_config *cfg, analytics **out, char *err, size_t errlen);
/* Wait for the background open: STRATA_OK, or its error with DuckDB's message. */
int an_wait_open(analytics *an, char *err, size_t errlen);
/* Flush every buffered record, stop the thread, close DuckDB. Returns the first
 * error (records that could not be written are counted in the message). NULL: OK. */
int an_close(analytics *an, char *err, size_t errlen);

/* ---- recording ---- */
#define AN_INLINE_TEXT 64
/* One record in the buffer. Strings are copied: inline when both fit (with their
 * NULs) in text[], else into one malloc'd block the flusher frees. */
typedef struct an_rec {
    int64_t ts_us;       /* microseconds since the epoch (TIMESTAMP) */
    double f0, f1;       /* latency_ms | embedding_time_ms | rerank_time_ms | metric_value; quality_score */
    int64_t i0;          /* result_count | text_length | document_count | op latency_us */
    int32_t i1;          /* dimension | op status */
    uint8_t table;       /* enum an_table */
    uint8_t b;           /* success */
    uint16_t op;         /* enum an_op (AN_T_OP) */
    uint32_t len0, len1; /* string lengths: query_type/model_name/metric_name; retrieval_strategy/metric_unit */
    char *heap;          /* NULL, or the malloc'd "s0\0s1\0" */
    char text[AN_INLINE_TEXT];
} an_rec;

/* Copy strings s0/s1 (may be NULL: empty) into r. STRATA_ENOMEM if a long pair
 * cannot be allocated. */
int an_rec_set_text(an_rec *r, const char *s0, size_t len0, const char *s1, size_t len1);
/* Queue a validated record (the flusher owns r->heap from here on, even on failure).
 * STRATA_OK (also when the buffer was full and the policy dropped it: counted),
 * or the open error of the database. */
int an_push(analytics *an, an_rec *r);
/* The same, but a full buffer always drops (and counts): for the sampler, which runs
 * on the flusher thread and must never wait for it. */
int an_push_nowait(analytics *an, an_rec *r);

/* The instrumentation hook. The lead calls it at the end of public operations:
 *     uint64_t t0 = an_op_start(db->an);
 *     ... rc = the operation ...;
 *     an_op_end(db->an, AN_OP_DOC_GET, t0, rc);
 * an_op_start returns 0 (and an_op_end does nothing) when instrumentation is off or
 * `an` is NULL, so the clock is not even read. an_record_op records a latency measured
 * by the caller. Never blocks, never fails: a full buffer drops (and counts) the
 * record whatever the store's policy. Cost: a clock read and one compare-and-swap. */
uint64_t an_op_start(analytics *an);
void an_op_end(analytics *an, int op, uint64_t t0, int status);
void an_record_op(analytics *an, int op, int64_t latency_us, int status);
int an_instrumenting(const analytics *an);
/* cache_get outcomes the hook saw since the previous call (STRATA_OK: hit,
 * STRATA_ENOTFOUND: miss), for the sampler's hit rate. */
void an_cache_counts(analytics *an, uint64_t *hits, uint64_t *misses);

/* Wait until every record queued before the call is written (or the write failed).
 * STRATA_OK, or the error of the failed write (the records stay buffered and are
 * retried). */
int an_flush(analytics *an, char *err, size_t errlen);

/* Counters of the recording pipeline and row counts of the tables. */
typedef struct an_stats {
    uint64_t rows[AN_NTABLES];        /* raw rows in each table now */
    uint64_t hourly_rows;             /* rows of the five hourly rollups */
    uint64_t recorded, written, dropped, pending, failed_flushes;
    uint64_t buffer_capacity;
    int last_error;                   /* STRATA_* of the last failed flush; 0 none */
    int sealed;
    char last_error_msg[256];
} an_stats;
int an_stats_get(analytics *an, an_stats *out, char *err, size_t errlen);

/* ---- SQL ---- */
enum { AN_SQL_UNTRUSTED = 1 };
/* Run `sql` (one statement; trusted calls may hold several, separated by ';', and
 * then take no parameters: all but the last run first, the cursor reads the last).
 * Parameters are bound, never substituted. AN_SQL_UNTRUSTED: external file access is
 * disabled for the database (DuckDB cannot turn it back on while open) and only a
 * single SELECT is accepted. */
int an_sql(analytics *an, const char *sql, const strata_param *params, size_t nparams, unsigned flags,
           an_cursor **out, char *err, size_t errlen);
size_t an_cursor_ncols(const an_cursor *c);
const char *an_cursor_name(const an_cursor *c, size_t col);
int an_cursor_type(const an_cursor *c, size_t col);           /* STRATA_TYPE_* */
int an_cursor_next(an_cursor *c, int *has_row, char *err, size_t errlen);
int an_cursor_value(an_cursor *c, size_t col, strata_value *v, char *err, size_t errlen);
void an_cursor_close(an_cursor *c);

/* Seal the database now (external file access off, one way). */
int an_seal(analytics *an, char *err, size_t errlen);

/* ---- the ADR's common queries (doc/format/analytics.md gives their columns) ---- */
/* [from_ms, to_ms): to_ms 0 means no upper bound; both 0: the last 24 hours. */
int an_query_stats(analytics *an, int64_t from_ms, int64_t to_ms, strata_query_stats *out, char *err,
                   size_t errlen);
int an_latency_percentiles(analytics *an, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
                           size_t errlen);
int an_embedding_throughput(analytics *an, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
                            size_t errlen);
int an_hourly(analytics *an, int table, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
              size_t errlen);

/* ---- retention and export ---- */
/* Delete raw rows older than retention_days (hour-aligned; their hourly rollups
 * stay), then compact the rollups. *deleted (may be NULL) receives the number of
 * rows deleted. */
int an_retain(analytics *an, uint64_t *deleted, char *err, size_t errlen);
/* Fold the rollups' delta rows into one row per key for the hours written since the
 * last pass (the flusher does it every minute; an_retain does it too). */
int an_compact(analytics *an, char *err, size_t errlen);
/* Parquet, hive layout: DIR/table=NAME/day=YYYY-MM-DD/data_0.parquet for every raw
 * and rollup table, one consistent snapshot. `dir` must not exist or be empty. */
int an_export(analytics *an, const char *dir, uint64_t *files, char *err, size_t errlen);
/* For backups (an_backup.c): flush, pause the flusher's writes and CHECKPOINT; on
 * success *path is analytics.duckdb's path, which stays unchanged until
 * an_backup_resume. On failure nothing stays paused. */
int an_backup_pause(analytics *an, const char **path, char *err, size_t errlen);
void an_backup_resume(analytics *an);

/* ---- tests ---- */
/* Make the next `n` flush attempts fail after appending (to prove a failed attempt
 * leaves nothing behind and loses nothing). */
void an_test_fail_flushes(analytics *an, int n);
#endif
