#!/usr/bin/env bash
# tests/fuzz/run_short.sh: fuzz.short. Runs the fuzz_ops harness for a fixed
# time on a scratch copy of the seed corpus, so the run is bounded and the
# source tree is never written. A crash leaves its input under ARTIFACT_DIR.
# Usage: run_short.sh FUZZER CORPUS_DIR ARTIFACT_DIR [SECONDS]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 FUZZER CORPUS_DIR ARTIFACT_DIR [SECONDS]" >&2; exit 2; }
fuzzer=$1 corpus=$2 artifacts=$3 seconds=${4:-45}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ta-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus" "$artifacts"
cp "$corpus"/* "$tmp/corpus/"
# -timeout: one input taking this long is a hang (a deadlock, most likely).
# ASan's leak checker would only see the harness's glibc blocks: off.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
"$fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=30 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$tmp/corpus" >"$tmp/log" 2>&1 || rc=$?
# The start (seeds, options) and the end (a crash report, or the final stats).
head -n 12 "$tmp/log"
echo "..."
tail -n 80 "$tmp/log"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: fuzz_ops exited with $rc; crash inputs in $artifacts:" >&2
    ls -l "$artifacts" >&2 || true
    echo "replay one with: $fuzzer <file>" >&2
    exit 1
fi
