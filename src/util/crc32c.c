/* crc32c.c — CRC-32C in two implementations chosen once at run time.
 *
 * Portable: slicing-by-8, eight 256-entry tables, one 8-byte word per step.
 *
 * SSE4.2: the crc32 instruction folds 8 bytes per call but has a latency of 3 cycles
 * and a throughput of 1, so a single dependent chain runs at a third of the unit's
 * speed. Long buffers are therefore cut into three equal lanes whose CRCs are computed
 * in one interleaved loop and then combined. Combining rests on linearity: with the
 * register value r (no pre/post inversion) after a prefix A, processing B gives
 *     reg(r, B) = shift(r, |B|) ^ reg(0, B),
 * where shift(r, n) is r advanced through n zero bytes. shift() is linear in r, so for
 * a fixed n it is a 32x32 bit matrix, applied here as four 256-entry tables (one per
 * byte of r). Two lane lengths are used, LONG for big buffers and SHORT for the tail.
 *
 * Tables are built at first use under pthread_once; the chosen function pointer is
 * published with release/acquire ordering, so any thread may call su_crc32c(). */
#include "util/crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */
#define LONG_LANE   8192u       /* bytes per lane in the long 3-way loop */
#define SHORT_LANE  256u        /* bytes per lane in the short 3-way loop */

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static uint32_t slice_tab[8][256];
static uint32_t long_shift[4][256];
static uint32_t short_shift[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static _Atomic(crc_fn) chosen;

static uint64_t load_le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Advance register r through n zero bytes, one byte at a time (init only). */
static uint32_t zeros_slow(uint32_t r, size_t n) {
    while (n--) r = (r >> 8) ^ slice_tab[0][r & 0xff];
    return r;
}

/* Tables applying shift(r, n) byte-wise: tab[k][b] = shift(b << 8k, n), built from the
 * 32 shifted basis vectors by linearity. */
static void build_shift(uint32_t tab[4][256], size_t n) {
    uint32_t basis[32];
    for (int i = 0; i < 32; i++) basis[i] = zeros_slow(1u << i, n);
    for (int k = 0; k < 4; k++) {
        for (unsigned b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int bit = 0; bit < 8; bit++)
                if (b & (1u << bit)) v ^= basis[8 * k + bit];
            tab[k][b] = v;
        }
    }
}

static uint32_t apply_shift(const uint32_t tab[4][256], uint32_t r) {
    return tab[0][r & 0xff] ^ tab[1][(r >> 8) & 0xff] ^ tab[2][(r >> 16) & 0xff] ^
           tab[3][r >> 24];
}

static uint32_t crc32c_slice8(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = data;
    uint32_t r = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        r = (r >> 8) ^ slice_tab[0][(r ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t w = load_le64(p) ^ r;
        r = slice_tab[7][w & 0xff] ^ slice_tab[6][(w >> 8) & 0xff] ^
            slice_tab[5][(w >> 16) & 0xff] ^ slice_tab[4][(w >> 24) & 0xff] ^
            slice_tab[3][(w >> 32) & 0xff] ^ slice_tab[2][(w >> 40) & 0xff] ^
            slice_tab[1][(w >> 48) & 0xff] ^ slice_tab[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) r = (r >> 8) ^ slice_tab[0][(r ^ *p++) & 0xff];
    return ~r;
}

#ifdef CRC32C_X86
/* Three interleaved lanes of `lane` bytes each; r is the running register. */
#define CRC32C_3WAY(lane, tab)                                                        \
    while (len >= 3 * (size_t)(lane)) {                                               \
        uint64_t r1 = 0, r2 = 0;                                                      \
        const unsigned char *end = p + (lane);                                        \
        do {                                                                          \
            r0 = _mm_crc32_u64(r0, load_le64(p));                                     \
            r1 = _mm_crc32_u64(r1, load_le64(p + (lane)));                            \
            r2 = _mm_crc32_u64(r2, load_le64(p + 2 * (size_t)(lane)));                \
            p += 8;                                                                   \
        } while (p < end);                                                            \
        r0 = apply_shift(tab, (uint32_t)r0) ^ (uint32_t)r1;                           \
        r0 = apply_shift(tab, (uint32_t)r0) ^ (uint32_t)r2;                           \
        p += 2 * (size_t)(lane);                                                      \
        len -= 3 * (size_t)(lane);                                                    \
    }

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t r0 = (uint32_t)~crc;
    while (len && ((uintptr_t)p & 7)) {
        r0 = _mm_crc32_u8((uint32_t)r0, *p++);
        len--;
    }
    CRC32C_3WAY(LONG_LANE, long_shift)
    CRC32C_3WAY(SHORT_LANE, short_shift)
    while (len >= 8) {
        r0 = _mm_crc32_u64(r0, load_le64(p));
        p += 8;
        len -= 8;
    }
    while (len--) r0 = _mm_crc32_u8((uint32_t)r0, *p++);
    return ~(uint32_t)r0;
}

static int cpu_has_sse42(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}
#endif

static void init_tables(void) {
    for (unsigned b = 0; b < 256; b++) {
        uint32_t r = b;
        for (int i = 0; i < 8; i++) r = (r >> 1) ^ (CRC32C_POLY & (0u - (r & 1)));
        slice_tab[0][b] = r;
    }
    for (unsigned b = 0; b < 256; b++) {
        uint32_t r = slice_tab[0][b];
        for (int k = 1; k < 8; k++) {
            r = (r >> 8) ^ slice_tab[0][r & 0xff];
            slice_tab[k][b] = r;
        }
    }
    build_shift(long_shift, LONG_LANE);
    build_shift(short_shift, SHORT_LANE);
    crc_fn fn = crc32c_slice8;
#ifdef CRC32C_X86
    if (cpu_has_sse42()) fn = crc32c_sse42;
#endif
    atomic_store_explicit(&chosen, fn, memory_order_release);
}

static crc_fn get_impl(void) {
    crc_fn fn = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!fn) {
        pthread_once(&tables_once, init_tables);
        fn = atomic_load_explicit(&chosen, memory_order_acquire);
    }
    return fn;
}

uint32_t su_crc32c(uint32_t crc, const void *data, size_t len) {
    return get_impl()(crc, data, len);
}

uint32_t su_crc32c_sw(uint32_t crc, const void *data, size_t len) {
    (void)get_impl(); /* tables */
    return crc32c_slice8(crc, data, len);
}

uint32_t su_crc32c_hw(uint32_t crc, const void *data, size_t len) {
    (void)get_impl();
#ifdef CRC32C_X86
    if (cpu_has_sse42()) return crc32c_sse42(crc, data, len);
#endif
    return crc32c_slice8(crc, data, len);
}

int su_crc32c_hw_available(void) {
#ifdef CRC32C_X86
    return get_impl() == crc32c_sse42;
#else
    return 0;
#endif
}
