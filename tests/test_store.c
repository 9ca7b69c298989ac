/* test_store.c — strata_open/close: creating a store, the lock (in this process and
 * another), refusing what is not a store or is too new, options, codes and messages,
 * a read-only directory and a full disk. */
#include "test.h"
#include "operational/op.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *join(const char *a, const char *b) {
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); abort(); }
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

static strata_options create_opts(void) {
    strata_options o = strata_options_default();
    o.create = 1;
    return o;
}

static void test_codes(void) {
    CHECK(!strcmp(strata_errstr(STRATA_OK), "ok"));
    CHECK(!strcmp(strata_errstr(STRATA_EBUSY), "store is in use by another process"));
    CHECK(!strcmp(strata_errstr(12345), "unknown status code"));
    for (int c = 0; c >= STRATA_EINTERNAL; c--) CHECK(strcmp(strata_errstr(c), "unknown status code") != 0);
    CHECK(!strcmp(strata_version(), STRATA_VERSION));
    CHECK(strata_version_number() == STRATA_VERSION_NUMBER);
    strata_options o = strata_options_default();
    CHECK(o.create == 0 && o.sync == STRATA_SYNC_FULL && o.busy_timeout_ms == STRATA_DEFAULT_BUSY_TIMEOUT_MS);
    CHECK(strata_close(NULL) == STRATA_OK);
    strata_free(NULL);
}

static void test_create_and_lock(void) {
    char *base = t_tmpdir("store");
    char *dir = join(base, "db");
    strata *db = NULL, *db2 = (strata *)1;

    /* Missing directory without create: nothing is made. */
    CHECK_RC(strata_open(dir, NULL, &db), STRATA_ENOTFOUND);
    CHECK(db == NULL);
    CHECK(!exists(dir));
    CHECK(strstr(strata_open_errmsg(), "no such store") != NULL);
    CHECK(strata_errmsg(NULL) == strata_open_errmsg());

    strata_options o = create_opts();
    CHECK_OK(strata_open(dir, &o, &db));
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    char *fmt = join(dir, "STRATA");
    FILE *f = fopen(fmt, "r");
    char line[64] = "";
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "strata-store\n"));
    if (f) fclose(f);

    /* A second opener in this process is refused, naming our pid. */
    CHECK_RC(strata_open(dir, &o, &db2), STRATA_EBUSY);
    CHECK(db2 == NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "process %ld", (long)getpid());
    CHECK(strstr(strata_open_errmsg(), pid) != NULL);

    /* ... and in another process. */
    pid_t child = fork();
    if (child == 0) {
        strata *c = NULL;
        int rc = strata_open(dir, NULL, &c);
        _exit(rc == STRATA_EBUSY && strstr(strata_open_errmsg(), pid) ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    CHECK_OK(strata_setting_set(db, NULL, "k", "1"));
    CHECK_OK(strata_close(db));
    db = NULL;

    /* Reopen after close: the data is there. */
    CHECK_OK(strata_open(dir, NULL, &db));
    char *v = NULL;
    CHECK_OK(strata_setting_get(db, "k", &v, NULL));
    CHECK(v && !strcmp(v, "1"));
    strata_free(v);
    CHECK_OK(strata_close(db));

    /* The lock dies with its holder: a killed process leaves no stale lock. */
    child = fork();
    if (child == 0) {
        strata *c = NULL;
        if (strata_open(dir, NULL, &c) != STRATA_OK) _exit(1);
        for (;;) pause();
    }
    for (int i = 0; i < 200; i++) {
        strata *probe = NULL;
        int rc = strata_open(dir, NULL, &probe);
        if (rc == STRATA_EBUSY) break;
        if (rc == STRATA_OK) strata_close(probe);
        usleep(10000);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    CHECK_OK(strata_open(dir, NULL, &db));
    CHECK_OK(strata_close(db));

    free(fmt);
    free(dir);
    t_rmtree(base);
}

static void test_not_a_store(void) {
    char *base = t_tmpdir("notstore");
    strata *db = NULL;
    strata_options o = create_opts();

    /* A non-empty directory without STRATA is refused and left untouched. */
    char *junk = join(base, "junk.txt");
    write_file(junk, "hello");
    CHECK_RC(strata_open(base, &o, &db), STRATA_ENOTSTORE);
    char *lock = join(base, "LOCK");
    CHECK(!exists(lock));
    CHECK(strstr(strata_open_errmsg(), "not a Strata store") != NULL);
    unlink(junk);

    /* An empty directory: refused without create, adopted with it. */
    CHECK_RC(strata_open(base, NULL, &db), STRATA_ENOTSTORE);
    CHECK(!exists(lock));
    CHECK_OK(strata_open(base, &o, &db));
    CHECK_OK(strata_close(db));

    /* A newer format version is refused. */
    char *fmt = join(base, "STRATA");
    write_file(fmt, "strata-store\nformat-version 99\n");
    CHECK_RC(strata_open(base, NULL, &db), STRATA_EVERSION);
    CHECK(strstr(strata_open_errmsg(), "99") != NULL);
    /* A header that is not ours. */
    write_file(fmt, "something else\n");
    CHECK_RC(strata_open(base, &o, &db), STRATA_ENOTSTORE);
    write_file(fmt, "strata-store\nformat-version 1\n");
    CHECK_OK(strata_open(base, NULL, &db));
    CHECK_OK(strata_close(db));

    /* A regular file is not a store. */
    CHECK_RC(strata_open(fmt, &o, &db), STRATA_ENOTSTORE);

    /* A parent that does not exist. */
    char *deep = join(base, "a/b/c");
    CHECK_RC(strata_open(deep, &o, &db), STRATA_ENOTFOUND);

    /* operational.db with a newer schema is refused; garbage is reported corrupt. */
    char *opdb = join(base, "operational.db");
    sqlite3 *raw;
    CHECK(sqlite3_open(opdb, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);
    CHECK_RC(strata_open(base, NULL, &db), STRATA_EVERSION);
    CHECK(strstr(strata_open_errmsg(), "schema version 999") != NULL);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", opdb);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", opdb);
    unlink(wal);
    char garbage[8192];
    memset(garbage, 'x', sizeof garbage - 1);
    garbage[sizeof garbage - 1] = 0;
    write_file(opdb, garbage);
    CHECK_RC(strata_open(base, NULL, &db), STRATA_ECORRUPT);

    free(opdb);
    free(deep);
    free(fmt);
    free(lock);
    free(junk);
    t_rmtree(base);
}

static void test_bad_arguments(void) {
    strata *db = NULL;
    strata_options o = create_opts();
    CHECK_RC(strata_open(NULL, &o, &db), STRATA_EINVAL);
    CHECK_RC(strata_open("", &o, &db), STRATA_EINVAL);
    CHECK_RC(strata_open("/tmp/x", &o, NULL), STRATA_EINVAL);
    o.sync = 7;
    CHECK_RC(strata_open("/tmp/strata-never-created", &o, &db), STRATA_EINVAL);
    o = create_opts();
    o.busy_timeout_ms = -1;
    CHECK_RC(strata_open("/tmp/strata-never-created", &o, &db), STRATA_EINVAL);
    o = create_opts();
    o.reserved[3] = 1;
    CHECK_RC(strata_open("/tmp/strata-never-created", &o, &db), STRATA_EINVAL);
    CHECK(strstr(strata_open_errmsg(), "reserved") != NULL);
    CHECK(!exists("/tmp/strata-never-created"));
    CHECK_RC(strata_txn_begin(NULL, NULL), STRATA_EINVAL);
    CHECK_RC(strata_txn_commit(NULL, NULL), STRATA_EINVAL);
    strata_txn_abort(NULL);
}

/* A directory the process may not write: as root, drop to nobody in a child. */
static void test_read_only_dir(void) {
    char *base = t_tmpdir("ro");
    char *dir = join(base, "db");
    strata *db = NULL;
    strata_options o = create_opts();
    CHECK_OK(strata_open(dir, &o, &db));
    CHECK_OK(strata_setting_set(db, NULL, "k", "\"v\""));
    CHECK_OK(strata_close(db));
    /* Make it readable to everyone, writable by no one. */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "chmod 0755 '%s' && chmod -R a+rX,a-w '%s'", base, dir);
    CHECK(system(cmd) == 0);
    pid_t child = fork();
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        strata *c = NULL;
        int rc = strata_open(dir, NULL, &c);
        _exit(rc == STRATA_EACCES ? 0 : 2);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'", dir);
    CHECK(system(cmd) == 0);
    /* Nothing changed: the store opens and holds its value. */
    CHECK_OK(strata_open(dir, NULL, &db));
    char *v = NULL;
    CHECK_OK(strata_setting_get(db, "k", &v, NULL));
    CHECK(v && !strcmp(v, "\"v\""));
    strata_free(v);
    CHECK_OK(strata_close(db));
    free(dir);
    t_rmtree(base);
}

/* A full disk: a private mount namespace with a tiny tmpfs. Writes fail with ENOSPC,
 * everything committed before stays readable, and the store reopens. */
static int full_disk_child(const char *mnt) {
    if (unshare(CLONE_NEWNS) != 0) return 10;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 11;
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) return 12;
    char *dir = join(mnt, "db");
    strata *db = NULL;
    strata_options o = strata_options_default();
    o.create = 1;
    if (strata_open(dir, &o, &db) != STRATA_OK) return 13;
    char value[2100], key[64];
    memset(value, 'a', sizeof value);
    value[0] = '"';
    value[sizeof value - 2] = '"';
    value[sizeof value - 1] = 0;
    int i, rc = STRATA_OK;
    for (i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        if ((rc = strata_setting_set(db, NULL, key, value)) != STRATA_OK) break;
    }
    if (rc != STRATA_ENOSPC) { fprintf(stderr, "rc=%d %s\n", rc, strata_errmsg(db)); return 14; }
    /* The failed key is absent; every earlier one reads back. */
    char *v = NULL;
    if (strata_setting_get(db, key, &v, NULL) != STRATA_ENOTFOUND) return 15;
    for (int j = 0; j < i; j++) {
        snprintf(key, sizeof key, "key%06d", j);
        if (strata_setting_get(db, key, &v, NULL) != STRATA_OK || strcmp(v, value)) return 16;
        strata_free(v);
    }
    strata_close(db);
    db = NULL;
    if (strata_open(dir, NULL, &db) != STRATA_OK) return 17;
    snprintf(key, sizeof key, "key%06d", 0);
    if (strata_setting_get(db, key, &v, NULL) != STRATA_OK) return 18;
    strata_free(v);
    strata_close(db);
    free(dir);
    return i > 0 ? 0 : 19;
}

static void test_full_disk(void) {
    char *mnt = t_tmpdir("full");
    pid_t child = fork();
    if (child == 0) _exit(full_disk_child(mnt));
    int status = 0;
    waitpid(child, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "full-disk child exited with %d (needs root for a tmpfs mount)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    t_rmtree(mnt);
}

int main(void) {
    test_codes();
    test_create_and_lock();
    test_not_a_store();
    test_bad_arguments();
    test_read_only_dir();
    test_full_disk();
    return t_done();
}
