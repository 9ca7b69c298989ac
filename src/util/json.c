/* json.c — a strict RFC 8259 validator. Strata stores JSON as text (SQLite TEXT) and
 * never parses it into a tree; validation at the API boundary is enough to keep
 * malformed values out of the store. Strings must be valid UTF-8 without raw control
 * characters; nesting is bounded so hostile input cannot exhaust the stack. */
#include "util/util.h"

#define JSON_MAX_DEPTH 512

typedef struct { const unsigned char *p, *end; int depth; } jp;

static void ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int lit(jp *j, const char *w) {
    for (; *w; w++, j->p++)
        if (j->p >= j->end || *j->p != (unsigned char)*w) return 0;
    return 1;
}

static int hex4(jp *j) {
    for (int i = 0; i < 4; i++, j->p++) {
        if (j->p >= j->end) return 0;
        unsigned c = *j->p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

/* One UTF-8 sequence starting at j->p (first byte >= 0x80); rejects overlongs,
 * surrogates and code points above U+10FFFF. */
static int utf8(jp *j) {
    const unsigned char *p = j->p;
    unsigned c = p[0], n, min, cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; min = 0x80; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; min = 0x800; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; min = 0x10000; cp = c & 0x07; }
    else return 0;
    if ((size_t)(j->end - p) <= n) return 0;
    for (unsigned i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    j->p += n + 1;
    return 1;
}

static int string(jp *j) {
    j->p++; /* opening quote */
    while (j->p < j->end) {
        /* The common case first: a run of plain ASCII, one compare per byte. */
        const unsigned char *p = j->p, *end = j->end;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        j->p = p;
        if (p >= end) return 0;
        unsigned c = *j->p;
        if (c == '"') { j->p++; return 1; }
        if (c < 0x20) return 0;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end) return 0;
            c = *j->p++;
            if (c == 'u') { if (!hex4(j)) return 0; }
            else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                       c == 'r' || c == 't')) return 0;
        } else if (c >= 0x80) {
            if (!utf8(j)) return 0;
        } else j->p++;
    }
    return 0;
}

static int digits(jp *j) {
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return j->p > s;
}

static int number(jp *j) {
    if (*j->p == '-') j->p++;
    if (j->p >= j->end) return 0;
    if (*j->p == '0') j->p++;
    else if (!digits(j)) return 0;
    if (j->p < j->end && *j->p == '.') { j->p++; if (!digits(j)) return 0; }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!digits(j)) return 0;
    }
    return 1;
}

static int value(jp *j);

static int container(jp *j, unsigned char close) {
    if (++j->depth > JSON_MAX_DEPTH) return 0;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) { j->p++; j->depth--; return 1; }
    for (;;) {
        ws(j);
        if (close == '}') {
            if (j->p >= j->end || *j->p != '"' || !string(j)) return 0;
            ws(j);
            if (j->p >= j->end || *j->p != ':') return 0;
            j->p++;
        }
        if (!value(j)) return 0;
        ws(j);
        if (j->p >= j->end) return 0;
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == close) { j->p++; j->depth--; return 1; }
        return 0;
    }
}

static int value(jp *j) {
    ws(j);
    if (j->p >= j->end) return 0;
    switch (*j->p) {
    case '{': return container(j, '}');
    case '[': return container(j, ']');
    case '"': return string(j);
    case 't': return lit(j, "true");
    case 'f': return lit(j, "false");
    case 'n': return lit(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return number(j);
        return 0;
    }
}

int su_json_valid(const char *s, size_t len) {
    if (!s) return 0;
    jp j = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };
    if (!value(&j)) return 0;
    ws(&j);
    return j.p == j.end;
}

int su_json_is_object(const char *s, size_t len) {
    if (!su_json_valid(s, len)) return 0;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i < len && s[i] == '{';
}

int su_utf8_valid(const char *s, size_t len) {
    jp j = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };
    while (j.p < j.end) {
        if (*j.p < 0x80) j.p++;
        else if (!utf8(&j)) return 0;
    }
    return 1;
}
