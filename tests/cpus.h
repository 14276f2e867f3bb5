/*
 * cpus.h - the CPUs this test process may run on (sched_getaffinity), for
 * tests that pin or pass --cpus: they take a CPU from this set, so they hold
 * on a one-CPU machine and under `taskset -c 0`, and never assume that CPU 1
 * exists. Header-only (static inline functions).
 */
#ifndef BN_TESTS_CPUS_H
#define BN_TESTS_CPUS_H

#include <criterion/criterion.h>
#include <sched.h>

/* The process's affinity mask; fails the test when it cannot be read. */
static inline cpu_set_t test_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0, "sched_getaffinity failed");
    cr_assert_gt(CPU_COUNT(&set), 0);
    return set;
}

/* The highest-numbered CPU the process may run on (CPU 1 on a two-CPU
 * machine, 0 under `taskset -c 0`). */
static inline int test_last_cpu(void)
{
    cpu_set_t set = test_affinity();
    for (int c = CPU_SETSIZE - 1; c >= 0; c--)
        if (CPU_ISSET(c, &set))
            return c;
    cr_assert_fail("empty affinity mask");
    return -1;
}

/* How many CPUs the process may run on. */
static inline int test_cpu_count(void)
{
    cpu_set_t set = test_affinity();
    return CPU_COUNT(&set);
}

/* Restricts this test process to the one CPU `cpu` (Criterion runs each test
 * in its own process, so later tests are not affected). */
static inline void test_pin_process(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof set, &set), 0, "sched_setaffinity(%d) failed", cpu);
}

#endif
