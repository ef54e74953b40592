/*
 * fuzz_model_load.c — libFuzzer target for model files (lh_model_open_buffer).
 * Checksums are not verified (the fuzzer cannot forge them), so damage
 * reaches the structural checks. The first byte picks what the rest does:
 *   0  overwrites the start of the real model file (header, tensor table)
 *   1  overwrites the vocabulary of the real file at an offset (next 2 bytes)
 *   2+ is the whole file
 * (0 and 1 need build/model/use-lite-en.lhm; without it they act as 2.)
 * Any input either opens or is refused with LH_ECORRUPT; a model that opens
 * tokenizes a few texts, reading the vocabulary it kept — no crashes.
 */
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *real;
static size_t real_len;
static uint64_t real_vocab;

static void load_real(void)
{
    static int tried;
    if (tried++) return;
    FILE *f = fopen(lh_model_default_path(), "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n > 128) {
        real = aligned_alloc(64, ((size_t)n + 63) / 64 * 64);
        if (fread(real, 1, (size_t)n, f) == (size_t)n) real_len = (size_t)n;
        memcpy(&real_vocab, real + 72, 8);
        if (real_vocab >= real_len) real_len = 0;
    }
    fclose(f);
}

static void try_open(const unsigned char *buf, size_t len)
{
    lh_model *m;
    lh_err err;
    if (lh_model_open_buffer(buf, len, false, &m, &err) == LH_OK) {
        static const char *texts[] = {"a forklift operator", "\xff\xfe ﬁ 😀 \xe2\x82", "",
                                      "Ｈｅｌｌｏ  ::) \ue000\ue001"};
        for (size_t i = 0; i < 4; i++) {
            int32_t *ids;
            size_t n;
            if (lh_model_tokenize(m, texts[i], strlen(texts[i]), &ids, &n, &err) == LH_OK)
                free(ids);
        }
        lh_model_close(m);
    } else if (err.code != LH_ECORRUPT) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20)) return 0;
    load_real();
    if (real_len && data[0] == 0 && size - 1 <= real_len) {
        unsigned char *saved = lh_xmalloc(size);
        memcpy(saved, real, size - 1);
        memcpy(real, data + 1, size - 1);
        try_open(real, real_len);
        memcpy(real, saved, size - 1);
        free(saved);
        return 0;
    }
    if (real_len && data[0] == 1 && size >= 3) {
        size_t at = real_vocab + ((size_t)data[1] | (size_t)data[2] << 8) * 16, n = size - 3;
        if (at > real_len) return 0;
        if (n > real_len - at) n = real_len - at;
        unsigned char *saved = lh_xmalloc(n + 1);
        memcpy(saved, real + at, n);
        memcpy(real + at, data + 3, n);
        try_open(real, real_len);
        memcpy(real + at, saved, n);
        free(saved);
        return 0;
    }
    unsigned char *buf = aligned_alloc(64, (size + 63) / 64 * 64);
    memcpy(buf, data + 1, size - 1);
    try_open(buf, size - 1);
    free(buf);
    return 0;
}
