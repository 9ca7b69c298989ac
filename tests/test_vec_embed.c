/* test_vec_embed.c — the lexical hash embedder: deterministic, unit length at any
 * dimension, texts sharing words closer than unrelated ones, clear errors. */
#include "test.h"
#include "vector/vec.h"

static double dot(const float *a, const float *b, uint32_t d) {
    double s = 0;
    for (uint32_t i = 0; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

static void emb(const char *t, float *v, uint32_t d) { CHECK_OK(vec_embed_hash(t, strlen(t), v, d)); }

int main(void) {
    static const uint32_t dims[] = {1, 2, 7, 64, 100, 384, 1024, 4096};
    static float a[4096], b[4096], c[4096], a2[4096];
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        uint32_t d = dims[i];
        emb("The quick brown fox jumps over the lazy dog", a, d);
        emb("The quick brown fox jumps over the lazy dog", a2, d);
        CHECK(memcmp(a, a2, d * sizeof(float)) == 0);
        double n = dot(a, a, d);
        CHECK(n > 0.9999 && n < 1.0001);
    }
    uint32_t d = 384;
    emb("Vector indexes make nearest neighbour search fast", a, d);
    emb("a fast vector index for nearest-neighbour searching", b, d);
    emb("The recipe calls for two cups of flour and an egg", c, d);
    double sim = dot(a, b, d), far = dot(a, c, d);
    printf("embed: similar %.3f, unrelated %.3f\n", sim, far);
    CHECK(sim > far + 0.2);
    /* case and punctuation do not matter; word order does a little (bigrams) */
    emb("HELLO, World!", a, d);
    emb("hello world", b, d);
    CHECK(dot(a, b, d) > 0.9999);
    emb("world hello", c, d);
    CHECK(dot(a, c, d) < 0.9999 && dot(a, c, d) > 0.6);
    /* non-ASCII words are tokens too; punctuation-only text still embeds */
    emb("naïve café", a, d);
    emb("café naïve", b, d);
    CHECK(dot(a, b, d) > 0.6);
    emb("!!! ???", a, d);
    CHECK(dot(a, a, d) > 0.999);
    /* errors */
    CHECK_RC(vec_embed_hash("", 0, a, d), STRATA_EINVAL);
    CHECK_RC(vec_embed_hash(" \t\n ", 4, a, d), STRATA_EINVAL);
    CHECK(a[0] == 0 && a[d - 1] == 0);
    CHECK_RC(vec_embed_hash("x", 1, a, 0), STRATA_EINVAL);
    CHECK_RC(vec_embed_hash("x", 1, a, VEC_DIM_MAX + 1), STRATA_EINVAL);
    CHECK_RC(vec_embed_hash("x", 1, NULL, 8), STRATA_EINVAL);
    /* golden values: the embedding of a text never changes across versions */
    emb("strata", a, 8);
    static const float golden[8] = {-0.195165f, 0.390330f, 0.390330f, 0.560706f,
                                    -0.390330f, 0.0f, 0.195165f, 0.390330f};
    for (int i = 0; i < 8; i++) CHECK(a[i] - golden[i] < 1e-5f && golden[i] - a[i] < 1e-5f);
    return t_done();
}
