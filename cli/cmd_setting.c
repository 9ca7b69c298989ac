/* cmd_setting.c — `strata setting get|set|del|list`: JSON values under text keys. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_get(struct cli_ctx *ctx)
{
    const char *key = ctx->argv[0];
    char *json = NULL;
    int64_t updated = 0;
    int rc = strata_setting_get(ctx->db, key, &json, &updated);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "get setting '%s'", cli_q(key));
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "key");
        cli_json_string(&j, key);
        cli_json_key(&j, "value");
        cli_json_raw(&j, json);
        cli_json_key(&j, "updated_at_ms");
        cli_json_int(&j, updated);
        cli_json_object_end(&j);
    } else {
        cli_put_json_compact(json);
        putchar('\n');
    }
    strata_free(json);
    return CLI_OK;
}

static int run_set(struct cli_ctx *ctx)
{
    const char *key = ctx->argv[0];
    char *from_stdin = NULL;
    const char *json = ctx->argv[1];
    if (strcmp(json, "-") == 0) {
        if (!(from_stdin = cli_read_stdin(ctx)))
            return CLI_FAILED;
        json = from_stdin;
    }
    int rc = strata_setting_set(ctx->db, NULL, key, json);
    free(from_stdin);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "set setting '%s'", cli_q(key));
    return CLI_OK;
}

static int run_del(struct cli_ctx *ctx)
{
    const char *key = ctx->argv[0];
    int rc = strata_setting_delete(ctx->db, NULL, key);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "delete setting '%s'", cli_q(key));
    return CLI_OK;
}

/* Walks stop (non-zero) once stdout failed; main.c reports the write error. */
enum { WALK_STOPPED = 1 };

static int list_human(void *arg, const char *key, const char *json, int64_t updated_at_ms)
{
    cli_put_text(key);
    putchar('\t');
    cli_put_json_compact(json);
    putchar('\n');
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int list_json(void *arg, const char *key, const char *json, int64_t updated_at_ms)
{
    struct cli_json *j = arg;
    cli_json_object_begin(j);
    cli_json_key(j, "key");
    cli_json_string(j, key);
    cli_json_key(j, "value");
    cli_json_raw(j, json);
    cli_json_key(j, "updated_at_ms");
    cli_json_int(j, updated_at_ms);
    cli_json_object_end(j);
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int run_list(struct cli_ctx *ctx)
{
    int rc;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_array_begin(&j);
        rc = strata_setting_list(ctx->db, list_json, &j);
        cli_json_array_end(&j);
    } else {
        rc = strata_setting_list(ctx->db, list_human, NULL);
    }
    if (rc == WALK_STOPPED)
        return CLI_OK; /* output failed: main.c reports it */
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "list settings");
    return CLI_OK;
}

static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command setting_commands[] = {
    { "get", "KEY", 1, 1, json_only, CLI_STORE_OPEN,
      "print the JSON value of setting KEY",
      "Print the value of setting KEY as JSON on one line (insignificant whitespace\n"
      "removed). With --json print {\"key\",\"value\",\"updated_at_ms\"}, the value\n"
      "exactly as stored. A missing key fails (exit 1).",
      run_get },
    { "set", "KEY JSON", 2, 2, NULL, CLI_STORE_OPEN,
      "set setting KEY to a JSON value",
      "Set setting KEY (1..1024 bytes) to JSON, any valid JSON value (RFC 8259):\n"
      "remember shell quoting, e.g. strata setting set theme '\"dark\"'.\n"
      "JSON given as - is read from standard input. Invalid JSON fails (exit 1)\n"
      "and changes nothing.",
      run_set },
    { "del", "KEY", 1, 1, NULL, CLI_STORE_OPEN,
      "delete setting KEY",
      "Delete setting KEY. A missing key fails (exit 1).",
      run_del },
    { "list", "", 0, 0, json_only, CLI_STORE_OPEN,
      "print every setting, in key order",
      "Print one 'KEY<TAB>JSON' line per setting, in key order; control characters\n"
      "in keys are shown as \\xHH. With --json print an array of\n"
      "{\"key\",\"value\",\"updated_at_ms\"} objects, keys exact.",
      run_list },
};

const struct cli_group cli_group_setting = {
    "setting", "JSON values under text keys", setting_commands,
    sizeof setting_commands / sizeof setting_commands[0],
};
