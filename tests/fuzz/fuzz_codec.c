/* fuzz_codec.c — libFuzzer target for the payload decoders (src/docs/codec.c).
 *
 * Input: one selector byte, then the payload.
 *   selector bits 0-2: codec (taken modulo CODEC_COUNT)
 *   selector bits 3-7: the raw length to ask for, from a table mixing fixed sizes and
 *                      multiples of the payload length (so valid frames are reachable)
 * The payload is decoded into a buffer of exactly raw_len bytes (heap, so ASan sees any
 * overrun); the only acceptable results are STRATA_OK and STRATA_ECORRUPT. Then the
 * payload is compressed with the same codec and decoded again; the round trip must
 * give the payload back. Dict codecs use a fixed dictionary loaded once.
 *
 * Build and run (the lead wires this into CMake):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       tests/fuzz/fuzz_codec.c src/docs/codec.c src/util/[a-z]*.c -llz4 -lzstd -lpthread \
 *       -o fuzz_codec
 *   ./fuzz_codec -max_total_time=60 -max_len=70000 CORPUS_DIR
 */
#include "docs/codec.h"
#include "strata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_RAW (1u << 20)
#define FUZZ_MAX_ROUND_TRIP (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static codec_dict *fuzz_dict;

static codec_dict *get_dict(void) {
    if (!fuzz_dict) {
        /* A deterministic, text-like dictionary (16 KiB). */
        static const char *w[] = {"the ", "file ", "kernel ", "returns ", "value ",
                                  "error\n", "of ", "and ", "memory ", "SEE ALSO\n"};
        char buf[16384];
        uint32_t x = 12345;
        size_t n = 0;
        while (n < sizeof buf) {
            x = x * 1103515245u + 12345u;
            const char *s = w[(x >> 16) % 10];
            while (*s && n < sizeof buf) buf[n++] = *s++;
        }
        if (codec_dict_load(1, buf, sizeof buf, &fuzz_dict) != STRATA_OK) abort();
    }
    return fuzz_dict;
}

static size_t pick_raw_len(unsigned idx, size_t n) {
    static const size_t fixed[16] = {0,    1,    2,    7,     16,    100,   255,    256,
                                     1000, 4096, 5000, 65535, 65536, 70000, 262144, FUZZ_MAX_RAW};
    size_t r;
    if (idx < 16) {
        r = fixed[idx];
    } else {
        static const size_t mul[16] = {1, 1, 1, 2, 2, 3, 4, 5, 8, 10, 16, 32, 64, 128, 255, 256};
        r = n * mul[idx - 16];
        if (idx == 16 && r > 0) r--;
        if (idx == 17) r++;
    }
    return r > FUZZ_MAX_RAW ? FUZZ_MAX_RAW : r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    codec_dict *d = get_dict();
    int codec = (data[0] & 7) % CODEC_COUNT;
    size_t n = size - 1;
    size_t raw_len = pick_raw_len(data[0] >> 3, n);

    /* Exact-size heap copies: any read past n or write past raw_len is caught. */
    uint8_t *payload = malloc(n ? n : 1);
    uint8_t *out = malloc(raw_len ? raw_len : 1);
    if (!payload || !out) abort();
    memcpy(payload, data + 1, n);
    int rc = codec_decompress(codec, d, payload, n, out, raw_len);
    if (rc != STRATA_OK && rc != STRATA_ECORRUPT) abort();
    free(out);

    /* Round trip of the payload as content. */
    if (n <= FUZZ_MAX_ROUND_TRIP) {
        static const int levels[5] = {0, 1, 4, 1, 3}; /* by codec: cheap levels only */
        size_t cap = codec_bound(codec, n), len = 0;
        uint8_t *comp = malloc(cap ? cap : 1), *back = malloc(n ? n : 1);
        int used = -1;
        if (!comp || !back) abort();
        int level = levels[codec] + ((data[0] >> 7) && codec == CODEC_LZ4 ? 5 : 0);
        if (codec_compress(codec, level, d, payload, n, comp, cap, &len, &used) != STRATA_OK)
            abort();
        if (used != CODEC_RAW && used != codec) abort();
        if (codec_decompress(used, d, comp, len, back, n) != STRATA_OK) abort();
        if (n && memcmp(back, payload, n) != 0) abort();
        free(comp);
        free(back);
    }
    free(payload);
    return 0;
}
