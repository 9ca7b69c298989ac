/* codec.c — LZ4 / LZ4HC / zstd payloads with optional shared dictionaries.
 *
 * Dictionaries and LZ4. Loading a 64 KiB dictionary into an LZ4 stream hashes the whole
 * dictionary, which costs more than compressing a typical 5 KB document. The fast way,
 * LZ4_attach_dictionary(), is not exported by the shared liblz4 1.9.4 that Debian
 * ships, so a codec_dict keeps a stream with the dictionary already loaded and every
 * compression starts from a byte copy of it (lz4frame.c did the same before attach
 * existed). The copy is 16 KiB for the fast compressor; for LZ4HC it is 256 KiB, and
 * since LZ4HC's level must be set before the dictionary is loaded (LZ4_setCompressionLevel
 * is not exported either), one prepared HC stream is kept per level used.
 * Decompressing against a dictionary somewhere else in memory takes LZ4's external-
 * dictionary path, which copies every match that starts in the dictionary with a
 * variable-length memcpy; on text whose matches mostly point into the dictionary that
 * halves (fast) or thirds (HC) the speed. When the dictionary sits immediately before
 * the output, LZ4 treats it as already decoded output (prefix mode) and runs its
 * ordinary loop. So each thread keeps a scratch buffer holding a copy of the last
 * dictionary it used followed by room for output: decode there, then copy the result
 * out (a memcpy costs far less than the slow path). Documents above
 * LZ4_PREFIX_OUT_MAX take the external-dictionary path directly.
 *
 * Dictionaries and zstd: a ZSTD_DDict made at load, and one ZSTD_CDict per level made
 * on first use (a CDict fixes its level).
 *
 * Lazily made states are published with release stores and read with acquire loads;
 * the dictionary's mutex only serialises their creation.
 *
 * Per-thread contexts live behind a pthread key whose destructor frees them when the
 * thread exits. */
#include "docs/codec.h"
#include "strata.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <lz4hc.h>
#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>

_Static_assert(CODEC_LZ4_MAX_INPUT == LZ4_MAX_INPUT_SIZE, "codec.h mirrors lz4.h");
_Static_assert(CODEC_LZ4HC_LEVEL_MIN == LZ4HC_CLEVEL_MIN && CODEC_LZ4HC_LEVEL_MAX == LZ4HC_CLEVEL_MAX,
               "codec.h mirrors lz4hc.h");

/* Largest output decoded through the per-thread prefix buffer (see above). */
#define LZ4_PREFIX_OUT_MAX (1u << 20)

#define ZSTD_DICT_LEVEL_MIN 1
#define ZSTD_DICT_LEVEL_MAX 22

struct codec_dict {
    uint32_t id;
    uint64_t gen;             /* unique per load: names this dict in per-thread caches */
    size_t len;
    unsigned char *bytes;
    const char *lz4_window;   /* last <= 64 KiB of bytes */
    int lz4_window_len;
    LZ4_stream_t *lz4_fast;   /* dictionary loaded; copied, never used directly */
    ZSTD_DDict *ddict;
    pthread_mutex_t lazy_lock;
    _Atomic(LZ4_streamHC_t *) lz4_hc[CODEC_LZ4HC_LEVEL_MAX + 1];
    _Atomic(ZSTD_CDict *) cdict[ZSTD_DICT_LEVEL_MAX + 1];
};

/* ---- per-thread contexts ---- */

typedef struct {
    LZ4_stream_t *lz4;
    LZ4_streamHC_t *lz4hc;
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    char *prefix;             /* CODEC_LZ4_DICT_WINDOW bytes of dictionary, then output */
    size_t prefix_out_cap;    /* output bytes after the dictionary */
    uint64_t prefix_gen;      /* gen of the dictionary copied in, 0 none */
} codec_tls;

static _Atomic uint64_t dict_generation;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_err;

static void tls_free(void *p) {
    codec_tls *t = p;
    if (!t) return;
    free(t->lz4);
    free(t->lz4hc);
    ZSTD_freeCCtx(t->zc);
    ZSTD_freeDCtx(t->zd);
    free(t->prefix);
    free(t);
}

static void tls_init(void) { tls_key_err = pthread_key_create(&tls_key, tls_free); }

static codec_tls *tls_get(void) {
    pthread_once(&tls_once, tls_init);
    if (tls_key_err) return NULL;
    codec_tls *t = pthread_getspecific(tls_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (pthread_setspecific(tls_key, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void codec_thread_release(void) {
    pthread_once(&tls_once, tls_init);
    if (tls_key_err) return;
    codec_tls *t = pthread_getspecific(tls_key);
    if (!t) return;
    pthread_setspecific(tls_key, NULL);
    tls_free(t);
}

static LZ4_stream_t *tls_lz4(codec_tls *t) {
    if (!t->lz4) {
        void *mem = malloc(sizeof(LZ4_stream_t));
        if (!mem) return NULL;
        t->lz4 = LZ4_initStream(mem, sizeof(LZ4_stream_t));
    }
    return t->lz4;
}

static LZ4_streamHC_t *tls_lz4hc(codec_tls *t) {
    if (!t->lz4hc) {
        void *mem = malloc(sizeof(LZ4_streamHC_t));
        if (!mem) return NULL;
        t->lz4hc = LZ4_initStreamHC(mem, sizeof(LZ4_streamHC_t));
    }
    return t->lz4hc;
}

static ZSTD_CCtx *tls_zc(codec_tls *t) {
    if (!t->zc) t->zc = ZSTD_createCCtx();
    return t->zc;
}

static ZSTD_DCtx *tls_zd(codec_tls *t) {
    if (!t->zd) t->zd = ZSTD_createDCtx();
    return t->zd;
}

/* ---- dict id prefix: unsigned LEB128 ---- */

static size_t varint_put(unsigned char *p, uint32_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_len(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

/* Bytes read, or 0 if malformed (truncated, more than 5 bytes, above 2^32-1, or not
 * the shortest encoding). */
static size_t varint_get(const unsigned char *p, size_t n, uint32_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < CODEC_DICT_PREFIX_MAX; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (x > UINT32_MAX || (i > 0 && p[i] == 0)) return 0;
            *v = (uint32_t)x;
            return i + 1;
        }
    }
    return 0;
}

/* ---- dictionaries ---- */

int codec_dict_load(uint32_t id, const void *data, size_t len, codec_dict **out) {
    if (!out) return STRATA_EINVAL;
    *out = NULL;
    if (!data || len < CODEC_DICT_MIN || len > CODEC_DICT_MAX) return STRATA_EINVAL;
    codec_dict *d = calloc(1, sizeof *d);
    if (!d) return STRATA_ENOMEM;
    int rc = STRATA_ENOMEM;
    if (pthread_mutex_init(&d->lazy_lock, NULL) != 0) {
        free(d);
        return STRATA_ENOMEM;
    }
    d->id = id;
    d->gen = atomic_fetch_add(&dict_generation, 1) + 1;
    d->len = len;
    d->bytes = malloc(len);
    if (!d->bytes) goto fail;
    memcpy(d->bytes, data, len);
    d->lz4_window_len = (int)(len > CODEC_LZ4_DICT_WINDOW ? CODEC_LZ4_DICT_WINDOW : len);
    d->lz4_window = (const char *)d->bytes + (len - (size_t)d->lz4_window_len);

    void *mem = malloc(sizeof(LZ4_stream_t));
    if (!mem) goto fail;
    d->lz4_fast = LZ4_initStream(mem, sizeof(LZ4_stream_t));
    LZ4_loadDict(d->lz4_fast, d->lz4_window, d->lz4_window_len);

    d->ddict = ZSTD_createDDict(d->bytes, len);
    if (!d->ddict) {
        /* A dictionary starting with zstd's dictionary magic that zstd rejects is
         * damaged; anything else is loaded as raw content and only fails on memory. */
        static const unsigned char magic[4] = {0x37, 0xA4, 0x30, 0xEC};
        rc = memcmp(d->bytes, magic, 4) == 0 ? STRATA_ECORRUPT : STRATA_ENOMEM;
        goto fail;
    }
    *out = d;
    return STRATA_OK;
fail:
    codec_dict_free(d);
    return rc;
}

uint32_t codec_dict_id(const codec_dict *d) { return d ? d->id : 0; }

const void *codec_dict_data(const codec_dict *d, size_t *len) {
    if (len) *len = d ? d->len : 0;
    return d ? d->bytes : NULL;
}

void codec_dict_free(codec_dict *d) {
    if (!d) return;
    for (int i = 0; i <= CODEC_LZ4HC_LEVEL_MAX; i++) free(atomic_load(&d->lz4_hc[i]));
    for (int i = 0; i <= ZSTD_DICT_LEVEL_MAX; i++) ZSTD_freeCDict(atomic_load(&d->cdict[i]));
    ZSTD_freeDDict(d->ddict);
    free(d->lz4_fast);
    free(d->bytes);
    pthread_mutex_destroy(&d->lazy_lock);
    free(d);
}

/* The prepared LZ4HC stream of `level` (3..12), made on first use. */
static const LZ4_streamHC_t *dict_lz4hc(codec_dict *d, int level) {
    LZ4_streamHC_t *s = atomic_load_explicit(&d->lz4_hc[level], memory_order_acquire);
    if (s) return s;
    pthread_mutex_lock(&d->lazy_lock);
    s = atomic_load_explicit(&d->lz4_hc[level], memory_order_relaxed);
    if (!s) {
        void *mem = malloc(sizeof(LZ4_streamHC_t));
        if (mem) {
            s = LZ4_initStreamHC(mem, sizeof(LZ4_streamHC_t));
            LZ4_resetStreamHC_fast(s, level); /* the level survives LZ4_loadDictHC */
            LZ4_loadDictHC(s, d->lz4_window, d->lz4_window_len);
            atomic_store_explicit(&d->lz4_hc[level], s, memory_order_release);
        }
    }
    pthread_mutex_unlock(&d->lazy_lock);
    return s;
}

static const ZSTD_CDict *dict_cdict(codec_dict *d, int level) {
    ZSTD_CDict *c = atomic_load_explicit(&d->cdict[level], memory_order_acquire);
    if (c) return c;
    pthread_mutex_lock(&d->lazy_lock);
    c = atomic_load_explicit(&d->cdict[level], memory_order_relaxed);
    if (!c) {
        c = ZSTD_createCDict(d->bytes, d->len, level);
        if (c) atomic_store_explicit(&d->cdict[level], c, memory_order_release);
    }
    pthread_mutex_unlock(&d->lazy_lock);
    return c;
}

int codec_dict_train(const void *samples, const size_t *sample_sizes, unsigned nsamples,
                     void *dict, size_t dict_cap, size_t *dict_len) {
    if (!samples || !sample_sizes || !nsamples || !dict || !dict_len) return STRATA_EINVAL;
    if (dict_cap < 256) return STRATA_EINVAL;
    *dict_len = 0;
    size_t r = ZDICT_trainFromBuffer(dict, dict_cap, samples, sample_sizes, nsamples);
    if (ZDICT_isError(r)) {
        /* ZDICT reports allocation failure as memory_allocation; everything else means
         * these samples cannot make a dictionary. */
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? STRATA_ENOMEM
                                                                      : STRATA_EINVAL;
    }
    *dict_len = r;
    return STRATA_OK;
}

/* ---- compression ---- */

static int is_dict_codec(int codec) { return codec == CODEC_LZ4_DICT || codec == CODEC_ZSTD_DICT; }

size_t codec_bound(int codec, size_t raw_len) {
    size_t b, extra = is_dict_codec(codec) ? CODEC_DICT_PREFIX_MAX : 0;
    switch (codec) {
    case CODEC_RAW:
        return raw_len;
    case CODEC_LZ4:
    case CODEC_LZ4_DICT:
        if (raw_len > LZ4_MAX_INPUT_SIZE) return 0;
        b = (size_t)LZ4_compressBound((int)raw_len);
        break;
    case CODEC_ZSTD:
    case CODEC_ZSTD_DICT:
        b = ZSTD_compressBound(raw_len);
        if (ZSTD_isError(b)) return 0;
        break;
    default:
        return 0;
    }
    b += extra;
    return b < raw_len ? raw_len : b;
}

/* LZ4 or LZ4HC into dst[0..cap). Returns bytes written, 0 if it did not fit, or a
 * negative status. */
static long lz4_encode(codec_tls *t, int level, codec_dict *d, const char *src, int n,
                       char *dst, int cap) {
    int r;
    if (level < CODEC_LZ4HC_LEVEL_MIN) {
        LZ4_stream_t *s = tls_lz4(t);
        if (!s) return STRATA_ENOMEM;
        int accel = level < 0 ? -level : 1;
        if (d)
            memcpy(s, d->lz4_fast, sizeof *s);
        else
            LZ4_resetStream_fast(s);
        r = LZ4_compress_fast_continue(s, src, dst, n, cap, accel);
        if (r <= 0) LZ4_initStream(s, sizeof *s); /* state is undefined after a failure */
    } else {
        if (level > CODEC_LZ4HC_LEVEL_MAX) level = CODEC_LZ4HC_LEVEL_MAX;
        LZ4_streamHC_t *s = tls_lz4hc(t);
        if (!s) return STRATA_ENOMEM;
        if (d) {
            const LZ4_streamHC_t *prepared = dict_lz4hc(d, level);
            if (!prepared) return STRATA_ENOMEM;
            memcpy(s, prepared, sizeof *s);
        } else {
            LZ4_resetStreamHC_fast(s, level);
        }
        r = LZ4_compress_HC_continue(s, src, dst, n, cap);
        if (r <= 0) LZ4_initStreamHC(s, sizeof *s);
    }
    return r > 0 ? r : 0;
}

static int clamp_zstd_level(int level, int dict) {
    if (level == 0) level = ZSTD_CLEVEL_DEFAULT;
    int lo = dict ? ZSTD_DICT_LEVEL_MIN : ZSTD_minCLevel();
    int hi = dict ? ZSTD_DICT_LEVEL_MAX : ZSTD_maxCLevel();
    return level < lo ? lo : level > hi ? hi : level;
}

static long zstd_status(size_t r) {
    switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_dstSize_tooSmall: return 0;
    case ZSTD_error_memory_allocation: return STRATA_ENOMEM;
    default: return STRATA_EINTERNAL;
    }
}

static long zstd_encode(codec_tls *t, int level, codec_dict *d, const void *src, size_t n,
                        void *dst, size_t cap) {
    ZSTD_CCtx *zc = tls_zc(t);
    if (!zc) return STRATA_ENOMEM;
    size_t r;
    if (!d) {
        r = ZSTD_compressCCtx(zc, dst, cap, src, n, clamp_zstd_level(level, 0));
    } else {
        const ZSTD_CDict *cd = dict_cdict(d, clamp_zstd_level(level, 1));
        if (!cd) return STRATA_ENOMEM;
        r = ZSTD_CCtx_reset(zc, ZSTD_reset_session_and_parameters);
        if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(zc, ZSTD_c_dictIDFlag, 0);
        if (!ZSTD_isError(r)) r = ZSTD_CCtx_refCDict(zc, cd);
        if (!ZSTD_isError(r)) r = ZSTD_compress2(zc, dst, cap, src, n);
        ZSTD_CCtx_refCDict(zc, NULL);
    }
    if (ZSTD_isError(r)) return zstd_status(r);
    return (long)r;
}

int codec_compress(int codec, int level, const codec_dict *d, const void *src, size_t n,
                   void *dst, size_t cap, size_t *out_len, int *codec_used) {
    if (!out_len || !codec_used || (n && !src) || (cap && !dst)) return STRATA_EINVAL;
    if (codec < 0 || codec >= CODEC_COUNT) return STRATA_EINVAL;
    *out_len = 0;
    *codec_used = CODEC_RAW;
    int dict = is_dict_codec(codec);
    if (dict && !d) return STRATA_EINVAL;
    if ((codec == CODEC_LZ4 || codec == CODEC_LZ4_DICT) && n > LZ4_MAX_INPUT_SIZE)
        return STRATA_ETOOBIG;

    /* Only a payload smaller than n is worth keeping: limit the compressor to n-1
     * bytes (and to cap), and fall back to a raw copy when it does not fit. */
    if (codec != CODEC_RAW && n > 1) {
        size_t limit = cap < n - 1 ? cap : n - 1;
        size_t pre = dict ? varint_len(d->id) : 0;
        if (limit > pre) {
            codec_tls *t = tls_get();
            if (!t) return STRATA_ENOMEM;
            unsigned char *o = dst;
            codec_dict *dd = dict ? (codec_dict *)d : NULL; /* lazy states only */
            long r;
            if (dict) varint_put(o, d->id);
            if (codec == CODEC_LZ4 || codec == CODEC_LZ4_DICT) {
                size_t c = limit - pre;
                if (c > INT_MAX) c = INT_MAX;
                r = lz4_encode(t, level, dd, src, (int)n, (char *)o + pre, (int)c);
            } else {
                r = zstd_encode(t, level, dd, src, n, o + pre, limit - pre);
            }
            if (r < 0) return (int)r;
            if (r > 0) {
                *out_len = pre + (size_t)r;
                *codec_used = codec;
                return STRATA_OK;
            }
        }
    }
    if (cap < n) return STRATA_ETOOBIG;
    if (n) memcpy(dst, src, n);
    *out_len = n;
    return STRATA_OK;
}

/* ---- decompression ---- */

/* The calling thread's output area right after a copy of d's LZ4 window, or NULL when
 * raw_len is too large for it (or memory is short: the caller then decodes directly). */
static char *prefix_area(const codec_dict *d, size_t raw_len) {
    if (raw_len > LZ4_PREFIX_OUT_MAX) return NULL;
    codec_tls *t = tls_get();
    if (!t) return NULL;
    if (t->prefix_out_cap < raw_len) {
        size_t cap = t->prefix_out_cap ? t->prefix_out_cap : 64 * 1024;
        while (cap < raw_len) cap *= 2;
        if (cap > LZ4_PREFIX_OUT_MAX) cap = LZ4_PREFIX_OUT_MAX;
        char *p = malloc(CODEC_LZ4_DICT_WINDOW + cap);
        if (!p) return NULL;
        free(t->prefix);
        t->prefix = p;
        t->prefix_out_cap = cap;
        t->prefix_gen = 0;
    }
    if (t->prefix_gen != d->gen) {
        memcpy(t->prefix + CODEC_LZ4_DICT_WINDOW - (size_t)d->lz4_window_len, d->lz4_window,
               (size_t)d->lz4_window_len);
        t->prefix_gen = d->gen;
    }
    return t->prefix + CODEC_LZ4_DICT_WINDOW;
}

static int lz4_decode(const codec_dict *d, const void *src, size_t n, void *dst,
                      size_t raw_len) {
    if (n > INT_MAX || raw_len > LZ4_MAX_INPUT_SIZE || n == 0) return STRATA_ECORRUPT;
    int r;
    if (!d) {
        r = LZ4_decompress_safe(src, dst, (int)n, (int)raw_len);
    } else {
        char *area = prefix_area(d, raw_len);
        if (area) {
            /* The window ends exactly at `area`: LZ4 sees a prefix, not an external
             * dictionary. The copy out happens only on success. */
            r = LZ4_decompress_safe_usingDict(src, area, (int)n, (int)raw_len,
                                              area - d->lz4_window_len, d->lz4_window_len);
            if (r >= 0 && (size_t)r == raw_len && raw_len) memcpy(dst, area, raw_len);
        } else {
            r = LZ4_decompress_safe_usingDict(src, dst, (int)n, (int)raw_len, d->lz4_window,
                                              d->lz4_window_len);
        }
    }
    return r >= 0 && (size_t)r == raw_len ? STRATA_OK : STRATA_ECORRUPT;
}

static int zstd_decode(const codec_dict *d, const void *src, size_t n, void *dst,
                       size_t raw_len) {
    /* Exactly one frame, covering all n bytes, declaring raw_len. */
    unsigned long long declared = ZSTD_getFrameContentSize(src, n);
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN ||
        declared != (unsigned long long)raw_len)
        return STRATA_ECORRUPT;
    size_t fsize = ZSTD_findFrameCompressedSize(src, n);
    if (ZSTD_isError(fsize) || fsize != n) return STRATA_ECORRUPT;
    codec_tls *t = tls_get();
    ZSTD_DCtx *zd = t ? tls_zd(t) : NULL;
    if (!zd) return STRATA_ENOMEM;
    size_t r = d ? ZSTD_decompress_usingDDict(zd, dst, raw_len, src, n, d->ddict)
                 : ZSTD_decompressDCtx(zd, dst, raw_len, src, n);
    if (ZSTD_isError(r)) {
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? STRATA_ENOMEM
                                                                      : STRATA_ECORRUPT;
    }
    return r == raw_len ? STRATA_OK : STRATA_ECORRUPT;
}

int codec_decompress(int codec, const codec_dict *d, const void *src, size_t n,
                     void *dst, size_t raw_len) {
    if ((n && !src) || (raw_len && !dst)) return STRATA_EINVAL;
    if (codec < 0 || codec >= CODEC_COUNT) return STRATA_ECORRUPT;
    const unsigned char *p = src;
    if (is_dict_codec(codec)) {
        if (!d) return STRATA_EINVAL;
        uint32_t id;
        size_t k = varint_get(p, n, &id);
        if (k == 0 || id != d->id) return STRATA_ECORRUPT;
        p += k;
        n -= k;
    } else {
        d = NULL;
    }
    switch (codec) {
    case CODEC_RAW:
        if (n != raw_len) return STRATA_ECORRUPT;
        if (n) memcpy(dst, p, n);
        return STRATA_OK;
    case CODEC_LZ4:
    case CODEC_LZ4_DICT:
        return lz4_decode(d, p, n, dst, raw_len);
    default:
        return zstd_decode(d, p, n, dst, raw_len);
    }
}
