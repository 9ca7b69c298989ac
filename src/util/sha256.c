/* sha256.c — SHA-256 after FIPS 180-4, with two block functions:
 *
 *  - portable C: the message schedule kept as a 16-word ring (section 6.2.2, with
 *    W[t] computed in place), eight working variables rotated by renaming;
 *  - SHA-NI: the x86 SHA extensions. SHA256RNDS2 does two rounds on a state split as
 *    {A,B,E,F} and {C,D,G,H} (high to low lane), taking W[t]+K[t] for both rounds in
 *    the low two lanes of its third operand; SHA256MSG1/MSG2 compute the schedule
 *    four words at a time (MSG1 adds sigma0 terms, the caller adds W[t-7], MSG2 adds
 *    the sigma1 terms, which depend on words of the same group).
 *
 * The block function is chosen on first use (CPUID leaf 7 EBX bit 29 for SHA, leaf 1
 * for SSSE3/SSE4.1, which the shuffles and blends need) and published atomically.
 * CPUID is read directly because not every compiler's __builtin_cpu_supports knows
 * "sha" (clang 14 does not). */
#include "util/sha256.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_X86 1
#endif

typedef void (*block_fn)(uint32_t h[8], const uint8_t *p, size_t nblocks);

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* ---- portable ---- */

static inline uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define BSIG0(x) (ror32(x, 2) ^ ror32(x, 13) ^ ror32(x, 22))
#define BSIG1(x) (ror32(x, 6) ^ ror32(x, 11) ^ ror32(x, 25))
#define SSIG0(x) (ror32(x, 7) ^ ror32(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ror32(x, 17) ^ ror32(x, 19) ^ ((x) >> 10))
#define CH(x, y, z)  (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks) {
    uint32_t w[16];
    while (nblocks--) {
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t wt;
            if (t < 16) {
                wt = w[t] = be32(p + 4 * t);
            } else {
                uint32_t w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
                wt = w[t & 15] = SSIG1(w2) + w[(t - 7) & 15] + SSIG0(w15) + w[t & 15];
            }
            uint32_t t1 = hh + BSIG1(e) + CH(e, f, g) + K256[t] + wt;
            uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
            hh = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d;
        h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
        p += 64;
    }
}

/* ---- SHA-NI ---- */
#ifdef SHA256_X86
#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds 4i..4i+3 with message group w: two RNDS2, the second on the high half. */
#define SHANI_ROUNDS4(w, i)                                                           \
    do {                                                                              \
        __m128i wk = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&K256[4 * (i)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                                 \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));        \
    } while (0)

/* Next schedule group from the previous four: W[t..t+3] for t = 16.. */
#define SHANI_SCHED(w0, w1, w2, w3)                                                   \
    _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)),              \
                                       _mm_alignr_epi8((w3), (w2), 4)),               \
                         (w3))

SHANI_TARGET
static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks) {
    /* Reverse the bytes of each 32-bit word: the message is big-endian. */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    /* h[0..3] = A,B,C,D and h[4..7] = E,F,G,H (lane 0 first) -> ABEF, CDGH. */
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);          /* lanes B,A,D,C */
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);          /* lanes H,G,F,E */
    __m128i abef = _mm_alignr_epi8(badc, efgh, 8);         /* lanes F,E,B,A */
    __m128i cdgh = _mm_blend_epi16(efgh, badc, 0xF0);      /* lanes H,G,D,C */

    while (nblocks--) {
        __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        SHANI_ROUNDS4(w0, 0);
        SHANI_ROUNDS4(w1, 1);
        SHANI_ROUNDS4(w2, 2);
        SHANI_ROUNDS4(w3, 3);
        for (int g = 4; g < 16; g += 4) {
            w0 = SHANI_SCHED(w0, w1, w2, w3); SHANI_ROUNDS4(w0, g);
            w1 = SHANI_SCHED(w1, w2, w3, w0); SHANI_ROUNDS4(w1, g + 1);
            w2 = SHANI_SCHED(w2, w3, w0, w1); SHANI_ROUNDS4(w2, g + 2);
            w3 = SHANI_SCHED(w3, w0, w1, w2); SHANI_ROUNDS4(w3, g + 3);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        p += 64;
    }

    /* Back to A,B,C,D / E,F,G,H. */
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);          /* lanes A,B,E,F */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);          /* lanes G,H,C,D */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

static int cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;
}
#endif

/* ---- dispatch ---- */

static _Atomic(block_fn) chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    block_fn fn = blocks_portable;
#ifdef SHA256_X86
    if (cpu_has_shani()) fn = blocks_shani;
#endif
    atomic_store_explicit(&chosen, fn, memory_order_release);
}

static block_fn auto_fn(void) {
    block_fn fn = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!fn) {
        pthread_once(&choose_once, choose);
        fn = atomic_load_explicit(&chosen, memory_order_acquire);
    }
    return fn;
}

static block_fn ctx_fn(const su_sha256_ctx *ctx) {
    if (ctx->impl == SU_SHA256_PORTABLE) return blocks_portable;
#ifdef SHA256_X86
    if (ctx->impl == SU_SHA256_NI && su_sha256_ni_available()) return blocks_shani;
#endif
    return auto_fn();
}

int su_sha256_ni_available(void) {
#ifdef SHA256_X86
    return auto_fn() == blocks_shani;
#else
    return 0;
#endif
}

/* ---- streaming ---- */

void su_sha256_init_impl(su_sha256_ctx *ctx, int impl) {
    memcpy(ctx->h, H0, sizeof H0);
    ctx->total = 0;
    ctx->buf_len = 0;
    ctx->impl = (uint32_t)impl;
}

void su_sha256_init(su_sha256_ctx *ctx) { su_sha256_init_impl(ctx, SU_SHA256_AUTO); }

void su_sha256_update(su_sha256_ctx *ctx, const void *data, size_t len) {
    const uint8_t *p = data;
    if (len == 0) return;
    block_fn fn = ctx_fn(ctx);
    ctx->total += len;
    if (ctx->buf_len) {
        size_t take = 64 - ctx->buf_len;
        if (take > len) take = len;
        memcpy(ctx->buf + ctx->buf_len, p, take);
        ctx->buf_len += (uint32_t)take;
        p += take;
        len -= take;
        if (ctx->buf_len < 64) return;
        fn(ctx->h, ctx->buf, 1);
        ctx->buf_len = 0;
    }
    if (len >= 64) {
        fn(ctx->h, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len) {
        memcpy(ctx->buf, p, len);
        ctx->buf_len = (uint32_t)len;
    }
}

void su_sha256_final(su_sha256_ctx *ctx, uint8_t out[SU_SHA256_LEN]) {
    /* Padding (5.1.1): 0x80, zeros to 56 mod 64, then the bit length big-endian. */
    block_fn fn = ctx_fn(ctx);
    uint64_t bits = ctx->total * 8;
    size_t n = ctx->buf_len;
    ctx->buf[n++] = 0x80;
    if (n > 56) {
        memset(ctx->buf + n, 0, 64 - n);
        fn(ctx->h, ctx->buf, 1);
        n = 0;
    }
    memset(ctx->buf + n, 0, 56 - n);
    for (int i = 0; i < 8; i++) ctx->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    fn(ctx->h, ctx->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i + 0] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    memset(ctx, 0, sizeof *ctx);
}

void su_sha256(const void *data, size_t len, uint8_t out[SU_SHA256_LEN]) {
    su_sha256_ctx ctx;
    su_sha256_init(&ctx);
    su_sha256_update(&ctx, data, len);
    su_sha256_final(&ctx, out);
}
