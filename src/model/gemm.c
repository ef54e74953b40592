/*
 * gemm.c — the one matrix kernel of the forward pass, C = A.B + bias, with
 * B (the weights) stored in column panels of 32 so a panel is read
 * contiguously. Scalar, AVX2+FMA and AVX-512 versions, chosen at run time as
 * src/vector/distance.c does; the SIMD ones are compiled with target
 * attributes so the rest of the binary stays portable.
 *
 * Every version computes each C element as one running sum over k in
 * ascending order, so a row's result does not depend on which rows share
 * its block: a text's vector is the same whatever it is batched with.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define P MODEL_PANEL

static inline void finish(float *c, const float *acc, const float *bias, bool accumulate, bool relu)
{
    for (int j = 0; j < (int)P; j++) {
        float v = acc[j] + (bias ? bias[j] : 0.0f);
        if (accumulate) v += c[j];
        c[j] = relu && v < 0 ? 0 : v;
    }
}

/* ---- scalar ---- */

static void gemm_scalar(const float *A, size_t lda, size_t M, size_t K, const float *B, size_t N,
                        const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    for (size_t p = 0; p < N / P; p++) {
        const float *panel = B + p * K * P;
        for (size_t i = 0; i < M; i++) {
            float acc[P];
            memset(acc, 0, sizeof acc);
            const float *a = A + i * lda;
            for (size_t k = 0; k < K; k++) {
                float x = a[k];
                const float *b = panel + k * P;
                for (int j = 0; j < (int)P; j++) acc[j] += x * b[j];
            }
            finish(C + i * ldc + p * P, acc, bias ? bias + p * P : NULL, accumulate, relu);
        }
    }
}

/* The SIMD versions run MR rows at a time with the accumulators in
 * registers; the last rows of a block are copied into a zero-padded block of
 * MR rows so the same kernel (and the same order of sums) handles them. */
#define BLOCK_ROWS 64 /* rows whose A stays in L2 while the panels stream by */

/* ---- AVX2 + FMA: 3 rows x 32 columns, 12 accumulators ---- */

#define AVX2_MR 3

__attribute__((target("avx2,fma"))) static void kernel_avx2(const float *A, size_t lda, size_t K,
                                                            const float *panel, float *out)
{
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 b2 = _mm256_loadu_ps(b + 16), b3 = _mm256_loadu_ps(b + 24);
        __m256 x = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
        c02 = _mm256_fmadd_ps(x, b2, c02), c03 = _mm256_fmadd_ps(x, b3, c03);
        x = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
        c12 = _mm256_fmadd_ps(x, b2, c12), c13 = _mm256_fmadd_ps(x, b3, c13);
        x = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
        c22 = _mm256_fmadd_ps(x, b2, c22), c23 = _mm256_fmadd_ps(x, b3, c23);
    }
    _mm256_storeu_ps(out, c00), _mm256_storeu_ps(out + 8, c01);
    _mm256_storeu_ps(out + 16, c02), _mm256_storeu_ps(out + 24, c03);
    _mm256_storeu_ps(out + 32, c10), _mm256_storeu_ps(out + 40, c11);
    _mm256_storeu_ps(out + 48, c12), _mm256_storeu_ps(out + 56, c13);
    _mm256_storeu_ps(out + 64, c20), _mm256_storeu_ps(out + 72, c21);
    _mm256_storeu_ps(out + 80, c22), _mm256_storeu_ps(out + 88, c23);
}

/* ---- AVX-512: 8 rows x 32 columns, 16 accumulators ---- */

#define AVX512_MR 8

__attribute__((target("avx512f"))) static void kernel_avx512(const float *A, size_t lda, size_t K,
                                                             const float *panel, float *out)
{
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda, *a3 = A + 3 * lda;
    const float *a4 = A + 4 * lda, *a5 = A + 5 * lda, *a6 = A + 6 * lda, *a7 = A + 7 * lda;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define ROW(r)                                                                                    \
    do {                                                                                          \
        __m512 x = _mm512_set1_ps(a##r[k]);                                                       \
        c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);                                                \
        c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);                                                \
    } while (0)
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);
#undef ROW
    }
    _mm512_storeu_ps(out + 0 * P, c00), _mm512_storeu_ps(out + 0 * P + 16, c01);
    _mm512_storeu_ps(out + 1 * P, c10), _mm512_storeu_ps(out + 1 * P + 16, c11);
    _mm512_storeu_ps(out + 2 * P, c20), _mm512_storeu_ps(out + 2 * P + 16, c21);
    _mm512_storeu_ps(out + 3 * P, c30), _mm512_storeu_ps(out + 3 * P + 16, c31);
    _mm512_storeu_ps(out + 4 * P, c40), _mm512_storeu_ps(out + 4 * P + 16, c41);
    _mm512_storeu_ps(out + 5 * P, c50), _mm512_storeu_ps(out + 5 * P + 16, c51);
    _mm512_storeu_ps(out + 6 * P, c60), _mm512_storeu_ps(out + 6 * P + 16, c61);
    _mm512_storeu_ps(out + 7 * P, c70), _mm512_storeu_ps(out + 7 * P + 16, c71);
}

typedef void (*kernel_fn)(const float *A, size_t lda, size_t K, const float *panel, float *out);

/* Blocks of rows, panels, then MR rows at a time; a short last group goes
 * through a zero-padded copy. pad: MR x K floats. */
static void gemm_blocked(kernel_fn kernel, size_t mr, float *pad, const float *A, size_t lda, size_t M, size_t K,
                         const float *B, size_t N, const float *bias, float *C, size_t ldc, bool accumulate,
                         bool relu)
{
    float out[AVX512_MR * P];
    for (size_t i0 = 0; i0 < M; i0 += BLOCK_ROWS) {
        size_t i1 = i0 + BLOCK_ROWS < M ? i0 + BLOCK_ROWS : M;
        size_t full = i0 + (i1 - i0) / mr * mr;
        if (full < i1) {
            memset(pad, 0, mr * K * sizeof *pad);
            for (size_t r = full; r < i1; r++) memcpy(pad + (r - full) * K, A + r * lda, K * sizeof *pad);
        }
        for (size_t p = 0; p < N / P; p++) {
            const float *panel = B + p * K * P;
            const float *pb = bias ? bias + p * P : NULL;
            for (size_t i = i0; i < i1; i += mr) {
                size_t rows = i1 - i < mr ? i1 - i : mr;
                if (rows == mr) kernel(A + i * lda, lda, K, panel, out);
                else kernel(pad, K, K, panel, out);
                for (size_t r = 0; r < rows; r++) finish(C + (i + r) * ldc + p * P, out + r * P, pb, accumulate, relu);
            }
        }
    }
}

static void gemm_avx2(const float *A, size_t lda, size_t M, size_t K, const float *B, size_t N,
                      const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    float *pad = lh_xmalloc(AVX2_MR * K * sizeof *pad);
    gemm_blocked(kernel_avx2, AVX2_MR, pad, A, lda, M, K, B, N, bias, C, ldc, accumulate, relu);
    free(pad);
}

static void gemm_avx512(const float *A, size_t lda, size_t M, size_t K, const float *B, size_t N,
                        const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    float *pad = lh_xmalloc(AVX512_MR * K * sizeof *pad);
    gemm_blocked(kernel_avx512, AVX512_MR, pad, A, lda, M, K, B, N, bias, C, ldc, accumulate, relu);
    free(pad);
}

/* ---- dispatch ---- */

typedef void (*gemm_fn)(const float *, size_t, size_t, size_t, const float *, size_t, const float *, float *,
                        size_t, bool, bool);

static const struct {
    const char *name;
    gemm_fn fn;
} kernels[] = {{"scalar", gemm_scalar}, {"avx2", gemm_avx2}, {"avx512", gemm_avx512}};

static _Atomic int chosen = -1;

static bool supported(int k)
{
    if (k == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == 2) return __builtin_cpu_supports("avx512f");
    return true;
}

static int current(void)
{
    int k = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (k >= 0) return k;
    k = supported(2) ? 2 : supported(1) ? 1 : 0;
    atomic_store_explicit(&chosen, k, memory_order_relaxed);
    return k;
}

void model_gemm(const float *A, size_t lda, size_t M, size_t K, const float *B, size_t N, const float *bias,
                float *C, size_t ldc, bool accumulate, bool relu)
{
    if (M == 0) return;
    kernels[current()].fn(A, lda, M, K, B, N, bias, C, ldc, accumulate, relu);
}

const char *lh_model_kernel(void)
{
    return kernels[current()].name;
}

bool lh_model_use_kernel(const char *name)
{
    for (int k = 0; k < (int)(sizeof kernels / sizeof kernels[0]); k++)
        if (!strcmp(kernels[k].name, name)) {
            if (!supported(k)) return false;
            atomic_store_explicit(&chosen, k, memory_order_relaxed);
            return true;
        }
    return false;
}
