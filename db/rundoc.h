/*
 * rundoc.h - a stored run as one self-contained, schema-versioned JSON
 * document: the unit `bnbench publish` sends, `bnbench serve` ingests,
 * `bnbench export --format run` writes and `bnbench import` reads.
 *
 * Everything that crosses a machine boundary goes through this contract:
 * bnb_rundoc_build turns a stored run into text, bnb_rundoc_parse turns text
 * that came from a socket or a file (hostile) into a validated document, and
 * bnb_db_ingest stores a validated document in one transaction. Callers above
 * db/ never see the JSON tree or SQL; they see a parsed, validated run.
 *
 * The document (schema "bnbench.run", schema_version 1):
 *   { "schema": "bnbench.run", "schema_version": 1,
 *     "machine": { "name", "fingerprint", "description": {...} },
 *     "run": { "uuid", "status" (complete|interrupted|failed|abandoned; a
 *              running run is never published), "status_reason",
 *              "started_at", "finished_at", "reason", "commit", "branch",
 *              "build_type", "compiler", "cflags", "kernels",
 *              "tool_version", "context": {...}, "warnings": [...],
 *              "binding": {...} },
 *     "cases": [ { "seq", "suite", "name", "params": { k: "v" },
 *                  "full_name", "status" (ok|failed|skipped), "message",
 *                  "iterations", "code_version",
 *                  "samples": [ seconds, ... ], "outliers": [ index, ... ],
 *                  "stats": { n, min, max, median, mean, stddev, mad, cv,
 *                             p90, p99, ci_lo, ci_hi, outliers_low,
 *                             outliers_high } | null,
 *                  "metrics": [ { name, unit, value (null when not
 *                                 available), available, reason,
 *                                 higher_is_better, timing } ] } ],
 *     "verdicts": [ { target_id, description, figure, op, threshold,
 *                     relative_to, bound, measured, ci_lo, ci_hi, verdict,
 *                     reason } ] }
 * Strings are valid UTF-8 (bytes that are not are replaced, db/model/text.h);
 * numbers that must be finite (samples, thresholds, iterations) are.
 *
 * Members: every one above is required ("missing" otherwise). status_reason,
 * message, reason, commit and the like are "" when there is none;
 * finished_at, the stats of a case without statistics, a metric's value when
 * not available, a verdict's bound, measured, ci_lo, ci_hi, and
 * machine.description, run.context, run.warnings, run.binding are null when
 * there is none. Params values are strings; cases are in order with seq
 * 1, 2, ...; full_name is suite/name/k=v... (params in key order) and must
 * match; outliers are ascending sample indices. Members not listed are
 * ignored. Strings must fit the store's fields (bnb.h, targets.h: e.g.
 * machine.name < 64 bytes, cases[].message < 256); counts are capped
 * (db/rundoc_internal.h: 10000 cases, 1000000 samples and 256 metrics a
 * case, 4096 verdicts, 2000000 JSON values, 1 MiB for each free-form JSON
 * member). Doubles are written with the digits (15 to 17) that read back as
 * exactly the same double, so samples round-trip bit for bit.
 */
#ifndef BNB_RUNDOC_H
#define BNB_RUNDOC_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define BNB_RUNDOC_SCHEMA  "bnbench.run"
#define BNB_RUNDOC_VERSION 1
/* The largest document bnb_rundoc_parse accepts (and serve's default body
 * limit). */
#define BNB_RUNDOC_MAX_BYTES ((size_t)64 << 20)
/* The most bnb_rundoc_parse_max may be asked to accept (serve's largest
 * --max-body). */
#define BNB_RUNDOC_MAX_BYTES_LIMIT ((size_t)1 << 30)

typedef struct bnb_rundoc bnb_rundoc; /* a parsed, validated document (opaque) */

/* The stored run run_id as a document (compact JSON, no trailing newline).
 * Returns malloc'd NUL-terminated text (caller frees; *len receives its
 * length when len is not NULL), or NULL with err (no such run, a running
 * run, a run without cases, a sample or threshold that is not finite, a DB
 * error, out of memory). The text is checked with bnb_rundoc_parse before it
 * is returned. Reads only: db may be opened read-only. */
char *bnb_rundoc_build(bnb_db *db, int64_t run_id, size_t *len, char *err);

/* Parses and validates len bytes of text (not necessarily NUL-terminated).
 * Every field is checked for presence, type, range and size limits before
 * anything is kept; the first problem is reported in err naming the field by
 * its path, e.g. "cases[3].samples[2]: must be a finite number" or
 * "schema_version: 2 is not supported (this bnbench reads 1)". A document
 * with 0 cases is refused. Returns 0 with *out (free with bnb_rundoc_free),
 * or -1 with err (cap BNB_ERR_MAX) and *out NULL. Thread-safe. */
int bnb_rundoc_parse(const char *text, size_t len, bnb_rundoc **out, char *err);
/* bnb_rundoc_parse with a document limit of max_bytes instead of
 * BNB_RUNDOC_MAX_BYTES (for a collector whose body limit was raised);
 * max_bytes above BNB_RUNDOC_MAX_BYTES_LIMIT counts as that. The other
 * limits (values, cases, samples, field sizes) stay as they are. */
int bnb_rundoc_parse_max(const char *text, size_t len, size_t max_bytes, bnb_rundoc **out,
                         char *err);
void bnb_rundoc_free(bnb_rundoc *d);

/* Fields of a parsed document (valid until bnb_rundoc_free). */
const char *bnb_rundoc_uuid(const bnb_rundoc *d);
const char *bnb_rundoc_machine(const bnb_rundoc *d);
const char *bnb_rundoc_fingerprint(const bnb_rundoc *d);
int bnb_rundoc_ncases(const bnb_rundoc *d);

typedef enum bnb_ingest_outcome {
    BNB_INGEST_STORED = 0,   /* a new run: stored (HTTP 201) */
    BNB_INGEST_ALREADY = 1,  /* this UUID is stored with the same machine and start:
                                nothing written (HTTP 200 "already stored") */
    BNB_INGEST_CONFLICT = 2, /* this UUID is stored for another machine or start:
                                nothing written (HTTP 409) */
} bnb_ingest_outcome;

/* Stores a parsed document in one transaction: the machine matched by
 * fingerprint + name (created when new), the run under its own UUID with
 * its status, every case with samples, stats and metrics, and the verdicts.
 * Idempotent by UUID (see bnb_ingest_outcome). Returns 0 with *outcome and
 * *run_id (the local id of the stored or already-stored run; either may be
 * NULL), or -1 with err and nothing written. */
int bnb_db_ingest(bnb_db *db, const bnb_rundoc *d, bnb_ingest_outcome *outcome, int64_t *run_id,
                  char *err);

#endif
