/* test_vectors.c — vector collections in the store: create/drop/list, puts and
 * deletes in transactions with documents (atomic; a deleted document takes its
 * vectors along), search (recall against exact, filters), persistence through the
 * log and the checkpoint, a damaged checkpoint rebuilt from the log, bad input. */
#include "test.h"

#include <math.h>
#include <sys/stat.h>

static strata *open_store(const char *dir) {
    strata_options o = t_options();
    o.create = 1;
    o.backup_interval_hours = -1;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) { fprintf(stderr, "open: %s\n", strata_open_errmsg()); abort(); }
    return db;
}

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)((rs >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

#define DIM 32
#define N 3000

static void vec_of(int i, float *v) {
    /* Clustered: 30 centres, noise around them. */
    uint64_t save = rs;
    rs = 0x1234567ull + (uint64_t)(i % 30) * 7919u;
    float c[DIM];
    for (int d = 0; d < DIM; d++) c[d] = frand();
    rs = 0xabcdefull + (uint64_t)i * 104729u;
    for (int d = 0; d < DIM; d++) v[d] = c[d] + 0.3f * frand();
    rs = save;
}

static void id_of(int i, char *id) { sprintf(id, "doc-%05d", i); }

static int results_have(strata_vec_result *r, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++) if (r[i].id_len == strlen(id) && !memcmp(r[i].id, id, r[i].id_len)) return 1;
    return 0;
}

static void test_basics(const char *dir) {
    strata *db = open_store(dir);
    strata_collection_opts o = { .dim = DIM, .metric = STRATA_METRIC_COSINE };
    CHECK_RC(strata_vec_create(db, "bad/name", &o), STRATA_EINVAL);
    CHECK_RC(strata_vec_create(db, "", &o), STRATA_EINVAL);
    CHECK_RC(strata_vec_create(db, "ok", NULL), STRATA_EINVAL);
    strata_collection_opts bad = { .dim = 0 };
    CHECK_RC(strata_vec_create(db, "ok", &bad), STRATA_EINVAL);
    bad.dim = 8;
    bad.metric = 9;
    CHECK_RC(strata_vec_create(db, "ok", &bad), STRATA_EINVAL);
    CHECK_OK(strata_vec_create(db, "emb", &o));
    CHECK_RC(strata_vec_create(db, "emb", &o), STRATA_EEXIST);
    strata_collection_opts l2 = { .dim = 4, .metric = STRATA_METRIC_L2, .dtype = STRATA_DTYPE_I8 };
    CHECK_OK(strata_vec_create(db, "small", &l2));

    /* Documents and their vectors, committed together. */
    float v[DIM];
    strata_txn *t = NULL;
    for (int i = 0; i < N; i++) {
        char id[32];
        id_of(i, id);
        if (i % 500 == 0) CHECK_OK(strata_txn_begin(db, &t));
        char meta[64];
        snprintf(meta, sizeof meta, "{\"cluster\":%d}", i % 30);
        strata_doc_put_opts po = { .metadata_json = meta };
        CHECK_OK(strata_doc_put(db, t, id, strlen(id), id, strlen(id), &po));
        vec_of(i, v);
        CHECK_OK(strata_vec_put(db, t, "emb", id, strlen(id), v, DIM));
        if (i % 500 == 499) { CHECK_OK(strata_txn_commit(t, NULL)); t = NULL; }
    }
    strata_collection_info info;
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N && info.dim == DIM && info.index_bytes > 0 && info.log_bytes > (uint64_t)N * DIM * 4);
    printf("collection: %llu vectors, %llu index bytes, kernels %s\n", (unsigned long long)info.count,
           (unsigned long long)info.index_bytes, info.kernels);

    /* Recall@10 of the graph against exact search. */
    int hit = 0, total = 0;
    for (int qi = 0; qi < 100; qi++) {
        float q[DIM];
        vec_of(qi * 29 + 7, q);
        for (int d = 0; d < DIM; d++) q[d] += 0.05f * frand();
        strata_vec_result *a = NULL, *e = NULL;
        size_t na = 0, ne = 0;
        strata_vec_search_opts so = { .k = 10 };
        CHECK_OK(strata_vec_search(db, "emb", q, DIM, &so, &a, &na));
        so.exact = 1;
        CHECK_OK(strata_vec_search(db, "emb", q, DIM, &so, &e, &ne));
        for (size_t i = 0; i < ne; i++) {
            char id[64];
            snprintf(id, sizeof id, "%.*s", (int)e[i].id_len, (char *)e[i].id);
            hit += results_have(a, na, id);
        }
        total += (int)ne;
        if (qi == 0) CHECK(na == 10 && a[0].score >= a[9].score && a[0].score <= 1.0001f);
        strata_vec_results_free(a, na);
        strata_vec_results_free(e, ne);
    }
    double recall = (double)hit / total;
    printf("recall@10 (store API, default ef): %.3f\n", recall);
    CHECK(recall >= 0.95);

    /* The stored vector comes back (unit length for cosine). */
    float got[DIM];
    CHECK_OK(strata_vec_get(db, "emb", "doc-00007", 9, got, DIM));
    vec_of(7, v);
    double n2 = 0, dot = 0, gn = 0;
    for (int d = 0; d < DIM; d++) { n2 += (double)v[d] * v[d]; dot += (double)v[d] * got[d]; gn += (double)got[d] * got[d]; }
    CHECK(fabs(gn - 1.0) < 1e-4 && fabs(dot / sqrt(n2) - 1.0) < 1e-4);

    /* Filters: an id set, a prefix, metadata. */
    vec_of(5, v);
    const void *ids[] = { "doc-00005", "doc-00035", "doc-02999" };
    size_t lens[] = { 9, 9, 9 };
    strata_vec_search_opts fo = { .k = 10, .ids = ids, .id_lens = lens, .nids = 3 };
    strata_vec_result *r = NULL;
    size_t nr = 0;
    CHECK_OK(strata_vec_search(db, "emb", v, DIM, &fo, &r, &nr));
    CHECK(nr == 3 && results_have(r, nr, "doc-00005"));
    CHECK(nr > 0 && r[0].id_len == 9 && !memcmp(r[0].id, "doc-00005", 9));
    strata_vec_results_free(r, nr);
    strata_doc_filter pf = { .prefix = "doc-001", .prefix_len = 7 };
    strata_vec_search_opts po2 = { .k = 200, .filter = &pf };
    CHECK_OK(strata_vec_search(db, "emb", v, DIM, &po2, &r, &nr));
    int prefix_ok = nr == 100;
    for (size_t i = 0; i < nr; i++) if (memcmp(r[i].id, "doc-001", 7)) prefix_ok = 0;
    CHECK(prefix_ok);
    strata_vec_results_free(r, nr);
    strata_doc_filter mf = { .meta_path = "$.cluster", .meta_value_json = "3" };
    strata_vec_search_opts mo = { .k = 10, .filter = &mf };
    CHECK_OK(strata_vec_search(db, "emb", v, DIM, &mo, &r, &nr));
    int meta_ok = nr == 10;
    for (size_t i = 0; i < nr; i++) {
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "%.*s", (int)r[i].id_len, (char *)r[i].id);
        int k = atoi(idbuf + 4);
        if (k % 30 != 3) meta_ok = 0;
    }
    CHECK(meta_ok);
    strata_vec_results_free(r, nr);

    /* Bad input changes nothing. */
    float nanv[DIM];
    memcpy(nanv, v, sizeof nanv);
    nanv[3] = NAN;
    CHECK_RC(strata_vec_put(db, NULL, "emb", "x", 1, nanv, DIM), STRATA_EINVAL);
    nanv[3] = INFINITY;
    CHECK_RC(strata_vec_put(db, NULL, "emb", "x", 1, nanv, DIM), STRATA_EINVAL);
    CHECK_RC(strata_vec_put(db, NULL, "emb", "x", 1, v, DIM - 1), STRATA_EINVAL);
    CHECK_RC(strata_vec_put(db, NULL, "nope", "x", 1, v, DIM), STRATA_ENOTFOUND);
    float zero[DIM] = { 0 };
    CHECK_RC(strata_vec_put(db, NULL, "emb", "x", 1, zero, DIM), STRATA_EINVAL);
    CHECK_RC(strata_vec_put(db, NULL, "emb", "", 0, v, DIM), STRATA_EINVAL);
    CHECK_RC(strata_vec_search(db, "emb", nanv, DIM, NULL, &r, &nr), STRATA_EINVAL);
    CHECK_RC(strata_vec_search(db, "emb", v, 3, NULL, &r, &nr), STRATA_EINVAL);
    CHECK_RC(strata_vec_search(db, "nope", v, DIM, NULL, &r, &nr), STRATA_ENOTFOUND);
    CHECK_RC(strata_vec_delete(db, NULL, "emb", "never", 5), STRATA_ENOTFOUND);
    CHECK_RC(strata_vec_get(db, "emb", "x", 1, got, DIM), STRATA_ENOTFOUND);
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N);

    /* Atomic with documents: a failing op undoes the vector put too. */
    CHECK_OK(strata_txn_begin(db, &t));
    CHECK_OK(strata_doc_put(db, t, "atomic", 6, "a", 1, NULL));
    CHECK_OK(strata_vec_put(db, t, "emb", "atomic", 6, v, DIM));
    CHECK_OK(strata_setting_delete(db, t, "no-such-setting"));
    CHECK_RC(strata_txn_commit(t, NULL), STRATA_ENOTFOUND);
    CHECK_RC(strata_vec_get(db, "emb", "atomic", 6, got, DIM), STRATA_ENOTFOUND);
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N);

    /* Deletes: a vector alone, and a document with its vectors. */
    CHECK_OK(strata_vec_delete(db, NULL, "emb", "doc-00005", 9));
    CHECK_RC(strata_vec_get(db, "emb", "doc-00005", 9, got, DIM), STRATA_ENOTFOUND);
    float s4[4] = { 1, 2, 3, 4 };
    CHECK_OK(strata_vec_put(db, NULL, "small", "doc-00006", 9, s4, 4));
    CHECK_OK(strata_doc_delete(db, NULL, "doc-00006", 9));
    CHECK_RC(strata_vec_get(db, "emb", "doc-00006", 9, got, DIM), STRATA_ENOTFOUND);
    CHECK_RC(strata_vec_get(db, "small", "doc-00006", 9, s4, 4), STRATA_ENOTFOUND);
    vec_of(6, v);
    strata_vec_search_opts xo = { .k = 5, .exact = 1 };
    CHECK_OK(strata_vec_search(db, "emb", v, DIM, &xo, &r, &nr));
    CHECK(!results_have(r, nr, "doc-00006") && !results_have(r, nr, "doc-00005"));
    strata_vec_results_free(r, nr);
    /* Replacing a vector keeps one entry per document. */
    CHECK_OK(strata_vec_put(db, NULL, "emb", "doc-00010", 9, v, DIM));
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N - 2);

    uint64_t problems = 9;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    CHECK_OK(strata_close(db));
}

static void print_problem(void *ctx, const char *msg) { (void)ctx; fprintf(stderr, "  problem: %s\n", msg); }

static int count_cb(void *ctx, const strata_collection_info *i) { (void)i; ++*(int *)ctx; return 0; }

static void test_persistence(const char *dir) {
    /* Reopen: the checkpoint written at close plus the log give the same index. */
    strata *db = open_store(dir);
    strata_collection_info info;
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N - 2);
    float v[DIM], got[DIM];
    vec_of(11, v);
    CHECK_OK(strata_vec_get(db, "emb", "doc-00011", 9, got, DIM));
    int n = 0;
    CHECK_OK(strata_vec_list(db, count_cb, &n));
    CHECK(n == 2);
    /* Writes after the checkpoint are replayed from the log at the next open. */
    CHECK_OK(strata_vec_put(db, NULL, "emb", "late", 4, v, DIM));
    strata_close(db);

    char ck[4200];
    snprintf(ck, sizeof ck, "%s/vectors/emb/index.hnsw", dir);
    struct stat st;
    CHECK(stat(ck, &st) == 0 && st.st_size > 0);
    db = open_store(dir);
    CHECK_OK(strata_vec_get(db, "emb", "late", 4, got, DIM));
    strata_close(db);

    /* A damaged checkpoint: detected, the index rebuilt from the log. */
    FILE *f = fopen(ck, "r+b");
    fseek(f, st.st_size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, st.st_size / 2, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    db = open_store(dir);
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N - 1);
    CHECK_OK(strata_vec_get(db, "emb", "late", 4, got, DIM));
    uint64_t problems = 0;
    CHECK_OK(strata_check(db, print_problem, NULL, &problems));
    CHECK(problems == 1); /* the damaged checkpoint, named until rewritten */
    CHECK_OK(strata_vec_checkpoint(db, "emb"));
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    CHECK_OK(strata_vec_rebuild(db, "emb"));
    CHECK_OK(strata_vec_info(db, "emb", &info));
    CHECK(info.count == N - 1);

    /* Drop: the folder goes, the name is free again. */
    char sd[4200];
    snprintf(sd, sizeof sd, "%s/vectors/small", dir);
    CHECK(stat(sd, &st) == 0);
    CHECK_OK(strata_vec_drop(db, "small"));
    CHECK(stat(sd, &st) != 0);
    CHECK_RC(strata_vec_drop(db, "small"), STRATA_ENOTFOUND);
    CHECK_RC(strata_vec_info(db, "small", &info), STRATA_ENOTFOUND);
    strata_collection_opts o = { .dim = 2 };
    CHECK_OK(strata_vec_create(db, "small", &o));
    float two[2] = { 1, 0 };
    CHECK_OK(strata_vec_put(db, NULL, "small", "z", 1, two, 2));
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    db = open_store(dir);
    CHECK_OK(strata_vec_info(db, "small", &info));
    CHECK(info.count == 1 && info.dim == 2);
    strata_close(db);
}

static void test_embed(void) {
    float a[64], b[64], c[64];
    CHECK_OK(strata_embed_hash("the quick brown fox", 19, a, 64));
    CHECK_OK(strata_embed_hash("the quick brown foxes", 21, b, 64));
    CHECK_OK(strata_embed_hash("segment compaction and checksums", 32, c, 64));
    double ab = 0, ac = 0, aa = 0;
    for (int i = 0; i < 64; i++) { ab += a[i] * b[i]; ac += a[i] * c[i]; aa += a[i] * a[i]; }
    CHECK(fabs(aa - 1.0) < 1e-4 && ab > ac);
    CHECK_RC(strata_embed_hash("   ", 3, a, 64), STRATA_EINVAL);
    CHECK_RC(strata_embed_hash("x", 1, a, 0), STRATA_EINVAL);
    CHECK_RC(strata_embed_hash(NULL, 1, a, 8), STRATA_EINVAL);
}

int main(void) {
    char *dir = t_tmpdir("vectors");
    test_basics(dir);
    test_persistence(dir);
    test_embed();
    t_rmtree(dir);
    return t_done();
}
