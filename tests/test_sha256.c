/* test_sha256.c — SHA-256: the FIPS 180-4 / NIST example vectors, streaming in random
 * chunk sizes against one-shot, and the SHA-NI path against the portable one. */
#include "test.h"
#include "util/sha256.h"

#include <stdint.h>

static uint64_t rng_state = 0x0123456789ABCDEFull;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static void hex(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int digest_is(int impl, const void *data, size_t len, const char *want) {
    uint8_t d[32];
    char h[65];
    su_sha256_ctx c;
    su_sha256_init_impl(&c, impl);
    su_sha256_update(&c, data, len);
    su_sha256_final(&c, d);
    hex(d, h);
    if (strcmp(h, want) != 0) {
        fprintf(stderr, "impl %d len %zu: got %s want %s\n", impl, len, h, want);
        return 0;
    }
    return 1;
}

static void test_vectors(void) {
    static const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    char *million = malloc(1000000);
    if (!million) { CHECK(0); return; }
    memset(million, 'a', 1000000);
    for (int impl = SU_SHA256_AUTO; impl <= SU_SHA256_NI; impl++) {
        CHECK(digest_is(impl, "", 0,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        CHECK(digest_is(impl, "abc", 3,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        CHECK(digest_is(impl, m448, strlen(m448),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        CHECK(digest_is(impl, m896, strlen(m896),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
        CHECK(digest_is(impl, million, 1000000,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    }
    /* One million 'a' fed one byte at a time, through the buffering path. */
    su_sha256_ctx c;
    uint8_t d[32];
    char h[65];
    su_sha256_init(&c);
    for (int i = 0; i < 1000000; i++) su_sha256_update(&c, "a", 1);
    su_sha256_final(&c, d);
    hex(d, h);
    CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    /* Padding edges: 55, 56, 63, 64 bytes of 'a' (one vs two final blocks). */
    CHECK(digest_is(SU_SHA256_PORTABLE, million, 55,
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"));
    CHECK(digest_is(SU_SHA256_NI, million, 56,
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"));
    CHECK(digest_is(SU_SHA256_AUTO, million, 64,
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"));
    free(million);
}

static void test_streaming_and_paths(void) {
    enum { MAX = 300000 };
    uint8_t *buf = malloc(MAX);
    if (!buf) { CHECK(0); return; }
    for (size_t i = 0; i < MAX; i++) buf[i] = (uint8_t)rng();
    int stream_bad = 0, path_bad = 0;
    for (int iter = 0; iter < 300; iter++) {
        size_t len = iter < 200 ? (size_t)(rng() % 3000) : (size_t)(rng() % MAX);
        size_t off = (size_t)(rng() % 16);
        if (off + len > MAX) len = MAX - off;
        uint8_t one[32], port[32], ni[32], streamed[32];
        su_sha256(buf + off, len, one);
        su_sha256_ctx c;
        su_sha256_init_impl(&c, SU_SHA256_PORTABLE);
        su_sha256_update(&c, buf + off, len);
        su_sha256_final(&c, port);
        su_sha256_init_impl(&c, SU_SHA256_NI);
        su_sha256_update(&c, buf + off, len);
        su_sha256_final(&c, ni);
        if (memcmp(one, port, 32) || memcmp(one, ni, 32)) path_bad++;
        su_sha256_init_impl(&c, (int)(rng() % 3));
        for (size_t done = 0; done < len;) {
            size_t chunk = (size_t)(rng() % (rng() % 2 ? 70 : 5000));
            if (chunk > len - done) chunk = len - done;
            su_sha256_update(&c, buf + off + done, chunk);
            done += chunk;
        }
        su_sha256_final(&c, streamed);
        if (memcmp(one, streamed, 32)) stream_bad++;
    }
    CHECK(stream_bad == 0);
    CHECK(path_bad == 0);
    printf("sha256: SHA-NI path %s\n", su_sha256_ni_available() ? "used" : "absent");
    free(buf);
}

int main(void) {
    test_vectors();
    test_streaming_and_paths();
    return t_done();
}
