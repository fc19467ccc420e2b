#!/usr/bin/env bash
# scripts/valgrind-check.sh: builds tarena with -DTARENA_VALGRIND=ON (memcheck
# annotations) in build-valgrind/ and runs the memcheck tests (tests/valgrind,
# ctest label valgrind): the unit suites under memcheck, which must stay
# silent, and programs whose bugs memcheck must report, linked -static with
# libtarena.a or run dynamic under LD_PRELOAD=libtarena.so.
# Usage: scripts/valgrind-check.sh [ctest args...]
# Environment: BUILD_DIR (default build-valgrind), JOBS (make -j, default 2),
# TEST_JOBS (ctest -j, default 2).
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."

scripts/setup-deps.sh valgrind >/dev/null
dir=${BUILD_DIR:-build-valgrind}
mkdir -p "$dir"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTARENA_VALGRIND=ON -DTARENA_BUILD_BENCH=OFF \
    >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log" >&2; echo "valgrind-check: configure of $dir failed" >&2; exit 1; }
# Only what the valgrind tests run: the unit binary, libtarena.a and libtarena.so.
cmake --build "$dir" -j "${JOBS:-2}" --target ta_unit_tests tarena_static tarena
cd "$dir"
ctest --output-on-failure --no-tests=error -L valgrind -j "${TEST_JOBS:-2}" "$@"
