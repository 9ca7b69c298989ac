/*
 * strata.h — the whole public API of Strata, an embedded persistence engine for
 * document-AI and RAG applications. What is not declared here is not published.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *  - Every function returns an int status: STRATA_OK (0) or a negative STRATA_E* code.
 *    strata_errstr(code) names a code; strata_errmsg(db) gives the detailed message of
 *    the last failed call on that handle in the calling thread.
 *  - Memory the library returns is owned by the caller and released with strata_free()
 *    (or the type's own *_free function where one is named). Destructors accept NULL.
 *  - Strings are NUL-terminated UTF-8 unless a length is passed beside them.
 *  - Times are milliseconds since the Unix epoch (int64_t).
 *  - A failed call changes nothing stored.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(STRATA_BUILDING) && defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* ---- versions: the API and each on-disk format are versioned separately ---- */
#define STRATA_VERSION        "0.1.0"
#define STRATA_VERSION_NUMBER 1000 /* major*1000000 + minor*1000 + patch */
#define STRATA_FORMAT_VERSION 1    /* version written to DIR/STRATA */

/* Runtime twin of STRATA_VERSION. */
STRATA_API const char *strata_version(void);
STRATA_API int strata_version_number(void);

/* ---- status codes: numbers never change once published ---- */
#define STRATA_ERRORS(X)                                                          \
    X(STRATA_OK,        0,   "ok")                                                \
    X(STRATA_ERROR,    -1,   "error")                                             \
    X(STRATA_EINVAL,   -2,   "invalid argument")                                  \
    X(STRATA_ENOMEM,   -3,   "out of memory")                                     \
    X(STRATA_EIO,      -4,   "I/O error")                                         \
    X(STRATA_ENOTFOUND,-5,   "not found")                                         \
    X(STRATA_EBUSY,    -6,   "store is in use by another process")                \
    X(STRATA_EVERSION, -7,   "unsupported format version")                        \
    X(STRATA_ECORRUPT, -8,   "data is corrupt")                                   \
    X(STRATA_EEXIST,   -9,   "already exists")                                    \
    X(STRATA_ENOSPC,   -10,  "no space left on device")                           \
    X(STRATA_EACCES,   -11,  "permission denied or read-only")                    \
    X(STRATA_ENOTSTORE,-12,  "not a Strata store")                                \
    X(STRATA_ETOOBIG,  -13,  "value too large")                                   \
    X(STRATA_EPOISONED,-14,  "store refused writes after an unrecoverable error") \
    X(STRATA_EMISUSE,  -15,  "API misuse")                                        \
    X(STRATA_EINTERNAL,-16,  "internal error")

enum strata_status {
#define STRATA_X_ENUM(name, num, str) name = num,
    STRATA_ERRORS(STRATA_X_ENUM)
#undef STRATA_X_ENUM
};

/* Name of a status code ("not found"); never NULL, static storage. */
STRATA_API const char *strata_errstr(int code);

/* ---- limits and defaults, together ---- */
#define STRATA_KEY_MAX           1024   /* bytes in a setting key or session id */
#define STRATA_JSON_MAX          (16 * 1024 * 1024) /* bytes in a setting or session value */
#define STRATA_SESSION_ID_RANDOM_LEN 32 /* hex chars of a generated 128-bit session id */
#define STRATA_DEFAULT_BUSY_TIMEOUT_MS 5000

/* ---- the store handle ---- */
typedef struct strata strata;         /* opaque; thread-safe */
typedef struct strata_txn strata_txn; /* opaque; used by one thread at a time */

enum strata_sync {
    STRATA_SYNC_FULL = 0,   /* default: an acknowledged write survives power loss */
    STRATA_SYNC_NORMAL = 1  /* survives a process crash; the last commits may be lost on power loss */
};

/* Clock used for every timestamp the store writes; tests inject one. It is called
 * from any thread that uses the handle and from the store's maintenance thread. */
typedef int64_t (*strata_clock_fn)(void *ctx);

typedef struct strata_options {
    int create;               /* non-zero: create the directory and store if missing */
    int sync;                 /* enum strata_sync */
    int busy_timeout_ms;      /* SQLite busy timeout; default STRATA_DEFAULT_BUSY_TIMEOUT_MS */
    strata_clock_fn clock;    /* NULL: the real-time clock */
    void *clock_ctx;
    uint64_t max_doc_bytes;   /* 0: STRATA_DEFAULT_MAX_DOC_BYTES */
    uint64_t segment_bytes;   /* 0: STRATA_DEFAULT_SEGMENT_BYTES */
    int compression_level;    /* puts: 0 fast LZ4; 3..12 LZ4HC (slower to write, same read speed) */
    int compact_level;        /* compaction output: 0: STRATA_DEFAULT_COMPACT_LEVEL (LZ4HC) */
    int backup_interval_hours;/* automatic backups into DIR/backups: 0 default (24), -1 never */
    int backup_keep;          /* automatic backups kept: 0 default (7) */
    /* analytics (analytics.duckdb); see "analytics" below */
    uint64_t analytics_memory_limit; /* DuckDB memory_limit in bytes: 0 default (1 GiB) */
    int analytics_threads;    /* DuckDB threads: 0 default (4); capped at the core count */
    int analytics_flags;      /* STRATA_ANALYTICS_* bits */
    int metric_buffer;        /* records the recording buffer holds: 0 default (65536) */
    int metric_when_full;     /* enum strata_metric_full: STRATA_METRIC_DROP (0) or _BLOCK */
    int metric_retention_days;/* raw metric rows kept: 0 default (30), -1 forever */
    int metric_sample_s;      /* seconds between system samples: 0 default (60) */
    int vec_threads;          /* threads that add a commit's vectors to an index: 0 = cores */
    int reserved_int;         /* zero */
    uint64_t reserved[8];     /* zero; room to grow without breaking the ABI */
} strata_options;

/* Defaults: create = 0, sync = FULL, busy_timeout_ms = 5000, real clock. */
STRATA_API strata_options strata_options_default(void);

/*
 * Open the store in directory `dir`. `opts` may be NULL (defaults).
 * With opts->create a missing directory is created (mode 0700) with its STRATA file;
 * an existing empty directory is turned into a store. A non-empty directory without a
 * STRATA file is refused (STRATA_ENOTSTORE) and left untouched.
 * Errors: STRATA_EINVAL (bad arguments), STRATA_ENOTFOUND (no such directory and no
 * create), STRATA_ENOTSTORE, STRATA_EVERSION (a newer format), STRATA_EBUSY (another
 * opener holds the store; the message names its pid), STRATA_EACCES, STRATA_ENOSPC,
 * STRATA_EIO, STRATA_ECORRUPT, STRATA_ENOMEM.
 * On failure *out is NULL and the reason is in strata_open_errmsg() (thread-local).
 */
STRATA_API int strata_open(const char *dir, const strata_options *opts, strata **out);

/* Message of the last failed strata_open() in this thread ("" if none). */
STRATA_API const char *strata_open_errmsg(void);

/* Close the handle: waits for in-flight commits, releases the lock. NULL is a no-op.
 * Returns the first error met while closing (the handle is freed regardless). */
STRATA_API int strata_close(strata *db);

/* Detailed message of the last failed call on `db` in the calling thread ("" if none).
 * Valid until the next call on `db` in this thread. */
STRATA_API const char *strata_errmsg(strata *db);

/* Release memory returned by the library. NULL is a no-op. */
STRATA_API void strata_free(void *p);

/* ---- transactions ----
 * A transaction groups writes (settings, sessions, and later documents and vectors)
 * into one commit with one fsync and one LSN. Writes inside a transaction are
 * validated when called, applied at commit, and not visible to reads until then.
 * Every write function takes a `txn` that may be NULL: the write is then its own
 * transaction. Concurrent committers are group-committed (one fsync serves many).
 * A transaction belongs to the thread that uses it; commit or abort frees it. */
STRATA_API int strata_txn_begin(strata *db, strata_txn **out);
/* Commit: every write or none. On failure nothing is applied and the txn is freed.
 * lsn_out (may be NULL) receives the commit's LSN. */
STRATA_API int strata_txn_commit(strata_txn *txn, uint64_t *lsn_out);
/* Discard every write of the txn and free it. NULL is a no-op. */
STRATA_API void strata_txn_abort(strata_txn *txn);

/* ---- settings: JSON values under text keys (1..STRATA_KEY_MAX bytes of UTF-8) ---- */
/* Set `key` to `json`, which must be valid JSON (RFC 8259). */
STRATA_API int strata_setting_set(strata *db, strata_txn *txn, const char *key, const char *json);
/* Get the JSON text of `key` into *json_out (free with strata_free); updated_at_ms may
 * be NULL. STRATA_ENOTFOUND when missing. */
STRATA_API int strata_setting_get(strata *db, const char *key, char **json_out, int64_t *updated_at_ms);
/* Delete `key`. STRATA_ENOTFOUND when missing (inside a txn: checked at commit). */
STRATA_API int strata_setting_delete(strata *db, strata_txn *txn, const char *key);
/* Call `cb` for every setting in key order. The pointers are valid only during the
 * call. A non-zero return from cb stops the walk and is returned. */
typedef int (*strata_setting_cb)(void *ctx, const char *key, const char *json, int64_t updated_at_ms);
STRATA_API int strata_setting_list(strata *db, strata_setting_cb cb, void *ctx);

/* ---- sessions: a JSON object per session id ---- */
typedef struct strata_session {
    char *id;                 /* owned by the struct */
    char *data;               /* JSON object text, owned by the struct */
    int64_t created_at_ms;
    int64_t last_accessed_ms;
    int64_t ttl_s;            /* idle time-to-live in seconds; 0 = none */
} strata_session;

/* Create a session. `id` NULL generates a 128-bit random id (32 hex chars, from
 * getrandom()); a given id must be 1..STRATA_KEY_MAX bytes of UTF-8. `data` NULL means "{}";
 * otherwise a JSON object. ttl_s >= 0 (0: no per-session TTL). *id_out (may be NULL)
 * receives the id (free with strata_free). STRATA_EEXIST if the id exists. */
STRATA_API int strata_session_create(strata *db, strata_txn *txn, const char *id,
                                     const char *data, int64_t ttl_s, char **id_out);
/* Insert or replace the data (and ttl) of session `id`; created_at is kept. */
STRATA_API int strata_session_put(strata *db, strata_txn *txn, const char *id,
                                  const char *data, int64_t ttl_s);
/* Fetch a session; free with strata_session_free. STRATA_ENOTFOUND when missing. */
STRATA_API int strata_session_get(strata *db, const char *id, strata_session **out);
STRATA_API void strata_session_free(strata_session *s);
/* Set last_accessed to now. STRATA_ENOTFOUND when missing. */
STRATA_API int strata_session_touch(strata *db, strata_txn *txn, const char *id);
/* STRATA_ENOTFOUND when missing. */
STRATA_API int strata_session_delete(strata *db, strata_txn *txn, const char *id);
/* Walk sessions in id order; the struct is valid only during the call. */
typedef int (*strata_session_cb)(void *ctx, const strata_session *s);
STRATA_API int strata_session_list(strata *db, strata_session_cb cb, void *ctx);
/* Delete sessions idle longer than their own ttl_s, and, if idle_ttl_s > 0, those idle
 * longer than idle_ttl_s. n_out (may be NULL) receives how many were deleted. */
STRATA_API int strata_session_expire(strata *db, int64_t idle_ttl_s, uint64_t *n_out);

/* ---- documents ----
 * A document is content (any bytes, compressed into append-only segments) plus
 * metadata, under an id of 1..STRATA_DOC_ID_MAX bytes (any bytes; never a file name).
 * Identical content is stored once. Puts and deletes join `txn` (NULL: their own
 * transaction); content, metadata and (later) vectors of a transaction commit
 * atomically. */
#define STRATA_DOC_ID_MAX 1024
#define STRATA_DEFAULT_MAX_DOC_BYTES (64ull << 30)     /* 64 GiB */
#define STRATA_DEFAULT_SEGMENT_BYTES (64ull << 20)     /* roll segments over at 64 MiB */
#define STRATA_DEFAULT_COMPACT_LEVEL 4                  /* LZ4HC level of compacted segments */
#define STRATA_AUTO_DICT_BYTES (4ull << 20) /* train a dictionary once this much is stored without one */

typedef struct strata_doc_put_opts {
    const char *metadata_json;  /* a JSON object, or NULL for "{}" */
    const char *filename;       /* original file name, or NULL */
    uint64_t reserved[8];
} strata_doc_put_opts;

/* Put `len` bytes of content under id (replacing any previous version). opts may be
 * NULL. STRATA_ETOOBIG above the store's max_doc_bytes. */
STRATA_API int strata_doc_put(strata *db, strata_txn *txn, const void *id, size_t id_len,
                              const void *data, size_t len, const strata_doc_put_opts *opts);
/* Streaming put with bounded memory: `read` is called until it returns 0 bytes
 * (end) or a negative value (error: the put fails with STRATA_EIO and nothing is
 * stored). It returns the number of bytes written into buf (<= cap). */
typedef long long (*strata_read_fn)(void *ctx, void *buf, size_t cap);
STRATA_API int strata_doc_put_stream(strata *db, strata_txn *txn, const void *id, size_t id_len,
                                     strata_read_fn read, void *ctx, const strata_doc_put_opts *opts);
/* Streaming put from a file descriptor, read to its end. */
STRATA_API int strata_doc_put_fd(strata *db, strata_txn *txn, const void *id, size_t id_len, int fd,
                                 const strata_doc_put_opts *opts);

/* Get the content into a malloc'd buffer (*data, free with strata_free; NUL-terminated
 * for convenience, the NUL not counted in *len). STRATA_ENOTFOUND when missing;
 * STRATA_ECORRUPT (naming the id and segment) when a checksum fails: never wrong bytes. */
STRATA_API int strata_doc_get(strata *db, const void *id, size_t id_len, void **data, size_t *len);
/* Streaming get: `write` receives the content in order, chunk by chunk; a non-zero
 * return stops the read and is returned. Bytes already delivered before a
 * STRATA_ECORRUPT are from verified records only. */
typedef int (*strata_write_fn)(void *ctx, const void *data, size_t len);
STRATA_API int strata_doc_get_stream(strata *db, const void *id, size_t id_len, strata_write_fn write, void *ctx);
STRATA_API int strata_doc_get_fd(strata *db, const void *id, size_t id_len, int fd);

/* Delete; STRATA_ENOTFOUND when missing (inside a txn: checked at commit). */
STRATA_API int strata_doc_delete(strata *db, strata_txn *txn, const void *id, size_t id_len);
/* *exists = 1 or 0. */
STRATA_API int strata_doc_exists(strata *db, const void *id, size_t id_len, int *exists);

typedef struct strata_doc_info {
    void *id; size_t id_len;      /* owned by the struct */
    char *filename;               /* NULL if none */
    char *metadata_json;          /* a JSON object */
    uint8_t content_hash[32];     /* SHA-256 of the content */
    uint64_t size;                /* raw bytes (the ADR's file_size) */
    uint64_t stored_size;         /* bytes in the segment, headers included */
    const char *codec;            /* "raw", "lz4", "lz4+dict", "zstd", "zstd+dict" (static) */
    const char *tier;             /* "warm" or "cold" (static) */
    uint64_t segment;
    int64_t created_at_ms, updated_at_ms;
    int64_t last_access_ms;       /* 0: never read */
    uint64_t lsn;                 /* LSN of the commit that wrote this version */
} strata_doc_info;
/* Metadata and storage facts of a document; free with strata_doc_info_free. */
STRATA_API int strata_doc_stat(strata *db, const void *id, size_t id_len, strata_doc_info **out);
STRATA_API void strata_doc_info_free(strata_doc_info *info);

/* Cursor over document ids in byte order, optionally restricted to ids starting with
 * a prefix and/or documents whose metadata at a JSON path equals a JSON value
 * (SQLite's json_extract; e.g. path "$.lang", value "\"en\""). */
typedef struct strata_doc_filter {
    const void *prefix; size_t prefix_len;   /* NULL/0: any id */
    const char *meta_path;                   /* NULL: no metadata filter */
    const char *meta_value_json;             /* required with meta_path */
    uint64_t reserved[8];
} strata_doc_filter;
typedef struct strata_doc_cursor strata_doc_cursor;
STRATA_API int strata_doc_cursor_open(strata *db, const strata_doc_filter *filter, strata_doc_cursor **out);
/* Next id: *id points into the cursor (valid until the next call); *id is NULL at the
 * end. The cursor reads in batches and sees commits made while it is open. */
STRATA_API int strata_doc_cursor_next(strata_doc_cursor *c, const void **id, size_t *id_len);
STRATA_API void strata_doc_cursor_close(strata_doc_cursor *c);

/* Train (or retrain) the shared compression dictionary from a sample of the store's
 * documents; new records use it, older records stay readable with theirs. A store
 * trains one by itself once STRATA_AUTO_DICT_BYTES of content are stored without a
 * dictionary, and compaction re-encodes older records with the current one.
 * *dict_id (may be NULL) receives the new dictionary's id. STRATA_ENOTFOUND when the
 * store holds too little content to train on. */
STRATA_API int strata_doc_train_dict(strata *db, uint32_t *dict_id);

/* Compaction. Rewrites (1) every segment that puts filled and that is no longer the
 * active one (fresh segments: written fast, compacted once), and (2) compacted
 * segments whose dead bytes exceed `threshold` (0..1) of their size; with threshold 0
 * every segment holding any dead byte is rewritten, so deleted content is gone from
 * every file. Live content is re-encoded at compact_level (LZ4HC, which reads as fast
 * as LZ4) with the current dictionary, trained first if the store has none. */
typedef struct strata_compact_stats {
    uint64_t segments_rewritten, bytes_before, bytes_after, contents_moved, contents_dropped;
} strata_compact_stats;
STRATA_API int strata_compact(strata *db, double threshold, strata_compact_stats *stats);

/* Verify the store: catalogue <-> segments <-> checksums, every record read back and
 * its SHA-256 compared, SQLite's integrity check. `problem` (may be NULL) is called
 * once per problem found; *problems receives the count. Returns STRATA_OK when the
 * check ran (even if it found problems). */
typedef void (*strata_problem_fn)(void *ctx, const char *problem);
STRATA_API int strata_check(strata *db, strata_problem_fn problem, void *ctx, uint64_t *problems);

/* ---- vectors ----
 * Collections of dense vectors, one per (collection, document id), searched with
 * Strata's HNSW index. Puts and deletes join `txn` (NULL: their own transaction), so
 * a document's content, metadata and vectors commit atomically; deleting a document
 * deletes its vectors in every collection. Collection names are [A-Za-z0-9_-]{1,64}.
 * The durable copy is an append-only log per collection; the index is derived and
 * checkpointed (at close and by strata_vec_checkpoint) so that opening is fast.
 * Scores: cosine and ip give similarity (cosine: 1 - distance), l2 gives -distance:
 * higher is closer for every metric. */
enum strata_metric { STRATA_METRIC_COSINE = 0, STRATA_METRIC_IP = 1, STRATA_METRIC_L2 = 2 };
enum strata_dtype { STRATA_DTYPE_F32 = 0, STRATA_DTYPE_F16 = 1, STRATA_DTYPE_I8 = 2 };
#define STRATA_COLLECTION_NAME_MAX 64
#define STRATA_VEC_DIM_MAX 16384
#define STRATA_VEC_DEFAULT_M 16
#define STRATA_VEC_DEFAULT_EF_CONSTRUCTION 200
#define STRATA_VEC_M_MIN 2
#define STRATA_VEC_M_MAX 100
#define STRATA_VEC_EF_MAX 10000     /* ef_construction and search ef */
#define STRATA_VEC_K_MAX 10000

typedef struct strata_collection_opts {
    uint32_t dim;              /* 1..STRATA_VEC_DIM_MAX, required */
    int metric;                /* enum strata_metric (default cosine) */
    int dtype;                 /* enum strata_dtype: how the index holds vectors (f16/i8
                                  walk the graph compactly and rerank exactly in f32) */
    uint32_t m;                /* 0: STRATA_VEC_DEFAULT_M */
    uint32_t ef_construction;  /* 0: STRATA_VEC_DEFAULT_EF_CONSTRUCTION */
    uint64_t reserved[8];
} strata_collection_opts;

/* STRATA_EEXIST, STRATA_EINVAL (name or parameters). */
STRATA_API int strata_vec_create(strata *db, const char *name, const strata_collection_opts *opts);
/* Drop a collection and its vectors. STRATA_ENOTFOUND. */
STRATA_API int strata_vec_drop(strata *db, const char *name);

typedef struct strata_collection_info {
    char name[STRATA_COLLECTION_NAME_MAX + 1];
    uint32_t dim, m, ef_construction;
    int metric, dtype;
    uint64_t count;            /* vectors */
    uint64_t index_bytes;      /* resident memory of the index */
    uint64_t log_bytes;        /* committed bytes of the vector log */
    int64_t created_at_ms;
    const char *kernels;       /* "scalar", "avx2" or "avx512" (static) */
    uint64_t reserved[8];
} strata_collection_info;
STRATA_API int strata_vec_info(strata *db, const char *name, strata_collection_info *out);
typedef int (*strata_collection_cb)(void *ctx, const strata_collection_info *info);
STRATA_API int strata_vec_list(strata *db, strata_collection_cb cb, void *ctx);

/* Put the vector of document `id` in collection `name` (replacing its previous one).
 * STRATA_EINVAL: a dimension other than the collection's, a NaN or infinite
 * component, a zero vector in a cosine collection; STRATA_ENOTFOUND: no collection. */
STRATA_API int strata_vec_put(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len,
                              const float *vec, uint32_t dim);
/* STRATA_ENOTFOUND when the document has no vector there (inside a txn: at commit). */
STRATA_API int strata_vec_delete(strata *db, strata_txn *txn, const char *name, const void *id, size_t id_len);
/* Copy the stored vector (unit length for cosine) into out[0..dim). */
STRATA_API int strata_vec_get(strata *db, const char *name, const void *id, size_t id_len, float *out, uint32_t dim);

typedef struct strata_vec_search_opts {
    uint32_t k;                /* results wanted (0: 10), at most STRATA_VEC_K_MAX */
    uint32_t ef;               /* search breadth (0: a default; higher: better recall, slower) */
    int exact;                 /* non-zero: brute force over every vector (ground truth) */
    const strata_doc_filter *filter;   /* only documents matching it (prefix and/or metadata) */
    const void *const *ids;    /* only these document ids (ids[i] of id_lens[i] bytes) */
    const size_t *id_lens;
    size_t nids;
    uint64_t reserved[8];
} strata_vec_search_opts;

typedef struct strata_vec_result {
    void *id;                  /* document id (owned by the result array) */
    size_t id_len;
    float score;               /* higher is closer */
    float distance;
} strata_vec_result;

/* The k nearest documents to q. *results (free with strata_vec_results_free) holds
 * *n <= k entries, best first. opts may be NULL. */
STRATA_API int strata_vec_search(strata *db, const char *name, const float *q, uint32_t dim,
                                 const strata_vec_search_opts *opts, strata_vec_result **results, size_t *n);
STRATA_API void strata_vec_results_free(strata_vec_result *results, size_t n);
/* Write the collection's index checkpoint now (also done at close when it changed). */
STRATA_API int strata_vec_checkpoint(strata *db, const char *name);
/* Rebuild the index from its live vectors (drops deleted slots). */
STRATA_API int strata_vec_rebuild(strata *db, const char *name);

/* A lexical "hash embedder": signed feature hashing of word unigrams and bigrams and
 * character 3..5-grams, L2-normalised, any dimension. It lets the CLI and demo embed
 * text without a model: texts that share words land close, nothing more (no
 * semantics). Real applications pass their own model's vectors.
 * STRATA_EINVAL for dim 0 or above STRATA_VEC_DIM_MAX, or text without a word. */
STRATA_API int strata_embed_hash(const char *text, size_t len, float *out, uint32_t dim);

/* ---- backups ----
 * A backup is a folder NAME under a destination (default DIR/backups): a consistent
 * snapshot of the whole store at one LSN, taken while writers go on, with a MANIFEST
 * (JSON: format, name, LSN, time, each file's size and SHA-256) written last and
 * atomically. A folder without a valid MANIFEST is incomplete and never listed as
 * good. Files unchanged since the previous good backup in the same destination are
 * hard links to it (incremental); segments are hard-linked from the store when the
 * destination is on the same filesystem, copied otherwise. See doc/format/backup.md. */
#define STRATA_BACKUP_NAME_MAX 64   /* names are [A-Za-z0-9_-]{1,64} */
#define STRATA_DEFAULT_BACKUP_KEEP 7
#define STRATA_DEFAULT_BACKUP_INTERVAL_HOURS 24

typedef struct strata_backup_info {
    char name[STRATA_BACKUP_NAME_MAX + 1];
    int complete;             /* 1: a valid MANIFEST; 0: incomplete (interrupted) */
    uint64_t lsn;
    int64_t created_at_ms;
    uint64_t bytes;           /* sum of file sizes in the manifest */
    uint64_t files;
    uint64_t reserved[4];
} strata_backup_info;

/* Take a backup of the open store into dest (NULL: DIR/backups, created if missing).
 * *name_out (may be NULL) receives the backup's name (free with strata_free).
 * On failure (ENOSPC at the destination, say) the partial folder is removed. */
STRATA_API int strata_backup_create(strata *db, const char *dest, char **name_out);
/* The backups in a destination folder, oldest first (incomplete ones included, with
 * complete = 0). These calls need no open store: a damaged store can be restored. */
typedef int (*strata_backup_cb)(void *ctx, const strata_backup_info *info);
STRATA_API int strata_backup_list(const char *dest, strata_backup_cb cb, void *ctx);
/* Recompute every file's SHA-256 against the manifest and check operational.db's
 * integrity read-only. Problems go to `problem`; *problems receives the count.
 * STRATA_ENOTFOUND: no such backup; STRATA_ECORRUPT: no valid manifest. */
STRATA_API int strata_backup_verify(const char *dest, const char *name, strata_problem_fn problem, void *ctx,
                                    uint64_t *problems);
/* Verify, then materialize the backup as a new store in `target`, which must not
 * exist or be empty — unless `force`, which replaces a store there (a folder that is
 * not a store, a store in use, or one holding `dest` is never replaced). The result
 * opens and passes strata_check, or the restore fails and leaves no half store behind. */
STRATA_API int strata_backup_restore(const char *dest, const char *name, const char *target, int force);
/* Keep the newest `keep` (>= 1) complete backups; remove older complete ones and
 * interrupted ones. *removed (may be NULL) receives how many folders went. */
STRATA_API int strata_backup_prune(const char *dest, int keep, uint64_t *removed);
/* Message of the last failed strata_backup_list/verify/restore/prune in this thread. */
STRATA_API const char *strata_backup_errmsg(void);

/* ---- hot tier: an in-memory cache with Redis semantics ----
 * Keys and values are byte strings (any bytes, lengths beside them). The cache lives
 * in memory only: it is empty at every open and never written to disk. It follows
 * Redis's string commands, their edge cases included (the comments below name the
 * command each function stands for). Memory is counted exactly (entry headers, keys,
 * values, allocator overhead, hash tables) against maxmemory, and an eviction policy
 * keeps it there. With a cache_url (strata_cache_config) the same calls go to a Redis
 * or Valkey server instead, so several processes or machines share one hot tier.
 * Thread-safe. Besides these keys the hot tier keeps the content of recently read
 * documents (its own memory budget and hit counters; see strata_cache_stats).
 *
 * Common rules:
 *  - Keys are 0..STRATA_CACHE_KEY_MAX bytes (an empty key is a key, as in Redis),
 *    values 0..STRATA_CACHE_VALUE_MAX bytes; longer ones fail with STRATA_ETOOBIG.
 *  - A missing key is STRATA_ENOTFOUND unless a function says otherwise.
 *  - Writes that need memory fail with STRATA_ENOMEM when the cache is above
 *    maxmemory and the policy cannot evict (noeviction; volatile-ttl with no key
 *    holding a TTL); the message is Redis's "OOM command not allowed ...".
 *  - Callbacks marked "locked" run while part of the cache is locked: they must be
 *    quick and must not call any strata_cache_* function. Their pointers are valid
 *    only during the call. A non-zero return stops the call and is returned.
 *  - Times: TTLs in milliseconds, absolute times in ms since the epoch, on the
 *    store's clock (strata_options.clock). */
#define STRATA_CACHE_KEY_MAX   (512u * 1024 * 1024) /* bytes in a key (Redis's proto-max-bulk-len) */
#define STRATA_CACHE_VALUE_MAX (512u * 1024 * 1024) /* bytes in a value, APPEND included */
#define STRATA_CACHE_DEFAULT_MAXMEMORY     (256ull << 20) /* the ADR's 256 MB */
#define STRATA_CACHE_DEFAULT_DOC_MAXMEMORY (64ull << 20)  /* document content */
#define STRATA_CACHE_DEFAULT_POLICY STRATA_CACHE_ALLKEYS_LFU
#define STRATA_CACHE_SCAN_DEFAULT_COUNT 10
#define STRATA_CACHE_URL_MAX 256 /* bytes of a cache_url, NUL included */

/* Eviction policies (Redis's names; strata_cache_policy_name). allkeys-lru and
 * allkeys-lfu are both W-TinyLFU: a recency window in front of a segmented-LRU main
 * space, entry to which is decided by a frequency sketch (lfu: 1% window, frequency
 * dominates; lru: 20% window, recency weighs more). A key just written can therefore
 * be refused at once when its value is larger than the window. */
enum strata_cache_policy {
    STRATA_CACHE_NOEVICTION   = 0, /* above maxmemory, writes that need memory fail */
    STRATA_CACHE_ALLKEYS_LRU  = 1,
    STRATA_CACHE_ALLKEYS_LFU  = 2,
    STRATA_CACHE_VOLATILE_TTL = 3  /* evict keys with a TTL, soonest expiry first */
};
/* "noeviction", "allkeys-lru", ...; NULL for an unknown value (static storage). */
STRATA_API const char *strata_cache_policy_name(int policy);
/* Parse a policy name (ASCII case-insensitive). STRATA_EINVAL if unknown. */
STRATA_API int strata_cache_policy_parse(const char *name, int *policy);

/* Conditions of a write (SET NX / XX, MSETNX). */
enum strata_cache_cond {
    STRATA_CACHE_ALWAYS = 0,
    STRATA_CACHE_NX = 1,  /* only if the key does not exist */
    STRATA_CACHE_XX = 2   /* only if the key exists */
};
/* What a write does to the key's time-to-live. */
enum strata_cache_ttl_mode {
    STRATA_CACHE_TTL_NONE = 0, /* no TTL (SET's default: a previous TTL is cleared; GETEX PERSIST) */
    STRATA_CACHE_TTL_REL  = 1, /* expire `ttl` ms from now (EX, PX); ttl > 0 */
    STRATA_CACHE_TTL_AT   = 2, /* expire at `ttl` ms since the epoch (EXAT, PXAT); ttl > 0 */
    STRATA_CACHE_TTL_KEEP = 3  /* keep the key's TTL (KEEPTTL; GETEX without options) */
};

typedef struct strata_cache_set_opts {
    int cond;                   /* enum strata_cache_cond */
    int ttl_mode;               /* enum strata_cache_ttl_mode */
    int64_t ttl;                /* ms (REL) or ms since the epoch (AT) */
    strata_write_fn old_value;  /* SET ... GET: called (locked) with the previous value,
                                   if there was one, whether or not the write happens */
    void *old_value_ctx;
    uint64_t reserved[6];       /* zero */
} strata_cache_set_opts;

/* SET. opts NULL: unconditional, no TTL. STRATA_OK: written. Not written, nothing
 * changed: STRATA_EEXIST (NX and the key exists), STRATA_ENOTFOUND (XX and it does
 * not). STRATA_EINVAL: a TTL <= 0 or past the end of time ("invalid expire time"). */
STRATA_API int strata_cache_set(strata *db, const void *key, size_t klen, const void *val, size_t vlen,
                                const strata_cache_set_opts *opts);
/* GET into a malloc'd copy: *val (free with strata_free; NUL-terminated, the NUL not
 * counted in *vlen). STRATA_ENOTFOUND on a miss (*val NULL). */
STRATA_API int strata_cache_get(strata *db, const void *key, size_t klen, void **val, size_t *vlen);
/* GET without a copy: fn(ctx, value, len) is called once, locked. STRATA_ENOTFOUND
 * on a miss (fn not called). */
STRATA_API int strata_cache_get_fn(strata *db, const void *key, size_t klen, strata_write_fn fn, void *ctx);
/* GETDEL: the value as strata_cache_get returns it, and the key deleted. */
STRATA_API int strata_cache_getdel(strata *db, const void *key, size_t klen, void **val, size_t *vlen);
/* GETEX: the value as strata_cache_get returns it, and the TTL changed by ttl_mode:
 * KEEP leaves it, NONE removes it (PERSIST), REL / AT set it (ttl > 0). */
STRATA_API int strata_cache_getex(strata *db, const void *key, size_t klen, int ttl_mode, int64_t ttl,
                                  void **val, size_t *vlen);
/* DEL / UNLINK of one key: STRATA_OK if it existed, STRATA_ENOTFOUND if not. */
STRATA_API int strata_cache_del(strata *db, const void *key, size_t klen);
/* EXISTS: *exists = 1 or 0. */
STRATA_API int strata_cache_exists(strata *db, const void *key, size_t klen, int *exists);

/* Conditions of EXPIRE (Redis 7): at most one of NX / XX, at most one of GT / LT
 * (a key without a TTL counts as an infinite TTL for GT and LT). */
#define STRATA_CACHE_EXPIRE_NX 1u /* only if the key has no TTL */
#define STRATA_CACHE_EXPIRE_XX 2u /* only if the key has a TTL */
#define STRATA_CACHE_EXPIRE_GT 4u /* only if the new expiry is later */
#define STRATA_CACHE_EXPIRE_LT 8u /* only if the new expiry is sooner */
/* EXPIRE / PEXPIRE (ttl_mode REL, t in ms) and EXPIREAT / PEXPIREAT (AT, t in ms
 * since the epoch). A time already past deletes the key (as Redis does); *applied
 * (may be NULL) = 1 if the TTL was set or the key deleted, 0 if a condition said no.
 * STRATA_ENOTFOUND if the key does not exist; STRATA_EINVAL for bad flags or a time
 * that overflows. */
STRATA_API int strata_cache_expire(strata *db, const void *key, size_t klen, int ttl_mode, int64_t t,
                                   unsigned flags, int *applied);
/* PERSIST: *applied (may be NULL) = 1 if a TTL was removed, 0 if the key had none. */
STRATA_API int strata_cache_persist(strata *db, const void *key, size_t klen, int *applied);
/* PTTL / PEXPIRETIME: *ttl_ms = remaining ms, *expire_at_ms = when; both -1 when the
 * key has no TTL (either pointer may be NULL). STRATA_ENOTFOUND if missing. */
STRATA_API int strata_cache_ttl(strata *db, const void *key, size_t klen, int64_t *ttl_ms, int64_t *expire_at_ms);
/* INCRBY / DECRBY / INCR / DECR: the value must be the decimal text of a signed
 * 64-bit integer (Redis's strict form); a missing key counts as 0. The TTL is kept.
 * *result (may be NULL) receives the new value. STRATA_EINVAL: not an integer, or
 * the result would overflow (the messages are Redis's). */
STRATA_API int strata_cache_incrby(strata *db, const void *key, size_t klen, int64_t delta, int64_t *result);
/* APPEND (creating the key if missing); *new_len (may be NULL) receives the length.
 * STRATA_ETOOBIG past STRATA_CACHE_VALUE_MAX. */
STRATA_API int strata_cache_append(strata *db, const void *key, size_t klen, const void *val, size_t vlen,
                                   size_t *new_len);
/* STRLEN: *len = the value's length; 0 and STRATA_ENOTFOUND if missing. */
STRATA_API int strata_cache_strlen(strata *db, const void *key, size_t klen, size_t *len);

/* MGET: fn(ctx, i, value, len) for i = 0..n-1 in order, value NULL for a missing key;
 * called locked, with every key's shard locked, so the values are one snapshot. */
typedef int (*strata_cache_mget_fn)(void *ctx, size_t i, const void *val, size_t len);
STRATA_API int strata_cache_mget(strata *db, size_t n, const void *const *keys, const size_t *klens,
                                 strata_cache_mget_fn fn, void *ctx);
/* MSET (cond ALWAYS) / MSETNX (cond NX: nothing is written if any key exists, and
 * the call returns STRATA_EEXIST). Atomic: no reader sees part of it. TTLs of the
 * keys are cleared. */
STRATA_API int strata_cache_mset(strata *db, size_t n, const void *const *keys, const size_t *klens,
                                 const void *const *vals, const size_t *vlens, int cond);

/* SCAN: start with cursor 0 and call again with *next until it is 0. fn(ctx, key,
 * len) is called (not locked) for each key of this step; `match` (NULL: all) is a
 * Redis glob pattern (* ? [a-z] [^a] \x), `count` (0: STRATA_CACHE_SCAN_DEFAULT_COUNT)
 * a hint of how much work one step does. Redis's guarantee holds: a key present for
 * the whole scan is returned at least once; keys may be returned twice. */
typedef int (*strata_cache_key_fn)(void *ctx, const void *key, size_t klen);
STRATA_API int strata_cache_scan(strata *db, uint64_t cursor, const char *match, size_t count,
                                 strata_cache_key_fn fn, void *ctx, uint64_t *next);
/* DBSIZE: keys held, counting expired keys not yet removed (as Redis does). */
STRATA_API int strata_cache_dbsize(strata *db, uint64_t *n);
/* FLUSHDB: delete every key (document content stays). */
STRATA_API int strata_cache_flush(strata *db);

typedef struct strata_cache_stats {
    uint64_t keys;            /* keys held (DBSIZE) */
    uint64_t expires;         /* keys with a TTL */
    uint64_t hits, misses;    /* reads of a key's value (GET family, MGET, STRLEN) */
    uint64_t evictions;       /* keys evicted for memory (Redis's evicted_keys) */
    uint64_t expirations;     /* keys removed because their TTL passed (expired_keys) */
    uint64_t used_memory;     /* bytes counted against maxmemory */
    uint64_t maxmemory;       /* 0: no limit */
    double hit_rate;          /* hits / (hits + misses); 0 before any read */
    int policy;               /* enum strata_cache_policy */
    int remote;               /* 1: a cache_url is in use (the counts above are the server's
                                 where it has them, hits/misses this handle's) */
    uint64_t doc_entries;     /* documents whose content is held */
    uint64_t doc_hits, doc_misses, doc_evictions;
    uint64_t doc_used_memory, doc_maxmemory;
    double doc_hit_rate;
    uint64_t reserved[8];
} strata_cache_stats;
STRATA_API int strata_cache_stats_get(strata *db, strata_cache_stats *out);
/* Zero the counters (hits, misses, evictions, expirations; documents' too). */
STRATA_API int strata_cache_stats_reset(strata *db);

/* Configuration, changeable at any time: read it, change fields, write it back.
 * Lowering maxmemory evicts at once (per the policy). Setting a url connects to that
 * server (it must answer PING within a second) and sends every key call there from
 * then on; the local keys are flushed. "" returns to the embedded cache. The doc
 * partition stays local. */
typedef struct strata_cache_config {
    uint64_t maxmemory;       /* bytes; 0: no limit. Default STRATA_CACHE_DEFAULT_MAXMEMORY */
    int policy;               /* enum strata_cache_policy; default STRATA_CACHE_DEFAULT_POLICY */
    uint64_t doc_maxmemory;   /* bytes for document content; 0: do not keep documents */
    char url[STRATA_CACHE_URL_MAX]; /* "" embedded, or redis://[[user]:password@]HOST[:PORT][/DB] */
    uint64_t reserved[8];     /* zero */
} strata_cache_config;
STRATA_API int strata_cache_config_get(strata *db, strata_cache_config *out);
/* STRATA_EINVAL (bad policy, malformed url, reserved fields), STRATA_EIO (the
 * server at url cannot be reached; nothing changed). With a url, maxmemory and
 * policy changes are sent to that server (CONFIG SET). */
STRATA_API int strata_cache_config_set(strata *db, const strata_cache_config *cfg);

/* ---- hot tier over the network: a RESP server for the store ----
 * The server behind `strata serve`, for applications that want to serve their open
 * store too: a single-threaded epoll loop speaking RESP2 and RESP3 (Redis's
 * protocol), with the cache commands, PING/ECHO/AUTH/HELLO/SELECT/INFO/CONFIG/
 * CLIENT/COMMAND/QUIT and the store under STRATA.* (doc/format/resp.md lists them).
 * It listens on TCP and on a unix socket (default DIR/strata.sock, mode 0600) that
 * the strata CLI uses to reach a store the server holds. Clients on the unix socket
 * need no AUTH: the socket's mode and folder are its access control.
 * Commands that commit or compute long (STRATA.DOCPUT, SEARCH, SQL, BACKUP, ...) run
 * on worker threads that strata_server_open starts, so the loop keeps serving and
 * concurrent commits are grouped. STRATA.SQL runs as
 * STRATA_SQL_UNTRUSTED: from its first use, DuckDB's external file access stays off
 * for this store until strata_close (export Parquet before serving SQL). */
#define STRATA_SERVER_DEFAULT_PORT       6380
#define STRATA_SERVER_DEFAULT_MAXCLIENTS 10000
#define STRATA_SERVER_DEFAULT_MAX_BULK   (512ull << 20)  /* proto-max-bulk-len */
#define STRATA_SERVER_DEFAULT_MAX_ARGS   (1024 * 1024)   /* arguments of one command */
#define STRATA_SERVER_DEFAULT_MAX_QUERY  (1024ull << 20) /* client-query-buffer-limit */
#define STRATA_SERVER_SOCKET_NAME        "strata.sock"

typedef struct strata_server strata_server; /* opaque */
typedef struct strata_server_opts {
    const char *bind;         /* NULL: "127.0.0.1". A non-loopback address needs requirepass */
    int port;                 /* 0: any free port (strata_server_port tells which); -1: no TCP */
    const char *unix_socket;  /* NULL: DIR/strata.sock; "": none */
    const char *requirepass;  /* NULL or "": no AUTH on TCP */
    uint32_t maxclients;      /* 0: STRATA_SERVER_DEFAULT_MAXCLIENTS */
    uint32_t max_args;        /* 0: STRATA_SERVER_DEFAULT_MAX_ARGS */
    uint64_t max_bulk;        /* 0: STRATA_SERVER_DEFAULT_MAX_BULK */
    uint64_t max_query;       /* 0: STRATA_SERVER_DEFAULT_MAX_QUERY (must exceed max_bulk) */
    uint64_t reserved[8];     /* zero */
} strata_server_opts;
/* Defaults: 127.0.0.1, port STRATA_SERVER_DEFAULT_PORT, DIR/strata.sock, no AUTH. */
STRATA_API strata_server_opts strata_server_opts_default(void);
/* Bind the sockets (nothing is served until strata_server_run). The server uses db
 * until strata_server_close; close the server before the store. Errors:
 * STRATA_EINVAL (bad options; a non-loopback bind without requirepass),
 * STRATA_EBUSY (address or socket in use), STRATA_EACCES, STRATA_EIO, STRATA_ENOMEM. */
STRATA_API int strata_server_open(strata *db, const strata_server_opts *opts, strata_server **out);
/* The TCP port bound (useful after port 0); -1 when there is no TCP listener. */
STRATA_API int strata_server_port(strata_server *srv, int *port);
/* Serve in the calling thread until strata_server_stop. */
STRATA_API int strata_server_run(strata_server *srv);
/* Ask strata_server_run to return: it stops accepting, sends what is already
 * answered, closes every connection. Async-signal-safe; any thread. */
STRATA_API int strata_server_stop(strata_server *srv);
/* Close sockets and connections, remove the unix socket. Not while run is running.
 * NULL is a no-op. */
STRATA_API void strata_server_close(strata_server *srv);

/* ---- analytics ----
 * Metrics live in DIR/analytics.duckdb (DuckDB): the ADR's tables query_metrics,
 * embedding_metrics, reranking_metrics and system_metrics (same columns and types),
 * op_metrics (the built-in instrumentation: every public operation is counted, by
 * outcome, in op_metrics_hourly; one in 128 is also kept with its latency as an
 * op_metrics row), and an hourly rollup of each; doc/format/analytics.md describes
 * them all.
 *
 * Recording never waits for the disk: strata_metric_* validate the record and copy it
 * into a bounded in-memory buffer (< 1 us); a background thread appends batches
 * through DuckDB's appender and updates the hourly rollups in the same transaction,
 * within about half a second. When the buffer is full, metric_when_full decides:
 * STRATA_METRIC_DROP (default) drops the record, counts it in
 * strata_analytics_stats.dropped and returns STRATA_OK; STRATA_METRIC_BLOCK waits for
 * room. A failed write (a full disk) keeps the batch in memory and retries it;
 * strata_metric_flush reports the failure, strata_close makes a last attempt.
 * Every call below returns STRATA_EMISUSE under STRATA_ANALYTICS_OFF, and the error
 * of analytics.duckdb's open if DuckDB could not open it (the rest of the store works
 * regardless). */
#define STRATA_DEFAULT_ANALYTICS_MEMORY (1ull << 30) /* DuckDB memory_limit (ADR: 1 GB) */
#define STRATA_DEFAULT_ANALYTICS_THREADS 4           /* DuckDB threads (ADR), capped at the cores */
#define STRATA_DEFAULT_METRIC_BUFFER 65536           /* records (128 bytes each) */
#define STRATA_METRIC_BUFFER_MIN 64
#define STRATA_METRIC_BUFFER_MAX (1 << 24)
#define STRATA_DEFAULT_METRIC_RETENTION_DAYS 30      /* raw rows; the hourly rollups stay */
#define STRATA_DEFAULT_METRIC_SAMPLE_S 60            /* system_metrics sampling period */
#define STRATA_METRIC_TEXT_MAX 1024                  /* bytes in a metric's text field */
#define STRATA_METRIC_TIME_MAX 253402300799999LL     /* 9999-12-31T23:59:59.999Z */

enum strata_analytics_flags {            /* strata_options.analytics_flags */
    STRATA_ANALYTICS_OFF = 1,            /* no analytics.duckdb, no thread */
    STRATA_ANALYTICS_NO_INSTRUMENTATION = 2, /* public operations record nothing in op_metrics */
    STRATA_ANALYTICS_NO_SAMPLER = 4,     /* no periodic storage/cache samples in system_metrics */
    STRATA_ANALYTICS_SEALED = 8          /* DuckDB's external file access off from the start */
};
enum strata_metric_full { STRATA_METRIC_DROP = 0, STRATA_METRIC_BLOCK = 1 };

/* One row of each ADR table. timestamp_ms 0 means now (the store's clock); otherwise
 * 1..STRATA_METRIC_TIME_MAX. Text fields are required (NULL is STRATA_EINVAL), UTF-8,
 * at most STRATA_METRIC_TEXT_MAX bytes; numbers must be finite. FLOAT columns keep
 * single precision. */
typedef struct strata_query_metric {
    int64_t timestamp_ms;
    const char *query_type;
    double latency_ms;
    int32_t result_count;
    int success;                      /* 0 or 1 */
    const char *retrieval_strategy;
} strata_query_metric;
typedef struct strata_embedding_metric {
    int64_t timestamp_ms;
    const char *model_name;
    double embedding_time_ms;
    int32_t text_length;
    int32_t dimension;
} strata_embedding_metric;
typedef struct strata_reranking_metric {
    int64_t timestamp_ms;
    const char *query_type;
    int32_t document_count;
    double rerank_time_ms;
    double quality_score;
} strata_reranking_metric;
typedef struct strata_system_metric {
    int64_t timestamp_ms;
    const char *metric_name;
    double metric_value;
    const char *metric_unit;
} strata_system_metric;

STRATA_API int strata_metric_query(strata *db, const strata_query_metric *m);
STRATA_API int strata_metric_embedding(strata *db, const strata_embedding_metric *m);
STRATA_API int strata_metric_reranking(strata *db, const strata_reranking_metric *m);
STRATA_API int strata_metric_system(strata *db, const strata_system_metric *m);
/* Record a row given as a JSON object with the table's fields ("query_metrics",
 * "embedding_metrics", "reranking_metrics" or "system_metrics"): strings, numbers
 * (integers where the column is INTEGER), true/false for success; "timestamp" is
 * optional (ms since the epoch). A missing, unknown or mistyped field is
 * STRATA_EINVAL naming it. */
STRATA_API int strata_metric_record_json(strata *db, const char *table, const char *json);
/* Wait until every record made before the call is written to analytics.duckdb.
 * A write failure (STRATA_ENOSPC, STRATA_EIO, ...) is returned with DuckDB's message;
 * the records stay buffered and are retried. */
STRATA_API int strata_metric_flush(strata *db);

typedef struct strata_analytics_stats {
    uint64_t query_rows, embedding_rows, reranking_rows, system_rows, op_rows; /* raw rows now */
    uint64_t hourly_rows;     /* rows of the hourly rollups */
    uint64_t recorded;        /* records accepted since open (instrumentation included) */
    uint64_t written;         /* records written to analytics.duckdb since open */
    uint64_t dropped;         /* records dropped because the buffer was full */
    uint64_t pending;         /* records buffered, not yet written */
    uint64_t failed_flushes;  /* write attempts that failed (and were retried) */
    uint64_t buffer_capacity; /* records the buffer holds */
    int last_error;           /* STRATA_* of the last failed write; 0: none */
    int sealed;               /* 1: external file access is off */
    uint64_t reserved[8];
} strata_analytics_stats;
STRATA_API int strata_analytics_stats_get(strata *db, strata_analytics_stats *out);

/* ---- SQL over analytics.duckdb ----
 * Values travel as bound parameters, never as text pasted into SQL. A parameter with
 * a name binds DuckDB's $name; without, the i-th unnamed one binds $i+1 (or the i-th
 * ?). Every parameter of the statement must be bound, and every given one used.
 * STRATA_PARAM_LITERAL is text converted to the type DuckDB infers for the parameter
 * (where the statement leaves it open: an integer, decimal, true/false or null literal
 * binds as that type, anything else as text); a value that does not convert is
 * STRATA_EINVAL with DuckDB's message. */
enum strata_type {
    STRATA_TYPE_NULL = 0, STRATA_TYPE_INT, STRATA_TYPE_DOUBLE, STRATA_TYPE_TEXT,
    STRATA_TYPE_BOOL, STRATA_TYPE_TIMESTAMP, /* ms since the epoch */
    STRATA_TYPE_OTHER,                       /* lists, structs, ...: CAST them to VARCHAR in SQL */
    STRATA_PARAM_LITERAL                     /* parameters only */
};
typedef struct strata_param {
    const char *name;   /* "limit" for $limit; NULL: positional */
    int type;           /* enum strata_type */
    int64_t i;          /* INT, BOOL (0/1), TIMESTAMP (ms) */
    double d;           /* DOUBLE */
    const char *s;      /* TEXT, LITERAL (NUL-terminated UTF-8) */
} strata_param;
#define STRATA_P_INT(name, v)    ((strata_param){ (name), STRATA_TYPE_INT, (v), 0, NULL })
#define STRATA_P_DOUBLE(name, v) ((strata_param){ (name), STRATA_TYPE_DOUBLE, 0, (v), NULL })
#define STRATA_P_TEXT(name, v)   ((strata_param){ (name), STRATA_TYPE_TEXT, 0, 0, (v) })
#define STRATA_P_BOOL(name, v)   ((strata_param){ (name), STRATA_TYPE_BOOL, (v) != 0, 0, NULL })
#define STRATA_P_TIME(name, ms)  ((strata_param){ (name), STRATA_TYPE_TIMESTAMP, (ms), 0, NULL })
#define STRATA_P_NULL(name)      ((strata_param){ (name), STRATA_TYPE_NULL, 0, 0, NULL })
#define STRATA_P_LITERAL(name, text) ((strata_param){ (name), STRATA_PARAM_LITERAL, 0, 0, (text) })

/* A value read from a cursor. `s` (TEXT: UTF-8, BLOB: bytes; `len` bytes plus a NUL)
 * is valid until the next strata_cursor_next or close. */
typedef struct strata_value {
    int type;           /* enum strata_type; STRATA_TYPE_NULL for SQL NULL */
    int64_t i;          /* INT, BOOL, TIMESTAMP (ms) */
    double d;           /* DOUBLE; also INT converted */
    const char *s;
    size_t len;
} strata_value;

typedef struct strata_cursor strata_cursor;

enum strata_sql_flags {
    /* SQL from outside the process (strata serve): DuckDB's external file access is
     * turned off for this store's analytics database before the statement runs (and
     * stays off until the store is closed: DuckDB cannot turn it back on), and only a
     * single read-only SELECT is accepted. */
    STRATA_SQL_UNTRUSTED = 1
};

/* Run `sql` on analytics.duckdb. A trusted call may hold several statements
 * separated by ';' (then without parameters): all run in order and the cursor reads
 * the last one's result. Errors: STRATA_EINVAL for SQL DuckDB rejects or a parameter
 * that does not fit (strata_errmsg gives DuckDB's message), STRATA_EACCES for a file
 * access refused, STRATA_ENOSPC/STRATA_EIO for writes that failed. *out is NULL on
 * failure; close it with strata_cursor_close. A cursor belongs to one thread at a time. */
STRATA_API int strata_sql(strata *db, const char *sql, const strata_param *params, size_t nparams,
                          unsigned flags, strata_cursor **out);
/* Advance to the next row: *has_row = 1, or 0 at the end. An error raised while the
 * query runs (a conversion, say) is returned here with DuckDB's message. */
STRATA_API int strata_cursor_next(strata_cursor *c, int *has_row);
/* Columns: count, name (valid until close), type (enum strata_type; OTHER for types
 * the cursor does not convert). Out-of-range columns: 0, NULL, -1. */
STRATA_API size_t strata_cursor_column_count(const strata_cursor *c);
STRATA_API const char *strata_cursor_column_name(const strata_cursor *c, size_t col);
STRATA_API int strata_cursor_column_type(const strata_cursor *c, size_t col);
/* The current row's value of column `col` (after strata_cursor_next gave a row). */
STRATA_API int strata_cursor_value(strata_cursor *c, size_t col, strata_value *out);
/* Typed reads. *is_null (may be NULL) is set to 1 for SQL NULL (and *out to 0/NULL).
 * int64 reads INT, BOOL and TIMESTAMP columns; double also INT; text reads TEXT
 * (len may be NULL). Another column type is STRATA_EINVAL naming both types. */
STRATA_API int strata_cursor_int64(strata_cursor *c, size_t col, int64_t *out, int *is_null);
STRATA_API int strata_cursor_double(strata_cursor *c, size_t col, double *out, int *is_null);
STRATA_API int strata_cursor_text(strata_cursor *c, size_t col, const char **out, size_t *len, int *is_null);
STRATA_API int strata_cursor_bool(strata_cursor *c, size_t col, int *out, int *is_null);
STRATA_API int strata_cursor_timestamp(strata_cursor *c, size_t col, int64_t *ms, int *is_null);
/* Release the cursor (and the query behind it). NULL is a no-op. */
STRATA_API void strata_cursor_close(strata_cursor *c);

/* ---- the ADR's common queries ----
 * A window is [from_ms, to_ms); to_ms 0 means no upper bound, and from_ms = to_ms = 0
 * means the last 24 hours by the store's clock. They read the hourly rollups, so they
 * stay fast at millions of rows. */
typedef struct strata_query_stats {
    uint64_t total_queries;
    double avg_latency_ms;    /* 0 when total_queries is 0 */
    double success_rate;      /* 0..1; 0 when total_queries is 0 */
    uint64_t reserved[4];
} strata_query_stats;
/* ADR latest_query_stats: exact (the window's partial hours are read from raw rows). */
STRATA_API int strata_analytics_query_stats(strata *db, int64_t from_ms, int64_t to_ms, strata_query_stats *out);
/* One row per retrieval_strategy: retrieval_strategy, count, avg_ms, p50_ms, p95_ms,
 * p99_ms, max_ms. Whole hours overlapping the window; percentiles from log-linear
 * histograms (within 1.6% of the exact value). */
STRATA_API int strata_analytics_latency_percentiles(strata *db, int64_t from_ms, int64_t to_ms, strata_cursor **out);
/* One row per model_name: model_name, embeddings, text_chars, avg_time_ms,
 * embeddings_per_s and chars_per_s (per second of embedding time). Whole hours. */
STRATA_API int strata_analytics_embedding_throughput(strata *db, int64_t from_ms, int64_t to_ms, strata_cursor **out);
/* The hourly rollup of `table` ("query_metrics", "embedding_metrics",
 * "reranking_metrics", "system_metrics" or "op_metrics") for the hours overlapping the
 * window, oldest first; columns per table in doc/format/analytics.md. */
STRATA_API int strata_analytics_hourly(strata *db, const char *table, int64_t from_ms, int64_t to_ms,
                                       strata_cursor **out);

/* Retention: delete raw metric rows older than metric_retention_days (whole hours;
 * their hourly rollups, kept as rows are recorded, stay). Runs by itself every hour;
 * this runs it now. *deleted (may be NULL) receives the rows deleted. */
STRATA_API int strata_analytics_retain(strata *db, uint64_t *deleted);
/* Export every metric table and rollup as Parquet in hive layout,
 * DIR/table=NAME/day=YYYY-MM-DD/data_0.parquet, from one consistent snapshot (after a
 * flush). DIR must not exist or be empty (STRATA_EEXIST). Works on a sealed store.
 * *files (may be NULL) receives the number of Parquet files written. */
STRATA_API int strata_analytics_export(strata *db, const char *dir, uint64_t *files);

/* ---- statistics ---- */
typedef struct strata_stats {
    int format_version;
    uint64_t lsn;                 /* LSN of the last commit (0: none yet) */
    uint64_t commits;             /* commits made through this handle */
    uint64_t group_commits;       /* fsyncs those commits needed (<= commits) */
    uint64_t settings;
    uint64_t sessions;
    uint64_t documents;
    uint64_t contents;            /* distinct contents (after dedup) */
    uint64_t doc_raw_bytes;       /* sum of document sizes */
    uint64_t doc_stored_bytes;    /* bytes of live content in segments */
    uint64_t segments;
    uint64_t segment_bytes;       /* segment files on disk */
    uint64_t operational_bytes;   /* operational.db with its WAL */
    uint64_t total_bytes;         /* every file of the store */
    uint64_t reserved[11];
} strata_stats;
STRATA_API int strata_stats_get(strata *db, strata_stats *out);

/* ---- JSON helper exposed for tools: 1 if `s` (len bytes) is valid JSON ---- */
STRATA_API int strata_json_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* STRATA_H */
