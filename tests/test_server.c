/* test_server.c — the RESP server through hiredis (a real client library):
 *  - the public server API in-process: options and their errors, the port, run in
 *    a thread and stop from another, close;
 *  - `strata serve` started by the test as a process on a free loopback port:
 *    binary-safe keys and values, a 5 MB value, 2000 pipelined requests, several
 *    clients at once, STRATA.* commands, and SIGTERM ending it with status 0 and
 *    every acknowledged write in the store afterwards;
 *  - vectors, search, SQL (untrusted, off the event loop: replies keep their order
 *    and other clients are served while a query runs) and backups over RESP. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static strata *open_store(const char *dir) {
    strata_options o = strata_options_default();
    o.create = 1;
    o.backup_interval_hours = -1;
    strata *db = NULL;
    if (strata_open(dir, &o, &db)) {
        fprintf(stderr, "open: %s\n", strata_open_errmsg());
        exit(1);
    }
    return db;
}

static void *run_thread(void *arg) {
    return (void *)(intptr_t)strata_server_run(arg);
}

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

#define REPLY_IS(r, t) ((r) && (r)->type == (t))

static void test_api(const char *dir) {
    strata *db = open_store(dir);
    strata_server *srv = NULL;
    strata_server_opts o = strata_server_opts_default();
    CHECK(o.port == STRATA_SERVER_DEFAULT_PORT && o.bind == NULL);

    /* options that are refused, with a reason */
    o.port = 0;
    o.bind = "0.0.0.0";
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EINVAL);
    CHECK(srv == NULL && strstr(strata_errmsg(db), "not a loopback address") != NULL);
    o.bind = NULL;
    o.reserved[2] = 1;
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EINVAL);
    o.reserved[2] = 0;
    o.port = 70000;
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EINVAL);
    o.port = 0;
    o.max_bulk = 1 << 20;
    o.max_query = 1 << 20;
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EINVAL);
    o.max_bulk = o.max_query = 0;
    o.port = -1;
    o.unix_socket = "";
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EINVAL);
    o.bind = "no-such-host.invalid";
    o.port = 0;
    o.unix_socket = NULL;
    CHECK(strata_server_open(db, &o, &srv) != STRATA_OK);
    o.bind = NULL;
    /* a file that is not a socket where the socket goes is never deleted */
    char path[4200];
    snprintf(path, sizeof path, "%s/not-a-socket", dir);
    FILE *f = fopen(path, "w");
    fputs("keep me", f);
    fclose(f);
    o.unix_socket = path;
    CHECK_RC(strata_server_open(db, &o, &srv), STRATA_EEXIST);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    o.unix_socket = NULL;
    CHECK_RC(strata_server_open(NULL, &o, &srv), STRATA_EINVAL);
    CHECK_RC(strata_server_open(db, &o, NULL), STRATA_EINVAL);

    /* a server: a free port, DIR/strata.sock, a second one refused on both */
    CHECK_OK(strata_server_open(db, &o, &srv));
    int port = -1;
    CHECK_OK(strata_server_port(srv, &port));
    CHECK(port > 0);
    CHECK_RC(strata_server_port(srv, NULL), STRATA_EINVAL);
    CHECK_RC(strata_server_port(NULL, &port), STRATA_EINVAL);
    snprintf(path, sizeof path, "%s/%s", dir, STRATA_SERVER_SOCKET_NAME);
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
    strata_server *two = NULL;
    strata_server_opts o2 = o;
    o2.port = port;
    o2.unix_socket = "";
    CHECK_RC(strata_server_open(db, &o2, &two), STRATA_EBUSY);
    o2.port = -1;
    o2.unix_socket = NULL;
    CHECK_RC(strata_server_open(db, &o2, &two), STRATA_EBUSY);
    CHECK(strstr(strata_errmsg(db), "another server") != NULL);

    pthread_t th;
    pthread_create(&th, NULL, run_thread, srv);
    redisContext *c = redisConnect("127.0.0.1", port);
    CHECK(c && !c->err);
    redisReply *r = cmd(c, "PING");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS) && strcmp(r->str, "PONG") == 0);
    freeReplyObject(r);
    /* the same handle serves the API and the network */
    CHECK_OK(strata_cache_set(db, "from-api", 8, "1", 1, NULL));
    r = cmd(c, "GET from-api");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && strcmp(r->str, "1") == 0);
    freeReplyObject(r);
    redisContext *u = redisConnectUnix(path);
    CHECK(u && !u->err);
    r = cmd(u, "DBSIZE");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer == 1);
    freeReplyObject(r);
    CHECK_RC(strata_server_stop(NULL), STRATA_EINVAL);
    CHECK_OK(strata_server_stop(srv));
    void *ret;
    pthread_join(th, &ret);
    CHECK((intptr_t)ret == STRATA_OK);
    /* the connections were closed by the stop */
    r = cmd(c, "PING");
    CHECK(r == NULL || r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    redisFree(c);
    redisFree(u);
    strata_server_close(srv);
    CHECK(stat(path, &st) != 0);
    strata_server_close(NULL);
    CHECK_RC(strata_server_run(NULL), STRATA_EINVAL);

    /* a stale socket (a crashed server's) is replaced */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    CHECK(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1 <= sizeof a.sun_path ? strlen(path) + 1 : sizeof a.sun_path - 1);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    close(fd);
    CHECK_OK(strata_server_open(db, &o, &srv));
    strata_server_close(srv);
    CHECK_OK(strata_close(db));
}

/* ---- STRATA.VEC, STRATA.SEARCH, STRATA.SQL, STRATA.BACKUP ---- */
/* RESP3 through a raw socket (Debian's hiredis speaks RESP2 only): send `req`, and
 * check that exactly `want` comes back. */
static int raw_exchange(int fd, const char *req, size_t reqlen, const char *want) {
    if (write(fd, req, reqlen) != (ssize_t)reqlen) return 0;
    size_t wl = strlen(want), got = 0;
    char buf[4096];
    while (got < wl && got < sizeof buf) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 10000) != 1) break;
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    int ok = got == wl && memcmp(buf, want, wl) == 0;
    if (!ok) fprintf(stderr, "  RESP3: want %zu bytes '%s', got %zu '%.*s'\n", wl, want, got, (int)got, buf);
    return ok;
}

static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    return fd;
}

static int is_err(redisReply *r, const char *needle) {
    int ok = REPLY_IS(r, REDIS_REPLY_ERROR) && strstr(r->str, needle) != NULL;
    if (!ok) fprintf(stderr, "  want an error with '%s', got type %d '%s'\n", needle, r ? r->type : -1,
                     r && r->str ? r->str : "");
    freeReplyObject(r);
    return ok;
}

static int is_int(redisReply *r, long long v) {
    int ok = REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer == v;
    if (!ok) fprintf(stderr, "  want :%lld, got type %d '%s'\n", v, r ? r->type : -1, r && r->str ? r->str : "");
    freeReplyObject(r);
    return ok;
}

/* A RESP2 map reply's value for `key` (flat array), or NULL. */
static redisReply *field(redisReply *r, const char *key) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && strcmp(r->element[i]->str, key) == 0) return r->element[i + 1];
    return NULL;
}

static void test_vectors(redisContext *c, int r3) {
    redisReply *r;
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE v 0"), "dim must be 1.."));
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE v 3 METRIC manhattan"), "METRIC is cosine, ip or l2"));
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE v 3 DTYPE f64"), "DTYPE is f32, f16 or i8"));
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE v 3 METRIC"), "syntax error"));
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE bad/name 3"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.VEC FROB v"), "unknown subcommand"));
    r = cmd(c, "STRATA.VEC CREATE v 3 METRIC l2 M 8 EF_CONSTRUCTION 50");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS) && strcmp(r->str, "OK") == 0);
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.VEC CREATE v 3"), "ERR "));
    r = cmd(c, "STRATA.VEC INFO v");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && field(r, "dim") && field(r, "dim")->integer == 3 &&
          field(r, "metric") && strcmp(field(r, "metric")->str, "l2") == 0 && field(r, "m")->integer == 8);
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC INFO nope");
    CHECK(REPLY_IS(r, REDIS_REPLY_NIL));
    freeReplyObject(r);

    /* three ways to send a vector; the blob is little-endian float32 */
    float v1[3] = { 1, 0, 0 };
    r = cmd(c, "STRATA.VEC PUT v a VECTOR %b", (const char *)v1, sizeof v1);
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer > 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC PUT v b VALUES %s", "[0, 1, 0]");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER));
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC PUT v c VALUES %s", "0,0.5 1");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER));
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC PUT v other:d VALUES %s", "0.9 0.1 0");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER));
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VECTOR %b", (const char *)v1, (size_t)8), "VECTOR must be 12 bytes"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VALUES %s", "1 2"), "has 2 numbers"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VALUES %s", "1 2 zz"), "is not a finite number"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VALUES %s", "1 2 1e999"), "is not a finite number"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VALUES %s", "[1 2 3"), "without ']'"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x VALUES %s", "[1 2 3] 4"), "text after ']'"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT %s x VALUES 1", "n123456789012345678901234567890123456789012345678901234567890123456"),
                 "invalid collection name"));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v VALUES %s EF 0", "1 0 0"), "EF must be 1.."));
    CHECK(is_err(cmd(c, "WATCH v"), "WATCH is not supported"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v x DOC a"), "VECTOR blob, VALUES text or TEXT text"));
    CHECK(is_err(cmd(c, "STRATA.VEC PUT nope x VALUES 1"), "ERR "));
    r = cmd(c, "STRATA.VEC PUT v t TEXT %s", "hello vector world");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER));
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.VEC PUT v t TEXT %s", ""), "nothing to embed"));
    r = cmd(c, "STRATA.VEC GET v c");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && strcmp(r->element[1]->str, "0.5") == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC GET v missing");
    CHECK(REPLY_IS(r, REDIS_REPLY_NIL));
    freeReplyObject(r);
    r = cmd(c, "STRATA.VEC LIST");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 1 && strcmp(r->element[0]->str, "v") == 0);
    freeReplyObject(r);

    /* search: nearest first, score higher is closer, with filters */
    r = cmd(c, "STRATA.SEARCH v VALUES %s K 2 EXACT", "1 0 0");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 2 && strcmp(r->element[0]->element[0]->str, "a") == 0 &&
          strcmp(r->element[0]->element[1]->str, "0") == 0 &&
          strcmp(r->element[1]->element[0]->str, "other:d") == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SEARCH v DOC a K 1 PREFIX other:");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 1 && strcmp(r->element[0]->element[0]->str, "other:d") == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SEARCH v VALUES %s IDS 2 b c K 5", "1 0 0");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 2);
    freeReplyObject(r);
    char req[256];
    int rl = snprintf(req, sizeof req, "*6\r\n$13\r\nSTRATA.SEARCH\r\n$1\r\nv\r\n$6\r\nVECTOR\r\n$12\r\n");
    memcpy(req + rl, v1, sizeof v1);
    rl += (int)sizeof v1;
    rl += snprintf(req + rl, sizeof req - (size_t)rl, "\r\n$1\r\nK\r\n$1\r\n1\r\n");
    CHECK(raw_exchange(r3, req, (size_t)rl, "*1\r\n*2\r\n$1\r\na\r\n,0\r\n"));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v VALUES %s K 0", "1 0 0"), "K must be 1.."));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v VALUES %s IDS 3 b c", "1 0 0"), "IDS count"));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v VALUES %s BOGUS", "1 0 0"), "syntax error"));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v DOC missing"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SEARCH nope VALUES 1"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SEARCH v VALUES"), "wrong number of arguments"));
    CHECK(is_int(cmd(c, "STRATA.VEC DEL v b"), 1));
    CHECK(is_int(cmd(c, "STRATA.VEC DEL v b"), 0));
    r = cmd(c, "STRATA.SEARCH v VALUES %s K 10 EXACT", "0 1 0");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 4);
    freeReplyObject(r);
}

static void test_sql(strata *db, int port, redisContext *c, int r3) {
    strata_query_metric m = { 0, "search", 12.5, 3, 1, "hybrid" };
    CHECK_OK(strata_metric_query(db, &m));
    m.retrieval_strategy = "dense";
    m.latency_ms = 7;
    CHECK_OK(strata_metric_query(db, &m));
    CHECK_OK(strata_metric_flush(db));
    redisReply *r = cmd(c, "STRATA.SQL %s %s", "SELECT retrieval_strategy, latency_ms, success, result_count "
                                              "FROM query_metrics WHERE retrieval_strategy = $1", "hybrid");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && r->element[0]->elements == 4 &&
          strcmp(r->element[0]->element[0]->str, "retrieval_strategy") == 0 &&
          strcmp(r->element[1]->element[0]->str, "text") == 0 && strcmp(r->element[1]->element[1]->str, "double") == 0 &&
          strcmp(r->element[1]->element[2]->str, "bool") == 0 && strcmp(r->element[1]->element[3]->str, "int") == 0 &&
          strcmp(r->element[2]->element[0]->str, "hybrid") == 0 && strcmp(r->element[2]->element[1]->str, "12.5") == 0 &&
          r->element[2]->element[2]->integer == 1 && r->element[2]->element[3]->integer == 3);
    freeReplyObject(r);
    const char *q = "SELECT 1.5::DOUBLE AS d, true AS b, NULL AS n, 'x' AS s";
    char req[256];
    int rl = snprintf(req, sizeof req, "*2\r\n$10\r\nSTRATA.SQL\r\n$%zu\r\n%s\r\n", strlen(q), q);
    CHECK(raw_exchange(r3, req, (size_t)rl,
                       "*3\r\n*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nn\r\n$1\r\ns\r\n"
                       "*4\r\n$6\r\ndouble\r\n$4\r\nbool\r\n$3\r\nint\r\n$4\r\ntext\r\n" /* DuckDB types NULL as INTEGER */
                       "*4\r\n,1.5\r\n#t\r\n_\r\n$1\r\nx\r\n"));
    r = cmd(c, "STRATA.SQL %s", q); /* the same in RESP2 */
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && strcmp(r->element[2]->element[0]->str, "1.5") == 0 &&
          r->element[2]->element[1]->integer == 1 && r->element[2]->element[2]->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SQL %s %s", "SELECT count(*) FROM query_metrics WHERE latency_ms > $1", "10");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && r->element[2]->element[0]->integer == 1);
    freeReplyObject(r);
    /* metrics recorded over RESP */
    r = cmd(c, "STRATA.METRIC query_metrics %s", "{\"query_type\":\"q\",\"latency_ms\":30,\"result_count\":1,"
                                                 "\"success\":true,\"retrieval_strategy\":\"resp\"}");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS) && strcmp(r->str, "OK") == 0);
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.METRIC query_metrics %s", "{\"query_type\":1}"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.METRIC no_table %s", "{}"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.METRIC query_metrics"), "syntax error"));
    r = cmd(c, "STRATA.METRIC FLUSH");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    r = cmd(c, "STRATA.SQL %s", "SELECT latency_ms FROM query_metrics WHERE retrieval_strategy = 'resp'");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && strcmp(r->element[2]->element[0]->str, "30") == 0);
    freeReplyObject(r);
    /* untrusted: one read-only SELECT, no files */
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "SELEC 1"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "DELETE FROM query_metrics"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "SELECT * FROM read_csv('/etc/passwd')"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "COPY query_metrics TO '/tmp/strata-leak.csv'"), "ERR "));
    CHECK(access("/tmp/strata-leak.csv", F_OK) != 0);
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "SELECT $1"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SQL %s %s", "SELECT 1", "extra"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "SELECT repeat('x', 1048576) FROM range(300)"), "exceeds 256 MiB"));
    r = cmd(c, "STRATA.SQL %s", "SELECT count(*) FROM query_metrics");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 3 && r->element[2]->element[0]->integer == 3);
    freeReplyObject(r);

    /* pipelined: the replies keep their order around the job */
    redisAppendCommand(c, "SET k1 before");
    redisAppendCommand(c, "STRATA.SQL %s", "SELECT 42");
    redisAppendCommand(c, "GET k1");
    void *rv;
    CHECK(redisGetReply(c, &rv) == REDIS_OK && REPLY_IS((r = rv), REDIS_REPLY_STATUS));
    freeReplyObject(rv);
    CHECK(redisGetReply(c, &rv) == REDIS_OK && REPLY_IS((r = rv), REDIS_REPLY_ARRAY) &&
          r->element[2]->element[0]->integer == 42);
    freeReplyObject(rv);
    CHECK(redisGetReply(c, &rv) == REDIS_OK && REPLY_IS((r = rv), REDIS_REPLY_STRING) && strcmp(r->str, "before") == 0);
    freeReplyObject(rv);

    /* inside MULTI/EXEC a job's reply takes its place in the array; SQL is refused there */
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "STRATA.METRIC FLUSH");
    redisAppendCommand(c, "STRATA.DOCPUT inmulti %s", "x");
    redisAppendCommand(c, "SET k2 v");
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 4; i++) {
        CHECK(redisGetReply(c, &rv) == REDIS_OK);
        freeReplyObject(rv);
    }
    CHECK(redisGetReply(c, &rv) == REDIS_OK && REPLY_IS((r = rv), REDIS_REPLY_ARRAY) && r->elements == 3 &&
          r->element[0]->type == REDIS_REPLY_STATUS && r->element[1]->type == REDIS_REPLY_INTEGER &&
          r->element[1]->integer > 0 && r->element[2]->type == REDIS_REPLY_STATUS);
    freeReplyObject(rv);
    r = cmd(c, "MULTI");
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.SQL %s", "SELECT 1"), "not allowed inside MULTI"));
    CHECK(is_err(cmd(c, "EXEC"), "EXECABORT"));
    /* a slow query runs off the loop: another client is served meanwhile */
    redisContext *slow = redisConnect("127.0.0.1", port);
    CHECK(slow && !slow->err);
    const char *long_q = "SELECT sum(i % 7) FROM range(300000000) t(i)";
    redisAppendCommand(slow, "STRATA.SQL %s", long_q);
    int done = 0;
    CHECK(redisBufferWrite(slow, &done) == REDIS_OK && done);
    r = cmd(c, "PING");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    struct pollfd pf = { slow->fd, POLLIN, 0 };
    CHECK(poll(&pf, 1, 0) == 0); /* the query has not answered yet */
    /* a client that leaves while its job runs costs nothing but the reply */
    redisFree(slow);
    /* two heavy jobs at most: a third query waits, and is dropped when its client
     * leaves. Timing only bounds the waits (generously: sanitizer builds on a busy
     * machine); what is checked is that the queue shrinks while both still run. */
    for (int i = 0, idle = 0; i < 6000 && !idle; i++) { /* the query above finishes first */
        r = cmd(c, "INFO strata");
        idle = r && r->str && strstr(r->str, "jobs_running:0\r\n");
        if (r) freeReplyObject(r);
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        if (!idle) nanosleep(&ts, NULL);
    }
    redisContext *h[3];
    for (int i = 0; i < 3; i++) {
        h[i] = redisConnect("127.0.0.1", port);
        redisAppendCommand(h[i], "STRATA.SQL %s", i < 2 ? "SELECT sum(i % 7) FROM range(3000000000) t(i)" : "SELECT 1");
        CHECK(redisBufferWrite(h[i], &done) == REDIS_OK && done);
    }
    long queued_at = -1;
    int cancelled = 0;
    for (int i = 0; i < 3000 && !cancelled; i++) {
        r = cmd(c, "INFO strata");
        const char *qf = r && r->str ? strstr(r->str, "jobs_queued:") : NULL;
        long queued = qf ? strtol(qf + 12, NULL, 10) : -1;
        int running2 = r && r->str && strstr(r->str, "jobs_running:2\r\n");
        if (r) freeReplyObject(r);
        if (queued_at < 0 && running2 && queued >= 1) {
            queued_at = queued;
            redisFree(h[2]);
            h[2] = NULL;
        } else if (queued_at >= 1 && running2 && queued == queued_at - 1) {
            cancelled = 1;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        if (!cancelled) nanosleep(&ts, NULL);
    }
    CHECK(queued_at >= 1 && cancelled);
    if (h[2]) redisFree(h[2]);
    for (int i = 0; i < 2; i++) {
        CHECK(redisGetReply(h[i], &rv) == REDIS_OK && REPLY_IS((r = rv), REDIS_REPLY_ARRAY));
        freeReplyObject(rv);
        redisFree(h[i]);
    }
    r = cmd(c, "DBSIZE");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER));
    freeReplyObject(r);
}

static int count_backups(void *ctx, const strata_backup_info *i) {
    (*(int *)ctx) += i->complete;
    return 0;
}

static void test_backup(const char *dir, redisContext *c, redisContext *u) {
    redisReply *r = cmd(c, "STRATA.DOCPUT doc1 %s", "backed up text");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer > 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.BACKUP CREATE");
    redisReply *name = field(r, "name");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && name && field(r, "lsn") && field(r, "lsn")->integer > 0 &&
          field(r, "files") && field(r, "files")->integer > 0);
    char bname[80] = "";
    if (name) snprintf(bname, sizeof bname, "%s", name->str);
    freeReplyObject(r);
    r = cmd(c, "STRATA.BACKUP LIST");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 1 && strcmp(field(r->element[0], "name")->str, bname) == 0 &&
          field(r->element[0], "complete")->integer == 1);
    freeReplyObject(r);
    r = cmd(c, "STRATA.BACKUP VERIFY %s", bname);
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && field(r, "ok") && field(r, "ok")->integer == 1 &&
          field(r, "problems") && field(r, "problems")->elements == 0);
    freeReplyObject(r);
    CHECK(is_err(cmd(c, "STRATA.BACKUP VERIFY nosuch"), "ERR "));
    CHECK(is_err(cmd(c, "STRATA.BACKUP CREATE DEST /tmp"), "only over the store's unix socket"));
    CHECK(is_err(cmd(c, "STRATA.BACKUP CREATE TO /tmp"), "ERR "));
    CHECK(is_err(cmd(u, "STRATA.BACKUP PRUNE 0"), "keep must be 1.."));
    CHECK(is_err(cmd(c, "STRATA.BACKUP PRUNE 1"), "only over the store's unix socket"));
    CHECK(is_err(cmd(c, "STRATA.BACKUP RESTORE x"), "unknown subcommand"));
    /* over the unix socket a destination may be chosen */
    char dest[4200];
    snprintf(dest, sizeof dest, "%s-elsewhere", dir);
    r = cmd(u, "STRATA.BACKUP CREATE DEST %s", dest);
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && field(r, "name"));
    freeReplyObject(r);
    int n = 0;
    CHECK_OK(strata_backup_list(dest, count_backups, &n));
    CHECK(n == 1);
    r = cmd(c, "STRATA.BACKUP CREATE");
    freeReplyObject(r);
    CHECK(is_int(cmd(u, "STRATA.BACKUP PRUNE 1"), 1));
    /* what the server backed up restores with its document */
    char target[4300];
    snprintf(target, sizeof target, "%s-restored", dir);
    r = cmd(u, "STRATA.BACKUP LIST DEST %s", dest);
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 1);
    if (REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 1)
        CHECK_OK(strata_backup_restore(dest, field(r->element[0], "name")->str, target, 0));
    freeReplyObject(r);
    strata *db = open_store(target);
    void *d = NULL;
    size_t len = 0;
    CHECK_OK(strata_doc_get(db, "doc1", 4, &d, &len));
    CHECK(len == 14 && memcmp(d, "backed up text", 14) == 0);
    strata_free(d);
    float q[3];
    CHECK_OK(strata_vec_get(db, "v", "a", 1, q, 3));
    CHECK_OK(strata_close(db));
    t_rmtree(strdup(target));
    t_rmtree(strdup(dest));
}

/* Many clients commit at once: every write lands, and the commits are grouped. */
typedef struct writer { int port, id, ok; } writer;
static void *writer_main(void *arg) {
    writer *w = arg;
    redisContext *c = redisConnect("127.0.0.1", w->port);
    for (int i = 0; c && !c->err && i < 25; i++) {
        redisReply *r = cmd(c, "STRATA.DOCPUT w%d-%d %s", w->id, i, "concurrent text");
        w->ok += REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer > 0;
        if (r) freeReplyObject(r);
        r = cmd(c, "STRATA.SETTING SET w%d-%d %d", w->id, i, i);
        w->ok += REPLY_IS(r, REDIS_REPLY_STATUS);
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return NULL;
}

static void test_concurrent_writes(strata *db, int port) {
    strata_stats before, after;
    CHECK_OK(strata_stats_get(db, &before));
    pthread_t th[8];
    writer w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (writer){ port, i, 0 };
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].ok == 50);
    }
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 25; k += 12) {
            char id[32];
            int n = snprintf(id, sizeof id, "w%d-%d", i, k), ex = 0;
            CHECK_OK(strata_doc_exists(db, id, (size_t)n, &ex));
            CHECK(ex == 1);
        }
    CHECK_OK(strata_stats_get(db, &after));
    CHECK(after.commits - before.commits == 400);
    printf("  400 commits from 8 clients in %llu groups\n",
           (unsigned long long)(after.group_commits - before.group_commits));
}

static void test_store_commands(const char *dir) {
    strata *db = open_store(dir);
    strata_server *srv = NULL;
    strata_server_opts o = strata_server_opts_default();
    o.port = 0;
    CHECK_OK(strata_server_open(db, &o, &srv));
    int port = 0;
    CHECK_OK(strata_server_port(srv, &port));
    pthread_t th;
    pthread_create(&th, NULL, run_thread, srv);
    redisContext *c = redisConnect("127.0.0.1", port);
    int r3 = raw_connect(port);
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/%s", dir, STRATA_SERVER_SOCKET_NAME);
    redisContext *u = redisConnectUnix(sock);
    CHECK(c && !c->err && r3 >= 0 && u && !u->err);
    const char hello[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
    CHECK(write(r3, hello, sizeof hello - 1) == (ssize_t)sizeof hello - 1);
    char skip[2048];
    struct pollfd pf = { r3, POLLIN, 0 };
    CHECK(poll(&pf, 1, 10000) == 1 && read(r3, skip, sizeof skip) > 0 && skip[0] == '%');
    test_vectors(c, r3);
    test_sql(db, port, c, r3);
    test_backup(dir, c, u);
    test_concurrent_writes(db, port);
    redisReply *info = cmd(c, "INFO strata");
    CHECK(REPLY_IS(info, REDIS_REPLY_STRING) && strstr(info->str, "\r\nworkers:32\r\n") &&
          strstr(info->str, "\r\njobs_queued:0\r\n") && strstr(info->str, "\r\ngroup_commits:"));
    if (info) freeReplyObject(info);
    /* stop while a slow job runs: the loop waits for it, then returns cleanly */
    redisAppendCommand(c, "STRATA.SQL %s", "SELECT sum(i % 7) FROM range(300000000) t(i)");
    int done = 0;
    redisBufferWrite(c, &done);
    redisReply *r = cmd(u, "PING");
    freeReplyObject(r);
    CHECK_OK(strata_server_stop(srv));
    void *ret;
    pthread_join(th, &ret);
    CHECK((intptr_t)ret == STRATA_OK);
    redisFree(c);
    close(r3);
    redisFree(u);
    strata_server_close(srv);
    CHECK_OK(strata_close(db));
}

/* ---- `strata serve` as a process ---- */
static pid_t serve(const char *dir, int *port) {
    const char *cli = getenv("STRATA_CLI");
    if (!cli) return -1;
    char out[4200];
    snprintf(out, sizeof out, "%s.serve.out", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(cli, cli, "--dir", dir, "serve", "--port", "0", (char *)NULL);
        _exit(127);
    }
    *port = 0;
    for (int i = 0; i < 200 && !*port; i++) {
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
        FILE *f = fopen(out, "r");
        char line[8192];
        if (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "listening on ");
            if (p && (p = strchr(p + 13, ':'))) *port = atoi(p + 1);
        }
        if (f) fclose(f);
    }
    return pid;
}

typedef struct cl { int port, id, ok; } cl;
static void *client_thread(void *arg) {
    cl *t = arg;
    redisContext *c = redisConnect("127.0.0.1", t->port);
    t->ok = c && !c->err;
    for (int i = 0; i < 500 && t->ok; i++) {
        redisReply *r = cmd(c, "INCR shared");
        t->ok = REPLY_IS(r, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = cmd(c, "SET own:%d:%d %d", t->id, i, i);
        t->ok = t->ok && REPLY_IS(r, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    if (c) redisFree(c);
    return NULL;
}

static void test_process(const char *dir) {
    strata *db = open_store(dir);
    CHECK_OK(strata_close(db));
    int port = 0;
    pid_t pid = serve(dir, &port);
    if (pid < 0 || port <= 0) {
        fprintf(stderr, "strata serve did not start (STRATA_CLI unset?)\n");
        t_failed++;
        if (pid > 0) kill(pid, SIGKILL);
        return;
    }
    redisContext *c = redisConnect("127.0.0.1", port);
    CHECK(c && !c->err);
    /* binary-safe keys and values */
    const char key[] = { 'k', 0, '\r', '\n', (char)0xff };
    const char val[] = { 0, 1, 2, '\r', '\n', '$', '*' };
    redisReply *r = cmd(c, "SET %b %b", key, sizeof key, val, sizeof val);
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    r = cmd(c, "GET %b", key, sizeof key);
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && r->len == sizeof val && memcmp(r->str, val, sizeof val) == 0);
    freeReplyObject(r);
    /* a 5 MB value */
    size_t big = 5 << 20;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++) b[i] = (char)(i * 131);
    r = cmd(c, "SET big %b", b, big);
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    r = cmd(c, "GET big");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && r->len == big && memcmp(r->str, b, big) == 0);
    freeReplyObject(r);
    free(b);
    /* 2000 pipelined requests, replies in order */
    for (int i = 0; i < 1000; i++) {
        redisAppendCommand(c, "SET p:%d %d", i, i);
        redisAppendCommand(c, "GET p:%d", i);
    }
    int inorder = 1;
    for (int i = 0; i < 1000; i++) {
        redisReply *s = NULL, *g = NULL;
        redisGetReply(c, (void **)&s);
        redisGetReply(c, (void **)&g);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        inorder &= REPLY_IS(s, REDIS_REPLY_STATUS) && REPLY_IS(g, REDIS_REPLY_STRING) && strcmp(g->str, want) == 0;
        freeReplyObject(s);
        freeReplyObject(g);
    }
    CHECK(inorder);
    /* errors come back as error replies, the connection stays usable */
    r = cmd(c, "INCR big");
    CHECK(REPLY_IS(r, REDIS_REPLY_ERROR) && strstr(r->str, "not an integer") != NULL);
    freeReplyObject(r);
    r = cmd(c, "EXPIRE p:1 10 NX XX");
    CHECK(REPLY_IS(r, REDIS_REPLY_ERROR));
    freeReplyObject(r);
    /* several clients at once */
    enum { N = 4 };
    pthread_t th[N];
    cl t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (cl){ port, i, 0 };
        pthread_create(&th[i], NULL, client_thread, &t[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK(t[i].ok);
    }
    r = cmd(c, "GET shared");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && atoi(r->str) == N * 500);
    freeReplyObject(r);
    /* the store under STRATA.* */
    r = cmd(c, "STRATA.DOCPUT %s %b META %s", "doc:1", "content\0one", (size_t)11, "{\"k\":1}");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer > 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.DOCGET doc:1");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && r->len == 11 && memcmp(r->str, "content\0one", 11) == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.DOCMETA doc:1");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 26);
    freeReplyObject(r);
    r = cmd(c, "STRATA.DOCEXISTS doc:2");
    CHECK(REPLY_IS(r, REDIS_REPLY_INTEGER) && r->integer == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.DOCPUT doc:2 x {bad");
    CHECK(REPLY_IS(r, REDIS_REPLY_ERROR) && strstr(r->str, "JSON") != NULL);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SETTING SET lang %s", "\"en\"");
    CHECK(REPLY_IS(r, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    r = cmd(c, "STRATA.SETTING GET lang");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && strcmp(r->str, "\"en\"") == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SETTING GET nope");
    CHECK(REPLY_IS(r, REDIS_REPLY_NIL));
    freeReplyObject(r);
    r = cmd(c, "STRATA.SESSION NEW ID s1 DATA %s TTL 60", "{\"u\":7}");
    CHECK(REPLY_IS(r, REDIS_REPLY_STRING) && strcmp(r->str, "s1") == 0);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SESSION GET s1");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 10);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SESSION NEW ID s1");
    CHECK(REPLY_IS(r, REDIS_REPLY_ERROR) && strstr(r->str, "exists") != NULL);
    freeReplyObject(r);
    r = cmd(c, "STRATA.SESSION FOO");
    CHECK(REPLY_IS(r, REDIS_REPLY_ERROR));
    freeReplyObject(r);
    r = cmd(c, "STRATA.STATS");
    CHECK(REPLY_IS(r, REDIS_REPLY_ARRAY) && r->elements == 28);
    freeReplyObject(r);
    r = cmd(c, "SET last 1");
    freeReplyObject(r);

    /* SIGTERM: exit status 0, the socket removed, the store's writes kept */
    CHECK(kill(pid, SIGTERM) == 0);
    int status = -1;
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        struct timespec ts = { 0, 10 * 1000000 };
        nanosleep(&ts, NULL);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    r = cmd(c, "PING");
    CHECK(r == NULL);
    redisFree(c);
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/%s", dir, STRATA_SERVER_SOCKET_NAME);
    struct stat st;
    CHECK(stat(sock, &st) != 0);
    db = open_store(dir);
    void *d = NULL;
    size_t n = 0;
    CHECK_OK(strata_doc_get(db, "doc:1", 5, &d, &n));
    CHECK(n == 11);
    strata_free(d);
    char *json = NULL;
    CHECK_OK(strata_setting_get(db, "lang", &json, NULL));
    strata_free(json);
    strata_session *s = NULL;
    CHECK_OK(strata_session_get(db, "s1", &s));
    strata_session_free(s);
    CHECK_OK(strata_close(db));
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    char *dir = t_tmpdir("server");
    test_api(dir);
    char *dir3 = t_tmpdir("store-cmds");
    test_store_commands(dir3);
    t_rmtree(dir3);
    char *dir2 = t_tmpdir("serve");
    test_process(dir2);
    t_rmtree(dir2);
    t_rmtree(dir);
    return t_done();
}
