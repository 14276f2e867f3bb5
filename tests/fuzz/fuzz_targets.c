/*
 * fuzz_targets.c - libFuzzer target for the targets-file parser
 * (bnb_targets_parse), followed by what bnbench run does with a file that
 * parses: validation against a catalogue of cases and metrics
 * (bnb_targets_validate) and evaluation against a small run
 * (bnb_targets_eval). Any input must give 0 or -1 with a terminated
 * message: never a crash, a leak or an out-of-bounds access under
 * AddressSanitizer. The seed corpus is tests/fuzz/corpus/targets/.
 *
 * Build (libFuzzer; only the model layer and cJSON are needed):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine/include \
 *     tests/fuzz/fuzz_targets.c db/model/targets.c db/model/result.c \
 *     $(pkg-config --cflags --libs libcjson) -lm -o build/fuzz_targets
 *   build/fuzz_targets -max_total_time=60 tests/fuzz/corpus/targets
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const bnb_catalogue_case catalogue[] = {
    {.name = "peak/fma/avx512", .metrics = "gflops,flops_per_iter", .selected = true},
    {.name = "peak/triad", .metrics = "gbps,array_bytes,bytes_per_element", .selected = true},
    {.name = "alloc/pool/size=64", .metrics = "mean_ns,p50_ns,p99_ns,hit_rate", .selected = true},
    {.name = "alloc/malloc/size=64", .metrics = "mean_ns,p50_ns,p99_ns", .selected = true},
    {.name = "alloc/pool-trace", .metrics = "hit_rate,failures", .selected = true},
    {.name = "matmul/engine/sgemm/n=1024",
     .metrics = "gflops,flops,pct_peak,vs_openblas",
     .selected = false},
    {.name = "elementwise/add/cache=L1", .metrics = "gbps,speedup", .selected = true},
    {.name = "elementwise/add/cache=L1/table=ref", .metrics = "gbps", .selected = true},
    {.name = "zerocopy/transformer-block", .metrics = "", .selected = true},
};

/* A run to evaluate against: measured, failed and skipped cases, one with
 * an unavailable metric. Built once; lives for the process. */
static bnb_case_result run[5];
static int nrun;

static void build_run(void)
{
    static const char *const names[][2] = {{"peak", "fma/avx512"},
                                           {"alloc", "pool"},
                                           {"alloc", "pool-trace"},
                                           {"elementwise", "add"},
                                           {"matmul", "engine/sgemm"}};
    for (int i = 0; i < 5; i++) {
        bnb_case_result *r = &run[i];
        memset(r, 0, sizeof *r);
        strcpy(r->suite, names[i][0]);
        strcpy(r->name, names[i][1]);
        r->stats = (bnb_stats){.n = 9,
                               .min = 1e-3,
                               .max = 2e-3,
                               .median = 1.5e-3,
                               .mean = 1.5e-3,
                               .ci_lo = 1.4e-3,
                               .ci_hi = 1.6e-3};
    }
    bnb_case_add_param(&run[1], "size", "64");
    bnb_case_add_param(&run[3], "cache", "L1");
    bnb_case_add_param(&run[4], "n", "1024");
    bnb_metric *m = bnb_case_add_metric(&run[0], "gflops", "GFLOP/s", 100, true);
    if (m)
        m->timing = BNB_TIMING_RATE;
    m = bnb_case_add_metric(&run[1], "p50_ns", "ns", 20, false);
    if (m)
        m->timing = BNB_TIMING_PROP;
    bnb_case_add_unavailable(&run[1], "hit_rate", "ratio", "not counted");
    run[2].status = BNB_CASE_FAILED;
    strcpy(run[2].message, "wrong answer");
    run[3].status = BNB_CASE_SKIPPED;
    strcpy(run[3].message, "not here");
    bnb_case_add_metric(&run[4], "gflops", "GFLOP/s", 80, true);
    nrun = 5;
}

static bool has_cuda(const char *cap)
{
    return !strcmp(cap, "cuda");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nrun)
        build_run();
    bnb_target_set s;
    char err[512];
    if (bnb_targets_parse((const char *)data, size, "fuzz.json", &s, err, sizeof err) != 0) {
        if (!memchr(err, '\0', sizeof err) || s.n != 0 || s.t)
            abort(); /* a refused file leaves no set and a terminated message */
        return 0;
    }
    bnb_catalogue cat = {(int)(sizeof catalogue / sizeof catalogue[0]),
                         (bnb_catalogue_case *)catalogue};
    if (bnb_targets_validate(&s, &cat, "fuzz.json", err, sizeof err) != 0 &&
        !memchr(err, '\0', sizeof err))
        abort();
    bnb_verdict *v = calloc((size_t)s.n, sizeof *v);
    if (v) {
        bnb_targets_eval(&s, run, nrun, s.n % 2 ? has_cuda : NULL, v);
        for (int i = 0; i < s.n; i++)
            if (!v[i].verdict[0])
                abort(); /* every target gets a verdict */
    }
    free(v);
    bnb_targets_free(&s);
    return 0;
}
