#!/usr/bin/env bash
# bench/device/run.sh: bench/compare with everything it needs carried in one
# folder, the bundle (workload programs in bin/, libtarena.so, jemalloc,
# tcmalloc, mimalloc and liburcu in lib/), for a machine with no internet and
# none of those packages installed. bench/device/make-bundle.sh copies this
# script into the bundle; run it from there, never from bench/device/: it
# takes the bundle to be its own directory and the repository to be the
# bundle's parent, so the bundle must sit at the top of a checkout
# (.devbench/run.sh). Results: OUTDIR/ and OUTDIR.tar.gz (one file).
#
# usage: .devbench/run.sh OUTDIR [THREADS [WORKLOADS [RUNS]]]
#   THREADS    comma list of thread counts (default 1,2,4,8,16)
#   WORKLOADS  comma list from bench/workloads.conf (default: all but memret)
#   RUNS       runs per workload, thread count and allocator (default 3; QUICK=1: 1)
#   An empty argument ('') takes the default.
# environment:
#   QUICK=1     pass --quick (tiny sizes, 1 run: checks that everything runs)
#   LIMIT_S=N   stop bench/compare after N seconds, then still write a report
#               of the runs done so far and the tarball
#   ALLOCATORS  comma list (default: glibc,tarena,jemalloc,tcmalloc,mimalloc)
set -uo pipefail

DEV=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEV/.." && pwd)
[ $# -ge 1 ] && [ -n "$1" ] || { sed -n '/^# usage:/,/^set /p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
[ -d "$DEV/bin" ] && [ -d "$DEV/lib" ] && [ -x "$REPO/bench/compare" ] || {
    echo "run.sh: $DEV is not a bundle at the top of a tarena checkout" \
        "(make one with bench/device/make-bundle.sh, run it as .devbench/run.sh)" >&2
    exit 2
}
mkdir -p "$1" || exit 1
OUTDIR=$(cd "$1" && pwd)
[ -z "$(ls -A "$OUTDIR")" ] || { echo "run.sh: $OUTDIR is not empty" >&2; exit 2; }
THREADS=${2:-1,2,4,8,16}
WORKLOADS=${3:-}
RUNS=${4:-}
[ -n "$RUNS" ] || { [ "${QUICK:-0}" = 1 ] && RUNS=1 || RUNS=3; }
ALLOCATORS=${ALLOCATORS:-glibc,tarena,jemalloc,tcmalloc,mimalloc}
cd "$REPO" || exit 1
if [ -z "$WORKLOADS" ]; then
    # Every workload of bench/workloads.conf but memret (RSS over a fixed 2 s
    # window, not thread scaling).
    WORKLOADS=$(sed -e 's/#.*//' -e 's/|.*//' -e 's/[[:space:]]//g' bench/workloads.conf |
        grep -v -x -e '' -e memret | paste -sd, -)
fi

chmod +x "$DEV"/bin/* 2>/dev/null   # in case the copy lost the x bits
# libtarena.so needs liburcu-cds.so.8 and liburcu-bp.so.8, carried in lib/.
export LD_LIBRARY_PATH=$DEV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

args=(--no-install --no-charts --libdir "$DEV/lib" --bindir "$DEV/bin"
    --tarena "$DEV/lib/libtarena.so" --allocators "$ALLOCATORS"
    --threads "$THREADS" --runs "$RUNS" --workloads "$WORKLOADS" --out "$OUTDIR")
[ "${QUICK:-0}" = 1 ] && args+=(--quick)

{
    echo "== machine"
    echo "nproc:   $(nproc)"
    echo "uname:   $(uname -a)"
    echo "os:      $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "cpu:     $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
    echo "libc:    $(ldd --version 2>&1 | head -n 1)"
    echo "memory:  $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
    echo "== bundle (what lib/ and bin/ were built from)"
    cat "$DEV/MANIFEST.txt" 2>/dev/null
    echo "== bench/compare ${args[*]}"
} | tee "$OUTDIR/console.log"

start=$(date +%s)
if [ -n "${LIMIT_S:-}" ]; then
    timeout --signal=TERM --kill-after=10 "$LIMIT_S" bench/compare "${args[@]}" 2>&1 | tee -a "$OUTDIR/console.log"
else
    bench/compare "${args[@]}" 2>&1 | tee -a "$OUTDIR/console.log"
fi
rc=$?
if [ $rc != 0 ] && [ -s "$OUTDIR/runs.jsonl" ] && [ -f "$OUTDIR/machine.txt" ]; then
    # Stopped early (LIMIT_S, or a failed run): report what was measured.
    echo "run.sh: bench/compare stopped with status $rc; partial report of the runs done" |
        tee -a "$OUTDIR/console.log"
    read -r done_allocs done_workloads < <(python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = lambda k: ",".join(dict.fromkeys(r[k] for r in rs))
print(order("alloc"), order("workload"))' "$OUTDIR/runs.jsonl")
    python3 bench/tools/report.py --jsonl "$OUTDIR/runs.jsonl" --machine "$OUTDIR/machine.txt" \
        --out "$OUTDIR" --allocators "$done_allocs" --workloads "$done_workloads" \
        $([ "${QUICK:-0}" = 1 ] && echo --quick) >>"$OUTDIR/console.log" 2>&1
fi
echo "run.sh: bench/compare exit status $rc after $(($(date +%s) - start)) s" | tee -a "$OUTDIR/console.log"
tar -C "$(dirname "$OUTDIR")" -czf "$OUTDIR.tar.gz" "$(basename "$OUTDIR")"
echo "run.sh: results in $OUTDIR.tar.gz ($(du -h "$OUTDIR.tar.gz" | cut -f1))"
exit $rc
