/* test_docs_limits.c — the edges of the document store: a document above 1 GiB put
 * and got through the streaming API with bounded memory, and a full disk during puts
 * (a private mount namespace with a small tmpfs): a clear error, everything committed
 * before stays readable, the store reopens and checks clean. */
#include "test.h"
#include "util/sha256.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

typedef struct gen { uint64_t left, pos; } gen;
static void gen_fill(uint64_t pos, char *out, size_t n) {
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 \n";
    for (size_t i = 0; i < n; i++, pos++) out[i] = alpha[(pos * 7 + pos / 4093) % 38];
}
static long long gen_read(void *ctx, void *buf, size_t cap) {
    gen *g = ctx;
    size_t n = cap > g->left ? (size_t)g->left : cap;
    gen_fill(g->pos, buf, n);
    g->pos += n;
    g->left -= n;
    return (long long)n;
}
typedef struct hsink { su_sha256_ctx c; uint64_t n; } hsink;
static int hwrite(void *ctx, const void *d, size_t n) {
    hsink *h = ctx;
    su_sha256_update(&h->c, d, n);
    h->n += n;
    return 0;
}
static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_one_gib(void) {
    char *dir = t_tmpdir("gib");
    strata_options o = strata_options_default();
    o.create = 1;
    /* The RSS bound is about the document path: DuckDB's own buffers stay out. */
    o.analytics_flags = STRATA_ANALYTICS_OFF;
    strata *db = NULL;
    CHECK_OK(strata_open(dir, &o, &db));
    uint64_t size = (1ull << 30) + 12345;
    long rss0 = maxrss_kb();
    gen g = { size, 0 };
    CHECK_OK(strata_doc_put_stream(db, NULL, "big", 3, gen_read, &g, NULL));
    /* Expected hash, computed the same way in 1 MiB steps. */
    su_sha256_ctx want;
    su_sha256_init(&want);
    char *buf = malloc(1 << 20);
    for (uint64_t pos = 0; pos < size; pos += 1 << 20) {
        size_t n = size - pos < (1u << 20) ? (size_t)(size - pos) : 1u << 20;
        gen_fill(pos, buf, n);
        su_sha256_update(&want, buf, n);
    }
    free(buf);
    uint8_t w[32], h[32];
    su_sha256_final(&want, w);
    strata_close(db);
    CHECK_OK(strata_open(dir, &o, &db));
    hsink hs;
    su_sha256_init(&hs.c);
    hs.n = 0;
    CHECK_OK(strata_doc_get_stream(db, "big", 3, hwrite, &hs));
    su_sha256_final(&hs.c, h);
    CHECK(hs.n == size && !memcmp(h, w, 32));
    strata_doc_info *info = NULL;
    CHECK_OK(strata_doc_stat(db, "big", 3, &info));
    CHECK(info && info->size == size && !memcmp(info->content_hash, w, 32));
    strata_doc_info_free(info);
    long grew = maxrss_kb() - rss0;
    printf("1 GiB document: peak RSS grew by %ld KiB\n", grew);
    CHECK(grew < 64 * 1024); /* bounded: a few MiB of buffers, not the document */
    strata_close(db);
    t_rmtree(dir);
}

static void print_problem(void *ctx, const char *msg) { (void)ctx; fprintf(stderr, "  check: %s\n", msg); }

static int full_disk_child(const char *mnt) {
    if (unshare(CLONE_NEWNS) != 0) return 10;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 11;
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) return 12;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/db", mnt);
    strata_options o = strata_options_default();
    o.create = 1;
    /* Documents only: analytics.duckdb on a full disk is analytics' own test. */
    o.analytics_flags = STRATA_ANALYTICS_OFF;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) return 13;
    uint8_t *noise = malloc(50000);
    uint64_t x = 12345;
    int i, rc = STRATA_OK;
    char id[32];
    for (i = 0; i < 1000; i++) {
        for (int k = 0; k < 50000; k++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; noise[k] = (uint8_t)x; }
        noise[0] = (uint8_t)i;
        noise[1] = (uint8_t)(i >> 8);
        snprintf(id, sizeof id, "n%04d", i);
        if ((rc = strata_doc_put(db, NULL, id, strlen(id), noise, 50000, NULL)) != STRATA_OK) break;
    }
    if (rc != STRATA_ENOSPC) { fprintf(stderr, "rc=%d: %s\n", rc, strata_errmsg(db)); return 14; }
    if (!strstr(strata_errmsg(db), "space")) { fprintf(stderr, "msg: %s\n", strata_errmsg(db)); return 15; }
    int exists = 1;
    if (strata_doc_exists(db, id, strlen(id), &exists) != STRATA_OK || exists) return 16;
    strata_close(db);
    db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) { fprintf(stderr, "reopen: %s\n", strata_open_errmsg()); return 17; }
    for (int j = 0; j < i; j++) {
        snprintf(id, sizeof id, "n%04d", j);
        void *got;
        size_t len;
        if (strata_doc_get(db, id, strlen(id), &got, &len) != STRATA_OK || len != 50000) return 18;
        strata_free(got);
    }
    uint64_t problems = 1;
    if (strata_check(db, print_problem, NULL, &problems) != STRATA_OK || problems) return 19;
    strata_close(db);
    free(noise);
    return i > 0 ? 0 : 20;
}

static void test_full_disk(void) {
    char *mnt = t_tmpdir("docfull");
    pid_t child = fork();
    if (child == 0) _exit(full_disk_child(mnt));
    int status = 0;
    waitpid(child, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "full-disk child exited with %d (needs root for a tmpfs mount)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    t_rmtree(mnt);
}

int main(void) {
    test_full_disk();
    test_one_gib();
    return t_done();
}
