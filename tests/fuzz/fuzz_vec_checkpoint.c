/* fuzz_vec_checkpoint.c — libFuzzer target for the HNSW checkpoint reader. Each
 * input is opened twice: as is (checksums must reject almost everything), and with
 * every checksum recomputed (vec_ckpt_fix_checksums) so the layout and graph
 * structure checks are reached. An image that opens must be searchable and
 * writable without crashing. Seeds: valid small checkpoints are created on the
 * first run so mutations start from real files. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include "strata.h"
#include "vector/vec.h"

/* Seed the corpus folder (the first argument that is a directory) with small real
 * checkpoints: f32/l2 with tombstones, and i8/cosine. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 1; i < *argc; i++) {
        struct stat st;
        const char *a = (*argv)[i];
        if (a[0] == '-' || stat(a, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        for (int kind = 0; kind < 2; kind++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-ckpt-%d", a, kind);
            if (stat(path, &st) == 0) continue;
            vec_params p;
            vec_params_init(&p, 3);
            p.M = 4;
            p.metric = kind ? VEC_METRIC_COSINE : VEC_METRIC_L2;
            p.dtype = kind ? VEC_DTYPE_I8 : VEC_DTYPE_F32;
            vec_hnsw *h;
            if (vec_hnsw_create(&p, &h) != STRATA_OK) continue;
            for (uint64_t r = 0; r < 40; r++) {
                float v[3] = {(float)(r % 5) + 0.25f, (float)(r % 3) - 1.0f, (float)r * 0.1f + 0.5f};
                vec_hnsw_add(h, r, v, 3);
            }
            vec_hnsw_remove(h, 3);
            vec_hnsw_remove(h, 17);
            vec_ckpt_write(h, path, 9, 64);
            vec_hnsw_free(h);
        }
        break;
    }
    return 0;
}

static void exercise(vec_hnsw *h) {
    const vec_params *p = vec_hnsw_params(h);
    float *q = calloc(p->dim, sizeof *q);
    if (!q) return;
    for (uint32_t i = 0; i < p->dim; i++) q[i] = (float)(i % 7) - 3.0f + 0.5f;
    vec_hit hits[5];
    size_t nh;
    vec_search_opts o = {.k = 5, .ef = 16, .mode = VEC_SEARCH_GRAPH};
    (void)vec_hnsw_search(h, q, p->dim, &o, hits, &nh);
    o.mode = VEC_SEARCH_EXACT;
    (void)vec_hnsw_search(h, q, p->dim, &o, hits, &nh);
    (void)vec_hnsw_add(h, 0xABCDEFull, q, p->dim);
    (void)vec_hnsw_remove(h, 0xABCDEFull);
    (void)vec_hnsw_add(h, 0x123ull, q, p->dim);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (8u << 20)) return 0;
    vec_hnsw *h = NULL;
    if (vec_ckpt_open_buf(data, size, &h, NULL) == STRATA_OK) {
        exercise(h);
        vec_hnsw_free(h);
    }
    uint8_t *cp = malloc(size ? size : 1);
    if (!cp) return 0;
    memcpy(cp, data, size);
    if (vec_ckpt_fix_checksums(cp, size) == STRATA_OK && vec_ckpt_open_buf(cp, size, &h, NULL) == STRATA_OK) {
        exercise(h);
        vec_hnsw_free(h);
    }
    free(cp);
    return 0;
}
