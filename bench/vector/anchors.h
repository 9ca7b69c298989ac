/* anchors.h — the C face of the benchmark's anchors (anchors.cpp): hnswlib's
 * HierarchicalNSW and FAISS's IndexHNSWFlat, both on inner product (the bench data is
 * unit-norm, so that is cosine), built with `threads` threads, searched one query at
 * a time. A function returns NULL / -1 when its library was not built in. */
#ifndef STRATA_BENCH_VECTOR_ANCHORS_H
#define STRATA_BENCH_VECTOR_ANCHORS_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
int anchor_have_hnswlib(void);
int anchor_have_faiss(void);
void *hnswlib_build(const float *x, size_t n, int dim, int M, int efc, int threads);
void hnswlib_set_ef(void *h, int ef);
int hnswlib_search(void *h, const float *q, int k, uint64_t *labels);
void hnswlib_free(void *h);
void *faiss_build(const float *x, size_t n, int dim, int M, int efc, int threads);
void faiss_set_ef(void *h, int ef);
int faiss_search(void *h, const float *q, int k, uint64_t *labels);
void faiss_free(void *h);
#ifdef __cplusplus
}
#endif
#endif
