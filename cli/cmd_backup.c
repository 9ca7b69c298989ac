/* cmd_backup.c — `strata backup create|list|verify|restore|prune`: consistent
 * snapshots of the whole store in a destination folder (default STORE/backups).
 *
 * Only `create` opens the store. The others work on the destination alone, so a
 * damaged store, or one another process holds, can still be listed, verified and
 * restored: they use --dir only to find the default destination.
 *
 * A NAME that is not a backup name ([A-Za-z0-9_-], 1..64 characters) is refused by
 * the library like a missing backup: exit 1, not 2. The naming rule is the
 * library's; exit 2 stays for command lines the CLI can reject by their shape. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* ---- shared ---- */

/* "strata: <what>: <message>" with the message of the last failed backup call (the
 * store-less ones keep it in strata_backup_errmsg()). Returns CLI_FAILED. */
static int bk_fail(int rc, const char *msg, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bk_fail(int rc, const char *msg, const char *what_fmt, ...)
{
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

/* Bytes for a human: "812 B", "49.3 kB", "1.07 GB" (SI units, as import's MB).
 * Static buffer. */
static const char *size_text(uint64_t n)
{
    static char buf[32];
    static const char *const unit[] = { "kB", "MB", "GB", "TB", "PB" };
    if (n < 1000) {
        snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
        return buf;
    }
    double v = (double)n / 1000;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* NULL if `p` is a directory, else why not. */
static const char *not_dir(const char *p)
{
    struct stat st;
    if (stat(p, &st) != 0)
        return errno == ENOENT ? "no such directory" : strerror(errno);
    return S_ISDIR(st.st_mode) ? NULL : "not a directory";
}

/* The destination of list, verify, restore and prune: --dest DIR, which must be a
 * directory, or STORE/backups, where only STORE must exist (no backups yet is an
 * empty destination). *owned is the
 * string to free. NULL after printing why, with *status set. */
static const char *destination(struct cli_ctx *ctx, char **owned, int *status)
{
    const char *dest = cli_flag(ctx, "--dest");
    *owned = NULL;
    if (dest) {
        if (!*dest) {
            *status = cli_usage(ctx, "--dest needs a directory");
            return NULL;
        }
        const char *why = not_dir(dest);
        if (why) {
            fprintf(stderr, "strata: %s: backup destination '%s': %s\n",
                    cli_cmd_name(ctx->group, ctx->cmd), cli_q(dest), why);
            *status = CLI_FAILED;
            return NULL;
        }
        return dest;
    }
    const char *why = not_dir(ctx->dir);
    if (why) {
        fprintf(stderr, "strata: %s: store directory '%s': %s (choose it with --dir DIR or "
                        "$STRATA_DIR, or the backups with --dest DIR)\n",
                cli_cmd_name(ctx->group, ctx->cmd), cli_q(ctx->dir), why);
        *status = CLI_FAILED;
        return NULL;
    }
    size_t n = strlen(ctx->dir) + sizeof "/backups";
    if (!(*owned = malloc(n))) {
        *status = bk_fail(STRATA_ENOMEM, NULL, "%s", cli_cmd_name(ctx->group, ctx->cmd));
        return NULL;
    }
    snprintf(*owned, n, "%s/backups", ctx->dir);
    return *owned;
}

/* One backup's facts, found by name with strata_backup_list. */
struct find {
    const char *name;
    strata_backup_info info;
    int found;
};

static int find_cb(void *arg, const strata_backup_info *info)
{
    struct find *f = arg;
    if (strcmp(info->name, f->name) == 0) {
        f->info = *info;
        f->found = 1;
    }
    return 0;
}

static int find_backup(const char *dest, const char *name, strata_backup_info *out)
{
    struct find f = { .name = name };
    int rc = strata_backup_list(dest, find_cb, &f);
    if (rc != STRATA_OK)
        return rc;
    if (!f.found)
        return STRATA_ENOTFOUND;
    *out = f.info;
    return STRATA_OK;
}

static void json_info(struct cli_json *j, const strata_backup_info *i)
{
    cli_json_object_begin(j);
    cli_json_key(j, "name");
    cli_json_string(j, i->name);
    cli_json_key(j, "state");
    cli_json_string(j, i->complete ? "good" : "incomplete");
    cli_json_key(j, "lsn");
    if (i->complete)
        cli_json_uint(j, i->lsn);
    else
        cli_json_null(j);
    cli_json_key(j, "created_at_ms");
    if (i->complete)
        cli_json_int(j, i->created_at_ms);
    else
        cli_json_null(j);
    cli_json_key(j, "bytes");
    if (i->complete)
        cli_json_uint(j, i->bytes);
    else
        cli_json_null(j);
    cli_json_key(j, "files");
    if (i->complete)
        cli_json_uint(j, i->files);
    else
        cli_json_null(j);
    cli_json_object_end(j);
}

/* ---- create ---- */

static int run_create(struct cli_ctx *ctx)
{
    int status = CLI_OK;
    char *owned = NULL, *name = NULL;
    const char *dest = cli_flag(ctx, "--dest");
    if (dest && !*dest)
        return cli_usage(ctx, "--dest needs a directory");
    char served_name[STRATA_BACKUP_NAME_MAX + 1];
    int rc = ctx->db ? strata_backup_create(ctx->db, dest, &name)
                     : cli_served_backup_create(dest, served_name, sizeof served_name);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "backup create");
    if (!ctx->db && !(name = strdup(served_name)))
        return cli_fail(ctx, STRATA_ENOMEM, "backup create");
    if (cli_json_wanted(ctx)) {
        if (!dest && !(dest = owned = malloc(strlen(ctx->dir) + sizeof "/backups"))) {
            status = cli_fail(ctx, STRATA_ENOMEM, "backup create");
            goto out;
        }
        if (owned)
            sprintf(owned, "%s/backups", ctx->dir);
        strata_backup_info info;
        if ((rc = find_backup(dest, name, &info)) != STRATA_OK) {
            status = bk_fail(rc, strata_backup_errmsg(), "backup create: list '%s'", cli_q(name));
            goto out;
        }
        struct cli_json j;
        cli_json_init(&j);
        json_info(&j, &info);
    } else {
        printf("%s\n", name);
    }
out:
    if (ctx->db)
        strata_free(name);
    else
        free(name);
    free(owned);
    return status;
}

/* ---- list ---- */

enum { WALK_STOPPED = 1 }; /* stdout failed; main.c reports the write error */

static int list_human(void *arg, const strata_backup_info *i)
{
    (void)arg;
    fputs(i->name, stdout);
    if (i->complete) {
        printf("  lsn %" PRIu64 "  ", i->lsn);
        cli_put_time(i->created_at_ms);
        printf("  %s  %" PRIu64 " file%s  good\n", size_text(i->bytes), i->files,
               i->files == 1 ? "" : "s");
    } else {
        fputs("  incomplete\n", stdout);
    }
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int list_json(void *arg, const strata_backup_info *i)
{
    json_info(arg, i);
    return cli_out_failed() ? WALK_STOPPED : 0;
}

static int run_list(struct cli_ctx *ctx)
{
    int status = CLI_OK;
    char *owned;
    const char *dest = destination(ctx, &owned, &status);
    if (!dest)
        return status;
    int rc;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_array_begin(&j);
        rc = strata_backup_list(dest, list_json, &j);
        if (rc == STRATA_OK || rc == WALK_STOPPED)
            cli_json_array_end(&j);
    } else {
        rc = strata_backup_list(dest, list_human, NULL);
    }
    if (rc != STRATA_OK && rc != WALK_STOPPED)
        status = bk_fail(rc, strata_backup_errmsg(), "backup list '%s'", cli_q(dest));
    free(owned);
    return status;
}

/* ---- verify ---- */

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

static int run_verify(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0];
    int status = CLI_OK;
    char *owned;
    const char *dest = destination(ctx, &owned, &status);
    if (!dest)
        return status;
    struct problems p = { 0 };
    uint64_t count = 0;
    int rc = strata_backup_verify(dest, name, on_problem, &p, &count);
    if (rc != STRATA_OK) {
        status = bk_fail(rc, strata_backup_errmsg(), "backup verify '%s'", cli_q(name));
        goto done;
    }
    if (p.oom) {
        status = bk_fail(STRATA_ENOMEM, NULL, "backup verify '%s'", cli_q(name));
        goto done;
    }
    strata_backup_info info;
    memset(&info, 0, sizeof info);
    int have_info = find_backup(dest, name, &info) == STRATA_OK && info.complete;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "name");
        cli_json_string(&j, name);
        cli_json_key(&j, "ok");
        cli_json_bool(&j, count == 0);
        cli_json_key(&j, "problems");
        cli_json_array_begin(&j);
        for (size_t i = 0; i < p.n; i++)
            cli_json_string(&j, p.v[i]);
        cli_json_array_end(&j);
        cli_json_key(&j, "lsn");
        if (have_info)
            cli_json_uint(&j, info.lsn);
        else
            cli_json_null(&j);
        cli_json_key(&j, "files");
        if (have_info)
            cli_json_uint(&j, info.files);
        else
            cli_json_null(&j);
        cli_json_object_end(&j);
    } else if (count == 0) {
        printf("ok: %s", name);
        if (have_info)
            printf(" (lsn %" PRIu64 ", %" PRIu64 " file%s, %s)", info.lsn, info.files,
                   info.files == 1 ? "" : "s", size_text(info.bytes));
        fputs(" verified\n", stdout);
    } else {
        for (size_t i = 0; i < p.n; i++) {
            cli_put_text(p.v[i]);
            putchar('\n');
        }
    }
    if (count) {
        fprintf(stderr, "strata: backup verify '%s': %" PRIu64 " problem%s found\n", cli_q(name),
                count, count == 1 ? "" : "s");
        status = CLI_FAILED;
    }
done:
    for (size_t i = 0; i < p.n; i++)
        free(p.v[i]);
    free(p.v);
    free(owned);
    return status;
}

/* ---- restore ---- */

/* The absolute form of `path`, which may not exist yet (then its parent must):
 * malloc'd, or NULL when it cannot be resolved. */
static char *resolve(const char *path)
{
    char *r = realpath(path, NULL);
    if (r || errno != ENOENT)
        return r;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    char *parent = slash ? (slash == copy ? realpath("/", NULL) : (*slash = '\0', realpath(copy, NULL)))
                         : realpath(".", NULL);
    char *out = NULL;
    if (parent && *base && strcmp(base, ".") && strcmp(base, "..") &&
        (out = malloc(strlen(parent) + strlen(base) + 2)))
        sprintf(out, "%s/%s", strcmp(parent, "/") ? parent : "", base);
    free(parent);
    free(copy);
    return out;
}

/* 1 unless `path` is a directory that holds files but no STRATA file (a missing
 * path, a non-directory and unreadable ones are left to the library to judge). */
static int empty_or_store(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 1;
    int empty = 1, store = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        empty = 0;
        if (!strcmp(e->d_name, "STRATA"))
            store = 1;
    }
    closedir(d);
    return empty || store;
}

/* 1 if `inner` is `outer` or below it (both absolute, resolved). */
static int is_within(const char *inner, const char *outer)
{
    size_t n = strlen(outer);
    if (n == 1 && outer[0] == '/')
        return 1;
    return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

static int run_restore(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0], *target = ctx->argv[1];
    int status = CLI_OK;
    if (!*target)
        return cli_usage(ctx, "TARGET needs a directory");
    char *owned;
    const char *dest = destination(ctx, &owned, &status);
    if (!dest)
        return status;
    int force = cli_flag(ctx, "--force") != NULL;

    /* Two layouts the library would accept and regret: restoring over the directory
     * that holds the backups (with --force the old store goes, and its backups/ with
     * it), and a store inside the destination (it would pass for an incomplete
     * backup, and prune would remove it). */
    char *rt = resolve(target), *rd = realpath(dest, NULL);
    if (rt && rd && is_within(rd, rt)) {
        fprintf(stderr, "strata: backup restore '%s': '%s' holds the backups ('%s'); restoring "
                        "over it would delete them: restore into a new directory, or keep the "
                        "backups elsewhere (--dest)\n", cli_q(name), cli_q(target), cli_q(dest));
        status = CLI_FAILED;
    } else if (rt && rd && is_within(rt, rd)) {
        fprintf(stderr, "strata: backup restore '%s': '%s' is inside the backup destination "
                        "'%s': restore somewhere else\n", cli_q(name), cli_q(target), cli_q(dest));
        status = CLI_FAILED;
    }
    free(rt);
    free(rd);
    if (status != CLI_OK)
        goto out;
    /* The library's force replaces whatever TARGET holds; the CLI's replaces only a
     * store (a directory with a STRATA file, strata.h), never a folder of other files. */
    if (!empty_or_store(target)) {
        fprintf(stderr, "strata: backup restore '%s': '%s' is not empty and holds no Strata "
                        "store: restore into a new or empty directory\n", cli_q(name), cli_q(target));
        status = CLI_FAILED;
        goto out;
    }

    int rc = strata_backup_restore(dest, name, target, force);
    if (rc != STRATA_OK) {
        status = bk_fail(rc, strata_backup_errmsg(), "backup restore '%s'", cli_q(name));
        if (rc == STRATA_EEXIST && !force)
            fputs("Restore into a new or empty directory, or replace the store there with --force.\n",
                  stderr);
        goto out;
    }
    strata_backup_info info;
    if (find_backup(dest, name, &info) == STRATA_OK && info.complete)
        printf("restored %s (lsn %" PRIu64 ") into %s\n", name, info.lsn, target);
    else
        printf("restored %s into %s\n", name, target);
out:
    free(owned);
    return status;
}

/* ---- prune ---- */

static int run_prune(struct cli_ctx *ctx)
{
    int status = CLI_OK;
    uint64_t keep = STRATA_DEFAULT_BACKUP_KEEP;
    const char *k = cli_flag(ctx, "--keep");
    if (k && cli_parse_count(ctx, "--keep", k, INT_MAX, &keep) != CLI_OK)
        return CLI_USAGE;
    char *owned;
    const char *dest = destination(ctx, &owned, &status);
    if (!dest)
        return status;
    uint64_t removed = 0;
    int rc = strata_backup_prune(dest, (int)keep, &removed);
    if (rc != STRATA_OK) {
        status = bk_fail(rc, strata_backup_errmsg(), "backup prune '%s'", cli_q(dest));
        if (removed)
            fprintf(stderr, "strata: backup prune: %" PRIu64 " backup%s removed before the failure\n",
                    removed, removed == 1 ? "" : "s");
    } else if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "removed");
        cli_json_uint(&j, removed);
        cli_json_key(&j, "keep");
        cli_json_uint(&j, keep);
        cli_json_object_end(&j);
    } else {
        printf("removed %" PRIu64 " backup%s\n", removed, removed == 1 ? "" : "s");
    }
    free(owned);
    return status;
}

/* ---- the table ---- */

#define FLAG_DEST { "--dest", "DIR", "the backup destination (default: STORE/backups)" }

static const struct cli_flag create_flags[] = {
    FLAG_DEST,
    { "--json", NULL, "print {name, state, lsn, created_at_ms, bytes, files}" },
    CLI_FLAG_END,
};
static const struct cli_flag list_flags[] = {
    FLAG_DEST,
    { "--json", NULL, "print an array of {name, state, lsn, created_at_ms, bytes, files}" },
    CLI_FLAG_END,
};
static const struct cli_flag verify_flags[] = {
    FLAG_DEST,
    { "--json", NULL, "print {name, ok, problems, lsn, files}" },
    CLI_FLAG_END,
};
static const struct cli_flag restore_flags[] = {
    FLAG_DEST,
    { "--force", NULL, "replace a store in TARGET" },
    CLI_FLAG_END,
};
static const struct cli_flag prune_flags[] = {
    FLAG_DEST,
    { "--keep", "N", "complete backups to keep (default 7)" },
    { "--json", NULL, "print {removed, keep}" },
    CLI_FLAG_END,
};

#define DEST_HELP                                                                        \
    "\nThe destination is --dest DIR, or STORE/backups for the store named by --dir.\n" \
    "Only 'backup create' opens the store: the other backup commands read the\n"        \
    "destination alone, so a damaged or busy store can still be restored."

static const struct cli_command backup_commands[] = {
    { "create", "", 0, 0, create_flags, CLI_STORE_OPEN,
      "take a backup of the store; print its name",
      "Take a consistent snapshot of the whole store at one LSN while writers go on,\n"
      "into a new folder of the destination (created if missing), and print the\n"
      "backup's name (strata-YYYYMMDD-HHMMSS-mmm, UTC, names sort by time).\n"
      "Files unchanged since the previous good backup there are hard links to it\n"
      "(incremental), and sealed segments are hard links to the store's files when\n"
      "the destination shares its filesystem, so a backup of an unchanged store is\n"
      "fast and nearly free in space. The MANIFEST (every file's size and SHA-256)\n"
      "is written last; an interrupted backup leaves no folder, or one listed as\n"
      "incomplete. With --json print the new backup as 'backup list --json' does.\n"
      DEST_HELP,
      run_create },
    { "list", "", 0, 0, list_flags, CLI_STORE_NONE,
      "list the backups of a destination, oldest first",
      "Print one line per backup folder, oldest first:\n"
      "  NAME  lsn N  TIME  SIZE  F files  good\n"
      "  NAME  incomplete\n"
      "TIME is when the backup was taken (ISO-8601 UTC), SIZE the sum of its files\n"
      "in SI units (files hard-linked between backups count in each). 'incomplete'\n"
      "is a folder without a valid MANIFEST (an interrupted backup): never restored,\n"
      "removed by 'backup prune'. No backups: no output (--json: []), exit 0.\n"
      "With --json print an array of {name, state (good|incomplete), lsn,\n"
      "created_at_ms, bytes, files}, null where an incomplete backup has none.\n"
      DEST_HELP,
      run_list },
    { "verify", "NAME", 1, 1, verify_flags, CLI_STORE_NONE,
      "check every file of a backup against its manifest",
      "Recompute the SHA-256 of every file of backup NAME and compare it (and its\n"
      "size) with the MANIFEST; check the integrity of its operational.db read-only.\n"
      "Clean: print 'ok: NAME (lsn N, F files, SIZE) verified' and exit 0.\n"
      "Otherwise print one problem per line and exit 1. A missing or incomplete\n"
      "backup, or a NAME that is no backup name ([A-Za-z0-9_-], 1..64 characters),\n"
      "fails with exit 1.\n"
      DEST_HELP,
      run_verify },
    { "restore", "NAME TARGET", 2, 2, restore_flags, CLI_STORE_NONE,
      "materialize a backup as a new store in TARGET",
      "Verify backup NAME, copy it into a temporary folder beside TARGET, open the\n"
      "result and check it (as 'strata check'), and only then rename it to TARGET,\n"
      "which must be missing or empty: a store there is replaced only with --force\n"
      "(never one that a running process holds). A failed restore leaves no half\n"
      "store behind. Refused, --force or not: a TARGET that holds other files but no\n"
      "store, a TARGET that holds the destination (restoring over STORE would delete\n"
      "STORE/backups: restore into a new directory instead), and a TARGET inside the\n"
      "destination. Prints 'restored NAME (lsn N) into TARGET'. Names as for\n"
      "'backup verify'.\n"
      DEST_HELP,
      run_restore },
    { "prune", "", 0, 0, prune_flags, CLI_STORE_NONE,
      "keep the newest N good backups; remove the rest",
      "Keep the newest --keep N (default 7) good backups, remove older good ones and\n"
      "every incomplete folder, and print 'removed N backups'. The newest good\n"
      "backup is never removed. A store without backups yet (no STORE/backups)\n"
      "removes nothing.\n"
      DEST_HELP,
      run_prune },
};

const struct cli_group cli_group_backup = {
    "backup", "snapshots of the whole store: take, list, verify, restore, prune", backup_commands,
    sizeof backup_commands / sizeof backup_commands[0],
};
