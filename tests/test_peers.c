/*
 * test_peers.c - the peers a run records (collectors/peers.h): which
 * OpenBLAS core `bnbench run` measured and why, stored in the run's context
 * and shown by show, compare and the report.
 *
 * OPENBLAS_CORETYPE is set or unset here only in the environment of the
 * bnbench child under test (restored right after the spawn): that variable is
 * what this feature reads. The core names expected are what OpenBLAS itself
 * reports (the hidden `_peer-probe` command with the variable unset gives the
 * core OpenBLAS picks for this CPU), never a table of ours, so on a CPU where
 * OpenBLAS picks Haswell itself the forced case expects no warning.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "spawn.h"

static char dir[64];
static fx_result res;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb_peers_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Spawns bnbench with OPENBLAS_CORETYPE = core (unset when NULL) in the
 * child's environment only. */
static void spawn_core(const char *core, const char *const *args)
{
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    if (core)
        setenv("OPENBLAS_CORETYPE", core, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    fx_spawn(&res, dir, args);
    if (saved)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    free(saved);
}

/* The core OpenBLAS picks for this CPU when nothing forces one. */
static void own_core(char *buf, size_t cap)
{
    const char *args[] = {"_peer-probe", NULL};
    spawn_core(NULL, args);
    cr_assert_eq(res.code, 0, "%s", res.err);
    cr_assert_eq(sscanf(res.out, "%63[^\t]", buf), 1, "%s", res.out);
    cr_assert_lt(strlen(buf), cap);
    cr_assert(strstr(res.out, "\t1\n"), "OpenBLAS's own core fails the check: %s", res.out);
}

/* Runs one small matmul case into dir/p.db, then loads the run's context and
 * warnings. */
static void run_matmul(const char *core, bool keep, cJSON **ctx, char **warnings)
{
    char db[128];
    snprintf(db, sizeof db, "%s/p.db", dir);
    const char *args[] = {"run",         "--db",    db,
                          "--suite",     "matmul",  "--case",
                          "sgemm/n=64$", "--quick", keep ? "--peer-env" : NULL,
                          "KEEP",        NULL};
    spawn_core(core, args);
    cr_assert(res.code == 0 || res.code == 1, "rc %d: %s", res.code, res.err);
    bnb_db *h = NULL;
    char e[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, e), 0, "%s", e);
    int64_t id;
    cr_assert_eq(bnb_db_resolve_run(h, "latest", &id, e), 0, "%s", e);
    bnb_run_info ri = {0};
    cr_assert_eq(bnb_db_load_run(h, id, &ri, NULL, e), 0, "%s", e);
    cr_assert_not_null(ri.context_json);
    *ctx = cJSON_Parse(ri.context_json);
    cr_assert_not_null(*ctx);
    *warnings = strdup(ri.warnings_json ? ri.warnings_json : "[]");
    bnb_run_info_free(&ri);
    bnb_db_close(h);
}

static const cJSON *ob_of(const cJSON *ctx)
{
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ctx, "peers"), "openblas");
    cr_assert_not_null(ob, "no peers.openblas in the context");
    return ob;
}

static const char *s_of(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    cr_assert_not_null(s, "no string %s", k);
    return s;
}

/* show prints the label of what was stored: version, core and 1 thread. */
static void expect_show(const cJSON *ob)
{
    char db[128], want[160];
    snprintf(db, sizeof db, "%s/p.db", dir);
    const char *args[] = {"show", "--db", db, "latest", NULL};
    spawn_core(NULL, args);
    cr_assert_eq(res.code, 0, "%s", res.err);
    snprintf(want, sizeof want, "OpenBLAS %s (%s core, 1 thread)", s_of(ob, "version"),
             s_of(ob, "core"));
    cr_assert(strstr(res.out, want), "show lacks \"%s\":\n%s", want, res.out);
}

TestSuite(peers, .init = setup, .fini = teardown, .timeout = 120);

Test(peers, forced_haswell_warns_and_measures_the_best_correct_core)
{
    char own[64], *warn = NULL;
    own_core(own, sizeof own);
    cJSON *ctx = NULL;
    run_matmul("Haswell", false, &ctx, &warn);
    const cJSON *ob = ob_of(ctx);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(ob, "core_choice");
    cr_assert_not_null(ch);
    cr_assert_str_eq(s_of(ch, "forced"), "Haswell");
    cr_assert_str_eq(s_of(ch, "own_core"), own);
    /* the chosen core is the fastest correct candidate (ties within 3% go to
     * OpenBLAS's own), and it is the core the measuring process ran */
    const cJSON *cand = cJSON_GetObjectItemCaseSensitive(ch, "candidates"), *c;
    cr_assert_geq(cJSON_GetArraySize(cand), 2);
    double best = -1, ownf = -1;
    const char *bestc = NULL;
    int ncorrect = 0;
    cJSON_ArrayForEach(c, cand)
    {
        /* a core this CPU cannot run is stored as not correct, with why */
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "correct"))) {
            cr_assert(strlen(s_of(c, "why")) > 0);
            continue;
        }
        ncorrect++;
        double g = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "sgemm_gflops"));
        cr_assert_gt(g, 0);
        if (!strcmp(s_of(c, "core"), own))
            ownf = g;
        if (g > best) {
            best = g;
            bestc = s_of(c, "core");
        }
    }
    cr_assert_geq(ncorrect, 2, "the forced and OpenBLAS's own core both run here");
    const char *want = ownf >= best * 0.97 ? own : bestc;
    cr_assert_str_eq(s_of(ch, "chosen"), want);
    cr_assert_str_eq(s_of(ob, "core"), want);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ob, "threads")), 1);
    cr_assert(!strncmp(s_of(ob, "config"), "OpenBLAS ", 9), "%s", s_of(ob, "config"));
    char w[256];
    snprintf(w, sizeof w, "OPENBLAS_CORETYPE=Haswell forces OpenBLAS's Haswell core, not the %s",
             own);
    if (strcmp(own, "Haswell") != 0) {
        cr_assert(strstr(warn, w), "no warning \"%s\" in %s", w, warn);
        cr_assert(strstr(warn, "OpenBLAS measured on its"), "%s", warn);
        cr_assert(strstr(res.err, "bnbench run: warning: OPENBLAS_CORETYPE=Haswell forces"),
                  "the warning is not on stderr: %s", res.err);
        cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ch, "kept")) ||
                      !strcmp(want, "Haswell"),
                  "a better core was chosen but not applied");
    } else {
        cr_assert_null(strstr(warn, "OPENBLAS_CORETYPE="), "%s", warn);
    }
    expect_show(ob);
    cJSON_Delete(ctx);
    free(warn);
}

Test(peers, peer_env_keep_measures_and_labels_the_forced_core)
{
    char own[64], *warn = NULL;
    own_core(own, sizeof own);
    cJSON *ctx = NULL;
    run_matmul("Haswell", true, &ctx, &warn);
    const cJSON *ob = ob_of(ctx);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(ob, "core_choice");
    cr_assert_str_eq(s_of(ob, "core"), "Haswell");
    cr_assert_str_eq(s_of(ch, "chosen"), "Haswell");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "kept")));
    cr_assert(strstr(s_of(ch, "reason"), "--peer-env KEEP"), "%s", s_of(ch, "reason"));
    if (strcmp(own, "Haswell") != 0)
        cr_assert(strstr(warn, "kept: OpenBLAS figures are of the Haswell core") &&
                      strstr(res.err, "kept: OpenBLAS figures are of the Haswell core"),
                  "%s / %s", warn, res.err);
    expect_show(ob);
    cJSON_Delete(ctx);
    free(warn);
}

Test(peers, without_the_variable_no_warning_and_the_core_is_named)
{
    char own[64], *warn = NULL;
    own_core(own, sizeof own);
    cJSON *ctx = NULL;
    run_matmul(NULL, false, &ctx, &warn);
    const cJSON *ob = ob_of(ctx);
    cr_assert_str_eq(s_of(ob, "core"), own);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(ob, "core_choice");
    cr_assert(strstr(s_of(ch, "reason"), "OPENBLAS_CORETYPE not set"), "%s", s_of(ch, "reason"));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(ch, "candidates"));
    cr_assert_null(strstr(warn, "OPENBLAS_CORETYPE"), "%s", warn);
    cr_assert_null(strstr(res.err, "OPENBLAS_CORETYPE"), "%s", res.err);
    expect_show(ob);
    cJSON_Delete(ctx);
    free(warn);
}

Test(peers, compare_says_when_the_peers_differ)
{
    cJSON *ctx = NULL;
    char *warn = NULL, own[64], db[128];
    own_core(own, sizeof own);
    run_matmul(NULL, false, &ctx, &warn);
    cJSON_Delete(ctx);
    free(warn);
    run_matmul("Haswell", true, &ctx, &warn);
    cJSON_Delete(ctx);
    free(warn);
    snprintf(db, sizeof db, "%s/p.db", dir);
    const char *args[] = {"compare", "--db", db, "1", "2", NULL};
    spawn_core(NULL, args);
    cr_assert_eq(res.code, 0, "%s", res.err);
    if (strcmp(own, "Haswell") != 0)
        cr_assert(strstr(res.out, "peers differ: A OpenBLAS") &&
                      strstr(res.out, "(Haswell core, 1 thread)"),
                  "%s", res.out);
    else
        cr_assert(strstr(res.out, "(Haswell core, 1 thread) (A and B)"), "%s", res.out);
    const char *jargs[] = {"compare", "--db", db, "1", "2", "--format", "json", NULL};
    spawn_core(NULL, jargs);
    cr_assert_eq(res.code, 0, "%s", res.err);
    cJSON *j = cJSON_Parse(res.out);
    cr_assert_not_null(j, "%s", res.out);
    const cJSON *ob =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "peers"), "openblas");
    cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ob, "differ")),
                 strcmp(own, "Haswell") != 0, "%s", res.out);
    cr_assert(strstr(s_of(ob, "B"), "(Haswell core, 1 thread)"), "%s", res.out);
    cJSON_Delete(j);
    const char *rargs[] = {"report", "--db", db, "2", "--format", "md", NULL};
    spawn_core(NULL, rargs);
    cr_assert_eq(res.code, 0, "%s", res.err);
    cr_assert(strstr(res.out, "ratios are vs OpenBLAS ") &&
                  strstr(res.out, "(Haswell core, 1 thread)."),
              "%s", res.out);
    const char *jrargs[] = {"report", "--db", db, "2", "--format", "json", NULL};
    spawn_core(NULL, jrargs);
    cr_assert_eq(res.code, 0, "%s", res.err);
    j = cJSON_Parse(res.out);
    cr_assert_not_null(j, "%s", res.out);
    const char *lab = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "peers"), "openblas"));
    cr_assert(lab && strstr(lab, "OpenBLAS ") && strstr(lab, "(Haswell core, 1 thread)"), "%s",
              res.out);
    cJSON_Delete(j);
}

Test(peers, a_bad_peer_env_is_a_usage_error)
{
    const char *args[] = {"run", "--peer-env", "FAST", "--list", NULL};
    spawn_core("Haswell", args);
    cr_assert_eq(res.code, 2, "rc %d: %s", res.code, res.err);
    cr_assert(strstr(res.err, "--peer-env") && strstr(res.err, "FAST"), "%s", res.err);
}
