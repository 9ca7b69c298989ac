/* cmd_analytics.c — `strata sql`, `strata metric record`, `strata analytics export|
 * summary`: SQL over analytics.duckdb with bound parameters, recording one metric
 * row, Parquet export and the ADR's common queries. Everything goes through
 * strata.h (strata_sql, strata_metric_record_json, strata_analytics_*). */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- repeated --param ----
 * main.c keeps one value per flag (the last). `sql` takes --param any number of
 * times, so the command line is read again from /proc/self/cmdline with main.c's
 * grammar: words starting with '-' (but not "-" or a negative number) are options,
 * "--" ends them, --dir and --param take a value (inline after '=' or the next
 * word). The last value found must be the one main.c kept. */
struct params {
    char *buf;          /* the NUL-separated command line */
    const char **v;     /* --param values, in order (point into buf) */
    int n;
};

static int is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

static int read_cmdline(char **buf, size_t *len)
{
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *g = realloc(b, cap * 2);
            if (!g) {
                free(b);
                b = NULL;
                break;
            }
            b = g;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!b || err) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int collect_params(const struct cli_ctx *ctx, struct params *p)
{
    memset(p, 0, sizeof *p);
    const char *last = cli_flag(ctx, "--param");
    if (!last)
        return CLI_OK;
    size_t len = 0;
    if (read_cmdline(&p->buf, &len) != 0 || len == 0) {
        /* No /proc: the one value main.c kept. */
        p->v = malloc(sizeof *p->v);
        if (!p->v)
            return CLI_FAILED;
        p->v[p->n++] = last;
        return CLI_OK;
    }
    int words = 0;
    for (size_t i = 0; i < len; i++)
        words += p->buf[i] == '\0';
    p->v = calloc((size_t)words + 1, sizeof *p->v);
    if (!p->v)
        return CLI_FAILED;
    const char *w = p->buf, *end = p->buf + len;
    w += strlen(w) + 1; /* argv[0] */
    int dashdash = 0;
    while (w < end) {
        const char *a = w;
        w += strlen(w) + 1;
        if (dashdash || !is_option(a))
            continue;
        if (!strcmp(a, "--")) {
            dashdash = 1;
            continue;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        int takes = (n == 7 && !strncmp(a, "--param", 7)) || (n == 5 && !strncmp(a, "--dir", 5));
        if (!takes || eq) {
            if (takes && n == 7)
                p->v[p->n++] = eq + 1;
            continue;
        }
        if (w >= end)
            break;
        if (n == 7)
            p->v[p->n++] = w;
        w += strlen(w) + 1;
    }
    if (p->n == 0 || strcmp(p->v[p->n - 1], last) != 0) {
        /* The re-read disagrees with main.c (should not happen): trust main.c. */
        p->n = 0;
        p->v[p->n++] = last;
    }
    return CLI_OK;
}

static void params_free(struct params *p)
{
    free(p->buf);
    free(p->v);
}

/* ---- printing a cursor ---- */
enum out_format { OUT_TABLE, OUT_JSON, OUT_CSV };

static int print_double(char *buf, size_t size, double d, int exact)
{
    if (isnan(d) || isinf(d))
        return snprintf(buf, size, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
    return snprintf(buf, size, exact ? "%.17g" : "%.10g", d);
}

/* A value as text for table and CSV output (NULL: SQL NULL). `buf` holds short
 * values; text values point into the cursor. */
static const char *value_text(const strata_value *v, char *buf, size_t size, int csv)
{
    switch (v->type) {
    case STRATA_TYPE_NULL:
        return NULL;
    case STRATA_TYPE_INT:
        snprintf(buf, size, "%" PRId64, v->i);
        return buf;
    case STRATA_TYPE_DOUBLE:
        print_double(buf, size, v->d, csv);
        return buf;
    case STRATA_TYPE_BOOL:
        return v->i ? "true" : "false";
    case STRATA_TYPE_TIMESTAMP: {
        /* ISO-8601 UTC, as cli_put_time prints it. */
        int64_t secs = v->i / 1000, frac = v->i % 1000;
        if (frac < 0) {
            frac += 1000;
            secs -= 1;
        }
        time_t t = (time_t)secs;
        struct tm tm;
        char d[40];
        if ((int64_t)t != secs || !gmtime_r(&t, &tm) || strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            snprintf(buf, size, "%" PRId64 "ms", v->i);
        else
            snprintf(buf, size, "%s.%03dZ", d, (int)frac);
        return buf;
    }
    default:
        return v->s;
    }
}

static void put_csv_field(const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void put_json_value(struct cli_json *j, const strata_value *v)
{
    char buf[64];
    switch (v->type) {
    case STRATA_TYPE_NULL:
        cli_json_null(j);
        break;
    case STRATA_TYPE_INT:
    case STRATA_TYPE_TIMESTAMP:
        cli_json_int(j, v->i);
        break;
    case STRATA_TYPE_BOOL:
        cli_json_bool(j, (int)v->i);
        break;
    case STRATA_TYPE_DOUBLE:
        if (isnan(v->d) || isinf(v->d)) {
            cli_json_null(j);
        } else {
            print_double(buf, sizeof buf, v->d, 1);
            cli_json_raw(j, buf);
        }
        break;
    default:
        cli_json_string_n(j, v->s, v->len);
        break;
    }
}

/* Table output: the first TABLE_SAMPLE rows are held to size the columns; later
 * rows use the same widths (and may overflow them). */
#define TABLE_SAMPLE 1000

static void table_put_row(size_t ncols, const size_t *width, char *const *cells, const char *null)
{
    for (size_t c = 0; c < ncols; c++) {
        const char *s = cells[c] ? cells[c] : null;
        if (c)
            fputs("  ", stdout);
        cli_put_text(s);
        if (c + 1 < ncols)
            for (size_t w = strlen(s); w < width[c]; w++)
                putchar(' ');
    }
    putchar('\n');
}

static void table_flush(size_t ncols, const size_t *width, char **names, char **held, size_t rows)
{
    table_put_row(ncols, width, names, "");
    for (size_t r = 0; r < rows; r++)
        table_put_row(ncols, width, &held[r * ncols], "NULL");
}

static int print_rows(struct cli_ctx *ctx, const struct cli_rows *rs, enum out_format fmt, struct cli_json *jout)
{
    size_t ncols = rs->ncols;
    for (size_t c = 0; c < ncols; c++)
        if (rs->type(rs->src, c) == STRATA_TYPE_OTHER) {
            fprintf(stderr, "strata: %s: column '%s' has a type the CLI cannot print; CAST it to VARCHAR\n",
                    cli_cmd_name(ctx->group, ctx->cmd), cli_q(rs->name(rs->src, c)));
            return CLI_FAILED;
        }
    size_t n1 = ncols ? ncols : 1;
    size_t *width = calloc(n1, sizeof *width);
    char **names = calloc(n1, sizeof *names);
    char **rowv = calloc(n1, sizeof *rowv);
    char **held = fmt == OUT_TABLE ? calloc(TABLE_SAMPLE * n1, sizeof *held) : NULL;
    if (!width || !names || !rowv || (fmt == OUT_TABLE && !held)) {
        free(width);
        free(names);
        free(rowv);
        free(held);
        return cli_fail(ctx, STRATA_ENOMEM, "print the result");
    }
    for (size_t c = 0; c < ncols; c++) {
        names[c] = (char *)rs->name(rs->src, c);
        width[c] = strlen(names[c]);
    }
    struct cli_json jlocal, *j = jout ? jout : &jlocal;
    if (fmt == OUT_JSON) {
        if (!jout)
            cli_json_init(j);
        cli_json_array_begin(j);
    } else if (fmt == OUT_CSV) {
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                putchar(',');
            put_csv_field(names[c]);
        }
        putchar('\n');
    }
    int has = 0, rc, held_out = 0, status = CLI_OK;
    size_t rows = 0;
    char buf[96];
    while ((rc = rs->next(rs->src, &has)) == STRATA_OK && has && !cli_out_failed()) {
        if (fmt == OUT_JSON)
            cli_json_object_begin(j);
        for (size_t c = 0; c < ncols && rc == STRATA_OK; c++) {
            strata_value v;
            if ((rc = rs->value(rs->src, c, &v)) != STRATA_OK)
                break;
            if (fmt == OUT_JSON) {
                cli_json_key(j, names[c]);
                put_json_value(j, &v);
            } else if (fmt == OUT_CSV) {
                if (c)
                    putchar(',');
                put_csv_field(value_text(&v, buf, sizeof buf, 1));
            } else {
                const char *s = value_text(&v, buf, sizeof buf, 0);
                rowv[c] = s ? strdup(s) : NULL;
                if (s && !rowv[c])
                    rc = STRATA_ENOMEM;
            }
        }
        if (rc != STRATA_OK) {
            for (size_t c = 0; fmt == OUT_TABLE && c < ncols; c++) {
                free(rowv[c]);
                rowv[c] = NULL;
            }
            break;
        }
        if (fmt == OUT_JSON) {
            cli_json_object_end(j);
        } else if (fmt == OUT_CSV) {
            putchar('\n');
        } else if (!held_out) {
            for (size_t c = 0; c < ncols; c++) {
                size_t w = strlen(rowv[c] ? rowv[c] : "NULL");
                if (w > width[c])
                    width[c] = w;
                held[rows * ncols + c] = rowv[c];
                rowv[c] = NULL;
            }
            if (++rows == TABLE_SAMPLE) {
                table_flush(ncols, width, names, held, rows);
                for (size_t k = 0; k < rows * ncols; k++)
                    free(held[k]);
                rows = 0;
                held_out = 1;
            }
        } else {
            table_put_row(ncols, width, rowv, "NULL");
            for (size_t c = 0; c < ncols; c++) {
                free(rowv[c]);
                rowv[c] = NULL;
            }
        }
    }
    if (rc != STRATA_OK)
        status = cli_fail(ctx, rc, "%s", cli_cmd_name(ctx->group, ctx->cmd));
    if (fmt == OUT_JSON) {
        cli_json_array_end(j);
        if (!jout)
            putchar('\n');
    } else if (fmt == OUT_TABLE && !held_out && status == CLI_OK) {
        table_flush(ncols, width, names, held, rows);
    }
    for (size_t k = 0; held && k < rows * ncols; k++)
        free(held[k]);
    free(held);
    free(rowv);
    free(names);
    free(width);
    return status;
}


/* A cursor as rows. */
static const char *cur_name(void *src, size_t col) { return strata_cursor_column_name(src, col); }
static int cur_type(void *src, size_t col) { return strata_cursor_column_type(src, col); }
static int cur_next(void *src, int *has) { return strata_cursor_next(src, has); }
static int cur_value(void *src, size_t col, strata_value *v) { return strata_cursor_value(src, col, v); }

static int print_cursor(struct cli_ctx *ctx, strata_cursor *cur, enum out_format fmt, struct cli_json *jout)
{
    struct cli_rows rs = { cur, strata_cursor_column_count(cur), cur_name, cur_type, cur_next, cur_value };
    return print_rows(ctx, &rs, fmt, jout);
}

/* ---- strata sql ---- */
static int run_sql(struct cli_ctx *ctx)
{
    int json = cli_json_wanted(ctx), csv = cli_flag(ctx, "--csv") != NULL;
    if (json && csv)
        return cli_usage(ctx, "--json and --csv exclude each other");
    struct params pv;
    if (collect_params(ctx, &pv) != CLI_OK)
        return cli_fail(ctx, STRATA_ENOMEM, "sql");
    strata_param *p = calloc((size_t)pv.n + 1, sizeof *p);
    if (!p) {
        params_free(&pv);
        return cli_fail(ctx, STRATA_ENOMEM, "sql");
    }
    char **names = calloc((size_t)pv.n + 1, sizeof *names);
    int status = CLI_OK;
    for (int i = 0; names && i < pv.n; i++) {
        const char *eq = strchr(pv.v[i], '=');
        if (!eq || eq == pv.v[i]) {
            status = cli_usage(ctx, "--param takes NAME=VALUE (got '%s')", cli_q(pv.v[i]));
            break;
        }
        names[i] = strndup(pv.v[i], (size_t)(eq - pv.v[i]));
        if (!names[i]) {
            status = cli_fail(ctx, STRATA_ENOMEM, "sql");
            break;
        }
        /* A NAME that is a number is a position ($1, $2, ...). */
        char *end;
        long pos = strtol(names[i], &end, 10);
        if (!*end && pos >= 1)
            p[i] = (strata_param)STRATA_P_LITERAL(NULL, eq + 1);
        else
            p[i] = (strata_param)STRATA_P_LITERAL(names[i], eq + 1);
    }
    if (!names)
        status = cli_fail(ctx, STRATA_ENOMEM, "sql");
    /* Positional parameters bind in the order given; put them in $N order. */
    if (status == CLI_OK) {
        for (int i = 0; i < pv.n; i++)
            for (int k = i + 1; k < pv.n; k++)
                if (!p[i].name && !p[k].name && atol(names[k]) < atol(names[i])) {
                    strata_param tp = p[i];
                    p[i] = p[k];
                    p[k] = tp;
                    char *tn = names[i];
                    names[i] = names[k];
                    names[k] = tn;
                }
        for (int i = 0, want = 1; i < pv.n; i++)
            if (!p[i].name && atol(names[i]) != want++) {
                status = cli_usage(ctx, "positional parameters must be numbered 1, 2, ... without gaps");
                break;
            }
    }
    if (status == CLI_OK && !ctx->db) { /* through strata serve: one SELECT, $1, $2, ... */
        for (int i = 0; i < pv.n && status == CLI_OK; i++)
            if (p[i].name)
                status = cli_usage(ctx, "through strata serve, parameters are positional (--param 1=VALUE), "
                                        "not named ('%s')", cli_q(p[i].name));
        struct cli_rows rs;
        int rc = status == CLI_OK ? cli_served_sql(ctx->argv[0], p, (size_t)pv.n, &rs) : STRATA_OK;
        if (status == CLI_OK && rc != STRATA_OK)
            status = cli_fail(ctx, rc, "sql");
        else if (status == CLI_OK) {
            status = print_rows(ctx, &rs, json ? OUT_JSON : csv ? OUT_CSV : OUT_TABLE, NULL);
            cli_served_rows_close(&rs);
        }
    } else if (status == CLI_OK) {
        strata_cursor *cur = NULL;
        int rc = strata_sql(ctx->db, ctx->argv[0], p, (size_t)pv.n, 0, &cur);
        if (rc != STRATA_OK)
            status = cli_fail(ctx, rc, "sql");
        else
            status = print_cursor(ctx, cur, json ? OUT_JSON : csv ? OUT_CSV : OUT_TABLE, NULL);
        strata_cursor_close(cur);
    }
    for (int i = 0; names && i < pv.n; i++)
        free(names[i]);
    free(names);
    free(p);
    params_free(&pv);
    return status;
}

/* ---- strata metric record ---- */
static int run_record(struct cli_ctx *ctx)
{
    const char *table = ctx->argv[0];
    const char *json = ctx->argv[1];
    char *from_stdin = NULL;
    if (strcmp(json, "-") == 0) {
        if (!(from_stdin = cli_read_stdin(ctx)))
            return CLI_FAILED;
        json = from_stdin;
    }
    if (!ctx->db) { /* through strata serve: recorded and flushed there */
        int rc = cli_served_metric_record(table, json);
        free(from_stdin);
        return rc == STRATA_OK ? CLI_OK : cli_fail(ctx, rc, "record a %s row", cli_q(table));
    }
    int rc = strata_metric_record_json(ctx->db, table, json);
    free(from_stdin);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "record a %s row", cli_q(table));
    /* Written before the command says it succeeded. */
    if ((rc = strata_metric_flush(ctx->db)) != STRATA_OK)
        return cli_fail(ctx, rc, "write the %s row", cli_q(table));
    return CLI_OK;
}

/* ---- strata analytics export|summary ---- */
static int run_export(struct cli_ctx *ctx)
{
    uint64_t files = 0;
    int rc = strata_analytics_export(ctx->db, ctx->argv[0], &files);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "export to '%s'", cli_q(ctx->argv[0]));
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "dir");
        cli_json_string(&j, ctx->argv[0]);
        cli_json_key(&j, "files");
        cli_json_uint(&j, files);
        cli_json_object_end(&j);
        putchar('\n');
    } else {
        printf("exported %" PRIu64 " Parquet file%s to ", files, files == 1 ? "" : "s");
        cli_put_text(ctx->argv[0]);
        putchar('\n');
    }
    return CLI_OK;
}

static int summary_section(struct cli_ctx *ctx, struct cli_json *j, const char *key, const char *title,
                           int rc, strata_cursor *cur)
{
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "analytics summary: %s", key);
    int status;
    if (j) {
        cli_json_key(j, key);
        status = print_cursor(ctx, cur, OUT_JSON, j);
    } else {
        printf("\n%s\n", title);
        status = print_cursor(ctx, cur, OUT_TABLE, NULL);
    }
    strata_cursor_close(cur);
    return status;
}

static int run_summary(struct cli_ctx *ctx)
{
    strata_query_stats qs;
    int rc = strata_analytics_query_stats(ctx->db, 0, 0, &qs);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "analytics summary");
    struct cli_json jv, *j = NULL;
    char buf[64];
    if (cli_json_wanted(ctx)) {
        j = &jv;
        cli_json_init(j);
        cli_json_object_begin(j);
        cli_json_key(j, "latest_query_stats");
        cli_json_object_begin(j);
        cli_json_key(j, "total_queries");
        cli_json_uint(j, qs.total_queries);
        cli_json_key(j, "avg_latency_ms");
        print_double(buf, sizeof buf, qs.avg_latency_ms, 1);
        cli_json_raw(j, buf);
        cli_json_key(j, "success_rate");
        print_double(buf, sizeof buf, qs.success_rate, 1);
        cli_json_raw(j, buf);
        cli_json_object_end(j);
    } else {
        printf("Queries in the last 24 hours: %" PRIu64 ", average latency %.3f ms, success rate %.2f%%\n",
               qs.total_queries, qs.avg_latency_ms, qs.success_rate * 100);
    }
    strata_cursor *cur = NULL;
    rc = strata_analytics_latency_percentiles(ctx->db, 0, 0, &cur);
    int status = summary_section(ctx, j, "latency_percentiles", "Latency by retrieval strategy (ms, last 24 hours):",
                                 rc, cur);
    if (status == CLI_OK) {
        rc = strata_analytics_embedding_throughput(ctx->db, 0, 0, &cur);
        status = summary_section(ctx, j, "embedding_throughput", "Embedding throughput by model (last 24 hours):",
                                 rc, cur);
    }
    if (status == CLI_OK) {
        rc = strata_analytics_hourly(ctx->db, "query_metrics", 0, 0, &cur);
        status = summary_section(ctx, j, "hourly_queries", "Queries by hour (last 24 hours):", rc, cur);
    }
    if (status == CLI_OK) {
        rc = strata_analytics_hourly(ctx->db, "op_metrics", 0, 0, &cur);
        status = summary_section(ctx, j, "hourly_operations", "Store operations by hour (last 24 hours):", rc, cur);
    }
    if (j && status == CLI_OK) {
        cli_json_object_end(j);
        putchar('\n');
    }
    return status;
}

static const struct cli_flag sql_flags[] = {
    { "--param", "NAME=VALUE", "bind $NAME (or $N for a number) to VALUE; repeatable" },
    CLI_FLAG_JSON,
    { "--csv", NULL, "print CSV with a header row (times in ISO-8601 UTC)" },
    CLI_FLAG_END,
};
static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command sql_commands[] = {
    { "sql", "SQL", 1, 1, sql_flags, CLI_STORE_OPEN,
      "run SQL over the analytics database",
      "Run SQL over DIR/analytics.duckdb (DuckDB): the metric tables query_metrics,\n"
      "embedding_metrics, reranking_metrics, system_metrics and op_metrics, their\n"
      "*_hourly rollups (doc/format/analytics.md). Values go in as parameters,\n"
      "never pasted into the SQL: --param NAME=VALUE binds $NAME, --param 1=VALUE\n"
      "binds $1 (or the first ?). A VALUE is converted to the type DuckDB expects\n"
      "there; where any type fits, 12 is an integer, 1.5 a double, true/false a\n"
      "boolean, null NULL, and anything else text. Several statements separated by\n"
      "';' run in order (without parameters); the last one's rows are printed:\n"
      "aligned columns, or --json (an array of objects, times in ms) or --csv.\n"
      "SQL DuckDB rejects, or a value that does not convert, fails (exit 1) with\n"
      "DuckDB's message.",
      run_sql },
};

static const struct cli_command metric_commands[] = {
    { "record", "TABLE JSON", 2, 2, NULL, CLI_STORE_OPEN,
      "record one metric row given as a JSON object",
      "Record one row of TABLE (query_metrics, embedding_metrics, reranking_metrics\n"
      "or system_metrics) from a JSON object with exactly the table's fields:\n"
      "  query_metrics      query_type, latency_ms, result_count, retrieval_strategy,\n"
      "                     success (true/false)\n"
      "  embedding_metrics  model_name, embedding_time_ms, text_length, dimension\n"
      "  reranking_metrics  query_type, document_count, rerank_time_ms, quality_score\n"
      "  system_metrics     metric_name, metric_value, metric_unit\n"
      "\"timestamp\" (ms since the epoch) is optional: now by default. A missing,\n"
      "unknown or mistyped field fails (exit 1) naming it, and records nothing.\n"
      "JSON given as - is read from standard input. The row is written to\n"
      "analytics.duckdb before the command returns.",
      run_record },
};

static const struct cli_command analytics_commands[] = {
    { "export", "DIR", 1, 1, json_only, CLI_STORE_OPEN,
      "export every metric table as Parquet (hive layout)",
      "Write every metric table and hourly rollup as Parquet files partitioned by\n"
      "table and day, DIR/table=NAME/day=YYYY-MM-DD/data_0.parquet, from one\n"
      "consistent snapshot. DIR must not exist (its parent must) or be empty.\n"
      "Read it back with any Parquet engine, e.g. DuckDB's\n"
      "read_parquet('DIR/table=query_metrics/*/*.parquet', hive_partitioning = true).",
      run_export },
    { "summary", "", 0, 0, json_only, CLI_STORE_OPEN,
      "print the ADR's common queries over the last 24 hours",
      "Print the latest query statistics (count, average latency, success rate\n"
      "over the last 24 hours, exact), latency percentiles by retrieval strategy,\n"
      "embedding throughput by model, and the hourly rollups of queries and of the\n"
      "store's own operations. Percentiles come from log-linear histograms kept in\n"
      "the hourly rollups (within 1.6%). With --json print one object.",
      run_summary },
};

const struct cli_group cli_group_sql = {
    NULL, "SQL over analytics.duckdb", sql_commands, sizeof sql_commands / sizeof sql_commands[0],
};
const struct cli_group cli_group_metric = {
    "metric", "metrics into analytics.duckdb", metric_commands, sizeof metric_commands / sizeof metric_commands[0],
};
const struct cli_group cli_group_analytics = {
    "analytics", "the ADR's analytics over analytics.duckdb", analytics_commands,
    sizeof analytics_commands / sizeof analytics_commands[0],
};
