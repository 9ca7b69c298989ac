/* cmd_import.c — `strata import DIR`: every regular file below DIR becomes a document
 * whose id is its path relative to DIR ('/'-separated).
 *
 * The pieces, so that later options slot in without touching the rest:
 *  - a walker (walk_*) that visits regular files in byte order of their names, never
 *    follows a symlink below DIR and skips whatever is not a regular file;
 *  - batches: files join one transaction until --batch files or BATCH_BYTES bytes,
 *    whichever comes first, then it commits (one fsync per batch);
 *  - stages (import_stages[]): what happens to one open file inside the batch's
 *    transaction: the document put and, with `--embed hash --collection NAME
 *    --dim D`, the document's vector. Embedding is split around the put so that
 *    everything that can fail (reading the text, embedding it) happens before the
 *    put writes into txn: "embed" reads the first EMBED_TEXT_MAX bytes and embeds
 *    them, "vector" puts the vector in the same txn after the document, so the
 *    document and its vector commit together;
 *  - progress on stderr when it is a terminal, a summary line on stdout.
 * An unreadable file is reported, counted and skipped; the import goes on and exits
 * 1 at the end. A failed commit stops it (what was committed before stays). */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BATCH_FILES 256
#define BATCH_BYTES (64ull << 20)   /* a batch commits once it holds this much content */
#define MAX_BATCH_FILES 1000000
#define PROGRESS_INTERVAL 0.1       /* seconds between progress redraws */
#define MB 1e6                      /* sizes in messages are in SI megabytes */
#define EMBED_TEXT_MAX (64u << 10)  /* text of a document that --embed embeds */

/* ---- options ---- */

struct import_opts {
    const char *dir;
    const char *meta;        /* --meta: a JSON object for every document, or NULL */
    uint64_t batch_files;    /* --batch */
    uint64_t batch_bytes;
    const char *collection;  /* --embed hash --collection NAME: embed into NAME, or NULL */
    uint32_t dim;            /* the collection's dimension */
};

static int parse_opts(struct cli_ctx *ctx, struct import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dir = ctx->argv[0];
    o->batch_files = DEFAULT_BATCH_FILES;
    o->batch_bytes = BATCH_BYTES;
    const char *batch = cli_flag(ctx, "--batch");
    if (batch && cli_parse_count(ctx, "--batch", batch, MAX_BATCH_FILES, &o->batch_files) != CLI_OK)
        return CLI_USAGE;
    o->meta = cli_flag(ctx, "--meta");
    if (o->meta && !cli_json_is_object(o->meta)) {
        fprintf(stderr, "strata: import: --meta must be a JSON object, not '%s'\n", cli_q(o->meta));
        return CLI_FAILED;
    }
    const char *embed = cli_flag(ctx, "--embed"), *coll = cli_flag(ctx, "--collection");
    const char *dim = cli_flag(ctx, "--dim");
    if (!embed) {
        if (coll || dim)
            return cli_usage(ctx, "%s goes with --embed hash", coll ? "--collection" : "--dim");
        return CLI_OK;
    }
    if (strcmp(embed, "hash") != 0)
        return cli_usage(ctx, "--embed knows 'hash' (the lexical hash embedder), not '%s'", cli_q(embed));
    if (!coll || !*coll)
        return cli_usage(ctx, "--embed needs --collection NAME");
    o->collection = coll;
    if (dim) {
        uint64_t v;
        if (cli_parse_count(ctx, "--dim", dim, STRATA_VEC_DIM_MAX, &v) != CLI_OK)
            return CLI_USAGE;
        o->dim = (uint32_t)v;
    }
    return CLI_OK;
}

/* The collection --embed fills: created (cosine, --dim) when missing; an existing
 * one must have --dim (when given) as its dimension. */
static int prepare_collection(struct cli_ctx *ctx, struct import_opts *o)
{
    strata_collection_info info;
    int rc = strata_vec_info(ctx->db, o->collection, &info);
    if (rc == STRATA_ENOTFOUND) {
        if (!o->dim) {
            fprintf(stderr, "strata: import: collection '%s' does not exist; give --dim D to create it\n",
                    cli_q(o->collection));
            return CLI_FAILED;
        }
        strata_collection_opts co = { 0 };
        co.dim = o->dim;
        co.metric = STRATA_METRIC_COSINE;
        rc = strata_vec_create(ctx->db, o->collection, &co);
        if (rc == STRATA_EEXIST) /* created meanwhile: check it as an existing one */
            rc = strata_vec_info(ctx->db, o->collection, &info);
        else if (rc != STRATA_OK)
            return cli_fail(ctx, rc, "import: create collection '%s'", cli_q(o->collection));
        else
            return CLI_OK;
    }
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "import: collection '%s'", cli_q(o->collection));
    if (o->dim && info.dim != o->dim) {
        fprintf(stderr, "strata: import: collection '%s' holds %" PRIu32 "-dimensional vectors, not --dim %"
                PRIu32 "\n", cli_q(o->collection), info.dim, o->dim);
        return CLI_FAILED;
    }
    o->dim = info.dim;
    return CLI_OK;
}

/* ---- the state of one import ---- */

struct import_file {
    const char *id;          /* path relative to DIR, '/'-separated */
    size_t id_len;
    const char *name;        /* its last component: the document's filename */
    int fd;                  /* open for reading, a regular file, at offset 0 */
    uint64_t size;           /* at open time; the content is read to its end */
};

struct import_run {
    struct cli_ctx *ctx;
    struct import_opts opts;

    strata_txn *txn;         /* the open batch, or NULL */
    uint64_t batch_files, batch_ok, batch_bytes;

    uint64_t files, bytes;   /* committed */
    uint64_t failed, skipped_links, skipped_other;
    uint64_t batch_ok_bytes; /* content of the batch's files that went in */
    uint64_t embedded, no_words;             /* --embed: committed */
    uint64_t batch_embedded, batch_no_words; /* --embed: in the open batch */
    float *vec;              /* --embed: the current file's vector (dim floats) */
    int vec_ready;           /* vec holds the current file's vector */
    char *text;              /* --embed: EMBED_TEXT_MAX bytes for the text */
    uint64_t file_bytes;     /* read from the current file */
    uint64_t seen_files, seen_bytes; /* read so far, for progress */
    int fatal;               /* a commit failed: stop */

    double start;
    /* progress (stderr is a terminal) */
    int progress;
    int drawn;               /* a progress line is on the screen */
    double last_draw;
    int totals_known;
    uint64_t total_files, total_bytes;
};

/* ---- progress ---- */

static void progress_clear(struct import_run *r)
{
    if (r->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        r->drawn = 0;
    }
}

static void progress_draw(struct import_run *r, int force)
{
    if (!r->progress)
        return;
    double now = cli_now();
    if (!force && now - r->last_draw < PROGRESS_INTERVAL)
        return;
    r->last_draw = now;
    double el = now - r->start;
    double mbs = el > 0 ? (double)r->seen_bytes / MB / el : 0;
    char line[256], bar[32] = "";
    int n;
    if (r->totals_known) {
        double frac = r->total_bytes ? (double)r->seen_bytes / (double)r->total_bytes
                      : r->total_files ? (double)r->seen_files / (double)r->total_files : 1;
        if (frac > 1)
            frac = 1;
        int w = 20, fill = (int)(frac * w);
        bar[0] = '[';
        for (int i = 0; i < w; i++)
            bar[1 + i] = i < fill ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = '\0';
        n = snprintf(line, sizeof line, "%s %3d%%  %" PRIu64 "/%" PRIu64 " files  %.1f/%.1f MB  %.1f MB/s",
                     bar, (int)(frac * 100), r->seen_files, r->total_files,
                     (double)r->seen_bytes / MB, (double)r->total_bytes / MB, mbs);
    } else {
        n = snprintf(line, sizeof line, "%" PRIu64 " files  %.1f MB  %.1f MB/s", r->seen_files,
                     (double)r->seen_bytes / MB, mbs);
    }
    if (r->failed && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  %" PRIu64 " failed", r->failed);
    /* Never wrap: a wrapped line could not be redrawn in place. */
    struct winsize ws;
    size_t cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
    if (strlen(line) > cols - 1)
        line[cols - 1] = '\0';
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    r->drawn = 1;
}

/* A message about one entry; the progress line is redrawn later. */
static void import_error(struct import_run *r, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void import_error(struct import_run *r, const char *rel, const char *fmt, ...)
{
    progress_clear(r);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "strata: import: '%s': ", cli_q(rel));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- stages ---- */

struct src { struct import_run *r; int fd; int err; };

/* Read callback of the streaming put: counts bytes for the progress line. */
static long long src_read(void *ctx, void *buf, size_t cap)
{
    struct src *s = ctx;
    for (;;) {
        ssize_t n = read(s->fd, buf, cap);
        if (n >= 0) {
            s->r->seen_bytes += (uint64_t)n;
            s->r->batch_bytes += (uint64_t)n;
            s->r->file_bytes += (uint64_t)n;
            progress_draw(s->r, 0);
            return n;
        }
        if (errno != EINTR) {
            s->err = errno;
            return -1;
        }
    }
}

static int stage_doc_put(struct import_run *r, strata_txn *txn, const struct import_file *f)
{
    strata_doc_put_opts o = { 0 };
    o.metadata_json = r->opts.meta;
    o.filename = f->name;
    struct src s = { r, f->fd, 0 };
    int rc = strata_doc_put_stream(r->ctx->db, txn, f->id, f->id_len, src_read, &s, &o);
    if (rc == STRATA_OK)
        return STRATA_OK;
    if (s.err)
        import_error(r, f->id, "read: %s", strerror(s.err));
    else {
        const char *msg = strata_errmsg(r->ctx->db);
        import_error(r, f->id, "%s", msg && *msg ? msg : strata_errstr(rc));
    }
    return rc;
}

/* --embed: read the start of the file and embed it, before anything is written. */
static int stage_embed(struct import_run *r, strata_txn *txn, const struct import_file *f)
{
    (void)txn;
    r->vec_ready = 0;
    size_t n = 0;
    while (n < EMBED_TEXT_MAX) {
        ssize_t got = pread(f->fd, r->text + n, EMBED_TEXT_MAX - n, (off_t)n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            import_error(r, f->id, "read: %s", strerror(errno));
            return STRATA_EIO;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    int rc = strata_embed_hash(r->text, n, r->vec, r->opts.dim);
    if (rc == STRATA_OK)
        r->vec_ready = 1;
    else if (rc != STRATA_EINVAL) { /* EINVAL: no word; the document goes in without a vector */
        import_error(r, f->id, "embed: %s", strata_errstr(rc));
        return rc;
    }
    return STRATA_OK;
}

/* --embed: the vector joins the document's transaction. A document without a word
 * gets none, and loses the one an earlier version of it had. A failure here comes
 * after the put: the batch cannot be committed without this vector, so the import
 * stops (fatal) and the batch is dropped. */
static int stage_vector(struct import_run *r, strata_txn *txn, const struct import_file *f)
{
    int rc;
    if (r->vec_ready) {
        rc = strata_vec_put(r->ctx->db, txn, r->opts.collection, f->id, f->id_len, r->vec, r->opts.dim);
        if (rc == STRATA_OK) {
            r->batch_embedded++;
            return STRATA_OK;
        }
    } else {
        r->batch_no_words++;
        rc = strata_vec_get(r->ctx->db, r->opts.collection, f->id, f->id_len, r->vec, r->opts.dim);
        if (rc == STRATA_ENOTFOUND)
            return STRATA_OK;
        if (rc == STRATA_OK)
            rc = strata_vec_delete(r->ctx->db, txn, r->opts.collection, f->id, f->id_len);
        if (rc == STRATA_OK)
            return STRATA_OK;
    }
    const char *msg = strata_errmsg(r->ctx->db);
    import_error(r, f->id, "vector: %s", msg && *msg ? msg : strata_errstr(rc));
    r->fatal = 1;
    return rc;
}

static int embed_enabled(const struct import_opts *o)
{
    return o->collection != NULL;
}

struct import_stage {
    const char *name;
    int (*enabled)(const struct import_opts *o);   /* NULL: always */
    /* STRATA_OK, or a status after reporting with import_error: the file failed. A
     * stage that can fail must do so before it writes into txn, so that a failed
     * file leaves nothing in the batch (the put runs first, and cannot be undone
     * inside the txn). */
    int (*file)(struct import_run *r, strata_txn *txn, const struct import_file *f);
};

static const struct import_stage import_stages[] = {
    { "embed", embed_enabled, stage_embed },
    { "document", NULL, stage_doc_put },
    { "vector", embed_enabled, stage_vector },
};
#define N_STAGES (sizeof import_stages / sizeof import_stages[0])

/* ---- batches ---- */

static int batch_commit(struct import_run *r)
{
    if (!r->txn)
        return CLI_OK;
    strata_txn *txn = r->txn;
    r->txn = NULL;
    if (r->batch_ok == 0) {
        strata_txn_abort(txn);
    } else {
        int rc = strata_txn_commit(txn, NULL);
        if (rc != STRATA_OK) {
            progress_clear(r);
            const char *msg = strata_errmsg(r->ctx->db);
            fprintf(stderr, "strata: import: commit of a batch of %" PRIu64 " files failed: %s\n",
                    r->batch_ok, msg && *msg ? msg : strata_errstr(rc));
            r->failed += r->batch_ok;
            r->fatal = 1;
            r->batch_files = r->batch_ok = r->batch_bytes = r->batch_ok_bytes = 0;
            r->batch_embedded = r->batch_no_words = 0;
            return CLI_FAILED;
        }
        r->files += r->batch_ok;
        r->bytes += r->batch_ok_bytes;
        r->embedded += r->batch_embedded;
        r->no_words += r->batch_no_words;
    }
    r->batch_files = r->batch_ok = 0;
    r->batch_bytes = r->batch_ok_bytes = 0;
    r->batch_embedded = r->batch_no_words = 0;
    return CLI_OK;
}

/* ---- the walk ---- */

struct walk {
    char *rel;               /* path of the current entry relative to DIR */
    size_t len, cap;
    dev_t store_dev;         /* the store's own directory, never imported */
    ino_t store_ino;
    int have_store;
    int count_only;          /* the first pass for progress totals */
    struct import_run *r;
};

static int rel_push(struct walk *w, const char *name, size_t *saved)
{
    size_t n = strlen(name), need = w->len + (w->len ? 1 : 0) + n + 1;
    if (need > w->cap) {
        size_t cap = need * 2;
        char *p = realloc(w->rel, cap);
        if (!p)
            return -1;
        w->rel = p;
        w->cap = cap;
    }
    *saved = w->len;
    if (w->len)
        w->rel[w->len++] = '/';
    memcpy(w->rel + w->len, name, n + 1);
    w->len += n;
    return 0;
}

static void rel_pop(struct walk *w, size_t saved)
{
    w->len = saved;
    if (w->rel)
        w->rel[saved] = '\0';
}

static void import_one(struct walk *w, int dirfd, const char *name)
{
    struct import_run *r = w->r;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP) { /* became a symlink since it was listed */
            r->skipped_links++;
            return;
        }
        import_error(r, w->rel, "open: %s", strerror(errno));
        r->failed++;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        import_error(r, w->rel, "stat: %s", strerror(errno));
        r->failed++;
        close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* replaced since it was listed */
        r->skipped_other++;
        close(fd);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    if (!r->txn) {
        int rc = strata_txn_begin(r->ctx->db, &r->txn);
        if (rc != STRATA_OK) {
            progress_clear(r);
            cli_fail(r->ctx, rc, "import: begin a transaction");
            r->txn = NULL;
            r->fatal = 1;
            close(fd);
            return;
        }
    }
    struct import_file f = { w->rel, w->len, name, fd, (uint64_t)st.st_size };
    int ok = 1;
    for (size_t i = 0; i < N_STAGES && ok; i++) {
        if (import_stages[i].enabled && !import_stages[i].enabled(&r->opts))
            continue;
        if (i > 0 && lseek(fd, 0, SEEK_SET) != 0) {
            import_error(r, w->rel, "rewind: %s", strerror(errno));
            ok = 0;
            break;
        }
        ok = import_stages[i].file(r, r->txn, &f) == STRATA_OK;
    }
    close(fd);
    r->seen_files++;
    r->batch_files++;
    if (ok) {
        r->batch_ok++;
        r->batch_ok_bytes += r->file_bytes;
    } else {
        r->failed++;
    }
    r->file_bytes = 0;
    if (!r->fatal && (r->batch_files >= r->opts.batch_files || r->batch_bytes >= r->opts.batch_bytes))
        batch_commit(r);
    progress_draw(r, 0);
}

static void count_one(struct walk *w, int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        w->r->total_files++;
        w->r->total_bytes += (uint64_t)st.st_size;
    }
}

struct entry { char *name; unsigned char type; };

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static int is_store(const struct walk *w, const struct stat *st)
{
    return w->have_store && st->st_dev == w->store_dev && st->st_ino == w->store_ino;
}

/* Walk the directory open at fd (taken over and closed), whose path is w->rel. */
static void walk_dir(struct walk *w, int fd)
{
    struct import_run *r = w->r;
    DIR *d = fdopendir(fd);
    if (!d) {
        if (!w->count_only) {
            import_error(r, w->len ? w->rel : ".", "open directory: %s", strerror(errno));
            r->failed++;
        }
        close(fd);
        return;
    }
    /* Read every name first, so that ids come in byte order (and batches too). */
    struct entry *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t c2 = cap ? cap * 2 : 64;
            struct entry *e2 = realloc(ents, c2 * sizeof *ents);
            if (!e2)
                break;
            ents = e2;
            cap = c2;
        }
        if (!(ents[n].name = strdup(de->d_name)))
            break;
        ents[n++].type = de->d_type;
        errno = 0;
    }
    if (errno != 0 && !w->count_only) {
        import_error(r, w->len ? w->rel : ".", "read directory: %s", strerror(errno));
        r->failed++;
    }
    if (n > 1)
        qsort(ents, n, sizeof *ents, entry_cmp);

    int dfd = dirfd(d);
    for (size_t i = 0; i < n; i++) {
        const char *name = ents[i].name;
        if (r->fatal)
            break;
        size_t saved;
        if (rel_push(w, name, &saved) != 0) {
            import_error(r, w->rel, "out of memory");
            r->fatal = 1;
            break;
        }
        unsigned char type = ents[i].type;
        struct stat st;
        if (type == DT_UNKNOWN || type == DT_DIR) {
            if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (!w->count_only && errno != ENOENT) {
                    import_error(r, w->rel, "stat: %s", strerror(errno));
                    r->failed++;
                }
                rel_pop(w, saved);
                continue;
            }
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG
                   : S_ISLNK(st.st_mode) ? DT_LNK : DT_FIFO /* any other kind */;
        }
        if (type == DT_DIR) {
            if (is_store(w, &st)) {
                if (!w->count_only)
                    import_error(r, w->rel, "skipped: it is the store being imported into");
            } else {
                int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                    walk_dir(w, sub);
                else if (errno == ELOOP || errno == ENOTDIR) {
                    if (!w->count_only)
                        r->skipped_other++; /* replaced since it was listed */
                } else if (!w->count_only) {
                    import_error(r, w->rel, "open directory: %s", strerror(errno));
                    r->failed++;
                }
            }
        } else if (type == DT_REG) {
            if (w->count_only)
                count_one(w, dfd, name);
            else
                import_one(w, dfd, name);
        } else if (!w->count_only) {
            if (type == DT_LNK)
                r->skipped_links++;
            else
                r->skipped_other++;
        }
        rel_pop(w, saved);
    }
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    closedir(d);
}

/* ---- the command ---- */

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

static int run_import(struct cli_ctx *ctx)
{
    struct import_run r = { 0 };
    r.ctx = ctx;
    int status = parse_opts(ctx, &r.opts);
    if (status != CLI_OK)
        return status;
    const char *dir = r.opts.dir;

    /* DIR itself may be a symlink (named on purpose); nothing below it is followed. */
    int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (top < 0 || fstat(top, &st) != 0) {
        fprintf(stderr, "strata: import: '%s': %s\n", cli_q(dir), strerror(errno));
        if (top >= 0)
            close(top);
        return CLI_FAILED;
    }
    struct walk w = { 0 };
    w.r = &r;
    struct stat sst;
    if (stat(ctx->dir, &sst) == 0) {
        w.store_dev = sst.st_dev;
        w.store_ino = sst.st_ino;
        w.have_store = 1;
    }
    if (is_store(&w, &st)) {
        fprintf(stderr, "strata: import: '%s' is the store itself\n", cli_q(dir));
        close(top);
        return CLI_FAILED;
    }

    if (r.opts.collection) {
        if (prepare_collection(ctx, &r.opts) != CLI_OK) {
            close(top);
            return CLI_FAILED;
        }
        r.vec = malloc((size_t)r.opts.dim * sizeof *r.vec);
        r.text = malloc(EMBED_TEXT_MAX);
        if (!r.vec || !r.text) {
            free(r.vec);
            free(r.text);
            close(top);
            return cli_fail(ctx, STRATA_ENOMEM, "import");
        }
    }

    strata_stats before, after;
    int rc = strata_stats_get(ctx->db, &before);
    if (rc != STRATA_OK) {
        close(top);
        free(r.vec);
        free(r.text);
        return cli_fail(ctx, rc, "import: read statistics");
    }

    r.start = cli_now();
    r.progress = isatty(STDERR_FILENO);
    if (r.progress) {
        /* A first pass for the totals the bar needs; metadata only, so it is quick. */
        /* A fresh open file description: a dup would share the directory offset. */
        int dup_fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dup_fd >= 0) {
            w.count_only = 1;
            walk_dir(&w, dup_fd);
            w.count_only = 0;
            r.totals_known = 1;
        }
        r.start = cli_now();
        progress_draw(&r, 1);
    }
    walk_dir(&w, top);
    if (!r.fatal)
        batch_commit(&r);
    else if (r.txn) {
        strata_txn_abort(r.txn);
        r.txn = NULL;
        r.failed += r.batch_ok; /* stored in the dropped batch: not imported */
    }
    free(w.rel);
    free(r.vec);
    free(r.text);
    if (r.progress) {
        progress_draw(&r, 1);
        progress_clear(&r);
    }
    double secs = cli_now() - r.start;

    rc = strata_stats_get(ctx->db, &after);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "import: read statistics");
    double raw_mb = (double)r.bytes / MB;
    double stored_mb = ((double)after.doc_stored_bytes - (double)before.doc_stored_bytes) / MB;
    printf("imported %" PRIu64 " file%s, %.1f MB in %.2f s (%.1f MB/s); stored %.1f MB (%.1f%% of raw)\n",
           r.files, plural(r.files), raw_mb, secs, secs > 0 ? raw_mb / secs : 0.0, stored_mb,
           r.bytes ? 100.0 * stored_mb / raw_mb : 0.0);
    if (r.opts.collection)
        printf("embedded %" PRIu64 " document%s into collection '%s' (dim %" PRIu32 "); %" PRIu64
               " without a word skipped\n", r.embedded, plural(r.embedded), r.opts.collection, r.opts.dim,
               r.no_words);
    fflush(stdout);

    if (r.skipped_links || r.skipped_other)
        fprintf(stderr, "strata: import: skipped %" PRIu64 " symlink%s and %" PRIu64
                " other non-regular file%s\n", r.skipped_links, plural(r.skipped_links),
                r.skipped_other, plural(r.skipped_other));
    if (r.failed || r.fatal) {
        fprintf(stderr, "strata: import: %" PRIu64 " file%s failed%s\n", r.failed, plural(r.failed),
                r.fatal ? "; the import stopped early" : "");
        return CLI_FAILED;
    }
    return CLI_OK;
}

static const struct cli_flag import_flags[] = {
    { "--meta", "JSON", "metadata for every document, a JSON object" },
    { "--batch", "N", "files per transaction (default 256; also capped at 64 MiB)" },
    { "--embed", "METHOD", "also embed each document: 'hash' (strata_embed_hash)" },
    { "--collection", "NAME", "--embed: the vector collection (created if missing)" },
    { "--dim", "D", "--embed: its dimension (required to create it)" },
    CLI_FLAG_END,
};

static const struct cli_command import_commands[] = {
    { "import", "DIR", 1, 1, import_flags, CLI_STORE_OPEN,
      "store each file below DIR as a document",
      "Store every regular file below DIR, recursively, as a document whose id is\n"
      "its path relative to DIR ('/'-separated) and whose filename is its base name,\n"
      "replacing documents with the same id. Files are visited in byte order of\n"
      "their names. Symlinks below DIR are not followed and, like FIFOs, sockets\n"
      "and devices, are skipped (counted on stderr). Files are committed in batches\n"
      "of --batch N files or 64 MiB, whichever comes first; an interrupted import\n"
      "keeps the batches committed so far, and running it again stores identical\n"
      "content only once.\n"
      "On a terminal a progress bar on stderr shows files, MB and MB/s. At the end\n"
      "one line on stdout:\n"
      "  imported N files, X MB in T s (Y MB/s); stored S MB (R% of raw)\n"
      "where S is the growth of the store's live content (after compression and\n"
      "deduplication; MB = 10^6 bytes). A file that cannot be read is reported on\n"
      "stderr and skipped; the import goes on and exits 1 at the end.\n"
      "With --embed hash --collection NAME --dim D each document also gets a vector\n"
      "in collection NAME, in the same transaction as its content: its first 64 KiB\n"
      "embedded as text by strata_embed_hash, a lexical hash embedder (texts that\n"
      "share words come out close; no semantics; real applications put their own\n"
      "model's vectors with the library). A missing NAME is created (cosine, D\n"
      "dimensions); an existing one must have dimension D (--dim may then be left\n"
      "out). A document without a word to embed (empty, whitespace) is stored\n"
      "without a vector (and loses the one it had there). A second line says:\n"
      "  embedded N documents into collection 'NAME' (dim D); M without a word skipped\n"
      "Search them with 'strata vec search NAME --text TEXT'.",
      run_import },
};

const struct cli_group cli_group_import = {
    NULL, "import", import_commands, sizeof import_commands / sizeof import_commands[0],
};
