#!/bin/sh
# Runs each Criterion test binary given on the command line and prints one
# closing line "N passed, N failed" over all of them (Criterion's own
# "Synthesis" line is printed per binary). Exits 1 when any binary fails.
set -u
pass=0; fail=0; bad=""
for t in "$@"; do
  echo "== $t"
  out=$("$t" --jobs="${CRITERION_JOBS:-2}" 2>&1); rc=$?
  echo "$out" | tail -n 40 | grep -vE '^\s*$' | grep -E 'Synthesis|FAIL|fail|Assertion|ERROR|error|CRASH|Warning|signal' | tail -n 30
  syn=$(echo "$out" | grep 'Synthesis:' | tail -n 1)
  p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p'); p=${p:-0}
  f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
  nf=0; for x in $f; do nf=$((nf + x)); done
  if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then nf=1; fi
  pass=$((pass + p)); fail=$((fail + nf))
  [ "$rc" -ne 0 ] && bad="$bad $t"
done
[ -n "$bad" ] && echo "failing binaries:$bad"
echo "$pass passed, $fail failed"
[ -z "$bad" ]
