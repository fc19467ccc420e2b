#!/usr/bin/env bash
# tests/valgrind/static_check.sh: valgrind.static. Links misuse.c and clean.c
# fully -static against a TARENA_VALGRIND libtarena.a and runs both under
# memcheck: clean must get no report at all, misuse exactly its five bugs,
# each pointed at the line that carries its MARK comment.
# Usage: static_check.sh CC LIBTARENA_A SOURCE_DIR [VALGRIND]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CC LIBTARENA_A SOURCE_DIR [VALGRIND]" >&2; exit 2; }
cc=$1 archive=$2 src=$3 valgrind=${4:-valgrind}
pkg_config=${PKG_CONFIG:-pkg-config}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ta-vgstatic.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

urcu=$("$pkg_config" --static --libs liburcu-cds liburcu-bp) || fail "pkg-config finds no liburcu"
for prog in misuse clean; do
    # -O1 -fno-builtin: the faulty accesses stay as written.
    # shellcheck disable=SC2086 # pkg-config output is a word list
    "$cc" -static -O1 -g -fno-builtin -Wall -Wextra "$src/$prog.c" "$archive" $urcu -pthread \
        -o "$tmp/$prog" 2>"$tmp/$prog.link.log" \
        || { cat "$tmp/$prog.link.log" >&2; fail "static link of $prog.c failed"; }
done

vg=("$valgrind" --leak-check=full --suppressions="$src/glibc.supp")

# report, expect_misuse_reports
. "$src/vg_common.sh"

# 1. Correct use of every entry point from several threads (with the
#    trimmer running): not one error.
TARENA_DECAY_MS=0 "${vg[@]}" --error-exitcode=1 "$tmp/clean" >"$tmp/clean.log" 2>&1 \
    || { cat "$tmp/clean.log" >&2; fail "memcheck reported errors on clean.c (or it failed)"; }
grep -q "ERROR SUMMARY: 0 errors" < <(report "$tmp/clean.log") || fail "clean.c: no 'ERROR SUMMARY: 0 errors'"

# 2. Four bugs (the leak twice: a small and a page-run block). The double
#    free is reported by tarena and then left alone (check action 1).
TARENA_CHECK_ACTION=1 "${vg[@]}" "$tmp/misuse" >"$tmp/misuse.log" 2>&1 || true
expect_misuse_reports
echo "PASS: valgrind.static"
