#!/usr/bin/env bash
# tests/preload/gcc.sh: preload.gcc. gcc (driver, cc1, as, ld, all inheriting
# the preload) compiles two generated C files - 2000 functions at -O0 and 300
# at -O2, both -g - and links them into a shared object; the objects and the
# shared object must be byte-identical with and without the allocator.
# Usage: gcc.sh /path/to/libtarena.so
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require gcc awk

awk -v n=2000 -v seed=1 -f "$here/gen_c.awk" >"$TA_TMP/big.c"
awk -v n=300 -v seed=2 -f "$here/gen_c.awk" >"$TA_TMP/opt.c"
# A fixed seed for anything gcc would otherwise randomise.
cflags=(-g -frandom-seed=tarena -Wall)
for mode in plain preload; do
    ta_run "$mode" big gcc -O0 "${cflags[@]}" -c big.c -o "big.$mode.o"
    ta_run "$mode" opt gcc -O2 "${cflags[@]}" -c opt.c -o "opt.$mode.o"
    ta_run "$mode" link gcc -shared -o "lib.$mode.so" "big.$mode.o" "opt.$mode.o"
done
for step in big opt link; do
    ta_compare "$step" --allow-empty-stdout
done
ta_same_files "$TA_TMP/big.plain.o" "$TA_TMP/big.preload.o"
ta_same_files "$TA_TMP/opt.plain.o" "$TA_TMP/opt.preload.o"
ta_same_files "$TA_TMP/lib.plain.so" "$TA_TMP/lib.preload.so"
# The compiler proper is a child of the driver: check its bindings, not the driver's.
printf 'int main(void) { return 0; }\n' >"$TA_TMP/tiny.c"
ta_check_binds gcc -c tiny.c -o tiny.o
grep -Fq "/cc1 [0] to $TA_LIB [0]: normal symbol \`malloc'" "$TA_TMP/binds.trace" \
    || ta_fail "cc1 does not bind malloc to $TA_LIB"
echo "PASS: preload.gcc"
