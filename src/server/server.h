/* server.h — the RESP server's contract with the library front (api_cache.c) and
 * with its fuzz target: the event loop's life cycle, and the RESP request parser.
 *
 * Dependency rule: src/server uses only strata.h (the public API) and libc. Every
 * store or cache operation a client asks for goes through a public strata_* call,
 * exactly as an application would make it. */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "strata.h"

/* ---- life cycle (server.c); failures fill err ---- */
int srv_open(strata *db, const char *store_dir, const strata_server_opts *o, strata_server **out, char *err,
             size_t errlen);
int srv_port(strata_server *s);
strata *srv_db(strata_server *s);
int srv_run(strata_server *s, char *err, size_t errlen);
void srv_stop(strata_server *s); /* async-signal-safe */
void srv_close(strata_server *s);

/* ---- RESP requests (resp.c) ----
 * A request is a multibulk array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
 * or an inline line ("GET k\r\n", quotes and escapes as redis-cli writes them).
 * The parser reads a client's buffer from the start of the current request and
 * keeps its place between calls, so a request arriving in pieces is parsed once. */
typedef struct resp_arg { size_t off, len; } resp_arg;

typedef struct resp_limits {
    uint64_t max_bulk;   /* longest bulk string */
    uint64_t max_args;   /* most arguments in one request */
    int authed;          /* 0: Redis's tighter limits for clients before AUTH */
} resp_limits;

typedef struct resp_parser {
    size_t pos;          /* bytes of the request parsed so far */
    long long nargs;     /* arguments announced by the header; -1: header not read */
    long long bulk;      /* length of the bulk being read; -1: its header not read */
    size_t argc, cap;
    resp_arg *argv;      /* offsets from the request start; valid after RESP_CMD */
    size_t need;         /* RESP_NEED: bytes the request needs at least (a read hint) */
} resp_parser;

enum { RESP_NEED = 0, RESP_CMD = 1, RESP_ERR = -1, RESP_NOMEM = -2 };
#define RESP_INLINE_MAX (64 * 1024)   /* longest inline request (Redis's) */
#define RESP_HEADER_MAX (64 * 1024)   /* longest "*N" / "$N" line */

void resp_init(resp_parser *p);
void resp_free(resp_parser *p);
/* Start the next request (after RESP_CMD, once the request's bytes are consumed). */
void resp_reset(resp_parser *p);
/* Parse buf[0..len), the current request's bytes so far. RESP_CMD: a whole request
 * of p->argc arguments (p->argv, offsets into buf) spanning p->pos bytes; an inline
 * request is unescaped in place (argc 0 for an empty line). RESP_NEED: more bytes.
 * RESP_ERR: a protocol error, *err names it in Redis's words (static storage). */
int resp_parse(resp_parser *p, char *buf, size_t len, const resp_limits *lim, const char **err);
/* Redis's strict integer (string2ll): 1 and *out, or 0 for anything else. */
int resp_parse_ll(const char *s, size_t n, long long *out);

/* ---- replies (resp.c): appended to a growable buffer ---- */
typedef struct rbuf { char *p; size_t len, cap; int oom; } rbuf;
void rb_raw(rbuf *b, const void *p, size_t n);
void rb_simple(rbuf *b, const char *s);                 /* +s */
void rb_error(rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* -CODE text */
void rb_int(rbuf *b, long long v);                      /* :v */
void rb_bulk(rbuf *b, const void *p, size_t n);         /* $n */
void rb_cstr(rbuf *b, const char *s);                   /* bulk of a C string */
void rb_null(rbuf *b, int proto);                       /* $-1 / _ */
void rb_null_array(rbuf *b, int proto);                 /* *-1 / _ */
void rb_array(rbuf *b, size_t n);                       /* *n */
void rb_map(rbuf *b, size_t n, int proto);              /* %n / *2n */
void rb_set(rbuf *b, size_t n, int proto);              /* ~n / *n */
void rb_verbatim(rbuf *b, const char *txt, size_t n, int proto); /* =n txt: / $n */
void rb_double(rbuf *b, double v, int proto);          /* ,v / bulk "v" (shortest exact) */
void rb_float(rbuf *b, float v, int proto);            /* the same, shortest for a float */
void rb_bool(rbuf *b, int v, int proto);               /* #t #f / :1 :0 */
#endif
