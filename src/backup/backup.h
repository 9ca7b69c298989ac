/* backup.h — backup folders, their MANIFEST, and the file operations around them
 * (copy with hashing, hard links, verify, restore, prune). No SQLite: store-side
 * snapshotting is in src/api_backup.c, which composes this with the catalogue.
 * Format: doc/format/backup.md. */
#ifndef STRATA_BACKUP_H
#define STRATA_BACKUP_H
#include <stddef.h>
#include <stdint.h>
#include "strata.h"

#define BK_MANIFEST "MANIFEST"
#define BK_FORMAT_VERSION 1
#define BK_PATH_MAX 256

typedef struct bk_file {
    char path[BK_PATH_MAX];   /* relative to the backup folder, '/'-separated */
    uint64_t size;
    uint8_t sha256[32];
    char fp[24];              /* fingerprint of an append-only file (segment header CRC), or "" */
} bk_file;

typedef struct bk_manifest {
    char name[STRATA_BACKUP_NAME_MAX + 1];
    uint64_t lsn;
    int64_t created_at;
    int store_format;
    bk_file *files;
    size_t nfiles, cap;
} bk_manifest;

int bk_valid_name(const char *name);
int bk_manifest_add(bk_manifest *m, const bk_file *f);
const bk_file *bk_manifest_find(const bk_manifest *m, const char *path);
void bk_manifest_free(bk_manifest *m);
/* Write dir/MANIFEST atomically (temp, fsync, rename, fsync dir). 0 or errno. */
int bk_manifest_write(const char *dir, const bk_manifest *m);
/* Parse dir/MANIFEST: STRATA_OK, STRATA_ENOTFOUND (none), STRATA_ECORRUPT. */
int bk_manifest_read(const char *dir, bk_manifest *m);

/* Copy the first `len` bytes of src to a new file dst (fsynced), hashing them.
 * len UINT64_MAX: the whole file. STRATA status; message in err. */
int bk_copy(const char *src, const char *dst, uint64_t len, uint8_t sha[32], uint64_t *copied, char *err, size_t errlen);
/* SHA-256 and size of a whole file. */
int bk_hash_file(const char *path, uint8_t sha[32], uint64_t *size, char *err, size_t errlen);
/* mkdir -p with mode 0700. 0 or errno. */
int bk_mkdirs(const char *path);
/* Remove a folder and everything below it. 0 or errno. */
int bk_rmtree(const char *path);
/* Take the destination's lock file (flock); returns an fd or -errno. */
int bk_lock_dest(const char *dest);

/* The destination's backups, sorted by name (names sort by time). */
typedef struct bk_entry { char name[STRATA_BACKUP_NAME_MAX + 1]; int complete; bk_manifest m; } bk_entry;
int bk_scan(const char *dest, bk_entry **out, size_t *n);
void bk_scan_free(bk_entry *e, size_t n);
/* The newest complete backup, or NULL. */
const bk_entry *bk_newest_complete(const bk_entry *e, size_t n);
#endif
