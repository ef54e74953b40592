/*
 * lh_file.h — a whole file read in pieces without copying it.
 *
 * lh_file_each hands fn the bytes of the open regular file fd in order, from
 * byte `from` on, in pieces of at most `piece` bytes, straight from the page
 * cache: a private
 * read-only mapping, LH_FILE_WINDOW bytes at a time, populated up front (no
 * copy into a buffer, no page faults). Bytes appended after the call's fstat
 * are read (copied) after the mapped ones, so the pieces are the file up to
 * its end as read(2) would find it.
 *
 * A file cut short while it is mapped would kill the process (SIGBUS on the
 * first page past its new end). Here the scan ends with LH_EIO ("changed
 * while being read") instead: a SIGBUS handler, (re)installed by each call
 * that finds another in place, jumps back to the scan when the fault lies in
 * the calling thread's window, and gives any other SIGBUS to the handler it
 * replaced.
 */
#ifndef LH_FILE_H
#define LH_FILE_H

#include "lakehouse/lh_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_FILE_WINDOW (16u << 20) /* bytes mapped at a time (and resident) */

/* Takes the next n bytes at p (valid during the call); false ends the scan. */
typedef bool (*lh_file_piece_fn)(void *ctx, const char *p, size_t n);

/* name is the file as messages name it. LH_OK when fn saw every byte or
 * stopped the scan; LH_EIO on a read error or a file cut short. A scan fn
 * stopped can go on (in any thread) with from = the bytes it was given. */
lh_code lh_file_each(int fd, const char *name, uint64_t from, size_t piece, lh_file_piece_fn fn, void *ctx,
                     lh_err *err);

#endif
