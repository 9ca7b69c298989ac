/* export.c — every metric table and rollup as Parquet, hive-partitioned by table and
 * day: DIR/table=NAME/day=YYYY-MM-DD/data_0.parquet.
 *
 * DuckDB writes the files with COPY ... (FORMAT parquet, PARTITION_BY (day)), all
 * tables inside one read transaction (one snapshot), into DIR_STORE/analytics-
 * export.tmp — the one directory a sealed database may still write, because it is in
 * allowed_directories from the open on. Strata then fsyncs the files and moves them
 * into the destination (rename; a copy across filesystems), so a sealed store
 * exports the same way as an open one and a failed export leaves no partial
 * destination behind. */
#include "an_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tables and the column that gives each row's day. */
static const struct { const char *table, *time_col; } export_tables[] = {
    { "query_metrics", "timestamp" },     { "embedding_metrics", "timestamp" },
    { "reranking_metrics", "timestamp" }, { "system_metrics", "timestamp" },
    { "op_metrics", "timestamp" },        { "query_metrics_hourly", "hour" },
    { "embedding_metrics_hourly", "hour" }, { "reranking_metrics_hourly", "hour" },
    { "system_metrics_hourly", "hour" },  { "op_metrics_hourly", "hour" },
    { "metric_histograms_hourly", "hour" },
};
#define N_EXPORT (sizeof export_tables / sizeof export_tables[0])

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int errno_status(int e) {
    switch (e) {
    case ENOSPC: case EDQUOT: return STRATA_ENOSPC;
    case EACCES: case EPERM: case EROFS: return STRATA_EACCES;
    case ENOENT: return STRATA_ENOTFOUND;
    case EEXIST: case ENOTEMPTY: return STRATA_EEXIST;
    case ENOMEM: return STRATA_ENOMEM;
    default: return STRATA_EIO;
    }
}

/* Remove a tree (no symlinks followed). Best effort. */
static void rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char *p = join(path, e->d_name);
                if (p) rm_tree(p);
                free(p);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int fsync_path(const char *path, int dir) {
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = fsync(fd) < 0 ? errno : 0;
    close(fd);
    return e == EINVAL ? 0 : e;
}

/* Copy a regular file with fsync. 0 or errno. */
static int copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return e;
    }
    char buf[1 << 16];
    int e = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            e = errno;
            break;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                e = errno;
                break;
            }
            off += w;
        }
        if (e) break;
    }
    if (!e && fsync(out) < 0) e = errno;
    if (close(out) < 0 && !e) e = errno;
    close(in);
    return e;
}

/* fsync every file and directory below path; count the .parquet files. */
static int sync_tree(const char *path, uint64_t *files) {
    struct stat st;
    if (lstat(path, &st) < 0) return errno;
    if (!S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        if (n > 8 && !strcmp(path + n - 8, ".parquet")) (*files)++;
        return fsync_path(path, 0);
    }
    DIR *d = opendir(path);
    if (!d) return errno;
    struct dirent *e;
    int err = 0;
    while (!err && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join(path, e->d_name);
        err = p ? sync_tree(p, files) : ENOMEM;
        free(p);
    }
    closedir(d);
    return err ? err : fsync_path(path, 1);
}

/* Move `from` (a tree) to `to`, which does not exist: rename, or copy across
 * filesystems. 0 or errno. */
static int move_tree(const char *from, const char *to) {
    if (rename(from, to) == 0) return 0;
    if (errno != EXDEV) return errno;
    struct stat st;
    if (lstat(from, &st) < 0) return errno;
    if (!S_ISDIR(st.st_mode)) return copy_file(from, to);
    if (mkdir(to, 0755) < 0) return errno;
    DIR *d = opendir(from);
    if (!d) return errno;
    struct dirent *e;
    int err = 0;
    while (!err && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *a = join(from, e->d_name), *b = join(to, e->d_name);
        err = a && b ? move_tree(a, b) : ENOMEM;
        free(a);
        free(b);
    }
    closedir(d);
    return err ? err : fsync_path(to, 1);
}

/* 1: missing; 0: an empty directory; else an errno (EEXIST when it holds files). */
static int dest_state(const char *dir) {
    struct stat st;
    if (stat(dir, &st) < 0) return errno == ENOENT ? 1 : errno;
    if (!S_ISDIR(st.st_mode)) return EEXIST;
    DIR *d = opendir(dir);
    if (!d) return errno;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
    closedir(d);
    return empty ? 0 : EEXIST;
}

static int copy_table(duckdb_connection con, const char *sql, const char *path, char *err, size_t errlen) {
    duckdb_prepared_statement st;
    duckdb_result res;
    int rc = STRATA_OK;
    if (duckdb_prepare(con, sql, &st) == DuckDBError) {
        an_errf(err, errlen, "export: %s", duckdb_prepare_error(st));
        duckdb_destroy_prepare(&st);
        return STRATA_EINTERNAL;
    }
    duckdb_bind_varchar(st, 1, path); /* the path is a bound value, not SQL text */
    if (duckdb_execute_prepared(st, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        rc = an_duck_status(duckdb_result_error_type(&res), m);
        an_errf(err, errlen, "export: %s", m ? m : "DuckDB error");
    }
    duckdb_destroy_result(&res);
    duckdb_destroy_prepare(&st);
    return rc;
}

int an_export(analytics *an, const char *dir, uint64_t *files, char *err, size_t errlen) {
    if (files) *files = 0;
    if (!dir || !*dir) {
        an_errf(err, errlen, "export: the directory is NULL or empty");
        return STRATA_EINVAL;
    }
    int ds = dest_state(dir);
    if (ds != 0 && ds != 1) {
        an_errf(err, errlen, "export: %s: %s", dir, ds == EEXIST ? "exists and is not an empty directory" : strerror(ds));
        return errno_status(ds);
    }
    int rc = an_flush(an, err, errlen);
    if (rc) return rc;
    rm_tree(an->stage_dir); /* a leftover of an interrupted export */
    if (mkdir(an->stage_dir, 0700) < 0) {
        int e = errno;
        an_errf(err, errlen, "export: %s: %s", an->stage_dir, strerror(e));
        return errno_status(e);
    }
    duckdb_connection con;
    if ((rc = an_lease(an, &con, err, errlen)) != STRATA_OK) {
        rm_tree(an->stage_dir);
        return rc;
    }
    /* One snapshot for every table. */
    rc = an_exec(con, "BEGIN TRANSACTION", "export", err, errlen);
    for (size_t i = 0; i < N_EXPORT && !rc; i++) {
        char sql[512], sub[128];
        snprintf(sql, sizeof sql,
                 "COPY (SELECT *, CAST(%s AS DATE) AS day FROM %s) TO $1 "
                 "(FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE)",
                 export_tables[i].time_col, export_tables[i].table); /* identifiers from the fixed list above */
        snprintf(sub, sizeof sub, "table=%s", export_tables[i].table);
        char *path = join(an->stage_dir, sub);
        if (!path) {
            an_errf(err, errlen, "out of memory");
            rc = STRATA_ENOMEM;
            break;
        }
        rc = copy_table(con, sql, path, err, errlen);
        free(path);
    }
    char ignore[8];
    (void)an_exec(con, rc ? "ROLLBACK" : "COMMIT", "export", ignore, sizeof ignore);
    an_unlease(an, con);
    uint64_t n = 0;
    int e = 0;
    if (!rc && (e = sync_tree(an->stage_dir, &n)) != 0) {
        an_errf(err, errlen, "export: %s: %s", an->stage_dir, strerror(e));
        rc = errno_status(e);
    }
    if (!rc) {
        /* ds == 1: the destination is missing (its parent must exist); 0: empty. */
        if (ds == 0 && rmdir(dir) < 0) e = errno;
        if (!e) e = move_tree(an->stage_dir, dir);
        if (!e) {
            char *parent = strdup(dir), *slash = parent ? strrchr(parent, '/') : NULL;
            if (parent) {
                if (slash == parent) slash[1] = 0;
                else if (slash) *slash = 0;
                (void)fsync_path(slash ? parent : ".", 1);
            }
            free(parent);
        }
        if (e) {
            an_errf(err, errlen, "export: moving the files into %s: %s", dir, strerror(e));
            rc = errno_status(e);
            if (e != EEXIST) rm_tree(dir); /* a half-copied destination: it was ours */
            if (ds == 0) mkdir(dir, 0755);
        }
    }
    rm_tree(an->stage_dir);
    if (!rc && files) *files = n;
    return rc;
}
