/*
 * test_topo.c - --cpus parsing (lists, ranges, keywords, errors) on the real
 * and on synthetic hwloc topologies, and pinning read back.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/topo.h"

static bnb_topo *synth(const char *desc)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open_synthetic(desc, &t, err, sizeof err), 0, "%s", err);
    return t;
}

static void expect_list(const bnb_cpulist *l, const int *want, int n)
{
    cr_assert_eq(l->n, n, "got %d CPUs, want %d", l->n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(l->cpu[i], want[i], "cpu[%d] = %d, want %d", i, l->cpu[i], want[i]);
}

Test(topo, synthetic_summary)
{
    bnb_topo *t = synth("package:2 core:2 pu:2");
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    cr_assert_eq(s.packages, 2);
    cr_assert_eq(s.cores, 4);
    cr_assert_eq(s.pus, 8);
    cr_assert_eq(s.pus_per_core, 2);
    int sib[4];
    cr_assert_eq(bnb_topo_siblings(t, 2, sib, 4), 1);
    cr_assert_eq(sib[0], 3);
    bnb_topo_close(t);
}

Test(topo, parse_lists_and_ranges)
{
    bnb_topo *t = synth("package:2 core:2 pu:2");
    bnb_cpulist l;
    char err[256];
    cr_assert_eq(bnb_cpus_parse(t, "0,2", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){0, 2}, 2);
    cr_assert_eq(bnb_cpus_parse(t, "0-3", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){0, 1, 2, 3}, 4);
    cr_assert_eq(bnb_cpus_parse(t, "5,0-1,7", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){5, 0, 1, 7}, 4);
    cr_assert_eq(bnb_cpus_parse(t, "3", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){3}, 1);
    char buf[64];
    cr_assert_str_eq(bnb_cpulist_format(&(bnb_cpulist){.n = 3, .cpu = {5, 0, 7}}, buf, sizeof buf),
                     "5,0,7");
    bnb_topo_close(t);
}

Test(topo, parse_keywords)
{
    /* PUs 0..7: package 0 = cores {0,1},{2,3}; package 1 = {4,5},{6,7} */
    bnb_topo *t = synth("package:2 core:2 pu:2");
    bnb_cpulist l;
    char err[256];
    cr_assert_eq(bnb_cpus_parse(t, "compact", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    cr_assert_eq(bnb_cpus_parse(t, "physical", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){0, 2, 4, 6}, 4);
    cr_assert_eq(bnb_cpus_parse(t, "scatter", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){0, 4, 2, 6, 1, 5, 3, 7}, 8);
    bnb_topo_close(t);
}

Test(topo, parse_errors_name_the_problem)
{
    bnb_topo *t = synth("package:1 core:2 pu:1");
    bnb_cpulist l;
    char err[256];
    cr_assert_eq(bnb_cpus_parse(t, "", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "empty"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "0,,1", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "empty item"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "0-x", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "\"0-x\" is not a CPU number"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "abc", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "\"abc\""), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "1-0", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "range 1-0 is reversed"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "7", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "CPU 7 is not available to this process (allowed: 0-1)"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "1,1", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "CPU 1 is listed twice"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "-1", &l, err, sizeof err), -1);
    cr_assert_eq(bnb_cpus_parse(t, "0 ", &l, err, sizeof err), -1);
    cr_assert_eq(bnb_cpus_parse(t, "99999999", &l, err, sizeof err), -1);
    bnb_topo_close(t);
}

Test(topo, real_machine_summary)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(s.pus, online, "hwloc PUs %d vs online CPUs %ld", s.pus, online);
    cr_assert_geq(s.cores, 1);
    cr_assert_geq(s.packages, 1);
    cr_assert_geq(s.ncaches, 1);
    cr_assert_gt(s.memory_bytes, 0);
    cr_assert_gt(s.llc_bytes, 0);
    bnb_topo_close(t);
}

/* Issue 3 acceptance 3 at the API level: binding CPU 1 reads back as {1}. */
Test(topo, bind_cpu1_reads_back)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        cr_skip_test("needs 2 CPUs");
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_cpulist l;
    cr_assert_eq(bnb_cpus_parse(t, "1", &l, err, sizeof err), 0, "%s", err);
    bnb_binding b;
    cr_assert_eq(bnb_pin_self(t, l.cpu[0], &b), 0, "%s", b.cpu_warning);
    cr_assert(b.cpu_bound);
    cr_assert_eq(b.ncpus, 1);
    cr_assert_eq(b.cpus[0], 1);
    cr_assert_str_eq(b.cpu_warning, "");
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    cr_assert_eq(CPU_COUNT(&set), 1);
    cr_assert(CPU_ISSET(1, &set));
    char *j = bnb_binding_json(&b);
    cr_assert_not_null(j);
    cr_assert(strstr(j, "\"cpus\":[1]"), "%s", j);
    free(j);
    bnb_topo_close(t);
}

static void *worker_fn(bnb_worker *w, void *arg)
{
    int *cpu_seen = arg;
    *cpu_seen = sched_getcpu();
    return w;
}

Test(topo, worker_thread_pinned)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    int last = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
    bnb_worker w;
    int seen = -1;
    cr_assert_eq(bnb_worker_start(&w, t, last, worker_fn, &seen, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_worker_join(&w), &w);
    cr_assert_eq(seen, last);
    cr_assert(w.binding.cpu_bound);
    cr_assert_eq(w.binding.cpus[0], last);
    cr_assert_geq(w.binding.numa_node, 0);
    bnb_topo_close(t);
}

Test(topo, binding_refused_on_synthetic_is_a_warning)
{
    bnb_topo *t = synth("package:1 core:2 pu:1");
    bnb_binding b;
    cr_assert_eq(bnb_pin_self(t, 1, &b), -1);
    cr_assert_not(b.cpu_bound);
    cr_assert_neq(b.cpu_warning[0], '\0');
    bnb_run_info ri = {0};
    cr_assert_eq(bnb_context_set_binding(&ri, t, NULL, &b), 0);
    cr_assert(strstr(ri.warnings_json, "binding: "), "%s", ri.warnings_json);
    bnb_run_info_free(&ri);
    bnb_topo_close(t);
}
