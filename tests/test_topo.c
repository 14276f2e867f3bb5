/*
 * test_topo.c - --cpus parsing (lists, ranges, keywords, errors) on the real
 * and on synthetic hwloc topologies, CPUs outside the process's affinity
 * dropped from a list (issue 13), and pinning read back. Real-machine tests
 * take their CPUs from the process's affinity (cpus.h).
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/topo.h"
#include "cpus.h"

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
    cr_assert(strstr(err, "--cpus \"7\": none of these CPUs is available to this process "
                          "(allowed: 0-1)"),
              "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "7,7", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "CPU 7 is listed twice"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "1,1", &l, err, sizeof err), -1);
    cr_assert(strstr(err, "CPU 1 is listed twice"), "%s", err);
    cr_assert_eq(bnb_cpus_parse(t, "-1", &l, err, sizeof err), -1);
    cr_assert_eq(bnb_cpus_parse(t, "0 ", &l, err, sizeof err), -1);
    cr_assert_eq(bnb_cpus_parse(t, "99999999", &l, err, sizeof err), -1);
    bnb_topo_close(t);
}

/* A list keeps its usable CPUs in order and names the dropped ones. */
Test(topo, list_drops_cpus_outside_the_allowed_set)
{
    bnb_topo *t = synth("package:1 core:2 pu:1");
    bnb_cpulist l;
    char err[256];
    cr_assert_eq(bnb_cpus_parse(t, "1,5-9,0", &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){1, 0}, 2);
    cr_assert_str_eq(l.note, "--cpus \"1,5-9,0\": CPU(s) 5-9 dropped, not available to this "
                             "process (allowed: 0-1); using 1,0");
    cr_assert_eq(bnb_cpus_parse(t, "0-1", &l, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(l.note, "");
    bnb_topo_close(t);
}

/* The real topology intersects with the process's affinity: restricted to
 * its last CPU c, the process gets {c} from every spec that names c, a note
 * for the rest, and a usage error for a list without c. */
Test(topo, real_list_intersects_with_affinity)
{
    int c = test_last_cpu();
    test_pin_process(c);
    bnb_topo *t = NULL;
    char err[256], spec[32], want[200];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_cpulist l;
    snprintf(spec, sizeof spec, "0-%d", c + 1);
    cr_assert_eq(bnb_cpus_parse(t, spec, &l, err, sizeof err), 0, "%s", err);
    expect_list(&l, (int[]){c}, 1);
    if (c == 0)
        snprintf(want, sizeof want, "CPU(s) 1 dropped");
    else if (c == 1)
        snprintf(want, sizeof want, "CPU(s) 0,2 dropped");
    else
        snprintf(want, sizeof want, "CPU(s) 0-%d,%d dropped", c - 1, c + 1);
    cr_assert(strstr(l.note, want), "\"%s\" not in note: %s", want, l.note);
    snprintf(want, sizeof want, "not available to this process (allowed: %d); using %d", c, c);
    cr_assert(strstr(l.note, want), "\"%s\" not in note: %s", want, l.note);
    const char *kw[] = {"compact", "physical", "scatter"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(bnb_cpus_parse(t, kw[i], &l, err, sizeof err), 0, "%s", err);
        expect_list(&l, (int[]){c}, 1);
        cr_assert_str_eq(l.note, "");
    }
    bnb_cpus_default(t, &l);
    expect_list(&l, (int[]){c}, 1);
    snprintf(spec, sizeof spec, "%d", c + 1);
    cr_assert_eq(bnb_cpus_parse(t, spec, &l, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "--cpus \"%d\": none of these CPUs is available to this process (allowed: %d)", c + 1,
             c);
    cr_assert_str_eq(err, want);
    bnb_topo_close(t);
}

Test(topo, real_machine_summary)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    /* hwloc keeps the PUs the cgroup allows: at least those this process may
     * run on, at most those configured */
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    cr_assert(s.pus >= test_cpu_count() && s.pus <= conf, "hwloc PUs %d, affinity %d, conf %ld",
              s.pus, test_cpu_count(), conf);
    cr_assert_geq(s.cores, 1);
    cr_assert_geq(s.packages, 1);
    cr_assert_geq(s.ncaches, 1);
    cr_assert_gt(s.memory_bytes, 0);
    cr_assert_gt(s.llc_bytes, 0);
    bnb_topo_close(t);
}

/* Issue 3 acceptance 3 at the API level: binding CPU N (the last CPU this
 * process may use: 1 on two CPUs) reads back as {N}. */
Test(topo, bind_cpu1_reads_back)
{
    int last = test_last_cpu();
    bnb_topo *t = NULL;
    char err[256], spec[16], want[32];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_cpulist l;
    snprintf(spec, sizeof spec, "%d", last);
    cr_assert_eq(bnb_cpus_parse(t, spec, &l, err, sizeof err), 0, "%s", err);
    bnb_binding b;
    cr_assert_eq(bnb_pin_self(t, l.cpu[0], &b), 0, "%s", b.cpu_warning);
    cr_assert(b.cpu_bound);
    cr_assert_eq(b.ncpus, 1);
    cr_assert_eq(b.cpus[0], last);
    cr_assert_str_eq(b.cpu_warning, "");
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    cr_assert_eq(CPU_COUNT(&set), 1);
    cr_assert(CPU_ISSET(last, &set));
    char *j = bnb_binding_json(&b);
    cr_assert_not_null(j);
    snprintf(want, sizeof want, "\"cpus\":[%d]", last);
    cr_assert(strstr(j, want), "%s", j);
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
    int last = test_last_cpu();
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
