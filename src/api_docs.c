/* api_docs.c — the public document calls: validate, hash (SHA-256, for dedup),
 * append content to segments (docs/), and queue the catalogue row on the commit
 * protocol (store.c). Reads look the location up in the catalogue and verify every
 * record they return. */
#include "internal.h"
#include "analytics/analytics.h"
#include "cache/cache.h"
#include "docs/codec.h"
#include "docs/segment.h"
#include "util/sha256.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILENAME_MAX_BYTES 4096

static uint64_t max_doc(strata *db) {
    return db->opts.max_doc_bytes ? db->opts.max_doc_bytes : STRATA_DEFAULT_MAX_DOC_BYTES;
}

static int check_id(strata *db, const void *id, size_t len) {
    if (!id) return strata__err(db, STRATA_EINVAL, "document id is NULL");
    if (len == 0) return strata__err(db, STRATA_EINVAL, "document id is empty");
    if (len > STRATA_DOC_ID_MAX)
        return strata__err(db, STRATA_EINVAL, "document id is %zu bytes, longer than %d", len, STRATA_DOC_ID_MAX);
    return STRATA_OK;
}

/* A printable rendering of an id for messages (truncated, escaped). */
static void id_text(const void *id, size_t len, char *out, size_t cap) {
    const unsigned char *p = id;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') out[o++] = (char)p[i];
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
    }
    out[o] = 0;
}

/* Validate put options; copy what the op keeps. */
static int put_prepare(strata *db, const void *id, size_t id_len, const strata_doc_put_opts *o, doc_op **out) {
    int rc = check_id(db, id, id_len);
    if (rc) return rc;
    const char *meta = o ? o->metadata_json : NULL, *fname = o ? o->filename : NULL;
    if (o) for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i]) return strata__err(db, STRATA_EINVAL, "put options: reserved fields must be zero");
    if (meta && (rc = strata__check_json(db, "document metadata", meta, 1))) return rc;
    if (fname) {
        size_t n = strnlen(fname, FILENAME_MAX_BYTES + 1);
        if (n > FILENAME_MAX_BYTES)
            return strata__err(db, STRATA_EINVAL, "filename is longer than %d bytes", FILENAME_MAX_BYTES);
    }
    doc_op *d = calloc(1, sizeof *d);
    if (!d || !(d->id = malloc(id_len)) || (meta && !(d->meta = strdup(meta))) ||
        (fname && !(d->filename = strdup(fname)))) {
        if (d) { free(d->id); free(d->meta); free(d); }
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    memcpy(d->id, id, id_len);
    d->p.id = d->id;
    d->p.id_len = id_len;
    d->p.metadata_json = d->meta;
    d->p.filename = d->filename;
    *out = d;
    return STRATA_OK;
}

static void loc_to_content(const docs_loc *l, op_content *c) {
    c->segment = l->segment;
    c->offset = l->offset;
    c->length = l->length;
    c->raw_length = l->raw_length;
    c->checksum = l->checksum;
    c->codec = l->codec;
    c->dict_id = l->dict_id;
}

/* Queue the op; on failure the op is freed. */
static int put_finish(strata *db, strata_txn *txn, doc_op *d) {
    /* The op belongs to the transaction from here on (and is freed by its commit). */
    uint64_t undict = d->appended && !d->p.content.dict_id ? d->p.content.raw_length : 0;
    txop op = { TXOP_DOC_PUT, NULL, NULL, 0, 0, d, NULL };
    int rc = strata__write(db, txn, op, NULL);
    if (!rc && undict) {
        pthread_mutex_lock(&db->touch_mu);
        db->undict_bytes += undict;
        pthread_mutex_unlock(&db->touch_mu);
    }
    return rc;
}

/* Dedup inside one transaction: a put of content an earlier put of the same txn
 * appended shares that run (the first op inserts the content row at commit, the
 * later ones find it by hash). Concurrent transactions storing the same new content
 * may both append; compaction reclaims the loser's bytes. */
static int content_in_txn(strata_txn *txn, const uint8_t sha[32]) {
    if (!txn) return 0;
    for (uint32_t i = 0; i < txn->nops; i++) {
        doc_op *o = txn->ops[i].doc;
        if (txn->ops[i].kind == TXOP_DOC_PUT && o && !memcmp(o->p.content.sha256, sha, 32) &&
            (o->appended || o->p.content.segment == 0))
            return 1;
    }
    return 0;
}

/* 1 if content with this hash is already stored (dedup: no bytes need appending). */
static int content_known(strata *db, const uint8_t sha[32]) {
    op_content c;
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_content_by_sha(db->op, sha, &c);
    pthread_mutex_unlock(&db->read_mu);
    return rc == STRATA_OK;
}

static int append_error(strata *db, int rc, const char *what) {
    if (rc == STRATA_ENOSPC) return strata__err(db, rc, "%s: no space left on device", what);
    return strata__err(db, rc, "%s: %s", what, strata_errstr(rc));
}

static int doc_put_impl(strata *db, strata_txn *txn, const void *id, size_t id_len, const void *data, size_t len,
                   const strata_doc_put_opts *opts) {
    if (!db) return STRATA_EINVAL;
    if (!data && len) return strata__err(db, STRATA_EINVAL, "data is NULL");
    if (len > max_doc(db))
        return strata__err(db, STRATA_ETOOBIG, "document is %zu bytes, above the store's limit of %llu", len,
                           (unsigned long long)max_doc(db));
    doc_op *d = NULL;
    int rc = put_prepare(db, id, id_len, opts, &d);
    if (rc) return rc;
    su_sha256(data, len, d->p.content.sha256);
    d->p.content.raw_length = len;
    if (txn && txn->db != db) {
        txop tmp = { TXOP_DOC_PUT, NULL, NULL, 0, 0, d, NULL };
        strata__txop_free(&tmp);
        return strata__err(db, STRATA_EMISUSE, "transaction belongs to another handle");
    }
    if (!content_in_txn(txn, d->p.content.sha256) && !content_known(db, d->p.content.sha256)) {
        docs_writer *w;
        if ((rc = docs_append_begin(db->docs, &w)) != STRATA_OK) {
            txop tmp = { TXOP_DOC_PUT, NULL, NULL, 0, 0, d, NULL };
            strata__txop_free(&tmp);
            return append_error(db, rc, "document put");
        }
        const uint8_t *p = data;
        size_t left = len;
        do {
            size_t n = left < SEG_CHUNK ? left : SEG_CHUNK;
            rc = docs_append_chunk(w, p, n, n == left);
            p += n;
            left -= n;
        } while (!rc && left > 0);
        docs_loc loc;
        if (rc) docs_append_abort(w);
        else docs_append_end(w, &loc);
        if (rc) {
            txop tmp = { TXOP_DOC_PUT, NULL, NULL, 0, 0, d, NULL };
            strata__txop_free(&tmp);
            return append_error(db, rc, "document put");
        }
        loc_to_content(&loc, &d->p.content);
        d->appended = 1;
    }
    return put_finish(db, txn, d);
}

int strata_doc_put(strata *db, strata_txn *txn, const void *id, size_t id_len, const void *data, size_t len,
                   const strata_doc_put_opts *opts) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_put_impl(db, txn, id, id_len, data, len, opts);
    if (db) an_op_end(db->an, AN_OP_DOC_PUT, t0, rc);
    return rc;
}

static int doc_put_stream_impl(strata *db, strata_txn *txn, const void *id, size_t id_len, strata_read_fn read,
                          void *ctx, const strata_doc_put_opts *opts) {
    if (!db) return STRATA_EINVAL;
    if (!read) return strata__err(db, STRATA_EINVAL, "read callback is NULL");
    doc_op *d = NULL;
    int rc = put_prepare(db, id, id_len, opts, &d);
    if (rc) return rc;
    txop tmp = { TXOP_DOC_PUT, NULL, NULL, 0, 0, d, NULL };
    uint8_t *buf[2] = { malloc(SEG_CHUNK), malloc(SEG_CHUNK) };
    size_t fill[2] = { 0, 0 };
    docs_writer *w = NULL;
    su_sha256_ctx sha;
    su_sha256_init(&sha);
    uint64_t total = 0;
    int cur = 0, eof = 0;
    if (!buf[0] || !buf[1]) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto fail; }
    if ((rc = docs_append_begin(db->docs, &w)) != STRATA_OK) { append_error(db, rc, "document put"); goto fail; }
    /* Double buffering: a chunk is written once the next one is known, so the last
     * chunk can carry the LAST flag. Memory stays at two chunks. */
    for (;;) {
        while (!eof && fill[cur] < SEG_CHUNK) {
            long long n = read(ctx, buf[cur] + fill[cur], SEG_CHUNK - fill[cur]);
            if (n < 0) { rc = strata__err(db, STRATA_EIO, "document put: the read callback failed"); goto fail; }
            if (n == 0) eof = 1;
            if ((size_t)n > SEG_CHUNK - fill[cur]) {
                rc = strata__err(db, STRATA_EINVAL, "document put: the read callback returned more than asked");
                goto fail;
            }
            fill[cur] += (size_t)n;
            total += (uint64_t)n;
            if (total > max_doc(db)) {
                rc = strata__err(db, STRATA_ETOOBIG, "document is larger than the store's limit of %llu bytes",
                                 (unsigned long long)max_doc(db));
                goto fail;
            }
        }
        int prev = !cur;
        if (fill[prev] || (eof && fill[cur] == 0 && total == 0)) {
            /* Write the previous chunk; it is the last if nothing follows. */
            int last = eof && fill[cur] == 0;
            su_sha256_update(&sha, buf[prev], fill[prev]);
            if ((rc = docs_append_chunk(w, buf[prev], fill[prev], last)) != STRATA_OK) {
                append_error(db, rc, "document put");
                goto fail;
            }
            fill[prev] = 0;
            if (last) break;
        }
        if (eof && fill[cur] == 0) break;
        if (eof) {
            su_sha256_update(&sha, buf[cur], fill[cur]);
            if ((rc = docs_append_chunk(w, buf[cur], fill[cur], 1)) != STRATA_OK) {
                append_error(db, rc, "document put");
                goto fail;
            }
            break;
        }
        cur = prev;
    }
    su_sha256_final(&sha, d->p.content.sha256);
    if ((txn && txn->db == db && content_in_txn(txn, d->p.content.sha256)) || content_known(db, d->p.content.sha256)) {
        docs_append_abort(w); /* identical content is stored once */
        d->p.content.raw_length = total;
    } else {
        docs_loc loc;
        docs_append_end(w, &loc);
        loc_to_content(&loc, &d->p.content);
        d->appended = 1;
    }
    free(buf[0]);
    free(buf[1]);
    return put_finish(db, txn, d);
fail:
    if (w) docs_append_abort(w);
    free(buf[0]);
    free(buf[1]);
    strata__txop_free(&tmp);
    return rc;
}

int strata_doc_put_stream(strata *db, strata_txn *txn, const void *id, size_t id_len, strata_read_fn read,
                          void *ctx, const strata_doc_put_opts *opts) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_put_stream_impl(db, txn, id, id_len, read, ctx, opts);
    if (db) an_op_end(db->an, AN_OP_DOC_PUT, t0, rc);
    return rc;
}

typedef struct fd_src { int fd; int err; } fd_src;
static long long fd_read(void *ctx, void *buf, size_t cap) {
    fd_src *s = ctx;
    for (;;) {
        ssize_t n = read(s->fd, buf, cap);
        if (n >= 0) return n;
        if (errno != EINTR) { s->err = errno; return -1; }
    }
}

int strata_doc_put_fd(strata *db, strata_txn *txn, const void *id, size_t id_len, int fd,
                      const strata_doc_put_opts *opts) {
    if (!db) return STRATA_EINVAL;
    if (fd < 0) return strata__err(db, STRATA_EINVAL, "bad file descriptor");
    fd_src s = { fd, 0 };
    int rc = strata_doc_put_stream(db, txn, id, id_len, fd_read, &s, opts);
    if (rc == STRATA_EIO && s.err) strata__err(db, su_errno_status(s.err), "document put: reading the file: %s", strerror(s.err));
    return rc == STRATA_EIO && s.err ? su_errno_status(s.err) : rc;
}

/* ---- reads ---- */
static int lookup(strata *db, const void *id, size_t id_len, int want_meta, op_doc_row *row) {
    pthread_mutex_lock(&db->read_mu);
    int rc = op_r_doc_get(db->op, id, id_len, want_meta, row);
    if (rc) {
        char idt[96];
        id_text(id, id_len, idt, sizeof idt);
        if (rc == STRATA_ENOTFOUND) strata__err(db, rc, "document '%s' not found", idt);
        else if (rc == STRATA_ECORRUPT) strata__err(db, rc, "document '%s': its content row is missing", idt);
        else strata__err(db, rc, "document lookup: %s", op_errmsg(db->op, 0));
    }
    pthread_mutex_unlock(&db->read_mu);
    return rc;
}

static void row_loc(const op_doc_row *r, docs_loc *l) {
    *l = (docs_loc){ r->c.segment, r->c.offset, r->c.length, r->c.raw_length, r->c.checksum, (uint8_t)r->c.codec,
                     r->c.dict_id };
}

/* Read a document's content into sink, or (sink NULL) into a malloc'd buffer *mem of
 * raw_length + 1 bytes; retried once if a compaction moved it meanwhile. */
static int read_doc(strata *db, const void *id, size_t id_len, docs_sink_fn sink, void *ctx, uint8_t **mem,
                    size_t *mem_len) {
    int rc = check_id(db, id, id_len);
    if (rc) return rc;
    /* The hot tier first (recently read content, dropped by the commit that changes
     * it). The token, taken before the disk read, keeps a racing commit's older
     * version out of the cache. */
    uint64_t tok = cache_doc_token(db->cache, id, id_len);
    rc = mem ? cache_doc_get(db->cache, id, id_len, (void **)mem, mem_len)
             : cache_doc_get_fn(db->cache, id, id_len, sink, ctx);
    if (rc != STRATA_ENOTFOUND) {
        if (rc == STRATA_OK) strata__touch(db, id, id_len);
        return rc;
    }
    for (int attempt = 0;; attempt++) {
        op_doc_row row;
        if ((rc = lookup(db, id, id_len, 0, &row)) != STRATA_OK) return rc;
        docs_loc loc;
        row_loc(&row, &loc);
        char err[256] = "";
        if (mem) {
            if (row.c.raw_length >= SIZE_MAX || !(*mem = malloc((size_t)row.c.raw_length + 1)))
                return strata__err(db, STRATA_ENOMEM, "out of memory for a %llu-byte document",
                                   (unsigned long long)row.c.raw_length);
            *mem_len = (size_t)row.c.raw_length;
            rc = docs_read_into(db->docs, &loc, *mem, err, sizeof err);
            if (rc) { free(*mem); *mem = NULL; }
            else (void)cache_doc_put(db->cache, id, id_len, *mem, *mem_len, tok); /* best effort */
        } else {
            rc = docs_read(db->docs, &loc, sink, ctx, err, sizeof err);
        }
        if (rc == STRATA_OK) {
            strata__touch(db, id, id_len);
            return STRATA_OK;
        }
        if (rc == STRATA_ECORRUPT && attempt == 0) {
            op_doc_row again;
            if (lookup(db, id, id_len, 0, &again) == STRATA_OK &&
                (again.c.segment != row.c.segment || again.c.offset != row.c.offset))
                continue; /* moved under us by compaction */
        }
        char idt[96];
        id_text(id, id_len, idt, sizeof idt);
        if (rc == STRATA_ECORRUPT)
            return strata__err(db, rc, "document '%s' is corrupt: %s", idt, err);
        if (*err) return strata__err(db, rc, "document '%s': %s", idt, err);
        return rc; /* the sink's own status */
    }
}

static int doc_get_impl(strata *db, const void *id, size_t id_len, void **data, size_t *len) {
    if (!db) return STRATA_EINVAL;
    if (!data || !len) return strata__err(db, STRATA_EINVAL, "data or len is NULL");
    *data = NULL;
    *len = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = read_doc(db, id, id_len, NULL, NULL, &buf, &n);
    if (rc) return rc;
    buf[n] = 0;
    *data = buf;
    *len = n;
    return STRATA_OK;
}

int strata_doc_get(strata *db, const void *id, size_t id_len, void **data, size_t *len) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_get_impl(db, id, id_len, data, len);
    if (db) an_op_end(db->an, AN_OP_DOC_GET, t0, rc);
    return rc;
}

typedef struct user_sink { strata_write_fn fn; void *ctx; } user_sink;
static int user_write(void *ctx, const void *data, size_t n) {
    user_sink *u = ctx;
    return u->fn(u->ctx, data, n);
}

static int doc_get_stream_impl(strata *db, const void *id, size_t id_len, strata_write_fn write, void *ctx) {
    if (!db) return STRATA_EINVAL;
    if (!write) return strata__err(db, STRATA_EINVAL, "write callback is NULL");
    user_sink u = { write, ctx };
    return read_doc(db, id, id_len, user_write, &u, NULL, NULL);
}

int strata_doc_get_stream(strata *db, const void *id, size_t id_len, strata_write_fn write, void *ctx) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_get_stream_impl(db, id, id_len, write, ctx);
    if (db) an_op_end(db->an, AN_OP_DOC_GET, t0, rc);
    return rc;
}

static int fd_write(void *ctx, const void *data, size_t n) {
    int fd = *(int *)ctx;
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return su_errno_status(errno);
        }
        p += w;
        n -= (size_t)w;
    }
    return STRATA_OK;
}

static int doc_get_fd_impl(strata *db, const void *id, size_t id_len, int fd) {
    if (!db) return STRATA_EINVAL;
    if (fd < 0) return strata__err(db, STRATA_EINVAL, "bad file descriptor");
    int rc = read_doc(db, id, id_len, fd_write, &fd, NULL, NULL);
    if (rc && rc != STRATA_ENOTFOUND && rc != STRATA_ECORRUPT && rc != STRATA_EINVAL && !*strata_errmsg(db))
        strata__err(db, rc, "document get: writing the output failed");
    return rc;
}

int strata_doc_get_fd(strata *db, const void *id, size_t id_len, int fd) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_get_fd_impl(db, id, id_len, fd);
    if (db) an_op_end(db->an, AN_OP_DOC_GET, t0, rc);
    return rc;
}

static int doc_delete_impl(strata *db, strata_txn *txn, const void *id, size_t id_len) {
    if (!db) return STRATA_EINVAL;
    doc_op *d = NULL;
    int rc = put_prepare(db, id, id_len, NULL, &d);
    if (rc) return rc;
    txop op = { TXOP_DOC_DEL, NULL, NULL, 0, 0, d, NULL };
    return strata__write(db, txn, op, NULL);
}

int strata_doc_delete(strata *db, strata_txn *txn, const void *id, size_t id_len) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_delete_impl(db, txn, id, id_len);
    if (db) an_op_end(db->an, AN_OP_DOC_DELETE, t0, rc);
    return rc;
}

int strata_doc_exists(strata *db, const void *id, size_t id_len, int *exists) {
    if (!db) return STRATA_EINVAL;
    if (!exists) return strata__err(db, STRATA_EINVAL, "exists is NULL");
    *exists = 0;
    int rc = check_id(db, id, id_len);
    if (rc) return rc;
    op_doc_row row;
    rc = lookup(db, id, id_len, 0, &row);
    if (rc == STRATA_OK || rc == STRATA_ECORRUPT) { *exists = 1; return STRATA_OK; }
    return rc == STRATA_ENOTFOUND ? STRATA_OK : rc;
}

static const char *codec_name(int c) {
    switch (c) {
    case CODEC_RAW: return "raw";
    case CODEC_LZ4: return "lz4";
    case CODEC_LZ4_DICT: return "lz4+dict";
    case CODEC_ZSTD: return "zstd";
    case CODEC_ZSTD_DICT: return "zstd+dict";
    default: return "unknown";
    }
}

static int doc_stat_impl(strata *db, const void *id, size_t id_len, strata_doc_info **out) {
    if (!db) return STRATA_EINVAL;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    int rc = check_id(db, id, id_len);
    if (rc) return rc;
    op_doc_row row;
    if ((rc = lookup(db, id, id_len, 1, &row)) != STRATA_OK) return rc;
    strata_doc_info *i = calloc(1, sizeof *i);
    if (!i || !(i->id = malloc(id_len))) {
        free(i);
        free(row.filename);
        free(row.metadata_json);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    memcpy(i->id, id, id_len);
    i->id_len = id_len;
    i->filename = row.filename;
    i->metadata_json = row.metadata_json;
    memcpy(i->content_hash, row.c.sha256, 32);
    i->size = row.size;
    i->stored_size = row.c.length;
    i->codec = codec_name(row.c.codec);
    i->tier = "warm";
    i->segment = row.c.segment;
    i->created_at_ms = row.created_at;
    i->updated_at_ms = row.updated_at;
    i->last_access_ms = row.last_access;
    i->lsn = row.lsn;
    *out = i;
    return STRATA_OK;
}

int strata_doc_stat(strata *db, const void *id, size_t id_len, strata_doc_info **out) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = doc_stat_impl(db, id, id_len, out);
    if (db) an_op_end(db->an, AN_OP_DOC_STAT, t0, rc);
    return rc;
}

void strata_doc_info_free(strata_doc_info *i) {
    if (!i) return;
    free(i->id);
    free(i->filename);
    free(i->metadata_json);
    free(i);
}

/* ---- cursor: keyset pagination, so no lock is held between calls ---- */
#define CURSOR_BATCH 256
struct strata_doc_cursor {
    strata *db;
    uint8_t *lo, *hi;            /* prefix range [lo, hi); hi NULL: unbounded */
    size_t lo_len, hi_len;
    char *path, *value;
    uint8_t *ids;                /* the current batch, packed */
    size_t *offs;                /* CURSOR_BATCH + 1 offsets into ids */
    size_t ids_cap;
    int n, pos, done;
    uint8_t last[STRATA_DOC_ID_MAX];
    size_t last_len;
    int have_last;
};

typedef struct batch_ctx { strata_doc_cursor *c; int err; } batch_ctx;
static int batch_add(void *ctx, const void *id, size_t len) {
    batch_ctx *b = ctx;
    strata_doc_cursor *c = b->c;
    size_t at = c->offs[c->n];
    if (at + len > c->ids_cap) {
        size_t cap = (at + len) * 2;
        uint8_t *n = realloc(c->ids, cap);
        if (!n) { b->err = STRATA_ENOMEM; return 1; }
        c->ids = n;
        c->ids_cap = cap;
    }
    memcpy(c->ids + at, id, len);
    c->n++;
    c->offs[c->n] = at + len;
    return 0;
}

int strata_doc_cursor_open(strata *db, const strata_doc_filter *f, strata_doc_cursor **out) {
    if (!db) return STRATA_EINVAL;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    if (f) {
        for (size_t i = 0; i < sizeof f->reserved / sizeof f->reserved[0]; i++)
            if (f->reserved[i]) return strata__err(db, STRATA_EINVAL, "filter: reserved fields must be zero");
        if (f->prefix_len > STRATA_DOC_ID_MAX) return strata__err(db, STRATA_EINVAL, "filter: prefix is too long");
        if (f->prefix_len && !f->prefix) return strata__err(db, STRATA_EINVAL, "filter: prefix is NULL");
        if (f->meta_path && !f->meta_value_json)
            return strata__err(db, STRATA_EINVAL, "filter: meta_path needs meta_value_json");
        if (!f->meta_path && f->meta_value_json)
            return strata__err(db, STRATA_EINVAL, "filter: meta_value_json needs meta_path");
        if (f->meta_path && (f->meta_path[0] != '$'))
            return strata__err(db, STRATA_EINVAL, "filter: meta_path must start with '$' (e.g. \"$.lang\")");
        int rc;
        if (f->meta_value_json && (rc = strata__check_json(db, "filter value", f->meta_value_json, 0))) return rc;
    }
    strata_doc_cursor *c = calloc(1, sizeof *c);
    if (!c || !(c->offs = calloc(CURSOR_BATCH + 1, sizeof *c->offs))) {
        free(c);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    c->db = db;
    int oom = 0;
    if (f && f->prefix_len) {
        c->lo = malloc(f->prefix_len);
        c->hi = malloc(f->prefix_len);
        if (!c->lo || !c->hi) oom = 1;
        else {
            memcpy(c->lo, f->prefix, f->prefix_len);
            c->lo_len = f->prefix_len;
            /* The smallest id above every id with this prefix: drop trailing 0xff
             * bytes, then increment the last byte; none left means unbounded. */
            memcpy(c->hi, f->prefix, f->prefix_len);
            size_t n = f->prefix_len;
            while (n > 0 && c->hi[n - 1] == 0xff) n--;
            if (n == 0) { free(c->hi); c->hi = NULL; }
            else { c->hi[n - 1]++; c->hi_len = n; }
        }
    }
    if (f && f->meta_path && (!(c->path = strdup(f->meta_path)) || !(c->value = strdup(f->meta_value_json)))) oom = 1;
    if (oom) {
        strata_doc_cursor_close(c);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    *out = c;
    return STRATA_OK;
}

int strata_doc_cursor_next(strata_doc_cursor *c, const void **id, size_t *id_len) {
    if (!c) return STRATA_EINVAL;
    if (!id || !id_len) return strata__err(c->db, STRATA_EINVAL, "id or id_len is NULL");
    *id = NULL;
    *id_len = 0;
    if (c->pos >= c->n) {
        if (c->done) return STRATA_OK;
        c->n = c->pos = 0;
        c->offs[0] = 0;
        batch_ctx b = { c, 0 };
        char err[256] = "";
        int got = 0;
        pthread_mutex_lock(&c->db->read_mu);
        int rc = op_r_doc_ids(c->db->op, c->have_last ? c->last : NULL, c->last_len, c->lo, c->lo_len, c->hi,
                              c->hi_len, c->path, c->value, CURSOR_BATCH, batch_add, &b, &got, err, sizeof err);
        pthread_mutex_unlock(&c->db->read_mu);
        if (b.err) return strata__err(c->db, b.err, "out of memory");
        if (rc) return strata__err(c->db, rc, "document list: %s", err);
        if (c->n < CURSOR_BATCH) c->done = 1;
        if (c->n == 0) return STRATA_OK;
        size_t l = c->offs[c->n] - c->offs[c->n - 1];
        memcpy(c->last, c->ids + c->offs[c->n - 1], l);
        c->last_len = l;
        c->have_last = 1;
    }
    *id = c->ids + c->offs[c->pos];
    *id_len = c->offs[c->pos + 1] - c->offs[c->pos];
    c->pos++;
    return STRATA_OK;
}

void strata_doc_cursor_close(strata_doc_cursor *c) {
    if (!c) return;
    free(c->lo);
    free(c->hi);
    free(c->path);
    free(c->value);
    free(c->ids);
    free(c->offs);
    free(c);
}
