/*
 * export.h - a stored run written out for other tools: Google Benchmark's
 * JSON layout (so compare.py and dashboards that read it work unchanged) or
 * CSV with one row per raw sample.
 */
#ifndef BNB_EXPORT_H
#define BNB_EXPORT_H

#include <stdint.h>

#include "db/db.h"

/* The run as Google Benchmark JSON:
 *   { "context": { date, host_name (the machine name), executable, num_cpus,
 *                  mhz_per_cpu, cpu_scaling_enabled, caches, load_avg,
 *                  library_build_type, "bnbench": { run id, uuid, status,
 *                  reason, commit, machine, context, warnings, binding,
 *                  verdicts, ... } },
 *     "benchmarks": [ one "iteration" row per raw sample (real_time in ns
 *                     per iteration, bnbench_outlier), then "aggregate" rows
 *                     mean, median, stddev, cv, min of each measured case;
 *                     the median row carries the 95% CI and the case's
 *                     available metrics as counters; a failed or skipped
 *                     case is one row with error_occurred/error_message ] }
 * Context keys GB has but this machine cannot read (mhz_per_cpu without
 * cpufreq) are left out rather than invented. Samples hold wall time only:
 * cpu_time repeats real_time and context.bnbench.cpu_time says so.
 * Text: names, messages and reasons are stored as given, which may not be
 * UTF-8; in the JSON every key and string is valid UTF-8, each byte that is
 * not part of a well-formed UTF-8 sequence replaced by U+FFFD (one per byte,
 * db/model/text.h); control characters are escaped as JSON requires. The
 * CSV carries the stored bytes unchanged.
 * Returns a malloc'd NUL-terminated text (caller frees) or NULL with err. */
char *bnb_export_json(bnb_db *db, int64_t run_id, char *err);

/* The run as CSV, header
 *   run_id,run_uuid,machine,suite,case,params,full_name,status,iterations,
 *   sample_index,seconds,outlier
 * and one row per raw sample (a case without samples: one row with empty
 * sample fields). Fields quoted per RFC 4180 where needed; seconds in the
 * shortest form that reads back as the stored double.
 * Returns a malloc'd text (caller frees) or NULL with err. */
char *bnb_export_csv(bnb_db *db, int64_t run_id, char *err);

#endif
