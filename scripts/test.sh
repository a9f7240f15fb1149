#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the whole test suite through ctest; then builds everything
# again with AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize/, -O1: both test binaries and the allot
# binary the CLI tests drive) and runs both suites on it: the torch-free layers, rl/, runtime/ and the CLI. LibTorch
# itself is not instrumented; allot's code calling it is. Any sanitizer report fails the run.
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
scripts/setup.sh
t1=$(date +%s)
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
t2=$(date +%s)
echo "test.sh: set-up and build $((t1 - t0)) s, tests $((t2 - t1)) s"
[ "${1:-}" = "--no-sanitize" ] && exit 0

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DALLOT_SANITIZE=ON "${launcher[@]}" >/dev/null
cmake --build build-sanitize -j"$(nproc)" --target allot_tests allot_torch_tests allot
t3=$(date +%s)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan_libtorch.supp
build-sanitize/tests/allot_tests
build-sanitize/tests/allot_torch_tests
t4=$(date +%s)
echo "test.sh: sanitized build $((t3 - t2)) s, sanitized tests $((t4 - t3)) s"
