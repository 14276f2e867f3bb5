/*
 * spool.c - the publisher's spool directory (contract: spool.h).
 *
 * The metadata line is written and read with cJSON; the document after it
 * is kept as bytes (it is sent as it was built). Reading a file checks its
 * size before allocating and every metadata field before using it, and a
 * name is only ever built from a UUID that passed bnb_spool_uuid_ok, so no
 * path outside the spool can be named.
 */
#include "reports/spool.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/rundoc.h"

/* The largest spool file read back: a document and its metadata line. */
#define META_MAX       ((size_t)16 << 10)
#define SPOOL_FILE_MAX (BNB_RUNDOC_MAX_BYTES + META_MAX)
#define SUFFIX         ".run"

int bnb_spool_path(const char *dbpath, char *out, size_t cap, char *err, size_t ecap)
{
    int n = snprintf(out, cap, "%s.spool", dbpath);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, ecap, "the spool path of DB %s is too long", dbpath);
        return -1;
    }
    return 0;
}

bool bnb_spool_uuid_ok(const char *u)
{
    if (!u || strlen(u) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = u[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* dir or dir/rejected into out. */
static int sub_dir(const char *dir, bool rejected, char *out, size_t cap, char *err, size_t ecap)
{
    int n = snprintf(out, cap, "%s%s", dir, rejected ? "/rejected" : "");
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, ecap, "spool directory %s: path too long", dir);
        return -1;
    }
    return 0;
}

static int file_path(const char *dir, bool rejected, const char *uuid, char *out, size_t cap,
                     char *err, size_t ecap)
{
    if (!bnb_spool_uuid_ok(uuid)) {
        snprintf(err, ecap, "spool: \"%.40s\" is not a run UUID", uuid ? uuid : "");
        return -1;
    }
    int n = snprintf(out, cap, "%s%s/%s" SUFFIX, dir, rejected ? "/rejected" : "", uuid);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, ecap, "spool directory %s: path too long", dir);
        return -1;
    }
    return 0;
}

/* mkdir -m 0700 that accepts an existing directory. */
static int make_dir(const char *path, char *err, size_t cap)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        snprintf(err, cap, "spool directory %s: exists and is not a directory", path);
        return -1;
    }
    snprintf(err, cap, "cannot create the spool directory %s: %s", path, strerror(errno));
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *meta_json(const bnb_spool_entry *e)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    char *s = NULL;
    if (cJSON_AddNumberToObject(j, "spool_version", 1) &&
        cJSON_AddStringToObject(j, "uuid", e->uuid) &&
        cJSON_AddNumberToObject(j, "run_id", (double)e->run_id) &&
        cJSON_AddStringToObject(j, "machine", e->machine) &&
        cJSON_AddStringToObject(j, "url", e->url) &&
        cJSON_AddNumberToObject(j, "spooled_at", (double)e->spooled_at) &&
        cJSON_AddNumberToObject(j, "attempts", e->attempts) &&
        cJSON_AddStringToObject(j, "last_error", e->last_error))
        s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int bnb_spool_put(const char *dir, bool rejected, const bnb_spool_entry *e, const char *doc,
                  size_t len, char *err, size_t cap)
{
    char sub[4096], final[4200], tmp[4300];
    if (file_path(dir, rejected, e->uuid, final, sizeof final, err, cap) ||
        sub_dir(dir, rejected, sub, sizeof sub, err, cap))
        return -1;
    if (make_dir(dir, err, cap) || (rejected && make_dir(sub, err, cap)))
        return -1;
    char *meta = meta_json(e);
    if (!meta) {
        snprintf(err, cap, "out of memory writing the spool entry of run %s", e->uuid);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", sub, e->uuid, (long)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, cap, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, meta, strlen(meta)) || write_all(fd, "\n", 1) || write_all(fd, doc, len) ||
        fsync(fd) != 0) {
        snprintf(err, cap, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, final) != 0) {
        snprintf(err, cap, "cannot store %s: %s", final, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* the rename itself made durable */
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    free(meta);
    return rc;
}

/* Copies string field name of j into dst (cap); false when absent, not a
 * string or too long. */
static bool get_str(const cJSON *j, const char *name, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return false;
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return true;
}

static bool get_int(const cJSON *j, const char *name, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return false;
    *out = v->valuedouble;
    return true;
}

/* Parses the metadata line (n bytes at p) into *e; false when it is not one. */
static bool parse_meta(const char *p, size_t n, bnb_spool_entry *e)
{
    memset(e, 0, sizeof *e);
    cJSON *j = cJSON_ParseWithLength(p, n);
    double id = 0, at = 0, att = 0, ver = 0;
    bool ok = cJSON_IsObject(j) && get_int(j, "spool_version", 1, 1, &ver) &&
              get_str(j, "uuid", e->uuid, sizeof e->uuid) && bnb_spool_uuid_ok(e->uuid) &&
              get_int(j, "run_id", 0, 9007199254740992.0, &id) &&
              get_str(j, "machine", e->machine, sizeof e->machine) &&
              get_str(j, "url", e->url, sizeof e->url) && get_int(j, "spooled_at", 0, 1e12, &at) &&
              get_int(j, "attempts", 0, 1e9, &att) &&
              get_str(j, "last_error", e->last_error, sizeof e->last_error);
    cJSON_Delete(j);
    e->run_id = (int64_t)id;
    e->spooled_at = (time_t)at;
    e->attempts = (int)att;
    return ok;
}

/* Reads the file at path (at most SPOOL_FILE_MAX bytes) into *buf; with
 * head_only, only its first META_MAX bytes (enough for the metadata). */
static int read_file(const char *path, bool head_only, char **buf, size_t *len, char *err,
                     size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > SPOOL_FILE_MAX) {
        snprintf(err, cap, "spool file %s: %s", path,
                 S_ISREG(st.st_mode) ? "larger than a run document may be" : "not a regular file");
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    if (head_only && n > META_MAX)
        n = META_MAX;
    char *b = malloc(n + 1);
    if (!b) {
        snprintf(err, cap, "out of memory reading %s (%zu bytes)", path, n);
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        snprintf(err, cap, "cannot read %s: it changed while being read", path);
        free(b);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int bnb_spool_get(const char *dir, bool rejected, const char *uuid, bnb_spool_entry *e, char **doc,
                  size_t *len, char *err, size_t cap)
{
    char path[4200];
    if (doc)
        *doc = NULL;
    if (file_path(dir, rejected, uuid, path, sizeof path, err, cap))
        return -1;
    char *b = NULL;
    size_t n = 0;
    int r = read_file(path, doc == NULL, &b, &n, err, cap);
    if (r)
        return r;
    char *nl = memchr(b, '\n', n < META_MAX ? n : META_MAX);
    if (!nl || !parse_meta(b, (size_t)(nl - b), e) || strcmp(e->uuid, uuid)) {
        snprintf(err, cap,
                 "spool file %s: not a spool file of run %s (its metadata line is "
                 "missing or wrong)",
                 path, uuid);
        free(b);
        return -1;
    }
    if (doc) {
        size_t off = (size_t)(nl + 1 - b);
        memmove(b, nl + 1, n - off);
        b[n - off] = '\0';
        *doc = b;
        if (len)
            *len = n - off;
    } else {
        free(b);
    }
    return 0;
}

int bnb_spool_remove(const char *dir, bool rejected, const char *uuid, char *err, size_t cap)
{
    char path[4200];
    if (file_path(dir, rejected, uuid, path, sizeof path, err, cap))
        return -1;
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, cap, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int by_age(const void *a, const void *b)
{
    const bnb_spool_entry *x = a, *y = b;
    if (x->spooled_at != y->spooled_at)
        return x->spooled_at < y->spooled_at ? -1 : 1;
    if (x->run_id != y->run_id)
        return x->run_id < y->run_id ? -1 : 1;
    return strcmp(x->uuid, y->uuid);
}

int bnb_spool_list(const char *dir, bool rejected, bnb_spool_entry **out, int *n, int *bad,
                   char *err, size_t cap)
{
    *out = NULL;
    *n = 0;
    if (bad)
        *bad = 0;
    char sub[4096];
    if (sub_dir(dir, rejected, sub, sizeof sub, err, cap))
        return -1;
    DIR *d = opendir(sub);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, cap, "cannot read the spool directory %s: %s", sub, strerror(errno));
        return -1;
    }
    bnb_spool_entry *v = NULL;
    int k = 0, vcap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        char uuid[40];
        if (l != 36 + sizeof SUFFIX - 1 || strcmp(de->d_name + 36, SUFFIX))
            continue; /* temporary files, rejected/, anything else */
        memcpy(uuid, de->d_name, 36);
        uuid[36] = '\0';
        if (!bnb_spool_uuid_ok(uuid))
            continue;
        if (k == vcap) {
            int nc = vcap ? vcap * 2 : 16;
            bnb_spool_entry *nv = realloc(v, (size_t)nc * sizeof *nv);
            if (!nv) {
                snprintf(err, cap, "out of memory listing %s", sub);
                rc = -1;
                break;
            }
            v = nv;
            vcap = nc;
        }
        char e2[512];
        int g = bnb_spool_get(dir, rejected, uuid, &v[k], NULL, NULL, e2, sizeof e2);
        if (g == 0)
            k++;
        else if (g < 0 && bad)
            (*bad)++;
    }
    closedir(d);
    if (rc) {
        free(v);
        return -1;
    }
    if (k > 1)
        qsort(v, (size_t)k, sizeof *v, by_age);
    *out = k ? v : NULL;
    if (!k)
        free(v);
    *n = k;
    return 0;
}
