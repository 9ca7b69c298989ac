/* server_int.h — what the event loop (server.c) and the command table
 * (commands.c) share: the server and client structures. */
#ifndef STRATA_SERVER_INT_H
#define STRATA_SERVER_INT_H
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include "server/server.h"

#define SRV_OUT_SOFT (1u << 20)  /* pending reply bytes above which a client's input waits */
#define SRV_READ_CHUNK (16 * 1024)
#define SRV_NAME_MAX 256

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
};

/* commands.c */
int srv_commands_init(struct strata_server *s);
void srv_commands_free(struct strata_server *s);
/* Run one request (argc >= 1); replies go to c->out. */
void srv_execute(client *c, int argc, char **argv, size_t *lens);

/* server.c */
uint64_t srv_mono_ms(void);
int64_t srv_real_ms(void);
#endif
