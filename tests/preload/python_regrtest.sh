#!/usr/bin/env bash
# tests/preload/python_regrtest.sh: preload.python_regrtest. Runs a fixed
# subset of CPython's own regression tests (python3 -m test, Debian's
# libpython3.X-testsuite) with and without the allocator preloaded, every
# object through malloc (PYTHONMALLOC=malloc); each test case's outcome must
# be the same and all must pass.
# Usage: python_regrtest.sh /path/to/libtarena.so
# Environment: TA_REGRTEST_TESTS, a space-separated list replacing the subset
# (a smaller one is the default when the library is sanitizer-instrumented).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"

# Deterministic, no network, no GUI, together about 30-40 s at -j2 on 2
# cores: containers, strings, regexes, codecs, pickling, compression, math,
# threads and queues, the cyclic GC and weak references, tracemalloc.
tests=(test_dict test_list test_set test_tuple test_deque test_collections test_heapq
       test_bisect test_sort test_unicode test_string test_bytes test_memoryview test_re
       test_json test_csv test_textwrap test_difflib test_struct test_array test_marshal
       test_pickle test_copy test_zlib test_hashlib test_long test_float test_decimal
       test_fractions test_math test_itertools test_functools test_enum test_dataclasses
       test_typing test_threading test_queue test_gc test_weakref test_tracemalloc
       test_xml_etree test_mmap test_sys)
# A sanitizer-instrumented library (scripts/sanitizers.sh, also part of CI):
# a third of the subset, for CI time; the allocator's paths are the same.
if grep -qE ' __(ubsan|asan)_' < <(nm -D --undefined-only "$TA_LIB" 2>/dev/null); then
    tests=(test_dict test_set test_list test_unicode test_bytes test_re test_json
           test_pickle test_collections test_threading test_queue test_gc test_tracemalloc)
    echo "sanitizer build: ${#tests[@]} test modules only"
fi
if [ -n "${TA_REGRTEST_TESTS:-}" ]; then
    read -r -a tests <<<"$TA_REGRTEST_TESTS"
fi

# The interpreter that has its test package: Debian's first (the testsuite
# package is for it), then whatever python3 is first on PATH.
py=
for cand in /usr/bin/python3 "$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)"; do
    [ -x "$cand" ] || continue
    if "$cand" -c 'import test.libregrtest, test.test_dict' 2>/dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || ta_skip "no python3 with its regression tests (Debian: libpython3.X-testsuite, see scripts/setup-deps.sh)"
echo "interpreter: $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"

unset PYTHONPATH PYTHONSTARTUP PYTHONMALLOCSTATS PYTHONHOME PYTHONWARNINGS || true
# No .pyc written into the system's test package; pinned string hashing.
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONMALLOC=malloc
# Every process (regrtest runs each test in a worker process of its own, and
# tests start more) appends tarena's statistics at exit: proof that they ran
# on tarena. Inert without the preload, set for both runs alike.
export TARENA_STATS=json TARENA_STATS_FILE=$TA_TMP/tarena-stats.json

for mode in plain preload; do
    # Each run gets its own TMPDIR: regrtest's work dirs and the tests' files.
    export TMPDIR=$TA_TMP/tmp-$mode
    mkdir -p "$TMPDIR"
    # --timeout: a hung test is killed with a traceback instead of the whole
    # test running into ctest's timeout.
    ta_run "$mode" regrtest "$py" -m test -j2 --timeout 240 --junit-xml "$TA_TMP/junit.$mode.xml" "${tests[@]}"
    rc=$(cat "$TA_TMP/regrtest.$mode.rc")
    echo "$mode: regrtest exit status $rc; $(grep -aE '^(Total duration|Tests result):' "$TA_TMP/regrtest.$mode.out" | tr '\n' ' ')"
    if [ "$rc" != 0 ]; then
        grep -aA 40 '^== Tests result' "$TA_TMP/regrtest.$mode.out" >&2 || tail -n 40 "$TA_TMP/regrtest.$mode.out" >&2
        tail -n 20 "$TA_TMP/regrtest.$mode.err" >&2
    fi
    [ -s "$TA_TMP/junit.$mode.xml" ] || ta_fail "$mode: regrtest wrote no JUnit XML"
    "$py" "$here/regrtest_summary.py" "$TA_TMP/junit.$mode.xml" >"$TA_TMP/summary.$mode" 2>"$TA_TMP/failures.$mode" \
        || ta_fail "$mode: cannot read the JUnit XML"
    if [ "$mode" = plain ]; then
        # Only the preloaded run may write statistics.
        [ ! -e "$TARENA_STATS_FILE" ] || ta_fail "tarena statistics written without the preload"
    fi
done
unset TARENA_STATS TARENA_STATS_FILE

summary=$(tail -n 1 "$TA_TMP/summary.plain")
if ! cmp -s "$TA_TMP/summary.plain" "$TA_TMP/summary.preload"; then
    cat "$TA_TMP/failures.preload" >&2
    ta_show_diff "$TA_TMP/summary.plain" "$TA_TMP/summary.preload"
    ta_fail "test case outcomes differ with preload (without: $summary; with: $(tail -n 1 "$TA_TMP/summary.preload"))"
fi
[ "$(cat "$TA_TMP/regrtest.plain.rc")" = 0 ] || { cat "$TA_TMP/failures.plain" >&2; ta_fail "the regression tests fail even without the preload"; }
[ "$(cat "$TA_TMP/regrtest.preload.rc")" = 0 ] || ta_fail "regrtest exit status $(cat "$TA_TMP/regrtest.preload.rc") with preload"
echo "ok: ${#tests[@]} test modules, identical outcomes: $summary"

if ! ta_standin; then
    procs=$(grep -o '{"tarena"' "$TA_TMP/tarena-stats.json" 2>/dev/null | wc -l)
    # At least one process per test module (the workers) and the main one.
    [ "$procs" -gt "${#tests[@]}" ] \
        || ta_fail "only $procs processes reported tarena statistics for ${#tests[@]} test modules"
    allocs=$(grep -o '"allocs": [0-9]*' "$TA_TMP/tarena-stats.json" | awk '{ s += $2 } END { print s + 0 }')
    echo "ok: $procs processes ran on tarena, $allocs allocations in all"
fi
ta_check_binds "$py" -c pass
echo "PASS: preload.python_regrtest"
