/*
 * spool.h - the publisher's spool: runs that could not be sent to a
 * collector wait in a directory next to their DB, `<DB>.spool/`, one file
 * per run named by its UUID, until the next `bnbench publish` or
 * `bnbench run --publish` sends them; a run the collector refused (a 4xx)
 * moves to `<DB>.spool/rejected/` with the reason and is never resent
 * automatically.
 *
 * A file `<uuid>.run` is one line of metadata as a JSON object (uuid, run
 * id, machine, the collector's URL redacted, when it was first spooled, the
 * attempts so far, the last error), a newline, then the run document
 * exactly as it is sent (db/rundoc.h). Every write is atomic: a temporary
 * file in the same directory, fsync, rename over the final name, fsync of
 * the directory; a crash leaves the old file or the new one, never half of
 * one. Files read back are checked like any input (size limit, the
 * metadata's fields and types, the name matching the uuid inside).
 */
#ifndef BNB_SPOOL_H
#define BNB_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One spooled (or rejected) run: the metadata line of its file. */
typedef struct bnb_spool_entry {
    char uuid[40];        /* 36 characters: lowercase hex and '-' */
    int64_t run_id;       /* its id in the DB the spool belongs to */
    char machine[64];     /* the machine name */
    char url[512];        /* the collector's base URL, redacted */
    time_t spooled_at;    /* when it was first spooled (UTC seconds) */
    int attempts;         /* sends tried so far */
    char last_error[512]; /* why the last one failed (the rejection for rejected runs) */
} bnb_spool_entry;

/* The spool directory of the DB at dbpath ("<dbpath>.spool") into out.
 * -1 with err when it does not fit. */
int bnb_spool_path(const char *dbpath, char *out, size_t cap, char *err, size_t ecap);

/* True when uuid is a UUID the spool names files by (8-4-4-4-12 hex). */
bool bnb_spool_uuid_ok(const char *uuid);

/* Writes (or replaces) the entry e with the document doc (len bytes) into
 * dir, or into dir/rejected when rejected; creates the directories (0700)
 * as needed. Atomic (see the top). 0, or -1 with err (cap bytes). */
int bnb_spool_put(const char *dir, bool rejected, const bnb_spool_entry *e, const char *doc,
                  size_t len, char *err, size_t cap);

/* Reads the file of uuid in dir (or dir/rejected): its metadata into *e
 * and, when doc is not NULL, its document into *doc (malloc'd, NUL-
 * terminated; *len its length). 0, 1 when there is no such file, or -1
 * with err for a file that cannot be read or is not a spool file. */
int bnb_spool_get(const char *dir, bool rejected, const char *uuid, bnb_spool_entry *e, char **doc,
                  size_t *len, char *err, size_t cap);

/* Removes the file of uuid from dir (or dir/rejected); a file that is not
 * there is not an error. 0, or -1 with err. */
int bnb_spool_remove(const char *dir, bool rejected, const char *uuid, char *err, size_t cap);

/* The entries of dir (or dir/rejected), oldest first (spooled_at, then
 * run id, then uuid). A missing directory is an empty spool. A file that is not a valid
 * spool file is skipped and counted in *bad (may be NULL). *out is
 * malloc'd (NULL when *n is 0); the caller frees it. 0, or -1 with err. */
int bnb_spool_list(const char *dir, bool rejected, bnb_spool_entry **out, int *n, int *bad,
                   char *err, size_t cap);

#endif
