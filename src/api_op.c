/* api_op.c — the public settings, sessions and stats calls: validate at the boundary,
 * buffer writes through the commit protocol (store.c), read through the reader
 * connection. */
#include "internal.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Build an op from copies of key and val; on allocation failure report ENOMEM. */
static int write_op(strata *db, strata_txn *txn, txop_kind kind, const char *key, const char *val,
                    int64_t num, uint64_t *result) {
    txop op = { kind, dup_or_null(key), dup_or_null(val), num, 0, NULL, NULL };
    if ((key && !op.key) || (val && !op.val)) {
        free(op.key);
        free(op.val);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    return strata__write(db, txn, op, result);
}

/* ---- settings ---- */
int strata_setting_set(strata *db, strata_txn *txn, const char *key, const char *json) {
    if (!db) return STRATA_EINVAL;
    int rc;
    if ((rc = strata__check_key(db, "setting key", key)) ||
        (rc = strata__check_json(db, "setting value", json, 0)))
        return rc;
    return write_op(db, txn, TXOP_SETTING_SET, key, json, 0, NULL);
}

int strata_setting_delete(strata *db, strata_txn *txn, const char *key) {
    if (!db) return STRATA_EINVAL;
    int rc = strata__check_key(db, "setting key", key);
    return rc ? rc : write_op(db, txn, TXOP_SETTING_DEL, key, NULL, 0, NULL);
}

int strata_setting_get(strata *db, const char *key, char **json_out, int64_t *updated_at_ms) {
    if (!db) return STRATA_EINVAL;
    if (!json_out) return strata__err(db, STRATA_EINVAL, "json_out is NULL");
    *json_out = NULL;
    int rc = strata__check_key(db, "setting key", key);
    if (rc) return rc;
    pthread_mutex_lock(&db->read_mu);
    rc = op_r_setting_get(db->op, key, json_out, updated_at_ms);
    if (rc == STRATA_ENOTFOUND) strata__err(db, rc, "setting '%s' not found", key);
    else if (rc) strata__err(db, rc, "setting get: %s", op_errmsg(db->op, 0));
    pthread_mutex_unlock(&db->read_mu);
    return rc;
}

int strata_setting_list(strata *db, strata_setting_cb cb, void *ctx) {
    if (!db) return STRATA_EINVAL;
    if (!cb) return strata__err(db, STRATA_EINVAL, "callback is NULL");
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_setting_list(db->op, cb, ctx);
    if (rc < 0) strata__err(db, rc, "setting list: %s", op_errmsg(db->op, 0));
    pthread_mutex_unlock(&db->read_mu);
    return rc;
}

/* ---- sessions ---- */
static int check_session(strata *db, const char *id, const char *data, int64_t ttl_s) {
    int rc;
    if (id && (rc = strata__check_key(db, "session id", id))) return rc;
    if (data && (rc = strata__check_json(db, "session data", data, 1))) return rc;
    if (ttl_s < 0) return strata__err(db, STRATA_EINVAL, "session ttl is negative");
    if (ttl_s > INT64_MAX / 1000 / 2) return strata__err(db, STRATA_EINVAL, "session ttl is too large");
    return STRATA_OK;
}

int strata_session_create(strata *db, strata_txn *txn, const char *id, const char *data, int64_t ttl_s,
                          char **id_out) {
    if (!db) return STRATA_EINVAL;
    if (id_out) *id_out = NULL;
    int rc = check_session(db, id, data, ttl_s);
    if (rc) return rc;
    char gen[STRATA_SESSION_ID_RANDOM_LEN + 1];
    if (!id) {
        uint8_t raw[STRATA_SESSION_ID_RANDOM_LEN / 2];
        int e = su_random(raw, sizeof raw);
        if (e) return strata__err(db, STRATA_EIO, "getrandom failed");
        su_hex(raw, sizeof raw, gen);
        id = gen;
    }
    char *copy = NULL;
    if (id_out && !(copy = strdup(id))) return strata__err(db, STRATA_ENOMEM, "out of memory");
    rc = write_op(db, txn, TXOP_SESSION_CREATE, id, data ? data : "{}", ttl_s, NULL);
    if (rc) free(copy);
    else if (id_out) *id_out = copy;
    return rc;
}

int strata_session_put(strata *db, strata_txn *txn, const char *id, const char *data, int64_t ttl_s) {
    if (!db) return STRATA_EINVAL;
    if (!id) return strata__err(db, STRATA_EINVAL, "session id is NULL");
    int rc = check_session(db, id, data, ttl_s);
    return rc ? rc : write_op(db, txn, TXOP_SESSION_PUT, id, data ? data : "{}", ttl_s, NULL);
}

int strata_session_touch(strata *db, strata_txn *txn, const char *id) {
    if (!db) return STRATA_EINVAL;
    int rc = strata__check_key(db, "session id", id);
    return rc ? rc : write_op(db, txn, TXOP_SESSION_TOUCH, id, NULL, 0, NULL);
}

int strata_session_delete(strata *db, strata_txn *txn, const char *id) {
    if (!db) return STRATA_EINVAL;
    int rc = strata__check_key(db, "session id", id);
    return rc ? rc : write_op(db, txn, TXOP_SESSION_DEL, id, NULL, 0, NULL);
}

int strata_session_expire(strata *db, int64_t idle_ttl_s, uint64_t *n_out) {
    if (!db) return STRATA_EINVAL;
    if (n_out) *n_out = 0;
    if (idle_ttl_s < 0 || idle_ttl_s > INT64_MAX / 1000 / 2)
        return strata__err(db, STRATA_EINVAL, "idle ttl out of range");
    uint64_t n = 0;
    int rc = write_op(db, NULL, TXOP_SESSION_EXPIRE, NULL, NULL, idle_ttl_s, &n);
    if (!rc && n_out) *n_out = n;
    return rc;
}

int strata_session_get(strata *db, const char *id, strata_session **out) {
    if (!db) return STRATA_EINVAL;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    int rc = strata__check_key(db, "session id", id);
    if (rc) return rc;
    pthread_mutex_lock(&db->read_mu);
    rc = op_r_session_get(db->op, id, out);
    if (rc == STRATA_ENOTFOUND) strata__err(db, rc, "session '%s' not found", id);
    else if (rc) strata__err(db, rc, "session get: %s", op_errmsg(db->op, 0));
    pthread_mutex_unlock(&db->read_mu);
    return rc;
}

void strata_session_free(strata_session *s) {
    if (!s) return;
    free(s->id);
    free(s->data);
    free(s);
}

int strata_session_list(strata *db, strata_session_cb cb, void *ctx) {
    if (!db) return STRATA_EINVAL;
    if (!cb) return strata__err(db, STRATA_EINVAL, "callback is NULL");
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_session_list(db->op, cb, ctx);
    if (rc < 0) strata__err(db, rc, "session list: %s", op_errmsg(db->op, 0));
    pthread_mutex_unlock(&db->read_mu);
    return rc;
}

/* ---- stats ---- */
int strata_stats_get(strata *db, strata_stats *out) {
    if (!db) return STRATA_EINVAL;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    memset(out, 0, sizeof *out);
    op_counts c;
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_counts(db->op, &c);
    if (rc) strata__err(db, rc, "stats: %s", op_errmsg(db->op, 0));
    pthread_mutex_unlock(&db->read_mu);
    if (rc) return rc;
    out->format_version = STRATA_FORMAT_VERSION;
    out->lsn = c.lsn;
    out->settings = c.settings;
    out->sessions = c.sessions;
    out->documents = c.documents;
    out->contents = c.contents;
    out->doc_raw_bytes = c.raw_bytes;
    out->doc_stored_bytes = c.stored_bytes;
    out->segments = c.segments;
    pthread_mutex_lock(&db->commit_mu);
    out->commits = db->commits;
    out->group_commits = db->group_commits;
    pthread_mutex_unlock(&db->commit_mu);
    size_t n = strlen(db->dir);
    char *p = malloc(n + 32);
    if (!p) return strata__err(db, STRATA_ENOMEM, "out of memory");
    static const char *const op_files[] = { "operational.db", "operational.db-wal", "operational.db-shm" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, n + 32, "%s/%s", db->dir, op_files[i]);
        out->operational_bytes += su_tree_bytes(p);
    }
    snprintf(p, n + 32, "%s/docs", db->dir);
    out->segment_bytes = su_tree_bytes(p);
    free(p);
    out->total_bytes = su_tree_bytes(db->dir);
    return STRATA_OK;
}

int strata_json_valid(const char *s, size_t len) { return su_json_valid(s, len); }
