/* store.c — open and close, the directory lock, and the commit protocol that ties the
 * backends together.
 *
 * Open: validate DIR (a store has a STRATA file naming format and version; a
 * non-empty directory without one is refused untouched), take LOCK with a
 * non-blocking flock() and write our pid into it, then open the operational store
 * (SQLite runs its own WAL recovery; schema migrations follow).
 *
 * Commit (group commit): a transaction buffers validated writes. At commit it joins a
 * queue; the first committer to find no leader becomes the leader, takes the whole
 * queue, and applies it inside one SQLite transaction — each member inside its own
 * savepoint, so a member whose write fails (a missing key, say) is rolled back alone
 * — then commits once: one fsync serves every member. Each member gets its own LSN
 * from the commit log. The others sleep until the leader marks them done.
 *
 * Durability invariants:
 *  D1. A write is acknowledged only after the SQLite COMMIT holding it returned OK
 *      (synchronous=FULL: fsynced to the WAL).
 *  D2. If COMMIT itself fails, the outcome on disk is unknown; the handle is
 *      poisoned and refuses writes until reopened, when SQLite recovery decides.
 */
#include "internal.h"
#include "cache/cache.h"
#include "util/util.h"
#include "analytics/analytics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#define STORE_MAGIC "strata-store"

static void flush_touches(strata *db);

/* ---- versions and codes ---- */
const char *strata_version(void) { return STRATA_VERSION; }
int strata_version_number(void) { return STRATA_VERSION_NUMBER; }

const char *strata_errstr(int code) {
    switch (code) {
#define STRATA_X_STR(name, num, str) case num: return str;
        STRATA_ERRORS(STRATA_X_STR)
#undef STRATA_X_STR
    default: return "unknown status code";
    }
}

void strata_free(void *p) { free(p); }

strata_options strata_options_default(void) {
    strata_options o;
    memset(&o, 0, sizeof o);
    o.sync = STRATA_SYNC_FULL;
    o.busy_timeout_ms = STRATA_DEFAULT_BUSY_TIMEOUT_MS;
    return o;
}

/* ---- per-thread messages ---- */
static _Thread_local char open_msg[STRATA_ERRMSG_MAX];

const char *strata_open_errmsg(void) { return open_msg; }

static errbuf *thread_errbuf(strata *db) {
    errbuf *b = pthread_getspecific(db->err_key);
    if (b) return b;
    b = calloc(1, sizeof *b);
    if (!b) return NULL;
    pthread_mutex_lock(&db->err_mu);
    b->next = db->errbufs;
    db->errbufs = b;
    pthread_mutex_unlock(&db->err_mu);
    pthread_setspecific(db->err_key, b);
    return b;
}

const char *strata_errmsg(strata *db) {
    if (!db) return open_msg;
    errbuf *b = pthread_getspecific(db->err_key);
    return b ? b->msg : "";
}

static void set_msg(strata *db, const char *msg) {
    errbuf *b = thread_errbuf(db);
    if (b) snprintf(b->msg, sizeof b->msg, "%s", msg);
}

int strata__err(strata *db, int code, const char *fmt, ...) {
    char buf[STRATA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    set_msg(db, buf);
    return code;
}

static int open_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int open_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(open_msg, sizeof open_msg, fmt, ap);
    va_end(ap);
    return code;
}

int64_t strata__now(strata *db) {
    return db->opts.clock ? db->opts.clock(db->opts.clock_ctx) : su_now_ms();
}

/* ---- validation ---- */
int strata__check_key(strata *db, const char *what, const char *key) {
    if (!key) return strata__err(db, STRATA_EINVAL, "%s is NULL", what);
    size_t n = strnlen(key, STRATA_KEY_MAX + 1);
    if (n == 0) return strata__err(db, STRATA_EINVAL, "%s is empty", what);
    if (n > STRATA_KEY_MAX)
        return strata__err(db, STRATA_EINVAL, "%s is longer than %d bytes", what, STRATA_KEY_MAX);
    if (!su_utf8_valid(key, n)) return strata__err(db, STRATA_EINVAL, "%s is not valid UTF-8", what);
    return STRATA_OK;
}

int strata__check_json(strata *db, const char *what, const char *json, int object) {
    if (!json) return strata__err(db, STRATA_EINVAL, "%s is NULL", what);
    size_t n = strnlen(json, (size_t)STRATA_JSON_MAX + 1);
    if (n > STRATA_JSON_MAX)
        return strata__err(db, STRATA_ETOOBIG, "%s is larger than %d bytes", what, STRATA_JSON_MAX);
    if (object ? !su_json_is_object(json, n) : !su_json_valid(json, n))
        return strata__err(db, STRATA_EINVAL, "%s is not valid JSON%s", what, object ? " object" : "");
    return STRATA_OK;
}

/* ---- the directory and its STRATA file ---- */
static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* 1 if dir holds nothing but what an interrupted create leaves (LOCK, STRATA.tmp). */
static int dir_is_fresh(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int fresh = 1;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "LOCK") && strcmp(n, "STRATA.tmp")) {
            fresh = 0;
            break;
        }
    }
    closedir(d);
    return fresh;
}

/* Parse DIR/STRATA: "strata-store\nformat-version N\n". */
static int read_format(const char *dir, const char *path, int *version) {
    char *text = NULL;
    int e = su_read_file(path, 4096, &text, NULL);
    if (e == ENOENT) return STRATA_ENOTFOUND;
    if (e) return open_err(su_errno_status(e), "%s: cannot read STRATA file: %s", dir, strerror(e));
    int v = 0, ok = strncmp(text, STORE_MAGIC "\n", sizeof STORE_MAGIC) == 0 &&
                    sscanf(text + sizeof STORE_MAGIC, "format-version %d", &v) == 1 && v > 0;
    free(text);
    if (!ok) return open_err(STRATA_ENOTSTORE, "%s: STRATA file is not a Strata store header", dir);
    if (v > STRATA_FORMAT_VERSION)
        return open_err(STRATA_EVERSION, "%s: store format version %d is newer than this build's %d",
                        dir, v, STRATA_FORMAT_VERSION);
    *version = v;
    return STRATA_OK;
}

/* Take DIR/LOCK; on conflict name the holder's pid. */
static int take_lock(const char *dir, int *fd_out) {
    char *path = path_join(dir, "LOCK");
    if (!path) return open_err(STRATA_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0) {
        int e = errno;
        return open_err(su_errno_status(e), "%s: cannot create LOCK: %s", dir, strerror(e));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char pid[32] = "";
        size_t got = 0;
        su_pread_all(fd, pid, sizeof pid - 1, 0, &got);
        pid[got] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return open_err(STRATA_EBUSY, "%s is in use by process %s", dir, *pid ? pid : "(unknown)");
        return open_err(su_errno_status(e), "%s: cannot lock: %s", dir, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int e = ftruncate(fd, 0) < 0 ? errno : su_pwrite_all(fd, pid, (size_t)n, 0);
    if (e) {
        close(fd);
        return open_err(su_errno_status(e), "%s: cannot write LOCK: %s", dir, strerror(e));
    }
    *fd_out = fd;
    return STRATA_OK;
}

static int check_options(const strata_options *o) {
    if (o->sync != STRATA_SYNC_FULL && o->sync != STRATA_SYNC_NORMAL)
        return open_err(STRATA_EINVAL, "options: sync must be STRATA_SYNC_FULL or STRATA_SYNC_NORMAL");
    if (o->busy_timeout_ms < 0) return open_err(STRATA_EINVAL, "options: busy_timeout_ms is negative");
    if (o->compression_level < 0 || o->compression_level > 12 || o->compact_level < 0 || o->compact_level > 12)
        return open_err(STRATA_EINVAL, "options: compression levels must be within 0..12");
    if (o->vec_threads < 0 || o->vec_threads > 256 || o->reserved_int)
        return open_err(STRATA_EINVAL, "options: vec_threads must be within 0..256 (reserved_int zero)");
    if (o->backup_interval_hours < -1 || o->backup_keep < 0)
        return open_err(STRATA_EINVAL, "options: backup_interval_hours must be >= -1 and backup_keep >= 0");
    char an_why[256];
    if (an_check_options(o, an_why, sizeof an_why)) return open_err(STRATA_EINVAL, "options: %s", an_why);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i]) return open_err(STRATA_EINVAL, "options: reserved fields must be zero");
    return STRATA_OK;
}

/* ---- the document store at open: dictionaries, then recovery (principle 1) ---- */
typedef struct seg_list { docs_seg_state *v; size_t n, cap; } seg_list;

static int seg_collect(void *ctx, uint64_t id, uint64_t len, int sealed) {
    seg_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        docs_seg_state *n = realloc(l->v, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        l->v = n;
        l->cap = cap;
    }
    l->v[l->n++] = (docs_seg_state){ id, len, sealed };
    return 0;
}

static int dict_load(void *ctx, uint32_t id, int codec, const void *data, size_t len) {
    (void)codec;
    return docs_dict_add(ctx, id, data, len);
}

static int64_t docs_now(void *ctx) { return strata__now(ctx); }

static int open_docs(strata *db, char *err, size_t errlen) {
    docs_config cfg = { db->opts.segment_bytes ? db->opts.segment_bytes : STRATA_DEFAULT_SEGMENT_BYTES,
                        db->opts.compression_level, docs_now, db };
    int rc = docs_open(db->dir, &cfg, &db->docs, err, errlen);
    if (rc) return rc;
    if ((rc = op_r_dicts(db->op, dict_load, db->docs)) != STRATA_OK) {
        snprintf(err, errlen, "loading compression dictionaries: %s", strata_errstr(rc));
        return rc;
    }
    seg_list l = { NULL, 0, 0 };
    rc = op_r_segments(db->op, seg_collect, &l);
    if (rc) {
        free(l.v);
        snprintf(err, errlen, "reading the segment catalogue: %s", op_errmsg(db->op, 0));
        return rc;
    }
    /* Problems found here (a missing or short segment) do not stop the open: every
     * other document stays readable and `strata check` names them. */
    rc = docs_recover(db->docs, l.v, l.n, NULL, NULL, err, errlen);
    free(l.v);
    return rc;
}

static void handle_free(strata *db) {
    (void)strata__analytics_close(db); /* no-op unless a failed open started it */
    for (size_t i = 0; i < db->ntouches; i++) free(db->touches[i].id);
    free(db->touches);
    pthread_mutex_destroy(&db->touch_mu);
    pthread_mutex_destroy(&db->maint_mu);
    pthread_mutex_destroy(&db->sched_mu);
    pthread_cond_destroy(&db->sched_cv);
    cache_destroy(db->cache);
    (void)strata__vec_close(db); /* writes changed checkpoints: only speed depends on them */
    docs_close(db->docs);
    op_close(db->op);
    if (db->lock_fd >= 0) close(db->lock_fd);
    pthread_key_delete(db->err_key);
    for (errbuf *b = db->errbufs, *n; b; b = n) { n = b->next; free(b); }
    pthread_mutex_destroy(&db->read_mu);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->commit_mu);
    pthread_mutex_destroy(&db->err_mu);
    pthread_cond_destroy(&db->commit_cv);
    free(db->dir);
    free(db);
}

int strata_open(const char *dir, const strata_options *opts, strata **out) {
    open_msg[0] = 0;
    if (!out) return open_err(STRATA_EINVAL, "out is NULL");
    *out = NULL;
    if (!dir || !*dir) return open_err(STRATA_EINVAL, "directory is NULL or empty");
    strata_options o = opts ? *opts : strata_options_default();
    int rc = check_options(&o);
    if (rc) return rc;

    struct stat st;
    if (stat(dir, &st) < 0) {
        int e = errno;
        if (e != ENOENT) return open_err(su_errno_status(e), "%s: %s", dir, strerror(e));
        if (!o.create) return open_err(STRATA_ENOTFOUND, "%s: no such store (create it first)", dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            e = errno;
            return open_err(su_errno_status(e), "%s: cannot create directory: %s", dir, strerror(e));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        return open_err(STRATA_ENOTSTORE, "%s is not a directory", dir);
    }

    char *fmt_path = path_join(dir, "STRATA");
    if (!fmt_path) return open_err(STRATA_ENOMEM, "out of memory");
    int version = 0;
    rc = read_format(dir, fmt_path, &version);
    if (rc == STRATA_ENOTFOUND) {
        if (!dir_is_fresh(dir))
            rc = open_err(STRATA_ENOTSTORE, "%s is not a Strata store (no STRATA file) and is not empty", dir);
        else if (!o.create)
            rc = open_err(STRATA_ENOTSTORE, "%s is not a Strata store (empty directory; create it first)", dir);
        else
            rc = STRATA_OK; /* initialize below, under the lock */
    }
    if (rc) { free(fmt_path); return rc; }

    strata *db = calloc(1, sizeof *db);
    if (!db || !(db->dir = strdup(dir))) {
        free(db);
        free(fmt_path);
        return open_err(STRATA_ENOMEM, "out of memory");
    }
    db->lock_fd = -1;
    db->opts = o;
    pthread_mutex_init(&db->read_mu, NULL);
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->commit_mu, NULL);
    pthread_mutex_init(&db->err_mu, NULL);
    pthread_mutex_init(&db->touch_mu, NULL);
    pthread_mutex_init(&db->maint_mu, NULL);
    pthread_mutex_init(&db->sched_mu, NULL);
    pthread_cond_init(&db->sched_cv, NULL);
    pthread_cond_init(&db->commit_cv, NULL);
    if (pthread_key_create(&db->err_key, NULL) != 0) {
        free(db->dir);
        free(db);
        free(fmt_path);
        return open_err(STRATA_ENOMEM, "cannot create thread-local key");
    }

    if ((rc = take_lock(dir, &db->lock_fd)) != STRATA_OK) goto fail;

    if (version == 0) {
        /* Under the lock: another creator may have won the race. */
        rc = read_format(dir, fmt_path, &version);
        if (rc == STRATA_ENOTFOUND) {
            char text[64];
            int n = snprintf(text, sizeof text, STORE_MAGIC "\nformat-version %d\n", STRATA_FORMAT_VERSION);
            int e = su_write_atomic(fmt_path, text, (size_t)n, 0600);
            if (e) {
                rc = open_err(su_errno_status(e), "%s: cannot write STRATA file: %s", dir, strerror(e));
                goto fail;
            }
            version = STRATA_FORMAT_VERSION;
            rc = STRATA_OK;
        }
        if (rc) goto fail;
    }

    char *op_path = path_join(dir, "operational.db");
    if (!op_path) { rc = open_err(STRATA_ENOMEM, "out of memory"); goto fail; }
    op_config cfg = { o.sync == STRATA_SYNC_FULL, o.busy_timeout_ms };
    char err[512];
    rc = op_open(op_path, &cfg, &db->op, err, sizeof err);
    free(op_path);
    if (rc) { open_err(rc, "%s: %s", dir, err); goto fail; }
    if ((rc = open_docs(db, err, sizeof err)) != STRATA_OK) { open_err(rc, "%s: %s", dir, err); goto fail; }
    if ((rc = strata__vec_open(db, err, sizeof err)) != STRATA_OK) { open_err(rc, "%s: %s", dir, err); goto fail; }
    cache_params cp = { STRATA_CACHE_DEFAULT_MAXMEMORY, STRATA_CACHE_DEFAULT_POLICY,
                        STRATA_CACHE_DEFAULT_DOC_MAXMEMORY, o.clock, o.clock_ctx, 0 };
    if ((rc = cache_create(&cp, &db->cache)) != STRATA_OK) { open_err(rc, "%s: cannot create the hot tier", dir); goto fail; }
    if ((rc = strata__analytics_open(db, err, sizeof err)) != STRATA_OK) { open_err(rc, "%s: %s", dir, err); goto fail; }
    if ((rc = strata__backup_sched_start(db)) != STRATA_OK) {
        open_err(rc, "%s: cannot start the backup schedule", dir);
        goto fail;
    }

    free(fmt_path);
    *out = db;
    return STRATA_OK;
fail:
    free(fmt_path);
    handle_free(db);
    return rc;
}

int strata_close(strata *db) {
    if (!db) return STRATA_OK;
    strata__backup_sched_stop(db); /* waits for a scheduled backup in progress */
    /* Let in-flight commits finish: a leader or queued members may still run. */
    pthread_mutex_lock(&db->commit_mu);
    while (db->leader || db->queue_head) pthread_cond_wait(&db->commit_cv, &db->commit_mu);
    int poisoned = db->poisoned;
    pthread_mutex_unlock(&db->commit_mu);
    int rc = STRATA_OK;
    if (!poisoned && db->ntouches) {
        pthread_mutex_lock(&db->write_mu);
        if ((rc = op_w_begin(db->op)) == STRATA_OK) {
            flush_touches(db);
            if ((rc = op_w_commit(db->op)) != STRATA_OK) op_w_rollback(db->op);
        }
        pthread_mutex_unlock(&db->write_mu);
    }
    int arc = strata__analytics_close(db); /* writes the metrics still buffered */
    if (!rc) rc = arc;
    handle_free(db);
    return rc;
}

/* ---- transactions ---- */
int strata_txn_begin(strata *db, strata_txn **out) {
    if (!db || !out) return db ? strata__err(db, STRATA_EINVAL, "out is NULL") : STRATA_EINVAL;
    *out = calloc(1, sizeof **out);
    if (!*out) return strata__err(db, STRATA_ENOMEM, "out of memory");
    (*out)->db = db;
    return STRATA_OK;
}

void strata__txop_free(txop *op) {
    free(op->key);
    free(op->val);
    if (op->doc) {
        free(op->doc->id);
        free(op->doc->meta);
        free(op->doc->filename);
        free(op->doc);
    }
    if (op->vec) {
        free(op->vec->id);
        free(op->vec->v);
        free(op->vec);
    }
}

static void txn_free(strata_txn *t) {
    for (uint32_t i = 0; i < t->nops; i++) strata__txop_free(&t->ops[i]);
    free(t->ops);
    free(t);
}

void strata_txn_abort(strata_txn *txn) {
    if (txn) txn_free(txn);
}

static int txn_add(strata_txn *t, txop op) {
    if (t->nops == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 8;
        txop *n = realloc(t->ops, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        t->ops = n;
        t->cap = cap;
    }
    t->ops[t->nops++] = op;
    return STRATA_OK;
}

static const char *txop_name(txop_kind k) {
    static const char *const names[] = { "setting set", "setting delete", "session create",
                                         "session put", "session touch", "session delete",
                                         "session expire", "document put", "document delete", "vector write" };
    return names[k];
}

/* Apply one op on the writer connection; on failure fill t->msg. */
static int apply_op(strata *db, strata_txn *t, txop *op, int64_t now) {
    int rc;
    if (op->vec) return strata__vec_apply(db, t, op->vec, now);
    if (op->doc) {
        doc_op *d = op->doc;
        rc = op->kind == TXOP_DOC_PUT ? op_w_doc_put(db->op, &d->p, now, t->lsn)
                                      : op_w_doc_delete(db->op, d->p.id, d->p.id_len);
        if (rc == STRATA_ENOTFOUND && op->kind == TXOP_DOC_PUT)
            snprintf(t->msg, sizeof t->msg, "document put: the identical content it shared was removed by a "
                     "concurrent compaction; retry the transaction");
        else if (rc == STRATA_ENOTFOUND)
            snprintf(t->msg, sizeof t->msg, "document delete: document (%zu-byte id) not found", d->p.id_len);
        else if (rc)
            snprintf(t->msg, sizeof t->msg, "%s: %s", txop_name(op->kind), op_errmsg(db->op, 1));
        /* A deleted document takes its vectors with it, in the same commit. */
        if (!rc && op->kind == TXOP_DOC_DEL) rc = strata__vec_doc_deleted(db, t, d->p.id, d->p.id_len);
        return rc;
    }
    switch (op->kind) {
    case TXOP_SETTING_SET: rc = op_w_setting_set(db->op, op->key, op->val, now); break;
    case TXOP_SETTING_DEL: rc = op_w_setting_delete(db->op, op->key); break;
    case TXOP_SESSION_CREATE: rc = op_w_session_insert(db->op, op->key, op->val, op->num, now); break;
    case TXOP_SESSION_PUT: rc = op_w_session_put(db->op, op->key, op->val, op->num, now); break;
    case TXOP_SESSION_TOUCH: rc = op_w_session_touch(db->op, op->key, now); break;
    case TXOP_SESSION_DEL: rc = op_w_session_delete(db->op, op->key); break;
    case TXOP_SESSION_EXPIRE: rc = op_w_session_expire(db->op, now, op->num, &op->result); break;
    default: rc = STRATA_EINTERNAL; break;
    }
    if (rc == STRATA_ENOTFOUND)
        snprintf(t->msg, sizeof t->msg, "%s: '%s' not found", txop_name(op->kind), op->key);
    else if (rc == STRATA_EEXIST)
        snprintf(t->msg, sizeof t->msg, "%s: '%s' already exists", txop_name(op->kind), op->key);
    else if (rc)
        snprintf(t->msg, sizeof t->msg, "%s: %s", txop_name(op->kind), op_errmsg(db->op, 1));
    return rc;
}

/* Write pending last-access times inside the current writer transaction. Best
 * effort: a failure here must not fail the commit it rides on, and last access is
 * approximate by design (at most TOUCH_MAX reads are remembered between commits). */
static void flush_touches(strata *db) {
    pthread_mutex_lock(&db->touch_mu);
    struct touch *v = db->touches;
    size_t n = db->ntouches;
    db->touches = NULL;
    db->ntouches = 0;
    pthread_mutex_unlock(&db->touch_mu);
    for (size_t i = 0; i < n; i++) {
        (void)op_w_doc_touch(db->op, v[i].id, v[i].len, v[i].at); /* a failed statement undoes itself */
        free(v[i].id);
    }
    free(v);
}

#define TOUCH_MAX 4096
void strata__touch(strata *db, const void *id, size_t len) {
    int64_t now = strata__now(db);
    pthread_mutex_lock(&db->touch_mu);
    if (!db->touches) db->touches = malloc(TOUCH_MAX * sizeof *db->touches);
    if (db->touches && db->ntouches < TOUCH_MAX) {
        void *copy = malloc(len);
        if (copy) {
            memcpy(copy, id, len);
            db->touches[db->ntouches++] = (struct touch){ copy, len, now };
        }
    }
    pthread_mutex_unlock(&db->touch_mu);
}

/* The leader's work: apply every member of `batch` in one SQLite transaction. */
static void apply_batch(strata *db, strata_txn *batch) {
    pthread_mutex_lock(&db->write_mu);
    int64_t now = strata__now(db);
    int rc = STRATA_OK;
    /* Every run a member appended must be on disk before the commit that makes it
     * reachable. A failed fsync leaves the file's state unknown: poison (D2). */
    for (strata_txn *t = batch; t && !rc; t = t->next)
        for (uint32_t i = 0; i < t->nops; i++)
            if (t->ops[i].doc && t->ops[i].doc->appended) {
                if ((rc = docs_sync(db->docs)) != STRATA_OK) {
                    pthread_mutex_lock(&db->commit_mu);
                    db->poisoned = 1;
                    snprintf(db->poison_msg, sizeof db->poison_msg, "fsync of a document segment failed");
                    pthread_mutex_unlock(&db->commit_mu);
                    for (strata_txn *m = batch; m; m = m->next) {
                        m->rc = rc;
                        snprintf(m->msg, sizeof m->msg, "fsync of a document segment failed: %s", strata_errstr(rc));
                    }
                    pthread_mutex_unlock(&db->write_mu);
                    return;
                }
                break;
            }
    rc = op_w_begin(db->op);
    if (rc) {
        for (strata_txn *t = batch; t; t = t->next) {
            t->rc = rc;
            snprintf(t->msg, sizeof t->msg, "cannot begin a transaction: %s", op_errmsg(db->op, 1));
        }
        pthread_mutex_unlock(&db->write_mu);
        return;
    }
    int any = 0;
    /* A lone member needs no savepoint: rolling back the transaction is the same. */
    int solo = batch->next == NULL;
    for (strata_txn *t = batch; t; t = t->next) {
        if (!solo && (t->rc = op_w_savepoint(db->op)) != STRATA_OK) {
            snprintf(t->msg, sizeof t->msg, "savepoint: %s", op_errmsg(db->op, 1));
            continue;
        }
        strata__vec_member_begin(db);
        if ((t->rc = op_w_log_commit(db->op, now, t->nops, &t->lsn)) != STRATA_OK)
            snprintf(t->msg, sizeof t->msg, "commit log: %s", op_errmsg(db->op, 1));
        for (uint32_t i = 0; i < t->nops && !t->rc; i++) t->rc = apply_op(db, t, &t->ops[i], now);
        if (!solo && !t->rc && (t->rc = op_w_release(db->op)) != STRATA_OK)
            snprintf(t->msg, sizeof t->msg, "release: %s", op_errmsg(db->op, 1));
        if (!t->rc) any = 1;
        else {
            strata__vec_member_abort(db);
            if (!solo) op_w_rollback_savepoint(db->op);
        }
    }
    /* Vector logs, like segments, must be on disk before the commit. */
    if (any && (rc = strata__vec_precommit(db)) != STRATA_OK) {
        pthread_mutex_lock(&db->commit_mu);
        db->poisoned = 1;
        snprintf(db->poison_msg, sizeof db->poison_msg, "fsync of a vector log failed");
        pthread_mutex_unlock(&db->commit_mu);
        for (strata_txn *t = batch; t; t = t->next)
            if (!t->rc) { t->rc = rc; snprintf(t->msg, sizeof t->msg, "fsync of a vector log failed: %s", strata_errstr(rc)); }
        any = 0;
    }
    if (any) {
        flush_touches(db);
        rc = op_w_commit(db->op);
        strata__vec_batch_end(db, rc == STRATA_OK);
        /* Committed and visible: drop the hot tier's copies of changed documents. */
        for (strata_txn *t = batch; t && rc == STRATA_OK; t = t->next)
            for (uint32_t i = 0; !t->rc && i < t->nops; i++)
                if (t->ops[i].doc) cache_doc_invalidate(db->cache, t->ops[i].doc->p.id, t->ops[i].doc->p.id_len);
        if (rc) {
            /* D2: the outcome is unknown (an fsync may have failed half-way). */
            char msg[256];
            snprintf(msg, sizeof msg, "commit failed: %s: %s", strata_errstr(rc), op_errmsg(db->op, 1));
            op_w_rollback(db->op);
            pthread_mutex_lock(&db->commit_mu);
            if (rc != STRATA_ENOSPC && rc != STRATA_EBUSY) {
                db->poisoned = 1;
                snprintf(db->poison_msg, sizeof db->poison_msg, "%s", msg);
            }
            pthread_mutex_unlock(&db->commit_mu);
            for (strata_txn *t = batch; t; t = t->next)
                if (!t->rc) { t->rc = rc; snprintf(t->msg, sizeof t->msg, "%s", msg); t->lsn = 0; }
        }
    } else {
        op_w_rollback(db->op);
        strata__vec_batch_end(db, 0);
    }
    /* Reads after this commit must see it: end the reader's held snapshot (before
     * the write lock goes, so a compaction that takes it next reads fresh rows).
     * Lock order: write_mu, then read_mu. */
    pthread_mutex_lock(&db->read_mu);
    op_r_release(db->op);
    pthread_mutex_unlock(&db->read_mu);
    pthread_mutex_unlock(&db->write_mu);
}

/* Small documents compress badly on their own: once enough content is stored
 * without a shared dictionary, train one (once; a failed attempt waits for another
 * STRATA_AUTO_DICT_BYTES). Runs in the committing thread, after its commit. */
static void maybe_train_dict(strata *db) {
    pthread_mutex_lock(&db->touch_mu);
    int go = db->undict_bytes >= STRATA_AUTO_DICT_BYTES && !db->dict_training &&
             docs_dict_current(db->docs) == 0;
    if (go) { db->dict_training = 1; db->undict_bytes = 0; }
    pthread_mutex_unlock(&db->touch_mu);
    if (!go) return;
    char saved[STRATA_ERRMSG_MAX];
    snprintf(saved, sizeof saved, "%s", strata_errmsg(db));
    (void)strata_doc_train_dict(db, NULL); /* best effort: the commit already succeeded */
    set_msg(db, saved);
    pthread_mutex_lock(&db->touch_mu);
    db->dict_training = 0;
    pthread_mutex_unlock(&db->touch_mu);
}

int strata_txn_commit(strata_txn *t, uint64_t *lsn_out) {
    if (lsn_out) *lsn_out = 0;
    if (!t) return STRATA_EINVAL;
    strata *db = t->db;
    if (t->nops == 0) { txn_free(t); return STRATA_OK; }

    pthread_mutex_lock(&db->commit_mu);
    if (db->poisoned) {
        char msg[sizeof db->poison_msg];
        memcpy(msg, db->poison_msg, sizeof msg);
        pthread_mutex_unlock(&db->commit_mu);
        txn_free(t);
        return strata__err(db, STRATA_EPOISONED, "store refuses writes until reopened: %s", msg);
    }
    t->next = NULL;
    if (db->queue_tail) db->queue_tail->next = t; else db->queue_head = t;
    db->queue_tail = t;
    while (!t->done) {
        if (db->leader) {
            pthread_cond_wait(&db->commit_cv, &db->commit_mu);
            continue;
        }
        db->leader = 1;
        strata_txn *batch = db->queue_head;
        db->queue_head = db->queue_tail = NULL;
        pthread_mutex_unlock(&db->commit_mu);

        apply_batch(db, batch);

        pthread_mutex_lock(&db->commit_mu);
        db->group_commits++;
        for (strata_txn *m = batch, *next; m; m = next) {
            next = m->next; /* m may be freed by its owner as soon as done is set */
            if (!m->rc) db->commits++;
            m->done = 1;
        }
        db->leader = 0;
        pthread_cond_broadcast(&db->commit_cv);
    }
    pthread_mutex_unlock(&db->commit_mu);

    int rc = t->rc;
    if (rc) strata__err(db, rc, "%s", t->msg);
    else {
        if (lsn_out) *lsn_out = t->lsn;
        if (t->result_out) *t->result_out = t->ops[0].result;
    }
    txn_free(t);
    if (!rc) maybe_train_dict(db);
    return rc;
}

int strata__write(strata *db, strata_txn *txn, txop op, uint64_t *result) {
    if (txn) {
        if (txn->db != db) {
            free(op.key);
            free(op.val);
            return strata__err(db, STRATA_EMISUSE, "transaction belongs to another handle");
        }
        if (txn_add(txn, op) != STRATA_OK) {
            free(op.key);
            free(op.val);
            return strata__err(db, STRATA_ENOMEM, "out of memory");
        }
        return STRATA_OK;
    }
    strata_txn *t = calloc(1, sizeof *t);
    if (!t || txn_add(t, op) != STRATA_OK) {
        free(op.key);
        free(op.val);
        free(t);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    t->db = db;
    t->result_out = result;
    return strata_txn_commit(t, NULL);
}
