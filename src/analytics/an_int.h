/* an_int.h — what the files of src/analytics/ share: the handle, the recording ring,
 * DuckDB helpers. Nothing outside this folder includes it.
 *
 * The recording ring is a bounded multi-producer queue (Vyukov's, with one
 * consumer): each slot carries a sequence number; a producer claims position p with
 * one compare-and-swap when slot p's sequence says it is free, copies the record in
 * and publishes it by storing p + 1; the flusher reads slots in order while their
 * sequence is p + 1 and frees them by storing p + capacity. A full ring is seen
 * before any claim, so a dropped record consumes no position and positions are
 * exactly the records the flusher will see, in order — which is what lets
 * an_flush wait for "every record queued before me" by comparing positions.
 *
 * Life of a batch (one flusher cycle):
 *
 *   ring --dequeue--> batch --BEGIN; appenders; rollup upserts; COMMIT--> written
 *                       ^                 |
 *                       +---- failed -----+  (ROLLBACK: kept, retried with backoff;
 *                                             nothing of it is in the database)
 */
#ifndef STRATA_AN_INT_H
#define STRATA_AN_INT_H
#include <duckdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "analytics.h"

#define AN_SCHEMA_VERSION 1
#define AN_FLUSH_DELAY_MS 500        /* a record waits at most this long (plus a commit) */
#define AN_RETRY_MIN_MS 100          /* first retry after a failed write; doubles ... */
#define AN_RETRY_MAX_MS 5000         /* ... up to this */
#define AN_RETAIN_EVERY_MS (3600 * 1000)
#define AN_COMPACT_EVERY_MS (60 * 1000) /* rollup delta rows folded per key */
#define AN_COUNTS_EVERY_MS 1000      /* instrumentation counters looked at */
#define AN_OP_SAMPLE 128             /* one operation in this many becomes an op_metrics row (a power of 2) */
#define AN_POOL_MAX 8                /* idle connections kept for queries */
#define AN_HOUR_US 3600000000LL
#define AN_DUCKDB_HEADERS 12288      /* DuckDB's file headers: a shorter file never finished its creation */
#define AN_NBUCKETS 1920             /* log-linear latency histogram, see an_bucket() */
#define AN_BATCH_ROWS 245760         /* records per transaction at most: two DuckDB row groups */

/* Outcome classes of an operation: STRATA_OK, STRATA_ENOTFOUND (a cache miss, a
 * missing document), any other error. */
enum { AN_OUT_OK, AN_OUT_NOTFOUND, AN_OUT_ERROR, AN_OUTCOMES };

/* One thread's operation counters for one store: only that thread writes `count`
 * (plain stores, no lock prefix); the flusher reads it and keeps its last look in
 * `seen`. Found again by `owner` when the thread's cache misses. */
typedef struct an_tblock {
    _Atomic uint64_t count[AN_OP_COUNT][AN_OUTCOMES];
    uint64_t seen[AN_OP_COUNT][AN_OUTCOMES];
    pthread_t owner;
    struct an_tblock *next;
} an_tblock;

typedef struct an_slot {
    _Atomic uint64_t seq;
    an_rec r;
} __attribute__((aligned(64))) an_slot;

struct analytics {
    an_config cfg;
    char *dir;          /* realpath of the store directory */
    char *db_path;      /* DIR/analytics.duckdb */
    char *stage_dir;    /* DIR/analytics-export.tmp: the one directory DuckDB may write when sealed */

    /* ---- the ring (see above) ---- */
    an_slot *ring;
    uint64_t cap, mask;
    _Alignas(64) _Atomic uint64_t enq;
    _Alignas(64) uint64_t deq;        /* flusher only */
    _Atomic uint64_t deq_pub;         /* deq as of the flusher's last take, for blocked producers */
    _Atomic uint64_t dropped, written, failed_flushes;
    _Atomic int waiters;              /* producers blocked on a full ring */
    _Atomic int sleeping;             /* the flusher waits with nothing to do */
    uint64_t kick_mask;               /* a producer wakes the flusher every kick_mask+1 records */
    _Atomic int instrument;           /* built-in instrumentation on */
    uint64_t id;                      /* unique per handle: the threads' counter caches key on it */
    _Atomic(an_tblock *) blocks;      /* every thread's counters */
    uint64_t op_pending[AN_OP_COUNT][AN_OUTCOMES]; /* flusher: counted, not yet committed */
    uint64_t cache_hits, cache_misses;  /* flusher: committed cache_get outcomes, for the sampler */
    int64_t dirty_hour;               /* flusher: the oldest hour given delta rows since compaction */

    /* ---- the flusher thread ---- */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;               /* guards everything below up to `batch` */
    pthread_cond_t wake_cv;           /* the flusher waits here */
    pthread_cond_t done_cv;           /* open, flush, space waiters wait here */
    int closing;
    int demand;                       /* a call needs the database: open it now */
    uint64_t flush_reqs;              /* flush requests made ... */
    uint64_t flush_served, flush_failed; /* ... answered by a cycle that wrote / failed */
    uint64_t done_pos;                /* every position below is written */
    int last_err;
    char last_msg[256];
    uint64_t lost;                    /* records given up at close */
    int state;                        /* 0 opening, 1 open, < 0 the open's STRATA_* error */
    char open_msg[512];

    an_rec *batch;                    /* flusher only */
    size_t nbatch, batch_cap;
    uint64_t batch_end;               /* ring position after the batch's last record */
    int test_fail;

    /* ---- DuckDB ---- */
    duckdb_database db;
    duckdb_connection fcon;           /* the flusher's: appends, rollups, retention */
    duckdb_data_chunk chunk[AN_NTABLES];
    pthread_mutex_t write_mu;         /* a flusher cycle, retention, export's snapshot */
    pthread_mutex_t pool_mu;
    duckdb_connection pool[AN_POOL_MAX];
    int npool;
    pthread_mutex_t seal_mu;
    _Atomic int sealed;
    _Atomic int64_t retained_before_us; /* raw rows below this were deleted by retention */
    int64_t last_retain_mono_ms;
};

/* ---- analytics.c ---- */
int an_lease(analytics *an, duckdb_connection *out, char *err, size_t errlen);
void an_unlease(analytics *an, duckdb_connection con);
int64_t an_now_ms(analytics *an);
/* Map a DuckDB failure to a STRATA_* code (by its type, and "No space left" text). */
int an_duck_status(duckdb_error_type t, const char *msg);
/* Run fixed SQL (no values in it) on con: STRATA_OK or the mapped error with `what`. */
int an_exec(duckdb_connection con, const char *sql, const char *what, char *err, size_t errlen);
void an_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log-linear histogram bucket of a non-negative integer (microseconds): exact below
 * 32, then 32 buckets per power of two (relative width 1/32: the bucket's middle is
 * within 1.6% of any value in it). AN_SQL_BUCKET_VALUE(b) is the SQL inverse. */
static inline int an_bucket(uint64_t v) {
    if (v < 32) return (int)v;
    int e = 63 - __builtin_clzll(v);
    return (e - 4) * 32 + (int)((v >> (e - 5)) & 31);
}
#define AN_SQL_BUCKET_VALUE(b) \
    "(CASE WHEN " b " < 32 THEN " b "::DOUBLE ELSE (32 + " b " % 32) * pow(2, " b " // 32 - 1)" \
    " + (pow(2, " b " // 32 - 1) - 1) / 2 END)"

/* ---- query.c ---- */
/* A cursor over fixed SQL with typed parameters (the ADR queries). */
int an_run(analytics *an, const char *sql, const strata_param *params, size_t n, an_cursor **out, char *err,
           size_t errlen);
#endif
