/* api_vec.c — vector collections in the store: the registry of open indexes, the
 * public calls, and the part of the commit protocol that concerns vectors.
 *
 * Durability (principle 1, as for document segments): the leader appends each
 * committed vector put or delete to the collection's log (vectors/NAME/vectors.log)
 * inside the SQLite transaction that records it, fsyncs the touched logs before the
 * SQLite COMMIT, and the catalogue row collections.log_length says how much of a log
 * is committed. Only after COMMIT are the changes applied to the in-memory HNSW
 * index (the derived structure, principle 2). A member of a group commit that fails
 * has its log records cut away; a failed COMMIT cuts the batch's.
 *
 * Open: each log is truncated to its committed length; the checkpoint
 * (vectors/NAME/index.hnsw) is mapped and the log records after the offset it covers
 * are replayed; a missing or corrupt checkpoint means a replay of the whole log.
 *
 *   leader:  member_begin -> apply (log append, catalogue rows) -> [member_abort]
 *            -> precommit (fsync logs) -> COMMIT -> batch_end(committed) -> index
 */
#include "internal.h"
#include "analytics/analytics.h"
#include "vector/vec.h"
#include "backup/backup.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct vcoll {
    op_coll meta;            /* log_length: committed; next_label: committed */
    vec_hnsw *h;
    vec_log *log;
    uint64_t last_lsn;       /* highest LSN in the index */
    int dirty;               /* changed since the checkpoint was written */
    int broken;              /* its log is missing or damaged: searches fail */
    char why[200];
    /* leader state within a batch */
    uint64_t next_label, batch_len, member_len, member_next;
    int touched;
} vcoll;

enum { EFF_PUT, EFF_DEL, EFF_CREATE, EFF_DROP };
typedef struct effect { int kind; vcoll *c; uint64_t label; float *v; } effect;

struct vecs {
    char *dir;               /* DIR/vectors */
    pthread_rwlock_t lock;   /* the registry; every index outlives a read lock */
    vcoll **v;
    size_t n;
    /* the batch being applied (leader only, under write_mu) */
    effect *eff;
    size_t neff, capeff, member_eff;
    vcoll **pending;         /* collections created in this batch */
    size_t npending;
};

static char *pathf(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *p = malloc(n);
    if (p) snprintf(p, n, c ? "%s/%s/%s" : "%s/%s", a, b, c);
    return p;
}

static int valid_name(const char *name) {
    size_t n = name ? strnlen(name, STRATA_COLLECTION_NAME_MAX + 1) : 0;
    if (n == 0 || n > STRATA_COLLECTION_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static vcoll *find(struct vecs *vs, const char *name) {
    for (size_t i = 0; i < vs->n; i++)
        if (!strcmp(vs->v[i]->meta.name, name)) return vs->v[i];
    return NULL;
}

static void params_of(const op_coll *m, vec_params *p) {
    vec_params_init(p, m->dim);
    p->metric = m->metric;
    p->dtype = m->dtype;
    p->M = m->m;
    p->ef_construction = m->ef_construction;
}

static void vcoll_free(vcoll *c) {
    if (!c) return;
    vec_hnsw_free(c->h);
    vec_log_close(c->log);
    free(c);
}

/* ---- open and close ---- */
typedef struct replay_ctx { vcoll *c; uint64_t end; int rc; } replay_ctx;
static int replay_one(void *ctx, uint64_t off, const vec_log_rec *r) {
    replay_ctx *x = ctx;
    if (off >= x->end) return 1; /* past the committed length */
    int rc = r->op == VEC_LOG_PUT ? vec_hnsw_add(x->c->h, r->label, r->vec, x->c->meta.dim)
                                  : vec_hnsw_remove(x->c->h, r->label);
    if (rc == STRATA_ENOTFOUND) rc = STRATA_OK; /* a delete already in the checkpoint */
    if (r->lsn > x->c->last_lsn) x->c->last_lsn = r->lsn;
    if (rc) { x->rc = rc; return rc; }
    return 0;
}

static void broken(vcoll *c, const char *fmt, const char *detail) {
    c->broken = 1;
    snprintf(c->why, sizeof c->why, fmt, detail);
}

/* Bring one catalogued collection up: log, checkpoint, replay. Never fails the open:
 * a collection it cannot load is marked broken and `strata check` names it. */
static int load(struct vecs *vs, const op_coll *m, vcoll **out) {
    vcoll *c = calloc(1, sizeof *c);
    if (!c) return STRATA_ENOMEM;
    c->meta = *m;
    *out = c;
    vec_params p;
    params_of(m, &p);
    char *logp = pathf(vs->dir, m->name, "vectors.log"), *ck = pathf(vs->dir, m->name, "index.hnsw");
    int rc = STRATA_OK;
    if (!logp || !ck) { rc = STRATA_ENOMEM; goto done; }
    int r = vec_log_open(logp, m->dim, m->dtype, m->metric, 0, &c->log);
    if (r) { broken(c, "its vector log cannot be opened (%s)", strata_errstr(r)); goto done; }
    uint64_t len = vec_log_length(c->log);
    if (len < m->log_length) { broken(c, "its vector log is shorter than committed%s", ""); goto done; }
    if (len > m->log_length && (r = vec_log_truncate(c->log, m->log_length)) != STRATA_OK) {
        rc = r;
        goto done;
    }
    vec_ckpt_info info;
    uint64_t from = 0;
    r = vec_ckpt_open(ck, &c->h, &info);
    if (r == STRATA_OK) {
        const vec_params *cp = vec_hnsw_params(c->h);
        if (cp->dim != p.dim || cp->metric != p.metric || cp->dtype != p.dtype || info.log_offset > m->log_length ||
            info.log_offset < vec_log_header_size()) {
            vec_hnsw_free(c->h); /* a checkpoint of another life of this name: rebuild */
            c->h = NULL;
        } else {
            from = info.log_offset;
            c->last_lsn = info.lsn;
        }
    } else if (r == STRATA_ENOMEM) {
        rc = r;
        goto done;
    }
    if (!c->h) {
        if ((rc = vec_hnsw_create(&p, &c->h)) != STRATA_OK) goto done;
        from = 0;
        c->dirty = 1; /* a checkpoint will be written at close */
    }
    replay_ctx x = { c, m->log_length, 0 };
    vec_log_scan scan;
    r = vec_log_replay(c->log, from, replay_one, &x, &scan);
    if (x.rc == STRATA_ENOMEM) { rc = x.rc; goto done; }
    if (x.rc || (r && r != 1)) { broken(c, "its vector log cannot be replayed (%s)", strata_errstr(x.rc ? x.rc : r)); goto done; }
    if (scan.end < m->log_length && scan.torn) broken(c, "its vector log is damaged before the committed length%s", "");
    if (from < m->log_length) c->dirty = 1;
done:
    free(logp);
    free(ck);
    return rc;
}

typedef struct open_ctx { struct vecs *vs; int rc; } open_ctx;
static int open_one(void *ctx, const op_coll *m) {
    open_ctx *o = ctx;
    vcoll *c = NULL;
    int rc = load(o->vs, m, &c);
    if (rc) { vcoll_free(c); o->rc = rc; return rc; }
    vcoll **n = realloc(o->vs->v, (o->vs->n + 1) * sizeof *n);
    if (!n) { vcoll_free(c); o->rc = STRATA_ENOMEM; return STRATA_ENOMEM; }
    o->vs->v = n;
    o->vs->v[o->vs->n++] = c;
    return 0;
}

/* Folders of collections the catalogue does not know: a create that never committed
 * or a drop that committed before its folder went. */
static void remove_orphans(struct vecs *vs) {
    DIR *d = opendir(vs->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !valid_name(e->d_name) || find(vs, e->d_name)) continue;
        char *p = pathf(vs->dir, e->d_name, NULL);
        if (p) bk_rmtree(p);
        free(p);
    }
    closedir(d);
    su_fsync_dir(vs->dir);
}

int strata__vec_open(strata *db, char *err, size_t errlen) {
    struct vecs *vs = calloc(1, sizeof *vs);
    if (!vs || !(vs->dir = pathf(db->dir, "vectors", NULL))) {
        free(vs);
        snprintf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    pthread_rwlock_init(&vs->lock, NULL);
    db->vecs = vs;
    if (mkdir(vs->dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", vs->dir, strerror(e));
        return su_errno_status(e);
    }
    open_ctx o = { vs, 0 };
    int rc = op_r_colls(db->op, open_one, &o);
    if (o.rc) rc = o.rc;
    if (rc) { snprintf(err, errlen, "loading vector collections: %s", strata_errstr(rc)); return rc; }
    remove_orphans(vs);
    return STRATA_OK;
}

static int write_ckpt(struct vecs *vs, vcoll *c) {
    if (c->broken || !c->dirty) return STRATA_OK;
    char *ck = pathf(vs->dir, c->meta.name, "index.hnsw");
    if (!ck) return STRATA_ENOMEM;
    int rc = vec_ckpt_write(c->h, ck, c->last_lsn, c->meta.log_length);
    free(ck);
    if (!rc) c->dirty = 0;
    return rc;
}

int strata__vec_close(strata *db) {
    struct vecs *vs = db->vecs;
    if (!vs) return STRATA_OK;
    int rc = STRATA_OK;
    for (size_t i = 0; i < vs->n; i++) {
        int r = write_ckpt(vs, vs->v[i]); /* only a faster next open depends on it */
        if (r && !rc) rc = r;
        vcoll_free(vs->v[i]);
    }
    free(vs->v);
    free(vs->eff);
    free(vs->pending);
    pthread_rwlock_destroy(&vs->lock);
    free(vs->dir);
    free(vs);
    db->vecs = NULL;
    return rc;
}

/* ---- the commit protocol (leader only, under write_mu) ---- */
static vcoll *leader_find(struct vecs *vs, const char *name) {
    vcoll *c = find(vs, name);
    if (c) return c;
    for (size_t i = 0; i < vs->npending; i++)
        if (!strcmp(vs->pending[i]->meta.name, name)) return vs->pending[i];
    return NULL;
}

static int add_effect(struct vecs *vs, int kind, vcoll *c, uint64_t label, const float *v) {
    if (vs->neff == vs->capeff) {
        size_t cap = vs->capeff ? vs->capeff * 2 : 16;
        effect *n = realloc(vs->eff, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        vs->eff = n;
        vs->capeff = cap;
    }
    effect e = { kind, c, label, NULL };
    if (v) {
        if (!(e.v = malloc(c->meta.dim * sizeof(float)))) return STRATA_ENOMEM;
        memcpy(e.v, v, c->meta.dim * sizeof(float));
    }
    vs->eff[vs->neff++] = e;
    return STRATA_OK;
}

/* First touch of a collection in this batch: remember where its log stood. */
static void touch(vcoll *c) {
    if (c->touched) return;
    c->touched = 1;
    c->batch_len = c->member_len = vec_log_length(c->log);
    c->next_label = c->member_next = c->meta.next_label;
}

void strata__vec_member_begin(strata *db) {
    struct vecs *vs = db->vecs;
    vs->member_eff = vs->neff;
    for (size_t i = 0; i < vs->n; i++)
        if (vs->v[i]->touched) { vs->v[i]->member_len = vec_log_length(vs->v[i]->log); vs->v[i]->member_next = vs->v[i]->next_label; }
}

static void effect_undo(struct vecs *vs, size_t from) {
    for (size_t i = from; i < vs->neff; i++) {
        effect *e = &vs->eff[i];
        free(e->v);
        if (e->kind == EFF_CREATE) {
            /* Its folder holds nothing committed; the registry never saw it. */
            char *p = pathf(vs->dir, e->c->meta.name, NULL);
            if (p) bk_rmtree(p);
            free(p);
            for (size_t k = 0; k < vs->npending; k++)
                if (vs->pending[k] == e->c) vs->pending[k] = vs->pending[--vs->npending];
            vcoll_free(e->c);
        }
    }
    vs->neff = from;
}

void strata__vec_member_abort(strata *db) {
    struct vecs *vs = db->vecs;
    for (size_t i = 0; i < vs->n; i++) {
        vcoll *c = vs->v[i];
        if (!c->touched) continue;
        if (vec_log_length(c->log) > c->member_len) (void)vec_log_truncate(c->log, c->member_len);
        c->next_label = c->member_next;
    }
    effect_undo(vs, vs->member_eff);
}

int strata__vec_precommit(strata *db) {
    struct vecs *vs = db->vecs;
    for (size_t i = 0; i < vs->n; i++) {
        vcoll *c = vs->v[i];
        if (c->touched && vec_log_length(c->log) > c->batch_len) {
            int rc = vec_log_sync(c->log);
            if (rc) return rc;
        }
    }
    return STRATA_OK;
}

/* Consecutive puts to one collection at least this long are added in parallel. */
#define VEC_BATCH_MIN 64

static int add_run(strata *db, vcoll *c, const effect *e, size_t n) {
    uint32_t dim = c->meta.dim;
    uint64_t *labels = malloc(n * sizeof *labels);
    float *vecs = malloc(n * dim * sizeof *vecs);
    int rc = STRATA_ENOMEM;
    if (labels && vecs) {
        for (size_t k = 0; k < n; k++) {
            labels[k] = e[k].label;
            memcpy(vecs + k * dim, e[k].v, dim * sizeof *vecs);
        }
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int threads = db->opts.vec_threads ? db->opts.vec_threads : (int)(cores > 0 ? cores : 1);
        if (threads > VEC_MAX_THREADS) threads = VEC_MAX_THREADS;
        rc = vec_hnsw_add_batch(c->h, labels, vecs, n, dim, threads, NULL);
    }
    free(labels);
    free(vecs);
    return rc;
}

void strata__vec_batch_end(strata *db, int committed) {
    struct vecs *vs = db->vecs;
    if (!committed) {
        for (size_t i = 0; i < vs->n; i++) {
            vcoll *c = vs->v[i];
            if (c->touched && vec_log_length(c->log) > c->batch_len) (void)vec_log_truncate(c->log, c->batch_len);
            c->touched = 0;
        }
        effect_undo(vs, 0);
        return;
    }
    for (size_t i = 0; i < vs->n; i++) {
        vcoll *c = vs->v[i];
        if (!c->touched) continue;
        c->meta.log_length = vec_log_length(c->log);
        c->meta.next_label = c->next_label;
        c->touched = 0;
    }
    for (size_t i = 0; i < vs->neff; i++) {
        effect *e = &vs->eff[i];
        vcoll *c = e->c;
        int rc = STRATA_OK;
        size_t run = 1;
        while (e->kind == EFF_PUT && i + run < vs->neff && vs->eff[i + run].kind == EFF_PUT && vs->eff[i + run].c == c)
            run++;
        if (run >= VEC_BATCH_MIN && !c->broken) {
            /* A bulk commit: add its vectors with several threads. */
            rc = add_run(db, c, &vs->eff[i], run);
            c->dirty = 1;
            if (rc) broken(c, "the index could not absorb a commit (%s); reopen the store", strata_errstr(rc));
            for (size_t k = 0; k < run; k++) free(vs->eff[i + k].v);
            i += run - 1;
            continue;
        }
        if (e->kind == EFF_PUT || e->kind == EFF_DEL) {
            if (e->kind == EFF_PUT) rc = vec_hnsw_add(c->h, e->label, e->v, c->meta.dim);
            else if ((rc = vec_hnsw_remove(c->h, e->label)) == STRATA_ENOTFOUND) rc = STRATA_OK;
            c->dirty = 1;
            /* The log has it: the index catches up at the next open. */
            if (rc) broken(c, "the index could not absorb a commit (%s); reopen the store", strata_errstr(rc));
        } else if (e->kind == EFF_CREATE) {
            pthread_rwlock_wrlock(&vs->lock);
            vcoll **n = realloc(vs->v, (vs->n + 1) * sizeof *n);
            if (n) { vs->v = n; vs->v[vs->n++] = c; }
            pthread_rwlock_unlock(&vs->lock);
            if (!n) vcoll_free(c); /* the catalogue has it: the next open loads it */
        } else if (e->kind == EFF_DROP) {
            pthread_rwlock_wrlock(&vs->lock); /* waits for searches on it */
            for (size_t k = 0; k < vs->n; k++)
                if (vs->v[k] == c) { vs->v[k] = vs->v[--vs->n]; break; }
            pthread_rwlock_unlock(&vs->lock);
            char *p = pathf(vs->dir, c->meta.name, NULL);
            if (p) bk_rmtree(p);
            free(p);
            su_fsync_dir(vs->dir);
            vcoll_free(c);
        }
        free(e->v);
    }
    vs->neff = 0;
    vs->npending = 0;
}

static int append(strata *db, strata_txn *t, vcoll *c, int op, uint64_t label, const float *v) {
    touch(c);
    int rc = vec_log_append(c->log, op, label, t->lsn, v, NULL);
    if (rc) {
        snprintf(t->msg, sizeof t->msg, "vector log of %s: %s", c->meta.name, strata_errstr(rc));
        return rc;
    }
    if ((rc = op_w_coll_set(db->op, c->meta.name, vec_log_length(c->log), c->next_label)) != STRATA_OK) {
        snprintf(t->msg, sizeof t->msg, "vector catalogue: %s", op_errmsg(db->op, 1));
        return rc;
    }
    c->last_lsn = t->lsn;
    return add_effect(db->vecs, op == VEC_LOG_PUT ? EFF_PUT : EFF_DEL, c, label, v);
}

static int apply_create(strata *db, strata_txn *t, vec_op *o, int64_t now) {
    struct vecs *vs = db->vecs;
    if (leader_find(vs, o->coll)) {
        snprintf(t->msg, sizeof t->msg, "collection '%s' already exists", o->coll);
        return STRATA_EEXIST;
    }
    vcoll *c = calloc(1, sizeof *c);
    if (!c) return STRATA_ENOMEM;
    c->meta = o->create;
    c->meta.created_at = now;
    c->meta.next_label = 1;
    vec_params p;
    params_of(&c->meta, &p);
    char *dir = pathf(vs->dir, o->coll, NULL), *logp = pathf(vs->dir, o->coll, "vectors.log");
    int rc = dir && logp ? STRATA_OK : STRATA_ENOMEM;
    if (!rc) {
        bk_rmtree(dir); /* leftovers of an earlier life of this name */
        if (mkdir(dir, 0700) < 0) rc = su_errno_status(errno);
    }
    if (!rc && (rc = vec_log_open(logp, p.dim, p.dtype, p.metric, 1, &c->log)) == STRATA_OK &&
        (rc = vec_log_sync(c->log)) == STRATA_OK && (rc = su_errno_status(su_fsync_dir(vs->dir))) == STRATA_OK)
        rc = vec_hnsw_create(&p, &c->h);
    c->meta.log_length = rc ? 0 : vec_log_length(c->log);
    if (!rc && (rc = op_w_coll_insert(db->op, &c->meta)) != STRATA_OK)
        snprintf(t->msg, sizeof t->msg, "collection '%s': %s", o->coll,
                 rc == STRATA_EEXIST ? "already exists" : op_errmsg(db->op, 1));
    else if (rc)
        snprintf(t->msg, sizeof t->msg, "collection '%s': cannot create its files (%s)", o->coll, strata_errstr(rc));
    vcoll **np = rc ? NULL : realloc(vs->pending, (vs->npending + 1) * sizeof *np);
    if (!rc && !np) rc = STRATA_ENOMEM;
    if (!rc) {
        vs->pending = np;
        vs->pending[vs->npending++] = c;
        rc = add_effect(vs, EFF_CREATE, c, 0, NULL);
        if (rc) vs->npending--;
    }
    if (rc) {
        if (dir) bk_rmtree(dir);
        vcoll_free(c);
    }
    free(dir);
    free(logp);
    return rc;
}

int strata__vec_apply(strata *db, strata_txn *t, vec_op *o, int64_t now) {
    struct vecs *vs = db->vecs;
    if (o->kind == VECOP_CREATE) return apply_create(db, t, o, now);
    vcoll *c = leader_find(vs, o->coll);
    if (!c) {
        snprintf(t->msg, sizeof t->msg, "no collection '%s'", o->coll);
        return STRATA_ENOTFOUND;
    }
    if (c->broken) {
        snprintf(t->msg, sizeof t->msg, "collection '%s' is damaged: %s", o->coll, c->why);
        return STRATA_ECORRUPT;
    }
    int rc;
    uint64_t label = 0;
    switch (o->kind) {
    case VECOP_DROP:
        if ((rc = op_w_coll_delete(db->op, o->coll)) != STRATA_OK) {
            snprintf(t->msg, sizeof t->msg, "drop '%s': %s", o->coll, rc == STRATA_ENOTFOUND ? "not found" : op_errmsg(db->op, 1));
            return rc;
        }
        return add_effect(vs, EFF_DROP, c, 0, NULL);
    case VECOP_PUT:
        if (o->dim != c->meta.dim) {
            snprintf(t->msg, sizeof t->msg, "collection '%s' holds %u-dimensional vectors, not %u", o->coll,
                     c->meta.dim, o->dim);
            return STRATA_EINVAL;
        }
        touch(c);
        rc = op_w_vec_label(db->op, o->coll, o->id, o->id_len, &label);
        if (rc == STRATA_ENOTFOUND) { label = c->next_label++; rc = STRATA_OK; }
        if (rc || (rc = op_w_vec_upsert(db->op, o->coll, o->id, o->id_len, label, t->lsn)) != STRATA_OK) {
            snprintf(t->msg, sizeof t->msg, "vector put: %s", op_errmsg(db->op, 1));
            return rc;
        }
        return append(db, t, c, VEC_LOG_PUT, label, o->v);
    case VECOP_DEL:
        if ((rc = op_w_vec_label(db->op, o->coll, o->id, o->id_len, &label)) != STRATA_OK ||
            (rc = op_w_vec_delete(db->op, o->coll, o->id, o->id_len)) != STRATA_OK) {
            snprintf(t->msg, sizeof t->msg, "vector delete: %s",
                     rc == STRATA_ENOTFOUND ? "the document has no vector in this collection" : op_errmsg(db->op, 1));
            return rc;
        }
        return append(db, t, c, VEC_LOG_DELETE, 0 + label, NULL);
    default:
        return STRATA_EINTERNAL;
    }
}

typedef struct cascade { strata *db; strata_txn *t; const void *id; size_t len; } cascade;
static int cascade_one(void *ctx, const char *coll, uint64_t label) {
    cascade *x = ctx;
    vcoll *c = leader_find(x->db->vecs, coll);
    int rc = op_w_vec_delete(x->db->op, coll, x->id, x->len);
    if (rc) return rc;
    if (!c) return STRATA_OK; /* dropped in this batch: nothing to log */
    if (c->broken) {
        snprintf(x->t->msg, sizeof x->t->msg, "collection '%s' is damaged: %s", coll, c->why);
        return STRATA_ECORRUPT;
    }
    return append(x->db, x->t, c, VEC_LOG_DELETE, label, NULL);
}

int strata__vec_doc_deleted(strata *db, strata_txn *t, const void *id, size_t len) {
    cascade x = { db, t, id, len };
    int rc = op_w_vecs_of_doc(db->op, id, len, cascade_one, &x);
    if (rc && !*t->msg) snprintf(t->msg, sizeof t->msg, "deleting the document's vectors: %s", strata_errstr(rc));
    return rc;
}

/* ---- public calls ---- */
static int check_vector(strata *db, const float *v, uint32_t dim) {
    if (!v) return strata__err(db, STRATA_EINVAL, "vector is NULL");
    if (dim == 0 || dim > STRATA_VEC_DIM_MAX) return strata__err(db, STRATA_EINVAL, "dimension %u is out of range", dim);
    for (uint32_t i = 0; i < dim; i++)
        if (!isfinite(v[i])) return strata__err(db, STRATA_EINVAL, "component %u is not a finite number", i);
    return STRATA_OK;
}

static int queue(strata *db, strata_txn *txn, int txkind, vec_op *o) {
    txop op = { (txop_kind)txkind, NULL, NULL, 0, 0, NULL, o };
    return strata__write(db, txn, op, NULL);
}

static vec_op *new_op(int kind, const char *name) {
    vec_op *o = calloc(1, sizeof *o);
    if (o) { o->kind = kind; snprintf(o->coll, sizeof o->coll, "%s", name); }
    return o;
}

int strata_vec_create(strata *db, const char *name, const strata_collection_opts *opts) {
    if (!db) return STRATA_EINVAL;
    if (!valid_name(name)) return strata__err(db, STRATA_EINVAL, "collection names are [A-Za-z0-9_-]{1,64}");
    if (!opts) return strata__err(db, STRATA_EINVAL, "collection options are required (at least dim)");
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
        if (opts->reserved[i]) return strata__err(db, STRATA_EINVAL, "collection options: reserved fields must be zero");
    vec_params p;
    vec_params_init(&p, opts->dim);
    p.metric = opts->metric;
    p.dtype = opts->dtype;
    p.M = opts->m ? opts->m : STRATA_VEC_DEFAULT_M;
    p.ef_construction = opts->ef_construction ? opts->ef_construction : STRATA_VEC_DEFAULT_EF_CONSTRUCTION;
    if (opts->metric < 0 || opts->metric > 2 || opts->dtype < 0 || opts->dtype > 2 || vec_params_check(&p))
        return strata__err(db, STRATA_EINVAL, "collection options out of range (dim 1..%d, metric, dtype, m %d..%d, "
                                              "ef_construction)", STRATA_VEC_DIM_MAX, VEC_MIN_M, VEC_MAX_M);
    vec_op *o = new_op(VECOP_CREATE, name);
    if (!o) return strata__err(db, STRATA_ENOMEM, "out of memory");
    snprintf(o->create.name, sizeof o->create.name, "%s", name);
    o->create.dim = p.dim;
    o->create.metric = p.metric;
    o->create.dtype = p.dtype;
    o->create.m = p.M;
    o->create.ef_construction = p.ef_construction;
    return queue(db, NULL, TXOP_VEC, o);
}

int strata_vec_drop(strata *db, const char *name) {
    if (!db) return STRATA_EINVAL;
    if (!valid_name(name)) return strata__err(db, STRATA_EINVAL, "collection names are [A-Za-z0-9_-]{1,64}");
    vec_op *o = new_op(VECOP_DROP, name);
    if (!o) return strata__err(db, STRATA_ENOMEM, "out of memory");
    return queue(db, NULL, TXOP_VEC, o);
}

/* Look a collection up for a read; on success the registry is read-locked. */
static int lock_coll(strata *db, const char *name, vcoll **out) {
    if (!valid_name(name)) return strata__err(db, STRATA_EINVAL, "collection names are [A-Za-z0-9_-]{1,64}");
    pthread_rwlock_rdlock(&db->vecs->lock);
    vcoll *c = find(db->vecs, name);
    if (!c) {
        pthread_rwlock_unlock(&db->vecs->lock);
        return strata__err(db, STRATA_ENOTFOUND, "no collection '%s'", name);
    }
    if (c->broken) {
        int rc = strata__err(db, STRATA_ECORRUPT, "collection '%s' is damaged: %s", name, c->why);
        pthread_rwlock_unlock(&db->vecs->lock);
        return rc;
    }
    *out = c;
    return STRATA_OK;
}

static int vec_put_impl(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len, const float *vec,
                   uint32_t dim) {
    if (!db) return STRATA_EINVAL;
    int rc;
    if (!id || id_len == 0 || id_len > STRATA_DOC_ID_MAX)
        return strata__err(db, STRATA_EINVAL, "document id must be 1..%d bytes", STRATA_DOC_ID_MAX);
    if ((rc = check_vector(db, vec, dim)) != STRATA_OK) return rc;
    vcoll *c;
    if ((rc = lock_coll(db, name, &c)) != STRATA_OK) return rc;
    uint32_t cdim = c->meta.dim;
    int cosine = c->meta.metric == VEC_METRIC_COSINE;
    pthread_rwlock_unlock(&db->vecs->lock);
    if (dim != cdim) return strata__err(db, STRATA_EINVAL, "collection '%s' holds %u-dimensional vectors, not %u", name, cdim, dim);
    if (cosine) {
        double norm = 0;
        for (uint32_t i = 0; i < dim; i++) norm += (double)vec[i] * vec[i];
        if (norm == 0) return strata__err(db, STRATA_EINVAL, "a zero vector has no direction (cosine collection)");
    }
    vec_op *o = new_op(VECOP_PUT, name);
    if (!o || !(o->id = malloc(id_len)) || !(o->v = malloc(dim * sizeof(float)))) {
        if (o) { free(o->id); free(o); }
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    memcpy(o->id, id, id_len);
    o->id_len = id_len;
    memcpy(o->v, vec, dim * sizeof(float));
    o->dim = dim;
    return queue(db, txn, TXOP_VEC, o);
}

int strata_vec_put(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len, const float *vec,
                   uint32_t dim) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = vec_put_impl(db, txn, name, id, id_len, vec, dim);
    if (db) an_op_end(db->an, AN_OP_VEC_PUT, t0, rc);
    return rc;
}

static int vec_delete_impl(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len) {
    if (!db) return STRATA_EINVAL;
    if (!valid_name(name)) return strata__err(db, STRATA_EINVAL, "collection names are [A-Za-z0-9_-]{1,64}");
    if (!id || id_len == 0 || id_len > STRATA_DOC_ID_MAX)
        return strata__err(db, STRATA_EINVAL, "document id must be 1..%d bytes", STRATA_DOC_ID_MAX);
    vec_op *o = new_op(VECOP_DEL, name);
    if (!o || !(o->id = malloc(id_len))) {
        free(o);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    memcpy(o->id, id, id_len);
    o->id_len = id_len;
    return queue(db, txn, TXOP_VEC, o);
}

int strata_vec_delete(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = vec_delete_impl(db, txn, name, id, id_len);
    if (db) an_op_end(db->an, AN_OP_VEC_DELETE, t0, rc);
    return rc;
}

int strata_vec_get(strata *db, const char *name, const void *id, size_t id_len, float *out, uint32_t dim) {
    if (!db) return STRATA_EINVAL;
    if (!out || !id || id_len == 0 || id_len > STRATA_DOC_ID_MAX)
        return strata__err(db, STRATA_EINVAL, "id and out are required");
    vcoll *c;
    int rc = lock_coll(db, name, &c);
    if (rc) return rc;
    uint64_t label = 0;
    if (dim != c->meta.dim) rc = strata__err(db, STRATA_EINVAL, "collection '%s' holds %u-dimensional vectors", name, c->meta.dim);
    if (!rc) {
        pthread_mutex_lock(&db->read_mu);
        rc = op_r_vec_label(db->op, name, id, id_len, &label);
        pthread_mutex_unlock(&db->read_mu);
        if (rc == STRATA_ENOTFOUND) strata__err(db, rc, "the document has no vector in '%s'", name);
        else if (rc) strata__err(db, rc, "vector lookup failed");
    }
    if (!rc && (rc = vec_hnsw_get(c->h, label, out, dim)) != STRATA_OK)
        strata__err(db, rc, "the vector is not in the index");
    pthread_rwlock_unlock(&db->vecs->lock);
    return rc;
}

static void fill_info(vcoll *c, strata_collection_info *i) {
    memset(i, 0, sizeof *i);
    snprintf(i->name, sizeof i->name, "%.64s", c->meta.name);
    i->dim = c->meta.dim;
    i->m = c->meta.m;
    i->ef_construction = c->meta.ef_construction;
    i->metric = c->meta.metric;
    i->dtype = c->meta.dtype;
    i->log_bytes = c->meta.log_length;
    i->created_at_ms = c->meta.created_at;
    vec_stats st;
    if (!c->broken) {
        vec_hnsw_stats(c->h, &st);
        i->count = st.live;
        i->index_bytes = st.index_bytes + st.raw_bytes;
        i->kernels = st.kernels;
    } else {
        i->kernels = "none";
    }
}

int strata_vec_info(strata *db, const char *name, strata_collection_info *out) {
    if (!db) return STRATA_EINVAL;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    vcoll *c;
    int rc = lock_coll(db, name, &c);
    if (rc) return rc;
    fill_info(c, out);
    pthread_rwlock_unlock(&db->vecs->lock);
    return STRATA_OK;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp((*(vcoll *const *)a)->meta.name, (*(vcoll *const *)b)->meta.name);
}

int strata_vec_list(strata *db, strata_collection_cb cb, void *ctx) {
    if (!db) return STRATA_EINVAL;
    if (!cb) return strata__err(db, STRATA_EINVAL, "callback is NULL");
    pthread_rwlock_rdlock(&db->vecs->lock);
    size_t n = db->vecs->n;
    strata_collection_info *infos = calloc(n ? n : 1, sizeof *infos);
    vcoll **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (infos && sorted) {
        if (n) memcpy(sorted, db->vecs->v, n * sizeof *sorted);
        if (n) qsort(sorted, n, sizeof *sorted, name_cmp);
        for (size_t i = 0; i < n; i++) fill_info(sorted[i], &infos[i]);
    }
    pthread_rwlock_unlock(&db->vecs->lock);
    int rc = infos && sorted ? STRATA_OK : strata__err(db, STRATA_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) rc = cb(ctx, &infos[i]);
    free(infos);
    free(sorted);
    return rc;
}

/* ---- search ---- */
typedef struct label_set { uint64_t *v; size_t n, cap; int oom; } label_set;
static int set_add(void *ctx, uint64_t label) {
    label_set *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *n = realloc(s->v, cap * sizeof *n);
        if (!n) { s->oom = 1; return 1; }
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = label;
    return 0;
}
static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static int set_allows(void *ctx, uint64_t label) {
    const label_set *s = ctx;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] < label) lo = mid + 1; else hi = mid;
    }
    return lo < s->n && s->v[lo] == label;
}

/* The labels a filter allows (read_mu held). */
static int filter_labels(strata *db, const char *name, const strata_vec_search_opts *o, label_set *set) {
    char err[256] = "";
    int rc = STRATA_OK;
    if (o->ids) {
        for (size_t i = 0; i < o->nids && !rc; i++) {
            uint64_t label;
            if (!o->ids[i] || !o->id_lens || o->id_lens[i] == 0 || o->id_lens[i] > STRATA_DOC_ID_MAX)
                return strata__err(db, STRATA_EINVAL, "search: id %zu of the id set is empty or too long", i);
            int r = op_r_vec_label(db->op, name, o->ids[i], o->id_lens[i], &label);
            if (r == STRATA_OK) set_add(set, label);
            else if (r != STRATA_ENOTFOUND) rc = r;
        }
    }
    if (!rc && o->filter) {
        const strata_doc_filter *f = o->filter;
        label_set fs = { NULL, 0, 0, 0 };
        uint8_t hi[STRATA_DOC_ID_MAX];
        size_t hn = 0;
        if (f->prefix_len > STRATA_DOC_ID_MAX || (f->prefix_len && !f->prefix) || (!f->meta_path != !f->meta_value_json) ||
            (f->meta_path && f->meta_path[0] != '$'))
            return strata__err(db, STRATA_EINVAL, "search: bad filter (prefix, or meta_path with meta_value_json)");
        if (f->meta_value_json && (rc = strata__check_json(db, "filter value", f->meta_value_json, 0))) return rc;
        if (f->prefix_len) {
            memcpy(hi, f->prefix, f->prefix_len);
            hn = f->prefix_len;
            while (hn > 0 && hi[hn - 1] == 0xff) hn--;
            if (hn) hi[hn - 1]++;
        }
        rc = op_r_vec_labels(db->op, name, f->prefix_len ? f->prefix : NULL, f->prefix_len, hn ? hi : NULL, hn,
                             f->meta_path, f->meta_value_json, set_add, &fs, err, sizeof err);
        if (rc == 1) rc = STRATA_OK;
        if (!rc && !fs.oom) {
            if (o->ids) {
                /* Both: the intersection. */
                if (fs.n) qsort(fs.v, fs.n, sizeof *fs.v, u64_cmp);
                size_t k = 0;
                for (size_t i = 0; i < set->n; i++) if (set_allows(&fs, set->v[i])) set->v[k++] = set->v[i];
                set->n = k;
                free(fs.v);
            } else {
                free(set->v);
                *set = fs;
            }
        } else {
            free(fs.v);
        }
    }
    if (set->oom) return strata__err(db, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_EINVAL) return strata__err(db, rc, "search filter: %s", err);
    if (rc) return strata__err(db, rc, "search filter: %s", *err ? err : strata_errstr(rc));
    if (set->n) qsort(set->v, set->n, sizeof *set->v, u64_cmp);
    return STRATA_OK;
}

typedef struct id_out { strata_vec_result *r; } id_out;
static int copy_id(void *ctx, const void *id, size_t len) {
    strata_vec_result *r = ctx;
    if (!(r->id = malloc(len ? len : 1))) return STRATA_ENOMEM;
    memcpy(r->id, id, len);
    r->id_len = len;
    return STRATA_OK;
}

static int vec_search_impl(strata *db, const char *name, const float *q, uint32_t dim, const strata_vec_search_opts *opts,
                      strata_vec_result **results, size_t *n) {
    if (!db) return STRATA_EINVAL;
    if (!results || !n) return strata__err(db, STRATA_EINVAL, "results and n are required");
    *results = NULL;
    *n = 0;
    strata_vec_search_opts def;
    memset(&def, 0, sizeof def);
    const strata_vec_search_opts *o = opts ? opts : &def;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i]) return strata__err(db, STRATA_EINVAL, "search options: reserved fields must be zero");
    uint32_t k = o->k ? o->k : 10;
    if (k > STRATA_VEC_K_MAX || o->ef > VEC_MAX_EF) return strata__err(db, STRATA_EINVAL, "k or ef out of range");
    int rc = check_vector(db, q, dim);
    if (rc) return rc;
    vcoll *c;
    if ((rc = lock_coll(db, name, &c)) != STRATA_OK) return rc;
    label_set set = { NULL, 0, 0, 0 };
    vec_hit *hits = NULL;
    strata_vec_result *res = NULL;
    size_t nhits = 0;
    if (dim != c->meta.dim) {
        rc = strata__err(db, STRATA_EINVAL, "collection '%s' holds %u-dimensional vectors, not %u", name, c->meta.dim, dim);
        goto out;
    }
    if (o->ids || o->filter) {
        pthread_mutex_lock(&db->read_mu);
        rc = filter_labels(db, name, o, &set);
        pthread_mutex_unlock(&db->read_mu);
        if (rc) goto out;
    }
    if (!(hits = malloc(k * sizeof *hits))) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    vec_search_opts so = { k, o->ef, o->exact ? VEC_SEARCH_EXACT : VEC_SEARCH_AUTO,
                           (o->ids || o->filter) ? set_allows : NULL, &set, 0 };
    if ((o->ids || o->filter) && set.n == 0) goto out; /* nothing allowed: no results */
    if ((rc = vec_hnsw_search(c->h, q, dim, &so, hits, &nhits)) != STRATA_OK) {
        strata__err(db, rc, "search failed: %s", strata_errstr(rc));
        goto out;
    }
    if (nhits && !(res = calloc(nhits, sizeof *res))) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    size_t m = 0;
    pthread_mutex_lock(&db->read_mu);
    for (size_t i = 0; i < nhits && !rc; i++) {
        int r = op_r_vec_id(db->op, name, hits[i].label, copy_id, &res[m]);
        if (r == STRATA_ENOTFOUND) continue; /* deleted by a commit still being applied */
        if (r) { rc = strata__err(db, r, "search: mapping labels to ids failed"); break; }
        res[m].distance = hits[i].dist;
        res[m].score = vec_similarity(c->meta.metric, hits[i].dist);
        m++;
    }
    pthread_mutex_unlock(&db->read_mu);
    if (rc) { strata_vec_results_free(res, m); res = NULL; goto out; }
    *results = res;
    *n = m;
    res = NULL;
out:
    pthread_rwlock_unlock(&db->vecs->lock);
    free(set.v);
    free(hits);
    free(res);
    return rc;
}

int strata_vec_search(strata *db, const char *name, const float *q, uint32_t dim, const strata_vec_search_opts *opts,
                      strata_vec_result **results, size_t *n) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = vec_search_impl(db, name, q, dim, opts, results, n);
    if (db) an_op_end(db->an, AN_OP_VEC_SEARCH, t0, rc);
    return rc;
}

void strata_vec_results_free(strata_vec_result *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) free(r[i].id);
    free(r);
}

/* Maintenance on one collection with commits excluded (write_mu): the index, its log
 * length and LSN then agree. */
static int with_coll_exclusive(strata *db, const char *name, int (*fn)(strata *, vcoll *)) {
    if (!db) return STRATA_EINVAL;
    if (!valid_name(name)) return strata__err(db, STRATA_EINVAL, "collection names are [A-Za-z0-9_-]{1,64}");
    pthread_mutex_lock(&db->write_mu);
    pthread_rwlock_rdlock(&db->vecs->lock);
    vcoll *c = find(db->vecs, name);
    int rc = !c ? strata__err(db, STRATA_ENOTFOUND, "no collection '%s'", name)
             : c->broken ? strata__err(db, STRATA_ECORRUPT, "collection '%s' is damaged: %s", name, c->why)
                         : fn(db, c);
    pthread_rwlock_unlock(&db->vecs->lock);
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

static int do_checkpoint(strata *db, vcoll *c) {
    c->dirty = 1;
    int rc = write_ckpt(db->vecs, c);
    return rc ? strata__err(db, rc, "checkpoint of '%s' failed: %s", c->meta.name, strata_errstr(rc)) : STRATA_OK;
}
static int do_rebuild(strata *db, vcoll *c) {
    int rc = vec_hnsw_rebuild(c->h, 2);
    if (rc) return strata__err(db, rc, "rebuild of '%s' failed: %s", c->meta.name, strata_errstr(rc));
    c->dirty = 1;
    return STRATA_OK;
}
int strata_vec_checkpoint(strata *db, const char *name) { return with_coll_exclusive(db, name, do_checkpoint); }
int strata_vec_rebuild(strata *db, const char *name) { return with_coll_exclusive(db, name, do_rebuild); }

int strata_embed_hash(const char *text, size_t len, float *out, uint32_t dim) {
    if (!text || !out) return STRATA_EINVAL;
    return vec_embed_hash(text, len, out, dim);
}

/* ---- check (write_mu and read_mu held by strata_check) ---- */
typedef struct lrec { uint64_t label; int put; uint64_t seq; } lrec;
typedef struct lrecs { lrec *v; size_t n, cap; uint64_t end; int oom; } lrecs;
static int lrec_add(void *ctx, uint64_t off, const vec_log_rec *r) {
    lrecs *l = ctx;
    if (off >= l->end) return 1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        lrec *n = realloc(l->v, cap * sizeof *n);
        if (!n) { l->oom = 1; return 1; }
        l->v = n;
        l->cap = cap;
    }
    l->v[l->n] = (lrec){ r->label, r->op == VEC_LOG_PUT, l->n };
    l->n++;
    return 0;
}
static int lrec_cmp(const void *a, const void *b) {
    const lrec *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}
typedef struct rows { uint64_t *v; size_t n, cap; int oom; } rows;
static int row_add(void *ctx, uint64_t label, uint64_t lsn) {
    (void)lsn;
    label_set *s = ctx;
    return set_add(s, label);
}

int strata__vec_check(strata *db, void (*problem)(void *, const char *), void *ctx) {
    struct vecs *vs = db->vecs;
    char msg[512];
    int rc = STRATA_OK;
    for (size_t i = 0; i < vs->n && !rc; i++) {
        vcoll *c = vs->v[i];
        const char *nm = c->meta.name;
        if (c->broken) {
            snprintf(msg, sizeof msg, "collection '%s': %s", nm, c->why);
            problem(ctx, msg);
            continue;
        }
        lrecs l = { NULL, 0, 0, c->meta.log_length, 0 };
        vec_log_scan scan;
        int r = vec_log_replay(c->log, 0, lrec_add, &l, &scan);
        if (l.oom) { free(l.v); return STRATA_ENOMEM; }
        if ((r && r != 1) || (scan.end < c->meta.log_length && scan.torn)) {
            snprintf(msg, sizeof msg, "collection '%s': its vector log is damaged at offset %llu", nm,
                     (unsigned long long)scan.end);
            problem(ctx, msg);
        }
        /* The last record per label decides: live labels must equal the catalogue's. */
        if (l.n) qsort(l.v, l.n, sizeof *l.v, lrec_cmp);
        label_set live = { NULL, 0, 0, 0 }, cat = { NULL, 0, 0, 0 };
        for (size_t k = 0; k < l.n; k++)
            if ((k + 1 == l.n || l.v[k + 1].label != l.v[k].label) && l.v[k].put) set_add(&live, l.v[k].label);
        free(l.v);
        if ((rc = op_r_vec_rows(db->op, nm, row_add, &cat)) != STRATA_OK || live.oom || cat.oom) {
            free(live.v);
            free(cat.v);
            return rc ? rc : STRATA_ENOMEM;
        }
        if (cat.n) qsort(cat.v, cat.n, sizeof *cat.v, u64_cmp);
        size_t missing = 0, extra = 0, notindexed = 0;
        for (size_t k = 0; k < cat.n; k++) {
            if (!set_allows(&live, cat.v[k])) missing++;
            if (!vec_hnsw_contains(c->h, cat.v[k])) notindexed++;
        }
        for (size_t k = 0; k < live.n; k++) if (!set_allows(&cat, live.v[k])) extra++;
        vec_stats st;
        vec_hnsw_stats(c->h, &st);
        if (missing) { snprintf(msg, sizeof msg, "collection '%s': %zu catalogued vectors are not in its log", nm, missing); problem(ctx, msg); }
        if (extra) { snprintf(msg, sizeof msg, "collection '%s': %zu logged vectors have no catalogue row", nm, extra); problem(ctx, msg); }
        if (notindexed) { snprintf(msg, sizeof msg, "collection '%s': %zu catalogued vectors are not in the index", nm, notindexed); problem(ctx, msg); }
        if (st.live != cat.n) {
            snprintf(msg, sizeof msg, "collection '%s': the index holds %llu vectors, the catalogue %zu", nm,
                     (unsigned long long)st.live, cat.n);
            problem(ctx, msg);
        }
        free(live.v);
        free(cat.v);
        /* The checkpoint, if any, must be intact (else the next open rebuilds). */
        char *ck = pathf(vs->dir, nm, "index.hnsw");
        if (!ck) return STRATA_ENOMEM;
        vec_hnsw *h = NULL;
        r = vec_ckpt_open(ck, &h, NULL);
        vec_hnsw_free(h);
        if (r && r != STRATA_ENOTFOUND && r != STRATA_ENOMEM) {
            snprintf(msg, sizeof msg, "collection '%s': its checkpoint is damaged (%s); the next open rebuilds it from the log",
                     nm, strata_errstr(r));
            problem(ctx, msg);
        }
        free(ck);
    }
    return rc;
}

/* Files of a collection for backups: the log's committed prefix and the checkpoint. */
const char *strata__vec_dir(strata *db) { return db->vecs->dir; }
