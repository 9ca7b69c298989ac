/* cmd_store.c — top-level commands about the store as a whole: `init`, `stats`. */
#include "cli.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static int run_init(struct cli_ctx *ctx)
{
    /* main.c has already opened the store with create = 1; say where it lives. */
    char *abs = realpath(ctx->dir, NULL);
    const char *where = abs ? abs : ctx->dir;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "dir");
        cli_json_string(&j, where);
        cli_json_key(&j, "format_version");
        cli_json_int(&j, STRATA_FORMAT_VERSION);
        cli_json_object_end(&j);
    } else {
        fputs("store ready at ", stdout);
        cli_put_text(where);
        putchar('\n');
    }
    free(abs);
    return CLI_OK;
}

static int run_stats(struct cli_ctx *ctx)
{
    strata_stats st;
    int rc = strata_stats_get(ctx->db, &st);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "read statistics");
    strata_analytics_stats an = { 0 }; /* rows in analytics.duckdb (none when analytics is off) */
    if ((rc = strata_analytics_stats_get(ctx->db, &an)) != STRATA_OK && rc != STRATA_EMISUSE)
        return cli_fail(ctx, rc, "read analytics statistics");

    /* One table drives both output forms, so they always list the same fields. */
    const struct { const char *name; uint64_t value; } rows[] = {
        { "format_version", (uint64_t)st.format_version },
        { "lsn", st.lsn },
        { "commits", st.commits },
        { "group_commits", st.group_commits },
        { "settings", st.settings },
        { "sessions", st.sessions },
        { "documents", st.documents },
        { "contents", st.contents },
        { "doc_raw_bytes", st.doc_raw_bytes },
        { "doc_stored_bytes", st.doc_stored_bytes },
        { "segments", st.segments },
        { "segment_bytes", st.segment_bytes },
        { "operational_bytes", st.operational_bytes },
        { "total_bytes", st.total_bytes },
        { "query_metrics", an.query_rows },
        { "embedding_metrics", an.embedding_rows },
        { "reranking_metrics", an.reranking_rows },
        { "system_metrics", an.system_rows },
        { "op_metrics", an.op_rows },
        { "metric_hourly_rows", an.hourly_rows },
    };
    size_t n = sizeof rows / sizeof rows[0];
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        for (size_t i = 0; i < n; i++) {
            cli_json_key(&j, rows[i].name);
            cli_json_uint(&j, rows[i].value);
        }
        cli_json_object_end(&j);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%-18s %" PRIu64 "\n", rows[i].name, rows[i].value);
    }
    return CLI_OK;
}

static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command store_commands[] = {
    { "init", "", 0, 0, json_only, CLI_STORE_CREATE,
      "create the store if missing",
      "Create the store directory and its files if they do not exist yet, then print\n"
      "the store's absolute path. Running it on an existing store just opens it.\n"
      "A directory that holds other files but no store is refused and left untouched.",
      run_init },
    { "stats", "", 0, 0, json_only, CLI_STORE_OPEN,
      "print counts and sizes of the store",
      "Print one 'NAME VALUE' line per statistic: format_version, lsn (last commit),\n"
      "commits and group_commits (made by this process, so 0 here), settings,\n"
      "sessions, documents, contents (distinct, after deduplication),\n"
      "doc_raw_bytes (sum of document sizes), doc_stored_bytes (live content in\n"
      "segments), segments, segment_bytes (segment files on disk, dead bytes\n"
      "included), operational_bytes and total_bytes (every file of the store);\n"
      "then the rows of each metric table in analytics.duckdb (query_metrics,\n"
      "embedding_metrics, reranking_metrics, system_metrics, op_metrics) and of\n"
      "their hourly rollups (metric_hourly_rows).\n"
      "With --json print one object with the same names.",
      run_stats },
};

const struct cli_group cli_group_store = {
    NULL, "store commands", store_commands, sizeof store_commands / sizeof store_commands[0],
};
