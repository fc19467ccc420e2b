#!/usr/bin/env bash
# scripts/sanitizers.sh: builds tarena and its tests with clang under a
# sanitizer, in a build directory of its own, and runs them.
#
#   scripts/sanitizers.sh ubsan [ctest args...]
#       build-ubsan/: -fsanitize=undefined -fno-sanitize-recover=undefined for
#       the library and every test (RelWithDebInfo); runs the whole ctest
#       suite except static.* and install.* (see below). Extra arguments go to
#       ctest, e.g. `-R '^(unit|integration)\.'` for the quick part only.
#   scripts/sanitizers.sh tsan [seconds]
#       build-tsan/: -fsanitize=thread for the allocator objects, the unit
#       tests and tests/fuzz/tsan_stress.c (the ta_* API from 8 threads with
#       cross-thread frees, thread exit, stats walks, malloc_trim and the
#       background trimmer). Runs the unit suites, remap_race, then the
#       stress twice (default 20 s each; the second run also calls mallopt
#       concurrently).
#       Every report goes to build-tsan/tsan-report.txt; the exit status is
#       1 when there was any report at all (no suppressions: the allocator is
#       expected to be race-free in C11 terms, see tests/fuzz/README.md) or
#       any test failed. CI (scripts/test-all.sh) runs `tsan 8`, about a
#       minute with a cold build.
#   scripts/sanitizers.sh asan-tests [ctest args...]
#       build-fuzz/: -fsanitize=address,undefined for the allocator objects
#       and the unit tests, plus the libFuzzer harness (tests/fuzz); runs the
#       unit suites, fuzz.stress, fuzz.remap_race and fuzz.short.
#
# How UBSan meets LD_PRELOAD: clang links the UBSan runtime statically into
# executables but not into shared libraries, so an instrumented libtarena.so
# would have undefined __ubsan_handle_* symbols (and fails --no-undefined).
# This build therefore uses -shared-libsan everywhere: executables and
# libtarena.so both depend on libclang_rt.ubsan_standalone-x86_64.so (found
# through an RPATH to clang's runtime directory), so one runtime serves the
# whole process, including programs like python3 or gcc that the preload
# tests run under LD_PRELOAD=libtarena.so.
# static.link and install.consumers are skipped under UBSan: they link
# libtarena.a / the installed library into new programs with a plain
# `cc` command line that does not carry the sanitizer runtime; what they test
# is the link, which the ordinary build (scripts/test-all.sh) covers.
#
# Why TSan does not run the integration suites: under TSan the sanitizer's
# runtime owns malloc, so a test program linked to the overriding
# libtarena.so would exercise TSan's malloc, not tarena. tsan_stress drives
# the ta_* prefixed API instead. liburcu (remote-free stacks, RCU walks) is
# not instrumented: tests/fuzz/tsan_urcu_shim.c, linked with --wrap into the
# TSan binaries, tells TSan what its push/pop and grace periods order.
#
# Environment: JOBS (make -j, default 2), CC_CLANG (default clang).
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."

usage() {
    sed -n '2,/^# Environment/p' "$self" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[ $# -ge 1 ] || usage
mode=$1
shift

# clang is in setup-deps' list; its sanitizer and libFuzzer runtimes are only
# a Recommends of Debian's clang, so ask for them explicitly.
scripts/setup-deps.sh libclang-rt-dev >/dev/null

jobs=${JOBS:-2}
clang=${CC_CLANG:-clang}
clangxx=${CXX_CLANG:-clang++}
command -v "$clang" >/dev/null || { echo "sanitizers: $clang not found" >&2; exit 1; }
command -v "$clangxx" >/dev/null || clangxx=$clang

# configure <dir> <sanitizer flags> [cmake args...]
configure() {
    local dir=$1 flags=$2
    shift 2
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER="$clang" -DCMAKE_CXX_COMPILER="$clangxx" \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
        -DTARENA_BUILD_BENCH=OFF "$@" >"$dir/configure.log" 2>&1 \
        || { cat "$dir/configure.log" >&2; echo "sanitizers: configure of $dir failed" >&2; exit 1; }
}

case $mode in
ubsan)
    dir=build-ubsan
    rt=$(dirname "$("$clang" -print-file-name=libclang_rt.ubsan_standalone-x86_64.so)")
    [ -f "$rt/libclang_rt.ubsan_standalone-x86_64.so" ] \
        || { echo "sanitizers: no UBSan runtime in $rt (install libclang-rt-dev)" >&2; exit 1; }
    flags="-fsanitize=undefined -fno-sanitize-recover=undefined -shared-libsan -fno-omit-frame-pointer"
    mkdir -p "$dir"
    configure "$dir" "$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath,$rt" -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath,$rt" \
        -DTARENA_FUZZ=OFF
    cmake --build "$dir" -j "$jobs"
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    cd "$dir"
    ctest --output-on-failure --no-tests=error -j 2 -E '^(static|install)\.' "$@"
    ;;
tsan)
    dir=build-tsan
    seconds=${1:-20}
    mkdir -p "$dir"
    configure "$dir" "-fsanitize=thread -fno-omit-frame-pointer" -DTARENA_FUZZ=OFF
    cmake --build "$dir" -j "$jobs" --target ta_unit_tests ta_tsan_stress ta_remap_race
    report=$PWD/$dir/tsan-report.txt
    : >"$report"
    # Keep going after the first report, so one run lists them all; the
    # exit status (66) still says that something was found.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:history_size=7}
    status=0
    for suite in $("$dir/tests/unit/ta_unit_tests" -l); do
        echo "== unit.$suite under TSan"
        rc=0
        "$dir/tests/unit/ta_unit_tests" "$suite" >"$dir/unit.$suite.log" 2>&1 || rc=$?
        [ $rc -eq 0 ] || { status=1; echo "unit.$suite: exit $rc"; }
        grep -q "WARNING: ThreadSanitizer" "$dir/unit.$suite.log" && cat "$dir/unit.$suite.log" >>"$report"
        tail -n 3 "$dir/unit.$suite.log"
    done
    echo "== remap_race under TSan"
    rc=0
    "$dir/tests/fuzz/ta_remap_race" 3 >"$dir/remap_race.log" 2>&1 || rc=$?
    [ $rc -eq 0 ] || { status=1; echo "remap_race: exit $rc"; }
    grep -q "WARNING: ThreadSanitizer" "$dir/remap_race.log" && cat "$dir/remap_race.log" >>"$report"
    tail -n 1 "$dir/remap_race.log"
    for extra in "" --mallopt; do
        echo "== tsan_stress $seconds 8 $extra"
        rc=0
        "$dir/tests/fuzz/ta_tsan_stress" "$seconds" 8 $extra >"$dir/stress$extra.log" 2>&1 || rc=$?
        [ $rc -eq 0 ] || { status=1; echo "tsan_stress $extra: exit $rc"; }
        grep -q "WARNING: ThreadSanitizer" "$dir/stress$extra.log" && cat "$dir/stress$extra.log" >>"$report"
        grep -E "^tsan_stress|SUMMARY" "$dir/stress$extra.log" | sort | uniq -c || true
    done
    n=$(grep -c "WARNING: ThreadSanitizer" "$report" || true)
    echo "tsan: $n reports, all in $report"
    # Any report fails the run, also one from a program that still exited 0.
    [ "$n" -eq 0 ] || status=1
    exit $status
    ;;
asan-tests)
    dir=build-fuzz
    mkdir -p "$dir"
    configure "$dir" "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
        -DTARENA_FUZZ=ON -DTARENA_FUZZ_SANITIZERS=address,undefined
    cmake --build "$dir" -j "$jobs" --target ta_unit_tests ta_tsan_stress ta_remap_race ta_fuzz_ops
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    cd "$dir"
    # Only what drives tarena through the ta_* API: everything else links the
    # overriding libtarena.so, whose malloc ASan's own would shadow.
    ctest --output-on-failure --no-tests=error -j 2 -R '^(unit|fuzz)\.' "$@"
    ;;
*)
    usage
    ;;
esac
