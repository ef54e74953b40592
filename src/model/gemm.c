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

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
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

static void gemm_scalar(const float *A, size_t M, size_t K, const float *B, size_t N,
                        const float *bias, float *C, bool accumulate, bool relu)
{
    for (size_t p = 0; p < N / P; p++) {
        const float *panel = B + p * K * P;
        for (size_t i = 0; i < M; i++) {
            float acc[P];
            memset(acc, 0, sizeof acc);
            const float *a = A + i * K;
            for (size_t k = 0; k < K; k++) {
                float x = a[k];
                const float *b = panel + k * P;
                for (int j = 0; j < (int)P; j++) acc[j] += x * b[j];
            }
            finish(C + i * N + p * P, acc, bias ? bias + p * P : NULL, accumulate, relu);
        }
    }
}

/* ---- AVX2 + FMA: 3 rows x 32 columns, 12 accumulators ---- */

#define AVX2_MR 3

__attribute__((target("avx2,fma"), always_inline)) static inline void
kernel_avx2(const float *A, size_t K, const float *panel, size_t rows, float *out /* rows x 32 */)
{
    __m256 acc[AVX2_MR][4];
    for (int r = 0; r < AVX2_MR; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 b2 = _mm256_loadu_ps(b + 16), b3 = _mm256_loadu_ps(b + 24);
        for (int r = 0; r < AVX2_MR; r++) {
            if ((size_t)r >= rows) break;
            __m256 a = _mm256_broadcast_ss(A + r * K + k);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm256_fmadd_ps(a, b3, acc[r][3]);
        }
    }
    for (int r = 0; r < AVX2_MR && (size_t)r < rows; r++)
        for (int q = 0; q < 4; q++) _mm256_storeu_ps(out + r * P + q * 8, acc[r][q]);
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(const float *A, size_t M, size_t K,
                                                          const float *B, size_t N, const float *bias,
                                                          float *C, bool accumulate, bool relu)
{
    float out[AVX2_MR * P];
    const size_t chunk = 48; /* rows whose A stays in L2 while the panels stream by */
    for (size_t i0 = 0; i0 < M; i0 += chunk) {
        size_t i1 = i0 + chunk < M ? i0 + chunk : M;
        for (size_t p = 0; p < N / P; p++) {
            const float *panel = B + p * K * P;
            for (size_t i = i0; i < i1; i += AVX2_MR) {
                size_t rows = i1 - i < AVX2_MR ? i1 - i : AVX2_MR;
                if (rows == AVX2_MR) kernel_avx2(A + i * K, K, panel, AVX2_MR, out);
                else if (rows == 2) kernel_avx2(A + i * K, K, panel, 2, out);
                else kernel_avx2(A + i * K, K, panel, 1, out);
                for (size_t r = 0; r < rows; r++)
                    finish(C + (i + r) * N + p * P, out + r * P, bias ? bias + p * P : NULL, accumulate, relu);
            }
        }
    }
}

/* ---- AVX-512: 8 rows x 32 columns, 16 accumulators ---- */

#define AVX512_MR 8

__attribute__((target("avx512f"), always_inline)) static inline void
kernel_avx512(const float *A, size_t K, const float *panel, size_t rows, float *out)
{
    __m512 acc[AVX512_MR][2];
    for (int r = 0; r < AVX512_MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        for (int r = 0; r < AVX512_MR; r++) {
            if ((size_t)r >= rows) break;
            __m512 a = _mm512_set1_ps(A[r * K + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < AVX512_MR && (size_t)r < rows; r++) {
        _mm512_storeu_ps(out + r * P, acc[r][0]);
        _mm512_storeu_ps(out + r * P + 16, acc[r][1]);
    }
}

__attribute__((target("avx512f"))) static void gemm_avx512(const float *A, size_t M, size_t K,
                                                           const float *B, size_t N, const float *bias,
                                                           float *C, bool accumulate, bool relu)
{
    float out[AVX512_MR * P];
    const size_t chunk = 64;
    for (size_t i0 = 0; i0 < M; i0 += chunk) {
        size_t i1 = i0 + chunk < M ? i0 + chunk : M;
        for (size_t p = 0; p < N / P; p++) {
            const float *panel = B + p * K * P;
            for (size_t i = i0; i < i1; i += AVX512_MR) {
                size_t rows = i1 - i < AVX512_MR ? i1 - i : AVX512_MR;
                switch (rows) {
                case 8: kernel_avx512(A + i * K, K, panel, 8, out); break;
                case 7: kernel_avx512(A + i * K, K, panel, 7, out); break;
                case 6: kernel_avx512(A + i * K, K, panel, 6, out); break;
                case 5: kernel_avx512(A + i * K, K, panel, 5, out); break;
                case 4: kernel_avx512(A + i * K, K, panel, 4, out); break;
                case 3: kernel_avx512(A + i * K, K, panel, 3, out); break;
                case 2: kernel_avx512(A + i * K, K, panel, 2, out); break;
                default: kernel_avx512(A + i * K, K, panel, 1, out); break;
                }
                for (size_t r = 0; r < rows; r++)
                    finish(C + (i + r) * N + p * P, out + r * P, bias ? bias + p * P : NULL, accumulate, relu);
            }
        }
    }
}

/* ---- dispatch ---- */

typedef void (*gemm_fn)(const float *, size_t, size_t, const float *, size_t, const float *, float *,
                        bool, bool);

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

void model_gemm(const float *A, size_t M, size_t K, const float *B, size_t N, const float *bias,
                float *C, bool accumulate, bool relu)
{
    kernels[current()].fn(A, M, K, B, N, bias, C, accumulate, relu);
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
