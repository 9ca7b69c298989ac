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
/* Whether a test's own stores record analytics (analytics.duckdb, DuckDB's threads).
 * Off in a ThreadSanitizer build (STRATA_TEST_TSAN, from -DSTRATA_TSAN=ON): the
 * prebuilt libduckdb.so is not instrumented, so TSan cannot see DuckDB's own
 * synchronisation, and DuckDB's threads would only add reports about its internals to
 * the races in Strata's code the threaded tests look for. test_analytics does not use
 * this and keeps analytics on under TSan (with tests/tsan.supp). STRATA_TEST_ANALYTICS=0
 * or 1 in the environment overrides the choice in any build. */
static inline int t_analytics_on(void) {
    const char *e = getenv("STRATA_TEST_ANALYTICS");
    if (e && *e) return strcmp(e, "0") != 0;
#ifdef STRATA_TEST_TSAN
    return 0;
#else
    return 1;
#endif
}
/* strata_options_default(), with analytics off when t_analytics_on() says so. */
static inline strata_options t_options(void) {
    strata_options o = strata_options_default();
    if (!t_analytics_on()) o.analytics_flags |= STRATA_ANALYTICS_OFF;
    return o;
}
/* Print the closing line CTest and CI read, and the exit status. */
static inline int t_done(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
#endif
