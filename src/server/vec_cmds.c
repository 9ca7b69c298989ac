/* vec_cmds.c — vectors over RESP: STRATA.VEC (collections, put, delete, get) and
 * STRATA.SEARCH (doc/format/resp.md), each a thin translation of strata_vec_*.
 *
 * A vector travels one of three ways, so that every client library can send one:
 *   VECTOR blob   dim little-endian float32 values (4*dim bytes; RediSearch's way)
 *   VALUES text   numbers separated by commas and/or spaces, optionally in [ ]
 *   TEXT text     embedded with the hash embedder at the collection's dimension
 * and a search may also start from a stored vector: DOC id. */
#include "server/server_int.h"

#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT (&c->out)
#define DB (c->srv->db)

static const char *const metric_names[] = { "cosine", "ip", "l2" };
static const char *const dtype_names[] = { "f32", "f16", "i8" };

static int pick(const char *s, size_t n, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (srv_eq(s, n, names[i])) return i;
    return -1;
}

/* A collection name as a C string and its info; 0 after an error reply. */
static int collection(client *c, const char *s, size_t n, char *name, strata_collection_info *info) {
    if (n == 0 || n > STRATA_COLLECTION_NAME_MAX) {
        rb_error(OUT, "ERR invalid collection name (1..%d of [A-Za-z0-9_-])", STRATA_COLLECTION_NAME_MAX);
        return 0;
    }
    memcpy(name, s, n);
    name[n] = 0;
    int rc = strata_vec_info(DB, name, info);
    if (rc) {
        srv_reply_fail(c, rc);
        return 0;
    }
    return 1;
}

static int parse_values(client *c, const char *s, size_t n, float *out, uint32_t dim) {
    char *text = srv_arg_str(c, s, n);
    if (!text) return 0;
    uint32_t got = 0;
    int ok = 1;
    char *p = text, *end = text + n;
    while (*p == ' ' || *p == '\t') p++;
    int bracket = *p == '[';
    if (bracket) p++;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || (got && *p == ','))) p++;
        if (p == end || (bracket && *p == ']')) break;
        errno = 0;
        char *e;
        double v = strtod(p, &e);
        if (e == p || errno == ERANGE || !(v >= -FLT_MAX && v <= FLT_MAX) || (*e && *e != ',' && *e != ' ' && *e != '\t' && *e != ']' &&
                                                    *e != '\n' && *e != '\r')) {
            rb_error(OUT, "ERR VALUES: '%.40s' is not a finite number", p);
            ok = 0;
            break;
        }
        if (got < dim) out[got] = (float)v;
        got++;
        p = e;
    }
    if (ok && bracket && (p == end || *p != ']')) {
        rb_error(OUT, "ERR VALUES: '[' without ']'");
        ok = 0;
    } else if (ok && bracket) {
        for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'); p++) {}
        if (p != end) {
            rb_error(OUT, "ERR VALUES: text after ']'");
            ok = 0;
        }
    }
    if (ok && got != dim) {
        rb_error(OUT, "ERR VALUES has %u numbers, the collection's dimension is %u", got, dim);
        ok = 0;
    }
    free(text);
    return ok;
}

/* The vector given as `kind value` into out[0..dim); 0 after an error reply. DOC is
 * accepted only when `doc_ok` (a search starting from a stored vector). */
static int vec_arg(client *c, const char *name, const strata_collection_info *info, const char *kind, size_t kl,
                   const char *val, size_t vl, int doc_ok, float *out) {
    uint32_t dim = info->dim;
    if (srv_eq(kind, kl, "vector")) {
        if (vl != (size_t)dim * 4) {
            rb_error(OUT, "ERR VECTOR must be %u bytes (%u little-endian float32), not %zu", dim * 4, dim, vl);
            return 0;
        }
        const unsigned char *b = (const unsigned char *)val;
        for (uint32_t i = 0; i < dim; i++, b += 4) {
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(&out[i], &u, 4);
        }
        return 1;
    }
    if (srv_eq(kind, kl, "values")) return parse_values(c, val, vl, out, dim);
    if (srv_eq(kind, kl, "text")) {
        int rc = strata_embed_hash(val, vl, out, dim);
        if (rc == STRATA_EINVAL) rb_error(OUT, "ERR TEXT has nothing to embed (no word)");
        else if (rc) rb_error(OUT, "ERR %s", strata_errstr(rc)); /* no store call: no store message */
        return rc == STRATA_OK;
    }
    if (doc_ok && srv_eq(kind, kl, "doc")) {
        int rc = strata_vec_get(DB, name, val, vl, out, dim);
        if (rc) srv_reply_fail(c, rc);
        return rc == STRATA_OK;
    }
    rb_error(OUT, "ERR give the vector as VECTOR blob, VALUES text or TEXT text%s", doc_ok ? " (or DOC id)" : "");
    return 0;
}

static int count_arg(client *c, char *s, size_t n, long long max, const char *what, uint32_t *out) {
    long long v;
    if (!srv_arg_ll(c, s, n, &v)) return 0;
    if (v < 1 || v > max) {
        rb_error(OUT, "ERR %s must be 1..%lld", what, max);
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static void vec_create(client *c, int argc, char **argv, size_t *lens) {
    strata_collection_opts o = { 0 };
    if (argc < 4 || (argc & 1)) return srv_syntax_error(c);
    if (!count_arg(c, argv[3], lens[3], STRATA_VEC_DIM_MAX, "dim", &o.dim)) return;
    for (int j = 4; j < argc; j += 2) {
        char *k = argv[j], *v = argv[j + 1];
        size_t kl = lens[j], vl = lens[j + 1];
        if (srv_eq(k, kl, "metric")) {
            if ((o.metric = pick(v, vl, metric_names, 3)) < 0) return rb_error(OUT, "ERR METRIC is cosine, ip or l2");
        } else if (srv_eq(k, kl, "dtype")) {
            if ((o.dtype = pick(v, vl, dtype_names, 3)) < 0) return rb_error(OUT, "ERR DTYPE is f32, f16 or i8");
        } else if (srv_eq(k, kl, "m")) {
            if (!count_arg(c, v, vl, STRATA_VEC_M_MAX, "M", &o.m)) return;
        } else if (srv_eq(k, kl, "ef_construction")) {
            if (!count_arg(c, v, vl, STRATA_VEC_EF_MAX, "EF_CONSTRUCTION", &o.ef_construction)) return;
        } else {
            return srv_syntax_error(c);
        }
    }
    char *name = srv_arg_str(c, argv[2], lens[2]);
    if (!name) return;
    int rc = strata_vec_create(DB, name, &o);
    free(name);
    if (rc) return srv_reply_fail(c, rc);
    rb_simple(OUT, "OK");
}

static void info_map(client *c, const strata_collection_info *i) {
    rb_map(OUT, 11, c->proto);
    rb_cstr(OUT, "name");
    rb_cstr(OUT, i->name);
    rb_cstr(OUT, "dim");
    rb_int(OUT, i->dim);
    rb_cstr(OUT, "metric");
    rb_cstr(OUT, i->metric >= 0 && i->metric < 3 ? metric_names[i->metric] : "?");
    rb_cstr(OUT, "dtype");
    rb_cstr(OUT, i->dtype >= 0 && i->dtype < 3 ? dtype_names[i->dtype] : "?");
    rb_cstr(OUT, "m");
    rb_int(OUT, i->m);
    rb_cstr(OUT, "ef_construction");
    rb_int(OUT, i->ef_construction);
    rb_cstr(OUT, "count");
    rb_int(OUT, (long long)i->count);
    rb_cstr(OUT, "index_bytes");
    rb_int(OUT, (long long)i->index_bytes);
    rb_cstr(OUT, "log_bytes");
    rb_int(OUT, (long long)i->log_bytes);
    rb_cstr(OUT, "created_at_ms");
    rb_int(OUT, i->created_at_ms);
    rb_cstr(OUT, "kernels");
    rb_cstr(OUT, i->kernels ? i->kernels : "?");
}

typedef struct names { rbuf b; size_t n; } names;
static int list_one(void *ctx, const strata_collection_info *info) {
    names *l = ctx;
    rb_cstr(&l->b, info->name);
    l->n++;
    return l->b.oom ? STRATA_ENOMEM : 0;
}

void srv_cmd_vec(client *c, int argc, char **argv, size_t *lens) {
    char *sub = argv[1];
    size_t sl = lens[1];
    if (srv_eq(sub, sl, "create")) return vec_create(c, argc, argv, lens);
    if (srv_eq(sub, sl, "list") && argc == 2) {
        names l = { { 0 }, 0 };
        int rc = strata_vec_list(DB, list_one, &l);
        return srv_reply_list(c, rc, &l.b, l.n);
    }
    int put = srv_eq(sub, sl, "put");
    int ok = ((srv_eq(sub, sl, "drop") || srv_eq(sub, sl, "info")) && argc == 3) ||
             ((srv_eq(sub, sl, "del") || srv_eq(sub, sl, "get")) && argc == 4) || (put && argc == 6);
    if (!ok) return srv_sub_error(c, "strata.vec", "create drop info list put del get", sub, sl);
    char name[STRATA_COLLECTION_NAME_MAX + 1];
    strata_collection_info info;
    int rc;
    if (srv_eq(sub, sl, "drop")) {
        if (lens[2] == 0 || lens[2] > STRATA_COLLECTION_NAME_MAX) return rb_int(OUT, 0);
        memcpy(name, argv[2], lens[2]);
        name[lens[2]] = 0;
        rc = strata_vec_drop(DB, name);
        if (rc == STRATA_OK || rc == STRATA_ENOTFOUND) return rb_int(OUT, rc == STRATA_OK);
        return srv_reply_fail(c, rc);
    }
    if (srv_eq(sub, sl, "info")) {
        if (lens[2] == 0 || lens[2] > STRATA_COLLECTION_NAME_MAX) return rb_null(OUT, c->proto);
        memcpy(name, argv[2], lens[2]);
        name[lens[2]] = 0;
        rc = strata_vec_info(DB, name, &info);
        if (rc == STRATA_ENOTFOUND) return rb_null(OUT, c->proto);
        if (rc) return srv_reply_fail(c, rc);
        return info_map(c, &info);
    }
    if (!collection(c, argv[2], lens[2], name, &info)) return;
    if (srv_eq(sub, sl, "del")) {
        rc = strata_vec_delete(DB, NULL, name, argv[3], lens[3]);
        if (rc == STRATA_OK || rc == STRATA_ENOTFOUND) return rb_int(OUT, rc == STRATA_OK);
        return srv_reply_fail(c, rc);
    }
    float *v = malloc((size_t)info.dim * sizeof *v);
    if (!v) return rb_error(OUT, "ERR out of memory");
    if (put) {
        strata_txn *t = NULL;
        uint64_t lsn = 0;
        if (vec_arg(c, name, &info, argv[4], lens[4], argv[5], lens[5], 0, v)) {
            rc = strata_txn_begin(DB, &t);
            if (!rc && (rc = strata_vec_put(DB, t, name, argv[3], lens[3], v, info.dim)) != STRATA_OK)
                strata_txn_abort(t);
            else if (!rc) rc = strata_txn_commit(t, &lsn);
            if (rc) srv_reply_fail(c, rc);
            else rb_int(OUT, (long long)lsn);
        }
    } else {
        rc = strata_vec_get(DB, name, argv[3], lens[3], v, info.dim);
        if (rc == STRATA_ENOTFOUND) rb_null(OUT, c->proto);
        else if (rc) srv_reply_fail(c, rc);
        else {
            rb_array(OUT, info.dim);
            for (uint32_t i = 0; i < info.dim; i++) rb_float(OUT, v[i], c->proto);
        }
    }
    free(v);
}

/* STRATA.SEARCH coll (VECTOR b|VALUES t|TEXT t|DOC id) [K k] [EF ef] [EXACT]
 *               [PREFIX p] [WHERE path json] [IDS n id ...] */
void srv_cmd_search(client *c, int argc, char **argv, size_t *lens) {
    char name[STRATA_COLLECTION_NAME_MAX + 1];
    strata_collection_info info;
    strata_vec_search_opts o = { 0 };
    strata_doc_filter f = { 0 };
    char *path = NULL, *value = NULL;
    const void **ids = NULL;
    size_t *id_lens = NULL;
    float *q = NULL;
    int filtered = 0;
    for (int j = 4; j < argc; j++) {
        char *a = argv[j];
        size_t al = lens[j];
        if (srv_eq(a, al, "k") && j + 1 < argc) {
            if (!count_arg(c, argv[j + 1], lens[j + 1], STRATA_VEC_K_MAX, "K", &o.k)) goto out;
            j++;
        } else if (srv_eq(a, al, "ef") && j + 1 < argc) {
            if (!count_arg(c, argv[j + 1], lens[j + 1], STRATA_VEC_EF_MAX, "EF", &o.ef)) goto out;
            j++;
        } else if (srv_eq(a, al, "exact")) {
            o.exact = 1;
        } else if (srv_eq(a, al, "prefix") && j + 1 < argc) {
            f.prefix = argv[j + 1];
            f.prefix_len = lens[j + 1];
            filtered = 1;
            j++;
        } else if (srv_eq(a, al, "where") && j + 2 < argc && !path) {
            if (!(path = srv_arg_str(c, argv[j + 1], lens[j + 1])) ||
                !(value = srv_arg_str(c, argv[j + 2], lens[j + 2])))
                goto out;
            f.meta_path = path;
            f.meta_value_json = value;
            filtered = 1;
            j += 2;
        } else if (srv_eq(a, al, "ids") && j + 1 < argc && !ids) {
            long long n;
            if (!srv_arg_ll(c, argv[j + 1], lens[j + 1], &n)) goto out;
            if (n < 1 || n > argc - j - 2) {
                rb_error(OUT, "ERR IDS count must be 1..the number of ids that follow");
                goto out;
            }
            ids = malloc((size_t)n * sizeof *ids);
            id_lens = malloc((size_t)n * sizeof *id_lens);
            if (!ids || !id_lens) {
                rb_error(OUT, "ERR out of memory");
                goto out;
            }
            for (long long i = 0; i < n; i++) {
                ids[i] = argv[j + 2 + i];
                id_lens[i] = lens[j + 2 + i];
            }
            o.ids = (const void *const *)ids;
            o.id_lens = id_lens;
            o.nids = (size_t)n;
            j += 1 + (int)n;
        } else {
            srv_syntax_error(c);
            goto out;
        }
    }
    if (filtered) o.filter = &f;
    if (!collection(c, argv[1], lens[1], name, &info)) goto out;
    if (!(q = malloc((size_t)info.dim * sizeof *q))) {
        rb_error(OUT, "ERR out of memory");
        goto out;
    }
    if (!vec_arg(c, name, &info, argv[2], lens[2], argv[3], lens[3], 1, q)) goto out;
    strata_vec_result *r = NULL;
    size_t n = 0;
    int rc = strata_vec_search(DB, name, q, info.dim, &o, &r, &n);
    if (rc) {
        srv_reply_fail(c, rc);
        goto out;
    }
    rb_array(OUT, n);
    for (size_t i = 0; i < n; i++) {
        rb_array(OUT, 2);
        rb_bulk(OUT, r[i].id, r[i].id_len);
        rb_float(OUT, r[i].score, c->proto);
    }
    strata_vec_results_free(r, n);
out:
    free(q);
    free(ids);
    free(id_lens);
    free(path);
    free(value);
}
