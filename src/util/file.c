/* file.c — file and durability helpers. The durability rule every subsystem relies on:
 * a file replaced in place is written to a temp file, fsynced, renamed over the old
 * one, and the directory is fsynced, so a crash leaves the old or the new file whole. */
#include "util/util.h"
#include "strata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int su_errno_status(int err) {
    switch (err) {
    case 0: return STRATA_OK;
    case ENOMEM: return STRATA_ENOMEM;
    case ENOSPC: case EDQUOT: case EFBIG: return STRATA_ENOSPC;
    case EACCES: case EPERM: case EROFS: return STRATA_EACCES;
    case ENOENT: case ENOTDIR: return STRATA_ENOTFOUND;
    case EEXIST: return STRATA_EEXIST;
    case EINVAL: case ENAMETOOLONG: return STRATA_EINVAL;
    case EWOULDBLOCK: return STRATA_EBUSY;
    default: return STRATA_EIO;
    }
}

int su_pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        p += n; len -= (size_t)n; off += (uint64_t)n;
    }
    return 0;
}

int su_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got) {
    char *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = pread(fd, p + total, len - total, (off_t)(off + total));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    if (got) *got = total;
    return 0;
}

int su_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = fsync(fd) < 0 ? errno : 0;
    close(fd);
    return rc;
}

int su_write_atomic(const char *path, const void *data, size_t len, int mode) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8), *dir = malloc(plen + 2);
    int rc = 0, fd = -1;
    if (!tmp || !dir) { rc = ENOMEM; goto cleanup; }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) { rc = errno; goto cleanup; }
    if ((rc = su_pwrite_all(fd, data, len, 0)) != 0) goto cleanup;
    if (fsync(fd) < 0) { rc = errno; goto cleanup; }
    if (close(fd) < 0) { fd = -1; rc = errno; goto cleanup; }
    fd = -1;
    if (rename(tmp, path) < 0) { rc = errno; goto cleanup; }
    memcpy(dir, path, plen + 1);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else strcpy(dir, ".");
    rc = su_fsync_dir(dir);
cleanup:
    if (fd >= 0) close(fd);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

int su_read_file(const char *path, size_t max, char **out, size_t *len_out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    char *buf = malloc(max + 1);
    if (!buf) { close(fd); return ENOMEM; }
    size_t got = 0;
    int rc = su_pread_all(fd, buf, max, 0, &got);
    close(fd);
    if (rc) { free(buf); return rc; }
    buf[got] = 0;
    *out = buf;
    if (len_out) *len_out = got;
    return 0;
}

int su_random(void *buf, size_t n) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += r; n -= (size_t)r;
    }
    return 0;
}

void su_hex(const uint8_t *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

int64_t su_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t su_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t su_tree_bytes(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return 0;
    if (S_ISREG(st.st_mode)) return (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    size_t plen = strlen(path);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t nlen = strlen(e->d_name);
        char *child = malloc(plen + nlen + 2);
        if (!child) break;
        memcpy(child, path, plen);
        child[plen] = '/';
        memcpy(child + plen + 1, e->d_name, nlen + 1);
        total += su_tree_bytes(child);
        free(child);
    }
    closedir(d);
    return total;
}
