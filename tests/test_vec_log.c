/* test_vec_log.c — the vector log: round trip, replay from an offset, truncate,
 * torn tail (every cut length), a flipped byte anywhere in a record stops replay at
 * that record, header damage, parameter mismatch, bad input. */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "test.h"
#include "vector/vec.h"

#define DIM 5

typedef struct seen {
    uint64_t n, last_off;
    uint64_t labels[64], lsns[64];
    int ops[64];
    float v0[64];
} seen;

static int collect(void *ctx, uint64_t off, const vec_log_rec *r) {
    seen *s = ctx;
    if (s->n < 64) {
        s->labels[s->n] = r->label;
        s->lsns[s->n] = r->lsn;
        s->ops[s->n] = r->op;
        s->v0[s->n] = r->vec[0];
    }
    s->n++;
    s->last_off = off;
    return 0;
}

static int stop_at_3(void *ctx, uint64_t off, const vec_log_rec *r) {
    (void)off;
    (void)r;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    if (fread(b, 1, *len, f) != *len) abort();
    fclose(f);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    if (fwrite(b, 1, len, f) != len) abort();
    fclose(f);
}

int main(void) {
    char *dir = t_tmpdir("veclog");
    char path[4200];
    snprintf(path, sizeof path, "%s/vectors.log", dir);
    vec_log *l = NULL;
    CHECK_RC(vec_log_open(path, DIM, VEC_DTYPE_F32, VEC_METRIC_COSINE, 0, &l), STRATA_ENOTFOUND);
    CHECK_OK(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 1, &l));
    uint32_t hs = vec_log_header_size(), rs = vec_log_record_size(l);
    CHECK(rs == 28 + 4 * DIM && vec_log_length(l) == hs);
    float v[DIM];
    for (int i = 0; i < 10; i++) {
        for (int j = 0; j < DIM; j++) v[j] = (float)(i * 10 + j);
        uint64_t off;
        CHECK_OK(vec_log_append(l, i == 7 ? VEC_LOG_DELETE : VEC_LOG_PUT, 1000 + i, 50 + i, v, &off));
        CHECK(off == hs + (uint64_t)i * rs);
    }
    v[2] = NAN;
    CHECK_RC(vec_log_append(l, VEC_LOG_PUT, 1, 1, v, NULL), STRATA_EINVAL);
    v[2] = -INFINITY;
    CHECK_RC(vec_log_append(l, VEC_LOG_PUT, 1, 1, v, NULL), STRATA_EINVAL);
    CHECK_RC(vec_log_append(l, 9, 1, 1, v, NULL), STRATA_EINVAL);
    CHECK_RC(vec_log_append(l, VEC_LOG_PUT, 1, 1, NULL, NULL), STRATA_EINVAL);
    CHECK(vec_log_length(l) == hs + 10ull * rs);
    CHECK_OK(vec_log_sync(l));
    vec_log_close(l);

    /* reopen: parameters must match */
    CHECK_RC(vec_log_open(path, DIM + 1, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l), STRATA_EINVAL);
    CHECK_RC(vec_log_open(path, DIM, VEC_DTYPE_F32, VEC_METRIC_COSINE, 0, &l), STRATA_EINVAL);
    CHECK_OK(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 1, &l));
    CHECK(vec_log_length(l) == hs + 10ull * rs);
    seen s = {0};
    vec_log_scan sc;
    CHECK_OK(vec_log_replay(l, 0, collect, &s, &sc));
    CHECK(s.n == 10 && sc.records == 10 && sc.end == hs + 10ull * rs && !sc.torn);
    CHECK(s.labels[3] == 1003 && s.lsns[3] == 53 && s.ops[3] == VEC_LOG_PUT && s.v0[3] == 30.0f);
    CHECK(s.ops[7] == VEC_LOG_DELETE && s.v0[7] == 0.0f);
    /* from an offset */
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay(l, hs + 6ull * rs, collect, &s, &sc));
    CHECK(s.n == 4 && s.labels[0] == 1006);
    CHECK_RC(vec_log_replay(l, hs + 1, collect, &s, &sc), STRATA_EINVAL);
    /* callback stops the replay */
    int cnt = 0;
    CHECK_RC(vec_log_replay(l, 0, stop_at_3, &cnt, &sc), 42);
    /* truncate: only on record boundaries */
    CHECK_RC(vec_log_truncate(l, hs + 5ull * rs + 3), STRATA_EINVAL);
    CHECK_RC(vec_log_truncate(l, hs + 11ull * rs), STRATA_EINVAL);
    CHECK_OK(vec_log_truncate(l, hs + 8ull * rs));
    CHECK(vec_log_length(l) == hs + 8ull * rs);
    CHECK_OK(vec_log_append(l, VEC_LOG_PUT, 2000, 99, (float[DIM]){1, 2, 3, 4, 5}, NULL));
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay(l, 0, collect, &s, &sc));
    CHECK(s.n == 9 && s.labels[8] == 2000 && !sc.torn);
    CHECK_OK(vec_log_sync(l));
    vec_log_close(l);

    size_t len;
    uint8_t *img = slurp(path, &len);
    CHECK(len == hs + 9ull * rs);
    /* the same through the buffer reader */
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay_buf(img, len, collect, &s, &sc));
    CHECK(s.n == 9 && !sc.torn);
    /* torn tail: every cut inside the last record */
    int torn_ok = 1;
    for (size_t cut = len - rs + 1; cut < len; cut++) {
        memset(&s, 0, sizeof s);
        if (vec_log_replay_buf(img, cut, collect, &s, &sc) != STRATA_OK || s.n != 8 || !sc.torn ||
            sc.end != hs + 8ull * rs)
            torn_ok = 0;
    }
    CHECK(torn_ok);
    /* on disk too: cut the file mid-record */
    spit(path, img, len - 7);
    CHECK_OK(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l));
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay(l, 0, collect, &s, &sc));
    CHECK(s.n == 8 && sc.torn && sc.end == hs + 8ull * rs);
    CHECK_RC(vec_log_append(l, VEC_LOG_PUT, 1, 1, (float[DIM]){0}, NULL), STRATA_EMISUSE);
    CHECK_OK(vec_log_truncate(l, sc.end)); /* what recovery does */
    CHECK_OK(vec_log_append(l, VEC_LOG_PUT, 3000, 100, (float[DIM]){9, 8, 7, 6, 5}, NULL));
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay(l, 0, collect, &s, &sc));
    CHECK(s.n == 9 && !sc.torn && s.labels[8] == 3000);
    CHECK_OK(vec_log_truncate(l, sc.end - rs));
    vec_log_close(l);
    /* a flipped byte anywhere in record 4 stops the replay at record 4 */
    int flip_ok = 1;
    for (size_t i = 0; i < rs; i++) {
        size_t at = hs + 4ull * rs + i;
        img[at] ^= 0x20;
        memset(&s, 0, sizeof s);
        if (vec_log_replay_buf(img, len, collect, &s, &sc) != STRATA_OK || s.n != 4 || !sc.torn ||
            sc.end != hs + 4ull * rs)
            flip_ok = 0;
        img[at] ^= 0x20;
    }
    CHECK(flip_ok);
    /* on disk as well */
    img[hs + 4ull * rs + 30] ^= 1;
    spit(path, img, len);
    CHECK_OK(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l));
    memset(&s, 0, sizeof s);
    CHECK_OK(vec_log_replay(l, 0, collect, &s, &sc));
    CHECK(s.n == 4 && sc.torn && sc.end == hs + 4ull * rs);
    vec_log_close(l);
    img[hs + 4ull * rs + 30] ^= 1;
    /* header damage: any flipped header byte is ECORRUPT (version bytes may say EVERSION) */
    int hdr_ok = 1;
    for (size_t i = 0; i < hs; i++) {
        img[i] ^= 0x01;
        int rc = vec_log_replay_buf(img, len, collect, &s, &sc);
        if (rc != STRATA_ECORRUPT && rc != STRATA_EVERSION) hdr_ok = 0;
        img[i] ^= 0x01;
    }
    CHECK(hdr_ok);
    img[0] ^= 1;
    spit(path, img, len);
    CHECK_RC(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l), STRATA_ECORRUPT);
    spit(path, img, 10);
    CHECK_RC(vec_log_open(path, DIM, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l), STRATA_ECORRUPT);
    CHECK_RC(vec_log_replay_buf(img, 10, collect, &s, &sc), STRATA_ECORRUPT);
    CHECK_RC(vec_log_open(path, 0, VEC_DTYPE_I8, VEC_METRIC_COSINE, 0, &l), STRATA_EINVAL);
    free(img);
    t_rmtree(dir);
    return t_done();
}
