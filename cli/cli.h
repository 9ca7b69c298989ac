/* cli.h — the internals shared by the files of the `strata` command.
 *
 * The CLI is driven by tables: every command group (cmd_*.c) exports one
 * `struct cli_group` listing its commands; main.c parses the command line against
 * those tables, opens the store as the command asks, calls its handler and prints
 * help from the same data. Adding a group is a new cmd_*.c file plus one line in
 * main.c's group list. The CLI uses only the public API, strata.h. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"

/* Exit statuses: the contract scripts rely on. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

#define CLI_MAX_FLAGS 16

/* A command-specific flag. `metavar` NULL: a boolean flag; otherwise the flag takes
 * a value (`--ttl S` or `--ttl=S`). A flag name has the same arity in every command,
 * so flags written before the command name can still be parsed. */
struct cli_flag {
    const char *name;
    const char *metavar;
    const char *help;
};
#define CLI_FLAG_JSON { "--json", NULL, "print JSON (times in ms since the epoch)" }
#define CLI_FLAG_END  { NULL, NULL, NULL }

/* What main.c does with the store before calling a handler. */
enum cli_store {
    CLI_STORE_NONE,   /* the handler does not touch the store */
    CLI_STORE_OPEN,   /* open an existing store; a missing one is an error */
    CLI_STORE_CREATE  /* open, creating the store if missing */
};

struct cli_ctx;

struct cli_command {
    const char *name;     /* word after the group name ("get"), or a top-level name */
    const char *args;     /* positional arguments for usage lines ("KEY JSON"), or "" */
    int min_args, max_args;
    const struct cli_flag *flags; /* ends with CLI_FLAG_END; NULL: none */
    enum cli_store store;
    const char *summary;  /* one line, for lists */
    const char *help;     /* paragraphs for `strata help CMD`; NULL: summary only */
    int (*run)(struct cli_ctx *ctx); /* returns CLI_OK, CLI_FAILED or CLI_USAGE */
};

struct cli_group {
    const char *name;     /* "setting"; NULL: its commands are top-level words */
    const char *summary;
    const struct cli_command *commands;
    size_t n_commands;
};

/* Everything a handler gets. */
struct cli_ctx {
    const struct cli_group *group;
    const struct cli_command *cmd;
    const char *dir;      /* store directory after --dir / $STRATA_DIR / default */
    strata *db;           /* open store, or NULL with CLI_STORE_NONE */
    int argc;             /* positional arguments after the command words */
    char **argv;
    const char *flagv[CLI_MAX_FLAGS]; /* by index into cmd->flags: NULL absent, value
                                         or "" (boolean) when given */
};

/* The groups, in help order (main.c). */
extern const struct cli_group cli_group_store;
extern const struct cli_group cli_group_setting;
extern const struct cli_group cli_group_session;
extern const struct cli_group cli_group_doc;    /* doc put|get|meta|del|list|train-dict */
extern const struct cli_group cli_group_import; /* import (top level) */
extern const struct cli_group cli_group_maint;  /* check, compact (top level) */
extern const struct cli_group cli_group_sql, cli_group_metric, cli_group_analytics; /* cmd_analytics.c */
extern const struct cli_group cli_group_serve;  /* serve (top level) */
/* cmd_serve.c: a store held by `strata serve` is reached through its unix socket.
 * cli_served: 1 if DIR's server answers; cli_served_run: run ctx's command there. */
int cli_served(const char *dir);
int cli_served_run(struct cli_ctx *ctx);
/* Rows of a result, whatever produced them (a cursor, a server's reply). */
struct cli_rows {
    void *src;
    size_t ncols;
    const char *(*name)(void *src, size_t col);
    int (*type)(void *src, size_t col);              /* enum strata_type */
    int (*next)(void *src, int *has_row);
    int (*value)(void *src, size_t col, strata_value *out);
};
/* The library calls some handlers make, through the server. cli_served_run runs
 * those handlers with ctx->db NULL; they call cli_served_X where they would call
 * strata_X (same arguments, a STRATA_* status); cli_fail then prints the server's
 * message, kept in cli_served_msg (util.c). */
extern char cli_served_msg[1024];
int cli_served_vec_info(const char *name, strata_collection_info *out);
int cli_served_vec_list(strata_collection_cb cb, void *arg);
int cli_served_vec_create(const char *name, const strata_collection_opts *o);
int cli_served_vec_drop(const char *name);
int cli_served_vec_get(const char *name, const char *id, size_t id_len, float *out, uint32_t dim);
int cli_served_vec_search(const char *name, const float *q, uint32_t dim, const strata_vec_search_opts *o,
                          strata_vec_result **res, size_t *n);
void cli_served_results_free(strata_vec_result *r, size_t n);
int cli_served_backup_create(const char *dest, char *name, size_t cap);
int cli_served_metric_record(const char *table, const char *json); /* recorded and flushed */
/* Positional parameters only (STRATA.SQL binds $1, $2, ...). */
int cli_served_sql(const char *sql, const strata_param *p, size_t n, struct cli_rows *out);
void cli_served_rows_close(struct cli_rows *rows);
extern const struct cli_group cli_group_backup; /* backup create|list|verify|restore|prune */
extern const struct cli_group cli_group_vec;    /* vec create|list|info|drop|add|search */

/* ---- flags and arguments (util.c) ---- */
/* Value of flag `name` ("" for a boolean given), or NULL if absent. */
const char *cli_flag(const struct cli_ctx *ctx, const char *name);
int cli_json_wanted(const struct cli_ctx *ctx); /* --json given */
/* Parse a non-negative count of seconds for flag `name`: CLI_OK or, after printing a
 * usage error, CLI_USAGE. */
int cli_parse_seconds(const struct cli_ctx *ctx, const char *name, const char *text, int64_t *out);
/* Parse a whole number 1..max for flag `name`: CLI_OK or CLI_USAGE after a message. */
int cli_parse_count(const struct cli_ctx *ctx, const char *name, const char *text, uint64_t max,
                    uint64_t *out);
/* 1 if `s` is a JSON object (valid JSON whose first token is '{'). */
int cli_json_is_object(const char *s);
/* Seconds on the monotonic clock, for rates and progress. */
double cli_now(void);

/* Standard input as a NUL-terminated string without surrounding whitespace (free with
 * free()), for a JSON argument given as "-" (which cannot be JSON itself); NULL after
 * printing why. */
char *cli_read_stdin(struct cli_ctx *ctx);

/* ---- messages (util.c) ---- */
/* "strata: <what>: <message of rc>" on stderr, the message from strata_errmsg(db) (or
 * strata_errstr(rc) when empty). Returns CLI_FAILED. */
int cli_fail(struct cli_ctx *ctx, int rc, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A usage error for the current command: message, usage line and a hint to
 * `strata help CMD` on stderr. Returns CLI_USAGE. */
int cli_usage(const struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* `s` quoted for a message: control bytes as \xHH, cut at 60 bytes. The buffer is one
 * of a few static ones, valid for the next few calls. */
const char *cli_q(const char *s);
/* "setting get KEY [--json]": the command's words, arguments and flags. */
void cli_format_usage(char *buf, size_t size, const struct cli_group *g, const struct cli_command *c);
/* Full command name for messages: "setting get", "stats". Static buffer. */
const char *cli_cmd_name(const struct cli_group *g, const struct cli_command *c);

/* ---- human output (util.c); everything goes to buffered stdout ---- */
/* Text with control bytes shown as \xHH so one record stays on one line. */
void cli_put_text(const char *s);
/* Stored JSON without insignificant whitespace (one line). */
void cli_put_json_compact(const char *json);
/* `len` bytes (an id: any bytes) on one human line: control bytes, DEL and bytes
 * that are not part of valid UTF-8 are shown as \xHH; the rest is printed as is. */
void cli_put_bytes(const void *s, size_t len);
/* Bytes as lowercase hex. */
void cli_put_hex(const void *p, size_t len);
/* ms since the epoch as ISO-8601 UTC, "2025-01-02T03:04:05.678Z". */
void cli_put_time(int64_t ms);
/* Non-zero once a write to stdout failed; list callbacks stop walking then. */
int cli_out_failed(void);

/* ---- JSON output (util.c): a small writer that places commas and escapes ---- */
struct cli_json {
    int depth;
    int after_key;
    unsigned char has_item[32];
};
void cli_json_init(struct cli_json *j);
void cli_json_object_begin(struct cli_json *j);
void cli_json_object_end(struct cli_json *j);
void cli_json_array_begin(struct cli_json *j);
void cli_json_array_end(struct cli_json *j);
void cli_json_key(struct cli_json *j, const char *key);
void cli_json_string(struct cli_json *j, const char *s);
/* A string of `len` bytes (an id may hold any bytes; see cli_json_escape). */
void cli_json_string_n(struct cli_json *j, const void *s, size_t len);
/* Bytes as a string of lowercase hex digits (a content hash). */
void cli_json_hex(struct cli_json *j, const void *p, size_t len);
void cli_json_int(struct cli_json *j, int64_t v);
void cli_json_uint(struct cli_json *j, uint64_t v);
void cli_json_null(struct cli_json *j);
void cli_json_bool(struct cli_json *j, int v);
/* Text that is already JSON (a stored value), embedded as-is. */
void cli_json_raw(struct cli_json *j, const char *json);
/* Escape `len` bytes as a JSON string body (no quotes): control characters,
 * quotes and backslashes escaped, invalid UTF-8 bytes as \ufffd. */
void cli_json_escape(const char *s, size_t len);

#endif
