/*
 * lh_distance.h — vector distance kernels, chosen once for this CPU.
 *
 * Every kernel has a portable scalar version and, where the CPU has them,
 * AVX2+FMA and AVX-512 versions, selected at run time (lh_distance_init, or
 * lazily on first use). The SIMD versions are tested against the scalar ones.
 * Vectors may have any dimension; no alignment is required.
 */
#ifndef LH_DISTANCE_H
#define LH_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum lh_metric { LH_METRIC_L2 = 0, LH_METRIC_COSINE = 1, LH_METRIC_IP = 2 } lh_metric;

/* "l2", "cosine", "ip" and back; parse is false for anything else. */
const char *lh_metric_name(lh_metric m);
int lh_metric_parse(const char *s, lh_metric *out);

typedef float (*lh_dist_fn)(const float *a, const float *b, size_t dim);

/* "scalar", "avx2", "avx512": the kernels in use. */
const char *lh_distance_isa(void);

/* Forces a kernel family (tests, benchmarks); false if the CPU lacks it. */
int lh_distance_force(const char *isa);

/* Squared L2 distance and inner product. */
float lh_l2sq(const float *a, const float *b, size_t dim);
float lh_dot(const float *a, const float *b, size_t dim);

/* The distance the index minimises for a metric: L2 -> squared L2;
 * cosine (vectors normalised beforehand) and IP -> 1 - dot. */
lh_dist_fn lh_distance_for(lh_metric m);

/* Scales v to unit length in place (no-op for a zero vector). */
void lh_normalize(float *v, size_t dim);

/* SQ8: one byte per dimension, value = lo[i] + code * step[i].
 * Distance between a float query and a code vector. */
float lh_sq8_l2sq(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim);
float lh_sq8_dot(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim);

/* The scalar kernels, always available (reference for tests). */
float lh_l2sq_scalar(const float *a, const float *b, size_t dim);
float lh_dot_scalar(const float *a, const float *b, size_t dim);
float lh_sq8_l2sq_scalar(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim);
float lh_sq8_dot_scalar(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim);

#endif
