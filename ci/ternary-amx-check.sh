#!/bin/sh
# Builds ci/ternary_amx_check.c against the engine and kernel sources alone
# (no Makefile dependencies: no Criterion, hwloc or BLAS needed) and runs it.
# For checking the amx kernel set on a machine with AMX; exit status 1 on a
# mismatch. OUT_DIR: where objects go; WRAP: a prefix such as "taskset -c 2".
set -e
CC=${CC:-cc}
OUT=${OUT_DIR:-/tmp/bn-amx-check}
rm -rf "$OUT"
mkdir -p "$OUT"
BASE="-DBN_VERSION=\"check\" -DBN_BUILD_TYPE=\"check\" -std=c11 -D_GNU_SOURCE -O2 -g -pthread -Iengine/include -Iengine -Ikernels -I."
AVX2="-mavx2 -mfma -mf16c"
AVX512="$AVX2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16"
i=0
for f in engine/*.c kernels/*.c kernels/ref/*.c ci/ternary_amx_check.c; do
    i=$((i + 1)); $CC $BASE -c "$f" -o "$OUT/$i.o"
done
for f in kernels/x86/avx2/*.c; do i=$((i + 1)); $CC $BASE $AVX2 -c "$f" -o "$OUT/$i.o"; done
for f in kernels/x86/avx512/*.c; do i=$((i + 1)); $CC $BASE $AVX512 -c "$f" -o "$OUT/$i.o"; done
$CC -pthread -o "$OUT/ternary_amx_check" "$OUT"/*.o -lm
exec $WRAP "$OUT/ternary_amx_check"
