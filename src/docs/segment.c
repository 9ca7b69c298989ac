/* segment.c — encoding and decoding of segment headers and records. Every field is
 * little-endian; every length is checked against the format's bounds before use, so
 * a damaged or hostile file yields STRATA_ECORRUPT, never an overread. */
#include "docs/segment.h"
#include "strata.h"
#include "util/crc32c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

void seg_name(uint64_t id, char *buf, size_t cap) { snprintf(buf, cap, "seg-%06" PRIu64 ".dat", id); }

int seg_parse_name(const char *name, uint64_t *id) {
    if (strncmp(name, "seg-", 4) != 0) return 0;
    const char *p = name + 4;
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 19) { v = v * 10 + (uint64_t)(*p++ - '0'); digits++; }
    if (digits < 6 || strcmp(p, ".dat") != 0 || v == 0) return 0;
    *id = v;
    return 1;
}

void seg_header_encode(uint8_t out[SEG_HDR_SIZE], uint64_t id, int64_t created_at) {
    memset(out, 0, SEG_HDR_SIZE);
    memcpy(out, SEG_MAGIC, 8);
    put32(out + 8, SEG_VERSION);
    put32(out + 12, SEG_HDR_SIZE);
    put64(out + 16, id);
    put64(out + 24, (uint64_t)created_at);
    put32(out + 60, su_crc32c(0, out, 60));
}

int seg_header_check(const uint8_t hdr[SEG_HDR_SIZE], uint64_t id) {
    if (memcmp(hdr, SEG_MAGIC, 8) != 0) return STRATA_ECORRUPT;
    if (su_crc32c(0, hdr, 60) != get32(hdr + 60)) return STRATA_ECORRUPT;
    if (get32(hdr + 8) > SEG_VERSION) return STRATA_EVERSION;
    if (get32(hdr + 12) != SEG_HDR_SIZE || get64(hdr + 16) != id) return STRATA_ECORRUPT;
    return STRATA_OK;
}

void seg_rec_encode(uint8_t hdr[SEG_REC_HDR_SIZE], seg_rec *r, const void *payload) {
    put32(hdr, SEG_REC_MAGIC);
    hdr[4] = r->flags;
    hdr[5] = r->codec;
    hdr[6] = hdr[7] = 0;
    put32(hdr + 8, r->dict_id);
    put32(hdr + 12, r->stored_len);
    put32(hdr + 16, r->raw_len);
    uint32_t crc = su_crc32c(0, hdr, 20);
    r->crc = su_crc32c(crc, payload, r->stored_len);
    put32(hdr + 20, r->crc);
}

int seg_rec_decode(const uint8_t hdr[SEG_REC_HDR_SIZE], seg_rec *r) {
    if (get32(hdr) != SEG_REC_MAGIC) return STRATA_ECORRUPT;
    r->flags = hdr[4];
    r->codec = hdr[5];
    r->dict_id = get32(hdr + 8);
    r->stored_len = get32(hdr + 12);
    r->raw_len = get32(hdr + 16);
    r->crc = get32(hdr + 20);
    if ((r->flags & ~(SEG_FLAG_FIRST | SEG_FLAG_LAST)) || hdr[6] || hdr[7]) return STRATA_ECORRUPT;
    if (r->stored_len > SEG_MAX_STORED || r->raw_len > SEG_CHUNK) return STRATA_ECORRUPT;
    return STRATA_OK;
}

int seg_rec_verify(const uint8_t hdr[SEG_REC_HDR_SIZE], const seg_rec *r, const void *payload) {
    uint32_t crc = su_crc32c(su_crc32c(0, hdr, 20), payload, r->stored_len);
    return crc == r->crc ? STRATA_OK : STRATA_ECORRUPT;
}

int seg_scan_buf(const uint8_t *buf, size_t len, uint64_t id, seg_scan_cb cb, void *ctx, uint64_t *bad_off) {
    *bad_off = 0;
    if (len < SEG_HDR_SIZE) return STRATA_ECORRUPT;
    int rc = seg_header_check(buf, id);
    if (rc) return rc;
    uint64_t off = SEG_HDR_SIZE;
    int in_run = 0;
    while (off < len) {
        seg_rec r;
        *bad_off = off;
        if (len - off < SEG_REC_HDR_SIZE || seg_rec_decode(buf + off, &r) != STRATA_OK) return STRATA_ECORRUPT;
        if (len - off - SEG_REC_HDR_SIZE < r.stored_len) return STRATA_ECORRUPT;
        const uint8_t *payload = buf + off + SEG_REC_HDR_SIZE;
        if (seg_rec_verify(buf + off, &r, payload) != STRATA_OK) return STRATA_ECORRUPT;
        /* Runs: FIRST opens one, LAST closes it, nothing else may interleave. */
        if ((r.flags & SEG_FLAG_FIRST) ? in_run : !in_run) return STRATA_ECORRUPT;
        in_run = !(r.flags & SEG_FLAG_LAST);
        if (cb && (rc = cb(ctx, off, &r, payload)) != 0) return rc;
        off += SEG_REC_HDR_SIZE + r.stored_len;
    }
    *bad_off = off;
    return in_run ? STRATA_ECORRUPT : STRATA_OK;
}
