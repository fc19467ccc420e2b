# tests/preload/common.sh: shared helpers for the preload.* tests, sourced by
# each tests/preload/<program>.sh. Runs a real program with and without
# LD_PRELOAD=<allocator> and compares exit status, stdout and stderr byte for byte.
#
# Every script takes the allocator library as $1 (ctest passes
# $<TARGET_FILE:tarena>), so any malloc replacement can stand in for tarena
# while debugging a script, e.g. tests/preload/sort.sh /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# With TA_STANDIN=1 the checks that need tarena's own ta_* symbols are left
# out, for running the scripts with another allocator.
# Exit codes: 0 pass, 1 fail, 77 skip (a program is not installed).

# shellcheck shell=bash
set -euo pipefail

TA_SKIP=77

ta_fail() { echo "FAIL: $*" >&2; exit 1; }
ta_skip() { echo "SKIP: $*" >&2; exit "$TA_SKIP"; }

# ta_init LIB: checks the library, makes the scratch dir $TA_TMP (removed on exit).
ta_init() {
    [ $# -ge 1 ] || ta_fail "usage: $0 /path/to/libtarena.so"
    [ -f "$1" ] || ta_fail "allocator library '$1' does not exist"
    # An absolute, canonical path: the dynamic loader reports preloaded objects
    # by the name they were given, and ta_check_binds matches that name.
    TA_LIB=$(readlink -f "$1")
    TA_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ta-preload.XXXXXX")
    trap 'rm -rf "$TA_TMP"' EXIT
    # The same locale and no inherited preload for both runs, so the only
    # difference between them is the allocator.
    export LC_ALL=C
    unset LD_PRELOAD LD_DEBUG LD_BIND_NOW MALLOC_CHECK_ MALLOC_PERTURB_ || true
}

# ta_standin: true when another allocator stands in for tarena (TA_STANDIN=1).
ta_standin() { [ "${TA_STANDIN:-0}" = 1 ]; }

# ta_require PROG...: skip the test unless every program is installed.
ta_require() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || ta_skip "$p is not installed"
    done
}

# ta_run MODE STEP CMD...: runs CMD in $TA_TMP with MODE=plain (no preload) or
# MODE=preload; keeps stdout, stderr and the exit status in $TA_TMP/STEP.MODE.*.
ta_run() {
    local mode=$1 step=$2 rc=0
    shift 2
    local base=$TA_TMP/$step.$mode
    case $mode in
        plain) (cd "$TA_TMP" && exec "$@") >"$base.out" 2>"$base.err" || rc=$? ;;
        preload) (cd "$TA_TMP" && LD_PRELOAD=$TA_LIB exec "$@") >"$base.out" 2>"$base.err" || rc=$? ;;
        *) ta_fail "ta_run: unknown mode $mode" ;;
    esac
    echo "$rc" >"$base.rc"
    # The loader only warns and carries on when a preload fails, which would
    # silently compare glibc with glibc.
    if [ "$mode" = preload ] && grep -q "cannot be preloaded" "$base.err"; then
        cat "$base.err" >&2
        ta_fail "$step: the loader did not preload $TA_LIB"
    fi
}

# ta_show_diff A B: the first differing lines of two files, for the log.
ta_show_diff() {
    cmp "$1" "$2" >&2 || true
    diff "$1" "$2" 2>/dev/null | head -n 20 >&2 || true
}

# ta_compare STEP [--allow-empty-stdout]: plain and preload runs of STEP must
# both succeed, with the same stdout and stderr, and stdout must not be empty
# (a comparison of two empty outputs proves nothing).
ta_compare() {
    local step=$1 allow_empty=${2:-}
    local p=$TA_TMP/$step.plain q=$TA_TMP/$step.preload
    if ! cmp -s "$p.rc" "$q.rc"; then
        echo "--- stderr without preload:" >&2; head -c 4000 "$p.err" >&2
        echo "--- stderr with preload:" >&2; head -c 4000 "$q.err" >&2
        ta_fail "$step: exit status $(cat "$p.rc") without preload, $(cat "$q.rc") with it"
    fi
    # Two identical failures would compare equal: the program must succeed.
    if [ "$(cat "$p.rc")" != 0 ]; then
        head -c 4000 "$p.err" >&2
        ta_fail "$step: exit status $(cat "$p.rc") even without preload"
    fi
    if [ "$allow_empty" != --allow-empty-stdout ] && [ ! -s "$p.out" ]; then
        head -c 4000 "$p.err" >&2
        ta_fail "$step: no output without preload, nothing to compare"
    fi
    if ! cmp -s "$p.out" "$q.out"; then
        ta_show_diff "$p.out" "$q.out"
        ta_fail "$step: stdout differs with preload"
    fi
    if ! cmp -s "$p.err" "$q.err"; then
        ta_show_diff "$p.err" "$q.err"
        ta_fail "$step: stderr differs with preload"
    fi
    echo "ok: $step: both succeed, $(wc -c <"$p.out") bytes of identical stdout"
}

# ta_same_files A B: two files written by the plain and preload runs must be
# identical and non-empty.
ta_same_files() {
    [ -s "$1" ] || ta_fail "$1 is missing or empty"
    [ -s "$2" ] || ta_fail "$2 is missing or empty"
    if ! cmp "$1" "$2" >&2; then
        ta_fail "$(basename "$2") differs from $(basename "$1")"
    fi
    echo "ok: $(basename "$1") and $(basename "$2") identical ($(wc -c <"$1") bytes)"
}

# ta_drop_plt_stubs: filters binding-trace lines on stdin, dropping those whose
# target does not define the symbol. A non-PIE executable that takes the
# address of free (gcc's cc1 does) owns the canonical address of free: a PLT
# stub that itself binds to the real definition, so other objects bind to it.
ta_drop_plt_stubs() {
    local line target sym path defs
    while IFS= read -r line; do
        target=$(sed -E 's/.* to ([^ ]+) \[[0-9]+\]: normal symbol.*/\1/' <<<"$line")
        sym=$(sed -E "s/.*normal symbol \`([^']+)'.*/\\1/" <<<"$line")
        path=$target
        case $path in */*) ;; *) path=$(command -v "$path" || echo "$path") ;; esac
        # Only when nm can read the target do we trust its "not defined here".
        defs=$(nm -D --defined-only "$path" 2>/dev/null | awk '{ sub(/@.*/, "", $NF); print $NF }' || true)
        if [ -n "$defs" ] && ! grep -qx "$sym" <<<"$defs"; then
            continue
        fi
        printf '%s\n' "$line"
    done
}

# ta_check_binds CMD...: proves the allocator is the one in use. Runs CMD with
# the preload and the loader's binding trace (LD_BIND_NOW, so every object
# resolves its symbols at start-up): every object that binds malloc, calloc,
# realloc or free, libc.so.6 itself included, must bind it to $TA_LIB, and at
# least one must. Without the preload the same check fails (they bind to libc).
ta_check_binds() {
    local trace=$TA_TMP/binds.trace binds foreign
    (cd "$TA_TMP" && LD_PRELOAD=$TA_LIB LD_BIND_NOW=1 LD_DEBUG=bindings exec "$@") \
        >/dev/null 2>"$trace" || true
    binds=$(grep -E "binding file .* to .*: normal symbol \`(malloc|calloc|realloc|free)'" "$trace" || true)
    if [ -z "$binds" ]; then
        tail -n 20 "$trace" >&2
        ta_fail "no malloc/free binding in the loader trace of '$*'"
    fi
    foreign=$(printf '%s\n' "$binds" | grep -Fv "to $TA_LIB [0]:" | ta_drop_plt_stubs || true)
    if [ -n "$foreign" ]; then
        printf '%s\n' "$foreign" | head -n 10 >&2
        ta_fail "'$*': some objects bind malloc & co elsewhere than $TA_LIB"
    fi
    # libc's internal allocations (strdup, stdio buffers, ...) must come from
    # the replacement too, not only the program's own calls. A here-string,
    # not `printf | grep -q`: grep -q exits at the first match, and with
    # pipefail the printf that then dies of SIGPIPE (a long trace, as gcc's)
    # failed the check now and then.
    grep -q "binding file /[^ ]*/libc\.so\.6 \[0\]" <<<"$binds" \
        || ta_fail "'$*': libc.so.6 does not bind malloc & co to $TA_LIB"
    echo "ok: '$1': $(printf '%s\n' "$binds" | wc -l) malloc/calloc/realloc/free bindings, all to $(basename "$TA_LIB") (directly or through a PLT stub)"
}

# ta_gen_lines N SEED: N deterministic pseudo-random text lines (about 50 bytes
# each), the same on every machine: a Park-Miller generator whose products stay
# below 2^53, so awk's doubles compute it exactly (mawk and gawk alike).
ta_gen_lines() {
    awk -v n="$1" -v seed="$2" 'BEGIN {
        x = seed % 2147483647; if (x <= 0) x = 1
        split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ")
        for (i = 1; i <= n; i++) {
            x = (x * 16807) % 2147483647; a = x
            x = (x * 16807) % 2147483647; b = x
            x = (x * 16807) % 2147483647; c = x
            printf "%s-%d,%d,%s %s,%x\n", w[a % 12 + 1], a % 100000, b % 1000003,
                   w[b % 12 + 1], w[c % 12 + 1], c
        }
    }'
}
