/*
 * gemm.c — the one matrix kernel of the forward pass, C = A.B + bias, with
 * B (the weights) stored in column panels of 32 so a panel is read
 * contiguously. Scalar, AVX2+FMA and AVX-512 versions in float, and
 * bfloat16 ones (AVX-512 widening bfloat16 weights, AVX512-BF16, AMX),
 * chosen at run time as src/vector/distance.c does; the SIMD ones are
 * compiled with target attributes so the rest of the binary stays portable.
 *
 * Every version computes each C element as one running sum over k in
 * ascending order, so a row's result does not depend on which rows share
 * its block: a text's vector is the same whatever it is batched with.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define P MODEL_PANEL

/* A thread's packing buffer, kept for its next product and freed when the
 * thread ends: a query's products would otherwise map and fault in fresh
 * pages every time (glibc maps blocks this size). At most ~1 MB a thread. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

struct scratch {
    size_t cap;
    max_align_t data[];
};

static void scratch_key_make(void)
{
    pthread_key_create(&scratch_key, free);
}

static void *scratch(size_t bytes)
{
    pthread_once(&scratch_once, scratch_key_make);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s || s->cap < bytes) {
        free(s);
        s = lh_xmalloc(sizeof *s + bytes + 64);
        s->cap = bytes;
        pthread_setspecific(scratch_key, s);
    }
    return (void *)(((uintptr_t)s->data + 63) & ~(uintptr_t)63); /* 64-byte aligned */
}

static inline void finish(float *c, const float *acc, const float *bias, bool accumulate, bool relu)
{
    for (int j = 0; j < (int)P; j++) {
        float v = acc[j] + (bias ? bias[j] : 0.0f);
        if (accumulate) v += c[j];
        c[j] = relu && v < 0 ? 0 : v;
    }
}

/* ---- scalar ---- */

static void gemm_scalar(const float *A, size_t lda, size_t M, size_t K, const float *B,
                        const uint16_t *Bh, size_t N, const float *bias, float *C, size_t ldc,
                        bool accumulate, bool relu)
{
    (void)Bh;
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
 * registers, over A packed so the MR values of one k are adjacent; the last
 * rows of a block are padded with zero rows, so the same kernel (and the
 * same order of sums) handles them. */
/* Rows of A packed at a time: as many as fit PACK_BYTES (most of L2), so
 * each weight panel is read from memory as few times as a batch allows. */
#define PACK_BYTES (1u << 20)
static size_t block_rows(size_t K)
{
    size_t rows = PACK_BYTES / (K * sizeof(float));
    rows = rows / 12 * 12; /* whole groups of both SIMD kernels' rows (12 and 3) */
    return rows < 12 ? 12 : rows;
}
#define BLOCK_ROWS block_rows(K)

/* ---- AVX2 + FMA: 3 rows x 32 columns, 12 accumulators ---- */

#define AVX2_MR 3

__attribute__((target("avx2,fma"), always_inline)) static inline void
epilogue_avx2(float *c, __m256 v0, __m256 v1, __m256 v2, __m256 v3, const float *bias,
              bool accumulate, bool relu)
{
    __m256 v[4] = {v0, v1, v2, v3};
    for (int q = 0; q < 4; q++) {
        if (bias) v[q] = _mm256_add_ps(v[q], _mm256_loadu_ps(bias + 8 * q));
        if (accumulate) v[q] = _mm256_add_ps(v[q], _mm256_loadu_ps(c + 8 * q));
        if (relu) v[q] = _mm256_max_ps(v[q], _mm256_setzero_ps());
        _mm256_storeu_ps(c + 8 * q, v[q]);
    }
}

__attribute__((target("avx2,fma"))) static void
kernel_avx2(const float *Ap, size_t K, const void *panel_, float *C, size_t ldc, size_t rows,
            const float *bias, bool accumulate, bool relu)
{
    const float *panel = panel_;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 b2 = _mm256_loadu_ps(b + 16), b3 = _mm256_loadu_ps(b + 24);
        const float *a = Ap + k * AVX2_MR;
        __m256 x = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
        c02 = _mm256_fmadd_ps(x, b2, c02), c03 = _mm256_fmadd_ps(x, b3, c03);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
        c12 = _mm256_fmadd_ps(x, b2, c12), c13 = _mm256_fmadd_ps(x, b3, c13);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
        c22 = _mm256_fmadd_ps(x, b2, c22), c23 = _mm256_fmadd_ps(x, b3, c23);
    }
    epilogue_avx2(C, c00, c01, c02, c03, bias, accumulate, relu);
    if (rows > 1) epilogue_avx2(C + ldc, c10, c11, c12, c13, bias, accumulate, relu);
    if (rows > 2) epilogue_avx2(C + 2 * ldc, c20, c21, c22, c23, bias, accumulate, relu);
}

/* ---- AVX-512: 12 rows x 32 columns, 24 accumulators ---- */

#define AVX512_MR 12
/* How far ahead in the panel to prefetch: a single query reads each weight
 * once, from memory, and the hardware prefetcher alone falls behind. */
#define PREFETCH_FLOATS (16 * P)

/* One row of the result: (acc + bias) + C if accumulating, ReLU if asked. */
__attribute__((target("avx512f"), always_inline)) static inline void
epilogue_avx512(float *c, __m512 v0, __m512 v1, const float *bias, bool accumulate, bool relu)
{
    if (bias)
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(bias)),
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(bias + 16));
    if (accumulate)
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(c)), v1 = _mm512_add_ps(v1, _mm512_loadu_ps(c + 16));
    if (relu)
        v0 = _mm512_max_ps(v0, _mm512_setzero_ps()), v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
    _mm512_storeu_ps(c, v0);
    _mm512_storeu_ps(c + 16, v1);
}

__attribute__((target("avx512f"))) static void
kernel_avx512(const float *Ap, size_t K, const void *panel_, float *C, size_t ldc, size_t rows,
              const float *bias, bool accumulate, bool relu)
{
    const float *panel = panel_;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
    __m512 c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
    for (size_t k = 0; k < K; k++) {
        const float *b = panel + k * P;
        const float *a = Ap + k * AVX512_MR;
        _mm_prefetch((const char *)(b + PREFETCH_FLOATS), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_FLOATS + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define ROW(r)                                                                                     \
    do {                                                                                           \
        __m512 x = _mm512_set1_ps(a[r]);                                                           \
        c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);                                                 \
        c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);                                                 \
    } while (0)
        ROW(0);
        ROW(1);
        ROW(2);
        ROW(3);
        ROW(4);
        ROW(5);
        ROW(6);
        ROW(7);
        ROW(8);
        ROW(9);
        ROW(10);
        ROW(11);
#undef ROW
    }
#define STORE(r)                                                                                   \
    if (r < rows) epilogue_avx512(C + r * ldc, c##r##0, c##r##1, bias, accumulate, relu)
    STORE(0);
    STORE(1);
    STORE(2);
    STORE(3);
    STORE(4);
    STORE(5);
    STORE(6);
    STORE(7);
    STORE(8);
    STORE(9);
    STORE(10);
    STORE(11);
#undef STORE
}

/* The same with the weights in bfloat16: half the bytes to read; each value
 * widens to float exactly, products and sums stay float. */
__attribute__((target("avx512f"))) static void
kernel_avx512_bf16w(const float *Ap, size_t K, const void *panel_, float *C, size_t ldc,
                    size_t rows, const float *bias, bool accumulate, bool relu)
{
    const uint16_t *panel = panel_;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
    __m512 c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
    for (size_t k = 0; k < K; k++) {
        const uint16_t *b = panel + k * P;
        const float *a = Ap + k * AVX512_MR;
        _mm_prefetch((const char *)(b + PREFETCH_FLOATS), _MM_HINT_T0);
        __m512 b0 = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)b)), 16));
        __m512 b1 = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(b + 16))),
            16));
#define ROW(r)                                                                                     \
    do {                                                                                           \
        __m512 x = _mm512_set1_ps(a[r]);                                                           \
        c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);                                                 \
        c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);                                                 \
    } while (0)
        ROW(0);
        ROW(1);
        ROW(2);
        ROW(3);
        ROW(4);
        ROW(5);
        ROW(6);
        ROW(7);
        ROW(8);
        ROW(9);
        ROW(10);
        ROW(11);
#undef ROW
    }
#define STORE(r)                                                                                   \
    if (r < rows) epilogue_avx512(C + r * ldc, c##r##0, c##r##1, bias, accumulate, relu)
    STORE(0);
    STORE(1);
    STORE(2);
    STORE(3);
    STORE(4);
    STORE(5);
    STORE(6);
    STORE(7);
    STORE(8);
    STORE(9);
    STORE(10);
    STORE(11);
#undef STORE
}

typedef void (*kernel_fn)(const float *Ap, size_t K, const void *panel, float *C, size_t ldc,
                          size_t rows, const float *bias, bool accumulate, bool relu);

/* Blocks of rows; each block's A is packed into groups of MR rows stored
 * k-major (the MR values of one k side by side, zeros past the last row),
 * then every panel of B runs over every group. pack: min(M, BLOCK_ROWS) + MR rows of K. */
static void gemm_blocked(kernel_fn kernel, size_t mr, float *pack, const float *A, size_t lda,
                         size_t M, size_t K, const void *B, size_t elem, size_t N,
                         const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    for (size_t i0 = 0; i0 < M; i0 += BLOCK_ROWS) {
        size_t i1 = i0 + BLOCK_ROWS < M ? i0 + BLOCK_ROWS : M;
        size_t groups = (i1 - i0 + mr - 1) / mr;
        for (size_t g = 0; g < groups; g++) {
            float *dst = pack + g * mr * K;
            for (size_t r = 0; r < mr; r++) {
                size_t i = i0 + g * mr + r;
                if (i < i1) {
                    const float *src = A + i * lda;
                    for (size_t k = 0; k < K; k++) dst[k * mr + r] = src[k];
                } else
                    for (size_t k = 0; k < K; k++) dst[k * mr + r] = 0;
            }
        }
        for (size_t p = 0; p < N / P; p++) {
            const void *panel = (const char *)B + p * K * P * elem;
            const float *pb = bias ? bias + p * P : NULL;
            for (size_t g = 0; g < groups; g++) {
                size_t i = i0 + g * mr, rows = i1 - i < mr ? i1 - i : mr;
                kernel(pack + g * mr * K, K, panel, C + i * ldc + p * P, ldc, rows, pb, accumulate,
                       relu);
            }
        }
    }
}

static void gemm_avx2(const float *A, size_t lda, size_t M, size_t K, const float *B,
                      const uint16_t *Bh, size_t N, const float *bias, float *C, size_t ldc,
                      bool accumulate, bool relu)
{
    (void)Bh;
    float *pack = scratch(((M < BLOCK_ROWS ? M : BLOCK_ROWS) + AVX2_MR) * K * sizeof *pack);
    gemm_blocked(kernel_avx2, AVX2_MR, pack, A, lda, M, K, B, sizeof *B, N, bias, C, ldc,
                 accumulate, relu);
}

static void gemm_avx512(const float *A, size_t lda, size_t M, size_t K, const float *B,
                        const uint16_t *Bh, size_t N, const float *bias, float *C, size_t ldc,
                        bool accumulate, bool relu)
{
    (void)Bh;
    float *pack = scratch(((M < BLOCK_ROWS ? M : BLOCK_ROWS) + AVX512_MR) * K * sizeof *pack);
    gemm_blocked(kernel_avx512, AVX512_MR, pack, A, lda, M, K, B, sizeof *B, N, bias, C, ldc,
                 accumulate, relu);
}

/* bfloat16 weights where the matrix has them (the model's, when it was
 * opened with this kernel chosen); float otherwise (attention). */
static void gemm_avx512_bf16w(const float *A, size_t lda, size_t M, size_t K, const float *B,
                              const uint16_t *Bh, size_t N, const float *bias, float *C, size_t ldc,
                              bool accumulate, bool relu)
{
    float *pack = scratch(((M < BLOCK_ROWS ? M : BLOCK_ROWS) + AVX512_MR) * K * sizeof *pack);
    if (Bh)
        gemm_blocked(kernel_avx512_bf16w, AVX512_MR, pack, A, lda, M, K, Bh, sizeof *Bh, N, bias, C,
                     ldc, accumulate, relu);
    else
        gemm_blocked(kernel_avx512, AVX512_MR, pack, A, lda, M, K, B, sizeof *B, N, bias, C, ldc,
                     accumulate, relu);
}

/* ---- AMX: bfloat16 tiles, float sums ----
 *
 * Sapphire Rapids and later multiply 16x32 by 32x16 bfloat16 tiles into a
 * 16x16 float tile in one instruction. The weights are copied at open into
 * tile order (internal.h); A is rounded to bfloat16 (to nearest even) 16
 * rows a tile, zero rows past M. Each C element is still one sum over k in
 * ascending pairs, independent of the other rows.
 *
 * Tiles are not renamed: a load into a tile waits for the last instruction
 * reading it, so everything in flight has a tile of its own. Two shapes:
 * - few rows (a query): bound by reading the weights from L3 (~10 MB; one
 *   core reads ~20 GB/s there). Each 64 columns of B are read once, in
 *   storage order, one stream the prefetcher follows, by every 32 rows of A
 *   in turn (from L2 after the first): 2 A tiles x 2 B tiles over each half
 *   of the 64 columns, a last 16 rows 1 A tile x 4 B tiles (the B tiles
 *   rotating over 3 registers so the next load starts while a product runs).
 *   A single block or pair has its A and C tiles cut to its rows.
 * - many rows (documents): 32 rows at a time over all of B (it fits L2):
 *   2 A tiles x 2 B tiles into 4 sums, each loaded tile used twice. */

#define AMX_FEW 64 /* rows up to which a product reads B once */

struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* rows x K floats (lda apart) to bfloat16 tiles: each 16 rows by 32 k a
 * contiguous 1 KB tile, the tiles of 16 rows in k order; zero rows up to
 * padded (a multiple of 16). */
__attribute__((target("avx512f,avx512bf16"))) static void amx_round_a(uint16_t *dst, const float *A,
                                                                      size_t lda, size_t rows, size_t K,
                                                                      size_t padded)
{
    const size_t steps = K / 32;
    for (size_t r = 0; r < padded; r++)
        for (size_t j = 0; j < steps; j++) {
            uint16_t *d = dst + ((r / 16 * steps + j) * 16 + r % 16) * 32;
            if (r >= rows) {
                memset(d, 0, 64);
                continue;
            }
            const float *s = A + r * lda + j * 32;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + 16), _mm512_loadu_ps(s));
            _mm512_storeu_si512(d, (__m512i)v);
        }
}

/* out (rows x cols floats, cols apart) through the epilogue into C. */
__attribute__((target("avx512f"))) static void amx_finish(float *C, size_t ldc, const float *out, size_t rows,
                                                          size_t cols, const float *bias, bool accumulate,
                                                          bool relu)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t q = 0; q < cols; q += 32)
            epilogue_avx512(C + r * ldc + q, _mm512_loadu_ps(out + r * cols + q),
                            _mm512_loadu_ps(out + r * cols + q + 16), bias ? bias + q : NULL, accumulate,
                            relu);
}

/* 16 rows of A (tiles a + j * 512) by 64 columns of B (4 tiles at
 * b + j * 2048) over k steps, into out (16 x 64 floats). */
__attribute__((target("amx-tile,amx-bf16"))) static void amx_1x4(const uint16_t *a, const uint16_t *b,
                                                                 size_t steps, float *out)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t j = 0; j < steps; j++, a += 512, b += 4 * 512) {
        _tile_loadd(4, a, 64);
        _tile_loadd(5, b, 64);
        _tile_dpbf16ps(0, 4, 5);
        _tile_loadd(6, b + 512, 64);
        _tile_dpbf16ps(1, 4, 6);
        _tile_loadd(7, b + 1024, 64);
        _tile_dpbf16ps(2, 4, 7);
        _tile_loadd(5, b + 1536, 64);
        _tile_dpbf16ps(3, 4, 5);
    }
    _tile_stored(0, out, 64 * sizeof *out);
    _tile_stored(1, out + 16, 64 * sizeof *out);
    _tile_stored(2, out + 32, 64 * sizeof *out);
    _tile_stored(3, out + 48, 64 * sizeof *out);
}

/* 32 rows of A (tiles a and a1, + j * 512) by 32 columns of B (2 tiles at
 * b + j * 2048) over k steps, into out (32 x 32 floats). */
__attribute__((target("amx-tile,amx-bf16"))) static void amx_2x2(const uint16_t *a, const uint16_t *a1,
                                                                 const uint16_t *b, size_t steps, float *out)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t j = 0; j < steps; j++, a += 512, a1 += 512, b += 4 * 512) {
        _tile_loadd(4, a, 64);
        _tile_loadd(6, b, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, b + 512, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(5, a1, 64);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 32 * sizeof *out);
    _tile_stored(1, out + 16, 32 * sizeof *out);
    _tile_stored(2, out + 16 * 32, 32 * sizeof *out);
    _tile_stored(3, out + 16 * 32 + 16, 32 * sizeof *out);
}

/* Few rows: a (M rounded, padded to 16s) times B, 64 columns at a time,
 * read once: 32 rows at a time by 2x2 over each half, the last 16 by 1x4. */
__attribute__((target("amx-tile,amx-bf16,avx512f"))) static void
amx_few(const uint16_t *a, size_t M, size_t K, const uint16_t *Bh, size_t N, const float *bias, float *C,
        size_t ldc, bool accumulate, bool relu)
{
    float out[32 * 32];
    const size_t steps = K / 32;
    for (size_t n0 = 0; n0 < N; n0 += 64) {
        const uint16_t *group = Bh + n0 / 64 * steps * 4 * 512; /* 64 columns: steps x 4 tiles */
        for (size_t i0 = 0; i0 < M; i0 += 32) {
            const uint16_t *ai = a + i0 * K;
            size_t rows = M - i0 < 32 ? M - i0 : 32;
            if (rows <= 16) {
                amx_1x4(ai, group, steps, out);
                amx_finish(C + i0 * ldc + n0, ldc, out, rows, 64, bias ? bias + n0 : NULL, accumulate, relu);
                continue;
            }
            for (size_t half = 0; half < 2; half++) {
                amx_2x2(ai, ai + 16 * K, group + half * 1024, steps, out);
                size_t c0 = n0 + 32 * half;
                amx_finish(C + i0 * ldc + c0, ldc, out, rows, 32, bias ? bias + c0 : NULL, accumulate, relu);
            }
        }
    }
}

/* Many rows: 32 rounded rows of a (padded to 16s) times all of B, 32 columns at a time. */
__attribute__((target("amx-tile,amx-bf16,avx512f"))) static void
amx_many(const uint16_t *a, size_t rows, size_t K, const uint16_t *Bh, size_t N, const float *bias, float *C,
         size_t ldc, bool accumulate, bool relu)
{
    float out[32 * 32];
    const size_t steps = K / 32;
    for (size_t n0 = 0; n0 < N; n0 += 32) {
        amx_2x2(a, a + 16 * K, Bh + (n0 / 64 * steps * 4 + n0 % 64 / 16) * 512, steps, out);
        amx_finish(C + n0, ldc, out, rows, 32, bias ? bias + n0 : NULL, accumulate, relu);
    }
}

__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bf16"))) static void
gemm_amx(const float *A, size_t lda, size_t M, size_t K, const float *B, const uint16_t *Bh,
         size_t N, const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    if (!Bh || N % 64 || K % 32) {
        gemm_avx512(A, lda, M, K, B, NULL, N, bias, C, ldc, accumulate, relu);
        return;
    }
    /* all tiles 16 rows of 64 bytes, but when the rows are one block (1x4:
     * C 0-3, A 4) or one pair (2x2: the second A, 5, into C 2-3), those
     * tiles have only the rows there are: a product costs by the row */
    struct amx_config cfg = {.palette = 1};
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    if (M < 16)
        for (int t = 0; t < 5; t++) cfg.rows[t] = (uint8_t)M;
    else if (M > 16 && M < 32)
        cfg.rows[2] = cfg.rows[3] = cfg.rows[5] = (uint8_t)(M - 16);
    _tile_loadconfig(&cfg);
    size_t at_once = M <= AMX_FEW ? (M + 15) / 16 * 16 : 32;
    uint16_t *a = scratch(at_once * K * sizeof *a);
    if (M <= AMX_FEW) {
        amx_round_a(a, A, lda, M, K, at_once);
        amx_few(a, M, K, Bh, N, bias, C, ldc, accumulate, relu);
    } else
        for (size_t i0 = 0; i0 < M; i0 += 32) {
            size_t rows = M - i0 < 32 ? M - i0 : 32;
            amx_round_a(a, A + i0 * lda, lda, rows, K, 32);
            amx_many(a, rows, K, Bh, N, bias, C + i0 * ldc, ldc, accumulate, relu);
        }
    _tile_release();
}

/* ---- AVX512-BF16 without AMX (Zen 4, Cooper Lake) ----
 *
 * The numbers AMX computes, with vdpbf16ps: A rounded to bfloat16 (to
 * nearest even), the weights in the same tile-ordered copy, each C element
 * one float sum over k in ascending pairs. Twice the products a cycle of
 * the float kernel and half the bytes. MR rows by 32 columns: the 32 columns
 * of a k pair are one 64-byte row of two neighbouring tiles. */

#define BF16_MR 12
#define BF16_BLOCK 96 /* rows rounded at a time */

/* rows x K floats to bfloat16 rows, K apart; zero rows up to padded. */
__attribute__((target("avx512f,avx512bf16"))) static void bf16_round_rows(uint16_t *dst, const float *A, size_t lda,
                                                                         size_t rows, size_t padded, size_t K)
{
    for (size_t r = 0; r < padded; r++)
        for (size_t k = 0; k < K; k += 32) {
            uint16_t *d = dst + r * K + k;
            if (r >= rows) {
                memset(d, 0, 64);
                continue;
            }
            const float *s = A + r * lda + k;
            _mm512_storeu_si512(d, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + 16), _mm512_loadu_ps(s)));
        }
}

/* MR rows of a (bfloat16, K apart) by the 32 columns whose first tile of
 * each 32-k step is at b (steps 4 tiles apart), into C. */
__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void
bf16_kernel(const int MR, const uint16_t *a, size_t K, const uint16_t *b, float *C, size_t ldc, size_t rows,
            const float *bias, bool accumulate, bool relu)
{
    __m512 acc[BF16_MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint32_t *a32 = (const uint32_t *)(const void *)a;
    const size_t pairs = K / 2;
    for (size_t kp = 0; kp < pairs; kp++) {
        const uint16_t *pb = b + kp / 16 * 2048 + kp % 16 * 32;
        _mm_prefetch((const char *)(pb + 2048), _MM_HINT_T0);
        _mm_prefetch((const char *)(pb + 2048 + 512), _MM_HINT_T0);
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(pb), b1 = (__m512bh)_mm512_loadu_si512(pb + 512);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)a32[r * pairs + kp]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        if ((size_t)r < rows) epilogue_avx512(C + r * ldc, acc[r][0], acc[r][1], bias, accumulate, relu);
}

#define BF16_KERNEL(mr)                                                                            \
    __attribute__((target("avx512f,avx512bf16"))) static void bf16_kernel##mr(                     \
        const uint16_t *a, size_t K, const uint16_t *b, float *C, size_t ldc, size_t rows,         \
        const float *bias, bool accumulate, bool relu)                                             \
    {                                                                                              \
        bf16_kernel(mr, a, K, b, C, ldc, rows, bias, accumulate, relu);                            \
    }
BF16_KERNEL(4)
BF16_KERNEL(5)
BF16_KERNEL(6)
BF16_KERNEL(7)
BF16_KERNEL(8)
BF16_KERNEL(9)
BF16_KERNEL(10)
BF16_KERNEL(11)
BF16_KERNEL(12)
#undef BF16_KERNEL

typedef void (*bf16_kernel_fn)(const uint16_t *, size_t, const uint16_t *, float *, size_t, size_t, const float *,
                               bool, bool);
/* by rows (fewer than 4 run as 4: one or two rows would wait on the
 * instruction's latency anyway) */
static const bf16_kernel_fn bf16_kernels[BF16_MR + 1] = {
    bf16_kernel4, bf16_kernel4, bf16_kernel4, bf16_kernel4, bf16_kernel4,  bf16_kernel5, bf16_kernel6,
    bf16_kernel7, bf16_kernel8, bf16_kernel9, bf16_kernel10, bf16_kernel11, bf16_kernel12};

/* Rows in groups of 12, the last 13 to 24 in two halves (a 14-token query
 * runs as 7 + 7 rows, not 12 + 4 padded to 16; only fewer than 4 rows are
 * padded); each block's rows by every 32 columns in turn, so a query reads
 * the weights once, in storage order. */
static void gemm_avx512bf16(const float *A, size_t lda, size_t M, size_t K, const float *B, const uint16_t *Bh,
                            size_t N, const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    if (!Bh || N % 64 || K % 32) {
        gemm_avx512(A, lda, M, K, B, NULL, N, bias, C, ldc, accumulate, relu);
        return;
    }
    uint16_t *a = scratch(BF16_BLOCK * K * sizeof *a);
    for (size_t i0 = 0; i0 < M; i0 += BF16_BLOCK) {
        size_t rows = M - i0 < BF16_BLOCK ? M - i0 : BF16_BLOCK;
        bf16_round_rows(a, A + i0 * lda, lda, rows, rows < 4 ? 4 : rows, K);
        for (size_t n0 = 0; n0 < N; n0 += 32) {
            const uint16_t *b = Bh + n0 / 64 * (K / 32) * 2048 + n0 % 64 / 16 * 512;
            const float *pb = bias ? bias + n0 : NULL;
            for (size_t g = 0; g < rows;) {
                size_t left = rows - g, take = left > 2 * BF16_MR ? BF16_MR : left > BF16_MR ? left / 2 : left;
                bf16_kernels[take](a + g * K, K, b, C + (i0 + g) * ldc + n0, ldc, take, pb, accumulate, relu);
                g += take;
            }
        }
    }
}

/* AMX needs the CPU's tiles and the kernel's leave to use them (Linux 5.16+). */
static bool amx_usable(void)
{
    static _Atomic int usable = -1;
    int u = atomic_load(&usable);
    if (u >= 0) return u;
    unsigned eax, ebx, ecx, edx;
    u = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx & (1u << 22)) && (edx & (1u << 24)) &&
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16") && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                                                     18 /* XFEATURE_XTILEDATA */) == 0;
    atomic_store(&usable, u);
    return u;
}

/* ---- dispatch ---- */

typedef void (*gemm_fn)(const float *, size_t, size_t, size_t, const float *, const uint16_t *,
                        size_t, const float *, float *, size_t, bool, bool);

static const struct {
    const char *name;
    gemm_fn fn;
} kernels[] = {{"scalar", gemm_scalar},
               {"avx2", gemm_avx2},
               {"avx512", gemm_avx512},
               {"avx512-bf16w", gemm_avx512_bf16w},
               {"amx-bf16", gemm_amx},
               {"avx512-bf16", gemm_avx512bf16}};

static _Atomic int chosen = -1;

static bool supported(int k)
{
    if (k == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == 2 || k == 3) return __builtin_cpu_supports("avx512f");
    if (k == 4) return amx_usable();
    if (k == 5) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    return true;
}

/* AMX where the CPU and the kernel allow it (2-4x the throughput of AVX-512,
 * vectors within cosine 0.9998 of the reference), else AVX512-BF16 (the same
 * vectors, ~3x the float kernel on Zen 4), else the widest exact kernel,
 * unless $LAKEHOUSE_MODEL_KERNEL names another the CPU runs. */
static int current(void)
{
    int k = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (k >= 0) return k;
    k = supported(4) ? 4 : supported(5) ? 5 : supported(2) ? 2 : supported(1) ? 1 : 0;
    const char *want = getenv("LAKEHOUSE_MODEL_KERNEL");
    for (int i = 0; want && i < (int)(sizeof kernels / sizeof kernels[0]); i++)
        if (!strcmp(kernels[i].name, want) && supported(i)) k = i;
    atomic_store_explicit(&chosen, k, memory_order_relaxed);
    return k;
}

void model_gemm(const float *A, size_t lda, size_t M, size_t K, const float *B, const uint16_t *Bh,
                size_t N, const float *bias, float *C, size_t ldc, bool accumulate, bool relu)
{
    if (M == 0) return;
    kernels[current()].fn(A, lda, M, K, B, Bh, N, bias, C, ldc, accumulate, relu);
}

model_bf16_layout model_kernel_bf16(void)
{
    return current() == 3 ? MODEL_BF16_PANELS : current() >= 4 ? MODEL_BF16_TILES : MODEL_BF16_NONE;
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
