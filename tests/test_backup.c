/* test_backup.c — backups: consistent snapshots while writers run, verify catching
 * any flipped byte, restore, incremental chains, retention, kill -9 during a backup,
 * a full destination, the automatic schedule, and the error paths. */
#include "test.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char *path2(const char *a, const char *b) {
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static strata *open_opts(const char *dir, strata_clock_fn clock, int interval) {
    strata_options o = t_options();
    o.create = 1;
    o.clock = clock;
    o.backup_interval_hours = interval;
    o.segment_bytes = 256 * 1024;
    strata *db = NULL;
    if (strata_open(dir, &o, &db) != STRATA_OK) { fprintf(stderr, "open %s: %s\n", dir, strata_open_errmsg()); abort(); }
    return db;
}
static strata *open_store(const char *dir) { return open_opts(dir, NULL, -1); }

static void content(unsigned k, char *buf, size_t n) {
    unsigned s = k * 2654435761u;
    for (size_t i = 0; i < n; i++) { s = s * 1103515245u + 12345u; buf[i] = "abcdefgh ijklmnop\n"[(s >> 16) % 18]; }
}

static void vec_of(unsigned k, float *v) { for (int i = 0; i < 4; i++) v[i] = (float)((k * 31 + (unsigned)i * 7) % 17) - 8.0f; }

/* txn k: doc "d-k" (size depends on k) with its vector in collection "v", setting
 * "last" = k, session "s-k". */
static int write_txn(strata *db, unsigned k, uint64_t *lsn) {
    char id[32], buf[40000], val[32];
    float vec[4];
    vec_of(k, vec);
    if (k == 1) {
        strata_collection_opts co = { .dim = 4, .metric = STRATA_METRIC_L2 };
        int rc = strata_vec_create(db, "v", &co);
        if (rc && rc != STRATA_EEXIST) return rc;
    }
    size_t n = 500 + (k * 7919) % 30000;
    snprintf(id, sizeof id, "d-%u", k);
    content(k, buf, n);
    snprintf(val, sizeof val, "%u", k);
    strata_txn *t;
    int rc = strata_txn_begin(db, &t);
    if (!rc) rc = strata_doc_put(db, t, id, strlen(id), buf, n, NULL);
    if (!rc) rc = strata_vec_put(db, t, "v", id, strlen(id), vec, 4);
    if (!rc) rc = strata_setting_set(db, t, "last", val);
    snprintf(id, sizeof id, "s-%u", k);
    if (!rc) rc = strata_session_put(db, t, id, "{\"k\":1}", 0);
    if (!rc) return strata_txn_commit(t, lsn);
    strata_txn_abort(t);
    return rc;
}

/* The store holds exactly transactions 1..K. */
static int state_is(strata *db, unsigned K) {
    char *v = NULL;
    if (K == 0) return strata_setting_get(db, "last", &v, NULL) == STRATA_ENOTFOUND;
    if (strata_setting_get(db, "last", &v, NULL) != STRATA_OK) return 0;
    unsigned last = (unsigned)atoi(v);
    strata_free(v);
    if (last != K) { fprintf(stderr, "last = %u, want %u\n", last, K); return 0; }
    char buf[40000];
    for (unsigned k = 1; k <= K + 1; k++) {
        char id[32];
        snprintf(id, sizeof id, "d-%u", k);
        void *got = NULL;
        size_t len = 0;
        int rc = strata_doc_get(db, id, strlen(id), &got, &len);
        if (k == K + 1) { strata_free(got); if (rc != STRATA_ENOTFOUND) return 0; continue; }
        size_t n = 500 + (k * 7919) % 30000;
        content(k, buf, n);
        int ok = rc == STRATA_OK && len == n && !memcmp(got, buf, n);
        strata_free(got);
        if (!ok) { fprintf(stderr, "%s differs (rc %d)\n", id, rc); return 0; }
        float want[4], have[4];
        vec_of(k, want);
        if (strata_vec_get(db, "v", id, strlen(id), have, 4) != STRATA_OK || memcmp(want, have, sizeof have)) {
            fprintf(stderr, "vector of %s differs\n", id);
            return 0;
        }
        strata_session *s = NULL;
        snprintf(id, sizeof id, "s-%u", k);
        if (strata_session_get(db, id, &s) != STRATA_OK) return 0;
        strata_session_free(s);
    }
    return 1;
}

typedef struct info_list { strata_backup_info v[64]; int n; } info_list;
static int collect(void *ctx, const strata_backup_info *i) {
    info_list *l = ctx;
    if (l->n < 64) l->v[l->n++] = *i;
    return 0;
}
static info_list list_of(const char *dest) {
    info_list l;
    memset(&l, 0, sizeof l);
    if (strata_backup_list(dest, collect, &l) != STRATA_OK) l.n = -1;
    return l;
}

static void test_basic(const char *base) {
    char *dir = path2(base, "basic"), *dest = path2(dir, "backups"), *target = path2(base, "basic-restored");
    strata *db = open_store(dir);
    for (unsigned k = 1; k <= 20; k++) CHECK_OK(write_txn(db, k, NULL));
    char *name = NULL;
    CHECK_OK(strata_backup_create(db, NULL, &name));
    CHECK(name != NULL);
    strata_stats st;
    CHECK_OK(strata_stats_get(db, &st));
    info_list l = list_of(dest);
    CHECK(l.n == 1 && l.v[0].complete && l.v[0].lsn == st.lsn && !strcmp(l.v[0].name, name) && l.v[0].files >= 3);
    uint64_t problems = 9;
    CHECK_OK(strata_backup_verify(dest, name, NULL, NULL, &problems));
    CHECK(problems == 0);
    /* Every backend is in it: the catalogue, segments, vectors, analytics (unless
     * the test runs with analytics off, as under ThreadSanitizer). */
    char *bdir = path2(dest, name), *an = path2(bdir, "analytics.duckdb"), *vl = path2(bdir, "vectors/v/vectors.log");
    struct stat ast;
    if (t_analytics_on()) CHECK(stat(an, &ast) == 0 && ast.st_size > 0);
    CHECK(stat(vl, &ast) == 0 && ast.st_size > 0);
    free(bdir);
    free(an);
    free(vl);
    CHECK_OK(strata_backup_restore(dest, name, target, 0));
    strata *r = open_store(target);
    CHECK(state_is(r, 20));
    strata_stats rs;
    CHECK_OK(strata_stats_get(r, &rs));
    CHECK(rs.lsn == st.lsn && rs.documents == 20 && rs.sessions == 20);
    CHECK_OK(strata_check(r, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(r);

    /* The target now holds a store: refused without force, replaced with it, and
     * refused while another handle holds it. */
    CHECK_RC(strata_backup_restore(dest, name, target, 0), STRATA_EEXIST);
    CHECK(strstr(strata_backup_errmsg(), "force") != NULL);
    r = open_store(target);
    CHECK_OK(strata_setting_set(r, NULL, "only-in-target", "1"));
    CHECK_RC(strata_backup_restore(dest, name, target, 1), STRATA_EBUSY);
    strata_close(r);
    CHECK_OK(strata_backup_restore(dest, name, target, 1));
    r = open_store(target);
    char *v = NULL;
    CHECK_RC(strata_setting_get(r, "only-in-target", &v, NULL), STRATA_ENOTFOUND);
    CHECK(state_is(r, 20));
    strata_close(r);

    /* Error paths. */
    CHECK_RC(strata_backup_verify(dest, "no-such-backup", NULL, NULL, &problems), STRATA_ENOTFOUND);
    CHECK_RC(strata_backup_verify(dest, "../etc", NULL, NULL, &problems), STRATA_EINVAL);
    CHECK_RC(strata_backup_restore(dest, "no-such-backup", target, 1), STRATA_ENOTFOUND);
    CHECK_RC(strata_backup_restore(dest, name, "", 0), STRATA_EINVAL);
    CHECK_RC(strata_backup_prune(dest, 0, NULL), STRATA_EINVAL);
    CHECK_RC(strata_backup_list(NULL, collect, &l), STRATA_EINVAL);
    CHECK_RC(strata_backup_create(db, "", NULL), STRATA_EINVAL);
    CHECK_RC(strata_backup_create(NULL, NULL, NULL), STRATA_EINVAL);
    /* An interrupted backup (no MANIFEST) is listed as incomplete and never verifies. */
    char *broken = path2(dest, "strata-19700101-000000-000");
    CHECK(mkdir(broken, 0700) == 0);
    l = list_of(dest);
    CHECK(l.n == 2 && !l.v[0].complete && l.v[1].complete);
    CHECK_RC(strata_backup_verify(dest, "strata-19700101-000000-000", NULL, NULL, &problems), STRATA_ECORRUPT);
    CHECK_RC(strata_backup_restore(dest, "strata-19700101-000000-000", target, 1), STRATA_ECORRUPT);
    free(broken);
    /* A backup copied under another name does not pass for that name. */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp -r '%s/%s' '%s/renamed-copy'", dest, name, dest);
    CHECK(system(cmd) == 0);
    CHECK_RC(strata_backup_verify(dest, "renamed-copy", NULL, NULL, &problems), STRATA_ECORRUPT);
    /* force replaces a store only: a folder of other files stays untouched. */
    char *plain = path2(base, "not-a-store"), *keepf = path2(plain, "precious.txt");
    mkdir(plain, 0700);
    FILE *pf = fopen(keepf, "w");
    fputs("keep me", pf);
    fclose(pf);
    CHECK_RC(strata_backup_restore(dest, name, plain, 1), STRATA_ENOTSTORE);
    CHECK(access(keepf, F_OK) == 0);
    /* ... and never the store holding the backups. */
    strata_close(db);
    db = NULL;
    CHECK_RC(strata_backup_restore(dest, name, dir, 1), STRATA_EINVAL);
    CHECK(strstr(strata_backup_errmsg(), "inside") != NULL);
    free(plain);
    free(keepf);
    strata_free(name);
    strata_close(db);
    free(dir);
    free(dest);
    free(target);
}

/* ---- a backup taken while a writer commits equals the source at its LSN ---- */
typedef struct writer { strata *db; int stop; unsigned k; uint64_t lsn[4096]; } writer;
static void *writer_main(void *arg) {
    writer *w = arg;
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) && w->k < 4000) {
        uint64_t lsn;
        if (write_txn(w->db, w->k + 1, &lsn) != STRATA_OK) break;
        w->k++;
        w->lsn[w->k] = lsn;
    }
    return NULL;
}

static void test_concurrent(const char *base) {
    char *dir = path2(base, "live"), *dest = path2(base, "live-backups");
    strata *db = open_store(dir);
    writer w;
    memset(&w, 0, sizeof w);
    w.db = db;
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    char *names[3] = { 0 };
    for (int i = 0; i < 3; i++) {
        usleep(30000);
        CHECK_OK(strata_backup_create(db, dest, &names[i]));
    }
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CHECK(w.k > 3);
    info_list l = list_of(dest);
    CHECK(l.n == 3);
    for (int i = 0; i < 3 && i < l.n; i++) {
        char tname[64];
        snprintf(tname, sizeof tname, "live-restored-%d", i);
        char *target = path2(base, tname);
        CHECK_OK(strata_backup_restore(dest, l.v[i].name, target, 0));
        /* The transaction with the manifest's LSN is the last one in the copy. */
        unsigned K = 0;
        for (unsigned k = 1; k <= w.k; k++) if (w.lsn[k] <= l.v[i].lsn) K = k;
        strata *r = open_store(target);
        CHECK(state_is(r, K));
        strata_stats rs;
        CHECK_OK(strata_stats_get(r, &rs));
        CHECK(rs.lsn == l.v[i].lsn);
        strata_close(r);
        printf("backup %d while writing: LSN %llu, %u transactions\n", i, (unsigned long long)l.v[i].lsn, K);
        free(target);
    }
    for (int i = 0; i < 3; i++) strata_free(names[i]);
    strata_close(db);
    free(dir);
    free(dest);
}

/* ---- verify catches a flipped byte in any file ---- */
static void flip(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (at >= size) at = size / 2;
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_flips(const char *base) {
    char *dir = path2(base, "flip"), *dest = path2(base, "flip-backups");
    strata *db = open_store(dir);
    for (unsigned k = 1; k <= 30; k++) CHECK_OK(write_txn(db, k, NULL));
    strata_close(db);
    /* The store is closed: copy it to a second location so flipping backup files that
     * are hard links into the store does not matter to later checks. */
    db = open_store(dir);
    char *name = NULL;
    CHECK_OK(strata_backup_create(db, dest, &name));
    strata_close(db);
    char *bdir = path2(dest, name), cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && find . -type f ! -name MANIFEST | sort", bdir);
    FILE *p = popen(cmd, "r");
    char line[1024];
    int files = 0, caught = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        /* Work on a private copy of the backup in another destination (cp makes real
         * copies of hard links). */
        char copy[64];
        snprintf(copy, sizeof copy, "flipcopy%d", files);
        char *cdest = path2(base, copy), *cdir = path2(cdest, name);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp -r '%s' '%s'", cdest, cdest, bdir, cdir);
        CHECK(system(cmd) == 0);
        char *fpath = path2(cdir, line + 2);
        flip(fpath, 100);
        uint64_t problems = 0;
        CHECK_OK(strata_backup_verify(cdest, name, NULL, NULL, &problems));
        free(cdest);
        if (problems > 0) caught++;
        else fprintf(stderr, "flip in %s not caught\n", line);
        files++;
        free(fpath);
        free(cdir);
    }
    pclose(p);
    CHECK(files >= 3 && caught == files);
    printf("flipped a byte in each of %d backed-up files: %d caught\n", files, caught);
    strata_free(name);
    free(bdir);
    free(dir);
    free(dest);
}

/* ---- incremental chains ---- */
static void test_incremental(const char *base) {
    char *dir = path2(base, "incr"), *dest = path2(base, "incr-backups");
    strata *db = open_store(dir);
    char *names[4] = { 0 };
    unsigned ks[4] = { 0 };
    unsigned k = 0;
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < (i == 2 ? 0 : 15); j++) CHECK_OK(write_txn(db, ++k, NULL)); /* backup 2: unchanged */
        if (i == 3) CHECK_OK(strata_compact(db, 0.0, NULL));
        CHECK_OK(strata_backup_create(db, dest, &names[i]));
        ks[i] = k;
    }
    strata_close(db);
    /* Backup 2 is backup 1 again: its segments are the same inodes. */
    char *b1 = path2(dest, names[1]), *b2 = path2(dest, names[2]);
    char *s1 = path2(b1, "docs"), *s2 = path2(b2, "docs");
    DIR *d = opendir(s1);
    struct dirent *e;
    int linked = 0, total = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *f1 = path2(s1, e->d_name), *f2 = path2(s2, e->d_name);
        struct stat a, b;
        total++;
        if (stat(f1, &a) == 0 && stat(f2, &b) == 0 && a.st_ino == b.st_ino) linked++;
        free(f1);
        free(f2);
    }
    closedir(d);
    CHECK(total > 0 && linked == total);
    /* Every backup of the chain restores to its own state. */
    for (int i = 0; i < 4; i++) {
        char tname[64];
        snprintf(tname, sizeof tname, "incr-restored-%d", i);
        char *target = path2(base, tname);
        CHECK_OK(strata_backup_restore(dest, names[i], target, 0));
        strata *r = open_store(target);
        CHECK(state_is(r, ks[i]));
        strata_close(r);
        free(target);
    }
    /* Retention: keep 2; the older two go, the newest stays; restores still work
     * (hard links keep the shared bytes alive). */
    uint64_t removed = 0;
    CHECK_OK(strata_backup_prune(dest, 2, &removed));
    CHECK(removed == 2);
    info_list l = list_of(dest);
    CHECK(l.n == 2 && !strcmp(l.v[1].name, names[3]) && !strcmp(l.v[0].name, names[2]));
    char *target = path2(base, "incr-after-prune");
    CHECK_OK(strata_backup_restore(dest, names[2], target, 0));
    strata *r = open_store(target);
    CHECK(state_is(r, ks[2]));
    strata_close(r);
    CHECK_OK(strata_backup_prune(dest, 1, &removed));
    l = list_of(dest);
    CHECK(l.n == 1 && !strcmp(l.v[0].name, names[3]));
    for (int i = 0; i < 4; i++) strata_free(names[i]);
    free(target);
    free(b1); free(b2); free(s1); free(s2);
    free(dir);
    free(dest);
}

/* ---- kill -9 during backups ---- */
static void test_kill(const char *base) {
    char *dir = path2(base, "kill"), *dest = path2(base, "kill-backups");
    strata *db = open_store(dir);
    for (unsigned k = 1; k <= 60; k++) CHECK_OK(write_txn(db, k, NULL));
    strata_close(db);
    srand((unsigned)time(NULL));
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            strata *c = open_store(dir);
            for (;;) if (strata_backup_create(c, dest, NULL) != STRATA_OK) _exit(2);
        }
        usleep((useconds_t)(20000 + rand() % 80000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    info_list l = list_of(dest);
    int good = 0;
    for (int i = 0; i < l.n; i++) {
        if (!l.v[i].complete) continue;
        good++;
        uint64_t problems = 1;
        CHECK_OK(strata_backup_verify(dest, l.v[i].name, NULL, NULL, &problems));
        CHECK(problems == 0);
    }
    printf("kill -9 during backups: %d folders, %d complete, all complete ones verify\n", l.n, good);
    db = open_store(dir);
    CHECK(state_is(db, 60));
    uint64_t problems = 1;
    CHECK_OK(strata_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    strata_close(db);
    uint64_t removed = 0;
    if (good) {
        CHECK_OK(strata_backup_prune(dest, 1, &removed));
        l = list_of(dest);
        CHECK(l.n == 1 && l.v[0].complete);
    }
    free(dir);
    free(dest);
}

/* ---- a full destination ---- */
static int enospc_child(const char *base, const char *mnt) {
    if (unshare(CLONE_NEWNS) != 0) return 10;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 11;
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=300k") != 0) return 12;
    char *dir = path2(base, "full-src");
    strata *db = open_store(dir);
    for (unsigned k = 1; k <= 40; k++) if (write_txn(db, k, NULL)) return 13;
    int rc = strata_backup_create(db, mnt, NULL);
    if (rc != STRATA_ENOSPC) { fprintf(stderr, "rc %d: %s\n", rc, strata_errmsg(db)); return 14; }
    info_list l = list_of(mnt);
    if (l.n != 0) return 15; /* the partial folder is gone */
    if (!state_is(db, 40)) return 16;
    strata_close(db);
    free(dir);
    return 0;
}

static void test_enospc(const char *base) {
    char *mnt = path2(base, "fullmnt");
    mkdir(mnt, 0700);
    pid_t pid = fork();
    if (pid == 0) _exit(enospc_child(base, mnt));
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "ENOSPC child exited %d (a tmpfs mount needs root)\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(mnt);
}

/* ---- the automatic schedule ---- */
static int64_t future_ms;
static int64_t future_clock(void *ctx) { (void)ctx; return __atomic_load_n(&future_ms, __ATOMIC_RELAXED); }

static void test_schedule(const char *base) {
    char *dir = path2(base, "sched"), *dest = path2(dir, "backups");
    strata *db = open_store(dir);
    CHECK_OK(write_txn(db, 1, NULL));
    strata_close(db);
    /* Default schedule, store just created: nothing is due. */
    strata_options o = t_options();
    CHECK_OK(strata_open(dir, &o, &db));
    CHECK_OK(strata_close(db));
    CHECK(list_of(dest).n == 0);
    /* Two hours later with a one-hour interval: a backup is taken at open. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    future_ms = (int64_t)ts.tv_sec * 1000 + 2 * 3600 * 1000;
    db = open_opts(dir, future_clock, 1);
    int n = 0;
    for (int i = 0; i < 500 && (n = list_of(dest).n) == 0; i++) usleep(10000);
    strata_close(db);
    info_list l = list_of(dest);
    CHECK(n == 1 && l.n == 1 && l.v[0].complete && l.v[0].created_at_ms == future_ms);
    /* Reopened at the same time: the newest backup is fresh, nothing new. */
    db = open_opts(dir, future_clock, 1);
    usleep(100000);
    strata_close(db);
    CHECK(list_of(dest).n == 1);
    free(dir);
    free(dest);
}

int main(void) {
    char *base = t_tmpdir("backup");
    test_basic(base);
    test_concurrent(base);
    test_flips(base);
    test_incremental(base);
    test_kill(base);
    test_enospc(base);
    test_schedule(base);
    t_rmtree(base);
    return t_done();
}
