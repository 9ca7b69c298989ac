/* codec_eval.c — which compression scheme for document text: every candidate against
 * the same texts in one SQLite TEXT table, in one run (DESIGN.md principle 6).
 *
 * Build (from the repository root; plain gcc so it needs no CMake wiring):
 *   gcc -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Iinclude -Isrc \
 *       bench/docs/codec_eval.c src/docs/codec.c -llz4 -lzstd -lsqlite3 -lpthread \
 *       -o /tmp/codec_eval
 * Corpus:  bash ../shared/bench/make-corpus.sh /work/corpus
 * Run:     taskset -c 1 /tmp/codec_eval /work/corpus [--reps 7] [--sample-mb 2]
 *          [--seed 1] [--tmp DIR] [--quick]
 *
 * Each file of the corpus is one document (its manifest.tsv gives the order). Per
 * scheme it reports stored bytes = sum of payloads + 32 bytes of record header per
 * document (+ the dictionary, stored once), the ratio raw/stored, how much smaller that
 * is than the SQLite table, and single-thread compression and decompression speed
 * (MB/s of raw text, thread CPU time, median of --reps runs; slow compressors run
 * once). Decompression goes into one reused buffer, as a get into a caller's buffer
 * would; the output is checked byte for byte outside the timed loop. Results and the
 * decision they support: bench/docs/codec_eval.md.
 *
 * Dictionaries are trained with ZDICT (zstd's trainer) on a random sample of whole
 * documents (--sample-mb, default 2 MiB). Because the sample is part of the corpus,
 * every scheme is also reported on the held-out documents only (those not in the
 * sample), against a SQLite table of just those documents: that column is the honest
 * one for dictionaries.
 *
 * Anchor: CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT), page_size 4096, all
 * rows inserted in one transaction, VACUUM, file size.
 */
#define LZ4F_STATIC_LINKING_ONLY
#include "docs/codec.h"
#include "strata.h"

#include <lz4.h>
#include <lz4frame.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zdict.h>
#include <zstd.h>

#define RECORD_HEADER 32
#define MAX_DICTS 4

/* ---- corpus ---- */

typedef struct {
    size_t n;
    char **text;
    size_t *len;
    uint8_t *held_out;  /* 1 if not in the training sample */
    size_t total, max_len;
} corpus;

/* CPU time of this thread: the machine is shared, and time spent descheduled is not
 * the codec's. (Wall time is used only for the dictionary training note.) */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "codec_eval: %s\n", what);
    exit(2);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long sz = ftell(f);
    rewind(f);
    char *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) { fclose(f); free(buf); return NULL; }
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

static void load_corpus(const char *dir, corpus *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *m = fopen(path, "r");
    if (!m) die("cannot open manifest.tsv (build the corpus with make-corpus.sh)");
    size_t cap = 8192;
    c->text = malloc(cap * sizeof *c->text);
    c->len = malloc(cap * sizeof *c->len);
    char line[8192];
    if (!fgets(line, sizeof line, m)) die("empty manifest");  /* header */
    while (fgets(line, sizeof line, m)) {
        unsigned long id;
        char src[64];
        if (sscanf(line, "%lu\t%63s", &id, src) != 2) continue;
        if (c->n == cap) {
            cap *= 2;
            c->text = realloc(c->text, cap * sizeof *c->text);
            c->len = realloc(c->len, cap * sizeof *c->len);
        }
        snprintf(path, sizeof path, "%s/docs/%s/%06lu.txt", dir, src, id);
        c->text[c->n] = read_file(path, &c->len[c->n]);
        if (!c->text[c->n]) die("cannot read a document named in the manifest");
        c->total += c->len[c->n];
        if (c->len[c->n] > c->max_len) c->max_len = c->len[c->n];
        c->n++;
    }
    fclose(m);
    c->held_out = calloc(c->n, 1);
}

static uint64_t rng_state = 1;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

/* ---- SQLite anchor ---- */

static uint64_t sqlite_bytes(const corpus *c, int held_out_only, const char *tmpdir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/codec_eval_anchor_%d.db", tmpdir, (int)getpid());
    unlink(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) die("sqlite open");
    sqlite3_stmt *st;
    if (sqlite3_exec(db, "PRAGMA page_size=4096; CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);"
                     "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO docs(id, body) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
        die("sqlite schema");
    for (size_t i = 0; i < c->n; i++) {
        if (held_out_only && !c->held_out[i]) continue;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
        sqlite3_bind_text(st, 2, c->text[i], (int)c->len[i], SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) die("sqlite insert");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(db, "COMMIT; VACUUM;", NULL, NULL, NULL) != SQLITE_OK) die("sqlite vacuum");
    sqlite3_close(db);
    struct stat sb;
    if (stat(path, &sb) != 0) die("sqlite stat");
    unlink(path);
    return (uint64_t)sb.st_size;
}

/* ---- schemes ---- */

enum kind {
    K_CODEC,        /* src/docs/codec.c: codec + level (+ dict) */
    K_LZ4F,         /* LZ4 frame per document, optional CDict and content checksum */
    K_LZ4_LOADDICT  /* LZ4 block, LZ4_loadDict before every document (naive) */
};

typedef struct {
    char name[64];
    enum kind kind;
    int codec, level;
    int dict;          /* index into dicts[], -1 none */
    int checksum;      /* LZ4F content checksum */
    int slow;          /* compress once only */
    /* results */
    size_t *sizes;     /* payload bytes per document */
    double comp_s, decomp_s;
} scheme;

typedef struct {
    size_t size_cap;
    unsigned char *bytes;
    size_t len;
    codec_dict *cd;
    LZ4F_CDict *lz4f;
} dict_t;

static dict_t dicts[MAX_DICTS];
static int ndicts;

static LZ4F_cctx *g_cctx;
static LZ4F_dctx *g_dctx;
static LZ4_stream_t g_lz4;

/* Payload bytes written to dst; *used is the codec a K_CODEC payload ended up with. */
static size_t compress_one(const scheme *s, const char *src, size_t n, unsigned char *dst,
                           size_t cap, uint8_t *used) {
    const dict_t *d = s->dict >= 0 ? &dicts[s->dict] : NULL;
    if (s->kind == K_CODEC) {
        size_t len;
        int u;
        if (codec_compress(s->codec, s->level, d ? d->cd : NULL, src, n, dst, cap, &len,
                           &u) != STRATA_OK)
            die("codec_compress");
        *used = (uint8_t)u;
        return len;
    }
    if (s->kind == K_LZ4F) {
        LZ4F_preferences_t p = LZ4F_INIT_PREFERENCES;
        p.frameInfo.contentChecksumFlag = s->checksum ? LZ4F_contentChecksumEnabled
                                                      : LZ4F_noContentChecksum;
        p.compressionLevel = s->level;
        size_t r = LZ4F_compressFrame_usingCDict(g_cctx, dst, cap, src, n,
                                                 d ? d->lz4f : NULL, &p);
        if (LZ4F_isError(r)) die("LZ4F_compressFrame");
        return r;
    }
    /* K_LZ4_LOADDICT */
    LZ4_resetStream_fast(&g_lz4);
    LZ4_loadDict(&g_lz4, (const char *)d->bytes + (d->len > 65536 ? d->len - 65536 : 0),
                 (int)(d->len > 65536 ? 65536 : d->len));
    int r = LZ4_compress_fast_continue(&g_lz4, src, (char *)dst, (int)n, (int)cap, 1);
    if (r <= 0) die("LZ4 loadDict compress");
    return (size_t)r;
}

static void decompress_one(const scheme *s, int used, const unsigned char *src, size_t n,
                           char *dst, size_t raw_len) {
    const dict_t *d = s->dict >= 0 ? &dicts[s->dict] : NULL;
    if (s->kind == K_CODEC) {
        if (codec_decompress(used, d ? d->cd : NULL, src, n, dst, raw_len) != STRATA_OK)
            die("codec_decompress");
        return;
    }
    if (s->kind == K_LZ4F) {
        size_t done = 0, in = 0;
        LZ4F_decompressOptions_t o = {0};
        o.stableDst = 1;
        for (;;) {
            size_t dsz = raw_len - done, ssz = n - in;
            size_t r = d ? LZ4F_decompress_usingDict(g_dctx, dst + done, &dsz, src + in, &ssz,
                                                     d->bytes, d->len, &o)
                         : LZ4F_decompress(g_dctx, dst + done, &dsz, src + in, &ssz, &o);
            if (LZ4F_isError(r)) die("LZ4F_decompress");
            done += dsz;
            in += ssz;
            if (r == 0) break;
            if (ssz == 0 && dsz == 0) die("LZ4F_decompress stalled");
        }
        if (done != raw_len || in != n) die("LZ4F size mismatch");
        return;
    }
    size_t dl = d->len > 65536 ? 65536 : d->len;
    int r = LZ4_decompress_safe_usingDict((const char *)src, dst, (int)n, (int)raw_len,
                                          (const char *)d->bytes + (d->len - dl), (int)dl);
    if (r < 0 || (size_t)r != raw_len) die("LZ4 usingDict decompress");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Compress every document (timed, median of reps), decompress (timed), verify. */
static void run_scheme(scheme *s, const corpus *c, unsigned char *arena, size_t *offs,
                       uint8_t *used, char *out, int reps) {
    double t[64];
    int creps = s->slow ? 1 : reps;
    s->sizes = malloc(c->n * sizeof *s->sizes);
    for (int r = 0; r < creps; r++) {
        size_t off = 0;
        double t0 = now_s();
        for (size_t i = 0; i < c->n; i++) {
            size_t cap = LZ4F_compressFrameBound(c->len[i], NULL) + 1024;
            size_t zb = ZSTD_compressBound(c->len[i]) + 16;
            if (zb > cap) cap = zb;
            used[i] = 0;
            size_t len = compress_one(s, c->text[i], c->len[i], arena + off, cap, &used[i]);
            offs[i] = off;
            s->sizes[i] = len;
            off += len;
        }
        t[r] = now_s() - t0;
    }
    s->comp_s = median(t, creps);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < c->n; i++)
            decompress_one(s, used[i], arena + offs[i], s->sizes[i], out, c->len[i]);
        t[r] = now_s() - t0;
    }
    s->decomp_s = median(t, reps);
    for (size_t i = 0; i < c->n; i++) {
        decompress_one(s, used[i], arena + offs[i], s->sizes[i], out, c->len[i]);
        if (memcmp(out, c->text[i], c->len[i]) != 0) die("round trip mismatch");
    }
}

/* ---- dictionaries ---- */

static void train_dicts(const corpus *c, double sample_mb, const size_t *caps, int ncaps,
                        uint64_t seed) {
    size_t *idx = malloc(c->n * sizeof *idx);
    for (size_t i = 0; i < c->n; i++) idx[i] = i;
    rng_state = seed ? seed : 1;
    for (size_t i = c->n - 1; i > 0; i--) {
        size_t j = (size_t)(rng() % (i + 1));
        size_t tmp = idx[i]; idx[i] = idx[j]; idx[j] = tmp;
    }
    size_t want = (size_t)(sample_mb * 1024 * 1024), total = 0, ns = 0;
    size_t *sizes = malloc(c->n * sizeof *sizes);
    char *buf = malloc(want + c->max_len);
    memset(c->held_out, 1, c->n);
    while (ns < c->n && total < want) {
        size_t i = idx[ns];
        memcpy(buf + total, c->text[i], c->len[i]);
        sizes[ns++] = c->len[i];
        total += c->len[i];
        c->held_out[i] = 0;
    }
    printf("dictionary sample: %zu documents, %zu bytes (seed %llu); held out: %zu documents\n",
           ns, total, (unsigned long long)seed, c->n - ns);
    for (int k = 0; k < ncaps; k++) {
        dict_t *d = &dicts[ndicts++];
        d->size_cap = caps[k];
        d->bytes = malloc(caps[k]);
        double t0 = now_s();
        if (codec_dict_train(buf, sizes, (unsigned)ns, d->bytes, caps[k], &d->len) != STRATA_OK)
            die("codec_dict_train");
        printf("  trained %zu-byte dictionary in %.1f s of CPU\n", d->len, now_s() - t0);
        if (codec_dict_load((uint32_t)(k + 1), d->bytes, d->len, &d->cd) != STRATA_OK)
            die("codec_dict_load");
        d->lz4f = LZ4F_createCDict(d->bytes, d->len);
        if (!d->lz4f) die("LZ4F_createCDict");
    }
    free(buf);
    free(sizes);
    free(idx);
}

/* ---- report ---- */

static void add(scheme *v, int *n, enum kind k, int codec, int level, int dict, int checksum,
                int slow, const char *fmt, ...) __attribute__((format(printf, 9, 10)));
static void add(scheme *v, int *n, enum kind k, int codec, int level, int dict, int checksum,
                int slow, const char *fmt, ...) {
    scheme *s = &v[(*n)++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    s->kind = k; s->codec = codec; s->level = level; s->dict = dict;
    s->checksum = checksum; s->slow = slow;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *tmpdir = "/tmp";
    int reps = 7, quick = 0;
    double sample_mb = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sample-mb") && i + 1 < argc) sample_mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) tmpdir = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else { fprintf(stderr, "usage: codec_eval CORPUS_DIR [--reps N] [--sample-mb MB] "
                               "[--seed N] [--tmp DIR] [--quick]\n"); return 2; }
    }
    if (!dir) dir = "/work/corpus";
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;

    corpus c = {0};
    load_corpus(dir, &c);
    printf("corpus %s: %zu documents, %zu bytes (largest %zu)\n", dir, c.n, c.total, c.max_len);
    printf("liblz4 %s, libzstd %s, SQLite %s; timing: median of %d runs, thread CPU time\n",
           LZ4_versionString(), ZSTD_versionString(), sqlite3_libversion(), reps);

    const size_t caps[] = {65536, 32768, 16384, 112640};
    train_dicts(&c, sample_mb, caps, quick ? 1 : 4, seed);
    const int D64 = 0, D32 = 1, D16 = 2, D110 = 3;

    uint64_t sq_all = sqlite_bytes(&c, 0, tmpdir), sq_held = sqlite_bytes(&c, 1, tmpdir);
    size_t held_raw = 0, held_n = 0;
    for (size_t i = 0; i < c.n; i++)
        if (c.held_out[i]) { held_raw += c.len[i]; held_n++; }
    printf("SQLite anchor: all %llu bytes (%.3f x raw), held-out %llu bytes\n\n",
           (unsigned long long)sq_all, (double)sq_all / (double)c.total,
           (unsigned long long)sq_held);

    if (LZ4F_isError(LZ4F_createCompressionContext(&g_cctx, LZ4F_VERSION)) ||
        LZ4F_isError(LZ4F_createDecompressionContext(&g_dctx, LZ4F_VERSION)))
        die("LZ4F contexts");
    LZ4_initStream(&g_lz4, sizeof g_lz4);

    scheme v[64];
    int n = 0;
    add(v, &n, K_CODEC, CODEC_RAW, 0, -1, 0, 0, "raw (no compression)");
    add(v, &n, K_LZ4F, 0, 0, -1, 0, 0, "a  LZ4 frame");
    add(v, &n, K_LZ4F, 0, 0, -1, 1, 0, "a  LZ4 frame + content checksum");
    add(v, &n, K_CODEC, CODEC_LZ4, 0, -1, 0, 0, "b  LZ4 block");
    add(v, &n, K_CODEC, CODEC_LZ4_DICT, 0, D64, 0, 0, "c  LZ4 block + dict 64K");
    add(v, &n, K_LZ4_LOADDICT, 0, 0, D64, 0, 0, "c  LZ4 block + dict 64K, loadDict/doc, ext-dict decode");
    add(v, &n, K_LZ4F, 0, 0, D64, 0, 0, "c  LZ4 frame + CDict 64K");
    add(v, &n, K_LZ4F, 0, 0, D64, 1, 0, "c  LZ4 frame + CDict 64K + checksum");
    if (!quick) {
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 0, D32, 0, 0, "c  LZ4 block + dict 32K");
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 0, D16, 0, 0, "c  LZ4 block + dict 16K");
    }
    if (!quick) {
        add(v, &n, K_CODEC, CODEC_LZ4, 3, -1, 0, 0, "d  LZ4HC 3 block");
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 3, D64, 0, 0, "d  LZ4HC 3 block + dict 64K");
    }
    add(v, &n, K_CODEC, CODEC_LZ4, 4, -1, 0, 0, "d  LZ4HC 4 block");
    add(v, &n, K_CODEC, CODEC_LZ4_DICT, 4, D64, 0, 0, "d  LZ4HC 4 block + dict 64K");
    if (!quick) {
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 4, D32, 0, 0, "d  LZ4HC 4 block + dict 32K");
        add(v, &n, K_CODEC, CODEC_LZ4, 6, -1, 0, 0, "d  LZ4HC 6 block");
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 6, D64, 0, 0, "d  LZ4HC 6 block + dict 64K");
    }
    add(v, &n, K_CODEC, CODEC_LZ4, 9, -1, 0, 1, "d  LZ4HC 9 block");
    add(v, &n, K_CODEC, CODEC_LZ4_DICT, 9, D64, 0, 1, "d  LZ4HC 9 block + dict 64K");
    if (!quick) {
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 9, D32, 0, 1, "d  LZ4HC 9 block + dict 32K");
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 9, D16, 0, 1, "d  LZ4HC 9 block + dict 16K");
        add(v, &n, K_CODEC, CODEC_LZ4, 12, -1, 0, 1, "d  LZ4HC 12 block");
        add(v, &n, K_CODEC, CODEC_LZ4_DICT, 12, D64, 0, 1, "d  LZ4HC 12 block + dict 64K");
        add(v, &n, K_LZ4F, 0, 9, D64, 0, 1, "d  LZ4HC 9 frame + CDict 64K");
    }
    static const int zl[] = {1, 3, 9, 19};
    for (int i = 0; i < 4; i++) {
        if (quick && zl[i] == 19) continue;
        add(v, &n, K_CODEC, CODEC_ZSTD, zl[i], -1, 0, zl[i] >= 9, "e  zstd %d", zl[i]);
        add(v, &n, K_CODEC, CODEC_ZSTD_DICT, zl[i], D64, 0, zl[i] >= 9, "e  zstd %d + dict 64K",
            zl[i]);
        if (!quick && zl[i] != 9)
            add(v, &n, K_CODEC, CODEC_ZSTD_DICT, zl[i], D110, 0, zl[i] >= 9,
                "e  zstd %d + dict 110K", zl[i]);
    }

    size_t arena_cap = 0;
    for (size_t i = 0; i < c.n; i++) arena_cap += ZSTD_compressBound(c.len[i]) + 1100 +
                                                  LZ4F_compressFrameBound(c.len[i], NULL);
    unsigned char *arena = malloc(arena_cap);
    size_t *offs = malloc((c.n + 1) * sizeof *offs);
    uint8_t *used = malloc(c.n);
    char *out = malloc(c.max_len);
    if (!arena || !offs || !used || !out) die("out of memory");

    printf("| scheme | stored bytes | raw/stored | smaller than SQLite | compress MB/s | "
           "decompress MB/s | held-out stored | held-out smaller than SQLite |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < n; k++) {
        scheme *s = &v[k];
        run_scheme(s, &c, arena, offs, used, out, reps);
        size_t dict_bytes = s->dict >= 0 ? dicts[s->dict].len : 0;
        uint64_t all = dict_bytes, held = dict_bytes;
        for (size_t i = 0; i < c.n; i++) {
            all += s->sizes[i] + RECORD_HEADER;
            if (c.held_out[i]) held += s->sizes[i] + RECORD_HEADER;
        }
        printf("| %s | %llu | %.3f | %.1f%% | %.0f | %.0f | %llu | %.1f%% |\n", s->name,
               (unsigned long long)all, (double)c.total / (double)all,
               100.0 * (1.0 - (double)all / (double)sq_all),
               (double)c.total / s->comp_s / 1e6, (double)c.total / s->decomp_s / 1e6,
               (unsigned long long)held, 100.0 * (1.0 - (double)held / (double)sq_held));
        fflush(stdout);
    }

    /* Where the dictionary helps: raw/stored by document size, for some schemes. */
    static const size_t edges[] = {0, 2048, 4096, 16384, 65536, SIZE_MAX};
    enum { NB = 5 };
    size_t braw[NB] = {0}, bcount[NB] = {0};
    for (size_t i = 0; i < c.n; i++)
        for (int b = 0; b < NB; b++)
            if (c.len[i] >= edges[b] && c.len[i] < edges[b + 1]) { braw[b] += c.len[i]; bcount[b]++; }
    printf("\nraw/stored by document size (incl. 32-byte header; all documents)\n");
    printf("| scheme | <2K (%zu) | 2-4K (%zu) | 4-16K (%zu) | 16-64K (%zu) | >=64K (%zu) |\n",
           bcount[0], bcount[1], bcount[2], bcount[3], bcount[4]);
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int k = 1; k < n; k++) {
        scheme *s = &v[k];
        if (s->kind == K_LZ4_LOADDICT) continue;
        size_t bst[NB] = {0};
        for (size_t i = 0; i < c.n; i++)
            for (int b = 0; b < NB; b++)
                if (c.len[i] >= edges[b] && c.len[i] < edges[b + 1])
                    bst[b] += s->sizes[i] + RECORD_HEADER;
        printf("| %s |", s->name);
        for (int b = 0; b < NB; b++) printf(" %.2f |", (double)braw[b] / (double)bst[b]);
        printf("\n");
    }
    printf("\nheld-out: %zu documents, %zu raw bytes; SQLite table of them: %llu bytes\n",
           held_n, held_raw, (unsigned long long)sq_held);

    for (int k = 0; k < n; k++) free(v[k].sizes);
    for (int k = 0; k < ndicts; k++) {
        codec_dict_free(dicts[k].cd);
        LZ4F_freeCDict(dicts[k].lz4f);
        free(dicts[k].bytes);
    }
    LZ4F_freeCompressionContext(g_cctx);
    LZ4F_freeDecompressionContext(g_dctx);
    codec_thread_release();
    free(arena); free(offs); free(used); free(out);
    for (size_t i = 0; i < c.n; i++) free(c.text[i]);
    free(c.text); free(c.len); free(c.held_out);
    return 0;
}
