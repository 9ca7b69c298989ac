/* test_cache_remote.c — cache_url: the hot tier on a real Redis server. The test
 * starts Debian's redis-server on a free loopback port (no persistence), points a
 * store's cache at it, and runs the API's semantics there: SET options and GET,
 * TTLs, INCR, APPEND, MGET/MSET(NX), SCAN, stats from INFO, CONFIG forwarded, two
 * stores sharing one hot tier, a server that dies (STRATA_EIO, then reconnection),
 * and the way back to the embedded cache. */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t start_redis(int port) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_redis(pid_t pid) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

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

/* Point db's cache at url, retrying while the server starts. */
static int use_url(strata *db, const char *url) {
    strata_cache_config c;
    strata_cache_config_get(db, &c);
    snprintf(c.url, sizeof c.url, "%s", url);
    int rc = STRATA_EIO;
    for (int i = 0; i < 100 && rc == STRATA_EIO; i++) {
        if ((rc = strata_cache_config_set(db, &c)) == STRATA_EIO) {
            struct timespec ts = { 0, 30 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    return rc;
}

static char got[256];
static const char *get(strata *db, const char *k) {
    void *v;
    size_t n;
    int rc = strata_cache_get(db, k, strlen(k), &v, &n);
    if (rc == STRATA_ENOTFOUND) return "(nil)";
    if (rc) return "(error)";
    snprintf(got, sizeof got, "%.*s", (int)n, (char *)v);
    strata_free(v);
    return got;
}

static int collect_old(void *ctx, const void *data, size_t len) {
    snprintf(ctx, 64, "%.*s", (int)len, (const char *)data);
    return 0;
}
static int count_key(void *ctx, const void *key, size_t len) {
    (void)key; (void)len;
    (*(int *)ctx)++;
    return 0;
}
static int mget_cb(void *ctx, size_t i, const void *val, size_t len) {
    char *o = ctx;
    o[i] = val ? ((const char *)val)[len - 1] : '-';
    return 0;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "redis-server is not installed (scripts/bootstrap installs it)\n");
        return 1;
    }
    int port = free_port();
    pid_t redis = start_redis(port);
    char url[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    char *dir = t_tmpdir("cache-remote"), *dir2 = t_tmpdir("cache-remote2");
    strata *db = open_store(dir), *db2 = open_store(dir2);
    CHECK_OK(strata_cache_set(db, "local", 5, "1", 1, NULL));
    CHECK_OK(use_url(db, url));
    strata_cache_config cfg;
    CHECK_OK(strata_cache_config_get(db, &cfg));
    CHECK(strcmp(cfg.url, url) == 0);
    CHECK(strcmp(get(db, "local"), "(nil)") == 0); /* the embedded keys are not there */
    CHECK_OK(strata_cache_flush(db));

    /* SET and its options */
    strata_cache_set_opts o = { 0 };
    CHECK_OK(strata_cache_set(db, "a", 1, "1", 1, NULL));
    o.cond = STRATA_CACHE_NX;
    CHECK_RC(strata_cache_set(db, "a", 1, "2", 1, &o), STRATA_EEXIST);
    o.cond = STRATA_CACHE_XX;
    CHECK_RC(strata_cache_set(db, "b", 1, "2", 1, &o), STRATA_ENOTFOUND);
    char old[64] = "";
    o.cond = STRATA_CACHE_ALWAYS;
    o.old_value = collect_old;
    o.old_value_ctx = old;
    CHECK_OK(strata_cache_set(db, "a", 1, "3", 1, &o));
    CHECK(strcmp(old, "1") == 0 && strcmp(get(db, "a"), "3") == 0);
    memset(&o, 0, sizeof o);
    o.ttl_mode = STRATA_CACHE_TTL_REL;
    o.ttl = 100000;
    CHECK_OK(strata_cache_set(db, "t", 1, "v", 1, &o));
    int64_t ttl = 0, at = 0;
    CHECK_OK(strata_cache_ttl(db, "t", 1, &ttl, &at));
    CHECK(ttl > 99000 && ttl <= 100000 && at > 0);
    o.ttl = 0;
    CHECK_RC(strata_cache_set(db, "t", 1, "v", 1, &o), STRATA_EINVAL);
    o.ttl_mode = STRATA_CACHE_TTL_KEEP;
    CHECK_OK(strata_cache_set(db, "t", 1, "w", 1, &o));
    CHECK_OK(strata_cache_ttl(db, "t", 1, &ttl, NULL));
    CHECK(ttl > 0);
    CHECK_RC(strata_cache_ttl(db, "none", 4, &ttl, NULL), STRATA_ENOTFOUND);

    /* GETEX, GETDEL, EXPIRE, PERSIST */
    void *v;
    size_t n;
    CHECK_OK(strata_cache_getex(db, "t", 1, STRATA_CACHE_TTL_NONE, 0, &v, &n));
    strata_free(v);
    CHECK_OK(strata_cache_ttl(db, "t", 1, &ttl, NULL));
    CHECK(ttl == -1);
    int ap = -1;
    CHECK_OK(strata_cache_expire(db, "t", 1, STRATA_CACHE_TTL_REL, 5000, STRATA_CACHE_EXPIRE_XX, &ap));
    CHECK(ap == 0);
    CHECK_OK(strata_cache_expire(db, "t", 1, STRATA_CACHE_TTL_REL, 5000, STRATA_CACHE_EXPIRE_NX, &ap));
    CHECK(ap == 1);
    CHECK_RC(strata_cache_expire(db, "none", 4, STRATA_CACHE_TTL_REL, 5000, 0, &ap), STRATA_ENOTFOUND);
    CHECK_OK(strata_cache_persist(db, "t", 1, &ap));
    CHECK(ap == 1);
    CHECK_OK(strata_cache_persist(db, "t", 1, &ap));
    CHECK(ap == 0);
    CHECK_RC(strata_cache_persist(db, "none", 4, &ap), STRATA_ENOTFOUND);
    CHECK_OK(strata_cache_getdel(db, "t", 1, &v, &n));
    CHECK(n == 1 && memcmp(v, "w", 1) == 0);
    strata_free(v);
    CHECK_RC(strata_cache_getdel(db, "t", 1, &v, &n), STRATA_ENOTFOUND);
    int ex = -1;
    CHECK_OK(strata_cache_exists(db, "a", 1, &ex));
    CHECK(ex == 1);
    CHECK_OK(strata_cache_del(db, "a", 1));
    CHECK_RC(strata_cache_del(db, "a", 1), STRATA_ENOTFOUND);

    /* INCR, APPEND, STRLEN: the server's own messages */
    int64_t r = 0;
    CHECK_OK(strata_cache_incrby(db, "n", 1, 41, &r));
    CHECK_OK(strata_cache_incrby(db, "n", 1, 1, &r));
    CHECK(r == 42);
    CHECK_OK(strata_cache_set(db, "s", 1, "x", 1, NULL));
    CHECK_RC(strata_cache_incrby(db, "s", 1, 1, &r), STRATA_EINVAL);
    CHECK(strstr(strata_errmsg(db), "not an integer") != NULL);
    CHECK_OK(strata_cache_append(db, "s", 1, "yz", 2, &n));
    CHECK(n == 3);
    CHECK_OK(strata_cache_strlen(db, "s", 1, &n));
    CHECK(n == 3);
    CHECK_RC(strata_cache_strlen(db, "none", 4, &n), STRATA_ENOTFOUND);
    CHECK_OK(strata_cache_set(db, "empty", 5, "", 0, NULL));
    CHECK_OK(strata_cache_strlen(db, "empty", 5, &n));
    CHECK(n == 0);

    /* MGET / MSET / MSETNX */
    const void *ks[3] = { "m1", "m2", "m3" };
    size_t kl[3] = { 2, 2, 2 };
    const void *vs[3] = { "1", "2", "3" };
    size_t vl[3] = { 1, 1, 1 };
    CHECK_OK(strata_cache_mset(db, 2, ks, kl, vs, vl, STRATA_CACHE_ALWAYS));
    CHECK_RC(strata_cache_mset(db, 3, ks, kl, vs, vl, STRATA_CACHE_NX), STRATA_EEXIST);
    char m[4] = "";
    CHECK_OK(strata_cache_mget(db, 3, ks, kl, mget_cb, m));
    CHECK(memcmp(m, "12-", 3) == 0);

    /* SCAN, DBSIZE, stats */
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof k, "scan:%d", i);
        CHECK_OK(strata_cache_set(db, k, strlen(k), "v", 1, NULL));
    }
    int seen = 0;
    uint64_t cur = 0;
    do CHECK_OK(strata_cache_scan(db, cur, "scan:*", 100, count_key, &seen, &cur)); while (cur);
    CHECK(seen >= 300);
    uint64_t size = 0;
    CHECK_OK(strata_cache_dbsize(db, &size));
    CHECK(size == 305);
    strata_cache_stats st;
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.remote == 1 && st.keys == 305 && st.used_memory > 0 && st.hits > 0 && st.misses > 0);

    /* CONFIG forwarded to the server */
    CHECK_OK(strata_cache_config_get(db, &cfg));
    cfg.maxmemory = 64 << 20;
    cfg.policy = STRATA_CACHE_ALLKEYS_LRU;
    CHECK_OK(strata_cache_config_set(db, &cfg));
    CHECK_OK(strata_cache_config_get(db, &cfg));
    CHECK(cfg.maxmemory == (64 << 20) && cfg.policy == STRATA_CACHE_ALLKEYS_LRU);

    /* two stores, one hot tier */
    CHECK_OK(use_url(db2, url));
    CHECK(strcmp(get(db2, "m1"), "1") == 0);
    CHECK_OK(strata_cache_set(db2, "from2", 5, "x", 1, NULL));
    CHECK(strcmp(get(db, "from2"), "x") == 0);

    /* the server dies: a clear EIO; it comes back: the next call reconnects */
    stop_redis(redis);
    CHECK_RC(strata_cache_set(db, "k", 1, "v", 1, NULL), STRATA_EIO);
    CHECK(strstr(strata_errmsg(db), "127.0.0.1") != NULL);
    CHECK_RC(strata_cache_get(db, "k", 1, &v, &n), STRATA_EIO);
    redis = start_redis(port);
    int rc = STRATA_EIO;
    for (int i = 0; i < 100 && rc == STRATA_EIO; i++) {
        struct timespec ts = { 0, 30 * 1000000 };
        nanosleep(&ts, NULL);
        rc = strata_cache_set(db, "k", 1, "v", 1, NULL);
    }
    CHECK_OK(rc);
    CHECK(strcmp(get(db, "k"), "v") == 0);

    /* a URL that does not parse, one that does not answer */
    CHECK_RC(use_url(db, "redis://"), STRATA_EINVAL);
    CHECK_RC(use_url(db, "redis://127.0.0.1:0"), STRATA_EINVAL);
    CHECK_RC(use_url(db, "redis://:pw"), STRATA_EINVAL);

    /* back to the embedded cache */
    CHECK_OK(use_url(db, ""));
    CHECK(strcmp(get(db, "k"), "(nil)") == 0);
    CHECK_OK(strata_cache_stats_get(db, &st));
    CHECK(st.remote == 0);
    CHECK_OK(strata_close(db));
    CHECK_OK(strata_close(db2));
    stop_redis(redis);
    t_rmtree(dir);
    t_rmtree(dir2);
    return t_done();
}
