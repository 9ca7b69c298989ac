/* docs.h — the document content store's contract with store.c: segment files under
 * DIR/docs, appends of content runs, reads that verify every record, recovery of the
 * active segment, and the dictionaries records refer to. It knows nothing of SQLite:
 * store.c passes it the committed lengths from the catalogue and records the
 * locations it returns.
 *
 * Locking: appends are serialized by an internal mutex held from docs_append_begin
 * to docs_append_end/abort (a content run is contiguous); reads take a shared lock
 * on the table of open segment files; compaction's removal of files takes it
 * exclusively. */
#ifndef STRATA_DOCS_H
#define STRATA_DOCS_H
#include <stddef.h>
#include <stdint.h>
#include "strata.h"

typedef struct docs docs;
typedef struct docs_writer docs_writer;

/* Where a content run lives. checksum is the CRC32C of its first record. */
typedef struct docs_loc {
    uint64_t segment, offset, length, raw_length;
    uint32_t checksum;
    uint8_t codec;     /* codec of the first record (all records of a run share it unless RAW) */
    uint32_t dict_id;
} docs_loc;

typedef struct docs_config {
    uint64_t segment_limit;  /* roll over when the active segment reaches this size */
    int level;               /* compression level passed to the codec */
    int64_t (*now)(void *ctx);
    void *now_ctx;
} docs_config;

int docs_open(const char *store_dir, const docs_config *cfg, docs **out, char *err, size_t errlen);
void docs_close(docs *d);

/* ---- recovery (at open, before any append) ----
 * `committed` lists every segment the catalogue knows, with the length its committed
 * rows reach. Files past that length are truncated; files the catalogue does not
 * know are removed (they hold no committed content). A known segment whose file is
 * missing or short is reported through `problem` and left for `strata check`. */
typedef struct docs_seg_state { uint64_t id, committed_length; int sealed; } docs_seg_state;
typedef void (*docs_problem_fn)(void *ctx, const char *msg);
int docs_recover(docs *d, const docs_seg_state *committed, size_t n, docs_problem_fn problem, void *ctx,
                 char *err, size_t errlen);

/* ---- dictionaries ---- */
int docs_dict_add(docs *d, uint32_t id, const void *data, size_t len); /* load; newest id becomes current */
uint32_t docs_dict_current(docs *d);
/* Use no dictionary for new records (e.g. before one is trained). */

/* ---- appends ----
 * begin takes the append lock (rolling over to a new segment if the active one is
 * full); add compresses and appends one chunk (<= SEG_CHUNK raw bytes); end returns
 * the run's location and releases the lock; abort truncates the run away. */
int docs_append_begin(docs *d, docs_writer **w);
int docs_append_chunk(docs_writer *w, const void *raw, size_t n, int last);
int docs_append_end(docs_writer *w, docs_loc *loc);
void docs_append_abort(docs_writer *w);
/* Make every appended byte durable (fsync of the active segment and of segments
 * sealed since the last sync). Called by the commit leader before the SQLite commit. */
int docs_sync(docs *d);
/* Highest segment id written so far (for the catalogue's segment rows). */

/* ---- reads ----
 * Read the run at loc, verifying each record's CRC and the run's shape, decompress
 * and hand the raw bytes to `sink` chunk by chunk. STRATA_ECORRUPT names the problem
 * in err. */
typedef int (*docs_sink_fn)(void *ctx, const void *data, size_t n);
int docs_read(docs *d, const docs_loc *loc, docs_sink_fn sink, void *ctx, char *err, size_t errlen);

/* The same, decoding straight into dst, which holds loc->raw_length bytes. */
int docs_read_into(docs *d, const docs_loc *loc, void *dst, char *err, size_t errlen);

/* ---- compaction support ---- */
/* Start a fresh sealed segment for compaction output (not used by normal appends),
 * encoded at `level` (e.g. LZ4HC) with the current dictionary. */
int docs_compact_begin(docs *d, int level, docs_writer **w);
/* Copy the run at loc into w (re-encoding with the current dictionary when
 * recompress is set), returning its new location. */
int docs_compact_copy(docs_writer *w, const docs_loc *loc, int recompress, docs_loc *out, char *err, size_t errlen);
/* fsync the compaction output; *seg_id and *length describe it. */
int docs_compact_finish(docs_writer *w, uint64_t *seg_id, uint64_t *length);
void docs_compact_abort(docs_writer *w);
/* The active segment id (0 if none) — compaction seals it by rolling over. */
uint64_t docs_active_segment(docs *d);
int docs_roll_over(docs *d);
/* Remove a segment file (after the catalogue stopped referencing it). */
int docs_remove_segment(docs *d, uint64_t id);

/* ---- check ---- */
/* Size of a segment file, or -1 if missing. */
int64_t docs_segment_size(docs *d, uint64_t id);
/* List segment ids present on disk (malloc'd array). */
int docs_list_segments(docs *d, uint64_t **ids, size_t *n);
/* Verify a whole segment file's header and record chain up to `length`. */
int docs_scan_segment(docs *d, uint64_t id, uint64_t length, char *err, size_t errlen);
#endif
