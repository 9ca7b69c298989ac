/* jobs.c — worker threads for the commands that must not hold up the event loop:
 * those that commit (each waits for an fsync), search, SQL and backups. Redis's
 * BGSAVE idea, with the reply delivered when the work is done.
 *
 * The loop queues a job and the client waits (its later requests stay unread, so
 * its replies keep their order); everyone else is served meanwhile. SRV_WORKERS
 * threads take jobs oldest first, so commits from many clients are in flight at once
 * and the store's group commit gives them one fsync. A worker builds the whole reply
 * in the job, moves it to the done list and writes the eventfd; the loop then appends
 * the reply to the client's output and resumes its input. A client that disconnects
 * meanwhile loses only the reply: the job finishes (a backup is never cut short).
 *
 * Inside EXEC (MULTI) a job runs at once on the loop: a transaction's replies are
 * one array, built in order.
 *
 * Only the loop thread touches job->c and the clients; the worker touches only the
 * job's own fields and the store. Queue, done list and flags are under jmu. */
#include "server/server_int.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void srv_job_free(srv_job *j) {
    if (!j) return;
    if (j->free_arg) j->free_arg(j->arg);
    free(j->out.p);
    free(j);
}

/* Unlink j from the queue (jmu held); prev is its predecessor or NULL. */
static void unqueue(strata_server *s, srv_job *prev, srv_job *j) {
    if (prev) prev->next = j->next;
    else s->jq = j->next;
    if (s->jq_tail == j) s->jq_tail = prev;
    j->next = NULL;
    s->jq_bytes -= j->bytes;
}

/* The oldest queued job this worker may start (jmu held): a heavy one only while
 * fewer than SRV_HEAVY_MAX run, so queries and backups never take every worker. */
static srv_job *pick(strata_server *s) {
    for (srv_job *j = s->jq, *prev = NULL; j; prev = j, j = j->next)
        if (!j->heavy || s->jheavy < SRV_HEAVY_MAX) {
            unqueue(s, prev, j);
            return j;
        }
    return NULL;
}

static void *worker_main(void *arg) {
    strata_server *s = arg;
    pthread_mutex_lock(&s->jmu);
    for (;;) {
        srv_job *j = NULL;
        while (!s->jstop && !(j = pick(s))) pthread_cond_wait(&s->jcv, &s->jmu);
        if (!j) break; /* stop: srv_jobs_stop frees what is still queued */
        s->jbusy++;
        s->jheavy += j->heavy;
        pthread_mutex_unlock(&s->jmu);
        j->run(j);
        pthread_mutex_lock(&s->jmu);
        s->jbusy--;
        s->jheavy -= j->heavy;
        if (j->heavy && s->jq) pthread_cond_signal(&s->jcv); /* a queued heavy job may start now */
        j->next = s->jdone;
        s->jdone = j;
        if (s->jbusy == 0) pthread_cond_broadcast(&s->jidle); /* srv_jobs_drain may wait for this */
        uint64_t one = 1;
        (void)!write(s->jfd, &one, sizeof one);
    }
    pthread_mutex_unlock(&s->jmu);
    return NULL;
}

int srv_jobs_init(strata_server *s) {
    if ((s->jfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) return STRATA_EIO;
    if (pthread_mutex_init(&s->jmu, NULL) != 0) return STRATA_ENOMEM;
    if (pthread_cond_init(&s->jcv, NULL) != 0) {
        pthread_mutex_destroy(&s->jmu);
        return STRATA_ENOMEM;
    }
    if (pthread_cond_init(&s->jidle, NULL) != 0) {
        pthread_cond_destroy(&s->jcv);
        pthread_mutex_destroy(&s->jmu);
        return STRATA_ENOMEM;
    }
    /* Signals (SIGTERM for `strata serve`) belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = 0;
    while (s->nworkers < SRV_WORKERS && (e = pthread_create(&s->workers[s->nworkers], NULL, worker_main, s)) == 0)
        s->nworkers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s->nworkers == 0) { /* fewer threads than asked still work; none does not */
        pthread_cond_destroy(&s->jidle);
        pthread_cond_destroy(&s->jcv);
        pthread_mutex_destroy(&s->jmu);
        return e == EAGAIN ? STRATA_ENOMEM : STRATA_EIO;
    }
    return STRATA_OK;
}

void srv_jobs_stop(strata_server *s) {
    if (s->nworkers) {
        pthread_mutex_lock(&s->jmu);
        s->jstop = 1;
        pthread_cond_broadcast(&s->jcv);
        pthread_mutex_unlock(&s->jmu);
        for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL); /* running jobs finish first */
        s->nworkers = 0;
        pthread_cond_destroy(&s->jidle);
        pthread_cond_destroy(&s->jcv);
        pthread_mutex_destroy(&s->jmu);
    }
    for (srv_job **list = &s->jq; list; list = list == &s->jq ? &s->jdone : NULL)
        while (*list) {
            srv_job *j = *list;
            *list = j->next;
            srv_job_free(j);
        }
    s->jq_tail = NULL;
    if (s->jfd >= 0) close(s->jfd);
    s->jfd = -1;
}

void srv_job_submit(client *c, srv_job_fn *run, void *arg, void (*free_arg)(void *arg)) {
    srv_job_submit_ex(c, run, arg, free_arg, 0, 0);
}

void srv_job_submit_ex(client *c, srv_job_fn *run, void *arg, void (*free_arg)(void *arg), unsigned flags,
                       size_t bytes) {
    strata_server *s = c->srv;
    srv_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (free_arg) free_arg(arg);
        rb_error(&c->out, "ERR out of memory");
        return;
    }
    *j = (srv_job){ .c = c, .srv = s, .proto = c->proto, .is_unix = c->is_unix, .run = run,
                    .arg = arg, .free_arg = free_arg, .heavy = (flags & SRV_JOB_HEAVY) != 0,
                    .cancel = (flags & SRV_JOB_READONLY) != 0, .bytes = bytes };
    if (c->in_exec) { /* inside EXEC the transaction's replies are built in one go */
        run(j);
        if (j->out.oom) rb_error(&c->out, "ERR out of memory");
        else rb_raw(&c->out, j->out.p, j->out.len);
        srv_job_free(j);
        return;
    }
    pthread_mutex_lock(&s->jmu);
    if (s->jq && s->jq_bytes + bytes > SRV_QUEUE_MAX_BYTES) { /* one job, however large, always fits */
        pthread_mutex_unlock(&s->jmu);
        srv_job_free(j);
        rb_error(&c->out, "ERR server busy: %zu MiB of commands wait for the workers; retry later",
                 (size_t)(SRV_QUEUE_MAX_BYTES >> 20));
        return;
    }
    c->job = j;
    s->jq_bytes += bytes;
    if (s->jq_tail) s->jq_tail->next = j;
    else s->jq = j;
    s->jq_tail = j;
    pthread_cond_signal(&s->jcv);
    pthread_mutex_unlock(&s->jmu);
}

int srv_job_cancel(strata_server *s, srv_job *j) {
    if (!j->cancel) return 0;
    pthread_mutex_lock(&s->jmu);
    srv_job *prev = NULL, *x = s->jq;
    while (x && x != j) {
        prev = x;
        x = x->next;
    }
    if (x) unqueue(s, prev, j);
    pthread_mutex_unlock(&s->jmu);
    if (!x) return 0; /* running or done: it finishes, and its reply is dropped */
    srv_job_free(j);
    return 1;
}

srv_job *srv_jobs_take_done(strata_server *s) {
    uint64_t n;
    (void)!read(s->jfd, &n, sizeof n);
    pthread_mutex_lock(&s->jmu);
    srv_job *done = s->jdone;
    s->jdone = NULL;
    pthread_mutex_unlock(&s->jmu);
    return done;
}

void srv_jobs_drain(strata_server *s) {
    pthread_mutex_lock(&s->jmu);
    while (s->jq) {
        srv_job *j = s->jq;
        unqueue(s, NULL, j);
        rb_error(&j->out, "ERR the server is shutting down");
        j->next = s->jdone;
        s->jdone = j;
    }
    s->jq_tail = NULL;
    while (s->jbusy) pthread_cond_wait(&s->jidle, &s->jmu);
    pthread_mutex_unlock(&s->jmu);
}

/* ---- a command's handler on a worker ---- */
typedef struct handler_arg {
    cmd_fn *fn;
    int argc;
    char **argv;
    size_t *lens;
} handler_arg;

static void handler_run(srv_job *j) {
    handler_arg *a = j->arg;
    /* A stand-in client: handlers of STRATA.* commands use only these fields. */
    client shim = { .srv = j->srv, .fd = -1, .is_unix = j->is_unix, .proto = j->proto, .authed = 1, .in_exec = 1 };
    a->fn(&shim, a->argc, a->argv, a->lens);
    j->out = shim.out;
}

void srv_job_handler(client *c, cmd_fn *fn, int argc, char **argv, size_t *lens, unsigned flags) {
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += lens[i] + 1;
    handler_arg *a = malloc(sizeof *a + (size_t)argc * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (!a) return rb_error(&c->out, "ERR out of memory");
    a->fn = fn;
    a->argc = argc;
    a->argv = (char **)(a + 1);
    a->lens = (size_t *)(a->argv + argc);
    char *p = (char *)(a->lens + argc);
    for (int i = 0; i < argc; i++) { /* the query buffer moves on: the job keeps copies */
        memcpy(p, argv[i], lens[i]);
        p[lens[i]] = 0;
        a->argv[i] = p;
        a->lens[i] = lens[i];
        p += lens[i] + 1;
    }
    srv_job_submit_ex(c, handler_run, a, free, flags, sizeof *a + bytes);
}

void srv_jobs_counts(strata_server *s, int *running, size_t *queued) {
    size_t n = 0;
    pthread_mutex_lock(&s->jmu);
    for (srv_job *j = s->jq; j; j = j->next) n++;
    *running = s->jbusy;
    pthread_mutex_unlock(&s->jmu);
    *queued = n;
}
