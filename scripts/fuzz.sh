#!/usr/bin/env bash
# Fuzzes every reader allot has for a while and reports executions and findings. Installs clang and libFuzzer
# when missing (Debian's clang-14, libfuzzer-14-dev), builds the targets of tests/fuzz/ in build-fuzz/ (ASan and
# UBSan on), seeds each corpus (libonnx-testdata's node models and allot's generators for the importer; a preset
# cluster, a placement, cost graphs and a profile for the JSON readers; a policy folder and a checkpoint, which
# those targets write themselves from a two-step training run), and runs each target SECONDS seconds.
# Findings (crashes, sanitizer reports, timeouts, out-of-memory) are left in build-fuzz/findings/TARGET/.
# Usage: scripts/fuzz.sh [SECONDS per target, default 60] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(onnx_import cluster_json placement_json cost_graph_json profile_json policy_dir checkpoint)

missing=()
for p in clang-14 libfuzzer-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/setup.sh --no-build  # the libraries the targets link
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g" -DALLOT_FUZZ=ON \
  "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

# Seed corpora (rebuilt each run; libFuzzer adds what it finds to them).
corpus=build-fuzz/corpus
mkdir -p "$corpus"
seed() { mkdir -p "$corpus/$1"; }
seed onnx_import
if [ -d /usr/share/libonnx-testdata/data/node ]; then
  for d in /usr/share/libonnx-testdata/data/node/*/; do cp "$d/model.onnx" "$corpus/onnx_import/$(basename "$d").onnx"; done
fi
[ -x build/allot ] || scripts/setup.sh
for g in mlp chain resnet50,batch=1 transformer,layers=1,seq=8; do
  build/allot gen "gen:$g" -o "$corpus/onnx_import/gen_${g//[,=]/_}.onnx" >/dev/null
done
seed cluster_json
for c in p100x2 v100x8 cpu2; do build/allot clusters --json "$c" > "$corpus/cluster_json/$c.json"; done
seed placement_json
build/allot place gen:mlp --cluster p100x2 --placer etf -o "$corpus/placement_json/mlp_etf.json" >/dev/null
build/allot place gen:mlp --cluster p100x2 --placer single -o "$corpus/placement_json/mlp_single.json" >/dev/null
seed cost_graph_json
cat > "$corpus/cost_graph_json/small.json" <<'JSON'
{"format": "allot-cost-graph", "version": 1, "name": "small",
 "nodes": [{"name": "a", "op": "MatMul", "time_us": {"gpu": 10, "cpu": 100}, "output_bytes": 1000, "memory_bytes": 4000,
            "colocation": "k"},
           {"name": "b", "flops": 1e6, "output_bytes": 10, "devices": ["cpu"]},
           {"name": "c", "time_us": {"gpu": 5}, "output_bytes": 10, "colocation": "k"}],
 "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c", "bytes": 500}, {"from": "b", "to": "c"}]}
JSON
seed profile_json
cat > "$corpus/profile_json/small.json" <<'JSON'
{"ops": [{"signature": "Gemm|f32[32,784]x[256,784]", "device": "cpu:0", "kind": "cpu", "time_us": 120.5, "repeats": 5}],
 "links": [{"from": "cpu:0", "to": "cpu:1", "gbps": 8.5, "latency_us": 12}]}
JSON

status=0
for t in "${targets[@]}"; do
  findings=build-fuzz/findings/$t
  rm -rf "$findings" && mkdir -p "$findings"
  log=build-fuzz/fuzz_$t.log
  # -rss_limit_mb: allot refuses what would not fit; a reader that allocates past this is a finding.
  mkdir -p "$corpus/$t"
  LSAN_OPTIONS=suppressions=scripts/lsan_libtorch.supp ALLOT_FUZZ_SEED_DIR="$corpus/$t" build-fuzz/tests/fuzz_$t "$corpus/$t" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
    -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  found=$(find "$findings" -type f | wc -l)
  printf '%-16s %10s executions in %s s, %s findings%s\n' "$t" "$execs" "$seconds" "$found" \
    "$([ "$found" -gt 0 ] && echo " (see $findings, log $log)")"
  [ "$found" -gt 0 ] && status=1
done
exit $status
