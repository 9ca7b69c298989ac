/* vlog.c — the vector log: the durable copy of a collection's vectors. An
 * append-only file of fixed-size, checksummed records (format: doc/format/vector.md)
 * after a 64-byte header that names dim, dtype and metric.
 *
 * Durability rules (store.c keeps the committed length in SQLite):
 *  1. append writes without fsync; vec_log_sync() makes everything appended durable.
 *     store.c syncs the log before the SQLite commit that records its new length.
 *  2. At open, store.c truncates the log to the committed length it knows: records
 *     past it belong to transactions that never committed.
 *  3. Replay stops at the first record that is partial or fails its checks (CRC,
 *     tag, op, dim, finite components) and reports its offset: past the committed
 *     length that is a torn tail, before it it is corruption — the caller decides.
 *  4. A failed write or fsync poisons the handle (STRATA_EPOISONED): after a failed
 *     fsync the kernel may have dropped dirty pages, so nothing written since the
 *     last good sync can be trusted; reopen and truncate to the committed length.
 */
#include "vector/vec.h"
#include "strata.h"
#include "util/crc32c.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include "vector/vmath.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VLOG_MAGIC "STRATAVL"
#define VLOG_VERSION 1u
#define VLOG_HDR 64u
#define VLOG_REC_TAG 0x5256u /* "VR" */
#define VLOG_REC_FIXED 28u   /* tag..lsn (24) + CRC (4) */

struct vec_log {
    int fd;
    uint32_t dim, rec_size;
    int dtype, metric;
    uint64_t len;
    int poisoned;
    uint8_t *rec; /* one record */
};

static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* fsync the directory that holds `path` (a file name). 0 or errno. */
static int fsync_parent(const char *path) {
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) return ENOMEM;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    int rc = su_fsync_dir(dir);
    free(dir);
    return rc;
}

uint32_t vec_log_header_size(void) { return VLOG_HDR; }
uint32_t vec_log_record_size(const vec_log *l) { return l->rec_size; }
uint64_t vec_log_length(const vec_log *l) { return l->len; }

static uint32_t rec_size_for(uint32_t dim) { return VLOG_REC_FIXED + 4 * dim; }

static void header_encode(uint8_t *h, uint32_t dim, int dtype, int metric) {
    memset(h, 0, VLOG_HDR);
    memcpy(h, VLOG_MAGIC, 8);
    put32(h + 8, VLOG_VERSION);
    put32(h + 12, VLOG_HDR);
    put32(h + 16, dim);
    h[20] = (uint8_t)dtype;
    h[21] = (uint8_t)metric;
    put32(h + 24, rec_size_for(dim));
    put32(h + 60, su_crc32c(0, h, 60));
}

/* STRATA_OK and the fields, or ECORRUPT / EVERSION. */
static int header_decode(const uint8_t *h, size_t len, uint32_t *dim, int *dtype, int *metric) {
    if (len < VLOG_HDR || memcmp(h, VLOG_MAGIC, 8) != 0) return STRATA_ECORRUPT;
    if (su_crc32c(0, h, 60) != get32(h + 60)) return STRATA_ECORRUPT;
    if (get32(h + 8) != VLOG_VERSION) return get32(h + 8) > VLOG_VERSION ? STRATA_EVERSION : STRATA_ECORRUPT;
    uint32_t d = get32(h + 16);
    if (get32(h + 12) != VLOG_HDR || d == 0 || d > VEC_DIM_MAX || h[20] > VEC_DTYPE_I8 ||
        h[21] > VEC_METRIC_L2 || get32(h + 24) != rec_size_for(d))
        return STRATA_ECORRUPT;
    *dim = d;
    *dtype = h[20];
    *metric = h[21];
    return STRATA_OK;
}

int vec_log_open(const char *path, uint32_t dim, int dtype, int metric, int create, vec_log **out) {
    if (!out) return STRATA_EINVAL;
    *out = NULL;
    if (!path || dim == 0 || dim > VEC_DIM_MAX || dtype < 0 || dtype > VEC_DTYPE_I8 || metric < 0 ||
        metric > VEC_METRIC_L2)
        return STRATA_EINVAL;
    vec_log *l = calloc(1, sizeof *l);
    if (!l) return STRATA_ENOMEM;
    l->fd = -1;
    l->rec = malloc(rec_size_for(dim));
    if (!l->rec) {
        free(l);
        return STRATA_ENOMEM;
    }
    int rc = STRATA_OK, created = 0;
    l->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (l->fd < 0) {
        rc = su_errno_status(errno);
        goto fail;
    }
    struct stat st;
    if (fstat(l->fd, &st) != 0) {
        rc = su_errno_status(errno);
        goto fail;
    }
    uint8_t h[VLOG_HDR];
    if (st.st_size == 0 && create) {
        header_encode(h, dim, dtype, metric);
        int e = su_pwrite_all(l->fd, h, VLOG_HDR, 0);
        if (!e && fsync(l->fd) != 0) e = errno;
        if (!e) e = fsync_parent(path);
        if (e) {
            rc = su_errno_status(e);
            goto fail;
        }
        created = 1;
        l->len = VLOG_HDR;
    } else {
        size_t got = 0;
        int e = su_pread_all(l->fd, h, VLOG_HDR, 0, &got);
        if (e) {
            rc = su_errno_status(e);
            goto fail;
        }
        uint32_t d;
        int dt, mt;
        rc = header_decode(h, got, &d, &dt, &mt);
        if (rc) goto fail;
        if (d != dim || dt != dtype || mt != metric) {
            rc = STRATA_EINVAL;
            goto fail;
        }
        l->len = (uint64_t)st.st_size;
    }
    (void)created;
    l->dim = dim;
    l->dtype = dtype;
    l->metric = metric;
    l->rec_size = rec_size_for(dim);
    *out = l;
    return STRATA_OK;
fail:
    if (l->fd >= 0) close(l->fd);
    free(l->rec);
    free(l);
    return rc;
}

void vec_log_close(vec_log *l) {
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    free(l->rec);
    free(l);
}

static void record_encode(uint8_t *r, uint32_t dim, int op, uint64_t label, uint64_t lsn, const float *v) {
    r[0] = (uint8_t)(VLOG_REC_TAG & 0xFF);
    r[1] = (uint8_t)(VLOG_REC_TAG >> 8);
    r[2] = (uint8_t)op;
    r[3] = 0;
    put32(r + 4, dim);
    put64(r + 8, label);
    put64(r + 16, lsn);
    if (op == VEC_LOG_PUT) memcpy(r + 24, v, (size_t)dim * 4);
    else memset(r + 24, 0, (size_t)dim * 4);
    size_t body = 24 + (size_t)dim * 4;
    put32(r + body, su_crc32c(0, r, body));
}

int vec_log_append(vec_log *l, int op, uint64_t label, uint64_t lsn, const float *v, uint64_t *off_out) {
    if (!l || (op != VEC_LOG_PUT && op != VEC_LOG_DELETE)) return STRATA_EINVAL;
    if (l->poisoned) return STRATA_EPOISONED;
    /* A partial record at the end (torn tail not yet truncated): appending after it
     * would hide the new record behind garbage from every replay. */
    if ((l->len - VLOG_HDR) % l->rec_size != 0) return STRATA_EMISUSE;
    if (op == VEC_LOG_PUT) {
        if (!v) return STRATA_EINVAL;
        for (uint32_t i = 0; i < l->dim; i++)
            if (!vm_finite(v[i])) return STRATA_EINVAL;
    }
    record_encode(l->rec, l->dim, op, label, lsn, v);
    int e = su_pwrite_all(l->fd, l->rec, l->rec_size, l->len);
    if (e) {
        l->poisoned = 1;
        return su_errno_status(e);
    }
    if (off_out) *off_out = l->len;
    l->len += l->rec_size;
    return STRATA_OK;
}

int vec_log_sync(vec_log *l) {
    if (!l) return STRATA_EINVAL;
    if (l->poisoned) return STRATA_EPOISONED;
    if (fdatasync(l->fd) != 0) {
        l->poisoned = 1;
        return su_errno_status(errno);
    }
    return STRATA_OK;
}

int vec_log_truncate(vec_log *l, uint64_t len) {
    if (!l) return STRATA_EINVAL;
    if (l->poisoned) return STRATA_EPOISONED;
    struct stat st;
    if (fstat(l->fd, &st) != 0) return su_errno_status(errno);
    if (len < VLOG_HDR || (len - VLOG_HDR) % l->rec_size != 0 || len > (uint64_t)st.st_size)
        return STRATA_EINVAL;
    if (ftruncate(l->fd, (off_t)len) != 0 || fsync(l->fd) != 0) {
        l->poisoned = 1;
        return su_errno_status(errno);
    }
    l->len = len;
    return STRATA_OK;
}

/* Check one record; fill r. 1 if good. */
static int record_check(const uint8_t *p, uint32_t dim, vec_log_rec *r, float *vbuf) {
    size_t body = 24 + (size_t)dim * 4;
    if (p[0] != (VLOG_REC_TAG & 0xFF) || p[1] != (VLOG_REC_TAG >> 8) || p[3] != 0 || get32(p + 4) != dim)
        return 0;
    if (p[2] != VEC_LOG_PUT && p[2] != VEC_LOG_DELETE) return 0;
    if (su_crc32c(0, p, body) != get32(p + body)) return 0;
    memcpy(vbuf, p + 24, (size_t)dim * 4);
    for (uint32_t i = 0; i < dim; i++)
        if (!vm_finite(vbuf[i])) return 0;
    r->op = p[2];
    r->label = get64(p + 8);
    r->lsn = get64(p + 16);
    r->vec = vbuf;
    return 1;
}

/* Walk whole records in p[0..n) that start at file offset `off`. Returns the
 * callback's non-zero value, else 0; *stop set when a bad record was met. */
static int scan_chunk(const uint8_t *p, size_t n, uint64_t off, uint32_t dim, uint32_t rs, float *vbuf,
                      vec_log_fn fn, void *ctx, vec_log_scan *scan, int *stop) {
    for (size_t i = 0; i + rs <= n; i += rs) {
        vec_log_rec r;
        if (!record_check(p + i, dim, &r, vbuf)) {
            *stop = 1;
            return 0;
        }
        if (fn) {
            int rc = fn(ctx, off + i, &r);
            if (rc) return rc;
        }
        scan->records++;
        scan->end = off + i + rs;
    }
    return 0;
}

int vec_log_replay(vec_log *l, uint64_t from, vec_log_fn fn, void *ctx, vec_log_scan *scan) {
    if (!l || !scan) return STRATA_EINVAL;
    memset(scan, 0, sizeof *scan);
    if (from == 0) from = VLOG_HDR;
    if (from < VLOG_HDR || (from - VLOG_HDR) % l->rec_size != 0) return STRATA_EINVAL;
    struct stat st;
    if (fstat(l->fd, &st) != 0) return su_errno_status(errno);
    uint64_t size = (uint64_t)st.st_size;
    scan->end = from;
    if (from > size) return STRATA_EINVAL;
    size_t per = (size_t)((1u << 20) / l->rec_size);
    if (per == 0) per = 1;
    size_t cap = per * l->rec_size;
    uint8_t *buf = malloc(cap);
    float *vbuf = malloc((size_t)l->dim * 4);
    int rc = STRATA_OK, stop = 0;
    if (!buf || !vbuf) {
        rc = STRATA_ENOMEM;
        goto out;
    }
    for (uint64_t off = from; off < size && !stop;) {
        size_t want = size - off < cap ? (size_t)(size - off) : cap, got = 0;
        int e = su_pread_all(l->fd, buf, want, off, &got);
        if (e) {
            rc = su_errno_status(e);
            goto out;
        }
        size_t whole = got / l->rec_size * l->rec_size;
        rc = scan_chunk(buf, whole, off, l->dim, l->rec_size, vbuf, fn, ctx, scan, &stop);
        if (rc) goto out;
        if (whole < got || got < want) stop = 1; /* a partial record: torn tail */
        if (whole == 0) stop = 1;
        off += whole;
    }
    scan->torn = scan->end < size;
out:
    free(buf);
    free(vbuf);
    return rc;
}

int vec_log_replay_buf(const void *buf, size_t len, vec_log_fn fn, void *ctx, vec_log_scan *scan) {
    if (!scan || (!buf && len)) return STRATA_EINVAL;
    memset(scan, 0, sizeof *scan);
    uint32_t dim;
    int dt, mt;
    if (!buf) return STRATA_ECORRUPT;
    int rc = header_decode(buf, len, &dim, &dt, &mt);
    if (rc) return rc;
    uint32_t rs = rec_size_for(dim);
    float *vbuf = malloc((size_t)dim * 4);
    if (!vbuf) return STRATA_ENOMEM;
    int stop = 0;
    scan->end = VLOG_HDR;
    rc = scan_chunk((const uint8_t *)buf + VLOG_HDR, len - VLOG_HDR, VLOG_HDR, dim, rs, vbuf, fn, ctx, scan,
                    &stop);
    scan->torn = scan->end < len;
    free(vbuf);
    return rc;
}
