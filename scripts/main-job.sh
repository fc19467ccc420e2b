#!/usr/bin/env bash
# scripts/main-job.sh: the project's main job. On a fresh Debian 12 machine it
# installs what is missing, builds Release into build/, then runs real
# multi-threaded workloads under glibc and under tarena and prints the table.
# Usage: scripts/main-job.sh [bench/compare options]   e.g. --runs 5
# Environment: BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One package list for the whole project (build, tests, bench); it runs
# apt-get only when something is missing, through sudo when not root.
scripts/setup-deps.sh

build=${BUILD_DIR:-build}
# Bench on explicitly: a build/ configured earlier without it must not break the job.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTARENA_BUILD_BENCH=ON
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"

# larson (server simulation, some frees remote) and server (request parsing
# and response building) at 2 and 4 threads, 3 runs each, glibc and tarena
# taking turns run by run. About a minute on 2 cores. Ratios are to glibc.
exec bench/compare --allocators glibc,tarena --workloads larson,server --threads 2,4 --runs 3 \
    --tarena "$PWD/$build/libtarena.so" --bindir "$PWD/$build/bench/workloads" --no-install "$@"
