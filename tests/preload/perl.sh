#!/usr/bin/env bash
# tests/preload/perl.sh: preload.perl. Runs workload.pl (hashes, strings,
# regexes, sorting) with and without the allocator preloaded and compares the
# output; also checks from inside perl that the library is mapped.
# Usage: perl.sh /path/to/libtarena.so
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require perl
# Hash order is randomised per process; pin it even though workload.pl sorts.
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
unset PERL5LIB PERL5OPT

for mode in plain preload; do
    ta_run "$mode" workload perl "$here/workload.pl"
done
ta_compare workload

# /proc/self/maps of the perl process itself: without the preload the library
# must be absent (so the check can fail), with it present.
# shellcheck disable=SC2016 # perl code, expanded by perl
maps_check='open(my $m, "<", "/proc/self/maps") or die; my $lib = shift;
            print((grep { m{ \Q$lib\E$} } <$m>) ? "mapped\n" : "not mapped\n")'
for mode in plain preload; do
    ta_run "$mode" maps perl -e "$maps_check" "$TA_LIB"
done
[ "$(cat "$TA_TMP/maps.plain.out")" = "not mapped" ] || ta_fail "maps check: $(cat "$TA_TMP/maps.plain.out") without preload"
[ "$(cat "$TA_TMP/maps.preload.out")" = "mapped" ] || ta_fail "$TA_LIB not mapped in perl under LD_PRELOAD"
echo "ok: library mapped in perl only with the preload"
ta_check_binds perl -e 1
echo "PASS: preload.perl"
