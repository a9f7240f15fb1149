#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the whole test suite through ctest; then builds the
# torch-free test suite again with AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize/, -O1) and runs
# it, less the tests that drive the allot binary (CliTest, ExportCliTest, ZooTest: the binary links LibTorch, and
# its sanitized build would double CI's build time). Any sanitizer report fails the run.
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
cmake --build build-sanitize -j"$(nproc)" --target allot_tests
t3=$(date +%s)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build-sanitize/tests/allot_tests --gtest_filter='-CliTest.*:ExportCliTest.*:ZooTest.*'
t4=$(date +%s)
echo "test.sh: sanitized build $((t3 - t2)) s, sanitized tests $((t4 - t3)) s"
