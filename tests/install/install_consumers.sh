#!/usr/bin/env bash
# tests/install/install_consumers.sh: install.consumers. Installs the build
# into a scratch prefix with `cmake --install --prefix`, then builds and runs
# consumers of it the two ways users do: pkg-config (tarena.pc) and a CMake
# project with find_package(tarena) (tarena::tarena, tarena::tarena_static).
# Usage: install_consumers.sh CMAKE BUILD_DIR CC LINK_CHECK_C CONSUMER_PROJECT_DIR
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 CMAKE BUILD_DIR CC LINK_CHECK_C CONSUMER_DIR" >&2; exit 2; }
cmake=$1 build=$2 cc=$3 check_src=$4 consumer=$5
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config is not installed" >&2; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ta-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
# Only what the consumers are told below may lead them to tarena.
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH LD_PRELOAD tarena_DIR || true

"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
pc=$(find "$prefix" -name tarena.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/tarena.pc installed under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/tarena.h" "$libdir/libtarena.so" "$libdir/libtarena.a" \
    "$libdir/cmake/tarena/tarenaConfig.cmake" "$libdir/cmake/tarena/tarenaConfigVersion.cmake"; do
    [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
echo "ok: installed into $prefix (libdir ${libdir#"$prefix"/})"

# 1. pkg-config. The .pc file must describe where it was installed, also when
#    the prefix was only chosen at install time (cmake --install --prefix).
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs tarena) || fail "pkg-config --cflags --libs tarena failed"
echo "pkg-config --cflags --libs tarena: $flags"
points_here=no
for inc in $(pkg-config --cflags-only-I tarena); do
    [ "$(readlink -f "${inc#-I}")" = "$(readlink -f "$prefix/include")" ] && points_here=yes
done
[ $points_here = yes ] || fail "tarena.pc does not point into the install prefix $prefix (it says prefix=$(pkg-config --variable=prefix tarena)); make it relocatable: prefix=\${pcfiledir}/<libdir/pkgconfig back to the prefix>"
# shellcheck disable=SC2086 # pkg-config output is a word list
"$cc" -O2 -fno-builtin -o "$tmp/pc_shared" "$check_src" $flags -ldl -pthread \
    || fail "building with pkg-config's flags failed"
# pkg-config gives no rpath: the loader needs the library path.
LD_LIBRARY_PATH=$libdir "$tmp/pc_shared" shared || fail "pkg-config consumer failed"

# 2. CMake package.
"$cmake" -S "$consumer" -B "$tmp/cbuild" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DTA_LINK_CHECK_C="$check_src" >"$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; fail "configuring a find_package(tarena) project failed"; }
grep -F -- "-- tarena " "$tmp/cmake.log" || true
found=$(sed -n 's/^tarena_DIR:PATH=//p' "$tmp/cbuild/CMakeCache.txt")
case $found in
    "$prefix"/*) ;;
    *) fail "find_package(tarena) found '$found', not the package in $prefix" ;;
esac
"$cmake" --build "$tmp/cbuild" -j 2 >"$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log" >&2; fail "building against tarena::tarena / tarena::tarena_static failed"; }
# No LD_LIBRARY_PATH: CMake's build rpath must find the installed libtarena.so.
"$tmp/cbuild/app_shared" shared || fail "tarena::tarena consumer failed"
ldd "$tmp/cbuild/app_shared" | grep -F "$libdir/libtarena.so" \
    || fail "app_shared does not load libtarena.so from $libdir"
"$tmp/cbuild/app_static" exe || fail "tarena::tarena_static consumer failed"
if grep -q libtarena < <(ldd "$tmp/cbuild/app_static"); then
    fail "app_static (tarena::tarena_static) loads libtarena.so"
fi
echo "PASS: install.consumers"
