/*
 * test_context.c - machine identity, fingerprint and run context: FNV-1a
 * test vectors, no hostname in the identity, JSON that parses, warnings that
 * match the conditions they report.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/counters.h"
#include "cpus.h"

Test(context, fnv1a64_vectors)
{
    /* published FNV-1a 64 test vectors */
    cr_assert_eq(bnb_fnv1a64("", 0), 0xcbf29ce484222325ull);
    cr_assert_eq(bnb_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(bnb_fnv1a64("foobar", 6), 0x85944171f73967e8ull);
}

static bool warnings_have(const char *json, const char *needle)
{
    return strstr(json, needle) != NULL;
}

Test(context, collect_describes_machine)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_timer_info ti;
    bnb_timer_init(&ti);
    bnb_context_in in = {.topo = t, .timer = &ti, .papi_status = ""};
    bnb_run_info a = {0}, b = {0};
    cr_assert_eq(bnb_context_collect(&in, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_context_collect(&in, &b, err, sizeof err), 0, "%s", err);

    /* fingerprint: 16 hex digits of FNV-1a over the identity; stable; no hostname */
    char id[2048];
    bnb_machine_identity(t, id, sizeof id);
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)bnb_fnv1a64(id, strlen(id)));
    cr_assert_str_eq(a.fingerprint, want);
    cr_assert_str_eq(a.fingerprint, b.fingerprint);
    char host[256] = "";
    gethostname(host, sizeof host);
    if (strlen(host) > 3)
        cr_assert_null(strstr(id, host), "identity contains the hostname: %s", id);
    cr_assert(strncmp(id, "cpu=", 4) == 0);
    cr_assert_str_eq(a.build_type, BN_BUILD_TYPE);

    cJSON *m = cJSON_Parse(a.machine_json);
    cJSON *c = cJSON_Parse(a.context_json);
    cJSON *w = cJSON_Parse(a.warnings_json);
    cr_assert_not_null(m);
    cr_assert_not_null(c);
    cr_assert(cJSON_IsArray(w));
    cJSON *topo = cJSON_GetObjectItem(m, "topology");
    cr_assert_not_null(topo);
    /* hwloc's PUs: those the cgroup allows, at least the process's affinity */
    int pus = cJSON_GetObjectItem(topo, "pus")->valueint;
    cr_assert(pus >= test_cpu_count() && pus <= (int)sysconf(_SC_NPROCESSORS_CONF), "pus %d", pus);
    cr_assert_str_eq(cJSON_GetObjectItem(m, "fingerprint")->valuestring, a.fingerprint);

    /* each warning matches its condition */
    cJSON *vm = cJSON_GetObjectItem(c, "vm");
    bool is_vm = cJSON_IsTrue(cJSON_GetObjectItem(vm, "detected"));
    cr_assert_eq(warnings_have(a.warnings_json, "running in a VM"), is_vm);
    char why[200];
    bool pmu = bnb_counters_pmu_present(why, sizeof why);
    cr_assert_eq(warnings_have(a.warnings_json, "no hardware PMU"), !pmu);
    cr_assert_eq(warnings_have(a.warnings_json, "sanitizer build"),
                 strchr(BN_BUILD_TYPE, '+') != NULL);
    cr_assert_eq(warnings_have(a.warnings_json, "debug build"),
                 strstr(BN_BUILD_TYPE, "debug") != NULL);
    cJSON *timer = cJSON_GetObjectItem(c, "timer");
    cr_assert_gt(cJSON_GetObjectItem(timer, "clock_overhead_ns")->valuedouble, 0.0);

    cJSON_Delete(m);
    cJSON_Delete(c);
    cJSON_Delete(w);
    bnb_run_info_free(&a);
    bnb_run_info_free(&b);
    bnb_topo_close(t);
}

Test(context, warnings_append)
{
    bnb_run_info ri = {0};
    cr_assert_eq(bnb_context_add_warning(&ri, "first %d", 1), 0);
    cr_assert_eq(bnb_context_add_warning(&ri, "say \"%s\"", "quoted"), 0);
    cr_assert_str_eq(ri.warnings_json, "[\"first 1\",\"say \\\"quoted\\\"\"]");
    bnb_run_info_free(&ri);
}

Test(context, uuid_and_time_format)
{
    char u1[40], u2[40], ts[32];
    bnb_uuid4(u1);
    bnb_uuid4(u2);
    cr_assert_eq(strlen(u1), 36);
    cr_assert_eq(u1[14], '4');
    cr_assert(strchr("89ab", u1[19]));
    cr_assert_str_neq(u1, u2);
    bnb_utc_now(ts);
    cr_assert_eq(strlen(ts), 20);
    cr_assert_eq(ts[10], 'T');
    cr_assert_eq(ts[19], 'Z');
}

Test(context, timer_measured)
{
    bnb_timer_info ti;
    bnb_timer_init(&ti);
    cr_assert_gt(ti.clock_res_ns, 0.0);
    cr_assert_gt(ti.clock_overhead_ns, 0.0);
    cr_assert_lt(ti.clock_overhead_ns, 1e5);
    double ms = bnb_timer_min_sample(&ti, 1e-3);
    cr_assert_geq(ms, 1e-3);
    cr_assert_geq(bnb_timer_min_sample(&ti, 0.0), 1000.0 * ti.clock_res_ns * 1e-9);
    if (ti.has_tsc && ti.tsc_invariant) {
        /* calibrated rate: between 100 MHz and 10 GHz */
        cr_assert(ti.tsc_hz > 1e8 && ti.tsc_hz < 1e10, "tsc %g Hz", ti.tsc_hz);
    }
}

/* The engine's thread count is stored with the run, and where it came from;
 * collecting the context does not start the pool. */
static int threads_in_context(const char *env, char *source, size_t cap)
{
    if (env)
        cr_assert_eq(setenv("BN_THREADS", env, 1), 0);
    else
        cr_assert_eq(unsetenv("BN_THREADS"), 0);
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_timer_info ti;
    bnb_timer_init(&ti);
    bnb_context_in in = {.topo = t, .timer = &ti, .papi_status = ""};
    bnb_run_info a = {0};
    cr_assert_eq(bnb_context_collect(&in, &a, err, sizeof err), 0, "%s", err);
    cJSON *c = cJSON_Parse(a.context_json);
    cr_assert_not_null(c);
    cJSON *n = cJSON_GetObjectItem(c, "threads"), *s = cJSON_GetObjectItem(c, "threads_source");
    cr_assert(cJSON_IsNumber(n) && cJSON_IsString(s), "%s", a.context_json);
    snprintf(source, cap, "%s", s->valuestring);
    int v = n->valueint;
    cJSON_Delete(c);
    bnb_run_info_free(&a);
    bnb_topo_close(t);
    return v;
}

Test(context, thread_count_stored_with_its_source)
{
    char src[32];
    cr_assert_eq(threads_in_context("3", src, sizeof src), 3);
    cr_assert_str_eq(src, "BN_THREADS");
    cr_assert_eq(threads_in_context(NULL, src, sizeof src), test_cpu_count());
    cr_assert_str_eq(src, "default");
}
