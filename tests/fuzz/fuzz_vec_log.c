/* fuzz_vec_log.c — libFuzzer target for the vector-log reader: the input is a whole
 * log image (header + records) that vec_log_replay_buf walks; it is also replayed
 * behind a valid header so the record checks are reached. Must never crash,
 * overread or loop; `end` never passes the input and only whole records count. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include "strata.h"
#include "util/crc32c.h"
#include "vector/vec.h"

/* Seed the corpus folder (the first argument that is a directory) with a real log. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 1; i < *argc; i++) {
        struct stat st;
        const char *a = (*argv)[i];
        if (a[0] == '-' || stat(a, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-vlog", a);
        if (stat(path, &st) == 0) break;
        vec_log *l;
        if (vec_log_open(path, 3, VEC_DTYPE_F32, VEC_METRIC_L2, 1, &l) != STRATA_OK) break;
        for (int r = 0; r < 4; r++) {
            float v[3] = {(float)r, 1.5f, -2.0f};
            vec_log_append(l, r == 2 ? VEC_LOG_DELETE : VEC_LOG_PUT, 100 + r, 7 + r, v, NULL);
        }
        vec_log_close(l);
        break;
    }
    return 0;
}

static int count(void *ctx, uint64_t off, const vec_log_rec *r) {
    (void)off;
    *(uint64_t *)ctx += r->label + (uint64_t)r->op;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t acc = 0;
    vec_log_scan sc;
    if (vec_log_replay_buf(data, size, count, &acc, &sc) == STRATA_OK && sc.end > size) __builtin_trap();
    /* A valid header for dim 1..4 (chosen by the first byte), then the input as records. */
    uint32_t dim = size ? (uint32_t)(data[0] % 4) + 1 : 1;
    static uint8_t img[64 + 8192];
    size_t n = size < 8192 ? size : 8192;
    /* The header layout is small: compose it here (doc/format/vector.md). */
    memset(img, 0, 64);
    memcpy(img, "STRATAVL", 8);
    uint32_t v = 1, hs = 64, rs = 28 + 4 * dim;
    memcpy(img + 8, &v, 4);
    memcpy(img + 12, &hs, 4);
    memcpy(img + 16, &dim, 4);
    memcpy(img + 24, &rs, 4);
    uint32_t crc = su_crc32c(0, img, 60);
    memcpy(img + 60, &crc, 4);
    memcpy(img + 64, data, n);
    if (vec_log_replay_buf(img, 64 + n, count, &acc, &sc) != STRATA_OK) __builtin_trap();
    if (sc.end > 64 + n || (sc.end - 64) % rs != 0 || sc.records != (sc.end - 64) / rs) __builtin_trap();
    return 0;
}
