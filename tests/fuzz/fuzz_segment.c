/* fuzz_segment.c — libFuzzer target for the segment reader: the input is a whole
 * segment image (header and records) that seg_scan_buf walks, verifying every
 * record; the first record header is also decoded on its own. Must never crash,
 * overread or loop; a clean image must scan to its end. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "docs/segment.h"
#include "strata.h"

static int count(void *ctx, uint64_t off, const seg_rec *r, const uint8_t *payload) {
    (void)off;
    (void)payload;
    *(uint64_t *)ctx += r->stored_len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t bad = 0, total = 0;
    /* As found, and with a valid header in front so the record parser is reached. */
    (void)seg_scan_buf(data, size, 1, count, &total, &bad);
    uint8_t buf[SEG_HDR_SIZE + 4096];
    size_t n = size < 4096 ? size : 4096;
    seg_header_encode(buf, 1, 0);
    memcpy(buf + SEG_HDR_SIZE, data, n);
    int rc = seg_scan_buf(buf, SEG_HDR_SIZE + n, 1, count, &total, &bad);
    if (rc == STRATA_OK && bad != SEG_HDR_SIZE + n) __builtin_trap();
    if (n >= SEG_REC_HDR_SIZE) {
        seg_rec r;
        (void)seg_rec_decode(data, &r);
    }
    return 0;
}
