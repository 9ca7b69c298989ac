/* util.h — small helpers shared by every subsystem: JSON validation, files and
 * durability (atomic replace, directory fsync), randomness, clocks. No subsystem
 * state lives here. */
#ifndef STRATA_UTIL_H
#define STRATA_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..len) is one valid RFC 8259 JSON text (UTF-8, depth <= 512). */
int su_json_valid(const char *s, size_t len);
/* 1 if s[0..len) is valid JSON whose top-level value is an object. */
int su_json_is_object(const char *s, size_t len);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int su_utf8_valid(const char *s, size_t len);

/* Map an errno value to a STRATA_E* status. */
int su_errno_status(int err);

/* Write `len` bytes to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync of the directory. Returns 0 or an errno value. */
int su_write_atomic(const char *path, const void *data, size_t len, int mode);
/* fsync the directory holding `path` (or `path` itself if it is a directory). */
int su_fsync_dir(const char *dir);
/* Read a whole small file (at most max bytes) into a NUL-terminated malloc'd buffer. */
int su_read_file(const char *path, size_t max, char **out, size_t *len_out);
/* pwrite/pread loops that retry on EINTR and short counts. 0 or errno. */
int su_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int su_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got);

/* Fill buf with n bytes from getrandom(). 0 or errno. */
int su_random(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes with the NUL). */
void su_hex(const uint8_t *in, size_t n, char *out);

/* Wall clock in ms since the epoch; monotonic clock in ns. */
int64_t su_now_ms(void);
uint64_t su_mono_ns(void);

/* Total bytes of regular files below path (recursively). */
uint64_t su_tree_bytes(const char *path);
#endif
