/* crc32c.h — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * segment records and other on-disk structures. One entry point, su_crc32c(), picks
 * the fastest implementation the CPU offers the first time it is called (SSE4.2
 * crc32 instructions, else portable slicing-by-8) and is thread-safe.
 *
 * The value is the standard one (init and final xor 0xFFFFFFFF), so
 * su_crc32c(0, "123456789", 9) == 0xE3069283, and it chains: the CRC of a||b is
 * su_crc32c(su_crc32c(0, a, la), b, lb). Start every new checksum with crc = 0. */
#ifndef STRATA_UTIL_CRC32C_H
#define STRATA_UTIL_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of data[0..len), continuing from `crc` (0 for a fresh checksum).
 * data may be NULL when len is 0. Any alignment. */
uint32_t su_crc32c(uint32_t crc, const void *data, size_t len);

/* The portable slicing-by-8 implementation (always available). For tests. */
uint32_t su_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* The SSE4.2 implementation; falls back to su_crc32c_sw() on CPUs without SSE4.2,
 * so it is always safe to call. For tests and benchmarks. */
uint32_t su_crc32c_hw(uint32_t crc, const void *data, size_t len);

/* 1 if su_crc32c() uses the SSE4.2 instructions on this CPU. */
int su_crc32c_hw_available(void);

#endif
