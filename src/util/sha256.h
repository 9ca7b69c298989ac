/* sha256.h — SHA-256 (FIPS 180-4), streaming and one-shot: the content hash of
 * documents (dedup) and the checksums in backup manifests. The compression function
 * runs on the SHA extensions (SHA-NI) when the CPU has them, else in portable C; the
 * choice is made once, at first use, and is thread-safe. A context is used by one
 * thread at a time; distinct contexts are independent. */
#ifndef STRATA_UTIL_SHA256_H
#define STRATA_UTIL_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define SU_SHA256_LEN 32

typedef struct {
    uint32_t h[8];       /* chaining state */
    uint64_t total;      /* bytes hashed so far */
    uint8_t buf[64];     /* partial block */
    uint32_t buf_len;    /* bytes in buf, < 64 */
    uint32_t impl;       /* internal: 0 auto, 1 portable, 2 SHA-NI (tests) */
} su_sha256_ctx;

void su_sha256_init(su_sha256_ctx *ctx);
/* Hash len more bytes; data may be NULL when len is 0. */
void su_sha256_update(su_sha256_ctx *ctx, const void *data, size_t len);
/* Write the digest and wipe the context (init it again to reuse). */
void su_sha256_final(su_sha256_ctx *ctx, uint8_t out[SU_SHA256_LEN]);
/* One-shot digest of data[0..len). */
void su_sha256(const void *data, size_t len, uint8_t out[SU_SHA256_LEN]);

/* For tests and benchmarks: the implementation a context uses. */
enum { SU_SHA256_AUTO = 0, SU_SHA256_PORTABLE = 1, SU_SHA256_NI = 2 };
/* 1 if the CPU has the SHA extensions (and SSE4.1) used by the SHA-NI path. */
int su_sha256_ni_available(void);
/* Init with a forced implementation. SU_SHA256_NI on a CPU without it falls back to
 * the portable code, so the result is always correct. */
void su_sha256_init_impl(su_sha256_ctx *ctx, int impl);
#endif
