/* segment.h — the on-disk format of document segments (doc/format/segment.md).
 *
 * A segment is an append-only file docs/seg-NNNNNN.dat: a 64-byte header, then
 * records. A document's content is a run of consecutive records in one segment, the
 * first flagged FIRST and the last LAST; each record holds up to SEG_CHUNK raw bytes,
 * compressed on its own, and a CRC32C over its header and payload. This file knows
 * bytes only: no SQLite, no codecs. */
#ifndef STRATA_SEGMENT_H
#define STRATA_SEGMENT_H
#include <stddef.h>
#include <stdint.h>

#define SEG_MAGIC        "STRATASG"
#define SEG_VERSION      1
#define SEG_HDR_SIZE     64
#define SEG_REC_MAGIC    0x31435253u /* "SRC1" little-endian */
#define SEG_REC_HDR_SIZE 24
#define SEG_CHUNK        (1u << 20)            /* raw bytes per record, at most */
#define SEG_MAX_STORED   (SEG_CHUNK + 65536u)  /* stored bytes per record, at most */
#define SEG_FLAG_FIRST   1u
#define SEG_FLAG_LAST    2u

typedef struct seg_rec {
    uint8_t flags, codec;
    uint32_t dict_id, stored_len, raw_len, crc;
} seg_rec;

/* "seg-%06llu.dat" into buf (>= 32 bytes); 1 if name parses back as a segment id. */
void seg_name(uint64_t id, char *buf, size_t cap);
int seg_parse_name(const char *name, uint64_t *id);

/* The 64-byte file header. */
void seg_header_encode(uint8_t out[SEG_HDR_SIZE], uint64_t id, int64_t created_at);
/* STRATA_OK, or STRATA_ECORRUPT (bad magic/crc/id) or STRATA_EVERSION (newer). */
int seg_header_check(const uint8_t hdr[SEG_HDR_SIZE], uint64_t id);

/* Fill r->crc and write the 24-byte header for `r` followed by `payload`. */
void seg_rec_encode(uint8_t hdr[SEG_REC_HDR_SIZE], seg_rec *r, const void *payload);
/* Parse a record header: STRATA_ECORRUPT on bad magic, flags or sizes. */
int seg_rec_decode(const uint8_t hdr[SEG_REC_HDR_SIZE], seg_rec *r);
/* STRATA_OK when the CRC over header and payload matches, else STRATA_ECORRUPT. */
int seg_rec_verify(const uint8_t hdr[SEG_REC_HDR_SIZE], const seg_rec *r, const void *payload);

/* Walk a whole segment image in memory (used by the fuzzer and tests): calls cb for
 * each well-formed record with its offset; stops at the first bad one.
 * Returns STRATA_OK if the image is clean to its end, else STRATA_ECORRUPT with
 * *bad_off set to where it stopped. */
typedef int (*seg_scan_cb)(void *ctx, uint64_t off, const seg_rec *r, const uint8_t *payload);
int seg_scan_buf(const uint8_t *buf, size_t len, uint64_t id, seg_scan_cb cb, void *ctx, uint64_t *bad_off);
#endif
