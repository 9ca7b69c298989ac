/* cmd_doc.c — `strata doc put|get|meta|del|list|train-dict`: documents (any bytes
 * under an id of 1..1024 bytes, with a JSON metadata object). Content is streamed in
 * both directions (strata_doc_put_fd / strata_doc_get_fd), so memory stays bounded
 * whatever the size of a document. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- put ---- */

static const char *base_name(const char *path)
{
    const char *end = path + strlen(path);
    while (end > path + 1 && end[-1] == '/')
        end--; /* "dir/" names dir; the trailing slash is dropped below */
    const char *b = end;
    while (b > path && b[-1] != '/')
        b--;
    static char buf[4097];
    size_t n = (size_t)(end - b);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
    return buf;
}

static int run_put(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    const char *file = ctx->argc > 1 ? ctx->argv[1] : "-";
    int from_stdin = strcmp(file, "-") == 0;
    strata_doc_put_opts o = { 0 };
    o.metadata_json = cli_flag(ctx, "--meta");
    o.filename = cli_flag(ctx, "--filename");
    if (!o.filename && !from_stdin)
        o.filename = base_name(file);

    int fd = 0;
    if (!from_stdin) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "strata: doc put '%s': open '%s': %s\n", cli_q(id), cli_q(file),
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return CLI_FAILED;
        }
        if (S_ISDIR(st.st_mode)) {
            fprintf(stderr, "strata: doc put '%s': '%s' is a directory (use 'strata import DIR')\n",
                    cli_q(id), cli_q(file));
            close(fd);
            return CLI_FAILED;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    int rc = strata_doc_put_fd(ctx->db, NULL, id, strlen(id), fd, &o);
    if (!from_stdin)
        close(fd);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc put '%s'", cli_q(id));
    if (!cli_json_wanted(ctx))
        return CLI_OK;

    /* --json: what was stored, read back. */
    strata_doc_info *info = NULL;
    rc = strata_doc_stat(ctx->db, id, strlen(id), &info);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc put '%s': read back", cli_q(id));
    struct cli_json j;
    cli_json_init(&j);
    cli_json_object_begin(&j);
    cli_json_key(&j, "id");
    cli_json_string_n(&j, info->id, info->id_len);
    cli_json_key(&j, "size");
    cli_json_uint(&j, info->size);
    cli_json_key(&j, "stored_size");
    cli_json_uint(&j, info->stored_size);
    cli_json_key(&j, "sha256");
    cli_json_hex(&j, info->content_hash, sizeof info->content_hash);
    cli_json_key(&j, "lsn");
    cli_json_uint(&j, info->lsn);
    cli_json_object_end(&j);
    strata_doc_info_free(info);
    return CLI_OK;
}

/* ---- get ---- */

/* Content to FILE through a temporary file in the same directory, renamed over FILE
 * only once every byte is written and synced: a failed get never leaves a partial
 * FILE (nor replaces an existing one). */
static int get_to_file(struct cli_ctx *ctx, const char *id, const char *file)
{
    size_t n = strlen(file);
    char *tmp = malloc(n + sizeof ".XXXXXX.tmp");
    if (!tmp)
        return cli_fail(ctx, STRATA_ENOMEM, "doc get '%s'", cli_q(id));
    memcpy(tmp, file, n);
    memcpy(tmp + n, ".XXXXXX.tmp", sizeof ".XXXXXX.tmp");
    int fd = mkostemps(tmp, 4, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "strata: doc get '%s': create '%s': %s\n", cli_q(id), cli_q(tmp),
                strerror(errno));
        free(tmp);
        return CLI_FAILED;
    }
    /* mkstemp makes the file 0600; a new file gets what the umask allows, as with >. */
    mode_t mask = umask(0);
    umask(mask);
    int status = CLI_OK;
    int rc = strata_doc_get_fd(ctx->db, id, strlen(id), fd);
    if (rc != STRATA_OK) {
        status = cli_fail(ctx, rc, "doc get '%s'", cli_q(id));
    } else if (fchmod(fd, 0666 & ~mask) != 0 || fsync(fd) != 0) {
        fprintf(stderr, "strata: doc get '%s': write '%s': %s\n", cli_q(id), cli_q(tmp),
                strerror(errno));
        status = CLI_FAILED;
    }
    if (close(fd) != 0 && status == CLI_OK) {
        fprintf(stderr, "strata: doc get '%s': write '%s': %s\n", cli_q(id), cli_q(tmp),
                strerror(errno));
        status = CLI_FAILED;
    }
    if (status == CLI_OK && rename(tmp, file) != 0) {
        fprintf(stderr, "strata: doc get '%s': rename to '%s': %s\n", cli_q(id), cli_q(file),
                strerror(errno));
        status = CLI_FAILED;
    }
    if (status != CLI_OK)
        unlink(tmp);
    free(tmp);
    return status;
}

static int run_get(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    const char *out = cli_flag(ctx, "-o");
    if (out && !*out)
        return cli_usage(ctx, "-o needs a file name");
    if (out && strcmp(out, "-") != 0)
        return get_to_file(ctx, id, out);
    /* Straight to fd 1: nothing of ours is buffered in stdout before this. */
    fflush(stdout);
    int rc = strata_doc_get_fd(ctx->db, id, strlen(id), STDOUT_FILENO);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc get '%s'", cli_q(id));
    return CLI_OK;
}

/* ---- meta ---- */

static void put_time_or_never(int64_t ms)
{
    if (ms)
        cli_put_time(ms);
    else
        fputs("never", stdout);
}

static int run_meta(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    strata_doc_info *i = NULL;
    int rc = strata_doc_stat(ctx->db, id, strlen(id), &i);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc meta '%s'", cli_q(id));
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "id");
        cli_json_string_n(&j, i->id, i->id_len);
        cli_json_key(&j, "filename");
        if (i->filename)
            cli_json_string(&j, i->filename);
        else
            cli_json_null(&j);
        cli_json_key(&j, "size");
        cli_json_uint(&j, i->size);
        cli_json_key(&j, "stored_size");
        cli_json_uint(&j, i->stored_size);
        cli_json_key(&j, "codec");
        cli_json_string(&j, i->codec);
        cli_json_key(&j, "tier");
        cli_json_string(&j, i->tier);
        cli_json_key(&j, "segment");
        cli_json_uint(&j, i->segment);
        cli_json_key(&j, "sha256");
        cli_json_hex(&j, i->content_hash, sizeof i->content_hash);
        cli_json_key(&j, "created_at_ms");
        cli_json_int(&j, i->created_at_ms);
        cli_json_key(&j, "updated_at_ms");
        cli_json_int(&j, i->updated_at_ms);
        cli_json_key(&j, "last_access_ms");
        if (i->last_access_ms)
            cli_json_int(&j, i->last_access_ms);
        else
            cli_json_null(&j);
        cli_json_key(&j, "lsn");
        cli_json_uint(&j, i->lsn);
        cli_json_key(&j, "metadata");
        cli_json_raw(&j, i->metadata_json ? i->metadata_json : "{}");
        cli_json_object_end(&j);
    } else {
        fputs("id           ", stdout);
        cli_put_bytes(i->id, i->id_len);
        fputs("\nfilename     ", stdout);
        if (i->filename)
            cli_put_bytes(i->filename, strlen(i->filename));
        else
            fputs("-", stdout);
        printf("\nsize         %" PRIu64, i->size);
        printf("\nstored_size  %" PRIu64, i->stored_size);
        printf("\ncodec        %s", i->codec);
        printf("\ntier         %s", i->tier);
        printf("\nsegment      %" PRIu64, i->segment);
        fputs("\nsha256       ", stdout);
        cli_put_hex(i->content_hash, sizeof i->content_hash);
        fputs("\ncreated      ", stdout);
        cli_put_time(i->created_at_ms);
        fputs("\nupdated      ", stdout);
        cli_put_time(i->updated_at_ms);
        fputs("\nlast_access  ", stdout);
        put_time_or_never(i->last_access_ms);
        printf("\nlsn          %" PRIu64, i->lsn);
        fputs("\nmetadata     ", stdout);
        cli_put_json_compact(i->metadata_json ? i->metadata_json : "{}");
        putchar('\n');
    }
    strata_doc_info_free(i);
    return CLI_OK;
}

/* ---- del ---- */

static int run_del(struct cli_ctx *ctx)
{
    const char *id = ctx->argv[0];
    int rc = strata_doc_delete(ctx->db, NULL, id, strlen(id));
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc del '%s'", cli_q(id));
    return CLI_OK;
}

/* ---- list ---- */

static int run_list(struct cli_ctx *ctx)
{
    strata_doc_filter f = { 0 };
    const char *prefix = cli_flag(ctx, "--prefix");
    const char *where = cli_flag(ctx, "--where");
    char *path = NULL;
    if (prefix) {
        f.prefix = prefix;
        f.prefix_len = strlen(prefix);
    }
    if (where) {
        const char *eq = strchr(where, '=');
        if (!eq || eq == where)
            return cli_usage(ctx, "--where wants PATH=JSON, e.g. '$.lang=\"en\"', not '%s'",
                             cli_q(where));
        if (!(path = strndup(where, (size_t)(eq - where))))
            return cli_fail(ctx, STRATA_ENOMEM, "doc list");
        f.meta_path = path;
        f.meta_value_json = eq + 1;
    }
    strata_doc_cursor *c = NULL;
    int rc = strata_doc_cursor_open(ctx->db, &f, &c);
    if (rc != STRATA_OK) {
        free(path);
        return cli_fail(ctx, rc, "doc list");
    }
    int json = cli_json_wanted(ctx);
    struct cli_json j;
    cli_json_init(&j);
    if (json)
        cli_json_array_begin(&j);
    for (;;) {
        const void *id;
        size_t len;
        if ((rc = strata_doc_cursor_next(c, &id, &len)) != STRATA_OK || !id)
            break;
        if (json) {
            cli_json_string_n(&j, id, len);
        } else {
            cli_put_bytes(id, len);
            putchar('\n');
        }
        if (cli_out_failed())
            break; /* main.c reports the write error */
    }
    if (json && rc == STRATA_OK)
        cli_json_array_end(&j);
    strata_doc_cursor_close(c);
    free(path);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc list");
    return CLI_OK;
}

/* ---- train-dict ---- */

static int run_train(struct cli_ctx *ctx)
{
    uint32_t dict = 0;
    int rc = strata_doc_train_dict(ctx->db, &dict);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "doc train-dict");
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "dict_id");
        cli_json_uint(&j, dict);
        cli_json_object_end(&j);
    } else {
        printf("%" PRIu32 "\n", dict);
    }
    return CLI_OK;
}

static const struct cli_flag put_flags[] = {
    { "--meta", "JSON", "metadata, a JSON object (default {})" },
    { "--filename", "NAME", "the original file name (default: FILE's base name)" },
    { "--json", NULL, "print {\"id\",\"size\",\"stored_size\",\"sha256\",\"lsn\"}" },
    CLI_FLAG_END,
};
static const struct cli_flag get_flags[] = {
    { "-o", "FILE", "write to FILE (atomically, via a temporary file), not stdout" },
    CLI_FLAG_END,
};
static const struct cli_flag list_flags[] = {
    { "--prefix", "P", "only ids that start with P" },
    { "--where", "PATH=JSON", "only documents whose metadata at PATH equals JSON" },
    { "--json", NULL, "print a JSON array of ids" },
    CLI_FLAG_END,
};
static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command doc_commands[] = {
    { "put", "ID [FILE|-]", 1, 2, put_flags, CLI_STORE_OPEN,
      "store FILE (or stdin) as document ID",
      "Store the content of FILE as document ID (1..1024 bytes), replacing any\n"
      "previous version; FILE - or no FILE reads standard input to its end. The\n"
      "content is streamed (memory stays bounded for files of any size); identical\n"
      "content is stored once. The document's filename is FILE's base name unless\n"
      "--filename says otherwise (none for stdin). Prints nothing unless --json.\n"
      "An id that is empty or too long, metadata that is not a JSON object or an\n"
      "unreadable FILE fails (exit 1) and stores nothing.",
      run_put },
    { "get", "ID", 1, 1, get_flags, CLI_STORE_OPEN,
      "print the content of document ID",
      "Write the content of document ID, byte-exact, to standard output, or with\n"
      "-o FILE to FILE: the bytes go to a temporary FILE.XXXXXX.tmp that is synced\n"
      "and renamed over FILE only when complete, so a failed get leaves no partial\n"
      "FILE. Every record is verified: a missing or corrupt document fails (exit 1)\n"
      "with the library's message, and so does a failed write.",
      run_get },
    { "meta", "ID", 1, 1, json_only, CLI_STORE_OPEN,
      "print the metadata of document ID",
      "Print 'FIELD VALUE' lines: id, filename (- if none), size (raw bytes),\n"
      "stored_size (bytes in the segment), codec, tier, segment, sha256 (of the\n"
      "content, hex), created, updated, last_access (ISO-8601 UTC, or never), lsn\n"
      "and metadata (JSON on one line). With --json print one object with the same\n"
      "fields, times as created_at_ms, updated_at_ms and last_access_ms (null when\n"
      "never read). A missing document fails (exit 1).",
      run_meta },
    { "del", "ID", 1, 1, NULL, CLI_STORE_OPEN,
      "delete document ID",
      "Delete document ID. A missing document fails (exit 1). Its content stays in\n"
      "the segment files until 'strata compact' rewrites them.",
      run_del },
    { "list", "", 0, 0, list_flags, CLI_STORE_OPEN,
      "print document ids, in byte order",
      "Print one document id per line, in byte order; control bytes and bytes that\n"
      "are not UTF-8 are shown as \\xHH. --prefix P keeps ids starting with P;\n"
      "--where PATH=JSON keeps documents whose metadata at the JSON path PATH\n"
      "equals the JSON value (split at the first '='), e.g. --where '$.lang=\"en\"'.\n"
      "With --json print a JSON array of the ids (strings); 'doc meta ID --json'\n"
      "gives the details of one.",
      run_list },
    { "train-dict", "", 0, 0, json_only, CLI_STORE_OPEN,
      "train the compression dictionary",
      "Train (or retrain) the shared compression dictionary from a sample of the\n"
      "store's documents and print the new dictionary's id (with --json:\n"
      "{\"dict_id\"}). Documents stored from now on use it; older ones stay readable,\n"
      "and 'strata compact' re-encodes the ones it moves. A store with too little\n"
      "content fails (exit 1).",
      run_train },
};

const struct cli_group cli_group_doc = {
    "doc", "documents: content (any bytes) and JSON metadata under an id", doc_commands,
    sizeof doc_commands / sizeof doc_commands[0],
};
