/*
 * pass.c — the one pass over an input's bytes (see internal.h): content
 * hash, census of lines that are not UTF-8, quote count; stoppable at a
 * piece's end, for another thread to go on.
 */
#include "internal.h"

#include "lakehouse/lh_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PASS_PIECE (256u << 10) /* the census reads what the hash just brought into the core's cache */

lh_code ingest_pass_open(ingest_pass *p, const char *path, const char *name, bool sha256, lh_err *err)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->sha256 = sha256;
    lh_blake3_init(&p->blake3);
    if (sha256) lh_sha256_init(&p->sha);
    atomic_init(&p->hand_over, false);
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", name);
    return LH_OK;
}

static bool pass_piece(void *ctx, const char *at, size_t n)
{
    ingest_pass *p = ctx;
    lh_blake3_update(&p->blake3, at, n);
    if (p->sha256) lh_sha256_update(&p->sha, at, n);
    lh_utf8_census_feed(&p->census, at, n);
    for (const char *end = at + n; (at = memchr(at, '"', (size_t)(end - at))); at++) p->quotes++;
    p->done += n;
    return !atomic_load_explicit(&p->hand_over, memory_order_relaxed);
}

lh_code ingest_pass_run(ingest_pass *p, lh_err *err)
{
    return lh_file_each(p->fd, p->name, p->done, PASS_PIECE, pass_piece, p, err);
}

void ingest_pass_finish(ingest_pass *p, char hash[LH_CONTENT_HASH_LEN + 1], char sha256[LH_SHA256_HEX_LEN + 1])
{
    lh_utf8_census_end(&p->census);
    lh_blake3_final_content(&p->blake3, hash);
    if (p->sha256) lh_sha256_final_hex(&p->sha, sha256);
}

void ingest_pass_close(ingest_pass *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}
