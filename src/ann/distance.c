/*
 * distance.c — scalar, AVX2+FMA and AVX-512 kernels, dispatched at run time.
 *
 * The SIMD functions are compiled with target attributes, so the rest of the
 * binary stays portable; __builtin_cpu_supports picks the widest that works.
 */
#include "lakehouse/lh_distance.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <string.h>

/* ---- scalar ---- */

float lh_l2sq_scalar(const float *a, const float *b, size_t dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
    }
    for (; i < dim; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

float lh_dot_scalar(const float *a, const float *b, size_t dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i], s1 += a[i + 1] * b[i + 1], s2 += a[i + 2] * b[i + 2], s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

float lh_sq8_l2sq_scalar(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim)
{
    float s = 0;
    for (size_t i = 0; i < dim; i++) {
        float d = q[i] - (lo[i] + (float)code[i] * step[i]);
        s += d * d;
    }
    return s;
}

float lh_sq8_dot_scalar(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim)
{
    float s = 0;
    for (size_t i = 0; i < dim; i++) s += q[i] * (lo[i] + (float)code[i] * step[i]);
    return s;
}

/* ---- AVX2 + FMA ---- */

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < dim; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= dim; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < dim; i++) s += a[i] * b[i];
    return s;
}

/* code bytes to floats: 8 at a time */
__attribute__((target("avx2,fma"))) static inline __m256 dequant8(const uint8_t *code, const float *lo,
                                                                   const float *step)
{
    __m128i c = _mm_loadl_epi64((const __m128i *)code);
    __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
    return _mm256_fmadd_ps(f, _mm256_loadu_ps(step), _mm256_loadu_ps(lo));
}

__attribute__((target("avx2,fma"))) static float sq8_l2sq_avx2(const float *q, const uint8_t *code, const float *lo,
                                                                 const float *step, size_t dim)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(q + i), dequant8(code + i, lo + i, step + i));
        s = _mm256_fmadd_ps(d, d, s);
    }
    float r = hsum256(s);
    for (; i < dim; i++) {
        float d = q[i] - (lo[i] + (float)code[i] * step[i]);
        r += d * d;
    }
    return r;
}

__attribute__((target("avx2,fma"))) static float sq8_dot_avx2(const float *q, const uint8_t *code, const float *lo,
                                                                const float *step, size_t dim)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), dequant8(code + i, lo + i, step + i), s);
    float r = hsum256(s);
    for (; i < dim; i++) r += q[i] * (lo[i] + (float)code[i] * step[i]);
    return r;
}

/* ---- AVX-512 ---- */

__attribute__((target("avx512f"))) static float l2sq_avx512(const float *a, const float *b, size_t dim)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < dim) { /* masked tail */
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, size_t dim)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= dim; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __m512 dequant16(const uint8_t *code, const float *lo,
                                                                  const float *step, __mmask16 m)
{
    __m128i c = _mm_maskz_loadu_epi8(m, code);
    __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c));
    return _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, step), _mm512_maskz_loadu_ps(m, lo));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static float sq8_l2sq_avx512(const float *q, const uint8_t *code,
                                                                                    const float *lo, const float *step,
                                                                                    size_t dim)
{
    __m512 s = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (dim - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), dequant16(code + i, lo + i, step + i, m));
        s = _mm512_fmadd_ps(d, d, s);
    }
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static float sq8_dot_avx512(const float *q, const uint8_t *code,
                                                                                   const float *lo, const float *step,
                                                                                   size_t dim)
{
    __m512 s = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (dim - i)) - 1);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), dequant16(code + i, lo + i, step + i, m), s);
    }
    return _mm512_reduce_add_ps(s);
}

/* ---- dispatch ---- */

struct kernels {
    const char *isa;
    lh_dist_fn l2sq, dot;
    float (*sq8_l2sq)(const float *, const uint8_t *, const float *, const float *, size_t);
    float (*sq8_dot)(const float *, const uint8_t *, const float *, const float *, size_t);
};

static const struct kernels scalar = {"scalar", lh_l2sq_scalar, lh_dot_scalar, lh_sq8_l2sq_scalar, lh_sq8_dot_scalar};
static const struct kernels avx2 = {"avx2", l2sq_avx2, dot_avx2, sq8_l2sq_avx2, sq8_dot_avx2};
static const struct kernels avx512 = {"avx512", l2sq_avx512, dot_avx512, sq8_l2sq_avx512, sq8_dot_avx512};

static const struct kernels *active = &scalar;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool has(const char *isa)
{
    __builtin_cpu_init();
    if (!strcmp(isa, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
    if (!strcmp(isa, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return !strcmp(isa, "scalar");
}

static void pick(void)
{
    active = has("avx512") ? &avx512 : has("avx2") ? &avx2 : &scalar;
}

static const struct kernels *k(void)
{
    pthread_once(&once, pick);
    return active;
}

const char *lh_distance_isa(void)
{
    return k()->isa;
}

int lh_distance_force(const char *isa)
{
    k();
    if (!has(isa)) return 0;
    active = !strcmp(isa, "avx512") ? &avx512 : !strcmp(isa, "avx2") ? &avx2 : &scalar;
    return 1;
}

float lh_l2sq(const float *a, const float *b, size_t dim)
{
    return k()->l2sq(a, b, dim);
}

float lh_dot(const float *a, const float *b, size_t dim)
{
    return k()->dot(a, b, dim);
}

float lh_sq8_l2sq(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim)
{
    return k()->sq8_l2sq(q, code, lo, step, dim);
}

float lh_sq8_dot(const float *q, const uint8_t *code, const float *lo, const float *step, size_t dim)
{
    return k()->sq8_dot(q, code, lo, step, dim);
}

static float one_minus_dot(const float *a, const float *b, size_t dim)
{
    return 1.0f - k()->dot(a, b, dim);
}

static float one_minus_dot_avx512(const float *a, const float *b, size_t dim)
{
    return 1.0f - dot_avx512(a, b, dim);
}

static float one_minus_dot_avx2(const float *a, const float *b, size_t dim)
{
    return 1.0f - dot_avx2(a, b, dim);
}

lh_dist_fn lh_distance_for(lh_metric m)
{
    const struct kernels *kk = k();
    if (m == LH_METRIC_L2) return kk->l2sq;
    if (kk == &avx512) return one_minus_dot_avx512;
    if (kk == &avx2) return one_minus_dot_avx2;
    return one_minus_dot;
}

void lh_normalize(float *v, size_t dim)
{
    float n = sqrtf(lh_dot(v, v, dim));
    if (n > 0) {
        float inv = 1.0f / n;
        for (size_t i = 0; i < dim; i++) v[i] *= inv;
    }
}

const char *lh_metric_name(lh_metric m)
{
    return m == LH_METRIC_COSINE ? "cosine" : m == LH_METRIC_IP ? "ip" : "l2";
}

int lh_metric_parse(const char *s, lh_metric *out)
{
    static const lh_metric all[] = {LH_METRIC_L2, LH_METRIC_COSINE, LH_METRIC_IP};
    for (size_t i = 0; s && i < sizeof all / sizeof *all; i++)
        if (strcmp(s, lh_metric_name(all[i])) == 0) {
            *out = all[i];
            return 1;
        }
    return 0;
}
