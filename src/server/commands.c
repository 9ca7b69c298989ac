/* commands.c — the commands `strata serve` understands, each a thin translation
 * from Redis's syntax to one public strata_* call and back to a Redis reply.
 *
 * Syntax, arity, option conflicts and error texts follow Redis 7.0, so that
 * redis-cli, redis-benchmark and client libraries see what they expect; the
 * semantics live in the library (api_cache.c, src/cache), not here. Arguments
 * point into the client's query buffer and are not NUL-terminated: everything
 * that needs a C string copies.
 *
 * A reply is either written whole or not at all: a handler that can fail after it
 * started writing rolls the buffer back (out.len = mark) before the error.
 *
 * The store itself is under STRATA.* (doc/format/resp.md), in store_cmds.c,
 * vec_cmds.c and job_cmds.c; the helpers all of them use are here. */
#include "server/server_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define COMPAT_REDIS_VERSION "7.0.0" /* the command set and replies emulated */

enum {
    CF_NOAUTH = 1,
    CF_NOQUEUE = 2, /* runs at once inside MULTI */
    CF_WORKER = 4,  /* its handler runs on a worker thread (jobs.c): it commits or computes long */
    CF_NOMULTI = 8  /* refused inside MULTI: EXEC runs on the loop, and this may take minutes */
};

struct srv_cmd {
    const char *name;  /* lower case */
    int arity;         /* Redis's: n exact, -n at least n */
    const char *flags; /* for COMMAND: "write denyoom fast" */
    int first, last, step;
    unsigned f;
    cmd_fn *fn;
    const char *subs;  /* subcommands for COMMAND (space-separated), or NULL */
};

/* ---- helpers ---- */
#define OUT (&c->out)
#define DB (c->srv->db)

int srv_eq(const char *a, size_t n, const char *lit) {
    return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

int srv_arg_ll(client *c, char *s, size_t n, long long *out) {
    if (resp_parse_ll(s, n, out)) return 1;
    rb_error(OUT, "ERR value is not an integer or out of range");
    return 0;
}

/* A NUL-terminated copy of an argument (free with free()); NULL after an OOM reply. */
char *srv_arg_str(client *c, const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) {
        rb_error(OUT, "ERR out of memory");
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void srv_syntax_error(client *c) { rb_error(OUT, "ERR syntax error"); }

/* A container command's subcommand that does not fit: Redis's two messages. */
void srv_sub_error(client *c, const char *cmd, const char *known, const char *sub, size_t sl) {
    char lower[33];
    size_t n = sl < 32 ? sl : 32;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)sub[i]);
    lower[n] = 0;
    size_t kl = strlen(lower);
    for (const char *p = known; sl <= 32 && *p;) {
        size_t wl = strcspn(p, " ");
        if (wl == kl && strncmp(p, lower, kl) == 0) {
            rb_error(OUT, "ERR wrong number of arguments for '%s|%s' command", cmd, lower);
            return;
        }
        p += wl;
        p += strspn(p, " ");
    }
    char upper[32];
    size_t ul = strlen(cmd) < sizeof upper - 1 ? strlen(cmd) : sizeof upper - 1;
    for (size_t i = 0; i < ul; i++) upper[i] = (char)toupper((unsigned char)cmd[i]);
    upper[ul] = 0;
    rb_error(OUT, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(sl > 128 ? 128 : sl), sub, upper);
}

/* A failed library call: Redis's OOM reply for maxmemory, else "ERR <message>". */
void srv_reply_fail(client *c, int rc) {
    const char *m = strata_errmsg(DB);
    if (!m || !*m) m = strata_errstr(rc);
    if (rc == STRATA_ENOMEM && strncmp(m, "OOM ", 4) == 0) rb_error(OUT, "%s", m);
    else rb_error(OUT, "ERR %s", m);
}

void srv_reply_list(client *c, int rc, rbuf *items, size_t n) {
    if (rc) srv_reply_fail(c, rc);
    else if (items->oom) rb_error(OUT, "ERR out of memory");
    else {
        rb_array(OUT, n);
        rb_raw(OUT, items->p, items->len);
    }
    free(items->p);
    *items = (rbuf){ 0 };
}

static int write_bulk(void *ctx, const void *data, size_t len) {
    rb_bulk(ctx, data, len);
    return 0;
}

/* ---- strings ---- */
static void cmd_get(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    int rc = strata_cache_get_fn(DB, argv[1], lens[1], write_bulk, OUT);
    if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
    else if (rc) srv_reply_fail(c, rc);
}

typedef struct oldval { char *p; size_t n; int found, oom; } oldval;
static int keep_old(void *ctx, const void *data, size_t len) {
    oldval *o = ctx;
    o->found = 1;
    if (!(o->p = malloc(len ? len : 1))) o->oom = 1;
    else memcpy(o->p, data, len);
    o->n = len;
    return 0;
}

/* The body of SET and its relatives. `get`: reply with the old value. */
static void do_set(client *c, char *k, size_t kl, char *v, size_t vl, strata_cache_set_opts *o, int get,
                   const char *cmd) {
    oldval old = { 0 };
    if (get) {
        o->old_value = keep_old;
        o->old_value_ctx = &old;
    }
    int rc = strata_cache_set(DB, k, kl, v, vl, o);
    if (old.oom) rb_error(OUT, "ERR out of memory");
    else if (rc == STRATA_OK || rc == STRATA_EEXIST || rc == STRATA_ENOTFOUND) {
        if (get) {
            if (old.found) rb_bulk(OUT, old.p, old.n);
            else rb_null(OUT, c->proto);
        } else if (rc == STRATA_OK) {
            rb_simple(OUT, "OK");
        } else {
            rb_null(OUT, c->proto);
        }
    } else if (rc == STRATA_EINVAL && strstr(strata_errmsg(DB), "invalid expire time")) {
        rb_error(OUT, "ERR invalid expire time in '%s' command", cmd);
    } else {
        srv_reply_fail(c, rc);
    }
    free(old.p);
}

/* EX/PX/EXAT/PXAT value -> (mode, ms) with Redis's checks; 0 after an error reply. */
static int expire_arg(client *c, char *s, size_t n, int seconds, int absolute, const char *cmd, int *mode,
                      int64_t *ms) {
    long long v;
    if (!srv_arg_ll(c, s, n, &v)) return 0;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        rb_error(OUT, "ERR invalid expire time in '%s' command", cmd);
        return 0;
    }
    *ms = seconds ? v * 1000 : v;
    *mode = absolute ? STRATA_CACHE_TTL_AT : STRATA_CACHE_TTL_REL;
    return 1;
}

static void cmd_set(client *c, int argc, char **argv, size_t *lens) {
    strata_cache_set_opts o = { 0 };
    int get = 0, keepttl = 0, exp = 0; /* exp: 1 EX, 2 PX, 3 EXAT, 4 PXAT */
    int ei = 0;
    for (int j = 3; j < argc; j++) {
        char *a = argv[j];
        size_t n = lens[j];
        int has_next = j + 1 < argc;
        if (srv_eq(a, n, "nx") && o.cond != STRATA_CACHE_XX) o.cond = STRATA_CACHE_NX;
        else if (srv_eq(a, n, "xx") && o.cond != STRATA_CACHE_NX) o.cond = STRATA_CACHE_XX;
        else if (srv_eq(a, n, "get")) get = 1;
        else if (srv_eq(a, n, "keepttl") && !exp) keepttl = 1;
        else if (!keepttl && has_next && (srv_eq(a, n, "ex") || srv_eq(a, n, "px") || srv_eq(a, n, "exat") || srv_eq(a, n, "pxat"))) {
            int kind = srv_eq(a, n, "ex") ? 1 : srv_eq(a, n, "px") ? 2 : srv_eq(a, n, "exat") ? 3 : 4;
            if (exp && exp != kind) return srv_syntax_error(c);
            exp = kind;
            ei = ++j;
        } else {
            return srv_syntax_error(c);
        }
    }
    if (exp && !expire_arg(c, argv[ei], lens[ei], exp == 1 || exp == 3, exp >= 3, "set", &o.ttl_mode, &o.ttl)) return;
    if (keepttl) o.ttl_mode = STRATA_CACHE_TTL_KEEP;
    do_set(c, argv[1], lens[1], argv[2], lens[2], &o, get, "set");
}

static void cmd_setnx(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    strata_cache_set_opts o = { 0 };
    o.cond = STRATA_CACHE_NX;
    int rc = strata_cache_set(DB, argv[1], lens[1], argv[2], lens[2], &o);
    if (rc == STRATA_OK) rb_int(OUT, 1);
    else if (rc == STRATA_EEXIST) rb_int(OUT, 0);
    else srv_reply_fail(c, rc);
}

static void setex_generic(client *c, char **argv, size_t *lens, int seconds, const char *cmd) {
    strata_cache_set_opts o = { 0 };
    if (!expire_arg(c, argv[2], lens[2], seconds, 0, cmd, &o.ttl_mode, &o.ttl)) return;
    do_set(c, argv[1], lens[1], argv[3], lens[3], &o, 0, cmd);
}
static void cmd_setex(client *c, int argc, char **argv, size_t *lens) { (void)argc; setex_generic(c, argv, lens, 1, "setex"); }
static void cmd_psetex(client *c, int argc, char **argv, size_t *lens) { (void)argc; setex_generic(c, argv, lens, 0, "psetex"); }

static void cmd_getset(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    strata_cache_set_opts o = { 0 };
    do_set(c, argv[1], lens[1], argv[2], lens[2], &o, 1, "getset");
}

static void reply_value(client *c, int rc, void *v, size_t n) {
    if (rc == STRATA_OK) rb_bulk(OUT, v, n);
    else if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
    else if (rc == STRATA_EINVAL && strstr(strata_errmsg(DB), "invalid expire time"))
        rb_error(OUT, "ERR invalid expire time in 'getex' command");
    else srv_reply_fail(c, rc);
    strata_free(v);
}

static void cmd_getdel(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    void *v = NULL;
    size_t n = 0;
    int rc = strata_cache_getdel(DB, argv[1], lens[1], &v, &n);
    reply_value(c, rc, v, n);
}

static void cmd_getex(client *c, int argc, char **argv, size_t *lens) {
    int mode = STRATA_CACHE_TTL_KEEP, seen = 0;
    int64_t ttl = 0;
    for (int j = 2; j < argc; j++) {
        char *a = argv[j];
        size_t n = lens[j];
        if (srv_eq(a, n, "persist") && !seen) {
            mode = STRATA_CACHE_TTL_NONE;
            seen = 1;
        } else if (!seen && j + 1 < argc && (srv_eq(a, n, "ex") || srv_eq(a, n, "px") || srv_eq(a, n, "exat") || srv_eq(a, n, "pxat"))) {
            int sec = srv_eq(a, n, "ex") || srv_eq(a, n, "exat"), abs_ = srv_eq(a, n, "exat") || srv_eq(a, n, "pxat");
            j++;
            if (!expire_arg(c, argv[j], lens[j], sec, abs_, "getex", &mode, &ttl)) return;
            seen = 1;
        } else {
            return srv_syntax_error(c);
        }
    }
    void *v = NULL;
    size_t n = 0;
    int rc = strata_cache_getex(DB, argv[1], lens[1], mode, ttl, &v, &n);
    reply_value(c, rc, v, n);
}

static void cmd_del(client *c, int argc, char **argv, size_t *lens) {
    long long n = 0;
    for (int j = 1; j < argc; j++) {
        int rc = strata_cache_del(DB, argv[j], lens[j]);
        if (rc == STRATA_OK) n++;
        else if (rc != STRATA_ENOTFOUND) return srv_reply_fail(c, rc);
    }
    rb_int(OUT, n);
}

static void cmd_exists(client *c, int argc, char **argv, size_t *lens) {
    long long n = 0;
    for (int j = 1; j < argc; j++) {
        int ex = 0;
        int rc = strata_cache_exists(DB, argv[j], lens[j], &ex);
        if (rc) return srv_reply_fail(c, rc);
        n += ex;
    }
    rb_int(OUT, n);
}

static void cmd_type(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    int ex = 0;
    int rc = strata_cache_exists(DB, argv[1], lens[1], &ex);
    if (rc) return srv_reply_fail(c, rc);
    rb_simple(OUT, ex ? "string" : "none");
}

static void expire_generic(client *c, int argc, char **argv, size_t *lens, int seconds, int absolute,
                           const char *cmd) {
    long long when;
    if (!srv_arg_ll(c, argv[2], lens[2], &when)) return;
    unsigned flags = 0;
    for (int j = 3; j < argc; j++) {
        if (srv_eq(argv[j], lens[j], "nx")) flags |= STRATA_CACHE_EXPIRE_NX;
        else if (srv_eq(argv[j], lens[j], "xx")) flags |= STRATA_CACHE_EXPIRE_XX;
        else if (srv_eq(argv[j], lens[j], "gt")) flags |= STRATA_CACHE_EXPIRE_GT;
        else if (srv_eq(argv[j], lens[j], "lt")) flags |= STRATA_CACHE_EXPIRE_LT;
        else {
            rb_error(OUT, "ERR Unsupported option %.*s", (int)(lens[j] > 64 ? 64 : lens[j]), argv[j]);
            return;
        }
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            rb_error(OUT, "ERR invalid expire time in '%s' command", cmd);
            return;
        }
        when *= 1000;
    }
    int applied = 0;
    int rc = strata_cache_expire(DB, argv[1], lens[1], absolute ? STRATA_CACHE_TTL_AT : STRATA_CACHE_TTL_REL, when,
                                 flags, &applied);
    if (rc == STRATA_OK) rb_int(OUT, applied);
    else if (rc == STRATA_ENOTFOUND) rb_int(OUT, 0);
    else if (rc == STRATA_EINVAL && strstr(strata_errmsg(DB), "invalid expire time"))
        rb_error(OUT, "ERR invalid expire time in '%s' command", cmd);
    else srv_reply_fail(c, rc);
}
static void cmd_expire(client *c, int argc, char **argv, size_t *lens) { expire_generic(c, argc, argv, lens, 1, 0, "expire"); }
static void cmd_pexpire(client *c, int argc, char **argv, size_t *lens) { expire_generic(c, argc, argv, lens, 0, 0, "pexpire"); }
static void cmd_expireat(client *c, int argc, char **argv, size_t *lens) { expire_generic(c, argc, argv, lens, 1, 1, "expireat"); }
static void cmd_pexpireat(client *c, int argc, char **argv, size_t *lens) { expire_generic(c, argc, argv, lens, 0, 1, "pexpireat"); }

/* TTL (ms 0, abs 0), PTTL (1, 0), EXPIRETIME (0, 1), PEXPIRETIME (1, 1). */
static void ttl_generic(client *c, char **argv, size_t *lens, int ms, int abs_) {
    int64_t ttl = -1, at = -1;
    int rc = strata_cache_ttl(DB, argv[1], lens[1], &ttl, &at);
    if (rc == STRATA_ENOTFOUND) return rb_int(OUT, -2);
    if (rc) return srv_reply_fail(c, rc);
    long long v = abs_ ? at : ttl;
    if (v == -1) return rb_int(OUT, -1);
    rb_int(OUT, ms ? v : (v + 500) / 1000);
}
static void cmd_ttl(client *c, int argc, char **argv, size_t *lens) { (void)argc; ttl_generic(c, argv, lens, 0, 0); }
static void cmd_pttl(client *c, int argc, char **argv, size_t *lens) { (void)argc; ttl_generic(c, argv, lens, 1, 0); }
static void cmd_expiretime(client *c, int argc, char **argv, size_t *lens) { (void)argc; ttl_generic(c, argv, lens, 0, 1); }
static void cmd_pexpiretime(client *c, int argc, char **argv, size_t *lens) { (void)argc; ttl_generic(c, argv, lens, 1, 1); }

static void cmd_persist(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    int applied = 0;
    int rc = strata_cache_persist(DB, argv[1], lens[1], &applied);
    if (rc == STRATA_OK || rc == STRATA_ENOTFOUND) rb_int(OUT, applied);
    else srv_reply_fail(c, rc);
}

static void incr_generic(client *c, char *k, size_t kl, long long delta) {
    int64_t r = 0;
    int rc = strata_cache_incrby(DB, k, kl, delta, &r);
    if (rc) return srv_reply_fail(c, rc);
    rb_int(OUT, r);
}
static void cmd_incr(client *c, int argc, char **argv, size_t *lens) { (void)argc; incr_generic(c, argv[1], lens[1], 1); }
static void cmd_decr(client *c, int argc, char **argv, size_t *lens) { (void)argc; incr_generic(c, argv[1], lens[1], -1); }
static void cmd_incrby(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    long long d;
    if (srv_arg_ll(c, argv[2], lens[2], &d)) incr_generic(c, argv[1], lens[1], d);
}
static void cmd_decrby(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    long long d;
    if (!srv_arg_ll(c, argv[2], lens[2], &d)) return;
    if (d == LLONG_MIN) return rb_error(OUT, "ERR decrement would overflow");
    incr_generic(c, argv[1], lens[1], -d);
}

static void cmd_append(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    size_t n = 0;
    int rc = strata_cache_append(DB, argv[1], lens[1], argv[2], lens[2], &n);
    if (rc) return srv_reply_fail(c, rc);
    rb_int(OUT, (long long)n);
}

/* GETRANGE key start end (Redis 7's clamping; a missing key is ""). */
typedef struct range { long long start, end; rbuf *out; } range;
static int put_range(void *ctx, const void *data, size_t len) {
    range *r = ctx;
    long long n = (long long)len, start = r->start, end = r->end;
    if (start < 0 && end < 0 && start > end) {
        rb_bulk(r->out, "", 0);
        return 0;
    }
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= n) end = n - 1;
    if (n == 0 || start > end) rb_bulk(r->out, "", 0);
    else rb_bulk(r->out, (const char *)data + start, (size_t)(end - start + 1));
    return 0;
}

static void cmd_getrange(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    range r = { 0, 0, OUT };
    if (!srv_arg_ll(c, argv[2], lens[2], &r.start) || !srv_arg_ll(c, argv[3], lens[3], &r.end)) return;
    int rc = strata_cache_get_fn(DB, argv[1], lens[1], put_range, &r);
    if (rc == STRATA_ENOTFOUND) rb_bulk(OUT, "", 0);
    else if (rc) srv_reply_fail(c, rc);
}

/* TIME: seconds and microseconds of the server's clock. */
static void cmd_time(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char sec[24], usec[24];
    snprintf(sec, sizeof sec, "%lld", (long long)ts.tv_sec);
    snprintf(usec, sizeof usec, "%ld", ts.tv_nsec / 1000);
    rb_array(OUT, 2);
    rb_cstr(OUT, sec);
    rb_cstr(OUT, usec);
}

static void cmd_strlen(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    size_t n = 0;
    int rc = strata_cache_strlen(DB, argv[1], lens[1], &n);
    if (rc && rc != STRATA_ENOTFOUND) return srv_reply_fail(c, rc);
    rb_int(OUT, (long long)n);
}

typedef struct mget_ctx { client *c; } mget_ctx;
static int mget_one(void *ctx, size_t i, const void *val, size_t len) {
    (void)i;
    client *c = ((mget_ctx *)ctx)->c;
    if (val) rb_bulk(OUT, val, len);
    else rb_null(OUT, c->proto);
    return 0;
}

static void cmd_mget(client *c, int argc, char **argv, size_t *lens) {
    size_t mark = c->out.len;
    rb_array(OUT, (size_t)argc - 1);
    mget_ctx m = { c };
    int rc = strata_cache_mget(DB, (size_t)argc - 1, (const void *const *)(argv + 1), lens + 1, mget_one, &m);
    if (rc) {
        c->out.len = mark;
        srv_reply_fail(c, rc);
    }
}

static void mset_generic(client *c, int argc, char **argv, size_t *lens, int nx) {
    if (argc % 2 == 0) {
        rb_error(OUT, "ERR wrong number of arguments for '%s' command", nx ? "msetnx" : "mset");
        return;
    }
    size_t n = (size_t)(argc - 1) / 2;
    const void **ks = malloc(n * sizeof *ks), **vs = malloc(n * sizeof *vs);
    size_t *kl = malloc(n * sizeof *kl), *vl = malloc(n * sizeof *vl);
    if (!ks || !vs || !kl || !vl) {
        rb_error(OUT, "ERR out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            ks[i] = argv[1 + 2 * i];
            kl[i] = lens[1 + 2 * i];
            vs[i] = argv[2 + 2 * i];
            vl[i] = lens[2 + 2 * i];
        }
        int rc = strata_cache_mset(DB, n, ks, kl, vs, vl, nx ? STRATA_CACHE_NX : STRATA_CACHE_ALWAYS);
        if (rc == STRATA_OK) {
            if (nx) rb_int(OUT, 1);
            else rb_simple(OUT, "OK");
        } else if (rc == STRATA_EEXIST && nx) {
            rb_int(OUT, 0);
        } else {
            srv_reply_fail(c, rc);
        }
    }
    free(ks);
    free(vs);
    free(kl);
    free(vl);
}
static void cmd_mset(client *c, int argc, char **argv, size_t *lens) { mset_generic(c, argc, argv, lens, 0); }
static void cmd_msetnx(client *c, int argc, char **argv, size_t *lens) { mset_generic(c, argc, argv, lens, 1); }

/* ---- keyspace ---- */
typedef struct keylist { rbuf b; size_t n; int all; } keylist;
static int add_key(void *ctx, const void *key, size_t len) {
    keylist *k = ctx;
    rb_bulk(&k->b, key, len);
    k->n++;
    return k->b.oom ? STRATA_ENOMEM : 0;
}

static void cmd_scan(client *c, int argc, char **argv, size_t *lens) {
    char num[24];
    if (lens[1] == 0 || lens[1] >= sizeof num || isspace((unsigned char)argv[1][0])) {
        rb_error(OUT, "ERR invalid cursor");
        return;
    }
    memcpy(num, argv[1], lens[1]);
    num[lens[1]] = 0;
    char *end;
    errno = 0;
    unsigned long long cursor = strtoull(num, &end, 10);
    if (*end || errno == ERANGE) {
        rb_error(OUT, "ERR invalid cursor");
        return;
    }
    long long count = STRATA_CACHE_SCAN_DEFAULT_COUNT;
    char *match = NULL;
    int type_ok = 1;
    for (int j = 2; j < argc; j += 2) {
        if (j + 1 >= argc) {
            free(match);
            return srv_syntax_error(c);
        }
        if (srv_eq(argv[j], lens[j], "count")) {
            if (!srv_arg_ll(c, argv[j + 1], lens[j + 1], &count)) { free(match); return; }
            if (count < 1) {
                free(match);
                return srv_syntax_error(c);
            }
        } else if (srv_eq(argv[j], lens[j], "match")) {
            free(match);
            if (!(match = srv_arg_str(c, argv[j + 1], lens[j + 1]))) return;
        } else if (srv_eq(argv[j], lens[j], "type")) {
            type_ok = srv_eq(argv[j + 1], lens[j + 1], "string");
        } else {
            free(match);
            return srv_syntax_error(c);
        }
    }
    keylist k = { { 0 }, 0, 0 };
    uint64_t next = 0;
    int rc = strata_cache_scan(DB, cursor, match, (size_t)count, type_ok ? add_key : NULL, &k, &next);
    free(match);
    if (rc || k.b.oom) {
        free(k.b.p);
        return srv_reply_fail(c, rc ? rc : STRATA_ENOMEM);
    }
    char cur[24];
    rb_array(OUT, 2);
    rb_bulk(OUT, cur, (size_t)snprintf(cur, sizeof cur, "%" PRIu64, next));
    rb_array(OUT, k.n);
    rb_raw(OUT, k.b.p, k.b.len);
    free(k.b.p);
}

static void cmd_keys(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    char *pat = srv_arg_str(c, argv[1], lens[1]);
    if (!pat) return;
    keylist k = { { 0 }, 0, 0 };
    uint64_t cur = 0;
    int rc;
    do rc = strata_cache_scan(DB, cur, pat, 1000, add_key, &k, &cur);
    while (rc == STRATA_OK && cur != 0);
    free(pat);
    if (rc || k.b.oom) {
        free(k.b.p);
        return srv_reply_fail(c, rc ? rc : STRATA_ENOMEM);
    }
    rb_array(OUT, k.n);
    rb_raw(OUT, k.b.p, k.b.len);
    free(k.b.p);
}

static void cmd_dbsize(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    uint64_t n = 0;
    int rc = strata_cache_dbsize(DB, &n);
    if (rc) return srv_reply_fail(c, rc);
    rb_int(OUT, (long long)n);
}

static void cmd_flushdb(client *c, int argc, char **argv, size_t *lens) {
    if (argc > 2 || (argc == 2 && !srv_eq(argv[1], lens[1], "async") && !srv_eq(argv[1], lens[1], "sync")))
        return srv_syntax_error(c);
    int rc = strata_cache_flush(DB);
    if (rc) return srv_reply_fail(c, rc);
    rb_simple(OUT, "OK");
}

/* ---- connection ---- */
static void cmd_ping(client *c, int argc, char **argv, size_t *lens) {
    if (argc > 2) {
        rb_error(OUT, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (argc == 2) rb_bulk(OUT, argv[1], lens[1]);
    else rb_simple(OUT, "PONG");
}

static void cmd_echo(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    rb_bulk(OUT, argv[1], lens[1]);
}

static void cmd_select(client *c, int argc, char **argv, size_t *lens) {
    (void)argc;
    long long db;
    if (!srv_arg_ll(c, argv[1], lens[1], &db)) return;
    if (db != 0) return rb_error(OUT, "ERR DB index is out of range");
    rb_simple(OUT, "OK");
}

static void cmd_quit(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    rb_simple(OUT, "OK");
    c->close_after = 1;
}

/* Compare without leaking where the first difference is. */
static int pass_ok(const char *want, const char *got, size_t n) {
    size_t wl = strlen(want);
    unsigned char d = (unsigned char)(wl != n);
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(got[i] ^ want[i % (wl ? wl : 1)]);
    return d == 0;
}

/* AUTH [user] pass: 1 if accepted; otherwise replies the error. */
static int check_auth(client *c, char *user, size_t ul, char *pass, size_t pl) {
    const char *want = c->srv->pass;
    if (!want) {
        rb_error(OUT, "ERR AUTH <password> called without any password configured for the default user. "
                      "Are you sure your configuration is correct?");
        return 0;
    }
    if ((user && !srv_eq(user, ul, "default")) || !pass_ok(want, pass, pl)) {
        rb_error(OUT, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    c->authed = 1;
    return 1;
}

static void cmd_auth(client *c, int argc, char **argv, size_t *lens) {
    if (argc > 3) return srv_syntax_error(c);
    int ok = argc == 2 ? check_auth(c, NULL, 0, argv[1], lens[1]) : check_auth(c, argv[1], lens[1], argv[2], lens[2]);
    if (ok) rb_simple(OUT, "OK");
}

static int valid_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~') return 0;
    return 1;
}

static void cmd_hello(client *c, int argc, char **argv, size_t *lens) {
    int proto = c->proto;
    if (argc >= 2) {
        long long v;
        if (!resp_parse_ll(argv[1], lens[1], &v)) {
            rb_error(OUT, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v < 2 || v > 3) {
            rb_error(OUT, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
    }
    int auth_at = 0, name_at = 0;
    for (int j = 2; j < argc; j++) {
        if (srv_eq(argv[j], lens[j], "auth") && j + 2 < argc) {
            auth_at = j;
            j += 2;
        } else if (srv_eq(argv[j], lens[j], "setname") && j + 1 < argc) {
            name_at = j;
            j++;
        } else {
            rb_error(OUT, "ERR Syntax error in HELLO option '%.*s'", (int)(lens[j] > 64 ? 64 : lens[j]), argv[j]);
            return;
        }
    }
    if (auth_at && !check_auth(c, argv[auth_at + 1], lens[auth_at + 1], argv[auth_at + 2], lens[auth_at + 2])) return;
    if (!c->authed) {
        rb_error(OUT, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                      "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
                      "version at the same time");
        return;
    }
    if (name_at) {
        size_t n = lens[name_at + 1];
        if (!valid_name(argv[name_at + 1], n) || n >= SRV_NAME_MAX) {
            rb_error(OUT, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        memcpy(c->name, argv[name_at + 1], n);
        c->name[n] = 0;
    }
    c->proto = proto;
    rb_map(OUT, 7, proto);
    rb_cstr(OUT, "server");
    rb_cstr(OUT, "strata");
    rb_cstr(OUT, "version");
    rb_cstr(OUT, COMPAT_REDIS_VERSION);
    rb_cstr(OUT, "proto");
    rb_int(OUT, proto);
    rb_cstr(OUT, "id");
    rb_int(OUT, (long long)c->id);
    rb_cstr(OUT, "mode");
    rb_cstr(OUT, "standalone");
    rb_cstr(OUT, "role");
    rb_cstr(OUT, "master");
    rb_cstr(OUT, "modules");
    rb_array(OUT, 0);
}

static void client_line(client *c, client *x, rbuf *b) {
    char line[512];
    int64_t now = srv_real_ms();
    int n = snprintf(line, sizeof line,
                     "id=%" PRIu64 " addr=%s fd=%d name=%s age=%" PRId64 " idle=%" PRId64
                     " flags=N db=0 qbuf=%zu obl=%zu cmd=%s resp=%d\n",
                     x->id, x->addr, x->fd, x->name, (now - x->ctime_ms) / 1000, (now - x->atime_ms) / 1000,
                     x->qlen, x->out.len - x->opos, x->lastcmd ? x->lastcmd : "NULL", x->proto);
    (void)c;
    rb_raw(b, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
}

static void cmd_client(client *c, int argc, char **argv, size_t *lens) {
    char *sub = argv[1];
    size_t sl = lens[1];
    if (srv_eq(sub, sl, "setname") && argc == 3) {
        if (!valid_name(argv[2], lens[2]) || lens[2] >= SRV_NAME_MAX) {
            rb_error(OUT, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        memcpy(c->name, argv[2], lens[2]);
        c->name[lens[2]] = 0;
        rb_simple(OUT, "OK");
    } else if (srv_eq(sub, sl, "getname") && argc == 2) {
        if (c->name[0]) rb_cstr(OUT, c->name);
        else rb_null(OUT, c->proto);
    } else if (srv_eq(sub, sl, "id") && argc == 2) {
        rb_int(OUT, (long long)c->id);
    } else if (srv_eq(sub, sl, "setinfo") && argc == 4) {
        rb_simple(OUT, "OK"); /* accepted (newer clients send it), not kept */
    } else if (srv_eq(sub, sl, "info") && argc == 2) {
        rbuf b = { 0 };
        client_line(c, c, &b);
        rb_verbatim(OUT, b.p ? b.p : "", b.len, c->proto);
        free(b.p);
    } else if (srv_eq(sub, sl, "list") && argc == 2) {
        rbuf b = { 0 };
        for (client *x = c->srv->clients; x; x = x->next) client_line(c, x, &b);
        rb_verbatim(OUT, b.p ? b.p : "", b.len, c->proto);
        free(b.p);
    } else if (srv_eq(sub, sl, "help")) {
        static const char *const lines[] = { "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
                                             "GETNAME", "    Return the name of the current connection.",
                                             "ID", "    Return the ID of the current connection.",
                                             "INFO", "    Return information about the current client connection.",
                                             "LIST", "    Return information about client connections.",
                                             "SETNAME <name>", "    Assign the name <name> to the current connection." };
        size_t n = sizeof lines / sizeof lines[0];
        rb_array(OUT, n);
        for (size_t i = 0; i < n; i++) rb_simple(OUT, lines[i]);
    } else {
        srv_sub_error(c, "client", "setname getname id info list setinfo help", sub, sl);
    }
}

/* ---- INFO ---- */
static void appendf(rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(rbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) rb_raw(b, tmp, (size_t)(n < (int)sizeof tmp ? n : (int)sizeof tmp - 1));
}

static void human(uint64_t v, char *out, size_t n) {
    const char *u = "BKMGT";
    double d = (double)v;
    int i = 0;
    while (d >= 1024 && i < 4) { d /= 1024; i++; }
    if (i == 0) snprintf(out, n, "%" PRIu64 "B", v);
    else snprintf(out, n, "%.2f%c", d, u[i]);
}

static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int want_section(int argc, char **argv, size_t *lens, const char *name, int in_default) {
    if (argc < 2) return in_default;
    for (int j = 1; j < argc; j++) {
        if (srv_eq(argv[j], lens[j], name) || srv_eq(argv[j], lens[j], "all") || srv_eq(argv[j], lens[j], "everything")) return 1;
        if (in_default && srv_eq(argv[j], lens[j], "default")) return 1;
    }
    return 0;
}

static void cmd_info(client *c, int argc, char **argv, size_t *lens) {
    strata_server *s = c->srv;
    rbuf b = { 0 };
    strata_cache_stats st;
    int have = strata_cache_stats_get(DB, &st) == STRATA_OK;
    if (!have) memset(&st, 0, sizeof st);
    if (st.used_memory > s->peak_memory) s->peak_memory = st.used_memory;
    char h1[32], h2[32], h3[32];
    int first = 1;
#define SECTION(name, title, dflt) if (want_section(argc, argv, lens, name, dflt) && (appendf(&b, "%s# %s\r\n", first ? "" : "\r\n", title), first = 0, 1))
    SECTION("server", "Server", 1) {
        struct utsname u;
        uname(&u);
        uint64_t up = (srv_mono_ms() - s->start_mono_ms) / 1000;
        appendf(&b, "redis_version:%s\r\nstrata_version:%s\r\nredis_mode:standalone\r\nos:%s %s %s\r\n"
                    "arch_bits:%d\r\nmultiplexing_api:epoll\r\nprocess_id:%ld\r\ntcp_port:%d\r\n"
                    "server_time_usec:%" PRId64 "\r\nuptime_in_seconds:%" PRIu64 "\r\nuptime_in_days:%" PRIu64 "\r\n",
                COMPAT_REDIS_VERSION, strata_version(), u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8),
                (long)getpid(), s->port > 0 ? s->port : 0, srv_real_ms() * 1000, up, up / 86400);
    }
    SECTION("clients", "Clients", 1) {
        appendf(&b, "connected_clients:%u\r\nmaxclients:%u\r\nblocked_clients:0\r\ntracking_clients:0\r\n",
                s->nclients, s->maxclients);
    }
    SECTION("memory", "Memory", 1) {
        human(st.used_memory, h1, sizeof h1);
        human(s->peak_memory, h2, sizeof h2);
        human(st.maxmemory, h3, sizeof h3);
        uint64_t rss = rss_bytes();
        appendf(&b, "used_memory:%" PRIu64 "\r\nused_memory_human:%s\r\nused_memory_rss:%" PRIu64 "\r\n"
                    "used_memory_peak:%" PRIu64 "\r\nused_memory_peak_human:%s\r\nmaxmemory:%" PRIu64 "\r\n"
                    "maxmemory_human:%s\r\nmaxmemory_policy:%s\r\nstrata_doc_cache_used_memory:%" PRIu64 "\r\n"
                    "strata_doc_cache_maxmemory:%" PRIu64 "\r\n",
                st.used_memory, h1, rss, s->peak_memory, h2, st.maxmemory, h3,
                strata_cache_policy_name(st.policy) ? strata_cache_policy_name(st.policy) : "?",
                st.doc_used_memory, st.doc_maxmemory);
    }
    SECTION("persistence", "Persistence", 1) {
        appendf(&b, "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\n");
    }
    SECTION("stats", "Stats", 1) {
        appendf(&b, "total_connections_received:%" PRIu64 "\r\ntotal_commands_processed:%" PRIu64 "\r\n"
                    "instantaneous_ops_per_sec:%" PRIu64 "\r\ntotal_net_input_bytes:%" PRIu64 "\r\n"
                    "total_net_output_bytes:%" PRIu64 "\r\nrejected_connections:%" PRIu64 "\r\n"
                    "expired_keys:%" PRIu64 "\r\nevicted_keys:%" PRIu64 "\r\nkeyspace_hits:%" PRIu64 "\r\n"
                    "keyspace_misses:%" PRIu64 "\r\nstrata_hit_rate:%.4f\r\nstrata_doc_cache_hits:%" PRIu64 "\r\n"
                    "strata_doc_cache_misses:%" PRIu64 "\r\nstrata_doc_cache_hit_rate:%.4f\r\n",
                s->conns_total, s->cmds_total, s->ops_per_sec, s->net_in, s->net_out, s->rejected, st.expirations,
                st.evictions, st.hits, st.misses, st.hit_rate, st.doc_hits, st.doc_misses, st.doc_hit_rate);
    }
    SECTION("replication", "Replication", 1) {
        appendf(&b, "role:master\r\nconnected_slaves:0\r\n");
    }
    SECTION("keyspace", "Keyspace", 1) {
        if (st.keys) appendf(&b, "db0:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=0\r\n", st.keys, st.expires);
    }
    SECTION("strata", "Strata", 0) {
        strata_stats ss;
        if (strata_stats_get(DB, &ss) == STRATA_OK)
            appendf(&b, "lsn:%" PRIu64 "\r\ndocuments:%" PRIu64 "\r\nsettings:%" PRIu64 "\r\nsessions:%" PRIu64
                        "\r\ndoc_raw_bytes:%" PRIu64 "\r\ntotal_bytes:%" PRIu64 "\r\ndoc_cache_entries:%" PRIu64
                        "\r\ncommits:%" PRIu64 "\r\ngroup_commits:%" PRIu64 "\r\n",
                    ss.lsn, ss.documents, ss.settings, ss.sessions, ss.doc_raw_bytes, ss.total_bytes, st.doc_entries,
                    ss.commits, ss.group_commits);
        int running;
        size_t queued;
        srv_jobs_counts(c->srv, &running, &queued);
        appendf(&b, "workers:%d\r\njobs_running:%d\r\njobs_queued:%zu\r\n", c->srv->nworkers, running, queued);
    }
#undef SECTION
    if (b.oom) {
        free(b.p);
        return rb_error(OUT, "ERR out of memory");
    }
    rb_verbatim(OUT, b.p ? b.p : "", b.len, c->proto);
    free(b.p);
}

/* ---- CONFIG ---- */
/* Redis's memtoll: 100, 1k, 1kb, 1m, 1mb, 1g, 1gb (k = 1000, kb = 1024). */
static int parse_mem(const char *s, size_t n, uint64_t *out) {
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0 || i > 19) return 0;
    uint64_t v = 0;
    for (size_t j = 0; j < i; j++) v = v * 10 + (uint64_t)(s[j] - '0');
    uint64_t mul = 1;
    const char *u = s + i;
    size_t ul = n - i;
    if (ul == 0 || srv_eq(u, ul, "b")) mul = 1;
    else if (srv_eq(u, ul, "k")) mul = 1000;
    else if (srv_eq(u, ul, "kb")) mul = 1024;
    else if (srv_eq(u, ul, "m")) mul = 1000 * 1000;
    else if (srv_eq(u, ul, "mb")) mul = 1024 * 1024;
    else if (srv_eq(u, ul, "g")) mul = 1000ull * 1000 * 1000;
    else if (srv_eq(u, ul, "gb")) mul = 1024ull * 1024 * 1024;
    else return 0;
    if (v > UINT64_MAX / mul) return 0;
    *out = v * mul;
    return 1;
}

/* CONFIG GET patterns: '*' and '?' (what clients send for parameter names). */
static int name_match(const char *p, size_t pl, const char *s) {
    if (pl == 0) return *s == 0;
    if (*p == '*') {
        for (;; s++) {
            if (name_match(p + 1, pl - 1, s)) return 1;
            if (!*s) return 0;
        }
    }
    if (!*s || (*p != '?' && tolower((unsigned char)*p) != *s)) return 0;
    return name_match(p + 1, pl - 1, s + 1);
}

static const char *const config_names[] = {
    "maxmemory", "maxmemory-policy", "maxclients", "port", "bind", "save", "appendonly", "databases", "timeout",
    "proto-max-bulk-len", "client-query-buffer-limit", "requirepass", "strata-doc-maxmemory", "strata-cache-url",
};
#define N_CONFIG (sizeof config_names / sizeof config_names[0])

static void config_value(client *c, size_t i, char *out, size_t n) {
    strata_server *s = c->srv;
    strata_cache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (i <= 1 || i >= 12) strata_cache_config_get(DB, &cfg);
    switch (i) {
    case 0: snprintf(out, n, "%" PRIu64, cfg.maxmemory); break;
    case 1: snprintf(out, n, "%s", strata_cache_policy_name(cfg.policy) ? strata_cache_policy_name(cfg.policy) : ""); break;
    case 2: snprintf(out, n, "%u", s->maxclients); break;
    case 3: snprintf(out, n, "%d", s->port > 0 ? s->port : 0); break;
    case 4: snprintf(out, n, "%s", s->lfd >= 0 ? s->bind : ""); break;
    case 5: snprintf(out, n, "%s", ""); break;
    case 6: snprintf(out, n, "%s", "no"); break;
    case 7: snprintf(out, n, "%s", "1"); break;
    case 8: snprintf(out, n, "%s", "0"); break;
    case 9: snprintf(out, n, "%" PRIu64, s->max_bulk); break;
    case 10: snprintf(out, n, "%" PRIu64, s->max_query); break;
    case 11: snprintf(out, n, "%s", s->pass ? s->pass : ""); break;
    case 12: snprintf(out, n, "%" PRIu64, cfg.doc_maxmemory); break;
    default: snprintf(out, n, "%s", cfg.url); break;
    }
}

static void config_get(client *c, int argc, char **argv, size_t *lens) {
    if (argc < 3) return srv_sub_error(c, "config", "get", argv[1], lens[1]);
    unsigned char hit[N_CONFIG] = { 0 };
    size_t n = 0;
    for (int j = 2; j < argc; j++)
        for (size_t i = 0; i < N_CONFIG; i++)
            if (!hit[i] && lens[j] <= 64 && name_match(argv[j], lens[j], config_names[i])) {
                hit[i] = 1;
                n++;
            }
    rb_map(OUT, n, c->proto);
    for (size_t i = 0; i < N_CONFIG; i++)
        if (hit[i]) {
            char v[STRATA_CACHE_URL_MAX + 32];
            config_value(c, i, v, sizeof v);
            rb_cstr(OUT, config_names[i]);
            rb_cstr(OUT, v);
        }
}

static void config_set(client *c, int argc, char **argv, size_t *lens) {
    strata_server *s = c->srv;
    if (argc < 4 || argc % 2) return srv_sub_error(c, "config", "set", argv[1], lens[1]);
    strata_cache_config cfg;
    int rc = strata_cache_config_get(DB, &cfg);
    if (rc) return srv_reply_fail(c, rc);
    uint32_t maxclients = s->maxclients;
    uint64_t max_bulk = s->max_bulk, max_query = s->max_query;
    /* Validate every pair first: CONFIG SET is all or nothing. */
    for (int j = 2; j < argc; j += 2) {
        char *k = argv[j], *v = argv[j + 1];
        size_t kl = lens[j], vl = lens[j + 1];
        uint64_t m;
        if (srv_eq(k, kl, "maxmemory") && parse_mem(v, vl, &m)) cfg.maxmemory = m;
        else if (srv_eq(k, kl, "strata-doc-maxmemory") && parse_mem(v, vl, &m)) cfg.doc_maxmemory = m;
        else if (srv_eq(k, kl, "proto-max-bulk-len") && parse_mem(v, vl, &m) && m >= 1024 * 1024) max_bulk = m;
        else if (srv_eq(k, kl, "client-query-buffer-limit") && parse_mem(v, vl, &m) && m >= 1024 * 1024) max_query = m;
        else if (srv_eq(k, kl, "maxclients") && parse_mem(v, vl, &m) && m >= 1 && m <= UINT32_MAX) maxclients = (uint32_t)m;
        else if (srv_eq(k, kl, "maxmemory-policy")) {
            char name[32];
            int p;
            if (vl >= sizeof name) p = -1;
            else {
                memcpy(name, v, vl);
                name[vl] = 0;
                if (strata_cache_policy_parse(name, &p) != STRATA_OK) p = -1;
            }
            if (p < 0) {
                rb_error(OUT, "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) "
                              "must be one of the following: noeviction, allkeys-lru, allkeys-lfu, volatile-ttl");
                return;
            }
            cfg.policy = p;
        } else if (srv_eq(k, kl, "strata-cache-url")) {
            if (vl >= sizeof cfg.url) {
                rb_error(OUT, "ERR CONFIG SET failed (possibly related to argument 'strata-cache-url') - too long");
                return;
            }
            memcpy(cfg.url, v, vl);
            cfg.url[vl] = 0;
        } else {
            size_t i;
            for (i = 0; i < N_CONFIG && !srv_eq(k, kl, config_names[i]); i++) {}
            if (i < N_CONFIG && i != 0 && i != 1 && i != 2 && i != 9 && i != 10 && i != 12)
                rb_error(OUT, "ERR CONFIG SET failed (possibly related to argument '%.*s') - can't set immutable config",
                         (int)(kl > 64 ? 64 : kl), k);
            else if (i < N_CONFIG)
                rb_error(OUT, "ERR CONFIG SET failed (possibly related to argument '%.*s') - argument couldn't be parsed "
                              "into an integer", (int)(kl > 64 ? 64 : kl), k);
            else
                rb_error(OUT, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)(kl > 64 ? 64 : kl), k);
            return;
        }
    }
    if (max_query <= max_bulk) {
        rb_error(OUT, "ERR CONFIG SET failed - client-query-buffer-limit must exceed proto-max-bulk-len");
        return;
    }
    if ((rc = strata_cache_config_set(DB, &cfg)) != STRATA_OK) return srv_reply_fail(c, rc);
    s->maxclients = maxclients;
    s->max_bulk = max_bulk;
    s->max_query = max_query;
    rb_simple(OUT, "OK");
}

static void cmd_config(client *c, int argc, char **argv, size_t *lens) {
    if (srv_eq(argv[1], lens[1], "get")) return config_get(c, argc, argv, lens);
    if (srv_eq(argv[1], lens[1], "set")) return config_set(c, argc, argv, lens);
    if (srv_eq(argv[1], lens[1], "resetstat") && argc == 2) {
        int rc = strata_cache_stats_reset(DB);
        if (rc) return srv_reply_fail(c, rc);
        c->srv->cmds_total = c->srv->conns_total = c->srv->rejected = 0;
        c->srv->net_in = c->srv->net_out = 0;
        return rb_simple(OUT, "OK");
    }
    if (srv_eq(argv[1], lens[1], "rewrite")) return rb_error(OUT, "ERR The server is running without a config file");
    srv_sub_error(c, "config", "get set resetstat rewrite", argv[1], lens[1]);
}

/* ---- MULTI / EXEC / DISCARD ----
 * Commands after MULTI are checked (name, arity) and queued; EXEC runs them in order
 * with no other client's command in between (the loop is one thread; in-process
 * API callers are not held back) and replies with the array of their replies. A
 * command refused while queuing makes EXEC fail (EXECABORT), as in Redis. There is
 * no rollback: a command that fails at EXEC leaves the others applied. WATCH is
 * not offered: the hot tier keeps no key versions to watch. */
static void multi_reset(client *c) {
    c->in_multi = c->multi_dirty = 0;
    free(c->mq.p);
    c->mq = (rbuf){ 0 };
    c->mq_n = 0;
}

static void multi_queue(client *c, int argc, char **argv, size_t *lens) {
    size_t n = (size_t)argc;
    rb_raw(&c->mq, &n, sizeof n);
    for (int j = 0; j < argc; j++) {
        rb_raw(&c->mq, &lens[j], sizeof lens[j]);
        rb_raw(&c->mq, argv[j], lens[j]);
    }
    if (c->mq.oom) {
        c->multi_dirty = 1;
        c->mq.oom = 0;
        return rb_error(OUT, "ERR out of memory");
    }
    c->mq_n++;
    rb_simple(OUT, "QUEUED");
}

static void cmd_multi(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    if (c->in_multi) return rb_error(OUT, "ERR MULTI calls can not be nested");
    c->in_multi = 1;
    rb_simple(OUT, "OK");
}

static void cmd_discard(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    if (!c->in_multi) return rb_error(OUT, "ERR DISCARD without MULTI");
    multi_reset(c);
    rb_simple(OUT, "OK");
}

static void cmd_exec(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    if (!c->in_multi) return rb_error(OUT, "ERR EXEC without MULTI");
    if (c->multi_dirty) {
        multi_reset(c);
        return rb_error(OUT, "EXECABORT Transaction discarded because of previous errors.");
    }
    rbuf q = c->mq;
    size_t n = c->mq_n;
    c->mq = (rbuf){ 0 };
    multi_reset(c);
    rb_array(OUT, n);
    char **av = NULL;
    size_t *al = NULL, cap = 0, off = 0;
    c->in_exec = 1;
    for (size_t i = 0; i < n; i++) {
        size_t an;
        memcpy(&an, q.p + off, sizeof an);
        off += sizeof an;
        if (an > cap) {
            char **na = realloc(av, an * sizeof *na);
            if (na) av = na;
            size_t *nl = na ? realloc(al, an * sizeof *nl) : NULL;
            if (nl) al = nl;
            if (!na || !nl) { /* the reply array is already promised: no half answers */
                c->out.oom = 1;
                break;
            }
            cap = an;
        }
        for (size_t j = 0; j < an; j++) {
            memcpy(&al[j], q.p + off, sizeof al[j]);
            off += sizeof al[j];
            av[j] = q.p + off;
            off += al[j];
        }
        srv_execute(c, (int)an, av, al);
    }
    c->in_exec = 0;
    free(av);
    free(al);
    free(q.p);
}

static void cmd_watch(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    if (c->in_multi) return rb_error(OUT, "ERR WATCH inside MULTI is not allowed");
    rb_error(OUT, "ERR WATCH is not supported: the hot tier keeps no key versions (MULTI/EXEC work without it)");
}

static void cmd_unwatch(client *c, int argc, char **argv, size_t *lens) {
    (void)argc; (void)argv; (void)lens;
    rb_simple(OUT, "OK"); /* nothing is ever watched */
}

/* ---- COMMAND ---- */
static void cmd_command(client *c, int argc, char **argv, size_t *lens);

static const srv_cmd commands[] = {
    { "get", 2, "readonly fast", 1, 1, 1, 0, cmd_get, NULL },
    { "set", -3, "write denyoom", 1, 1, 1, 0, cmd_set, NULL },
    { "setnx", 3, "write denyoom fast", 1, 1, 1, 0, cmd_setnx, NULL },
    { "setex", 4, "write denyoom", 1, 1, 1, 0, cmd_setex, NULL },
    { "psetex", 4, "write denyoom", 1, 1, 1, 0, cmd_psetex, NULL },
    { "getset", 3, "write denyoom fast", 1, 1, 1, 0, cmd_getset, NULL },
    { "getdel", 2, "write fast", 1, 1, 1, 0, cmd_getdel, NULL },
    { "getex", -2, "write fast", 1, 1, 1, 0, cmd_getex, NULL },
    { "del", -2, "write", 1, -1, 1, 0, cmd_del, NULL },
    { "unlink", -2, "write fast", 1, -1, 1, 0, cmd_del, NULL },
    { "exists", -2, "readonly fast", 1, -1, 1, 0, cmd_exists, NULL },
    { "type", 2, "readonly fast", 1, 1, 1, 0, cmd_type, NULL },
    { "expire", -3, "write fast", 1, 1, 1, 0, cmd_expire, NULL },
    { "pexpire", -3, "write fast", 1, 1, 1, 0, cmd_pexpire, NULL },
    { "expireat", -3, "write fast", 1, 1, 1, 0, cmd_expireat, NULL },
    { "pexpireat", -3, "write fast", 1, 1, 1, 0, cmd_pexpireat, NULL },
    { "ttl", 2, "readonly fast", 1, 1, 1, 0, cmd_ttl, NULL },
    { "pttl", 2, "readonly fast", 1, 1, 1, 0, cmd_pttl, NULL },
    { "expiretime", 2, "readonly fast", 1, 1, 1, 0, cmd_expiretime, NULL },
    { "pexpiretime", 2, "readonly fast", 1, 1, 1, 0, cmd_pexpiretime, NULL },
    { "persist", 2, "write fast", 1, 1, 1, 0, cmd_persist, NULL },
    { "incr", 2, "write denyoom fast", 1, 1, 1, 0, cmd_incr, NULL },
    { "decr", 2, "write denyoom fast", 1, 1, 1, 0, cmd_decr, NULL },
    { "incrby", 3, "write denyoom fast", 1, 1, 1, 0, cmd_incrby, NULL },
    { "decrby", 3, "write denyoom fast", 1, 1, 1, 0, cmd_decrby, NULL },
    { "append", 3, "write denyoom", 1, 1, 1, 0, cmd_append, NULL },
    { "strlen", 2, "readonly fast", 1, 1, 1, 0, cmd_strlen, NULL },
    { "getrange", 4, "readonly", 1, 1, 1, 0, cmd_getrange, NULL },
    { "substr", 4, "readonly", 1, 1, 1, 0, cmd_getrange, NULL },
    { "time", 1, "loading stale fast", 0, 0, 0, 0, cmd_time, NULL },
    { "mget", -2, "readonly fast", 1, -1, 1, 0, cmd_mget, NULL },
    { "mset", -3, "write denyoom", 1, -1, 2, 0, cmd_mset, NULL },
    { "msetnx", -3, "write denyoom", 1, -1, 2, 0, cmd_msetnx, NULL },
    { "scan", -2, "readonly", 0, 0, 0, 0, cmd_scan, NULL },
    { "keys", 2, "readonly", 0, 0, 0, 0, cmd_keys, NULL },
    { "dbsize", 1, "readonly fast", 0, 0, 0, 0, cmd_dbsize, NULL },
    { "flushdb", -1, "write", 0, 0, 0, 0, cmd_flushdb, NULL },
    { "flushall", -1, "write", 0, 0, 0, 0, cmd_flushdb, NULL },
    { "ping", -1, "fast", 0, 0, 0, 0, cmd_ping, NULL },
    { "echo", 2, "fast", 0, 0, 0, 0, cmd_echo, NULL },
    { "select", 2, "loading stale fast", 0, 0, 0, 0, cmd_select, NULL },
    { "auth", -2, "noscript loading stale fast no_auth", 0, 0, 0, CF_NOAUTH, cmd_auth, NULL },
    { "hello", -1, "noscript loading stale fast no_auth", 0, 0, 0, CF_NOAUTH, cmd_hello, NULL },
    { "quit", -1, "noscript loading stale fast no_auth", 0, 0, 0, CF_NOAUTH | CF_NOQUEUE, cmd_quit, NULL },
    { "multi", 1, "noscript loading stale fast", 0, 0, 0, CF_NOQUEUE, cmd_multi, NULL },
    { "exec", 1, "noscript loading stale skip_slowlog", 0, 0, 0, CF_NOQUEUE, cmd_exec, NULL },
    { "discard", 1, "noscript loading stale fast", 0, 0, 0, CF_NOQUEUE, cmd_discard, NULL },
    { "watch", -2, "noscript loading stale fast", 1, -1, 1, CF_NOQUEUE, cmd_watch, NULL },
    { "unwatch", 1, "noscript loading stale fast", 0, 0, 0, 0, cmd_unwatch, NULL },
    { "client", -2, "admin noscript loading stale", 0, 0, 0, 0, cmd_client, "setname getname id info list setinfo help" },
    { "info", -1, "loading stale", 0, 0, 0, 0, cmd_info, NULL },
    { "config", -2, "admin noscript loading stale", 0, 0, 0, 0, cmd_config, "get set resetstat rewrite" },
    { "command", -1, "loading stale", 0, 0, 0, 0, cmd_command, "count info docs list" },
    { "strata.docput", -3, "write denyoom", 1, 1, 1, CF_WORKER, srv_cmd_docput, NULL },
    { "strata.docget", 2, "readonly", 1, 1, 1, 0, srv_cmd_docget, NULL },
    { "strata.docdel", -2, "write", 1, -1, 1, CF_WORKER, srv_cmd_docdel, NULL },
    { "strata.docexists", 2, "readonly fast", 1, 1, 1, 0, srv_cmd_docexists, NULL },
    { "strata.docmeta", 2, "readonly", 1, 1, 1, 0, srv_cmd_docmeta, NULL },
    { "strata.doclist", -1, "readonly", 0, 0, 0, CF_WORKER, srv_cmd_doclist, NULL },
    { "strata.stats", 1, "readonly", 0, 0, 0, 0, srv_cmd_stats, NULL },
    { "strata.setting", -2, "write", 0, 0, 0, CF_WORKER, srv_cmd_setting, "get set del list" },
    { "strata.session", -2, "write", 0, 0, 0, CF_WORKER, srv_cmd_session, "new get put touch del list expire" },
    { "strata.vec", -2, "write", 0, 0, 0, CF_WORKER, srv_cmd_vec, "create drop info list put del get" },
    { "strata.search", -4, "readonly", 0, 0, 0, CF_WORKER, srv_cmd_search, NULL },
    { "strata.metric", -2, "write fast", 0, 0, 0, 0, srv_cmd_metric, NULL },
    { "strata.sql", -2, "readonly", 0, 0, 0, CF_NOMULTI, srv_cmd_sql, NULL },
    { "strata.backup", -2, "admin", 0, 0, 0, CF_NOMULTI, srv_cmd_backup, "create list verify prune" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void words_set(client *c, const char *words) {
    size_t n = 0;
    for (const char *p = words; p && *p;) {
        p += strspn(p, " ");
        if (*p) { n++; p += strcspn(p, " "); }
    }
    rb_set(OUT, n, c->proto);
    for (const char *p = words; p && *p;) {
        p += strspn(p, " ");
        size_t l = strcspn(p, " ");
        if (l) {
            char w[64];
            snprintf(w, sizeof w, "%.*s", (int)l, p);
            rb_simple(OUT, w);
        }
        p += l;
    }
}

static void command_info(client *c, const srv_cmd *k) {
    rb_array(OUT, 10);
    rb_cstr(OUT, k->name);
    rb_int(OUT, k->arity);
    words_set(c, k->flags);
    rb_int(OUT, k->first);
    rb_int(OUT, k->last);
    rb_int(OUT, k->step);
    rb_set(OUT, 0, c->proto);
    rb_array(OUT, 0);
    rb_array(OUT, 0);
    rb_array(OUT, 0);
}

static const srv_cmd *lookup(strata_server *s, const char *name, size_t n);

static void cmd_command(client *c, int argc, char **argv, size_t *lens) {
    if (argc == 1) {
        rb_array(OUT, N_COMMANDS);
        for (size_t i = 0; i < N_COMMANDS; i++) command_info(c, &commands[i]);
    } else if (srv_eq(argv[1], lens[1], "count") && argc == 2) {
        rb_int(OUT, (long long)N_COMMANDS);
    } else if (srv_eq(argv[1], lens[1], "info")) {
        rb_array(OUT, (size_t)argc - 2);
        for (int j = 2; j < argc; j++) {
            const srv_cmd *k = lookup(c->srv, argv[j], lens[j]);
            if (k) command_info(c, k);
            else rb_null_array(OUT, c->proto);
        }
    } else if (srv_eq(argv[1], lens[1], "docs")) {
        rb_map(OUT, 0, c->proto); /* no documentation shipped: clients show no hints */
    } else if (srv_eq(argv[1], lens[1], "list") && argc == 2) {
        rb_array(OUT, N_COMMANDS);
        for (size_t i = 0; i < N_COMMANDS; i++) rb_cstr(OUT, commands[i].name);
    } else {
        srv_sub_error(c, "command", "count info docs list", argv[1], lens[1]);
    }
}

/* ---- dispatch: an open-addressing table of lower-case names ---- */
static uint64_t name_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)tolower((unsigned char)s[i])) * 1099511628211ull;
    return h;
}

static const srv_cmd *lookup(strata_server *s, const char *name, size_t n) {
    if (n > 32) return NULL;
    for (uint64_t i = name_hash(name, n) & s->table_mask;; i = (i + 1) & s->table_mask) {
        const srv_cmd *k = s->table[i];
        if (!k) return NULL;
        if (srv_eq(name, n, k->name)) return k;
    }
}

int srv_commands_init(strata_server *s) {
    size_t size = 1;
    while (size < N_COMMANDS * 4) size <<= 1;
    s->table = calloc(size, sizeof *s->table);
    if (!s->table) return STRATA_ENOMEM;
    s->table_mask = size - 1;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        uint64_t j = name_hash(commands[i].name, strlen(commands[i].name)) & s->table_mask;
        while (s->table[j]) j = (j + 1) & s->table_mask;
        s->table[j] = &commands[i];
    }
    return STRATA_OK;
}

void srv_commands_free(strata_server *s) {
    free(s->table);
    s->table = NULL;
}

void srv_execute(client *c, int argc, char **argv, size_t *lens) {
    const srv_cmd *k = lookup(c->srv, argv[0], lens[0]);
    if (!k) {
        char args[160] = "";
        size_t used = 0;
        for (int j = 1; j < argc && used < 128; j++) {
            int w = snprintf(args + used, sizeof args - used, "'%.*s' ", (int)(lens[j] > 128 - used ? 128 - used : lens[j]),
                             argv[j]);
            if (w < 0) break;
            used += (size_t)w;
            if (used >= sizeof args) { used = sizeof args - 1; break; }
        }
        rb_error(OUT, "ERR unknown command '%.*s', with args beginning with: %s", (int)(lens[0] > 128 ? 128 : lens[0]),
                 argv[0], args);
        c->multi_dirty = c->in_multi;
        return;
    }
    c->lastcmd = k->name;
    if ((k->arity > 0 && argc != k->arity) || (k->arity < 0 && argc < -k->arity)) {
        rb_error(OUT, "ERR wrong number of arguments for '%s' command", k->name);
        c->multi_dirty = c->in_multi;
        return;
    }
    if (!c->authed && !(k->f & CF_NOAUTH)) {
        rb_error(OUT, "NOAUTH Authentication required.");
        c->multi_dirty = c->in_multi;
        return;
    }
    if (c->in_multi && (k->f & CF_NOMULTI)) {
        c->multi_dirty = 1;
        return rb_error(OUT, "ERR %s is not allowed inside MULTI (it may run for minutes)", k->name);
    }
    if (c->in_multi && !(k->f & CF_NOQUEUE)) return multi_queue(c, argc, argv, lens);
    if ((k->f & CF_WORKER) && !c->in_exec)
        return srv_job_handler(c, k->fn, argc, argv, lens, strstr(k->flags, "readonly") ? SRV_JOB_READONLY : 0);
    k->fn(c, argc, argv, lens);
}
