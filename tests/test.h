/* test.h — the tiny harness every C test uses: CHECK macros that report file:line
 * and keep going, a temporary store directory, and a summary line that CTest reads. */
#ifndef STRATA_TEST_H
#define STRATA_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "strata.h"

static int t_failed, t_passed;

#define CHECK(cond) do { if (cond) t_passed++; else { t_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_RC(expr, want) do { int rc_ = (expr); if (rc_ == (want)) t_passed++; else { \
    t_failed++; fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__, \
    __LINE__, #expr, rc_, strata_errstr(rc_), (int)(want), strata_errstr(want)); } } while (0)
#define CHECK_OK(expr) CHECK_RC(expr, STRATA_OK)

/* A fresh, empty directory under $TMPDIR (or /tmp); the caller removes it with t_rmtree. */
static inline char *t_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);
    if (!p) abort();
    snprintf(p, 4096, "%s/strata-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(p)) { perror("mkdtemp"); abort(); }
    return p;
}
static inline void t_rmtree(char *p) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", p);
    free(p);
}
/* Print the closing line CTest and CI read, and the exit status. */
static inline int t_done(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
#endif
