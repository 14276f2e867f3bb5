/*
 * outfile.c - -o FILE of every command: refuse the DB, write whole or not at
 * all (contract: suites/cli/outfile.h).
 *
 * The DB check compares resolved paths (realpath of the directory plus the
 * base name, so a FILE that does not exist yet is compared too) and, for
 * files that exist, device and inode (hard links, symlinks). The temporary
 * file is made with mkstemp next to FILE, so rename(2) stays within one
 * file system and is atomic.
 */
#include "suites/cli/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/reserve.h"
#include "suites/cli/cli.h"

struct bnb_outfile {
    FILE *f;
    bool is_stdout;
    char *tmp;  /* temporary file, NULL when writing in place */
    char *dest; /* resolved destination of tmp */
    char shown[BNB_CLI_QUOTE_MAX + 1];
};

static const char *const db_suffix[] = {"", "-wal", "-shm", "-journal", BNB_RESERVE_SUFFIX};

/* The absolute form of path: realpath of its directory + its base name.
 * malloc'd; NULL when the directory cannot be resolved (errno set). */
static char *resolve(const char *path)
{
    char *d = strdup(path), *b = strdup(path), *out = NULL;
    if (!d || !b)
        goto done;
    char dir[PATH_MAX];
    const char *base = basename(b);
    if (!realpath(dirname(d), dir))
        goto done;
    size_t n = strlen(dir) + strlen(base) + 2;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base);
done:
    free(d);
    free(b);
    return out;
}

/* Whether dest (resolved; st valid when exists) is the DB or a file of it. */
static const char *db_file_of(const char *dest, bool exists, const struct stat *st,
                              const char *db_path)
{
    static const char *const what[] = {"the DB itself", "the DB's write-ahead log",
                                       "the DB's shared-memory file", "the DB's rollback journal",
                                       "the name of bnbench run's space reserve (db/reserve.h)"};
    char *db = resolve(db_path);
    char real[PATH_MAX];
    const char *dbr = realpath(db_path, real) ? real : db;
    const char *hit = NULL;
    for (size_t i = 0; dbr && !hit && i < sizeof db_suffix / sizeof db_suffix[0]; i++) {
        size_t n = strlen(dbr) + strlen(db_suffix[i]) + 1;
        char *p = malloc(n);
        if (!p)
            break;
        snprintf(p, n, "%s%s", dbr, db_suffix[i]);
        struct stat ds;
        if (!strcmp(p, dest) ||
            (exists && stat(p, &ds) == 0 && ds.st_dev == st->st_dev && ds.st_ino == st->st_ino))
            hit = what[i];
        free(p);
    }
    free(db);
    return hit;
}

int bnb_out_open(const char *path, const char *db_path, bnb_outfile **out, char *err, size_t cap)
{
    *out = NULL;
    bnb_outfile *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, cap, "cannot write output: out of memory");
        return -1;
    }
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        o->is_stdout = true;
        snprintf(o->shown, sizeof o->shown, "standard output");
        *out = o;
        return 0;
    }
    bnb_cli_quote(path, o->shown);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    char real[PATH_MAX];
    /* through a symlink to its target, so the link stays a link */
    o->dest = exists && realpath(path, real) ? strdup(real) : resolve(path);
    if (!o->dest) {
        snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    const char *hit = db_path ? db_file_of(o->dest, exists, &st, db_path) : NULL;
    if (hit) {
        char q[BNB_CLI_QUOTE_MAX + 1];
        snprintf(err, cap, "-o %s is %s (--db %s); write the output to another file", o->shown, hit,
                 bnb_cli_quote(db_path, q));
        goto fail;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "cannot write %s: it is a directory", o->shown);
        goto fail;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        o->f = fopen(path, "w"); /* a device or FIFO: written in place */
        if (!o->f) {
            snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(errno));
            goto fail;
        }
        *out = o;
        return 0;
    }
    size_t n = strlen(o->dest) + 16;
    o->tmp = malloc(n);
    if (!o->tmp) {
        snprintf(err, cap, "cannot write %s: out of memory", o->shown);
        goto fail;
    }
    char *slash = strrchr(o->dest, '/');
    snprintf(o->tmp, n, "%.*s.%s.XXXXXX", (int)(slash - o->dest + 1), o->dest, slash + 1);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        goto fail;
    }
    /* the mode a plain fopen would give, or the replaced file's */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, exists ? (st.st_mode & 07777) : (0666 & ~um)) != 0 ||
        !(o->f = fdopen(fd, "w"))) {
        snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(errno));
        close(fd);
        goto fail;
    }
    *out = o;
    return 0;
fail:
    bnb_out_abort(o);
    return -1;
}

FILE *bnb_out_stream(bnb_outfile *o)
{
    return o->f;
}

static void out_free(bnb_outfile *o)
{
    free(o->tmp);
    free(o->dest);
    free(o);
}

void bnb_out_abort(bnb_outfile *o)
{
    if (!o)
        return;
    if (o->f && !o->is_stdout)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    out_free(o);
}

int bnb_out_commit(bnb_outfile *o, char *err, size_t cap)
{
    /* an earlier failed write left the error flag and, usually, errno */
    int e = 0, before = errno;
    bool bad = ferror(o->f);
    errno = 0;
    if (fflush(o->f) != 0)
        e = errno ? errno : EIO;
    else if (bad)
        e = before ? before : EIO;
    if (!e && o->tmp && fsync(fileno(o->f)) != 0)
        e = errno;
    if (!o->is_stdout) {
        errno = 0;
        if (fclose(o->f) != 0 && !e)
            e = errno ? errno : EIO;
        o->f = NULL;
    }
    if (!e && o->tmp) {
        if (rename(o->tmp, o->dest) != 0) {
            e = errno;
        } else {
            free(o->tmp);
            o->tmp = NULL;
        }
    }
    if (e) {
        snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(e));
        bnb_out_abort(o);
        return -1;
    }
    out_free(o);
    return 0;
}

int bnb_out_write(const char *path, const char *db_path, const char *text, bool nl, char *err,
                  size_t cap)
{
    bnb_outfile *o = NULL;
    if (bnb_out_open(path, db_path, &o, err, cap))
        return -1;
    size_t n = strlen(text);
    FILE *f = bnb_out_stream(o);
    bool ok = fwrite(text, 1, n, f) == n;
    if (ok && nl && (!n || text[n - 1] != '\n'))
        ok = fputc('\n', f) != EOF;
    if (!ok) {
        snprintf(err, cap, "cannot write %s: %s", o->shown, strerror(errno ? errno : EIO));
        bnb_out_abort(o);
        return -1;
    }
    return bnb_out_commit(o, err, cap);
}
