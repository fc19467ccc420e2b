#!/usr/bin/env bash
# tests/preload/tarena_run.sh: preload.tarena_run. The tarena-run wrapper of
# the build tree: tarena is the allocator of the program it runs (the
# preload_check program proves it with dladdr and ta_owns), --stats writes
# statistics that parse, --option settings reach the program, the program's
# arguments, exit status and an existing LD_PRELOAD are kept, bad usage exits
# 2 with a message. With CMAKE and BUILD_DIR given, the installed copy is
# checked too: cmake --install --prefix, a moved installation, DESTDIR.
# Usage: tarena_run.sh LIB TARENA_RUN PRELOAD_CHECK [CMAKE BUILD_DIR]
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$1"
run=${2:?usage: $0 LIB TARENA_RUN PRELOAD_CHECK [CMAKE BUILD_DIR]}
check=${3:?usage: $0 LIB TARENA_RUN PRELOAD_CHECK [CMAKE BUILD_DIR]}
cmake=${4:-}
build=${5:-}
[ -x "$run" ] || ta_fail "$run is not executable (is the tarena_run target built?)"
run=$(readlink -f "$run")
check=$(readlink -f "$check")
options_def=$here/../../src/core/options.def

out=$TA_TMP/out
err=$TA_TMP/err
# t CMD...: runs CMD with stdout and stderr in $out and $err; sets $rc.
t() {
    rc=0
    "$@" >"$out" 2>"$err" || rc=$?
}
show() { echo "--- stdout:" >&2; head -c 2000 "$out" >&2; echo "--- stderr:" >&2; head -c 2000 "$err" >&2; }
expect_rc() {
    local want=$1
    shift
    if [ "$rc" != "$want" ]; then
        show
        ta_fail "$*: exit status $rc, want $want"
    fi
}
have() { grep -qF -- "$1" "$2"; }

# ---- help and version ----
t "$run" --help
expect_rc 0 "--help"
have "Usage:" "$out" || { show; ta_fail "--help prints no usage"; }
# every option of options.def is listed
names=$(sed -n 's/.*"TARENA_\([A-Z0-9_]*\)".*/\1/p' "$options_def" | tr '[:upper:]' '[:lower:]')
[ -n "$names" ] || ta_fail "no option names found in $options_def"
for n in $names; do
    grep -qw -- "$n" "$out" || { show; ta_fail "--help does not list option $n"; }
done
t "$run" -h
expect_rc 0 "-h"
t "$run" --version
expect_rc 0 "--version"
grep -Eq '^tarena-run \(tarena\) [0-9]+\.[0-9]+\.[0-9]+$' "$out" || { show; ta_fail "--version prints '$(cat "$out")'"; }
echo "ok: --help lists the $(wc -w <<<"$names") options of options.def; --version: $(cat "$out")"

# ---- usage errors: exit 2, a message on stderr, the program not run ----
marker=$TA_TMP/ran
usage_case() {
    rm -f "$marker"
    t "$run" "$@" touch "$marker"
    expect_rc 2 "tarena-run $*"
    [ -s "$err" ] || ta_fail "tarena-run $*: no message on stderr"
    grep -q "^tarena-run: " "$err" || { show; ta_fail "tarena-run $*: message does not start with 'tarena-run: '"; }
    [ ! -e "$marker" ] || ta_fail "tarena-run $*: the program ran despite the usage error"
}
usage_case --bogus
usage_case -x
usage_case --option nosuch_option=1
usage_case -o show_options
usage_case -o =1
usage_case -o show_options=
usage_case --option=trim_threshold
usage_case --stats=xml
usage_case --stats=
usage_case --stats-file=
t "$run"
expect_rc 2 "tarena-run (no program)"
grep -q "no program" "$err" || { show; ta_fail "no program: unclear message"; }
t "$run" --stats=json --
expect_rc 2 "tarena-run --stats=json --"
t "$run" --stats
expect_rc 2 "tarena-run --stats"
t "$run" --option
expect_rc 2 "tarena-run --option"
t "$run" ta-no-such-program-here
expect_rc 127 "tarena-run ta-no-such-program-here"
grep -q "not found" "$err" || { show; ta_fail "missing program: unclear message"; }
t "$run" "$TA_TMP/no/such/file"
expect_rc 127 "tarena-run /path/that/does/not/exist"
printf '#!/bin/sh\nexit 0\n' >"$TA_TMP/not-executable"
t "$run" "$TA_TMP/not-executable"
expect_rc 126 "tarena-run on a file without execute permission"
echo "ok: usage errors exit 2 with a message; a missing program 127, a non-executable one 126"

# ---- tarena is the allocator in use ----
t "$check" "$TA_LIB"
expect_rc 3 "preload_check without tarena-run (it must be able to tell)"
t "$run" "$check" "$TA_LIB"
expect_rc 0 "tarena-run preload_check"
echo "ok: under tarena-run, malloc & co are tarena's ($(grep -c '^ok:' "$out") checks of preload_check)"

# ---- the environment it sets up ----
libc=$(ldd /bin/sh | awk '/libc\.so/ { print $3; exit }')
[ -e "$libc" ] || ta_fail "cannot find libc.so of /bin/sh"
t env LD_PRELOAD="$libc" "$run" --stats=json -o decay_ms=5 --option=Top_Pad=64k -oTARENA_MMAP_MAX=7 env
expect_rc 0 "tarena-run env"
preload=$(sed -n 's/^LD_PRELOAD=//p' "$out")
first=${preload%%:*}
[ "$(readlink -f "$first")" = "$TA_LIB" ] || { show; ta_fail "LD_PRELOAD=$preload does not start with $TA_LIB"; }
[ "${preload#*:}" = "$libc" ] || ta_fail "LD_PRELOAD=$preload: the existing $libc is not kept after tarena"
for want in TARENA_STATS=json TARENA_DECAY_MS=5 TARENA_TOP_PAD=64k TARENA_MMAP_MAX=7; do
    grep -qx -- "$want" "$out" || { show; ta_fail "$want is not in the program's environment"; }
done
! grep -q '^TARENA_STATS_FILE=' "$out" || ta_fail "TARENA_STATS_FILE set without --stats-file"
echo "ok: LD_PRELOAD=$(basename "$first"):$libc, TARENA_* options and TARENA_STATS exported"

# arguments, exit status, options meant for the program
# shellcheck disable=SC2016 # literal $HOME: it must arrive unexpanded
t "$run" printf '%s|' 'a b' '' 'c*' '$HOME' '--stats=x'
expect_rc 0 "tarena-run printf"
[ "$(cat "$out")" = "a b||c*|\$HOME|--stats=x|" ] || ta_fail "arguments changed on the way: '$(cat "$out")'"
t "$run" sh -c 'exit 7'
expect_rc 7 "tarena-run sh -c 'exit 7'"
t "$run" -- printf '%s\n' --help
expect_rc 0 "tarena-run -- printf '%s\\n' --help"
[ "$(cat "$out")" = "--help" ] || ta_fail "'tarena-run -- printf %s --help' printed '$(cat "$out")'"
echo "ok: arguments, exit status and options after the program are the program's"

# ---- options reach tarena in the program ----
t "$run" --option show_options=1 -o Decay_Ms=250 --option TARENA_TOP_PAD=64k -ommap_threshold=1m true
expect_rc 0 "tarena-run -o show_options=1 ... true"
for want in TARENA_SHOW_OPTIONS=1 TARENA_DECAY_MS=250 TARENA_TOP_PAD=65536 TARENA_MMAP_THRESHOLD=1048576; do
    grep -qx "tarena: option $want" "$err" || { show; ta_fail "tarena in the program does not show option $want"; }
done
! grep -q "tarena: warning" "$err" || { show; ta_fail "warnings with valid options"; }
# a bad value is tarena's to judge: it warns once, the program runs
t "$run" -o decay_ms=soon true
expect_rc 0 "tarena-run -o decay_ms=soon true"
[ "$(grep -c "tarena: warning.*TARENA_DECAY_MS" "$err")" = 1 ] || { show; ta_fail "no single warning for decay_ms=soon"; }
echo "ok: --option values reach tarena in the program (TARENA_SHOW_OPTIONS lists them)"

# ---- statistics ----
json_check() { # FILE MIN_DOCS: every line a JSON document with allocs > 0
    python3 - "$1" "$2" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(docs) >= int(sys.argv[2]), "%d documents" % len(docs)
for d in docs:
    st = d["tarena"]["stats"]
    assert st["allocs"] > 0 and st["frees"] <= st["allocs"], st
    assert isinstance(d["tarena"]["arenas"], list) and d["tarena"]["arenas"]
print("%d document(s), allocs %s" % (len(docs), ", ".join(str(d["tarena"]["stats"]["allocs"]) for d in docs)))
PY
}
if command -v python3 >/dev/null 2>&1; then
    ta_gen_lines 20000 7 >"$TA_TMP/lines"
    mkdir -p "$TA_TMP/work"
    # a relative --stats-file, and a program that changes directory
    # shellcheck disable=SC2016 # $0 is for the inner sh
    (cd "$TA_TMP/work" && "$run" --stats=json --stats-file=stats.json sh -c 'cd / && exec sort "$0"' "$TA_TMP/lines") \
        >"$TA_TMP/sorted" 2>"$err" || { cat "$err" >&2; ta_fail "tarena-run --stats=json sort failed"; }
    LC_ALL=C sort "$TA_TMP/lines" | cmp -s - "$TA_TMP/sorted" || ta_fail "sort under tarena-run gave different output"
    [ -s "$TA_TMP/work/stats.json" ] || ta_fail "--stats-file=stats.json (relative) was not written in the starting directory"
    summary=$(json_check "$TA_TMP/work/stats.json" 1) || ta_fail "the statistics in stats.json do not parse"
    echo "ok: --stats=json --stats-file (relative): $summary"
    # --stats-file alone means JSON; the file is appended to
    "$run" --stats-file="$TA_TMP/work/stats.json" sort -o /dev/null "$TA_TMP/lines" 2>"$err" \
        || { cat "$err" >&2; ta_fail "tarena-run --stats-file sort"; }
    summary=$(json_check "$TA_TMP/work/stats.json" 2) || ta_fail "appended statistics do not parse"
    echo "ok: --stats-file without --stats appends JSON: $summary"
else
    echo "note: python3 missing, JSON statistics not parsed"
fi
# (preload_check, not a coreutils program: those close stderr before exit,
# and tarena writes the statistics at exit; see the stats_json suite)
t "$run" --stats text "$check" "$TA_LIB"
expect_rc 0 "tarena-run --stats text preload_check"
grep -qx "tarena statistics:" "$err" || { show; ta_fail "--stats text: no statistics on stderr"; }
allocs=$(sed -n 's/^  allocs = //p' "$err")
[ "${allocs:-0}" -gt 0 ] || { show; ta_fail "--stats text: allocs = '${allocs}'"; }
echo "ok: --stats text on stderr (allocs = $allocs)"

# ---- the installed copy ----
if [ -n "$cmake" ] && [ -n "$build" ]; then
    prefix=$TA_TMP/prefix
    "$cmake" --install "$build" --prefix "$prefix" >"$TA_TMP/install.log" 2>&1 \
        || { cat "$TA_TMP/install.log" >&2; ta_fail "cmake --install failed"; }
    inst_run=$prefix/bin/tarena-run
    [ -x "$inst_run" ] || ta_fail "tarena-run is not installed in $prefix/bin"
    inst_lib=$(find "$prefix" -name 'libtarena.so.0' | head -n 1)
    [ -n "$inst_lib" ] || ta_fail "no libtarena.so.0 under $prefix"
    t "$inst_run" "$check" "$inst_lib"
    expect_rc 0 "installed tarena-run preload_check (installed library)"
    # moved after installation: found relative to the script
    mv "$prefix" "$TA_TMP/moved"
    t "$TA_TMP/moved/bin/tarena-run" "$check" "$TA_TMP/moved/${inst_lib#"$prefix"/}"
    expect_rc 0 "moved installation: tarena-run preload_check"
    # staged with DESTDIR: the script names the final location
    DESTDIR=$TA_TMP/stage "$cmake" --install "$build" --prefix /opt/ta-run-test >"$TA_TMP/install.log" 2>&1 \
        || { cat "$TA_TMP/install.log" >&2; ta_fail "DESTDIR cmake --install failed"; }
    staged=$TA_TMP/stage/opt/ta-run-test/bin/tarena-run
    [ -x "$staged" ] || ta_fail "DESTDIR install: no $staged"
    grep -q "^lib='/opt/ta-run-test/.*/libtarena.so.0'$" "$staged" \
        || ta_fail "DESTDIR install: $(grep "^lib=" "$staged") does not name the final location"
    echo "ok: installed copy (--prefix, moved afterwards, DESTDIR) runs the installed library"
fi
echo "PASS: preload.tarena_run"
