/*
 * parse.c — reading embedding and chat answers (untrusted input).
 *
 * Strict: the answer must have exactly the expected number of vectors, all
 * of one dimension (the expected one, when known), every element a JSON
 * number that is finite as a float. An error object in the answer is
 * reported with its message. Anything else is LH_EUPSTREAM naming what was
 * wrong and where ("embeddings[3][17] is a string").
 */
#include "internal.h"
#include "lakehouse/lh_ai.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum protocol { P_OLLAMA, P_OPENAI };

static lh_code protocol_of(const char *name, enum protocol *p, lh_err *err)
{
    if (name && strcmp(name, "ollama") == 0)
        *p = P_OLLAMA;
    else if (name && strcmp(name, "openai") == 0)
        *p = P_OPENAI;
    else
        return lh_err_set(err, LH_EINVAL, "unknown protocol \"%s\" (ollama or openai)",
                          name ? name : "(null)");
    return LH_OK;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* {"error": "..."} (Ollama) or {"error": {"message": "..."}} (OpenAI). */
static bool error_object(const json_t *root, lh_err *err)
{
    json_t *e = json_object_get(root, "error");
    if (!e) return false;
    json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
    lh_buf text = {0};
    if (json_is_string(m)) ai_excerpt(&text, json_string_value(m), json_string_length(m), 300);
    if (!text.len) lh_buf_puts(&text, "(no message)");
    lh_err_set(err, LH_EUPSTREAM, "the answer is an error: %s", text.data);
    lh_buf_free(&text);
    ai_err_fix_utf8(err);
    return true;
}

static lh_code load(const char *body, size_t len, json_t **root, lh_err *err)
{
    json_error_t jerr;
    *root = json_loadb(body, len, 0, &jerr);
    if (!*root)
        return lh_err_set(err, LH_EUPSTREAM, "the answer is not JSON (%s at byte %d)", jerr.text,
                          jerr.position);
    if (!json_is_object(*root)) {
        lh_code rc =
            lh_err_set(err, LH_EUPSTREAM, "the answer is %s, not a JSON object", type_name(*root));
        json_decref(*root);
        return rc;
    }
    return LH_OK;
}

/* The vectors being read: n rows into *out (allocated at the first row),
 * of dimension `expected` (0: learned from the first row into dim). */
struct rows {
    size_t n;
    uint32_t expected, dim;
    float *out;
};

/* Copies vector v (named name[i]) into row i. */
static lh_code take_vector(const json_t *v, const char *name, size_t i, struct rows *r, lh_err *err)
{
    if (!json_is_array(v))
        return lh_err_set(err, LH_EUPSTREAM, "%s[%zu] is %s, not an array of numbers", name, i,
                          type_name(v));
    size_t d = json_array_size(v), n = r->n;
    if (d == 0) return lh_err_set(err, LH_EUPSTREAM, "%s[%zu] is empty", name, i);
    if (r->expected && d != r->expected)
        return lh_err_set(err, LH_EUPSTREAM, "%s[%zu] has %zu dimensions, the model's are %u", name,
                          i, d, r->expected);
    if (r->dim && d != r->dim)
        return lh_err_set(err, LH_EUPSTREAM, "%s[%zu] has %zu dimensions, others have %u (ragged)",
                          name, i, d, r->dim);
    if (d > AI_MAX_DIM)
        return lh_err_set(err, LH_EUPSTREAM, "%s[%zu] has %zu dimensions (at most %u)", name, i, d,
                          AI_MAX_DIM);
    if (!r->out) {
        if (n > SIZE_MAX / sizeof(float) / d)
            return lh_err_set(err, LH_ENOMEM, "%zu vectors of %zu dimensions", n, d);
        r->out = malloc(n * d * sizeof(float));
        if (!r->out)
            return lh_err_set(err, LH_ENOMEM, "out of memory for %zu vectors of %zu dimensions", n,
                              d);
    }
    r->dim = (uint32_t)d;
    float *row = r->out + i * d;
    for (size_t j = 0; j < d; j++) {
        json_t *x = json_array_get(v, j);
        if (!json_is_number(x))
            return lh_err_set(err, LH_EUPSTREAM, "%s[%zu][%zu] is %s, not a number", name, i, j,
                              type_name(x));
        double f = json_number_value(x);
        row[j] = (float)f;
        if (!isfinite(row[j]))
            return lh_err_set(err, LH_EUPSTREAM, "%s[%zu][%zu] = %g is not a finite float", name, i,
                              j, f);
    }
    return LH_OK;
}

static lh_code parse_ollama_embed(json_t *root, struct rows *r, lh_err *err)
{
    size_t n = r->n;
    json_t *list = json_object_get(root, "embeddings");
    if (!list) return lh_err_set(err, LH_EUPSTREAM, "the answer has no \"embeddings\"");
    if (!json_is_array(list))
        return lh_err_set(err, LH_EUPSTREAM, "\"embeddings\" is %s, not an array", type_name(list));
    if (json_array_size(list) != n)
        return lh_err_set(err, LH_EUPSTREAM, "%zu embeddings for %zu texts", json_array_size(list),
                          n);
    for (size_t i = 0; i < n; i++) {
        lh_code rc = take_vector(json_array_get(list, i), "embeddings", i, r, err);
        if (rc) return rc;
    }
    return LH_OK;
}

/* data[] may come in any order: each item lands at its "index". */
static lh_code parse_openai_embed(json_t *root, struct rows *r, lh_err *err)
{
    size_t n = r->n;
    json_t *data = json_object_get(root, "data");
    if (!data) return lh_err_set(err, LH_EUPSTREAM, "the answer has no \"data\"");
    if (!json_is_array(data))
        return lh_err_set(err, LH_EUPSTREAM, "\"data\" is %s, not an array", type_name(data));
    if (json_array_size(data) != n)
        return lh_err_set(err, LH_EUPSTREAM, "%zu embeddings for %zu texts", json_array_size(data),
                          n);
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen) return lh_err_set(err, LH_ENOMEM, "out of memory");
    lh_code rc = LH_OK;
    for (size_t k = 0; k < n && rc == LH_OK; k++) {
        json_t *item = json_array_get(data, k);
        json_t *index = json_object_get(item, "index");
        if (!json_is_object(item)) {
            rc =
                lh_err_set(err, LH_EUPSTREAM, "data[%zu] is %s, not an object", k, type_name(item));
        } else if (!json_is_integer(index)) {
            rc = lh_err_set(err, LH_EUPSTREAM, "data[%zu] has no integer \"index\"", k);
        } else if (json_integer_value(index) < 0 || (uint64_t)json_integer_value(index) >= n) {
            rc = lh_err_set(err, LH_EUPSTREAM, "data[%zu].index = %lld is outside 0..%zu", k,
                            (long long)json_integer_value(index), n - 1);
        } else if (seen[json_integer_value(index)]) {
            rc = lh_err_set(err, LH_EUPSTREAM, "data[%zu].index = %lld appears twice", k,
                            (long long)json_integer_value(index));
        } else {
            size_t i = (size_t)json_integer_value(index);
            seen[i] = 1;
            json_t *v = json_object_get(item, "embedding");
            if (!v)
                rc = lh_err_set(err, LH_EUPSTREAM, "data[%zu] has no \"embedding\"", k);
            else if (json_is_string(v))
                rc = lh_err_set(err, LH_EUPSTREAM,
                                "data[%zu].embedding is a string (base64?), not an array", k);
            else
                rc = take_vector(v, "data[].embedding", i, r, err);
        }
    }
    free(seen);
    return rc;
}

lh_code lh_ai_parse_embed(const char *protocol, const char *body, size_t len, size_t n, float **out,
                          uint32_t *dim, lh_err *err)
{
    enum protocol p;
    *out = NULL;
    lh_code rc = protocol_of(protocol, &p, err);
    if (rc) return rc;
    json_t *root;
    if ((rc = load(body, len, &root, err))) return rc;
    struct rows r = {.n = n, .expected = *dim};
    if (error_object(root, err))
        rc = LH_EUPSTREAM;
    else if (p == P_OLLAMA)
        rc = parse_ollama_embed(root, &r, err);
    else
        rc = parse_openai_embed(root, &r, err);
    json_decref(root);
    if (rc) {
        free(r.out);
        return rc;
    }
    *out = r.out;
    if (n) *dim = r.dim;
    return LH_OK;
}

lh_code lh_ai_parse_chat(const char *protocol, const char *body, size_t len, char **reply,
                         lh_err *err)
{
    enum protocol p;
    *reply = NULL;
    lh_code rc = protocol_of(protocol, &p, err);
    if (rc) return rc;
    json_t *root;
    if ((rc = load(body, len, &root, err))) return rc;
    json_t *message = NULL;
    if (error_object(root, err)) {
        rc = LH_EUPSTREAM;
    } else if (p == P_OLLAMA) {
        message = json_object_get(root, "message");
        if (!json_is_object(message))
            rc = lh_err_set(err, LH_EUPSTREAM, "the answer has no \"message\" object");
    } else {
        json_t *choices = json_object_get(root, "choices");
        if (!json_is_array(choices) || json_array_size(choices) == 0)
            rc = lh_err_set(err, LH_EUPSTREAM, "the answer has no \"choices\"");
        else if (!json_is_object(message = json_object_get(json_array_get(choices, 0), "message")))
            rc = lh_err_set(err, LH_EUPSTREAM, "choices[0] has no \"message\" object");
    }
    if (rc == LH_OK) {
        json_t *content = json_object_get(message, "content");
        if (!json_is_string(content)) {
            rc = lh_err_set(err, LH_EUPSTREAM, "the message's \"content\" is %s, not a string",
                            content ? type_name(content) : "missing");
        } else {
            size_t n = json_string_length(content);
            *reply = malloc(n + 1);
            if (!*reply) {
                rc = lh_err_set(err, LH_ENOMEM, "out of memory for a %zu-byte reply", n);
            } else {
                memcpy(*reply, json_string_value(content), n + 1);
            }
        }
    }
    json_decref(root);
    return rc;
}
