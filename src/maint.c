/* maint.c — maintenance of the document store: dictionary training, compaction and
 * `strata check`.
 *
 * Compaction, in three steps, each crash-safe:
 *   1. copy   (no lock)       seal the active segment; copy the live runs of each victim
 *                             segment into a new output segment, re-encoded with the
 *                             current dictionary.
 *   2. switch (write lock)    copy any run revived since step 1, fsync the output, then
 *                             one SQLite transaction: add the output segment, point
 *                             the moved contents at it, drop dead contents and the
 *                             victims' rows.
 *   3. remove                 unlink the victims, fsync the directory, and truncate the
 *                             WAL so deleted metadata leaves operational.db-wal too.
 * A crash before the switch commits leaves an output file the catalogue does not know
 * (removed at open); after it, victim files the catalogue does not know (same). */
#include "internal.h"
#include "analytics/analytics.h"
#include "docs/codec.h"
#include "docs/segment.h"
#include "util/sha256.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dictionary training ---- */
#define DICT_SAMPLE_DOCS 2000
#define DICT_SAMPLE_BYTES (2u << 20)
#define DICT_SAMPLE_PER_DOC (16u << 10)
#define DICT_CAP (64u << 10)
#define DICT_MIN_SAMPLE_BYTES (256u << 10)

typedef struct sample_ctx { strata *db; op_content *v; size_t n, cap; } sample_ctx;
static int sample_add(void *ctx, const op_content *c) {
    sample_ctx *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        op_content *n = realloc(s->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = *c;
    return 0;
}

typedef struct prefix_sink { uint8_t *dst; size_t len, cap; } prefix_sink;
static int prefix_write(void *ctx, const void *data, size_t n) {
    prefix_sink *p = ctx;
    size_t take = n < p->cap - p->len ? n : p->cap - p->len;
    memcpy(p->dst + p->len, data, take);
    p->len += take;
    return p->len == p->cap ? 1 : 0; /* stop early: enough of this document */
}

static void content_loc(const op_content *c, docs_loc *l) {
    *l = (docs_loc){ c->segment, c->offset, c->length, c->raw_length, c->checksum, (uint8_t)c->codec, c->dict_id };
}

int strata_doc_train_dict(strata *db, uint32_t *dict_id) {
    if (!db) return STRATA_EINVAL;
    if (dict_id) *dict_id = 0;
    sample_ctx s = { db, NULL, 0, 0 };
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_sample_contents(db->op, DICT_SAMPLE_DOCS, sample_add, &s);
    pthread_mutex_unlock(&db->read_mu);
    if (rc) { free(s.v); return strata__err(db, rc, "dictionary sample: %s", strata_errstr(rc)); }
    uint8_t *buf = malloc(DICT_SAMPLE_BYTES), *dict = malloc(DICT_CAP);
    size_t *sizes = malloc((s.n + 1) * sizeof *sizes), total = 0;
    unsigned ns = 0;
    if (!buf || !dict || !sizes) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < s.n && total < DICT_SAMPLE_BYTES; i++) {
        if (s.v[i].raw_length == 0) continue;
        size_t room = DICT_SAMPLE_BYTES - total;
        prefix_sink p = { buf + total, 0, room < DICT_SAMPLE_PER_DOC ? room : DICT_SAMPLE_PER_DOC };
        docs_loc l;
        content_loc(&s.v[i], &l);
        int r = docs_read(db->docs, &l, prefix_write, &p, NULL, 0);
        if (r != STRATA_OK && r != 1) continue; /* unreadable content is check's business */
        if (p.len == 0) continue;
        sizes[ns++] = p.len;
        total += p.len;
    }
    if (total < DICT_MIN_SAMPLE_BYTES || ns < 8) {
        rc = strata__err(db, STRATA_ENOTFOUND, "too little content to train a dictionary (%zu bytes in %u documents)",
                         total, ns);
        goto done;
    }
    size_t dlen = 0;
    if ((rc = codec_dict_train(buf, sizes, ns, dict, DICT_CAP, &dlen)) != STRATA_OK) {
        strata__err(db, rc, "dictionary training failed");
        goto done;
    }
    uint32_t id = 0;
    pthread_mutex_lock(&db->write_mu);
    if ((rc = op_w_begin(db->op)) == STRATA_OK) {
        if ((rc = op_w_dict_insert(db->op, CODEC_LZ4_DICT, dict, dlen, strata__now(db), &id)) == STRATA_OK)
            rc = op_w_commit(db->op);
        if (rc) op_w_rollback(db->op);
    }
    if (rc) strata__err(db, rc, "storing the dictionary: %s", op_errmsg(db->op, 1));
    pthread_mutex_unlock(&db->write_mu);
    pthread_mutex_lock(&db->read_mu);
    op_r_release(db->op);
    pthread_mutex_unlock(&db->read_mu);
    if (!rc && (rc = docs_dict_add(db->docs, id, dict, dlen)) != STRATA_OK)
        strata__err(db, rc, "loading the new dictionary");
    if (!rc && dict_id) *dict_id = id;
done:
    free(s.v);
    free(buf);
    free(dict);
    free(sizes);
    return rc;
}

/* ---- compaction ---- */
typedef struct seg_info { uint64_t id, committed, live; int compacted; } seg_info;
typedef struct seg_vec { seg_info *v; size_t n, cap; } seg_vec;

static int seg_push(seg_vec *s, seg_info x) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        seg_info *n = realloc(s->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return STRATA_OK;
}

/* segments.sealed is 1 for compaction output, 0 for segments puts filled. */
static int seg_committed(void *ctx, uint64_t id, uint64_t len, int sealed) {
    return seg_push(ctx, (seg_info){ id, len, 0, sealed });
}

static int seg_live(void *ctx, uint64_t id, uint64_t live) {
    seg_vec *s = ctx;
    for (size_t i = 0; i < s->n; i++) if (s->v[i].id == id) s->v[i].live = live;
    return 0;
}

typedef struct moved { int64_t content_id; uint64_t from; op_content to; } moved;
typedef struct move_vec { moved *v; size_t n, cap; } move_vec;

static int move_push(move_vec *m, const moved *x) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        moved *n = realloc(m->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        m->v = n;
        m->cap = cap;
    }
    m->v[m->n++] = *x;
    return STRATA_OK;
}

typedef struct copy_job {
    strata *db; docs_writer *w; move_vec *moves; int locked_pass; int rc; char err[256];
} copy_job;

static int copy_content(void *ctx, const op_content *c) {
    copy_job *j = ctx;
    if (c->refs <= 0) return 0; /* dead: dropped at the switch */
    if (j->locked_pass)
        for (size_t i = 0; i < j->moves->n; i++)
            if (j->moves->v[i].content_id == c->id) return 0; /* copied in step 1 */
    docs_loc from, to;
    content_loc(c, &from);
    int rc = docs_compact_copy(j->w, &from, 1, &to, j->err, sizeof j->err);
    if (rc) { j->rc = rc; return rc; }
    moved m = { c->id, c->segment, *c };
    m.to.segment = to.segment;
    m.to.offset = to.offset;
    m.to.length = to.length;
    m.to.checksum = to.checksum;
    m.to.codec = to.codec;
    m.to.dict_id = to.dict_id;
    if ((rc = move_push(j->moves, &m)) != STRATA_OK) { j->rc = rc; return rc; }
    return 0;
}

/* Contents of one segment, listed from the given connection side under its lock. */
typedef struct content_list { op_content *v; size_t n, cap; } content_list;
static int content_collect(void *ctx, const op_content *c) {
    content_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        op_content *n = realloc(l->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        l->v = n;
        l->cap = cap;
    }
    l->v[l->n++] = *c;
    return 0;
}

static int copy_segment(copy_job *j, uint64_t seg) {
    content_list l = { NULL, 0, 0 };
    pthread_mutex_lock(&j->db->read_mu);
    int rc = op_r_contents(j->db->op, seg, content_collect, &l);
    pthread_mutex_unlock(&j->db->read_mu);
    for (size_t i = 0; !rc && i < l.n; i++) rc = copy_content(j, &l.v[i]);
    free(l.v);
    return rc;
}

static int compact_locked(strata *db, double threshold, strata_compact_stats *st);

static int compact_impl(strata *db, double threshold, strata_compact_stats *st) {
    if (!db) return STRATA_EINVAL;
    pthread_mutex_lock(&db->maint_mu); /* a backup in progress keeps its segments */
    int rc = compact_locked(db, threshold, st);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

int strata_compact(strata *db, double threshold, strata_compact_stats *st) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = compact_impl(db, threshold, st);
    if (db) an_op_end(db->an, AN_OP_COMPACT, t0, rc);
    return rc;
}

static int compact_locked(strata *db, double threshold, strata_compact_stats *st) {
    if (!(threshold >= 0.0 && threshold <= 1.0))
        return strata__err(db, STRATA_EINVAL, "compaction threshold must be within 0..1");
    strata_compact_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&db->commit_mu);
    int poisoned = db->poisoned;
    pthread_mutex_unlock(&db->commit_mu);
    if (poisoned) return strata__err(db, STRATA_EPOISONED, "store refuses writes until reopened");

    /* Compacted segments get the shared dictionary: train one if there is none yet. */
    int rc;
    if (docs_dict_current(db->docs) == 0 && (rc = strata_doc_train_dict(db, NULL)) != STRATA_OK &&
        rc != STRATA_ENOTFOUND)
        return rc;
    /* Seal the active segment so that it can be a victim and nothing appends to one. */
    rc = docs_roll_over(db->docs);
    if (rc) return strata__err(db, rc, "compaction: sealing the active segment: %s", strata_errstr(rc));
    uint64_t active = docs_active_segment(db->docs);

    seg_vec segs = { NULL, 0, 0 };
    pthread_mutex_lock(&db->read_mu);
    rc = op_r_segments(db->op, seg_committed, &segs);
    if (!rc) rc = op_r_live_bytes(db->op, seg_live, &segs);
    pthread_mutex_unlock(&db->read_mu);
    if (rc) { free(segs.v); return strata__err(db, rc, "compaction: reading the catalogue"); }

    seg_vec victims = { NULL, 0, 0 };
    for (size_t i = 0; i < segs.n && !rc; i++) {
        seg_info *s = &segs.v[i];
        if (s->id == active) continue;
        uint64_t used = s->committed > SEG_HDR_SIZE ? s->committed - SEG_HDR_SIZE : 0;
        uint64_t dead = used > s->live ? used - s->live : 0;
        if (!s->compacted || (dead > 0 && (double)dead >= threshold * (double)used)) rc = seg_push(&victims, *s);
    }
    free(segs.v);
    if (rc || victims.n == 0) {
        free(victims.v);
        return rc ? strata__err(db, rc, "out of memory") : STRATA_OK;
    }

    move_vec moves = { NULL, 0, 0 };
    docs_writer *w = NULL;
    copy_job job = { db, NULL, &moves, 0, 0, "" };
    int level = db->opts.compact_level ? db->opts.compact_level : STRATA_DEFAULT_COMPACT_LEVEL;
    if ((rc = docs_compact_begin(db->docs, level, &w)) != STRATA_OK) {
        strata__err(db, rc, "compaction: creating the output segment: %s", strata_errstr(rc));
        goto out;
    }
    job.w = w;
    for (size_t i = 0; i < victims.n && !rc; i++) {
        rc = copy_segment(&job, victims.v[i].id);
        st->bytes_before += victims.v[i].committed;
    }
    if (rc) {
        docs_compact_abort(w);
        strata__err(db, rc, "compaction: %s", *job.err ? job.err : strata_errstr(rc));
        goto out;
    }

    /* Step 2: the switch, excluding every commit. */
    pthread_mutex_lock(&db->write_mu);
    job.locked_pass = 1;
    for (size_t i = 0; i < victims.n && !rc; i++) {
        content_list l = { NULL, 0, 0 };
        rc = op_r_contents(db->op, victims.v[i].id, content_collect, &l); /* reader sees all commits */
        for (size_t k = 0; !rc && k < l.n; k++) rc = copy_content(&job, &l.v[k]);
        free(l.v);
    }
    uint64_t out_id = 0, out_len = 0;
    if (rc) {
        docs_compact_abort(w);
        strata__err(db, rc, "compaction: %s", *job.err ? job.err : strata_errstr(rc));
    } else if ((rc = docs_compact_finish(w, &out_id, &out_len)) != STRATA_OK) {
        strata__err(db, rc, "compaction: syncing the output segment: %s", strata_errstr(rc));
    } else if ((rc = op_w_begin(db->op)) == STRATA_OK) {
        int64_t now = strata__now(db);
        if (moves.n) rc = op_w_segment_insert(db->op, out_id, out_len, 1, now);
        for (size_t i = 0; !rc && i < moves.n; i++) {
            rc = op_w_content_move(db->op, moves.v[i].content_id, moves.v[i].from, &moves.v[i].to);
            if (rc == STRATA_ENOTFOUND) rc = STRATA_OK; /* deleted and dropped meanwhile: fine */
        }
        for (size_t i = 0; !rc && i < victims.n; i++) {
            uint64_t n = 0;
            if ((rc = op_w_content_drop_dead(db->op, victims.v[i].id, &n)) == STRATA_OK) {
                st->contents_dropped += n;
                rc = op_w_segment_delete(db->op, victims.v[i].id);
            }
        }
        if (!rc) rc = op_w_commit(db->op);
        if (rc) {
            strata__err(db, rc, "compaction: catalogue switch: %s", op_errmsg(db->op, 1));
            op_w_rollback(db->op);
        }
    } else {
        strata__err(db, rc, "compaction: %s", op_errmsg(db->op, 1));
    }
    if (rc && out_id) {
        /* The output is unreferenced: remove it now rather than at the next open. */
        docs_remove_segment(db->docs, out_id);
    }
    if (!rc && moves.n == 0) docs_remove_segment(db->docs, out_id);
    /* Readers must see the new locations before the victims disappear. */
    pthread_mutex_lock(&db->read_mu);
    op_r_release(db->op);
    pthread_mutex_unlock(&db->read_mu);
    pthread_mutex_unlock(&db->write_mu);
    if (rc) goto out;

    /* Step 3. */
    for (size_t i = 0; i < victims.n; i++) {
        int r = docs_remove_segment(db->docs, victims.v[i].id);
        if (r && !rc) rc = strata__err(db, r, "compaction: removing segment %llu", (unsigned long long)victims.v[i].id);
    }
    pthread_mutex_lock(&db->write_mu);
    (void)op_w_checkpoint_truncate(db->op); /* best effort: a busy reader can hold it back */
    pthread_mutex_unlock(&db->write_mu);
    st->segments_rewritten = victims.n;
    st->contents_moved = moves.n;
    st->bytes_after = moves.n ? out_len : 0;
out:
    free(moves.v);
    free(victims.v);
    return rc;
}

/* ---- check ---- */
typedef struct check_ctx {
    strata *db; strata_problem_fn fn; void *ctx; uint64_t n;
    su_sha256_ctx sha; uint64_t raw;
} check_ctx;

static void problem(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check_ctx *c, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->n++;
    if (c->fn) c->fn(c->ctx, msg);
}

static void op_problem(void *ctx, const char *msg) { problem(ctx, "%s", msg); }

static int hash_sink(void *ctx, const void *data, size_t n) {
    check_ctx *c = ctx;
    su_sha256_update(&c->sha, data, n);
    c->raw += n;
    return 0;
}

typedef struct names { char text[300]; size_t len; int n; } names;
static int name_add(void *ctx, const void *id, size_t len) {
    names *nm = ctx;
    const unsigned char *p = id;
    if (nm->n++ && nm->len + 2 < sizeof nm->text) nm->len += (size_t)snprintf(nm->text + nm->len, sizeof nm->text - nm->len, ", ");
    if (nm->len + 1 < sizeof nm->text) nm->text[nm->len++] = '\'';
    for (size_t i = 0; i < len && nm->len + 6 < sizeof nm->text; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') nm->text[nm->len++] = (char)p[i];
        else nm->len += (size_t)snprintf(nm->text + nm->len, sizeof nm->text - nm->len, "\\x%02x", p[i]);
    }
    if (nm->len + 1 < sizeof nm->text) nm->text[nm->len++] = '\'';
    nm->text[nm->len] = 0;
    return 0;
}

/* "document 'a'" or "documents 'a', 'b', 'c'" using content id; "" if none. */
static void content_users(check_ctx *c, int64_t content_id, char *out, size_t cap) {
    names nm = { "", 0, 0 };
    (void)op_r_docs_of_content(c->db->op, content_id, 3, name_add, &nm);
    if (nm.n == 0) snprintf(out, cap, "unreferenced content %lld", (long long)content_id);
    else snprintf(out, cap, "%s %s (content %lld)", nm.n > 1 ? "documents" : "document", nm.text,
                  (long long)content_id);
}

static int check_content(void *ctx, const op_content *ct) {
    check_ctx *c = ctx;
    char who[400];
    docs_loc l;
    content_loc(ct, &l);
    char err[256] = "";
    su_sha256_init(&c->sha);
    c->raw = 0;
    int rc = docs_read(c->db->docs, &l, hash_sink, c, err, sizeof err);
    if (rc == STRATA_ENOMEM) return rc;
    if (rc) {
        content_users(c, ct->id, who, sizeof who);
        problem(c, "%s: %s", who, err);
        return 0;
    }
    uint8_t sha[32];
    su_sha256_final(&c->sha, sha);
    if (memcmp(sha, ct->sha256, 32) != 0) {
        content_users(c, ct->id, who, sizeof who);
        problem(c, "%s (segment %llu offset %llu): SHA-256 differs from the catalogue", who,
                (unsigned long long)ct->segment, (unsigned long long)ct->offset);
    }
    return 0;
}

typedef struct seg_check { check_ctx *c; uint64_t active; seg_vec segs; } seg_check;

static int check_impl(strata *db, strata_problem_fn fn, void *ctx, uint64_t *problems) {
    if (!db) return STRATA_EINVAL;
    if (problems) *problems = 0;
    check_ctx c = { db, fn, ctx, 0, { { 0 }, 0, { 0 }, 0, 0 }, 0 };
    seg_vec segs = { NULL, 0, 0 };
    uint64_t *files = NULL;
    size_t nfiles = 0;
    /* Hold the write lock: the catalogue and the files must not move underneath. */
    pthread_mutex_lock(&db->write_mu);
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_check(db->op, op_problem, &c, &c.n);
    if (!rc) rc = op_r_segments(db->op, seg_committed, &segs);
    if (!rc) rc = docs_list_segments(db->docs, &files, &nfiles);
    uint64_t active = docs_active_segment(db->docs);
    for (size_t i = 0; !rc && i < segs.n; i++) {
        int64_t size = docs_segment_size(db->docs, segs.v[i].id);
        char err[256] = "";
        if (size < 0) { problem(&c, "segment %llu is missing", (unsigned long long)segs.v[i].id); continue; }
        if ((uint64_t)size < segs.v[i].committed)
            problem(&c, "segment %llu is %lld bytes, shorter than its committed %llu", (unsigned long long)segs.v[i].id,
                    (long long)size, (unsigned long long)segs.v[i].committed);
        else if ((uint64_t)size > segs.v[i].committed && segs.v[i].id != active)
            problem(&c, "segment %llu has %llu bytes past its committed length", (unsigned long long)segs.v[i].id,
                    (unsigned long long)((uint64_t)size - segs.v[i].committed));
        else if (docs_scan_segment(db->docs, segs.v[i].id, segs.v[i].committed, err, sizeof err) != STRATA_OK)
            problem(&c, "%s", err);
    }
    for (size_t i = 0; !rc && i < nfiles; i++) {
        int known = files[i] == active;
        for (size_t k = 0; k < segs.n && !known; k++) known = segs.v[k].id == files[i];
        if (!known) problem(&c, "segment file %llu is not in the catalogue", (unsigned long long)files[i]);
    }
    if (!rc) rc = op_r_contents(db->op, 0, check_content, &c);
    if (!rc) rc = strata__vec_check(db, op_problem, &c);
    if (!rc && db->an) {
        /* analytics.duckdb opens and answers. */
        an_cursor *cur = NULL;
        char err[256] = "";
        int has = 0;
        int r = an_sql(db->an, "SELECT count(*) FROM duckdb_tables()", NULL, 0, 0, &cur, err, sizeof err);
        if (!r) r = an_cursor_next(cur, &has, err, sizeof err);
        an_cursor_close(cur);
        if (r == STRATA_ENOMEM) rc = r;
        else if (r) problem(&c, "analytics.duckdb: %s", err);
    }
    pthread_mutex_unlock(&db->read_mu);
    pthread_mutex_unlock(&db->write_mu);
    free(segs.v);
    free(files);
    if (rc) return strata__err(db, rc, "check could not run: %s", strata_errstr(rc));
    if (problems) *problems = c.n;
    return STRATA_OK;
}

int strata_check(strata *db, strata_problem_fn fn, void *ctx, uint64_t *problems) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = check_impl(db, fn, ctx, problems);
    if (db) an_op_end(db->an, AN_OP_CHECK, t0, rc);
    return rc;
}
