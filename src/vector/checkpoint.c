/* checkpoint.c — the HNSW checkpoint: the whole graph in one file that opens with
 * mmap, so a large collection is searchable without rebuilding it from the log
 * (format: doc/format/vector.md). The checkpoint is derived data: any damage is
 * STRATA_ECORRUPT and the caller rebuilds from the vector log.
 *
 * The sections hold the in-memory arrays byte for byte (level-0 node records,
 * labels, upper-layer lists, f32 rerank copies), each 4 KiB aligned, so opening is
 * a private (copy-on-write) mapping plus pointer set-up: no parsing, no copying
 * except the last partial block of slots (the index must be able to grow there).
 * The label map is rebuilt at open (one hash insert per live slot).
 *
 * Verification trade-off. The header carries its own CRC and a CRC of the CRC
 * table; the body has one CRC-32C per 1 MiB chunk of each section. We verify every
 * chunk at open (two threads), and walk the structure (link counts, link targets,
 * levels, upper offsets, entry point, live count, unique labels) so that even a
 * CRC-valid but inconsistent file cannot send a search out of bounds. That reads
 * the whole file once: ~0.3-0.5 s for 1M x 128-d when the file is in the page cache
 * (bench_vector measures it), within the < 1 s goal. Lazy per-chunk verification on
 * first touch would open faster on a cold cache but puts a check in the search hot
 * path and turns a corruption found mid-query into a failed search instead of a
 * rebuild at open; we chose the simple, safe side. A file whose open is slower than
 * a rebuild is not a concern: rebuilding 1M vectors takes minutes.
 *
 * Writing: temp file in the same directory, fsync, rename over the old file, fsync
 * of the directory — a crash leaves the old or the new checkpoint whole.
 */
#include "vector/hnsw_int.h"
#include "strata.h"
#include "util/crc32c.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include "vector/vmath.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CK_MAGIC "STRATAHN"
#define CK_VERSION 1u
#define CK_HDR 4096u
#define CK_CHUNK (1u << 20)
#define CK_NSEC 6
enum { SEC_NODES, SEC_LABELS, SEC_UPIDX, SEC_UPPER, SEC_RAW, SEC_CRCS };

static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t align4k(uint64_t x) { return (x + 4095) & ~(uint64_t)4095; }
static inline uint64_t nchunks(uint64_t len) { return (len + CK_CHUNK - 1) / CK_CHUNK; }

/* fsync the directory that holds `path` (a file name). 0 or errno. */
static int fsync_parent(const char *path) {
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) return ENOMEM;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    int rc = su_fsync_dir(dir);
    free(dir);
    return rc;
}

/* ---------- writing ---------- */

typedef struct ck_writer {
    int fd;
    uint64_t off;       /* file offset of buf[0] */
    uint8_t *buf;
    size_t fill;
    uint32_t *crcs;     /* chunk CRCs so far */
    size_t ncrc, crc_cap;
    uint32_t cur;       /* CRC of the current chunk */
    uint64_t in_chunk;  /* bytes of the current chunk */
    int err;            /* errno */
} ck_writer;

static void w_flush(ck_writer *w) {
    if (w->err || w->fill == 0) return;
    w->err = su_pwrite_all(w->fd, w->buf, w->fill, w->off);
    w->off += w->fill;
    w->fill = 0;
}

static void w_crc_close(ck_writer *w) {
    if (w->in_chunk == 0) return;
    if (w->ncrc == w->crc_cap) {
        size_t cap = w->crc_cap ? w->crc_cap * 2 : 256;
        uint32_t *c = realloc(w->crcs, cap * 4);
        if (!c) {
            w->err = ENOMEM;
            return;
        }
        w->crcs = c;
        w->crc_cap = cap;
    }
    w->crcs[w->ncrc++] = w->cur;
    w->cur = 0;
    w->in_chunk = 0;
}

/* Section bytes (checksummed per chunk). */
static void w_bytes(ck_writer *w, const void *p, size_t n) {
    const uint8_t *s = p;
    while (n && !w->err) {
        size_t room = CK_CHUNK - (size_t)w->in_chunk, m = n < room ? n : room;
        w->cur = su_crc32c(w->cur, s, m);
        w->in_chunk += m;
        if (w->in_chunk == CK_CHUNK) w_crc_close(w);
        while (m && !w->err) {
            size_t r = CK_CHUNK - w->fill, t = m < r ? m : r;
            memcpy(w->buf + w->fill, s, t);
            w->fill += t;
            s += t;
            m -= t;
            n -= t;
            if (w->fill == CK_CHUNK) w_flush(w);
        }
    }
}

/* End a section: close its last chunk, pad the file to 4 KiB (padding unchecked). */
static void w_end_section(ck_writer *w) {
    w_crc_close(w);
    uint64_t pos = w->off + w->fill, to = align4k(pos);
    static const uint8_t zeros[4096];
    while (pos < to && !w->err) {
        size_t t = (size_t)(to - pos);
        if (w->fill + t > CK_CHUNK) w_flush(w);
        memcpy(w->buf + w->fill, zeros, t);
        w->fill += t;
        pos += t;
    }
}

int vec_ckpt_write(vec_hnsw *h, const char *path, uint64_t lsn, uint64_t log_offset) {
    if (!h || !path) return STRATA_EINVAL;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return STRATA_ENOMEM;
    snprintf(tmp, plen + 16, "%s.tmp", path);
    ck_writer w = {.fd = -1};
    w.buf = malloc(CK_CHUNK);
    if (!w.buf) {
        free(tmp);
        return STRATA_ENOMEM;
    }
    pthread_rwlock_wrlock(&h->mut_lock);
    uint32_t n = atomic_load(&h->nslots), d = h->p.dim;
    uint64_t e = atomic_load(&h->entry);
    uint64_t sec_off[CK_NSEC], sec_len[CK_NSEC];
    uint64_t upper_words = 0, live = 0;
    for (uint32_t id = 0; id < n; id++) {
        uint32_t lv = vh_level(h, id);
        if (lv) upper_words += 1 + (uint64_t)lv * (h->M + 1);
        live += vh_is_live(h, id);
    }
    sec_len[SEC_NODES] = (uint64_t)n * h->node_size;
    sec_len[SEC_LABELS] = (uint64_t)n * 8;
    sec_len[SEC_UPIDX] = (uint64_t)n * 4;
    sec_len[SEC_UPPER] = upper_words * 4;
    sec_len[SEC_RAW] = h->p.dtype == VEC_DTYPE_F32 ? 0 : (uint64_t)n * d * 4;
    uint64_t total_chunks = 0;
    for (int s = 0; s < SEC_CRCS; s++) total_chunks += nchunks(sec_len[s]);
    sec_len[SEC_CRCS] = total_chunks * 4;
    uint64_t pos = CK_HDR;
    for (int s = 0; s < CK_NSEC; s++) {
        sec_off[s] = pos;
        pos = align4k(pos + sec_len[s]);
    }
    int rc = STRATA_OK;
    w.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        rc = su_errno_status(errno);
        goto out;
    }
    w.off = CK_HDR;
    uint32_t bs = 1u << h->shift;
    /* nodes, labels: straight from the blocks */
    for (uint32_t b = 0; (uint64_t)b * bs < n; b++) {
        uint32_t cnt = n - b * bs < bs ? n - b * bs : bs;
        w_bytes(&w, h->ntab[b], (size_t)cnt * h->node_size);
    }
    w_end_section(&w);
    for (uint32_t b = 0; (uint64_t)b * bs < n; b++) {
        uint32_t cnt = n - b * bs < bs ? n - b * bs : bs;
        w_bytes(&w, h->btab[b]->labels, (size_t)cnt * 8);
    }
    w_end_section(&w);
    uint32_t uoff = 0;
    for (uint32_t id = 0; id < n; id++) {
        uint32_t lv = vh_level(h, id), v = lv ? uoff : VH_NONE;
        if (lv) uoff += 1 + lv * (h->M + 1);
        uint8_t b4[4];
        put32(b4, v);
        w_bytes(&w, b4, 4);
    }
    w_end_section(&w);
    for (uint32_t id = 0; id < n; id++) {
        uint32_t lv = vh_level(h, id);
        if (lv) w_bytes(&w, vh_upper(h, id), (1 + (size_t)lv * (h->M + 1)) * 4);
    }
    w_end_section(&w);
    if (h->p.dtype != VEC_DTYPE_F32)
        for (uint32_t b = 0; (uint64_t)b * bs < n; b++) {
            uint32_t cnt = n - b * bs < bs ? n - b * bs : bs;
            w_bytes(&w, h->btab[b]->raw, (size_t)cnt * d * 4);
        }
    w_end_section(&w);
    if (!w.err && w.ncrc != total_chunks) w.err = EIO; /* cannot happen: sizes computed above */
    uint32_t table_crc = w.err ? 0 : su_crc32c(0, w.crcs, w.ncrc * 4);
    if (!w.err) {
        w_flush(&w);
        if (!w.err && w.ncrc) w.err = su_pwrite_all(w.fd, w.crcs, w.ncrc * 4, w.off);
    }
    if (w.err) {
        rc = su_errno_status(w.err);
        goto out;
    }
    uint8_t hd[CK_HDR];
    memset(hd, 0, sizeof hd);
    memcpy(hd, CK_MAGIC, 8);
    put32(hd + 8, CK_VERSION);
    put32(hd + 12, CK_HDR);
    put32(hd + 16, d);
    hd[20] = (uint8_t)h->p.metric;
    hd[21] = (uint8_t)h->p.dtype;
    put32(hd + 24, h->p.M);
    put32(hd + 28, h->p.ef_construction);
    put32(hd + 32, h->p.exact_threshold);
    memcpy(hd + 40, &h->p.filter_exact_below, 8);
    put64(hd + 48, h->p.seed);
    put32(hd + 56, (uint32_t)h->node_size);
    put32(hd + 60, (uint32_t)(e >> 32));
    put32(hd + 64, (uint32_t)e);
    put64(hd + 72, n);
    put64(hd + 80, live);
    put64(hd + 88, lsn);
    put64(hd + 96, log_offset);
    put64(hd + 104, upper_words);
    put64(hd + 112, CK_CHUNK);
    for (int s = 0; s < CK_NSEC; s++) {
        put64(hd + 120 + 16 * s, sec_off[s]);
        put64(hd + 128 + 16 * s, sec_len[s]);
    }
    put32(hd + 216, table_crc);
    put64(hd + 224, pos);
    put32(hd + CK_HDR - 4, su_crc32c(0, hd, CK_HDR - 4));
    int err = su_pwrite_all(w.fd, hd, CK_HDR, 0);
    if (!err && ftruncate(w.fd, (off_t)pos) != 0) err = errno;
    if (!err && fsync(w.fd) != 0) err = errno;
    if (!err && close(w.fd) != 0) err = errno;
    w.fd = -1;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (!err) err = fsync_parent(path);
    if (err) rc = su_errno_status(err);
out:
    pthread_rwlock_unlock(&h->mut_lock);
    if (w.fd >= 0) close(w.fd);
    if (rc) unlink(tmp);
    free(tmp);
    free(w.buf);
    free(w.crcs);
    return rc;
}

/* ---------- reading ---------- */

typedef struct ck_hdr {
    vec_params p;
    uint32_t node_size, max_level, entry;
    uint64_t n, live, lsn, log_offset, upper_words;
    uint64_t off[CK_NSEC], len[CK_NSEC];
    uint32_t table_crc;
} ck_hdr;

static int parse_header(const uint8_t *b, size_t len, ck_hdr *c) {
    if (len < CK_HDR || memcmp(b, CK_MAGIC, 8) != 0) return STRATA_ECORRUPT;
    if (su_crc32c(0, b, CK_HDR - 4) != get32(b + CK_HDR - 4)) return STRATA_ECORRUPT;
    uint32_t ver = get32(b + 8);
    if (ver != CK_VERSION) return ver > CK_VERSION ? STRATA_EVERSION : STRATA_ECORRUPT;
    if (get32(b + 12) != CK_HDR || get64(b + 112) != CK_CHUNK) return STRATA_ECORRUPT;
    memset(c, 0, sizeof *c);
    c->p.dim = get32(b + 16);
    c->p.metric = b[20];
    c->p.dtype = b[21];
    c->p.M = get32(b + 24);
    c->p.ef_construction = get32(b + 28);
    c->p.exact_threshold = get32(b + 32);
    memcpy(&c->p.filter_exact_below, b + 40, 8);
    c->p.seed = get64(b + 48);
    if (vec_params_check(&c->p)) return STRATA_ECORRUPT;
    c->node_size = get32(b + 56);
    c->max_level = get32(b + 60);
    c->entry = get32(b + 64);
    c->n = get64(b + 72);
    c->live = get64(b + 80);
    c->lsn = get64(b + 88);
    c->log_offset = get64(b + 96);
    c->upper_words = get64(b + 104);
    for (int s = 0; s < CK_NSEC; s++) {
        c->off[s] = get64(b + 120 + 16 * s);
        c->len[s] = get64(b + 128 + 16 * s);
    }
    c->table_crc = get32(b + 216);
    if (get64(b + 224) != len) return STRATA_ECORRUPT; /* truncated or extended */
    return STRATA_OK;
}

/* Sizes and bounds of every section against the header's counts and the file. */
static int check_layout(const vec_hnsw *h, const ck_hdr *c, uint64_t file_len) {
    uint64_t n = c->n;
    if (c->node_size != h->node_size || c->max_level > VH_MAX_LEVEL || c->live > n) return STRATA_ECORRUPT;
    if (n > ((uint64_t)VH_MAX_BLOCKS << h->shift) || n >= VH_NONE - 1) return STRATA_ECORRUPT;
    if (c->upper_words > ((uint64_t)1 << 34)) return STRATA_ECORRUPT;
    uint64_t want[CK_NSEC] = {
        n * h->node_size, n * 8, n * 4, c->upper_words * 4,
        h->p.dtype == VEC_DTYPE_F32 ? 0 : n * h->p.dim * 4, 0,
    };
    uint64_t chunks = 0;
    for (int s = 0; s < SEC_CRCS; s++) chunks += nchunks(want[s]);
    want[SEC_CRCS] = chunks * 4;
    uint64_t prev_end = CK_HDR;
    for (int s = 0; s < CK_NSEC; s++) {
        if (c->len[s] != want[s] || c->off[s] % 4096 != 0 || c->off[s] < prev_end) return STRATA_ECORRUPT;
        if (c->off[s] > file_len || c->len[s] > file_len - c->off[s]) return STRATA_ECORRUPT;
        prev_end = c->off[s] + c->len[s];
    }
    if (n == 0 ? c->entry != VH_NONE : c->entry >= n) return STRATA_ECORRUPT;
    return STRATA_OK;
}

typedef struct crc_job {
    const uint8_t *base;
    const ck_hdr *c;
    const uint8_t *table;
    uint64_t first, step; /* chunks first, first+step, ... */
    int bad;
} crc_job;

static void *crc_worker(void *arg) {
    crc_job *j = arg;
    uint64_t idx = 0;
    for (int s = 0; s < SEC_CRCS && !j->bad; s++) {
        uint64_t nc = nchunks(j->c->len[s]);
        for (uint64_t k = 0; k < nc; k++, idx++) {
            if (idx % j->step != j->first) continue;
            uint64_t o = k * CK_CHUNK, m = j->c->len[s] - o < CK_CHUNK ? j->c->len[s] - o : CK_CHUNK;
            if (su_crc32c(0, j->base + j->c->off[s] + o, (size_t)m) != get32(j->table + idx * 4)) {
                j->bad = 1;
                break;
            }
        }
    }
    return NULL;
}

static int verify_crcs(const uint8_t *base, const ck_hdr *c) {
    const uint8_t *table = base + c->off[SEC_CRCS];
    if (su_crc32c(0, table, (size_t)c->len[SEC_CRCS]) != c->table_crc) return STRATA_ECORRUPT;
    crc_job jobs[2] = {{base, c, table, 0, 2, 0}, {base, c, table, 1, 2, 0}};
    pthread_t th;
    int threaded = c->len[SEC_NODES] >= 8 * (uint64_t)CK_CHUNK && pthread_create(&th, NULL, crc_worker, &jobs[1]) == 0;
    if (!threaded) jobs[0].step = 1;
    crc_worker(&jobs[0]);
    if (threaded) pthread_join(th, NULL);
    return jobs[0].bad || jobs[1].bad ? STRATA_ECORRUPT : STRATA_OK;
}

/* Walk the graph structure; build levels check, label map and free list. */
static int check_structure(vec_hnsw *h, const uint8_t *base, const ck_hdr *c) {
    uint32_t n = (uint32_t)c->n;
    const uint8_t *nodes = base + c->off[SEC_NODES];
    const uint32_t *upidx = (const uint32_t *)(const void *)(base + c->off[SEC_UPIDX]);
    const uint32_t *upper = (const uint32_t *)(const void *)(base + c->off[SEC_UPPER]);
    const uint64_t *labels = (const uint64_t *)(const void *)(base + c->off[SEC_LABELS]);
    uint8_t *lv = malloc(n ? n : 1);
    if (!lv) return STRATA_ENOMEM;
    int rc = STRATA_ECORRUPT;
    uint64_t expect_off = 0, live = 0;
    for (uint32_t id = 0; id < n; id++) {
        uint32_t u = upidx[id];
        if (u == VH_NONE) {
            lv[id] = 0;
            continue;
        }
        /* Lists are laid out in slot order, back to back. */
        if (u != expect_off || (uint64_t)u + 1 > c->upper_words) goto out;
        uint32_t l = upper[u];
        if (l == 0 || l > c->max_level) goto out;
        uint64_t words = 1 + (uint64_t)l * (h->M + 1);
        if (u + words > c->upper_words) goto out;
        expect_off = u + words;
        lv[id] = (uint8_t)l;
    }
    if (expect_off != c->upper_words) goto out;
    if (n && lv[c->entry] != c->max_level) goto out;
    for (uint32_t id = 0; id < n; id++) {
        const uint8_t *nd = nodes + (size_t)id * h->node_size;
        uint32_t hdr = get32(nd + h->links_off);
        uint32_t cnt = hdr & VH_COUNT_MASK;
        if ((hdr & ~(VH_COUNT_MASK | VH_LIVE)) || cnt > h->M0) goto out;
        for (uint32_t j = 0; j < cnt; j++)
            if (get32(nd + h->links_off + 4 + 4 * j) >= n) goto out;
        if (lv[id]) {
            const uint32_t *u = upper + upidx[id];
            for (uint32_t l = 1; l <= lv[id]; l++) {
                const uint32_t *list = u + 1 + (size_t)(l - 1) * (h->M + 1);
                if (list[0] > h->M) goto out;
                for (uint32_t j = 0; j < list[0]; j++)
                    if (list[1 + j] >= n || lv[list[1 + j]] < l) goto out;
            }
        }
        if (hdr & VH_LIVE) {
            live++;
            size_t before = h->map_count;
            if (vh_map_put(h, labels[id], id)) {
                rc = STRATA_ENOMEM;
                goto out;
            }
            if (h->map_count == before) goto out; /* duplicate label */
        } else if (vh_free_push(h, id)) {
            rc = STRATA_ENOMEM;
            goto out;
        }
    }
    if (live != c->live) goto out;
    rc = STRATA_OK;
out:
    free(lv);
    return rc;
}

/* Build an index over the image at base (len bytes). If `mapped`, the index takes
 * ownership of the mapping (base, len) on success and borrows its full blocks. */
static int load_image(uint8_t *base, size_t len, int mapped, vec_hnsw **out, vec_ckpt_info *info) {
    ck_hdr c;
    int rc = parse_header(base, len, &c);
    if (rc) return rc;
    vec_hnsw *h;
    rc = vh_alloc(&c.p, &h);
    if (rc) return rc == STRATA_EINVAL ? STRATA_ECORRUPT : rc;
    rc = check_layout(h, &c, len);
    if (rc == STRATA_OK) rc = verify_crcs(base, &c);
    if (rc == STRATA_OK) rc = check_structure(h, base, &c);
    if (rc) goto fail;
    uint32_t n = (uint32_t)c.n, bs = 1u << h->shift, d = c.p.dim;
    uint8_t *nodes = base + c.off[SEC_NODES];
    uint64_t *labels = (uint64_t *)(void *)(base + c.off[SEC_LABELS]);
    float *raw = c.len[SEC_RAW] ? (float *)(void *)(base + c.off[SEC_RAW]) : NULL;
    uint32_t nb = (n + bs - 1) / bs;
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t cnt = n - b * bs < bs ? n - b * bs : bs;
        if (mapped && cnt == bs) {
            rc = vh_block_init(h, b, nodes + (size_t)b * bs * h->node_size, labels + (size_t)b * bs,
                               raw ? raw + (size_t)b * bs * d : NULL);
        } else {
            rc = vh_block_init(h, b, NULL, NULL, NULL);
            if (rc == STRATA_OK) {
                vh_block *blk = h->btab[b];
                memcpy(blk->nodes, nodes + (size_t)b * bs * h->node_size, (size_t)cnt * h->node_size);
                memcpy(blk->labels, labels + (size_t)b * bs, (size_t)cnt * 8);
                if (raw) memcpy(blk->raw, raw + (size_t)b * bs * d, (size_t)cnt * d * 4);
            }
        }
        if (rc) goto fail;
        atomic_store(&h->nblocks, b + 1);
    }
    const uint32_t *upidx = (const uint32_t *)(const void *)(base + c.off[SEC_UPIDX]);
    uint32_t *upper = (uint32_t *)(void *)(base + c.off[SEC_UPPER]);
    for (uint32_t id = 0; id < n; id++) {
        if (upidx[id] == VH_NONE) continue;
        uint32_t *u = upper + upidx[id];
        if (!mapped) {
            size_t words = 1 + (size_t)u[0] * (h->M + 1);
            uint32_t *cp = malloc(words * 4);
            if (!cp) {
                rc = STRATA_ENOMEM;
                goto fail;
            }
            memcpy(cp, u, words * 4);
            u = cp;
        }
        vh_blk(h, id)->upper[id & h->mask] = u;
    }
    atomic_store(&h->upper_bytes, c.upper_words * 4);
    atomic_store(&h->nslots, n);
    atomic_store(&h->live, c.live);
    atomic_store(&h->entry, ((uint64_t)c.max_level << 32) | c.entry);
    if (mapped) {
        h->map_base = base;
        h->map_len = len;
    }
    if (info) {
        info->params = c.p;
        info->lsn = c.lsn;
        info->log_offset = c.log_offset;
        info->slots = c.n;
        info->live = c.live;
    }
    *out = h;
    return STRATA_OK;
fail:
    vec_hnsw_free(h); /* map_base not set: the caller unmaps */
    return rc;
}

int vec_ckpt_open(const char *path, vec_hnsw **out, vec_ckpt_info *info) {
    if (!path || !out) return STRATA_EINVAL;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return su_errno_status(errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = su_errno_status(errno);
        close(fd);
        return rc;
    }
    if ((uint64_t)st.st_size < CK_HDR) {
        close(fd);
        return STRATA_ECORRUPT;
    }
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (m == MAP_FAILED) return su_errno_status(err);
    madvise(m, len, MADV_WILLNEED);
    int rc = load_image(m, len, 1, out, info);
    if (rc) munmap(m, len);
    return rc;
}

int vec_ckpt_open_buf(const void *buf, size_t len, vec_hnsw **out, vec_ckpt_info *info) {
    if (!out || (!buf && len)) return STRATA_EINVAL;
    *out = NULL;
    if (len < CK_HDR) return STRATA_ECORRUPT;
    /* Sections are read as u32/u64 arrays: work on an aligned copy. */
    uint8_t *cp = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
    if (!cp) return STRATA_ENOMEM;
    memcpy(cp, buf, len);
    int rc = load_image(cp, len, 0, out, info);
    free(cp);
    return rc;
}

/* For tests and the fuzzer: recompute every checksum of an image whose header
 * sections lie inside it, so structural checks can be exercised. */
int vec_ckpt_fix_checksums(void *buf, size_t len) {
    uint8_t *b = buf;
    if (!b || len < CK_HDR) return STRATA_EINVAL;
    uint64_t off[CK_NSEC], sl[CK_NSEC], chunks = 0;
    for (int s = 0; s < CK_NSEC; s++) {
        off[s] = get64(b + 120 + 16 * s);
        sl[s] = get64(b + 128 + 16 * s);
        if (off[s] > len || sl[s] > len - off[s]) return STRATA_EINVAL;
        if (s < SEC_CRCS) chunks += nchunks(sl[s]);
    }
    if (sl[SEC_CRCS] != chunks * 4) return STRATA_EINVAL;
    uint64_t idx = 0;
    for (int s = 0; s < SEC_CRCS; s++)
        for (uint64_t k = 0; k < nchunks(sl[s]); k++, idx++) {
            uint64_t o = k * CK_CHUNK, m = sl[s] - o < CK_CHUNK ? sl[s] - o : CK_CHUNK;
            put32(b + off[SEC_CRCS] + idx * 4, su_crc32c(0, b + off[s] + o, (size_t)m));
        }
    put32(b + 216, su_crc32c(0, b + off[SEC_CRCS], (size_t)sl[SEC_CRCS]));
    put32(b + CK_HDR - 4, su_crc32c(0, b, CK_HDR - 4));
    return STRATA_OK;
}
