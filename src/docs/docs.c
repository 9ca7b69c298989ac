/* docs.c — segment files of document content: appends, durable syncs, verified reads,
 * recovery of the active segment, compaction copies.
 *
 * Appends (one content run at a time, under append_mu):
 *   begin -> [roll over if the active segment is full: fsync it, open the next]
 *         -> chunk* (compress, CRC, pwrite at the tail) -> end (location) | abort (truncate)
 * Durability: the commit leader calls docs_sync() before the SQLite commit that makes
 * a run reachable; a rolled-over segment was fsynced when it was sealed. So every run
 * the catalogue references is on disk (principle 1), and bytes past the committed
 * length are garbage that recovery truncates. */
#include "docs/docs.h"
#include "docs/codec.h"
#include "docs/segment.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_INLINE_MAX (4u << 20) /* runs up to this size are read with one pread */
#define RUN_STACK_MAX (32u << 10) /* ... into a stack buffer up to this size */

typedef struct fd_ent { uint64_t id; int fd; } fd_ent;
typedef struct dict_ent { uint32_t id; codec_dict *dict; } dict_ent;

struct docs {
    char *dir;
    docs_config cfg;

    pthread_mutex_t append_mu;  /* the tail of the active segment */
    pthread_mutex_t sync_mu;    /* the active fd against rollover while syncing */
    uint64_t active_id;         /* 0: none yet */
    int active_fd;
    uint64_t active_len;
    uint64_t next_id;

    pthread_rwlock_t lock;      /* fds and dicts */
    fd_ent *fds;
    size_t nfds, capfds;
    dict_ent *dicts;
    size_t ndicts;
    uint32_t current_dict;
};

struct docs_writer {
    docs *d;
    int fd;
    uint64_t seg, start, pos;
    int compact;                /* writing a compaction output segment */
    int nrec;
    uint32_t first_crc;
    uint8_t first_codec;
    uint32_t dict_id;
    const codec_dict *dict;
    int level;
    uint64_t raw_total;
    uint8_t *buf;
    size_t cap;
};

static char *seg_path(docs *d, uint64_t id) {
    char name[40];
    seg_name(id, name, sizeof name);
    size_t n = strlen(d->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", d->dir, name);
    return p;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int docs_open(const char *store_dir, const docs_config *cfg, docs **out, char *err, size_t errlen) {
    *out = NULL;
    docs *d = calloc(1, sizeof *d);
    if (!d) return fail(err, errlen, STRATA_ENOMEM, "out of memory");
    size_t n = strlen(store_dir) + 6;
    d->dir = malloc(n);
    if (!d->dir) { free(d); return fail(err, errlen, STRATA_ENOMEM, "out of memory"); }
    snprintf(d->dir, n, "%s/docs", store_dir);
    d->cfg = *cfg;
    d->active_fd = -1;
    d->next_id = 1;
    pthread_mutex_init(&d->append_mu, NULL);
    pthread_mutex_init(&d->sync_mu, NULL);
    pthread_rwlock_init(&d->lock, NULL);
    if (mkdir(d->dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        docs_close(d);
        return fail(err, errlen, su_errno_status(e), "cannot create %s/docs: %s", store_dir, strerror(e));
    }
    *out = d;
    return STRATA_OK;
}

void docs_close(docs *d) {
    if (!d) return;
    if (d->active_fd >= 0) close(d->active_fd);
    for (size_t i = 0; i < d->nfds; i++) close(d->fds[i].fd);
    for (size_t i = 0; i < d->ndicts; i++) codec_dict_free(d->dicts[i].dict);
    free(d->fds);
    free(d->dicts);
    pthread_mutex_destroy(&d->append_mu);
    pthread_mutex_destroy(&d->sync_mu);
    pthread_rwlock_destroy(&d->lock);
    free(d->dir);
    free(d);
}

/* ---- the table of read fds (sorted by id) ---- */
static int fd_find(docs *d, uint64_t id) {
    size_t lo = 0, hi = d->nfds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->fds[mid].id < id) lo = mid + 1; else hi = mid;
    }
    return lo < d->nfds && d->fds[lo].id == id ? d->fds[lo].fd : -(int)lo - 1;
}

/* A read fd for segment id; call with d->lock held for reading (released and
 * re-taken for writing if the file must be opened). */
static int fd_get(docs *d, uint64_t id, int *fd_out) {
    int r = fd_find(d, id);
    if (r >= 0) { *fd_out = r; return STRATA_OK; }
    pthread_rwlock_unlock(&d->lock);
    pthread_rwlock_wrlock(&d->lock);
    r = fd_find(d, id);
    if (r < 0) {
        char *p = seg_path(d, id);
        int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
        int e = p ? errno : ENOMEM;
        free(p);
        if (fd < 0) {
            pthread_rwlock_unlock(&d->lock);
            pthread_rwlock_rdlock(&d->lock);
            return su_errno_status(e);
        }
        if (d->nfds == d->capfds) {
            size_t cap = d->capfds ? d->capfds * 2 : 16;
            fd_ent *n = realloc(d->fds, cap * sizeof *n);
            if (!n) {
                close(fd);
                pthread_rwlock_unlock(&d->lock);
                pthread_rwlock_rdlock(&d->lock);
                return STRATA_ENOMEM;
            }
            d->fds = n;
            d->capfds = cap;
        }
        size_t at = (size_t)(-r - 1);
        memmove(d->fds + at + 1, d->fds + at, (d->nfds - at) * sizeof *d->fds);
        d->fds[at] = (fd_ent){ id, fd };
        d->nfds++;
        r = fd;
    }
    /* Downgrade: fds are only closed under the write lock, so r stays valid. */
    pthread_rwlock_unlock(&d->lock);
    pthread_rwlock_rdlock(&d->lock);
    r = fd_find(d, id);
    if (r < 0) return STRATA_ENOTFOUND;
    *fd_out = r;
    return STRATA_OK;
}

static void fd_drop(docs *d, uint64_t id) {
    pthread_rwlock_wrlock(&d->lock);
    int r = fd_find(d, id);
    if (r >= 0) {
        size_t lo = 0;
        while (d->fds[lo].id != id) lo++;
        close(d->fds[lo].fd);
        memmove(d->fds + lo, d->fds + lo + 1, (d->nfds - lo - 1) * sizeof *d->fds);
        d->nfds--;
    }
    pthread_rwlock_unlock(&d->lock);
}

/* ---- dictionaries ---- */
int docs_dict_add(docs *d, uint32_t id, const void *data, size_t len) {
    codec_dict *cd = NULL;
    int rc = codec_dict_load(id, data, len, &cd);
    if (rc) return rc;
    pthread_rwlock_wrlock(&d->lock);
    dict_ent *n = realloc(d->dicts, (d->ndicts + 1) * sizeof *n);
    if (!n) {
        pthread_rwlock_unlock(&d->lock);
        codec_dict_free(cd);
        return STRATA_ENOMEM;
    }
    d->dicts = n;
    d->dicts[d->ndicts++] = (dict_ent){ id, cd };
    if (id > d->current_dict) d->current_dict = id;
    pthread_rwlock_unlock(&d->lock);
    return STRATA_OK;
}

uint32_t docs_dict_current(docs *d) {
    pthread_rwlock_rdlock(&d->lock);
    uint32_t id = d->current_dict;
    pthread_rwlock_unlock(&d->lock);
    return id;
}

/* Call with d->lock held. Dictionaries are never unloaded while the handle lives. */
static const codec_dict *dict_find(docs *d, uint32_t id) {
    for (size_t i = 0; i < d->ndicts; i++)
        if (d->dicts[i].id == id) return d->dicts[i].dict;
    return NULL;
}

/* ---- recovery ---- */
static const docs_seg_state *state_find(const docs_seg_state *s, size_t n, uint64_t id) {
    for (size_t i = 0; i < n; i++) if (s[i].id == id) return &s[i];
    return NULL;
}

int docs_list_segments(docs *d, uint64_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    DIR *dir = opendir(d->dir);
    if (!dir) return su_errno_status(errno);
    size_t cap = 0;
    struct dirent *e;
    int rc = STRATA_OK;
    while ((e = readdir(dir)) != NULL) {
        uint64_t id;
        if (!seg_parse_name(e->d_name, &id)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nn = realloc(*ids, cap * sizeof *nn);
            if (!nn) { rc = STRATA_ENOMEM; break; }
            *ids = nn;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(dir);
    if (rc) { free(*ids); *ids = NULL; *n = 0; }
    return rc;
}

int64_t docs_segment_size(docs *d, uint64_t id) {
    char *p = seg_path(d, id);
    struct stat st;
    int ok = p && stat(p, &st) == 0;
    free(p);
    return ok ? (int64_t)st.st_size : -1;
}

static int open_active(docs *d, uint64_t id, uint64_t len, char *err, size_t errlen) {
    char *p = seg_path(d, id);
    if (!p) return fail(err, errlen, STRATA_ENOMEM, "out of memory");
    int fd = open(p, O_RDWR | O_CLOEXEC);
    free(p);
    if (fd < 0) return fail(err, errlen, su_errno_status(errno), "segment %llu: %s", (unsigned long long)id,
                            strerror(errno));
    uint8_t hdr[SEG_HDR_SIZE];
    size_t got = 0;
    int e = su_pread_all(fd, hdr, sizeof hdr, 0, &got);
    if (e || got != sizeof hdr || seg_header_check(hdr, id) != STRATA_OK) {
        close(fd);
        return STRATA_ECORRUPT; /* not reusable; a new segment will be started */
    }
    d->active_id = id;
    d->active_fd = fd;
    d->active_len = len;
    return STRATA_OK;
}

int docs_recover(docs *d, const docs_seg_state *committed, size_t n, docs_problem_fn problem, void *ctx,
                 char *err, size_t errlen) {
    uint64_t *ids = NULL;
    size_t nids = 0;
    int rc = docs_list_segments(d, &ids, &nids);
    if (rc) return fail(err, errlen, rc, "cannot list %s", d->dir);
    char msg[256];
    uint64_t max_id = 0, reuse = 0, reuse_len = 0;
    for (size_t i = 0; i < n; i++) if (committed[i].id > max_id) max_id = committed[i].id;
    for (size_t i = 0; i < nids && !rc; i++) {
        uint64_t id = ids[i];
        if (id > max_id) max_id = id;
        const docs_seg_state *s = state_find(committed, n, id);
        char *p = seg_path(d, id);
        if (!p) { rc = fail(err, errlen, STRATA_ENOMEM, "out of memory"); break; }
        if (!s) {
            /* Never committed: a crash between creating it and the first commit, or a
             * compaction output whose catalogue switch did not happen. */
            if (unlink(p) < 0) rc = fail(err, errlen, su_errno_status(errno), "removing %s: %s", p, strerror(errno));
            free(p);
            continue;
        }
        struct stat st;
        if (stat(p, &st) < 0) { free(p); continue; }
        uint64_t size = (uint64_t)st.st_size;
        if (size > s->committed_length) {
            int fd = open(p, O_RDWR | O_CLOEXEC);
            if (fd < 0 || ftruncate(fd, (off_t)s->committed_length) < 0 || fsync(fd) < 0) {
                int e = errno;
                if (fd >= 0) close(fd);
                rc = fail(err, errlen, su_errno_status(e), "truncating %s: %s", p, strerror(e));
                free(p);
                break;
            }
            close(fd);
            size = s->committed_length;
        } else if (size < s->committed_length) {
            snprintf(msg, sizeof msg, "segment %llu is %llu bytes, shorter than its committed %llu",
                     (unsigned long long)id, (unsigned long long)size, (unsigned long long)s->committed_length);
            if (problem) problem(ctx, msg);
        }
        if (!s->sealed && size == s->committed_length && id > reuse) { reuse = id; reuse_len = size; }
        free(p);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        int present = 0;
        for (size_t j = 0; j < nids; j++) if (ids[j] == committed[i].id) present = 1;
        if (!present && problem) {
            snprintf(msg, sizeof msg, "segment %llu is missing", (unsigned long long)committed[i].id);
            problem(ctx, msg);
        }
    }
    free(ids);
    if (rc) return rc;
    int e = su_fsync_dir(d->dir);
    if (e) return fail(err, errlen, su_errno_status(e), "fsync %s: %s", d->dir, strerror(e));
    d->next_id = max_id + 1;
    /* Keep appending to the newest unsealed segment if it is intact and has room. */
    if (reuse && reuse == max_id && reuse_len < d->cfg.segment_limit)
        (void)open_active(d, reuse, reuse_len, NULL, 0);
    return STRATA_OK;
}

/* ---- appends ---- */
static int create_segment(docs *d, uint64_t id, int *fd_out) {
    char *p = seg_path(d, id);
    if (!p) return STRATA_ENOMEM;
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e = fd < 0 ? errno : 0;
    if (!e) {
        uint8_t hdr[SEG_HDR_SIZE];
        seg_header_encode(hdr, id, d->cfg.now(d->cfg.now_ctx));
        if ((e = su_pwrite_all(fd, hdr, sizeof hdr, 0)) == 0 && fdatasync(fd) < 0) e = errno;
        if (!e) e = su_fsync_dir(d->dir);
        if (e) { close(fd); unlink(p); }
    }
    free(p);
    if (e) return su_errno_status(e);
    *fd_out = fd;
    return STRATA_OK;
}

/* Seal the active segment (fsync) and start the next. Call with append_mu held. */
static int roll_over(docs *d) {
    int fd;
    if (d->active_fd >= 0 && fdatasync(d->active_fd) < 0) return su_errno_status(errno);
    uint64_t id = d->next_id;
    int rc = create_segment(d, id, &fd);
    if (rc) return rc;
    pthread_mutex_lock(&d->sync_mu);
    if (d->active_fd >= 0) close(d->active_fd);
    d->active_fd = fd;
    d->active_id = id;
    d->active_len = SEG_HDR_SIZE;
    d->next_id = id + 1;
    pthread_mutex_unlock(&d->sync_mu);
    return STRATA_OK;
}

int docs_roll_over(docs *d) {
    pthread_mutex_lock(&d->append_mu);
    int rc = d->active_fd >= 0 ? roll_over(d) : STRATA_OK;
    pthread_mutex_unlock(&d->append_mu);
    return rc;
}

uint64_t docs_active_segment(docs *d) {
    pthread_mutex_lock(&d->sync_mu);
    uint64_t id = d->active_id;
    pthread_mutex_unlock(&d->sync_mu);
    return id;
}

static docs_writer *writer_new(docs *d, int level) {
    docs_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->d = d;
    w->level = level;
    w->cap = SEG_REC_HDR_SIZE + codec_bound(CODEC_LZ4_DICT, SEG_CHUNK) + 64;
    if (w->cap < SEG_REC_HDR_SIZE + SEG_MAX_STORED) w->cap = SEG_REC_HDR_SIZE + SEG_MAX_STORED;
    w->buf = malloc(w->cap);
    if (!w->buf) { free(w); return NULL; }
    pthread_rwlock_rdlock(&d->lock);
    w->dict_id = d->current_dict;
    w->dict = dict_find(d, w->dict_id);
    pthread_rwlock_unlock(&d->lock);
    return w;
}

int docs_append_begin(docs *d, docs_writer **out) {
    *out = NULL;
    docs_writer *w = writer_new(d, d->cfg.level);
    if (!w) return STRATA_ENOMEM;
    pthread_mutex_lock(&d->append_mu);
    int rc = STRATA_OK;
    if (d->active_fd < 0 || d->active_len >= d->cfg.segment_limit) rc = roll_over(d);
    if (rc) {
        pthread_mutex_unlock(&d->append_mu);
        free(w->buf);
        free(w);
        return rc;
    }
    w->fd = d->active_fd;
    w->seg = d->active_id;
    w->start = w->pos = d->active_len;
    *out = w;
    return STRATA_OK;
}

/* Encode one record from raw bytes and write it at w->pos. */
static int write_record(docs_writer *w, const void *raw, size_t n, int last) {
    int codec = w->dict ? CODEC_LZ4_DICT : CODEC_LZ4, used = CODEC_RAW;
    size_t stored = 0;
    int rc = STRATA_OK;
    if (n == 0) {
        used = CODEC_RAW;
    } else {
        rc = codec_compress(codec, w->level, w->dict, raw, n, w->buf + SEG_REC_HDR_SIZE,
                            w->cap - SEG_REC_HDR_SIZE, &stored, &used);
        if (rc) return rc;
    }
    seg_rec r = { (uint8_t)((w->nrec == 0 ? SEG_FLAG_FIRST : 0) | (last ? SEG_FLAG_LAST : 0)), (uint8_t)used,
                  used == CODEC_LZ4_DICT || used == CODEC_ZSTD_DICT ? w->dict_id : 0, (uint32_t)stored,
                  (uint32_t)n, 0 };
    seg_rec_encode(w->buf, &r, w->buf + SEG_REC_HDR_SIZE);
    int e = su_pwrite_all(w->fd, w->buf, SEG_REC_HDR_SIZE + stored, w->pos);
    if (e) return su_errno_status(e);
    if (w->nrec == 0) { w->first_crc = r.crc; w->first_codec = r.codec; }
    w->nrec++;
    w->pos += SEG_REC_HDR_SIZE + stored;
    w->raw_total += n;
    return STRATA_OK;
}

int docs_append_chunk(docs_writer *w, const void *raw, size_t n, int last) {
    if (n > SEG_CHUNK) return STRATA_EINVAL;
    return write_record(w, raw, n, last);
}

static void fill_loc(docs_writer *w, docs_loc *loc) {
    *loc = (docs_loc){ w->seg, w->start, w->pos - w->start, w->raw_total, w->first_crc, w->first_codec,
                       w->first_codec == CODEC_LZ4_DICT || w->first_codec == CODEC_ZSTD_DICT ? w->dict_id : 0 };
}

int docs_append_end(docs_writer *w, docs_loc *loc) {
    docs *d = w->d;
    fill_loc(w, loc);
    d->active_len = w->pos;
    pthread_mutex_unlock(&d->append_mu);
    free(w->buf);
    free(w);
    return STRATA_OK;
}

void docs_append_abort(docs_writer *w) {
    if (!w) return;
    docs *d = w->d;
    /* Nobody appended after us (we hold the lock): cut the partial run away so the
     * segment stays a clean chain of whole runs. */
    if (w->pos > w->start && ftruncate(w->fd, (off_t)w->start) < 0) {
        /* The tail stays as garbage past active_len; the next append overwrites it. */
    }
    d->active_len = w->start;
    pthread_mutex_unlock(&d->append_mu);
    free(w->buf);
    free(w);
}

int docs_sync(docs *d) {
    pthread_mutex_lock(&d->sync_mu);
    int rc = d->active_fd >= 0 && fdatasync(d->active_fd) < 0 ? su_errno_status(errno) : STRATA_OK;
    pthread_mutex_unlock(&d->sync_mu);
    return rc;
}

/* ---- reads ---- */
typedef struct run_reader {
    docs *d;
    const docs_loc *loc;
    docs_sink_fn sink;
    void *ctx;
    uint8_t *dst;             /* non-NULL: decode straight into dst[0..loc->raw_length) */
    uint8_t *raw;
    size_t raw_cap;
    uint64_t raw_seen;
    int nrec, last_seen;
    char *err;
    size_t errlen;
} run_reader;

static int corrupt(run_reader *rr, const char *what) {
    return fail(rr->err, rr->errlen, STRATA_ECORRUPT, "segment %llu offset %llu: %s",
                (unsigned long long)rr->loc->segment, (unsigned long long)rr->loc->offset, what);
}

/* Verify one record of the run, decompress it and feed the sink. */
static int take_record(run_reader *rr, const uint8_t *hdr, const seg_rec *r, const uint8_t *payload) {
    if (rr->last_seen) return corrupt(rr, "record after the end of the run");
    if (seg_rec_verify(hdr, r, payload) != STRATA_OK) return corrupt(rr, "checksum mismatch");
    if ((rr->nrec == 0) != !!(r->flags & SEG_FLAG_FIRST)) return corrupt(rr, "run does not start where catalogued");
    if (rr->nrec == 0 && r->crc != rr->loc->checksum) return corrupt(rr, "record is not the catalogued one");
    rr->nrec++;
    rr->last_seen = !!(r->flags & SEG_FLAG_LAST);
    rr->raw_seen += r->raw_len;
    if (rr->raw_seen > rr->loc->raw_length) return corrupt(rr, "run is longer than catalogued");
    uint8_t *out = rr->dst ? rr->dst + (rr->raw_seen - r->raw_len) : NULL;
    if (r->codec == CODEC_RAW) {
        if (r->stored_len != r->raw_len) return corrupt(rr, "raw record length mismatch");
        if (out) { if (r->raw_len) memcpy(out, payload, r->raw_len); return STRATA_OK; }
        return r->raw_len ? rr->sink(rr->ctx, payload, r->raw_len) : STRATA_OK;
    }
    if (!out && rr->raw_cap < r->raw_len) {
        uint8_t *n = realloc(rr->raw, r->raw_len);
        if (!n) return STRATA_ENOMEM;
        rr->raw = n;
        rr->raw_cap = r->raw_len;
    }
    const codec_dict *dict = NULL;
    if (r->codec == CODEC_LZ4_DICT || r->codec == CODEC_ZSTD_DICT) {
        pthread_rwlock_rdlock(&rr->d->lock);
        dict = dict_find(rr->d, r->dict_id);
        pthread_rwlock_unlock(&rr->d->lock);
        if (!dict) return corrupt(rr, "record needs a dictionary the store does not have");
    }
    if (codec_decompress(r->codec, dict, payload, r->stored_len, out ? out : rr->raw, r->raw_len) != STRATA_OK)
        return corrupt(rr, "payload does not decompress");
    return out ? STRATA_OK : rr->sink(rr->ctx, rr->raw, r->raw_len);
}

static int read_run(docs *d, const docs_loc *loc, docs_sink_fn sink, void *ctx, uint8_t *dst, char *err,
                    size_t errlen) {
    run_reader rr = { d, loc, sink, ctx, dst, NULL, 0, 0, 0, 0, err, errlen };
    uint8_t stack[RUN_STACK_MAX];
    if (loc->length < SEG_REC_HDR_SIZE) return corrupt(&rr, "catalogued length is too small");
    pthread_rwlock_rdlock(&d->lock);
    int fd = -1, rc = fd_get(d, loc->segment, &fd);
    uint8_t *buf = NULL;
    if (rc) {
        pthread_rwlock_unlock(&d->lock);
        return fail(err, errlen, rc == STRATA_ENOTFOUND ? STRATA_ECORRUPT : rc, "segment %llu: cannot open: %s",
                    (unsigned long long)loc->segment, strerror(errno));
    }
    uint64_t off = loc->offset, end = loc->offset + loc->length;
    if (loc->length <= RUN_INLINE_MAX) {
        /* One pread for the whole run; records are parsed from memory. */
        uint8_t *run = loc->length <= sizeof stack ? stack : (buf = malloc(loc->length));
        size_t got = 0;
        if (!run) { rc = STRATA_ENOMEM; goto done; }
        int e = su_pread_all(fd, run, loc->length, loc->offset, &got);
        if (e) { rc = fail(err, errlen, su_errno_status(e), "segment read: %s", strerror(e)); goto done; }
        if (got != loc->length) { rc = corrupt(&rr, "segment is shorter than the catalogue says"); goto done; }
        size_t p = 0;
        while (p < loc->length && !rc) {
            seg_rec r;
            if (loc->length - p < SEG_REC_HDR_SIZE || seg_rec_decode(run + p, &r) != STRATA_OK ||
                loc->length - p - SEG_REC_HDR_SIZE < r.stored_len) {
                rc = corrupt(&rr, "malformed record");
                break;
            }
            rc = take_record(&rr, run + p, &r, run + p + SEG_REC_HDR_SIZE);
            p += SEG_REC_HDR_SIZE + r.stored_len;
        }
    } else {
        buf = malloc(SEG_REC_HDR_SIZE + SEG_MAX_STORED);
        if (!buf) { rc = STRATA_ENOMEM; goto done; }
        while (off < end && !rc) {
            seg_rec r;
            size_t got = 0;
            int e = su_pread_all(fd, buf, SEG_REC_HDR_SIZE, off, &got);
            if (e) { rc = fail(err, errlen, su_errno_status(e), "segment read: %s", strerror(e)); break; }
            if (got != SEG_REC_HDR_SIZE || seg_rec_decode(buf, &r) != STRATA_OK ||
                end - off - SEG_REC_HDR_SIZE < r.stored_len) {
                rc = corrupt(&rr, "malformed record");
                break;
            }
            e = su_pread_all(fd, buf + SEG_REC_HDR_SIZE, r.stored_len, off + SEG_REC_HDR_SIZE, &got);
            if (e || got != r.stored_len) { rc = corrupt(&rr, "segment is shorter than the catalogue says"); break; }
            rc = take_record(&rr, buf, &r, buf + SEG_REC_HDR_SIZE);
            off += SEG_REC_HDR_SIZE + r.stored_len;
        }
    }
    if (!rc && (!rr.last_seen || rr.raw_seen != loc->raw_length)) rc = corrupt(&rr, "run is shorter than catalogued");
done:
    pthread_rwlock_unlock(&d->lock);
    free(buf);
    free(rr.raw);
    return rc;
}

int docs_read(docs *d, const docs_loc *loc, docs_sink_fn sink, void *ctx, char *err, size_t errlen) {
    return read_run(d, loc, sink, ctx, NULL, err, errlen);
}

int docs_read_into(docs *d, const docs_loc *loc, void *dst, char *err, size_t errlen) {
    return read_run(d, loc, NULL, NULL, dst, err, errlen);
}

/* ---- compaction ---- */
int docs_compact_begin(docs *d, int level, docs_writer **out) {
    *out = NULL;
    docs_writer *w = writer_new(d, level);
    if (!w) return STRATA_ENOMEM;
    pthread_mutex_lock(&d->append_mu);
    uint64_t id = d->next_id++;
    pthread_mutex_unlock(&d->append_mu);
    int rc = create_segment(d, id, &w->fd);
    if (rc) { free(w->buf); free(w); return rc; }
    w->compact = 1;
    w->seg = id;
    w->pos = SEG_HDR_SIZE;
    *out = w;
    return STRATA_OK;
}

typedef struct copy_ctx { docs_writer *w; uint8_t *pend; size_t npend; uint64_t left; int rc; } copy_ctx;

/* Re-chunk decompressed bytes into SEG_CHUNK records of the output. */
static int copy_sink(void *ctx, const void *data, size_t n) {
    copy_ctx *c = ctx;
    const uint8_t *p = data;
    while (n > 0) {
        size_t take = SEG_CHUNK - c->npend < n ? SEG_CHUNK - c->npend : n;
        memcpy(c->pend + c->npend, p, take);
        c->npend += take;
        p += take;
        n -= take;
        c->left -= take;
        if (c->npend == SEG_CHUNK || c->left == 0) {
            int rc = write_record(c->w, c->pend, c->npend, c->left == 0);
            if (rc) return rc;
            c->npend = 0;
        }
    }
    return STRATA_OK;
}

int docs_compact_copy(docs_writer *w, const docs_loc *loc, int recompress, docs_loc *out, char *err,
                      size_t errlen) {
    (void)recompress; /* every copy is re-encoded with the current dictionary */
    w->start = w->pos;
    w->nrec = 0;
    w->raw_total = 0;
    copy_ctx c = { w, malloc(SEG_CHUNK), 0, loc->raw_length, 0 };
    if (!c.pend) return STRATA_ENOMEM;
    int rc;
    if (loc->raw_length == 0) {
        char probe;
        rc = docs_read(w->d, loc, copy_sink, &c, err, errlen);
        if (!rc) rc = write_record(w, &probe, 0, 1);
    } else {
        rc = docs_read(w->d, loc, copy_sink, &c, err, errlen);
    }
    free(c.pend);
    if (rc) return rc;
    fill_loc(w, out);
    return STRATA_OK;
}

int docs_compact_finish(docs_writer *w, uint64_t *seg_id, uint64_t *length) {
    int rc = fdatasync(w->fd) < 0 ? su_errno_status(errno) : STRATA_OK;
    *seg_id = w->seg;
    *length = w->pos;
    close(w->fd);
    free(w->buf);
    free(w);
    return rc;
}

void docs_compact_abort(docs_writer *w) {
    if (!w) return;
    char *p = seg_path(w->d, w->seg);
    close(w->fd);
    if (p) unlink(p);
    free(p);
    free(w->buf);
    free(w);
}

int docs_remove_segment(docs *d, uint64_t id) {
    fd_drop(d, id);
    char *p = seg_path(d, id);
    if (!p) return STRATA_ENOMEM;
    int rc = unlink(p) < 0 && errno != ENOENT ? su_errno_status(errno) : STRATA_OK;
    free(p);
    if (!rc) {
        int e = su_fsync_dir(d->dir);
        if (e) rc = su_errno_status(e);
    }
    return rc;
}

/* ---- check ---- */
int docs_scan_segment(docs *d, uint64_t id, uint64_t length, char *err, size_t errlen) {
    char *p = seg_path(d, id);
    if (!p) return STRATA_ENOMEM;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd < 0) return fail(err, errlen, STRATA_ECORRUPT, "segment %llu: cannot open: %s", (unsigned long long)id,
                            strerror(errno));
    uint8_t *buf = malloc(SEG_REC_HDR_SIZE + SEG_MAX_STORED);
    int rc = STRATA_OK;
    size_t got = 0;
    if (!buf) { close(fd); return STRATA_ENOMEM; }
    if (su_pread_all(fd, buf, SEG_HDR_SIZE, 0, &got) || got != SEG_HDR_SIZE ||
        seg_header_check(buf, id) != STRATA_OK) {
        rc = fail(err, errlen, STRATA_ECORRUPT, "segment %llu: bad header", (unsigned long long)id);
        goto done;
    }
    uint64_t off = SEG_HDR_SIZE;
    int in_run = 0;
    while (off < length) {
        seg_rec r;
        if (su_pread_all(fd, buf, SEG_REC_HDR_SIZE, off, &got) || got != SEG_REC_HDR_SIZE ||
            seg_rec_decode(buf, &r) != STRATA_OK || length - off - SEG_REC_HDR_SIZE < r.stored_len ||
            su_pread_all(fd, buf + SEG_REC_HDR_SIZE, r.stored_len, off + SEG_REC_HDR_SIZE, &got) ||
            got != r.stored_len || seg_rec_verify(buf, &r, buf + SEG_REC_HDR_SIZE) != STRATA_OK ||
            ((r.flags & SEG_FLAG_FIRST) ? in_run : !in_run)) {
            rc = fail(err, errlen, STRATA_ECORRUPT, "segment %llu: bad record at offset %llu",
                      (unsigned long long)id, (unsigned long long)off);
            goto done;
        }
        in_run = !(r.flags & SEG_FLAG_LAST);
        off += SEG_REC_HDR_SIZE + r.stored_len;
    }
    if (in_run || off != length)
        rc = fail(err, errlen, STRATA_ECORRUPT, "segment %llu: ends inside a record or run", (unsigned long long)id);
done:
    free(buf);
    close(fd);
    return rc;
}
