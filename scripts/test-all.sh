#!/usr/bin/env bash
# scripts/test-all.sh: the one command that checks a tarena checkout, from a
# clean clone: installs missing packages (setup-deps.sh), configures a Release
# build in build-test/, builds everything and runs every ctest test; a full
# run (no arguments) then runs the sanitizer builds and the memcheck check.
# Usage: scripts/test-all.sh [ctest args...]   e.g. scripts/test-all.sh -R preload
# Environment: BUILD_DIR (default build-test), TEST_JOBS (ctest -j, default 2),
# SANITIZERS=0 / VALGRIND=0 skip those steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

scripts/setup-deps.sh

build=${BUILD_DIR:-build-test}
jobs=$(nproc 2>/dev/null || echo 2)
# A build directory of its own, so a developer's build/ (Debug, other
# options) is never reconfigured by this script.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"

# Two tests at a time: the preload tests each run two-threaded programs, and
# tests that count on threads making progress should not starve.
(cd "$build" && ctest --output-on-failure --no-tests=error -j "${TEST_JOBS:-2}" "$@")

# ---- Extra step (issue 6, hardening): sanitizers and a short fuzz run ------
# Only on a full run (no ctest arguments given); SANITIZERS=0 skips it.
# Each has a clang build directory of its own (see scripts/sanitizers.sh):
#  - asan-tests: the unit suites under ASan+UBSan, fuzz.stress,
#    fuzz.remap_race and fuzz.short (libFuzzer on tests/fuzz/fuzz_ops.c, 45 s);
#  - ubsan: every test except static.*/install.* with a UBSan-instrumented
#    library, including the preloaded real programs;
#  - tsan 8: the unit suites, remap_race and two 8 s runs of tsan_stress
#    (8 threads, stats walks, mallopt, the trimmer) under ThreadSanitizer;
#    any report fails (scripts/sanitizers.sh tsan 20 is the longer run).
# About 4 minutes on 2 cores (measured: asan-tests 1 min, ubsan 1-1.5 min,
# tsan 1 min, with cold builds).
if [ $# -eq 0 ] && [ "${SANITIZERS:-1}" != 0 ]; then
    cd "$root"
    scripts/sanitizers.sh asan-tests
    scripts/sanitizers.sh ubsan
    scripts/sanitizers.sh tsan 8
fi

# ---- Extra step (issue 6, hardening): memcheck ----------------------------
# Only on a full run; VALGRIND=0 skips it. A -DTARENA_VALGRIND=ON build in
# build-valgrind/ (scripts/valgrind-check.sh): the unit suites under memcheck
# must be silent, and programs linked -static with libtarena.a, or dynamic
# with libtarena.so preloaded, must get their use-after-free, overflow,
# double-free and leak reports. This is the only
# check that the annotations still match what the allocator does. About 40 s
# on 2 cores with a cold build (measured).
if [ $# -eq 0 ] && [ "${VALGRIND:-1}" != 0 ]; then
    cd "$root"
    scripts/valgrind-check.sh
fi
