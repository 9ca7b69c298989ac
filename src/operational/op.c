/* op.c — the operational store on SQLite: connections and pragmas, the schema and its
 * migrations, settings, sessions and the commit log.
 *
 * Every statement with a value in it is prepared once (SQLITE_PREPARE_PERSISTENT),
 * cached per connection, and bound; no SQL is built from strings. */
#include "operational/op_int.h"

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
    /* One row per committed transaction. Without AUTOINCREMENT (which costs a
     * sqlite_sequence page per commit) a new lsn is max(lsn) + 1, so LSNs stay
     * monotonic as long as the newest row is never deleted: trimming must keep it. */
    "CREATE TABLE commit_log("
    "  lsn INTEGER PRIMARY KEY,"
    "  committed_at INTEGER NOT NULL,"
    "  ops INTEGER NOT NULL);",

    /* 1 -> 2: the document catalogue. Content is stored once per SHA-256 (dedup) in
     * append-only segment files; a document row points at its content row. */
    "CREATE TABLE segments("
    "  id INTEGER PRIMARY KEY,"
    "  tier TEXT NOT NULL DEFAULT 'warm',"
    "  sealed INTEGER NOT NULL DEFAULT 0,"
    "  committed_length INTEGER NOT NULL DEFAULT 0,"
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

    /* 2 -> 3: vector collections. A collection's vectors live in its log
     * (vectors/NAME/vectors.log); log_length is the committed part of it. Each
     * (collection, document id) has one vector, known to the index by a label that
     * is never reused. */
    "CREATE TABLE collections("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  metric INTEGER NOT NULL,"
    "  dtype INTEGER NOT NULL,"
    "  m INTEGER NOT NULL,"
    "  ef_construction INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  log_length INTEGER NOT NULL,"
    "  next_label INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
    "CREATE TABLE vectors("
    "  collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,"
    "  doc_id BLOB NOT NULL,"
    "  label INTEGER NOT NULL,"
    "  lsn INTEGER NOT NULL,"
    "  PRIMARY KEY(collection, doc_id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX vectors_by_label ON vectors(collection, label);"
    "CREATE INDEX vectors_by_doc ON vectors(doc_id);",
};

/* ---- cached statements ---- */
enum {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVEPOINT, W_RELEASE, W_ROLLBACK_TO,
    W_LOG_COMMIT, W_SETTING_SET, W_SETTING_DEL,
    W_SESSION_INSERT, W_SESSION_PUT, W_SESSION_TOUCH, W_SESSION_DEL, W_SESSION_EXPIRE,
    W_SEG_UPSERT, W_CONTENT_BY_SHA, W_CONTENT_INSERT, W_CONTENT_REF, W_DOC_OLD, W_DOC_UPSERT, W_DOC_DEL,
    W_DOC_TOUCH, W_DICT_INSERT, W_CONTENT_MOVE, W_CONTENT_DROP_DEAD, W_SEG_DELETE, W_CHECKPOINT,
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
    [W_SEG_UPSERT] = "INSERT INTO segments(id, committed_length, sealed, created_at) VALUES(?1, ?2, ?3, ?4) "
                     "ON CONFLICT(id) DO UPDATE SET committed_length = max(committed_length, excluded.committed_length), "
                     "sealed = max(sealed, excluded.sealed)",
    [W_CONTENT_BY_SHA] = "SELECT id FROM contents WHERE sha256 = ?1",
    [W_CONTENT_INSERT] = "INSERT INTO contents(sha256, segment, offset, length, raw_length, checksum, codec, dict_id, refs) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
    [W_CONTENT_REF] = "UPDATE contents SET refs = refs + ?2 WHERE id = ?1",
    [W_DOC_OLD] = "SELECT content FROM documents WHERE id = ?1",
    [W_DOC_UPSERT] = "INSERT INTO documents(id, content, filename, file_size, metadata_json, created_at, updated_at, lsn) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT(id) DO UPDATE SET content = excluded.content, "
                     "filename = excluded.filename, file_size = excluded.file_size, "
                     "metadata_json = excluded.metadata_json, updated_at = excluded.updated_at, lsn = excluded.lsn",
    [W_DOC_DEL] = "DELETE FROM documents WHERE id = ?1 RETURNING content",
    [W_DOC_TOUCH] = "UPDATE documents SET last_access = ?2 WHERE id = ?1 AND (last_access IS NULL OR last_access < ?2)",
    [W_DICT_INSERT] = "INSERT INTO dictionaries(codec, data, created_at) VALUES(?1, ?2, ?3)",
    [W_CONTENT_MOVE] = "UPDATE contents SET segment = ?3, offset = ?4, length = ?5, checksum = ?6, codec = ?7, "
                       "dict_id = ?8 WHERE id = ?1 AND segment = ?2",
    [W_CONTENT_DROP_DEAD] = "DELETE FROM contents WHERE segment = ?1 AND refs <= 0",
    [W_SEG_DELETE] = "DELETE FROM segments WHERE id = ?1",
    [W_CHECKPOINT] = "PRAGMA wal_checkpoint(TRUNCATE)",
};

enum {
    R_SETTING_GET, R_SETTING_LIST, R_SESSION_GET, R_SESSION_LIST, R_COUNTS,
    R_DOC_GET, R_CONTENT_BY_SHA, R_DOC_IDS, R_SEGMENTS, R_DICTS, R_CONTENTS, R_LIVE,
    R_CHECK_DOCS, R_CHECK_REFS, R_CHECK_SEGS, R_SAMPLE, R_DOCS_OF_CONTENT, R_BEGIN, R_COMMIT, R_DOC_LOC, R_COUNT
};
#define CONTENT_COLS "c.id, c.sha256, c.segment, c.offset, c.length, c.raw_length, c.checksum, c.codec, " \
                     "c.dict_id, c.refs"
static const char *const rsql[R_COUNT] = {
    [R_SETTING_GET] = "SELECT value, updated_at FROM settings WHERE key = ?1",
    [R_SETTING_LIST] = "SELECT key, value, updated_at FROM settings ORDER BY key",
    [R_SESSION_GET] = "SELECT id, data, created_at, last_accessed, ttl_s FROM sessions WHERE id = ?1",
    [R_SESSION_LIST] = "SELECT id, data, created_at, last_accessed, ttl_s FROM sessions ORDER BY id",
    [R_COUNTS] = "SELECT (SELECT count(*) FROM settings), (SELECT count(*) FROM sessions), "
                 "(SELECT count(*) FROM documents), "
                 "(SELECT coalesce(max(lsn), 0) FROM commit_log), "
                 "(SELECT count(*) FROM contents WHERE refs > 0), (SELECT coalesce(sum(file_size), 0) FROM documents), "
                 "(SELECT coalesce(sum(length), 0) FROM contents WHERE refs > 0), (SELECT count(*) FROM segments)",
    [R_DOC_GET] = "SELECT " CONTENT_COLS ", d.file_size, d.created_at, d.updated_at, coalesce(d.last_access, 0), "
                  "d.lsn, d.filename, d.metadata_json FROM documents d LEFT JOIN contents c ON c.id = d.content "
                  "WHERE d.id = ?1",
    [R_CONTENT_BY_SHA] = "SELECT " CONTENT_COLS " FROM contents c WHERE c.sha256 = ?1",
    [R_DOC_IDS] = "SELECT id FROM documents WHERE id > ?1 AND id >= ?2 AND (?3 IS NULL OR id < ?3) AND "
                  "(?4 IS NULL OR json_extract(metadata_json, ?4) IS json_extract(?5, '$')) ORDER BY id LIMIT ?6",
    [R_SEGMENTS] = "SELECT id, committed_length, sealed FROM segments ORDER BY id",
    [R_DICTS] = "SELECT id, codec, data FROM dictionaries ORDER BY id",
    [R_CONTENTS] = "SELECT " CONTENT_COLS " FROM contents c WHERE ?1 = 0 OR c.segment = ?1 ORDER BY c.segment, c.offset",
    [R_LIVE] = "SELECT s.id, coalesce((SELECT sum(length) FROM contents c WHERE c.segment = s.id AND c.refs > 0), 0) "
               "FROM segments s ORDER BY s.id",
    [R_CHECK_DOCS] = "SELECT d.id, d.content FROM documents d LEFT JOIN contents c ON c.id = d.content WHERE c.id IS NULL",
    [R_CHECK_REFS] = "SELECT c.id, c.refs, (SELECT count(*) FROM documents d WHERE d.content = c.id) AS n "
                     "FROM contents c WHERE c.refs != n",
    [R_CHECK_SEGS] = "SELECT c.id, c.segment, s.id, s.committed_length, c.offset + c.length FROM contents c "
                     "LEFT JOIN segments s ON s.id = c.segment "
                     "WHERE s.id IS NULL OR c.offset + c.length > s.committed_length",
    [R_SAMPLE] = "SELECT " CONTENT_COLS " FROM contents c WHERE c.refs > 0 ORDER BY random() LIMIT ?1",
    [R_DOCS_OF_CONTENT] = "SELECT id FROM documents WHERE content = ?1 ORDER BY id LIMIT ?2",
    [R_BEGIN] = "BEGIN",
    [R_DOC_LOC] = "SELECT c.id, c.segment, c.offset, c.length, c.raw_length, c.checksum, c.codec, c.dict_id "
                  "FROM documents d LEFT JOIN contents c ON c.id = d.content WHERE d.id = ?1",
    [R_COMMIT] = "COMMIT",
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt **stmts;
    const char *const *sql;
    int n;
} conn;

typedef struct keyed { const char *sql; sqlite3_stmt *s; } keyed;

struct op_db {
    conn w, r;
    int r_held;      /* the reader connection is inside its held read transaction */
    keyed *keyed[2]; /* statements of other files (op_vec.c ...), by SQL text address */
    size_t nkeyed[2];
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
        exec(db->w.db, "PRAGMA foreign_keys = ON", msg, sizeof msg) != SQLITE_OK ||
        /* Deleted rows (document metadata) are overwritten, not left in free pages. */
        exec(db->w.db, "PRAGMA secure_delete = ON", msg, sizeof msg) != SQLITE_OK ||
        /* Savepoint journals stay in memory instead of spilling to a temp file. */
        exec(db->w.db, "PRAGMA temp_store = MEMORY", msg, sizeof msg) != SQLITE_OK) {
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
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < db->nkeyed[k]; i++) sqlite3_finalize(db->keyed[k][i].s);
        free(db->keyed[k]);
    }
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

/* ---- reader ----
 * The reader keeps one read transaction open across calls instead of starting and
 * ending one per statement (each costs locking and stat system calls on the WAL
 * index). store.c ends it after every commit (op_r_release), so a read that follows
 * a commit always sees it, and the WAL can be checkpointed and restarted. */
static int r_hold(op_db *db) {
    sqlite3_stmt *b = stmt(&db->r, R_BEGIN);
    if (!b) return op_status(sqlite3_errcode(db->r.db));
    int rc = run(b);
    if (rc == STRATA_OK) db->r_held = 1;
    return rc;
}

void op_r_release(op_db *db) {
    if (!db->r_held) return;
    sqlite3_stmt *c = stmt(&db->r, R_COMMIT);
    if (c) (void)run(c);
    db->r_held = 0;
}

/* ---- statements of the other catalogue files (op_int.h) ---- */
sqlite3_stmt *op_keyed(op_db *db, int writer, const char *sql) {
    if (!writer && !db->r_held && r_hold(db) != STRATA_OK) return NULL;
    keyed *k = db->keyed[writer ? 1 : 0];
    size_t n = db->nkeyed[writer ? 1 : 0];
    for (size_t i = 0; i < n; i++) if (k[i].sql == sql) return k[i].s;
    conn *c = writer ? &db->w : &db->r;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) return NULL;
    keyed *nk = realloc(k, (n + 1) * sizeof *nk);
    if (!nk) { sqlite3_finalize(s); return NULL; }
    nk[n] = (keyed){ sql, s };
    db->keyed[writer ? 1 : 0] = nk;
    db->nkeyed[writer ? 1 : 0] = n + 1;
    return s;
}

int op_keyed_status(op_db *db, int writer) {
    int rc = op_status(sqlite3_extended_errcode(writer ? db->w.db : db->r.db));
    return rc ? rc : STRATA_ENOMEM;
}

int op_run(sqlite3_stmt *s) { return run(s); }
int op_changes(op_db *db) { return sqlite3_changes(db->w.db); }
int64_t op_last_rowid(op_db *db) { return sqlite3_last_insert_rowid(db->w.db); }

#define RSTMT(name) if (!db->r_held) { int hrc_ = r_hold(db); if (hrc_) return hrc_; } \
    sqlite3_stmt *s = stmt(&db->r, name); \
    if (!s) return op_status(sqlite3_errcode(db->r.db))

static int rdone(sqlite3_stmt *s, int rc) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int op_done(sqlite3_stmt *s, int rc) { return rdone(s, rc); }

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
    out->contents = (uint64_t)sqlite3_column_int64(s, 4);
    out->raw_bytes = (uint64_t)sqlite3_column_int64(s, 5);
    out->stored_bytes = (uint64_t)sqlite3_column_int64(s, 6);
    out->segments = (uint64_t)sqlite3_column_int64(s, 7);
    return rdone(s, STRATA_OK);
}

/* ---- document catalogue: writer ---- */
static int step_row(op_db *db, sqlite3_stmt *s, int64_t *v) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { *v = sqlite3_column_int64(s, 0); rc = STRATA_OK; }
    else rc = rc == SQLITE_DONE ? STRATA_ENOTFOUND : op_status(sqlite3_extended_errcode(db->w.db));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static int content_ref(op_db *db, int64_t content_id, int delta) {
    WSTMT(W_CONTENT_REF);
    sqlite3_bind_int64(s, 1, content_id);
    sqlite3_bind_int(s, 2, delta);
    return run(s);
}

int op_w_segment_insert(op_db *db, uint64_t id, uint64_t length, int sealed, int64_t now) {
    WSTMT(W_SEG_UPSERT);
    sqlite3_bind_int64(s, 1, (int64_t)id);
    sqlite3_bind_int64(s, 2, (int64_t)length);
    sqlite3_bind_int(s, 3, sealed);
    sqlite3_bind_int64(s, 4, now);
    return run(s);
}

int op_w_doc_put(op_db *db, const op_doc_put *p, int64_t now, uint64_t lsn) {
    const op_content *c = &p->content;
    int64_t cid = 0, old = 0;
    int rc;
    {
        WSTMT(W_CONTENT_BY_SHA);
        sqlite3_bind_blob(s, 1, c->sha256, 32, SQLITE_STATIC);
        rc = step_row(db, s, &cid);
    }
    if (rc == STRATA_ENOTFOUND) {
        /* New content: it must come with its own run. */
        if (c->segment == 0) return STRATA_ENOTFOUND;
        if ((rc = op_w_segment_insert(db, c->segment, c->offset + c->length, 0, now)) != STRATA_OK) return rc;
        WSTMT(W_CONTENT_INSERT);
        sqlite3_bind_blob(s, 1, c->sha256, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)c->segment);
        sqlite3_bind_int64(s, 3, (int64_t)c->offset);
        sqlite3_bind_int64(s, 4, (int64_t)c->length);
        sqlite3_bind_int64(s, 5, (int64_t)c->raw_length);
        sqlite3_bind_int64(s, 6, c->checksum);
        sqlite3_bind_int(s, 7, c->codec);
        sqlite3_bind_int64(s, 8, c->dict_id);
        if ((rc = run(s)) != STRATA_OK) return rc;
        cid = sqlite3_last_insert_rowid(db->w.db);
    } else if (rc) {
        return rc;
    } /* else: the content exists (dedup); a run we appended for it is dead bytes. */
    {
        WSTMT(W_DOC_OLD);
        sqlite3_bind_blob(s, 1, p->id, (int)p->id_len, SQLITE_STATIC);
        rc = step_row(db, s, &old);
    }
    if (rc == STRATA_OK) { if ((rc = content_ref(db, old, -1)) != STRATA_OK) return rc; }
    else if (rc != STRATA_ENOTFOUND) return rc;
    if ((rc = content_ref(db, cid, +1)) != STRATA_OK) return rc;
    WSTMT(W_DOC_UPSERT);
    sqlite3_bind_blob(s, 1, p->id, (int)p->id_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, cid);
    if (p->filename) sqlite3_bind_text(s, 3, p->filename, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)c->raw_length);
    sqlite3_bind_text(s, 5, p->metadata_json ? p->metadata_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now);
    sqlite3_bind_int64(s, 7, (int64_t)lsn);
    return run(s);
}

int op_w_doc_delete(op_db *db, const void *id, size_t id_len) {
    int64_t cid = 0;
    WSTMT(W_DOC_DEL);
    sqlite3_bind_blob(s, 1, id, (int)id_len, SQLITE_STATIC);
    int rc = step_row(db, s, &cid);
    return rc ? rc : content_ref(db, cid, -1);
}

int op_w_doc_touch(op_db *db, const void *id, size_t id_len, int64_t at) {
    WSTMT(W_DOC_TOUCH);
    sqlite3_bind_blob(s, 1, id, (int)id_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, at);
    return run(s);
}

int op_w_dict_insert(op_db *db, int codec, const void *data, size_t len, int64_t now, uint32_t *id) {
    WSTMT(W_DICT_INSERT);
    sqlite3_bind_int(s, 1, codec);
    sqlite3_bind_blob(s, 2, data, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    int rc = run(s);
    if (!rc) *id = (uint32_t)sqlite3_last_insert_rowid(db->w.db);
    return rc;
}

int op_w_content_move(op_db *db, int64_t content_id, uint64_t old_segment, const op_content *to) {
    WSTMT(W_CONTENT_MOVE);
    sqlite3_bind_int64(s, 1, content_id);
    sqlite3_bind_int64(s, 2, (int64_t)old_segment);
    sqlite3_bind_int64(s, 3, (int64_t)to->segment);
    sqlite3_bind_int64(s, 4, (int64_t)to->offset);
    sqlite3_bind_int64(s, 5, (int64_t)to->length);
    sqlite3_bind_int64(s, 6, to->checksum);
    sqlite3_bind_int(s, 7, to->codec);
    sqlite3_bind_int64(s, 8, to->dict_id);
    return one_row(db, s, STRATA_ENOTFOUND);
}

int op_w_content_drop_dead(op_db *db, uint64_t segment, uint64_t *n) {
    WSTMT(W_CONTENT_DROP_DEAD);
    sqlite3_bind_int64(s, 1, (int64_t)segment);
    int rc = run(s);
    *n = rc ? 0 : (uint64_t)sqlite3_changes(db->w.db);
    return rc;
}

int op_w_segment_delete(op_db *db, uint64_t id) {
    WSTMT(W_SEG_DELETE);
    sqlite3_bind_int64(s, 1, (int64_t)id);
    return run(s);
}

int op_w_checkpoint_truncate(op_db *db) {
    WSTMT(W_CHECKPOINT);
    return run(s);
}

/* ---- document catalogue: reader ---- */
static void content_cols(sqlite3_stmt *s, op_content *c) {
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(s, 0);
    const void *sha = sqlite3_column_blob(s, 1);
    if (sha && sqlite3_column_bytes(s, 1) == 32) memcpy(c->sha256, sha, 32);
    c->segment = (uint64_t)sqlite3_column_int64(s, 2);
    c->offset = (uint64_t)sqlite3_column_int64(s, 3);
    c->length = (uint64_t)sqlite3_column_int64(s, 4);
    c->raw_length = (uint64_t)sqlite3_column_int64(s, 5);
    c->checksum = (uint32_t)sqlite3_column_int64(s, 6);
    c->codec = sqlite3_column_int(s, 7);
    c->dict_id = (uint32_t)sqlite3_column_int64(s, 8);
    c->refs = sqlite3_column_int64(s, 9);
}

/* The get path: only what a read needs, nothing to free. */
static int doc_loc(op_db *db, const void *id, size_t id_len, op_doc_row *out) {
    RSTMT(R_DOC_LOC);
    sqlite3_bind_blob(s, 1, id, (int)id_len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return rdone(s, STRATA_ENOTFOUND);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) return rdone(s, STRATA_ECORRUPT); /* content row missing */
    out->c.id = sqlite3_column_int64(s, 0);
    out->c.segment = (uint64_t)sqlite3_column_int64(s, 1);
    out->c.offset = (uint64_t)sqlite3_column_int64(s, 2);
    out->c.length = (uint64_t)sqlite3_column_int64(s, 3);
    out->c.raw_length = (uint64_t)sqlite3_column_int64(s, 4);
    out->c.checksum = (uint32_t)sqlite3_column_int64(s, 5);
    out->c.codec = sqlite3_column_int(s, 6);
    out->c.dict_id = (uint32_t)sqlite3_column_int64(s, 7);
    return rdone(s, STRATA_OK);
}

int op_r_doc_get(op_db *db, const void *id, size_t id_len, int want_meta, op_doc_row *out) {
    if (!want_meta) {
        out->filename = out->metadata_json = NULL;
        return doc_loc(db, id, id_len, out);
    }
    RSTMT(R_DOC_GET);
    memset(out, 0, sizeof *out);
    sqlite3_bind_blob(s, 1, id, (int)id_len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return rdone(s, STRATA_ENOTFOUND);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) return rdone(s, STRATA_ECORRUPT); /* content row missing */
    content_cols(s, &out->c);
    out->size = (uint64_t)sqlite3_column_int64(s, 10);
    out->created_at = sqlite3_column_int64(s, 11);
    out->updated_at = sqlite3_column_int64(s, 12);
    out->last_access = sqlite3_column_int64(s, 13);
    out->lsn = (uint64_t)sqlite3_column_int64(s, 14);
    if (want_meta) {
        if (sqlite3_column_type(s, 15) != SQLITE_NULL && !(out->filename = dup_col(s, 15)))
            return rdone(s, STRATA_ENOMEM);
        if (!(out->metadata_json = dup_col(s, 16))) {
            free(out->filename);
            out->filename = NULL;
            return rdone(s, STRATA_ENOMEM);
        }
    }
    return rdone(s, STRATA_OK);
}

int op_r_content_by_sha(op_db *db, const uint8_t sha[32], op_content *out) {
    RSTMT(R_CONTENT_BY_SHA);
    sqlite3_bind_blob(s, 1, sha, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return rdone(s, STRATA_ENOTFOUND);
    if (rc != SQLITE_ROW) return rdone(s, op_status(rc));
    content_cols(s, out);
    return rdone(s, STRATA_OK);
}

int op_r_doc_ids(op_db *db, const void *after, size_t after_len, const void *lo, size_t lo_len,
                 const void *hi, size_t hi_len, const char *path, const char *value, int limit,
                 op_id_cb cb, void *ctx, int *n, char *err, size_t errlen) {
    RSTMT(R_DOC_IDS);
    static const char empty = 0;
    *n = 0;
    sqlite3_bind_blob(s, 1, after ? after : &empty, after ? (int)after_len : 0, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lo ? lo : &empty, lo ? (int)lo_len : 0, SQLITE_STATIC);
    if (hi) sqlite3_bind_blob(s, 3, hi, (int)hi_len, SQLITE_STATIC);
    if (path) {
        sqlite3_bind_text(s, 4, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, value, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(s, 6, limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        (*n)++;
        if (stop) return rdone(s, stop);
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db->r.db));
        /* A bad JSON path is the caller's input, not a database failure. */
        return rdone(s, (rc & 0xff) == SQLITE_ERROR ? STRATA_EINVAL : op_status(rc));
    }
    return rdone(s, STRATA_OK);
}

int op_r_segments(op_db *db, op_seg_cb cb, void *ctx) {
    RSTMT(R_SEGMENTS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint64_t)sqlite3_column_int64(s, 0), (uint64_t)sqlite3_column_int64(s, 1),
                      sqlite3_column_int(s, 2));
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

int op_r_dicts(op_db *db, op_dict_cb cb, void *ctx) {
    RSTMT(R_DICTS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint32_t)sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1), sqlite3_column_blob(s, 2),
                      (size_t)sqlite3_column_bytes(s, 2));
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

static int content_walk(op_db *db, sqlite3_stmt *s, op_content_cb cb, void *ctx) {
    (void)db;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        op_content c;
        content_cols(s, &c);
        int stop = cb(ctx, &c);
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

int op_r_contents(op_db *db, uint64_t segment, op_content_cb cb, void *ctx) {
    RSTMT(R_CONTENTS);
    sqlite3_bind_int64(s, 1, (int64_t)segment);
    return content_walk(db, s, cb, ctx);
}

int op_r_sample_contents(op_db *db, int max, op_content_cb cb, void *ctx) {
    RSTMT(R_SAMPLE);
    sqlite3_bind_int(s, 1, max);
    return content_walk(db, s, cb, ctx);
}

int op_r_live_bytes(op_db *db, op_live_cb cb, void *ctx) {
    RSTMT(R_LIVE);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint64_t)sqlite3_column_int64(s, 0), (uint64_t)sqlite3_column_int64(s, 1));
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

int op_r_check(op_db *db, op_problem_cb cb, void *ctx, uint64_t *n) {
    char msg[512];
    int rc;
    {
        RSTMT(R_CHECK_DOCS);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            snprintf(msg, sizeof msg, "document (%d-byte id) points at missing content %lld",
                     sqlite3_column_bytes(s, 0), (long long)sqlite3_column_int64(s, 1));
            cb(ctx, msg);
            (*n)++;
        }
        if ((rc = rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc))) != STRATA_OK) return rc;
    }
    {
        RSTMT(R_CHECK_REFS);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            snprintf(msg, sizeof msg, "content %lld has refs %lld but %lld documents use it",
                     (long long)sqlite3_column_int64(s, 0), (long long)sqlite3_column_int64(s, 1),
                     (long long)sqlite3_column_int64(s, 2));
            cb(ctx, msg);
            (*n)++;
        }
        if ((rc = rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc))) != STRATA_OK) return rc;
    }
    {
        RSTMT(R_CHECK_SEGS);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (sqlite3_column_type(s, 2) == SQLITE_NULL)
                snprintf(msg, sizeof msg, "content %lld is in segment %lld, which the catalogue does not list",
                         (long long)sqlite3_column_int64(s, 0), (long long)sqlite3_column_int64(s, 1));
            else
                snprintf(msg, sizeof msg, "content %lld ends at %lld, past segment %lld's committed length %lld",
                         (long long)sqlite3_column_int64(s, 0), (long long)sqlite3_column_int64(s, 4),
                         (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 3));
            cb(ctx, msg);
            (*n)++;
        }
        if ((rc = rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc))) != STRATA_OK) return rc;
    }
    /* SQLite's own structural check of operational.db. */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->r.db, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK) return op_status(sqlite3_errcode(db->r.db));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        if (t && strcmp(t, "ok") != 0) {
            snprintf(msg, sizeof msg, "operational.db: %s", t);
            cb(ctx, msg);
            (*n)++;
        }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? STRATA_OK : op_status(rc);
}

int op_r_docs_of_content(op_db *db, int64_t content_id, int limit, op_id_cb cb, void *ctx) {
    RSTMT(R_DOCS_OF_CONTENT);
    sqlite3_bind_int64(s, 1, content_id);
    sqlite3_bind_int(s, 2, limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        if (stop) return rdone(s, stop);
    }
    return rdone(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

/* ---- snapshots ---- */
struct op_snapshot { sqlite3 *db; uint64_t lsn; };

int op_snapshot_open(const char *path, int busy_timeout_ms, op_snapshot **out, char *err, size_t errlen) {
    *out = NULL;
    op_snapshot *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return STRATA_ENOMEM; }
    op_config cfg = { 1, busy_timeout_ms };
    conn c = { NULL, NULL, NULL, 0 };
    int rc = conn_open(&c, path, SQLITE_OPEN_READONLY, &cfg, err, errlen);
    s->db = c.db;
    if (rc) { op_snapshot_close(s); return rc; }
    /* BEGIN, then a read: the snapshot is fixed at that first read. */
    sqlite3_stmt *q = NULL;
    if ((rc = exec(s->db, "BEGIN", err, errlen)) != SQLITE_OK ||
        (rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(lsn), 0) FROM commit_log", -1, &q, NULL)) != SQLITE_OK ||
        (rc = sqlite3_step(q)) != SQLITE_ROW) {
        snprintf(err, errlen, "snapshot: %s", sqlite3_errmsg(s->db));
        sqlite3_finalize(q);
        op_snapshot_close(s);
        return op_status(rc) ? op_status(rc) : STRATA_ERROR;
    }
    s->lsn = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    *out = s;
    return STRATA_OK;
}

uint64_t op_snapshot_lsn(op_snapshot *s) { return s->lsn; }

int op_snapshot_segments(op_snapshot *s, op_seg_cb cb, void *ctx) {
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, committed_length, sealed FROM segments ORDER BY id", -1, &q, NULL);
    if (rc != SQLITE_OK) return op_status(rc);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint64_t)sqlite3_column_int64(q, 0), (uint64_t)sqlite3_column_int64(q, 1),
                      sqlite3_column_int(q, 2));
        if (stop) { sqlite3_finalize(q); return stop; }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? STRATA_OK : op_status(rc);
}

int op_snapshot_copy(op_snapshot *s, const char *dest, char *err, size_t errlen) {
    sqlite3 *d = NULL;
    int rc = sqlite3_open_v2(dest, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "creating %s: %s", dest, d ? sqlite3_errmsg(d) : sqlite3_errstr(rc));
        sqlite3_close(d);
        return op_status(rc);
    }
    /* The copy is written in one step from inside the snapshot's read transaction,
     * so it is exactly the snapshot, whatever commits meanwhile. */
    sqlite3_backup *b = sqlite3_backup_init(d, "main", s->db, "main");
    if (!b) {
        snprintf(err, errlen, "backup of operational.db: %s", sqlite3_errmsg(d));
        rc = sqlite3_extended_errcode(d);
        sqlite3_close(d);
        return op_status(rc) ? op_status(rc) : STRATA_ERROR;
    }
    rc = sqlite3_backup_step(b, -1);
    int frc = sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE) rc = frc;
    if (rc == SQLITE_OK) {
        /* A WAL-mode copy would leave its pages in dest-wal: fold them in. */
        rc = sqlite3_exec(d, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) snprintf(err, errlen, "backup of operational.db: %s", sqlite3_errmsg(d));
    int crc = sqlite3_close(d);
    if (rc == SQLITE_OK && crc != SQLITE_OK) { snprintf(err, errlen, "closing %s", dest); rc = crc; }
    return rc == SQLITE_OK ? STRATA_OK : (op_status(rc) ? op_status(rc) : STRATA_ERROR);
}

void op_snapshot_close(op_snapshot *s) {
    if (!s) return;
    if (s->db) {
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s);
}

int op_verify_file(const char *path, op_problem_cb cb, void *ctx, uint64_t *n, char *err, size_t errlen) {
    sqlite3 *d = NULL;
    /* immutable=1: read the file as it is, create no -wal or -shm beside it. */
    char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
    if (!uri) { snprintf(err, errlen, "out of memory"); return STRATA_ENOMEM; }
    int rc = sqlite3_open_v2(uri, &d, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    sqlite3_free(uri);
    sqlite3_stmt *q = NULL;
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(d, "PRAGMA integrity_check", -1, &q, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, d ? sqlite3_errmsg(d) : sqlite3_errstr(rc));
        sqlite3_close(d);
        return op_status(rc) ? op_status(rc) : STRATA_ERROR;
    }
    char msg[600];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        if (t && strcmp(t, "ok") != 0) {
            snprintf(msg, sizeof msg, "operational.db: %s", t);
            cb(ctx, msg);
            (*n)++;
        }
    }
    if (rc != SQLITE_DONE) {
        snprintf(msg, sizeof msg, "operational.db: %s", sqlite3_errmsg(d));
        cb(ctx, msg);
        (*n)++;
    }
    sqlite3_finalize(q);
    sqlite3_close(d);
    return STRATA_OK;
}

int op_snapshot_colls(op_snapshot *s, op_coll_cb cb, void *ctx) {
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, "SELECT name, dim, metric, dtype, m, ef_construction, created_at, "
                                       "log_length, next_label FROM collections ORDER BY name", -1, &q, NULL);
    if (rc != SQLITE_OK) return op_status(rc);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        op_coll c;
        memset(&c, 0, sizeof c);
        snprintf(c.name, sizeof c.name, "%s", (const char *)sqlite3_column_text(q, 0));
        c.dim = (uint32_t)sqlite3_column_int64(q, 1);
        c.metric = sqlite3_column_int(q, 2);
        c.dtype = sqlite3_column_int(q, 3);
        c.m = (uint32_t)sqlite3_column_int64(q, 4);
        c.ef_construction = (uint32_t)sqlite3_column_int64(q, 5);
        c.created_at = sqlite3_column_int64(q, 6);
        c.log_length = (uint64_t)sqlite3_column_int64(q, 7);
        c.next_label = (uint64_t)sqlite3_column_int64(q, 8);
        int stop = cb(ctx, &c);
        if (stop) { sqlite3_finalize(q); return stop; }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? STRATA_OK : op_status(rc);
}
