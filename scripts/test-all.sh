#!/usr/bin/env bash
# scripts/test-all.sh: the one command that checks a tarena checkout, from a
# clean clone: installs missing packages (setup-deps.sh), configures a Release
# build in build-test/, builds everything and runs every ctest test.
# Usage: scripts/test-all.sh [ctest args...]   e.g. scripts/test-all.sh -R preload
# Environment: BUILD_DIR (default build-test), TEST_JOBS (ctest -j, default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh

build=${BUILD_DIR:-build-test}
jobs=$(nproc 2>/dev/null || echo 2)
# A build directory of its own, so a developer's build/ (Debug, other
# options) is never reconfigured by this script.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"

# Two tests at a time: the preload tests each run two-threaded programs, and
# tests that count on threads making progress should not starve.
cd "$build"
ctest --output-on-failure --no-tests=error -j "${TEST_JOBS:-2}" "$@"
