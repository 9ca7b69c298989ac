/* test_vec_checkpoint.c — HNSW checkpoint: round trip (same answers, params, LSN,
 * log offset, tombstones), the opened index stays writable without touching the file,
 * empty index, and corruption: every header byte, sampled bytes of every section,
 * truncation, and CRC-valid but inconsistent structure -> STRATA_ECORRUPT. */
#include "test.h"
#include "vector/vec.h"

#define DIM 24
#define N 2500
#define NQ 50
#define K 10

static uint64_t rs = 12345;
static float frand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 * 2 - 1);
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    if (fread(b, 1, *len, f) != *len) abort();
    fclose(f);
    return b;
}

static int same_answers(vec_hnsw *a, vec_hnsw *b, const float *q) {
    vec_search_opts o = {.k = K, .ef = 40};
    for (int i = 0; i < NQ; i++) {
        vec_hit ha[K], hb[K];
        size_t na, nb;
        if (vec_hnsw_search(a, q + i * DIM, DIM, &o, ha, &na) || vec_hnsw_search(b, q + i * DIM, DIM, &o, hb, &nb))
            return 0;
        if (na != nb) return 0;
        for (size_t j = 0; j < na; j++)
            if (ha[j].label != hb[j].label || ha[j].dist != hb[j].dist) return 0;
    }
    return 1;
}

static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void corruption(const char *path, const char *dir) {
    size_t len;
    uint8_t *img = slurp(path, &len);
    vec_hnsw *h = NULL;
    CHECK_OK(vec_ckpt_open_buf(img, len, &h, NULL));
    vec_hnsw_free(h);
    int hdr_bad = 0, body_bad = 0, tried = 0;
    for (size_t i = 0; i < 4096; i++) {
        img[i] ^= 0x10;
        int rc = vec_ckpt_open_buf(img, len, &h, NULL);
        if (rc != STRATA_ECORRUPT && rc != STRATA_EVERSION) hdr_bad++;
        if (rc == STRATA_OK) vec_hnsw_free(h);
        img[i] ^= 0x10;
    }
    for (int s = 0; s < 6; s++) {
        uint64_t off = get64(img + 120 + 16 * s), sl = get64(img + 128 + 16 * s);
        uint64_t step = sl / 150 + 1;
        for (uint64_t i = 0; i < sl; i += step) {
            img[off + i] ^= 0x04;
            tried++;
            int rc = vec_ckpt_open_buf(img, len, &h, NULL);
            if (rc != STRATA_ECORRUPT) body_bad++;
            if (rc == STRATA_OK) vec_hnsw_free(h);
            img[off + i] ^= 0x04;
        }
    }
    printf("checkpoint corruption: 4096 header flips, %d body flips: %d + %d undetected\n", tried, hdr_bad, body_bad);
    CHECK(hdr_bad == 0 && body_bad == 0);
    /* truncated */
    CHECK_RC(vec_ckpt_open_buf(img, len - 1, &h, NULL), STRATA_ECORRUPT);
    CHECK_RC(vec_ckpt_open_buf(img, 100, &h, NULL), STRATA_ECORRUPT);
    /* CRC-valid but inconsistent: a link to a slot that does not exist */
    uint64_t noff = get64(img + 120);
    uint32_t node_size;
    memcpy(&node_size, img + 56, 4);
    /* node 0: links start after the vector (f32 here: DIM*4) and its count word */
    size_t links = noff + DIM * 4;
    uint32_t cnt;
    memcpy(&cnt, img + links, 4);
    CHECK((cnt & 0xFFFF) > 0);
    uint32_t bogus = N + 5, keep;
    memcpy(&keep, img + links + 4, 4);
    memcpy(img + links + 4, &bogus, 4);
    CHECK_OK(vec_ckpt_fix_checksums(img, len));
    CHECK_RC(vec_ckpt_open_buf(img, len, &h, NULL), STRATA_ECORRUPT);
    memcpy(img + links + 4, &keep, 4);
    /* a link count above 2M */
    uint32_t big = (cnt & 0x80000000u) | 200;
    memcpy(img + links, &big, 4);
    CHECK_OK(vec_ckpt_fix_checksums(img, len));
    CHECK_RC(vec_ckpt_open_buf(img, len, &h, NULL), STRATA_ECORRUPT);
    memcpy(img + links, &cnt, 4);
    /* a live count that does not match */
    uint64_t live = get64(img + 80) + 1;
    memcpy(img + 80, &live, 8);
    CHECK_OK(vec_ckpt_fix_checksums(img, len));
    CHECK_RC(vec_ckpt_open_buf(img, len, &h, NULL), STRATA_ECORRUPT);
    live--;
    memcpy(img + 80, &live, 8);
    CHECK_OK(vec_ckpt_fix_checksums(img, len));
    CHECK_OK(vec_ckpt_open_buf(img, len, &h, NULL));
    vec_hnsw_free(h);
    /* on disk: a flipped body byte through the mmap path */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.hnsw", dir);
    img[noff + 77] ^= 0xFF;
    FILE *f = fopen(bad, "wb");
    fwrite(img, 1, len, f);
    fclose(f);
    CHECK_RC(vec_ckpt_open(bad, &h, NULL), STRATA_ECORRUPT);
    CHECK(h == NULL);
    snprintf(bad, sizeof bad, "%s/missing.hnsw", dir);
    CHECK_RC(vec_ckpt_open(bad, &h, NULL), STRATA_ENOTFOUND);
    free(img);
}

static void round_trip(int dtype, const float *x, const float *q, const char *dir) {
    vec_params p;
    vec_params_init(&p, DIM);
    p.dtype = dtype;
    p.metric = VEC_METRIC_L2;
    p.M = 12;
    p.exact_threshold = 100;
    vec_hnsw *h = NULL, *g = NULL;
    CHECK_OK(vec_hnsw_create(&p, &h));
    uint64_t *labels = malloc(N * sizeof *labels);
    for (int i = 0; i < N; i++) labels[i] = 7000000000ull + (uint64_t)i;
    CHECK_OK(vec_hnsw_add_batch(h, labels, x, N, DIM, 2, NULL));
    for (int i = 0; i < N; i += 10) CHECK_OK(vec_hnsw_remove(h, labels[i])); /* tombstones */
    char path[4200];
    snprintf(path, sizeof path, "%s/c%d.hnsw", dir, dtype);
    CHECK_OK(vec_ckpt_write(h, path, 4242, 123456));
    vec_ckpt_info info;
    CHECK_OK(vec_ckpt_open(path, &g, &info));
    CHECK(info.lsn == 4242 && info.log_offset == 123456 && info.slots == N && info.live == N - N / 10);
    CHECK(info.params.dtype == dtype && info.params.M == 12 && info.params.dim == DIM &&
          info.params.exact_threshold == 100 && info.params.metric == VEC_METRIC_L2);
    CHECK(same_answers(h, g, q));
    vec_stats sa, sb;
    vec_hnsw_stats(h, &sa);
    vec_hnsw_stats(g, &sb);
    CHECK(sa.slots == sb.slots && sa.live == sb.live && sa.tombstones == sb.tombstones && sa.max_level == sb.max_level);
    CHECK(sb.mapped_bytes > 0);
    CHECK(!vec_hnsw_contains(g, labels[0]) && vec_hnsw_contains(g, labels[1]));
    float v[DIM];
    CHECK_OK(vec_hnsw_get(g, labels[1], v, DIM));
    CHECK(memcmp(v, x + DIM, sizeof v) == 0);
    /* the opened index is writable (copy-on-write): reuse tombstones, add, remove */
    size_t flen0;
    uint8_t *before = slurp(path, &flen0);
    for (int i = 0; i < N; i += 10) CHECK_OK(vec_hnsw_add(g, labels[i], x + (size_t)i * DIM, DIM));
    CHECK_OK(vec_hnsw_add(g, 1, q, DIM));
    CHECK_OK(vec_hnsw_remove(g, labels[5]));
    vec_hnsw_stats(g, &sb);
    CHECK(sb.slots == N + 1 && sb.live == N);
    size_t flen1;
    uint8_t *after = slurp(path, &flen1);
    CHECK(flen0 == flen1 && memcmp(before, after, flen0) == 0);
    free(before);
    free(after);
    vec_hit hits[K];
    size_t nh;
    CHECK_OK(vec_hnsw_search(g, q, DIM, &(vec_search_opts){.k = K}, hits, &nh));
    CHECK(nh == K && hits[0].label == 1);
    /* checkpoint of the opened index, written over its own file while mapped */
    CHECK_OK(vec_ckpt_write(g, path, 5000, 999));
    vec_hnsw *g2 = NULL;
    CHECK_OK(vec_ckpt_open(path, &g2, &info));
    CHECK(info.lsn == 5000 && info.live == N);
    CHECK(same_answers(g, g2, q));
    vec_hnsw_free(g2);
    if (dtype == VEC_DTYPE_F32) {
        CHECK_OK(vec_ckpt_write(h, path, 1, 2));
        corruption(path, dir);
    }
    vec_hnsw_free(g);
    vec_hnsw_free(h);
    free(labels);
}

int main(void) {
    char *dir = t_tmpdir("vecckpt");
    float *x = malloc((size_t)N * DIM * sizeof *x), *q = malloc((size_t)NQ * DIM * sizeof *q);
    for (size_t i = 0; i < (size_t)N * DIM; i++) x[i] = frand();
    for (size_t i = 0; i < (size_t)NQ * DIM; i++) q[i] = frand();
    round_trip(VEC_DTYPE_F32, x, q, dir);
    round_trip(VEC_DTYPE_F16, x, q, dir);
    round_trip(VEC_DTYPE_I8, x, q, dir);
    /* an empty index */
    vec_params p;
    vec_params_init(&p, 3);
    vec_hnsw *h = NULL, *g = NULL;
    CHECK_OK(vec_hnsw_create(&p, &h));
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.hnsw", dir);
    CHECK_OK(vec_ckpt_write(h, path, 0, 64));
    CHECK_OK(vec_ckpt_open(path, &g, NULL));
    CHECK_OK(vec_hnsw_add(g, 9, (float[3]){1, 2, 3}, 3));
    CHECK(vec_hnsw_contains(g, 9));
    vec_hnsw_free(g);
    vec_hnsw_free(h);
    free(x);
    free(q);
    t_rmtree(dir);
    return t_done();
}
