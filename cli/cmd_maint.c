/* cmd_maint.c — top-level maintenance of the document store: `check` (verify every
 * file and record) and `compact` (rewrite segments that hold dead bytes). */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- check ---- */

/* Problems are kept until the check has run, so that --json prints one document. */
struct problems {
    char **v;
    size_t n, cap;
    int oom;
};

static void on_problem(void *arg, const char *problem)
{
    struct problems *p = arg;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->oom = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    if (!(p->v[p->n] = strdup(problem)))
        p->oom = 1;
    else
        p->n++;
}

static int run_check(struct cli_ctx *ctx)
{
    struct problems p = { 0 };
    uint64_t count = 0;
    strata_stats st;
    int rc = strata_check(ctx->db, on_problem, &p, &count);
    int status = CLI_OK;
    if (rc != STRATA_OK)
        status = cli_fail(ctx, rc, "check");
    else if ((rc = strata_stats_get(ctx->db, &st)) != STRATA_OK)
        status = cli_fail(ctx, rc, "check: read statistics");
    else if (p.oom)
        status = cli_fail(ctx, STRATA_ENOMEM, "check");
    if (status != CLI_OK)
        goto done;

    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "ok");
        cli_json_bool(&j, count == 0);
        cli_json_key(&j, "problems");
        cli_json_array_begin(&j);
        for (size_t i = 0; i < p.n; i++)
            cli_json_string(&j, p.v[i]);
        cli_json_array_end(&j);
        cli_json_key(&j, "documents");
        cli_json_uint(&j, st.documents);
        cli_json_key(&j, "contents");
        cli_json_uint(&j, st.contents);
        cli_json_key(&j, "segments");
        cli_json_uint(&j, st.segments);
        cli_json_object_end(&j);
    } else if (count == 0) {
        printf("ok: %" PRIu64 " document%s (%" PRIu64 " distinct content%s), %" PRIu64
               " segment%s checked\n", st.documents, st.documents == 1 ? "" : "s", st.contents,
               st.contents == 1 ? "" : "s", st.segments, st.segments == 1 ? "" : "s");
    } else {
        for (size_t i = 0; i < p.n; i++) {
            cli_put_text(p.v[i]);
            putchar('\n');
        }
    }
    if (count) {
        fprintf(stderr, "strata: check: %" PRIu64 " problem%s found\n", count, count == 1 ? "" : "s");
        status = CLI_FAILED;
    }
done:
    for (size_t i = 0; i < p.n; i++)
        free(p.v[i]);
    free(p.v);
    return status;
}

/* ---- compact ---- */

static int run_compact(struct cli_ctx *ctx)
{
    double threshold = 0.0;
    const char *t = cli_flag(ctx, "--threshold");
    if (t) {
        char *end = NULL;
        errno = 0;
        threshold = strtod(t, &end);
        if (!*t || *end || errno == ERANGE || !isfinite(threshold) || threshold < 0 || threshold > 1)
            return cli_usage(ctx, "--threshold wants a fraction from 0 to 1, not '%s'", cli_q(t));
    }
    strata_compact_stats cs;
    memset(&cs, 0, sizeof cs);
    int rc = strata_compact(ctx->db, threshold, &cs);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "compact");
    const struct { const char *name; uint64_t value; } rows[] = {
        { "segments_rewritten", cs.segments_rewritten },
        { "bytes_before", cs.bytes_before },
        { "bytes_after", cs.bytes_after },
        { "bytes_reclaimed", cs.bytes_before > cs.bytes_after ? cs.bytes_before - cs.bytes_after : 0 },
        { "contents_moved", cs.contents_moved },
        { "contents_dropped", cs.contents_dropped },
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

static const struct cli_flag check_flags[] = {
    { "--json", NULL, "print {ok, problems, documents, contents, segments}" },
    CLI_FLAG_END,
};
static const struct cli_flag compact_flags[] = {
    { "--threshold", "F", "only segments whose dead bytes exceed F (0..1)" },
    CLI_FLAG_JSON,
    CLI_FLAG_END,
};

static const struct cli_command maint_commands[] = {
    { "check", "", 0, 0, check_flags, CLI_STORE_OPEN,
      "verify the store; list every problem",
      "Verify the store: the catalogue against the segment files, every record\n"
      "read back with its checksum and SHA-256, and SQLite's integrity check.\n"
      "Clean: print 'ok: N documents (C distinct contents), M segments checked'\n"
      "and exit 0. Otherwise print one problem per line and exit 1.",
      run_check },
    { "compact", "", 0, 0, compact_flags, CLI_STORE_OPEN,
      "purge deleted content from the segments",
      "Rewrite every segment whose dead bytes (content no document references any\n"
      "more) exceed --threshold F of its size; the default 0 rewrites every segment\n"
      "with any dead byte, so deleted content is gone from every file. Live content\n"
      "is re-encoded with the current dictionary. A crash at any step loses nothing.\n"
      "Prints 'NAME VALUE' lines: segments_rewritten, bytes_before, bytes_after,\n"
      "bytes_reclaimed, contents_moved and contents_dropped (with --json an object).",
      run_compact },
};

const struct cli_group cli_group_maint = {
    NULL, "maintenance", maint_commands, sizeof maint_commands / sizeof maint_commands[0],
};
