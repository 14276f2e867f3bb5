#!/bin/sh
# ci/nightly.sh - the nightly CI job, usable as-is from any CI runner:
#   build -> unit tests -> bnbench run (reason nightly) -> regression gate
#   against the baseline -> readiness report (md, html, json) -> publish
#   (when BNB_PUBLISH_URL is set) -> a Markdown summary for the CI page.
#
# Baseline policy: when no baseline named $BNB_BASELINE exists yet (the very
# first nightly on a DB), this run BECOMES the baseline and the gate is
# skipped (said in the summary); afterwards the baseline only moves when a
# person runs `bnbench baseline set NAME RUN`, so a slow drift cannot
# silently become the new normal.
#
# Environment (all optional):
#   BNB_DB            the SQLite store (default bnbench.db)
#   BNB_BASELINE      baseline name (default nightly)
#   BNB_OUT           directory for the reports (default reports-out)
#   BNB_RUN_ARGS      extra arguments for bnbench run (e.g. --quick)
#   BNB_PUBLISH_URL   base URL: each report file is PUT to $BNB_PUBLISH_URL/<file>
#                     (it may hold user:password; this script never prints it,
#                     and bnbench's lines that it shows say http://***@host/...)
#   BNB_PUBLISH_TOKEN sent as "Authorization: Bearer ..." by bnbench publish
#                     --report (never printed; BNBENCH_TOKEN, the token of
#                     `bnbench publish`, is used first when both are set)
#   BNB_SKIP_TESTS=1  skip `make test` (local dry runs only)
#   GITHUB_STEP_SUMMARY  when set (GitHub Actions), the summary is appended there
#
# Exit codes: 0 ok; 1 tests failed, a confirmed regression or a missed
# target; 2 build or bnbench error; 3 the reports could not be published.
set -u
cd "$(dirname "$0")/.." || exit 2
DB=${BNB_DB:-bnbench.db}
BASE=${BNB_BASELINE:-nightly}
OUT=${BNB_OUT:-reports-out}
BUILD=${BUILD:-build}
BNB="$BUILD/bnbench"
mkdir -p "$OUT" || exit 2
SUMMARY="$OUT/summary.md"
: > "$SUMMARY"
say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

say "# bnbench nightly: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say ""
if ! make -j2 > "$OUT/build.log" 2>&1; then
  say "- build: **FAILED** (see build.log)"; tail -n 30 "$OUT/build.log"; exit 2
fi
say "- build: ok"

tests_rc=0
if [ "${BNB_SKIP_TESTS:-0}" = 1 ]; then
  say "- unit tests: skipped (BNB_SKIP_TESTS=1)"
else
  make -j2 test > "$OUT/test.log" 2>&1; tests_rc=$?
  say "- unit tests: $(tail -n 1 "$OUT/test.log")$([ $tests_rc -ne 0 ] && echo ' - **FAILED**')"
fi

# shellcheck disable=SC2086 # BNB_RUN_ARGS is a list of words
"$BNB" run --db "$DB" --reason nightly --quiet ${BNB_RUN_ARGS:-} > "$OUT/run.log" 2>&1
run_rc=$?
if [ $run_rc -ge 2 ]; then # 2: nothing stored; 3: the run stopped on an error
  say "- bnbench run: **error**: $(grep 'bnbench:' "$OUT/run.log" | head -n 1)"; exit 2
fi
say "- bnbench run: $(tail -n 1 "$OUT/run.log")"

gate_rc=0
if "$BNB" --db "$DB" baseline list | grep -q "^$BASE "; then
  "$BNB" --db "$DB" check --baseline "$BASE" > "$OUT/check.log" 2>&1; gate_rc=$?
  [ $gate_rc -eq 2 ] && { say "- gate: **error**: $(tail -n 1 "$OUT/check.log")"; exit 2; }
  say "- gate: $(grep '^check: ' "$OUT/check.log" | tail -n 1)"
  grep -E 'CONFIRMED|MISSED|not confirmed|insufficient' "$OUT/check.log" | sed 's/^ */  - /' >> "$SUMMARY"
else
  "$BNB" --db "$DB" baseline set "$BASE" latest > /dev/null || exit 2
  say "- gate: skipped: no baseline \"$BASE\" yet; this run is now the baseline"
  gate_rc=$run_rc # missed targets or failed cases still fail the job
fi

for f in md html json; do
  "$BNB" report --db "$DB" -o "$OUT/report.$f" 2> "$OUT/report-$f.log" ||
    { say "- report ($f): **error**: $(cat "$OUT/report-$f.log")"; exit 2; }
done
say "- report: $(sed -n 's/.*(score \(.*\))/score \1/p' "$OUT/report-md.log"); files in $OUT/"

pub_rc=0
if [ -n "${BNB_PUBLISH_URL:-}" ]; then
  for f in report.md report.html report.json; do
    # Only bnbench's own lines reach the summary: they show the URL redacted.
    if "$BNB" publish --report "$OUT/$f" --url "${BNB_PUBLISH_URL%/}/$f" > "$OUT/publish.log" 2>&1; then
      say "- $(cat "$OUT/publish.log")"
    else
      say "- publish $f: **failed**: $(cat "$OUT/publish.log")"; pub_rc=3
    fi
  done
else
  say "- publish: not configured (set BNB_PUBLISH_URL)"
fi

say ""
cat "$OUT/report.md" >> "$SUMMARY"
[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$SUMMARY" >> "$GITHUB_STEP_SUMMARY"

[ $tests_rc -ne 0 ] && exit 1
[ $gate_rc -eq 1 ] && exit 1
[ $pub_rc -ne 0 ] && exit 3
exit 0
