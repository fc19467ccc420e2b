#!/usr/bin/env bash
# tests/preload/python.sh: preload.python. Runs workload.py (dicts, strings,
# json, gc cycles, 4 threads) with and without the allocator preloaded, with
# Python's small-object allocator both off (PYTHONMALLOC=malloc) and on.
# Usage: python.sh /path/to/libtarena.so
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require python3

# The real interpreter, not a version-manager shim script in front of it.
py=$(python3 -c 'import sys; print(sys.executable)')
[ -x "$py" ] || ta_fail "cannot find the python3 executable"
unset PYTHONPATH PYTHONSTARTUP PYTHONMALLOCSTATS
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

# PYTHONMALLOC=malloc sends every object allocation to malloc: the heaviest
# load; the default mode sends only blocks over 512 bytes and pymalloc's own
# bookkeeping.
for pymalloc in malloc default; do
    for mode in plain preload; do
        ta_run "$mode" "workload-$pymalloc" env PYTHONMALLOC=$pymalloc "$py" -s "$here/workload.py"
    done
    ta_compare "workload-$pymalloc"
done
cmp -s "$TA_TMP/workload-malloc.plain.out" "$TA_TMP/workload-default.plain.out" \
    || ta_fail "workload.py is not deterministic: its output depends on PYTHONMALLOC"

# Is the allocator really the one Python uses? Once without it (the check must
# be able to say no) and once with it.
for mode in plain preload; do
    ta_run "$mode" check env PYTHONMALLOC=malloc "$py" -s "$here/python_check.py" "$TA_LIB"
done
check_plain=$(cat "$TA_TMP/check.plain.out")
check_preload=$(cat "$TA_TMP/check.preload.out")
case $check_plain in
    "mapped: no"*) ;;
    *) ta_fail "python_check.py finds the library mapped without the preload: $check_plain" ;;
esac
grep -qx "mapped: yes" <<<"$check_preload" \
    || ta_fail "$TA_LIB is not mapped in python under LD_PRELOAD: $check_preload $(cat "$TA_TMP/check.preload.err")"
if ! ta_standin; then
    grep -qx "ta_owns: absent" <<<"$check_plain" || ta_fail "ta_owns found without the preload"
    grep -qx "ta_owns(bytes): 1" <<<"$check_preload" \
        || ta_fail "ta_owns() does not claim a Python bytes object: $check_preload"
    grep -qx "ta_owns(None): 0" <<<"$check_preload" \
        || ta_fail "ta_owns() claims a static object: $check_preload"
fi
echo "ok: python_check: $(tr '\n' ' ' <<<"$check_preload")"
ta_check_binds "$py" -c pass
echo "PASS: preload.python"
