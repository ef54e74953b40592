/*
 * sample.c — deterministic staffing data: workers, clients, job orders,
 * placements, calls and permits, with realistic joins and free text.
 */
#include "lakehouse/lh_sample.h"
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const lh_sample_files[LH_SAMPLE_FILES] = {"workers.csv",    "clients.csv", "job_orders.ndjson",
                                                      "placements.csv", "calls.csv",   "permits.csv"};

/* splitmix64: small, fast, and the same everywhere */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static long below(rng *r, long n)
{
    return (long)(next(r) % (uint64_t)n);
}

#define PICK(r, arr) (arr[below((r), (long)(sizeof(arr) / sizeof(arr[0])))])

static const char *const first_names[] = {
    "James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer", "Carlos", "Aisha",
    "Wei", "Fatima", "Juan", "Olga", "Kwame", "Priya", "Luis", "Emma", "Noah", "Sofia", "Liam", "Ava",
    "Mateo", "Chloe", "Ahmed", "Grace", "Tyrone", "Mei", "Diego", "Hannah", "Ivan", "Zoe"};
static const char *const last_names[] = {
    "Smith", "Johnson", "Garcia", "Brown", "Nguyen", "Martinez", "Lee", "Patel", "Kowalski", "Okafor",
    "Hernandez", "Wilson", "Anderson", "Lopez", "Kim", "Thompson", "Ramirez", "Clark", "Singh", "Walker",
    "Young", "Allen", "Chen", "Diaz", "Brooks", "Murphy"};
static const struct {
    const char *city, *state;
} cities[] = {{"Chicago", "IL"}, {"Houston", "TX"},  {"Dallas", "TX"},     {"Atlanta", "GA"},
              {"Phoenix", "AZ"}, {"Denver", "CO"},   {"Columbus", "OH"},   {"Memphis", "TN"},
              {"Newark", "NJ"},  {"Reno", "NV"},     {"Indianapolis", "IN"}, {"Louisville", "KY"}};
static const char *const skills[] = {
    "forklift", "pallet jack", "inventory", "picking", "packing", "shipping", "receiving", "welding",
    "cnc machining", "assembly", "quality control", "java", "python", "sql", "customer service",
    "data entry", "bookkeeping", "cdl driving", "hvac", "electrical", "plumbing", "carpentry",
    "cleaning", "food handling", "first aid"};
static const char *const roles[] = {
    "warehouse associate", "forklift operator", "machine operator", "welder", "java developer",
    "data analyst", "truck driver", "maintenance technician", "customer service representative",
    "assembler", "line cook", "administrative assistant", "electrician", "quality inspector"};
static const char *const industries[] = {"logistics", "manufacturing", "software", "retail", "hospitality",
                                         "construction", "healthcare", "food processing"};
static const char *const shifts[] = {"day", "night", "swing", "weekend"};
static const char *const adjectives[] = {"reliable", "detail-oriented", "experienced", "energetic",
                                         "safety-minded", "bilingual", "punctual", "versatile"};
static const char *const extras[] = {
    "Has led small teams on busy seasonal peaks.",
    "Comfortable lifting 50 lbs and standing for long shifts.",
    "Speaks Spanish and English fluently.",
    "Holds a clean driving record.",
    "Trained new hires on safety procedures.",
    "Looking for a long-term position close to home.",
    "Open to overtime and holiday work.",
    "Recently completed a certification course."};
static const char *const client_words[] = {"Acme", "Summit", "Prairie", "Harbor", "Ironwood", "Bluebird",
                                           "Keystone", "Northstar", "Redline", "Granite"};
static const char *const client_kinds[] = {"Logistics", "Manufacturing", "Foods", "Systems", "Distribution",
                                           "Builders", "Health", "Retail Group"};
static const char *const recruiters[] = {"alice", "bruno", "chen", "dana", "emeka", "farah"};
static const char *const outcomes[] = {"no answer", "left voicemail", "interested", "not interested",
                                       "scheduled interview", "placed"};
static const char *const permit_kinds[] = {"forklift", "osha10", "osha30", "cdl", "food handler",
                                           "first aid", "welding cert", "hazmat"};

static void date_of(long day, char out[11])
{
    /* days since 2020-01-01 into a civil date (simple, Gregorian, 2020-2035) */
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 2020;
    for (;;) {
        int len = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
        if (day < len) break;
        day -= len;
        y++;
    }
    int m = 0;
    for (;; m++) {
        int len = mdays[m] + (m == 1 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
        if (day < len) break;
        day -= len;
    }
    snprintf(out, 11, "%04d-%02d-%02ld", y, m + 1, day + 1);
}

static void csv_field(lh_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        lh_buf_puts(b, s);
        return;
    }
    lh_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') lh_buf_putc(b, '"');
        lh_buf_putc(b, *s);
    }
    lh_buf_putc(b, '"');
}

static lh_code write_file(const char *dir, const char *name, lh_buf *b, lh_err *err)
{
    char *path = lh_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    lh_code rc = LH_OK;
    if (!f || fwrite(b->data, 1, b->len, f) != b->len)
        rc = lh_err_errno(err, LH_EIO, errno, "cannot write %s", path);
    if (f && fclose(f) != 0 && rc == LH_OK) rc = lh_err_errno(err, LH_EIO, errno, "cannot write %s", path);
    free(path);
    lh_buf_reset(b);
    return rc;
}

lh_code lh_sample_generate(const char *dir, long rows, uint64_t seed, lh_err *err)
{
    if (rows < 20) return lh_err_set(err, LH_EINVAL, "rows must be at least 20");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return lh_err_errno(err, LH_EIO, errno, "cannot create %s", dir);
    rng r = {seed};
    lh_buf b = {0};
    long n_workers = rows, n_clients = rows / 20, n_jobs = rows / 4, n_place = rows / 2, n_calls = rows * 3;
    lh_code rc;

    lh_buf_puts(&b, "worker_id,first_name,last_name,email,phone,city,state,skills,years_experience,"
                    "hourly_rate,shift,profile\n");
    for (long i = 1; i <= n_workers; i++) {
        const char *fn = PICK(&r, first_names), *ln = PICK(&r, last_names);
        long c = below(&r, (long)(sizeof cities / sizeof cities[0]));
        const char *s1 = PICK(&r, skills), *s2 = PICK(&r, skills), *s3 = PICK(&r, skills);
        const char *role = PICK(&r, roles), *shift = PICK(&r, shifts);
        long years = below(&r, 25);
        char email[128], phone[32], lower_fn[32], lower_ln[32];
        size_t k;
        for (k = 0; fn[k] && k < 31; k++) lower_fn[k] = (char)(fn[k] | 0x20);
        lower_fn[k] = '\0';
        for (k = 0; ln[k] && k < 31; k++) lower_ln[k] = (char)(ln[k] | 0x20);
        lower_ln[k] = '\0';
        snprintf(email, sizeof email, "%s.%s%ld@example.com", lower_fn, lower_ln, i);
        snprintf(phone, sizeof phone, "(%03ld) %03ld-%04ld", 200 + below(&r, 700), below(&r, 1000), below(&r, 10000));
        char skills_list[160], rate[16], profile[640];
        snprintf(skills_list, sizeof skills_list, "%s;%s;%s", s1, s2, s3);
        snprintf(rate, sizeof rate, "%ld.%02ld", 15 + below(&r, 40), below(&r, 100));
        snprintf(profile, sizeof profile,
                 "%s is a %s %s with %ld years of experience in %s. Skilled in %s, %s and %s. "
                 "Prefers %s shifts and lives in %s, %s. %s",
                 fn, PICK(&r, adjectives), role, years, PICK(&r, industries), s1, s2, s3, shift,
                 cities[c].city, cities[c].state, PICK(&r, extras));
        lh_buf_printf(&b, "%ld,%s,%s,%s,%s,%s,%s,", i, fn, ln, email, phone, cities[c].city, cities[c].state);
        csv_field(&b, skills_list);
        lh_buf_printf(&b, ",%ld,%s,%s,", years, rate, shift);
        csv_field(&b, profile);
        lh_buf_putc(&b, '\n');
    }
    if ((rc = write_file(dir, "workers.csv", &b, err))) goto done;

    lh_buf_puts(&b, "client_id,name,industry,city,state\n");
    for (long i = 1; i <= n_clients; i++) {
        long c = below(&r, (long)(sizeof cities / sizeof cities[0]));
        lh_buf_printf(&b, "%ld,%s %s,%s,%s,%s\n", i, PICK(&r, client_words), PICK(&r, client_kinds),
                      PICK(&r, industries), cities[c].city, cities[c].state);
    }
    if ((rc = write_file(dir, "clients.csv", &b, err))) goto done;

    static const char *const statuses[] = {"open", "open", "filled", "closed"};
    for (long i = 1; i <= n_jobs; i++) {
        long c = below(&r, (long)(sizeof cities / sizeof cities[0]));
        const char *role = PICK(&r, roles), *s1 = PICK(&r, skills), *s2 = PICK(&r, skills);
        const char *shift = PICK(&r, shifts);
        char created[11];
        date_of(1500 + below(&r, 800), created);
        char desc[400];
        snprintf(desc, sizeof desc, "Hiring a %s for %s shifts in %s. Must know %s and %s.", role, shift,
                 cities[c].city, s1, s2);
        lh_buf_printf(&b,
                      "{\"job_order_id\":%ld,\"client_id\":%ld,\"title\":\"%s\",\"city\":\"%s\",\"state\":\"%s\","
                      "\"skills_required\":[\"%s\",\"%s\"],\"openings\":%ld,\"pay_rate\":%ld.%02ld,"
                      "\"shift\":\"%s\",\"status\":\"%s\",\"created_on\":\"%s\",\"description\":\"%s\"}\n",
                      i, 1 + below(&r, n_clients), role, cities[c].city, cities[c].state, s1, s2, 1 + below(&r, 5),
                      16 + below(&r, 45), below(&r, 100), shift, PICK(&r, statuses), created, desc);
    }
    if ((rc = write_file(dir, "job_orders.ndjson", &b, err))) goto done;

    static const char *const pstatus[] = {"active", "active", "completed", "ended early"};
    lh_buf_puts(&b, "placement_id,worker_id,job_order_id,start_date,end_date,status\n");
    for (long i = 1; i <= n_place; i++) {
        long start = 1400 + below(&r, 900);
        char s[11], e[11];
        date_of(start, s);
        date_of(start + 30 + below(&r, 300), e);
        const char *st = PICK(&r, pstatus);
        lh_buf_printf(&b, "%ld,%ld,%ld,%s,%s,%s\n", i, 1 + below(&r, n_workers), 1 + below(&r, n_jobs), s,
                      strcmp(st, "active") ? e : "", st);
    }
    if ((rc = write_file(dir, "placements.csv", &b, err))) goto done;

    lh_buf_puts(&b, "call_id,worker_id,recruiter,called_at,outcome,notes\n");
    for (long i = 1; i <= n_calls; i++) {
        char d[11];
        date_of(1600 + below(&r, 700), d);
        const char *outcome = PICK(&r, outcomes);
        lh_buf_printf(&b, "%ld,%ld,%s,%s %02ld:%02ld:00,%s,", i, 1 + below(&r, n_workers), PICK(&r, recruiters), d,
                      8 + below(&r, 10), below(&r, 60), outcome);
        char notes[200];
        snprintf(notes, sizeof notes, "Discussed %s roles; %s.", PICK(&r, roles), outcome);
        csv_field(&b, notes);
        lh_buf_putc(&b, '\n');
    }
    if ((rc = write_file(dir, "calls.csv", &b, err))) goto done;

    lh_buf_puts(&b, "permit_id,worker_id,kind,issued_on,expires_on\n");
    for (long i = 1; i <= n_workers; i++) {
        long issued = 800 + below(&r, 1500);
        char a[11], e[11];
        date_of(issued, a);
        date_of(issued + 365 * (1 + below(&r, 4)), e);
        lh_buf_printf(&b, "%ld,%ld,%s,%s,%s\n", i, 1 + below(&r, n_workers), PICK(&r, permit_kinds), a, e);
    }
    rc = write_file(dir, "permits.csv", &b, err);
done:
    lh_buf_free(&b);
    return rc;
}
