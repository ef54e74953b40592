/*
 * pii.c — does a column hold personal data? Column names and sampled values
 * vote; a kind is reported when most non-empty samples match its shape.
 */
#include "internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool is_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@')) return false;
    const char *dot = strrchr(at, '.');
    if (!dot || dot < at + 2 || strlen(dot + 1) < 2) return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p)) return false;
    return true;
}

/* A phone number: 7 to 15 digits in at most 5 groups, every group after the
 * first of 2 digits or more and one of 3 or more ("+1 415 555 0199",
 * "(312) 555-0100"), written with a separator or a leading +. Numbers joined
 * by spaces ("12 7 3 45 6", "0.5 1.25 3.75") are not phones. */
static bool is_phone(const char *s)
{
    size_t digits = 0, groups = 0, run = 0, longest = 0;
    bool short_group = false;
    for (const char *p = s;; p++) {
        if (*p && isdigit((unsigned char)*p)) {
            digits++, run++;
            continue;
        }
        if (run) {
            if (groups > 0 && run < 2) short_group = true;
            if (run > longest) longest = run;
            groups++;
            run = 0;
        }
        if (!*p) break;
        if (!strchr("+-(). ", *p)) return false;
    }
    return digits >= 7 && digits <= 15 && groups <= 5 && !short_group && longest >= 3 &&
           (strchr(s, '-') || strchr(s, ' ') || strchr(s, '(') || s[0] == '+');
}

/* US SSN (123-45-6789), UK NI number (AB123456C), FR NIR (15 digits). */
static bool is_national_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 11 && s[3] == '-' && s[6] == '-') {
        for (size_t i = 0; i < n; i++)
            if (i != 3 && i != 6 && !isdigit((unsigned char)s[i])) return false;
        return true;
    }
    if (n == 9 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) && isalpha((unsigned char)s[8])) {
        for (size_t i = 2; i < 8; i++)
            if (!isdigit((unsigned char)s[i])) return false;
        return true;
    }
    if (n == 15) {
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)s[i])) return false;
        return true;
    }
    return false;
}

/* One to four words, each capitalised (letters, apostrophes, hyphens; UTF-8 letters allowed). */
static bool looks_like_name(const char *s)
{
    int words = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        unsigned char c = (unsigned char)*p;
        if (!(isupper(c) || c >= 0xC0)) return false;
        while (*p && *p != ' ') {
            c = (unsigned char)*p;
            if (!(isalpha(c) || c >= 0x80 || c == '\'' || c == '-' || c == '.')) return false;
            p++;
        }
        words++;
    }
    return words >= 1 && words <= 4;
}

static bool name_column(const char *column)
{
    static const char *const names[] = {"name", "full_name", "fullname", "first_name", "firstname",
                                        "last_name", "lastname", "surname", "given_name",
                                        "family_name", "middle_name", "contact_name", "person",
                                        "candidate_name", "worker_name", "employee_name"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(column, names[i]) == 0) return true;
    return false;
}

const char *lh_ingest_pii_kind(const char *column, const char *const *values, size_t n)
{
    size_t seen = 0, email = 0, phone = 0, nid = 0, person = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        if (!v || !*v) continue;
        seen++;
        email += is_email(v);
        phone += is_phone(v);
        nid += is_national_id(v);
        person += looks_like_name(v);
    }
    bool named_id = strcasestr(column, "ssn") || strcasestr(column, "national_id") ||
                    strcasestr(column, "nino") || strcasestr(column, "passport");
    if (seen == 0) return named_id ? "national_id" : NULL;
    if (email * 10 >= seen * 8) return "email";
    if (nid * 10 >= seen * 8 || (named_id && nid * 2 >= seen)) return "national_id";
    if (phone * 10 >= seen * 8) return "phone";
    if (name_column(column) && person * 10 >= seen * 7) return "person_name";
    return NULL;
}
