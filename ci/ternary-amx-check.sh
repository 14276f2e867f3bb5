#!/bin/sh
# Builds ci/ternary_amx_check.c from the kernel sources alone (no Makefile
# dependencies: no Criterion, hwloc or BLAS needed) and runs it. For checking
# the amx kernel set on a machine with AMX; exit status 1 on a mismatch.
set -e
CC=${CC:-cc}
OUT=${OUT_DIR:-/tmp/bn-amx-check}
mkdir -p "$OUT"
BASE="-DBN_VERSION=\"check\" -std=c11 -D_GNU_SOURCE -O2 -g -pthread -Wall -Wextra -Werror -Wno-unused-parameter -Iengine/include -Ikernels -I."
AVX512="-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16"
for f in engine/quant.c engine/status.c engine/dtype.c kernels/ternary.c kernels/ref/ternary_ref.c ci/ternary_amx_check.c; do
    $CC $BASE -c "$f" -o "$OUT/$(basename "$f" .c).o"
done
$CC $BASE -mavx2 -mfma -mf16c -c kernels/x86/avx2/ternary_avx2.c -o "$OUT/ternary_avx2.o"
$CC $BASE $AVX512 -c kernels/x86/avx512/ternary_avx512.c -o "$OUT/ternary_avx512.o"
$CC $BASE $AVX512 -c kernels/x86/avx512/ternary_amx.c -o "$OUT/ternary_amx.o"
$CC -pthread -o "$OUT/ternary_amx_check" "$OUT"/*.o -lm
exec $WRAP "$OUT/ternary_amx_check"
