/*
 * fuzz_json_real.c — libFuzzer target for the shortest round-trip real formatter.
 * Any 8 bytes are a double (any bit pattern: subnormals, -0.0, NaNs, infinities):
 * a finite one must read back exactly (strtod and the sign of zero) with no more
 * than 17 significant digits, a non-finite one must give no text; the same for
 * the float made of the first 4 bytes, and lh_json_dumps of both must parse back.
 */
#include "lakehouse/lh_json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Significant digits of the mantissa: from the first non-zero digit to the
 * last non-zero one (so "0.05" and "1200.0" count 1 and 2). */
static size_t digits(const char *s)
{
    size_t n = 0, upto_nonzero = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9' || (!n && *s == '0')) continue;
        n++;
        if (*s != '0') upto_nonzero = n;
    }
    return upto_nonzero;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t bytes[8] = {0};
    memcpy(bytes, data, size < 8 ? size : 8);
    double d;
    float f;
    memcpy(&d, bytes, sizeof d);
    memcpy(&f, bytes, sizeof f);
    char out[LH_JSON_REAL_MAX];
    size_t n = lh_json_real(d, out);
    if (!isfinite(d)) {
        if (n != 0 || out[0]) abort();
    } else {
        double back = strtod(out, NULL);
        if (n != strlen(out) || back != d || signbit(back) != signbit(d) || digits(out) > 17) abort();
        json_t *arr = json_pack("[f]", d);
        char *text = lh_json_dumps(arr, JSON_COMPACT);
        json_t *parsed = json_loads(text, 0, NULL);
        if (!parsed || json_real_value(json_array_get(parsed, 0)) != d) abort();
        json_decref(parsed);
        free(text);
        json_decref(arr);
    }
    n = lh_json_real_f32(f, out);
    if (!isfinite(f)) {
        if (n != 0) abort();
    } else if (strtof(out, NULL) != f || signbit(strtof(out, NULL)) != signbit(f) || digits(out) > 9) {
        abort();
    }
    return 0;
}
