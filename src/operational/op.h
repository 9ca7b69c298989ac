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
#define OP_SCHEMA_VERSION 3

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

/* ---- document catalogue ----
 * A content row is one stored run (segment, offset, length) per distinct SHA-256,
 * with a count of the documents that reference it; a run with refs = 0 is dead
 * until compaction drops it (or a new put of the same content revives it). */
typedef struct op_content {
    int64_t id;                /* 0: none */
    uint8_t sha256[32];
    uint64_t segment, offset, length, raw_length;
    uint32_t checksum, dict_id;
    int codec;
    int64_t refs;
} op_content;

typedef struct op_doc_put {
    const void *id; size_t id_len;
    const char *metadata_json, *filename;
    op_content content;        /* content.segment == 0: reuse the existing content by sha256 */
} op_doc_put;

/* Apply a put: resolve or insert the content, move refs from the old version, write
 * the row. STRATA_ENOTFOUND if content.segment == 0 and no content has that hash. */
int op_w_doc_put(op_db *db, const op_doc_put *p, int64_t now, uint64_t lsn);
int op_w_doc_delete(op_db *db, const void *id, size_t id_len);         /* ENOTFOUND */
/* Record a pending last-access time (only moves forward). */
int op_w_doc_touch(op_db *db, const void *id, size_t id_len, int64_t at);
int op_w_dict_insert(op_db *db, int codec, const void *data, size_t len, int64_t now, uint32_t *id);
/* Compaction's catalogue switch, inside one writer transaction. */
int op_w_content_move(op_db *db, int64_t content_id, uint64_t old_segment, const op_content *to);
int op_w_content_drop_dead(op_db *db, uint64_t segment, uint64_t *n);
int op_w_segment_insert(op_db *db, uint64_t id, uint64_t length, int sealed, int64_t now);
int op_w_segment_delete(op_db *db, uint64_t id);
int op_w_checkpoint_truncate(op_db *db);

typedef int (*op_seg_cb)(void *ctx, uint64_t id, uint64_t committed_length, int sealed);
typedef void (*op_problem_cb)(void *ctx, const char *msg);

/* ---- vector catalogue (op_vec.c) ---- */
typedef struct op_coll {
    char name[72];
    uint32_t dim, m, ef_construction;
    int metric, dtype;
    int64_t created_at;
    uint64_t log_length, next_label;
} op_coll;
typedef int (*op_coll_cb)(void *ctx, const op_coll *c);
typedef int (*op_label_cb)(void *ctx, uint64_t label);
/* writer */
int op_w_coll_insert(op_db *db, const op_coll *c);                 /* EEXIST */
int op_w_coll_delete(op_db *db, const char *name);                 /* ENOTFOUND; its vectors go too */
int op_w_coll_set(op_db *db, const char *name, uint64_t log_length, uint64_t next_label);
int op_w_vec_label(op_db *db, const char *coll, const void *id, size_t len, uint64_t *label); /* ENOTFOUND */
int op_w_vec_upsert(op_db *db, const char *coll, const void *id, size_t len, uint64_t label, uint64_t lsn);
int op_w_vec_delete(op_db *db, const char *coll, const void *id, size_t len);                /* ENOTFOUND */
/* The (collection, label) pairs of a document id, across collections. */
typedef int (*op_doc_vec_cb)(void *ctx, const char *coll, uint64_t label);
int op_w_vecs_of_doc(op_db *db, const void *id, size_t len, op_doc_vec_cb cb, void *ctx);
/* reader */
int op_r_colls(op_db *db, op_coll_cb cb, void *ctx);
int op_r_coll(op_db *db, const char *name, op_coll *out);          /* ENOTFOUND */
int op_r_vec_label(op_db *db, const char *coll, const void *id, size_t len, uint64_t *label);
/* The id of a label: *id points into SQLite's row (valid until the next reader call);
 * copied by the callback. */
typedef int (*op_vec_id_cb)(void *ctx, const void *id, size_t len);
int op_r_vec_id(op_db *db, const char *coll, uint64_t label, op_vec_id_cb cb, void *ctx);   /* ENOTFOUND */
/* Labels of the collection's vectors whose document id is in [lo, hi) (hi NULL:
 * unbounded) and, with path, whose document metadata at path equals value. */
int op_r_vec_labels(op_db *db, const char *coll, const void *lo, size_t lo_len, const void *hi, size_t hi_len,
                    const char *path, const char *value, op_label_cb cb, void *ctx, char *err, size_t errlen);
/* Every (label, lsn) of a collection, for check. */
typedef int (*op_vec_row_cb)(void *ctx, uint64_t label, uint64_t lsn);
int op_r_vec_rows(op_db *db, const char *coll, op_vec_row_cb cb, void *ctx);
uint64_t op_r_vec_count(op_db *db, const char *coll);

/* ---- snapshots (backups) ----
 * A snapshot is a separate read-only connection holding one read transaction: the
 * catalogue it shows (LSN, segments and their committed lengths) and the database it
 * copies are the same instant, while writers go on (WAL). */
typedef struct op_snapshot op_snapshot;
int op_snapshot_open(const char *path, int busy_timeout_ms, op_snapshot **out, char *err, size_t errlen);
uint64_t op_snapshot_lsn(op_snapshot *s);
int op_snapshot_segments(op_snapshot *s, op_seg_cb cb, void *ctx);
int op_snapshot_colls(op_snapshot *s, op_coll_cb cb, void *ctx);
/* Copy the snapshot's database into a new file at dest (SQLite's online backup). */
int op_snapshot_copy(op_snapshot *s, const char *dest, char *err, size_t errlen);
void op_snapshot_close(op_snapshot *s);
/* SQLite's integrity_check of a database file opened read-only; problems go to cb. */
int op_verify_file(const char *path, op_problem_cb cb, void *ctx, uint64_t *n, char *err, size_t errlen);

/* ---- reader connection (caller holds the read lock) ----
 * Reads share one read transaction until op_r_release() ends it; call that after
 * every commit so later reads see it. */
void op_r_release(op_db *db);
typedef struct op_doc_row {
    op_content c;
    char *filename, *metadata_json;       /* malloc'd (NULL when not asked for) */
    uint64_t size;
    int64_t created_at, updated_at, last_access;
    uint64_t lsn;
} op_doc_row;
/* Location of a document's content (want_meta: also metadata, filename, times and
 * the content hash; without it only out->c's location fields are set). */
int op_r_doc_get(op_db *db, const void *id, size_t id_len, int want_meta, op_doc_row *out);
int op_r_content_by_sha(op_db *db, const uint8_t sha[32], op_content *out);
/* A batch of ids after `after` (exclusive; NULL: from the start), matching the
 * filter; cb gets each id. Returns how many ids were delivered through *n. */
typedef int (*op_id_cb)(void *ctx, const void *id, size_t len);
int op_r_doc_ids(op_db *db, const void *after, size_t after_len, const void *lo, size_t lo_len,
                 const void *hi, size_t hi_len, const char *path, const char *value, int limit,
                 op_id_cb cb, void *ctx, int *n, char *err, size_t errlen);
int op_r_segments(op_db *db, op_seg_cb cb, void *ctx);
typedef int (*op_dict_cb)(void *ctx, uint32_t id, int codec, const void *data, size_t len);
int op_r_dicts(op_db *db, op_dict_cb cb, void *ctx);
/* Every content row (for check and compaction), in (segment, offset) order. */
typedef int (*op_content_cb)(void *ctx, const op_content *c);
int op_r_contents(op_db *db, uint64_t segment /* 0: all */, op_content_cb cb, void *ctx);
/* Live bytes per segment (contents with refs > 0). */
typedef int (*op_live_cb)(void *ctx, uint64_t segment, uint64_t live_bytes);
int op_r_live_bytes(op_db *db, op_live_cb cb, void *ctx);
/* Documents whose content row is missing, and contents whose refs disagree with the
 * documents referencing them: one message per problem. */
int op_r_check(op_db *db, op_problem_cb cb, void *ctx, uint64_t *n);
/* Ids of up to `limit` documents using a content row (to name them in problems). */
int op_r_docs_of_content(op_db *db, int64_t content_id, int limit, op_id_cb cb, void *ctx);
/* A random sample of content rows (for dictionary training), at most `max`. */
int op_r_sample_contents(op_db *db, int max, op_content_cb cb, void *ctx);
int op_r_setting_get(op_db *db, const char *key, char **json, int64_t *updated_at);
int op_r_setting_list(op_db *db, strata_setting_cb cb, void *ctx);
int op_r_session_get(op_db *db, const char *id, strata_session **out);
int op_r_session_list(op_db *db, strata_session_cb cb, void *ctx);
typedef struct op_counts {
    uint64_t settings, sessions, documents, lsn, contents, raw_bytes, stored_bytes, segments;
} op_counts;
int op_r_counts(op_db *db, op_counts *out);
#endif
