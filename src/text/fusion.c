/*
 * fusion.c — two ranked lists of one label space made one (lh_fusion.h):
 * reciprocal rank fusion and weighted min-max fusion.
 *
 * Both lists go into one array of (label, list, position), sorted by label,
 * so each label's entries sit together; a label listed twice in the same
 * list keeps its first (best) position. Then every label gets its fused
 * score and the best k are sorted out. O((na + nb) log(na + nb)).
 */
#include "lakehouse/lh_fusion.h"

#include "lakehouse/lh_mem.h"

#include <math.h>
#include <stdlib.h>
#include <strings.h>

const char *lh_fusion_name(lh_fusion f)
{
    return f == LH_FUSION_WEIGHTED ? "weighted" : "rrf";
}

bool lh_fusion_parse(const char *s, lh_fusion *out)
{
    if (!s) return false;
    if (!strcasecmp(s, "rrf")) {
        *out = LH_FUSION_RRF;
        return true;
    }
    if (!strcasecmp(s, "weighted")) {
        *out = LH_FUSION_WEIGHTED;
        return true;
    }
    return false;
}

struct entry {
    uint32_t label;
    uint32_t list; /* 0: a, 1: b */
    size_t pos;    /* 0-based */
};

static int cmp_entry(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->label != b->label) return a->label < b->label ? -1 : 1;
    if (a->list != b->list) return a->list < b->list ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int cmp_fused(const void *x, const void *y)
{
    const lh_fusion_hit *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->label > b->label) - (a->label < b->label);
}

/* Min-max bounds of a list's finite scores. */
static void bounds(const lh_fusion_item *r, size_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double s = r[i].score;
        if (!isfinite(s)) continue;
        if (s < *lo) *lo = s;
        if (s > *hi) *hi = s;
    }
}

/* A score mapped to [0, 1]: min-max, 1 when the list has one value. */
static double normalise(double s, double lo, double hi)
{
    if (isnan(s)) return 0;
    if (s == INFINITY) return 1;
    if (s == -INFINITY) return 0;
    if (!(hi > lo)) return 1;
    double v = (s - lo) / (hi - lo);
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static int rank_of(size_t pos)
{
    return pos >= (size_t)INT32_MAX ? INT32_MAX : (int)pos + 1;
}

size_t lh_fusion_fuse(lh_fusion f, double w, double rrf_k, const lh_fusion_item *a, size_t na,
                      const lh_fusion_item *b, size_t nb, size_t k, lh_fusion_hit *out)
{
    if (!k || !out) return 0;
    if (!a) na = 0;
    if (!b) nb = 0;
    if (!na && !nb) return 0;
    if (isnan(w)) w = 0.5;
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    if (isnan(rrf_k)) rrf_k = 60;
    if (rrf_k < 0) rrf_k = 0;

    size_t n = na + nb;
    struct entry *e = lh_xmalloc(n * sizeof *e);
    for (size_t i = 0; i < na; i++) e[i] = (struct entry){a[i].label, 0, i};
    for (size_t i = 0; i < nb; i++) e[na + i] = (struct entry){b[i].label, 1, i};
    qsort(e, n, sizeof *e, cmp_entry);

    double alo = 0, ahi = 0, blo = 0, bhi = 0;
    if (f == LH_FUSION_WEIGHTED) {
        bounds(a, na, &alo, &ahi);
        bounds(b, nb, &blo, &bhi);
    }
    lh_fusion_hit *all = lh_xmalloc(n * sizeof *all);
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t label = e[i].label;
        size_t pa = SIZE_MAX, pb = SIZE_MAX;
        for (; i < n && e[i].label == label; i++) {
            if (e[i].list == 0 && pa == SIZE_MAX) pa = e[i].pos;
            if (e[i].list == 1 && pb == SIZE_MAX) pb = e[i].pos;
        }
        lh_fusion_hit *o = &all[m++];
        o->label = label;
        o->rank_a = pa == SIZE_MAX ? 0 : rank_of(pa);
        o->rank_b = pb == SIZE_MAX ? 0 : rank_of(pb);
        double s = 0;
        if (f == LH_FUSION_WEIGHTED) {
            if (pa != SIZE_MAX) s += w * normalise(a[pa].score, alo, ahi);
            if (pb != SIZE_MAX) s += (1 - w) * normalise(b[pb].score, blo, bhi);
        } else {
            if (pa != SIZE_MAX) s += w / (rrf_k + (double)pa + 1);
            if (pb != SIZE_MAX) s += (1 - w) / (rrf_k + (double)pb + 1);
        }
        o->score = s;
    }
    free(e);
    qsort(all, m, sizeof *all, cmp_fused);
    size_t got = m < k ? m : k;
    for (size_t i = 0; i < got; i++) out[i] = all[i];
    free(all);
    return got;
}
