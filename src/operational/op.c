/* op.c — the operational store on SQLite: connections and pragmas, the schema and its
 * migrations, settings, sessions and the commit log.
 *
 * Every statement with a value in it is prepared once (SQLITE_PREPARE_PERSISTENT),
 * cached per connection, and bound; no SQL is built from strings. */
#include "operational/op.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema: migrations[v] brings user_version v to v+1. Published steps never
 * change; a new schema is a new step appended here. ---- */
static const char *const migrations[OP_SCHEMA_VERSION] = {
    /* 0 -> 1: settings, sessions, the commit log. */
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
    /* One row per committed transaction; AUTOINCREMENT keeps LSNs monotonic even
     * after old rows are trimmed. */
    "CREATE TABLE commit_log("
    "  lsn INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  committed_at INTEGER NOT NULL,"
    "  ops INTEGER NOT NULL);",

    /* 1 -> 2: the document catalogue. Content is stored once per SHA-256 (dedup) in
     * append-only segment files; a document row points at its content row. */
    "CREATE TABLE segments("
    "  id INTEGER PRIMARY KEY,"
    "  tier TEXT NOT NULL DEFAULT 'warm',"
    "  sealed INTEGER NOT NULL DEFAULT 0,"
    "  committed_length INTEGER NOT NULL DEFAULT 0,"
    "  dead_bytes INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE dictionaries("
    "  id INTEGER PRIMARY KEY,"
    "  codec INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE contents("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 BLOB NOT NULL UNIQUE,"
    "  segment INTEGER NOT NULL REFERENCES segments(id),"
    "  offset INTEGER NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  raw_length INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  codec INTEGER NOT NULL,"
    "  dict_id INTEGER NOT NULL DEFAULT 0,"
    "  refs INTEGER NOT NULL);"
    "CREATE INDEX contents_by_segment ON contents(segment, offset);"
    "CREATE TABLE documents("
    "  id BLOB PRIMARY KEY NOT NULL,"
    "  content INTEGER NOT NULL REFERENCES contents(id),"
    "  filename TEXT,"
    "  file_size INTEGER NOT NULL,"
    "  metadata_json TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_access INTEGER,"
    "  lsn INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX documents_by_content ON documents(content);",
};

/* ---- cached statements ---- */
enum {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVEPOINT, W_RELEASE, W_ROLLBACK_TO,
    W_LOG_COMMIT, W_SETTING_SET, W_SETTING_DEL,
    W_SESSION_INSERT, W_SESSION_PUT, W_SESSION_TOUCH, W_SESSION_DEL, W_SESSION_EXPIRE,
    W_COUNT
};
static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT txn",
    [W_RELEASE] = "RELEASE txn",
    [W_ROLLBACK_TO] = "ROLLBACK TO txn",
    [W_LOG_COMMIT] = "INSERT INTO commit_log(committed_at, ops) VALUES(?1, ?2)",
    [W_SETTING_SET] = "INSERT INTO settings(key, value, updated_at) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    [W_SETTING_DEL] = "DELETE FROM settings WHERE key = ?1",
    [W_SESSION_INSERT] = "INSERT INTO sessions(id, data, created_at, last_accessed, ttl_s) "
                         "VALUES(?1, ?2, ?4, ?4, ?3)",
    [W_SESSION_PUT] = "INSERT INTO sessions(id, data, created_at, last_accessed, ttl_s) "
                      "VALUES(?1, ?2, ?4, ?4, ?3) ON CONFLICT(id) DO UPDATE SET "
                      "data = excluded.data, ttl_s = excluded.ttl_s, last_accessed = excluded.last_accessed",
    [W_SESSION_TOUCH] = "UPDATE sessions SET last_accessed = ?2 WHERE id = ?1",
    [W_SESSION_DEL] = "DELETE FROM sessions WHERE id = ?1",
    [W_SESSION_EXPIRE] = "DELETE FROM sessions WHERE (ttl_s > 0 AND last_accessed + ttl_s * 1000 < ?1) "
                         "OR (?2 > 0 AND last_accessed + ?2 * 1000 < ?1)",
};

enum { R_SETTING_GET, R_SETTING_LIST, R_SESSION_GET, R_SESSION_LIST, R_COUNTS, R_COUNT };
static const char *const rsql[R_COUNT] = {
    [R_SETTING_GET] = "SELECT value, updated_at FROM settings WHERE key = ?1",
    [R_SETTING_LIST] = "SELECT key, value, updated_at FROM settings ORDER BY key",
    [R_SESSION_GET] = "SELECT id, data, created_at, last_accessed, ttl_s FROM sessions WHERE id = ?1",
    [R_SESSION_LIST] = "SELECT id, data, created_at, last_accessed, ttl_s FROM sessions ORDER BY id",
    [R_COUNTS] = "SELECT (SELECT count(*) FROM settings), (SELECT count(*) FROM sessions), "
                 "(SELECT count(*) FROM documents), "
                 "(SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'commit_log')",
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt **stmts;
    const char *const *sql;
    int n;
} conn;

struct op_db {
    conn w, r;
    sqlite3_stmt *wstmts[W_COUNT];
    sqlite3_stmt *rstmts[R_COUNT];
};

int op_status(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return STRATA_OK;
    case SQLITE_NOMEM: return STRATA_ENOMEM;
    case SQLITE_FULL: return STRATA_ENOSPC;
    case SQLITE_IOERR: return STRATA_EIO;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return STRATA_ECORRUPT;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: case SQLITE_CANTOPEN: return STRATA_EACCES;
    case SQLITE_BUSY: case SQLITE_LOCKED: return STRATA_EBUSY;
    case SQLITE_CONSTRAINT: return STRATA_EEXIST;
    case SQLITE_TOOBIG: return STRATA_ETOOBIG;
    case SQLITE_MISUSE: return STRATA_EMISUSE;
    default: return STRATA_ERROR;
    }
}

static sqlite3_stmt *stmt(conn *c, int i) {
    if (!c->stmts[i] &&
        sqlite3_prepare_v3(c->db, c->sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[i], NULL) != SQLITE_OK)
        return NULL;
    return c->stmts[i];
}

/* Run a cached statement with no result rows; returns a STRATA status. */
static int run(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? STRATA_OK : op_status(sqlite3_errcode(sqlite3_db_handle(s)));
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && err) snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

static int user_version(sqlite3 *db, int *v) {
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { *v = sqlite3_column_int(s, 0); rc = SQLITE_OK; }
    sqlite3_finalize(s);
    return rc;
}

int op_migrate(sqlite3 *db, int target, char *err, size_t errlen) {
    int v = 0, rc = user_version(db, &v);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "reading schema version: %s", sqlite3_errmsg(db));
        return op_status(rc);
    }
    if (v > OP_SCHEMA_VERSION) {
        snprintf(err, errlen, "operational.db has schema version %d, newer than this build's %d",
                 v, OP_SCHEMA_VERSION);
        return STRATA_EVERSION;
    }
    if (target > OP_SCHEMA_VERSION || target < 0) {
        snprintf(err, errlen, "no schema version %d", target);
        return STRATA_EINVAL;
    }
    for (; v < target; v++) {
        char pragma[48], msg[256] = "";
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1); /* an integer, not a value */
        if ((rc = exec(db, "BEGIN IMMEDIATE", msg, sizeof msg)) != SQLITE_OK ||
            (rc = exec(db, migrations[v], msg, sizeof msg)) != SQLITE_OK ||
            (rc = exec(db, pragma, msg, sizeof msg)) != SQLITE_OK ||
            (rc = exec(db, "COMMIT", msg, sizeof msg)) != SQLITE_OK) {
            int code = op_status(sqlite3_extended_errcode(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(err, errlen, "migrating operational.db from schema %d to %d: %s", v, v + 1, msg);
            return code ? code : STRATA_ERROR;
        }
    }
    return STRATA_OK;
}

static int conn_open(conn *c, const char *path, int flags, const op_config *cfg, char *err, size_t errlen) {
    int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "opening %s: %s", path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return op_status(rc);
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, cfg->busy_timeout_ms);
    return STRATA_OK;
}

int op_open(const char *path, const op_config *cfg, op_db **out, char *err, size_t errlen) {
    *out = NULL;
    op_db *db = calloc(1, sizeof *db);
    if (!db) { snprintf(err, errlen, "out of memory"); return STRATA_ENOMEM; }
    db->w = (conn){ NULL, db->wstmts, wsql, W_COUNT };
    db->r = (conn){ NULL, db->rstmts, rsql, R_COUNT };
    int rc = conn_open(&db->w, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, cfg, err, errlen);
    if (rc) goto fail;

    /* WAL first: a reader connection needs it, and so does crash recovery. */
    const char *sync = cfg->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    char msg[256] = "";
    if (exec(db->w.db, "PRAGMA journal_mode = WAL", msg, sizeof msg) != SQLITE_OK ||
        exec(db->w.db, sync, msg, sizeof msg) != SQLITE_OK ||
        exec(db->w.db, "PRAGMA foreign_keys = ON", msg, sizeof msg) != SQLITE_OK) {
        rc = op_status(sqlite3_extended_errcode(db->w.db));
        snprintf(err, errlen, "setting up %s: %s", path, msg);
        if (!rc) rc = STRATA_ERROR;
        goto fail;
    }
    /* The journal mode must really be WAL (it silently is not on some filesystems). */
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->w.db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK) {
        int wal = sqlite3_step(s) == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        if (!wal) { snprintf(err, errlen, "%s: WAL mode unavailable", path); rc = STRATA_EIO; goto fail; }
    }
    if ((rc = op_migrate(db->w.db, OP_SCHEMA_VERSION, err, errlen)) != STRATA_OK) goto fail;

    if ((rc = conn_open(&db->r, path, SQLITE_OPEN_READONLY, cfg, err, errlen)) != STRATA_OK) goto fail;
    *out = db;
    return STRATA_OK;
fail:
    op_close(db);
    return rc;
}

static void conn_close(conn *c) {
    for (int i = 0; i < c->n; i++) sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
}

void op_close(op_db *db) {
    if (!db) return;
    conn_close(&db->r); /* the writer closes last so the WAL is checkpointed */
    conn_close(&db->w);
    free(db);
}

const char *op_errmsg(op_db *db, int writer) {
    return sqlite3_errmsg(writer ? db->w.db : db->r.db);
}

/* ---- writer ---- */
#define WSTMT(name) sqlite3_stmt *s = stmt(&db->w, name); \
    if (!s) return op_status(sqlite3_errcode(db->w.db))

static int wsimple(op_db *db, int i) { WSTMT(i); return run(s); }
int op_w_begin(op_db *db) { return wsimple(db, W_BEGIN); }
int op_w_commit(op_db *db) { return wsimple(db, W_COMMIT); }
int op_w_savepoint(op_db *db) { return wsimple(db, W_SAVEPOINT); }
int op_w_release(op_db *db) { return wsimple(db, W_RELEASE); }
void op_w_rollback(op_db *db) {
    if (!sqlite3_get_autocommit(db->w.db)) (void)wsimple(db, W_ROLLBACK);
}
void op_w_rollback_savepoint(op_db *db) {
    (void)wsimple(db, W_ROLLBACK_TO);
    (void)wsimple(db, W_RELEASE);
}

int op_w_log_commit(op_db *db, int64_t now, uint32_t nops, uint64_t *lsn) {
    WSTMT(W_LOG_COMMIT);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, nops);
    int rc = run(s);
    if (rc == STRATA_OK) *lsn = (uint64_t)sqlite3_last_insert_rowid(db->w.db);
    return rc;
}

int op_w_setting_set(op_db *db, const char *key, const char *json, int64_t now) {
    WSTMT(W_SETTING_SET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    return run(s);
}

/* Run a keyed statement that must touch exactly one row. */
static int one_row(op_db *db, sqlite3_stmt *s, int rc_if_none) {
    int rc = run(s);
    if (rc == STRATA_OK && sqlite3_changes(db->w.db) == 0) return rc_if_none;
    return rc;
}

int op_w_setting_delete(op_db *db, const char *key) {
    WSTMT(W_SETTING_DEL);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return one_row(db, s, STRATA_ENOTFOUND);
}

static int session_write(op_db *db, int which, const char *id, const char *data, int64_t ttl_s, int64_t now) {
    WSTMT(which);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ttl_s);
    sqlite3_bind_int64(s, 4, now);
    return run(s);
}
int op_w_session_insert(op_db *db, const char *id, const char *data, int64_t ttl_s, int64_t now) {
    return session_write(db, W_SESSION_INSERT, id, data, ttl_s, now);
}
int op_w_session_put(op_db *db, const char *id, const char *data, int64_t ttl_s, int64_t now) {
    return session_write(db, W_SESSION_PUT, id, data, ttl_s, now);
}

int op_w_session_touch(op_db *db, const char *id, int64_t now) {
    WSTMT(W_SESSION_TOUCH);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    return one_row(db, s, STRATA_ENOTFOUND);
}

int op_w_session_delete(op_db *db, const char *id) {
    WSTMT(W_SESSION_DEL);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return one_row(db, s, STRATA_ENOTFOUND);
}

int op_w_session_expire(op_db *db, int64_t now, int64_t idle_ttl_s, uint64_t *n) {
    WSTMT(W_SESSION_EXPIRE);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, idle_ttl_s);
    int rc = run(s);
    *n = rc == STRATA_OK ? (uint64_t)sqlite3_changes(db->w.db) : 0;
    return rc;
}

/* ---- reader ---- */
#define RSTMT(name) sqlite3_stmt *s = stmt(&db->r, name); \
    if (!s) return op_status(sqlite3_errcode(db->r.db))

static int rdone(sqlite3_stmt *s, int rc) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static char *dup_col(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    int n = sqlite3_column_bytes(s, i);
    char *p = malloc((size_t)n + 1);
    if (p) { if (n) memcpy(p, t, (size_t)n); p[n] = 0; }
    return p;
}

int op_r_setting_get(op_db *db, const char *key, char **json, int64_t *updated_at) {
    RSTMT(R_SETTING_GET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return rdone(s, STRATA_ENOTFOUND);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    *json = dup_col(s, 0);
    if (updated_at) *updated_at = sqlite3_column_int64(s, 1);
    return rdone(s, *json ? STRATA_OK : STRATA_ENOMEM);
}

int op_r_setting_list(op_db *db, strata_setting_cb cb, void *ctx) {
    RSTMT(R_SETTING_LIST);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                      sqlite3_column_int64(s, 2));
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

static void session_row(sqlite3_stmt *s, strata_session *out) {
    out->id = (char *)sqlite3_column_text(s, 0);
    out->data = (char *)sqlite3_column_text(s, 1);
    out->created_at_ms = sqlite3_column_int64(s, 2);
    out->last_accessed_ms = sqlite3_column_int64(s, 3);
    out->ttl_s = sqlite3_column_int64(s, 4);
}

int op_r_session_get(op_db *db, const char *id, strata_session **out) {
    RSTMT(R_SESSION_GET);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return rdone(s, STRATA_ENOTFOUND);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    strata_session *ss = calloc(1, sizeof *ss);
    if (!ss) return rdone(s, STRATA_ENOMEM);
    session_row(s, ss);
    ss->id = dup_col(s, 0);
    ss->data = dup_col(s, 1);
    if (!ss->id || !ss->data) {
        strata_session_free(ss);
        return rdone(s, STRATA_ENOMEM);
    }
    *out = ss;
    return rdone(s, STRATA_OK);
}

int op_r_session_list(op_db *db, strata_session_cb cb, void *ctx) {
    RSTMT(R_SESSION_LIST);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        strata_session ss;
        session_row(s, &ss);
        int stop = cb(ctx, &ss);
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

int op_r_counts(op_db *db, op_counts *out) {
    RSTMT(R_COUNTS);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    out->settings = (uint64_t)sqlite3_column_int64(s, 0);
    out->sessions = (uint64_t)sqlite3_column_int64(s, 1);
    out->documents = (uint64_t)sqlite3_column_int64(s, 2);
    out->lsn = (uint64_t)sqlite3_column_int64(s, 3);
    return rdone(s, STRATA_OK);
}
