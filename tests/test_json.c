/* test_json.c — the JSON validator behind every settings and session write. */
#include "test.h"
#include "util/util.h"

static int ok(const char *s) { return strata_json_valid(s, strlen(s)); }

int main(void) {
    const char *good[] = { "{}", "[]", "0", "-0", "1.5e10", "-12.25E-3", "\"\"", "true", "false", "null",
                           " { \"a\" : [1, 2, {\"b\": null}], \"c\": \"\\u00e9\\n\" } ",
                           "\"caf\xc3\xa9\"", "\"\xf0\x9f\x98\x80\"", "[[[[]]]]", "\"\\/\\b\\f\\r\\t\"" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!ok(good[i])) fprintf(stderr, "rejected valid: %s\n", good[i]);
        CHECK(ok(good[i]));
    }
    const char *bad[] = { "", " ", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5",
                          "-", "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "'a'",
                          "{} {}", "[1] x", "NaN", "Infinity", "\"a\nb\"", "\"\xc3\x28\"",
                          "\"\xed\xa0\x80\"" /* surrogate */, "\"\xc0\xaf\"" /* overlong */,
                          "\"\xf4\x90\x80\x80\"" /* > U+10FFFF */, "{\"a\":1,}", "[1 2]" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (ok(bad[i])) fprintf(stderr, "accepted invalid #%zu: %s\n", i, bad[i]);
        CHECK(!ok(bad[i]));
    }
    /* Embedded NUL inside the given length is invalid; NULL pointer is invalid. */
    CHECK(!strata_json_valid("\"a\0b\"", 5));
    CHECK(!strata_json_valid(NULL, 0));
    /* Deep nesting is bounded: 512 levels pass, 513 fail, 100000 do not crash. */
    size_t deep = 100000;
    char *s = malloc(2 * deep + 1);
    for (size_t d = 511; d <= 513; d++) {
        memset(s, '[', d);
        memset(s + d, ']', d);
        CHECK(strata_json_valid(s, 2 * d) == (d <= 512));
    }
    memset(s, '[', deep);
    memset(s + deep, ']', deep);
    CHECK(!strata_json_valid(s, 2 * deep));
    free(s);
    CHECK(su_json_is_object(" {\"a\":1}", 8));
    CHECK(!su_json_is_object("[1]", 3));
    CHECK(!su_json_is_object("\"{}\"", 4));
    return t_done();
}
