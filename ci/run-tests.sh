#!/bin/sh
# Runs each test binary given on the command line and prints one closing line
# "N passed, N failed" over all of them. Criterion binaries are read from
# their "Synthesis" line; the plain tests/mt_* programs end with their own
# "N passed, N failed" line. Exits 1 when any binary fails; the failures'
# own lines are printed again just above the closing line, so a log's tail
# (all a CI page may show) names the failing test and its assertion.
set -u
pass=0; fail=0; bad=""; detail=""
for t in "$@"; do
  echo "== $t"
  case "$t" in
    */mt_*) out=$("$t" 2>&1); rc=$? ;;
    *) out=$("$t" --jobs="${CRITERION_JOBS:-2}" 2>&1); rc=$? ;;
  esac
  echo "$out" | grep -E '^\[----\]|Synthesis|FAIL|\[FAIL\]|Assertion|ERROR|WARNING: ThreadSanitizer|runtime error|CRASH|signal|passed, [0-9]+ failed' | tail -n 30
  syn=$(echo "$out" | grep 'Synthesis:' | tail -n 1)
  if [ -n "$syn" ]; then
    p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
  else
    line=$(echo "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
  fi
  p=${p:-0}; nf=0; for x in $f; do nf=$((nf + x)); done
  if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then nf=1; fi
  pass=$((pass + p)); fail=$((fail + nf))
  if [ "$rc" -ne 0 ]; then
    bad="$bad $t"
    why=$(echo "$out" | grep -E '^\[----\]|\[FAIL\]|FAIL|Assertion|runtime error|CRASH|signal|ERROR' | head -n 20)
    [ -n "$why" ] || why=$(echo "$out" | tail -n 10)
    detail="$detail== $t (exit $rc)
$why
"
  fi
done
if [ -n "$bad" ]; then
  printf 'what failed:\n%s' "$detail"
  echo "failing binaries:$bad"
fi
echo "$pass passed, $fail failed"
[ -z "$bad" ]
