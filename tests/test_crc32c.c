/* test_crc32c.c — CRC-32C: published vectors (RFC 3720 B.4), chaining, and the SSE4.2
 * path against the portable one on random lengths and alignments, including lengths
 * that run the 3-way interleaved loops. */
#include "test.h"
#include "util/crc32c.h"

#include <stdint.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static void test_vectors(void) {
    uint8_t buf[32];
    CHECK(su_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(su_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
    CHECK(su_crc32c_hw(0, "123456789", 9) == 0xE3069283u);
    CHECK(su_crc32c(0, NULL, 0) == 0);
    CHECK(su_crc32c(0x12345678u, NULL, 0) == 0x12345678u);
    memset(buf, 0, sizeof buf);
    CHECK(su_crc32c(0, buf, 32) == 0x8A9136AAu);
    memset(buf, 0xFF, sizeof buf);
    CHECK(su_crc32c(0, buf, 32) == 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    CHECK(su_crc32c(0, buf, 32) == 0x46DD794Eu);
    CHECK(su_crc32c_sw(0, buf, 32) == 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    CHECK(su_crc32c(0, buf, 32) == 0x113FDB5Cu);
    /* An iSCSI read PDU header (RFC 3720 B.4). */
    static const uint8_t pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    CHECK(su_crc32c(0, pdu, sizeof pdu) == 0xD9963A56u);
    CHECK(su_crc32c_sw(0, pdu, sizeof pdu) == 0xD9963A56u);
}

static void test_chaining_and_paths(void) {
    enum { MAX = 200000, PAD = 16 };
    uint8_t *buf = malloc(MAX + PAD);
    if (!buf) { CHECK(0); return; }
    for (size_t i = 0; i < MAX + PAD; i++) buf[i] = (uint8_t)rng();

    int mismatches = 0, chain_bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = (size_t)(rng() % 10001);
        size_t off = (size_t)(rng() % PAD);
        uint32_t sw = su_crc32c_sw(0, buf + off, len);
        uint32_t hw = su_crc32c_hw(0, buf + off, len);
        uint32_t any = su_crc32c(0, buf + off, len);
        if (sw != hw || sw != any) mismatches++;
        size_t cut = len ? (size_t)(rng() % (len + 1)) : 0;
        uint32_t c = su_crc32c(0, buf + off, cut);
        c = su_crc32c(c, buf + off + cut, len - cut);
        uint32_t c_sw = su_crc32c_sw(su_crc32c_hw(0, buf + off, cut), buf + off + cut, len - cut);
        if (c != any || c_sw != any) chain_bad++;
    }
    CHECK(mismatches == 0);
    CHECK(chain_bad == 0);

    /* Lengths around the 3-way lane boundaries (3*256 and 3*8192) and beyond. */
    static const size_t edge[] = {767, 768, 769, 775, 776, 1536, 24575, 24576, 24577,
                                  24583, 49152 + 768 + 7, 100000, MAX};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        for (size_t off = 0; off < 9; off++) {
            size_t len = edge[i] > MAX + PAD - off ? MAX + PAD - off : edge[i];
            uint32_t sw = su_crc32c_sw(0, buf + off, len);
            if (sw != su_crc32c_hw(0, buf + off, len)) mismatches++;
            if (sw != su_crc32c(0, buf + off, len)) mismatches++;
        }
    }
    CHECK(mismatches == 0);
    printf("crc32c: hardware path %s\n", su_crc32c_hw_available() ? "SSE4.2" : "absent");
    free(buf);
}

int main(void) {
    test_vectors();
    test_chaining_and_paths();
    return t_done();
}
