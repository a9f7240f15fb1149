#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
scripts/setup.sh
t1=$(date +%s)
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
t2=$(date +%s)
echo "test.sh: set-up and build $((t1 - t0)) s, tests $((t2 - t1)) s"
