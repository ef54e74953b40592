// bench_ann.cpp — `make bench-ann`: this engine and hnswlib (Debian's
// libhnswlib-dev, header-only C++, used only here) on the same seeded data,
// the same machine, in one run, alternating.
//
//   bench_ann [--scale F] [--reps N] [--only abc] [--skip-c] [--dir DIR]
//
// Datasets (seeded Gaussian mixtures whose clusters overlap):
//   a  200k x 128, L2        b  100k x 384, cosine        c  1M x 128, L2 (build, memory, load)
// For a and b: build seconds (1 thread and all threads), memory, then for a
// sweep of ef: recall@10 against exact ground truth and single-thread QPS
// (each measured --reps times, engines alternating, medians); QPS at recall
// 0.90 / 0.95 / 0.99 by interpolation; SQ8; filtered search at 50/10/1/0.1%.
// Machine-readable lines at the end:
//   ann-ratio dataset=<a|b> recall=<0.95|0.99> ours_qps=<n> hnswlib_qps=<n> ratio=<x>
//   ann-build dataset=<a|b|c> ours_s=<n> hnswlib_s=<n> ratio=<x>
// (ann-build compares single-thread builds for a and b, all-thread builds for c.)
//
// `bench_ann --first-query FILE DIM` is the helper the load-time figure runs
// in a fresh process: map the index, answer one query, print milliseconds.
// `bench_ann --callgrind ours|hnswlib` runs a fixed batch for valgrind.
#include <hnswlib/hnswlib.h>

extern "C" {
#include "lakehouse/lh_hnsw.h"
}

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using clk = std::chrono::steady_clock;

static double seconds_since(clk::time_point t0)
{
    return std::chrono::duration<double>(clk::now() - t0).count();
}

// ---- data ----

struct rng {
    uint64_t s;
    double uniform()
    {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return ((double)(s >> 11) + 0.5) / 9007199254740992.0;
    }
    float gauss() { return (float)(std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform())); }
};

// Points are centre + N(0, 1); centres are N(0, spread^2): with spread ~1 the
// clusters overlap, so the data is not trivially separable.
static std::vector<float> mixture(size_t n, size_t dim, size_t clusters, float spread, uint64_t centre_seed,
                                  uint64_t point_seed, bool normalise)
{
    rng r{centre_seed};
    std::vector<float> c(clusters * dim), v(n * dim);
    for (auto &x : c) x = r.gauss() * spread;
    rng p{point_seed};
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(p.uniform() * (double)clusters);
        for (size_t d = 0; d < dim; d++) v[i * dim + d] = c[k * dim + d] + p.gauss();
        if (normalise) lh_normalize(&v[i * dim], dim);
    }
    return v;
}

static long rss_kb()
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// ---- engines ----

struct ours {
    lh_hnsw *h = nullptr;
    ~ours() { lh_hnsw_free(h); }
    void build(const std::vector<float> &v, size_t n, size_t dim, lh_metric m, unsigned threads, lh_quant q = LH_QUANT_NONE)
    {
        lh_hnsw_params p{};
        p.dim = (uint32_t)dim;
        p.metric = m;
        p.M = 16;
        p.ef_construction = 200;
        p.seed = 100;
        p.quantization = q;
        lh_err err;
        lh_hnsw_free(h);
        if (lh_hnsw_new(&p, n, &h, &err)) { fprintf(stderr, "%s\n", err.message); exit(1); }
        std::vector<uint64_t> labels(n);
        for (size_t i = 0; i < n; i++) labels[i] = i;
        if (lh_hnsw_add_batch(h, labels.data(), v.data(), n, threads, &err)) { fprintf(stderr, "%s\n", err.message); exit(1); }
    }
    size_t search(const float *q, size_t k, size_t ef, uint64_t *out)
    {
        lh_hnsw_hit hits[100];
        size_t n = lh_hnsw_search(h, q, k, ef, nullptr, hits);
        for (size_t i = 0; i < n; i++) out[i] = hits[i].label;
        return n;
    }
};

struct theirs {
    hnswlib::SpaceInterface<float> *space = nullptr;
    hnswlib::HierarchicalNSW<float> *h = nullptr;
    ~theirs() { delete h; delete space; }
    void build(const std::vector<float> &v, size_t n, size_t dim, lh_metric m, unsigned threads)
    {
        delete h;
        delete space;
        space = m == LH_METRIC_L2 ? (hnswlib::SpaceInterface<float> *)new hnswlib::L2Space(dim)
                                  : (hnswlib::SpaceInterface<float> *)new hnswlib::InnerProductSpace(dim);
        h = new hnswlib::HierarchicalNSW<float>(space, n, 16, 200, 100);
        if (threads <= 1) {
            for (size_t i = 0; i < n; i++) h->addPoint(&v[i * dim], i);
            return;
        }
        std::atomic<size_t> next{0};
        std::vector<std::thread> t;
        for (unsigned i = 0; i < threads; i++)
            t.emplace_back([&] {
                for (size_t j; (j = next++) < n;) h->addPoint(&v[j * dim], j);
            });
        for (auto &x : t) x.join();
    }
    size_t search(const float *q, size_t k, size_t ef, uint64_t *out)
    {
        h->setEf(ef);
        auto r = h->searchKnn(q, k);
        size_t n = r.size();
        for (size_t i = n; i-- > 0;) {
            out[i] = r.top().second;
            r.pop();
        }
        return n;
    }
};

// ---- measurement ----

struct point {
    size_t ef;
    double recall, qps;
};

static std::vector<std::vector<uint64_t>> ground_truth(const std::vector<float> &v, size_t n, const std::vector<float> &q,
                                                       size_t nq, size_t dim, lh_metric m, size_t k)
{
    std::vector<std::vector<uint64_t>> gt(nq);
    unsigned t = cores();
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < t; w++)
        workers.emplace_back([&, w] {
            for (size_t i = w; i < nq; i += t) {
                std::vector<std::pair<float, uint64_t>> best;
                best.reserve(k + 1);
                for (size_t j = 0; j < n; j++) {
                    float d = m == LH_METRIC_L2 ? lh_l2sq(&q[i * dim], &v[j * dim], dim) : 1.0f - lh_dot(&q[i * dim], &v[j * dim], dim);
                    if (best.size() < k || d < best.back().first) {
                        best.insert(std::upper_bound(best.begin(), best.end(), std::make_pair(d, (uint64_t)j)), {d, j});
                        if (best.size() > k) best.pop_back();
                    }
                }
                for (auto &b : best) gt[i].push_back(b.second);
            }
        });
    for (auto &x : workers) x.join();
    return gt;
}

template <class E>
static point measure(E &e, const std::vector<float> &q, size_t nq, size_t dim, size_t ef,
                     const std::vector<std::vector<uint64_t>> &gt)
{
    uint64_t out[10];
    size_t hit = 0;
    auto t0 = clk::now();
    for (size_t i = 0; i < nq; i++) {
        size_t n = e.search(&q[i * dim], 10, ef, out);
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < gt[i].size(); b++) hit += out[a] == gt[i][b];
    }
    double s = seconds_since(t0);
    return {ef, (double)hit / (double)(nq * 10), (double)nq / s};
}

static double median(std::vector<double> x)
{
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
}

// QPS at a recall level, interpolating between the sweep's points (0 if never reached).
static double qps_at(const std::vector<point> &c, double target)
{
    for (size_t i = 0; i < c.size(); i++) {
        if (c[i].recall >= target) {
            if (i == 0) return c[i].qps;
            const point &a = c[i - 1], &b = c[i];
            double t = (target - a.recall) / (b.recall - a.recall);
            return a.qps + t * (b.qps - a.qps);
        }
    }
    return 0;
}

struct ratios {
    std::string lines;
};

static void run_dataset(const char *name, size_t n, size_t dim, size_t clusters, float spread, lh_metric m, size_t nq,
                        int reps, ratios &out)
{
    bool cosine = m == LH_METRIC_COSINE;
    printf("\n== dataset %s: %zu x %zu, %s, %zu clusters (spread %.2f)\n", name, n, dim, cosine ? "cosine" : "L2", clusters,
           spread);
    auto v = mixture(n, dim, clusters, spread, 1000 + dim, 1, cosine);
    auto q = mixture(nq, dim, clusters, spread, 1000 + dim, 2, cosine); /* same centres, fresh points */
    auto t0 = clk::now();
    auto gt = ground_truth(v, n, q, nq, dim, m, 10);
    printf("ground truth: %zu queries in %.1f s\n", nq, seconds_since(t0));

    ours o;
    theirs t;
    long base = rss_kb();
    t0 = clk::now();
    t.build(v, n, dim, m, 1);
    double t1 = seconds_since(t0);
    long t_mem = rss_kb() - base;
    delete t.h;
    t.h = nullptr;
    base = rss_kb();
    t0 = clk::now();
    o.build(v, n, dim, m, 1);
    double o1 = seconds_since(t0);
    long o_mem = rss_kb() - base;
    t0 = clk::now();
    t.build(v, n, dim, m, cores());
    double tn = seconds_since(t0);
    t0 = clk::now();
    o.build(v, n, dim, m, cores());
    double on = seconds_since(t0);
    printf("build 1 thread:  ours %.1f s, hnswlib %.1f s (ratio %.2f)\n", o1, t1, o1 / t1);
    printf("build %u threads: ours %.1f s, hnswlib %.1f s (ratio %.2f)\n", cores(), on, tn, on / tn);
    lh_hnsw_info info;
    lh_hnsw_get_info(o.h, &info);
    printf("memory (RSS growth while building): ours %.1f MiB, hnswlib %.1f MiB (ratio %.2f); ours accounted %.1f MiB\n",
           o_mem / 1024.0, t_mem / 1024.0, (double)o_mem / (double)t_mem, info.total_bytes / 1048576.0);

    // the engines built with all threads are the ones queried
    std::vector<size_t> efs = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768};
    std::vector<point> co, ct;
    printf("%6s %10s %10s %12s %12s\n", "ef", "recall-us", "recall-hl", "qps-us", "qps-hl");
    for (size_t ef : efs) {
        std::vector<double> qo, qt;
        point po{}, pt{};
        for (int r = 0; r < reps; r++) {
            if (r % 2 == 0) {
                po = measure(o, q, nq, dim, ef, gt), pt = measure(t, q, nq, dim, ef, gt);
            } else {
                pt = measure(t, q, nq, dim, ef, gt), po = measure(o, q, nq, dim, ef, gt);
            }
            qo.push_back(po.qps), qt.push_back(pt.qps);
        }
        po.qps = median(qo), pt.qps = median(qt);
        co.push_back(po), ct.push_back(pt);
        printf("%6zu %10.4f %10.4f %12.0f %12.0f\n", ef, po.recall, pt.recall, po.qps, pt.qps);
        fflush(stdout);
        if (po.recall > 0.995 && pt.recall > 0.995) break;
    }
    char line[512];
    for (double target : {0.90, 0.95, 0.99}) {
        double a = qps_at(co, target), b = qps_at(ct, target);
        printf("QPS at recall %.2f: ours %.0f, hnswlib %.0f, ratio %.2f\n", target, a, b, b > 0 ? a / b : 0);
        if (target > 0.9) {
            snprintf(line, sizeof line, "ann-ratio dataset=%s recall=%.2f ours_qps=%.0f hnswlib_qps=%.0f ratio=%.2f\n", name,
                     target, a, b, b > 0 ? a / b : 0.0);
            out.lines += line;
        }
    }
    snprintf(line, sizeof line, "ann-build dataset=%s ours_s=%.1f hnswlib_s=%.1f ratio=%.2f\n", name, o1, t1, o1 / t1);
    out.lines += line;

    // SQ8
    ours s;
    s.build(v, n, dim, m, cores(), LH_QUANT_SQ8);
    lh_hnsw_info si;
    lh_hnsw_get_info(s.h, &si);
    printf("SQ8: graph walk memory %.1f MiB vs float %.1f MiB (%.2fx); vector storage %.2fx\n", si.graph_bytes / 1048576.0,
           info.graph_bytes / 1048576.0, (double)si.graph_bytes / (double)info.graph_bytes, (double)dim / (dim * 4.0));
    for (size_t ef : {32, 64, 128, 256}) {
        point pf = measure(o, q, nq, dim, ef, gt), ps = measure(s, q, nq, dim, ef, gt);
        printf("SQ8 ef=%zu: recall %.4f (float %.4f, loss %.4f), qps %.0f (float %.0f)\n", ef, ps.recall, pf.recall,
               pf.recall - ps.recall, ps.qps, pf.qps);
    }

    // filtered search
    for (double sel : {0.5, 0.1, 0.01, 0.001}) {
        std::vector<uint64_t> words((n + 63) / 64);
        rng r{(uint64_t)(sel * 1e6) + 3};
        size_t allowed = 0;
        for (size_t i = 0; i < n; i++)
            if (r.uniform() < sel) words[i / 64] |= 1ULL << (i % 64), allowed++;
        lh_bitmap bm{words.data(), n};
        size_t hit = 0, total = 0, exactk = 0;
        lh_hnsw_hit a[10], b[10];
        auto f0 = clk::now();
        for (size_t i = 0; i < nq; i++) exactk += lh_hnsw_search(o.h, &q[i * dim], 10, 64, &bm, a) == std::min<size_t>(10, allowed);
        double fs = seconds_since(f0);
        f0 = clk::now();
        for (size_t i = 0; i < nq; i++) lh_hnsw_exact(o.h, &q[i * dim], 10, &bm, b);
        double es = seconds_since(f0);
        for (size_t i = 0; i < nq; i++) {
            size_t na = lh_hnsw_search(o.h, &q[i * dim], 10, 64, &bm, a), nb = lh_hnsw_exact(o.h, &q[i * dim], 10, &bm, b);
            total += nb;
            for (size_t x = 0; x < na; x++)
                for (size_t y = 0; y < nb; y++) hit += a[x].label == b[y].label;
        }
        printf("filtered %5.1f%%: recall@10 %.4f, exactly k in %zu/%zu, qps %.0f (exact over matches %.0f)\n", sel * 100,
               (double)hit / (double)total, exactk, nq, nq / fs, nq / es);
    }
}

static void dataset_c(const char *dir, const char *self, ratios &out)
{
    size_t n = 1000000, dim = 128;
    printf("\n== dataset c: %zu x %zu, L2 (build with %u threads, memory, load)\n", n, dim, cores());
    auto v = mixture(n, dim, 1000, 1.0f, 4242, 1, false);
    ours o;
    theirs t;
    long base = rss_kb();
    auto t0 = clk::now();
    t.build(v, n, dim, LH_METRIC_L2, cores());
    double tb = seconds_since(t0);
    long t_mem = rss_kb() - base;
    delete t.h;
    t.h = nullptr;
    base = rss_kb();
    t0 = clk::now();
    o.build(v, n, dim, LH_METRIC_L2, cores());
    double ob = seconds_since(t0);
    long o_mem = rss_kb() - base;
    printf("build: ours %.1f s, hnswlib %.1f s (ratio %.2f); memory ours %.0f MiB, hnswlib %.0f MiB\n", ob, tb, ob / tb,
           o_mem / 1024.0, t_mem / 1024.0);
    std::string path = std::string(dir) + "/c.hnsw";
    lh_err err;
    if (lh_hnsw_save(o.h, path.c_str(), &err)) { fprintf(stderr, "%s\n", err.message); exit(1); }
    // first query in a fresh process, page cache dropped where permitted
    if (system("sync; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null") != 0) {}
    t0 = clk::now();
    std::string cmd = std::string(self) + " --first-query " + path + " 128";
    FILE *p = popen(cmd.c_str(), "r");
    char buf[128] = "";
    if (!p || !fgets(buf, sizeof buf, p)) buf[0] = '\0';
    if (p) pclose(p);
    printf("first query after process start: %.1f ms (process start to answer %.1f ms)\n", atof(buf),
           seconds_since(t0) * 1e3);
    char line[256];
    snprintf(line, sizeof line, "ann-build dataset=c ours_s=%.1f hnswlib_s=%.1f ratio=%.2f\n", ob, tb, ob / tb);
    out.lines += line;
    unlink(path.c_str());
}

template <class E>
__attribute__((noinline)) void query_batch(E &e, const std::vector<float> &q, size_t nq, size_t dim)
{
    uint64_t out[10];
    for (size_t i = 0; i < nq; i++) e.search(&q[i * dim], 10, 64, out);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--first-query")) {
        auto t0 = clk::now();
        lh_hnsw *h;
        lh_err err;
        if (lh_hnsw_load(argv[2], &h, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        size_t dim = (size_t)atoi(argv[3]);
        std::vector<float> q(dim, 0.5f);
        lh_hnsw_hit hits[10];
        lh_hnsw_search(h, q.data(), 10, 64, nullptr, hits);
        printf("%.3f\n", seconds_since(t0) * 1e3);
        lh_hnsw_free(h);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--callgrind")) {
        // only the query batch is counted (valgrind --collect-atstart=no --toggle-collect=query_batch*)
        // a fixed batch on a small index, AVX2 kernels (valgrind cannot decode AVX-512)
        lh_distance_force("avx2");
        size_t n = 20000, dim = 128, nq = 200;
        auto v = mixture(n, dim, 100, 1.0f, 9, 1, false), q = mixture(nq, dim, 100, 1.0f, 9, 2, false);
        if (!strcmp(argv[2], "ours")) {
            ours o;
            o.build(v, n, dim, LH_METRIC_L2, 1);
            query_batch(o, q, nq, dim);
        } else {
            theirs t;
            t.build(v, n, dim, LH_METRIC_L2, 1);
            query_batch(t, q, nq, dim);
        }
        return 0;
    }
    double scale = 1.0;
    int reps = 3;
    bool skip_c = false;
    std::string only = "abc";
    const char *dir = "build/bench";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--skip-c")) skip_c = true;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    }
    printf("kernels: %s, %u cores\n", lh_distance_isa(), cores());
    ratios r;
    if (only.find('a') != std::string::npos) run_dataset("a", (size_t)(200000 * scale), 128, 100, 1.0f, LH_METRIC_L2, 1000, reps, r);
    if (only.find('b') != std::string::npos) run_dataset("b", (size_t)(100000 * scale), 384, 100, 1.0f, LH_METRIC_COSINE, 1000, reps, r);
    if (!skip_c && only.find('c') != std::string::npos) dataset_c(dir, argv[0], r);
    printf("\n%s", r.lines.c_str());
    return 0;
}
