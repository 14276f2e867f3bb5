/*
 * test_reserve.c - the space `bnbench run` holds beside the DB so a run
 * stopped by a full disk can still be marked failed (db/reserve.h), and
 * `bnbench show` printing why a run ended failed or abandoned.
 *
 * Reserve: it holds real blocks (the file system's free space drops by the
 * reserve and comes back on release) and never has a name in the DB's
 * directory; the named fallback (no O_TMPFILE) removes a stale
 * `<db>-reserve` beside the resolved DB, refuses a name that is not a
 * regular file and leaves nothing behind; on a full file system taking it
 * fails with ENOSPC and `bnbench run` refuses to start (exit 2, no run). The
 * sizing claim: on a full tmpfs the failed mark (longest reason) of the last
 * of 1 to 40 runs cannot be written without the reserve, is written after
 * releasing it, and uses at most a quarter of it. -o refuses `<db>-reserve`.
 *
 * Tests that need a small file system mount a tmpfs and are skipped when
 * not run as root (make test runs as root in CI).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "db/db.h"
#include "db/internal.h"
#include "db/reserve.h"
#include "report_fixture.h"

static char dir[64], mnt[128], dbpath[192];
static bool mounted;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb_reserve_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    mounted = false;
}

static void teardown(void)
{
    if (mounted)
        umount(mnt);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

TestSuite(reserve, .init = setup, .fini = teardown, .timeout = 120);

/* Mounts a tmpfs of size (mount's syntax, "4m") on dir/fs and puts dbpath
 * there; skips the test when that is not possible. */
static void small_fs(const char *size)
{
    if (geteuid() != 0)
        cr_skip("mounting a small tmpfs needs root (running as uid %d)", (int)geteuid());
    snprintf(mnt, sizeof mnt, "%s/fs", dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    char opt[32];
    snprintf(opt, sizeof opt, "size=%s", size);
    if (mount("tmpfs", mnt, "tmpfs", 0, opt) != 0)
        cr_skip("cannot mount a tmpfs on %s: %s", mnt, strerror(errno));
    mounted = true;
    snprintf(dbpath, sizeof dbpath, "%s/r.db", mnt);
}

/* Free bytes of the file system holding path. */
static long long free_bytes(const char *path)
{
    struct statvfs v;
    cr_assert_eq(statvfs(path, &v), 0, "%s: %s", path, strerror(errno));
    return (long long)v.f_bfree * (long long)v.f_frsize;
}

/* Names in d other than "." and ".."; the first in first (cap bytes). */
static int entries(const char *d, char *first, size_t cap)
{
    DIR *h = opendir(d);
    cr_assert_not_null(h, "%s", d);
    int n = 0;
    first[0] = '\0';
    struct dirent *e;
    while ((e = readdir(h)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n++ == 0)
            snprintf(first, cap, "%s", e->d_name);
    closedir(h);
    return n;
}

/* Writes zeros to path until the file system is full. */
static void fill_up(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    static char zero[4096];
    for (;;) {
        ssize_t w = write(fd, zero, sizeof zero);
        if (w <= 0) {
            cr_assert(w == 0 || errno == ENOSPC, "filling %s: %s", path, strerror(errno));
            break;
        }
    }
    close(fd);
}

/* ---- the reserve ----------------------------------------------------------------- */

Test(reserve, holds_real_blocks_without_a_name)
{
    small_fs("4m");
    long long before = free_bytes(mnt);
    bnb_reserve *r = NULL;
    char err[BNB_ERR_MAX] = "", first[256];
    cr_assert_eq(bnb_reserve_take(dbpath, BNB_RESERVE_BYTES, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_reserve_held(r), (size_t)BNB_RESERVE_BYTES);
    cr_assert_eq(before - free_bytes(mnt), BNB_RESERVE_BYTES, "before %lld now %lld", before,
                 free_bytes(mnt));
    cr_assert_eq(entries(mnt, first, sizeof first), 0, "a name was left: %s", first);
    cr_assert(bnb_reserve_release(r));
    cr_assert_eq(bnb_reserve_held(r), 0);
    cr_assert_eq(free_bytes(mnt), before);
    cr_assert_not(bnb_reserve_release(r), "a second release frees nothing");
    bnb_reserve_close(r);
    cr_assert_eq(free_bytes(mnt), before);
    /* closing without a release frees the space too */
    cr_assert_eq(bnb_reserve_take(dbpath, BNB_RESERVE_BYTES, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(before - free_bytes(mnt), BNB_RESERVE_BYTES);
    bnb_reserve_close(r);
    cr_assert_eq(free_bytes(mnt), before);
    bnb_reserve_close(NULL);
    cr_assert_not(bnb_reserve_release(NULL));
}

Test(reserve, named_fallback_removes_a_stale_one_beside_the_resolved_db)
{
    /* the DB is reached through a symlink from another directory: the
     * reserve (like SQLite's WAL) goes beside the real file */
    char real_dir[128], real_db[192], link_db[192], stale[200], first[256];
    snprintf(real_dir, sizeof real_dir, "%s/real", dir);
    cr_assert_eq(mkdir(real_dir, 0700), 0);
    snprintf(real_db, sizeof real_db, "%s/r.db", real_dir);
    snprintf(link_db, sizeof link_db, "%s/link.db", dir);
    cr_assert_eq(close(open(real_db, O_WRONLY | O_CREAT, 0600)), 0);
    cr_assert_eq(symlink(real_db, link_db), 0);
    snprintf(stale, sizeof stale, "%s%s", real_db, BNB_RESERVE_SUFFIX);
    FILE *f = fopen(stale, "wb");
    cr_assert_not_null(f);
    static char junk[1 << 20];
    cr_assert_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);

    bnb_reserve *r = NULL;
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_reserve_take_named(link_db, 64 * 1024, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_reserve_held(r), 64 * 1024);
    struct stat st;
    cr_assert_eq(lstat(stale, &st), -1, "the stale reserve is still there");
    cr_assert_eq(entries(real_dir, first, sizeof first), 1);
    cr_assert_str_eq(first, "r.db");
    bnb_reserve_close(r);
    /* and a DB that does not exist yet: its directory is used */
    char fresh[192];
    snprintf(fresh, sizeof fresh, "%s/new.db", real_dir);
    cr_assert_eq(bnb_reserve_take_named(fresh, 4096, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(entries(real_dir, first, sizeof first), 1);
    bnb_reserve_close(r);
}

Test(reserve, named_fallback_refuses_a_name_that_is_not_a_regular_file)
{
    char name[200], target[200];
    snprintf(name, sizeof name, "%s%s", dbpath, BNB_RESERVE_SUFFIX);
    snprintf(target, sizeof target, "%s/precious", dir);
    bnb_reserve *r = NULL;
    char err[BNB_ERR_MAX] = "", want[512];
    snprintf(want, sizeof want,
             "cannot reserve 4 KiB beside DB %s for marking a stopped run failed: %s exists and "
             "is not a regular file",
             dbpath, name);

    cr_assert_eq(mkdir(name, 0700), 0);
    cr_assert_eq(bnb_reserve_take_named(dbpath, 4096, &r, err, sizeof err), -1);
    cr_assert_null(r);
    cr_assert_str_eq(err, want);
    struct stat st;
    cr_assert(stat(name, &st) == 0 && S_ISDIR(st.st_mode), "the directory was touched");
    cr_assert_eq(rmdir(name), 0);

    /* a symlink is not followed, nor removed, nor is its target changed */
    FILE *f = fopen(target, "w");
    cr_assert_not_null(f);
    fputs("keep", f);
    fclose(f);
    cr_assert_eq(symlink(target, name), 0);
    cr_assert_eq(bnb_reserve_take_named(dbpath, 4096, &r, err, sizeof err), -1);
    cr_assert_str_eq(err, want);
    cr_assert(lstat(name, &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert(stat(target, &st) == 0 && st.st_size == 4, "target size %lld", (long long)st.st_size);
}

Test(reserve, full_file_system_refuses_it)
{
    small_fs("1m");
    char fill[200], err[BNB_ERR_MAX] = "", want[512], first[256];
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    fill_up(fill);
    bnb_reserve *r = NULL;
    snprintf(want, sizeof want,
             "cannot reserve 256 KiB beside DB %s for marking a stopped run failed: %s", dbpath,
             strerror(ENOSPC));
    cr_assert_eq(bnb_reserve_take(dbpath, BNB_RESERVE_BYTES, &r, err, sizeof err), -1);
    cr_assert_eq(errno, ENOSPC);
    cr_assert_str_eq(err, want);
    cr_assert_eq(bnb_reserve_take_named(dbpath, BNB_RESERVE_BYTES, &r, err, sizeof err), -1);
    cr_assert_str_eq(err, want);
    cr_assert_null(r);
    cr_assert_eq(entries(mnt, first, sizeof first), 1, "left: %s", first);
}

/* `bnbench run` on a file system with room to open the DB but not for the
 * reserve: exit 2, one line naming the reserve, no run stored. */
Test(reserve, run_refuses_to_start_without_it)
{
    small_fs("2m");
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX] = "", gap[200], fill[200];
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    bnb_db_close(db);
    snprintf(gap, sizeof gap, "%s/gap", mnt);
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    int fd = open(gap, O_WRONLY | O_CREAT, 0600);
    cr_assert_eq(posix_fallocate(fd, 0, 128 * 1024), 0);
    close(fd);
    fill_up(fill);
    cr_assert_eq(unlink(gap), 0); /* 128 KiB free: the DB opens, 256 KiB do not fit */
    fx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "--db", dbpath, "run", "--suite", "peak", "--quick", "--quiet");
    cr_assert_eq(r->code, 2, "exit %d; stderr: %s", r->code, r->err);
    char want[512];
    snprintf(want, sizeof want,
             "bnbench run: cannot reserve 256 KiB beside DB %s for marking a stopped run failed: "
             "%s\n",
             dbpath, strerror(ENOSPC));
    cr_assert_str_eq(r->err, want);
    cr_assert_eq(unlink(fill), 0);
    FX_BNBENCH(r, dir, "--db", dbpath, "runs");
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert_eq(strstr(r->out, "peak"), NULL, "a run was stored: %s", r->out);
    cr_assert_null(strstr(r->out, "running"), "%s", r->out);
    free(r);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The failed mark of run `which` of nruns runs (rows as large as bnbench
 * run's), with the longest reason the CLI stores (767 bytes), on a full
 * tmpfs: refused while the reserve is held, written once it is released;
 * neither the blocks it took nor its WAL frames (rounded up to blocks)
 * exceed a quarter of the reserve. */
static void mark_on_full_disk(int nruns, int which)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX] = "", wal[220];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    /* about the sizes bnbench run stores: context 1 KB, warnings 0.4 KB */
    static char ctx[1100], warn[430];
    memset(ctx, 'c', sizeof ctx);
    memcpy(ctx, "{\"k\":\"", 6);
    memcpy(ctx + sizeof ctx - 3, "\"}", 3);
    memset(warn, 'w', sizeof warn);
    memcpy(warn, "[\"", 2);
    memcpy(warn + sizeof warn - 3, "\"]", 3);
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.machine_name, sizeof ri.machine_name, "box");
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "f00d");
    snprintf(ri.reason, sizeof ri.reason, "manual");
    snprintf(ri.cflags, sizeof ri.cflags, "%0130d", 0);
    ri.context_json = ctx;
    ri.warnings_json = warn;
    ri.binding_json = (char *)"{\"cpus\":[0],\"thread\":0,\"policy\":\"first allowed PU\","
                              "\"read_back\":[0],\"numa\":\"node 0\"}";
    int64_t id = 0, target = 0;
    for (int i = 1; i <= nruns; i++) {
        ri.uuid[0] = '\0';
        cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), 0, "%s", err);
        if (i == which)
            target = id;
    }
    bnb_reserve *r = NULL;
    cr_assert_eq(bnb_reserve_take(dbpath, BNB_RESERVE_BYTES, &r, err, sizeof err), 0, "%s", err);
    char fill[200];
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    fill_up(fill);
    long long wal0 = file_size(wal);
    char why[768];
    memset(why, 'y', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    cr_assert_eq(bnb_db_end_run_why(db, target, BNB_RUN_FAILED, why, err), -1,
                 "run %d of %d: the mark fit without the reserve", which, nruns);
    cr_assert_str_eq(bnb_db_last_fault(db), "database or disk is full");
    cr_assert(bnb_reserve_release(r));
    long long room = free_bytes(mnt);
    cr_assert_eq(bnb_db_end_run_why(db, target, BNB_RUN_FAILED, why, err), 0, "run %d of %d: %s",
                 which, nruns, err);
    long long used = room - free_bytes(mnt), grew = file_size(wal) - wal0;
    long long grew_blocks = (grew + 4095) / 4096 * 4096;
    cr_log_info("run %d of %d: the failed mark took %lld bytes of the file system; the WAL grew "
                "%lld bytes (%lld frames of 4120)",
                which, nruns, used, grew, grew / 4120);
    cr_assert(used >= 0 && used * 4 <= BNB_RESERVE_BYTES, "run %d of %d: the mark took %lld bytes",
              which, nruns, used);
    cr_assert(grew > 0 && grew_blocks * 4 <= BNB_RESERVE_BYTES,
              "run %d of %d: the WAL grew %lld bytes", which, nruns, grew);
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(db, target, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "failed");
    bnb_reserve_close(r);
    bnb_db_close(db);
    cr_assert_eq(unlink(fill), 0);
}

Test(reserve, failed_mark_fits_a_quarter_of_it_on_a_full_disk)
{
    /* the newest run (a lone run), and an older one in a full leaf
     * (concurrent runs), whose longer row splits the leaf */
    const int cases[][2] = {{1, 1}, {2, 1}, {4, 2}, {10, 10}, {10, 3}, {40, 1}, {40, 20}, {40, 40}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        small_fs("4m");
        mark_on_full_disk(cases[i][0], cases[i][1]);
        cr_assert_eq(umount(mnt), 0, "%s", strerror(errno));
        mounted = false;
        cr_assert_eq(rmdir(mnt), 0);
    }
}

/* ---- -o and show -------------------------------------------------------------------- */

Test(reserve, output_onto_the_reserve_name_is_refused)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX] = "", name[200];
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    int64_t a = fx_run(db, "box", "2024-01-01T00:00:00.000Z", "manual", NULL);
    fx_simple(db, a, "k", 15, 1e-3, 0.02, 0);
    fx_end(db, a);
    bnb_db_close(db);
    snprintf(name, sizeof name, "%s%s", dbpath, BNB_RESERVE_SUFFIX);
    fx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "--db", dbpath, "export", "1", "--format", "json", "-o", name);
    cr_assert_eq(r->code, 2, "exit %d; stderr: %s", r->code, r->err);
    cr_assert(strstr(r->err, "is the name of bnbench run's space reserve"), "%s", r->err);
    struct stat st;
    cr_assert_eq(lstat(name, &st), -1, "%s was written", name);
    free(r);
}

/* A failed run's reason, holding an escape sequence, a newline and invalid
 * UTF-8, is one escaped line of `show`; a complete run has no such line,
 * and a schema-1 DB (no status_reason column) shows without one. */
Test(reserve, show_prints_the_status_reason_escaped)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    int64_t ok = fx_run(db, "box", "2024-01-01T00:00:00.000Z", "manual", NULL);
    fx_end(db, ok);
    int64_t bad = fx_run(db, "box", "2024-01-02T00:00:00.000Z", "manual", NULL);
    cr_assert_eq(bnb_db_end_run_why(db, bad, BNB_RUN_FAILED,
                                    "disk I/O error while storing case 2 of 6 (x\x1b[2J\ny\xff)",
                                    err),
                 0, "%s", err);
    bnb_db_close(db);
    fx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "--db", dbpath, "show", "2");
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "\n  status    failed: disk I/O error while storing case 2 of 6 "
                             "(x\\x1b[2J\\x0ay\\xff)\n"),
              "%s", r->out);
    cr_assert_null(strchr(r->out, '\x1b'));
    FX_BNBENCH(r, dir, "--db", dbpath, "show", "1");
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert_null(strstr(r->out, "\n  status "), "%s", r->out);
    cr_assert(strstr(r->out, "status complete"), "%s", r->out);

    /* schema 1 had no status_reason: show reads it as it is */
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open(dbpath, &s), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(s,
                              "ALTER TABLE runs DROP COLUMN status_reason; "
                              "PRAGMA user_version = 1",
                              NULL, NULL, &msg),
                 SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(s);
    FX_BNBENCH(r, dir, "--db", dbpath, "show", "2");
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "status failed"), "%s", r->out);
    cr_assert_null(strstr(r->out, "\n  status "), "%s", r->out);
    free(r);
}
