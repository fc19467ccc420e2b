# shellcheck shell=bash disable=SC2154 # $tmp and $src come from the sourcing script
# tests/valgrind/vg_common.sh: sourced by static_check.sh and dynamic_check.sh.
# Reads memcheck's log and holds what both expect of misuse.c's run.
# The caller sets $tmp (logs in $tmp/<prog>.log) and $src, and defines fail().

# Memcheck's report without its "==pid== " prefixes: one paragraph per error.
report() { sed -E 's/^==[0-9]+== ?//' "$1"; }

# The line of misuse.c that carries the comment MARK:$1.
line() { grep -n "MARK:$1" "$src/misuse.c" | cut -d: -f1; }

# expect WHAT PATTERN...: some paragraph of misuse's report holds every pattern.
expect() {
    local what=$1
    shift
    awk -v RS= -v pats="$(printf '%s\n' "$@")" '
        BEGIN { n = split(pats, p, "\n") }
        { ok = 1; for (i = 1; i <= n; i++) if (p[i] != "" && !index($0, p[i])) ok = 0; if (ok) found = 1 }
        END { exit !found }' "$tmp/misuse.report" \
        || { cat "$tmp/misuse.log" >&2; fail "misuse.c: no report of the $what ($*)"; }
}

# misuse.c's four bugs (the leak twice: a small and a page-run block), each
# at its MARK line, and nothing else; tarena itself reported the double free
# (check action 1), and the program ran to its end.
expect_misuse_reports() {
    report "$tmp/misuse.log" >"$tmp/misuse.report"
    expect "use after free" "Invalid read of size 1" "main (misuse.c:$(line uaf))" \
        "is 8 bytes inside a block of size 40 free'd"
    expect "read past the requested size" "Invalid read of size 1" "main (misuse.c:$(line overflow))" \
        "is 4 bytes after a block of size 20 alloc'd"
    expect "double free" "Invalid free()" "main (misuse.c:$(line double-free))" \
        "is 0 bytes inside a block of size 64 free'd"
    expect "small leak" "100 bytes in 1 blocks are definitely lost" "main (misuse.c:$(line leak-small))"
    expect "page-run leak" "40,960 bytes in 1 blocks are definitely lost" "main (misuse.c:$(line leak-medium))"
    grep -q "ERROR SUMMARY: 5 errors from 5 contexts" "$tmp/misuse.report" \
        || { cat "$tmp/misuse.log" >&2; fail "misuse.c: expected exactly 5 errors"; }
    grep -q "tarena: free(): double free" "$tmp/misuse.report" \
        || { cat "$tmp/misuse.log" >&2; fail "misuse.c: tarena did not report the double free (not tarena's free?)"; }
    grep -q "misuse: done" "$tmp/misuse.report" || fail "misuse.c did not run to its end"
}
