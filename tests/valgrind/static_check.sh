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

# Memcheck's report without its "==pid== " prefixes: one paragraph per error.
report() { sed -E 's/^==[0-9]+== ?//' "$1"; }

# 1. Correct use of every entry point from several threads (with the
#    trimmer running): not one error.
TARENA_DECAY_MS=0 "${vg[@]}" --error-exitcode=1 "$tmp/clean" >"$tmp/clean.log" 2>&1 \
    || { cat "$tmp/clean.log" >&2; fail "memcheck reported errors on clean.c (or it failed)"; }
grep -q "ERROR SUMMARY: 0 errors" < <(report "$tmp/clean.log") || fail "clean.c: no 'ERROR SUMMARY: 0 errors'"

# 2. Four bugs (the leak twice: a small and a page-run block). The double
#    free is reported by tarena and then left alone (check action 1).
TARENA_CHECK_ACTION=1 "${vg[@]}" "$tmp/misuse" >"$tmp/misuse.log" 2>&1 || true
report "$tmp/misuse.log" >"$tmp/misuse.report"
line() { grep -n "MARK:$1" "$src/misuse.c" | cut -d: -f1; }
# expect WHAT PATTERN...: some paragraph of the report holds every pattern.
expect() {
    local what=$1
    shift
    awk -v RS= -v pats="$(printf '%s\n' "$@")" '
        BEGIN { n = split(pats, p, "\n") }
        { ok = 1; for (i = 1; i <= n; i++) if (p[i] != "" && !index($0, p[i])) ok = 0; if (ok) found = 1 }
        END { exit !found }' "$tmp/misuse.report" \
        || { cat "$tmp/misuse.log" >&2; fail "misuse.c: no report of the $what ($*)"; }
}
expect "use after free" "Invalid read of size 1" "main (misuse.c:$(line uaf))" \
    "is 8 bytes inside a block of size 40 free'd"
expect "read past the requested size" "Invalid read of size 1" "main (misuse.c:$(line overflow))" \
    "is 4 bytes after a block of size 20 alloc'd"
expect "double free" "Invalid free()" "main (misuse.c:$(line double-free))" \
    "is 0 bytes inside a block of size 64 free'd"
grep -q "tarena: free(): double free" "$tmp/misuse.report" || fail "misuse.c: tarena did not report the double free"
expect "small leak" "100 bytes in 1 blocks are definitely lost" "main (misuse.c:$(line leak-small))"
expect "page-run leak" "40,960 bytes in 1 blocks are definitely lost" "main (misuse.c:$(line leak-medium))"
grep -q "ERROR SUMMARY: 5 errors from 5 contexts" "$tmp/misuse.report" \
    || { cat "$tmp/misuse.log" >&2; fail "misuse.c: expected exactly 5 errors"; }
grep -q "misuse: done" "$tmp/misuse.report" || fail "misuse.c did not run to its end"
echo "PASS: valgrind.static"
