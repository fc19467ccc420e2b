#!/usr/bin/env bash
# tests/preload/in_use.sh: preload.in_use. Runs preload_check (built by CMake,
# not linked to tarena) without and with the preload: it must report that
# malloc is not the library's without it, and prove with ta_owns() that it is.
# Usage: in_use.sh /path/to/libtarena.so /path/to/ta_preload_check
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$1"
check=${2:?usage: $0 LIB PRELOAD_CHECK_BINARY}
standin=()
if ta_standin; then standin=(--standin); fi

ta_run plain check "$check" "$TA_LIB" "${standin[@]}"
ta_run preload check "$check" "$TA_LIB" "${standin[@]}"
cat "$TA_TMP/check.preload.out" "$TA_TMP/check.preload.err"
# 3 is the check's own "malloc is not the library's" answer.
[ "$(cat "$TA_TMP/check.plain.rc")" = 3 ] \
    || ta_fail "without LD_PRELOAD the check should exit 3, got $(cat "$TA_TMP/check.plain.rc"): $(cat "$TA_TMP/check.plain.out")"
[ "$(cat "$TA_TMP/check.preload.rc")" = 0 ] \
    || ta_fail "preload_check failed under LD_PRELOAD (exit $(cat "$TA_TMP/check.preload.rc"))"
ta_check_binds "$check" "$TA_LIB" "${standin[@]}"
echo "PASS: preload.in_use"
