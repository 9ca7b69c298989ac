/* job_cmds.c — STRATA.SQL and STRATA.BACKUP (doc/format/resp.md). SQL and the
 * backup commands that read, write or lock whole backup folders (CREATE, VERIFY,
 * PRUNE) run as heavy jobs on the server's workers (jobs.c: at most SRV_HEAVY_MAX at
 * once), so a long query or a large backup neither stalls the other clients nor takes
 * every worker; LIST answers at once.
 *
 * SQL from a client is untrusted (STRATA_SQL_UNTRUSTED): one read-only SELECT, with
 * DuckDB's access to files turned off. A backup destination other than the store's
 * DIR/backups is accepted only over the unix socket, whose client is the store's own
 * user: a network client never chooses where the server writes (Redis's CONFIG SET
 * dir lesson). */
#include "server/server_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT (&c->out)
#define DB (c->srv->db)
#define SQL_REPLY_MAX ((size_t)256 << 20) /* a bigger result is refused: add a LIMIT */

static void reply_job_error(srv_job *j, const char *msg, int rc) {
    rb_error(&j->out, "ERR %s", msg && *msg ? msg : strata_errstr(rc));
}

/* ---- STRATA.SQL query [param ...] ----
 * Reply: [column names], [column types], then one array per row. Types are null,
 * int, double, text, bool, timestamp (ms since the epoch) or other; values are
 * integers, doubles (RESP3; RESP2: bulk text), bulk text, booleans (RESP2: 0/1) and
 * nulls. The parameters bind $1, $2, ... as literals DuckDB converts. */
typedef struct sql_arg {
    char *sql;
    size_t n;
    strata_param *params;
    char *texts[]; /* the parameters' text, n of them */
} sql_arg;

static void sql_free(void *p) {
    sql_arg *a = p;
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free(a->texts[i]);
    free(a->params);
    free(a->sql);
    free(a);
}

/* One value of the current row, or TOO_BIG when it
 * would take the reply past SQL_REPLY_MAX: checked before the copy. */
#define TOO_BIG 1 /* positive: never a STRATA_* status */
static int put_value(rbuf *b, strata_cursor *cur, size_t col, int proto) {
    strata_value v;
    int rc = strata_cursor_value(cur, col, &v);
    if (rc) return rc;
    if (b->len + 64 + ((v.type == STRATA_TYPE_TEXT || v.type == STRATA_TYPE_OTHER) ? v.len : 0) > SQL_REPLY_MAX)
        return TOO_BIG;
    switch (v.type) {
    case STRATA_TYPE_NULL: rb_null(b, proto); break;
    case STRATA_TYPE_INT: case STRATA_TYPE_TIMESTAMP: rb_int(b, v.i); break;
    case STRATA_TYPE_DOUBLE: rb_double(b, v.d, proto); break;
    case STRATA_TYPE_BOOL: rb_bool(b, (int)v.i, proto); break;
    default: rb_bulk(b, v.s, v.len); break;
    }
    return STRATA_OK;
}

static void sql_run(srv_job *j) {
    sql_arg *a = j->arg;
    strata_cursor *cur = NULL;
    int rc = strata_sql(j->srv->db, a->sql, a->params, a->n, STRATA_SQL_UNTRUSTED, &cur);
    if (rc) return reply_job_error(j, strata_errmsg(j->srv->db), rc);
    size_t cols = strata_cursor_column_count(cur), rows = 0;
    rbuf body = { 0 };
    for (;;) {
        int has = 0;
        if ((rc = strata_cursor_next(cur, &has)) != STRATA_OK) {
            reply_job_error(j, strata_errmsg(j->srv->db), rc);
            goto out;
        }
        if (!has) break;
        rb_array(&body, cols);
        for (size_t k = 0; k < cols && rc == STRATA_OK; k++) rc = put_value(&body, cur, k, j->proto);
        if (rc == TOO_BIG || body.oom) {
            rb_error(&j->out, body.oom ? "ERR out of memory"
                                       : "ERR the result exceeds 256 MiB: narrow the query (WHERE, LIMIT)");
            goto out;
        }
        if (rc) {
            reply_job_error(j, strata_errmsg(j->srv->db), rc);
            goto out;
        }
        rows++;
    }
    static const char *const type_names[] = { "null", "int", "double", "text", "bool", "timestamp", "other" };
    rb_array(&j->out, rows + 2);
    rb_array(&j->out, cols);
    for (size_t k = 0; k < cols; k++) rb_cstr(&j->out, strata_cursor_column_name(cur, k));
    rb_array(&j->out, cols);
    for (size_t k = 0; k < cols; k++) {
        int t = strata_cursor_column_type(cur, k);
        rb_cstr(&j->out, t >= 0 && t <= STRATA_TYPE_OTHER ? type_names[t] : "other");
    }
    rb_raw(&j->out, body.p, body.len);
out:
    free(body.p);
    strata_cursor_close(cur);
}

void srv_cmd_sql(client *c, int argc, char **argv, size_t *lens) {
    size_t n = (size_t)argc - 2;
    sql_arg *a = calloc(1, sizeof *a + n * sizeof a->texts[0]);
    if (!a) return rb_error(OUT, "ERR out of memory");
    if (!(a->sql = srv_arg_str(c, argv[1], lens[1])) || (n && !(a->params = calloc(n, sizeof *a->params)))) {
        if (a->sql) rb_error(OUT, "ERR out of memory");
        return sql_free(a);
    }
    for (size_t i = 0; i < n; i++) {
        if (!(a->texts[i] = srv_arg_str(c, argv[i + 2], lens[i + 2]))) return sql_free(a);
        a->n = i + 1;
        a->params[i] = STRATA_P_LITERAL(NULL, a->texts[i]);
    }
    size_t bytes = lens[1];
    for (size_t i = 0; i < n; i++) bytes += lens[i + 2];
    srv_job_submit_ex(c, sql_run, a, sql_free, SRV_JOB_HEAVY | SRV_JOB_READONLY, bytes);
}

/* ---- STRATA.BACKUP CREATE|LIST|VERIFY|PRUNE ... [DEST path] ---- */
typedef struct backup_arg {
    char *dest;   /* NULL: DIR/backups */
    char *name;   /* VERIFY */
    int keep;     /* PRUNE */
    char deflt[]; /* DIR/backups */
} backup_arg;

static void backup_free(void *p) {
    backup_arg *a = p;
    if (!a) return;
    free(a->dest);
    free(a->name);
    free(a);
}

static const char *dest_of(const backup_arg *a) { return a->dest ? a->dest : a->deflt; }

static void info_map(rbuf *b, const strata_backup_info *i, int proto) {
    rb_map(b, 6, proto);
    rb_cstr(b, "name");
    rb_cstr(b, i->name);
    rb_cstr(b, "complete");
    rb_bool(b, i->complete, proto);
    rb_cstr(b, "lsn");
    rb_int(b, (long long)i->lsn);
    rb_cstr(b, "created_at_ms");
    rb_int(b, i->created_at_ms);
    rb_cstr(b, "bytes");
    rb_int(b, (long long)i->bytes);
    rb_cstr(b, "files");
    rb_int(b, (long long)i->files);
}

typedef struct blist { rbuf b; size_t n; int proto; const char *only; } blist;
static int list_one(void *ctx, const strata_backup_info *info) {
    blist *l = ctx;
    if (l->only && strcmp(l->only, info->name) != 0) return 0;
    info_map(&l->b, info, l->proto);
    l->n++;
    return l->b.oom ? STRATA_ENOMEM : 0;
}

static void create_run(srv_job *j) {
    backup_arg *a = j->arg;
    char *name = NULL;
    int rc = strata_backup_create(j->srv->db, a->dest, &name);
    if (rc) return reply_job_error(j, strata_errmsg(j->srv->db), rc);
    blist l = { { 0 }, 0, j->proto, name };
    rc = strata_backup_list(dest_of(a), list_one, &l);
    if (rc || l.b.oom || l.n != 1) { /* the backup is there; only reading its summary failed */
        rb_map(&j->out, 1, j->proto);
        rb_cstr(&j->out, "name");
        rb_cstr(&j->out, name);
    } else {
        rb_raw(&j->out, l.b.p, l.b.len);
    }
    free(l.b.p);
    strata_free(name);
}

typedef struct problems { rbuf b; size_t n; } problems;
static void add_problem(void *ctx, const char *msg) {
    problems *p = ctx;
    rb_cstr(&p->b, msg);
    p->n++;
}

static void verify_run(srv_job *j) {
    backup_arg *a = j->arg;
    problems p = { { 0 }, 0 };
    uint64_t count = 0;
    int rc = strata_backup_verify(dest_of(a), a->name, add_problem, &p, &count);
    if (rc) reply_job_error(j, strata_backup_errmsg(), rc);
    else if (p.b.oom) rb_error(&j->out, "ERR out of memory");
    else {
        rb_map(&j->out, 3, j->proto);
        rb_cstr(&j->out, "name");
        rb_cstr(&j->out, a->name);
        rb_cstr(&j->out, "ok");
        rb_bool(&j->out, count == 0, j->proto);
        rb_cstr(&j->out, "problems");
        rb_array(&j->out, p.n);
        rb_raw(&j->out, p.b.p, p.b.len);
    }
    free(p.b.p);
}

static void prune_run(srv_job *j) {
    backup_arg *a = j->arg;
    uint64_t removed = 0;
    int rc = strata_backup_prune(dest_of(a), a->keep, &removed);
    if (rc) reply_job_error(j, strata_backup_errmsg(), rc);
    else rb_int(&j->out, (long long)removed);
}

void srv_cmd_backup(client *c, int argc, char **argv, size_t *lens) {
    char *sub = argv[1];
    size_t sl = lens[1];
    int create = srv_eq(sub, sl, "create"), list = srv_eq(sub, sl, "list");
    int verify = srv_eq(sub, sl, "verify"), prune = srv_eq(sub, sl, "prune");
    int fixed = create || list ? 2 : verify || prune ? 3 : 0; /* arguments before [DEST path] */
    if (!fixed || (argc != fixed && argc != fixed + 2))
        return srv_sub_error(c, "strata.backup", "create list verify prune", sub, sl);
    if (argc == fixed + 2) {
        if (!srv_eq(argv[fixed], lens[fixed], "dest") || lens[fixed + 1] == 0) return srv_syntax_error(c);
        if (!c->is_unix)
            return rb_error(OUT, "ERR DEST is accepted only over the store's unix socket; "
                                 "network clients back up into the store's backups folder");
    }
    long long keep = 0;
    if (prune) {
        if (!c->is_unix) /* it deletes backups: the store's owner decides */
            return rb_error(OUT, "ERR STRATA.BACKUP PRUNE is accepted only over the store's unix socket");
        if (!srv_arg_ll(c, argv[2], lens[2], &keep)) return;
        if (keep < 1 || keep > INT32_MAX) return rb_error(OUT, "ERR keep must be 1..2147483647");
    }
    size_t dl = strlen(c->srv->dir) + sizeof "/backups";
    backup_arg *a = calloc(1, sizeof *a + dl);
    if (!a) return rb_error(OUT, "ERR out of memory");
    snprintf(a->deflt, dl, "%s/backups", c->srv->dir);
    if ((argc == fixed + 2 && !(a->dest = srv_arg_str(c, argv[fixed + 1], lens[fixed + 1]))) ||
        (verify && !(a->name = srv_arg_str(c, argv[2], lens[2]))))
        return backup_free(a);
    a->keep = (int)keep;
    if (create) return srv_job_submit_ex(c, create_run, a, backup_free, SRV_JOB_HEAVY, 0);
    if (verify) return srv_job_submit_ex(c, verify_run, a, backup_free, SRV_JOB_HEAVY | SRV_JOB_READONLY, 0);
    if (prune) return srv_job_submit_ex(c, prune_run, a, backup_free, SRV_JOB_HEAVY, 0); /* waits for a running backup */
    blist l = { { 0 }, 0, c->proto, NULL }; /* LIST */
    int rc = strata_backup_list(dest_of(a), list_one, &l);
    if (rc || l.b.oom) rb_error(OUT, "ERR %s", rc ? strata_backup_errmsg() : "out of memory");
    else {
        rb_array(OUT, l.n);
        rb_raw(OUT, l.b.p, l.b.len);
    }
    free(l.b.p);
    backup_free(a);
}
