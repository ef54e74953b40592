/*
 * hnsw_io.c — the index file: saved once, loaded with mmap, verified on demand.
 *
 * Format, version 1, little-endian. A 256-byte header, then regions, each
 * starting on a 4096-byte boundary:
 *
 *   header   magic "LHHNSW\0\1", version, parameters (dim, metric, M,
 *            ef_construction, ef_search, quantization, rescore, seed),
 *            count, deleted, entry/top level, the node layout (stride and
 *            field offsets), each region's offset and length, the file
 *            length, a CRC32C of all data after the header, and a CRC32C
 *            of the header itself
 *   nodes    count node blocks, exactly as in memory (hnsw_internal.h)
 *   fvecs    SQ8 only: count float vectors, for re-scoring
 *   upper    the upper-link pool: 4 MiB chunks, the last one cut to its use
 *   map      label map: u64 keys[slots], then u32 values[slots] (node + 1)
 *   sq8      SQ8 only: float lo[dim], float step[dim]
 *
 * Loading checks the header (magic, version, CRC, every offset and length
 * against the file size, the layout against the parameters) and maps the
 * file privately: O(1) work, so a million-vector index answers its first
 * query as soon as the pages it touches are read. Node contents are not
 * trusted: every link and offset read from a node is bounds-checked where it
 * is used (hnsw.c), so a damaged body can give wrong answers but never a
 * crash. lh_hnsw_verify checks the data CRC and the whole graph.
 */
#include "internal.h"

#include "lakehouse/lh_crc32c.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "LHHNSW\0\1"
#define VERSION 1
#define HEADER_SIZE 256
#define ALIGN 4096

typedef struct file_header {
    char magic[8];
    uint32_t version, header_size;
    uint32_t dim, metric, M, ef_construction, ef_search, quantization, rescore, reserved;
    uint64_t seed;
    uint64_t count, deleted, ep;
    uint64_t stride, payload_bytes, links_off, label_off;
    uint64_t nodes_off, nodes_len;
    uint64_t fvecs_off, fvecs_len;
    uint64_t upper_off, upper_len;
    uint64_t map_off, map_slots;
    uint64_t sq_off;
    uint64_t file_len;
    uint64_t data_crc;
    uint64_t header_crc; /* last: covers the bytes before it */
} file_header;

_Static_assert(sizeof(file_header) <= HEADER_SIZE, "header too large");


static uint64_t align_up(uint64_t n)
{
    return (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

/* ---- save ---- */

static lh_code write_at(int fd, uint64_t off, const void *p, size_t n, uint32_t *crc, const char *path, lh_err *err)
{
    const char *c = p;
    if (crc) *crc = lh_crc32c(*crc, p, n);
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return lh_err_errno(err, LH_EIO, errno, "writing %s", path);
        c += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return LH_OK;
}

/* CRC of the zero padding between regions, so the data CRC covers every byte. */
static uint32_t crc_zeros(uint32_t crc, uint64_t n)
{
    static const unsigned char zeros[ALIGN];
    while (n) {
        size_t k = n < ALIGN ? (size_t)n : ALIGN;
        crc = lh_crc32c(crc, zeros, k);
        n -= k;
    }
    return crc;
}

lh_code lh_hnsw_save(const lh_hnsw *h, const char *path, lh_err *err)
{
    uint32_t count = atomic_load(&h->count);
    file_header fh = {0};
    memcpy(fh.magic, MAGIC, 8);
    fh.version = VERSION;
    fh.header_size = HEADER_SIZE;
    fh.dim = h->dim;
    fh.metric = (uint32_t)h->p.metric;
    fh.M = h->M;
    fh.ef_construction = h->p.ef_construction;
    fh.ef_search = h->p.ef_search;
    fh.quantization = (uint32_t)h->p.quantization;
    fh.rescore = h->p.rescore;
    fh.seed = h->p.seed;
    fh.count = count;
    fh.deleted = atomic_load(&h->deleted);
    fh.ep = atomic_load(&h->ep);
    fh.stride = h->stride;
    fh.payload_bytes = h->payload_bytes;
    fh.links_off = h->links_off;
    fh.label_off = h->label_off;
    fh.nodes_off = align_up(HEADER_SIZE);
    fh.nodes_len = (uint64_t)count * h->stride;
    fh.fvecs_off = align_up(fh.nodes_off + fh.nodes_len);
    fh.fvecs_len = h->fchunks ? (uint64_t)count * h->dim * sizeof(float) : 0;
    fh.upper_off = align_up(fh.fvecs_off + fh.fvecs_len);
    fh.upper_len = (uint64_t)h->upper_used * 4;
    fh.map_off = align_up(fh.upper_off + fh.upper_len);
    fh.map_slots = h->map_slots;
    fh.sq_off = align_up(fh.map_off + fh.map_slots * 12);
    fh.file_len = fh.sq_off + (h->fchunks ? 2ULL * h->dim * sizeof(float) : 0);

    char *tmp = lh_xasprintf("%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        lh_code rc = lh_err_errno(err, LH_EIO, errno, "cannot create %s", tmp);
        free(tmp);
        return rc;
    }
    lh_code rc = LH_OK;
    uint32_t crc = 0;
    uint64_t pos = fh.nodes_off;
    crc = crc_zeros(crc, 0);
    /* nodes: whole chunks, the last one cut */
    for (uint32_t c = 0; rc == LH_OK && (uint64_t)c * NODES_PER_CHUNK < count; c++) {
        uint32_t in_chunk = count - c * NODES_PER_CHUNK;
        if (in_chunk > NODES_PER_CHUNK) in_chunk = NODES_PER_CHUNK;
        /* copy out so the lock bits never reach the file */
        size_t bytes = (size_t)in_chunk * h->stride;
        char *copy = lh_xmalloc(bytes);
        memcpy(copy, h->chunks[c], bytes);
        for (uint32_t i = 0; i < in_chunk; i++) {
            uint32_t *meta = (uint32_t *)(copy + (size_t)i * h->stride + h->label_off + 16);
            *meta &= ~META_LOCK;
        }
        rc = write_at(fd, pos, copy, bytes, &crc, tmp, err);
        free(copy);
        pos += bytes;
    }
    crc = crc_zeros(crc, fh.fvecs_off - pos);
    pos = fh.fvecs_off;
    for (uint32_t c = 0; rc == LH_OK && h->fchunks && (uint64_t)c * NODES_PER_CHUNK < count; c++) {
        uint32_t in_chunk = count - c * NODES_PER_CHUNK;
        if (in_chunk > NODES_PER_CHUNK) in_chunk = NODES_PER_CHUNK;
        size_t bytes = (size_t)in_chunk * h->dim * sizeof(float);
        rc = write_at(fd, pos, h->fchunks[c], bytes, &crc, tmp, err);
        pos += bytes;
    }
    crc = crc_zeros(crc, fh.upper_off - pos);
    pos = fh.upper_off;
    for (size_t c = 0; rc == LH_OK && c < h->upper_chunks; c++) {
        uint64_t start = (uint64_t)c << UPPER_SHIFT;
        uint64_t end = start + UPPER_CHUNK < h->upper_used ? start + UPPER_CHUNK : h->upper_used;
        if (end <= start) break;
        size_t bytes = (size_t)(end - start) * 4;
        rc = write_at(fd, pos, h->upper[c], bytes, &crc, tmp, err);
        pos += bytes;
    }
    crc = crc_zeros(crc, fh.map_off - pos);
    if (rc == LH_OK) rc = write_at(fd, fh.map_off, h->map_keys, fh.map_slots * 8, &crc, tmp, err);
    if (rc == LH_OK) rc = write_at(fd, fh.map_off + fh.map_slots * 8, h->map_vals, fh.map_slots * 4, &crc, tmp, err);
    crc = crc_zeros(crc, fh.sq_off - (fh.map_off + fh.map_slots * 12));
    if (rc == LH_OK && h->fchunks) {
        rc = write_at(fd, fh.sq_off, h->sq_lo, h->dim * sizeof(float), &crc, tmp, err);
        if (rc == LH_OK) rc = write_at(fd, fh.sq_off + h->dim * sizeof(float), h->sq_step, h->dim * sizeof(float), &crc, tmp, err);
    }
    fh.data_crc = crc;
    fh.header_crc = lh_crc32c(0, &fh, offsetof(file_header, header_crc));
    char header[HEADER_SIZE] = {0};
    memcpy(header, &fh, sizeof fh);
    if (rc == LH_OK) rc = write_at(fd, 0, header, HEADER_SIZE, NULL, tmp, err);
    if (rc == LH_OK && ftruncate(fd, (off_t)fh.file_len) != 0) rc = lh_err_errno(err, LH_EIO, errno, "sizing %s", tmp);
    if (rc == LH_OK && fsync(fd) != 0) rc = lh_err_errno(err, LH_EIO, errno, "fsync %s", tmp);
    close(fd);
    if (rc == LH_OK && rename(tmp, path) != 0) rc = lh_err_errno(err, LH_EIO, errno, "cannot move %s into place", path);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- load ---- */

static lh_code bad(lh_err *err, const char *path, const char *what)
{
    return lh_err_set(err, LH_ECORRUPT, "%s is not a usable index file: %s", path, what);
}

static bool region_ok(const file_header *fh, uint64_t off, uint64_t len)
{
    return off % ALIGN == 0 && off >= HEADER_SIZE && off <= fh->file_len && len <= fh->file_len - off;
}

/* A cold start: the first search touches a few thousand scattered pages,
 * and with the kernel's read-around (128 KiB per fault) it would read some
 * 30 times more than it needs. So a mapping starts random-access; once the
 * first search is done (or after a second), a thread reads the whole file in
 * order, when it fits easily in free memory, so that the searches after it
 * find their pages in memory. */
static void *warm_main(void *arg)
{
    struct lh_hnsw *h = arg;
    for (int i = 0; i < 200 && !atomic_load(&h->searched) && !atomic_load(&h->stop_warming); i++) usleep(5000);
    if (atomic_load(&h->stop_warming)) return NULL;
    /* read it in order (the kernel reads ahead of a sequential walk), a byte per page */
    madvise(h->mapping, h->mapping_len, MADV_SEQUENTIAL);
    const volatile char *p = h->mapping;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < h->mapping_len && !atomic_load_explicit(&h->stop_warming, memory_order_relaxed);
         off += page)
        (void)p[off];
    madvise(h->mapping, h->mapping_len, MADV_NORMAL);
    atomic_store(&h->paged_in, true);
    return NULL;
}

static void start_warming(struct lh_hnsw *h)
{
    if (h->mapping_len < HNSW_WARM_MIN_BYTES) return; /* small files: read-around is no waste */
    madvise(h->mapping, h->mapping_len, MADV_RANDOM);
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && h->mapping_len < (size_t)pages * (size_t)page / 2)
        h->warming = pthread_create(&h->warmer, NULL, warm_main, h) == 0;
}

static void hnsw_unmap(struct lh_hnsw *h);

lh_code lh_hnsw_load(const char *path, lh_hnsw **out, lh_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, errno == ENOENT ? LH_ENOTFOUND : LH_EIO, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return lh_err_errno(err, LH_EIO, errno, "stat %s", path);
    }
    file_header fh;
    if ((uint64_t)st.st_size < HEADER_SIZE || pread(fd, &fh, sizeof fh, 0) != (ssize_t)sizeof fh) {
        close(fd);
        return bad(err, path, "shorter than its header (truncated?)");
    }
    const char *why = NULL;
    if (memcmp(fh.magic, MAGIC, 8) != 0) why = "wrong magic (not a Lakehouse HNSW index)";
    else if (fh.version != VERSION) why = "unsupported format version";
    else if (fh.header_size != HEADER_SIZE) why = "unexpected header size";
    else if (lh_crc32c(0, &fh, offsetof(file_header, header_crc)) != fh.header_crc) why = "header checksum mismatch";
    else if (fh.file_len != (uint64_t)st.st_size) why = "file length differs from its header (truncated?)";
    if (why) {
        close(fd);
        return bad(err, path, why);
    }
    lh_hnsw_params p = {.dim = fh.dim, .metric = (lh_metric)fh.metric, .M = fh.M, .ef_construction = fh.ef_construction,
                        .ef_search = fh.ef_search, .seed = fh.seed, .quantization = (lh_quant)fh.quantization,
                        .rescore = fh.rescore};
    struct lh_hnsw *h = lh_xcalloc(1, sizeof *h);
    lh_err perr;
    if (hnsw_init(h, &p, &perr) != LH_OK) {
        close(fd);
        lh_hnsw_free(h);
        return bad(err, path, perr.message);
    }
    bool sq8 = p.quantization == LH_QUANT_SQ8;
    if (fh.stride != h->stride || fh.payload_bytes != h->payload_bytes || fh.links_off != h->links_off ||
        fh.label_off != h->label_off)
        why = "node layout does not match its parameters";
    else if (fh.count > (uint64_t)MAX_CHUNKS * NODES_PER_CHUNK || fh.deleted > fh.count)
        why = "impossible node count";
    else if (fh.nodes_len != fh.count * fh.stride || !region_ok(&fh, fh.nodes_off, fh.nodes_len))
        why = "node region out of bounds";
    else if (fh.fvecs_len != (sq8 ? fh.count * fh.dim * sizeof(float) : 0) || !region_ok(&fh, fh.fvecs_off, fh.fvecs_len))
        why = "vector region out of bounds";
    else if (fh.upper_len % 4 || !region_ok(&fh, fh.upper_off, fh.upper_len) ||
             fh.upper_len / 4 > ((uint64_t)1 << 16) * UPPER_CHUNK)
        why = "upper-link region out of bounds";
    else if ((fh.map_slots & (fh.map_slots - 1)) || fh.map_slots < fh.count || fh.map_slots > ((uint64_t)1 << 34) ||
             !region_ok(&fh, fh.map_off, fh.map_slots * 12))
        why = "label map out of bounds";
    else if (!region_ok(&fh, fh.sq_off, sq8 ? 2ULL * fh.dim * sizeof(float) : 0))
        why = "quantizer region out of bounds";
    else if (fh.count == 0 ? fh.ep != UINT64_MAX : ((uint32_t)fh.ep >= fh.count || (fh.ep >> 32) > 30))
        why = "entry point out of bounds";
    if (why) {
        close(fd);
        lh_hnsw_free(h);
        return bad(err, path, why);
    }
    void *map = mmap(NULL, (size_t)fh.file_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        lh_hnsw_free(h);
        return lh_err_errno(err, LH_EIO, errno, "cannot map %s", path);
    }
    h->mapping = map;
    h->mapping_len = (size_t)fh.file_len;
    h->unmap = hnsw_unmap;
    start_warming(h);
    char *base = map;
    for (uint64_t c = 0; c * NODES_PER_CHUNK < fh.count; c++) {
        h->chunks[c] = base + fh.nodes_off + c * NODES_PER_CHUNK * fh.stride;
        if (sq8) h->fchunks[c] = (float *)(base + fh.fvecs_off) + c * NODES_PER_CHUNK * fh.dim;
    }
    h->capacity = fh.count;
    h->upper_used = fh.upper_len / 4;
    h->upper_chunks = (h->upper_used + UPPER_CHUNK - 1) >> UPPER_SHIFT;
    for (size_t c = 0; c < h->upper_chunks; c++) h->upper[c] = (uint32_t *)(base + fh.upper_off) + (c << UPPER_SHIFT);
    h->map_keys = (uint64_t *)(base + fh.map_off);
    h->map_vals = (uint32_t *)(base + fh.map_off + fh.map_slots * 8);
    h->map_slots = fh.map_slots;
    h->map_used = fh.count;
    h->map_mapped = true;
    if (sq8) {
        memcpy(h->sq_lo, base + fh.sq_off, fh.dim * sizeof(float));
        memcpy(h->sq_step, base + fh.sq_off + fh.dim * sizeof(float), fh.dim * sizeof(float));
        h->sq_ready = true;
    }
    atomic_store(&h->count, (uint32_t)fh.count);
    atomic_store(&h->deleted, (size_t)fh.deleted);
    atomic_store(&h->ep, fh.ep);
    *out = h;
    return LH_OK;
}

void hnsw_file_reseal(unsigned char *data, size_t len)
{
    if (len < HEADER_SIZE) return;
    file_header fh;
    memcpy(&fh, data, sizeof fh);
    if (fh.nodes_off < len) fh.data_crc = lh_crc32c(0, data + fh.nodes_off, len - fh.nodes_off);
    fh.header_crc = lh_crc32c(0, &fh, offsetof(file_header, header_crc));
    memcpy(data, &fh, sizeof fh);
}

static void hnsw_unmap(struct lh_hnsw *h)
{
    if (h->warming) {
        atomic_store(&h->stop_warming, true);
        pthread_join(h->warmer, NULL);
        h->warming = false;
    }
    if (h->mapping) munmap(h->mapping, h->mapping_len);
    h->mapping = NULL;
}

lh_code lh_hnsw_verify(const lh_hnsw *h, lh_err *err)
{
    if (h->mapping) {
        const file_header *fh = h->mapping;
        /* the data CRC covers everything after the header, padding included;
         * deletes made since loading are private copies and change it */
        uint32_t crc = lh_crc32c(0, (const char *)h->mapping + fh->nodes_off, h->mapping_len - fh->nodes_off);
        if (crc != fh->data_crc && atomic_load(&h->deleted) == fh->deleted)
            return lh_err_set(err, LH_ECORRUPT, "index data checksum mismatch");
    }
    uint32_t n = atomic_load(&h->count);
    for (uint32_t id = 0; id < n; id++) {
        const uint32_t *l = links0(h, id);
        if (l[0] > h->M0) return lh_err_set(err, LH_ECORRUPT, "node %u has %u links on layer 0", id, l[0]);
        for (uint32_t i = 1; i <= l[0]; i++)
            if (l[i] >= n) return lh_err_set(err, LH_ECORRUPT, "node %u links to node %u of %u", id, l[i], n);
        int level = (int)(atomic_load(meta_of(h, id)) & META_LEVEL);
        if (level > 30) return lh_err_set(err, LH_ECORRUPT, "node %u has level %d", id, level);
        for (int lc = 1; lc <= level; lc++) {
            const uint32_t *u = upper_links(h, id, lc);
            if (!u) return lh_err_set(err, LH_ECORRUPT, "node %u has no links for its level %d", id, lc);
            if (u[0] > h->M) return lh_err_set(err, LH_ECORRUPT, "node %u has %u links on level %d", id, u[0], lc);
            for (uint32_t i = 1; i <= u[0]; i++)
                if (u[i] >= n) return lh_err_set(err, LH_ECORRUPT, "node %u links to node %u of %u", id, u[i], n);
        }
    }
    return LH_OK;
}
