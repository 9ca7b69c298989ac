/* api_backup.c — backups of a whole store: snapshot, MANIFEST, verify, restore,
 * retention, and the automatic schedule.
 *
 * Create takes a snapshot of operational.db (a read transaction on its own
 * connection): the LSN and the segments' committed lengths it shows are one
 * instant, and every segment byte below its committed length never changes
 * (append-only), so writers are not paused at all. Compaction, the one thing that
 * removes segment files, is excluded for the duration (maint_mu). Per file:
 *   - unchanged since the previous good backup (same path, size and fingerprint):
 *     a hard link to that backup's copy (incremental);
 *   - an immutable segment (compacted, or older than the active one): a hard link
 *     to the store's file when on the same filesystem, else a copy;
 *   - anything else (the active segment): a copy of its committed prefix.
 * The MANIFEST goes last, atomically; on any failure the folder is removed. */
#include "internal.h"
#include "analytics/analytics.h"
#include "backup/backup.h"
#include "docs/segment.h"
#include "util/crc32c.h"
#include "util/sha256.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char bk_msg[STRATA_ERRMSG_MAX];
const char *strata_backup_errmsg(void) { return bk_msg; }

static int bk_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bk_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bk_msg, sizeof bk_msg, fmt, ap);
    va_end(ap);
    return code;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

char *strata__backup_default_dest(strata *db) { return join(db->dir, "backups"); }

/* ---- create ---- */
typedef struct seg_ent { uint64_t id, len; int sealed; } seg_ent;
typedef struct seg_set { seg_ent *v; size_t n, cap; } seg_set;
static int seg_add(void *ctx, uint64_t id, uint64_t len, int sealed) {
    seg_set *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        seg_ent *n = realloc(s->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = (seg_ent){ id, len, sealed };
    return 0;
}

/* The fingerprint of a segment: its header CRC (it covers the id and creation time,
 * so a reused id is a different file). */
static int seg_fingerprint(const char *path, char out[24]) {
    uint8_t hdr[SEG_HDR_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t got = 0;
    int e = su_pread_all(fd, hdr, sizeof hdr, 0, &got);
    close(fd);
    if (e) return e;
    if (got != sizeof hdr) return EIO;
    snprintf(out, 24, "%02x%02x%02x%02x", hdr[63], hdr[62], hdr[61], hdr[60]);
    return 0;
}

typedef struct create_ctx {
    strata *db;
    const char *dir;          /* the new backup folder */
    const bk_entry *prev;     /* the previous good backup, or NULL */
    const char *prev_dir;
    bk_manifest *m;
    char err[512];
} create_ctx;

/* Link src to dst, or copy when links cannot cross (EXDEV) or are refused. */
static int link_or_copy(create_ctx *c, const char *src, const char *dst, uint64_t len, bk_file *f) {
    if (link(src, dst) == 0) {
        uint64_t size = 0;
        int rc = bk_hash_file(dst, f->sha256, &size, c->err, sizeof c->err);
        if (!rc && size != len) rc = bk_err(STRATA_EIO, "%s changed while being linked", src);
        f->size = size;
        return rc;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
        snprintf(c->err, sizeof c->err, "linking %s: %s", dst, strerror(errno));
        return su_errno_status(errno);
    }
    f->size = len;
    return bk_copy(src, dst, len, f->sha256, NULL, c->err, sizeof c->err);
}

static int add_segment(create_ctx *c, const seg_ent *s, uint64_t active) {
    char name[40], rel[64];
    seg_name(s->id, name, sizeof name);
    snprintf(rel, sizeof rel, "docs/%s", name);
    char *src = join(c->db->dir, rel), *dst = join(c->dir, rel);
    bk_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", rel);
    f.size = s->len;
    int rc = STRATA_OK, e;
    if (!src || !dst) { rc = STRATA_ENOMEM; goto done; }
    if ((e = seg_fingerprint(src, f.fp)) != 0) {
        snprintf(c->err, sizeof c->err, "%s: %s", src, strerror(e));
        rc = su_errno_status(e);
        goto done;
    }
    const bk_file *pf = c->prev ? bk_manifest_find(&c->prev->m, rel) : NULL;
    struct stat st;
    int immutable = s->sealed || s->id < active;
    if (pf && pf->size == s->len && !strcmp(pf->fp, f.fp)) {
        /* Incremental: the previous backup holds these very bytes. */
        char *old = join(c->prev_dir, rel);
        if (!old) { rc = STRATA_ENOMEM; goto done; }
        if (link(old, dst) == 0) memcpy(f.sha256, pf->sha256, 32);
        else rc = bk_copy(src, dst, s->len, f.sha256, NULL, c->err, sizeof c->err);
        free(old);
    } else if (immutable && stat(src, &st) == 0 && (uint64_t)st.st_size == s->len) {
        rc = link_or_copy(c, src, dst, s->len, &f);
    } else {
        rc = bk_copy(src, dst, s->len, f.sha256, NULL, c->err, sizeof c->err);
    }
    if (!rc) rc = bk_manifest_add(c->m, &f);
done:
    free(src);
    free(dst);
    return rc;
}

/* ---- vector collections: the log's committed prefix and the checkpoint ---- */
typedef struct coll_set { op_coll *v; size_t n, cap; } coll_set;
static int coll_add(void *ctx, const op_coll *c) {
    coll_set *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        op_coll *n = realloc(s->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = *c;
    return 0;
}

/* Fingerprint of an append-only file: the CRC of its first `n` bytes (the header). */
static int head_fingerprint(const char *path, size_t n, char out[24]) {
    uint8_t buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t got = 0;
    int e = su_pread_all(fd, buf, n < sizeof buf ? n : sizeof buf, 0, &got);
    close(fd);
    if (e) return e;
    snprintf(out, 24, "%08x", su_crc32c(0, buf, got));
    return 0;
}

static int add_collection(create_ctx *c, const op_coll *col) {
    char rel[160], sub[96];
    snprintf(sub, sizeof sub, "vectors/%.64s", col->name);
    char *subdir = join(c->dir, sub);
    if (!subdir) return STRATA_ENOMEM;
    int e = bk_mkdirs(subdir);
    free(subdir);
    if (e) { snprintf(c->err, sizeof c->err, "%s: %s", sub, strerror(e)); return su_errno_status(e); }
    /* The log: its committed prefix (append-only, like a segment). */
    snprintf(rel, sizeof rel, "%s/vectors.log", sub);
    char *src = join(c->db->dir, rel), *dst = join(c->dir, rel);
    bk_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", rel);
    f.size = col->log_length;
    int rc = src && dst ? STRATA_OK : STRATA_ENOMEM;
    if (!rc && (e = head_fingerprint(src, 64, f.fp)) != 0) {
        snprintf(c->err, sizeof c->err, "%s: %s", src, strerror(e));
        rc = su_errno_status(e);
    }
    const bk_file *pf = !rc && c->prev ? bk_manifest_find(&c->prev->m, rel) : NULL;
    char *old = pf && pf->size == f.size && !strcmp(pf->fp, f.fp) ? join(c->prev_dir, rel) : NULL;
    if (!rc && old && link(old, dst) == 0) memcpy(f.sha256, pf->sha256, 32);
    else if (!rc) rc = bk_copy(src, dst, col->log_length, f.sha256, NULL, c->err, sizeof c->err);
    free(old);
    if (!rc) rc = bk_manifest_add(c->m, &f);
    free(src);
    free(dst);
    if (rc) return rc;
    /* The checkpoint: replaced whole by rename, so a link is a stable copy. It may
     * cover more than this snapshot; the restored store then rebuilds from the log. */
    snprintf(rel, sizeof rel, "%s/index.hnsw", sub);
    src = join(c->db->dir, rel);
    dst = join(c->dir, rel);
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", rel);
    struct stat st;
    if (!src || !dst) rc = STRATA_ENOMEM;
    else if (stat(src, &st) == 0) {
        rc = link_or_copy(c, src, dst, (uint64_t)st.st_size, &f);
        if (rc == STRATA_ENOTFOUND) rc = STRATA_OK; /* replaced meanwhile: skip it */
        else if (!rc) rc = bk_manifest_add(c->m, &f);
    }
    free(src);
    free(dst);
    if (!rc) {
        char *d = join(c->dir, sub);
        if (!d) return STRATA_ENOMEM;
        if ((e = su_fsync_dir(d)) != 0) rc = su_errno_status(e);
        free(d);
    }
    return rc;
}

static int create_locked(strata *db, const char *dest, char **name_out) {
    int e = bk_mkdirs(dest);
    if (e) return strata__err(db, su_errno_status(e), "backup: cannot create %s: %s", dest, strerror(e));
    int lockfd = bk_lock_dest(dest);
    if (lockfd < 0)
        return strata__err(db, su_errno_status(-lockfd), "backup: cannot lock %s: %s", dest, strerror(-lockfd));
    bk_entry *ents = NULL;
    size_t nents = 0;
    op_snapshot *snap = NULL;
    seg_set segs = { NULL, 0, 0 };
    bk_manifest m;
    memset(&m, 0, sizeof m);
    char *dir = NULL, *prev_dir = NULL, *p = NULL, *q = NULL;
    char err[512] = "";
    int rc = bk_scan(dest, &ents, &nents);
    if (rc) { strata__err(db, rc, "backup: cannot read %s", dest); goto out; }
    const bk_entry *prev = bk_newest_complete(ents, nents);

    /* The snapshot: LSN + segments + the database, one instant. */
    char *opdb = join(db->dir, "operational.db");
    if (!opdb) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    rc = op_snapshot_open(opdb, db->opts.busy_timeout_ms, &snap, err, sizeof err);
    free(opdb);
    if (rc) { strata__err(db, rc, "backup: %s", err); goto out; }
    uint64_t active = docs_active_segment(db->docs); /* read after the snapshot: only grows */
    if ((rc = op_snapshot_segments(snap, seg_add, &segs)) != STRATA_OK) {
        strata__err(db, rc, "backup: reading the segment catalogue");
        goto out;
    }

    /* A name that sorts by time; a suffix if two backups share a millisecond. */
    int64_t now = strata__now(db);
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[48];
    strftime(base, sizeof base, "strata-%Y%m%d-%H%M%S", &tm);
    snprintf(m.name, sizeof m.name, "%s-%03d", base, (int)(now % 1000));
    for (int i = 1;; i++) {
        free(dir);
        dir = join(dest, m.name);
        if (!dir) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
        if (mkdir(dir, 0700) == 0) break;
        if (errno != EEXIST || i > 99) {
            e = errno;
            rc = strata__err(db, su_errno_status(e), "backup: cannot create %s: %s", dir, strerror(e));
            free(dir);
            dir = NULL;
            goto out;
        }
        snprintf(m.name, sizeof m.name, "%s-%03d-%d", base, (int)(now % 1000), i);
    }
    m.lsn = op_snapshot_lsn(snap);
    m.created_at = now;
    m.store_format = STRATA_FORMAT_VERSION;
    prev_dir = prev ? join(dest, prev->name) : NULL;
    create_ctx c = { db, dir, prev, prev_dir, &m, "" };

    bk_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "STRATA");
    p = join(db->dir, "STRATA");
    q = join(dir, "STRATA");
    if (!p || !q) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    if ((rc = bk_copy(p, q, UINT64_MAX, f.sha256, &f.size, c.err, sizeof c.err)) || (rc = bk_manifest_add(&m, &f))) {
        strata__err(db, rc, "backup: %s", c.err);
        goto out;
    }
    free(q);
    q = join(dir, "operational.db");
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "operational.db");
    if (!q) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    if ((rc = op_snapshot_copy(snap, q, err, sizeof err)) != STRATA_OK) {
        strata__err(db, rc, "backup: %s", err);
        goto out;
    }
    if ((rc = bk_hash_file(q, f.sha256, &f.size, c.err, sizeof c.err)) || (rc = bk_manifest_add(&m, &f))) {
        strata__err(db, rc, "backup: %s", c.err);
        goto out;
    }
    /* SQLite's copy must be on disk before the manifest vouches for it. */
    int fd = open(q, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        e = errno;
        if (fd >= 0) close(fd);
        rc = strata__err(db, su_errno_status(e), "backup: fsync %s: %s", q, strerror(e));
        goto out;
    }
    close(fd);

    free(q);
    q = join(dir, "docs");
    if (!q) { rc = strata__err(db, STRATA_ENOMEM, "out of memory"); goto out; }
    if (segs.n && mkdir(q, 0700) < 0) {
        e = errno;
        rc = strata__err(db, su_errno_status(e), "backup: %s: %s", q, strerror(e));
        goto out;
    }
    for (size_t i = 0; i < segs.n; i++) {
        if ((rc = add_segment(&c, &segs.v[i], active)) != STRATA_OK) {
            strata__err(db, rc, "backup: %s", *c.err ? c.err : strata_errstr(rc));
            goto out;
        }
    }
    coll_set colls = { NULL, 0, 0 };
    if ((rc = op_snapshot_colls(snap, coll_add, &colls)) != STRATA_OK) {
        strata__err(db, rc, "backup: reading the vector catalogue");
        goto out;
    }
    for (size_t i = 0; i < colls.n && !rc; i++)
        if ((rc = add_collection(&c, &colls.v[i])) != STRATA_OK)
            strata__err(db, rc, "backup: %s", *c.err ? c.err : strata_errstr(rc));
    if (!rc && colls.n) {
        char *vd = join(dir, "vectors");
        if (!vd) rc = STRATA_ENOMEM;
        else if ((e = su_fsync_dir(vd)) != 0) rc = su_errno_status(e);
        free(vd);
        if (rc) strata__err(db, rc, "backup: fsync of vectors/");
    }
    free(colls.v);
    if (rc) goto out;
    /* Analytics: flushed, paused and checkpointed while its file is copied. */
    if (db->an) {
        const char *apath = NULL;
        char *adst = join(dir, "analytics.duckdb");
        memset(&f, 0, sizeof f);
        snprintf(f.path, sizeof f.path, "analytics.duckdb");
        if (!adst) rc = strata__err(db, STRATA_ENOMEM, "out of memory");
        else if ((rc = an_backup_pause(db->an, &apath, err, sizeof err)) != STRATA_OK)
            strata__err(db, rc, "backup: analytics: %s", err);
        else {
            rc = bk_copy(apath, adst, UINT64_MAX, f.sha256, &f.size, c.err, sizeof c.err);
            an_backup_resume(db->an);
            if (!rc) rc = bk_manifest_add(&m, &f);
            if (rc) strata__err(db, rc, "backup: analytics: %s", *c.err ? c.err : strata_errstr(rc));
        }
        free(adst);
        if (rc) goto out;
    }
    if ((segs.n && (e = su_fsync_dir(q))) || (e = su_fsync_dir(dir))) {
        rc = strata__err(db, su_errno_status(e), "backup: fsync: %s", strerror(e));
        goto out;
    }
    /* Last: the manifest makes the folder a good backup. */
    if ((e = bk_manifest_write(dir, &m)) != 0 || (e = su_fsync_dir(dest)) != 0) {
        rc = strata__err(db, su_errno_status(e), "backup: writing the manifest: %s", strerror(e));
        goto out;
    }
    if (name_out && !(*name_out = strdup(m.name))) {
        rc = strata__err(db, STRATA_ENOMEM, "out of memory");
        goto out;
    }
    rc = STRATA_OK;
out:
    if (rc && dir) bk_rmtree(dir);
    op_snapshot_close(snap);
    bk_scan_free(ents, nents);
    bk_manifest_free(&m);
    free(segs.v);
    free(dir);
    free(prev_dir);
    free(p);
    free(q);
    close(lockfd);
    return rc;
}

static int backup_create_impl(strata *db, const char *dest, char **name_out) {
    if (!db) return STRATA_EINVAL;
    if (name_out) *name_out = NULL;
    if (dest && !*dest) return strata__err(db, STRATA_EINVAL, "backup destination is empty");
    char *d = dest ? strdup(dest) : strata__backup_default_dest(db);
    if (!d) return strata__err(db, STRATA_ENOMEM, "out of memory");
    pthread_mutex_lock(&db->maint_mu);
    int rc = create_locked(db, d, name_out);
    pthread_mutex_unlock(&db->maint_mu);
    free(d);
    return rc;
}

int strata_backup_create(strata *db, const char *dest, char **name_out) {
    uint64_t t0 = db ? an_op_start(db->an) : 0;
    int rc = backup_create_impl(db, dest, name_out);
    if (db) an_op_end(db->an, AN_OP_BACKUP, t0, rc);
    return rc;
}

/* ---- list ---- */
static void fill_info(const bk_entry *e, strata_backup_info *i) {
    memset(i, 0, sizeof *i);
    snprintf(i->name, sizeof i->name, "%s", e->name);
    i->complete = e->complete;
    if (!e->complete) return;
    i->lsn = e->m.lsn;
    i->created_at_ms = e->m.created_at;
    i->files = e->m.nfiles;
    for (size_t k = 0; k < e->m.nfiles; k++) i->bytes += e->m.files[k].size;
}

int strata_backup_list(const char *dest, strata_backup_cb cb, void *ctx) {
    bk_msg[0] = 0;
    if (!dest || !*dest || !cb) return bk_err(STRATA_EINVAL, "backup list: destination and callback are required");
    bk_entry *e = NULL;
    size_t n = 0;
    int rc = bk_scan(dest, &e, &n);
    if (rc) return bk_err(rc, "backup list: cannot read %s", dest);
    for (size_t i = 0; i < n && !rc; i++) {
        strata_backup_info info;
        fill_info(&e[i], &info);
        rc = cb(ctx, &info);
    }
    bk_scan_free(e, n);
    return rc;
}

/* ---- verify ---- */
typedef struct vctx { strata_problem_fn fn; void *ctx; uint64_t n; } vctx;
static void vproblem(void *ctx, const char *msg) {
    vctx *v = ctx;
    v->n++;
    if (v->fn) v->fn(v->ctx, msg);
}

static int verify_dir(const char *dir, const char *name, strata_problem_fn fn, void *ctx, uint64_t *problems,
                      bk_manifest *keep) {
    bk_manifest m;
    int rc = bk_manifest_read(dir, &m);
    if (rc == STRATA_ENOTFOUND) return bk_err(STRATA_ECORRUPT, "backup %s has no MANIFEST: it is incomplete", name);
    if (rc) return bk_err(rc, "backup %s: its MANIFEST is not valid", name);
    if (strcmp(m.name, name) != 0) {
        bk_manifest_free(&m);
        return bk_err(STRATA_ECORRUPT, "backup %s: its MANIFEST names another backup (%s)", name, m.name);
    }
    vctx v = { fn, ctx, 0 };
    char msg[768], err[512];
    for (size_t i = 0; i < m.nfiles; i++) {
        char *p = join(dir, m.files[i].path);
        if (!p) { bk_manifest_free(&m); return bk_err(STRATA_ENOMEM, "out of memory"); }
        uint8_t sha[32];
        uint64_t size = 0;
        if (bk_hash_file(p, sha, &size, err, sizeof err) != STRATA_OK) {
            snprintf(msg, sizeof msg, "%.255s: %.500s", m.files[i].path, err);
            vproblem(&v, msg);
        } else if (size != m.files[i].size) {
            snprintf(msg, sizeof msg, "%s: %" PRIu64 " bytes, the manifest says %" PRIu64, m.files[i].path, size,
                     m.files[i].size);
            vproblem(&v, msg);
        } else if (memcmp(sha, m.files[i].sha256, 32) != 0) {
            snprintf(msg, sizeof msg, "%s: SHA-256 differs from the manifest", m.files[i].path);
            vproblem(&v, msg);
        } else if (!strcmp(m.files[i].path, "operational.db")) {
            if (op_verify_file(p, vproblem, &v, &v.n, err, sizeof err) != STRATA_OK) {
                snprintf(msg, sizeof msg, "operational.db: %s", err);
                vproblem(&v, msg);
            }
        }
        free(p);
    }
    if (!bk_manifest_find(&m, "operational.db")) vproblem(&v, "the manifest lists no operational.db");
    if (problems) *problems = v.n;
    if (keep) *keep = m;
    else bk_manifest_free(&m);
    return STRATA_OK;
}

int strata_backup_verify(const char *dest, const char *name, strata_problem_fn fn, void *ctx, uint64_t *problems) {
    bk_msg[0] = 0;
    if (problems) *problems = 0;
    if (!dest || !*dest) return bk_err(STRATA_EINVAL, "backup verify: destination is required");
    if (!bk_valid_name(name)) return bk_err(STRATA_EINVAL, "backup names are [A-Za-z0-9_-]{1,64}");
    char *dir = join(dest, name);
    if (!dir) return bk_err(STRATA_ENOMEM, "out of memory");
    struct stat st;
    int rc = stat(dir, &st) == 0 && S_ISDIR(st.st_mode)
                 ? verify_dir(dir, name, fn, ctx, problems, NULL)
                 : bk_err(STRATA_ENOTFOUND, "no backup %s in %s", name, dest);
    free(dir);
    return rc;
}

/* ---- restore ---- */
static void first_problem(void *ctx, const char *msg) {
    char *first = ctx;
    if (!*first) snprintf(first, 512, "%s", msg);
}

static int dir_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
    closedir(d);
    return empty;
}

int strata_backup_restore(const char *dest, const char *name, const char *target, int force) {
    bk_msg[0] = 0;
    if (!dest || !*dest || !target || !*target) return bk_err(STRATA_EINVAL, "backup restore: destination and target are required");
    if (!bk_valid_name(name)) return bk_err(STRATA_EINVAL, "backup names are [A-Za-z0-9_-]{1,64}");
    char *dir = join(dest, name), *tmp = NULL, *old = NULL;
    bk_manifest m;
    memset(&m, 0, sizeof m);
    int rc, e, target_exists = 0;
    char first[512] = "", err[512] = "";
    uint64_t problems = 0;
    if (!dir) return bk_err(STRATA_ENOMEM, "out of memory");
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) { rc = bk_err(STRATA_ENOTFOUND, "no backup %s in %s", name, dest); goto out; }
    if ((rc = verify_dir(dir, name, first_problem, first, &problems, &m)) != STRATA_OK) goto out;
    if (problems) { rc = bk_err(STRATA_ECORRUPT, "backup %s failed verification (%" PRIu64 " problems): %s", name, problems, first); goto out; }

    /* The target: absent or empty, or (with force) a store nobody holds. */
    if (stat(target, &st) == 0) {
        target_exists = 1;
        if (!S_ISDIR(st.st_mode)) { rc = bk_err(STRATA_EEXIST, "%s exists and is not a directory", target); goto out; }
        if (!dir_empty(target)) {
            if (!force) { rc = bk_err(STRATA_EEXIST, "%s is not empty; restore over it only with force", target); goto out; }
            /* force replaces a store, nothing else, and never the backups themselves. */
            char *hdr = join(target, "STRATA");
            struct stat hs;
            int is_store = hdr && stat(hdr, &hs) == 0 && S_ISREG(hs.st_mode);
            free(hdr);
            if (!is_store) { rc = bk_err(STRATA_ENOTSTORE, "%s is not empty and is not a Strata store; not replacing it", target); goto out; }
            char *rt = realpath(target, NULL), *rd = realpath(dest, NULL);
            size_t tl0 = rt ? strlen(rt) : 0;
            int inside = rt && rd && !strncmp(rd, rt, tl0) && (rd[tl0] == '/' || rd[tl0] == 0);
            free(rt);
            free(rd);
            if (inside) { rc = bk_err(STRATA_EINVAL, "the backups are inside %s; restore elsewhere or move them first", target); goto out; }
            char *lock = join(target, "LOCK");
            int fd = lock ? open(lock, O_RDWR | O_CLOEXEC) : -1;
            free(lock);
            if (fd >= 0) {
                int busy = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
                close(fd);
                if (busy) { rc = bk_err(STRATA_EBUSY, "%s is open in another process", target); goto out; }
            }
        }
    }
    size_t tl = strlen(target);
    tmp = malloc(tl + 32);
    old = malloc(tl + 32);
    if (!tmp || !old) { rc = bk_err(STRATA_ENOMEM, "out of memory"); goto out; }
    snprintf(tmp, tl + 32, "%s.restore-XXXXXX", target);
    if (!mkdtemp(tmp)) { e = errno; free(tmp); tmp = NULL; rc = bk_err(su_errno_status(e), "%s: %s", target, strerror(e)); goto out; }
    chmod(tmp, 0700);
    for (size_t i = 0; i < m.nfiles; i++) {
        char *src = join(dir, m.files[i].path), *dst = join(tmp, m.files[i].path);
        if (!src || !dst) { free(src); free(dst); rc = bk_err(STRATA_ENOMEM, "out of memory"); goto out; }
        char *slash = strrchr(dst, '/');
        *slash = 0;
        e = bk_mkdirs(dst);
        *slash = '/';
        uint8_t sha[32];
        rc = e ? su_errno_status(e) : bk_copy(src, dst, UINT64_MAX, sha, NULL, err, sizeof err);
        if (!rc && memcmp(sha, m.files[i].sha256, 32) != 0) rc = bk_err(STRATA_ECORRUPT, "%s changed during the restore", src);
        else if (rc) bk_err(rc, "restore: %s", e ? strerror(e) : err);
        free(src);
        free(dst);
        if (rc) goto out;
    }
    /* The result must open and pass check before it takes the target's place. */
    strata *db = NULL;
    if ((rc = strata_open(tmp, NULL, &db)) != STRATA_OK) { bk_err(rc, "restored store does not open: %s", strata_open_errmsg()); goto out; }
    problems = 0;
    first[0] = 0;
    rc = strata_check(db, first_problem, first, &problems);
    if (rc) bk_err(rc, "restored store: check could not run: %s", strata_errmsg(db));
    strata_close(db);
    if (rc) goto out;
    if (problems) { rc = bk_err(STRATA_ECORRUPT, "restored store fails check (%" PRIu64 " problems): %s", problems, first); goto out; }
    if (target_exists) {
        if (dir_empty(target)) {
            if (rmdir(target) < 0) { e = errno; rc = bk_err(su_errno_status(e), "%s: %s", target, strerror(e)); goto out; }
        } else {
            snprintf(old, tl + 32, "%s.replaced-XXXXXX", target);
            if (!mkdtemp(old) || rmdir(old) < 0 || rename(target, old) < 0) {
                e = errno;
                rc = bk_err(su_errno_status(e), "moving %s aside: %s", target, strerror(e));
                goto out;
            }
        }
    }
    if (rename(tmp, target) < 0) {
        e = errno;
        rc = bk_err(su_errno_status(e), "%s: %s", target, strerror(e));
        if (target_exists && *old) rename(old, target); /* put the old store back */
        goto out;
    }
    free(tmp);
    tmp = NULL;
    if (target_exists && *old) bk_rmtree(old);
    char *parent = strdup(target);
    if (parent) {
        char *slash = strrchr(parent, '/');
        if (slash == parent) slash[1] = 0;
        else if (slash) *slash = 0;
        else strcpy(parent, ".");
        su_fsync_dir(parent);
        free(parent);
    }
    rc = STRATA_OK;
out:
    if (tmp) bk_rmtree(tmp);
    bk_manifest_free(&m);
    free(dir);
    free(tmp);
    free(old);
    return rc;
}

/* ---- retention ---- */
int strata_backup_prune(const char *dest, int keep, uint64_t *removed) {
    bk_msg[0] = 0;
    if (removed) *removed = 0;
    if (!dest || !*dest) return bk_err(STRATA_EINVAL, "backup prune: destination is required");
    if (keep < 1) return bk_err(STRATA_EINVAL, "backup prune: keep at least 1 backup");
    struct stat st;
    if (stat(dest, &st) < 0) return errno == ENOENT ? STRATA_OK : bk_err(su_errno_status(errno), "%s: %s", dest, strerror(errno));
    int lockfd = bk_lock_dest(dest);
    if (lockfd < 0) return bk_err(su_errno_status(-lockfd), "cannot lock %s: %s", dest, strerror(-lockfd));
    bk_entry *e = NULL;
    size_t n = 0, complete = 0;
    int rc = bk_scan(dest, &e, &n);
    if (rc) { close(lockfd); return bk_err(rc, "cannot read %s", dest); }
    for (size_t i = 0; i < n; i++) complete += (size_t)e[i].complete;
    /* Oldest first: drop complete ones beyond `keep`, and interrupted ones (the lock
     * guarantees no backup is in progress). The newest good one always stays. */
    size_t seen = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int drop = e[i].complete ? complete - seen++ > (size_t)keep : 1;
        if (!drop) continue;
        char *p = join(dest, e[i].name);
        int r = p ? bk_rmtree(p) : ENOMEM;
        free(p);
        if (r) rc = bk_err(su_errno_status(r), "removing %s: %s", e[i].name, strerror(r));
        else if (removed) (*removed)++;
    }
    bk_scan_free(e, n);
    su_fsync_dir(dest);
    close(lockfd);
    return rc;
}

/* ---- the automatic schedule ----
 * A maintenance thread per open handle takes a backup into DIR/backups whenever the
 * newest good one there (or, before the first, the store's creation) is older than
 * backup_interval_hours, then prunes to backup_keep. It wakes at least once a minute
 * to re-check; close stops it, waiting for a backup in progress. A failed attempt is
 * retried after ten minutes. */
static int64_t last_backup_ms(strata *db) {
    int64_t last = 0;
    char *dest = strata__backup_default_dest(db);
    bk_entry *e = NULL;
    size_t n = 0;
    if (dest && bk_scan(dest, &e, &n) == STRATA_OK) {
        const bk_entry *x = bk_newest_complete(e, n);
        if (x) last = x->m.created_at;
        bk_scan_free(e, n);
    }
    free(dest);
    if (last == 0) {
        char *p = join(db->dir, "STRATA");
        struct stat st;
        if (p && stat(p, &st) == 0) last = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        free(p);
    }
    return last;
}

static void *sched_main(void *arg) {
    strata *db = arg;
    int64_t interval = (int64_t)(db->opts.backup_interval_hours ? db->opts.backup_interval_hours
                                                                : STRATA_DEFAULT_BACKUP_INTERVAL_HOURS) * 3600000;
    int keep = db->opts.backup_keep ? db->opts.backup_keep : STRATA_DEFAULT_BACKUP_KEEP;
    int64_t retry_at = 0;
    pthread_mutex_lock(&db->sched_mu);
    while (!db->sched_stop) {
        int64_t now = strata__now(db), due = last_backup_ms(db) + interval;
        if (retry_at > due) due = retry_at;
        if (now >= due) {
            pthread_mutex_unlock(&db->sched_mu);
            int rc = strata_backup_create(db, NULL, NULL);
            if (rc == STRATA_OK) {
                char *dest = strata__backup_default_dest(db);
                if (dest) (void)strata_backup_prune(dest, keep, NULL);
                free(dest);
                retry_at = 0;
            } else {
                retry_at = strata__now(db) + 600000;
            }
            pthread_mutex_lock(&db->sched_mu);
            db->sched_runs++;
            pthread_cond_broadcast(&db->sched_cv);
            continue;
        }
        int64_t wait = due - now < 60000 ? due - now : 60000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&db->sched_cv, &db->sched_mu, &ts);
    }
    pthread_mutex_unlock(&db->sched_mu);
    return NULL;
}

int strata__backup_sched_start(strata *db) {
    if (db->opts.backup_interval_hours < 0) return STRATA_OK;
    if (pthread_create(&db->sched_thread, NULL, sched_main, db) != 0)
        return STRATA_ENOMEM;
    db->sched_started = 1;
    return STRATA_OK;
}

void strata__backup_sched_stop(strata *db) {
    if (!db->sched_started) return;
    pthread_mutex_lock(&db->sched_mu);
    db->sched_stop = 1;
    pthread_cond_broadcast(&db->sched_cv);
    pthread_mutex_unlock(&db->sched_mu);
    pthread_join(db->sched_thread, NULL);
    db->sched_started = 0;
}
