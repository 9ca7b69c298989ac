/* util.c — helpers every command uses: flag lookup, error and usage messages, human
 * output (escaped text, compact JSON, ISO-8601 times) and a small JSON writer whose
 * strings are always valid JSON, whatever bytes a key or id holds. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- flags and arguments ---- */

const char *cli_flag(const struct cli_ctx *ctx, const char *name)
{
    const struct cli_flag *f = ctx->cmd->flags;
    for (int i = 0; f && f[i].name; i++)
        if (strcmp(f[i].name, name) == 0)
            return ctx->flagv[i];
    return NULL;
}

int cli_json_wanted(const struct cli_ctx *ctx)
{
    return cli_flag(ctx, "--json") != NULL;
}

/* Seconds are kept below INT64_MAX / 1000 so that the store may turn them into
 * milliseconds without overflow. */
int cli_parse_seconds(const struct cli_ctx *ctx, const char *name, const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0')
        return cli_usage(ctx, "%s wants a whole number of seconds, not '%s'", name, cli_q(text));
    if (errno == ERANGE || v > INT64_MAX / 1000)
        return cli_usage(ctx, "%s %s is out of range", name, cli_q(text));
    *out = (int64_t)v;
    return CLI_OK;
}

int cli_parse_count(const struct cli_ctx *ctx, const char *name, const char *text, uint64_t max,
                    uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0')
        return cli_usage(ctx, "%s wants a whole number, not '%s'", name, cli_q(text));
    if (errno == ERANGE || v < 1 || v > max)
        return cli_usage(ctx, "%s %s is out of range (1..%" PRIu64 ")", name, cli_q(text), max);
    *out = (uint64_t)v;
    return CLI_OK;
}

int cli_json_is_object(const char *s)
{
    size_t i = strspn(s, " \t\r\n");
    return s[i] == '{' && strata_json_valid(s, strlen(s));
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- messages ---- */

char cli_served_msg[1024];

int cli_fail(struct cli_ctx *ctx, int rc, const char *what_fmt, ...)
{
    const char *msg = ctx && ctx->db ? strata_errmsg(ctx->db) : cli_served_msg;
    if (!msg || !*msg)
        msg = strata_errstr(rc);
    va_list ap;
    va_start(ap, what_fmt);
    fputs("strata: ", stderr);
    vfprintf(stderr, what_fmt, ap);
    fprintf(stderr, ": %s\n", msg);
    va_end(ap);
    return CLI_FAILED;
}

const char *cli_cmd_name(const struct cli_group *g, const struct cli_command *c)
{
    static char buf[128];
    if (g && g->name)
        snprintf(buf, sizeof buf, "%s %s", g->name, c->name);
    else
        snprintf(buf, sizeof buf, "%s", c->name);
    return buf;
}

void cli_format_usage(char *buf, size_t size, const struct cli_group *g, const struct cli_command *c)
{
    size_t n = (size_t)snprintf(buf, size, "%s", cli_cmd_name(g, c));
    if (*c->args && n < size)
        n += (size_t)snprintf(buf + n, size - n, " %s", c->args);
    for (const struct cli_flag *fl = c->flags; fl && fl->name && n < size; fl++) {
        if (fl->metavar)
            n += (size_t)snprintf(buf + n, size - n, " [%s %s]", fl->name, fl->metavar);
        else
            n += (size_t)snprintf(buf + n, size - n, " [%s]", fl->name);
    }
}

int cli_usage(const struct cli_ctx *ctx, const char *fmt, ...)
{
    char name[128];
    snprintf(name, sizeof name, "%s", cli_cmd_name(ctx->group, ctx->cmd));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "strata: %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    char usage[512];
    cli_format_usage(usage, sizeof usage, ctx->group, ctx->cmd);
    fprintf(stderr, "usage: strata %s\n", usage);
    fprintf(stderr, "Run 'strata help %s' for details.\n", name);
    return CLI_USAGE;
}

const char *cli_q(const char *s)
{
    enum { CUT = 60 };
    static char bufs[4][CUT * 4 + 8];
    static int next;
    char *buf = bufs[next++ % 4], *p = buf;
    size_t n = 0;
    for (; s[n] && n < CUT; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c == 0x7f)
            p += sprintf(p, "\\x%02x", c);
        else
            *p++ = (char)c;
    }
    if (s[n])
        p += sprintf(p, "...");
    *p = '\0';
    return buf;
}

/* Whole of stdin, trimmed of surrounding whitespace, for a JSON argument given as "-". */
char *cli_read_stdin(struct cli_ctx *ctx)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap > STRATA_JSON_MAX + 1) {
                free(buf);
                cli_fail(ctx, STRATA_ETOOBIG, "read JSON from standard input");
                return NULL;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (!buf) {
        cli_fail(ctx, STRATA_ENOMEM, "read JSON from standard input");
        return NULL;
    }
    if (ferror(stdin)) {
        free(buf);
        cli_fail(ctx, STRATA_EIO, "read JSON from standard input");
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        free(buf);
        cli_fail(ctx, STRATA_EINVAL, "read JSON from standard input (it holds a NUL byte)");
        return NULL;
    }
    /* Whitespace around a JSON value means nothing; the newline `echo` adds would
     * otherwise be stored and show up inside --json output. */
    while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
        len--;
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", buf[lead]))
        lead++;
    memmove(buf, buf + lead, len - lead);
    buf[len - lead] = '\0';
    return buf;
}

/* ---- human output ---- */

int cli_out_failed(void)
{
    return ferror(stdout);
}

void cli_put_text(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static size_t utf8_len(const unsigned char *s, size_t n);

void cli_put_bytes(const void *str, size_t len)
{
    const unsigned char *s = str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x20 || c == 0x7f ? 0 : utf8_len(s + i, len - i);
        if (n == 0) {
            printf("\\x%02x", c);
            i++;
        } else {
            fwrite(s + i, 1, n, stdout);
            i += n;
        }
    }
}

void cli_put_hex(const void *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", ((const unsigned char *)p)[i]);
}

/* Valid JSON has raw whitespace only between tokens (RFC 8259 forbids raw control
 * characters inside strings), so dropping it outside strings keeps the value and
 * makes it one line. Should a value ever not be JSON, control bytes are still
 * escaped so the record stays on its line. */
void cli_put_json_compact(const char *json)
{
    int in_string = 0, escaped = 0;
    for (const char *p = json; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            in_string = 1;
        }
        if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

void cli_put_time(int64_t ms)
{
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char buf[64];
    if ((int64_t)t != secs || !gmtime_r(&t, &tm) ||
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        printf("%" PRId64 "ms", ms); /* outside what struct tm can hold */
        return;
    }
    printf("%s.%03dZ", buf, (int)frac);
}

/* ---- JSON output ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if the bytes
 * there are not one: overlong forms, surrogates and code points past U+10FFFF are
 * invalid too. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void cli_json_escape(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        switch (c) {
        case '"':  fputs("\\\"", stdout); i++; continue;
        case '\\': fputs("\\\\", stdout); i++; continue;
        case '\b': fputs("\\b", stdout); i++; continue;
        case '\f': fputs("\\f", stdout); i++; continue;
        case '\n': fputs("\\n", stdout); i++; continue;
        case '\r': fputs("\\r", stdout); i++; continue;
        case '\t': fputs("\\t", stdout); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
            i++;
            continue;
        }
        size_t n = utf8_len(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", stdout); /* not UTF-8: one replacement per bad byte */
            i++;
        } else if (n == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
            printf("\\u%04x", s[i + 2] == 0xa8 ? 0x2028 : 0x2029); /* safe for JavaScript too */
            i += 3;
        } else {
            fwrite(s + i, 1, n, stdout);
            i += n;
        }
    }
}

void cli_json_init(struct cli_json *j)
{
    memset(j, 0, sizeof *j);
}

/* Before any value: a comma if the container already holds one. */
static void json_value_start(struct cli_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->has_item[j->depth])
            putchar(',');
        j->has_item[j->depth] = 1;
    }
}

/* After a complete value: a newline ends the document. */
static void json_value_end(struct cli_json *j)
{
    if (j->depth == 0)
        putchar('\n');
}

static void json_open(struct cli_json *j, char c)
{
    json_value_start(j);
    putchar(c);
    if (j->depth + 1 < (int)sizeof j->has_item)
        j->depth++;
    j->has_item[j->depth] = 0;
}

static void json_close(struct cli_json *j, char c)
{
    putchar(c);
    if (j->depth > 0)
        j->depth--;
    json_value_end(j);
}

void cli_json_object_begin(struct cli_json *j) { json_open(j, '{'); }
void cli_json_object_end(struct cli_json *j) { json_close(j, '}'); }
void cli_json_array_begin(struct cli_json *j) { json_open(j, '['); }
void cli_json_array_end(struct cli_json *j) { json_close(j, ']'); }

void cli_json_key(struct cli_json *j, const char *key)
{
    json_value_start(j);
    putchar('"');
    cli_json_escape(key, strlen(key));
    fputs("\":", stdout);
    j->after_key = 1;
}

void cli_json_string(struct cli_json *j, const char *s)
{
    json_value_start(j);
    putchar('"');
    cli_json_escape(s, strlen(s));
    putchar('"');
    json_value_end(j);
}

void cli_json_string_n(struct cli_json *j, const void *s, size_t len)
{
    json_value_start(j);
    putchar('"');
    cli_json_escape(s, len);
    putchar('"');
    json_value_end(j);
}

void cli_json_hex(struct cli_json *j, const void *p, size_t len)
{
    json_value_start(j);
    putchar('"');
    cli_put_hex(p, len);
    putchar('"');
    json_value_end(j);
}

void cli_json_int(struct cli_json *j, int64_t v)
{
    json_value_start(j);
    printf("%" PRId64, v);
    json_value_end(j);
}

void cli_json_uint(struct cli_json *j, uint64_t v)
{
    json_value_start(j);
    printf("%" PRIu64, v);
    json_value_end(j);
}

void cli_json_null(struct cli_json *j)
{
    json_value_start(j);
    fputs("null", stdout);
    json_value_end(j);
}

void cli_json_bool(struct cli_json *j, int v)
{
    json_value_start(j);
    fputs(v ? "true" : "false", stdout);
    json_value_end(j);
}

void cli_json_raw(struct cli_json *j, const char *json)
{
    json_value_start(j);
    fputs(*json ? json : "null", stdout); /* "" is no JSON; never emit a broken document */
    json_value_end(j);
}
