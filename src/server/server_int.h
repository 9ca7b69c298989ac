/* server_int.h — what the event loop (server.c) and the command table
 * (commands.c) share: the server and client structures. */
#ifndef STRATA_SERVER_INT_H
#define STRATA_SERVER_INT_H
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include "server/server.h"

#define SRV_OUT_SOFT (1u << 20)  /* pending reply bytes above which a client's input waits */
#define SRV_READ_CHUNK (16 * 1024)
#define SRV_NAME_MAX 256
#define SRV_WORKERS 32            /* threads for jobs: enough for commits to group (one fsync for many) */

typedef struct srv_job srv_job;
typedef struct client client;
typedef void cmd_fn(client *c, int argc, char **argv, size_t *lens);

typedef struct client {
    struct strata_server *srv;
    int fd;
    int is_unix;
    uint64_t id;
    char addr[64];
    char *qbuf;            /* received bytes; the current request starts at qstart */
    size_t qlen, qcap, qstart;
    resp_parser ps;
    char **argv;           /* the request being executed */
    size_t *lens, argcap;
    rbuf out;              /* replies; bytes before opos are sent */
    size_t opos;
    int proto;             /* 2 or 3 (HELLO) */
    int authed;
    int close_after;       /* close once the replies are out (QUIT, protocol error) */
    int blocked;           /* input waits until the replies drain */
    int closed;
    unsigned events;       /* epoll interest now registered */
    char name[SRV_NAME_MAX];
    int64_t ctime_ms, atime_ms;
    const char *lastcmd;   /* name of the last command (static), or NULL */
    srv_job *job;          /* a slow command running on the worker: input waits */
    int in_multi;          /* MULTI seen: commands are queued in mq until EXEC */
    int multi_dirty;       /* a command was refused while queuing: EXEC aborts */
    int in_exec;           /* EXEC is running the queue: jobs run inline */
    rbuf mq;               /* queued commands: argc, then each argument's length and bytes */
    size_t mq_n;
    struct client *prev, *next;
} client;

typedef struct srv_cmd srv_cmd;

struct strata_server {
    strata *db;
    int epfd, lfd, ufd, efd;
    int spare_fd;               /* kept open to refuse connections when out of descriptors */
    int port;
    char bind[256];
    char *pass;                 /* NULL: no AUTH */
    char unix_path[4096];       /* as given / DIR/strata.sock */
    char unix_bind[108];        /* the path bind() used (a /proc/self/fd alias when long); sun_path size */
    int unix_dirfd;
    dev_t unix_dev;
    ino_t unix_ino;
    uint32_t maxclients, nclients;
    uint64_t max_bulk, max_query, max_args;
    uint64_t next_id;
    client *clients;
    client *dead;               /* closed during this loop turn; freed after it */
    atomic_int stop;
    int running;
    /* statistics (INFO) */
    uint64_t conns_total, cmds_total, rejected, net_in, net_out;
    int64_t start_ms;
    uint64_t start_mono_ms;
    uint64_t sample_ms, sample_cmds;
    uint64_t ops_per_sec;
    uint64_t peak_memory;
    /* commands */
    const srv_cmd **table;
    size_t table_mask;
    char *dir;                  /* the store's folder (backups default to DIR/backups) */
    /* the worker threads for slow commands and commits (jobs.c) */
    pthread_t workers[SRV_WORKERS];
    int nworkers, jfd;
    pthread_mutex_t jmu;
    pthread_cond_t jcv;         /* a job was queued, or stop */
    pthread_cond_t jidle;       /* the last running job finished */
    srv_job *jq, *jq_tail;      /* waiting, oldest first */
    size_t jq_bytes;            /* their arguments' bytes */
    int jheavy;                 /* heavy jobs running */
    srv_job *jdone;             /* finished, replies not yet delivered */
    int jbusy, jstop;           /* jobs running; stop asked */
};

/* ---- jobs.c: commands that wait on the disk or compute long (commits, search, SQL,
 * backups) run on a pool of worker threads, so the event loop keeps serving everyone
 * else and concurrent commits share fsyncs (the store's group commit). The client
 * that asked waits: its later requests are not read until the job's reply is
 * delivered, so each client's replies stay in order. `run` works on a worker and
 * builds the whole reply in j->out; it may use only j (and the store, which is
 * thread-safe), never the client. */
typedef void srv_job_fn(srv_job *j);
struct srv_job {
    client *c;            /* the waiting client; NULL once it is gone (loop thread only) */
    struct strata_server *srv; /* read-only on the worker: db, dir */
    int proto;
    int is_unix;
    srv_job_fn *run;
    void *arg;            /* owned; released with free_arg (may be NULL) */
    void (*free_arg)(void *arg);
    int heavy;            /* SRV_JOB_HEAVY: counts against SRV_HEAVY_MAX */
    int cancel;           /* SRV_JOB_READONLY: dropped if its client leaves while it waits */
    size_t bytes;         /* what the queue holds for it (arguments) */
    rbuf out;
    srv_job *next;
};
enum { SRV_JOB_HEAVY = 1, SRV_JOB_READONLY = 2 };
#define SRV_HEAVY_MAX 2                     /* SQL queries and backups running at once */
#define SRV_QUEUE_MAX_BYTES ((size_t)1 << 30) /* queued arguments before "server busy" */
int srv_jobs_init(struct strata_server *s);      /* the worker and its eventfd (s->jfd) */
void srv_jobs_stop(struct strata_server *s);     /* join the worker; free what is left */
/* Queue run(arg) for client c (which then waits). On failure arg is released and
 * c gets an error reply. */
void srv_job_submit(client *c, srv_job_fn *run, void *arg, void (*free_arg)(void *arg));
/* The same with SRV_JOB_* flags and the bytes the job's arguments hold. */
void srv_job_submit_ex(client *c, srv_job_fn *run, void *arg, void (*free_arg)(void *arg), unsigned flags,
                       size_t bytes);
/* A leaving client's job: 1 if it was queued and cancellable, and is now freed. */
int srv_job_cancel(struct strata_server *s, srv_job *j);
/* Run a command's handler on a worker, with a copy of its arguments; it replies as
 * on the loop (into the job's buffer, through a stand-in client). */
void srv_job_handler(client *c, cmd_fn *fn, int argc, char **argv, size_t *lens, unsigned flags);
/* Finished jobs (loop thread, after s->jfd turned readable). */
srv_job *srv_jobs_take_done(struct strata_server *s);
/* Shutdown: refuse the queued jobs, wait for the running one; then take_done. */
void srv_jobs_drain(struct strata_server *s);
void srv_job_free(srv_job *j);
void srv_jobs_counts(struct strata_server *s, int *running, size_t *queued); /* for INFO */

/* commands.c */
int srv_commands_init(struct strata_server *s);
void srv_commands_free(struct strata_server *s);
/* Run one request (argc >= 1); replies go to c->out. */
void srv_execute(client *c, int argc, char **argv, size_t *lens);
/* Helpers the command files share. Arguments are not NUL-terminated. */
int srv_eq(const char *a, size_t n, const char *lit);             /* case-insensitive */
int srv_arg_ll(client *c, char *s, size_t n, long long *out);    /* 0 after an error reply */
char *srv_arg_str(client *c, const char *s, size_t n);           /* NUL-terminated copy; NULL after an OOM reply */
void srv_syntax_error(client *c);
void srv_sub_error(client *c, const char *cmd, const char *known, const char *sub, size_t sl);
void srv_reply_fail(client *c, int rc);                          /* "-ERR <the library's message>" */
/* The array of n replies a list call built in `items` (freed), or its failure rc. */
void srv_reply_list(client *c, int rc, rbuf *items, size_t n);

/* store_cmds.c: the STRATA.* namespace */
cmd_fn srv_cmd_docput, srv_cmd_docget, srv_cmd_docdel, srv_cmd_docexists, srv_cmd_docmeta, srv_cmd_doclist,
    srv_cmd_stats, srv_cmd_setting, srv_cmd_session, srv_cmd_metric;
/* vec_cmds.c: STRATA.VEC and STRATA.SEARCH; job_cmds.c: STRATA.SQL and STRATA.BACKUP */
cmd_fn srv_cmd_vec, srv_cmd_search, srv_cmd_sql, srv_cmd_backup;

/* server.c */
uint64_t srv_mono_ms(void);
int64_t srv_real_ms(void);
#endif
