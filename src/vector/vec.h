/* vec.h — the contract between src/vector and store.c: an HNSW index of uint64_t
 * labels (store.c maps document ids to labels), its checkpoint file, the vector log
 * that is the durable copy of every vector, and the lexical hash embedder.
 *
 * Nothing here knows about SQLite, transactions or document ids. The module never
 * prints and never exits: every function returns STRATA_OK or a negative STRATA_E*
 * code from strata.h, and a failed call leaves the index (and every file) unchanged.
 *
 * Distances: smaller is closer. L2 is the squared Euclidean distance; IP is
 * 1 - <a,b>; COSINE stores unit vectors (normalised on add) and is then IP, so for
 * cosine the similarity is 1 - distance (vec_similarity()).
 *
 * Thread-safety (details in hnsw.c's header): searches run concurrently with each
 * other and with adds of new labels; adds run concurrently with each other
 * (vec_hnsw_add_batch uses that). Removes, replacing a label's vector, adds that
 * reuse a removed slot, rebuild and checkpoint writing exclude other writers;
 * removes/replacements/reuse also briefly exclude searches. A vec_log handle is used
 * by one thread at a time.
 */
#ifndef STRATA_VECTOR_VEC_H
#define STRATA_VECTOR_VEC_H
#include <stddef.h>
#include <stdint.h>

/* ---- parameters, defaults and limits together ---- */
enum vec_metric { VEC_METRIC_COSINE = 0, VEC_METRIC_IP = 1, VEC_METRIC_L2 = 2 };
enum vec_dtype { VEC_DTYPE_F32 = 0, VEC_DTYPE_F16 = 1, VEC_DTYPE_I8 = 2 };

#define VEC_DIM_MAX                  16384
#define VEC_DEFAULT_M                16
#define VEC_MIN_M                    2
#define VEC_MAX_M                    100
#define VEC_DEFAULT_EF_CONSTRUCTION  200
#define VEC_MAX_EF                   10000
#define VEC_DEFAULT_EF_SEARCH        64
#define VEC_MAX_K                    10000
/* Below this many live vectors a search is an exact scan (VEC_SEARCH_AUTO). */
#define VEC_DEFAULT_EXACT_THRESHOLD  1024
/* A filtered search whose estimated selectivity is below this fraction scans the
 * allowed vectors exactly instead of walking the graph when the scan is estimated
 * to be cheaper (hnsw_search.c explains). */
#define VEC_DEFAULT_FILTER_EXACT_BELOW 0.05
#define VEC_MAX_THREADS              256

typedef struct vec_params {
    uint32_t dim;             /* 1..VEC_DIM_MAX */
    int metric;               /* enum vec_metric */
    int dtype;                /* enum vec_dtype: how the graph walk stores vectors */
    uint32_t M;               /* links per node on upper layers; 2*M on layer 0 */
    uint32_t ef_construction;
    uint32_t exact_threshold; /* VEC_SEARCH_AUTO: exact scan below this many live vectors */
    double filter_exact_below;/* selectivity below which filtered search scans exactly */
    uint64_t seed;            /* level generator seed (levels depend on label and seed) */
} vec_params;

/* dim given; metric COSINE, dtype F32, the defaults above. */
void vec_params_init(vec_params *p, uint32_t dim);
/* STRATA_OK if every field is within its limits, else STRATA_EINVAL. */
int vec_params_check(const vec_params *p);

/* Similarity shown to users for a distance: 1 - d for cosine and ip, -d for l2. */
float vec_similarity(int metric, float dist);

/* ---- the index ---- */
typedef struct vec_hnsw vec_hnsw;

/* A filter: non-zero to allow `label`. Called from the searching thread, possibly
 * many times per search; it must be thread-safe if searches run in parallel. */
typedef int (*vec_allow_fn)(void *ctx, uint64_t label);

enum vec_search_mode {
    VEC_SEARCH_AUTO = 0,  /* exact below exact_threshold or at selective filters, else graph */
    VEC_SEARCH_GRAPH = 1, /* always the graph walk (even with a selective filter) */
    VEC_SEARCH_EXACT = 2  /* SIMD brute force over every live vector (ground truth) */
};

typedef struct vec_search_opts {
    uint32_t k;           /* results wanted, 1..VEC_MAX_K */
    uint32_t ef;          /* 0: max(k, VEC_DEFAULT_EF_SEARCH); raised to k if smaller */
    int mode;             /* enum vec_search_mode */
    vec_allow_fn allow;   /* NULL: every label */
    void *allow_ctx;
    uint32_t rerank;      /* f16/i8: candidates re-scored in f32; 0: 2k (f16), 4k (i8), at most ef */
} vec_search_opts;

typedef struct vec_hit {
    uint64_t label;
    float dist;
} vec_hit;

typedef struct vec_stats {
    uint64_t slots;        /* slots in use (live + tombstones) */
    uint64_t live;         /* searchable vectors */
    uint64_t tombstones;   /* removed, slot not yet reused */
    uint32_t max_level;
    uint64_t index_bytes;  /* resident: node storage (compact vectors + links), upper links, labels, label map */
    uint64_t raw_bytes;    /* f16/i8 only: the f32 copies used for reranking */
    uint64_t mapped_bytes; /* part of the above that is a private file mapping (checkpoint) */
    const char *kernels;   /* "scalar", "avx2" or "avx512": the kernels in use */
} vec_stats;

/* Create an empty index. *out is freed with vec_hnsw_free. STRATA_EINVAL, STRATA_ENOMEM. */
int vec_hnsw_create(const vec_params *p, vec_hnsw **out);
/* Free the index (NULL is a no-op). No call may be running on it. */
void vec_hnsw_free(vec_hnsw *h);
/* The parameters the index was created with. */
const vec_params *vec_hnsw_params(const vec_hnsw *h);

/* Add `label` with vector v[0..dim). An existing label's vector is replaced.
 * STRATA_EINVAL: dim differs from the index's, a NaN/Inf component, a zero vector
 * for cosine; STRATA_ENOMEM; STRATA_ETOOBIG when the index is full. */
int vec_hnsw_add(vec_hnsw *h, uint64_t label, const float *v, uint32_t dim);
/* Add n vectors (row-major, n*dim floats) with `nthreads` threads (1..VEC_MAX_THREADS;
 * 0 = 1). Every vector is validated first: on STRATA_EINVAL nothing was added and
 * *bad_index (may be NULL) names the first bad row. Duplicate labels: the last wins. */
int vec_hnsw_add_batch(vec_hnsw *h, const uint64_t *labels, const float *vecs, size_t n,
                       uint32_t dim, int nthreads, size_t *bad_index);
/* Remove `label` (a tombstone; the slot is reused by a later add).
 * STRATA_ENOTFOUND when the label is not in the index. */
int vec_hnsw_remove(vec_hnsw *h, uint64_t label);
/* 1 if label is live in the index, else 0. */
int vec_hnsw_contains(vec_hnsw *h, uint64_t label);
/* Copy label's vector (f32; unit length for cosine) into out[0..dim). STRATA_ENOTFOUND. */
int vec_hnsw_get(vec_hnsw *h, uint64_t label, float *out, uint32_t dim);

/* k nearest neighbours of q[0..dim): out[0..*nout) best first (*nout <= k; fewer when
 * fewer vectors are live or allowed). `out` holds at least opts->k hits.
 * STRATA_EINVAL (dim, NaN/Inf, k or ef out of range), STRATA_ENOMEM. */
int vec_hnsw_search(vec_hnsw *h, const float *q, uint32_t dim, const vec_search_opts *opts,
                    vec_hit *out, size_t *nout);
/* nq queries (row-major) with nthreads threads: query i's hits are out[i*k ..], their
 * number nout[i]. The first failing query's status is returned. */
int vec_hnsw_search_batch(vec_hnsw *h, const float *qs, size_t nq, uint32_t dim,
                          const vec_search_opts *opts, int nthreads, vec_hit *out, size_t *nout);

/* Rebuild the graph from the live vectors only (drops tombstones, compacts slots),
 * with nthreads threads. Searches keep running on the old graph until the swap. */
int vec_hnsw_rebuild(vec_hnsw *h, int nthreads);

void vec_hnsw_stats(vec_hnsw *h, vec_stats *st);

/* ---- checkpoint (checkpoint.c; format in doc/format/vector.md) ---- */
/* Write the index to `path` atomically (temp file, fsync, rename, directory fsync).
 * `lsn` and `log_offset` are what the checkpoint covers (stored, returned at open).
 * Runs concurrently with searches; other writers wait. STRATA_EIO, STRATA_ENOSPC... */
int vec_ckpt_write(vec_hnsw *h, const char *path, uint64_t lsn, uint64_t log_offset);

typedef struct vec_ckpt_info {
    vec_params params;
    uint64_t lsn;         /* highest LSN the checkpoint covers */
    uint64_t log_offset;  /* vector-log length the checkpoint covers */
    uint64_t slots, live;
} vec_ckpt_info;

/* Open a checkpoint with mmap (private, copy-on-write: the file never changes).
 * Header and body checksums and the graph's structure are verified at open.
 * STRATA_ENOTFOUND (no file), STRATA_ECORRUPT (any damage: the caller rebuilds from
 * the log), STRATA_EVERSION (newer format), STRATA_EIO, STRATA_ENOMEM.
 * info may be NULL. The index stays usable (and writable) after the file is replaced. */
int vec_ckpt_open(const char *path, vec_hnsw **out, vec_ckpt_info *info);
/* Same checks on an in-memory image (for the fuzzer): builds an index from it. */
int vec_ckpt_open_buf(const void *buf, size_t len, vec_hnsw **out, vec_ckpt_info *info);
/* Tests and fuzzing only: recompute every checksum of an image (whose sections lie
 * inside it) so a deliberately inconsistent image reaches the structural checks. */
int vec_ckpt_fix_checksums(void *buf, size_t len);

/* ---- vector log (vlog.c; format in doc/format/vector.md) ---- */
enum vec_log_op { VEC_LOG_PUT = 1, VEC_LOG_DELETE = 2 };

typedef struct vec_log vec_log;

typedef struct vec_log_rec {
    int op;               /* enum vec_log_op */
    uint64_t label;
    uint64_t lsn;
    const float *vec;     /* dim floats (zeros for a delete); valid during the callback */
} vec_log_rec;

/* Called for each good record at byte offset `off`; non-zero stops the replay and
 * is returned by vec_log_replay. */
typedef int (*vec_log_fn)(void *ctx, uint64_t off, const vec_log_rec *r);

typedef struct vec_log_scan {
    uint64_t records;     /* good records passed to the callback */
    uint64_t end;         /* offset just past the last good record */
    int torn;             /* 1: bytes at `end` are not a good record (torn tail or damage) */
} vec_log_scan;

/* Open (create = 1: create if missing) the log at path for vectors of dim, dtype and
 * metric (recorded in the header and checked on open). A partial tail is kept as is;
 * the caller truncates it (vec_log_truncate) to the committed length it knows.
 * STRATA_ENOTFOUND, STRATA_ECORRUPT (bad header), STRATA_EINVAL (parameters differ from
 * the header's), STRATA_EVERSION, STRATA_EIO. */
int vec_log_open(const char *path, uint32_t dim, int dtype, int metric, int create, vec_log **out);
/* Close; no sync is implied. NULL is a no-op. */
void vec_log_close(vec_log *l);
/* Append one record (no fsync). v: dim floats for a put (finite), ignored (zeros are
 * written) for a delete. *off_out (may be NULL) is the record's offset.
 * STRATA_EINVAL (NaN/Inf, bad op), STRATA_EMISUSE (the log ends in a partial record:
 * truncate first), STRATA_EIO/ENOSPC (the log is poisoned: a partial record may exist
 * past the length the caller committed), STRATA_EPOISONED after that. */
int vec_log_append(vec_log *l, int op, uint64_t label, uint64_t lsn, const float *v, uint64_t *off_out);
/* fsync the log. A failure poisons the handle (reopen to go on). */
int vec_log_sync(vec_log *l);
/* Current length in bytes (header + records). */
uint64_t vec_log_length(const vec_log *l);
/* Bytes of one record for this log's dimension; the header's size. */
uint32_t vec_log_record_size(const vec_log *l);
uint32_t vec_log_header_size(void);
/* Cut the log to `len` bytes (>= header size, header + a whole number of records)
 * and fsync. STRATA_EINVAL for a length not on a record boundary or past the end. */
int vec_log_truncate(vec_log *l, uint64_t len);
/* Replay records from byte offset `from` (0 means just after the header; else a
 * record boundary), calling fn for each good one and stopping at the first bad or
 * partial record: scan->end is its offset and scan->torn is 1. */
int vec_log_replay(vec_log *l, uint64_t from, vec_log_fn fn, void *ctx, vec_log_scan *scan);
/* The same over an in-memory image of a whole log file (header included); dim etc.
 * come from its header. For the fuzzer and `strata check`. STRATA_ECORRUPT for a bad
 * header. */
int vec_log_replay_buf(const void *buf, size_t len, vec_log_fn fn, void *ctx, vec_log_scan *scan);

/* ---- lexical hash embedder (embed.c) ---- */
/* Embed UTF-8 text as a dim-component unit vector by signed feature hashing of
 * word unigrams, word bigrams and character 3..5-grams of words. Deterministic,
 * no model: texts sharing words and word pieces land close, nothing more (no
 * synonyms, no semantics). STRATA_EINVAL when dim is 0 or > VEC_DIM_MAX or the text
 * has no token (empty or only white space; out is then all zeros). */
int vec_embed_hash(const char *text, size_t len, float *out, uint32_t dim);

#endif
