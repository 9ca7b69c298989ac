/* main.c — entry of the `strata` command.
 *
 * One pass over argv finds the command words (a top-level command, or a group and
 * one of its commands), global options (--dir, -h/--help, --version) wherever they
 * are, the command's own flags (before or after its arguments) and its positional
 * arguments; `--` ends options. Then the store is opened as the command's table entry
 * asks, the handler runs, the store is closed and stdout flushed: a failed write is
 * a failed command (exit 1), so `strata setting list > /dev/full` does not pass
 * silently. Help text comes from the same tables as dispatch. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DIR "./strata-data"
#define CLI_SERVED 3 /* open_store: the store is served; run the command through the server */

static int run_help(struct cli_ctx *ctx);

static const struct cli_command help_commands[] = {
    { "help", "[COMMAND [SUBCOMMAND]]", 0, 2, NULL, CLI_STORE_NONE,
      "describe all commands or one",
      "Without arguments list every command; with a group (setting) list its\n"
      "commands; with a command (setting get, stats) describe its arguments and\n"
      "options. -h or --help after any command does the same.",
      run_help },
};
static const struct cli_group help_group = { NULL, "help", help_commands, 1 };

/* Every group, in the order help lists them. A new group is one more line here. */
static const struct cli_group *const groups[] = {
    &cli_group_store,
    &cli_group_setting,
    &cli_group_session,
    &cli_group_doc,
    &cli_group_import,
    &cli_group_maint,
    &cli_group_sql, &cli_group_metric, &cli_group_analytics,
    &cli_group_serve,
    &cli_group_backup,
    &cli_group_vec,
    &help_group,
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

/* ---- lookups in the tables ---- */

/* A top-level word names a command of a nameless group, or a group. */
static int find_word(const char *word, const struct cli_group **g, const struct cli_command **c)
{
    for (size_t i = 0; i < N_GROUPS; i++) {
        const struct cli_group *grp = groups[i];
        if (grp->name) {
            if (strcmp(grp->name, word) == 0) {
                *g = grp;
                *c = NULL;
                return 1;
            }
            continue;
        }
        for (size_t k = 0; k < grp->n_commands; k++) {
            if (strcmp(grp->commands[k].name, word) == 0) {
                *g = grp;
                *c = &grp->commands[k];
                return 1;
            }
        }
    }
    return 0;
}

static const struct cli_command *find_sub(const struct cli_group *g, const char *word)
{
    for (size_t k = 0; k < g->n_commands; k++)
        if (strcmp(g->commands[k].name, word) == 0)
            return &g->commands[k];
    return NULL;
}

static int flag_index(const struct cli_command *c, const char *name, size_t len)
{
    for (int i = 0; c->flags && c->flags[i].name; i++)
        if (strlen(c->flags[i].name) == len && memcmp(c->flags[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Before the command is known, a flag's arity comes from any command that has it:
 * 0 boolean, 1 takes a value, -1 no command knows it. */
static int flag_arity_anywhere(const char *name, size_t len)
{
    for (size_t i = 0; i < N_GROUPS; i++) {
        for (size_t k = 0; k < groups[i]->n_commands; k++) {
            const struct cli_command *c = &groups[i]->commands[k];
            int f = flag_index(c, name, len);
            if (f >= 0)
                return c->flags[f].metavar != NULL;
        }
    }
    return -1;
}

/* ---- help ---- */

static void put_command_line(FILE *f, const struct cli_group *g, const struct cli_command *c)
{
    char usage[512];
    cli_format_usage(usage, sizeof usage, g, c);
    if (strlen(usage) <= 36)
        fprintf(f, "  %-36s  %s\n", usage, c->summary);
    else
        fprintf(f, "  %s\n  %-36s  %s\n", usage, "", c->summary);
}

static const char global_options_help[] =
    "Global options (anywhere on the command line):\n"
    "  --dir DIR      the store directory (default: $STRATA_DIR, then " DEFAULT_DIR ")\n"
    "  -h, --help     describe the command instead of running it\n"
    "  --version      print the version and exit\n"
    "  --             end of options: every later word is an argument\n";

static void put_overview(FILE *f)
{
    fputs("usage: strata [--dir DIR] COMMAND [ARGUMENTS] [OPTIONS]\n\n"
          "Manage a Strata store, the directory of an embedded persistence engine.\n\n"
          "Commands:\n", f);
    for (size_t i = 0; i < N_GROUPS; i++)
        for (size_t k = 0; k < groups[i]->n_commands; k++)
            put_command_line(f, groups[i], &groups[i]->commands[k]);
    fputc('\n', f);
    fputs(global_options_help, f);
    fputs("\nRead commands take --json for machine-readable output; human output shows\n"
          "times in ISO-8601 UTC, JSON output in milliseconds since the epoch.\n"
          "Exit status: 0 success, 1 a failed operation, 2 a usage error.\n"
          "Run 'strata help COMMAND' for one command's arguments and options.\n", f);
}

static void put_group_help(FILE *f, const struct cli_group *g)
{
    fprintf(f, "usage: strata [--dir DIR] %s COMMAND [ARGUMENTS] [OPTIONS]\n\n", g->name);
    fprintf(f, "%s: %s.\n\nCommands:\n", g->name, g->summary);
    for (size_t k = 0; k < g->n_commands; k++)
        put_command_line(f, g, &g->commands[k]);
    fprintf(f, "\nRun 'strata help %s COMMAND' for one command's arguments and options.\n",
            g->name);
}

static void put_command_help(FILE *f, const struct cli_group *g, const struct cli_command *c)
{
    char usage[512];
    cli_format_usage(usage, sizeof usage, g, c);
    fprintf(f, "usage: strata [--dir DIR] %s\n\n%s\n", usage, c->help ? c->help : c->summary);
    if (c->flags && c->flags[0].name) {
        fputs("\nOptions:\n", f);
        int width = 14; /* the global options' column, unless a flag is wider */
        for (const struct cli_flag *fl = c->flags; fl->name; fl++) {
            int w = (int)(strlen(fl->name) + (fl->metavar ? 1 + strlen(fl->metavar) : 0));
            if (w > width)
                width = w;
        }
        for (const struct cli_flag *fl = c->flags; fl->name; fl++) {
            char left[64];
            snprintf(left, sizeof left, "%s%s%s", fl->name, fl->metavar ? " " : "",
                     fl->metavar ? fl->metavar : "");
            fprintf(f, "  %-*s %s\n", width, left, fl->help);
        }
    }
    fputc('\n', f);
    fputs(global_options_help, f);
}

static int run_help(struct cli_ctx *ctx)
{
    const struct cli_group *g = NULL;
    const struct cli_command *c = NULL;
    if (ctx->argc == 0) {
        put_overview(stdout);
        return CLI_OK;
    }
    if (!find_word(ctx->argv[0], &g, &c))
        return cli_usage(ctx, "unknown command '%s'", cli_q(ctx->argv[0]));
    if (c) {
        if (ctx->argc > 1)
            return cli_usage(ctx, "'%s' has no subcommands", c->name);
        put_command_help(stdout, g, c);
        return CLI_OK;
    }
    if (ctx->argc == 1) {
        put_group_help(stdout, g);
        return CLI_OK;
    }
    if (!(c = find_sub(g, ctx->argv[1])))
        return cli_usage(ctx, "unknown command '%s %s'", g->name, cli_q(ctx->argv[1]));
    put_command_help(stdout, g, c);
    return CLI_OK;
}

/* ---- the command line ---- */

struct opt {
    const char *name; /* points into argv; not NUL-terminated when written --name=value */
    size_t len;
    const char *value; /* NULL for a boolean flag */
};

struct cmdline {
    const struct cli_group *group;
    const struct cli_command *cmd;
    const char *dir;
    int help, version;
    char **pos;
    int npos;
    struct opt *opts;
    int nopts;
    char word_err[256]; /* an unknown command word: reported even with --help */
    char flag_err[256]; /* the first bad option; --help wins over it */
};

static void set_err(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *buf, size_t size, const char *fmt, ...)
{
    if (buf[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* An option starts with '-'; "-" alone and negative numbers ("-1", a JSON value) are
 * arguments. */
static int is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

static int opt_is(const char *a, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(a, name, len) == 0;
}

static void parse(struct cmdline *cl, int argc, char **argv)
{
    int dashdash = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (!dashdash && is_option(a)) {
            const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            int len_i = (int)(len > 100 ? 100 : len);
            int arity;
            int is_help = opt_is(a, len, "--help") || opt_is(a, len, "-h");
            if (is_help || opt_is(a, len, "--version")) {
                if (eq)
                    set_err(cl->flag_err, sizeof cl->flag_err, "option '%.*s' takes no value", len_i, a);
                else if (is_help)
                    cl->help = 1;
                else
                    cl->version = 1;
                continue;
            }
            if (opt_is(a, len, "--dir"))
                arity = 1;
            else if (cl->cmd) {
                int k = flag_index(cl->cmd, a, len);
                arity = k < 0 ? -1 : cl->cmd->flags[k].metavar != NULL;
            } else
                arity = flag_arity_anywhere(a, len);
            if (arity < 0) {
                set_err(cl->flag_err, sizeof cl->flag_err, "unknown option '%.*s'", len_i, a);
                continue;
            }
            const char *value = NULL;
            if (arity == 1) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else {
                    set_err(cl->flag_err, sizeof cl->flag_err, "option '%.*s' needs a value", len_i, a);
                    continue;
                }
            } else if (eq) {
                set_err(cl->flag_err, sizeof cl->flag_err, "option '%.*s' takes no value", len_i, a);
                continue;
            }
            if (opt_is(a, len, "--dir"))
                cl->dir = value;
            else
                cl->opts[cl->nopts++] = (struct opt){ a, len, value };
            continue;
        }
        /* A word: the command's name first, then its arguments. */
        if (cl->word_err[0])
            continue;
        if (!cl->group) {
            if (!find_word(a, &cl->group, &cl->cmd))
                set_err(cl->word_err, sizeof cl->word_err, "unknown command '%s'", cli_q(a));
        } else if (!cl->cmd) {
            if (!(cl->cmd = find_sub(cl->group, a)))
                set_err(cl->word_err, sizeof cl->word_err, "unknown command '%s %s'",
                        cl->group->name, cli_q(a));
        } else {
            cl->pos[cl->npos++] = a;
        }
    }
}

/* A usage error before a command is known: message, then where to look. */
static int early_usage(const struct cli_group *g, const char *msg)
{
    fprintf(stderr, "strata: %s\n", msg);
    if (g && g->name)
        fprintf(stderr, "Run 'strata help %s' for its commands.\n", g->name);
    else
        fputs("Run 'strata help' for the list of commands.\n", stderr);
    return CLI_USAGE;
}

static int open_store(struct cli_ctx *ctx)
{
    strata_options o = strata_options_default();
    o.create = ctx->cmd->store == CLI_STORE_CREATE;
    /* Automatic backups belong to long-lived processes (serve, applications): a
     * one-shot command must not start a full backup at open and wait for it at close. */
    if (ctx->group != &cli_group_serve)
        o.backup_interval_hours = -1;
    int rc = strata_open(ctx->dir, &o, &ctx->db);
    if (rc == STRATA_OK)
        return CLI_OK;
    ctx->db = NULL;
    if (rc == STRATA_EBUSY && cli_served(ctx->dir))
        return CLI_SERVED;
    const char *msg = strata_open_errmsg();
    fprintf(stderr, "strata: %s store '%s': %s\n", o.create ? "create" : "open", cli_q(ctx->dir),
            msg && *msg ? msg : strata_errstr(rc));
    if (!o.create && (rc == STRATA_ENOTFOUND || rc == STRATA_ENOTSTORE))
        fputs("Run 'strata init' to create a store in a missing or empty directory\n"
              "(choose it with --dir DIR or $STRATA_DIR).\n", stderr);
    return CLI_FAILED;
}

/* Run a resolved command: check its flags and arguments, open the store, call it. */
static int dispatch(struct cmdline *cl)
{
    struct cli_ctx ctx = { .group = cl->group, .cmd = cl->cmd, .argc = cl->npos, .argv = cl->pos };
    const struct cli_command *c = cl->cmd;
    if (cl->flag_err[0])
        return cli_usage(&ctx, "%s", cl->flag_err);
    for (int i = 0; i < cl->nopts; i++) {
        const struct opt *o = &cl->opts[i];
        int k = flag_index(c, o->name, o->len);
        if (k < 0)
            return cli_usage(&ctx, "unknown option '%.*s'", (int)o->len, o->name);
        if (k >= CLI_MAX_FLAGS)
            return cli_usage(&ctx, "too many options"); /* a table with too many flags */
        ctx.flagv[k] = o->value ? o->value : "";
    }
    if (cl->npos < c->min_args)
        return cli_usage(&ctx, "missing argument (expected %s)", c->args);
    if (cl->npos > c->max_args)
        return cli_usage(&ctx, "unexpected argument '%s'", cli_q(cl->pos[c->max_args]));

    if (cl->dir) {
        if (!*cl->dir)
            return cli_usage(&ctx, "--dir needs a directory");
        ctx.dir = cl->dir;
    } else {
        const char *env = getenv("STRATA_DIR");
        ctx.dir = env && *env ? env : DEFAULT_DIR;
    }

    if (c->store != CLI_STORE_NONE) {
        int st = open_store(&ctx);
        if (st == CLI_SERVED) /* the store is held by `strata serve`: ask it */
            return cli_served_run(&ctx);
        if (st != CLI_OK)
            return CLI_FAILED;
    }
    int status = c->run(&ctx);
    if (ctx.db) {
        int rc = strata_close(ctx.db);
        if (rc != STRATA_OK && status == CLI_OK) {
            fprintf(stderr, "strata: close store '%s': %s\n", cli_q(ctx.dir), strata_errstr(rc));
            status = CLI_FAILED;
        }
    }
    return status;
}

static int run(int argc, char **argv, struct cmdline *cl)
{
    parse(cl, argc, argv);
    if (cl->help && !cl->word_err[0]) {
        if (cl->cmd)
            put_command_help(stdout, cl->group, cl->cmd);
        else if (cl->group)
            put_group_help(stdout, cl->group);
        else
            put_overview(stdout);
        return CLI_OK;
    }
    if (cl->version && !cl->word_err[0]) {
        printf("strata %s (library %s, format %d)\n", STRATA_VERSION, strata_version(),
               STRATA_FORMAT_VERSION);
        return CLI_OK;
    }
    if (cl->word_err[0])
        return early_usage(cl->group, cl->word_err);
    if (!cl->group) {
        if (cl->flag_err[0])
            return early_usage(NULL, cl->flag_err);
        fputs("strata: missing command\n\n", stderr);
        put_overview(stderr);
        return CLI_USAGE;
    }
    if (!cl->cmd) {
        if (cl->flag_err[0])
            return early_usage(cl->group, cl->flag_err);
        fprintf(stderr, "strata: %s: missing command\n\n", cl->group->name);
        put_group_help(stderr, cl->group);
        return CLI_USAGE;
    }
    return dispatch(cl);
}

int main(int argc, char **argv)
{
    struct cmdline cl = { 0 };
    cl.pos = calloc((size_t)argc + 1, sizeof *cl.pos);
    cl.opts = calloc((size_t)argc + 1, sizeof *cl.opts);
    if (!cl.pos || !cl.opts) {
        fputs("strata: out of memory\n", stderr);
        return CLI_FAILED;
    }
    int status = run(argc, argv, &cl);
    free(cl.pos);
    free(cl.opts);

    /* Output is buffered: a full disk or closed pipe shows up here at the latest. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "strata: write to standard output: %s\n",
                errno ? strerror(errno) : "write error");
        if (status == CLI_OK)
            status = CLI_FAILED;
    }
    return status;
}
