#!/usr/bin/env bash
# Installs allot's Debian dependencies (idempotent, quiet when present), then configures and builds (Release).
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas0-openmp: Debian's LibTorch calls BLAS through the libblas.so.3 alternative, which is netlib's
# reference BLAS unless an optimised one is installed; OpenBLAS (the OpenMP build, sharing LibTorch's libgomp
# thread pool) makes the policies' matrix products and the runtime's Gemm/Conv several times faster
# (seq2seq on Inception-V3: 40 -> 185 placements/s).
PKGS=(cmake g++ libtorch-dev libopenblas0-openmp libonnx-dev libprotobuf-dev protobuf-compiler libmetis-dev libboost-graph-dev
      nlohmann-json3-dev libgtest-dev libcli11-dev ccache libgloo-dev
      python3-torch python3-torchvision python3-onnx libonnx-testdata
      pybind11-dev python3-dev python3-numpy python3-pytest)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

start=$(date +%s)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: build took $(( $(date +%s) - start )) s"
