/* resp.c — RESP requests in, RESP2/RESP3 replies out.
 *
 * The parser follows Redis's networking.c: a multibulk request is "*N\r\n" then N
 * times "$LEN\r\n" + LEN bytes + "\r\n"; anything else is an inline request, one
 * line split like sdssplitargs (double quotes with \n \r \t \b \a \\ \" \xHH, single
 * quotes with \'). Limits and their error messages are Redis's: header lines of at
 * most 64 KiB ("too big mbulk count string"), N <= max_args ("invalid multibulk
 * length"), LEN <= max_bulk ("invalid bulk length"), and before AUTH N <= 10 and
 * LEN <= 16384 ("unauthenticated ..."). The parser never trusts N for allocation:
 * its argument array grows with the arguments actually received.
 *
 * State between calls (the request may arrive a byte at a time):
 *
 *   nargs = -1 --"*N\r\n"--> nargs = N, bulk = -1 --"$L\r\n"--> bulk = L
 *        ^                        ^                                |
 *        |                        +------- L bytes + CRLF ---------+
 *        +-- N arguments: RESP_CMD, resp_reset ---------------------+
 */
#include "server/server.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resp_init(resp_parser *p) {
    memset(p, 0, sizeof *p);
    p->nargs = -1;
    p->bulk = -1;
}

void resp_free(resp_parser *p) {
    free(p->argv);
    p->argv = NULL;
    p->cap = 0;
}

void resp_reset(resp_parser *p) {
    p->pos = 0;
    p->nargs = -1;
    p->bulk = -1;
    p->argc = 0;
    p->need = 0;
}

/* Redis's string2ll: an optional '-', no leading zeros, no spaces, fits long long. */
int resp_parse_ll(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 20) return 0;
    if (n == 1 && s[0] == '0') { *out = 0; return 1; }
    size_t i = 0;
    int neg = s[0] == '-';
    if (neg && ++i == n) return 0;
    if (s[i] < '1' || s[i] > '9') return 0;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

static int push_arg(resp_parser *p, size_t off, size_t len) {
    if (p->argc == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        resp_arg *n = realloc(p->argv, cap * sizeof *n);
        if (!n) return 0;
        p->argv = n;
        p->cap = cap;
    }
    p->argv[p->argc++] = (resp_arg){ off, len };
    return 1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Split line[0..n) into arguments in place (sdssplitargs's rules). */
static int split_inline(resp_parser *p, char *buf, size_t n, const char **err) {
    size_t i = 0, w = 0; /* read and write positions; w <= i always */
    for (;;) {
        while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\v' ||
                         buf[i] == '\f'))
            i++;
        if (i >= n) return RESP_CMD;
        size_t start = w;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (inq) {
                if (i >= n) goto unbalanced;
                if (buf[i] == '\\' && i + 3 < n && buf[i + 1] == 'x' && hexval(buf[i + 2]) >= 0 && hexval(buf[i + 3]) >= 0) {
                    buf[w++] = (char)(hexval(buf[i + 2]) * 16 + hexval(buf[i + 3]));
                    i += 4;
                } else if (buf[i] == '\\' && i + 1 < n) {
                    char c = buf[i + 1];
                    buf[w++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                    i += 2;
                } else if (buf[i] == '"') {
                    i++;
                    if (i < n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') goto unbalanced;
                    done = 1;
                } else {
                    buf[w++] = buf[i++];
                }
            } else if (insq) {
                if (i >= n) goto unbalanced;
                if (buf[i] == '\\' && i + 1 < n && buf[i + 1] == '\'') {
                    buf[w++] = '\'';
                    i += 2;
                } else if (buf[i] == '\'') {
                    i++;
                    if (i < n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') goto unbalanced;
                    done = 1;
                } else {
                    buf[w++] = buf[i++];
                }
            } else if (i >= n || buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r') {
                done = 1;
            } else if (buf[i] == '"' && w == start) {
                inq = 1;
                i++;
            } else if (buf[i] == '\'' && w == start) {
                insq = 1;
                i++;
            } else {
                buf[w++] = buf[i++];
            }
        }
        if (!push_arg(p, start, w - start)) return RESP_NOMEM;
        if (i < n) i++; /* the separator */
    }
unbalanced:
    *err = "Protocol error: unbalanced quotes in request";
    return RESP_ERR;
}

static int parse_inline(resp_parser *p, char *buf, size_t len, const char **err) {
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX) {
            *err = "Protocol error: too big inline request";
            return RESP_ERR;
        }
        p->need = len + 1;
        return RESP_NEED;
    }
    size_t n = (size_t)(nl - buf);
    if (n > RESP_INLINE_MAX) {
        *err = "Protocol error: too big inline request";
        return RESP_ERR;
    }
    p->pos = n + 1;
    if (n && buf[n - 1] == '\r') n--;
    p->argc = 0;
    return split_inline(p, buf, n, err);
}

/* A "*N" or "$N" header line at buf[pos]: its number and where the line ends. */
static int header(char *buf, size_t len, size_t pos, long long *v, size_t *next) {
    char *cr = memchr(buf + pos, '\r', len - pos);
    if (!cr) {
        if (len - pos > RESP_HEADER_MAX) return -1;
        return 0;
    }
    size_t end = (size_t)(cr - buf);
    if (end - pos > RESP_HEADER_MAX) return -1;
    if (end + 1 >= len) return 0; /* the '\n' is not here yet */
    if (!resp_parse_ll(buf + pos + 1, end - pos - 1, v)) return -2;
    *next = end + 2;
    return 1;
}

int resp_parse(resp_parser *p, char *buf, size_t len, const resp_limits *lim, const char **err) {
    *err = NULL;
    p->need = 0;
    if (p->nargs < 0) {
        if (len == 0) return RESP_NEED;
        if (buf[0] != '*') return parse_inline(p, buf, len, err);
        long long n;
        size_t next;
        int h = header(buf, len, 0, &n, &next);
        if (h == 0) { p->need = len + 1; return RESP_NEED; }
        if (h == -1) { *err = "Protocol error: too big mbulk count string"; return RESP_ERR; }
        if (h == -2 || n > (long long)lim->max_args || n > INT_MAX) {
            *err = "Protocol error: invalid multibulk length";
            return RESP_ERR;
        }
        if (n > 10 && !lim->authed) {
            *err = "Protocol error: unauthenticated multibulk length";
            return RESP_ERR;
        }
        p->pos = next;
        p->argc = 0;
        if (n <= 0) { /* "*0" and "*-1": an empty request, skipped */
            p->nargs = 0;
            return RESP_CMD;
        }
        p->nargs = n;
    }
    while ((long long)p->argc < p->nargs) {
        if (p->bulk < 0) {
            if (p->pos >= len) { p->need = p->pos + 1; return RESP_NEED; }
            if (buf[p->pos] != '$') {
                static char msg[64];
                unsigned char c = (unsigned char)buf[p->pos];
                snprintf(msg, sizeof msg, "Protocol error: expected '$', got '%c'", c >= 32 && c < 127 ? c : '?');
                *err = msg;
                return RESP_ERR;
            }
            long long n;
            size_t next;
            int h = header(buf, len, p->pos, &n, &next);
            if (h == 0) { p->need = len + 1; return RESP_NEED; }
            if (h == -1) { *err = "Protocol error: too big bulk count string"; return RESP_ERR; }
            if (h == -2 || n < 0 || (unsigned long long)n > lim->max_bulk) {
                *err = "Protocol error: invalid bulk length";
                return RESP_ERR;
            }
            if (n > 16384 && !lim->authed) {
                *err = "Protocol error: unauthenticated bulk length";
                return RESP_ERR;
            }
            p->bulk = n;
            p->pos = next;
        }
        size_t want = (size_t)p->bulk + 2;
        if (len - p->pos < want) {
            p->need = p->pos + want;
            return RESP_NEED;
        }
        if (!push_arg(p, p->pos, (size_t)p->bulk)) return RESP_NOMEM;
        p->pos += want; /* the CRLF after the bytes is skipped unread, as Redis does */
        p->bulk = -1;
    }
    return RESP_CMD;
}

/* ---- replies ---- */
static int grow(rbuf *b, size_t n) {
    if (b->oom) return 0;
    if (b->len + n <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) {
        if (cap > SIZE_MAX / 2) { b->oom = 1; return 0; }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return 0; }
    b->p = p;
    b->cap = cap;
    return 1;
}

void rb_raw(rbuf *b, const void *p, size_t n) {
    if (!n || !grow(b, n)) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* "<type><decimal>\r\n" into out (at least 24 bytes); returns its length. No printf:
 * every reply header goes through here. */
static size_t fmt_line(char *out, char type, long long v) {
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    size_t o = 0;
    out[o++] = type;
    if (v < 0) out[o++] = '-';
    while (n) out[o++] = tmp[--n];
    out[o++] = '\r';
    out[o++] = '\n';
    return o;
}

static void rb_line(rbuf *b, char type, long long v) {
    char tmp[32];
    rb_raw(b, tmp, fmt_line(tmp, type, v));
}

/* A status or error line must not hold CR or LF: they would end it early. */
static void rb_clean_line(rbuf *b, char type, const char *s, size_t n) {
    if (!grow(b, n + 3)) return;
    b->p[b->len++] = type;
    for (size_t i = 0; i < n; i++) b->p[b->len++] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

void rb_simple(rbuf *b, const char *s) { rb_clean_line(b, '+', s, strlen(s)); }

void rb_error(rbuf *b, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
    rb_clean_line(b, '-', msg, (size_t)n);
}

void rb_int(rbuf *b, long long v) { rb_line(b, ':', v); }

void rb_bulk(rbuf *b, const void *p, size_t n) {
    if (!grow(b, 32 + n)) return;
    b->len += fmt_line(b->p + b->len, '$', (long long)n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

void rb_cstr(rbuf *b, const char *s) { rb_bulk(b, s, strlen(s)); }
void rb_null(rbuf *b, int proto) { rb_raw(b, proto == 3 ? "_\r\n" : "$-1\r\n", proto == 3 ? 3 : 5); }
void rb_null_array(rbuf *b, int proto) { rb_raw(b, proto == 3 ? "_\r\n" : "*-1\r\n", proto == 3 ? 3 : 5); }
void rb_array(rbuf *b, size_t n) { rb_line(b, '*', (long long)n); }
void rb_map(rbuf *b, size_t n, int proto) { rb_line(b, proto == 3 ? '%' : '*', (long long)(proto == 3 ? n : 2 * n)); }
void rb_set(rbuf *b, size_t n, int proto) { rb_line(b, proto == 3 ? '~' : '*', (long long)n); }

void rb_verbatim(rbuf *b, const char *txt, size_t n, int proto) {
    if (proto != 3) {
        rb_bulk(b, txt, n);
        return;
    }
    rb_line(b, '=', (long long)(n + 4));
    rb_raw(b, "txt:", 4);
    rb_raw(b, txt, n);
    rb_raw(b, "\r\n", 2);
}

/* The shortest decimal that reads back as the same value (float: as the same float,
 * so a score 0.9f prints "0.9", not "0.89999997615814209"). */
static size_t fmt_real(char *out, size_t cap, double v, int is_float) {
    if (v != v) return (size_t)snprintf(out, cap, "nan");
    if (v > 1.7976931348623157e308) return (size_t)snprintf(out, cap, "inf");
    if (v < -1.7976931348623157e308) return (size_t)snprintf(out, cap, "-inf");
    if (v == 0) v = 0; /* -0 prints as 0 */
    int n = 0;
    for (int digits = is_float ? 6 : 15; digits <= 17; digits++) {
        n = snprintf(out, cap, "%.*g", digits, v);
        if (is_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v) break;
    }
    return n < 0 ? 0 : (size_t)n;
}

static void rb_real(rbuf *b, double v, int is_float, int proto) {
    char tmp[40];
    size_t n = fmt_real(tmp, sizeof tmp, v, is_float);
    if (proto != 3) {
        rb_bulk(b, tmp, n);
        return;
    }
    rb_raw(b, ",", 1);
    rb_raw(b, tmp, n);
    rb_raw(b, "\r\n", 2);
}

void rb_double(rbuf *b, double v, int proto) { rb_real(b, v, 0, proto); }
void rb_float(rbuf *b, float v, int proto) { rb_real(b, v, 1, proto); }
void rb_bool(rbuf *b, int v, int proto) {
    if (proto == 3) rb_raw(b, v ? "#t\r\n" : "#f\r\n", 4);
    else rb_int(b, v != 0);
}
