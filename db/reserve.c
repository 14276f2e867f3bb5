/*
 * reserve.c - space held beside the DB so a run stopped by a full file
 * system can still be marked failed (contract and sizing: db/reserve.h).
 *
 * The space is an open file descriptor and nothing else: an O_TMPFILE inode
 * in the DB's directory, or a file made under BNB_RESERVE_SUFFIX and
 * unlinked before it is given any space. posix_fallocate gives it real
 * blocks (glibc writes them where the file system cannot allocate), and
 * ftruncate(fd, 0) returns them at once; closing the descriptor - also the
 * kernel's, when the process dies - frees the inode.
 */
#include "db/reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bnb_reserve {
    int fd;
    size_t held;
};

/* The DB's path with symlinks resolved (SQLite puts the WAL beside that
 * file): realpath of the DB when it exists, else realpath of its directory
 * plus its base name. malloc'd; NULL with errno set. */
static char *db_real(const char *db_path)
{
    char real[PATH_MAX];
    if (realpath(db_path, real))
        return strdup(real);
    if (errno != ENOENT)
        return NULL;
    char *d = strdup(db_path), *b = strdup(db_path), *out = NULL;
    if (!d || !b) {
        errno = ENOMEM;
        goto done;
    }
    if (!realpath(dirname(d), real))
        goto done;
    const char *base = basename(b);
    size_t n = strlen(real) + strlen(base) + 2;
    if ((out = malloc(n)))
        snprintf(out, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    else
        errno = ENOMEM;
done:
    free(d);
    free(b);
    return out;
}

/* Creates "<real>-reserve" exclusively and unlinks it; a stale regular file
 * of that name is removed first. Returns the descriptor, or -1 with errno
 * (EEXIST when something that is not a regular file has the name). */
static int open_named(const char *real)
{
    size_t n = strlen(real) + sizeof BNB_RESERVE_SUFFIX;
    char *name = malloc(n);
    if (!name) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(name, n, "%s%s", real, BNB_RESERVE_SUFFIX);
    int fd = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
        struct stat st;
        if (lstat(name, &st) == 0 && !S_ISREG(st.st_mode)) {
            errno = EEXIST; /* a directory, symlink, FIFO ...: not ours */
            break;
        }
        if (unlink(name) != 0 && errno != ENOENT)
            break;
        errno = EEXIST;
    }
    if (fd >= 0 && unlink(name) != 0 && errno != ENOENT) {
        int e = errno;
        close(fd);
        fd = -1;
        errno = e;
    }
    free(name);
    return fd;
}

static int take(const char *db_path, size_t bytes, bool anonymous, bnb_reserve **out, char *err,
                size_t cap)
{
    *out = NULL;
    int fd = -1, e = 0;
    char *real = db_real(db_path);
    char *dir = real ? strdup(real) : NULL;
    if (!dir) {
        e = errno ? errno : ENOMEM;
        goto fail;
    }
    if (anonymous) {
        fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        /* a kernel or file system without O_TMPFILE says one of these */
        if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            e = errno;
            goto fail;
        }
    }
    if (fd < 0 && (fd = open_named(real)) < 0) {
        e = errno;
        goto fail;
    }
    if ((e = posix_fallocate(fd, 0, (off_t)bytes)) != 0)
        goto fail;
    bnb_reserve *r = malloc(sizeof *r);
    if (!r) {
        e = ENOMEM;
        goto fail;
    }
    *r = (bnb_reserve){.fd = fd, .held = bytes};
    free(dir);
    free(real);
    *out = r;
    return 0;
fail:
    if (e == EEXIST)
        snprintf(err, cap,
                 "cannot reserve %zu KiB beside DB %s for marking a stopped run failed: "
                 "%s%s exists and is not a regular file",
                 bytes / 1024, db_path, real, BNB_RESERVE_SUFFIX);
    else
        snprintf(err, cap,
                 "cannot reserve %zu KiB beside DB %s for marking a stopped run failed: %s",
                 bytes / 1024, db_path, strerror(e));
    if (fd >= 0)
        close(fd);
    free(dir);
    free(real);
    errno = e;
    return -1;
}

int bnb_reserve_take(const char *db_path, size_t bytes, bnb_reserve **out, char *err, size_t cap)
{
    return take(db_path, bytes, true, out, err, cap);
}

int bnb_reserve_take_named(const char *db_path, size_t bytes, bnb_reserve **out, char *err,
                           size_t cap)
{
    return take(db_path, bytes, false, out, err, cap);
}

size_t bnb_reserve_held(const bnb_reserve *r)
{
    return r ? r->held : 0;
}

bool bnb_reserve_release(bnb_reserve *r)
{
    if (!r || r->held == 0)
        return false;
    if (ftruncate(r->fd, 0) != 0)
        return false;
    r->held = 0;
    return true;
}

void bnb_reserve_close(bnb_reserve *r)
{
    if (!r)
        return;
    close(r->fd); /* frees the blocks with the inode, truncated or not */
    free(r);
}
