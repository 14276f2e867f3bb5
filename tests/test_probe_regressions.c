/*
 * test_probe_regressions.c - regressions found by probing the hardened
 * bnbench as an adversary would (issue 13): each test replays one probe
 * that fooled it, through the built binary (spawn.h), and asserts the
 * exit code and message the issue asks for.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_fixture.h"

static char dir[64], dbpath[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-probe-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/p.db", dir);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(probe, .init = setup, .fini = teardown, .timeout = 60);

/* A DB path that is a FIFO blocked every command forever in the header
 * check's open; a device is no store either. Both are exit 2 at once,
 * read and write commands alike, and nothing is created beside them. */
Test(probe, db_fifo_or_device_is_refused)
{
    cr_assert_eq(mkfifo(dbpath, 0600), 0);
    const char *const reads[][4] = {{"runs", "--db", dbpath, NULL},
                                    {"show", "latest", "--db", dbpath},
                                    {"db", "check", "--db", dbpath},
                                    {"baseline", "list", "--db", dbpath}};
    fx_result r;
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        const char *args[6] = {reads[i][0], reads[i][1], reads[i][2], reads[i][3], NULL};
        fx_spawn(&r, dir, args);
        cr_assert_eq(r.code, 2, "%s: exit %d, stderr: %s", reads[i][0], r.code, r.err);
        cr_assert(strstr(r.err, "not a regular file"), "%s", r.err);
    }
    const char *run[] = {"run",     "--suite", "peak", "--case",  "timer/rdtsc",
                         "--quick", "--db",    dbpath, "--quiet", NULL};
    fx_spawn(&r, dir, run);
    cr_assert_eq(r.code, 2, "run: exit %d, stderr: %s", r.code, r.err);
    cr_assert(strstr(r.err, "not a regular file"), "%s", r.err);
    char side[160];
    snprintf(side, sizeof side, "%s-journal", dbpath);
    cr_assert_neq(access(side, F_OK), 0, "%s was created", side);
    snprintf(side, sizeof side, "%s-wal", dbpath);
    cr_assert_neq(access(side, F_OK), 0, "%s was created", side);
}
