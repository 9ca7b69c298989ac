/* bench_vector.c — Strata's HNSW (f32, f16, i8) against hnswlib and FAISS
 * IndexHNSWFlat on the same data in one run (DESIGN.md principle 6), all with M=16,
 * ef_construction=200, inner product on unit vectors (= cosine), k=10.
 *
 *   bench_vector DATADIR [--n N] [--engines strata,strata-f16,strata-i8,hnswlib,faiss]
 *                [--efs 10,16,...] [--threads 2] [--repeat 1] [--passes 3] [--ckpt DIR]
 *                [--queries Q] [--filters 0|1] [--rerank R]
 *
 * DATADIR is one data set made by ../shared/bench/vectors/vecprep (base.fvecs,
 * query.fvecs, gt_N.ivecs); --n picks the first N base rows (gt_N.ivecs must exist;
 * default: the largest gt file).
 *
 * Each engine runs in its own forked child, so its resident-memory growth (RSS
 * after build minus before) is not blurred by another engine's freed memory. Build
 * time is CPU seconds (user + system, all threads: the machine is shared and wall
 * time swings) with wall seconds beside it; --repeat builds that many times and
 * prints the median. Searches are single-threaded, one query at a time, after a
 * warm-up: for each ef, --passes passes over the queries; the pass with the median
 * QPS gives QPS and the p50/p99 latency per query; recall@10 against the exact
 * ground truth. Search time is the thread's CPU time per query
 * (CLOCK_THREAD_CPUTIME_ID; ~0.3 us per query of clock overhead, the same for every
 * engine) for the same reason build time is CPU time: on a machine shared with other
 * builds, wall time adds whole scheduler time slices to random queries (p99s of
 * several ms). Wall-clock QPS and p99 are printed beside it. Then, per
 * engine, QPS interpolated at recall 0.95 and 0.99 and its ratio to hnswlib's.
 * Filtered search (Strata f32, --filters 1, default): recall@10 against the exact
 * filtered answer and QPS at 1%, 10% and 50% selectivity, the default strategy
 * beside a forced graph walk.
 * With --ckpt DIR the Strata f32 index is also written as a checkpoint and opened
 * (mmap + full verification) 5 times: the median open time is printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "anchors.h"
#include "strata.h"
#include "vector/vec.h"

#define MAXPT 32
#define MAXREP 9
#define K 10

/* qps, p50, p99: thread CPU time (what preemption on a shared machine cannot blur);
 * qps_wall, p99_wall: wall clock, for reference. */
typedef struct point { int ef; double recall, qps, p50_us, p99_us, qps_wall, p99_wall_us; } point;

typedef struct fpoint { double sel, est_recall_auto, qps_auto, recall_graph, qps_graph; } fpoint;

typedef struct result {
    char name[24];
    int ok, nrep, npt;
    double cpu[MAXREP], wall[MAXREP];
    double rss_mb;          /* RSS growth over the build (first repetition) */
    double index_mb, raw_mb;/* Strata's own accounting */
    double open_s;          /* checkpoint open (median of 5), 0 if not measured */
    double ckpt_mb;
    char kernels[16];
    point pt[MAXPT];
    int nf, filter_ef;
    fpoint fp[3];
} result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(void) {
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static void *read_vecs(const char *path, size_t max_rows, size_t *rows, int *dim) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > 65536) {
        fclose(f);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    size_t row = 4 + (size_t)d * 4, n = (size_t)ftell(f) / row;
    fseek(f, 0, SEEK_SET);
    if (max_rows && max_rows < n) n = max_rows;
    char *out = malloc(n * (size_t)d * 4 + 1);
    char *buf = malloc(row);
    for (size_t i = 0; out && buf && i < n; i++) {
        if (fread(buf, row, 1, f) != 1) {
            free(out);
            out = NULL;
            break;
        }
        memcpy(out + i * (size_t)d * 4, buf + 4, (size_t)d * 4);
    }
    free(buf);
    fclose(f);
    *rows = n;
    *dim = d;
    return out;
}

/* ---------- engines ---------- */

typedef struct data {
    const float *x, *q;
    const int32_t *gt; /* nq x gtk */
    size_t n, nq;
    int dim, gtk, threads;
    const int *efs;
    int nefs;
    const char *ckpt_dir;
    int passes;
    int filters;
} data;

typedef struct engine {
    const char *name;
    int kind;  /* 0 strata, 1 hnswlib, 2 faiss */
    int dtype;
} engine;

static vec_hnsw *strata_build(const data *d, int dtype) {
    vec_params p;
    vec_params_init(&p, (uint32_t)d->dim);
    p.metric = VEC_METRIC_IP;
    p.dtype = dtype;
    vec_hnsw *h = NULL;
    if (vec_hnsw_create(&p, &h)) return NULL;
    uint64_t *labels = malloc(d->n * sizeof *labels);
    for (size_t i = 0; i < d->n; i++) labels[i] = i;
    int rc = vec_hnsw_add_batch(h, labels, d->x, d->n, (uint32_t)d->dim, d->threads, NULL);
    free(labels);
    if (rc) {
        fprintf(stderr, "strata build: %s\n", strata_errstr(rc));
        vec_hnsw_free(h);
        return NULL;
    }
    return h;
}

typedef struct idx { const engine *e; void *p; } idx;

static uint32_t g_rerank; /* --rerank: f16/i8 rerank depth (0: the index's default) */

static int do_search(idx *ix, const float *q, int ef, uint64_t *labels) {
    if (ix->e->kind == 0) {
        vec_search_opts o = {.k = K, .ef = (uint32_t)ef, .mode = VEC_SEARCH_GRAPH, .rerank = g_rerank};
        vec_hit hits[K];
        size_t nh = 0;
        if (vec_hnsw_search(ix->p, q, (uint32_t)vec_hnsw_params(ix->p)->dim, &o, hits, &nh)) return -1;
        for (size_t i = 0; i < nh; i++) labels[i] = hits[i].label;
        return (int)nh;
    }
    if (ix->e->kind == 1) return hnswlib_search(ix->p, q, K, labels);
    return faiss_search(ix->p, q, K, labels);
}

static void set_ef(idx *ix, int ef) {
    if (ix->e->kind == 1) hnswlib_set_ef(ix->p, ef);
    if (ix->e->kind == 2) faiss_set_ef(ix->p, ef);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double t[MAXREP];
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double fabs_d(double x) { return x < 0 ? -x : x; }

/* Each ef: `passes` passes over all queries; the pass with the median CPU-time QPS
 * gives the figures (the machine is shared: one slow pass must not decide). */
static void sweep(idx *ix, const data *d, result *r) {
    double *lat = malloc(d->nq * d->passes * sizeof *lat), *wl = malloc(d->nq * d->passes * sizeof *wl);
    double qps[MAXREP], wall[MAXREP];
    uint64_t lab[K];
    set_ef(ix, d->efs[0]);
    for (size_t i = 0; i < d->nq && i < 200; i++) do_search(ix, d->q + i * d->dim, d->efs[0], lab); /* warm-up */
    for (int e = 0; e < d->nefs && r->npt < MAXPT; e++) {
        int ef = d->efs[e];
        set_ef(ix, ef);
        size_t hit = 0;
        for (int ps = 0; ps < d->passes; ps++) {
            double total = 0, wtotal = 0, *l = lat + (size_t)ps * d->nq, *w = wl + (size_t)ps * d->nq;
            for (size_t i = 0; i < d->nq; i++) {
                double w0 = now_s(), t0 = thread_cpu_s();
                int m = do_search(ix, d->q + i * d->dim, ef, lab);
                double t = thread_cpu_s() - t0, wt = now_s() - w0;
                l[i] = t;
                w[i] = wt;
                total += t;
                wtotal += wt;
                if (ps == 0)
                    for (int j = 0; j < m; j++)
                        for (int g = 0; g < K; g++)
                            if ((int64_t)lab[j] == d->gt[i * d->gtk + g]) {
                                hit++;
                                break;
                            }
            }
            qps[ps] = (double)d->nq / total;
            wall[ps] = (double)d->nq / wtotal;
        }
        double med = median(qps, d->passes);
        int mp = 0;
        for (int ps = 0; ps < d->passes; ps++)
            if (fabs_d(qps[ps] - med) < fabs_d(qps[mp] - med)) mp = ps;
        double *l = lat + (size_t)mp * d->nq, *w = wl + (size_t)mp * d->nq;
        qsort(l, d->nq, sizeof *l, cmp_d);
        qsort(w, d->nq, sizeof *w, cmp_d);
        point *p = &r->pt[r->npt++];
        p->ef = ef;
        p->recall = (double)hit / (double)(d->nq * K);
        p->qps = qps[mp];
        p->qps_wall = median(wall, d->passes);
        p->p50_us = l[d->nq / 2] * 1e6;
        p->p99_us = l[(d->nq * 99) / 100] * 1e6;
        p->p99_wall_us = w[(d->nq * 99) / 100] * 1e6;
    }
    free(lat);
    free(wl);
}

/* ---------- filtered search (Strata f32) ---------- */

static int allow_frac(void *ctx, uint64_t label) {
    uint64_t per_mille = *(const uint64_t *)ctx;
    return (label * 0x9E3779B97F4A7C15ull >> 40) % 1000 < per_mille;
}

/* Recall@10 and QPS at 1%, 10%, 50% selectivity on the first 200 queries, for the
 * default strategy (AUTO: exact scan below 5% estimated selectivity) and for a forced
 * graph walk, at the ef where the unfiltered sweep first reached 0.95. */
static void filtered(vec_hnsw *h, const data *d, result *r) {
    const point *p95 = NULL;
    for (int i = 0; i < r->npt; i++)
        if (r->pt[i].recall >= 0.95) { p95 = &r->pt[i]; break; }
    int ef = p95 ? p95->ef : 64;
    r->filter_ef = ef;
    size_t nq = d->nq < 200 ? d->nq : 200;
    static const uint64_t sel[3] = {10, 100, 500};
    vec_hit *gt = malloc(nq * K * sizeof *gt), hits[K];
    size_t *ngt = malloc(nq * sizeof *ngt);
    for (int s = 0; s < 3; s++) {
        uint64_t pm = sel[s];
        size_t want = 0;
        /* Truth first, for all queries: its full scans must not cool the timed runs. */
        for (size_t i = 0; i < nq; i++) {
            vec_search_opts o = {.k = K, .ef = (uint32_t)ef, .mode = VEC_SEARCH_EXACT, .allow = allow_frac, .allow_ctx = &pm};
            vec_hnsw_search(h, d->q + i * d->dim, (uint32_t)d->dim, &o, gt + i * K, &ngt[i]);
            want += ngt[i];
        }
        double t[2];
        size_t hit[2] = {0, 0};
        for (int m = 0; m < 2; m++) { /* 0: AUTO (the default strategy), 1: graph walk only */
            vec_search_opts o = {.k = K, .ef = (uint32_t)ef, .mode = m ? VEC_SEARCH_GRAPH : VEC_SEARCH_AUTO,
                                 .allow = allow_frac, .allow_ctx = &pm};
            double t0 = thread_cpu_s();
            for (size_t i = 0; i < nq; i++) {
                size_t nh = 0;
                vec_hnsw_search(h, d->q + i * d->dim, (uint32_t)d->dim, &o, hits, &nh);
                for (size_t a = 0; a < nh; a++)
                    for (size_t g = 0; g < ngt[i]; g++)
                        if (hits[a].label == gt[i * K + g].label) {
                            hit[m]++;
                            break;
                        }
            }
            t[m] = thread_cpu_s() - t0;
        }
        fpoint *f = &r->fp[r->nf++];
        f->sel = (double)pm / 1000;
        f->est_recall_auto = want ? (double)hit[0] / (double)want : 1;
        f->qps_auto = (double)nq / t[0];
        f->recall_graph = want ? (double)hit[1] / (double)want : 1;
        f->qps_graph = (double)nq / t[1];
    }
    free(gt);
    free(ngt);
}

/* One repetition of one engine, in a child process. */
static void run_child(const engine *e, const data *d, result *r, int rep, int last) {
    double rss0 = rss_mb(), c0 = cpu_s(), w0 = now_s();
    idx ix = {e, NULL};
    if (e->kind == 0) ix.p = strata_build(d, e->dtype);
    else if (e->kind == 1) ix.p = hnswlib_build(d->x, d->n, d->dim, 16, 200, d->threads);
    else ix.p = faiss_build(d->x, d->n, d->dim, 16, 200, d->threads);
    if (!ix.p) return;
    r->cpu[rep] = cpu_s() - c0;
    r->wall[rep] = now_s() - w0;
    if (rep == 0) r->rss_mb = rss_mb() - rss0;
    if (e->kind == 0) {
        vec_stats st;
        vec_hnsw_stats(ix.p, &st);
        r->index_mb = (double)st.index_bytes / 1048576.0;
        r->raw_mb = (double)st.raw_bytes / 1048576.0;
        snprintf(r->kernels, sizeof r->kernels, "%s", st.kernels);
    }
    if (last) {
        sweep(&ix, d, r);
        if (e->kind == 0 && e->dtype == VEC_DTYPE_F32 && d->filters) filtered(ix.p, d, r);
        if (e->kind == 0 && d->ckpt_dir && e->dtype == VEC_DTYPE_F32) {
            char path[4096];
            snprintf(path, sizeof path, "%s/bench_vector.hnsw", d->ckpt_dir);
            if (vec_ckpt_write(ix.p, path, 1, 0) == STRATA_OK) {
                double t[5];
                for (int i = 0; i < 5; i++) {
                    vec_hnsw *g = NULL;
                    double t0 = now_s();
                    int rc = vec_ckpt_open(path, &g, NULL);
                    t[i] = now_s() - t0;
                    if (rc) fprintf(stderr, "checkpoint open: %s\n", strata_errstr(rc));
                    vec_hnsw_free(g);
                }
                qsort(t, 5, sizeof t[0], cmp_d);
                r->open_s = t[2];
                FILE *f = fopen(path, "rb");
                if (f) {
                    fseek(f, 0, SEEK_END);
                    r->ckpt_mb = (double)ftell(f) / 1048576.0;
                    fclose(f);
                }
                unlink(path);
            }
        }
    }
    r->nrep = rep + 1;
    r->ok = 1;
}

/* QPS at a recall target, linearly interpolated along the sweep (0: never reached). */
static double qps_at(const result *r, double target) {
    for (int i = 0; i < r->npt; i++) {
        if (r->pt[i].recall < target) continue;
        if (i == 0) return r->pt[0].qps;
        const point *a = &r->pt[i - 1], *b = &r->pt[i];
        if (b->recall <= a->recall) return b->qps;
        double f = (target - a->recall) / (b->recall - a->recall);
        return a->qps + f * (b->qps - a->qps);
    }
    return 0;
}

static const point *first_at(const result *r, double target) {
    for (int i = 0; i < r->npt; i++)
        if (r->pt[i].recall >= target) return &r->pt[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s DATADIR [--n N] [--engines LIST] [--efs LIST] [--threads T] [--repeat R] "
                        "[--passes P] [--ckpt DIR] [--queries Q]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *engines = "strata,strata-f16,strata-i8,hnswlib,faiss", *efs_s =
        "10,16,24,32,48,64,96,128,192,256,384,512";
    size_t n = 0, nq_max = 0;
    int threads = 2, repeat = 1, passes = 3, filters = 1;
    const char *ckpt = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = (size_t)atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--engines")) engines = argv[i + 1];
        else if (!strcmp(argv[i], "--efs")) efs_s = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ckpt")) ckpt = argv[i + 1];
        else if (!strcmp(argv[i], "--queries")) nq_max = (size_t)atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--passes")) passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--filters")) filters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rerank")) g_rerank = (uint32_t)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (repeat < 1) repeat = 1;
    if (repeat > MAXREP) repeat = MAXREP;
    if (passes < 1) passes = 1;
    if (passes > MAXREP) passes = MAXREP;
    char path[4096];
    if (n == 0) { /* the largest gt_N.ivecs */
        FILE *p;
        snprintf(path, sizeof path, "ls %s/gt_*.ivecs 2>/dev/null | sed 's/.*gt_//; s/.ivecs//' | sort -n | tail -1", dir);
        p = popen(path, "r");
        if (p) {
            char line[64] = "";
            if (fgets(line, sizeof line, p)) n = (size_t)atoll(line);
            pclose(p);
        }
    }
    size_t nb, nq, ng;
    int dim, dq, gtk;
    snprintf(path, sizeof path, "%s/base.fvecs", dir);
    float *x = read_vecs(path, n, &nb, &dim);
    snprintf(path, sizeof path, "%s/query.fvecs", dir);
    float *q = read_vecs(path, nq_max, &nq, &dq);
    snprintf(path, sizeof path, "%s/gt_%zu.ivecs", dir, n);
    int32_t *gt = read_vecs(path, nq_max, &ng, &gtk);
    if (!x || !q || !gt || nb != n || dq != dim || ng != nq || gtk < K) {
        fprintf(stderr, "bench_vector: cannot load %s (base.fvecs, query.fvecs, gt_%zu.ivecs)\n", dir, n);
        return 1;
    }
    int efs[MAXPT], nefs = 0;
    for (const char *s = efs_s; *s && nefs < MAXPT;) {
        efs[nefs++] = atoi(s);
        const char *c = strchr(s, ',');
        if (!c) break;
        s = c + 1;
    }
    data d = {x, q, gt, nb, nq, dim, gtk, threads, efs, nefs, ckpt, passes, filters};
    static const engine all[] = {
        {"strata", 0, VEC_DTYPE_F32}, {"strata-f16", 0, VEC_DTYPE_F16}, {"strata-i8", 0, VEC_DTYPE_I8},
        {"hnswlib", 1, 0}, {"faiss", 2, 0},
    };
    result *res = mmap(NULL, sizeof(result) * 5, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) return 1;
    memset(res, 0, sizeof(result) * 5);
    printf("bench_vector: %s  n=%zu dim=%d queries=%zu  M=16 efC=200 k=10  build threads=%d, search 1 thread,"
           " %d passes per ef (median), %d build(s) per engine (median)\n", dir, nb, dim, nq, threads, passes, repeat);
    printf("CPU: %d online cores; hnswlib anchor %s (compiled -O3 -march=native), FAISS anchor %s\n",
           (int)sysconf(_SC_NPROCESSORS_ONLN), anchor_have_hnswlib() ? "on" : "NOT BUILT",
           anchor_have_faiss() ? "on (IndexHNSWFlat)" : "NOT BUILT (libfaiss-dev missing): skipped");
    fflush(stdout);
    int nres = 0;
    for (int e = 0; e < 5; e++) {
        char key[32];
        snprintf(key, sizeof key, ",%s,", all[e].name);
        char list[512];
        snprintf(list, sizeof list, ",%s,", engines);
        if (!strstr(list, key)) continue;
        if ((all[e].kind == 1 && !anchor_have_hnswlib()) || (all[e].kind == 2 && !anchor_have_faiss())) {
            printf("%s: not built in, skipped\n", all[e].name);
            continue;
        }
        result *r = &res[nres++];
        snprintf(r->name, sizeof r->name, "%s", all[e].name);
        for (int rep = 0; rep < repeat; rep++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                run_child(&all[e], &d, r, rep, rep == repeat - 1);
                _exit(r->ok ? 0 : 1);
            }
            int st = 0;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                printf("%s: failed (status %d)\n", all[e].name, st);
                r->ok = 0;
                break;
            }
        }
        if (r->ok)
            printf("%-11s built: %.1f CPU s (median of %d; wall %.1f s), RSS +%.0f MB\n", r->name,
                   median(r->cpu, r->nrep), r->nrep, median(r->wall, r->nrep), r->rss_mb);
        fflush(stdout);
    }
    const result *hn = NULL;
    for (int i = 0; i < nres; i++)
        if (!strcmp(res[i].name, "hnswlib") && res[i].ok) hn = &res[i];

    printf("\n== search sweep (single thread; QPS and latency in thread CPU time, wall clock beside) ==\n"
           "%-11s %5s %8s %9s %9s %9s %10s %11s\n", "engine", "ef", "recall", "QPS", "p50 us", "p99 us",
           "QPS wall", "p99us wall");
    for (int i = 0; i < nres; i++) {
        if (!res[i].ok) continue;
        for (int j = 0; j < res[i].npt; j++) {
            const point *p = &res[i].pt[j];
            printf("%-11s %5d %8.4f %9.0f %9.1f %9.1f %10.0f %11.1f\n", res[i].name, p->ef, p->recall, p->qps,
                   p->p50_us, p->p99_us, p->qps_wall, p->p99_wall_us);
        }
    }
    printf("\n== summary ==\n%-11s %9s %8s %9s %8s %10s %8s %10s %8s %13s\n", "engine", "build CPU", "x hnsw",
           "RSS MB", "x hnsw", "QPS@0.95", "x hnsw", "QPS@0.99", "x hnsw", "p99us@0.95");
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        if (!r->ok) continue;
        double b = median(r->cpu, r->nrep), q95 = qps_at(r, 0.95), q99 = qps_at(r, 0.99);
        const point *p95 = first_at(r, 0.95);
        char pb[32] = "n/a";
        if (p95) snprintf(pb, sizeof pb, "%.0f (ef %d)", p95->p99_us, p95->ef);
        printf("%-11s %9.1f %8.2f %9.0f %8.2f %10.0f %8.2f %10.0f %8.2f %13s\n", r->name, b,
               hn ? b / median(hn->cpu, hn->nrep) : 0, r->rss_mb, hn ? r->rss_mb / hn->rss_mb : 0, q95,
               hn && qps_at(hn, 0.95) > 0 ? q95 / qps_at(hn, 0.95) : 0, q99,
               hn && qps_at(hn, 0.99) > 0 ? q99 / qps_at(hn, 0.99) : 0, pb);
    }
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        if (!r->ok || strncmp(r->name, "strata", 6) != 0) continue;
        printf("%-11s kernels %s; index (compact vectors + links + labels + map) %.1f MB%s", r->name, r->kernels,
               r->index_mb, hn ? "" : "\n");
        if (hn) printf(" = %.3f x hnswlib's RSS", r->index_mb / hn->rss_mb);
        if (r->raw_mb > 0) printf("; + f32 rerank copies %.1f MB (file-backed once opened from a checkpoint)", r->raw_mb);
        printf("\n");
        for (int f = 0; f < r->nf; f++)
            printf("%-11s filtered %4.0f%% (ef %d, 200 queries): default strategy recall %.4f at %.0f QPS; "
                   "graph walk only recall %.4f at %.0f QPS\n", r->name, r->fp[f].sel * 100, r->filter_ef,
                   r->fp[f].est_recall_auto, r->fp[f].qps_auto, r->fp[f].recall_graph, r->fp[f].qps_graph);
        if (r->open_s > 0)
            printf("%-11s checkpoint %.0f MB: open (mmap + verify all checksums and links) median of 5: %.3f s\n",
                   r->name, r->ckpt_mb, r->open_s);
    }
    munmap(res, sizeof(result) * 5);
    free(x);
    free(q);
    free(gt);
    return 0;
}
