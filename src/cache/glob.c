/* glob.c — Redis's glob patterns (SCAN MATCH, KEYS, CONFIG GET): * ? [abc] [^a]
 * [a-z] and \ escapes, over byte strings with explicit lengths (no NUL needed).
 * Written after the behaviour of Redis's stringmatchlen, including its guard
 * against exponential backtracking: once a '*' fails to match the rest of the
 * pattern anywhere in the rest of the string, no earlier '*' can help. */
#include "cache/cache.h"

#include <ctype.h>

static int lower(int c, int nocase) { return nocase ? tolower(c) : c; }

static int match(const unsigned char *p, size_t pl, const unsigned char *s, size_t sl, int nocase, int *give_up,
                 int depth) {
    if (depth > 1000) return 0;
    while (pl && sl) {
        switch (p[0]) {
        case '*':
            while (pl > 1 && p[1] == '*') { p++; pl--; }
            if (pl == 1) return 1;
            while (sl) {
                if (match(p + 1, pl - 1, s, sl, nocase, give_up, depth + 1)) return 1;
                if (*give_up) return 0;
                s++;
                sl--;
            }
            *give_up = 1;
            return 0;
        case '?':
            s++;
            sl--;
            break;
        case '[': {
            p++;
            pl--;
            int neg = pl && p[0] == '^', hit = 0;
            if (neg) { p++; pl--; }
            for (;;) {
                if (pl == 0) { p--; pl++; break; } /* unterminated: the last byte ends it */
                if (p[0] == '\\' && pl >= 2) {
                    p++;
                    pl--;
                    if (p[0] == s[0]) hit = 1;
                } else if (p[0] == ']') {
                    break;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = lower(p[0], nocase), b = lower(p[2], nocase), c = lower(s[0], nocase);
                    if (a > b) { int t = a; a = b; b = t; }
                    p += 2;
                    pl -= 2;
                    if (c >= a && c <= b) hit = 1;
                } else if (lower(p[0], nocase) == lower(s[0], nocase)) {
                    hit = 1;
                }
                p++;
                pl--;
            }
            if (neg) hit = !hit;
            if (!hit) return 0;
            s++;
            sl--;
            break;
        }
        case '\\':
            if (pl >= 2) { p++; pl--; }
            /* fall through */
        default:
            if (lower(p[0], nocase) != lower(s[0], nocase)) return 0;
            s++;
            sl--;
            break;
        }
        p++;
        pl--;
        if (sl == 0) {
            while (pl && p[0] == '*') { p++; pl--; }
            break;
        }
    }
    return pl == 0 && sl == 0;
}

int cache_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
    int give_up = 0;
    return match((const unsigned char *)pat, plen, (const unsigned char *)s, slen, nocase, &give_up, 0);
}
