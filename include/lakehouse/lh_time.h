/*
 * lh_time.h — wall-clock times as milliseconds, ISO 8601 text, and deadlines.
 */
#ifndef LH_TIME_H
#define LH_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define LH_TIME_ISO_LEN 32

int64_t lh_time_now_ms(void); /* ms since the epoch (CLOCK_REALTIME) */

/* "2026-11-24T04:50:37.123Z" */
void lh_time_iso8601(int64_t ms, char out[LH_TIME_ISO_LEN]);

/* Parses "YYYY-MM-DD[THH:MM:SS[.mmm]]Z" (UTC); false on anything else. */
bool lh_time_parse_iso8601(const char *s, int64_t *ms);

/* The time ms milliseconds from now on clock (for pthread_cond_timedwait). */
struct timespec lh_time_after_ms(clockid_t clock, long long ms);
/* t plus ms milliseconds (ms >= 0). */
struct timespec lh_time_add_ms(struct timespec t, long long ms);
/* a is earlier than b. */
bool lh_time_before(const struct timespec *a, const struct timespec *b);

#endif
