/* bench_backup.c — backup, incremental backup, verify and restore of a generated
 * ~1 GB store, against the goals of issue 6 and beside an anchor (DESIGN.md
 * principle 6): copying the store's files as `cp -r` + `sync` would.
 *
 * The store: documents of mixed sizes (1 KB .. 4 MB, most of the bytes in documents
 * of 64 KB and more) of generated text (Zipf-distributed made-up words with English's
 * function words as the top ranks, half of them in recurring phrases, sentences and
 * paragraphs), which LZ4 stores in about 1/2 as it does prose,
 * each with a small JSON metadata object, put in transactions of ~32 MB, until the
 * store's files (strata_stats.total_bytes) reach --size-mb. No vectors: strata.h has
 * no vector API yet; when it has, this benchmark adds them (the output says so).
 *
 * Timed, each the median of --reps (3) with min..max:
 *  1. full backup: strata_backup_create into a fresh, empty destination on the same
 *     filesystem (each repetition its own destination);
 *  2. incremental, unchanged: another backup into that destination, nothing written
 *     in between;
 *  3. incremental after 1%: new documents worth 1% of the store's bytes added (not
 *     timed), then a backup into the same destination;
 *  4. restore: strata_backup_restore of the full backup into a new directory: its
 *     verify, the copy, opening the result and strata_check;
 *  5. verify alone: strata_backup_verify of the full backup;
 *  6. check alone: strata_check of the restored store (a part of 4, for the split).
 * Anchor: every file of the store (resp. the backup) copied with read/write and
 * fsync'd, directories too: what `cp -r STORE COPY && sync` costs. The copy is not
 * consistent while writers run, which is what a backup adds.
 *
 * Besides time, each backup's "new bytes": the sizes of its files that are not hard
 * links (st_nlink == 1), i.e. what the backup costs in space.
 *
 * Uses only the public API (strata.h). */
#include "strata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MB 1e6
#define MAX_REPS 15

static const char *usage_text =
    "usage: bench_backup [OPTIONS]\n"
    "  --dir PATH       parent of the working directory (default /var/tmp; use a disk,\n"
    "                   not tmpfs); a fresh bench_backup.XXXXXX below it is removed at the end\n"
    "  --size-mb N      size of the generated store's files in MB (default 1000)\n"
    "  --reps N         repetitions of each timed case, median reported (default 3, max 15)\n"
    "  --seed S         seed of the generated documents (default 6)\n"
    "  --cold           drop the page cache (sync; /proc/sys/vm/drop_caches, root) before\n"
    "                   each timed operation\n"
    "  --keep           keep the working directory\n"
    "  --help           this text\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_backup: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *path_join(const char *a, const char *b)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        die("out of memory");
    return p;
}

static int cold;
static void drop_caches(void)
{
    if (!cold)
        return;
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (!f || fputs("3\n", f) < 0 || fclose(f) != 0)
        die("--cold: cannot write /proc/sys/vm/drop_caches (root needed): %s", strerror(errno));
}

/* ---- generated text ---- */

typedef struct rng { uint64_t s; } rng;
static uint64_t rnd(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

#define VOCAB 8192
static char vocab[VOCAB][16];
static uint8_t vocab_len[VOCAB];
static uint32_t zipf_cdf[VOCAB]; /* cumulative weights, scaled to 2^32 - 1 */
static int pick_word(rng *r);
static void phrases_init(rng *r);

static void vocab_init(uint64_t seed)
{
    static const char *const syl[] = {
        "a", "an", "ar", "be", "ca", "co", "de", "di", "en", "er", "es", "fo", "ga", "in", "is",
        "ka", "la", "le", "li", "ma", "me", "mo", "na", "ne", "no", "on", "or", "pa", "pe", "po",
        "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "un", "ur", "va",
        "ve", "vi", "za", "th", "st", "qu", "ch", "sh", "ph", "tr", "pr", "gr", "bl", "cl", "fl",
    };
    /* The most frequent ranks are English's function words, as in prose. */
    static const char *const common[] = {
        "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "with", "was",
        "on", "be", "by", "this", "are", "or", "from", "at", "which", "an", "not", "have",
        "has", "can", "its", "but", "all", "were", "one", "their", "when", "there", "been",
        "more", "if", "will", "also", "other", "into", "than", "these", "each", "may",
    };
    const int ncommon = (int)(sizeof common / sizeof common[0]);
    rng r = { seed * 0x9E3779B97F4A7C15ull | 1 };
    double total = 0, w[VOCAB];
    const double zipf_s = 1.2; /* with the phrases: LZ4 stores the text in ~1/2 */
    for (int i = 0; i < VOCAB; i++) {
        int len = 0;
        if (i < ncommon) {
            len = (int)strlen(common[i]);
            memcpy(vocab[i], common[i], (size_t)len);
        } else {
            int n = 1 + (int)(rnd(&r) % 4);
            for (int k = 0; k < n; k++) {
                const char *s = syl[rnd(&r) % (sizeof syl / sizeof syl[0])];
                size_t sl = strlen(s);
                memcpy(vocab[i] + len, s, sl);
                len += (int)sl;
            }
        }
        vocab[i][len] = 0;
        vocab_len[i] = (uint8_t)len;
        w[i] = pow(i + 2.7, -zipf_s); /* Zipf */
        total += w[i];
    }
    double acc = 0;
    for (int i = 0; i < VOCAB; i++) {
        acc += w[i];
        zipf_cdf[i] = (uint32_t)(acc / total * 4294967295.0);
    }
    zipf_cdf[VOCAB - 1] = UINT32_MAX;
    phrases_init(&r);
}


static int pick_word(rng *r)
{
    uint32_t x = (uint32_t)rnd(r);
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Phrases: runs of 2..6 words that recur, as collocations and set phrases do in
 * prose (without them LZ4 finds little beyond single words). */
#define PHRASES 4096
static uint16_t phrase[PHRASES][6];
static uint8_t phrase_len[PHRASES];
static const double phrase_p = 0.5; /* share of words that start a phrase */

static void phrases_init(rng *r)
{
    for (int i = 0; i < PHRASES; i++) {
        phrase_len[i] = (uint8_t)(2 + rnd(r) % 5);
        for (int k = 0; k < phrase_len[i]; k++)
            phrase[i][k] = (uint16_t)pick_word(r);
    }
}

/* n bytes of prose-like text: sentences of 5..24 words, paragraphs of 2..8 sentences;
 * a share of the words come in recurring phrases (Zipf-chosen, too). */
static void gen_text(rng *r, char *buf, size_t n)
{
    int pend[6], npend = 0;
    uint32_t pthresh = (uint32_t)(phrase_p * 4294967295.0);
    size_t i = 0;
    int in_sentence = 0, words_left = 0, sentences_left = 3;
    while (i < n) {
        if (!in_sentence) {
            words_left = 5 + (int)(rnd(r) % 20);
            in_sentence = 1;
        }
        if (npend == 0 && (uint32_t)rnd(r) < pthresh) {
            int ph = pick_word(r) % PHRASES;
            for (int k = phrase_len[ph]; k-- > 0;)
                pend[npend++] = phrase[ph][k];
        }
        int w = npend ? pend[--npend] : pick_word(r);
        size_t wl = vocab_len[w];
        char word[24];
        memcpy(word, vocab[w], wl);
        if (in_sentence == 1)
            word[0] = (char)(word[0] - 'a' + 'A');
        in_sentence = 2;
        if (--words_left == 0) {
            word[wl++] = (rnd(r) % 8) ? '.' : '?';
            in_sentence = 0;
            if (--sentences_left == 0) {
                word[wl++] = '\n';
                word[wl++] = '\n';
                sentences_left = 2 + (int)(rnd(r) % 7);
            } else {
                word[wl++] = ' ';
            }
        } else {
            if (rnd(r) % 11 == 0)
                word[wl++] = ',';
            word[wl++] = ' ';
        }
        size_t c = wl < n - i ? wl : n - i;
        memcpy(buf + i, word, c);
        i += c;
    }
}

/* Document sizes: 40% 1..8 KB, 35% 8..64 KB, 20% 64..512 KB, 5% 0.5..4 MB. */
static size_t doc_size(rng *r)
{
    unsigned k = (unsigned)(rnd(r) % 100);
    size_t lo, hi;
    if (k < 40) { lo = 1000; hi = 8000; }
    else if (k < 75) { lo = 8000; hi = 64000; }
    else if (k < 95) { lo = 64000; hi = 512000; }
    else { lo = 512000; hi = 4000000; }
    return lo + (size_t)(rnd(r) % (hi - lo));
}
#define DOC_MAX 4000000

typedef struct gen {
    rng r;
    char *buf;
    uint64_t next_id, docs, raw;
} gen;

/* Put documents until the store's files grow by `bytes` (checked after each commit
 * of ~32 MB of content). */
static void fill(strata *db, gen *g, uint64_t bytes)
{
    strata_stats st;
    if (strata_stats_get(db, &st) != STRATA_OK)
        die("stats: %s", strata_errmsg(db));
    uint64_t goal = st.total_bytes + bytes;
    while (st.total_bytes < goal) {
        /* ~32 MB of content per transaction, less near the goal: the raw bytes that
         * should fill what is left, at the compression ratio seen so far. */
        double ratio = st.doc_stored_bytes ? (double)st.doc_raw_bytes / (double)st.doc_stored_bytes : 1.0;
        double left = (double)(goal - st.total_bytes) * ratio;
        size_t limit = left < 1 ? 1 : left < 32e6 ? (size_t)left : 32000000; /* >= 1 document */
        strata_txn *t = NULL;
        if (strata_txn_begin(db, &t) != STRATA_OK)
            die("txn: %s", strata_errmsg(db));
        size_t in_txn = 0;
        while (in_txn < limit) {
            size_t n = doc_size(&g->r);
            gen_text(&g->r, g->buf, n);
            char id[64], meta[160];
            uint64_t k = g->next_id++;
            snprintf(id, sizeof id, "corpus/%03" PRIu64 "/doc-%08" PRIu64 ".txt", k % 997, k);
            snprintf(meta, sizeof meta, "{\"source\":\"bench\",\"n\":%" PRIu64 ",\"lang\":\"%s\",\"bytes\":%zu}", k,
                     k % 3 ? "en" : "de", n);
            strata_doc_put_opts o = { .metadata_json = meta, .filename = strrchr(id, '/') + 1 };
            if (strata_doc_put(db, t, id, strlen(id), g->buf, n, &o) != STRATA_OK)
                die("put %s: %s", id, strata_errmsg(db));
            in_txn += n;
            g->docs++;
            g->raw += n;
        }
        if (strata_txn_commit(t, NULL) != STRATA_OK)
            die("commit: %s", strata_errmsg(db));
        if (strata_stats_get(db, &st) != STRATA_OK)
            die("stats: %s", strata_errmsg(db));
    }
}

/* ---- files ---- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}
static void rmtree(const char *p)
{
    if (nftw(p, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fprintf(stderr, "bench_backup: removing %s: %s\n", p, strerror(errno));
}

/* Bytes of regular files below `dir` that are not hard links elsewhere. */
static uint64_t g_unshared, g_total;
static int count_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)p; (void)ftw;
    if (flag == FTW_F && S_ISREG(sb->st_mode)) {
        g_total += (uint64_t)sb->st_size;
        if (sb->st_nlink == 1)
            g_unshared += (uint64_t)sb->st_size;
    }
    return 0;
}
static uint64_t unshared_bytes(const char *dir, uint64_t *total)
{
    g_unshared = g_total = 0;
    nftw(dir, count_one, 32, FTW_PHYS);
    if (total)
        *total = g_total;
    return g_unshared;
}

static void fsync_path(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        die("fsync %s: %s", p, strerror(errno));
    close(fd);
}

/* The anchor: copy `src` to `dst` recursively (regular files and directories; the
 * store's LOCK file is skipped), every file and directory fsync'd. */
static uint64_t copy_tree(const char *src, const char *dst)
{
    static char buf[1 << 20];
    uint64_t bytes = 0;
    if (mkdir(dst, 0700) != 0)
        die("mkdir %s: %s", dst, strerror(errno));
    DIR *d = opendir(src);
    if (!d)
        die("opendir %s: %s", src, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "LOCK"))
            continue;
        char *s = path_join(src, e->d_name), *t = path_join(dst, e->d_name);
        struct stat st;
        if (lstat(s, &st) != 0)
            die("stat %s: %s", s, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            bytes += copy_tree(s, t);
        } else if (S_ISREG(st.st_mode)) {
            int in = open(s, O_RDONLY | O_CLOEXEC), out = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (in < 0 || out < 0)
                die("copy %s: %s", s, strerror(errno));
            ssize_t n;
            while ((n = read(in, buf, sizeof buf)) > 0) {
                if (write(out, buf, (size_t)n) != n)
                    die("write %s: %s", t, strerror(errno));
                bytes += (uint64_t)n;
            }
            if (n < 0 || fsync(out) != 0)
                die("copy %s: %s", s, strerror(errno));
            close(in);
            close(out);
        }
        free(s);
        free(t);
    }
    closedir(d);
    fsync_path(dst);
    return bytes;
}

/* ---- statistics ---- */

typedef struct series { double v[MAX_REPS]; int n; } series;
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(const series *s)
{
    double t[MAX_REPS];
    memcpy(t, s->v, sizeof(double) * (size_t)s->n);
    qsort(t, (size_t)s->n, sizeof t[0], cmp_d);
    return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}
static double s_min(const series *s)
{
    double m = s->v[0];
    for (int i = 1; i < s->n; i++) if (s->v[i] < m) m = s->v[i];
    return m;
}
static double s_max(const series *s)
{
    double m = s->v[0];
    for (int i = 1; i < s->n; i++) if (s->v[i] > m) m = s->v[i];
    return m;
}

static void row(const char *name, const series *s, double goal, const char *goal_text, const char *extra)
{
    double m = median(s);
    char range[48] = "";
    if (s->n > 1)
        snprintf(range, sizeof range, "%.3f..%.3f", s_min(s), s_max(s));
    const char *verdict = goal > 0 ? (m < goal ? "met" : "MISSED") : "";
    printf("%-32s %8.3f s  %-15s %-22s %-6s %s\n", name, m, range, goal_text, verdict, extra ? extra : "");
}

/* ---- the run ---- */

static void check_backup(const char *dest, const char *name)
{
    uint64_t problems = 0;
    int rc = strata_backup_verify(dest, name, NULL, NULL, &problems);
    if (rc != STRATA_OK || problems)
        die("verify %s: %s (%" PRIu64 " problems)", name, strata_backup_errmsg(), problems);
}

static char *backup(strata *db, const char *dest, double *secs)
{
    char *name = NULL;
    drop_caches();
    double t0 = now_s();
    int rc = strata_backup_create(db, dest, &name);
    *secs = now_s() - t0;
    if (rc != STRATA_OK)
        die("backup into %s: %s", dest, strata_errmsg(db));
    return name;
}

int main(int argc, char **argv)
{
    const char *parent = "/var/tmp";
    double size_mb = 1000;
    int reps = 3, keep = 0;
    uint64_t seed = 6;
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'd' },  { "size-mb", required_argument, NULL, 's' },
        { "reps", required_argument, NULL, 'r' }, { "seed", required_argument, NULL, 'S' },
        { "cold", no_argument, NULL, 'c' },       { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': parent = optarg; break;
        case 's':
            size_mb = strtod(optarg, &end);
            if (*end || !(size_mb >= 1)) die("--size-mb wants a number >= 1, not '%s'", optarg);
            break;
        case 'r':
            reps = (int)strtol(optarg, &end, 10);
            if (*end || reps < 1 || reps > MAX_REPS) die("--reps wants 1..%d", MAX_REPS);
            break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'c': cold = 1; break;
        case 'k': keep = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc) {
        fputs(usage_text, stderr);
        return 2;
    }

    char *work = path_join(parent, "bench_backup.XXXXXX");
    if (!mkdtemp(work))
        die("mkdtemp %s: %s", work, strerror(errno));
    struct statfs sfs;
    int tmpfs = statfs(work, &sfs) == 0 && sfs.f_type == 0x01021994; /* TMPFS_MAGIC */
    struct utsname un;
    uname(&un);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_backup: Strata %s, %s %s, %ld CPUs; work dir %s%s; page cache %s\n", strata_version(),
           un.sysname, un.release, ncpu, work, tmpfs ? " (tmpfs! fsync costs nothing: use --dir on a disk)" : "",
           cold ? "dropped before each timed operation (--cold)" : "warm (the files were just written)");

    /* ---- the store ---- */
    char *store = path_join(work, "store");
    strata_options o = strata_options_default();
    o.create = 1;
    o.backup_interval_hours = -1; /* no automatic backup in the middle of a measurement */
    strata *db = NULL;
    if (strata_open(store, &o, &db) != STRATA_OK)
        die("open %s: %s", store, strata_open_errmsg());
    gen g = { .r = { seed * 0x2545F4914F6CDD1Dull | 1 } };
    if (!(g.buf = malloc(DOC_MAX)))
        die("out of memory");
    vocab_init(seed);
    double t0 = now_s();
    fill(db, &g, (uint64_t)(size_mb * MB));
    double gen_s = now_s() - t0;
    strata_stats st;
    if (strata_stats_get(db, &st) != STRATA_OK)
        die("stats: %s", strata_errmsg(db));
    printf("store: %" PRIu64 " documents, %.1f MB of text stored in %.1f MB (%.2fx); %" PRIu64
           " segments (%.1f MB), operational.db %.1f MB, %.1f MB in all; generated in %.1f s\n",
           st.documents, (double)st.doc_raw_bytes / MB, (double)st.doc_stored_bytes / MB,
           st.doc_stored_bytes ? (double)st.doc_raw_bytes / (double)st.doc_stored_bytes : 0.0, st.segments,
           (double)st.segment_bytes / MB, (double)st.operational_bytes / MB, (double)st.total_bytes / MB, gen_s);
    printf("       documents of 1 KB..4 MB (40%% < 8 KB, 5%% > 512 KB) of Zipf-distributed words; no vectors:\n"
           "       strata.h has no vector API yet (this benchmark adds vectors when it does)\n\n");
    uint64_t store_bytes = st.total_bytes;

    series full = { .n = 0 }, inc0 = { .n = 0 }, inc1 = { .n = 0 }, rest = { .n = 0 }, ver = { .n = 0 },
           chk = { .n = 0 }, anc_b = { .n = 0 }, anc_r = { .n = 0 };
    uint64_t new_full = 0, new_inc0 = 0, new_inc1 = 0, total_full = 0;
    char *full_dest = NULL, *full_name = NULL;

    /* 1. full backups, each into a fresh destination; the last one stays. */
    for (int i = 0; i < reps; i++) {
        char sub[32];
        snprintf(sub, sizeof sub, "dest-%d", i);
        char *dest = path_join(work, sub);
        double s;
        char *name = backup(db, dest, &s);
        full.v[full.n++] = s;
        char *dir = path_join(dest, name);
        new_full = unshared_bytes(dir, &total_full);
        free(dir);
        if (i + 1 < reps) {
            rmtree(dest);
            free(dest);
            strata_free(name);
        } else {
            full_dest = dest;
            full_name = name;
        }
    }
    check_backup(full_dest, full_name);

    /* 2. incremental backups of the unchanged store. */
    for (int i = 0; i < reps; i++) {
        double s;
        char *name = backup(db, full_dest, &s);
        inc0.v[inc0.n++] = s;
        char *dir = path_join(full_dest, name);
        new_inc0 = unshared_bytes(dir, NULL);
        free(dir);
        if (i == 0)
            check_backup(full_dest, name);
        strata_free(name);
    }

    /* 3. 1% new documents, then an incremental backup. */
    uint64_t docs_before = g.docs;
    for (int i = 0; i < reps; i++) {
        fill(db, &g, store_bytes / 100);
        double s;
        char *name = backup(db, full_dest, &s);
        inc1.v[inc1.n++] = s;
        char *dir = path_join(full_dest, name);
        new_inc1 = unshared_bytes(dir, NULL);
        free(dir);
        check_backup(full_dest, name);
        strata_free(name);
    }
    uint64_t added_per_rep = (g.docs - docs_before) / (uint64_t)reps;

    /* Anchor for backups: cp -r of the store + sync (the store now holds 1% x reps more). */
    if (strata_stats_get(db, &st) != STRATA_OK)
        die("stats: %s", strata_errmsg(db));
    uint64_t anchor_bytes = 0;
    for (int i = 0; i < reps; i++) {
        char *dst = path_join(work, "anchor-copy");
        drop_caches();
        double a = now_s();
        anchor_bytes = copy_tree(store, dst);
        anc_b.v[anc_b.n++] = now_s() - a;
        rmtree(dst);
        free(dst);
    }
    strata_close(db);

    /* 4. restore of the full backup, 5. verify alone, 6. check of the restored store. */
    for (int i = 0; i < reps; i++) {
        char *target = path_join(work, "restored");
        drop_caches();
        double a = now_s();
        int rc = strata_backup_restore(full_dest, full_name, target, 0);
        rest.v[rest.n++] = now_s() - a;
        if (rc != STRATA_OK)
            die("restore: %s", strata_backup_errmsg());

        strata_options ro = strata_options_default();
        ro.backup_interval_hours = -1;
        strata *r = NULL;
        if (strata_open(target, &ro, &r) != STRATA_OK)
            die("open the restored store: %s", strata_open_errmsg());
        strata_stats rs;
        uint64_t problems = 0;
        drop_caches();
        a = now_s();
        rc = strata_check(r, NULL, NULL, &problems);
        chk.v[chk.n++] = now_s() - a;
        if (rc != STRATA_OK || problems)
            die("check of the restored store: %s (%" PRIu64 " problems)", strata_errmsg(r), problems);
        if (strata_stats_get(r, &rs) != STRATA_OK)
            die("stats of the restored store: %s", strata_errmsg(r));
        strata_close(r);
        if (i == 0) {
            /* The full backup was taken before the 1% additions: its LSN and documents. */
            if (rs.documents != docs_before)
                die("restored store holds %" PRIu64 " documents, want %" PRIu64, rs.documents, docs_before);
        }
        rmtree(target);
        free(target);

        drop_caches();
        a = now_s();
        problems = 0;
        rc = strata_backup_verify(full_dest, full_name, NULL, NULL, &problems);
        ver.v[ver.n++] = now_s() - a;
        if (rc != STRATA_OK || problems)
            die("verify: %s (%" PRIu64 " problems)", strata_backup_errmsg(), problems);
    }
    uint64_t restore_bytes = 0;
    {
        char *src = path_join(full_dest, full_name);
        for (int i = 0; i < reps; i++) {
            char *dst = path_join(work, "anchor-restore");
            drop_caches();
            double a = now_s();
            restore_bytes = copy_tree(src, dst);
            anc_r.v[anc_r.n++] = now_s() - a;
            rmtree(dst);
            free(dst);
        }
        free(src);
    }

    /* ---- the table ---- */
    printf("%-32s %10s  %-15s %-22s %-6s %s\n", "case (median of reps)", "time", "min..max", "goal", "", "notes");
    char note[160];
    snprintf(note, sizeof note, "%.1f MB in the backup, %.1f MB new (not hard links)", (double)total_full / MB,
             (double)new_full / MB);
    row("full backup", &full, 10, "< 10 s", note);
    snprintf(note, sizeof note, "%.1f MB new", (double)new_inc0 / MB);
    row("incremental, unchanged", &inc0, 1, "< 1 s", note);
    snprintf(note, sizeof note, "+%" PRIu64 " documents each rep; %.1f MB new", added_per_rep,
             (double)new_inc1 / MB);
    row("incremental, +1% documents", &inc1, 0, "-", note);
    snprintf(note, sizeof note, "verify + copy %.1f MB + open + check", (double)restore_bytes / MB);
    row("restore (full backup)", &rest, 10, "< 10 s (ADR: < 30 s)", note);
    row("  verify alone", &ver, 0, "-", "every SHA-256 + operational.db integrity");
    row("  check alone (restored store)", &chk, 0, "-", "every record read back and hashed");
    snprintf(note, sizeof note, "%.1f MB copied + fsync", (double)anchor_bytes / MB);
    row("anchor: cp -r store + sync", &anc_b, 0, "-", note);
    snprintf(note, sizeof note, "%.1f MB copied + fsync", (double)restore_bytes / MB);
    row("anchor: cp -r backup + sync", &anc_r, 0, "-", note);
    printf("\nfull backup / anchor copy: %.2fx the time; restore / anchor copy: %.2fx\n",
           median(&full) / median(&anc_b), median(&rest) / median(&anc_r));

    strata_free(full_name);
    free(full_dest);
    free(g.buf);
    if (keep) {
        printf("kept %s\n", work);
    } else {
        rmtree(work);
    }
    free(store);
    free(work);
    return 0;
}
