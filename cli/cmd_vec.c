/* cmd_vec.c — `strata vec create|list|info|drop|add|search`: collections of dense
 * vectors keyed by document id, searched with the store's HNSW index.
 *
 * The pieces:
 *  - a strict parser for a JSON array of numbers (`[0.1, -2e-3, …]`), used for
 *    --vector and for each line of a JSON-lines file;
 *  - a streaming reader of vector files (struct vin): .fvecs (per row a
 *    little-endian int32 dimension, then that many little-endian float32), .npy
 *    (float32 '<f4', 2-D, C order; NPY format versions 1, 2 and 3, the header dict
 *    parsed, not pattern-matched) and JSON lines (one array per line). The format
 *    comes from the extension, or from the content when that is unambiguous (NPY
 *    magic; a first '[' for JSON lines; a plausible fvecs dimension). It holds one
 *    row and a 1 MiB buffer, whatever the size of the file, and reads standard
 *    input for "-";
 *  - `vec add`, which puts rows in transactions of ADD_BATCH vectors: a bad row
 *    aborts its batch (nothing of it is stored) and stops; earlier batches stay;
 *  - `vec search` with one query from --vector, --doc or --text, or one per row of
 *    --file (printed as JSON lines).
 * `import --embed` (cmd_import.c) embeds documents with the same strata_embed_hash
 * that --text uses. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADD_BATCH 1000                  /* vectors per transaction of `vec add` */
#define VIN_BUF (1u << 20)              /* read buffer of a vector file */
#define VIN_LINE_MAX (64u << 20)        /* longest JSON line accepted */
#define NPY_HEADER_MAX (64u << 10)      /* longest NPY header accepted (< VIN_BUF) */
#define PROGRESS_INTERVAL 0.2

static const char *const metric_names[] = { "cosine", "ip", "l2" };
static const char *const dtype_names[] = { "f32", "f16", "i8" };

static const char *metric_name(int m)
{
    return m >= 0 && m < 3 ? metric_names[m] : "?";
}

static const char *dtype_name(int d)
{
    return d >= 0 && d < 3 ? dtype_names[d] : "?";
}

/* The collection's facts, or a failure message ("no collection 'X'"). */
static int coll_info(struct cli_ctx *ctx, const char *what, const char *name, strata_collection_info *info)
{
    int rc = ctx->db ? strata_vec_info(ctx->db, name, info) : cli_served_vec_info(name, info);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "%s '%s'", what, cli_q(name));
    return CLI_OK;
}

/* ---- a JSON array of numbers ---- */

static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse `s` (NUL-terminated) as a JSON array of numbers, surrounded by optional
 * whitespace, into out[0..dim). Exactly `dim` components are wanted; every one must
 * be a finite float32. Returns 0, or -1 with a message in err. */
static int parse_vec_json(const char *s, float *out, uint32_t dim, char *err, size_t errsz)
{
    const char *p = s;
    while (is_ws(*p))
        p++;
    if (*p != '[') {
        snprintf(err, errsz, "a JSON array of numbers, like [0.5, -1, 2e-3], was expected%s",
                 *p ? "" : " (the text is empty)");
        return -1;
    }
    p++;
    while (is_ws(*p))
        p++;
    uint64_t n = 0;
    if (*p == ']') {
        p++;
    } else {
        for (;;) {
            while (is_ws(*p))
                p++;
            const char *start = p;
            if (*p == '[') {
                snprintf(err, errsz, "component %" PRIu64 " is an array: one vector is one flat array "
                         "(for several vectors, one array per line)", n);
                return -1;
            }
            if (strncmp(p, "NaN", 3) == 0 || strncmp(p, "Infinity", 8) == 0 ||
                strncmp(p, "-Infinity", 9) == 0) {
                snprintf(err, errsz, "component %" PRIu64 " is %s: vectors must be finite (and JSON has "
                         "no NaN or Infinity)", n, *p == 'N' ? "NaN" : "infinite");
                return -1;
            }
            /* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
            if (*p == '-')
                p++;
            if (*p == '0')
                p++;
            else if (*p >= '1' && *p <= '9')
                while (*p >= '0' && *p <= '9')
                    p++;
            else
                goto bad_number;
            if (*p == '.') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                    goto bad_number;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
            if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '+' || *p == '-')
                    p++;
                if (!(*p >= '0' && *p <= '9'))
                    goto bad_number;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
            {
                char *end = NULL;
                double v = strtod(start, &end);
                if (end != p)
                    goto bad_number;
                if (!isfinite(v) || fabs(v) > FLT_MAX) {
                    snprintf(err, errsz, "component %" PRIu64 " (%.*s) is out of the float32 range", n,
                             (int)(p - start > 40 ? 40 : p - start), start);
                    return -1;
                }
                if (n < dim)
                    out[n] = (float)v;
                n++;
            }
            while (is_ws(*p))
                p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ']') {
                p++;
                break;
            }
            if (!*p)
                snprintf(err, errsz, "the array is not closed with ']'");
            else
                snprintf(err, errsz, "',' or ']' expected after component %" PRIu64 ", not '%c'", n,
                         (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?');
            return -1;
        bad_number:
            if (!*start)
                snprintf(err, errsz, "the array is not closed with ']'");
            else
                snprintf(err, errsz, "component %" PRIu64 " is not a JSON number: '%.20s'", n,
                         cli_q(start));
            return -1;
        }
    }
    while (is_ws(*p))
        p++;
    if (*p) {
        snprintf(err, errsz, "text after the array: '%.20s'", cli_q(p));
        return -1;
    }
    if (n != dim) {
        snprintf(err, errsz, "%" PRIu64 " component%s, but the collection holds %" PRIu32
                 "-dimensional vectors", n, n == 1 ? "" : "s", dim);
        return -1;
    }
    return 0;
}

/* ---- vector files ---- */

enum vfmt { VF_FVECS, VF_NPY, VF_JSONL };
static const char *const vfmt_names[] = { "fvecs", "npy", "JSON lines" };

struct vin {
    const char *path;        /* for messages; "-" is standard input */
    int fd;
    enum vfmt fmt;
    unsigned char *buf;
    size_t pos, len;
    int eof;                 /* read() returned 0 */
    int read_err;            /* errno of a failed read */
    uint32_t dim;            /* the collection's dimension: every row must have it */
    uint64_t row;            /* rows returned so far (the next row's number) */
    uint64_t line;           /* JSON lines: the line of the last row */
    int64_t total;           /* rows in the file when known beforehand, else -1 */
    uint64_t npy_rows;       /* NPY: rows the header announces */
    off_t data_off;          /* where the rows begin */
    char *lbuf;              /* JSON lines: the current line, NUL-terminated */
    size_t lcap;
    char err[512];
};

static void vin_err(struct vin *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vin_err(struct vin *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err, sizeof in->err, fmt, ap);
    va_end(ap);
}

/* Make at least `want` bytes (<= VIN_BUF) available from pos, unless the input ends
 * first. Returns the bytes available. */
static size_t vin_fill(struct vin *in, size_t want)
{
    if (in->len - in->pos >= want || in->eof || in->read_err)
        return in->len - in->pos;
    if (in->pos > 0) {
        memmove(in->buf, in->buf + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
    }
    while (in->len < want && !in->eof) {
        ssize_t n = read(in->fd, in->buf + in->len, VIN_BUF - in->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            in->read_err = errno;
            break;
        }
        if (n == 0)
            in->eof = 1;
        in->len += (size_t)n;
    }
    return in->len - in->pos;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float le_float(const unsigned char *p)
{
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const char *ext_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    return dot ? dot + 1 : "";
}

/* Rows of a component that is not finite: NaN or infinite. */
static int check_finite(struct vin *in, const float *v)
{
    for (uint32_t i = 0; i < in->dim; i++)
        if (!isfinite(v[i])) {
            vin_err(in, "row %" PRIu64 ": component %" PRIu32 " is %s; vectors must be finite", in->row, i,
                    isnan(v[i]) ? "NaN" : "infinite");
            return -1;
        }
    return 0;
}

/* ---- NPY header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }
 * Only the three keys NumPy writes are accepted, each once. */

struct npy_parse { const char *p; const char *end; };

static void npy_ws(struct npy_parse *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A quoted Python string without escapes, into out. */
static int npy_str(struct npy_parse *s, char *out, size_t cap)
{
    npy_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
        return -1;
    char q = *s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != q) {
        if (*s->p == '\\' || n + 1 >= cap)
            return -1;
        out[n++] = *s->p++;
    }
    if (s->p >= s->end)
        return -1;
    s->p++;
    out[n] = '\0';
    return 0;
}

static int npy_tok(struct npy_parse *s, const char *word)
{
    npy_ws(s);
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

/* `(n, d)`, `(n,)` or `()`: up to 8 dimensions into shape[]. */
static int npy_shape(struct npy_parse *s, uint64_t *shape, int *ndim)
{
    if (!npy_tok(s, "("))
        return -1;
    *ndim = 0;
    for (;;) {
        npy_ws(s);
        if (npy_tok(s, ")"))
            return 0;
        if (*ndim >= 8 || s->p >= s->end || *s->p < '0' || *s->p > '9')
            return -1;
        uint64_t v = 0;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (uint64_t)(*s->p++ - '0');
        }
        npy_ws(s);
        if (s->p < s->end && *s->p == 'L')
            s->p++; /* Python 2 long */
        shape[(*ndim)++] = v;
        if (npy_tok(s, ","))
            continue;
        if (npy_tok(s, ")"))
            return 0;
        return -1;
    }
}

static int npy_open(struct vin *in, int64_t file_size)
{
    if (vin_fill(in, 10) < 10) {
        vin_err(in, "not an NPY file: it ends inside the header");
        return -1;
    }
    const unsigned char *b = in->buf + in->pos;
    if (memcmp(b, "\x93NUMPY", 6) != 0) {
        vin_err(in, "not an NPY file: it does not start with the NPY magic \\x93NUMPY");
        return -1;
    }
    unsigned major = b[6], minor = b[7];
    size_t pre, hlen;
    if (major == 1) {
        pre = 10;
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (major == 2 || major == 3) {
        if (vin_fill(in, 12) < 12) {
            vin_err(in, "not an NPY file: it ends inside the header");
            return -1;
        }
        b = in->buf + in->pos;
        pre = 12;
        hlen = le32(b + 8);
    } else {
        vin_err(in, "NPY format version %u.%u is not supported (1.0, 2.0 and 3.0 are)", major, minor);
        return -1;
    }
    if (hlen > NPY_HEADER_MAX) {
        vin_err(in, "NPY header of %zu bytes is implausibly long", hlen);
        return -1;
    }
    if (vin_fill(in, pre + hlen) < pre + hlen) {
        vin_err(in, "the file ends inside its NPY header");
        return -1;
    }
    const char *h = (const char *)in->buf + in->pos + pre;
    struct npy_parse s = { h, h + hlen };
    char key[32], descr[32] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, ndim = 0;
    uint64_t shape[8] = { 0 };
    if (!npy_tok(&s, "{"))
        goto bad_header;
    for (;;) {
        if (npy_tok(&s, "}"))
            break;
        if (npy_str(&s, key, sizeof key) != 0 || !npy_tok(&s, ":"))
            goto bad_header;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            have_descr = 1;
            if (npy_str(&s, descr, sizeof descr) != 0) {
                vin_err(in, "NPY header: 'descr' is not a simple type string (a structured dtype?); "
                        "only '<f4' (little-endian float32) is supported");
                return -1;
            }
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            have_fortran = 1;
            if (npy_tok(&s, "False"))
                fortran = 0;
            else if (npy_tok(&s, "True"))
                fortran = 1;
            else
                goto bad_header;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            have_shape = 1;
            if (npy_shape(&s, shape, &ndim) != 0)
                goto bad_header;
        } else {
            vin_err(in, "NPY header: unexpected or repeated key '%s' (NumPy writes descr, "
                    "fortran_order and shape, once each)", cli_q(key));
            return -1;
        }
        if (npy_tok(&s, ","))
            continue;
        if (npy_tok(&s, "}"))
            break;
        goto bad_header;
    }
    npy_ws(&s);
    if (s.p != s.end)
        goto bad_header;
    if (!have_descr || !have_fortran || !have_shape) {
        vin_err(in, "NPY header lacks '%s'", !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
        return -1;
    }
    if (strcmp(descr, "<f4") != 0) {
        const char *what = strcmp(descr, "<f8") == 0 ? " (float64)" : strcmp(descr, ">f4") == 0 ? " (big-endian)"
                           : strcmp(descr, "<f2") == 0 ? " (float16)" : "";
        vin_err(in, "NPY dtype '%s'%s is not supported, only '<f4' (little-endian float32): save "
                "arr.astype('<f4')", cli_q(descr), what);
        return -1;
    }
    if (fortran) {
        vin_err(in, "NPY array is in Fortran order; save a C-ordered one (np.ascontiguousarray)");
        return -1;
    }
    if (ndim != 2) {
        vin_err(in, "NPY array has %d dimension%s; a 2-D array (rows, dim) is wanted", ndim,
                ndim == 1 ? "" : "s");
        return -1;
    }
    if (shape[1] != in->dim) {
        vin_err(in, "NPY shape (%" PRIu64 ", %" PRIu64 "): rows of %" PRIu64 " components, but the "
                "collection holds %" PRIu32 "-dimensional vectors", shape[0], shape[1], shape[1], in->dim);
        return -1;
    }
    if (shape[0] > (uint64_t)INT64_MAX / 4 / (in->dim ? in->dim : 1)) {
        vin_err(in, "NPY shape (%" PRIu64 ", %" PRIu64 ") is implausibly large", shape[0], shape[1]);
        return -1;
    }
    uint64_t need = pre + hlen + shape[0] * (uint64_t)in->dim * 4;
    if (file_size >= 0 && (uint64_t)file_size != need) {
        vin_err(in, "NPY file is %" PRId64 " bytes, but its header (shape (%" PRIu64 ", %" PRIu64
                ")) needs %" PRIu64 ": %s", file_size, shape[0], shape[1], need,
                (uint64_t)file_size < need ? "it is truncated" : "trailing bytes");
        return -1;
    }
    in->pos += pre + hlen;
    in->npy_rows = shape[0];
    in->total = (int64_t)shape[0];
    return 0;
bad_header: {
        size_t n = hlen;
        while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\n'))
            n--;
        char shown[61];
        snprintf(shown, sizeof shown, "%.*s", (int)(n < 60 ? n : 60), h);
        vin_err(in, "NPY header is not the dict NumPy writes ({'descr': '<f4', 'fortran_order': False, "
                "'shape': (n, d), }): '%s'", cli_q(shown));
        return -1;
    }
}

/* Number of lines holding something other than whitespace, read with pread so the
 * reader's position is untouched. -1 when it cannot be counted. */
static int64_t count_json_lines(int fd)
{
    unsigned char *b = malloc(VIN_BUF);
    if (!b)
        return -1;
    int64_t n = 0;
    int content = 0;
    off_t off = 0;
    for (;;) {
        ssize_t got = pread(fd, b, VIN_BUF, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free(b);
            return -1;
        }
        if (got == 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            if (b[i] == '\n') {
                n += content;
                content = 0;
            } else if (!is_ws(b[i])) {
                content = 1;
            }
        }
        off += got;
    }
    free(b);
    return n + content;
}

/* Open `path` ("-": standard input) holding rows of `dim` components. 0, or -1 with
 * a message in in->err. */
static int vin_open(struct vin *in, const char *path, uint32_t dim)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    in->dim = dim;
    in->total = -1;
    in->fd = -1;
    if (strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
    } else if ((in->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        vin_err(in, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0) {
        vin_err(in, "%s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        vin_err(in, "is a directory");
        return -1;
    }
    int64_t size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    if (size >= 0)
        posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (!(in->buf = malloc(VIN_BUF))) {
        vin_err(in, "out of memory");
        return -1;
    }
    size_t avail = vin_fill(in, 16);
    if (in->read_err) {
        vin_err(in, "read: %s", strerror(in->read_err));
        return -1;
    }
    const unsigned char *b = in->buf;

    /* The format: NPY magic is unambiguous; then the extension; then the content. */
    const char *ext = ext_of(path);
    int npy_magic = avail >= 6 && memcmp(b, "\x93NUMPY", 6) == 0;
    size_t i = 0;
    if (avail >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
        i = 3; /* a UTF-8 byte order mark */
    while (i < avail && is_ws(b[i]))
        i++;
    size_t j = i + 1;
    while (j < avail && is_ws(b[j]))
        j++;
    int json_like = i < avail && b[i] == '[' &&
                    (j >= avail || b[j] == '-' || b[j] == ']' || b[j] == '[' || (b[j] >= '0' && b[j] <= '9') ||
                     b[j] == 'N' || b[j] == 'I');
    uint32_t d0 = avail >= 4 ? le32(b) : 0;
    int fvecs_like = d0 >= 1 && d0 <= STRATA_VEC_DIM_MAX &&
                     (size < 0 || size % (4 + 4 * (int64_t)d0) == 0);
    if (npy_magic || strcasecmp(ext, "npy") == 0)
        in->fmt = VF_NPY;
    else if (strcasecmp(ext, "fvecs") == 0)
        in->fmt = VF_FVECS;
    else if (strcasecmp(ext, "jsonl") == 0 || strcasecmp(ext, "json") == 0 || strcasecmp(ext, "ndjson") == 0)
        in->fmt = VF_JSONL;
    else if (avail == 0 || json_like)
        in->fmt = VF_JSONL; /* an empty input holds no rows, whatever its format */
    else if (fvecs_like)
        in->fmt = VF_FVECS;
    else {
        vin_err(in, "cannot tell the format: name the file .fvecs, .npy or .jsonl");
        return -1;
    }

    switch (in->fmt) {
    case VF_NPY:
        return npy_open(in, size);
    case VF_FVECS:
        if (size >= 0 && avail >= 4 && d0 == dim && size % (4 + 4 * (int64_t)dim) == 0)
            in->total = size / (4 + 4 * (int64_t)dim);
        else if (size == 0)
            in->total = 0;
        return 0;
    case VF_JSONL:
        if (size >= 0)
            in->total = count_json_lines(in->fd);
        if (i > 0 && avail >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
            in->pos = 3;
        return 0;
    }
    return 0;
}

static void vin_close(struct vin *in)
{
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
    free(in->buf);
    free(in->lbuf);
    in->buf = NULL;
    in->lbuf = NULL;
}

/* The next line into in->lbuf (NUL-terminated, without its '\n'): 1, 0 at the end,
 * -1 on an error. */
static int vin_line(struct vin *in)
{
    size_t n = 0;
    int any = 0;
    for (;;) {
        size_t avail = vin_fill(in, 1);
        if (in->read_err) {
            vin_err(in, "read: %s", strerror(in->read_err));
            return -1;
        }
        if (avail == 0) {
            if (!any)
                return 0;
            break;
        }
        any = 1;
        const unsigned char *start = in->buf + in->pos;
        const unsigned char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (n + take + 1 > VIN_LINE_MAX) {
            vin_err(in, "line %" PRIu64 " is longer than %u MiB", in->line + 1, VIN_LINE_MAX >> 20);
            return -1;
        }
        if (n + take + 1 > in->lcap) {
            size_t cap = in->lcap ? in->lcap : 4096;
            while (cap < n + take + 1)
                cap *= 2;
            char *l = realloc(in->lbuf, cap);
            if (!l) {
                vin_err(in, "out of memory");
                return -1;
            }
            in->lbuf = l;
            in->lcap = cap;
        }
        memcpy(in->lbuf + n, start, take);
        n += take;
        in->pos += take + (nl ? 1 : 0);
        if (nl)
            break;
    }
    in->lbuf[n] = '\0';
    in->line++;
    if (memchr(in->lbuf, '\0', n)) {
        vin_err(in, "line %" PRIu64 " holds a NUL byte: not JSON text", in->line);
        return -1;
    }
    return 1;
}

/* The next row into out[0..dim): 1, 0 at the end of the input, -1 on an error
 * (in->err names the row). */
static int vin_next(struct vin *in, float *out)
{
    size_t rowb = (size_t)in->dim * 4;
    switch (in->fmt) {
    case VF_NPY: {
        if (in->row >= in->npy_rows)
            return 0;
        if (vin_fill(in, rowb) < rowb) {
            if (in->read_err)
                vin_err(in, "read: %s", strerror(in->read_err));
            else
                vin_err(in, "row %" PRIu64 ": the file ends inside the row (the header promises %" PRIu64
                        " rows)", in->row, in->npy_rows);
            return -1;
        }
        const unsigned char *b = in->buf + in->pos;
        for (uint32_t i = 0; i < in->dim; i++)
            out[i] = le_float(b + 4 * (size_t)i);
        in->pos += rowb;
        break;
    }
    case VF_FVECS: {
        size_t avail = vin_fill(in, 4);
        if (in->read_err) {
            vin_err(in, "read: %s", strerror(in->read_err));
            return -1;
        }
        if (avail == 0)
            return 0;
        if (avail < 4) {
            vin_err(in, "row %" PRIu64 ": the file ends inside the row's dimension", in->row);
            return -1;
        }
        uint32_t d = le32(in->buf + in->pos);
        if (d != in->dim) {
            if (in->row == 0 && (d == 0 || d > STRATA_VEC_DIM_MAX))
                vin_err(in, "row 0: dimension %" PRIu32 " is not plausible: not an fvecs file?", d);
            else
                vin_err(in, "row %" PRIu64 ": dimension %" PRIu32 ", but the collection holds %" PRIu32
                        "-dimensional vectors", in->row, d, in->dim);
            return -1;
        }
        if (vin_fill(in, 4 + rowb) < 4 + rowb) {
            if (in->read_err)
                vin_err(in, "read: %s", strerror(in->read_err));
            else
                vin_err(in, "row %" PRIu64 ": the file ends inside the row", in->row);
            return -1;
        }
        const unsigned char *b = in->buf + in->pos + 4;
        for (uint32_t i = 0; i < in->dim; i++)
            out[i] = le_float(b + 4 * (size_t)i);
        in->pos += 4 + rowb;
        break;
    }
    case VF_JSONL: {
        int r;
        const char *p;
        do { /* blank lines are skipped */
            if ((r = vin_line(in)) <= 0)
                return r;
            for (p = in->lbuf; is_ws(*p); p++)
                ;
        } while (!*p);
        char msg[400];
        if (parse_vec_json(in->lbuf, out, in->dim, msg, sizeof msg) != 0) {
            vin_err(in, "row %" PRIu64 " (line %" PRIu64 "): %s", in->row, in->line, msg);
            return -1;
        }
        break;
    }
    }
    if (check_finite(in, out) != 0)
        return -1;
    in->row++;
    return 1;
}

/* ---- create ---- */

static int parse_choice(const struct cli_ctx *ctx, const char *flag, const char *const *names, int n,
                        int *out)
{
    const char *v = cli_flag(ctx, flag);
    if (!v)
        return CLI_OK;
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return CLI_OK;
        }
    return cli_usage(ctx, "%s wants %s|%s|%s, not '%s'", flag, names[0], names[1], names[2], cli_q(v));
}

static int run_create(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0];
    strata_collection_opts o = { 0 };
    const char *dim = cli_flag(ctx, "--dim");
    uint64_t v;
    if (!dim)
        return cli_usage(ctx, "--dim D is required");
    if (cli_parse_count(ctx, "--dim", dim, STRATA_VEC_DIM_MAX, &v) != CLI_OK)
        return CLI_USAGE;
    o.dim = (uint32_t)v;
    o.metric = STRATA_METRIC_COSINE;
    o.dtype = STRATA_DTYPE_F32;
    if (parse_choice(ctx, "--metric", metric_names, 3, &o.metric) != CLI_OK ||
        parse_choice(ctx, "--dtype", dtype_names, 3, &o.dtype) != CLI_OK)
        return CLI_USAGE;
    const char *m = cli_flag(ctx, "--m");
    if (m) {
        if (cli_parse_count(ctx, "--m", m, UINT32_MAX, &v) != CLI_OK)
            return CLI_USAGE;
        o.m = (uint32_t)v;
    }
    const char *efc = cli_flag(ctx, "--ef-construction");
    if (efc) {
        if (cli_parse_count(ctx, "--ef-construction", efc, UINT32_MAX, &v) != CLI_OK)
            return CLI_USAGE;
        o.ef_construction = (uint32_t)v;
    }
    int rc = ctx->db ? strata_vec_create(ctx->db, name, &o) : cli_served_vec_create(name, &o);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "vec create '%s'", cli_q(name));
    return CLI_OK;
}

/* ---- drop ---- */

static int run_drop(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0];
    int rc = ctx->db ? strata_vec_drop(ctx->db, name) : cli_served_vec_drop(name);
    if (rc != STRATA_OK)
        return cli_fail(ctx, rc, "vec drop '%s'", cli_q(name));
    return CLI_OK;
}

/* ---- info and list ---- */

static void json_info(struct cli_json *j, const strata_collection_info *i)
{
    cli_json_object_begin(j);
    cli_json_key(j, "name");
    cli_json_string(j, i->name);
    cli_json_key(j, "dim");
    cli_json_uint(j, i->dim);
    cli_json_key(j, "metric");
    cli_json_string(j, metric_name(i->metric));
    cli_json_key(j, "dtype");
    cli_json_string(j, dtype_name(i->dtype));
    cli_json_key(j, "m");
    cli_json_uint(j, i->m);
    cli_json_key(j, "ef_construction");
    cli_json_uint(j, i->ef_construction);
    cli_json_key(j, "count");
    cli_json_uint(j, i->count);
    cli_json_key(j, "index_bytes");
    cli_json_uint(j, i->index_bytes);
    cli_json_key(j, "log_bytes");
    cli_json_uint(j, i->log_bytes);
    cli_json_key(j, "created_at_ms");
    cli_json_int(j, i->created_at_ms);
    cli_json_key(j, "kernels");
    cli_json_string(j, i->kernels ? i->kernels : "none");
    cli_json_object_end(j);
}

static int run_info(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0];
    strata_collection_info i;
    if (coll_info(ctx, "vec info", name, &i) != CLI_OK)
        return CLI_FAILED;
    if (cli_json_wanted(ctx)) {
        struct cli_json j;
        cli_json_init(&j);
        json_info(&j, &i);
        return CLI_OK;
    }
    fputs("name             ", stdout);
    cli_put_text(i.name);
    printf("\ndim              %" PRIu32, i.dim);
    printf("\nmetric           %s", metric_name(i.metric));
    printf("\ndtype            %s", dtype_name(i.dtype));
    printf("\nm                %" PRIu32, i.m);
    printf("\nef_construction  %" PRIu32, i.ef_construction);
    printf("\ncount            %" PRIu64, i.count);
    printf("\nindex_bytes      %" PRIu64, i.index_bytes);
    printf("\nlog_bytes        %" PRIu64, i.log_bytes);
    fputs("\ncreated          ", stdout);
    cli_put_time(i.created_at_ms);
    printf("\nkernels          %s\n", i.kernels ? i.kernels : "none");
    return CLI_OK;
}

struct list_ctx { struct cli_json j; int json; };

static int list_one(void *arg, const strata_collection_info *i)
{
    struct list_ctx *l = arg;
    if (l->json) {
        json_info(&l->j, i);
    } else {
        cli_put_text(i->name);
        printf("  dim %" PRIu32 "  %s  %s  %" PRIu64 " vector%s\n", i->dim, metric_name(i->metric),
               dtype_name(i->dtype), i->count, i->count == 1 ? "" : "s");
    }
    return cli_out_failed() ? 1 : 0; /* main.c reports the write error */
}

static int run_list(struct cli_ctx *ctx)
{
    struct list_ctx l;
    cli_json_init(&l.j);
    l.json = cli_json_wanted(ctx);
    if (l.json)
        cli_json_array_begin(&l.j);
    int rc = ctx->db ? strata_vec_list(ctx->db, list_one, &l) : cli_served_vec_list(list_one, &l);
    if (rc < 0)
        return cli_fail(ctx, rc, "vec list");
    if (l.json && rc == 0)
        cli_json_array_end(&l.j);
    return CLI_OK;
}

/* ---- add ---- */

/* The ids file: one id per line ("\n" or "\r\n"); the last line may lack its "\n". */
struct ids_in {
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    uint64_t lineno;
};

/* Lines of a regular ids file, or -1 when it cannot be counted beforehand. */
static int64_t count_id_lines(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    char *b = malloc(VIN_BUF);
    int64_t n = 0;
    int partial = 0;
    ssize_t got = 0;
    while (b && ((got = read(fd, b, VIN_BUF)) > 0 || (got < 0 && errno == EINTR))) {
        for (ssize_t i = 0; i < got; i++)
            if (b[i] == '\n')
                n++;
        if (got > 0)
            partial = b[got - 1] != '\n';
    }
    if (!b || got < 0)
        n = -1;
    else
        n += partial;
    free(b);
    close(fd);
    return n;
}

/* The next id: its length (> 0), 0 at the end of the file, -1 on an error
 * (message in err). */
static ssize_t ids_next(struct ids_in *ids, char *err, size_t errsz)
{
    errno = 0;
    ssize_t n = getline(&ids->line, &ids->cap, ids->f);
    if (n < 0) {
        if (ferror(ids->f)) {
            snprintf(err, errsz, "%s: read: %s", cli_q(ids->path), strerror(errno ? errno : EIO));
            return -1;
        }
        return 0;
    }
    ids->lineno++;
    if (n > 0 && ids->line[n - 1] == '\n')
        ids->line[--n] = '\0';
    if (n > 0 && ids->line[n - 1] == '\r')
        ids->line[--n] = '\0';
    if (n == 0) {
        snprintf(err, errsz, "%s: line %" PRIu64 " is empty; ids are 1..%d bytes", cli_q(ids->path),
                 ids->lineno, STRATA_DOC_ID_MAX);
        return -1;
    }
    return n;
}

struct add_run {
    struct cli_ctx *ctx;
    const char *name;
    const char *file;
    strata_txn *txn;
    uint64_t batch_first;    /* row number of the batch's first row */
    uint64_t batch_n;        /* rows put in the open batch */
    uint64_t committed;      /* vectors in committed batches */
    double start, last_draw;
    int progress, drawn;
};

static void add_progress(struct add_run *a, uint64_t rows, int64_t total, int force)
{
    if (!a->progress)
        return;
    double now = cli_now();
    if (!force && now - a->last_draw < PROGRESS_INTERVAL)
        return;
    a->last_draw = now;
    double el = now - a->start;
    if (total >= 0)
        fprintf(stderr, "\r%" PRIu64 "/%" PRId64 " vectors  %.0f vectors/s\033[K", rows, total,
                el > 0 ? (double)rows / el : 0.0);
    else
        fprintf(stderr, "\r%" PRIu64 " vectors  %.0f vectors/s\033[K", rows, el > 0 ? (double)rows / el : 0.0);
    fflush(stderr);
    a->drawn = 1;
}

static void add_progress_clear(struct add_run *a)
{
    if (a->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        a->drawn = 0;
    }
}

static int add_commit(struct add_run *a)
{
    if (!a->txn)
        return CLI_OK;
    strata_txn *txn = a->txn;
    a->txn = NULL;
    int rc = strata_txn_commit(txn, NULL);
    if (rc != STRATA_OK) {
        add_progress_clear(a);
        cli_fail(a->ctx, rc, "vec add '%s': commit of rows %" PRIu64 "..%" PRIu64, cli_q(a->name),
                 a->batch_first, a->batch_first + a->batch_n - 1);
        return CLI_FAILED;
    }
    a->committed += a->batch_n;
    a->batch_first += a->batch_n;
    a->batch_n = 0;
    return CLI_OK;
}

/* A bad row or input at row `row`: the open batch is dropped; say what stays. */
static int add_stop(struct add_run *a, uint64_t row)
{
    add_progress_clear(a);
    if (a->txn) {
        strata_txn_abort(a->txn);
        a->txn = NULL;
    }
    if (a->committed == 0) {
        fprintf(stderr, "strata: vec add '%s': nothing was stored\n", cli_q(a->name));
        return CLI_FAILED;
    }
    fprintf(stderr, "strata: vec add '%s': ", cli_q(a->name));
    if (row > a->batch_first)
        fprintf(stderr, "rows %" PRIu64 "..%" PRIu64 " of the failed batch were not stored; ", a->batch_first,
                row - 1);
    fprintf(stderr, "the %" PRIu64 " vector%s of the batches before it (rows 0..%" PRIu64 ") stay stored\n",
            a->committed, a->committed == 1 ? "" : "s", a->batch_first - 1);
    return CLI_FAILED;
}

static int run_add(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0], *file = ctx->argv[1];
    const char *ids_path = cli_flag(ctx, "--ids");
    if (ids_path && !*ids_path)
        return cli_usage(ctx, "--ids needs a file name");
    if (ids_path && strcmp(ids_path, "-") == 0 && strcmp(file, "-") == 0)
        return cli_usage(ctx, "FILE and --ids cannot both be standard input");
    strata_collection_info info;
    if (coll_info(ctx, "vec add", name, &info) != CLI_OK)
        return CLI_FAILED;

    struct vin in;
    struct ids_in ids = { 0 };
    float *v = NULL;
    int status = CLI_FAILED;
    char err[600];
    if (vin_open(&in, file, info.dim) != 0) {
        fprintf(stderr, "strata: vec add '%s': '%s': %s\n", cli_q(name), cli_q(file), in.err);
        goto out;
    }
    if (ids_path) {
        ids.path = ids_path;
        ids.f = strcmp(ids_path, "-") == 0 ? stdin : fopen(ids_path, "re");
        if (!ids.f) {
            fprintf(stderr, "strata: vec add '%s': --ids '%s': %s\n", cli_q(name), cli_q(ids_path),
                    strerror(errno));
            goto out;
        }
        /* When both counts are known, a mismatch fails before anything is stored. */
        int64_t nids = strcmp(ids_path, "-") == 0 ? -1 : count_id_lines(ids_path);
        if (nids >= 0 && in.total >= 0 && nids != in.total) {
            fprintf(stderr, "strata: vec add '%s': --ids '%s' has %" PRId64 " line%s but '%s' has %" PRId64
                    " row%s; nothing was stored\n", cli_q(name), cli_q(ids_path), nids, nids == 1 ? "" : "s",
                    cli_q(file), in.total, in.total == 1 ? "" : "s");
            goto out;
        }
    }
    if (!(v = malloc((size_t)info.dim * sizeof *v))) {
        cli_fail(ctx, STRATA_ENOMEM, "vec add '%s'", cli_q(name));
        goto out;
    }

    struct add_run a = { 0 };
    a.ctx = ctx;
    a.name = name;
    a.file = file;
    a.start = cli_now();
    a.progress = isatty(STDERR_FILENO);
    for (;;) {
        int r = vin_next(&in, v);
        if (r < 0) {
            add_progress_clear(&a);
            fprintf(stderr, "strata: vec add '%s': '%s': %s\n", cli_q(name), cli_q(file), in.err);
            status = add_stop(&a, in.row);
            goto out;
        }
        uint64_t row = in.row - 1;
        char idbuf[24];
        const char *id = idbuf;
        size_t id_len;
        if (r == 0) {
            /* The end of FILE: the ids file must end too, before the last commit. */
            if (ids.f) {
                ssize_t n = ids_next(&ids, err, sizeof err);
                if (n != 0) {
                    add_progress_clear(&a);
                    if (n > 0)
                        fprintf(stderr, "strata: vec add '%s': --ids '%s' has more lines than '%s' has rows "
                                "(%" PRIu64 ")\n", cli_q(name), cli_q(ids_path), cli_q(file), in.row);
                    else
                        fprintf(stderr, "strata: vec add '%s': --ids %s\n", cli_q(name), err);
                    status = add_stop(&a, in.row);
                    goto out;
                }
            }
            break;
        }
        if (ids.f) {
            ssize_t n = ids_next(&ids, err, sizeof err);
            if (n <= 0) {
                add_progress_clear(&a);
                if (n == 0)
                    fprintf(stderr, "strata: vec add '%s': --ids '%s' has only %" PRIu64 " line%s, but '%s' "
                            "has more rows\n", cli_q(name), cli_q(ids_path), ids.lineno,
                            ids.lineno == 1 ? "" : "s", cli_q(file));
                else
                    fprintf(stderr, "strata: vec add '%s': --ids %s\n", cli_q(name), err);
                status = add_stop(&a, row);
                goto out;
            }
            id = ids.line;
            id_len = (size_t)n;
        } else {
            id_len = (size_t)snprintf(idbuf, sizeof idbuf, "%" PRIu64, row);
        }
        int rc;
        if (!a.txn && (rc = strata_txn_begin(ctx->db, &a.txn)) != STRATA_OK) {
            a.txn = NULL;
            add_progress_clear(&a);
            cli_fail(ctx, rc, "vec add '%s': begin a transaction", cli_q(name));
            status = add_stop(&a, row);
            goto out;
        }
        if ((rc = strata_vec_put(ctx->db, a.txn, name, id, id_len, v, info.dim)) != STRATA_OK) {
            add_progress_clear(&a);
            cli_fail(ctx, rc, "vec add '%s': row %" PRIu64 " (id '%s')", cli_q(name), row,
                     cli_q(ids.f ? ids.line : idbuf));
            status = add_stop(&a, row);
            goto out;
        }
        a.batch_n++;
        if (a.batch_n >= ADD_BATCH && add_commit(&a) != CLI_OK)
            goto out;
        add_progress(&a, in.row, in.total, 0);
    }
    if (add_commit(&a) != CLI_OK)
        goto out;
    add_progress(&a, in.row, in.total, 1);
    add_progress_clear(&a);
    double secs = cli_now() - a.start;
    printf("added %" PRIu64 " vector%s (%s) to '%s' in %.2f s (%.0f vectors/s)\n", a.committed,
           a.committed == 1 ? "" : "s", vfmt_names[in.fmt], name, secs,
           secs > 0 ? (double)a.committed / secs : 0.0);
    status = CLI_OK;
out:
    if (ids.f && ids.f != stdin)
        fclose(ids.f);
    free(ids.line);
    vin_close(&in);
    free(v);
    return status;
}

/* ---- search ---- */

static void json_score(struct cli_json *j, float s)
{
    char buf[40];
    s += 0.0f; /* an exact l2 match scores -0: print 0 */
    if (isfinite(s)) {
        snprintf(buf, sizeof buf, "%.9g", (double)s);
        cli_json_raw(j, buf);
    } else {
        cli_json_null(j);
    }
}

static void print_results(const strata_vec_result *r, size_t n, int json)
{
    struct cli_json j;
    cli_json_init(&j);
    if (json) {
        cli_json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            cli_json_object_begin(&j);
            cli_json_key(&j, "id");
            cli_json_string_n(&j, r[i].id, r[i].id_len);
            cli_json_key(&j, "score");
            json_score(&j, r[i].score);
            cli_json_object_end(&j);
        }
        cli_json_array_end(&j);
        return;
    }
    int w = n >= 1000 ? 5 : n >= 100 ? 3 : n >= 10 ? 2 : 1;
    for (size_t i = 0; i < n && !cli_out_failed(); i++) {
        printf("%*zu  %9.6f  ", w, i + 1, (double)r[i].score + 0.0); /* -0 prints as 0 */
        cli_put_bytes(r[i].id, r[i].id_len);
        putchar('\n');
    }
}

/* One JSON line {"ids":[...],"scores":[...]} for a query of --file. */
static void print_line(const strata_vec_result *r, size_t n)
{
    struct cli_json j;
    cli_json_init(&j);
    cli_json_object_begin(&j);
    cli_json_key(&j, "ids");
    cli_json_array_begin(&j);
    for (size_t i = 0; i < n; i++)
        cli_json_string_n(&j, r[i].id, r[i].id_len);
    cli_json_array_end(&j);
    cli_json_key(&j, "scores");
    cli_json_array_begin(&j);
    for (size_t i = 0; i < n; i++)
        json_score(&j, r[i].score);
    cli_json_array_end(&j);
    cli_json_object_end(&j);
}

/* Through the library, or through `strata serve` when it holds the store. */
static int search(struct cli_ctx *ctx, const char *name, const float *q, uint32_t dim,
                  const strata_vec_search_opts *o, strata_vec_result **res, size_t *n)
{
    return ctx->db ? strata_vec_search(ctx->db, name, q, dim, o, res, n) : cli_served_vec_search(name, q, dim, o, res, n);
}

static void results_free(const struct cli_ctx *ctx, strata_vec_result *res, size_t n)
{
    if (ctx->db)
        strata_vec_results_free(res, n);
    else
        cli_served_results_free(res, n);
}

static int run_search(struct cli_ctx *ctx)
{
    const char *name = ctx->argv[0];
    const char *qvec = cli_flag(ctx, "--vector"), *qfile = cli_flag(ctx, "--file");
    const char *qdoc = cli_flag(ctx, "--doc"), *qtext = cli_flag(ctx, "--text");
    int given = !!qvec + !!qfile + !!qdoc + !!qtext;
    if (given != 1)
        return cli_usage(ctx, "%s one of --vector JSON, --file FILE, --doc ID or --text TEXT",
                         given ? "give only" : "give");
    strata_vec_search_opts o = { 0 };
    uint64_t v;
    const char *k = cli_flag(ctx, "-k"), *ef = cli_flag(ctx, "--ef");
    o.k = 10;
    if (k) {
        if (cli_parse_count(ctx, "-k", k, STRATA_VEC_K_MAX, &v) != CLI_OK)
            return CLI_USAGE;
        o.k = (uint32_t)v;
    }
    if (ef) {
        if (cli_parse_count(ctx, "--ef", ef, UINT32_MAX, &v) != CLI_OK)
            return CLI_USAGE;
        o.ef = (uint32_t)v;
    }
    o.exact = cli_flag(ctx, "--exact") != NULL;
    if (qfile && !*qfile)
        return cli_usage(ctx, "--file needs a file name");

    strata_collection_info info;
    if (coll_info(ctx, "vec search", name, &info) != CLI_OK)
        return CLI_FAILED;
    float *q = malloc((size_t)info.dim * sizeof *q);
    if (!q)
        return cli_fail(ctx, STRATA_ENOMEM, "vec search '%s'", cli_q(name));
    int status = CLI_FAILED, rc;
    strata_vec_result *res = NULL;
    size_t n = 0;

    if (qfile) {
        struct vin in;
        if (vin_open(&in, qfile, info.dim) != 0) {
            fprintf(stderr, "strata: vec search '%s': '%s': %s\n", cli_q(name), cli_q(qfile), in.err);
            vin_close(&in);
            goto out;
        }
        int r;
        while ((r = vin_next(&in, q)) > 0) {
            if ((rc = search(ctx, name, q, info.dim, &o, &res, &n)) != STRATA_OK) {
                cli_fail(ctx, rc, "vec search '%s': '%s': row %" PRIu64, cli_q(name), cli_q(qfile), in.row - 1);
                break;
            }
            print_line(res, n);
            results_free(ctx, res, n);
            res = NULL;
            if (cli_out_failed())
                break; /* main.c reports the write error */
        }
        if (r < 0)
            fprintf(stderr, "strata: vec search '%s': '%s': %s\n", cli_q(name), cli_q(qfile), in.err);
        else if (r == 0)
            status = CLI_OK;
        else if (cli_out_failed())
            status = CLI_OK; /* the write error is main.c's to report */
        vin_close(&in);
        goto out;
    }

    if (qvec) {
        char *owned = NULL;
        if (strcmp(qvec, "-") == 0 && !(qvec = owned = cli_read_stdin(ctx)))
            goto out;
        char err[400];
        int bad = parse_vec_json(qvec, q, info.dim, err, sizeof err);
        free(owned);
        if (bad) {
            fprintf(stderr, "strata: vec search '%s': --vector: %s\n", cli_q(name), err);
            goto out;
        }
    } else if (qdoc) {
        rc = ctx->db ? strata_vec_get(ctx->db, name, qdoc, strlen(qdoc), q, info.dim)
                     : cli_served_vec_get(name, qdoc, strlen(qdoc), q, info.dim);
        if (rc != STRATA_OK) {
            cli_fail(ctx, rc, "vec search '%s': --doc '%s'", cli_q(name), cli_q(qdoc));
            goto out;
        }
    } else {
        rc = strata_embed_hash(qtext, strlen(qtext), q, info.dim);
        if (rc == STRATA_EINVAL) {
            fprintf(stderr, "strata: vec search '%s': --text '%s': the text has nothing to embed (no word)\n",
                    cli_q(name), cli_q(qtext));
            goto out;
        }
        if (rc != STRATA_OK) {
            cli_fail(ctx, rc, "vec search '%s': embed --text", cli_q(name));
            goto out;
        }
    }
    if ((rc = search(ctx, name, q, info.dim, &o, &res, &n)) != STRATA_OK) {
        cli_fail(ctx, rc, "vec search '%s'", cli_q(name));
        goto out;
    }
    print_results(res, n, cli_json_wanted(ctx));
    results_free(ctx, res, n);
    status = CLI_OK;
out:
    free(q);
    return status;
}

/* ---- the command table ---- */

static const struct cli_flag create_flags[] = {
    { "--dim", "D", "dimension of the vectors, 1..16384 (required)" },
    { "--metric", "M", "cosine (default), ip (inner product) or l2" },
    { "--dtype", "T", "how the index holds vectors: f32 (default), f16 or i8" },
    { "--m", "N", "HNSW links per node (default 16)" },
    { "--ef-construction", "N", "HNSW build breadth (default 200)" },
    CLI_FLAG_END,
};
static const struct cli_flag add_flags[] = {
    { "--ids", "FILE", "document ids, one per line, one per row (default: row numbers)" },
    CLI_FLAG_END,
};
static const struct cli_flag search_flags[] = {
    { "--vector", "JSON", "the query, a JSON array of numbers (- reads stdin)" },
    { "--file", "FILE", "one query per row of FILE (as in vec add); JSON lines out" },
    { "--doc", "ID", "the stored vector of document ID in this collection" },
    { "--text", "TEXT", "TEXT embedded with the hash embedder at the collection's dim" },
    { "-k", "N", "results wanted (default 10, at most 10000)" },
    { "--ef", "N", "search breadth (higher: better recall, slower)" },
    { "--exact", NULL, "brute force over every vector (ground truth)" },
    { "--json", NULL, "print a JSON array of {\"id\",\"score\"}" },
    CLI_FLAG_END,
};
static const struct cli_flag json_only[] = { CLI_FLAG_JSON, CLI_FLAG_END };

static const struct cli_command vec_commands[] = {
    { "create", "NAME", 1, 1, create_flags, CLI_STORE_OPEN,
      "create a vector collection",
      "Create collection NAME ([A-Za-z0-9_-]{1,64}) of --dim D dimensional vectors,\n"
      "compared by --metric: cosine (vectors are stored unit length; score =\n"
      "1 - distance), ip (inner product) or l2 (score = -distance); higher scores\n"
      "are closer for every metric. --dtype f16 or i8 keeps the HNSW graph walk in\n"
      "a compact type (less memory) and reranks the best candidates exactly in f32.\n"
      "--m and --ef-construction tune the HNSW graph. Prints nothing.\n"
      "A --dim outside 1..16384, an unknown metric or dtype, or a value that is not\n"
      "a whole number is a usage error (exit 2); a name or parameter the store\n"
      "refuses, or an existing collection, fails (exit 1).",
      run_create },
    { "list", "", 0, 0, json_only, CLI_STORE_OPEN,
      "list the vector collections",
      "Print one line per collection, in name order:\n"
      "  NAME  dim D  METRIC  DTYPE  N vectors\n"
      "With --json print a JSON array of the objects 'vec info --json' prints.",
      run_list },
    { "info", "NAME", 1, 1, json_only, CLI_STORE_OPEN,
      "describe a vector collection",
      "Print 'FIELD VALUE' lines: name, dim, metric, dtype, m, ef_construction,\n"
      "count (vectors), index_bytes (memory of the index), log_bytes (committed\n"
      "bytes of its vector log), created (ISO-8601 UTC) and kernels (the distance\n"
      "kernels chosen for this CPU: scalar, avx2 or avx512). With --json print one\n"
      "object with the same fields, created as created_at_ms. A missing collection\n"
      "fails (exit 1).",
      run_info },
    { "drop", "NAME", 1, 1, NULL, CLI_STORE_OPEN,
      "delete a collection and its vectors",
      "Delete collection NAME and every vector in it; the documents stay. A missing\n"
      "collection fails (exit 1).",
      run_drop },
    { "add", "NAME FILE", 2, 2, add_flags, CLI_STORE_OPEN,
      "put the rows of FILE as vectors",
      "Put every row of FILE into collection NAME as the vector of a document id,\n"
      "replacing that id's previous vector. FILE (- reads standard input) is one of:\n"
      "  .fvecs   per row a little-endian int32 dimension, then that many\n"
      "           little-endian float32;\n"
      "  .npy     a NumPy array: float32 ('<f4'), 2-D (rows, dim), C order;\n"
      "  .jsonl   JSON lines (also .json, .ndjson): one array of numbers per line,\n"
      "           e.g. [0.5, -1, 2e-3]; blank lines are skipped.\n"
      "The extension decides, or the content when it is unambiguous (the NPY magic,\n"
      "a first '[', a plausible fvecs dimension). Every row must have the\n"
      "collection's dimension and finite components. The file is streamed: memory\n"
      "stays bounded whatever its size.\n"
      "Without --ids the ids are the row numbers \"0\", \"1\", ... (so adding another\n"
      "file without --ids replaces these); with --ids FILE the ids are its lines, one\n"
      "per row, and the counts must match (checked before anything is stored when\n"
      "both files can be counted beforehand).\n"
      "Batches: rows are committed in transactions of 1000. A bad row (NaN or\n"
      "infinite component, wrong dimension, unparsable line, missing id) fails\n"
      "(exit 1) naming its row (counted from 0, like the default ids): nothing of\n"
      "its batch is stored, the batches before it stay stored (the message says how\n"
      "many vectors), and nothing after it is read. An input of fewer than 1000\n"
      "rows is thus stored entirely or not at all.\n"
      "At the end one line on stdout:\n"
      "  added N vectors (FORMAT) to 'NAME' in T s (R vectors/s)\n"
      "On a terminal a progress line on stderr shows the rows so far.",
      run_add },
    { "search", "NAME", 1, 1, search_flags, CLI_STORE_OPEN,
      "find the nearest vectors",
      "Find the -k nearest vectors of collection NAME to a query given by exactly\n"
      "one of:\n"
      "  --vector JSON  a JSON array of numbers of the collection's dimension;\n"
      "  --doc ID       the vector stored for document ID in NAME (ID itself is\n"
      "                 then normally the first result);\n"
      "  --text TEXT    TEXT embedded with strata_embed_hash, the store's lexical\n"
      "                 hash embedder, at the collection's dimension: texts that\n"
      "                 share words come out close (no semantics). It suits\n"
      "                 collections filled the same way, e.g. by 'import --embed';\n"
      "  --file FILE    one query per row of FILE (formats as in 'vec add').\n"
      "Print one line per result, best first: RANK SCORE ID (scores: higher is\n"
      "closer; cosine gives 1 - distance). With --json print a JSON array of\n"
      "{\"id\",\"score\"}. With --file always print JSON lines, one per query in\n"
      "row order: {\"ids\":[...],\"scores\":[...]}. --exact compares with every\n"
      "vector (ground truth; small collections are searched exactly anyway);\n"
      "--ef widens the HNSW search (better recall, slower). A missing collection,\n"
      "document or vector, or a query of the wrong dimension, fails (exit 1).",
      run_search },
};

const struct cli_group cli_group_vec = {
    "vec", "vector collections: dense vectors per document id, searched by similarity", vec_commands,
    sizeof vec_commands / sizeof vec_commands[0],
};
