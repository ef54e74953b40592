/*
 * lh_json.h — JSON text out: numbers in shortest round-trip form.
 *
 * jansson writes reals with "%.17g" (0.1 becomes 0.10000000000000001). Every
 * JSON this system sends — HTTP bodies, CLI output, SQL results — goes
 * through the formatter here instead, so a real is written with the fewest
 * significant digits that strtod reads back as the very same double:
 *
 *     0.1  1e-07  1e+300  5e-324  123456789.125  -0.0  2.0
 *
 * A real with an integral value keeps a ".0" (as jansson writes it), so a
 * reader can tell a real from an integer; NaN and infinities are not JSON
 * numbers and are written as null.
 */
#ifndef LH_JSON_H
#define LH_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "lakehouse/lh_buf.h"

#define LH_JSON_REAL_MAX 32 /* longest output of lh_json_real plus its NUL */

/* Writes d to out in shortest round-trip form; returns its length, or 0 (out
 * empty) when d is NaN or infinite. */
size_t lh_json_real(double d, char out[LH_JSON_REAL_MAX]);

/* The same for a float: the fewest digits that strtof reads back as f. */
size_t lh_json_real_f32(float f, char out[LH_JSON_REAL_MAX]);

/* Appends d as a JSON number, or null when it is not finite. */
void lh_json_put_real(lh_buf *b, double d);

/* json_dumps with shortest reals; caller frees. Honours JSON_INDENT(n),
 * JSON_COMPACT, JSON_SORT_KEYS and JSON_ENCODE_ANY as jansson does (objects
 * keep insertion order otherwise); without JSON_ENCODE_ANY a root that is not
 * an object or array gives NULL, as does NULL. */
char *lh_json_dumps(const json_t *json, size_t flags);

/* Sorts an array of objects in place by their string member field (byte
 * order; a missing one sorts first), stably. */
void lh_json_sort_by(json_t *array, const char *field);

#endif
