/* cmd_session.c — `strata session new|get|touch|del|list|expire`: a JSON object per
 * session id, with an optional idle time-to-live. */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Walks stop (non-zero) once stdout failed; main.c reports the write error. */
enum { WALK_STOPPED = 1 };

static void put_ttl(int64_t ttl_s)
{
    if (ttl_s > 0)
        printf("%" PRId64 "s", ttl_s);
    else
        fputs("none", stdout);
}

static void session_json(struct cli_json *j, const strata_session *s)
{
    cli_json_object_begin(j);
    cli_json_key(j, "id");
    cli_json_string(j, s->id);
    cli_json_key(j, "data");
    cli_json_raw(j, s->data);
    cli_json_key(j, "created_at_ms");
    cli_json_int(j, s->created_at_ms);
    cli_json_key(j, "last_accessed_ms");
    cli_json_int(j, s->last_accessed_ms);
    cli_json_key(j, "ttl_s");
    cli_json_int(j, s->ttl_s);
    cli_json_object_end(j);
}

static int run_new(struct cli_ctx *ctx)
{
    const char *ttl_text = cli_flag(ctx, "--ttl");
    const char *data = cli_flag(ctx, "--data");
    const char *id = cli_flag(ctx, "--id");
    int64_t ttl_s = 0;
    if (ttl_text && cli_parse_seconds(ctx, "--ttl", ttl_text, &ttl_s) != CLI_OK)
        return CLI_USAGE;

    char *from_stdin = NULL;
    if (data && strcmp(data, "-") == 0) {
        if (!(from_stdin = cli_read_stdin(ctx)))
            return CLI_FAILED;
        data = from_stdin;
    }
    char *new_id = NULL;
    int rc = strata_session_create(ctx->db, NULL, id, data, ttl_s, &new_id);
    free(from_stdin);
    if (rc != STRATA_OK) {
        if (id)
            return cli_fail(ctx, rc, "create session '%s'", cli_q(id));
        return cli_fail(ctx, rc, "create session");
    }
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "id");
        cli_json_string(&j, new_id);
        cli_json_object_end(&j);
    } else {
        cli_put_text(new_id);
        putchar('\n');
    }
    strata_free(new_id);
    return CLI_OK;
}

static int run_get(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    strata_session *s = NULL;
    int rc = strata_session_get(ctx->db, id, &s);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "get session '%s'", cli_q(id));
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        session_json(&j, s);
    } else {
        fputs("id             ", stdout);
        cli_put_text(s->id);
        fputs("\ncreated        ", stdout);
        cli_put_time(s->created_at_ms);
        fputs("\nlast_accessed  ", stdout);
        cli_put_time(s->last_accessed_ms);
        fputs("\nttl            ", stdout);
        put_ttl(s->ttl_s);
        fputs("\ndata           ", stdout);
        cli_put_json_compact(s->data);
        putchar('\n');
    }
    strata_session_free(s);
    return CLI_OK;
}

static int run_touch(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    int rc = strata_session_touch(ctx->db, NULL, id);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "touch session '%s'", cli_q(id));
    return CLI_OK;
}

static int run_del(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    int rc = strata_session_delete(ctx->db, NULL, id);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "delete session '%s'", cli_q(id));
    return CLI_OK;
}

static int list_human(void *arg, const strata_session *s)
{
    cli_put_text(s->id);
    putchar('\t');
    cli_put_time(s->created_at_ms);
    putchar('\t');
    cli_put_time(s->last_accessed_ms);
    putchar('\t');
    put_ttl(s->ttl_s);
    putchar('\t');
    cli_put_json_compact(s->data);
    putchar('\n');
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int list_json(void *arg, const strata_session *s)
{
    session_json(arg, s);
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int run_list(struct cli_ctx *ctx)
{
    int rc;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_array_begin(&j);
        rc = strata_session_list(ctx->db, list_json, &j);
        cli_json_array_end(&j);
    } else {
        rc = strata_session_list(ctx->db, list_human, NULL);
    }
    if (rc == WALK_STOPPED)
        return CLI_OK; /* output failed: main.c reports it */
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "list sessions");
    return CLI_OK;
}

static int run_expire(struct cli_ctx *ctx)
{
    const char *idle_text = cli_flag(ctx, "--idle");
    int64_t idle_s = 0;
    if (idle_text && cli_parse_seconds(ctx, "--idle", idle_text, &idle_s) != CLI_OK)
        return CLI_USAGE;
    uint64_t n = 0;
    int rc = strata_session_expire(ctx->db, idle_s, &n);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "expire sessions");
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "expired");
        cli_json_uint(&j, n);
        cli_json_object_end(&j);
    } else {
        printf("%" PRIu64 "\n", n);
    }
    return CLI_OK;
}

static const struct cli_flag new_flags[] = {
    { "--ttl", "S", "expire after S seconds without access (default: never)" },
    { "--data", "JSON", "the data, a JSON object (default {}); - reads stdin" },
    { "--id", "ID", "use ID (1..1024 bytes), not a random 32-hex-digit id" },
    CLI_FLAG_JSON,
    CLI_FLAG_END,
};
static const struct cli_flag expire_flags[] = {
    { "--idle", "S", "also expire sessions idle for more than S seconds" },
    CLI_FLAG_JSON,
    CLI_FLAG_END,
};
static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command session_commands[] = {
    { "new", "", 0, 0, new_flags, CLI_STORE_OPEN,
      "create a session and print its id",
      "Create a session and print its id on one line (with --json: {\"id\"}).\n"
      "An --id that already exists fails (exit 1); so does --data that is not a\n"
      "JSON object.",
      run_new },
    { "get", "ID", 1, 1, json_only, CLI_STORE_OPEN,
      "print session ID",
      "Print session ID as 'FIELD VALUE' lines: id, created, last_accessed (ISO-8601\n"
      "UTC), ttl (e.g. 3600s, or none) and data (JSON on one line). With --json print\n"
      "{\"id\",\"data\",\"created_at_ms\",\"last_accessed_ms\",\"ttl_s\"}.\n"
      "A missing session fails (exit 1).",
      run_get },
    { "touch", "ID", 1, 1, NULL, CLI_STORE_OPEN,
      "mark session ID as accessed now",
      "Set the last-access time of session ID to now, restarting its idle TTL.\n"
      "A missing session fails (exit 1).",
      run_touch },
    { "del", "ID", 1, 1, NULL, CLI_STORE_OPEN,
      "delete session ID",
      "Delete session ID. A missing session fails (exit 1).",
      run_del },
    { "list", "", 0, 0, json_only, CLI_STORE_OPEN,
      "print every session, in id order",
      "Print one line per session, in id order, with tab-separated columns\n"
      "ID, CREATED, LAST_ACCESSED (ISO-8601 UTC), TTL (e.g. 3600s, or none), DATA\n"
      "(JSON on one line); control characters in ids are shown as \\xHH.\n"
      "With --json print an array of session objects as 'session get --json' does.",
      run_list },
    { "expire", "", 0, 0, expire_flags, CLI_STORE_OPEN,
      "delete idle sessions and print how many",
      "Delete every session idle for longer than its own TTL and, with --idle S,\n"
      "every session idle for more than S seconds; print how many were deleted\n"
      "(with --json: {\"expired\"}).",
      run_expire },
};

const struct cli_group cli_group_session = {
    "session", "JSON objects per session id, with idle expiry", session_commands,
    sizeof session_commands / sizeof session_commands[0],
};
