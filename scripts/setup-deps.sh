#!/usr/bin/env bash
# scripts/setup-deps.sh: installs the Debian/Ubuntu packages tarena needs to
# build, test and benchmark. Idempotent: checks each package with dpkg-query
# and runs apt-get (update included) only when something is missing.
# Usage: scripts/setup-deps.sh [extra-package...]
set -euo pipefail

packages=(
    # build
    cmake make gcc g++ clang pkg-config liburcu-dev
    # tests: CUnit, xmllint for malloc_info's XML, the preload test programs
    libcunit1-dev libxml2-utils python3 perl git xz-utils zstd coreutils
    sqlite3 redis-server redis-tools
    # memcheck runs of a TARENA_VALGRIND build (scripts/valgrind-check.sh)
    valgrind
    # benchmarks
    libbenchmark-dev gnuplot-nox libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
)
# CPython's own regression tests (preload.python_regrtest), packaged per
# python version: Debian 12's python3 is 3.11.
pyver=3.11
if [ -x /usr/bin/python3 ]; then
    pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
packages+=("libpython$pyver-testsuite")
packages+=("$@")

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-deps: all ${#packages[@]} packages present"
    exit 0
fi

command -v apt-get >/dev/null || {
    echo "setup-deps: missing ${missing[*]}, and there is no apt-get to install them" >&2
    exit 1
}
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# apt-get succeeding is not proof: a virtual or misspelled name can slip through.
still=()
for p in "${missing[@]}"; do
    installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    echo "setup-deps: still missing after apt-get: ${still[*]}" >&2
    exit 1
fi
