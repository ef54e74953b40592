/*
 * lh_sample.h — the staffing reference data set, generated from a seed.
 *
 * Files written to a folder (the same seed and size give the same bytes):
 *   workers.csv      worker_id, first_name, last_name, email, phone, city, state,
 *                    skills, years_experience, hourly_rate, shift, profile (free text)
 *   clients.csv      client_id, name, industry, city, state
 *   job_orders.ndjson job_order_id, client_id, title, city, state, skills_required,
 *                    openings, pay_rate, shift, status, created_on, description
 *   placements.csv   placement_id, worker_id, job_order_id, start_date, end_date, status
 *   calls.csv        call_id, worker_id, recruiter, called_at, outcome, notes
 *   permits.csv      permit_id, worker_id, kind, issued_on, expires_on
 * Sizes follow `rows` (the number of workers): clients rows/20, job orders
 * rows/4, placements rows/2, calls 3*rows, permits rows.
 */
#ifndef LH_SAMPLE_H
#define LH_SAMPLE_H

#include <stdint.h>

#include "lakehouse/lh_err.h"

#define LH_SAMPLE_FILES 6
extern const char *const lh_sample_files[LH_SAMPLE_FILES]; /* file names, in load order */

lh_code lh_sample_generate(const char *dir, long rows, uint64_t seed, lh_err *err);

#endif
