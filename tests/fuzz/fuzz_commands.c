/* fuzz_commands.c — libFuzzer target for the server's command handlers
 * (src/server/commands.c, store_cmds.c, vec_cmds.c, job_cmds.c): hostile arguments,
 * as a parsed request carries them, run against a real store.
 *
 * Input: requests separated by 0xfe; in each, arguments separated by 0xff. The first
 * byte of a request picks the command name from `names` (so every handler is one
 * byte away), the rest are its arguments. The client is a TCP one (DEST refused),
 * authenticated; slow jobs run in place (as inside EXEC). Left out: CONFIG (its
 * cache-url would connect to hosts) and backups that write (CREATE, PRUNE) or read
 * whole stores (VERIFY).
 *
 * Checked: every request gets exactly one well-formed RESP reply (a reply walker
 * below), and the sanitizers see no fault or leak. The store lives in TMPDIR (use a
 * tmpfs) with NORMAL sync and no analytics, and is kept across inputs. */
#include "server/server_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    "get", "set", "getex", "getdel", "del", "exists", "expire", "pexpireat", "ttl", "persist", "incrby", "append",
    "strlen", "getrange", "time", "mget", "mset", "msetnx", "scan", "keys", "dbsize", "ping", "echo", "select",
    "hello", "client",
    "info", "command", "multi", "exec", "discard", "watch", "unwatch", "type", "strata.docput", "strata.docget",
    "strata.docdel", "strata.docexists", "strata.docmeta", "strata.doclist", "strata.stats", "strata.setting",
    "strata.session", "strata.vec", "strata.search", "strata.sql", "strata.metric", "strata.backup",
    "nosuchcommand",
};
#define N_NAMES (sizeof names / sizeof names[0])

static strata *db;
static strata_server *srv;
static client *cl;
static char dir[512];

static void teardown(void) { /* libFuzzer ends with exit(): leave no store behind */
    free(cl->mq.p);
    free(cl->out.p);
    free(cl);
    srv_close(srv);
    strata_close(db);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_commands: could not remove %s\n", dir);
}

static void setup(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/strata-fuzz-commands-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) abort();
    strata_options o = strata_options_default();
    o.create = 1;
    o.sync = STRATA_SYNC_NORMAL;
    o.backup_interval_hours = -1;
    o.analytics_flags = STRATA_ANALYTICS_OFF;
    char err[256] = "";
    strata_server_opts so = strata_server_opts_default();
    so.port = -1;
    if (strata_open(dir, &o, &db) != STRATA_OK || srv_open(db, dir, &so, &srv, err, sizeof err) != STRATA_OK) {
        fprintf(stderr, "fuzz_commands: setup failed: %s %s\n", strata_open_errmsg(), err);
        abort();
    }
    cl = calloc(1, sizeof *cl);
    if (!cl) abort();
    cl->srv = srv;
    cl->fd = -1;
    cl->proto = 2;
    cl->authed = 1;
    cl->in_exec = 1; /* jobs run in place */
    atexit(teardown);
}

/* Index just past the reply that starts at i, or 0 if it is not one whole reply. */
static size_t reply_end(const char *p, size_t n, size_t i, int depth) {
    if (i >= n || depth > 16) return 0;
    const char *nl = memchr(p + i, '\n', n - i);
    if (!nl || nl == p + i || nl[-1] != '\r') return 0;
    size_t line_end = (size_t)(nl - p) + 1;
    char t = p[i];
    long long v = strtoll(p + i + 1, NULL, 10);
    switch (t) {
    case '+': case '-': case ':': case ',': case '#': case '_': case '(':
        return line_end;
    case '$': case '=': case '!':
        if (v == -1) return line_end;
        if (v < 0 || (size_t)v + 2 > n - line_end || p[line_end + (size_t)v] != '\r') return 0;
        return line_end + (size_t)v + 2;
    case '*': case '~': case '%': case '>': {
        if (v == -1) return line_end;
        if (v < 0) return 0;
        size_t k = t == '%' ? 2 * (size_t)v : (size_t)v, at = line_end;
        for (size_t e = 0; e < k; e++)
            if ((at = reply_end(p, n, at, depth + 1)) == 0) return 0;
        return at;
    }
    default:
        return 0;
    }
}

static int refused(int argc, char **argv, size_t *lens) {
    if (argc < 2 || strcmp(argv[0], "strata.backup") != 0) return 0;
    return (lens[1] == 6 && strncasecmp(argv[1], "create", 6) == 0) ||
           (lens[1] == 6 && strncasecmp(argv[1], "verify", 6) == 0) ||
           (lens[1] == 5 && strncasecmp(argv[1], "prune", 5) == 0);
}

static void run_one(const uint8_t *req, size_t len) {
    if (len == 0) return;
    size_t plen = len - 1; /* the arguments' bytes, 0xff between two */
    char *buf = malloc(plen + 1);
    if (!buf) return;
    memcpy(buf, req + 1, plen);
    char *argv[64];
    size_t lens[64];
    int argc = 1;
    argv[0] = (char *)names[req[0] % N_NAMES];
    lens[0] = strlen(argv[0]);
    for (size_t i = 0, start = 0; plen && i <= plen && argc < 64; i++)
        if (i == plen || (unsigned char)buf[i] == 0xff) {
            argv[argc] = buf + start;
            lens[argc++] = i - start;
            start = i + 1;
        }
    if (!refused(argc, argv, lens)) {
        cl->out.len = 0;
        cl->close_after = 0;
        srv_execute(cl, argc, argv, lens);
        if (cl->out.oom) {
            cl->out.oom = 0;
        } else if (reply_end(cl->out.p, cl->out.len, 0, 0) != cl->out.len) {
            fprintf(stderr, "fuzz_commands: '%s' did not give exactly one reply: '%.*s'\n", argv[0],
                    (int)(cl->out.len > 300 ? 300 : cl->out.len), cl->out.p ? cl->out.p : "");
            abort();
        }
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!db) setup();
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data[i] == 0xfe) {
            run_one(data + start, i - start);
            start = i + 1;
        }
    /* no state across inputs but the store's: an open MULTI ends with the input */
    free(cl->mq.p);
    cl->mq = (rbuf){ 0 };
    cl->mq_n = 0;
    cl->in_multi = cl->multi_dirty = 0;
    cl->proto = 2;
    return 0;
}
