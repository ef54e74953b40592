/*
 * internal.h — what the model's files share: the file format, the opened
 * model (tensors and the vocabulary's hash table) and the matrix kernel.
 * Not a public interface.
 *
 * The file (little-endian; written by scripts/model/convert.mjs):
 *   [0, 128)      header: magic "LHMODEL\0", version 1, header size 128,
 *                 name[32], tensor count, vocabulary count, file size,
 *                 tensor table offset, vocabulary offset and size,
 *                 data_crc (CRC-32C of [128, end)) at 120, header_crc
 *                 (CRC-32C of [0, 124)) at 124
 *   table         64 bytes a tensor: name[32], rows, cols, layout (0 row-major,
 *                 1 column panels of 32: panel p holds rows x 32 floats of
 *                 columns 32p..32p+31, row after row), pad, offset, bytes
 *   tensors       float32, each at a 64-byte aligned offset
 *   vocabulary    count, pad, then count x {f64 score, u32 offset, u32 length}
 *                 and the pieces' UTF-8 bytes (offsets from the blob's start)
 */
#ifndef LH_MODEL_INTERNAL_H
#define LH_MODEL_INTERNAL_H

#include "lakehouse/lh_model.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MODEL_MAGIC       "LHMODEL\0"
#define MODEL_VERSION     1u
#define MODEL_HEADER_SIZE 128u
#define MODEL_ENTRY_SIZE  64u
#define MODEL_VOCAB       8000u
#define MODEL_ROWS        8002u /* embedding rows: the vocabulary and two spare */
#define MODEL_RESERVED    6u    /* ids below this are never produced by the tokenizer */
#define MODEL_MAX_PIECE   16u   /* longest piece, in code points, the loader accepts */
#define MODEL_PANEL       32u   /* columns per weight panel */

typedef struct model_piece {
    double score;
    uint32_t *cps; /* code points (into lh_model.cps) */
    uint32_t ncp;
    uint32_t utf16; /* length in UTF-16 units, as JavaScript counts it */
} model_piece;

typedef struct model_layer {
    int d; /* width of the layer's input: 256 or 512 */
    int heads, head_dim;
    const float *ln1_scale, *ln1_bias;
    const float *qkv_w, *qkv_b; /* d x 3d, panels */
    const float *out_w, *out_b; /* d x 512, panels */
    const float *res_w, *res_b; /* layer 0: 256 x 512 projection of the residual */
    const float *ln2_scale, *ln2_bias;
    const float *ffn1_w, *ffn1_b; /* 512 x 1536, panels */
    const float *ffn2_w, *ffn2_b; /* 1536 x 512, panels */
    /* bfloat16 copies of the matrices (NULL unless the bf16 kernel was chosen at open) */
    const uint16_t *qkv_h, *out_h, *res_h, *ffn1_h, *ffn2_h;
} model_layer;

#define MODEL_PASSES_MAX 8

struct lh_model {
    void *mapping; /* NULL for lh_model_open_buffer */
    size_t mapping_len;
    const float *embeddings; /* 8002 x 256 */
    const float *timing_inv; /* 128 */
    float *timing;           /* the timing signal of every position: sin(p * inv) | cos(p * inv) */
    model_layer layer[2];
    const float *final_w, *final_b; /* 512 x 512 panels, 512 */
    const uint16_t *final_h;
    uint16_t *bf16; /* the copies' storage */
    model_piece pieces[MODEL_VOCAB];
    uint32_t *cps;
    int32_t *table; /* open addressing: piece ids, -1 empty */
    uint32_t table_mask;
    /* lh_model_embed_one: texts waiting to be embedded together (forward.c) */
    pthread_mutex_t queue_mu;
    pthread_cond_t queue_done;
    struct model_waiting *queue;
    int passes;     /* callers embedding a batch now */
    int passes_max; /* one per core (at most MODEL_PASSES_MAX) */
    struct model_workspace *spare; /* the passes' buffers, MODEL_PASSES_MAX of them */
    unsigned spare_busy;           /* bit i: spare[i] is a running pass's */
};

/* The id of the piece spelled by cps[0..n), or -1. Later duplicates win, as
 * in the package's trie. */
int32_t model_piece_find(const lh_model *m, const uint32_t *cps, size_t n);

/* Decodes UTF-8 as WHATWG (Node) does: each maximal invalid subpart is one
 * U+FFFD. *out malloc'd. */
size_t model_utf8_decode(const char *s, size_t len, uint32_t **out);

/* The package's ids for text, all of them (max_tokens 0) or enough for the
 * first max_tokens. *ids malloc'd. */
size_t model_tokenize(const lh_model *m, const char *text, size_t len, size_t max_tokens,
                      int32_t **ids);

/* C[M x N] = (accumulate ? C : 0) + A[M x K] . B[K x N] + bias (may be
 * NULL), then ReLU if relu. B in column panels of 32 (N a multiple of 32),
 * Bh the same in bfloat16 (model_kernel_bf16's layout) or NULL; A's rows lda floats apart, C's ldc. */
void model_gemm(const float *A, size_t lda, size_t M, size_t K, const float *B, const uint16_t *Bh,
                size_t N, const float *bias, float *C, size_t ldc, bool accumulate, bool relu);

/* The bfloat16 copies of the weights (Bh) the kernel in use reads, if any:
 * lh_model_open makes them. Panels as B; tiles (AMX, needs N % 64 == 0 and
 * K % 32 == 0): 1 KB tiles of 16 k pairs x 16 columns (a 64-byte row holds
 * 16 columns x 2 k), the 4 tiles of 64 columns side by side, then the next
 * 32 k, then the next 64 columns: the order a small product reads them. */
/* f rounded to bfloat16, to nearest even. */
static inline uint16_t model_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

typedef enum { MODEL_BF16_NONE, MODEL_BF16_PANELS, MODEL_BF16_TILES } model_bf16_layout;
model_bf16_layout model_kernel_bf16(void);

/* Threads the model uses: one per core, at most MODEL_PASSES_MAX (forward.c). */
int model_cores(void);
/* Frees the passes' buffers (lh_model_close). */
void model_spare_free(lh_model *m);

#endif
