/* store_cmds.c — the STRATA.* commands for documents, settings, sessions and
 * statistics (doc/format/resp.md): each a thin translation of one public strata_*
 * call. Vectors are in vec_cmds.c; the slow commands (SQL, backups), which run off
 * the event loop, in job_cmds.c. */
#include "server/server_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT (&c->out)
#define DB (c->srv->db)


void srv_cmd_docput(client *c, int argc, char **argv, size_t *lens) {
    strata_doc_put_opts o = { 0 };
    char *meta = NULL, *fname = NULL;
    int j = 3;
    if (argc > 3 && !srv_eq(argv[3], lens[3], "meta") && !srv_eq(argv[3], lens[3], "filename")) {
        if (!(meta = srv_arg_str(c, argv[3], lens[3]))) return;
        j = 4;
    }
    for (; j < argc; j += 2) {
        char **slot = srv_eq(argv[j], lens[j], "meta") ? &meta : srv_eq(argv[j], lens[j], "filename") ? &fname : NULL;
        if (!slot || j + 1 >= argc) {
            free(meta);
            free(fname);
            return srv_syntax_error(c);
        }
        free(*slot);
        if (!(*slot = srv_arg_str(c, argv[j + 1], lens[j + 1]))) {
            free(meta);
            free(fname);
            return;
        }
    }
    o.metadata_json = meta;
    o.filename = fname;
    strata_txn *t = NULL;
    uint64_t lsn = 0;
    int rc = strata_txn_begin(DB, &t);
    if (!rc && (rc = strata_doc_put(DB, t, argv[1], lens[1], argv[2], lens[2], &o)) != STRATA_OK) strata_txn_abort(t);
    else if (!rc) rc = strata_txn_commit(t, &lsn);
    free(meta);
    free(fname);
    if (rc) return srv_reply_fail(c, rc);
    rb_int(OUT, (long long)lsn);
}

void srv_cmd_docget(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    void *d = NULL;
    size_t n = 0;
    int rc = strata_doc_get(DB, argv[1], lens[1], &d, &n);
    if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
    else if (rc) srv_reply_fail(c, rc);
    else rb_bulk(OUT, d, n);
    strata_free(d);
}

void srv_cmd_docdel(client *c, int argc, char **argv, size_t *lens) {
    long long n = 0;
    for (int j = 1; j < argc; j++) {
        int rc = strata_doc_delete(DB, NULL, argv[j], lens[j]);
        if (rc == STRATA_OK) n++;
        else if (rc != STRATA_ENOTFOUND) return srv_reply_fail(c, rc);
    }
    rb_int(OUT, n);
}

void srv_cmd_docexists(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    int ex = 0;
    int rc = strata_doc_exists(DB, argv[1], lens[1], &ex);
    if (rc) return srv_reply_fail(c, rc);
    rb_int(OUT, ex);
}

static void kv_str(client *c, const char *k, const char *v) {
    rb_cstr(OUT, k);
    if (v) rb_cstr(OUT, v);
    else rb_null(OUT, c->proto);
}
static void kv_int(client *c, const char *k, long long v) {
    rb_cstr(OUT, k);
    rb_int(OUT, v);
}

void srv_cmd_docmeta(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    strata_doc_info *i = NULL;
    int rc = strata_doc_stat(DB, argv[1], lens[1], &i);
    if (rc == STRATA_ENOTFOUND) return rb_null(OUT, c->proto);
    if (rc) return srv_reply_fail(c, rc);
    char hex[65];
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", i->content_hash[k]);
    rb_map(OUT, 13, c->proto);
    rb_cstr(OUT, "id");
    rb_bulk(OUT, i->id, i->id_len);
    kv_str(c, "filename", i->filename);
    kv_int(c, "size", (long long)i->size);
    kv_int(c, "stored_size", (long long)i->stored_size);
    kv_str(c, "codec", i->codec);
    kv_str(c, "tier", i->tier);
    kv_int(c, "segment", (long long)i->segment);
    kv_str(c, "sha256", hex);
    kv_int(c, "created_at_ms", i->created_at_ms);
    kv_int(c, "updated_at_ms", i->updated_at_ms);
    kv_int(c, "last_access_ms", i->last_access_ms);
    kv_int(c, "lsn", (long long)i->lsn);
    kv_str(c, "metadata", i->metadata_json ? i->metadata_json : "{}");
    strata_doc_info_free(i);
}

void srv_cmd_doclist(client *c, int argc, char **argv, size_t *lens) {
    strata_doc_filter f = { 0 };
    char *path = NULL, *value = NULL;
    for (int j = 1; j < argc; j++) {
        if (srv_eq(argv[j], lens[j], "prefix") && j + 1 < argc) {
            f.prefix = argv[j + 1];
            f.prefix_len = lens[j + 1];
            j++;
        } else if (srv_eq(argv[j], lens[j], "where") && j + 2 < argc) {
            free(path);
            free(value);
            path = srv_arg_str(c, argv[j + 1], lens[j + 1]);
            value = path ? srv_arg_str(c, argv[j + 2], lens[j + 2]) : NULL;
            if (!value) { free(path); return; }
            j += 2;
        } else {
            free(path);
            free(value);
            return srv_syntax_error(c);
        }
    }
    f.meta_path = path;
    f.meta_value_json = value;
    strata_doc_cursor *cur = NULL;
    int rc = strata_doc_cursor_open(DB, &f, &cur);
    rbuf b = { 0 };
    size_t n = 0;
    while (rc == STRATA_OK) {
        const void *id;
        size_t len;
        if ((rc = strata_doc_cursor_next(cur, &id, &len)) != STRATA_OK || !id) break;
        rb_bulk(&b, id, len);
        n++;
    }
    strata_doc_cursor_close(cur);
    free(path);
    free(value);
    srv_reply_list(c, rc, &b, n);
}

void srv_cmd_stats(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    strata_stats st;
    int rc = strata_stats_get(DB, &st);
    if (rc) return srv_reply_fail(c, rc);
    rb_map(OUT, 14, c->proto);
    kv_int(c, "format_version", st.format_version);
    kv_int(c, "lsn", (long long)st.lsn);
    kv_int(c, "commits", (long long)st.commits);
    kv_int(c, "group_commits", (long long)st.group_commits);
    kv_int(c, "settings", (long long)st.settings);
    kv_int(c, "sessions", (long long)st.sessions);
    kv_int(c, "documents", (long long)st.documents);
    kv_int(c, "contents", (long long)st.contents);
    kv_int(c, "doc_raw_bytes", (long long)st.doc_raw_bytes);
    kv_int(c, "doc_stored_bytes", (long long)st.doc_stored_bytes);
    kv_int(c, "segments", (long long)st.segments);
    kv_int(c, "segment_bytes", (long long)st.segment_bytes);
    kv_int(c, "operational_bytes", (long long)st.operational_bytes);
    kv_int(c, "total_bytes", (long long)st.total_bytes);
}

/* STRATA.SETTING GET key [WITHTIME] | SET key json | DEL key | LIST */
typedef struct listctx { client *c; rbuf b; size_t n; } listctx;
static int setting_row(void *ctx, const char *key, const char *json, int64_t updated) {
    listctx *l = ctx;
    rb_array(&l->b, 3);
    rb_cstr(&l->b, key);
    rb_cstr(&l->b, json);
    rb_int(&l->b, updated);
    l->n++;
    return l->b.oom ? STRATA_ENOMEM : 0;
}

void srv_cmd_setting(client *c, int argc, char **argv, size_t *lens) {
    char *sub = argv[1];
    size_t sl = lens[1];
    if (srv_eq(sub, sl, "list") && argc == 2) {
        listctx l = { c, { 0 }, 0 };
        int rc = strata_setting_list(DB, setting_row, &l);
        return srv_reply_list(c, rc, &l.b, l.n);
    }
    int ok_arity = (srv_eq(sub, sl, "get") && (argc == 3 || (argc == 4 && srv_eq(argv[3], lens[3], "withtime")))) ||
                   (srv_eq(sub, sl, "set") && argc == 4) || (srv_eq(sub, sl, "del") && argc == 3);
    if (!ok_arity) return srv_sub_error(c, "strata.setting", "get set del list", sub, sl);
    char *key = srv_arg_str(c, argv[2], lens[2]);
    if (!key) return;
    int rc;
    if (srv_eq(sub, sl, "get")) {
        char *json = NULL;
        int64_t upd = 0;
        rc = strata_setting_get(DB, key, &json, &upd);
        if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
        else if (rc) srv_reply_fail(c, rc);
        else if (argc == 4) {
            rb_array(OUT, 2);
            rb_cstr(OUT, json);
            rb_int(OUT, upd);
        } else {
            rb_cstr(OUT, json);
        }
        strata_free(json);
    } else if (srv_eq(sub, sl, "set")) {
        char *json = srv_arg_str(c, argv[3], lens[3]);
        if (json) {
            rc = strata_setting_set(DB, NULL, key, json);
            if (rc) srv_reply_fail(c, rc);
            else rb_simple(OUT, "OK");
            free(json);
        }
    } else {
        rc = strata_setting_delete(DB, NULL, key);
        if (rc == STRATA_OK || rc == STRATA_ENOTFOUND) rb_int(OUT, rc == STRATA_OK);
        else srv_reply_fail(c, rc);
    }
    free(key);
}

/* STRATA.SESSION NEW [ID id] [DATA json] [TTL s] | GET id | PUT id json [TTL s] |
 *                TOUCH id | DEL id | LIST | EXPIRE [IDLE s] */
static void session_map(rbuf *b, const strata_session *s, int proto) {
    rb_map(b, 5, proto);
    rb_cstr(b, "id");
    rb_cstr(b, s->id);
    rb_cstr(b, "data");
    rb_cstr(b, s->data);
    rb_cstr(b, "created_at_ms");
    rb_int(b, s->created_at_ms);
    rb_cstr(b, "last_accessed_ms");
    rb_int(b, s->last_accessed_ms);
    rb_cstr(b, "ttl_s");
    rb_int(b, s->ttl_s);
}

static int session_row(void *ctx, const strata_session *s) {
    listctx *l = ctx;
    session_map(&l->b, s, l->c->proto);
    l->n++;
    return l->b.oom ? STRATA_ENOMEM : 0;
}

static int ttl_arg(client *c, char *s, size_t n, int64_t *out) {
    long long v;
    if (!srv_arg_ll(c, s, n, &v)) return 0;
    if (v < 0 || v > INT64_MAX / 1000) {
        rb_error(OUT, "ERR TTL must be 0..%lld seconds", (long long)(INT64_MAX / 1000));
        return 0;
    }
    *out = v;
    return 1;
}

void srv_cmd_session(client *c, int argc, char **argv, size_t *lens) {
    char *sub = argv[1];
    size_t sl = lens[1];
    int rc;
    if (srv_eq(sub, sl, "new")) {
        char *id = NULL, *data = NULL;
        int64_t ttl = 0;
        for (int j = 2; j < argc; j += 2) {
            if (j + 1 >= argc) goto new_syntax;
            if (srv_eq(argv[j], lens[j], "id")) {
                free(id);
                if (!(id = srv_arg_str(c, argv[j + 1], lens[j + 1]))) goto new_done;
            } else if (srv_eq(argv[j], lens[j], "data")) {
                free(data);
                if (!(data = srv_arg_str(c, argv[j + 1], lens[j + 1]))) goto new_done;
            } else if (srv_eq(argv[j], lens[j], "ttl")) {
                if (!ttl_arg(c, argv[j + 1], lens[j + 1], &ttl)) goto new_done;
            } else {
                goto new_syntax;
            }
        }
        char *out = NULL;
        rc = strata_session_create(DB, NULL, id, data, ttl, &out);
        if (rc) srv_reply_fail(c, rc);
        else rb_cstr(OUT, out);
        strata_free(out);
        goto new_done;
    new_syntax:
        srv_syntax_error(c);
    new_done:
        free(id);
        free(data);
        return;
    }
    if (srv_eq(sub, sl, "list") && argc == 2) {
        listctx l = { c, { 0 }, 0 };
        rc = strata_session_list(DB, session_row, &l);
        return srv_reply_list(c, rc, &l.b, l.n);
    }
    if (srv_eq(sub, sl, "expire") && (argc == 2 || (argc == 4 && srv_eq(argv[2], lens[2], "idle")))) {
        int64_t idle = 0;
        if (argc == 4 && !ttl_arg(c, argv[3], lens[3], &idle)) return;
        uint64_t n = 0;
        rc = strata_session_expire(DB, idle, &n);
        if (rc) return srv_reply_fail(c, rc);
        return rb_int(OUT, (long long)n);
    }
    int put = srv_eq(sub, sl, "put");
    int ok = ((srv_eq(sub, sl, "get") || srv_eq(sub, sl, "touch") || srv_eq(sub, sl, "del")) && argc == 3) ||
             (put && (argc == 4 || (argc == 6 && srv_eq(argv[4], lens[4], "ttl"))));
    if (!ok) return srv_sub_error(c, "strata.session", "new get put touch del list expire", sub, sl);
    char *id = srv_arg_str(c, argv[2], lens[2]);
    if (!id) return;
    if (srv_eq(sub, sl, "get")) {
        strata_session *s = NULL;
        rc = strata_session_get(DB, id, &s);
        if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
        else if (rc) srv_reply_fail(c, rc);
        else session_map(OUT, s, c->proto);
        strata_session_free(s);
    } else if (put) {
        int64_t ttl = 0;
        char *data = NULL;
        if ((argc == 4 || ttl_arg(c, argv[5], lens[5], &ttl)) && (data = srv_arg_str(c, argv[3], lens[3])) != NULL) {
            rc = strata_session_put(DB, NULL, id, data, ttl);
            if (rc) srv_reply_fail(c, rc);
            else rb_simple(OUT, "OK");
        }
        free(data);
    } else {
        rc = srv_eq(sub, sl, "touch") ? strata_session_touch(DB, NULL, id) : strata_session_delete(DB, NULL, id);
        if (rc == STRATA_OK || rc == STRATA_ENOTFOUND) rb_int(OUT, rc == STRATA_OK);
        else srv_reply_fail(c, rc);
    }
    free(id);
}

/* STRATA.METRIC table json: one row of an ADR table (strata_metric_record_json).
 * Recording never waits for the disk; the row reaches analytics.duckdb with the
 * flusher. STRATA.METRIC FLUSH waits for it, on the worker (jobs.c). */
static void flush_run(srv_job *j) {
    int rc = strata_metric_flush(j->srv->db);
    if (rc) {
        const char *m = strata_errmsg(j->srv->db);
        rb_error(&j->out, "ERR %s", m && *m ? m : strata_errstr(rc));
    } else {
        rb_simple(&j->out, "OK");
    }
}

void srv_cmd_metric(client *c, int argc, char **argv, size_t *lens) {
    if (argc == 2 && srv_eq(argv[1], lens[1], "flush")) return srv_job_submit(c, flush_run, NULL, NULL);
    if (argc != 3) return srv_syntax_error(c);
    char *table = srv_arg_str(c, argv[1], lens[1]), *json = table ? srv_arg_str(c, argv[2], lens[2]) : NULL;
    if (json) {
        int rc = strata_metric_record_json(DB, table, json);
        if (rc) srv_reply_fail(c, rc);
        else rb_simple(OUT, "OK");
    }
    free(table);
    free(json);
}
