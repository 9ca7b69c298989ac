/* query.c — SQL over analytics.duckdb: statements with bound parameters, streaming
 * cursors that read typed columns out of DuckDB's data chunks, the untrusted mode
 * (external file access off, one SELECT), and the ADR's common queries.
 *
 * A cursor leases a connection from the pool for its whole life: a streaming result
 * belongs to its connection, and a connection runs one query at a time. Closing the
 * cursor destroys the result (always, even after a failure) and returns the
 * connection; a connection on which a transaction statement ran gets a ROLLBACK
 * first, so no open transaction leaks into the next lease.
 *
 * The ADR queries read the hourly rollups the flusher keeps (analytics.c), so they
 * cost the same at 10M raw rows as at 10K. Only latest-query-stats reads raw rows:
 * the partial hours at the window's edges, which makes it exact. */
#include "an_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AN_MAX_US 253402300800000000LL /* 10000-01-01: "no upper bound" */

typedef struct an_col {
    const char *name;          /* DuckDB's, valid while the result lives */
    duckdb_type dt;
    int type;                  /* STRATA_TYPE_* */
    duckdb_logical_type lt;
    uint8_t dec_scale;
    duckdb_type internal;      /* DECIMAL and ENUM storage */
    char **enum_vals;          /* loaded on first read */
    uint32_t nenum;
    void *data;                /* current chunk */
    uint64_t *valid;
    char *buf;                 /* NUL-terminated copy of the current text value */
    size_t cap;
} an_col;

struct an_cursor {
    analytics *an;
    duckdb_connection con;
    duckdb_prepared_statement st;
    duckdb_result res;
    int has_res;
    duckdb_data_chunk chunk;
    idx_t row, size;
    int done;
    size_t ncols;
    an_col *cols;
    int rollback;
};

static int type_of(duckdb_type t) {
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN: return STRATA_TYPE_BOOL;
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_UHUGEINT:
        return STRATA_TYPE_INT;
    case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_DECIMAL: return STRATA_TYPE_DOUBLE;
    case DUCKDB_TYPE_VARCHAR: case DUCKDB_TYPE_BLOB: case DUCKDB_TYPE_ENUM: return STRATA_TYPE_TEXT;
    case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_TZ: case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS: case DUCKDB_TYPE_TIMESTAMP_NS: case DUCKDB_TYPE_DATE:
        return STRATA_TYPE_TIMESTAMP;
    case DUCKDB_TYPE_SQLNULL: return STRATA_TYPE_NULL;
    default: return STRATA_TYPE_OTHER;
    }
}

static const char *duck_type_name(duckdb_type t) {
    switch (t) {
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_LIST: return "LIST";
    case DUCKDB_TYPE_STRUCT: return "STRUCT";
    case DUCKDB_TYPE_MAP: return "MAP";
    case DUCKDB_TYPE_ARRAY: return "ARRAY";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_UNION: return "UNION";
    case DUCKDB_TYPE_BIT: return "BIT";
    case DUCKDB_TYPE_TIME_TZ: return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_BIGNUM: return "BIGNUM";
    default: return "an unsupported type";
    }
}

/* ---- cursors ---- */
void an_cursor_close(an_cursor *c) {
    if (!c) return;
    if (c->chunk) duckdb_destroy_data_chunk(&c->chunk);
    for (size_t i = 0; i < c->ncols; i++) {
        an_col *col = &c->cols[i];
        if (col->lt) duckdb_destroy_logical_type(&col->lt);
        if (col->enum_vals) {
            for (uint32_t k = 0; k < col->nenum; k++)
                if (col->enum_vals[k]) duckdb_free(col->enum_vals[k]);
            free(col->enum_vals);
        }
        free(col->buf);
    }
    free(c->cols);
    if (c->has_res) duckdb_destroy_result(&c->res);
    if (c->st) duckdb_destroy_prepare(&c->st);
    if (c->con) {
        if (c->rollback) {
            char ignore[8];
            (void)an_exec(c->con, "ROLLBACK", "rollback", ignore, sizeof ignore);
        }
        an_unlease(c->an, c->con);
    }
    free(c);
}

size_t an_cursor_ncols(const an_cursor *c) { return c ? c->ncols : 0; }
const char *an_cursor_name(const an_cursor *c, size_t col) {
    return c && col < c->ncols ? c->cols[col].name : NULL;
}
int an_cursor_type(const an_cursor *c, size_t col) { return c && col < c->ncols ? c->cols[col].type : -1; }

int an_cursor_next(an_cursor *c, int *has_row, char *err, size_t errlen) {
    *has_row = 0;
    if (!c->has_res || c->done) return STRATA_OK;
    if (c->chunk && c->row + 1 < c->size) {
        c->row++;
        *has_row = 1;
        return STRATA_OK;
    }
    if (c->chunk) duckdb_destroy_data_chunk(&c->chunk);
    c->chunk = duckdb_fetch_chunk(c->res);
    if (!c->chunk || (c->size = duckdb_data_chunk_get_size(c->chunk)) == 0) {
        if (c->chunk) duckdb_destroy_data_chunk(&c->chunk);
        c->done = 1;
        const char *m = duckdb_result_error(&c->res);
        if (m) {
            an_errf(err, errlen, "%s", m);
            return an_duck_status(duckdb_result_error_type(&c->res), m);
        }
        return STRATA_OK;
    }
    c->row = 0;
    for (size_t i = 0; i < c->ncols; i++) {
        duckdb_vector v = duckdb_data_chunk_get_vector(c->chunk, (idx_t)i);
        c->cols[i].data = duckdb_vector_get_data(v);
        c->cols[i].valid = duckdb_vector_get_validity(v);
    }
    *has_row = 1;
    return STRATA_OK;
}

static int hugeint_i64(uint64_t lower, int64_t upper, int64_t *out) {
    if ((upper == 0 && lower <= (uint64_t)INT64_MAX) || (upper == -1 && lower > (uint64_t)INT64_MAX)) {
        *out = (int64_t)lower;
        return 1;
    }
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static int set_text(an_col *col, const char *s, size_t len, strata_value *v) {
    if (len + 1 > col->cap) {
        size_t cap = len + 1 < 64 ? 64 : len + 1;
        char *b = realloc(col->buf, cap);
        if (!b) return STRATA_ENOMEM;
        col->buf = b;
        col->cap = cap;
    }
    memcpy(col->buf, s, len);
    col->buf[len] = 0;
    v->type = STRATA_TYPE_TEXT;
    v->s = col->buf;
    v->len = len;
    return STRATA_OK;
}

static int enum_load(an_col *col) {
    col->nenum = duckdb_enum_dictionary_size(col->lt);
    col->enum_vals = calloc(col->nenum ? col->nenum : 1, sizeof *col->enum_vals);
    if (!col->enum_vals) return STRATA_ENOMEM;
    for (uint32_t k = 0; k < col->nenum; k++)
        if (!(col->enum_vals[k] = duckdb_enum_dictionary_value(col->lt, k))) return STRATA_ENOMEM;
    return STRATA_OK;
}

int an_cursor_value(an_cursor *c, size_t col_i, strata_value *v, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    if (col_i >= c->ncols) {
        an_errf(err, errlen, "column %zu does not exist (the result has %zu)", col_i, c->ncols);
        return STRATA_EINVAL;
    }
    if (!c->chunk) {
        an_errf(err, errlen, "no current row: call strata_cursor_next first");
        return STRATA_EMISUSE;
    }
    an_col *col = &c->cols[col_i];
    idx_t r = c->row;
    if (col->type == STRATA_TYPE_NULL || (col->valid && !duckdb_validity_row_is_valid(col->valid, r))) {
        v->type = STRATA_TYPE_NULL;
        return STRATA_OK;
    }
    const void *d = col->data;
    int64_t i = 0;
    switch (col->dt) {
    case DUCKDB_TYPE_BOOLEAN:
        v->type = STRATA_TYPE_BOOL;
        v->i = ((const bool *)d)[r];
        v->d = (double)v->i;
        return STRATA_OK;
    case DUCKDB_TYPE_TINYINT: i = ((const int8_t *)d)[r]; break;
    case DUCKDB_TYPE_SMALLINT: i = ((const int16_t *)d)[r]; break;
    case DUCKDB_TYPE_INTEGER: i = ((const int32_t *)d)[r]; break;
    case DUCKDB_TYPE_BIGINT: i = ((const int64_t *)d)[r]; break;
    case DUCKDB_TYPE_UTINYINT: i = ((const uint8_t *)d)[r]; break;
    case DUCKDB_TYPE_USMALLINT: i = ((const uint16_t *)d)[r]; break;
    case DUCKDB_TYPE_UINTEGER: i = ((const uint32_t *)d)[r]; break;
    case DUCKDB_TYPE_UBIGINT: {
        uint64_t u = ((const uint64_t *)d)[r];
        if (u > (uint64_t)INT64_MAX) goto range;
        i = (int64_t)u;
        break;
    }
    case DUCKDB_TYPE_HUGEINT: {
        duckdb_hugeint h = ((const duckdb_hugeint *)d)[r];
        if (!hugeint_i64(h.lower, h.upper, &i)) goto range;
        break;
    }
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint h = ((const duckdb_uhugeint *)d)[r];
        if (h.upper || h.lower > (uint64_t)INT64_MAX) goto range;
        i = (int64_t)h.lower;
        break;
    }
    case DUCKDB_TYPE_FLOAT: v->type = STRATA_TYPE_DOUBLE; v->d = ((const float *)d)[r]; return STRATA_OK;
    case DUCKDB_TYPE_DOUBLE: v->type = STRATA_TYPE_DOUBLE; v->d = ((const double *)d)[r]; return STRATA_OK;
    case DUCKDB_TYPE_DECIMAL: {
        double raw;
        switch (col->internal) {
        case DUCKDB_TYPE_SMALLINT: raw = ((const int16_t *)d)[r]; break;
        case DUCKDB_TYPE_INTEGER: raw = ((const int32_t *)d)[r]; break;
        case DUCKDB_TYPE_BIGINT: raw = (double)((const int64_t *)d)[r]; break;
        default: {
            duckdb_hugeint h = ((const duckdb_hugeint *)d)[r];
            raw = (double)h.upper * 18446744073709551616.0 + (double)h.lower;
        }
        }
        v->type = STRATA_TYPE_DOUBLE;
        double scale = 1;
        for (uint8_t k = 0; k < col->dec_scale; k++) scale *= 10; /* no libm: the library does not link it */
        v->d = raw / scale;
        return STRATA_OK;
    }
    case DUCKDB_TYPE_VARCHAR: case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = &((duckdb_string_t *)col->data)[r];
        int rc = set_text(col, duckdb_string_t_data(s), duckdb_string_t_length(*s), v);
        if (rc) an_errf(err, errlen, "out of memory");
        return rc;
    }
    case DUCKDB_TYPE_ENUM: {
        if (!col->enum_vals && enum_load(col) != STRATA_OK) {
            an_errf(err, errlen, "out of memory");
            return STRATA_ENOMEM;
        }
        uint64_t k = col->internal == DUCKDB_TYPE_UTINYINT ? ((const uint8_t *)d)[r]
                   : col->internal == DUCKDB_TYPE_USMALLINT ? ((const uint16_t *)d)[r]
                                                            : ((const uint32_t *)d)[r];
        const char *s = k < col->nenum ? col->enum_vals[k] : "";
        int rc = set_text(col, s, strlen(s), v);
        if (rc) an_errf(err, errlen, "out of memory");
        return rc;
    }
    case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_TZ:
        v->type = STRATA_TYPE_TIMESTAMP;
        v->i = floor_div(((const int64_t *)d)[r], 1000);
        v->d = (double)v->i;
        return STRATA_OK;
    case DUCKDB_TYPE_TIMESTAMP_S:
        v->type = STRATA_TYPE_TIMESTAMP;
        v->i = ((const int64_t *)d)[r] * 1000;
        v->d = (double)v->i;
        return STRATA_OK;
    case DUCKDB_TYPE_TIMESTAMP_MS:
        v->type = STRATA_TYPE_TIMESTAMP;
        v->i = ((const int64_t *)d)[r];
        v->d = (double)v->i;
        return STRATA_OK;
    case DUCKDB_TYPE_TIMESTAMP_NS:
        v->type = STRATA_TYPE_TIMESTAMP;
        v->i = floor_div(((const int64_t *)d)[r], 1000000);
        v->d = (double)v->i;
        return STRATA_OK;
    case DUCKDB_TYPE_DATE:
        v->type = STRATA_TYPE_TIMESTAMP;
        v->i = (int64_t)((const int32_t *)d)[r] * 86400000;
        v->d = (double)v->i;
        return STRATA_OK;
    default:
        an_errf(err, errlen, "column '%s' has type %s, which the cursor does not read; CAST it to VARCHAR in the query",
                col->name, duck_type_name(col->dt));
        return STRATA_EINVAL;
    }
    v->type = STRATA_TYPE_INT;
    v->i = i;
    v->d = (double)i;
    return STRATA_OK;
range:
    an_errf(err, errlen, "column '%s': the value does not fit in a 64-bit integer; CAST it to DOUBLE in the query",
            col->name);
    return STRATA_EINVAL;
}

/* ---- statements ---- */
static int fail_result(duckdb_result *res, const char *what, char *err, size_t errlen) {
    const char *m = duckdb_result_error(res);
    int rc = an_duck_status(duckdb_result_error_type(res), m);
    an_errf(err, errlen, "%s%s", what, m ? m : "DuckDB error");
    return rc;
}

static int literal_bind(duckdb_prepared_statement st, idx_t idx, const char *s) {
    if (!strcasecmp(s, "null")) return duckdb_bind_null(st, idx) == DuckDBSuccess;
    if (duckdb_param_type(st, idx) != DUCKDB_TYPE_INVALID) /* DuckDB knows the type: let it convert */
        return duckdb_bind_varchar(st, idx, s) == DuckDBSuccess;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "false"))
        return duckdb_bind_boolean(st, idx, !strcasecmp(s, "true")) == DuckDBSuccess;
    char *end;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (*s && !*end && !errno && !strchr(" \t\n", *s)) return duckdb_bind_int64(st, idx, ll) == DuckDBSuccess;
    errno = 0;
    double dv = strtod(s, &end);
    if (*s && !*end && !errno && isfinite(dv) && !strchr(" \t\n", *s) && strpbrk(s, "0123456789") &&
        !strpbrk(s, "xXnNiI"))
        return duckdb_bind_double(st, idx, dv) == DuckDBSuccess;
    return duckdb_bind_varchar(st, idx, s) == DuckDBSuccess;
}

/* Forward: a UTF-8 check without pulling in util (this folder stays self-contained). */
static int utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) { p++; continue; }
        int n = (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (*p == 0xC0 || *p == 0xC1) || *p > 0xF4) return 0;
        uint32_t cp = *p & (0x3F >> n);
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        p += n + 1;
    }
    return 1;
}

static void param_label(const strata_param *p, size_t i, char *buf, size_t n) {
    if (p->name) snprintf(buf, n, "parameter $%s", p->name[0] == '$' ? p->name + 1 : p->name);
    else snprintf(buf, n, "parameter %zu", i + 1);
}

static int bind_params(duckdb_prepared_statement st, const strata_param *p, size_t n, char *err, size_t errlen) {
    idx_t np = duckdb_nparams(st);
    unsigned char *bound = calloc((size_t)np + 1, 1);
    if (!bound) {
        an_errf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    int rc = STRATA_OK;
    idx_t pos = 0;
    char label[96];
    for (size_t i = 0; i < n && !rc; i++) {
        param_label(&p[i], i, label, sizeof label);
        idx_t idx;
        if (p[i].name) {
            const char *nm = p[i].name[0] == '$' ? p[i].name + 1 : p[i].name;
            if (!*nm || duckdb_bind_parameter_index(st, &idx, nm) == DuckDBError) {
                an_errf(err, errlen, "%s: the statement has no such parameter", label);
                rc = STRATA_EINVAL;
                break;
            }
        } else {
            idx = ++pos;
        }
        if (idx < 1 || idx > np) {
            an_errf(err, errlen, "%s: the statement takes %" PRIu64 " parameter%s", label, (uint64_t)np,
                    np == 1 ? "" : "s");
            rc = STRATA_EINVAL;
            break;
        }
        if (bound[idx]) {
            an_errf(err, errlen, "%s: given twice", label);
            rc = STRATA_EINVAL;
            break;
        }
        bound[idx] = 1;
        int ok;
        switch (p[i].type) {
        case STRATA_TYPE_NULL: ok = duckdb_bind_null(st, idx) == DuckDBSuccess; break;
        case STRATA_TYPE_INT: ok = duckdb_bind_int64(st, idx, p[i].i) == DuckDBSuccess; break;
        case STRATA_TYPE_DOUBLE: ok = duckdb_bind_double(st, idx, p[i].d) == DuckDBSuccess; break;
        case STRATA_TYPE_BOOL: ok = duckdb_bind_boolean(st, idx, p[i].i != 0) == DuckDBSuccess; break;
        case STRATA_TYPE_TIMESTAMP:
            if (p[i].i > INT64_MAX / 1000 || p[i].i < INT64_MIN / 1000) {
                an_errf(err, errlen, "%s: timestamp out of range", label);
                rc = STRATA_EINVAL;
                continue;
            }
            ok = duckdb_bind_timestamp(st, idx, (duckdb_timestamp){ p[i].i * 1000 }) == DuckDBSuccess;
            break;
        case STRATA_TYPE_TEXT: case STRATA_PARAM_LITERAL:
            if (!p[i].s || !utf8_ok(p[i].s)) {
                an_errf(err, errlen, "%s: %s", label, p[i].s ? "text is not valid UTF-8" : "text is NULL");
                rc = STRATA_EINVAL;
                continue;
            }
            ok = p[i].type == STRATA_TYPE_TEXT ? duckdb_bind_varchar(st, idx, p[i].s) == DuckDBSuccess
                                               : literal_bind(st, idx, p[i].s);
            break;
        default:
            an_errf(err, errlen, "%s: unknown type %d", label, p[i].type);
            rc = STRATA_EINVAL;
            continue;
        }
        if (!ok) {
            an_errf(err, errlen, "%s: DuckDB refused the value", label);
            rc = STRATA_EINVAL;
        }
    }
    for (idx_t k = 1; k <= np && !rc; k++) {
        if (bound[k]) continue;
        const char *nm = duckdb_parameter_name(st, k);
        an_errf(err, errlen, "parameter $%s has no value", nm ? nm : "?");
        if (nm) duckdb_free((void *)nm);
        rc = STRATA_EINVAL;
    }
    free(bound);
    return rc;
}

static int cursor_start(an_cursor *c, char *err, size_t errlen) {
    if (duckdb_execute_prepared_streaming(c->st, &c->res) == DuckDBError) {
        int rc = fail_result(&c->res, "", err, errlen);
        duckdb_destroy_result(&c->res);
        return rc;
    }
    c->has_res = 1;
    c->ncols = (size_t)duckdb_column_count(&c->res);
    c->cols = calloc(c->ncols ? c->ncols : 1, sizeof *c->cols);
    if (!c->cols) {
        an_errf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < c->ncols; i++) {
        an_col *col = &c->cols[i];
        col->name = duckdb_column_name(&c->res, (idx_t)i);
        if (!col->name) col->name = "";
        col->lt = duckdb_column_logical_type(&c->res, (idx_t)i);
        col->dt = col->lt ? duckdb_get_type_id(col->lt) : DUCKDB_TYPE_INVALID;
        col->type = type_of(col->dt);
        if (col->dt == DUCKDB_TYPE_DECIMAL) {
            col->dec_scale = duckdb_decimal_scale(col->lt);
            col->internal = duckdb_decimal_internal_type(col->lt);
        } else if (col->dt == DUCKDB_TYPE_ENUM) {
            col->internal = duckdb_enum_internal_type(col->lt);
        }
    }
    return STRATA_OK;
}

int an_sql(analytics *an, const char *sql, const strata_param *params, size_t nparams, unsigned flags,
           an_cursor **out, char *err, size_t errlen) {
    *out = NULL;
    if (!sql) {
        an_errf(err, errlen, "sql is NULL");
        return STRATA_EINVAL;
    }
    if (flags & ~(unsigned)AN_SQL_UNTRUSTED) {
        an_errf(err, errlen, "unknown flags 0x%x", flags & ~(unsigned)AN_SQL_UNTRUSTED);
        return STRATA_EINVAL;
    }
    if (nparams && !params) {
        an_errf(err, errlen, "params is NULL with nparams = %zu", nparams);
        return STRATA_EINVAL;
    }
    if (!utf8_ok(sql)) {
        an_errf(err, errlen, "sql is not valid UTF-8");
        return STRATA_EINVAL;
    }
    int untrusted = flags & AN_SQL_UNTRUSTED;
    int rc = untrusted ? an_seal(an, err, errlen) : an_wait_open(an, err, errlen);
    if (rc) return rc;
    an_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        an_errf(err, errlen, "out of memory");
        return STRATA_ENOMEM;
    }
    c->an = an;
    if ((rc = an_lease(an, &c->con, err, errlen)) != STRATA_OK) goto fail;
    duckdb_extracted_statements ext = NULL;
    idx_t ns = duckdb_extract_statements(c->con, sql, &ext);
    if (ns == 0) {
        const char *m = duckdb_extract_statements_error(ext);
        an_errf(err, errlen, "%s", m ? m : "no SQL statement");
        rc = STRATA_EINVAL;
    } else if (untrusted && ns != 1) {
        an_errf(err, errlen, "untrusted SQL must be a single SELECT statement (found %" PRIu64 " statements)",
                (uint64_t)ns);
        rc = STRATA_EINVAL;
    } else if (ns > 1 && nparams) {
        an_errf(err, errlen, "parameters need a single statement (found %" PRIu64 ")", (uint64_t)ns);
        rc = STRATA_EINVAL;
    }
    for (idx_t i = 0; i < ns && !rc; i++) {
        duckdb_prepared_statement st = NULL;
        if (duckdb_prepare_extracted_statement(c->con, ext, i, &st) == DuckDBError) {
            const char *m = duckdb_prepare_error(st);
            an_errf(err, errlen, "%s", m ? m : "cannot prepare the statement");
            rc = m && strstr(m, "Permission Error") ? STRATA_EACCES : STRATA_EINVAL;
            duckdb_destroy_prepare(&st);
            break;
        }
        duckdb_statement_type stype = duckdb_prepared_statement_type(st);
        if (stype == DUCKDB_STATEMENT_TYPE_TRANSACTION) c->rollback = 1;
        if (i + 1 < ns) {
            duckdb_result res;
            if (duckdb_nparams(st) > 0) {
                an_errf(err, errlen, "statement %" PRIu64 " has parameters; they need a single statement",
                        (uint64_t)i + 1);
                rc = STRATA_EINVAL;
            } else {
                if (duckdb_execute_prepared(st, &res) == DuckDBError) rc = fail_result(&res, "", err, errlen);
                duckdb_destroy_result(&res);
            }
            duckdb_destroy_prepare(&st);
            continue;
        }
        c->st = st;
        if (untrusted && stype != DUCKDB_STATEMENT_TYPE_SELECT) {
            an_errf(err, errlen, "untrusted SQL may only read: a single SELECT statement");
            rc = STRATA_EINVAL;
            break;
        }
        if ((rc = bind_params(st, params, nparams, err, errlen)) != STRATA_OK) break;
        rc = cursor_start(c, err, errlen);
    }
    duckdb_destroy_extracted(&ext);
    if (rc) goto fail;
    *out = c;
    return STRATA_OK;
fail:
    an_cursor_close(c);
    return rc;
}

int an_run(analytics *an, const char *sql, const strata_param *params, size_t n, an_cursor **out, char *err,
           size_t errlen) {
    return an_sql(an, sql, params, n, 0, out, err, errlen);
}

/* ---- the ADR's common queries ---- */
static int64_t floor_hour(int64_t us) { return us - us % AN_HOUR_US; }
static int64_t ceil_hour(int64_t us) { return us % AN_HOUR_US ? floor_hour(us) + AN_HOUR_US : us; }

/* Resolve a window to microseconds; t_us = AN_MAX_US when open-ended. */
static int window(analytics *an, int64_t from_ms, int64_t to_ms, int64_t *f_us, int64_t *t_us, char *err,
                  size_t errlen) {
    if (from_ms < 0 || to_ms < 0 || from_ms > STRATA_METRIC_TIME_MAX || to_ms > STRATA_METRIC_TIME_MAX) {
        an_errf(err, errlen, "window: times must be within 0..%lld ms", (long long)STRATA_METRIC_TIME_MAX);
        return STRATA_EINVAL;
    }
    if (to_ms && to_ms <= from_ms) {
        an_errf(err, errlen, "window: to_ms (%" PRId64 ") must be after from_ms (%" PRId64 ")", to_ms, from_ms);
        return STRATA_EINVAL;
    }
    if (!from_ms && !to_ms) {
        int64_t now = an_now_ms(an);
        from_ms = now > 86400000 ? now - 86400000 : 0;
    }
    *f_us = from_ms * 1000;
    *t_us = to_ms ? to_ms * 1000 : AN_MAX_US;
    return STRATA_OK;
}

int an_query_stats(analytics *an, int64_t from_ms, int64_t to_ms, strata_query_stats *out, char *err,
                   size_t errlen) {
    memset(out, 0, sizeof *out);
    int64_t f, t;
    int rc = window(an, from_ms, to_ms, &f, &t, err, errlen);
    if (rc) return rc;
    /* Raw rows for the partial hours at the edges, rollups for the whole hours between.
     * An edge hour whose raw rows retention already deleted is taken whole from its
     * rollup (the one case that is not exact). */
    int64_t wm = atomic_load(&an->retained_before_us);
    int64_t a0 = f, a1 = f, b0 = t, b1 = t, r0, r1;
    if (t != AN_MAX_US && floor_hour(f) == floor_hour(t - 1)) { /* inside one hour */
        if (f >= wm) { a1 = t; r0 = r1 = 0; }
        else { r0 = floor_hour(f); r1 = r0 + AN_HOUR_US; }
    } else {
        r0 = ceil_hour(f);
        if (f < wm) r0 = floor_hour(f);
        else a1 = r0;
        if (t == AN_MAX_US) r1 = AN_MAX_US;
        else if (t < wm) r1 = ceil_hour(t);
        else { r1 = floor_hour(t); b0 = r1; }
    }
    static const char sql[] =
        "SELECT coalesce(sum(n), 0)::BIGINT, coalesce(sum(s), 0)::DOUBLE, coalesce(sum(ok), 0)::BIGINT FROM ("
        " SELECT count(*) AS n, sum(latency_ms) AS s, count(*) FILTER (WHERE success) AS ok FROM query_metrics"
        "  WHERE (timestamp >= $1 AND timestamp < $2) OR (timestamp >= $3 AND timestamp < $4)"
        " UNION ALL"
        " SELECT sum(count), sum(latency_ms_sum), sum(successes) FROM query_metrics_hourly"
        "  WHERE hour >= $5 AND hour < $6)";
    strata_param p[6] = {
        STRATA_P_TIME(NULL, a0 / 1000), STRATA_P_TIME(NULL, a1 / 1000), STRATA_P_TIME(NULL, b0 / 1000),
        STRATA_P_TIME(NULL, b1 / 1000), STRATA_P_TIME(NULL, r0 / 1000), STRATA_P_TIME(NULL, r1 / 1000),
    };
    an_cursor *c;
    if ((rc = an_run(an, sql, p, 6, &c, err, errlen)) != STRATA_OK) return rc;
    int has = 0;
    strata_value n, s, ok;
    if ((rc = an_cursor_next(c, &has, err, errlen)) == STRATA_OK && has &&
        (rc = an_cursor_value(c, 0, &n, err, errlen)) == STRATA_OK &&
        (rc = an_cursor_value(c, 1, &s, err, errlen)) == STRATA_OK &&
        (rc = an_cursor_value(c, 2, &ok, err, errlen)) == STRATA_OK && n.i > 0) {
        out->total_queries = (uint64_t)n.i;
        out->avg_latency_ms = s.d / (double)n.i;
        out->success_rate = (double)ok.i / (double)n.i;
    }
    an_cursor_close(c);
    return rc;
}

/* Whole hours overlapping the window, as two TIMESTAMP parameters. */
static int hour_window(analytics *an, int64_t from_ms, int64_t to_ms, strata_param p[2], char *err, size_t errlen) {
    int64_t f, t;
    int rc = window(an, from_ms, to_ms, &f, &t, err, errlen);
    if (rc) return rc;
    p[0] = STRATA_P_TIME(NULL, floor_hour(f) / 1000);
    p[1] = STRATA_P_TIME(NULL, (t == AN_MAX_US ? AN_MAX_US : ceil_hour(t)) / 1000);
    return STRATA_OK;
}

/* Percentile q of each group of a histogram CTE `c` (cum, tot per group). */
#define PCT(q, name) "min(bucket) FILTER (WHERE cum >= " q " * tot) AS " name
#define CLAMP_MS(b, lo, hi) "least(greatest(" AN_SQL_BUCKET_VALUE(b) " / 1000.0, " lo "), " hi ")"
int an_latency_percentiles(analytics *an, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
                           size_t errlen) {
    *out = NULL;
    strata_param p[2];
    int rc = hour_window(an, from_ms, to_ms, p, err, errlen);
    if (rc) return rc;
    static const char sql[] =
        "WITH h AS (SELECT dim1 AS retrieval_strategy, bucket, sum(count) AS n FROM metric_histograms_hourly "
        " WHERE source = 'query_metrics.latency_ms' AND hour >= $1 AND hour < $2 GROUP BY dim1, bucket), "
        "c AS (SELECT retrieval_strategy, bucket, sum(n) OVER (PARTITION BY retrieval_strategy ORDER BY bucket "
        " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum, "
        " sum(n) OVER (PARTITION BY retrieval_strategy) AS tot FROM h), "
        "p AS (SELECT retrieval_strategy, " PCT("0.5", "b50") ", " PCT("0.95", "b95") ", " PCT("0.99", "b99")
        " FROM c GROUP BY retrieval_strategy), "
        "a AS (SELECT retrieval_strategy, sum(count) AS n, sum(latency_ms_sum) AS s, min(latency_ms_min) AS mn, "
        " max(latency_ms_max) AS mx FROM query_metrics_hourly WHERE hour >= $1 AND hour < $2 "
        " GROUP BY retrieval_strategy) "
        "SELECT a.retrieval_strategy, a.n::BIGINT AS count, a.s / a.n AS avg_ms, "
        CLAMP_MS("p.b50", "a.mn", "a.mx") " AS p50_ms, " CLAMP_MS("p.b95", "a.mn", "a.mx") " AS p95_ms, "
        CLAMP_MS("p.b99", "a.mn", "a.mx") " AS p99_ms, a.mx::DOUBLE AS max_ms "
        "FROM a LEFT JOIN p USING (retrieval_strategy) ORDER BY a.retrieval_strategy";
    return an_run(an, sql, p, 2, out, err, errlen);
}

int an_embedding_throughput(analytics *an, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
                            size_t errlen) {
    *out = NULL;
    strata_param p[2];
    int rc = hour_window(an, from_ms, to_ms, p, err, errlen);
    if (rc) return rc;
    static const char sql[] =
        "SELECT model_name, sum(count)::BIGINT AS embeddings, sum(text_length_sum)::BIGINT AS text_chars, "
        "sum(embedding_time_ms_sum) / sum(count) AS avg_time_ms, "
        "CASE WHEN sum(embedding_time_ms_sum) > 0 THEN sum(count) * 1000.0 / sum(embedding_time_ms_sum) END "
        "AS embeddings_per_s, "
        "CASE WHEN sum(embedding_time_ms_sum) > 0 THEN sum(text_length_sum) * 1000.0 / sum(embedding_time_ms_sum) "
        "END AS chars_per_s "
        "FROM embedding_metrics_hourly WHERE hour >= $1 AND hour < $2 GROUP BY model_name ORDER BY model_name";
    return an_run(an, sql, p, 2, out, err, errlen);
}

/* Rollup rows are deltas (several per key until compaction folds them): every
 * reader aggregates by key first. Percentiles are not here: a window function per
 * (hour, group) over the histograms costs ~100 ms a day of data; the percentiles
 * query covers any window, one hour included. */
static const char *const hourly_sql[AN_NTABLES] = {
    "SELECT hour, query_type, retrieval_strategy, sum(count)::BIGINT AS count, "
    "sum(successes)::DOUBLE / sum(count) AS success_rate, sum(latency_ms_sum) / sum(count) AS avg_latency_ms, "
    "min(latency_ms_min)::DOUBLE AS min_latency_ms, max(latency_ms_max)::DOUBLE AS max_latency_ms, "
    "sum(result_count_sum)::DOUBLE / sum(count) AS avg_result_count FROM query_metrics_hourly "
    "WHERE hour >= $1 AND hour < $2 GROUP BY ALL ORDER BY ALL",

    "SELECT hour, model_name, sum(count)::BIGINT AS count, sum(embedding_time_ms_sum) / sum(count) AS avg_time_ms, "
    "min(embedding_time_ms_min)::DOUBLE AS min_time_ms, max(embedding_time_ms_max)::DOUBLE AS max_time_ms, "
    "sum(text_length_sum)::BIGINT AS text_chars, min(dimension_min) AS dimension_min, "
    "max(dimension_max) AS dimension_max FROM embedding_metrics_hourly WHERE hour >= $1 AND hour < $2 "
    "GROUP BY ALL ORDER BY ALL",

    "SELECT hour, query_type, sum(count)::BIGINT AS count, "
    "sum(document_count_sum)::DOUBLE / sum(count) AS avg_document_count, "
    "sum(rerank_time_ms_sum) / sum(count) AS avg_rerank_time_ms, min(rerank_time_ms_min)::DOUBLE AS "
    "min_rerank_time_ms, max(rerank_time_ms_max)::DOUBLE AS max_rerank_time_ms, "
    "sum(quality_score_sum) / sum(count) AS avg_quality_score, min(quality_score_min)::DOUBLE AS "
    "min_quality_score, max(quality_score_max)::DOUBLE AS max_quality_score FROM reranking_metrics_hourly "
    "WHERE hour >= $1 AND hour < $2 GROUP BY ALL ORDER BY ALL",

    "SELECT hour, metric_name, metric_unit, sum(count)::BIGINT AS count, sum(metric_value_sum) / sum(count) AS "
    "avg_value, min(metric_value_min)::DOUBLE AS min_value, max(metric_value_max)::DOUBLE AS max_value, "
    "arg_max(metric_value_last, last_timestamp)::DOUBLE AS last_value FROM system_metrics_hourly "
    "WHERE hour >= $1 AND hour < $2 GROUP BY ALL ORDER BY ALL",

    "SELECT hour, op, sum(count)::BIGINT AS count, sum(errors)::BIGINT AS errors, sum(sampled)::BIGINT AS sampled, "
    "sum(latency_us_sum)::DOUBLE / nullif(sum(sampled), 0) AS avg_latency_us, min(latency_us_min) AS "
    "min_latency_us, max(latency_us_max) AS max_latency_us FROM op_metrics_hourly "
    "WHERE hour >= $1 AND hour < $2 GROUP BY ALL ORDER BY ALL",
};

int an_hourly(analytics *an, int table, int64_t from_ms, int64_t to_ms, an_cursor **out, char *err,
              size_t errlen) {
    *out = NULL;
    if (table < 0 || table >= AN_NTABLES) {
        an_errf(err, errlen, "no such metric table");
        return STRATA_EINVAL;
    }
    strata_param p[2];
    int rc = hour_window(an, from_ms, to_ms, p, err, errlen);
    if (rc) return rc;
    return an_run(an, hourly_sql[table], p, 2, out, err, errlen);
}
