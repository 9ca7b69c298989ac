/* op_vec.c — the vector catalogue: collections (parameters, the committed length of
 * each collection's log, the next label) and the (collection, document id) -> label
 * map. Every value is bound; statements are cached by op_keyed(). */
#include "operational/op_int.h"

#include <stdio.h>
#include <string.h>

#define COLL_COLS "name, dim, metric, dtype, m, ef_construction, created_at, log_length, next_label"

static const char W_COLL_INSERT[] =
    "INSERT INTO collections(" COLL_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char W_COLL_DELETE[] = "DELETE FROM collections WHERE name = ?1";
static const char W_COLL_SET[] = "UPDATE collections SET log_length = ?2, next_label = ?3 WHERE name = ?1";
static const char W_VEC_LABEL[] = "SELECT label FROM vectors WHERE collection = ?1 AND doc_id = ?2";
static const char W_VEC_UPSERT[] =
    "INSERT INTO vectors(collection, doc_id, label, lsn) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(collection, doc_id) DO UPDATE SET label = excluded.label, lsn = excluded.lsn";
static const char W_VEC_DELETE[] = "DELETE FROM vectors WHERE collection = ?1 AND doc_id = ?2";
static const char W_VECS_OF_DOC[] = "SELECT collection, label FROM vectors WHERE doc_id = ?1";
static const char R_COLLS[] = "SELECT " COLL_COLS " FROM collections ORDER BY name";
static const char R_COLL[] = "SELECT " COLL_COLS " FROM collections WHERE name = ?1";
static const char R_VEC_LABEL[] = "SELECT label FROM vectors WHERE collection = ?1 AND doc_id = ?2";
static const char R_VEC_ID[] = "SELECT doc_id FROM vectors WHERE collection = ?1 AND label = ?2";
static const char R_VEC_LABELS[] =
    "SELECT v.label FROM vectors v LEFT JOIN documents d ON d.id = v.doc_id "
    "WHERE v.collection = ?1 AND v.doc_id >= ?2 AND (?3 IS NULL OR v.doc_id < ?3) AND "
    "(?4 IS NULL OR json_extract(d.metadata_json, ?4) IS json_extract(?5, '$'))";
static const char R_VEC_ROWS[] = "SELECT label, lsn FROM vectors WHERE collection = ?1 ORDER BY label";
static const char R_VEC_COUNT[] = "SELECT count(*) FROM vectors WHERE collection = ?1";

#define KEYED(w, sql) sqlite3_stmt *s = op_keyed(db, w, sql); \
    if (!s) return op_keyed_status(db, w)

static void coll_row(sqlite3_stmt *s, op_coll *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(s, 0));
    c->dim = (uint32_t)sqlite3_column_int64(s, 1);
    c->metric = sqlite3_column_int(s, 2);
    c->dtype = sqlite3_column_int(s, 3);
    c->m = (uint32_t)sqlite3_column_int64(s, 4);
    c->ef_construction = (uint32_t)sqlite3_column_int64(s, 5);
    c->created_at = sqlite3_column_int64(s, 6);
    c->log_length = (uint64_t)sqlite3_column_int64(s, 7);
    c->next_label = (uint64_t)sqlite3_column_int64(s, 8);
}

int op_w_coll_insert(op_db *db, const op_coll *c) {
    KEYED(1, W_COLL_INSERT);
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->dim);
    sqlite3_bind_int(s, 3, c->metric);
    sqlite3_bind_int(s, 4, c->dtype);
    sqlite3_bind_int64(s, 5, c->m);
    sqlite3_bind_int64(s, 6, c->ef_construction);
    sqlite3_bind_int64(s, 7, c->created_at);
    sqlite3_bind_int64(s, 8, (int64_t)c->log_length);
    sqlite3_bind_int64(s, 9, (int64_t)c->next_label);
    return op_run(s);
}

int op_w_coll_delete(op_db *db, const char *name) {
    KEYED(1, W_COLL_DELETE);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = op_run(s);
    return rc == STRATA_OK && op_changes(db) == 0 ? STRATA_ENOTFOUND : rc;
}

int op_w_coll_set(op_db *db, const char *name, uint64_t log_length, uint64_t next_label) {
    KEYED(1, W_COLL_SET);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)log_length);
    sqlite3_bind_int64(s, 3, (int64_t)next_label);
    int rc = op_run(s);
    return rc == STRATA_OK && op_changes(db) == 0 ? STRATA_ENOTFOUND : rc;
}

static int label_of(sqlite3_stmt *s, const char *coll, const void *id, size_t len, uint64_t *label) {
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, id, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { *label = (uint64_t)sqlite3_column_int64(s, 0); return op_done(s, STRATA_OK); }
    return op_done(s, rc == SQLITE_DONE ? STRATA_ENOTFOUND : op_status(rc));
}

int op_w_vec_label(op_db *db, const char *coll, const void *id, size_t len, uint64_t *label) {
    KEYED(1, W_VEC_LABEL);
    return label_of(s, coll, id, len, label);
}

int op_w_vec_upsert(op_db *db, const char *coll, const void *id, size_t len, uint64_t label, uint64_t lsn) {
    KEYED(1, W_VEC_UPSERT);
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, id, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (int64_t)label);
    sqlite3_bind_int64(s, 4, (int64_t)lsn);
    return op_run(s);
}

int op_w_vec_delete(op_db *db, const char *coll, const void *id, size_t len) {
    KEYED(1, W_VEC_DELETE);
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, id, (int)len, SQLITE_STATIC);
    int rc = op_run(s);
    return rc == STRATA_OK && op_changes(db) == 0 ? STRATA_ENOTFOUND : rc;
}

int op_w_vecs_of_doc(op_db *db, const void *id, size_t len, op_doc_vec_cb cb, void *ctx) {
    KEYED(1, W_VECS_OF_DOC);
    sqlite3_bind_blob(s, 1, id, (int)len, SQLITE_STATIC);
    int rc;
    /* Collect first: the callback writes through the same connection. */
    struct pair { char coll[72]; uint64_t label; } buf[16];
    int n = 0, more = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == 16) { more = 1; break; }
        snprintf(buf[n].coll, sizeof buf[n].coll, "%s", (const char *)sqlite3_column_text(s, 0));
        buf[n++].label = (uint64_t)sqlite3_column_int64(s, 1);
    }
    rc = op_done(s, rc == SQLITE_DONE || rc == SQLITE_ROW ? STRATA_OK : op_status(rc));
    for (int i = 0; i < n && !rc; i++) rc = cb(ctx, buf[i].coll, buf[i].label);
    /* More than 16 collections: the callback deleted the rows it was given, so the
     * next round sees the rest. */
    return rc == STRATA_OK && more ? op_w_vecs_of_doc(db, id, len, cb, ctx) : rc;
}

int op_r_colls(op_db *db, op_coll_cb cb, void *ctx) {
    KEYED(0, R_COLLS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        op_coll c;
        coll_row(s, &c);
        int stop = cb(ctx, &c);
        if (stop) return op_done(s, stop);
    }
    return op_done(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

int op_r_coll(op_db *db, const char *name, op_coll *out) {
    KEYED(0, R_COLL);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { coll_row(s, out); return op_done(s, STRATA_OK); }
    return op_done(s, rc == SQLITE_DONE ? STRATA_ENOTFOUND : op_status(rc));
}

int op_r_vec_label(op_db *db, const char *coll, const void *id, size_t len, uint64_t *label) {
    KEYED(0, R_VEC_LABEL);
    return label_of(s, coll, id, len, label);
}

int op_r_vec_id(op_db *db, const char *coll, uint64_t label, op_vec_id_cb cb, void *ctx) {
    KEYED(0, R_VEC_ID);
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)label);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return op_done(s, cb(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0)));
    return op_done(s, rc == SQLITE_DONE ? STRATA_ENOTFOUND : op_status(rc));
}

int op_r_vec_labels(op_db *db, const char *coll, const void *lo, size_t lo_len, const void *hi, size_t hi_len,
                    const char *path, const char *value, op_label_cb cb, void *ctx, char *err, size_t errlen) {
    KEYED(0, R_VEC_LABELS);
    static const char empty = 0;
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lo ? lo : &empty, lo ? (int)lo_len : 0, SQLITE_STATIC);
    if (hi) sqlite3_bind_blob(s, 3, hi, (int)hi_len, SQLITE_STATIC);
    if (path) {
        sqlite3_bind_text(s, 4, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, value, -1, SQLITE_STATIC);
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint64_t)sqlite3_column_int64(s, 0));
        if (stop) { sqlite3_clear_bindings(s); return op_done(s, stop); }
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(sqlite3_db_handle(s)));
        sqlite3_clear_bindings(s);
        return op_done(s, (rc & 0xff) == SQLITE_ERROR ? STRATA_EINVAL : op_status(rc));
    }
    sqlite3_clear_bindings(s);
    return op_done(s, STRATA_OK);
}

int op_r_vec_rows(op_db *db, const char *coll, op_vec_row_cb cb, void *ctx) {
    KEYED(0, R_VEC_ROWS);
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int stop = cb(ctx, (uint64_t)sqlite3_column_int64(s, 0), (uint64_t)sqlite3_column_int64(s, 1));
        if (stop) return op_done(s, stop);
    }
    return op_done(s, rc == SQLITE_DONE ? STRATA_OK : op_status(rc));
}

uint64_t op_r_vec_count(op_db *db, const char *coll) {
    sqlite3_stmt *s = op_keyed(db, 0, R_VEC_COUNT);
    if (!s) return 0;
    sqlite3_bind_text(s, 1, coll, -1, SQLITE_STATIC);
    uint64_t n = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    op_done(s, 0);
    return n;
}
