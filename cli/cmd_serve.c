/* cmd_serve.c — `strata serve`, and the other side of it: how the other commands
 * reach a store that a server holds.
 *
 * serve: opens the store (main.c does), starts strata_server on TCP (loopback by
 * default) and on DIR/strata.sock, prints where it listens, and serves until
 * SIGTERM or SIGINT; then the server closes its connections and main.c closes the
 * store. Every write a client saw acknowledged was already committed.
 *
 * The fallback: a store belongs to one process. When opening fails with "in use"
 * and DIR/strata.sock answers PING, main.c hands the command to cli_served_run,
 * which runs it through the server's STRATA.* commands (doc/format/resp.md) and
 * prints exactly what the command prints when it opens the store itself. The
 * commands that can run this way are listed in `served`; the others say that the
 * server has to be stopped first. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- serve ---- */

static strata_server *volatile running_server;

static void on_signal(int sig)
{
    (void)sig;
    strata_server *s = running_server;
    if (s)
        strata_server_stop(s); /* async-signal-safe */
}

static int parse_port(const struct cli_ctx *ctx, const char *text, int *port)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || v > 65535)
        return cli_usage(ctx, "--port wants a port number 0..65535 (0: any free port), not '%s'", cli_q(text));
    *port = (int)v;
    return CLI_OK;
}

static int run_serve(struct cli_ctx *ctx)
{
    strata_server_opts o = strata_server_opts_default();
    const char *port = cli_flag(ctx, "--port"), *maxclients = cli_flag(ctx, "--maxclients");
    const char *maxmem = cli_flag(ctx, "--maxmemory"), *policy = cli_flag(ctx, "--maxmemory-policy");
    const char *url = cli_flag(ctx, "--cache-url");
    o.bind = cli_flag(ctx, "--bind");
    o.requirepass = cli_flag(ctx, "--requirepass");
    if (!o.requirepass)
        o.requirepass = getenv("STRATA_REQUIREPASS");
    if (port && parse_port(ctx, port, &o.port) != CLI_OK)
        return CLI_USAGE;
    uint64_t n;
    if (maxclients) {
        if (cli_parse_count(ctx, "--maxclients", maxclients, 1000000, &n) != CLI_OK)
            return CLI_USAGE;
        o.maxclients = (uint32_t)n;
    }
    strata_cache_config cfg;
    int rc = strata_cache_config_get(ctx->db, &cfg);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "serve");
    if (maxmem) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(maxmem, &end, 10);
        if (maxmem[0] < '0' || maxmem[0] > '9' || errno || (*end && strcmp(end, "mb") && strcmp(end, "gb")))
            return cli_usage(ctx, "--maxmemory wants bytes, or NUMBERmb / NUMBERgb, not '%s'", cli_q(maxmem));
        cfg.maxmemory = v << (*end == 'm' ? 20 : *end == 'g' ? 30 : 0);
    }
    if (policy && strata_cache_policy_parse(policy, &cfg.policy) != STRATA_OK)
        return cli_usage(ctx, "--maxmemory-policy wants noeviction, allkeys-lru, allkeys-lfu or volatile-ttl");
    if (url) {
        if (strlen(url) >= sizeof cfg.url)
            return cli_usage(ctx, "--cache-url is too long");
        snprintf(cfg.url, sizeof cfg.url, "%s", url);
    }
    if ((rc = strata_cache_config_set(ctx->db, &cfg)) != STRATA_OK)
        return cli_fail(ctx, rc, "serve: cache configuration");

    /* Every client is a descriptor: raise the soft limit toward maxclients (as
     * redis-server does), as far as the hard limit allows. */
    struct rlimit rl;
    rlim_t want = (rlim_t)(o.maxclients ? o.maxclients : STRATA_SERVER_DEFAULT_MAXCLIENTS) + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    strata_server *srv = NULL;
    if ((rc = strata_server_open(ctx->db, &o, &srv)) != STRATA_OK)
        return cli_fail(ctx, rc, "serve");
    int bound = -1;
    strata_server_port(srv, &bound);
    char *abs = realpath(ctx->dir, NULL);
    printf("strata serve: pid %ld, store %s, listening on %s:%d and %s/%s\n", (long)getpid(),
           abs ? abs : ctx->dir, o.bind ? o.bind : "127.0.0.1", bound, abs ? abs : ctx->dir,
           STRATA_SERVER_SOCKET_NAME);
    free(abs);
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    running_server = srv;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = strata_server_run(srv);
    running_server = NULL;
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    strata_server_close(srv);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "serve");
    printf("strata serve: stopped; connections closed\n");
    return CLI_OK;
}

/* ---- the client side: commands through DIR/strata.sock ---- */

struct remote {
    redisContext *rc;
    int dirfd;
};

static int remote_connect(const char *dir, struct remote *r)
{
    char path[4200];
    struct sockaddr_un un;
    r->rc = NULL;
    r->dirfd = -1;
    snprintf(path, sizeof path, "%s/%s", dir, STRATA_SERVER_SOCKET_NAME);
    if (strlen(path) >= sizeof un.sun_path) { /* reach a long path through its folder */
        r->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->dirfd < 0)
            return -1;
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", r->dirfd, STRATA_SERVER_SOCKET_NAME);
    }
    struct timeval tv = { 2, 0 };
    r->rc = redisConnectUnixWithTimeout(path, tv);
    if (r->rc && !r->rc->err) {
        struct timeval ct = { 600, 0 }; /* a server that stops answering fails the command, not forever */
        redisSetTimeout(r->rc, ct);
    }
    if (!r->rc || r->rc->err) {
        if (r->rc)
            redisFree(r->rc);
        r->rc = NULL;
        if (r->dirfd >= 0)
            close(r->dirfd);
        r->dirfd = -1;
        return -1;
    }
    return 0;
}

static void remote_close(struct remote *r)
{
    if (r->rc)
        redisFree(r->rc);
    if (r->dirfd >= 0)
        close(r->dirfd);
}

int cli_served(const char *dir)
{
    struct remote r;
    if (remote_connect(dir, &r) < 0)
        return 0;
    redisReply *rep = redisCommand(r.rc, "PING");
    int ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    if (rep)
        freeReplyObject(rep);
    remote_close(&r);
    return ok;
}

struct call {
    struct remote *r;
    const char *argv[16];
    size_t lens[16];
    int argc;
};

static void arg(struct call *c, const char *s, size_t n)
{
    if (c->argc < 16) {
        c->argv[c->argc] = s;
        c->lens[c->argc++] = n;
    }
}
static void args(struct call *c, const char *s) { arg(c, s, strlen(s)); }

/* Send the call; NULL (after a message) when the connection failed. An error
 * reply is printed as "strata: WHAT: message" and returned as NULL with *failed. */
static redisReply *send_call(struct cli_ctx *ctx, struct call *c, int *failed, const char *what_fmt, ...)
    __attribute__((format(printf, 4, 5)));
static redisReply *send_call(struct cli_ctx *ctx, struct call *c, int *failed, const char *what_fmt, ...)
{
    (void)ctx;
    *failed = 0;
    redisReply *rep = redisCommandArgv(c->r->rc, c->argc, c->argv, c->lens);
    char what[512];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    if (!rep) {
        fprintf(stderr, "strata: %s: lost the connection to strata serve: %s\n", what,
                c->r->rc->errstr[0] ? c->r->rc->errstr : "closed");
        *failed = 1;
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        const char *m = rep->str;
        if (strncmp(m, "ERR ", 4) == 0)
            m += 4;
        fprintf(stderr, "strata: %s: %s\n", what, m);
        freeReplyObject(rep);
        *failed = 1;
        return NULL;
    }
    return rep;
}

static int not_found(const char *what, const char *detail)
{
    fprintf(stderr, "strata: %s: %s\n", what, detail);
    return CLI_FAILED;
}

/* The reply to a read, or NULL after the message; a reply of another type than
 * `type` (the null of a missing item) prints `missing`. */
static redisReply *read_call(struct cli_ctx *ctx, struct call *c, int type, const char *what, const char *missing)
{
    int failed;
    redisReply *rep = send_call(ctx, c, &failed, "%s", what);
    if (rep && rep->type != type) {
        freeReplyObject(rep);
        not_found(what, missing);
        return NULL;
    }
    return rep;
}

/* A delete or touch, answered :1 (done) or :0 (missing: prints `missing`). */
static int delete_call(struct cli_ctx *ctx, struct call *c, const char *what, const char *missing)
{
    int failed;
    redisReply *rep = send_call(ctx, c, &failed, "%s", what);
    if (!rep)
        return CLI_FAILED;
    int gone = rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
    freeReplyObject(rep);
    return gone ? not_found(what, missing) : CLI_OK;
}

/* A field of a map reply (RESP2: a flat array of name, value pairs). */
static redisReply *field(redisReply *map, const char *name)
{
    if (!map || map->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    return NULL;
}
static long long field_int(redisReply *map, const char *name)
{
    redisReply *v = field(map, name);
    return v && v->type == REDIS_REPLY_INTEGER ? v->integer : 0;
}
static const char *field_str(redisReply *map, const char *name)
{
    redisReply *v = field(map, name);
    return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

/* ---- setting ---- */
static int r_setting(struct cli_ctx *ctx, struct remote *r, const char *cmd)
{
    struct call c = { r, { 0 }, { 0 }, 0 };
    int failed;
    args(&c, "STRATA.SETTING");
    if (strcmp(cmd, "list") == 0) {
        args(&c, "LIST");
        redisReply *rep = send_call(ctx, &c, &failed, "list settings");
        if (!rep)
            return CLI_FAILED;
        struct cli_json j;
        int json = cli_json_wanted(ctx);
        cli_json_init(&j);
        if (json)
            cli_json_array_begin(&j);
        for (size_t i = 0; i < rep->elements && !cli_out_failed(); i++) {
            redisReply *row = rep->element[i];
            if (row->type != REDIS_REPLY_ARRAY || row->elements != 3)
                continue;
            if (json) {
                cli_json_object_begin(&j);
                cli_json_key(&j, "key");
                cli_json_string(&j, row->element[0]->str);
                cli_json_key(&j, "value");
                cli_json_raw(&j, row->element[1]->str);
                cli_json_key(&j, "updated_at_ms");
                cli_json_int(&j, row->element[2]->integer);
                cli_json_object_end(&j);
            } else {
                cli_put_text(row->element[0]->str);
                putchar('\t');
                cli_put_json_compact(row->element[1]->str);
                putchar('\n');
            }
        }
        if (json)
            cli_json_array_end(&j);
        freeReplyObject(rep);
        return CLI_OK;
    }
    const char *key = ctx->argv[0];
    char what[256];
    if (strcmp(cmd, "get") == 0) {
        args(&c, "GET");
        args(&c, key);
        args(&c, "WITHTIME");
        snprintf(what, sizeof what, "get setting '%s'", cli_q(key));
        char d[200];
        snprintf(d, sizeof d, "setting '%s' not found", cli_q(key));
        redisReply *rep = read_call(ctx, &c, REDIS_REPLY_ARRAY, what, d);
        if (!rep)
            return CLI_FAILED;
        if (cli_json_wanted(ctx)) {
            struct cli_json j;
            cli_json_init(&j);
            cli_json_object_begin(&j);
            cli_json_key(&j, "key");
            cli_json_string(&j, key);
            cli_json_key(&j, "value");
            cli_json_raw(&j, rep->element[0]->str);
            cli_json_key(&j, "updated_at_ms");
            cli_json_int(&j, rep->element[1]->integer);
            cli_json_object_end(&j);
        } else {
            cli_put_json_compact(rep->element[0]->str);
            putchar('\n');
        }
        freeReplyObject(rep);
        return CLI_OK;
    }
    if (strcmp(cmd, "set") == 0) {
        char *from_stdin = NULL;
        const char *json = ctx->argv[1];
        if (strcmp(json, "-") == 0) {
            if (!(from_stdin = cli_read_stdin(ctx)))
                return CLI_FAILED;
            json = from_stdin;
        }
        args(&c, "SET");
        args(&c, key);
        args(&c, json);
        redisReply *rep = send_call(ctx, &c, &failed, "set setting '%s'", cli_q(key));
        free(from_stdin);
        if (!rep)
            return CLI_FAILED;
        freeReplyObject(rep);
        return CLI_OK;
    }
    /* del */
    args(&c, "DEL");
    args(&c, key);
    snprintf(what, sizeof what, "delete setting '%s'", cli_q(key));
    char d[200];
    snprintf(d, sizeof d, "setting delete: '%s' not found", cli_q(key));
    return delete_call(ctx, &c, what, d);
}

/* ---- session ---- */
static void put_ttl(long long ttl_s)
{
    if (ttl_s > 0)
        printf("%llds", ttl_s);
    else
        fputs("none", stdout);
}

static void session_json(struct cli_json *j, redisReply *m)
{
    cli_json_object_begin(j);
    cli_json_key(j, "id");
    cli_json_string(j, field_str(m, "id"));
    cli_json_key(j, "data");
    cli_json_raw(j, field_str(m, "data"));
    cli_json_key(j, "created_at_ms");
    cli_json_int(j, field_int(m, "created_at_ms"));
    cli_json_key(j, "last_accessed_ms");
    cli_json_int(j, field_int(m, "last_accessed_ms"));
    cli_json_key(j, "ttl_s");
    cli_json_int(j, field_int(m, "ttl_s"));
    cli_json_object_end(j);
}

static int r_session(struct cli_ctx *ctx, struct remote *r, const char *cmd)
{
    struct call c = { r, { 0 }, { 0 }, 0 };
    int failed;
    int json = cli_json_wanted(ctx);
    args(&c, "STRATA.SESSION");
    if (strcmp(cmd, "new") == 0) {
        const char *ttl_text = cli_flag(ctx, "--ttl"), *data = cli_flag(ctx, "--data"), *id = cli_flag(ctx, "--id");
        int64_t ttl_s = 0;
        if (ttl_text && cli_parse_seconds(ctx, "--ttl", ttl_text, &ttl_s) != CLI_OK)
            return CLI_USAGE;
        char *from_stdin = NULL;
        if (data && strcmp(data, "-") == 0) {
            if (!(from_stdin = cli_read_stdin(ctx)))
                return CLI_FAILED;
            data = from_stdin;
        }
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s);
        args(&c, "NEW");
        if (id) { args(&c, "ID"); args(&c, id); }
        if (data) { args(&c, "DATA"); args(&c, data); }
        args(&c, "TTL");
        args(&c, ttl);
        redisReply *rep = id ? send_call(ctx, &c, &failed, "create session '%s'", cli_q(id))
                             : send_call(ctx, &c, &failed, "create session");
        free(from_stdin);
        if (!rep)
            return CLI_FAILED;
        if (json) {
            struct cli_json j;
            cli_json_init(&j);
            cli_json_object_begin(&j);
            cli_json_key(&j, "id");
            cli_json_string(&j, rep->str);
            cli_json_object_end(&j);
        } else {
            cli_put_text(rep->str);
            putchar('\n');
        }
        freeReplyObject(rep);
        return CLI_OK;
    }
    if (strcmp(cmd, "list") == 0) {
        args(&c, "LIST");
        redisReply *rep = send_call(ctx, &c, &failed, "list sessions");
        if (!rep)
            return CLI_FAILED;
        struct cli_json j;
        cli_json_init(&j);
        if (json)
            cli_json_array_begin(&j);
        for (size_t i = 0; i < rep->elements && !cli_out_failed(); i++) {
            redisReply *m = rep->element[i];
            if (json) {
                session_json(&j, m);
                continue;
            }
            cli_put_text(field_str(m, "id"));
            putchar('\t');
            cli_put_time(field_int(m, "created_at_ms"));
            putchar('\t');
            cli_put_time(field_int(m, "last_accessed_ms"));
            putchar('\t');
            put_ttl(field_int(m, "ttl_s"));
            putchar('\t');
            cli_put_json_compact(field_str(m, "data"));
            putchar('\n');
        }
        if (json)
            cli_json_array_end(&j);
        freeReplyObject(rep);
        return CLI_OK;
    }
    if (strcmp(cmd, "expire") == 0) {
        const char *idle_text = cli_flag(ctx, "--idle");
        int64_t idle_s = 0;
        if (idle_text && cli_parse_seconds(ctx, "--idle", idle_text, &idle_s) != CLI_OK)
            return CLI_USAGE;
        char idle[24];
        snprintf(idle, sizeof idle, "%" PRId64, idle_s);
        args(&c, "EXPIRE");
        args(&c, "IDLE");
        args(&c, idle);
        redisReply *rep = send_call(ctx, &c, &failed, "expire sessions");
        if (!rep)
            return CLI_FAILED;
        if (json) {
            struct cli_json j;
            cli_json_init(&j);
            cli_json_object_begin(&j);
            cli_json_key(&j, "expired");
            cli_json_uint(&j, (uint64_t)rep->integer);
            cli_json_object_end(&j);
        } else {
            printf("%lld\n", rep->integer);
        }
        freeReplyObject(rep);
        return CLI_OK;
    }
    const char *id = ctx->argv[0];
    char what[256], detail[256];
    if (strcmp(cmd, "get") == 0) {
        args(&c, "GET");
        args(&c, id);
        snprintf(what, sizeof what, "get session '%s'", cli_q(id));
        snprintf(detail, sizeof detail, "session '%s' not found", cli_q(id));
        redisReply *rep = read_call(ctx, &c, REDIS_REPLY_ARRAY, what, detail);
        if (!rep)
            return CLI_FAILED;
        if (json) {
            struct cli_json j;
            cli_json_init(&j);
            session_json(&j, rep);
        } else {
            fputs("id             ", stdout);
            cli_put_text(field_str(rep, "id"));
            fputs("\ncreated        ", stdout);
            cli_put_time(field_int(rep, "created_at_ms"));
            fputs("\nlast_accessed  ", stdout);
            cli_put_time(field_int(rep, "last_accessed_ms"));
            fputs("\nttl            ", stdout);
            put_ttl(field_int(rep, "ttl_s"));
            fputs("\ndata           ", stdout);
            cli_put_json_compact(field_str(rep, "data"));
            putchar('\n');
        }
        freeReplyObject(rep);
        return CLI_OK;
    }
    /* touch, del */
    int touch = strcmp(cmd, "touch") == 0;
    args(&c, touch ? "TOUCH" : "DEL");
    args(&c, id);
    snprintf(what, sizeof what, "%s session '%s'", touch ? "touch" : "delete", cli_q(id));
    snprintf(detail, sizeof detail, "session %s: '%s' not found", touch ? "touch" : "delete", cli_q(id));
    return delete_call(ctx, &c, what, detail);
}

/* ---- doc ---- */
static const char *base_name(const char *path)
{
    const char *end = path + strlen(path);
    while (end > path + 1 && end[-1] == '/')
        end--;
    const char *b = end;
    while (b > path && b[-1] != '/')
        b--;
    static char buf[4097];
    size_t n = (size_t)(end - b);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
    return buf;
}

/* The whole of fd into memory (the server takes a document as one bulk string). */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *g = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!g) {
                free(buf);
                return NULL;
            }
            buf = g;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int r_doc_meta_json(struct cli_json *j, redisReply *m, int put_form)
{
    cli_json_object_begin(j);
    redisReply *id = field(m, "id");
    cli_json_key(j, "id");
    cli_json_string_n(j, id ? id->str : "", id ? id->len : 0);
    if (put_form) {
        cli_json_key(j, "size");
        cli_json_uint(j, (uint64_t)field_int(m, "size"));
        cli_json_key(j, "stored_size");
        cli_json_uint(j, (uint64_t)field_int(m, "stored_size"));
        cli_json_key(j, "sha256");
        cli_json_string(j, field_str(m, "sha256"));
        cli_json_key(j, "lsn");
        cli_json_uint(j, (uint64_t)field_int(m, "lsn"));
        cli_json_object_end(j);
        return CLI_OK;
    }
    cli_json_key(j, "filename");
    if (field_str(m, "filename"))
        cli_json_string(j, field_str(m, "filename"));
    else
        cli_json_null(j);
    cli_json_key(j, "size");
    cli_json_uint(j, (uint64_t)field_int(m, "size"));
    cli_json_key(j, "stored_size");
    cli_json_uint(j, (uint64_t)field_int(m, "stored_size"));
    cli_json_key(j, "codec");
    cli_json_string(j, field_str(m, "codec"));
    cli_json_key(j, "tier");
    cli_json_string(j, field_str(m, "tier"));
    cli_json_key(j, "segment");
    cli_json_uint(j, (uint64_t)field_int(m, "segment"));
    cli_json_key(j, "sha256");
    cli_json_string(j, field_str(m, "sha256"));
    cli_json_key(j, "created_at_ms");
    cli_json_int(j, field_int(m, "created_at_ms"));
    cli_json_key(j, "updated_at_ms");
    cli_json_int(j, field_int(m, "updated_at_ms"));
    cli_json_key(j, "last_access_ms");
    if (field_int(m, "last_access_ms"))
        cli_json_int(j, field_int(m, "last_access_ms"));
    else
        cli_json_null(j);
    cli_json_key(j, "lsn");
    cli_json_uint(j, (uint64_t)field_int(m, "lsn"));
    cli_json_key(j, "metadata");
    cli_json_raw(j, field_str(m, "metadata"));
    cli_json_object_end(j);
    return CLI_OK;
}

static int r_doc_get(struct cli_ctx *ctx, struct call *c, const char *id)
{
    const char *out = cli_flag(ctx, "-o");
    if (out && !*out)
        return cli_usage(ctx, "-o needs a file name");
    args(c, "STRATA.DOCGET");
    args(c, id);
    char what[256];
    snprintf(what, sizeof what, "doc get '%s'", cli_q(id));
    char d[200];
    snprintf(d, sizeof d, "document '%s' not found", cli_q(id));
    redisReply *rep = read_call(ctx, c, REDIS_REPLY_STRING, what, d);
    if (!rep)
        return CLI_FAILED;
    int status = CLI_OK;
    if (!out || strcmp(out, "-") == 0) {
        fflush(stdout);
        if (write_all(STDOUT_FILENO, rep->str, rep->len) < 0) {
            fprintf(stderr, "strata: %s: writing the output failed: %s\n", what, strerror(errno));
            status = CLI_FAILED;
        }
        freeReplyObject(rep);
        return status;
    }
    /* -o FILE: through a temporary file, synced and renamed only when complete */
    size_t n = strlen(out);
    char *tmp = malloc(n + sizeof ".XXXXXX.tmp");
    if (!tmp) {
        freeReplyObject(rep);
        return cli_fail(ctx, STRATA_ENOMEM, "doc get '%s'", cli_q(id));
    }
    memcpy(tmp, out, n);
    memcpy(tmp + n, ".XXXXXX.tmp", sizeof ".XXXXXX.tmp");
    int fd = mkostemps(tmp, 4, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "strata: %s: create '%s': %s\n", what, cli_q(tmp), strerror(errno));
        free(tmp);
        freeReplyObject(rep);
        return CLI_FAILED;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (write_all(fd, rep->str, rep->len) < 0 || fchmod(fd, 0666 & ~mask) != 0 || fsync(fd) != 0) {
        fprintf(stderr, "strata: %s: write '%s': %s\n", what, cli_q(tmp), strerror(errno));
        status = CLI_FAILED;
    }
    if (close(fd) != 0 && status == CLI_OK) {
        fprintf(stderr, "strata: %s: write '%s': %s\n", what, cli_q(tmp), strerror(errno));
        status = CLI_FAILED;
    }
    if (status == CLI_OK && rename(tmp, out) != 0) {
        fprintf(stderr, "strata: %s: rename to '%s': %s\n", what, cli_q(out), strerror(errno));
        status = CLI_FAILED;
    }
    if (status != CLI_OK)
        unlink(tmp);
    free(tmp);
    freeReplyObject(rep);
    return status;
}

static int r_doc(struct cli_ctx *ctx, struct remote *r, const char *cmd)
{
    struct call c = { r, { 0 }, { 0 }, 0 };
    int failed;
    int json = cli_json_wanted(ctx);
    char what[256], detail[256];
    if (strcmp(cmd, "list") == 0) {
        const char *prefix = cli_flag(ctx, "--prefix"), *where = cli_flag(ctx, "--where");
        args(&c, "STRATA.DOCLIST");
        char *path = NULL;
        if (prefix) { args(&c, "PREFIX"); args(&c, prefix); }
        if (where) {
            const char *eq = strchr(where, '=');
            if (!eq || eq == where)
                return cli_usage(ctx, "--where wants PATH=JSON, e.g. '$.lang=\"en\"', not '%s'", cli_q(where));
            if (!(path = strndup(where, (size_t)(eq - where))))
                return cli_fail(ctx, STRATA_ENOMEM, "doc list");
            args(&c, "WHERE");
            args(&c, path);
            args(&c, eq + 1);
        }
        redisReply *rep = send_call(ctx, &c, &failed, "doc list");
        free(path);
        if (!rep)
            return CLI_FAILED;
        struct cli_json j;
        cli_json_init(&j);
        if (json)
            cli_json_array_begin(&j);
        for (size_t i = 0; i < rep->elements && !cli_out_failed(); i++) {
            redisReply *id = rep->element[i];
            if (json) {
                cli_json_string_n(&j, id->str, id->len);
            } else {
                cli_put_bytes(id->str, id->len);
                putchar('\n');
            }
        }
        if (json)
            cli_json_array_end(&j);
        freeReplyObject(rep);
        return CLI_OK;
    }
    const char *id = ctx->argv[0];
    if (strcmp(cmd, "get") == 0)
        return r_doc_get(ctx, &c, id);
    if (strcmp(cmd, "del") == 0) {
        args(&c, "STRATA.DOCDEL");
        args(&c, id);
        snprintf(what, sizeof what, "doc del '%s'", cli_q(id));
        snprintf(detail, sizeof detail, "document delete: document (%zu-byte id) not found", strlen(id));
        return delete_call(ctx, &c, what, detail);
    }
    if (strcmp(cmd, "meta") == 0) {
        args(&c, "STRATA.DOCMETA");
        args(&c, id);
        snprintf(what, sizeof what, "doc meta '%s'", cli_q(id));
        snprintf(detail, sizeof detail, "document '%s' not found", cli_q(id));
        redisReply *m = read_call(ctx, &c, REDIS_REPLY_ARRAY, what, detail);
        if (!m)
            return CLI_FAILED;
        if (json) {
            struct cli_json j;
            cli_json_init(&j);
            r_doc_meta_json(&j, m, 0);
        } else {
            redisReply *rid = field(m, "id");
            fputs("id           ", stdout);
            cli_put_bytes(rid ? rid->str : "", rid ? rid->len : 0);
            fputs("\nfilename     ", stdout);
            if (field_str(m, "filename"))
                cli_put_bytes(field_str(m, "filename"), strlen(field_str(m, "filename")));
            else
                fputs("-", stdout);
            printf("\nsize         %lld", field_int(m, "size"));
            printf("\nstored_size  %lld", field_int(m, "stored_size"));
            printf("\ncodec        %s", field_str(m, "codec"));
            printf("\ntier         %s", field_str(m, "tier"));
            printf("\nsegment      %lld", field_int(m, "segment"));
            printf("\nsha256       %s", field_str(m, "sha256"));
            fputs("\ncreated      ", stdout);
            cli_put_time(field_int(m, "created_at_ms"));
            fputs("\nupdated      ", stdout);
            cli_put_time(field_int(m, "updated_at_ms"));
            fputs("\nlast_access  ", stdout);
            if (field_int(m, "last_access_ms"))
                cli_put_time(field_int(m, "last_access_ms"));
            else
                fputs("never", stdout);
            printf("\nlsn          %lld", field_int(m, "lsn"));
            fputs("\nmetadata     ", stdout);
            cli_put_json_compact(field_str(m, "metadata"));
            putchar('\n');
        }
        freeReplyObject(m);
        return CLI_OK;
    }
    /* put */
    const char *file = ctx->argc > 1 ? ctx->argv[1] : "-";
    int from_stdin = strcmp(file, "-") == 0;
    const char *meta = cli_flag(ctx, "--meta"), *fname = cli_flag(ctx, "--filename");
    if (!fname && !from_stdin)
        fname = base_name(file);
    int fd = 0;
    if (!from_stdin) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "strata: doc put '%s': open '%s': %s\n", cli_q(id), cli_q(file), strerror(errno));
            if (fd >= 0)
                close(fd);
            return CLI_FAILED;
        }
        if (S_ISDIR(st.st_mode)) {
            fprintf(stderr, "strata: doc put '%s': '%s' is a directory (use 'strata import DIR')\n", cli_q(id),
                    cli_q(file));
            close(fd);
            return CLI_FAILED;
        }
    }
    size_t len = 0;
    char *content = read_all(fd, &len);
    int e = errno;
    if (!from_stdin)
        close(fd);
    if (!content) {
        fprintf(stderr, "strata: doc put '%s': reading the content: %s\n", cli_q(id), strerror(e));
        return CLI_FAILED;
    }
    args(&c, "STRATA.DOCPUT");
    args(&c, id);
    arg(&c, content, len);
    if (meta) { args(&c, "META"); args(&c, meta); }
    if (fname) { args(&c, "FILENAME"); args(&c, fname); }
    redisReply *rep = send_call(ctx, &c, &failed, "doc put '%s'", cli_q(id));
    free(content);
    if (!rep)
        return CLI_FAILED;
    freeReplyObject(rep);
    if (!json)
        return CLI_OK;
    struct call m = { r, { 0 }, { 0 }, 0 };
    args(&m, "STRATA.DOCMETA");
    args(&m, id);
    redisReply *info = send_call(ctx, &m, &failed, "doc put '%s': read back", cli_q(id));
    if (!info)
        return CLI_FAILED;
    struct cli_json j;
    cli_json_init(&j);
    r_doc_meta_json(&j, info, 1);
    freeReplyObject(info);
    return CLI_OK;
}

/* ---- stats ---- */
static int r_stats(struct cli_ctx *ctx, struct remote *r)
{
    struct call c = { r, { 0 }, { 0 }, 0 };
    int failed;
    args(&c, "STRATA.STATS");
    redisReply *rep = send_call(ctx, &c, &failed, "read statistics");
    if (!rep)
        return CLI_FAILED;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            cli_json_key(&j, rep->element[i]->str);
            cli_json_uint(&j, (uint64_t)rep->element[i + 1]->integer);
        }
        cli_json_object_end(&j);
    } else {
        for (size_t i = 0; i + 1 < rep->elements; i += 2)
            printf("%-18s %lld\n", rep->element[i]->str, rep->element[i + 1]->integer);
    }
    freeReplyObject(rep);
    return CLI_OK;
}

/* ---- library calls through the server, for the handlers of other commands ----
 * While cli_served_run runs such a handler, `active` is the connection and ctx->db
 * is NULL; the handler calls cli_served_* where it would call strata_*. An error
 * reply's text is kept for cli_fail (cli_served_errmsg). */
static struct remote *active;

static int served_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int served_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cli_served_msg, sizeof cli_served_msg, fmt, ap);
    va_end(ap);
    return rc;
}

/* Send argv; the reply, or NULL with *rc and cli_served_msg set (an error reply is
 * STRATA_EINVAL: the server's message says what). */
static redisReply *served_call(int argc, const char **argv, const size_t *lens, int *rc)
{
    cli_served_msg[0] = 0;
    if (!active) {
        *rc = served_fail(STRATA_EMISUSE, "no server connection");
        return NULL;
    }
    redisReply *rep = redisCommandArgv(active->rc, argc, argv, lens);
    if (!rep) {
        *rc = served_fail(STRATA_EIO, "lost the connection to strata serve: %s",
                          active->rc->errstr[0] ? active->rc->errstr : "closed");
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        *rc = served_fail(STRATA_EINVAL, "%s", strncmp(rep->str, "ERR ", 4) == 0 ? rep->str + 4 : rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    *rc = STRATA_OK;
    return rep;
}

#define NARGS(a) (int)(sizeof a / sizeof a[0])
#define LENS(a, ...) size_t a[] = { __VA_ARGS__ }

static const char *const metric_words[] = { "cosine", "ip", "l2" };
static const char *const dtype_words[] = { "f32", "f16", "i8" };

static int word_index(const char *s, const char *const *words)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    return 0;
}

int cli_served_vec_info(const char *name, strata_collection_info *out)
{
    static char kernels[32];
    const char *argv[] = { "STRATA.VEC", "INFO", name };
    LENS(lens, 10, 4, strlen(name));
    int rc;
    redisReply *m = served_call(NARGS(argv), argv, lens, &rc);
    if (!m)
        return rc;
    if (m->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(m);
        return served_fail(STRATA_ENOTFOUND, "no collection '%s'", cli_q(name));
    }
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", field_str(m, "name") ? field_str(m, "name") : name);
    out->dim = (uint32_t)field_int(m, "dim");
    out->metric = word_index(field_str(m, "metric"), metric_words);
    out->dtype = word_index(field_str(m, "dtype"), dtype_words);
    out->m = (uint32_t)field_int(m, "m");
    out->ef_construction = (uint32_t)field_int(m, "ef_construction");
    out->count = (uint64_t)field_int(m, "count");
    out->index_bytes = (uint64_t)field_int(m, "index_bytes");
    out->log_bytes = (uint64_t)field_int(m, "log_bytes");
    out->created_at_ms = field_int(m, "created_at_ms");
    snprintf(kernels, sizeof kernels, "%s", field_str(m, "kernels") ? field_str(m, "kernels") : "none");
    out->kernels = kernels;
    freeReplyObject(m);
    return STRATA_OK;
}

int cli_served_vec_list(strata_collection_cb cb, void *arg)
{
    const char *argv[] = { "STRATA.VEC", "LIST" };
    LENS(lens, 10, 4);
    int rc;
    redisReply *l = served_call(NARGS(argv), argv, lens, &rc);
    if (!l)
        return rc;
    for (size_t i = 0; rc == STRATA_OK && i < l->elements; i++) {
        strata_collection_info info;
        if ((rc = cli_served_vec_info(l->element[i]->str, &info)) == STRATA_ENOTFOUND)
            rc = STRATA_OK; /* dropped meanwhile */
        else if (rc == STRATA_OK && cb(arg, &info) != 0)
            break;
    }
    freeReplyObject(l);
    return rc;
}

int cli_served_vec_create(const char *name, const strata_collection_opts *o)
{
    char dim[16], m[16], efc[16];
    snprintf(dim, sizeof dim, "%" PRIu32, o->dim);
    snprintf(m, sizeof m, "%" PRIu32, o->m ? o->m : STRATA_VEC_DEFAULT_M);
    snprintf(efc, sizeof efc, "%" PRIu32, o->ef_construction ? o->ef_construction : STRATA_VEC_DEFAULT_EF_CONSTRUCTION);
    const char *metric = metric_words[o->metric >= 0 && o->metric < 3 ? o->metric : 0];
    const char *dtype = dtype_words[o->dtype >= 0 && o->dtype < 3 ? o->dtype : 0];
    const char *argv[] = { "STRATA.VEC", "CREATE", name, dim, "METRIC", metric, "DTYPE", dtype,
                           "M", m, "EF_CONSTRUCTION", efc };
    LENS(lens, 10, 6, strlen(name), strlen(dim), 6, strlen(metric), 5, strlen(dtype), 1, strlen(m), 15, strlen(efc));
    int rc;
    redisReply *r = served_call(NARGS(argv), argv, lens, &rc);
    if (r)
        freeReplyObject(r);
    return rc;
}

int cli_served_vec_drop(const char *name)
{
    const char *argv[] = { "STRATA.VEC", "DROP", name };
    LENS(lens, 10, 4, strlen(name));
    int rc;
    redisReply *r = served_call(NARGS(argv), argv, lens, &rc);
    if (!r)
        return rc;
    int gone = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return gone ? STRATA_OK : served_fail(STRATA_ENOTFOUND, "no collection '%s'", cli_q(name));
}

int cli_served_vec_get(const char *name, const char *id, size_t id_len, float *out, uint32_t dim)
{
    const char *argv[] = { "STRATA.VEC", "GET", name, id };
    LENS(lens, 10, 3, strlen(name), id_len);
    int rc;
    redisReply *r = served_call(NARGS(argv), argv, lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != dim) {
        freeReplyObject(r);
        return served_fail(STRATA_ENOTFOUND, "document '%s' has no vector in '%s'", cli_q(id), name);
    }
    for (uint32_t i = 0; i < dim; i++)
        out[i] = r->element[i]->str ? strtof(r->element[i]->str, NULL) : 0.0f;
    freeReplyObject(r);
    return STRATA_OK;
}

/* The results are the CLI's: free them with cli_served_results_free. */
int cli_served_vec_search(const char *name, const float *q, uint32_t dim, const strata_vec_search_opts *o,
                          strata_vec_result **res, size_t *n)
{
    *res = NULL;
    *n = 0;
    unsigned char *blob = malloc((size_t)dim * 4);
    if (!blob)
        return served_fail(STRATA_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < dim; i++) { /* little-endian float32, whatever this host is */
        uint32_t u;
        memcpy(&u, &q[i], 4);
        for (int b = 0; b < 4; b++)
            blob[4 * i + (uint32_t)b] = (unsigned char)(u >> (8 * b));
    }
    char k[16], ef[16];
    snprintf(k, sizeof k, "%" PRIu32, o->k ? o->k : 10);
    snprintf(ef, sizeof ef, "%" PRIu32, o->ef);
    const char *argv[9] = { "STRATA.SEARCH", name, "VECTOR", (const char *)blob, "K", k };
    size_t lens[9] = { 13, strlen(name), 6, (size_t)dim * 4, 1, strlen(k) };
    int argc = 6;
    if (o->ef) {
        argv[argc] = "EF";
        lens[argc++] = 2;
        argv[argc] = ef;
        lens[argc++] = strlen(ef);
    }
    if (o->exact) {
        argv[argc] = "EXACT";
        lens[argc++] = 5;
    }
    int rc;
    redisReply *r = served_call(argc, argv, lens, &rc);
    free(blob);
    if (!r)
        return rc;
    strata_vec_result *out = calloc(r->elements ? r->elements : 1, sizeof *out);
    for (size_t i = 0; out && i < r->elements; i++) {
        redisReply *hit = r->element[i];
        if (hit->type != REDIS_REPLY_ARRAY || hit->elements != 2 || !(out[i].id = malloc(hit->element[0]->len + 1))) {
            cli_served_results_free(out, i);
            out = NULL;
            break;
        }
        memcpy(out[i].id, hit->element[0]->str, hit->element[0]->len);
        ((char *)out[i].id)[hit->element[0]->len] = 0;
        out[i].id_len = hit->element[0]->len;
        out[i].score = hit->element[1]->str ? strtof(hit->element[1]->str, NULL) : 0.0f;
        out[i].distance = -out[i].score; /* not sent; the CLI prints scores */
    }
    size_t count = r->elements;
    freeReplyObject(r);
    if (!out)
        return served_fail(STRATA_ENOMEM, "out of memory (or a malformed reply)");
    *res = out;
    *n = count;
    return STRATA_OK;
}

void cli_served_results_free(strata_vec_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].id);
    free(r);
}

int cli_served_backup_create(const char *dest, char *name, size_t cap)
{
    char *abs = NULL;
    if (dest && dest[0] != '/') { /* the server's working directory is not ours */
        char *cwd = getcwd(NULL, 0);
        if (!cwd || !(abs = malloc(strlen(cwd) + strlen(dest) + 2))) {
            free(cwd);
            return served_fail(STRATA_ENOMEM, "out of memory");
        }
        sprintf(abs, "%s/%s", cwd, dest);
        free(cwd);
        dest = abs;
    }
    const char *argv[] = { "STRATA.BACKUP", "CREATE", "DEST", dest };
    LENS(lens, 13, 6, 4, dest ? strlen(dest) : 0);
    int rc;
    redisReply *r = served_call(dest ? 4 : 2, argv, lens, &rc);
    free(abs);
    if (!r)
        return rc;
    const char *n = r->type == REDIS_REPLY_STRING ? r->str : field_str(r, "name");
    snprintf(name, cap, "%s", n ? n : "");
    freeReplyObject(r);
    return n ? STRATA_OK : served_fail(STRATA_EIO, "the server's reply named no backup");
}

int cli_served_metric_record(const char *table, const char *json)
{
    const char *argv[] = { "STRATA.METRIC", table, json };
    LENS(lens, 13, strlen(table), strlen(json));
    int rc;
    redisReply *r = served_call(NARGS(argv), argv, lens, &rc);
    if (!r)
        return rc;
    freeReplyObject(r);
    const char *fargv[] = { "STRATA.METRIC", "FLUSH" };
    LENS(flens, 13, 5);
    if ((r = served_call(NARGS(fargv), fargv, flens, &rc)) != NULL)
        freeReplyObject(r);
    return rc;
}

/* ---- SQL rows read from a STRATA.SQL reply: [names], [types], rows ---- */
struct sql_reply {
    redisReply *r;
    size_t row;      /* element index of the current row; 1 before the first */
    int *types;
};

static const char *sr_name(void *src, size_t col)
{
    struct sql_reply *s = src;
    return col < s->r->element[0]->elements ? s->r->element[0]->element[col]->str : NULL;
}

static int sr_type(void *src, size_t col)
{
    struct sql_reply *s = src;
    return col < s->r->element[0]->elements ? s->types[col] : -1;
}

static int sr_next(void *src, int *has)
{
    struct sql_reply *s = src;
    *has = ++s->row < s->r->elements;
    return STRATA_OK;
}

static int sr_value(void *src, size_t col, strata_value *v)
{
    struct sql_reply *s = src;
    memset(v, 0, sizeof *v);
    redisReply *row = s->r->element[s->row];
    if (row->type != REDIS_REPLY_ARRAY || col >= row->elements)
        return served_fail(STRATA_EIO, "a malformed row in the server's reply");
    redisReply *e = row->element[col];
    if (e->type == REDIS_REPLY_NIL)
        return STRATA_OK; /* v->type is STRATA_TYPE_NULL */
    v->type = s->types[col];
    switch (v->type) {
    case STRATA_TYPE_INT: case STRATA_TYPE_BOOL: case STRATA_TYPE_TIMESTAMP:
        v->i = e->type == REDIS_REPLY_INTEGER ? e->integer : e->str ? strtoll(e->str, NULL, 10) : 0;
        v->d = (double)v->i;
        break;
    case STRATA_TYPE_DOUBLE:
        v->d = e->str ? strtod(e->str, NULL) : (double)e->integer;
        break;
    default:
        v->type = STRATA_TYPE_TEXT;
        v->s = e->str ? e->str : "";
        v->len = e->str ? e->len : 0;
    }
    return STRATA_OK;
}

int cli_served_sql(const char *sql, const strata_param *p, size_t n, struct cli_rows *out)
{
    static const char *const type_words[] = { "null", "int", "double", "text", "bool", "timestamp", "other" };
    memset(out, 0, sizeof *out);
    const char **argv = calloc(n + 2, sizeof *argv);
    size_t *lens = calloc(n + 2, sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return served_fail(STRATA_ENOMEM, "out of memory");
    }
    argv[0] = "STRATA.SQL";
    argv[1] = sql;
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = p[i].s;
    for (size_t i = 0; i < n + 2; i++)
        lens[i] = strlen(argv[i]);
    int rc;
    redisReply *r = served_call((int)n + 2, argv, lens, &rc);
    free(argv);
    free(lens);
    if (!r)
        return rc;
    struct sql_reply *s = calloc(1, sizeof *s);
    size_t cols = r->type == REDIS_REPLY_ARRAY && r->elements >= 2 ? r->element[0]->elements : 0;
    if (!s || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->elements != cols ||
        !(s->types = calloc(cols ? cols : 1, sizeof *s->types))) {
        if (s)
            free(s->types);
        free(s);
        freeReplyObject(r);
        return served_fail(STRATA_EIO, "a malformed reply to STRATA.SQL (or out of memory)");
    }
    for (size_t c = 0; c < cols; c++) {
        const char *t = r->element[1]->element[c]->str;
        s->types[c] = STRATA_TYPE_OTHER;
        for (int k = 0; t && k <= STRATA_TYPE_OTHER; k++)
            if (strcmp(t, type_words[k]) == 0)
                s->types[c] = k;
    }
    s->r = r;
    s->row = 1;
    *out = (struct cli_rows){ s, cols, sr_name, sr_type, sr_next, sr_value };
    return STRATA_OK;
}

void cli_served_rows_close(struct cli_rows *rows)
{
    struct sql_reply *s = rows->src;
    if (!s)
        return;
    freeReplyObject(s->r);
    free(s->types);
    free(s);
    rows->src = NULL;
}

/* Commands whose handlers run unchanged on a served store, calling cli_served_*. */
static int handler_served(const char *g, const char *cmd)
{
    if (!*g)
        return strcmp(cmd, "sql") == 0;
    if (strcmp(g, "backup") == 0)
        return strcmp(cmd, "create") == 0;
    if (strcmp(g, "metric") == 0)
        return strcmp(cmd, "record") == 0;
    if (strcmp(g, "vec") == 0)
        return strcmp(cmd, "create") == 0 || strcmp(cmd, "drop") == 0 || strcmp(cmd, "info") == 0 ||
               strcmp(cmd, "list") == 0 || strcmp(cmd, "search") == 0;
    return 0;
}

int cli_served_run(struct cli_ctx *ctx)
{
    /* hiredis writes with write(): a server that closes on us (a document above its
     * proto-max-bulk-len, say) must give a message, not a silent SIGPIPE death. */
    signal(SIGPIPE, SIG_IGN);
    const char *g = ctx->group->name ? ctx->group->name : "";
    const char *cmd = ctx->cmd->name;
    int by_handler = handler_served(g, cmd);
    int served = by_handler || (strcmp(g, "setting") == 0) || strcmp(g, "session") == 0 ||
                 (strcmp(g, "doc") == 0 && strcmp(cmd, "train-dict") != 0) || (!*g && strcmp(cmd, "stats") == 0);
    const char *busy = strata_open_errmsg();
    if (!served) {
        fprintf(stderr, "strata: %s: %s, a `strata serve` that this command cannot run through; stop the server "
                        "(SIGTERM) to run it\n", cli_cmd_name(ctx->group, ctx->cmd), busy);
        return CLI_FAILED;
    }
    struct remote r;
    if (remote_connect(ctx->dir, &r) < 0) {
        fprintf(stderr, "strata: %s: %s, and its server's socket does not answer\n",
                cli_cmd_name(ctx->group, ctx->cmd), busy);
        return CLI_FAILED;
    }
    int status;
    if (by_handler) {
        active = &r;
        status = ctx->cmd->run(ctx);
        active = NULL;
    } else if (strcmp(g, "setting") == 0)
        status = r_setting(ctx, &r, cmd);
    else if (strcmp(g, "session") == 0)
        status = r_session(ctx, &r, cmd);
    else if (strcmp(g, "doc") == 0)
        status = r_doc(ctx, &r, cmd);
    else
        status = r_stats(ctx, &r);
    remote_close(&r);
    return status;
}

/* ---- the command table ---- */
static const struct cli_flag serve_flags[] = {
    { "--bind", "ADDR", "address to listen on (default 127.0.0.1; others need a password)" },
    { "--port", "N", "TCP port (default 6380; 0: any free port, printed)" },
    { "--requirepass", "PW", "clients on TCP must AUTH PW (default: $STRATA_REQUIREPASS)" },
    { "--maxclients", "N", "most connections at once (default 10000)" },
    { "--maxmemory", "BYTES", "cache memory limit, e.g. 268435456 or 256mb (default 256mb)" },
    { "--maxmemory-policy", "P", "noeviction, allkeys-lru, allkeys-lfu (default) or volatile-ttl" },
    { "--cache-url", "URL", "keep cache keys on a Redis/Valkey server (redis://HOST:PORT)" },
    CLI_FLAG_END,
};

static const struct cli_command serve_commands[] = {
    { "serve", "", 0, 0, serve_flags, CLI_STORE_OPEN,
      "serve the store over RESP (the Redis protocol)",
      "Hold the store and serve it to Redis clients: the cache commands (GET, SET,\n"
      "EXPIRE, INCR, MGET, SCAN, ...), INFO, CONFIG, and the store under STRATA.*\n"
      "(documents, settings, sessions, stats, vectors and search, SQL, metrics,\n"
      "backups). One event loop; commits, search, SQL, backups on workers. RESP2/3.\n"
      "It listens on TCP (127.0.0.1:6380 unless told otherwise) and on the unix\n"
      "socket DIR/strata.sock (mode 0600); while it runs, most other strata commands\n"
      "on DIR go through that socket (setting, session, doc, stats, sql, metric\n"
      "record, backup create, vec create|drop|info|list|search). An address that\n"
      "is not loopback is refused without --requirepass. SIGTERM or SIGINT stops it\n"
      "cleanly: connections closed, store closed, every acknowledged write kept.\n"
      "It prints one line when it listens: pid, store and both addresses.",
      run_serve },
};

const struct cli_group cli_group_serve = {
    NULL, "serve the store over the network", serve_commands,
    sizeof serve_commands / sizeof serve_commands[0],
};
