/*
 * outfile.h - where a command's -o FILE goes: never onto the DB it reads,
 * never half-written. Every command that writes a file (report, export,
 * compare) goes through here:
 *   - FILE that is the DB or its -wal, -shm or -journal, or the name
 *     `bnbench run` may briefly give its space reserve (-reserve,
 *     db/reserve.h), is refused (by resolved path, through symlinks, or by
 *     device and inode: hard links);
 *   - a regular file is written to a temporary file in the same directory,
 *     flushed, fsync'ed and closed, then renamed over FILE: a reader sees the
 *     old file or the whole new one, and a failed write leaves no file;
 *   - a FILE that exists and is not a regular file (/dev/full, a FIFO) is
 *     written in place; NULL or "-" is standard output; every write, flush
 *     and close is checked and a failure is reported with strerror.
 * Errors fill err (cap bytes) with "cannot write FILE: reason" or the
 * refusal, long paths elided (cli.h). Not thread-safe (one per command).
 */
#ifndef BNB_OUTFILE_H
#define BNB_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct bnb_outfile bnb_outfile;

/* Opens the output named path (NULL or "-": standard output) for a command
 * that reads the DB at db_path (NULL: none). Returns 0 and *out, or -1 with
 * err (nothing created). */
int bnb_out_open(const char *path, const char *db_path, bnb_outfile **out, char *err, size_t cap);

/* The stream to write to. */
FILE *bnb_out_stream(bnb_outfile *o);

/* Finishes the output: checks the stream for errors, flushes, fsyncs,
 * closes and renames the temporary file into place. Frees o in every case.
 * Returns 0, or -1 with err (the temporary file removed, FILE untouched). */
int bnb_out_commit(bnb_outfile *o, char *err, size_t cap);

/* Drops the output (temporary file removed, FILE untouched); frees o.
 * NULL is a no-op. */
void bnb_out_abort(bnb_outfile *o);

/* open + fputs(text) (+ a final newline when text lacks one and nl) +
 * commit. Returns 0 or -1 with err. */
int bnb_out_write(const char *path, const char *db_path, const char *text, bool nl, char *err,
                  size_t cap);

#endif
