/* server.c — the event loop of `strata serve`: one thread, non-blocking sockets,
 * level-triggered epoll (Redis's ae.c + networking.c, reduced to what one store
 * needs).
 *
 * Each client has a query buffer and a reply buffer. A readable client gets one
 * read (16 KiB, or the rest of a large bulk string in one go), then every complete
 * request in its buffer runs in order (pipelining) and the replies are written at
 * once; what the socket does not take waits for EPOLLOUT. While more than
 * SRV_OUT_SOFT reply bytes wait, the client's remaining requests wait too and its
 * socket is not read: a client that sends without reading holds at most its query
 * buffer and about one megabyte of replies, never the server.
 *
 * Limits are Redis's (resp.c): a protocol error is answered "-ERR Protocol error:
 * ..." and the connection closed after the reply, as is a client whose unprocessed
 * input exceeds max_query. Past maxclients a new connection gets "-ERR max number of
 * clients reached" and is closed. Other clients never notice.
 *
 * Listeners: TCP (loopback unless requirepass is set: Redis's protected mode, made
 * a hard rule) and a unix socket, created under a temporary name, chmod 0600 and
 * renamed into place so it is never reachable with looser rights. A stale socket
 * left by a crashed server is replaced; a live one is refused (EBUSY).
 *
 * Stop: srv_stop writes to an eventfd (async-signal-safe). The loop then stops
 * accepting, gives the replies already computed up to a second to leave, and closes
 * every connection. Every write a client was told succeeded had already been
 * committed by the store, so nothing is lost. */
#include "server/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MARK_TCP ((void *)1)
#define MARK_UNIX ((void *)2)
#define MARK_STOP ((void *)3)
#define MARK_JOB ((void *)4)
#define SHUTDOWN_FLUSH_MS 1000

uint64_t srv_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t srv_real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int errno_status(int e) {
    switch (e) {
    case EADDRINUSE: return STRATA_EBUSY;
    case EACCES: case EPERM: return STRATA_EACCES;
    case ENOMEM: case ENOBUFS: return STRATA_ENOMEM;
    case EADDRNOTAVAIL: case EINVAL: case ENAMETOOLONG: return STRATA_EINVAL;
    default: return STRATA_EIO;
    }
}

/* ---- clients ---- */
static void set_interest(client *c) {
    strata_server *s = c->srv;
    int pending = c->out.len > c->opos;
    /* A client waiting on a job is not read, but its leaving is watched (RDHUP), so a
     * queued read it no longer waits for is dropped. */
    unsigned want = (c->blocked || c->close_after || c->job ? 0u : (unsigned)EPOLLIN) | (pending ? (unsigned)EPOLLOUT : 0u) |
                    (c->job ? (unsigned)EPOLLRDHUP : 0u);
    if (want == c->events) return;
    struct epoll_event ev = { .events = want, .data.ptr = c };
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
}

static void client_close(client *c) {
    if (c->closed) return;
    strata_server *s = c->srv;
    c->closed = 1;
    if (c->job) { /* a queued read is dropped; anything else finishes without anyone to answer */
        if (!srv_job_cancel(s, c->job)) c->job->c = NULL;
        c->job = NULL;
    }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev) c->prev->next = c->next; else s->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nclients--;
    c->next = s->dead; /* freed after this loop turn: events may still name it */
    c->prev = NULL;
    s->dead = c;
}

static void client_free(client *c) {
    free(c->qbuf);
    resp_free(&c->ps);
    free(c->argv);
    free(c->lens);
    free(c->out.p);
    free(c->mq.p);
    free(c);
}

static void process_input(client *c);

/* Send what the socket takes. Returns 0, or -1 when the client is gone. */
static int client_write(client *c) {
    strata_server *s = c->srv;
    for (;;) {
        while (c->out.len > c->opos) {
            ssize_t n = send(c->fd, c->out.p + c->opos, c->out.len - c->opos, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    set_interest(c);
                    return 0;
                }
                client_close(c);
                return -1;
            }
            c->opos += (size_t)n;
            s->net_out += (uint64_t)n;
        }
        c->opos = c->out.len = 0;
        if (c->out.cap > 4 * SRV_OUT_SOFT) { /* a huge reply went out: give the memory back */
            free(c->out.p);
            c->out.p = NULL;
            c->out.cap = 0;
        }
        if (c->close_after) {
            client_close(c);
            return -1;
        }
        if (!c->blocked) break;
        c->blocked = 0;
        process_input(c); /* the requests that waited for the replies to drain */
        if (c->closed) return -1;
        if (c->out.len == 0) break;
    }
    set_interest(c);
    return 0;
}

static int ensure_args(client *c, size_t n) {
    if (n <= c->argcap) return 1;
    size_t cap = c->argcap ? c->argcap : 8;
    while (cap < n) cap *= 2;
    char **a = realloc(c->argv, cap * sizeof *a);
    if (!a) return 0;
    c->argv = a;
    size_t *l = realloc(c->lens, cap * sizeof *l);
    if (!l) return 0;
    c->lens = l;
    c->argcap = cap;
    return 1;
}

/* Run every complete request in the query buffer, unless replies pile up. */
static void process_input(client *c) {
    strata_server *s = c->srv;
    while (!c->close_after && !c->closed && !c->job) {
        if (c->out.len - c->opos > SRV_OUT_SOFT) {
            c->blocked = 1;
            break;
        }
        resp_limits lim = { s->max_bulk, s->max_args, c->authed };
        const char *err = NULL;
        char *req = c->qbuf + c->qstart;
        int rc = resp_parse(&c->ps, req, c->qlen - c->qstart, &lim, &err);
        if (rc == RESP_NEED) break;
        if (rc == RESP_ERR || rc == RESP_NOMEM) {
            rb_error(&c->out, "ERR %s", rc == RESP_ERR ? err : "out of memory");
            c->close_after = 1;
            break;
        }
        size_t argc = c->ps.argc;
        if (argc) {
            if (!ensure_args(c, argc)) {
                rb_error(&c->out, "ERR out of memory");
                c->close_after = 1;
                break;
            }
            for (size_t i = 0; i < argc; i++) {
                c->argv[i] = req + c->ps.argv[i].off;
                c->lens[i] = c->ps.argv[i].len;
            }
            s->cmds_total++;
            srv_execute(c, (int)argc, c->argv, c->lens);
            if (c->out.oom) {
                c->close_after = 1; /* a reply we could not build: no half answers */
                c->out.oom = 0;
            }
        }
        c->qstart += c->ps.pos;
        resp_reset(&c->ps);
    }
    if (c->qstart) {
        memmove(c->qbuf, c->qbuf + c->qstart, c->qlen - c->qstart);
        c->qlen -= c->qstart;
        c->qstart = 0;
    }
}

static void client_read(client *c) {
    strata_server *s = c->srv;
    size_t want = SRV_READ_CHUNK;
    /* A large bulk string in progress is read whole (Redis does the same). */
    if (c->ps.need > c->qlen && c->ps.need - c->qlen > want) want = c->ps.need - c->qlen;
    if (c->qlen + want > c->qcap) {
        size_t cap = c->qcap ? c->qcap : SRV_READ_CHUNK;
        while (cap < c->qlen + want) cap *= 2;
        char *q = realloc(c->qbuf, cap);
        if (!q) {
            client_close(c);
            return;
        }
        c->qbuf = q;
        c->qcap = cap;
    }
    ssize_t n = recv(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen, 0);
    if (n == 0) {
        client_close(c);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) client_close(c);
        return;
    }
    c->qlen += (size_t)n;
    s->net_in += (uint64_t)n;
    c->atime_ms = srv_real_ms();
    if (c->qlen > s->max_query) {
        rb_error(&c->out, "ERR Protocol error: query buffer limit reached (client-query-buffer-limit)");
        c->close_after = 1;
    } else {
        process_input(c);
    }
    if (!c->closed) client_write(c);
}

/* Out of file descriptors, a pending connection would keep the listener readable
 * and the loop spinning: the spare descriptor is given up to accept it, tell it
 * why, and close it; then the spare is taken again. */
static void refuse_one(strata_server *s, int lfd) {
    if (s->spare_fd < 0) return;
    close(s->spare_fd);
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        (void)!send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
        close(fd);
        s->rejected++;
    }
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_all(strata_server *s, int lfd, int is_unix) {
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) refuse_one(s, lfd);
            return; /* EAGAIN, or a transient error: try at the next event */
        }
        s->conns_total++;
        if (s->nclients >= s->maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            (void)!send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
            close(fd);
            s->rejected++;
            continue;
        }
        client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            s->rejected++;
            continue;
        }
        c->srv = s;
        c->fd = fd;
        c->is_unix = is_unix;
        c->id = ++s->next_id;
        c->proto = 2;
        c->authed = is_unix || !s->pass;
        c->ctime_ms = c->atime_ms = srv_real_ms();
        resp_init(&c->ps);
        if (is_unix) {
            snprintf(c->addr, sizeof c->addr, "%s:0", "unix");
        } else {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            char host[INET6_ADDRSTRLEN] = "?";
            int port = 0;
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
                port = ntohs(a->sin_port);
            } else if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
                port = ntohs(a->sin6_port);
            }
            snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->events = EPOLLIN;
        c->next = s->clients;
        if (s->clients) s->clients->prev = c;
        s->clients = c;
        s->nclients++;
    }
}

/* ---- listeners ---- */
static int is_loopback(const struct sockaddr *a) {
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(x)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(x)) return x->s6_addr[12] == 127;
    }
    return 0;
}

static int open_tcp(strata_server *s, int port, char *err, size_t errlen) {
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(s->bind, ps, &hints, &res);
    if (g) {
        snprintf(err, errlen, "bind %s: %s", s->bind, gai_strerror(g));
        return STRATA_EINVAL;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (!is_loopback(a->ai_addr) && !s->pass) {
            freeaddrinfo(res);
            snprintf(err, errlen,
                     "refusing to bind %s, which is not a loopback address, without a password "
                     "(set requirepass, or bind 127.0.0.1)", s->bind);
            return STRATA_EINVAL;
        }
    int rc = STRATA_EIO, fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 511) == 0) break;
        int e = errno;
        rc = errno_status(e);
        snprintf(err, errlen, "bind %s:%d: %s", s->bind, port, strerror(e));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    s->lfd = fd;
    return STRATA_OK;
}

/* The unix socket at s->unix_path. A path too long for sun_path is reached through
 * /proc/self/fd/N/NAME, N an O_PATH descriptor of its folder. */
static int unix_name(strata_server *s, const char *suffix, char *out, size_t outlen) {
    const char *path = s->unix_path;
    struct sockaddr_un un;
    if (strlen(path) + strlen(suffix) < sizeof un.sun_path) {
        int n = snprintf(out, outlen, "%s%s", path, suffix);
        return n >= 0 && (size_t)n < outlen ? 0 : -1;
    }
    if (s->unix_dirfd < 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (!slash) return -1;
        *slash = 0;
        s->unix_dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->unix_dirfd < 0) return -1;
    }
    const char *base = strrchr(path, '/') + 1;
    int n = snprintf(out, outlen, "/proc/self/fd/%d/%s%s", s->unix_dirfd, base, suffix);
    return n > 0 && (size_t)n < sizeof un.sun_path ? 0 : -1;
}

static int open_unix(strata_server *s, char *err, size_t errlen) {
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    char tmpname[sizeof s->unix_bind];
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".%ld.tmp", (long)getpid());
    if (unix_name(s, "", s->unix_bind, sizeof s->unix_bind) < 0 || unix_name(s, suffix, tmpname, sizeof tmpname) < 0) {
        snprintf(err, errlen, "unix socket %.200s: path too long", s->unix_path);
        return STRATA_EINVAL;
    }
    /* Something already there: a live server (refuse), a stale socket (replace), or
     * not a socket at all (refuse, never delete it). */
    struct stat st;
    if (lstat(s->unix_bind, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%.200s exists and is not a socket", s->unix_path);
            return STRATA_EEXIST;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(un.sun_path, sizeof un.sun_path, "%s", s->unix_bind);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&un, sizeof un) == 0) {
            close(probe);
            snprintf(err, errlen, "%.200s: another server is listening there", s->unix_path);
            return STRATA_EBUSY;
        }
        if (probe >= 0) close(probe);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "unix socket: %s", strerror(errno));
        return errno_status(errno);
    }
    unlink(tmpname);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", tmpname);
    int e = 0;
    if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0) e = errno;
    else if (chmod(tmpname, 0600) < 0 || listen(fd, 511) < 0 || rename(tmpname, s->unix_bind) < 0) {
        e = errno;
        unlink(tmpname);
    }
    if (e) {
        close(fd);
        snprintf(err, errlen, "unix socket %.200s: %s", s->unix_path, strerror(e));
        return errno_status(e);
    }
    if (stat(s->unix_bind, &st) == 0) {
        s->unix_dev = st.st_dev;
        s->unix_ino = st.st_ino;
    }
    s->ufd = fd;
    return STRATA_OK;
}

static int add_fd(strata_server *s, int fd, void *mark) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = mark };
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int srv_open(strata *db, const char *store_dir, const strata_server_opts *o, strata_server **out, char *err,
             size_t errlen) {
    *out = NULL;
    err[0] = 0;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i]) {
            snprintf(err, errlen, "server options: reserved fields must be zero");
            return STRATA_EINVAL;
        }
    if (o->port < -1 || o->port > 65535) {
        snprintf(err, errlen, "server options: port %d is out of range (-1..65535)", o->port);
        return STRATA_EINVAL;
    }
    const char *bind = o->bind && *o->bind ? o->bind : "127.0.0.1";
    if (strlen(bind) >= sizeof ((strata_server *)0)->bind) {
        snprintf(err, errlen, "server options: bind address is too long");
        return STRATA_EINVAL;
    }
    uint64_t max_bulk = o->max_bulk ? o->max_bulk : STRATA_SERVER_DEFAULT_MAX_BULK;
    uint64_t max_query = o->max_query ? o->max_query : STRATA_SERVER_DEFAULT_MAX_QUERY;
    if (max_query <= max_bulk) {
        snprintf(err, errlen, "server options: max_query must exceed max_bulk");
        return STRATA_EINVAL;
    }
    if (o->port == -1 && o->unix_socket && !*o->unix_socket) {
        snprintf(err, errlen, "server options: no TCP port and no unix socket: nothing to listen on");
        return STRATA_EINVAL;
    }
    strata_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    s->db = db;
    s->epfd = s->lfd = s->ufd = s->efd = s->jfd = s->unix_dirfd = -1;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->port = -1;
    snprintf(s->bind, sizeof s->bind, "%s", bind);
    s->maxclients = o->maxclients ? o->maxclients : STRATA_SERVER_DEFAULT_MAXCLIENTS;
    s->max_bulk = max_bulk;
    s->max_query = max_query;
    s->max_args = o->max_args ? o->max_args : STRATA_SERVER_DEFAULT_MAX_ARGS;
    s->start_ms = srv_real_ms();
    s->start_mono_ms = s->sample_ms = srv_mono_ms();
    atomic_init(&s->stop, 0);
    int rc = STRATA_OK;
    if (o->requirepass && *o->requirepass && !(s->pass = strdup(o->requirepass))) {
        rc = STRATA_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(s->dir = strdup(store_dir)) || (rc = srv_commands_init(s)) != STRATA_OK) {
        rc = STRATA_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epfd < 0 || s->efd < 0 || add_fd(s, s->efd, MARK_STOP) < 0) {
        rc = errno_status(errno);
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    if ((rc = srv_jobs_init(s)) != STRATA_OK || add_fd(s, s->jfd, MARK_JOB) < 0) {
        if (!rc) rc = errno_status(errno);
        snprintf(err, errlen, "worker thread: %s", strata_errstr(rc));
        goto fail;
    }
    if (o->port != -1 && (rc = open_tcp(s, o->port, err, errlen)) != STRATA_OK) goto fail;
    if (!(o->unix_socket && !*o->unix_socket)) {
        if (o->unix_socket) snprintf(s->unix_path, sizeof s->unix_path, "%s", o->unix_socket);
        else snprintf(s->unix_path, sizeof s->unix_path, "%s/%s", store_dir, STRATA_SERVER_SOCKET_NAME);
        if ((rc = open_unix(s, err, errlen)) != STRATA_OK) goto fail;
    }
    if ((s->lfd >= 0 && add_fd(s, s->lfd, MARK_TCP) < 0) || (s->ufd >= 0 && add_fd(s, s->ufd, MARK_UNIX) < 0)) {
        rc = errno_status(errno);
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    *out = s;
    return STRATA_OK;
fail:
    srv_close(s);
    return rc;
}

int srv_port(strata_server *s) { return s->lfd >= 0 ? s->port : -1; }
strata *srv_db(strata_server *s) { return s->db; }

void srv_stop(strata_server *s) {
    atomic_store(&s->stop, 1);
    uint64_t one = 1;
    (void)!write(s->efd, &one, sizeof one);
}

/* Hand finished jobs' replies to their clients; `resume` runs the requests that
 * waited behind them (not while shutting down). */
static void deliver_jobs(strata_server *s, int resume) {
    for (srv_job *j = srv_jobs_take_done(s), *n; j; j = n) {
        n = j->next;
        client *c = j->c;
        if (c && !c->closed) {
            c->job = NULL;
            if (j->out.oom) rb_error(&c->out, "ERR out of memory");
            else rb_raw(&c->out, j->out.p, j->out.len);
            if (c->out.oom) { /* no half answers */
                c->close_after = 1;
                c->out.oom = 0;
            }
            if (resume) {
                process_input(c);
                if (!c->closed) client_write(c);
            }
        }
        srv_job_free(j);
    }
}

static void sample_ops(strata_server *s) {
    uint64_t now = srv_mono_ms();
    if (now - s->sample_ms < 1000) return;
    s->ops_per_sec = (s->cmds_total - s->sample_cmds) * 1000 / (now - s->sample_ms);
    s->sample_ms = now;
    s->sample_cmds = s->cmds_total;
}

/* Give pending replies up to SHUTDOWN_FLUSH_MS in all, then close everything. */
static void shutdown_clients(strata_server *s) {
    uint64_t deadline = srv_mono_ms() + SHUTDOWN_FLUSH_MS;
    for (client *c = s->clients, *n; c; c = n) {
        n = c->next;
        while (c->out.len > c->opos && srv_mono_ms() < deadline) {
            ssize_t w = send(c->fd, c->out.p + c->opos, c->out.len - c->opos, MSG_NOSIGNAL);
            if (w > 0) {
                c->opos += (size_t)w;
                continue;
            }
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
            struct pollfd pf = { c->fd, POLLOUT, 0 };
            poll(&pf, 1, (int)(deadline - srv_mono_ms()));
        }
        client_close(c);
    }
}

int srv_run(strata_server *s, char *err, size_t errlen) {
    if (s->running) {
        snprintf(err, errlen, "the server is already running");
        return STRATA_EMISUSE;
    }
    s->running = 1;
    struct epoll_event evs[256];
    int rc = STRATA_OK;
    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(s->epfd, evs, 256, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = STRATA_EIO;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == MARK_TCP) accept_all(s, s->lfd, 0);
            else if (p == MARK_UNIX) accept_all(s, s->ufd, 1);
            else if (p == MARK_STOP) atomic_store(&s->stop, 1);
            else if (p == MARK_JOB) deliver_jobs(s, 1);
            else {
                client *c = p;
                if (c->closed) continue;
                if (evs[i].events & EPOLLIN) client_read(c);
                else if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLOUT)) client_close(c);
                else if ((evs[i].events & EPOLLRDHUP) && c->job) client_close(c); /* left while waiting */
                if (!c->closed && (evs[i].events & EPOLLOUT)) client_write(c);
            }
        }
        while (s->dead) {
            client *c = s->dead;
            s->dead = c->next;
            client_free(c);
        }
        sample_ops(s);
    }
    srv_jobs_drain(s); /* a running backup completes and its client hears so */
    deliver_jobs(s, 0);
    shutdown_clients(s);
    while (s->dead) {
        client *c = s->dead;
        s->dead = c->next;
        client_free(c);
    }
    uint64_t drain;
    (void)!read(s->efd, &drain, sizeof drain);
    atomic_store(&s->stop, 0);
    s->running = 0;
    return rc;
}

void srv_close(strata_server *s) {
    if (!s) return;
    for (client *c = s->clients, *n; c; c = n) {
        n = c->next;
        client_close(c);
    }
    while (s->dead) {
        client *c = s->dead;
        s->dead = c->next;
        client_free(c);
    }
    if (s->lfd >= 0) close(s->lfd);
    if (s->ufd >= 0) {
        close(s->ufd);
        /* Remove the socket only if it is still ours. */
        struct stat st;
        if (stat(s->unix_bind, &st) == 0 && st.st_dev == s->unix_dev && st.st_ino == s->unix_ino) unlink(s->unix_bind);
    }
    if (s->unix_dirfd >= 0) close(s->unix_dirfd);
    srv_jobs_stop(s); /* after the clients: their jobs no longer name them */
    if (s->efd >= 0) close(s->efd);
    if (s->epfd >= 0) close(s->epfd);
    if (s->spare_fd >= 0) close(s->spare_fd);
    srv_commands_free(s);
    free(s->pass);
    free(s->dir);
    free(s);
}
