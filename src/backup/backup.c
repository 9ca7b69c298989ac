/* backup.c — backup folders on disk: the MANIFEST (written last, atomically; a
 * folder without a valid one is incomplete), hashing copies, scanning a destination,
 * removing folders. The manifest is JSON in a fixed layout, one file per line; the
 * reader accepts exactly that layout, and anything else is a corrupt manifest. */
#include "backup/backup.h"
#include "util/sha256.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int bk_valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > STRATA_BACKUP_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Manifest paths are our own file names: no "..", no absolute paths. */
static int valid_path(const char *p) {
    if (!*p || *p == '/' || strstr(p, "..") || strlen(p) >= BK_PATH_MAX) return 0;
    for (; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '/'))
            return 0;
    }
    return 1;
}

int bk_manifest_add(bk_manifest *m, const bk_file *f) {
    if (m->nfiles == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        bk_file *n = realloc(m->files, cap * sizeof *n);
        if (!n) return STRATA_ENOMEM;
        m->files = n;
        m->cap = cap;
    }
    m->files[m->nfiles++] = *f;
    return STRATA_OK;
}

const bk_file *bk_manifest_find(const bk_manifest *m, const char *path) {
    for (size_t i = 0; i < m->nfiles; i++)
        if (!strcmp(m->files[i].path, path)) return &m->files[i];
    return NULL;
}

void bk_manifest_free(bk_manifest *m) {
    free(m->files);
    m->files = NULL;
    m->nfiles = m->cap = 0;
}

int bk_manifest_write(const char *dir, const bk_manifest *m) {
    size_t cap = 512 + m->nfiles * (BK_PATH_MAX + 160), len = 0;
    char *buf = malloc(cap);
    if (!buf) return ENOMEM;
    len += (size_t)snprintf(buf + len, cap - len,
                            "{\"format\":\"strata-backup\",\"version\":%d,\"name\":\"%s\",\"lsn\":%" PRIu64
                            ",\"created_at\":%" PRId64 ",\"store_format\":%d,\n\"files\":[\n",
                            BK_FORMAT_VERSION, m->name, m->lsn, m->created_at, m->store_format);
    for (size_t i = 0; i < m->nfiles; i++) {
        char hex[65];
        su_hex(m->files[i].sha256, 32, hex);
        len += (size_t)snprintf(buf + len, cap - len, "{\"path\":\"%s\",\"size\":%" PRIu64 ",\"sha256\":\"%s\",\"fp\":\"%s\"}%s\n",
                                m->files[i].path, m->files[i].size, hex, m->files[i].fp,
                                i + 1 < m->nfiles ? "," : "");
    }
    len += (size_t)snprintf(buf + len, cap - len, "]}\n");
    size_t n = strlen(dir);
    char *path = malloc(n + sizeof BK_MANIFEST + 2);
    int rc = ENOMEM;
    if (path) {
        sprintf(path, "%s/%s", dir, BK_MANIFEST);
        rc = su_write_atomic(path, buf, len, 0600);
        free(path);
    }
    free(buf);
    return rc;
}

static int unhex(const char *h, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return 0;
        out[i] = (uint8_t)v;
    }
    return 1;
}

int bk_manifest_read(const char *dir, bk_manifest *m) {
    memset(m, 0, sizeof *m);
    size_t n = strlen(dir);
    char *path = malloc(n + sizeof BK_MANIFEST + 2);
    if (!path) return STRATA_ENOMEM;
    sprintf(path, "%s/%s", dir, BK_MANIFEST);
    char *text = NULL;
    size_t len = 0;
    int e = su_read_file(path, 64u << 20, &text, &len);
    free(path);
    if (e == ENOENT) return STRATA_ENOTFOUND;
    if (e) return su_errno_status(e);
    int rc = STRATA_ECORRUPT, version = 0, consumed = 0;
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line || sscanf(line,
                        "{\"format\":\"strata-backup\",\"version\":%d,\"name\":\"%64[A-Za-z0-9_-]\",\"lsn\":%" SCNu64
                        ",\"created_at\":%" SCNd64 ",\"store_format\":%d,%n",
                        &version, m->name, &m->lsn, &m->created_at, &m->store_format, &consumed) != 5 ||
        line[consumed] != 0 || version != BK_FORMAT_VERSION)
        goto done;
    if (!(line = strtok_r(NULL, "\n", &save)) || strcmp(line, "\"files\":[") != 0) goto done;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (!strcmp(line, "]}")) { rc = STRATA_OK; break; }
        bk_file f;
        char hex[65] = "";
        memset(&f, 0, sizeof f);
        consumed = 0;
        if (sscanf(line, "{\"path\":\"%255[A-Za-z0-9_./-]\",\"size\":%" SCNu64 ",\"sha256\":\"%64[0-9a-f]\",\"fp\":\"%n",
                   f.path, &f.size, hex, &consumed) != 3 || !consumed || strlen(hex) != 64 || !valid_path(f.path))
            goto done;
        char *fp = line + consumed, *q = strchr(fp, '"');
        if (!q || (size_t)(q - fp) >= sizeof f.fp || (strcmp(q, "\"}") && strcmp(q, "\"},"))) goto done;
        memcpy(f.fp, fp, (size_t)(q - fp));
        if (!unhex(hex, f.sha256, 32) || bk_manifest_add(m, &f)) goto done;
    }
    if (rc == STRATA_OK && strtok_r(NULL, "\n", &save)) rc = STRATA_ECORRUPT; /* trailing garbage */
done:
    free(text);
    if (rc) bk_manifest_free(m);
    return rc;
}

int bk_copy(const char *src, const char *dst, uint64_t len, uint8_t sha[32], uint64_t *copied, char *err,
            size_t errlen) {
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, e = 0;
    uint8_t *buf = NULL;
    su_sha256_ctx c;
    su_sha256_init(&c);
    uint64_t done = 0;
    if (in < 0) { e = errno; snprintf(err, errlen, "%s: %s", src, strerror(e)); goto fail; }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) { e = errno; snprintf(err, errlen, "%s: %s", dst, strerror(e)); goto fail; }
    if (!(buf = malloc(1u << 20))) { e = ENOMEM; snprintf(err, errlen, "out of memory"); goto fail; }
    while (done < len) {
        size_t want = len - done < (1u << 20) ? (size_t)(len - done) : (1u << 20), got = 0;
        if ((e = su_pread_all(in, buf, want, done, &got)) != 0) { snprintf(err, errlen, "%s: %s", src, strerror(e)); goto fail; }
        if (got == 0) {
            if (len != UINT64_MAX) { e = EIO; snprintf(err, errlen, "%s is shorter than expected", src); goto fail; }
            break;
        }
        if ((e = su_pwrite_all(out, buf, got, done)) != 0) { snprintf(err, errlen, "%s: %s", dst, strerror(e)); goto fail; }
        su_sha256_update(&c, buf, got);
        done += got;
    }
    if (fsync(out) < 0) { e = errno; snprintf(err, errlen, "%s: %s", dst, strerror(e)); goto fail; }
    close(out);
    close(in);
    free(buf);
    su_sha256_final(&c, sha);
    if (copied) *copied = done;
    return STRATA_OK;
fail:
    if (in >= 0) close(in);
    if (out >= 0) { close(out); unlink(dst); }
    free(buf);
    return su_errno_status(e);
}

int bk_hash_file(const char *path, uint8_t sha[32], uint64_t *size, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return su_errno_status(e);
    }
    uint8_t *buf = malloc(1u << 20);
    if (!buf) { close(fd); snprintf(err, errlen, "out of memory"); return STRATA_ENOMEM; }
    su_sha256_ctx c;
    su_sha256_init(&c);
    uint64_t total = 0;
    int rc = STRATA_OK;
    for (;;) {
        ssize_t n = read(fd, buf, 1u << 20);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = su_errno_status(errno);
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        su_sha256_update(&c, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    free(buf);
    su_sha256_final(&c, sha);
    if (size) *size = total;
    return rc;
}

int bk_mkdirs(const char *path) {
    char *p = strdup(path);
    if (!p) return ENOMEM;
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0700) < 0 && errno != EEXIST) { rc = errno; break; }
            *s = c;
            if (c == 0) break;
        }
    }
    free(p);
    return rc;
}

int bk_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) < 0 ? errno : 0;
    DIR *d = opendir(path);
    if (!d) return errno;
    struct dirent *e;
    int rc = 0;
    size_t n = strlen(path);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *child = malloc(n + strlen(e->d_name) + 2);
        if (!child) { rc = ENOMEM; break; }
        sprintf(child, "%s/%s", path, e->d_name);
        int r = bk_rmtree(child);
        if (r && !rc) rc = r;
        free(child);
    }
    closedir(d);
    if (rmdir(path) < 0 && !rc) rc = errno;
    return rc;
}

int bk_lock_dest(const char *dest) {
    size_t n = strlen(dest);
    char *p = malloc(n + 8);
    if (!p) return -ENOMEM;
    sprintf(p, "%s/.lock", dest);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(p);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const bk_entry *)a)->name, ((const bk_entry *)b)->name);
}

int bk_scan(const char *dest, bk_entry **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dest);
    if (!d) return errno == ENOENT ? STRATA_OK : su_errno_status(errno);
    size_t cap = 0, dl = strlen(dest);
    struct dirent *e;
    int rc = STRATA_OK;
    while ((e = readdir(d)) != NULL) {
        if (!bk_valid_name(e->d_name)) continue;
        char *p = malloc(dl + strlen(e->d_name) + 2);
        if (!p) { rc = STRATA_ENOMEM; break; }
        sprintf(p, "%s/%s", dest, e->d_name);
        struct stat st;
        int isdir = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
        if (!isdir) { free(p); continue; }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            bk_entry *ne = realloc(*out, cap * sizeof *ne);
            if (!ne) { free(p); rc = STRATA_ENOMEM; break; }
            *out = ne;
        }
        bk_entry *x = &(*out)[(*n)++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%.64s", e->d_name);
        x->complete = bk_manifest_read(p, &x->m) == STRATA_OK && !strcmp(x->m.name, x->name);
        if (!x->complete) bk_manifest_free(&x->m);
        free(p);
    }
    closedir(d);
    if (rc) { bk_scan_free(*out, *n); *out = NULL; *n = 0; return rc; }
    if (*n) qsort(*out, *n, sizeof **out, entry_cmp);
    return STRATA_OK;
}

void bk_scan_free(bk_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) bk_manifest_free(&e[i].m);
    free(e);
}

const bk_entry *bk_newest_complete(const bk_entry *e, size_t n) {
    for (size_t i = n; i-- > 0;)
        if (e[i].complete) return &e[i];
    return NULL;
}
