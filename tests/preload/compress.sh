#!/usr/bin/env bash
# tests/preload/compress.sh: preload.xz and preload.zstd. Compresses generated
# text with 2 threads, with and without the allocator preloaded: the compressed
# streams must be identical, and decompressing (also 2 threads, also both
# ways) must restore the original.
# Usage: compress.sh /path/to/libtarena.so xz|zstd
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$1"
tool=${2:?usage: $0 LIB xz|zstd}
ta_require "$tool" awk

# Small blocks so that both threads get work on a few MB of input.
case $tool in
    xz) lines=100000 compress=(xz -T2 --block-size=1MiB -4 -c) decompress=(xz -T2 -d -c) ;;
    zstd) lines=300000 compress=(zstd -q -T2 -B1MiB -12 -c) decompress=(zstd -q -T2 -d -c) ;;
    *) ta_fail "unknown tool $tool" ;;
esac
input=$TA_TMP/input.txt
ta_gen_lines "$lines" 9 >"$input"

for mode in plain preload; do
    ta_run "$mode" compress "${compress[@]}" "$input"
done
ta_compare compress
packed=$TA_TMP/compress.plain.out
[ "$(wc -c <"$packed")" -lt $(($(wc -c <"$input") / 2)) ] || ta_fail "$tool did not compress"
for mode in plain preload; do
    ta_run "$mode" decompress "${decompress[@]}" "$packed"
done
ta_compare decompress
ta_same_files "$input" "$TA_TMP/decompress.preload.out"
ta_check_binds "$tool" --version
echo "PASS: preload.$tool"
