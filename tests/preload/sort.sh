#!/usr/bin/env bash
# tests/preload/sort.sh: preload.sort. GNU sort with 2 threads on a generated
# ~50 MB file, once as an external merge through temporary files (small -S
# buffer) and once in memory on numeric keys; the outputs with and without the
# allocator preloaded must be identical.
# Usage: sort.sh /path/to/libtarena.so
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require sort awk
sort --parallel=2 </dev/null 2>/dev/null || ta_skip "this sort has no --parallel (not GNU coreutils)"

input=$TA_TMP/input.txt
ta_gen_lines 1300000 42 >"$input"
size=$(wc -c <"$input")
[ "$size" -gt 45000000 ] || ta_fail "generated input is only $size bytes"

mkdir -p "$TA_TMP/spill"
for mode in plain preload; do
    ta_run "$mode" merge sort --parallel=2 -S 8M -T "$TA_TMP/spill" "$input"
    ta_run "$mode" keys sort --parallel=2 -S 200M -t , -k 2,2n -k 1,1 "$input"
done
ta_compare merge
ta_compare keys
# The comparison alone would pass if sort did nothing in both runs.
sort -c "$TA_TMP/merge.plain.out" || ta_fail "sort output is not sorted"
[ "$(wc -c <"$TA_TMP/merge.plain.out")" -eq "$size" ] || ta_fail "sort output size differs from its input"
ta_check_binds sort --parallel=2 "$here/common.sh"
echo "PASS: preload.sort"
