// anchors.cpp — hnswlib (header-only, Debian libhnswlib-dev) and FAISS IndexHNSWFlat
// (libfaiss-dev) behind the small C interface of anchors.h. This file alone is
// compiled with -O3 -march=native: hnswlib picks its SIMD kernels at compile time
// (__AVX512F__ etc.), so that is how it is fastest, and the anchor gets its best.
#include "anchors.h"

#include <atomic>
#include <thread>
#include <vector>

#ifdef STRATA_HAVE_HNSWLIB
#include <hnswlib/hnswlib.h>
#endif
#ifdef STRATA_HAVE_FAISS
#include <faiss/IndexHNSW.h>
#include <omp.h>
#endif

int anchor_have_hnswlib(void) {
#ifdef STRATA_HAVE_HNSWLIB
    return 1;
#else
    return 0;
#endif
}

int anchor_have_faiss(void) {
#ifdef STRATA_HAVE_FAISS
    return 1;
#else
    return 0;
#endif
}

#ifdef STRATA_HAVE_HNSWLIB
namespace {
struct Hn {
    hnswlib::InnerProductSpace space;
    hnswlib::HierarchicalNSW<float> index;
    Hn(int dim, size_t n, int M, int efc) : space(dim), index(&space, n, M, efc) {}
};
}  // namespace

void *hnswlib_build(const float *x, size_t n, int dim, int M, int efc, int threads) {
    Hn *h = new Hn(dim, n, M, efc);
    std::atomic<size_t> next(0);
    auto work = [&]() {
        for (;;) {
            size_t i = next++;
            if (i >= n) break;
            h->index.addPoint(x + i * (size_t)dim, (hnswlib::labeltype)i);
        }
    };
    // The first point alone, as hnswlib's own examples do before going parallel.
    if (n) h->index.addPoint(x, 0), next = 1;
    std::vector<std::thread> th;
    for (int t = 1; t < threads; t++) th.emplace_back(work);
    work();
    for (auto &t : th) t.join();
    return h;
}

void hnswlib_set_ef(void *h, int ef) { static_cast<Hn *>(h)->index.setEf((size_t)ef); }

int hnswlib_search(void *h, const float *q, int k, uint64_t *labels) {
    auto r = static_cast<Hn *>(h)->index.searchKnn(q, (size_t)k);
    int m = (int)r.size();
    for (int i = m - 1; i >= 0; i--) {
        labels[i] = r.top().second;
        r.pop();
    }
    return m;
}

void hnswlib_free(void *h) { delete static_cast<Hn *>(h); }
#else
void *hnswlib_build(const float *, size_t, int, int, int, int) { return nullptr; }
void hnswlib_set_ef(void *, int) {}
int hnswlib_search(void *, const float *, int, uint64_t *) { return -1; }
void hnswlib_free(void *) {}
#endif

#ifdef STRATA_HAVE_FAISS
void *faiss_build(const float *x, size_t n, int dim, int M, int efc, int threads) {
    omp_set_num_threads(threads);
    auto *ix = new faiss::IndexHNSWFlat(dim, M, faiss::METRIC_INNER_PRODUCT);
    ix->hnsw.efConstruction = efc;
    ix->add((faiss::Index::idx_t)n, x);
    omp_set_num_threads(1);  // searches are single-threaded
    return ix;
}

void faiss_set_ef(void *h, int ef) { static_cast<faiss::IndexHNSWFlat *>(h)->hnsw.efSearch = ef; }

int faiss_search(void *h, const float *q, int k, uint64_t *labels) {
    std::vector<float> d((size_t)k);
    std::vector<faiss::Index::idx_t> id((size_t)k);
    static_cast<faiss::IndexHNSWFlat *>(h)->search(1, q, k, d.data(), id.data());
    int m = 0;
    for (int i = 0; i < k; i++)
        if (id[(size_t)i] >= 0) labels[m++] = (uint64_t)id[(size_t)i];
    return m;
}

void faiss_free(void *h) { delete static_cast<faiss::IndexHNSWFlat *>(h); }
#else
void *faiss_build(const float *, size_t, int, int, int, int) { return nullptr; }
void faiss_set_ef(void *, int) {}
int faiss_search(void *, const float *, int, uint64_t *) { return -1; }
void faiss_free(void *) {}
#endif
