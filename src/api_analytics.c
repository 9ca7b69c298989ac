/* api_analytics.c — the public analytics calls: recording (structs and JSON),
 * flush, statistics, SQL cursors, the ADR's common queries, retention, export; and
 * the two things store.c asks of analytics: start it with the store's options and
 * stop it at close. Validation happens here, on the caller's thread, so that the
 * flusher never meets a record DuckDB would refuse: a bad record is an error for
 * its caller and never costs the records queued around it.
 *
 * The system sampler lives here too (it needs the public statistics): every
 * metric_sample_s it records storage bytes per backend, the document count and the
 * cache hit rate (cache_get outcomes the instrumentation counted) in system_metrics. */
#include "internal.h"
#include "analytics/analytics.h"
#include "util/util.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(sizeof(strata_options) == 168, "strata_options must keep its size (ABI)");

struct strata_cursor {
    strata *db;
    an_cursor *c;
};

static int an_of(strata *db, analytics **an) {
    if (!db) return STRATA_EINVAL;
    if (!(*an = db->an))
        return strata__err(db, STRATA_EMISUSE, "analytics is off for this store (STRATA_ANALYTICS_OFF)");
    return STRATA_OK;
}

/* ---- open / close (store.c) ---- */
static void sample(void *ctx, analytics *an);
static int64_t store_clock(void *ctx) { return strata__now(ctx); }

int strata__analytics_open(strata *db, char *err, size_t errlen) {
    char why[256];
    int rc = an_check_options(&db->opts, why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "options: %s", why);
        return rc;
    }
    an_config cfg = {
        .dir = db->dir,
        .memory_limit = db->opts.analytics_memory_limit,
        .threads = db->opts.analytics_threads,
        .flags = db->opts.analytics_flags,
        .buffer = db->opts.metric_buffer,
        .when_full = db->opts.metric_when_full,
        .retention_days = db->opts.metric_retention_days,
        .sample_s = db->opts.metric_sample_s,
        .now = store_clock,
        .now_ctx = db,
        .clock_injected = db->opts.clock != NULL,
        .sample = sample,
        .sample_ctx = db,
    };
    rc = an_open(&cfg, &db->an, why, sizeof why);
    if (rc) snprintf(err, errlen, "analytics: %s", why);
    return rc;
}

int strata__analytics_close(strata *db) {
    analytics *an = db->an;
    db->an = NULL;
    return an_close(an, NULL, 0);
}

/* ---- the sampler (flusher thread) ---- */
static void put_sys(analytics *an, int64_t ts_us, const char *name, double value, const char *unit) {
    an_rec r;
    memset(&r, 0, sizeof r);
    r.table = AN_T_SYSTEM;
    r.ts_us = ts_us;
    r.f0 = value;
    if (an_rec_set_text(&r, name, strlen(name), unit, strlen(unit)) == STRATA_OK) (void)an_push_nowait(an, &r);
}

static uint64_t file_bytes(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void sample(void *ctx, analytics *an) {
    strata *db = ctx;
    int64_t ts = strata__now(db) * 1000;
    strata_stats st;
    if (strata_stats_get(db, &st) == STRATA_OK) {
        put_sys(an, ts, "storage.operational_bytes", (double)st.operational_bytes, "bytes");
        put_sys(an, ts, "storage.docs_bytes", (double)st.segment_bytes, "bytes");
        put_sys(an, ts, "storage.total_bytes", (double)st.total_bytes, "bytes");
        put_sys(an, ts, "docs.count", (double)st.documents, "count");
    }
    put_sys(an, ts, "storage.analytics_bytes",
            (double)(file_bytes(db->dir, "analytics.duckdb") + file_bytes(db->dir, "analytics.duckdb.wal")), "bytes");
    char path[4096];
    snprintf(path, sizeof path, "%s/vectors", db->dir);
    put_sys(an, ts, "storage.vectors_bytes", (double)su_tree_bytes(path), "bytes");
    snprintf(path, sizeof path, "%s/backups", db->dir);
    put_sys(an, ts, "storage.backups_bytes", (double)su_tree_bytes(path), "bytes");
    uint64_t hits, misses;
    an_cache_counts(an, &hits, &misses);
    if (hits + misses) put_sys(an, ts, "cache.hit_rate", (double)hits / (double)(hits + misses), "ratio");
}

/* ---- recording ---- */
static int check_text(strata *db, const char *field, const char *s, size_t *len) {
    if (!s) return strata__err(db, STRATA_EINVAL, "%s is missing (NULL)", field);
    size_t n = strnlen(s, STRATA_METRIC_TEXT_MAX + 1);
    if (n > STRATA_METRIC_TEXT_MAX)
        return strata__err(db, STRATA_EINVAL, "%s is longer than %d bytes", field, STRATA_METRIC_TEXT_MAX);
    if (!su_utf8_valid(s, n)) return strata__err(db, STRATA_EINVAL, "%s is not valid UTF-8", field);
    *len = n;
    return STRATA_OK;
}

/* FLOAT columns: finite and within single precision; times are not negative. */
static int check_float(strata *db, const char *field, double v, int time) {
    if (!isfinite(v)) return strata__err(db, STRATA_EINVAL, "%s is not a finite number", field);
    if (v > FLT_MAX || v < -FLT_MAX) return strata__err(db, STRATA_EINVAL, "%s is out of FLOAT range", field);
    if (time && v < 0) return strata__err(db, STRATA_EINVAL, "%s is negative", field);
    return STRATA_OK;
}

static int check_time(strata *db, int64_t ms, int64_t *us) {
    if (ms == 0) ms = strata__now(db);
    if (ms < 1 || ms > STRATA_METRIC_TIME_MAX)
        return strata__err(db, STRATA_EINVAL, "timestamp_ms %lld is out of range (1..%lld, or 0 for now)",
                           (long long)ms, (long long)STRATA_METRIC_TIME_MAX);
    *us = ms * 1000;
    return STRATA_OK;
}

static int record(strata *db, analytics *an, an_rec *r, const char *s0, size_t l0, const char *s1, size_t l1) {
    if (an_rec_set_text(r, s0, l0, s1, l1) != STRATA_OK) return strata__err(db, STRATA_ENOMEM, "out of memory");
    char err[600];
    int rc = an_push(an, r);
    if (rc) {
        int st = an_wait_open(an, err, sizeof err);
        return strata__err(db, rc, "%s", st ? err : "the store is closing");
    }
    return STRATA_OK;
}

int strata_metric_query(strata *db, const strata_query_metric *m) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!m) return strata__err(db, STRATA_EINVAL, "metric is NULL");
    an_rec r;
    size_t l0 = 0, l1 = 0;
    if ((rc = check_time(db, m->timestamp_ms, &r.ts_us)) || (rc = check_text(db, "query_type", m->query_type, &l0)) ||
        (rc = check_text(db, "retrieval_strategy", m->retrieval_strategy, &l1)) ||
        (rc = check_float(db, "latency_ms", m->latency_ms, 1)))
        return rc;
    if (m->success != 0 && m->success != 1) return strata__err(db, STRATA_EINVAL, "success must be 0 or 1");
    r.table = AN_T_QUERY;
    r.f0 = m->latency_ms;
    r.f1 = 0;
    r.i0 = m->result_count;
    r.i1 = 0;
    r.b = (uint8_t)m->success;
    r.op = 0;
    return record(db, an, &r, m->query_type, l0, m->retrieval_strategy, l1);
}

int strata_metric_embedding(strata *db, const strata_embedding_metric *m) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!m) return strata__err(db, STRATA_EINVAL, "metric is NULL");
    an_rec r;
    size_t l0 = 0;
    if ((rc = check_time(db, m->timestamp_ms, &r.ts_us)) || (rc = check_text(db, "model_name", m->model_name, &l0)) ||
        (rc = check_float(db, "embedding_time_ms", m->embedding_time_ms, 1)))
        return rc;
    r.table = AN_T_EMBEDDING;
    r.f0 = m->embedding_time_ms;
    r.f1 = 0;
    r.i0 = m->text_length;
    r.i1 = m->dimension;
    r.b = 0;
    r.op = 0;
    return record(db, an, &r, m->model_name, l0, "", 0);
}

int strata_metric_reranking(strata *db, const strata_reranking_metric *m) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!m) return strata__err(db, STRATA_EINVAL, "metric is NULL");
    an_rec r;
    size_t l0 = 0;
    if ((rc = check_time(db, m->timestamp_ms, &r.ts_us)) || (rc = check_text(db, "query_type", m->query_type, &l0)) ||
        (rc = check_float(db, "rerank_time_ms", m->rerank_time_ms, 1)) ||
        (rc = check_float(db, "quality_score", m->quality_score, 0)))
        return rc;
    r.table = AN_T_RERANKING;
    r.f0 = m->rerank_time_ms;
    r.f1 = m->quality_score;
    r.i0 = m->document_count;
    r.i1 = 0;
    r.b = 0;
    r.op = 0;
    return record(db, an, &r, m->query_type, l0, "", 0);
}

int strata_metric_system(strata *db, const strata_system_metric *m) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!m) return strata__err(db, STRATA_EINVAL, "metric is NULL");
    an_rec r;
    size_t l0 = 0, l1 = 0;
    if ((rc = check_time(db, m->timestamp_ms, &r.ts_us)) || (rc = check_text(db, "metric_name", m->metric_name, &l0)) ||
        (rc = check_text(db, "metric_unit", m->metric_unit, &l1)) ||
        (rc = check_float(db, "metric_value", m->metric_value, 0)))
        return rc;
    r.table = AN_T_SYSTEM;
    r.f0 = m->metric_value;
    r.f1 = 0;
    r.i0 = 0;
    r.i1 = 0;
    r.b = 0;
    r.op = 0;
    return record(db, an, &r, m->metric_name, l0, m->metric_unit, l1);
}

/* ---- JSON records: a flat object whose fields are the table's columns ---- */
enum { J_TEXT = 's', J_FLOAT = 'f', J_INT = 'i', J_BOOL = 'b' };
typedef struct jspec { const char *name; char kind; } jspec;
static const jspec spec_query[] = { { "query_type", J_TEXT }, { "latency_ms", J_FLOAT }, { "result_count", J_INT },
                                    { "retrieval_strategy", J_TEXT }, { "success", J_BOOL }, { NULL, 0 } };
static const jspec spec_embedding[] = { { "model_name", J_TEXT }, { "embedding_time_ms", J_FLOAT },
                                        { "text_length", J_INT }, { "dimension", J_INT }, { NULL, 0 } };
static const jspec spec_reranking[] = { { "query_type", J_TEXT }, { "document_count", J_INT },
                                        { "rerank_time_ms", J_FLOAT }, { "quality_score", J_FLOAT }, { NULL, 0 } };
static const jspec spec_system[] = { { "metric_name", J_TEXT }, { "metric_value", J_FLOAT },
                                     { "metric_unit", J_TEXT }, { NULL, 0 } };

#define J_MAXF 6
typedef struct jval {
    int set;
    char *s;          /* J_TEXT: decoded UTF-8 */
    double d;
    int64_t i;
    int is_int;
    int b;
} jval;

typedef struct jparse { const char *p; } jparse;

static void j_ws(jparse *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') j->p++;
}

static int hexval(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode a JSON string at j->p (the text is already known to be valid JSON).
 * *out is malloc'd; NUL characters (\u0000) are refused (-2); -1: out of memory. */
static int j_string(jparse *j, char **out, size_t *len) {
    const char *p = j->p + 1, *q = p;
    while (*q != '"') q += *q == '\\' ? 2 : 1;
    char *o = malloc((size_t)(q - p) + 1);
    if (!o) return -1;
    size_t n = 0;
    while (*p != '"') {
        if (*p != '\\') { o[n++] = *p++; continue; }
        p++;
        char c = *p++;
        switch (c) {
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            hexval(p, &cp);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[0] == '\\' && p[1] == 'u' && hexval(p + 2, &lo) && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a lone surrogate */
            }
            if (cp == 0) { free(o); return -2; }
            n += put_utf8(o + n, cp);
            break;
        }
        default: o[n++] = c; break; /* " \ / */
        }
    }
    o[n] = 0;
    j->p = q + 1;
    *out = o;
    *len = n;
    return 0;
}

/* Skip one JSON value (valid JSON). */
static void j_skip(jparse *j) {
    int depth = 0;
    do {
        char c = *j->p;
        if (c == '"') {
            j->p++;
            while (*j->p != '"') j->p += *j->p == '\\' ? 2 : 1;
            j->p++;
        } else if (c == '{' || c == '[') { depth++; j->p++; }
        else if (c == '}' || c == ']') { depth--; j->p++; }
        else if (depth == 0) {
            while (*j->p && !strchr(",}] \t\r\n", *j->p)) j->p++;
        } else j->p++;
    } while (depth > 0);
}

static int json_record(strata *db, const char *table_name, const char *json) {
    const jspec *spec;
    int table;
    if (!table_name) return strata__err(db, STRATA_EINVAL, "table is NULL");
    if (!strcmp(table_name, "query_metrics")) { spec = spec_query; table = AN_T_QUERY; }
    else if (!strcmp(table_name, "embedding_metrics")) { spec = spec_embedding; table = AN_T_EMBEDDING; }
    else if (!strcmp(table_name, "reranking_metrics")) { spec = spec_reranking; table = AN_T_RERANKING; }
    else if (!strcmp(table_name, "system_metrics")) { spec = spec_system; table = AN_T_SYSTEM; }
    else
        return strata__err(db, STRATA_EINVAL,
                           "no metric table '%.64s' (query_metrics, embedding_metrics, reranking_metrics or "
                           "system_metrics)", table_name);
    int rc = strata__check_json(db, "metric", json, 1);
    if (rc) return rc;
    jval v[J_MAXF + 1];
    memset(v, 0, sizeof v);
    int nspec = 0;
    while (spec[nspec].name) nspec++;
    /* v[nspec] is the optional "timestamp" (ms since the epoch). */
    jparse j = { json };
    j_ws(&j);
    j.p++; /* { */
    j_ws(&j);
    while (!rc && *j.p == '"') {
        char *key;
        size_t klen;
        int e = j_string(&j, &key, &klen);
        if (e) return strata__err(db, e == -1 ? STRATA_ENOMEM : STRATA_EINVAL,
                                  e == -1 ? "out of memory" : "a field name holds a NUL character");
        j_ws(&j);
        j.p++; /* : */
        j_ws(&j);
        int f = -1;
        for (int k = 0; k < nspec; k++)
            if (!strcmp(key, spec[k].name)) f = k;
        if (f < 0 && !strcmp(key, "timestamp")) f = nspec;
        if (f < 0) {
            rc = strata__err(db, STRATA_EINVAL, "%s has no field '%.64s'", table_name, key);
        } else if (v[f].set) {
            rc = strata__err(db, STRATA_EINVAL, "field '%s' is given twice", key);
        } else {
            char kind = f == nspec ? J_INT : spec[f].kind;
            char c = *j.p;
            v[f].set = 1;
            if (kind == J_TEXT) {
                size_t len;
                if (c != '"') rc = strata__err(db, STRATA_EINVAL, "field '%s' must be a string", key);
                else if ((e = j_string(&j, &v[f].s, &len)) != 0)
                    rc = strata__err(db, e == -1 ? STRATA_ENOMEM : STRATA_EINVAL,
                                     e == -1 ? "out of memory" : "field '%s' holds a NUL character", key);
            } else if (kind == J_BOOL) {
                if (!strncmp(j.p, "true", 4)) { v[f].b = 1; j.p += 4; }
                else if (!strncmp(j.p, "false", 5)) { v[f].b = 0; j.p += 5; }
                else rc = strata__err(db, STRATA_EINVAL, "field '%s' must be true or false", key);
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                const char *start = j.p;
                char *end;
                errno = 0;
                v[f].d = strtod(start, &end);
                int overflow = errno == ERANGE && (v[f].d > 1 || v[f].d < -1);
                j.p = end;
                v[f].is_int = !memchr(start, '.', (size_t)(end - start)) && !memchr(start, 'e', (size_t)(end - start)) &&
                              !memchr(start, 'E', (size_t)(end - start));
                if (v[f].is_int) {
                    errno = 0;
                    long long ll = strtoll(start, NULL, 10);
                    if (errno == ERANGE) v[f].is_int = 0;
                    v[f].i = ll;
                }
                if (kind == J_INT) {
                    int64_t lo = f == nspec ? 0 : INT32_MIN, hi = f == nspec ? STRATA_METRIC_TIME_MAX : INT32_MAX;
                    if (!v[f].is_int || v[f].i < lo || v[f].i > hi)
                        rc = strata__err(db, STRATA_EINVAL, "field '%s' must be an integer within %lld..%lld", key,
                                         (long long)lo, (long long)hi);
                } else if (overflow) {
                    rc = strata__err(db, STRATA_EINVAL, "field '%s' is out of range", key);
                }
            } else {
                rc = strata__err(db, STRATA_EINVAL, "field '%s' must be %s", key,
                                 kind == J_INT ? "an integer" : "a number");
            }
            if (rc) v[f].set = 1;
        }
        free(key);
        if (rc) break;
        if (f < 0) j_skip(&j);
        j_ws(&j);
        if (*j.p == ',') {
            j.p++;
            j_ws(&j);
        }
    }
    for (int k = 0; k < nspec && !rc; k++)
        if (!v[k].set) rc = strata__err(db, STRATA_EINVAL, "%s: missing field '%s'", table_name, spec[k].name);
    if (!rc) {
        int64_t ts = v[nspec].set ? v[nspec].i : 0;
        switch (table) {
        case AN_T_QUERY: {
            strata_query_metric m = { ts, v[0].s, v[1].d, (int32_t)v[2].i, v[4].b, v[3].s };
            rc = strata_metric_query(db, &m);
            break;
        }
        case AN_T_EMBEDDING: {
            strata_embedding_metric m = { ts, v[0].s, v[1].d, (int32_t)v[2].i, (int32_t)v[3].i };
            rc = strata_metric_embedding(db, &m);
            break;
        }
        case AN_T_RERANKING: {
            strata_reranking_metric m = { ts, v[0].s, (int32_t)v[1].i, v[2].d, v[3].d };
            rc = strata_metric_reranking(db, &m);
            break;
        }
        default: {
            strata_system_metric m = { ts, v[0].s, v[1].d, v[2].s };
            rc = strata_metric_system(db, &m);
            break;
        }
        }
    }
    for (int k = 0; k <= J_MAXF; k++) free(v[k].s);
    return rc;
}

int strata_metric_record_json(strata *db, const char *table, const char *json) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    return json_record(db, table, json);
}

int strata_metric_flush(strata *db) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    char err[600];
    if ((rc = an_flush(an, err, sizeof err)) != STRATA_OK) return strata__err(db, rc, "%s", err);
    return STRATA_OK;
}

int strata_analytics_stats_get(strata *db, strata_analytics_stats *out) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    memset(out, 0, sizeof *out);
    an_stats s;
    char err[600];
    rc = an_stats_get(an, &s, err, sizeof err);
    out->query_rows = s.rows[AN_T_QUERY];
    out->embedding_rows = s.rows[AN_T_EMBEDDING];
    out->reranking_rows = s.rows[AN_T_RERANKING];
    out->system_rows = s.rows[AN_T_SYSTEM];
    out->op_rows = s.rows[AN_T_OP];
    out->hourly_rows = s.hourly_rows;
    out->recorded = s.recorded;
    out->written = s.written;
    out->dropped = s.dropped;
    out->pending = s.pending;
    out->failed_flushes = s.failed_flushes;
    out->buffer_capacity = s.buffer_capacity;
    out->last_error = s.last_error;
    out->sealed = s.sealed;
    if (rc) return strata__err(db, rc, "%s", err);
    return STRATA_OK;
}

/* ---- SQL ---- */
static int wrap(strata *db, int rc, an_cursor *c, const char *err, strata_cursor **out) {
    if (rc) return strata__err(db, rc, "%s", err);
    strata_cursor *w = malloc(sizeof *w);
    if (!w) {
        an_cursor_close(c);
        return strata__err(db, STRATA_ENOMEM, "out of memory");
    }
    w->db = db;
    w->c = c;
    *out = w;
    return STRATA_OK;
}

int strata_sql(strata *db, const char *sql, const strata_param *params, size_t nparams, unsigned flags,
               strata_cursor **out) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    if (flags & ~(unsigned)STRATA_SQL_UNTRUSTED) return strata__err(db, STRATA_EINVAL, "unknown flags 0x%x", flags);
    uint64_t t0 = an_op_start(an);
    char err[STRATA_ERRMSG_MAX];
    an_cursor *c = NULL;
    rc = an_sql(an, sql, params, nparams, flags & STRATA_SQL_UNTRUSTED ? AN_SQL_UNTRUSTED : 0, &c, err, sizeof err);
    an_op_end(an, AN_OP_SQL, t0, rc);
    return wrap(db, rc, c, err, out);
}

int strata_cursor_next(strata_cursor *c, int *has_row) {
    if (!c) return STRATA_EINVAL;
    if (!has_row) return strata__err(c->db, STRATA_EINVAL, "has_row is NULL");
    char err[STRATA_ERRMSG_MAX];
    int rc = an_cursor_next(c->c, has_row, err, sizeof err);
    return rc ? strata__err(c->db, rc, "%s", err) : STRATA_OK;
}

size_t strata_cursor_column_count(const strata_cursor *c) { return c ? an_cursor_ncols(c->c) : 0; }
const char *strata_cursor_column_name(const strata_cursor *c, size_t col) {
    return c ? an_cursor_name(c->c, col) : NULL;
}
int strata_cursor_column_type(const strata_cursor *c, size_t col) { return c ? an_cursor_type(c->c, col) : -1; }

int strata_cursor_value(strata_cursor *c, size_t col, strata_value *out) {
    if (!c) return STRATA_EINVAL;
    if (!out) return strata__err(c->db, STRATA_EINVAL, "out is NULL");
    char err[STRATA_ERRMSG_MAX];
    int rc = an_cursor_value(c->c, col, out, err, sizeof err);
    return rc ? strata__err(c->db, rc, "%s", err) : STRATA_OK;
}

static const char *type_name(int t) {
    static const char *const names[] = { "NULL", "INT", "DOUBLE", "TEXT", "BOOL", "TIMESTAMP", "OTHER" };
    return t >= 0 && t <= STRATA_TYPE_OTHER ? names[t] : "?";
}

/* Read col as one of the accepted types (a bit set of 1 << STRATA_TYPE_*). */
static int typed(strata_cursor *c, size_t col, unsigned accept, const char *as, strata_value *v, int *is_null) {
    if (is_null) *is_null = 0;
    int rc = strata_cursor_value(c, col, v);
    if (rc) return rc;
    if (v->type == STRATA_TYPE_NULL) {
        if (is_null) *is_null = 1;
        return STRATA_OK;
    }
    if (!(accept & (1u << v->type)))
        return strata__err(c->db, STRATA_EINVAL, "column '%s' is %s; it cannot be read as %s",
                           strata_cursor_column_name(c, col), type_name(v->type), as);
    return STRATA_OK;
}

int strata_cursor_int64(strata_cursor *c, size_t col, int64_t *out, int *is_null) {
    strata_value v;
    if (!c || !out) return c ? strata__err(c->db, STRATA_EINVAL, "out is NULL") : STRATA_EINVAL;
    *out = 0;
    int rc = typed(c, col, 1u << STRATA_TYPE_INT | 1u << STRATA_TYPE_BOOL | 1u << STRATA_TYPE_TIMESTAMP, "int64", &v,
                   is_null);
    if (!rc && v.type != STRATA_TYPE_NULL) *out = v.i;
    return rc;
}

int strata_cursor_double(strata_cursor *c, size_t col, double *out, int *is_null) {
    strata_value v;
    if (!c || !out) return c ? strata__err(c->db, STRATA_EINVAL, "out is NULL") : STRATA_EINVAL;
    *out = 0;
    int rc = typed(c, col, 1u << STRATA_TYPE_DOUBLE | 1u << STRATA_TYPE_INT, "double", &v, is_null);
    if (!rc && v.type != STRATA_TYPE_NULL) *out = v.d;
    return rc;
}

int strata_cursor_text(strata_cursor *c, size_t col, const char **out, size_t *len, int *is_null) {
    strata_value v;
    if (!c || !out) return c ? strata__err(c->db, STRATA_EINVAL, "out is NULL") : STRATA_EINVAL;
    *out = NULL;
    if (len) *len = 0;
    int rc = typed(c, col, 1u << STRATA_TYPE_TEXT, "text", &v, is_null);
    if (!rc && v.type != STRATA_TYPE_NULL) {
        *out = v.s;
        if (len) *len = v.len;
    }
    return rc;
}

int strata_cursor_bool(strata_cursor *c, size_t col, int *out, int *is_null) {
    strata_value v;
    if (!c || !out) return c ? strata__err(c->db, STRATA_EINVAL, "out is NULL") : STRATA_EINVAL;
    *out = 0;
    int rc = typed(c, col, 1u << STRATA_TYPE_BOOL, "bool", &v, is_null);
    if (!rc && v.type != STRATA_TYPE_NULL) *out = (int)v.i;
    return rc;
}

int strata_cursor_timestamp(strata_cursor *c, size_t col, int64_t *ms, int *is_null) {
    strata_value v;
    if (!c || !ms) return c ? strata__err(c->db, STRATA_EINVAL, "ms is NULL") : STRATA_EINVAL;
    *ms = 0;
    int rc = typed(c, col, 1u << STRATA_TYPE_TIMESTAMP, "timestamp", &v, is_null);
    if (!rc && v.type != STRATA_TYPE_NULL) *ms = v.i;
    return rc;
}

void strata_cursor_close(strata_cursor *c) {
    if (!c) return;
    an_cursor_close(c->c);
    free(c);
}

/* ---- the ADR's common queries ---- */
int strata_analytics_query_stats(strata *db, int64_t from_ms, int64_t to_ms, strata_query_stats *out) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    char err[STRATA_ERRMSG_MAX];
    if ((rc = an_query_stats(an, from_ms, to_ms, out, err, sizeof err)) != STRATA_OK)
        return strata__err(db, rc, "%s", err);
    return STRATA_OK;
}

typedef int (*cursor_query)(analytics *, int64_t, int64_t, an_cursor **, char *, size_t);
static int run_query(strata *db, cursor_query q, int64_t from_ms, int64_t to_ms, strata_cursor **out) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    char err[STRATA_ERRMSG_MAX];
    an_cursor *c = NULL;
    rc = q(an, from_ms, to_ms, &c, err, sizeof err);
    return wrap(db, rc, c, err, out);
}

int strata_analytics_latency_percentiles(strata *db, int64_t from_ms, int64_t to_ms, strata_cursor **out) {
    return run_query(db, an_latency_percentiles, from_ms, to_ms, out);
}

int strata_analytics_embedding_throughput(strata *db, int64_t from_ms, int64_t to_ms, strata_cursor **out) {
    return run_query(db, an_embedding_throughput, from_ms, to_ms, out);
}

int strata_analytics_hourly(strata *db, const char *table, int64_t from_ms, int64_t to_ms, strata_cursor **out) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    if (!out) return strata__err(db, STRATA_EINVAL, "out is NULL");
    *out = NULL;
    int t = -1;
    for (int k = 0; table && k < AN_NTABLES; k++)
        if (!strcmp(table, an_table_name(k))) t = k;
    if (t < 0)
        return strata__err(db, STRATA_EINVAL,
                           "no metric table '%.64s' (query_metrics, embedding_metrics, reranking_metrics, "
                           "system_metrics or op_metrics)", table ? table : "(null)");
    char err[STRATA_ERRMSG_MAX];
    an_cursor *c = NULL;
    rc = an_hourly(an, t, from_ms, to_ms, &c, err, sizeof err);
    return wrap(db, rc, c, err, out);
}

int strata_analytics_retain(strata *db, uint64_t *deleted) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    char err[STRATA_ERRMSG_MAX];
    if ((rc = an_retain(an, deleted, err, sizeof err)) != STRATA_OK) return strata__err(db, rc, "%s", err);
    return STRATA_OK;
}

int strata_analytics_export(strata *db, const char *dir, uint64_t *files) {
    analytics *an;
    int rc = an_of(db, &an);
    if (rc) return rc;
    char err[STRATA_ERRMSG_MAX];
    if ((rc = an_export(an, dir, files, err, sizeof err)) != STRATA_OK) return strata__err(db, rc, "%s", err);
    return STRATA_OK;
}
