#!/usr/bin/env bash
# bench/device/make-bundle.sh: builds the bundle bench/device/run.sh runs from on
# a machine without the allocator packages (README.md). Owns BUNDLE_DIR's bin/,
# lib/, MANIFEST.txt and run.sh; leaves anything else in BUNDLE_DIR alone.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CONF=$REPO/bench/workloads.conf

usage() {
    cat <<EOF
usage: bench/device/make-bundle.sh [BUNDLE_DIR [BUILD_DIR]]
  BUNDLE_DIR  where the bundle goes (default: .devbench at the top of the
              repository, where run.sh expects it)
  BUILD_DIR   the Release build to take libtarena.so and the workload programs
              from (default: build-rel); configured and built first if either
              is missing
EOF
}

die() { echo "make-bundle: ERROR: $*" >&2; exit 1; }
note() { echo "make-bundle: $*" >&2; }

case ${1:-} in -h|--help) usage; exit 0 ;; -*) usage >&2; die "unknown option '$1'" ;; esac
[ $# -le 2 ] || { usage >&2; die "too many arguments"; }
BUNDLE=${1:-$REPO/.devbench}
BUILD=${2:-$REPO/build-rel}

# The programs bench/compare runs: the second field of bench/workloads.conf.
WORKLOADS=$(sed -e 's/#.*//' "$CONF" | awk -F'|' 'NF >= 2 { gsub(/[[:space:]]/, "", $2); if ($2 != "") print $2 }' | sort -u)
[ -n "$WORKLOADS" ] || die "no workload programs in $CONF"

# ---- the Release build ----------------------------------------------------------
built=1
[ -f "$BUILD/libtarena.so" ] || built=0
for p in $WORKLOADS; do [ -x "$BUILD/bench/workloads/$p" ] || built=0; done
if [ $built = 0 ]; then
    note "building $BUILD (Release)"
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
    cmake --build "$BUILD" -j2
    [ -f "$BUILD/libtarena.so" ] || die "$BUILD/libtarena.so missing after the build"
    for p in $WORKLOADS; do
        [ -x "$BUILD/bench/workloads/$p" ] || die "$BUILD/bench/workloads/$p missing after the build"
    done
fi
BUILD=$(cd "$BUILD" && pwd)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = Release ] || note "warning: $BUILD is a '${build_type:-no type}' build, not Release"
# The C compiler as CMake found it: "gcc 12.2.0".
compiler=$(sed -n -e 's/^set(CMAKE_C_COMPILER_ID "\(.*\)")/\1/p' -e 's/^set(CMAKE_C_COMPILER_VERSION "\(.*\)")/\1/p' \
    "$BUILD"/CMakeFiles/*/CMakeCCompiler.cmake 2>/dev/null | head -n 2 | paste -sd' ' - | sed -e 's/^GNU /gcc /' -e 's/^Clang /clang /')
[ -n "$compiler" ] || compiler=unknown

# ---- the allocator libraries: the system's, from their Debian packages --------
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$MULTIARCH" ] || MULTIARCH=$(uname -m)-linux-gnu
SYSLIB=/usr/lib/$MULTIARCH
# library -> package (scripts/setup-deps.sh installs them all; liburcu8 comes
# with liburcu-dev). liburcu-cds and liburcu-bp are what libtarena.so links.
declare -A PKG=([libjemalloc.so.2]=libjemalloc2 [libtcmalloc_minimal.so.4]=libtcmalloc-minimal4
    [libmimalloc.so.2]=libmimalloc2.0 [liburcu-cds.so.8]=liburcu8 [liburcu-bp.so.8]=liburcu8)
LIBS=(libjemalloc.so.2 libtcmalloc_minimal.so.4 libmimalloc.so.2 liburcu-cds.so.8 liburcu-bp.so.8)
for l in "${LIBS[@]}"; do
    [ -f "$SYSLIB/$l" ] || die "$SYSLIB/$l missing: install package ${PKG[$l]} (scripts/setup-deps.sh installs it)"
done

# ---- the bundle ------------------------------------------------------------------
mkdir -p "$BUNDLE"
BUNDLE=$(cd "$BUNDLE" && pwd)
[ "$BUNDLE" != / ] && [ "$BUNDLE" != "$REPO" ] || die "BUNDLE_DIR must be a folder of its own, not $BUNDLE"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    case $BUNDLE/ in
        "$REPO"/*) git -C "$REPO" check-ignore -q "$BUNDLE/" ||
            note "warning: $BUNDLE is not git-ignored: add it to .gitignore" ;;
    esac
fi
[ "$(dirname "$BUNDLE")" = "$REPO" ] ||
    note "note: run.sh takes the repository to be the bundle's parent: copy $BUNDLE to the top of a checkout before running it"

rm -rf "${BUNDLE:?}/bin" "${BUNDLE:?}/lib"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib"
for p in $WORKLOADS; do cp -L "$BUILD/bench/workloads/$p" "$BUNDLE/bin/$p"; done
chmod +x "$BUNDLE"/bin/*
cp -L "$BUILD/libtarena.so" "$BUNDLE/lib/libtarena.so"
for l in "${LIBS[@]}"; do cp -L "$SYSLIB/$l" "$BUNDLE/lib/$l"; done
cp "$HERE/run.sh" "$BUNDLE/run.sh"
chmod +x "$BUNDLE/run.sh"

# Every library must load from lib/ alone (libc, libm, libstdc++ and libgcc_s
# come from the machine).
for f in "$BUNDLE"/lib/*; do
    if LD_LIBRARY_PATH=$BUNDLE/lib ldd "$f" 2>&1 | grep -q 'not found'; then
        LD_LIBRARY_PATH=$BUNDLE/lib ldd "$f" >&2 || true
        die "$f: a library it needs is not in the bundle"
    fi
done

# ---- MANIFEST.txt: what lib/ and bin/ were built from ------------------------------
os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
libc=$(ldd --version 2>&1 | head -n 1)
tree="no git tree"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    tree=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo "no commit yet")
    changed=$(git -C "$REPO" status --porcelain 2>/dev/null | cut -c4- || true)
    if [ -n "$changed" ]; then
        n=$(wc -l <<<"$changed")
        [ "$n" = 1 ] && s= || s=s
        tree+=" (git status: $n changed path$s: $(paste -sd' ' - <<<"$changed"))"
    fi
fi
build_name=$BUILD
case $BUILD/ in "$REPO"/*) build_name=${BUILD#"$REPO"/} ;; esac
packages=$(for l in "${LIBS[@]}"; do echo "${PKG[$l]}"; done | sort -u |
    xargs dpkg-query -W -f='${Package} ${Version}\n' 2>/dev/null | paste -sd, - | sed 's/,/, /g' || true)
{
    echo "built:    $(date -u '+%Y-%m-%d %H:%M UTC') on $os, $libc"
    echo "tree:     $tree"
    echo "tarena:   $build_name (cmake -DCMAKE_BUILD_TYPE=${build_type:-?}, $compiler)"
    echo "packages: $packages"
    echo "sha256:"
    for d in lib bin; do
        find "$BUNDLE/$d" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort |
            while read -r f; do echo "  $(sha256sum "$BUNDLE/$d/$f" | cut -c1-12)  $d/$f"; done
    done
} >"$BUNDLE/MANIFEST.txt"

cat "$BUNDLE/MANIFEST.txt"
note "bundle in $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)): on the device machine, from the repository root," \
    "run $(basename "$BUNDLE")/run.sh OUTDIR (bench/device/README.md)"
