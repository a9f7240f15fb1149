#!/usr/bin/env bash
# Installs what is missing, builds, and runs allot's main job on an embedded default: a generated 4-layer NMT
# training step (the papers' hardest benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/allot compare --models "gen:nmt,layers=4" --cluster p100x4 --placers classic --mode training -o build/demo-report
