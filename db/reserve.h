/*
 * reserve.h - space held beside the DB for the last write of a run that a
 * full file system stopped: marking the run `failed` with the reason.
 *
 * Why: when the disk is completely full, the UPDATE that marks a run failed
 * needs room too (WAL frames; the -shm may grow), so without a reserve the
 * run usually stays `running` and the next write-open can only store
 * "process ... is gone" (issue 13). SQLite cannot make that room itself: a
 * checkpoint, which would let the WAL be rewritten from its start, first
 * grows the DB file (measured: SQLITE_FULL on a full 2 MiB tmpfs).
 *
 * What: `bnbench run` takes BNB_RESERVE_BYTES on the DB's file system
 * right after it opens the DB, before the run begins, and gives them back
 * (bnb_reserve_release) right before it marks a stopped run failed. The space is an anonymous file
 * (O_TMPFILE in the directory of the DB, through symlinks): it has no name,
 * so no other path can meet it or mistake it for the DB, and it disappears
 * with the process however that ends (SIGKILL, crash) - nothing is left to
 * clean up. Where the file system lacks O_TMPFILE, the file is created as
 * BNB_RESERVE_SUFFIX beside the DB (`<db>-reserve`, created exclusively,
 * mode 0600) and unlinked at once, before any space is given to it; a stale
 * one (a process killed between those two calls) is a regular file of that
 * name and is removed, never reused as it is nor grown. `-o` refuses that
 * name like the DB's own files (suites/cli/outfile.c).
 *
 * Size, measured on a full tmpfs (tests/test_reserve.c logs it): the
 * failed mark with the longest reason the CLI stores (767 bytes) appends 1
 * to 6 WAL frames of 4120 bytes (a 4 KiB page and its header): the run's
 * leaf and, when the longer row makes it split, its siblings, their parent
 * and page 1; at most 24,720 bytes for DBs of 1 to 40 runs (and 6 frames up to
 * 1000 runs, measured apart). With a fresh WAL (its 32-byte header too) the
 * smallest reserve that let the mark commit was 28 KiB. The -shm grows by
 * 32 KiB each 4096 frames. 256 KiB is more than 4 times both together,
 * room for deeper b-trees.
 *
 * Limits: best effort. Another process may take the space freed before the
 * mark is written; on copy-on-write file systems (btrfs, ZFS) freed blocks
 * may come back only at the next transaction commit of the file system.
 */
#ifndef BNB_RESERVE_H
#define BNB_RESERVE_H

#include <stdbool.h>
#include <stddef.h>

#define BNB_RESERVE_BYTES  (256 * 1024)
#define BNB_RESERVE_SUFFIX "-reserve"

typedef struct bnb_reserve bnb_reserve;

/* Takes bytes of space (allocated, not sparse) on the file system of the DB
 * at db_path (which need not exist yet: its directory is used). Returns 0
 * and *out, or -1 with err (cap bytes): "cannot reserve 256 KiB beside DB
 * PATH for marking a stopped run failed: <strerror>"; *out is then NULL.
 * Never leaves a named file behind. */
int bnb_reserve_take(const char *db_path, size_t bytes, bnb_reserve **out, char *err, size_t cap);

/* bnb_reserve_take without O_TMPFILE: always the named fallback (for tests
 * of it; same contract). */
int bnb_reserve_take_named(const char *db_path, size_t bytes, bnb_reserve **out, char *err,
                           size_t cap);

/* The bytes r holds now (0 after release; NULL: 0). */
size_t bnb_reserve_held(const bnb_reserve *r);

/* Frees r's space at once (the file is truncated to 0); r stays valid.
 * Returns true when space was held and is now free. NULL is a no-op. */
bool bnb_reserve_release(bnb_reserve *r);

/* Releases and frees r. NULL is a no-op. */
void bnb_reserve_close(bnb_reserve *r);

#endif
