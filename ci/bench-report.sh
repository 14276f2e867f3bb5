#!/bin/sh
# ci/bench-report.sh - the report scale benchmark (issue 7, acceptance 3):
# builds a synthetic DB of N runs (default 1000) with `bnbench _gen-db`,
# names a baseline in the middle, then times `bnbench report` on the latest
# run in each format (best of 3 wall-clock runs). Prints the times; exits 1
# when a report takes 2 s or more. A benchmark, not a unit test: run it by
# hand or from CI, never from `make test`.
set -u
cd "$(dirname "$0")/.." || exit 2
BNB=${BUILD:-build}/bnbench
N=${1:-1000}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
"$BNB" _gen-db --runs "$N" -o "$tmp/big.db" > /dev/null || exit 2
"$BNB" --db "$tmp/big.db" baseline set mid $((N / 2)) > /dev/null || exit 2
now() { date +%s.%N; }
rc=0
for f in md html json; do
  best=
  for _ in 1 2 3; do
    t0=$(now)
    "$BNB" --db "$tmp/big.db" report --format $f -o "$tmp/r.$f" 2> /dev/null || exit 2
    t=$(echo "$(now) - $t0" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  ok=$(echo "$best < 2" | bc)
  printf 'report --format %-4s on %d runs: %.3f s (%s KiB)%s\n' $f "$N" "$best" \
    $(($(wc -c < "$tmp/r.$f") / 1024)) "$([ "$ok" = 1 ] || echo ' - OVER 2 s')"
  [ "$ok" = 1 ] || rc=1
done
exit $rc
