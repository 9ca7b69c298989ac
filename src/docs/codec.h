/* codec.h — compression of one document payload: LZ4 (fast and HC share one block
 * format), zstd, each with or without a shared dictionary. This is the contract between
 * the segment writer/reader and the compressors; it knows nothing of files or records.
 *
 * Payload formats (what codec_compress writes and codec_decompress accepts):
 *   CODEC_RAW        the bytes as they are.
 *   CODEC_LZ4        one LZ4 block (no frame): the record header carries raw length and
 *                    checksum, so a frame's header, end mark and checksum would repeat
 *                    them (see bench/docs/codec_eval.c for what that costs).
 *   CODEC_ZSTD       one standard zstd frame with its content size, no checksum.
 *   CODEC_LZ4_DICT   varint(dict id) + LZ4 block compressed against the dictionary.
 *   CODEC_ZSTD_DICT  varint(dict id) + zstd frame (no dict id field in the frame).
 * The dict id prefix (LEB128, 1 byte below 128) makes a payload name its dictionary,
 * so decoding with the wrong dictionary fails instead of returning wrong bytes (an LZ4
 * block would otherwise decode "successfully" against any dictionary long enough).
 *
 * Threads: all functions are thread-safe. Compression and decompression use contexts
 * kept per thread (created on first use, freed when the thread exits, or earlier by
 * codec_thread_release()); no lock is taken on the hot path. A codec_dict is immutable
 * once loaded (prepared states for more levels are added lazily under a mutex taken
 * only the first time a level is used) and may be shared by any number of threads.
 *
 * Return values: STRATA_OK or a negative STRATA_E* code unless a comment says so. */
#ifndef STRATA_DOCS_CODEC_H
#define STRATA_DOCS_CODEC_H
#include <stddef.h>
#include <stdint.h>

/* Codec numbers are stored on disk: never renumber. */
enum { CODEC_RAW = 0, CODEC_LZ4 = 1, CODEC_LZ4_DICT = 2, CODEC_ZSTD = 3, CODEC_ZSTD_DICT = 4 };
#define CODEC_COUNT 5

/* Dictionary sizes accepted by codec_dict_load. LZ4 uses at most the last 64 KiB of a
 * dictionary (ZDICT puts its most useful content at the end); zstd uses all of it. */
#define CODEC_DICT_MIN 8
#define CODEC_DICT_MAX (4u << 20)
#define CODEC_LZ4_DICT_WINDOW (64u * 1024)
/* Largest input of the LZ4 codecs in one payload (LZ4_MAX_INPUT_SIZE). */
#define CODEC_LZ4_MAX_INPUT 0x7E000000u
/* Largest dict id prefix in bytes. */
#define CODEC_DICT_PREFIX_MAX 5

/* Levels. LZ4 codecs: level <= 0 or 1..2 is the fast compressor (acceleration -level
 * when negative, else 1); 3..12 is LZ4HC at that level (same decoder). zstd codecs:
 * 0 is zstd's default (3), otherwise clamped to zstd's range (dict codecs: 1..22). */
#define CODEC_LZ4_LEVEL_DEFAULT 0
#define CODEC_LZ4HC_LEVEL_MIN 3
#define CODEC_LZ4HC_LEVEL_MAX 12
#define CODEC_ZSTD_LEVEL_DEFAULT 0

typedef struct codec_dict codec_dict;

/* Load a dictionary: copies data[0..len) and prepares the LZ4 and zstd states.
 * `data` is either a ZDICT-trained dictionary or raw content. id is what payloads of
 * the dict codecs record (any value; the store's dictionary version).
 * Errors: STRATA_EINVAL (len outside [CODEC_DICT_MIN, CODEC_DICT_MAX], NULL args),
 * STRATA_ECORRUPT (a zstd-format dictionary zstd cannot parse), STRATA_ENOMEM.
 * The caller owns *out and frees it with codec_dict_free() once no thread uses it. */
int codec_dict_load(uint32_t id, const void *data, size_t len, codec_dict **out);
uint32_t codec_dict_id(const codec_dict *d);
/* The dictionary bytes as loaded (valid until codec_dict_free). */
const void *codec_dict_data(const codec_dict *d, size_t *len);
/* NULL is a no-op. */
void codec_dict_free(codec_dict *d);

/* Train a dictionary of at most dict_cap bytes with zstd's ZDICT_trainFromBuffer from
 * nsamples samples laid end to end in `samples` (sizes in sample_sizes). Give it a few
 * hundred samples and 10-100x dict_cap bytes; for LZ4 use dict_cap = 64 KiB.
 * *dict_len receives the size written. Errors: STRATA_EINVAL (bad arguments, or ZDICT
 * could not build a dictionary from these samples: too few or too small),
 * STRATA_ENOMEM. */
int codec_dict_train(const void *samples, const size_t *sample_sizes, unsigned nsamples,
                     void *dict, size_t dict_cap, size_t *dict_len);

/* Worst-case payload size of codec for raw_len bytes (never less than raw_len, since a
 * payload that does not shrink is stored raw). 0 if the codec is unknown or cannot take
 * raw_len bytes in one payload (LZ4: above LZ4_MAX_INPUT_SIZE, about 2 GB; such
 * content must be chunked by the caller). */
size_t codec_bound(int codec, size_t raw_len);

/* Compress src[0..n) into dst[0..cap) with `codec` at `level`; dict codecs need d,
 * other codecs ignore it. Sets *out_len and *codec_used. If the payload would not be
 * smaller than n (incompressible or empty input), the bytes are copied instead and
 * *codec_used = CODEC_RAW. cap >= codec_bound(codec, n) always suffices.
 * Errors: STRATA_EINVAL (unknown codec, dict codec without d, NULL pointers),
 * STRATA_ETOOBIG (n too large for the codec, or neither payload nor raw copy fits cap),
 * STRATA_ENOMEM, STRATA_EINTERNAL (the compressor failed otherwise). */
int codec_compress(int codec, int level, const codec_dict *d, const void *src, size_t n,
                   void *dst, size_t cap, size_t *out_len, int *codec_used);

/* Decode the payload src[0..n) written by codec_compress into exactly raw_len bytes at
 * dst. Never reads outside src[0..n) or writes outside dst[0..raw_len).
 * Errors: STRATA_ECORRUPT (malformed payload, trailing bytes, a size other than
 * raw_len, an unknown codec, or a dict payload naming another dictionary than d),
 * STRATA_EINVAL (dict codec without d, NULL pointers), STRATA_ENOMEM. */
int codec_decompress(int codec, const codec_dict *d, const void *src, size_t n,
                     void *dst, size_t raw_len);

/* Free the calling thread's compression contexts now instead of at thread exit (the
 * main thread, which does not run thread-exit destructors, may call it at shutdown).
 * Safe to call at any time; contexts are created again on next use. */
void codec_thread_release(void);

#endif
