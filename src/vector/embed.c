/* embed.c — a lexical "hash embedder": turns text into a unit vector of any
 * dimension with no model, so the CLI and demo can search text out of the box.
 *
 * What it is: signed feature hashing (Weinberger et al., 2009) of
 *   - word unigrams (weight 1),
 *   - word bigrams (weight 0.7),
 *   - character 3-, 4- and 5-grams of each word wrapped in '<' '>' (fastText's
 *     subwords), weighted 1/sqrt(count) so a word's pieces together weigh about
 *     as much as the word itself,
 * each hashed (FNV-1a, then a 64-bit mixer) to a component index and a sign, then
 * the vector is L2-normalised. Words are runs of ASCII letters/digits (lower-cased)
 * and of non-ASCII bytes (UTF-8 text stays together); other bytes separate words.
 * A text with no word but other visible bytes uses those bytes as tokens.
 *
 * What it is not: a semantic model. Texts that share words or word pieces
 * ("indexing"/"index") come out close under cosine; synonyms and paraphrases do
 * not. Real applications pass their own model's vectors. Deterministic across
 * runs, machines and versions of this format (changing it would change stored
 * vectors, so it is versioned by the function name if it ever must change).
 */
#include "vector/vec.h"
#include "strata.h"

#include "vector/vmath.h"
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t mix(uint64_t z) {
    z ^= z >> 33;
    z *= 0xFF51AFD7ED558CCDull;
    z ^= z >> 33;
    z *= 0xC4CEB9FE1A85EC53ull;
    return z ^ (z >> 33);
}

#define SEED_WORD   0xCBF29CE484222325ull
#define SEED_BIGRAM 0x84222325CBF29CE4ull
#define SEED_CHAR   0x9E3779B97F4A7C15ull

static void add_feature(double *acc, uint32_t dim, uint64_t h, double w) {
    h = mix(h);
    uint32_t idx = (uint32_t)((h & 0xFFFFFFFFu) % dim);
    acc[idx] += (h >> 63) ? -w : w;
}

static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

/* Character n-grams of "<word>". */
static void add_char_grams(double *acc, uint32_t dim, const unsigned char *w, size_t n) {
    size_t L = n + 2, count = 0;
    for (size_t g = 3; g <= 5; g++)
        if (L >= g) count += L - g + 1;
    if (count == 0) return;
    double wt = 1.0 / vm_sqrt((double)count);
    for (size_t g = 3; g <= 5; g++) {
        if (L < g) continue;
        for (size_t s = 0; s + g <= L; s++) {
            uint64_t h = SEED_CHAR ^ (uint64_t)g;
            for (size_t i = s; i < s + g; i++) {
                unsigned char c = i == 0 ? '<' : i == L - 1 ? '>' : w[i - 1];
                h = fnv1a(h, &c, 1);
            }
            add_feature(acc, dim, h, wt);
        }
    }
}

int vec_embed_hash(const char *text, size_t len, float *out, uint32_t dim) {
    if (!out || dim == 0 || dim > VEC_DIM_MAX || (!text && len)) return STRATA_EINVAL;
    memset(out, 0, (size_t)dim * sizeof *out);
    double *acc = calloc(dim, sizeof *acc);
    unsigned char *buf = malloc(len + 1);
    if (!acc || !buf) {
        free(acc);
        free(buf);
        return STRATA_ENOMEM;
    }
    const unsigned char *t = (const unsigned char *)text;
    size_t words = 0;
    uint64_t prev = 0;
    int have_prev = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = lower(t[i]);
        if (!is_word_byte(c)) {
            i++;
            continue;
        }
        size_t n = 0;
        while (i < len && is_word_byte(lower(t[i]))) buf[n++] = lower(t[i++]);
        uint64_t wh = fnv1a(SEED_WORD, buf, n);
        add_feature(acc, dim, wh, 1.0);
        if (have_prev) add_feature(acc, dim, fnv1a(SEED_BIGRAM ^ prev, buf, n), 0.7);
        add_char_grams(acc, dim, buf, n);
        prev = wh;
        have_prev = 1;
        words++;
    }
    if (words == 0) /* no word: visible bytes (punctuation, symbols) are the tokens */
        for (size_t i = 0; i < len; i++)
            if (t[i] > ' ' && t[i] != 0x7F) add_feature(acc, dim, fnv1a(SEED_WORD, &t[i], 1), 1.0);
    double n2 = 0;
    for (uint32_t i = 0; i < dim; i++) n2 += acc[i] * acc[i];
    int rc = STRATA_EINVAL;
    if (n2 > 0) {
        double inv = 1.0 / vm_sqrt(n2);
        for (uint32_t i = 0; i < dim; i++) out[i] = (float)(acc[i] * inv);
        rc = STRATA_OK;
    }
    free(acc);
    free(buf);
    return rc;
}
