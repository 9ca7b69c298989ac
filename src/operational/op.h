/* op.h — the operational store's contract with store.c: SQLite in WAL mode holding
 * settings, sessions, the document catalogue and the commit log.
 *
 * Two connections: the writer, used only by store.c's commit leader, and the reader,
 * used by read calls; WAL lets them run at once. op.c takes no locks: store.c holds
 * the write lock around every op_w_* call and the read lock around every op_r_* call.
 * Functions return STRATA_* codes; op_errmsg() gives SQLite's message for the last
 * failure on the named connection. */
#ifndef STRATA_OP_H
#define STRATA_OP_H
#include <stdint.h>
#include <stddef.h>
#include "strata.h"

typedef struct sqlite3 sqlite3;
typedef struct op_db op_db;

/* Schema version this build writes (PRAGMA user_version). */
#define OP_SCHEMA_VERSION 2

typedef struct op_config {
    int sync_full;        /* synchronous=FULL (1) or NORMAL (0) */
    int busy_timeout_ms;
} op_config;

/* Open (creating if needed) and migrate the database at path. On failure *out is
 * NULL and err holds the reason. */
int op_open(const char *path, const op_config *cfg, op_db **out, char *err, size_t errlen);
void op_close(op_db *db);
const char *op_errmsg(op_db *db, int writer);

/* Migrations, exposed for tests: bring a raw connection from its user_version to
 * `target` (<= OP_SCHEMA_VERSION), one step per version, each step in its own
 * transaction. */
int op_migrate(sqlite3 *conn, int target, char *err, size_t errlen);
/* Map a SQLite result code to a STRATA_* status. */
int op_status(int sqlite_rc);

/* ---- writer connection (caller holds the write lock) ---- */
int op_w_begin(op_db *db);           /* BEGIN IMMEDIATE */
int op_w_commit(op_db *db);          /* COMMIT: the durable commit point */
void op_w_rollback(op_db *db);
int op_w_savepoint(op_db *db);
int op_w_release(op_db *db);
void op_w_rollback_savepoint(op_db *db);
/* Append a commit-log row; *lsn receives its LSN (monotonic, never reused). */
int op_w_log_commit(op_db *db, int64_t now, uint32_t nops, uint64_t *lsn);
int op_w_setting_set(op_db *db, const char *key, const char *json, int64_t now);
int op_w_setting_delete(op_db *db, const char *key);                  /* ENOTFOUND */
int op_w_session_insert(op_db *db, const char *id, const char *data, int64_t ttl_s, int64_t now); /* EEXIST */
int op_w_session_put(op_db *db, const char *id, const char *data, int64_t ttl_s, int64_t now);
int op_w_session_touch(op_db *db, const char *id, int64_t now);       /* ENOTFOUND */
int op_w_session_delete(op_db *db, const char *id);                   /* ENOTFOUND */
int op_w_session_expire(op_db *db, int64_t now, int64_t idle_ttl_s, uint64_t *n);

/* ---- reader connection (caller holds the read lock) ---- */
int op_r_setting_get(op_db *db, const char *key, char **json, int64_t *updated_at);
int op_r_setting_list(op_db *db, strata_setting_cb cb, void *ctx);
int op_r_session_get(op_db *db, const char *id, strata_session **out);
int op_r_session_list(op_db *db, strata_session_cb cb, void *ctx);
typedef struct op_counts { uint64_t settings, sessions, documents, lsn; } op_counts;
int op_r_counts(op_db *db, op_counts *out);
#endif
