/* test_crash.c — kill -9 at random instants while a child process commits
 * transactions of document puts and deletes, settings and (now and then) compactions.
 * After every kill the parent reopens the store and checks:
 *   - the last committed transaction is the last acknowledged one, or the one in
 *     flight when the child died (never older: no acknowledged write is lost);
 *   - every document equals the model replayed up to that transaction, byte for byte
 *     (no partial transaction is visible, across documents and settings);
 *   - strata_check finds no problem.
 * STRATA_CRASH_KILLS sets the number of kills (default 50). */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define NIDS 40

typedef struct model { uint64_t ver[NIDS]; uint32_t size[NIDS]; uint64_t seed[NIDS]; } model;
typedef struct op { int kind; int idx; uint32_t size; uint64_t seed; } op; /* kind 0 put, 1 delete */

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void content(uint64_t seed, uint32_t size, char *out) {
    static const char *w[] = { "alpha ", "beta ", "gamma ", "delta ", "segment ", "commit ", "\n", "crash " };
    uint64_t s = seed;
    uint32_t o = 0;
    while (o < size) {
        s = mix(s);
        const char *p = w[s % 8];
        for (; *p && o < size; p++) out[o++] = *p;
    }
}

/* The operations of transaction k, given the model before it. */
static int plan(uint64_t k, const model *m, op *ops) {
    uint64_t r = mix(k);
    int n = 1 + (int)(r % 4);
    for (int i = 0; i < n; i++) {
        r = mix(r + (uint64_t)i);
        ops[i].idx = (int)(r % NIDS);
        ops[i].kind = m->ver[ops[i].idx] && (r >> 8) % 4 == 0;
        uint64_t sz = (r >> 16) % 100;
        ops[i].size = sz < 80 ? 100 + (uint32_t)((r >> 24) % 3000) : sz < 97 ? 20000 : 1500000;
        ops[i].seed = (r >> 40) % 5 == 0 ? 7 : mix(k * 1000 + (uint64_t)i); /* some shared content */
        /* One op per id per transaction keeps the model simple. */
        for (int j = 0; j < i; j++) if (ops[j].idx == ops[i].idx) { n = i; break; }
    }
    return n;
}

static void apply(model *m, uint64_t k, const op *ops, int n) {
    for (int i = 0; i < n; i++) {
        if (ops[i].kind) m->ver[ops[i].idx] = 0;
        else { m->ver[ops[i].idx] = k; m->size[ops[i].idx] = ops[i].size; m->seed[ops[i].idx] = ops[i].seed; }
    }
}

static void id_of(int idx, char *id) { sprintf(id, "doc-%02d", idx); }

/* Each document also has a vector in collection "c" (8-d, l2), derived from its seed. */
static void vec_of(uint64_t seed, float *v) {
    for (int i = 0; i < 8; i++) { seed = mix(seed + (uint64_t)i); v[i] = (float)(seed % 2001) / 100.0f - 10.0f; }
}

static strata *open_dir(const char *dir) {
    strata_options o = strata_options_default();
    o.create = 1;
    o.segment_bytes = 512 * 1024; /* rollovers happen often */
    strata *db = NULL;
    return strata_open(dir, &o, &db) == STRATA_OK ? db : NULL;
}

/* The child: commit transactions from `from` on, acknowledging each on the pipe. */
static void child(const char *dir, uint64_t from, int ackfd) {
    strata *db = open_dir(dir);
    if (!db) _exit(3);
    strata_collection_opts co = { .dim = 8, .metric = STRATA_METRIC_L2 };
    int crc = strata_vec_create(db, "c", &co);
    if (crc && crc != STRATA_EEXIST) _exit(10);
    model m;
    memset(&m, 0, sizeof m);
    op ops[4];
    for (uint64_t k = 1; k < from; k++) apply(&m, k, ops, plan(k, &m, ops));
    char *buf = malloc(1600000);
    for (uint64_t k = from;; k++) {
        int n = plan(k, &m, ops);
        strata_txn *t;
        if (strata_txn_begin(db, &t)) _exit(4);
        for (int i = 0; i < n; i++) {
            char id[16];
            id_of(ops[i].idx, id);
            int rc;
            if (ops[i].kind) rc = strata_doc_delete(db, t, id, strlen(id));
            else {
                content(ops[i].seed, ops[i].size, buf);
                rc = strata_doc_put(db, t, id, strlen(id), buf, ops[i].size, NULL);
                float v[8];
                vec_of(ops[i].seed ^ k, v);
                if (!rc) rc = strata_vec_put(db, t, "c", id, strlen(id), v, 8);
            }
            if (rc) { fprintf(stderr, "child op: %s\n", strata_errmsg(db)); _exit(5); }
        }
        char val[32];
        snprintf(val, sizeof val, "%llu", (unsigned long long)k);
        if (strata_setting_set(db, t, "last_txn", val)) _exit(6);
        if (strata_txn_commit(t, NULL)) { fprintf(stderr, "child commit: %s\n", strata_errmsg(db)); _exit(7); }
        apply(&m, k, ops, n);
        uint64_t ack = k;
        if (write(ackfd, &ack, sizeof ack) != sizeof ack) _exit(8);
        if (k % 40 == 0 && strata_compact(db, 0.3, NULL)) { fprintf(stderr, "child compact: %s\n", strata_errmsg(db)); _exit(9); }
    }
}

static int verify(const char *dir, uint64_t acked, uint64_t *committed_out) {
    strata *db = open_dir(dir);
    if (!db) { fprintf(stderr, "reopen failed: %s\n", strata_open_errmsg()); return 0; }
    char *v = NULL;
    uint64_t committed = 0;
    if (strata_setting_get(db, "last_txn", &v, NULL) == STRATA_OK) committed = strtoull(v, NULL, 10);
    strata_free(v);
    int ok = 1;
    if (committed != acked && committed != acked + 1) {
        fprintf(stderr, "committed %llu but acknowledged %llu\n", (unsigned long long)committed,
                (unsigned long long)acked);
        ok = 0;
    }
    model m;
    memset(&m, 0, sizeof m);
    op ops[4];
    for (uint64_t k = 1; k <= committed; k++) apply(&m, k, ops, plan(k, &m, ops));
    char *want = malloc(1600000);
    for (int i = 0; i < NIDS && ok; i++) {
        char id[16];
        id_of(i, id);
        void *got = NULL;
        size_t len = 0;
        int rc = strata_doc_get(db, id, strlen(id), &got, &len);
        float want_v[8], got_v[8];
        int vrc = strata_vec_get(db, "c", id, strlen(id), got_v, 8);
        if (!m.ver[i]) {
            if (rc != STRATA_ENOTFOUND) { fprintf(stderr, "%s should be absent (rc %d)\n", id, rc); ok = 0; }
            if (vrc != STRATA_ENOTFOUND) { fprintf(stderr, "%s's vector should be absent (rc %d)\n", id, vrc); ok = 0; }
        } else {
            vec_of(m.seed[i] ^ m.ver[i], want_v);
            if (vrc || memcmp(want_v, got_v, sizeof got_v)) {
                fprintf(stderr, "%s's vector differs (rc %d: %s)\n", id, vrc, strata_errmsg(db));
                ok = 0;
            }
            content(m.seed[i], m.size[i], want);
            if (rc || len != m.size[i] || memcmp(got, want, len)) {
                fprintf(stderr, "%s differs (rc %d: %s)\n", id, rc, strata_errmsg(db));
                ok = 0;
            }
        }
        strata_free(got);
    }
    free(want);
    uint64_t problems = 0;
    if (strata_check(db, NULL, NULL, &problems) != STRATA_OK || problems) {
        fprintf(stderr, "check found %llu problems\n", (unsigned long long)problems);
        ok = 0;
    }
    strata_close(db);
    *committed_out = committed;
    return ok;
}

int main(void) {
    const char *env = getenv("STRATA_CRASH_KILLS");
    int kills = env ? atoi(env) : 50;
    char *dir = t_tmpdir("crash");
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t next = 1, total_acked = 0;
    int bad = 0;
    for (int round = 0; round < kills && !bad; round++) {
        int p[2];
        if (pipe(p) != 0) abort();
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(dir, next, p[1]);
            _exit(0);
        }
        close(p[1]);
        usleep((useconds_t)(5000 + rand() % 150000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        uint64_t ack, acked = next - 1;
        while (read(p[0], &ack, sizeof ack) == sizeof ack) acked = ack;
        close(p[0]);
        if (WIFEXITED(status)) {
            fprintf(stderr, "round %d: child exited with %d before the kill\n", round, WEXITSTATUS(status));
            bad = 1;
            break;
        }
        uint64_t committed = 0;
        int ok = verify(dir, acked, &committed);
        CHECK(ok);
        if (!ok) { fprintf(stderr, "round %d failed (acked %llu)\n", round, (unsigned long long)acked); bad = 1; }
        total_acked += acked - (next - 1);
        next = committed + 1;
    }
    printf("crash test: %d kills, %llu transactions acknowledged, store at transaction %llu\n", kills,
           (unsigned long long)total_acked, (unsigned long long)(next - 1));
    CHECK(total_acked > 0);
    t_rmtree(dir);
    return t_done();
}
