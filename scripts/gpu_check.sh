#!/usr/bin/env bash
# The GPU checks of README "GPU", on a machine with a CUDA GPU and a python3 whose PyTorch is built with CUDA:
# builds allot against that PyTorch's LibTorch (Debian 12 packages, unpacked into a private prefix, supply the other
# dependencies), then runs placements that mix the host and cuda:0 (h200x1) against a CPU-only run of the same model, a
# torchvision export against PyTorch's own output, and the fidelity benchmark on h200x1.
#
#   scripts/gpu_check.sh DEBS OUT
#
# DEBS holds the .deb files of: libonnx-dev libonnx1 libonnxifi libprotobuf-dev libprotobuf32 libprotobuf-lite32
# libmetis-dev libmetis5 nlohmann-json3-dev libcli11-dev libgtest-dev zlib1g-dev (`apt-get download` on Debian 12).
# OUT receives the log and the files the checks write.
set -uo pipefail
debs=$(realpath "$1")
out=$(realpath "$2")
prefix=/tmp/allot-deps
mkdir -p "$prefix" "$out"
step() { echo; echo "== $* ($(date +%T))"; }

# CLUSTER and ALLOT (a built binary: no build) let the script's logic be tried on a CPU-only machine (cpu2).
cluster=${CLUSTER:-h200x1}

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
grep PRETTY_NAME /etc/os-release; g++ --version | head -1; cmake --version | head -1; nproc

if [ -z "${ALLOT:-}" ]; then
step "dependencies"
for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
lib=$prefix/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
torch_cmake=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
std=$(python3 -c 'import torch; v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); print(20 if v >= (2, 13) else 17)')

step "configure (C++$std)"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD="$std" \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_cmake" -DProtobuf_INCLUDE_DIR="$prefix/usr/include" \
  -DProtobuf_LIBRARY="$lib/libprotobuf.so" -DProtobuf_LITE_LIBRARY="$lib/libprotobuf-lite.so" \
  -DProtobuf_PROTOC_EXECUTABLE=/bin/true -DMETIS_INCLUDE_DIR="$prefix/usr/include" -DMETIS_LIBRARY="$lib/libmetis.so" \
  >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
grep -iE "cuda|torch" "$out/configure.log" | head -8
step "build"
start=$(date +%s)
cmake --build build-cuda --target allot -j "$(nproc)" -- -k 0 >"$out/build.log" 2>&1 || { grep -A3 "error:" "$out/build.log" | head -80; exit 1; }
echo "built in $(( $(date +%s) - start )) s"
allot=build-cuda/allot
else
  allot=$ALLOT
fi

# One model, placed three ways; outputs of one step compared with the CPU-only run's.
compare() {  # compare DIR_A DIR_B: max |a - b| and max relative error of every output_K.pb
  python3 - "$1" "$2" <<'PY'
import glob, os, sys
import numpy as np
from onnx import numpy_helper, TensorProto
worst = 0.0
for a in sorted(glob.glob(os.path.join(sys.argv[1], "output_*.pb"))):
    b = os.path.join(sys.argv[2], os.path.basename(a))
    ta, tb = TensorProto(), TensorProto()
    ta.ParseFromString(open(a, "rb").read()); tb.ParseFromString(open(b, "rb").read())
    x, y = numpy_helper.to_array(ta).astype(np.float64), numpy_helper.to_array(tb).astype(np.float64)
    if x.shape != y.shape: print(f"  {os.path.basename(a)}: shapes {x.shape} vs {y.shape}"); worst = float("inf"); continue
    rel = float(np.max(np.abs(x - y)) / max(1e-12, float(np.max(np.abs(y))))) if x.size else 0.0
    worst = max(worst, rel)
    print(f"  {os.path.basename(a)} {x.shape}: max |diff| / max |ref| = {rel:.2e}")
print("  MATCH" if worst <= 1e-2 else "  MISMATCH", f"(worst {worst:.2e}, tolerance 1e-2: cuDNN convolutions use TF32)")
PY
}

run_three() {  # run_three NAME MODEL MODE [run options]
  local name=$1 model=$2 mode=$3; shift 3
  local d=$out/$name-$mode
  mkdir -p "$d"
  "$allot" place "$model" --mode "$mode" --cluster cpu1 --placer single -o "$d/cpu.json" >/dev/null &&
    "$allot" run "$model" --placement "$d/cpu.json" --steps 1 --warmup 0 --outputs "$d/cpu" "$@" | grep -E "step|loss" | head -3
  for placer in "random:seed=1,devices=all" "etf:devices=all"; do
    local tag=${placer%%:*}
    "$allot" place "$model" --mode "$mode" --cluster "$cluster" --placer "$placer" -o "$d/$tag.json" | grep -E "^(cpu|cuda)" | tr -s ' ' | head -2
    "$allot" run "$model" --placement "$d/$tag.json" --steps 1 --warmup 0 --outputs "$d/$tag" "$@" | grep -E "step|loss|cuda|cpu" | head -4
    echo " $name $mode $placer vs cpu:"; compare "$d/$tag" "$d/cpu"
  done
}

for mode in ${MODES:-inference training}; do
  step "inception_v3 $mode"; run_three iv3 "gen:inception_v3,batch=2" $mode
  step "nmt $mode"; run_three nmt "gen:nmt,layers=2,seq=8,hidden=256,vocab=2000,batch=32" $mode
  step "transformer $mode"; run_three tf "gen:transformer,layers=2,seq=32,hidden=256,vocab=2000,batch=8" $mode
done

if [ -z "${ALLOT:-}" ]; then
  step "executor tests on the GPU"
  cmake --build build-cuda --target allot_torch_tests -j "$(nproc)" >>"$out/build.log" 2>&1 &&
    build-cuda/tests/allot_torch_tests --gtest_filter='RuntimeExecutorTest.*' 2>&1 | grep -E "OK|FAILED|SKIPPED|PASSED"
fi

step "torchvision resnet18, exported here, against PyTorch's output"
python3 - "$out/r18" <<'PY' || echo "export failed"
import os, sys, torch, torchvision
from onnx import numpy_helper
d = sys.argv[1]; os.makedirs(os.path.join(d, "data"), exist_ok=True)
torch.manual_seed(1)
m = torchvision.models.resnet18().eval(); x = torch.randn(2, 3, 224, 224)
with torch.no_grad(): y = m(x)
torch.onnx.export(m, (x,), os.path.join(d, "model.onnx"), opset_version=14, input_names=["input"], output_names=["output"], dynamo=False)
for name, t, f in (("input", x, "input_0.pb"), ("output", y, "output_0.pb")):
    p = numpy_helper.from_array(t.numpy(), name); open(os.path.join(d, "data", f), "wb").write(p.SerializeToString())
PY
if [ -f "$out/r18/model.onnx" ]; then
  "$allot" place "$out/r18/model.onnx" --cluster "$cluster" --placer "random:seed=3,devices=all" -o "$out/r18/random.json" | grep -E "^(cpu|cuda)" | tr -s ' '
  "$allot" run "$out/r18/model.onnx" --placement "$out/r18/random.json" --inputs "$out/r18/data" --outputs "$out/r18/got" \
    --steps 20 --warmup 3 --trace "$out/r18-trace.json" | head -8
  compare "$out/r18/got" "$out/r18/data"
  rm -f "$out/r18/model.onnx"
fi

step "fidelity on $cluster"
timeout "${FIDELITY_SECONDS:-600}" "$allot" bench fidelity --cluster "$cluster" --steps 5 --warmup 2 --repeats 3 \
  --placers "single;cpu;etf:devices=all;metis:devices=all;random:seed=1,devices=all;random:seed=2,devices=all"
step "done"
