#!/usr/bin/env bash
# scripts/fuzz-long.sh: a long libFuzzer run of tests/fuzz/fuzz_ops, in
# parallel, on a persistent corpus outside the repository (so that runs
# build on each other), then a summary of what it found.
#
# Usage: scripts/fuzz-long.sh [seconds (default 600)] [extra libFuzzer flags...]
# Environment:
#   FUZZ_DIR    work directory (default ~/.cache/tarena-fuzz): corpus/,
#               artifacts/ (crash-*, timeout-*, oom-* inputs), logs/
#   FUZZ_JOBS   parallel fuzzing processes (default: nproc)
#   FUZZ_MODE   fork (default): -fork=FUZZ_JOBS with -ignore_crashes etc., so a
#               finding does not stop the run and the time limit is for the
#               whole run; jobs: -jobs=FUZZ_JOBS -workers=FUZZ_JOBS, each job
#               fuzzing until its time limit or its first finding
#   BUILD_DIR   clang build directory (default build-fuzz, configured like
#               `scripts/sanitizers.sh asan-tests`: ASan + UBSan)
#   JOBS        make -j for the build (default 2)
# Replay a finding: <build>/tests/fuzz/ta_fuzz_ops <artifact>
# Minimise one:     <build>/tests/fuzz/ta_fuzz_ops -minimize_crash=1 -runs=20000 <artifact>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

seconds=${1:-600}
shift || true
work=${FUZZ_DIR:-${HOME:-/tmp}/.cache/tarena-fuzz}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
build=${BUILD_DIR:-build-fuzz}
clang=${CC_CLANG:-clang}
clangxx=${CXX_CLANG:-clang++}

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER="$clang" -DCMAKE_CXX_COMPILER="$clangxx" \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
        -DTARENA_BUILD_BENCH=OFF -DTARENA_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "${JOBS:-2}" --target ta_fuzz_ops
fuzzer=$root/$build/tests/fuzz/ta_fuzz_ops
[ -x "$fuzzer" ] || { echo "fuzz-long: $fuzzer was not built (is clang's libFuzzer installed?)" >&2; exit 1; }

mkdir -p "$work/corpus" "$work/artifacts" "$work/logs"
cp -n tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null || true
before=$(find "$work/corpus" -type f | wc -l)
found_before=$(find "$work/artifacts" -type f | wc -l)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz-long: $jobs jobs x ${seconds}s, corpus $work/corpus ($before inputs), findings in $work/artifacts"
start=$(date +%s)
cd "$work/logs"
rm -f fuzz-*.log
touch fuzz-main.log.start
set +e
if [ "${FUZZ_MODE:-fork}" = jobs ]; then
    "$fuzzer" -jobs="$jobs" -workers="$jobs" -max_total_time="$seconds" -max_len=4096 \
        -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" >fuzz-main.log 2>&1
else
    "$fuzzer" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -max_len=4096 -timeout=30 -rss_limit_mb=3072 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" \
        >fuzz-main.log 2>&1
fi
rc=$?
set -e
end=$(date +%s)

after=$(find "$work/corpus" -type f | wc -l)
echo "fuzz-long: ran $((end - start)) s (exit $rc); corpus $before -> $after inputs"
# Fork mode reports "#<execs>: cov: ... exec/s: ..." lines in fuzz-main.log;
# jobs mode a final stat::number_of_executed_units per job log.
execs=$(awk '/stat::number_of_executed_units:/ {n += $2} END {print n + 0}' fuzz-*.log)
[ "$execs" -gt 0 ] || execs=$(grep -ho '^#[0-9]*' fuzz-main.log | tr -d '#' | sort -n | tail -n 1)
echo "fuzz-long: ${execs:-?} inputs executed"
cov=$(grep -ho 'cov: [0-9]*' fuzz-*.log 2>/dev/null | awk '{print $2}' | sort -n | tail -n 1)
echo "fuzz-long: highest edge coverage reported: ${cov:-?}"
new=$(( $(find "$work/artifacts" -type f | wc -l) - found_before ))
if [ "$new" -gt 0 ] || grep -lq -E "ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|fuzz_ops: FAIL|runtime error" fuzz-*.log 2>/dev/null; then
    echo "fuzz-long: FINDINGS ($new new artifact(s)):"
    # Fork mode keeps no child logs: replay each new artifact (two-thread
    # inputs may need several tries) and show what it reports.
    find "$work/artifacts" -type f -newer "$work/logs/fuzz-main.log.start" | while read -r a; do
        what="(did not crash in 20 replays)"
        for _ in $(seq 20); do
            if ! "$fuzzer" "$a" >replay.log 2>&1; then
                what=$(grep -m1 -E "fuzz_ops: FAIL|ERROR: AddressSanitizer|runtime error|tarena: " replay.log || echo "crashed")
                cp replay.log "$work/logs/$(basename "$a").log"
                break
            fi
        done
        echo "  $(basename "$a"): $what"
    done
    grep -h -m1 -E "fuzz_ops: FAIL|ERROR: |runtime error|tarena: " fuzz-*.log | sort | uniq -c | sort -rn | head -n 20
    echo "logs: $work/logs (<artifact>.log: its replay); replay: $fuzzer <artifact>"
    exit 1
fi
echo "fuzz-long: no findings"
