/*
 * fuzz_ai_parse.c — libFuzzer target for provider answers (untrusted):
 * lh_ai_parse_embed and lh_ai_parse_chat for both protocols.
 *
 * The first byte picks what the rest is read as: bit 0 the protocol
 * (ollama, openai), bit 1 the kind (embed, chat), bits 2-4 the number of
 * vectors expected (0..7), bits 5-7 the expected dimension (0 = learn it,
 * else 1..7). Every input is accepted or refused with LH_EUPSTREAM; an
 * accepted embedding has the expected shape and only finite values.
 */
#include "lakehouse/lh_ai.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *protocol = (data[0] & 1) ? "openai" : "ollama";
    bool chat = data[0] & 2;
    size_t n = (data[0] >> 2) & 7;
    uint32_t want = data[0] >> 5;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    lh_err err;
    if (chat) {
        char *reply;
        lh_code rc = lh_ai_parse_chat(protocol, body, len, &reply, &err);
        if (rc != LH_OK && (rc != LH_EUPSTREAM || reply)) abort();
        if (rc == LH_OK && !reply) abort();
        free(reply);
        return 0;
    }
    float *out;
    uint32_t dim = want;
    lh_code rc = lh_ai_parse_embed(protocol, body, len, n, &out, &dim, &err);
    if (rc != LH_OK) {
        if (rc != LH_EUPSTREAM || out || memchr(err.message, '\0', sizeof err.message) == NULL)
            abort();
        return 0;
    }
    if (n == 0) {
        if (out) abort();
        return 0;
    }
    if (!out || dim == 0 || (want && dim != want)) abort();
    for (size_t i = 0; i < n * dim; i++)
        if (!isfinite(out[i])) abort();
    free(out);
    return 0;
}
