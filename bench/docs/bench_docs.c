/* bench_docs.c — Strata's document store against its anchor, the same texts in one
 * SQLite table, in the same run (DESIGN.md principle 6; issue 3, "Benchmark").
 *
 * Corpus: CORPUS/docs/ (every regular *.txt file below it is one document; its id is
 * its path relative to CORPUS/docs, as `strata import` names them) plus
 * CORPUS/manifest.tsv (checked: document count and byte total). Build one with
 * ../shared/bench/make-corpus.sh CORPUS. Nothing else about the corpus is assumed.
 *
 * What one run measures, each figure beside the anchor's, with the ratio Strata/SQLite:
 *  1. Storage. Strata A: every document imported into a fresh store (default options,
 *     transactions of --batch documents); stats before and after strata_doc_train_dict
 *     + strata_compact(db, 0.0), and at rest (closed and reopened: the WAL is gone).
 *     Strata B ("dictionary first"): every 10th document imported, the dictionary
 *     trained, the rest imported, compact(0.0). Strata C: B with compression_level
 *     --hc-level (LZ4HC). Anchor: CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT),
 *     page_size 4096, WAL checkpointed, journal_mode DELETE, VACUUM: the file's size.
 *     "% smaller" = 1 - strata/sqlite.
 *  2. Import MB/s (raw bytes / wall time, --batch documents per transaction): Strata
 *     with its default options (WAL, synchronous FULL) against SQLite in WAL mode with
 *     synchronous=FULL inserting with one prepared statement. --reps repetitions on
 *     fresh stores, the side that goes first alternating; medians, and the wall time
 *     split into CPU time and the rest (fsync waits).
 *  3. Get latency: --gets ids drawn uniformly (fixed --seed) from all documents and
 *     from the "4 KB" subset (3 KiB <= size <= 5 KiB). Strata: strata_doc_get +
 *     strata_free. SQLite (the VACUUMed table, back in WAL mode like Strata's catalogue,
 *     default cache; --anchor-mmap/--anchor-cache-kib tune it): SELECT body FROM docs
 *     WHERE id = ?1 prepared once, sqlite3_column_text, malloc+memcpy of the bytes, free
 *     (Strata's result is a malloc'd copy too). The sides run twice, interleaved in
 *     slices of 1000 gets; the second pass (warm) is reported: p50, p99, mean in
 *     microseconds. Every result is compared with the corpus outside the timed part.
 *  4. Read-all throughput: every document got once in corpus order (single thread),
 *     raw bytes / time, median of --reps. And the codec alone (src/docs/codec.h, a
 *     private header benches may use): decompression of every document's payload into
 *     a reused buffer — LZ4, LZ4 + a ZDICT-trained 64 KiB dictionary, LZ4HC + that
 *     dictionary — against LZ4's own LZ4_decompress_safe[_usingDict] on the same
 *     payloads, and memcpy as the ceiling.
 *
 * Strata's figures 1-4 (except the codec lines) use only the public API (strata.h).
 *
 * Profiling: each timed side is its own function kept out of inlining and cloning
 * (strata_get_one, sqlite_get_one, strata_import, sqlite_import, codec_decode_all,
 * lz4_decode_all), so callgrind's --toggle-collect can isolate one; see bench/README.md. */
#include "strata.h"
#include "docs/codec.h"

#include <lz4.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* Timed sides keep their names for callgrind --toggle-collect (noipa: no .isra clones). */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noipa))
#endif
#define TMPFS_MAGIC_ 0x01021994
#define SLICE 1000 /* gets per slice when the sides take turns */

/* ---- options ---- */
static const char *opt_corpus = "/work/corpus";
static const char *opt_dir = NULL;
static int opt_reps = 5;
static int opt_gets = 20000;
static int opt_batch = 256;
static uint64_t opt_seed = 42;
static int opt_keep = 0;
static int opt_no_dict_first = 0;
static int opt_hc_level = 9;
static long long opt_anchor_mmap = 0;
static int opt_anchor_cache_kib = 0;
static int opt_verbose = 0;

/* ---- small helpers ---- */
static char workdir[PATH_MAX / 2]; /* leaves room for the names below it */
static int workdir_made = 0;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)flag; (void)f;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}
static void rm_tree(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static void cleanup(void) {
    if (!workdir_made) return;
    if (opt_keep) { fprintf(stderr, "kept %s\n", workdir); return; }
    rm_tree(workdir);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_docs: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
/* CPU seconds of the whole process (user + system; the benchmark is single-threaded). */
static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double last_cpu; /* CPU seconds of the last strata_import/sqlite_import */

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t rng_s;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(const double *v, int n) {
    double *t = malloc((size_t)n * sizeof *t);
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    free(t);
    return m;
}

/* Median over reps of num[r] / den[r] (paired: a slow spell hits both sides of a rep). */
static double median_ratio(const double *num, const double *den, int n) {
    double *t = malloc((size_t)n * sizeof *t);
    for (int i = 0; i < n; i++) t[i] = num[i] / den[i];
    double m = median(t, n);
    free(t);
    return m;
}

static uint64_t file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static const char *mb(uint64_t b, char *buf) { /* "12.34 MB" (10^6) */
    snprintf(buf, 32, "%.2f MB", (double)b / 1e6);
    return buf;
}

/* ---- corpus ---- */
typedef struct doc { char *id; size_t id_len; const char *text; size_t len; } doc;
typedef struct corpus {
    doc *d;
    size_t n, cap;
    uint64_t total;
    size_t max_len;
    char *docs_dir;
    size_t docs_dir_len;
} corpus;
static corpus C;

static int collect_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)f;
    if (flag != FTW_F || !S_ISREG(st->st_mode)) return 0;
    size_t n = strlen(p);
    if (n < 4 || strcmp(p + n - 4, ".txt") != 0) return 0;
    if (C.n == C.cap) {
        C.cap = C.cap ? C.cap * 2 : 1024;
        C.d = realloc(C.d, C.cap * sizeof *C.d);
        if (!C.d) die("out of memory");
    }
    const char *rel = p + C.docs_dir_len + 1;
    doc *d = &C.d[C.n++];
    d->id = strdup(rel);
    d->id_len = strlen(rel);
    d->len = (size_t)st->st_size;
    return 0;
}
static int cmp_doc(const void *a, const void *b) { return strcmp(((const doc *)a)->id, ((const doc *)b)->id); }

static void load_corpus(const char *dir) {
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/docs", dir);
    char mf[PATH_MAX];
    snprintf(mf, sizeof mf, "%s/manifest.tsv", dir);
    if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode) || stat(mf, &st) < 0) {
        fprintf(stderr,
                "bench_docs: no corpus at %s (need %s/docs/**/*.txt and %s/manifest.tsv).\n"
                "  Build one (from the repository root; it installs Debian documentation packages):\n"
                "    bash ../shared/bench/make-corpus.sh %s\n"
                "  or pass another with --corpus DIR.\n",
                dir, dir, dir, dir);
        exit(2);
    }
    C.docs_dir = strdup(p);
    C.docs_dir_len = strlen(p);
    if (nftw(p, collect_cb, 32, FTW_PHYS) < 0) die("walking %s: %s", p, strerror(errno));
    if (C.n == 0) die("%s holds no *.txt documents", p);
    qsort(C.d, C.n, sizeof *C.d, cmp_doc);
    uint64_t total = 0;
    for (size_t i = 0; i < C.n; i++) total += C.d[i].len;
    char *arena = malloc(total ? total : 1);
    if (!arena) die("out of memory for %llu bytes of corpus", (unsigned long long)total);
    uint64_t off = 0;
    for (size_t i = 0; i < C.n; i++) {
        char fp[PATH_MAX];
        snprintf(fp, sizeof fp, "%s/%s", C.docs_dir, C.d[i].id);
        int fd = open(fp, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open %s: %s", fp, strerror(errno));
        size_t got = 0;
        while (got < C.d[i].len) {
            ssize_t r = read(fd, arena + off + got, C.d[i].len - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("read %s: %s", fp, r < 0 ? strerror(errno) : "short file");
            got += (size_t)r;
        }
        close(fd);
        C.d[i].text = arena + off;
        off += C.d[i].len;
        if (C.d[i].len > C.max_len) C.max_len = C.d[i].len;
    }
    C.total = total;
}

/* manifest.tsv: header line, then id<TAB>source<TAB>bytes<TAB>origin. */
static void check_manifest(const char *dir, char *note, size_t cap) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/manifest.tsv", dir);
    FILE *f = fopen(p, "r");
    if (!f) die("cannot open %s: %s", p, strerror(errno));
    char line[16384];
    size_t n = 0;
    unsigned long long bytes = 0;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) { first = 0; if (strncmp(line, "id\t", 3) == 0) continue; }
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) continue;
        n++;
        bytes += strtoull(t2 + 1, NULL, 10);
    }
    fclose(f);
    if (n == C.n && bytes == C.total) snprintf(note, cap, "manifest.tsv agrees (%zu documents, %llu bytes)", n, bytes);
    else snprintf(note, cap, "WARNING: manifest.tsv lists %zu documents / %llu bytes, docs/ holds %zu / %llu", n, bytes,
                  C.n, (unsigned long long)C.total);
}

/* ---- Strata side ----
 * Every store is measured on its warm path: the hot tier's document partition is
 * turned off, so a get reads the catalogue and the segments (a repeated get would
 * otherwise be a memory copy from the cache). */
static void warm_path_only(strata *db) {
    strata_cache_config cfg;
    if (strata_cache_config_get(db, &cfg) == STRATA_OK) {
        cfg.doc_maxmemory = 0;
        if (strata_cache_config_set(db, &cfg) != STRATA_OK) die("cache config: %s", strata_errmsg(db));
    }
}

static strata *strata_open_new(const char *dir) {
    strata_options o = strata_options_default();
    o.create = 1;
    strata *db = NULL;
    int rc = strata_open(dir, &o, &db);
    if (rc) die("strata_open %s: %s: %s", dir, strata_errstr(rc), strata_open_errmsg());
    warm_path_only(db);
    return db;
}
static strata *strata_reopen(const char *dir) {
    strata *db = NULL;
    int rc = strata_open(dir, NULL, &db);
    if (rc) die("strata_open %s: %s: %s", dir, strata_errstr(rc), strata_open_errmsg());
    warm_path_only(db);
    return db;
}

/* Import idx[0..n) in transactions of opt_batch documents. Returns seconds. */
static NOINLINE double strata_import(strata *db, const size_t *idx, size_t n) {
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < n;) {
        strata_txn *t = NULL;
        int rc = strata_txn_begin(db, &t);
        if (rc) die("strata_txn_begin: %s", strata_errmsg(db));
        size_t end = i + (size_t)opt_batch < n ? i + (size_t)opt_batch : n;
        for (; i < end; i++) {
            const doc *d = &C.d[idx[i]];
            if ((rc = strata_doc_put(db, t, d->id, d->id_len, d->text, d->len, NULL)) != STRATA_OK)
                die("strata_doc_put %s: %s", d->id, strata_errmsg(db));
        }
        if ((rc = strata_txn_commit(t, NULL)) != STRATA_OK) die("strata_txn_commit: %s", strata_errmsg(db));
    }
    last_cpu = cpu_s() - c0;
    return now_s() - t0;
}

static strata_stats stats_of(strata *db) {
    strata_stats s;
    int rc = strata_stats_get(db, &s);
    if (rc) die("strata_stats_get: %s", strata_errmsg(db));
    return s;
}

static NOINLINE int strata_get_one(strata *db, const doc *d, void **out, size_t *len) {
    return strata_doc_get(db, d->id, d->id_len, out, len);
}

/* ---- SQLite side ---- */
static void sq_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) die("sqlite: %s: %s", sql, msg ? msg : "?");
}
static sqlite3 *sq_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        die("sqlite open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
    return db;
}
static sqlite3 *sq_create(const char *path) {
    sqlite3 *db = sq_open(path);
    sq_exec(db, "PRAGMA page_size = 4096");
    sq_exec(db, "PRAGMA journal_mode = WAL");
    sq_exec(db, "PRAGMA synchronous = FULL");
    sq_exec(db, "CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT)");
    return db;
}

static NOINLINE double sqlite_import(sqlite3 *db, const size_t *idx, size_t n) {
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v3(db, "INSERT INTO docs(id, body) VALUES(?1, ?2)", -1, SQLITE_PREPARE_PERSISTENT, &ins,
                           NULL) != SQLITE_OK)
        die("sqlite prepare: %s", sqlite3_errmsg(db));
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < n;) {
        sq_exec(db, "BEGIN");
        size_t end = i + (size_t)opt_batch < n ? i + (size_t)opt_batch : n;
        for (; i < end; i++) {
            const doc *d = &C.d[idx[i]];
            sqlite3_bind_text(ins, 1, d->id, (int)d->id_len, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, d->text, (int)d->len, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE) die("sqlite insert %s: %s", d->id, sqlite3_errmsg(db));
            sqlite3_reset(ins);
        }
        sq_exec(db, "COMMIT");
    }
    double t = now_s() - t0;
    last_cpu = cpu_s() - c0;
    sqlite3_finalize(ins);
    return t;
}

static NOINLINE int sqlite_get_one(sqlite3_stmt *s, const doc *d, void **out, size_t *len) {
    sqlite3_bind_text(s, 1, d->id, (int)d->id_len, SQLITE_STATIC);
    int rc = sqlite3_step(s), ret = -1;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        char *b = malloc(n + 1);
        if (b) {
            memcpy(b, t, n);
            b[n] = 0;
            *out = b;
            *len = n;
            ret = 0;
        }
    }
    sqlite3_reset(s);
    return ret;
}

static sqlite3_stmt *sq_get_stmt(sqlite3 *db) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v3(db, "SELECT body FROM docs WHERE id = ?1", -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
        SQLITE_OK)
        die("sqlite prepare: %s", sqlite3_errmsg(db));
    return s;
}

/* ---- get sides, abstracted ---- */
typedef struct side {
    const char *name;
    strata *db;          /* Strata side, or */
    sqlite3_stmt *get;   /* SQLite side */
} side;

static int side_get(const side *s, const doc *d, void **out, size_t *len) {
    return s->db ? strata_get_one(s->db, d, out, len) : sqlite_get_one(s->get, d, out, len);
}
static void side_free(const side *s, void *p) {
    if (s->db) strata_free(p); else free(p);
}

static void verify(const side *s, const doc *d, int rc, const void *data, size_t len) {
    if (rc) die("%s: get %s failed (%d)%s%s", s->name, d->id, rc, s->db ? ": " : "", s->db ? strata_errmsg(s->db) : "");
    if (len != d->len || memcmp(data, d->text, len) != 0) die("%s: get %s returned wrong bytes", s->name, d->id);
}

/* n gets of ids[0..n) on one side; latencies (ns, get + free) into lat. */
static NOINLINE void run_gets(const side *s, const size_t *ids, int n, double *lat) {
    for (int i = 0; i < n; i++) {
        const doc *d = &C.d[ids[i]];
        void *data = NULL;
        size_t len = 0;
        uint64_t t0 = now_ns();
        int rc = side_get(s, d, &data, &len);
        uint64_t t1 = now_ns();
        verify(s, d, rc, data, len);
        uint64_t t2 = now_ns();
        side_free(s, data);
        uint64_t t3 = now_ns();
        lat[i] = (double)((t1 - t0) + (t3 - t2));
    }
}

typedef struct lat_stats { double p50, p99, mean; } lat_stats;
static lat_stats lat_summary(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    lat_stats r;
    r.p50 = v[(n - 1) / 2] / 1e3;
    int k = (int)ceil(0.99 * n) - 1;
    if (k < 0) k = 0;
    r.p99 = v[k] / 1e3;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    r.mean = sum / n / 1e3;
    return r;
}

/* Two interleaved passes of the same ids on every side; the second is summarized. */
static void latency(side *sides, int nsides, const size_t *pool, size_t npool, int gets, lat_stats *out) {
    size_t *ids = malloc((size_t)gets * sizeof *ids);
    for (int i = 0; i < gets; i++) ids[i] = pool[rng() % npool];
    double **lat = malloc((size_t)nsides * sizeof *lat);
    for (int k = 0; k < nsides; k++) lat[k] = malloc((size_t)gets * sizeof **lat);
    int turn = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int at = 0; at < gets; at += SLICE) {
            int n = gets - at < SLICE ? gets - at : SLICE;
            for (int j = 0; j < nsides; j++) {
                int k = (j + turn) % nsides; /* rotate who goes first */
                run_gets(&sides[k], ids + at, n, lat[k] + at);
            }
            turn++;
        }
    }
    for (int k = 0; k < nsides; k++) {
        out[k] = lat_summary(lat[k], gets);
        free(lat[k]);
    }
    free(lat);
    free(ids);
}

/* Every document once, in corpus order. Returns seconds. */
static NOINLINE double read_all(const side *s) {
    double t0 = now_s();
    for (size_t i = 0; i < C.n; i++) {
        void *data = NULL;
        size_t len = 0;
        int rc = side_get(s, &C.d[i], &data, &len);
        if (rc || len != C.d[i].len) verify(s, &C.d[i], rc, data, len);
        side_free(s, data);
    }
    return now_s() - t0;
}

/* ---- codec alone ---- */
typedef struct payloads {
    uint8_t *buf;
    size_t *off, *len;
    int *codec;
    uint64_t stored;
} payloads;

static void compress_all(payloads *p, int codec, int level, const codec_dict *dict, double *secs) {
    size_t cap = 0;
    for (size_t i = 0; i < C.n; i++) cap += codec_bound(codec, C.d[i].len);
    p->buf = malloc(cap ? cap : 1);
    p->off = malloc(C.n * sizeof *p->off);
    p->len = malloc(C.n * sizeof *p->len);
    p->codec = malloc(C.n * sizeof *p->codec);
    if (!p->buf || !p->off || !p->len || !p->codec) die("out of memory");
    size_t at = 0;
    p->stored = 0;
    double t0 = now_s();
    for (size_t i = 0; i < C.n; i++) {
        size_t out = 0;
        int used = 0;
        int rc = codec_compress(codec, level, dict, C.d[i].text, C.d[i].len, p->buf + at,
                                cap - at, &out, &used);
        if (rc) die("codec_compress %s: %s", C.d[i].id, strata_errstr(rc));
        p->off[i] = at;
        p->len[i] = out;
        p->codec[i] = used;
        at += out;
        p->stored += out;
    }
    *secs = now_s() - t0;
}

static void payloads_free(payloads *p) {
    free(p->buf);
    free(p->off);
    free(p->len);
    free(p->codec);
}

static NOINLINE double codec_decode_all(const payloads *p, const codec_dict *dict, uint8_t *out) {
    double t0 = now_s();
    for (size_t i = 0; i < C.n; i++) {
        int rc = codec_decompress(p->codec[i], dict, p->buf + p->off[i], p->len[i], out, C.d[i].len);
        if (rc) die("codec_decompress %s: %s", C.d[i].id, strata_errstr(rc));
    }
    return now_s() - t0;
}

/* LZ4's own decoder on the same payloads: a CODEC_LZ4 payload is one LZ4 block; a
 * CODEC_LZ4_DICT payload is LEB128(dict id) + one block against the dictionary's last
 * 64 KiB (LZ4's external-dictionary decode). RAW payloads are copied. */
static NOINLINE double lz4_decode_all(const payloads *p, const char *win, int win_len, uint8_t *out) {
    double t0 = now_s();
    for (size_t i = 0; i < C.n; i++) {
        const char *src = (const char *)p->buf + p->off[i];
        int n = (int)p->len[i], r;
        if (p->codec[i] == CODEC_RAW) { memcpy(out, src, (size_t)n); continue; }
        if (p->codec[i] == CODEC_LZ4_DICT) {
            int k = 0;
            while (k < n && (src[k] & 0x80)) k++;
            k++;
            r = LZ4_decompress_safe_usingDict(src + k, (char *)out, n - k, (int)C.d[i].len, win, win_len);
        } else {
            r = LZ4_decompress_safe(src, (char *)out, n, (int)C.d[i].len);
        }
        if (r != (int)C.d[i].len) die("LZ4 decode of %s failed (%d)", C.d[i].id, r);
    }
    return now_s() - t0;
}

static NOINLINE double memcpy_all(uint8_t *out) {
    double t0 = now_s();
    for (size_t i = 0; i < C.n; i++) memcpy(out, C.d[i].text, C.d[i].len);
    return now_s() - t0;
}

/* A dictionary trained the way strata_doc_train_dict does (ZDICT, 64 KiB, up to 2000
 * documents' first 16 KiB, at most 8 MiB of samples), from a seeded random sample. */
static codec_dict *train_dict(void) {
    size_t cap = 8u << 20, total = 0;
    uint8_t *buf = malloc(cap);
    size_t *sizes = malloc(2000 * sizeof *sizes);
    size_t *perm = malloc(C.n * sizeof *perm);
    for (size_t i = 0; i < C.n; i++) perm[i] = i;
    for (size_t i = C.n; i > 1; i--) { size_t j = rng() % i, t = perm[i - 1]; perm[i - 1] = perm[j]; perm[j] = t; }
    unsigned ns = 0;
    for (size_t i = 0; i < C.n && ns < 2000 && total < cap; i++) {
        const doc *d = &C.d[perm[i]];
        size_t take = d->len < (16u << 10) ? d->len : (16u << 10);
        if (take > cap - total) take = cap - total;
        if (!take) continue;
        memcpy(buf + total, d->text, take);
        sizes[ns++] = take;
        total += take;
    }
    uint8_t dict[64 << 10];
    size_t dlen = 0;
    codec_dict *d = NULL;
    if (codec_dict_train(buf, sizes, ns, dict, sizeof dict, &dlen) == STRATA_OK)
        (void)codec_dict_load(1, dict, dlen, &d);
    free(buf);
    free(sizes);
    free(perm);
    return d;
}

/* A store filled "dictionary first": every 10th document imported, the dictionary
 * trained, the rest imported, compact(0.0); stats after import, after compaction and
 * at rest (closed, reopened). level is strata_options.compression_level. */
typedef struct df_result {
    int ok;
    strata *db;  /* reopened, or NULL */
    strata_stats s_import, s_compact, s_rest;
    strata_compact_stats cs;
    double import_s;
} df_result;

static void dict_first(const char *dir, int level, df_result *r) {
    strata_options o = strata_options_default();
    o.create = 1;
    o.compression_level = level;
    strata *db = NULL;
    int rc = strata_open(dir, &o, &db);
    if (rc) die("strata_open %s: %s: %s", dir, strata_errstr(rc), strata_open_errmsg());
    size_t *first = malloc(C.n * sizeof *first), *rest = malloc(C.n * sizeof *rest), nf = 0, nr = 0;
    for (size_t i = 0; i < C.n; i++) {
        if (i % 10 == 0) first[nf++] = i; else rest[nr++] = i;
    }
    r->import_s = strata_import(db, first, nf);
    if ((rc = strata_doc_train_dict(db, NULL)) == STRATA_OK) {
        r->import_s += strata_import(db, rest, nr);
        r->s_import = stats_of(db);
        if (strata_compact(db, 0.0, &r->cs)) die("strata_compact: %s", strata_errmsg(db));
        r->s_compact = stats_of(db);
        strata_close(db);
        o.create = 0;
        if ((rc = strata_open(dir, &o, &db)) != STRATA_OK)
            die("strata_open %s: %s: %s", dir, strata_errstr(rc), strata_open_errmsg());
        warm_path_only(db);
        r->s_rest = stats_of(db);
        r->db = db;
        r->ok = 1;
    } else {
        printf("dictionary-first store skipped: strata_doc_train_dict after %zu documents: %s\n", nf,
               strata_errmsg(db));
        strata_close(db);
    }
    free(first);
    free(rest);
}

/* ---- output ---- */
static void rule(void) {
    printf("-------------------------------------------------------------------------------------------\n");
}
static const char *verdict(int ok) { return ok ? "MET" : "MISSED"; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_docs [--corpus DIR] [--dir WORKDIR] [--reps N] [--gets N] [--batch B]\n"
            "                  [--seed S] [--hc-level L] [--no-dict-first] [--keep] [--verbose]\n"
            "  --corpus DIR   corpus built by ../shared/bench/make-corpus.sh (default /work/corpus)\n"
            "  --dir PATH     where the stores go (a fresh subdirectory; default /var/tmp, disk-backed)\n"
            "  --reps N       repetitions of import and read-all (median reported; default 5)\n"
            "  --gets N       random gets per latency case and side (default 20000)\n"
            "  --batch B      documents per transaction on import (default 256)\n"
            "  --seed S       seed of the random ids (default 42)\n"
            "  --hc-level L   LZ4HC level of store C and of the codec's HC line (default 9; 0: skip)\n"
            "  --anchor-mmap BYTES, --anchor-cache-kib K  PRAGMA mmap_size / cache_size of the\n"
            "                 anchor's get connection (default: SQLite's defaults, as Strata's catalogue)\n"
            "  --no-dict-first  skip stores B and C (dictionary trained after 10%% of the import)\n"
            "  --keep         keep the stores; --verbose prints per-repetition numbers\n");
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        { "corpus", required_argument, 0, 'c' }, { "dir", required_argument, 0, 'd' },
        { "reps", required_argument, 0, 'r' },   { "gets", required_argument, 0, 'g' },
        { "batch", required_argument, 0, 'b' },  { "seed", required_argument, 0, 's' },
        { "keep", no_argument, 0, 'k' },         { "no-dict-first", no_argument, 0, 'n' },
        { "verbose", no_argument, 0, 'v' },      { "help", no_argument, 0, 'h' },
        { "hc-level", required_argument, 0, 'L' },
        { "anchor-mmap", required_argument, 0, 'M' }, { "anchor-cache-kib", required_argument, 0, 'K' },
        { 0, 0, 0, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:d:r:g:b:s:knvhL:M:K:", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': opt_corpus = optarg; break;
        case 'd': opt_dir = optarg; break;
        case 'r': opt_reps = atoi(optarg); break;
        case 'g': opt_gets = atoi(optarg); break;
        case 'b': opt_batch = atoi(optarg); break;
        case 's': opt_seed = strtoull(optarg, NULL, 10); break;
        case 'k': opt_keep = 1; break;
        case 'n': opt_no_dict_first = 1; break;
        case 'v': opt_verbose = 1; break;
        case 'L': opt_hc_level = atoi(optarg); break;
        case 'M': opt_anchor_mmap = atoll(optarg); break;
        case 'K': opt_anchor_cache_kib = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { usage(stderr); return 2; }
    if (opt_reps < 1 || opt_gets < 1 || opt_batch < 1) die("--reps, --gets and --batch must be positive");

    /* Corpus. */
    load_corpus(opt_corpus);
    char mnote[256];
    check_manifest(opt_corpus, mnote, sizeof mnote);
    size_t *all = malloc(C.n * sizeof *all), *small = malloc(C.n * sizeof *small), nsmall = 0;
    for (size_t i = 0; i < C.n; i++) {
        all[i] = i;
        if (C.d[i].len >= 3072 && C.d[i].len <= 5120) small[nsmall++] = i;
    }

    /* Work directory: a fresh one under --dir, else /var/tmp (or /tmp if /var/tmp is tmpfs). */
    const char *base = opt_dir;
    struct statfs sf;
    if (!base) base = statfs("/var/tmp", &sf) == 0 && (long)sf.f_type != TMPFS_MAGIC_ ? "/var/tmp" : "/tmp";
    if (mkdir(base, 0700) < 0 && errno != EEXIST) die("mkdir %s: %s", base, strerror(errno));
    snprintf(workdir, sizeof workdir, "%s/bench_docs.XXXXXX", base);
    if (!mkdtemp(workdir)) die("mkdtemp in %s: %s", base, strerror(errno));
    workdir_made = 1;
    atexit(cleanup);
    int tmpfs = statfs(workdir, &sf) == 0 && (long)sf.f_type == TMPFS_MAGIC_;

    char b1[32], b2[32], b3[32];
    printf("bench_docs — document store vs the same texts in one SQLite table (DESIGN.md principle 6)\n");
    printf("corpus   %s: %zu documents, %s raw; %s\n", opt_corpus, C.n, mb(C.total, b1), mnote);
    printf("         4 KB subset (3072..5120 bytes): %zu documents\n", nsmall);
    printf("workdir  %s%s\n", workdir, tmpfs ? "  (WARNING: tmpfs — fsync is free, import figures mean little)" : "");
    printf("build    strata %s, SQLite %s, LZ4 %s%s\n", strata_version(), sqlite3_libversion(), LZ4_versionString(),
#ifdef NDEBUG
           ""
#else
           "  (WARNING: not a Release build)"
#endif
    );
    printf("options  --reps %d --gets %d --batch %d --seed %llu --hc-level %d", opt_reps, opt_gets, opt_batch,
           (unsigned long long)opt_seed, opt_hc_level);
    if (opt_anchor_mmap) printf(" --anchor-mmap %lld", opt_anchor_mmap);
    if (opt_anchor_cache_kib) printf(" --anchor-cache-kib %d", opt_anchor_cache_kib);
    printf("\n");
    fflush(stdout);

    /* ---- 2 (and the stores for 1, 3, 4). Import, --reps times; rep 0's stores kept. ---- */
    double *imp_s = malloc((size_t)opt_reps * sizeof *imp_s), *imp_q = malloc((size_t)opt_reps * sizeof *imp_q),
           *imp_r = malloc((size_t)opt_reps * sizeof *imp_r), *cpu_sv = malloc((size_t)opt_reps * sizeof *cpu_sv),
           *cpu_qv = malloc((size_t)opt_reps * sizeof *cpu_qv);
    char dirA[PATH_MAX], dbQ[PATH_MAX], dirB[PATH_MAX];
    strata *A = NULL;
    sqlite3 *Q = NULL;
    for (int r = 0; r < opt_reps; r++) {
        char sd[PATH_MAX], qd[PATH_MAX];
        snprintf(sd, sizeof sd, "%s/strata-A%d", workdir, r);
        snprintf(qd, sizeof qd, "%s/sqlite%d.db", workdir, r);
        strata *s = strata_open_new(sd);
        sqlite3 *q = sq_create(qd);
        fprintf(stderr, "import rep %d/%d...\n", r + 1, opt_reps);
        if (r % 2 == 0) {
            imp_s[r] = strata_import(s, all, C.n);
            cpu_sv[r] = last_cpu;
            imp_q[r] = sqlite_import(q, all, C.n);
            cpu_qv[r] = last_cpu;
        } else {
            imp_q[r] = sqlite_import(q, all, C.n);
            cpu_qv[r] = last_cpu;
            imp_s[r] = strata_import(s, all, C.n);
            cpu_sv[r] = last_cpu;
        }
        imp_r[r] = (C.total / imp_s[r]) / (C.total / imp_q[r]);
        if (opt_verbose)
            printf("  import rep %d: Strata %.1f MB/s, SQLite %.1f MB/s, ratio %.3f\n", r + 1, C.total / imp_s[r] / 1e6,
                   C.total / imp_q[r] / 1e6, imp_r[r]);
        if (r == 0) {
            A = s;
            Q = q;
            snprintf(dirA, sizeof dirA, "%s", sd);
            snprintf(dbQ, sizeof dbQ, "%s", qd);
        } else {
            strata_close(s);
            sqlite3_close(q);
            rm_tree(sd);
            unlink(qd);
            char w[PATH_MAX + 8];
            snprintf(w, sizeof w, "%s-wal", qd);
            unlink(w);
            snprintf(w, sizeof w, "%s-shm", qd);
            unlink(w);
        }
    }

    /* ---- 1. Storage ---- */
    fprintf(stderr, "storage...\n");
    strata_stats a0 = stats_of(A);
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", dbQ);
    uint64_t q_live = file_size(dbQ) + file_size(wal);
    double t0 = now_s();
    sq_exec(Q, "PRAGMA wal_checkpoint(TRUNCATE)");
    sq_exec(Q, "PRAGMA journal_mode = DELETE");
    sq_exec(Q, "VACUUM");
    double q_vacuum_s = now_s() - t0;
    uint64_t q_bytes = file_size(dbQ);
    /* Gets run in WAL mode, as Strata's catalogue does: readers then take no file
     * locks (in rollback-journal mode every read transaction costs fcntl+stat calls). */
    sq_exec(Q, "PRAGMA journal_mode = WAL");
    sqlite3_close(Q);

    uint32_t dict_id = 0;
    t0 = now_s();
    int trc = strata_doc_train_dict(A, &dict_id);
    double a_train_s = now_s() - t0;
    if (trc && trc != STRATA_ENOTFOUND) die("strata_doc_train_dict: %s", strata_errmsg(A));
    strata_compact_stats acs;
    t0 = now_s();
    if (strata_compact(A, 0.0, &acs)) die("strata_compact: %s", strata_errmsg(A));
    double a_compact_s = now_s() - t0;
    strata_stats a1 = stats_of(A);
    strata_close(A);
    A = strata_reopen(dirA);
    strata_stats a2 = stats_of(A);

    /* Stores B and C: dictionary first (C also with LZ4HC). */
    df_result rb = { 0 }, rc_ = { 0 };
    if (!opt_no_dict_first) {
        fprintf(stderr, "store B (dictionary first)...\n");
        snprintf(dirB, sizeof dirB, "%s/strata-B", workdir);
        dict_first(dirB, 0, &rb);
        if (opt_hc_level) {
            fprintf(stderr, "store C (dictionary first, LZ4HC level %d)...\n", opt_hc_level);
            snprintf(dirB, sizeof dirB, "%s/strata-C", workdir);
            dict_first(dirB, opt_hc_level, &rc_);
        }
    }
    strata *B = rb.db;
    int b_ok = rb.ok;
    strata_stats b0 = rb.s_import, b1s = rb.s_compact, b2s = rb.s_rest;
    strata_compact_stats bcs = rb.cs;
    double b_import_s = rb.import_s;

    printf("\n1. STORAGE  (raw %s in %zu documents; Strata keeps %llu distinct contents)\n", mb(C.total, b1), C.n,
           (unsigned long long)a0.contents);
    rule();
    printf("%-44s %11s %11s %11s %9s\n", "", "total", "segments", "operat.db", "vs SQLite");
    printf("%-44s %11s %11s %11s %9s\n", "SQLite table after import (db + WAL)", mb(q_live, b1), "", "", "");
    printf("%-44s %11s %11s %11s %9s\n", "SQLite table, VACUUM (the anchor)", mb(q_bytes, b1), "", "", "");
#define SROW(label, st)                                                                                         \
    printf("%-44s %11s %11s %11s %8.1f%%\n", label, mb((st).total_bytes, b1), mb((st).segment_bytes, b2),        \
           mb((st).operational_bytes, b3), 100.0 * (1.0 - (double)(st).total_bytes / (double)q_bytes))
    SROW("Strata A after import (auto dictionary)", a0);
    SROW("Strata A after train_dict + compact(0.0)", a1);
    SROW("Strata A same, at rest (closed, reopened)", a2);
    if (b_ok) {
        SROW("Strata B dict after 10%: after import", b0);
        SROW("Strata B after compact(0.0)", b1s);
        SROW("Strata B same, at rest (closed, reopened)", b2s);
    }
    if (rc_.ok) {
        char l[64];
        snprintf(l, sizeof l, "Strata C = B with LZ4HC %d, at rest", opt_hc_level);
        SROW(l, rc_.s_rest);
    }
    rule();
    printf("(vs SQLite = %% smaller than the VACUUMed table; goal >= 55%%, stretch 60%%; MB = 10^6 bytes)\n");
    printf("Strata A: train_dict %.2f s (%s), compact(0.0) %.2f s: %llu segments rewritten, %llu contents moved,\n"
           "          %llu -> %llu bytes; live content %s stored for %s raw (%.1f%% of raw)\n",
           a_train_s, trc ? "no dictionary: too little content" : "ok", a_compact_s,
           (unsigned long long)acs.segments_rewritten, (unsigned long long)acs.contents_moved,
           (unsigned long long)acs.bytes_before, (unsigned long long)acs.bytes_after, mb(a1.doc_stored_bytes, b1),
           mb(a1.doc_raw_bytes, b2), 100.0 * (double)a1.doc_stored_bytes / (double)a1.doc_raw_bytes);
    if (acs.segments_rewritten == 0 && !trc)
        printf("          NOTE: compact(0.0) rewrote nothing, so no record written before the dictionary\n"
               "          was re-encoded with it\n");
    if (b_ok)
        printf("Strata B: compact(0.0): %llu segments rewritten, %llu contents moved; live content %s (%.1f%% of raw)\n",
               (unsigned long long)bcs.segments_rewritten, (unsigned long long)bcs.contents_moved,
               mb(b1s.doc_stored_bytes, b1), 100.0 * (double)b1s.doc_stored_bytes / (double)b1s.doc_raw_bytes);
    if (rc_.ok)
        printf("Strata C: compression_level %d (LZ4HC): import %.1f MB/s; live content %s (%.1f%% of raw)\n",
               opt_hc_level, C.total / rc_.import_s / 1e6, mb(rc_.s_rest.doc_stored_bytes, b1),
               100.0 * (double)rc_.s_rest.doc_stored_bytes / (double)rc_.s_rest.doc_raw_bytes);
    printf("SQLite VACUUM %.2f s\n", q_vacuum_s);
    fflush(stdout);

    /* ---- 2. Import ---- */
    double ms = C.total / median(imp_s, opt_reps) / 1e6, mq = C.total / median(imp_q, opt_reps) / 1e6;
    double mr = median(imp_r, opt_reps), rmin = imp_r[0], rmax = imp_r[0];
    for (int r = 1; r < opt_reps; r++) {
        if (imp_r[r] < rmin) rmin = imp_r[r];
        if (imp_r[r] > rmax) rmax = imp_r[r];
    }
    printf("\n2. IMPORT  (all documents, transactions of %d, synchronous FULL, WAL; median of %d)\n", opt_batch,
           opt_reps);
    rule();
    printf("%-44s %11s %11s %11s\n", "", "Strata", "SQLite", "ratio");
    printf("%-44s %9.1f/s %9.1f/s %11.3f  (min..max %.3f..%.3f)\n", "import MB/s (higher is better)", ms, mq, mr,
           rmin, rmax);
    double ws = median(imp_s, opt_reps), wq = median(imp_q, opt_reps), cs = median(cpu_sv, opt_reps),
           cq = median(cpu_qv, opt_reps);
    printf("%-44s %10.3f %10.3f %11.3f\n", "import wall seconds", ws, wq, ws / wq);
    printf("%-44s %10.3f %10.3f %11.3f\n", "import CPU seconds (user+sys)", cs, cq, cs / cq);
    printf("%-44s %10.3f %10.3f %11.3f\n", "import off-CPU seconds (fsync waits...)", ws - cs, wq - cq,
           (ws - cs) / (wq - cq));
    if (b_ok)
        printf("%-44s %9.1f/s %11s %11.3f  (one run)\n", "import MB/s, store B (90% with dictionary)",
               C.total / b_import_s / 1e6, "", (C.total / b_import_s / 1e6) / mq);
    rule();
    fflush(stdout);

    /* ---- 3. Get latency ---- */
    fprintf(stderr, "get latency...\n");
    sqlite3 *QR = sq_open(dbQ);
    if (opt_anchor_mmap > 0) {
        char pr[64];
        snprintf(pr, sizeof pr, "PRAGMA mmap_size = %lld", opt_anchor_mmap);
        sq_exec(QR, pr);
    }
    if (opt_anchor_cache_kib > 0) {
        char pr[64];
        snprintf(pr, sizeof pr, "PRAGMA cache_size = -%d", opt_anchor_cache_kib);
        sq_exec(QR, pr);
    }
    sqlite3_stmt *qget = sq_get_stmt(QR);
    side sides[3] = { { "Strata A", A, NULL }, { "SQLite", NULL, qget }, { "Strata B", B, NULL } };
    int nsides = B ? 3 : 2;
    rng_s = opt_seed;
    lat_stats la[3], ls[3];
    latency(sides, nsides, all, C.n, opt_gets, la);
    if (nsmall) latency(sides, nsides, small, nsmall, opt_gets, ls);

    printf("\n3. GET LATENCY  (%d uniform random ids, seed %llu, warm: 2nd of 2 interleaved passes; microseconds)\n",
           opt_gets, (unsigned long long)opt_seed);
    rule();
    printf("%-30s %9s %9s %9s   %-22s\n", "", "p50", "p99", "mean", "Strata/SQLite p50 p99 mean");
#define LROW(label, set, k)                                                                                   \
    do {                                                                                                      \
        printf("%-30s %9.2f %9.2f %9.2f", label, set[k].p50, set[k].p99, set[k].mean);                      \
        if (k != 1) printf("   %5.2f %5.2f %5.2f", set[k].p50 / set[1].p50, set[k].p99 / set[1].p99,       \
                           set[k].mean / set[1].mean);                                                        \
        printf("\n");                                                                                         \
    } while (0)
    LROW("all docs: SQLite", la, 1);
    LROW("all docs: Strata A", la, 0);
    if (B) LROW("all docs: Strata B (dict)", la, 2);
    if (nsmall) {
        LROW("4 KB docs: SQLite", ls, 1);
        LROW("4 KB docs: Strata A", ls, 0);
        if (B) LROW("4 KB docs: Strata B (dict)", ls, 2);
    }
    rule();
    fflush(stdout);

    /* ---- 4. Read-all and codec throughput ---- */
    fprintf(stderr, "read-all and codec...\n");
    /* Read-all on every store: A, SQLite, B and C. */
    side rsides[4] = { sides[0], sides[1], sides[2], { "Strata C", rc_.db, NULL } };
    int nr = 2;
    if (B) rsides[nr++] = sides[2];
    if (rc_.db) rsides[nr++] = rsides[3];
    double *ra[4], gs[4];
    for (int k = 0; k < nr; k++) ra[k] = malloc((size_t)opt_reps * sizeof **ra);
    for (int k = 0; k < nr; k++) (void)read_all(&rsides[k]); /* warm-up */
    for (int r = 0; r < opt_reps; r++)
        for (int j = 0; j < nr; j++) {
            int k = (j + r) % nr;
            ra[k][r] = read_all(&rsides[k]);
        }
    for (int k = 0; k < nr; k++) gs[k] = C.total / median(ra[k], opt_reps) / 1e9;

    /* Codec alone: payloads made once, decoded --reps (at least 5) times. */
    int creps = opt_reps < 15 ? 15 : opt_reps; /* one decode of the corpus takes ~20 ms */
    uint8_t *out = malloc(C.max_len ? C.max_len : 1);
    payloads pl;
    double c_secs, cd_secs = 0;
    compress_all(&pl, CODEC_LZ4, CODEC_LZ4_LEVEL_DEFAULT, NULL, &c_secs);
    rng_s = opt_seed + 1;
    codec_dict *dict = train_dict();
    payloads pd = { 0 };
    if (dict) compress_all(&pd, CODEC_LZ4_DICT, CODEC_LZ4_LEVEL_DEFAULT, dict, &cd_secs);
    payloads ph = { 0 };
    double ch_secs = 0;
    if (dict && opt_hc_level) compress_all(&ph, CODEC_LZ4_DICT, opt_hc_level, dict, &ch_secs);
    size_t wlen = 0;
    const char *dbytes = dict ? codec_dict_data(dict, &wlen) : NULL;
    const char *win = dbytes && wlen > CODEC_LZ4_DICT_WINDOW ? dbytes + wlen - CODEC_LZ4_DICT_WINDOW : dbytes;
    int win_len = (int)(wlen > CODEC_LZ4_DICT_WINDOW ? CODEC_LZ4_DICT_WINDOW : wlen);
    double *t_cod = malloc((size_t)creps * sizeof(double)), *t_lz = malloc((size_t)creps * sizeof(double)),
           *t_codd = malloc((size_t)creps * sizeof(double)), *t_lzd = malloc((size_t)creps * sizeof(double)),
           *t_mc = malloc((size_t)creps * sizeof(double)), *t_codh = malloc((size_t)creps * sizeof(double));
    (void)codec_decode_all(&pl, NULL, out);
    if (dict) (void)codec_decode_all(&pd, dict, out);
    for (int r = 0; r < creps; r++) {
        t_cod[r] = codec_decode_all(&pl, NULL, out);
        t_lz[r] = lz4_decode_all(&pl, NULL, 0, out);
        if (dict) {
            t_codd[r] = codec_decode_all(&pd, dict, out);
            t_lzd[r] = lz4_decode_all(&pd, win, win_len, out);
            if (ph.buf) t_codh[r] = codec_decode_all(&ph, dict, out);
        }
        t_mc[r] = memcpy_all(out);
    }
    /* Check the payloads decode to the corpus (outside the timing). */
    for (size_t i = 0; i < C.n; i++) {
        if (codec_decompress(pl.codec[i], NULL, pl.buf + pl.off[i], pl.len[i], out, C.d[i].len) ||
            memcmp(out, C.d[i].text, C.d[i].len))
            die("codec round trip of %s failed", C.d[i].id);
        if (dict && (codec_decompress(pd.codec[i], dict, pd.buf + pd.off[i], pd.len[i], out, C.d[i].len) ||
                     memcmp(out, C.d[i].text, C.d[i].len)))
            die("codec dict round trip of %s failed", C.d[i].id);
    }
    double g_cod = C.total / median(t_cod, creps) / 1e9, g_lz = C.total / median(t_lz, creps) / 1e9;
    double g_codd = dict ? C.total / median(t_codd, creps) / 1e9 : 0, g_lzd = dict ? C.total / median(t_lzd, creps) / 1e9 : 0;
    double g_mc = C.total / median(t_mc, creps) / 1e9;

    printf("\n4. READ-ALL AND DECOMPRESSION  (single thread, raw GB/s = 10^9 bytes/s; median of %d; ratios paired)\n",
           opt_reps);
    rule();
    printf("%-52s %9s %9s\n", "", "GB/s", "ratio");
    printf("%-52s %9.3f %9s\n", "get every document once: SQLite (the anchor)", gs[1], "");
    printf("%-52s %9.3f %9.3f\n", "get every document once: Strata A", gs[0], median_ratio(ra[1], ra[0], opt_reps));
    for (int k = 2; k < nr; k++) {
        char l[64];
        snprintf(l, sizeof l, "get every document once: %s", rsides[k].db == B ? "Strata B (dict)" : "Strata C (dict, HC)");
        printf("%-52s %9.3f %9.3f\n", l, gs[k], median_ratio(ra[1], ra[k], opt_reps));
    }
    printf("codec alone (src/docs/codec.h, into a reused buffer; median of %d; ratio = codec / LZ4 itself):\n", creps);
    /* ratios are medians of per-repetition ratios (paired), so they need not equal the
     * quotient of the medians */
    printf("%-52s %9.3f %9s\n", "  LZ4_decompress_safe (LZ4 itself, the anchor)", g_lz, "");
    printf("%-52s %9.3f %9.3f\n", "  codec_decompress CODEC_LZ4", g_cod, median_ratio(t_lz, t_cod, creps));
    if (dict) {
        printf("%-52s %9.3f %9s\n", "  LZ4_decompress_safe_usingDict (ext. dict, anchor)", g_lzd, "");
        printf("%-52s %9.3f %9.3f\n", "  codec_decompress CODEC_LZ4_DICT", g_codd, median_ratio(t_lzd, t_codd, creps));
        if (ph.buf) {
            char l[64];
            snprintf(l, sizeof l, "  codec_decompress CODEC_LZ4_DICT, LZ4HC %d payloads", opt_hc_level);
            printf("%-52s %9.3f %9.3f\n", l, C.total / median(t_codh, creps) / 1e9,
                   median_ratio(t_lzd, t_codh, creps));
        }
    }
    printf("%-52s %9.3f\n", "  memcpy of the raw texts (ceiling)", g_mc);
    printf("  compression: LZ4 %.0f MB/s -> %.1f%% of raw", C.total / c_secs / 1e6, 100.0 * (double)pl.stored / C.total);
    if (dict) printf("; LZ4+dict %.0f MB/s -> %.1f%% of raw (payloads only)", C.total / cd_secs / 1e6,
                     100.0 * (double)pd.stored / C.total);
    if (ph.buf) printf(";\n  LZ4HC %d+dict %.0f MB/s -> %.1f%% of raw", opt_hc_level, C.total / ch_secs / 1e6,
                       100.0 * (double)ph.stored / C.total);
    printf("\n");
    rule();

    /* ---- summary against the goals ---- */
    printf("\nSUMMARY  (ratio = Strata / SQLite; goals from DESIGN.md and issue 3)\n");
    rule();
    printf("%-50s %10s %10s  %s\n", "", "figure", "goal", "");
#define STORE_LINE(label, st)                                                                                \
    do {                                                                                                     \
        double sm = 1.0 - (double)(st).total_bytes / (double)q_bytes;                                        \
        printf("%-50s %9.1f%% %10s  %s%s\n", label, 100 * sm, ">= 55%", verdict(sm >= 0.55),                 \
               sm >= 0.60 ? " (stretch 60% met)" : "");                                                      \
    } while (0)
    STORE_LINE("storage % smaller: A (train+compact), at rest", a2);
    if (b_ok) STORE_LINE("storage % smaller: B (dictionary first), at rest", b2s);
    if (rc_.ok) {
        char l[64];
        snprintf(l, sizeof l, "storage %% smaller: C (B + LZ4HC %d), at rest", opt_hc_level);
        STORE_LINE(l, rc_.s_rest);
    }
    printf("%-50s %10.3f %10s\n", "import MB/s ratio", mr, "-");
    printf("%-50s %10.3f %10s  %s\n", "get p50 ratio, all docs (A)", la[0].p50 / la[1].p50, "<= 1.0",
           verdict(la[0].p50 <= la[1].p50));
    if (nsmall)
        printf("%-50s %10.3f %10s  %s\n", "get p50 ratio, warm 4 KB docs (A)", ls[0].p50 / ls[1].p50, "<= 1.0",
               verdict(ls[0].p50 <= ls[1].p50));
    if (B && nsmall)
        printf("%-50s %10.3f %10s  %s\n", "get p50 ratio, warm 4 KB docs (B, dict)", ls[2].p50 / ls[1].p50, "<= 1.0",
               verdict(ls[2].p50 <= ls[1].p50));
    printf("%-50s %10.3f %10s  %s\n", "codec LZ4 decompression GB/s", g_cod, ">= 2", verdict(g_cod >= 2.0));
    if (dict)
        printf("%-50s %10.3f %10s  %s\n", "codec LZ4+dict decompression GB/s", g_codd, ">= 2", verdict(g_codd >= 2.0));
    rule();

    /* Cleanup. */
    payloads_free(&pl);
    if (dict) payloads_free(&pd);
    if (ph.buf) payloads_free(&ph);
    free(t_codh);
    if (rc_.db) strata_close(rc_.db);
    codec_dict_free(dict);
    codec_thread_release();
    free(out);
    free(t_cod); free(t_lz); free(t_codd); free(t_lzd); free(t_mc);
    for (int k = 0; k < nr; k++) free(ra[k]);
    sqlite3_finalize(qget);
    sqlite3_close(QR);
    strata_close(A);
    if (B) strata_close(B);
    free(imp_s); free(imp_q); free(imp_r); free(cpu_sv); free(cpu_qv);
    free(all);
    free(small);
    return 0;
}
