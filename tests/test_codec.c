/* test_codec.c — document payload codecs: round trips of every codec and level on
 * empty, 1-byte, text, random and 1 MiB inputs; incompressible input stored raw;
 * truncated, extended and damaged payloads refused with STRATA_ECORRUPT; the wrong
 * dictionary refused; dictionary training; bounds; several threads sharing one
 * dictionary (exercises the lazily prepared states and per-thread contexts). */
#include "test.h"
#include "docs/codec.h"

#include <pthread.h>
#include <stdint.h>

static uint64_t rng_state = 0x5DEECE66Dull;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

/* Text with a skewed vocabulary and recurring boilerplate, like documentation. */
static const char *words[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "with", "be",
    "on", "not", "this", "are", "by", "file", "system", "kernel", "function", "value",
    "returns", "error", "option", "buffer", "memory", "process", "device", "driver",
    "configuration", "parameter", "interface", "structure", "pointer", "argument",
    "documentation", "example", "default", "support", "module", "user", "data"};
static const char *boiler[] = {
    "SEE ALSO\n", "RETURN VALUE\n       On success, zero is returned.\n",
    ".. SPDX-License-Identifier: GPL-2.0\n", "DESCRIPTION\n", "ERRORS\n       EINVAL\n"};

static size_t gen_text(char *out, size_t len, uint64_t seed) {
    uint64_t save = rng_state;
    rng_state = seed ? seed : 1;
    size_t n = 0;
    while (n < len) {
        const char *w;
        uint64_t r = rng();
        if (r % 29 == 0) {
            w = boiler[(r >> 8) % (sizeof boiler / sizeof boiler[0])];
        } else {
            size_t nw = sizeof words / sizeof words[0];
            size_t i = (size_t)((r >> 8) % nw);
            i = i * i / nw; /* skew toward the first words */
            w = words[i];
        }
        for (const char *c = w; *c && n < len; c++) out[n++] = *c;
        if (n < len) out[n++] = (r >> 40) % 11 == 0 ? '\n' : ' ';
    }
    rng_state = save;
    return n;
}

static const int all_codecs[] = {CODEC_RAW, CODEC_LZ4, CODEC_LZ4_DICT, CODEC_ZSTD,
                                 CODEC_ZSTD_DICT};

static int levels_for(int codec, int *lv) {
    switch (codec) {
    case CODEC_LZ4: case CODEC_LZ4_DICT:
        lv[0] = 0; lv[1] = -8; lv[2] = 4; lv[3] = 9; lv[4] = 12; return 5;
    case CODEC_ZSTD: case CODEC_ZSTD_DICT:
        lv[0] = 0; lv[1] = 1; lv[2] = -3; lv[3] = 19; return 4;
    default:
        lv[0] = 0; return 1;
    }
}

static codec_dict *make_dict(uint32_t id, uint64_t seed, size_t len) {
    char *raw = malloc(len);
    codec_dict *d = NULL;
    if (!raw) return NULL;
    gen_text(raw, len, seed);
    if (codec_dict_load(id, raw, len, &d) != STRATA_OK) d = NULL;
    free(raw);
    return d;
}

/* Compress, check codec_used and size, decompress, compare. 1 on success. */
static int round_trip(int codec, int level, const codec_dict *d, const char *src, size_t n,
                      int expect_raw, size_t *stored) {
    size_t cap = codec_bound(codec, n);
    char *buf = malloc(cap + 1), *back = malloc(n + 1);
    int ok = 0, used = -1;
    size_t len = 0;
    if (!buf || !back) goto out;
    if (codec_compress(codec, level, d, src, n, buf, cap, &len, &used) != STRATA_OK) goto out;
    if (expect_raw && used != CODEC_RAW) goto out;
    if (!expect_raw && used != codec) goto out;
    if (used != CODEC_RAW && len >= n) goto out;
    if (used == CODEC_RAW && len != n) goto out;
    if (codec_decompress(used, d, buf, len, back, n) != STRATA_OK) goto out;
    if (n && memcmp(src, back, n) != 0) goto out;
    if (stored) *stored = len;
    ok = 1;
out:
    if (!ok) fprintf(stderr, "round trip failed: codec %d level %d n %zu used %d\n",
                     codec, level, n, used);
    free(buf);
    free(back);
    return ok;
}

static void test_round_trips(const codec_dict *d) {
    size_t big = 1u << 20;
    char *text = malloc(big), *rnd = malloc(65536);
    if (!text || !rnd) { CHECK(0); free(text); free(rnd); return; }
    gen_text(text, big, 7);
    for (size_t i = 0; i < 65536; i++) rnd[i] = (char)rng();
    for (size_t c = 0; c < sizeof all_codecs / sizeof all_codecs[0]; c++) {
        int codec = all_codecs[c], lv[8];
        int nl = levels_for(codec, lv);
        for (int l = 0; l < nl; l++) {
            int raw = codec == CODEC_RAW;
            CHECK(round_trip(codec, lv[l], d, text, 0, 1, NULL));
            CHECK(round_trip(codec, lv[l], d, "x", 1, 1, NULL));
            CHECK(round_trip(codec, lv[l], d, text, 20000, raw, NULL));
            CHECK(round_trip(codec, lv[l], d, rnd, 65536, 1, NULL));
            if (lv[l] < 19) CHECK(round_trip(codec, lv[l], d, text, big, raw, NULL));
        }
    }
    /* Above 1 MiB, LZ4 dict payloads are decoded against the dictionary in place instead
     * of through the per-thread prefix buffer. */
    char *huge = malloc(big + 4096);
    if (huge) {
        gen_text(huge, big + 4096, 8);
        CHECK(round_trip(CODEC_LZ4_DICT, 0, d, huge, big + 4096, 0, NULL));
        CHECK(round_trip(CODEC_LZ4_DICT, 9, d, huge, big + 1, 0, NULL));
        free(huge);
    }
    free(text);
    free(rnd);
}

static void test_corruption(const codec_dict *d) {
    char text[3000], out[3000 + 64], back[3000];
    gen_text(text, sizeof text, 11);
    for (size_t c = 1; c < sizeof all_codecs / sizeof all_codecs[0]; c++) {
        int codec = all_codecs[c], used;
        size_t len;
        CHECK_OK(codec_compress(codec, 0, d, text, sizeof text, out, sizeof out, &len, &used));
        CHECK(used == codec);
        int trunc_ok = 0, flips_safe = 0;
        /* Every truncation fails. */
        for (size_t k = 0; k < len; k++)
            if (codec_decompress(codec, d, out, k, back, sizeof back) == STRATA_ECORRUPT)
                trunc_ok++;
        CHECK(trunc_ok == (int)len);
        /* Trailing bytes, and a raw length off by one either way. */
        out[len] = 0;
        CHECK_RC(codec_decompress(codec, d, out, len + 1, back, sizeof back), STRATA_ECORRUPT);
        CHECK_RC(codec_decompress(codec, d, out, len, back, sizeof back - 1), STRATA_ECORRUPT);
        char *wider = malloc(sizeof back + 1);
        if (wider) {
            CHECK_RC(codec_decompress(codec, d, out, len, wider, sizeof back + 1),
                     STRATA_ECORRUPT);
            free(wider);
        }
        /* Random byte damage: must never crash (ASan checks bounds). Damage inside
         * literal bytes, or an offset moved onto equal bytes, decodes "successfully":
         * the record checksum, not the codec, catches that. */
        int detected = 0;
        for (int i = 0; i < 500; i++) {
            char dmg[sizeof out];
            memcpy(dmg, out, len);
            size_t pos = (size_t)(rng() % len);
            dmg[pos] = (char)(dmg[pos] ^ (1 + rng() % 255));
            int rc = codec_decompress(codec, d, dmg, len, back, sizeof back);
            if (rc == STRATA_OK || rc == STRATA_ECORRUPT) flips_safe++;
            if (rc == STRATA_ECORRUPT || memcmp(back, text, sizeof back) != 0) detected++;
        }
        CHECK(flips_safe == 500);
        printf("codec %d: %d of 500 damaged payloads refused or decoded differently\n",
               codec, detected);
        /* Garbage of every length up to 300 bytes. */
        int garbage_safe = 0;
        for (size_t n = 0; n < 300; n++) {
            char g[300];
            for (size_t i = 0; i < n; i++) g[i] = (char)rng();
            int rc = codec_decompress(codec, d, g, n, back, sizeof back);
            if (rc == STRATA_ECORRUPT || rc == STRATA_OK) garbage_safe++;
        }
        CHECK(garbage_safe == 300);
    }
    /* Known-bad headers. */
    static const unsigned char ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_RC(codec_decompress(CODEC_LZ4, NULL, ff, sizeof ff, back, 100), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_ZSTD, NULL, ff, sizeof ff, back, 100), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_RAW, NULL, ff, sizeof ff, back, 15), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_LZ4, NULL, ff, 0, back, 0), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_ZSTD, NULL, ff, 0, back, 0), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_ZSTD_DICT, d, ff, 0, back, 0), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(CODEC_RAW, NULL, ff, 0, back, 0), STRATA_OK);
    CHECK_RC(codec_decompress(7, NULL, ff, sizeof ff, back, 100), STRATA_ECORRUPT);
    CHECK_RC(codec_decompress(-1, NULL, ff, sizeof ff, back, 100), STRATA_ECORRUPT);
    /* Over-long varint dict ids. */
    static const unsigned char longid[8] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0};
    CHECK_RC(codec_decompress(CODEC_LZ4_DICT, d, longid, sizeof longid, back, 10),
             STRATA_ECORRUPT);
    static const unsigned char padid[4] = {0x81, 0x00, 0x10, 0x00};
    CHECK_RC(codec_decompress(CODEC_LZ4_DICT, d, padid, sizeof padid, back, 10),
             STRATA_ECORRUPT);
}

static void test_wrong_dict(const codec_dict *d) {
    codec_dict *other = make_dict(codec_dict_id(d) + 1, 99, 65536);
    CHECK(other != NULL);
    if (!other) return;
    char text[5000], out[6000], back[5000];
    gen_text(text, sizeof text, 5);
    int dict_codecs[2] = {CODEC_LZ4_DICT, CODEC_ZSTD_DICT};
    for (int i = 0; i < 2; i++) {
        size_t len;
        int used;
        CHECK_OK(codec_compress(dict_codecs[i], 0, d, text, sizeof text, out, sizeof out,
                                &len, &used));
        CHECK(used == dict_codecs[i]);
        CHECK_RC(codec_decompress(used, other, out, len, back, sizeof back), STRATA_ECORRUPT);
        CHECK_RC(codec_decompress(used, NULL, out, len, back, sizeof back), STRATA_EINVAL);
        CHECK_OK(codec_decompress(used, d, out, len, back, sizeof back));
        CHECK(memcmp(back, text, sizeof back) == 0);
        CHECK_RC(codec_compress(dict_codecs[i], 0, NULL, text, sizeof text, out, sizeof out,
                                &len, &used), STRATA_EINVAL);
        /* A dict payload read as the plain codec: refused or different, never a crash. */
        int rc = codec_decompress(used == CODEC_LZ4_DICT ? CODEC_LZ4 : CODEC_ZSTD, NULL,
                                  out, len, back, sizeof back);
        CHECK(rc == STRATA_ECORRUPT || (rc == STRATA_OK && memcmp(back, text, sizeof back)));
    }
    /* A large id (multi-byte varint) works. */
    codec_dict *big_id = make_dict(0xFFFFFFFFu, 99, 4096);
    CHECK(big_id != NULL);
    if (big_id) {
        CHECK(round_trip(CODEC_LZ4_DICT, 0, big_id, text, sizeof text, 0, NULL));
        CHECK(round_trip(CODEC_ZSTD_DICT, 3, big_id, text, sizeof text, 0, NULL));
        codec_dict_free(big_id);
    }
    codec_dict_free(other);
}

/* The per-thread copy of the last dictionary used for LZ4 decoding must follow the
 * dictionary: alternate two, and replace one by another with the same id (as after a
 * free and a load that may reuse the address). */
static void test_dict_switching(void) {
    char text[6000], back[6000], p1[7000], p2[7000];
    gen_text(text, sizeof text, 77);
    size_t l1, l2;
    int u1, u2;
    codec_dict *a = make_dict(5, 1001, 65536), *b = make_dict(6, 2002, 20000);
    CHECK(a && b);
    if (!a || !b) { codec_dict_free(a); codec_dict_free(b); return; }
    CHECK_OK(codec_compress(CODEC_LZ4_DICT, 0, a, text, sizeof text, p1, sizeof p1, &l1, &u1));
    CHECK_OK(codec_compress(CODEC_LZ4_DICT, 0, b, text, sizeof text, p2, sizeof p2, &l2, &u2));
    int bad = 0;
    for (int i = 0; i < 10; i++) {
        memset(back, 0, sizeof back);
        if (codec_decompress(u1, a, p1, l1, back, sizeof back) || memcmp(back, text, sizeof back))
            bad++;
        memset(back, 0, sizeof back);
        if (codec_decompress(u2, b, p2, l2, back, sizeof back) || memcmp(back, text, sizeof back))
            bad++;
    }
    CHECK(bad == 0);
    for (int i = 0; i < 5; i++) {
        codec_dict_free(a);
        a = make_dict(5, 3000 + (uint64_t)i, 65536); /* same id, other bytes */
        if (!a) { CHECK(0); break; }
        CHECK_OK(codec_compress(CODEC_LZ4_DICT, 4, a, text, sizeof text, p1, sizeof p1, &l1, &u1));
        memset(back, 0, sizeof back);
        CHECK_OK(codec_decompress(u1, a, p1, l1, back, sizeof back));
        CHECK(memcmp(back, text, sizeof back) == 0);
    }
    codec_dict_free(a);
    codec_dict_free(b);
}

static void test_train(void) {
    enum { NS = 400 };
    size_t sizes[NS], total = 0;
    for (int i = 0; i < NS; i++) total += sizes[i] = 1024 + (size_t)(rng() % 3000);
    char *samples = malloc(total);
    unsigned char *dict = malloc(65536);
    if (!samples || !dict) { CHECK(0); free(samples); free(dict); return; }
    size_t off = 0;
    for (int i = 0; i < NS; i++) {
        gen_text(samples + off, sizes[i], 1000 + (uint64_t)i);
        off += sizes[i];
    }
    size_t dlen = 0;
    CHECK_OK(codec_dict_train(samples, sizes, NS, dict, 65536, &dlen));
    CHECK(dlen > 1000 && dlen <= 65536);
    codec_dict *d = NULL;
    CHECK_OK(codec_dict_load(42, dict, dlen, &d));
    if (d) {
        CHECK(codec_dict_id(d) == 42);
        char doc[2000];
        gen_text(doc, sizeof doc, 123456); /* not a training sample */
        size_t plain = 0, with = 0, zplain = 0, zwith = 0;
        CHECK(round_trip(CODEC_LZ4, 0, NULL, doc, sizeof doc, 0, &plain));
        CHECK(round_trip(CODEC_LZ4_DICT, 0, d, doc, sizeof doc, 0, &with));
        CHECK(round_trip(CODEC_ZSTD, 3, NULL, doc, sizeof doc, 0, &zplain));
        CHECK(round_trip(CODEC_ZSTD_DICT, 3, d, doc, sizeof doc, 0, &zwith));
        CHECK(round_trip(CODEC_LZ4_DICT, 9, d, doc, sizeof doc, 0, NULL));
        CHECK(with < plain);
        CHECK(zwith < zplain);
        printf("trained dict %zu bytes; 2000-byte doc: lz4 %zu -> %zu with dict, "
               "zstd %zu -> %zu\n", dlen, plain, with, zplain, zwith);
        codec_dict_free(d);
    }
    /* Unusable training input. */
    CHECK_RC(codec_dict_train(samples, sizes, 0, dict, 65536, &dlen), STRATA_EINVAL);
    size_t tiny[3] = {4, 4, 4};
    CHECK_RC(codec_dict_train("abcdabcdabcd", tiny, 3, dict, 65536, &dlen), STRATA_EINVAL);
    CHECK_RC(codec_dict_train(NULL, sizes, NS, dict, 65536, &dlen), STRATA_EINVAL);
    free(samples);
    free(dict);
}

static void test_args_and_bounds(void) {
    codec_dict *d = NULL;
    char buf[64] = {0};
    CHECK_RC(codec_dict_load(1, buf, 0, &d), STRATA_EINVAL);
    CHECK_RC(codec_dict_load(1, buf, CODEC_DICT_MIN - 1, &d), STRATA_EINVAL);
    CHECK_RC(codec_dict_load(1, NULL, 100, &d), STRATA_EINVAL);
    CHECK_RC(codec_dict_load(1, buf, (size_t)CODEC_DICT_MAX + 1, &d), STRATA_EINVAL);
    CHECK(d == NULL);
    /* zstd dictionary magic followed by junk. */
    unsigned char bad[64];
    memset(bad, 0xAB, sizeof bad);
    bad[0] = 0x37; bad[1] = 0xA4; bad[2] = 0x30; bad[3] = 0xEC;
    CHECK_RC(codec_dict_load(1, bad, sizeof bad, &d), STRATA_ECORRUPT);
    codec_dict_free(NULL);

    for (int c = 0; c < CODEC_COUNT; c++) {
        CHECK(codec_bound(c, 0) == 0 || c != CODEC_RAW);
        CHECK(codec_bound(c, 1000) >= 1000);
        CHECK(codec_bound(c, 100000) >= 100000);
    }
    CHECK(codec_bound(CODEC_COUNT, 10) == 0);
    CHECK(codec_bound(-1, 10) == 0);
    CHECK(codec_bound(CODEC_LZ4, (size_t)CODEC_LZ4_MAX_INPUT + 1) == 0);

    size_t len;
    int used;
    CHECK_RC(codec_compress(9, 0, NULL, "abc", 3, buf, sizeof buf, &len, &used), STRATA_EINVAL);
    CHECK_RC(codec_compress(CODEC_LZ4, 0, NULL, "abc", 3, buf, sizeof buf, NULL, &used),
             STRATA_EINVAL);
    CHECK_RC(codec_compress(CODEC_LZ4, 0, NULL, NULL, 3, buf, sizeof buf, &len, &used),
             STRATA_EINVAL);
    /* Incompressible input that does not fit: ETOOBIG, not an overflow. */
    char rnd[200];
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (char)rng();
    CHECK_RC(codec_compress(CODEC_LZ4, 0, NULL, rnd, sizeof rnd, buf, sizeof buf, &len, &used),
             STRATA_ETOOBIG);
    CHECK_RC(codec_compress(CODEC_ZSTD, 0, NULL, rnd, sizeof rnd, buf, sizeof buf, &len, &used),
             STRATA_ETOOBIG);
    /* Compressible input into a cap below its raw size still works when the payload fits. */
    char text[4000], small[2000], back[4000];
    gen_text(text, sizeof text, 3);
    CHECK_OK(codec_compress(CODEC_LZ4, 0, NULL, text, sizeof text, small, sizeof small, &len,
                            &used));
    CHECK(used == CODEC_LZ4 && len <= sizeof small);
    CHECK_OK(codec_decompress(used, NULL, small, len, back, sizeof back));
    CHECK(memcmp(back, text, sizeof text) == 0);
}

/* ---- threads sharing a dictionary ---- */

struct thr_arg { const codec_dict *d; int failures; uint64_t seed; };

static void *thr_main(void *p) {
    struct thr_arg *a = p;
    char text[8192], out[9000], back[8192];
    for (int i = 0; i < 300; i++) {
        size_t n = 100 + (size_t)((a->seed + (uint64_t)i * 7919) % (sizeof text - 100));
        gen_text(text, n, a->seed + (uint64_t)i);
        int codec = all_codecs[i % CODEC_COUNT];
        int level = codec == CODEC_LZ4 || codec == CODEC_LZ4_DICT ? (i % 3 ? 0 : 4 + i % 6)
                                                                    : 1 + i % 5;
        size_t len;
        int used;
        if (codec_compress(codec, level, a->d, text, n, out, sizeof out, &len, &used) ||
            codec_decompress(used, a->d, out, len, back, n) || memcmp(text, back, n))
            a->failures++;
    }
    return NULL; /* per-thread contexts are freed by the key destructor */
}

static void test_threads(const codec_dict *d) {
    enum { NT = 4 };
    pthread_t th[NT];
    struct thr_arg args[NT];
    int started = 0, failures = 0;
    for (int i = 0; i < NT; i++) {
        args[i] = (struct thr_arg){d, 0, 1000u * (uint64_t)(i + 1)};
        if (pthread_create(&th[i], NULL, thr_main, &args[i]) == 0) started++;
    }
    CHECK(started == NT);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
}

int main(void) {
    codec_dict *d = make_dict(1, 424242, 65536);
    CHECK(d != NULL);
    if (!d) return t_done();
    test_args_and_bounds();
    test_round_trips(d);
    test_corruption(d);
    test_wrong_dict(d);
    test_dict_switching();
    test_train();
    test_threads(d);
    codec_dict_free(d);
    codec_thread_release();
    return t_done();
}
