/* internal.h — the store handle and what store.c shares with the other parts of the
 * library's front (the public functions in src/ files). Backends never include it. */
#ifndef STRATA_INTERNAL_H
#define STRATA_INTERNAL_H
#include <pthread.h>
#include <stdarg.h>
#include "strata.h"
#include "operational/op.h"
#include "docs/docs.h"

#define STRATA_ERRMSG_MAX 1024

/* A write buffered in a transaction, applied by the commit leader. */
typedef enum {
    TXOP_SETTING_SET, TXOP_SETTING_DEL,
    TXOP_SESSION_CREATE, TXOP_SESSION_PUT, TXOP_SESSION_TOUCH, TXOP_SESSION_DEL,
    TXOP_SESSION_EXPIRE, TXOP_DOC_PUT, TXOP_DOC_DEL, TXOP_VEC
} txop_kind;

/* A vector write (api_vec.c applies it in the leader). */
enum { VECOP_CREATE, VECOP_DROP, VECOP_PUT, VECOP_DEL };
typedef struct vec_op {
    int kind;
    char coll[72];
    void *id; size_t id_len;
    float *v; uint32_t dim;
    op_coll create;           /* VECOP_CREATE: the collection's parameters */
} vec_op;

/* A document write: the catalogue row to apply. For a put, either `appended` (this
 * txn wrote the run at p.content) or a reference by hash to existing content. */
typedef struct doc_op {
    op_doc_put p;
    void *id;
    char *meta, *filename;
    int appended;
} doc_op;

typedef struct txop {
    txop_kind kind;
    char *key;        /* setting key or session id */
    char *val;        /* JSON text, may be NULL */
    int64_t num;      /* ttl_s, or idle ttl for expire */
    uint64_t result;  /* out: rows expired */
    doc_op *doc;      /* TXOP_DOC_*: owned */
    vec_op *vec;      /* TXOP_VEC: owned */
} txop;

/* Life of a transaction:
 *
 *   begin --> OPEN --commit--> QUEUED --leader applies--> DONE (rc, lsn, msg) --> freed
 *               \--abort--> freed
 */
struct strata_txn {
    strata *db;
    txop *ops;
    uint32_t nops, cap;
    int queued, done;    /* guarded by db->commit_mu */
    int rc;
    uint64_t lsn;
    uint64_t *result_out; /* single-op writes: where op.result goes */
    struct strata_txn *next;
    char msg[STRATA_ERRMSG_MAX];
};

typedef struct errbuf { struct errbuf *next; char msg[STRATA_ERRMSG_MAX]; } errbuf;

struct strata {
    char *dir;
    int lock_fd;
    strata_options opts;
    op_db *op;
    docs *docs;
    struct vecs *vecs;         /* vector collections (api_vec.c) */
    struct cache *cache;       /* the hot tier (src/cache/cache.h) */
    struct analytics *an;      /* metrics in analytics.duckdb (src/analytics/analytics.h); NULL: off */

    pthread_mutex_t touch_mu;  /* last-access times waiting for the next commit */
    struct touch { void *id; size_t len; int64_t at; } *touches;
    size_t ntouches;
    uint64_t undict_bytes;     /* raw bytes stored without a dictionary (auto-training) */
    int dict_training;         /* guarded by touch_mu */

    pthread_mutex_t read_mu;   /* the reader connection */
    pthread_mutex_t write_mu;  /* the writer connection; held by the commit leader */

    pthread_mutex_t commit_mu; /* queue, leader flag, poison, counters */
    pthread_cond_t commit_cv;
    strata_txn *queue_head, *queue_tail;
    int leader;
    int poisoned;              /* a commit failed in a way that leaves state unknown */
    char poison_msg[256];
    uint64_t commits, group_commits;

    pthread_mutex_t maint_mu;  /* compaction and backups exclude each other */
    pthread_mutex_t sched_mu;  /* the backup schedule's thread */
    pthread_cond_t sched_cv;
    pthread_t sched_thread;
    int sched_started, sched_stop;
    uint64_t sched_runs;       /* backups attempted by the schedule (tests wait on it) */

    pthread_key_t err_key;     /* per-thread message buffer for this handle */
    pthread_mutex_t err_mu;
    errbuf *errbufs;
};

/* Record a formatted message for the calling thread on db and return code. */
int strata__err(strata *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int64_t strata__now(strata *db);

/* Validation shared by every public entry point. */
int strata__check_key(strata *db, const char *what, const char *key);
int strata__check_json(strata *db, const char *what, const char *json, int object);

/* Backups: DIR/backups, and the automatic schedule (api_backup.c). */
char *strata__backup_default_dest(strata *db);
int strata__backup_sched_start(strata *db);
void strata__backup_sched_stop(strata *db);

/* Analytics: started last at open, flushed and stopped last at close (api_analytics.c). */
int strata__analytics_open(strata *db, char *err, size_t errlen);
int strata__analytics_close(strata *db);

/* Vectors (api_vec.c): open/close, and the leader's side of the commit protocol. */
int strata__vec_open(strata *db, char *err, size_t errlen);
int strata__vec_close(strata *db);
int strata__vec_apply(strata *db, strata_txn *t, vec_op *o, int64_t now);
int strata__vec_doc_deleted(strata *db, strata_txn *t, const void *id, size_t len);
void strata__vec_member_begin(strata *db);
void strata__vec_member_abort(strata *db);
int strata__vec_precommit(strata *db);
void strata__vec_batch_end(strata *db, int committed);
int strata__vec_check(strata *db, void (*problem)(void *, const char *), void *ctx);
const char *strata__vec_dir(strata *db);

/* Remember that a document was read (flushed by the next commit, or at close). */
void strata__touch(strata *db, const void *id, size_t len);
void strata__txop_free(txop *op);

/* Queue an op on txn, or, when txn is NULL, run it as its own transaction.
 * Takes ownership of key and val (malloc'd), even on failure. */
int strata__write(strata *db, strata_txn *txn, txop op, uint64_t *result);
#endif
