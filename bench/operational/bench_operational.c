/* bench_operational.c — Strata's operational store (settings, sessions) against its
 * anchor, plain SQLite, in the same run (DESIGN.md principle 6).
 *
 * The anchor runs the same SQL statements Strata runs for the user's data (the settings
 * and session upserts and selects of src/operational/op.c), on the same schema (the
 * 0->1 migration of op.c), with the same pragmas (WAL, synchronous, foreign_keys,
 * busy_timeout) and the same SQLite library, prepared once with
 * SQLITE_PREPARE_PERSISTENT on a SQLITE_OPEN_NOMUTEX connection: the best a careful
 * application does with SQLite by hand. It does NOT write Strata's commit log (one
 * commit_log row per transaction, inside a SAVEPOINT), so the overhead measured
 * includes that log. --breakdown adds SQLite variants that run Strata's per-commit SQL
 * piece by piece (savepoint, commit-log row, AUTOINCREMENT, temp_store), to split the
 * overhead between the SQL Strata adds and its C code.
 *
 * Each repetition starts from fresh stores preloaded (untimed) with N settings and N
 * sessions in one transaction each, so both sides start from the same state: a
 * checkpointed WAL file that later commits reuse, a warm OS page cache. Every case
 * runs in slices, the sides taking turns slice by slice on the same keys and values in
 * the same order; which side goes first rotates. Reported: per-side median ops/s over
 * the repetitions, and the median of the per-repetition ratios Strata/SQLite (paired,
 * so drift of the machine cancels). At the end of each repetition the two stores are
 * compared: every setting and session must hold the same value on both sides.
 *
 * Only the public API (strata.h) is used on Strata's side. */
#include "strata.h"

#include <sqlite3.h>

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* ---- schema and statements: copied from src/operational/op.c ---- */
/* Migration 0 -> 1 of op.c: settings, sessions, the commit log. */
static const char SCHEMA[] =
    "CREATE TABLE settings("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sessions("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  data TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  last_accessed INTEGER NOT NULL,"
    "  ttl_s INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX sessions_by_access ON sessions(last_accessed);"
    "CREATE TABLE commit_log("
    "  lsn INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  committed_at INTEGER NOT NULL,"
    "  ops INTEGER NOT NULL);";
/* The --breakdown variant that tests a commit log without AUTOINCREMENT (no
 * sqlite_sequence row to update per commit). */
static const char SCHEMA_LOG_NOAUTOINC[] =
    "CREATE TABLE commit_log("
    "  lsn INTEGER PRIMARY KEY,"
    "  committed_at INTEGER NOT NULL,"
    "  ops INTEGER NOT NULL);";

static const char SQL_SETTING_SET[] =
    "INSERT INTO settings(key, value, updated_at) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
static const char SQL_SETTING_GET[] = "SELECT value, updated_at FROM settings WHERE key = ?1";
static const char SQL_SESSION_PUT[] =
    "INSERT INTO sessions(id, data, created_at, last_accessed, ttl_s) "
    "VALUES(?1, ?2, ?4, ?4, ?3) ON CONFLICT(id) DO UPDATE SET "
    "data = excluded.data, ttl_s = excluded.ttl_s, last_accessed = excluded.last_accessed";
static const char SQL_SESSION_GET[] =
    "SELECT id, data, created_at, last_accessed, ttl_s FROM sessions WHERE id = ?1";
static const char SQL_LOG_COMMIT[] = "INSERT INTO commit_log(committed_at, ops) VALUES(?1, ?2)";

#define SESSION_TTL_S 3600
#define MAX_REPS 101
#define NVALUES 64

/* What reads produce flows here, so no compiler can drop the reading. */
static volatile uint64_t g_sink;

/* ---- small helpers ---- */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_operational: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void) { /* what Strata stamps rows with */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double t[MAX_REPS];
    memcpy(t, v, (size_t)n * sizeof *v);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double min_of(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) if (v[i] < m) m = v[i];
    return m;
}

static double max_of(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) if (v[i] > m) m = v[i];
    return m;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void rmtree(const char *p) {
    if (nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        fprintf(stderr, "bench_operational: warning: could not remove %s: %s\n", p, strerror(errno));
}

#define FS_TMPFS 0x01021994L
#define FS_RAMFS 0x858458f6L

static const char *fs_name(long type) {
    switch (type) {
    case 0xEF53L: return "ext2/3/4";
    case 0x58465342L: return "xfs";
    case 0x9123683EL: return "btrfs";
    case 0x794c7630L: return "overlayfs";
    case 0x2FC12FC1L: return "zfs";
    case 0x6969L: return "nfs";
    case 0x65735546L: return "fuse";
    case FS_TMPFS: return "tmpfs";
    case FS_RAMFS: return "ramfs";
    default: return "unknown";
    }
}

static long fs_type(const char *path) {
    struct statfs sf;
    return statfs(path, &sf) == 0 ? (long)sf.f_type : -1;
}

static int is_memfs(const char *path) {
    long t = fs_type(path);
    return t == FS_TMPFS || t == FS_RAMFS;
}

/* ---- the workload: keys, values, and the order they are used in ---- */
typedef struct {
    size_t n;                 /* preloaded settings and sessions; batched writes */
    size_t n_single;          /* single-write ops (one commit, one fsync each) */
    size_t n_get;             /* get ops */
    size_t batch;             /* writes per transaction in the batched cases */
    char **set_keys;          /* n setting keys "app.setting.%06d" */
    char **sess_ids;          /* n session ids, 32 hex chars */
    char *set_vals[NVALUES];  /* ~100-byte JSON values */
    char *sess_vals[NVALUES]; /* ~300-byte JSON objects */
    uint32_t *order_batch;    /* n random key indexes */
    uint32_t *order_single;   /* n_single random key indexes */
    uint32_t *order_get;      /* n_get random key indexes */
} workload;

static char *xsprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xsprintf(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) die("value too long");
    char *p = xmalloc((size_t)n + 1);
    memcpy(p, buf, (size_t)n + 1);
    return p;
}

static void workload_init(workload *w, uint64_t seed) {
    uint64_t s = seed;
    w->set_keys = xmalloc(w->n * sizeof *w->set_keys);
    w->sess_ids = xmalloc(w->n * sizeof *w->sess_ids);
    for (size_t i = 0; i < w->n; i++) {
        w->set_keys[i] = xsprintf("app.setting.%06zu", i);
        w->sess_ids[i] = xsprintf("%016llx%016llx", (unsigned long long)splitmix(&s),
                                  (unsigned long long)splitmix(&s));
    }
    static const char *const themes[] = { "dark", "light", "system", "contrast" };
    static const char *const locales[] = { "en-US", "de-DE", "fr-FR", "ja-JP" };
    for (int v = 0; v < NVALUES; v++) {
        /* ~100 bytes */
        w->set_vals[v] = xsprintf(
            "{\"enabled\":%s,\"level\":%d,\"mode\":\"%s\",\"limit\":%d,"
            "\"tags\":[\"alpha\",\"beta\"],\"ratio\":0.%04d,\"by\":\"bench\"}",
            v % 2 ? "true" : "false", v, themes[v % 4], 1000 + v * 37, (v * 7919) % 10000);
        /* ~300 bytes */
        w->sess_vals[v] = xsprintf(
            "{\"user_id\":\"u-%08d\",\"locale\":\"%s\",\"theme\":\"%s\","
            "\"auth\":{\"method\":\"oidc\",\"expires_at\":%lld,\"scopes\":[\"read\",\"write\",\"search\"]},"
            "\"last_query\":\"how do I configure retention for collection %d\","
            "\"history\":[%d,%d,%d,%d,%d],\"cart\":[],\"counter\":%d,"
            "\"ui\":{\"sidebar\":true,\"page_size\":%d,\"sort\":\"relevance\"}}",
            v * 104729 % 100000000, locales[v % 4], themes[(v / 4) % 4],
            1700000000000LL + v * 3600000LL, v, v + 1, v + 2, v + 3, v + 4, v + 5, v * 3,
            10 + v % 40);
        if (!strata_json_valid(w->set_vals[v], strlen(w->set_vals[v])) ||
            !strata_json_valid(w->sess_vals[v], strlen(w->sess_vals[v])))
            die("internal: generated JSON is invalid");
    }
    w->order_batch = xmalloc(w->n * sizeof *w->order_batch);
    w->order_single = xmalloc(w->n_single * sizeof *w->order_single);
    w->order_get = xmalloc(w->n_get * sizeof *w->order_get);
    for (size_t i = 0; i < w->n; i++) w->order_batch[i] = (uint32_t)(splitmix(&s) % w->n);
    for (size_t i = 0; i < w->n_single; i++) w->order_single[i] = (uint32_t)(splitmix(&s) % w->n);
    for (size_t i = 0; i < w->n_get; i++) w->order_get[i] = (uint32_t)(splitmix(&s) % w->n);
}

static void workload_free(workload *w) {
    for (size_t i = 0; i < w->n; i++) { free(w->set_keys[i]); free(w->sess_ids[i]); }
    for (int v = 0; v < NVALUES; v++) { free(w->set_vals[v]); free(w->sess_vals[v]); }
    free(w->set_keys); free(w->sess_ids);
    free(w->order_batch); free(w->order_single); free(w->order_get);
}

/* ---- engines: Strata, and SQLite by hand ---- */
/* Strata, the anchor, and (--breakdown) SQLite variants that add Strata's per-commit
 * SQL piece by piece, to show what each piece costs. */
typedef enum {
    ENG_STRATA,
    ENG_SQLITE,       /* the anchor: the user's statements only */
    ENG_SP,           /* + BEGIN IMMEDIATE, SAVEPOINT txn ... RELEASE txn, COMMIT */
    ENG_LOG,          /* + BEGIN IMMEDIATE ... INSERT INTO commit_log, COMMIT */
    ENG_SP_LOG,       /* Strata's SQL exactly: savepoint and commit log */
    ENG_SP_LOG_NOAI,  /* the same, commit_log(lsn INTEGER PRIMARY KEY) without AUTOINCREMENT */
    ENG_SP_LOG_TMEM,  /* Strata's SQL exactly, with PRAGMA temp_store = MEMORY */
    ENG_LOG_NOAI,     /* commit log without AUTOINCREMENT, no savepoint */
    ENG_COUNT
} engine_kind;

static const struct variant {
    const char *label, *file;
    int savepoint, log, noautoinc, temp_mem;
    const char *what;
} variants[ENG_COUNT] = {
    [ENG_STRATA] = { "Strata", "strata", 0, 0, 0, 0, "Strata's API" },
    [ENG_SQLITE] = { "SQLite", "sqlite.db", 0, 0, 0, 0, "the anchor: the user's statements only" },
    [ENG_SP] = { "+sp", "sqlite-sp.db", 1, 0, 0, 0,
                 "+ BEGIN IMMEDIATE, SAVEPOINT txn .. RELEASE txn, COMMIT (no commit log)" },
    [ENG_LOG] = { "+log", "sqlite-log.db", 0, 1, 0, 0,
                  "+ BEGIN IMMEDIATE .. INSERT INTO commit_log, COMMIT (no savepoint)" },
    [ENG_SP_LOG] = { "+sp+log", "sqlite-sp-log.db", 1, 1, 0, 0,
                     "Strata's SQL exactly: savepoint and commit-log row" },
    [ENG_SP_LOG_NOAI] = { "+sp+log-AI", "sqlite-sp-log-noai.db", 1, 1, 1, 0,
                          "Strata's SQL, commit_log(lsn INTEGER PRIMARY KEY) without AUTOINCREMENT" },
    [ENG_SP_LOG_TMEM] = { "+sp+log,tmem", "sqlite-sp-log-tmem.db", 1, 1, 0, 1,
                          "Strata's SQL, PRAGMA temp_store = MEMORY (savepoint journal in memory)" },
    [ENG_LOG_NOAI] = { "+log-AI", "sqlite-log-noai.db", 0, 1, 1, 0,
                       "commit log without AUTOINCREMENT, no savepoint" },
};
#define engine_label(k) (variants[k].label)

typedef struct {
    engine_kind kind;
    char path[PATH_MAX]; /* store directory (Strata) or database file (SQLite) */
    int sync_full;
    int secure_delete;   /* anchor: PRAGMA secure_delete (op.c sets it ON) */
    strata *st;
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *savepoint, *release, *log;
    sqlite3_stmt *set, *get, *sput, *sget;
    const struct variant *v;
    uint64_t sink;       /* keeps reads observable */
    char buf[2][4096];   /* where the anchor copies what it reads */
} engine;

static void sq_check(engine *e, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        die("%s: %s: %s", engine_label(e->kind), what, sqlite3_errmsg(e->db));
}

static void sq_exec(engine *e, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(e->db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die("%s: %s: %s", engine_label(e->kind), sql, msg ? msg : "?");
}

static sqlite3_stmt *sq_prep(engine *e, const char *sql) {
    sqlite3_stmt *s = NULL;
    sq_check(e, sqlite3_prepare_v3(e->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL), sql);
    return s;
}

static void sq_run(engine *e, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) die("%s: %s: %s", engine_label(e->kind), sqlite3_sql(s), sqlite3_errmsg(e->db));
}

static void engine_open(engine *e, int create) {
    if (e->kind == ENG_STRATA) {
        strata_options o = strata_options_default();
        o.create = create;
        o.sync = e->sync_full ? STRATA_SYNC_FULL : STRATA_SYNC_NORMAL;
        o.busy_timeout_ms = STRATA_DEFAULT_BUSY_TIMEOUT_MS;
        int rc = strata_open(e->path, &o, &e->st);
        if (rc) die("strata_open %s: %s: %s", e->path, strata_errstr(rc), strata_open_errmsg());
        return;
    }
    /* The flags and pragmas op.c's writer connection uses (keep in step with op_open). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(e->path, &e->db, flags, NULL) != SQLITE_OK)
        die("sqlite3_open %s: %s", e->path, e->db ? sqlite3_errmsg(e->db) : "?");
    sqlite3_busy_timeout(e->db, STRATA_DEFAULT_BUSY_TIMEOUT_MS);
    sq_exec(e, "PRAGMA journal_mode = WAL");
    sq_exec(e, e->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    sq_exec(e, "PRAGMA foreign_keys = ON");
    sq_exec(e, e->secure_delete ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF");
    if (create) {
        if (e->v->noautoinc) {
            /* The same schema with the commit log declared without AUTOINCREMENT. */
            const char *log = strstr(SCHEMA, "CREATE TABLE commit_log(");
            char *ddl = xsprintf("%.*s%s", (int)(log - SCHEMA), SCHEMA, SCHEMA_LOG_NOAUTOINC);
            sq_exec(e, ddl);
            free(ddl);
        } else {
            sq_exec(e, SCHEMA);
        }
    }
    if (e->v->temp_mem) sq_exec(e, "PRAGMA temp_store = MEMORY");
    e->begin = sq_prep(e, "BEGIN IMMEDIATE");
    e->commit = sq_prep(e, "COMMIT");
    e->savepoint = sq_prep(e, "SAVEPOINT txn");
    e->release = sq_prep(e, "RELEASE txn");
    e->log = sq_prep(e, SQL_LOG_COMMIT);
    e->set = sq_prep(e, SQL_SETTING_SET);
    e->get = sq_prep(e, SQL_SETTING_GET);
    e->sput = sq_prep(e, SQL_SESSION_PUT);
    e->sget = sq_prep(e, SQL_SESSION_GET);
}

static void engine_close(engine *e) {
    if (e->kind == ENG_STRATA) {
        int rc = strata_close(e->st);
        if (rc) die("strata_close: %s", strata_errstr(rc));
        e->st = NULL;
        return;
    }
    sqlite3_stmt *all[] = { e->begin, e->commit, e->savepoint, e->release, e->log,
                            e->set, e->get, e->sput, e->sget };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
    if (sqlite3_close(e->db) != SQLITE_OK) die("sqlite3_close: %s", sqlite3_errmsg(e->db));
    e->db = NULL;
}

enum { T_SETTINGS, T_SESSIONS };

static void st_check(engine *e, int rc, const char *what) {
    if (rc) die("Strata: %s: %s: %s", what, strata_errstr(rc), strata_errmsg(e->st));
}

/* One write on the anchor (inside or outside a transaction). */
static void sq_write(engine *e, int table, const char *key, const char *val, int64_t now) {
    sqlite3_stmt *s = table == T_SETTINGS ? e->set : e->sput;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
    if (table == T_SETTINGS) {
        sqlite3_bind_int64(s, 3, now);
    } else {
        sqlite3_bind_int64(s, 3, SESSION_TTL_S);
        sqlite3_bind_int64(s, 4, now);
    }
    sq_run(e, s);
}

/* Start and end one transaction of `nops` writes on the anchor. The plain anchor
 * writes a single op in autocommit mode (no BEGIN/COMMIT), as an application would. */
static void sq_txn_begin(engine *e, size_t nops) {
    int explicit_txn = nops > 1 || e->v->savepoint || e->v->log;
    if (explicit_txn) sq_run(e, e->begin);
    if (e->v->savepoint) sq_run(e, e->savepoint);
}

static void sq_txn_end(engine *e, size_t nops, int64_t now) {
    if (e->v->log) {
        sqlite3_bind_int64(e->log, 1, now);
        sqlite3_bind_int64(e->log, 2, (sqlite3_int64)nops);
        sq_run(e, e->log);
    }
    if (e->v->savepoint) sq_run(e, e->release);
    if (nops > 1 || e->v->savepoint || e->v->log) sq_run(e, e->commit);
}

/* Writes to `table` on keys order[from..to) (order NULL: keys from..to), `batch` per
 * transaction (1: each write is its own transaction). `vofs` shifts the values so a
 * rerun changes the data. One function per side (noinline), so a profile of the
 * timed part (callgrind --toggle-collect=run_slice) shows each side's inclusive cost. */
typedef struct {
    int table;
    char *const *keys, *const *vals;
    const uint32_t *order;
    size_t from, to, batch, vofs;
} write_job;

#define KEY(j, i) ((j)->keys[(j)->order ? (j)->order[i] : (i)])
#define VAL(j, i) ((j)->vals[((i) + (j)->vofs) % NVALUES])

static __attribute__((noinline)) void strata_side_writes(engine *e, const write_job *j) {
    for (size_t i = j->from; i < j->to; i += j->batch) {
        size_t m = j->to - i < j->batch ? j->to - i : j->batch;
        if (j->batch == 1) {
            int rc = j->table == T_SETTINGS ? strata_setting_set(e->st, NULL, KEY(j, i), VAL(j, i))
                                            : strata_session_put(e->st, NULL, KEY(j, i), VAL(j, i), SESSION_TTL_S);
            st_check(e, rc, "write");
            continue;
        }
        strata_txn *t = NULL;
        st_check(e, strata_txn_begin(e->st, &t), "txn begin");
        for (size_t x = i; x < i + m; x++) {
            int rc = j->table == T_SETTINGS ? strata_setting_set(e->st, t, KEY(j, x), VAL(j, x))
                                            : strata_session_put(e->st, t, KEY(j, x), VAL(j, x), SESSION_TTL_S);
            st_check(e, rc, "write in txn");
        }
        st_check(e, strata_txn_commit(t, NULL), "txn commit");
    }
}

static __attribute__((noinline)) void sqlite_side_writes(engine *e, const write_job *j) {
    for (size_t i = j->from; i < j->to; i += j->batch) {
        size_t m = j->to - i < j->batch ? j->to - i : j->batch;
        int64_t now = wall_ms(); /* Strata stamps a whole commit with one time */
        sq_txn_begin(e, m);
        for (size_t x = i; x < i + m; x++) sq_write(e, j->table, KEY(j, x), VAL(j, x), now);
        sq_txn_end(e, m, now);
    }
}

static void do_writes(engine *e, const workload *w, int table, const uint32_t *order, size_t from,
                      size_t to, size_t batch, size_t vofs) {
    write_job j = { table, table == T_SETTINGS ? w->set_keys : w->sess_ids,
                    table == T_SETTINGS ? w->set_vals : w->sess_vals, order, from, to, batch, vofs };
    if (e->kind == ENG_STRATA) strata_side_writes(e, &j);
    else sqlite_side_writes(e, &j);
}

static __attribute__((noinline)) void strata_side_gets(engine *e, const workload *w, int table, size_t from,
                                                       size_t to) {
    char *const *keys = table == T_SETTINGS ? w->set_keys : w->sess_ids;
    uint64_t sink = 0;
    for (size_t i = from; i < to; i++) {
        const char *k = keys[w->order_get[i]];
        if (table == T_SETTINGS) {
            char *json = NULL;
            int64_t at = 0;
            st_check(e, strata_setting_get(e->st, k, &json, &at), "setting get");
            sink += (unsigned char)json[0] + (uint64_t)at;
            strata_free(json);
        } else {
            strata_session *s = NULL;
            st_check(e, strata_session_get(e->st, k, &s), "session get");
            sink += (unsigned char)s->data[0] + (uint64_t)s->last_accessed_ms + (uint64_t)s->ttl_s;
            strata_session_free(s);
        }
    }
    e->sink += sink;
}

/* The anchor reads the columns and copies the text out, as a caller that keeps the
 * value past the next step must; it needs no malloc for that. */
static __attribute__((noinline)) void sqlite_side_gets(engine *e, const workload *w, int table, size_t from,
                                                       size_t to) {
    char *const *keys = table == T_SETTINGS ? w->set_keys : w->sess_ids;
    sqlite3_stmt *s = table == T_SETTINGS ? e->get : e->sget;
    uint64_t sink = 0;
    for (size_t i = from; i < to; i++) {
        const char *k = keys[w->order_get[i]];
        sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) die("%s: get '%s': %s", engine_label(e->kind), k, sqlite3_errmsg(e->db));
        if (table == T_SETTINGS) {
            int n = sqlite3_column_bytes(s, 0);
            memcpy(e->buf[0], sqlite3_column_text(s, 0), (size_t)n + 1);
            sink += (unsigned char)e->buf[0][0] + (uint64_t)sqlite3_column_int64(s, 1);
        } else {
            int n0 = sqlite3_column_bytes(s, 0), n1 = sqlite3_column_bytes(s, 1);
            memcpy(e->buf[0], sqlite3_column_text(s, 0), (size_t)n0 + 1);
            memcpy(e->buf[1], sqlite3_column_text(s, 1), (size_t)n1 + 1);
            sink += (unsigned char)e->buf[1][0] + (uint64_t)sqlite3_column_int64(s, 2) +
                    (uint64_t)sqlite3_column_int64(s, 3) + (uint64_t)sqlite3_column_int64(s, 4);
        }
        sqlite3_reset(s);
    }
    e->sink += sink;
}

static void do_gets(engine *e, const workload *w, int table, size_t from, size_t to) {
    if (e->kind == ENG_STRATA) strata_side_gets(e, w, table, from, to);
    else sqlite_side_gets(e, w, table, from, to);
    g_sink += e->sink;
}

/* ---- cases ---- */
typedef enum {
    C_SET_SINGLE, C_SET_BATCH, C_SET_GET, C_SESS_SINGLE, C_SESS_BATCH, C_SESS_GET, C_COUNT
} case_id;

static const char *const case_label[C_COUNT] = {
    "settings set, single", "settings set, batched", "settings get",
    "session put, single", "session put, batched", "session get",
};

static int case_is_write(case_id c) { return c != C_SET_GET && c != C_SESS_GET; }

static size_t case_ops(const workload *w, case_id c) {
    switch (c) {
    case C_SET_SINGLE: case C_SESS_SINGLE: return w->n_single;
    case C_SET_BATCH: case C_SESS_BATCH: return w->n;
    default: return w->n_get;
    }
}

/* The unit a case's ops are sliced in: a slice never splits a transaction. */
static size_t case_unit(const workload *w, case_id c) {
    return c == C_SET_BATCH || c == C_SESS_BATCH ? w->batch : 1;
}

/* Run ops [from, to) of case c on e; returns the elapsed nanoseconds. */
static __attribute__((noinline)) uint64_t run_slice(engine *e, const workload *w, case_id c, size_t rep, size_t from, size_t to) {
    uint64_t t0 = mono_ns();
    switch (c) {
    case C_SET_SINGLE: do_writes(e, w, T_SETTINGS, w->order_single, from, to, 1, rep + 1); break;
    case C_SET_BATCH: do_writes(e, w, T_SETTINGS, w->order_batch, from, to, w->batch, rep + 2); break;
    case C_SET_GET: do_gets(e, w, T_SETTINGS, from, to); break;
    case C_SESS_SINGLE: do_writes(e, w, T_SESSIONS, w->order_single, from, to, 1, rep + 1); break;
    case C_SESS_BATCH: do_writes(e, w, T_SESSIONS, w->order_batch, from, to, w->batch, rep + 2); break;
    default: do_gets(e, w, T_SESSIONS, from, to); break;
    }
    return mono_ns() - t0;
}

/* Both sides ran the same writes in the same order: every key must now hold the same
 * value on both. A benchmark whose sides did different work would measure nothing. */
static void verify_same(engine *st, engine *sq, const workload *w) {
    for (int table = T_SETTINGS; table <= T_SESSIONS; table++) {
        char *const *keys = table == T_SETTINGS ? w->set_keys : w->sess_ids;
        sqlite3_stmt *s = table == T_SETTINGS ? sq->get : sq->sget;
        int col = table == T_SETTINGS ? 0 : 1;
        for (size_t i = 0; i < w->n; i++) {
            char *a = NULL;
            strata_session *ss = NULL;
            if (table == T_SETTINGS) st_check(st, strata_setting_get(st->st, keys[i], &a, NULL), "verify get");
            else st_check(st, strata_session_get(st->st, keys[i], &ss), "verify get");
            sqlite3_bind_text(s, 1, keys[i], -1, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_ROW) die("verify: '%s' missing on the SQLite side", keys[i]);
            const char *b = (const char *)sqlite3_column_text(s, col);
            if (strcmp(table == T_SETTINGS ? a : ss->data, b) != 0)
                die("verify: '%s' differs between Strata and SQLite", keys[i]);
            sqlite3_reset(s);
            strata_free(a);
            strata_session_free(ss);
        }
    }
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: bench_operational [options]\n"
        "  --sync full|normal  synchronous mode on both sides (default full: fsync per commit)\n"
        "  --n N               settings and sessions preloaded, and writes in each batched case\n"
        "                      (default 20000)\n"
        "  --single S          writes in each single-write case, one commit each (default 1000)\n"
        "  --gets G            reads in each get case (default 100000)\n"
        "  --batch B           writes per transaction in the batched cases (default 1000)\n"
        "  --reps R            repetitions; medians are reported (default 7)\n"
        "  --dir PATH          where the temporary stores go (default: a new directory under\n"
        "                      /tmp, or /var/tmp when /tmp is tmpfs); must be disk-backed\n"
        "  --only LIST         comma-separated cases to run: set-single,set-batch,set-get,\n"
        "                      sess-single,sess-batch,sess-get (default all)\n"
        "  --breakdown         also run SQLite variants that add Strata's per-commit SQL piece\n"
        "                      by piece (SAVEPOINT, commit_log row, AUTOINCREMENT, temp_store)\n"
        "                      on the write cases\n"
        "  --strata-only       run only Strata's side (for profiling)\n"
        "  --secure-delete on|off  the anchor's PRAGMA secure_delete (default on, as op.c sets it;\n"
        "                      off shows what that choice of Strata's costs)\n"
        "  --slices K          each case runs in K slices, the sides taking turns (default 10)\n"
        "  --verbose           print every rep's ops/s on stderr\n"
        "  --keep              keep the stores\n");
}

static size_t parse_size(const char *opt, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || v == 0 || v > UINT32_MAX) die("%s: expected a positive integer, got '%s'", opt, s);
    return (size_t)v;
}

int main(int argc, char **argv) {
    int sync_full = 1, secure_delete = 1, reps = 7, keep = 0, breakdown = 0, strata_only = 0, slices = 10, verbose = 0;
    int want[C_COUNT];
    for (int c = 0; c < C_COUNT; c++) want[c] = 1;
    const char *dir_opt = NULL;
    workload w;
    memset(&w, 0, sizeof w);
    w.n = 20000;
    w.n_single = 1000;
    w.n_get = 100000;
    w.batch = 1000;

    static const struct option longopts[] = {
        { "sync", required_argument, NULL, 's' }, { "n", required_argument, NULL, 'n' },
        { "single", required_argument, NULL, '1' }, { "gets", required_argument, NULL, 'g' },
        { "batch", required_argument, NULL, 'b' }, { "reps", required_argument, NULL, 'r' },
        { "dir", required_argument, NULL, 'd' }, { "only", required_argument, NULL, 'o' },
        { "breakdown", no_argument, NULL, 'B' }, { "strata-only", no_argument, NULL, 'S' },
        { "keep", no_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
        { "slices", required_argument, NULL, 'l' }, { "secure-delete", required_argument, NULL, 'D' }, { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!strcmp(optarg, "full")) sync_full = 1;
            else if (!strcmp(optarg, "normal")) sync_full = 0;
            else die("--sync: expected full or normal, got '%s'", optarg);
            break;
        case 'n': w.n = parse_size("--n", optarg); break;
        case '1': w.n_single = parse_size("--single", optarg); break;
        case 'g': w.n_get = parse_size("--gets", optarg); break;
        case 'b': w.batch = parse_size("--batch", optarg); break;
        case 'r': reps = (int)parse_size("--reps", optarg); if (reps > MAX_REPS) die("--reps: at most %d", MAX_REPS); break;
        case 'd': dir_opt = optarg; break;
        case 'o': {
            static const char *const names[C_COUNT] = { "set-single", "set-batch", "set-get",
                                                        "sess-single", "sess-batch", "sess-get" };
            for (int c = 0; c < C_COUNT; c++) want[c] = 0;
            char *copy = xsprintf("%s", optarg), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int found = 0;
                for (int c = 0; c < C_COUNT; c++) if (!strcmp(tok, names[c])) { want[c] = 1; found = 1; }
                if (!found) die("--only: unknown case '%s'", tok);
            }
            free(copy);
            break;
        }
        case 'B': breakdown = 1; break;
        case 'S': strata_only = 1; break;
        case 'k': keep = 1; break;
        case 'l': slices = (int)parse_size("--slices", optarg); break;
        case 'v': verbose = 1; break;
        case 'D':
            if (!strcmp(optarg, "on")) secure_delete = 1;
            else if (!strcmp(optarg, "off")) secure_delete = 0;
            else die("--secure-delete: expected on or off, got '%s'", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { usage(stderr); return 2; }
    if (w.batch < 2) die("--batch: at least 2 (the single cases measure one write per commit)");
    if (w.n < 2) die("--n: at least 2");
    if (w.batch > w.n) w.batch = w.n;
    if (strata_only && breakdown) die("--strata-only and --breakdown exclude each other");

    /* Where the stores go: disk-backed, so fsync costs what it costs. */
    const char *base = dir_opt;
    if (!base) base = is_memfs("/tmp") ? "/var/tmp" : "/tmp";
    if (dir_opt) {
        struct stat st;
        if (stat(dir_opt, &st) < 0 && mkdir(dir_opt, 0700) < 0)
            die("--dir %s: %s", dir_opt, strerror(errno));
    }
    char root[PATH_MAX - 64]; /* room for the per-engine names below */
    if (strlen(base) > sizeof root - 32) die("--dir: path too long");
    snprintf(root, sizeof root, "%s/strata-bench-op-XXXXXX", base);
    if (!mkdtemp(root)) die("mkdtemp %s: %s", root, strerror(errno));
    long fst = fs_type(root);

    int neng = strata_only ? 1 : breakdown ? ENG_COUNT : 2;
    workload_init(&w, 0x5eed);

    printf("bench_operational: Strata vs plain SQLite (the anchor), same run, same machine\n");
    printf("  Strata %s, SQLite %s (one library for both sides)\n", strata_version(), sqlite3_libversion());
    printf("  pragmas: journal_mode=WAL, synchronous=%s, foreign_keys=ON, busy_timeout=%d ms (both);\n"
           "           secure_delete=ON (Strata), %s (anchor)\n",
           sync_full ? "FULL" : "NORMAL", STRATA_DEFAULT_BUSY_TIMEOUT_MS, secure_delete ? "ON" : "OFF");
    printf("  stores: %s (%s%s)\n", root, fs_name(fst),
           fst == FS_TMPFS || fst == FS_RAMFS ? "; WARNING: memory-backed, fsync costs nothing" : "");
    printf("  data: %zu settings (~%zu-byte JSON) and %zu sessions (~%zu-byte JSON) preloaded per rep;\n"
           "        writes upsert existing keys in random order\n",
           w.n, strlen(w.set_vals[0]), w.n, strlen(w.sess_vals[0]));
    printf("  ops per case: single %zu (one commit each), batched %zu (%zu per commit), gets %zu random\n",
           w.n_single, w.n, w.batch, w.n_get);
    printf("  each case runs in %d slices, the sides taking turns slice by slice\n", slices);
    printf("  reps: %d; ops/s are medians, ratio = median of per-rep Strata/SQLite ratios,\n"
           "        overhead = extra time per op = 1/ratio - 1\n", reps);
    printf("  check: after each rep every setting and session is compared between the two sides\n");
    printf("  note: every Strata commit also writes its commit-log row (BEGIN IMMEDIATE, SAVEPOINT,\n"
           "        INSERT INTO commit_log, RELEASE, COMMIT); the anchor runs only the user statements\n"
           "        (single writes in autocommit), so the overhead below INCLUDES Strata's commit log.\n");
    fflush(stdout);

    static double ops[C_COUNT][ENG_COUNT][MAX_REPS];
    for (int rep = 0; rep < reps; rep++) {
        engine eng[ENG_COUNT];
        memset(eng, 0, sizeof eng);
        for (int k = 0; k < neng; k++) {
            engine *e = &eng[k];
            e->kind = (engine_kind)k;
            e->v = &variants[k];
            e->sync_full = sync_full;
            e->secure_delete = secure_delete;
            snprintf(e->path, sizeof e->path, "%s/rep%03d-%s", root, rep % 1000, variants[k].file);
            /* Preload in one transaction each, untimed. That transaction leaves a WAL
             * file larger than the autocheckpoint threshold, checkpointed, which the
             * next writes reuse from its start: the steady state of a store in use,
             * where commits overwrite WAL space instead of growing the file (growing
             * it costs a metadata journal commit per fsync on ext4). */
            engine_open(e, 1);
            do_writes(e, &w, T_SETTINGS, NULL, 0, w.n, w.n, 0);
            do_writes(e, &w, T_SESSIONS, NULL, 0, w.n, w.n, 0);
        }
        for (int c = 0; c < C_COUNT; c++) {
            if (!want[c]) continue;
            int n_here = case_is_write((case_id)c) ? neng : (neng > 2 ? 2 : neng);
            /* The case runs in slices, the sides taking turns slice by slice (which side
             * goes first rotates), so a slow spell of the machine hits both sides. */
            size_t total = case_ops(&w, (case_id)c), unit = case_unit(&w, (case_id)c);
            size_t units = (total + unit - 1) / unit, per = (units + (size_t)slices - 1) / (size_t)slices;
            uint64_t ns[ENG_COUNT] = { 0 };
            int turn = rep + c;
            for (size_t from = 0; from < total; from += per * unit, turn++) {
                size_t to = from + per * unit < total ? from + per * unit : total;
                for (int j = 0; j < n_here; j++) {
                    int k = (turn + j) % n_here;
                    ns[k] += run_slice(&eng[k], &w, (case_id)c, (size_t)rep, from, to);
                }
            }
            for (int k = 0; k < n_here; k++) ops[c][k][rep] = (double)total / ((double)ns[k] / 1e9);
            if (verbose) {
                fprintf(stderr, "  rep %d %-24s", rep + 1, case_label[c]);
                for (int k = 0; k < n_here; k++) fprintf(stderr, " %s %.0f", engine_label(k), ops[c][k][rep]);
                fprintf(stderr, "\n");
            }
        }
        if (!strata_only) verify_same(&eng[ENG_STRATA], &eng[ENG_SQLITE], &w);
        for (int k = 0; k < neng; k++) engine_close(&eng[k]);
        if (!keep) {
            char p[PATH_MAX + 32];
            for (int k = 0; k < neng; k++) {
                rmtree(eng[k].path);
                if (k != ENG_STRATA) {
                    snprintf(p, sizeof p, "%s-wal", eng[k].path); rmtree(p);
                    snprintf(p, sizeof p, "%s-shm", eng[k].path); rmtree(p);
                }
            }
        }
        fprintf(stderr, "  rep %d/%d done\n", rep + 1, reps);
    }

    printf("\n%-34s %13s %13s %8s %9s  %s\n", "operation", "Strata ops/s", "SQLite ops/s", "ratio",
           "overhead", "ratio min..max  (goal: overhead < 10%)");
    int over = 0;
    for (int c = 0; c < C_COUNT; c++) {
        if (!want[c]) continue;
        char label[64];
        const char *suffix = c == C_SET_SINGLE || c == C_SESS_SINGLE
                                 ? (sync_full ? " (fsync each)" : " (no fsync)")
                                 : "";
        snprintf(label, sizeof label, "%s%s", case_label[c], suffix);
        double s_med = median(ops[c][ENG_STRATA], reps);
        if (strata_only) {
            printf("%-34s %13.0f %13s\n", label, s_med, "-");
            continue;
        }
        double ratio[MAX_REPS];
        for (int r = 0; r < reps; r++) ratio[r] = ops[c][ENG_STRATA][r] / ops[c][ENG_SQLITE][r];
        double rm = median(ratio, reps), oh = (1 / rm - 1) * 100;
        if (oh >= 10) over = 1;
        printf("%-34s %13.0f %13.0f %8.3f %8.1f%%  %.3f..%.3f%s\n", label, s_med,
               median(ops[c][ENG_SQLITE], reps), rm, oh, min_of(ratio, reps), max_of(ratio, reps),
               oh >= 10 ? "  OVER" : "");
    }
    if (breakdown) {
        printf("\nbreakdown of the write overhead: SQLite running Strata's per-commit SQL piece by piece\n"
               "(median ops/s, each on its own fresh store; %% = extra time per op against the anchor)\n");
        for (int k = ENG_SQLITE; k < ENG_COUNT; k++) printf("  %-13s %s\n", variants[k].label, variants[k].what);
        printf("\n%-22s", "operation");
        for (int k = ENG_SQLITE; k < ENG_COUNT; k++) printf(" %15s", variants[k].label);
        printf(" %15s\n", "Strata");
        for (int c = 0; c < C_COUNT; c++) {
            if (!want[c] || !case_is_write((case_id)c)) continue;
            printf("%-22s", case_label[c]);
            for (int k = ENG_SQLITE; k <= ENG_COUNT; k++) {
                int kk = k == ENG_COUNT ? ENG_STRATA : k;
                double r[MAX_REPS];
                for (int i = 0; i < reps; i++) r[i] = ops[c][ENG_SQLITE][i] / ops[c][kk][i];
                char cell[40];
                if (kk == ENG_SQLITE) snprintf(cell, sizeof cell, "%.0f", median(ops[c][kk], reps));
                else snprintf(cell, sizeof cell, "%.0f %+.0f%%", median(ops[c][kk], reps), (median(r, reps) - 1) * 100);
                printf(" %15s", cell);
            }
            printf("\n");
        }
    }
    if (!keep) rmtree(root);
    else printf("\nstores kept in %s\n", root);
    if (!strata_only) printf("\nresult: %s\n", over ? "overhead >= 10% somewhere (see OVER)" : "overhead < 10% everywhere");
    workload_free(&w);
    return 0;
}
