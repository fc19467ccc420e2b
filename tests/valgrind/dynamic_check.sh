#!/usr/bin/env bash
# tests/valgrind/dynamic_check.sh: valgrind.dynamic. Builds misuse.c and clean.c
# as ordinary dynamic programs (not linked to tarena), runs them under memcheck
# with a TARENA_VALGRIND libtarena.so preloaded, and asserts what static_check.sh
# does, plus proof that tarena, not memcheck's own allocator, served the blocks.
# Usage: dynamic_check.sh CC LIBTARENA_SO SOURCE_DIR [VALGRIND]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CC LIBTARENA_SO SOURCE_DIR [VALGRIND]" >&2; exit 2; }
cc=$1 lib=$2 src=$3 valgrind=${4:-valgrind}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ta-vgdynamic.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -f "$lib" ] || fail "no $lib"
# ld.so takes a bare name in LD_PRELOAD as a library to search for, not a file.
lib=$(readlink -f "$lib")

# clean.c calls cfree, which glibc (since 2.26) keeps only as a compat symbol
# that a new link cannot bind to. This stub satisfies the link; at run time
# the preloaded tarena comes first in symbol lookup, so the stub is never
# called (it aborts if it is).
printf '#include <stdlib.h>\nvoid cfree(void *p) { (void)p; abort(); }\n' >"$tmp/cfree_stub.c"
"$cc" -shared -fPIC -O1 "$tmp/cfree_stub.c" -o "$tmp/libcfree_stub.so" \
    || fail "cannot build the cfree stub"
for prog in misuse clean; do
    extra=()
    [ "$prog" = clean ] && extra=("$tmp/libcfree_stub.so")
    # -O1 -fno-builtin: the faulty accesses stay as written (as static_check.sh).
    "$cc" -O1 -g -fno-builtin -Wall -Wextra "$src/$prog.c" "${extra[@]}" -pthread \
        -o "$tmp/$prog" 2>"$tmp/$prog.link.log" \
        || { cat "$tmp/$prog.link.log" >&2; fail "link of $prog.c failed"; }
done

# Since valgrind 3.12 memcheck replaces the malloc family in every object that
# defines it, libtarena.so included, so by default tarena's code (and its
# annotations) never runs. A somalloc synonym that matches no loaded object
# keeps the replacement to libc/libstdc++ only, which the preload shadows.
# (somalloc=libtarena.so* does the opposite: it replaces tarena's functions.)
vg=("$valgrind" --leak-check=full --soname-synonyms=somalloc=nouserintercepts
    --suppressions="$src/glibc.supp")
# valgrind hands its environment's LD_PRELOAD on to the program, after its own
# preloads (which define no malloc symbol, so tarena's still wins). Its
# launcher runs with tarena too; a libtarena.so that crashes shows up there.
run() { LD_PRELOAD=$lib "${vg[@]}" "$@"; }

# report, expect_misuse_reports
. "$src/vg_common.sh"

# served PROG: tarena (TARENA_STATS at exit) counted at least as many
# allocations as memcheck tracked. Under memcheck's own allocator tarena
# counts next to none, and a block memcheck tracked without tarena serving it
# would make memcheck's count the larger.
served() {
    local ta mc
    ta=$(awk '$1 == "allocs" && $2 == "=" { print $3 }' "$tmp/$1.stats" 2>/dev/null || true)
    mc=$(report "$tmp/$1.log" | sed -nE 's/.*total heap usage: ([0-9,]+) allocs.*/\1/p' | tr -d ,)
    if [ -z "$ta" ] || [ -z "$mc" ] || [ "$mc" -eq 0 ] || [ "$ta" -lt "$mc" ]; then
        cat "$tmp/$1.log" >&2
        fail "$1.c: tarena counted '${ta:-none}' allocations, memcheck tracked '${mc:-none}' blocks: tarena did not serve them"
    fi
}

# 1. Correct use of every entry point from several threads (with the
#    trimmer running): not one error.
TARENA_DECAY_MS=0 TARENA_STATS=text TARENA_STATS_FILE="$tmp/clean.stats" \
    run --error-exitcode=1 "$tmp/clean" >"$tmp/clean.log" 2>&1 \
    || { cat "$tmp/clean.log" >&2; fail "memcheck reported errors on clean.c (or it failed)"; }
grep -q "ERROR SUMMARY: 0 errors" < <(report "$tmp/clean.log") || fail "clean.c: no 'ERROR SUMMARY: 0 errors'"
grep -q "clean: done" "$tmp/clean.log" || fail "clean.c did not run to its end"
served clean

# 2. misuse.c's bugs, expected as in static_check.sh (vg_common.sh). The
#    double free is reported by tarena and then left alone (check action 1).
TARENA_CHECK_ACTION=1 TARENA_STATS=text TARENA_STATS_FILE="$tmp/misuse.stats" \
    run "$tmp/misuse" >"$tmp/misuse.log" 2>&1 || true
expect_misuse_reports
# Memcheck's own allocator reports these same five errors, so the proof that
# they came through tarena's annotations: tarena's free saw the double free
# (checked above), no alloc/free frame is memcheck's replacement
# (vgpreload_memcheck; misuse.c has no error inside the string functions it
# also replaces), and the counts.
if grep -q "vgpreload_memcheck" "$tmp/misuse.report"; then
    cat "$tmp/misuse.log" >&2
    fail "misuse.c: memcheck's own allocator served blocks (frames in vgpreload_memcheck)"
fi
served misuse
echo "PASS: valgrind.dynamic"
