/* test_server.c — the RESP server through hiredis (a real client library):
 *  - the public server API in-process: options and their errors, the port, run in
 *    a thread and stop from another, close;
 *  - `strata serve` started by the test as a process on a free loopback port:
 *    binary-safe keys and values, a 5 MB value, 2000 pipelined requests, several
 *    clients at once, STRATA.* commands, and SIGTERM ending it with status 0 and
 *    every acknowledged write in the store afterwards. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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
    char *dir2 = t_tmpdir("serve");
    test_process(dir2);
    t_rmtree(dir2);
    t_rmtree(dir);
    return t_done();
}
