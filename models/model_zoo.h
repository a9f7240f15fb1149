#pragma once
// The benchmark models of the device-placement papers, generated as ONNX in memory.
//
// Why generate instead of shipping .onnx files: the papers' graphs (unrolled LSTMs with thousands of ops,
// Inception-V3, Transformers) are defined by a handful of sizes, and the placers are evaluated at several of
// them (NMT with 2/4/8 layers, short sequences for tests, 100k-node synthetic graphs for import speed). The
// generators build the graphs op by op at the granularity of the papers' TensorFlow graphs (see
// shared/REFERENCES.md for the configurations) with static shapes everywhere and value_info for every tensor.
//
// Every generated model: opset 14, passes onnx::checker::check_model and strict ONNX shape inference, and is
// deterministic (same name + options -> byte-identical serialization).
// onnx_pb.h, not onnx-ml.pb.h directly: it defines ONNX_API, which onnx-ml.pb.h needs, then includes it.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace allot::models {

// Sizes a generator is asked for. 0 means "the model's paper default" (see ListGenerators() descriptions).
// A generator that has no use for a size rejects a non-zero value rather than silently ignoring it.
struct ModelOptions {
  int64_t batch = 0;    // 0: the model's paper default
  int64_t seq = 0;      // sequence length / unroll steps; 0: default
  int layers = 0;       // 0: default
  int64_t hidden = 0;   // 0: default (hidden size / d_model)
  int64_t vocab = 0;    // 0: default
  bool weights = false; // true: seeded random initializers; false: "allot:parameter" inputs
  uint64_t seed = 1;
};

struct GeneratorInfo {
  std::string name;
  std::string description;  // one line: the architecture, its defaults and the options it takes
};

const std::vector<GeneratorInfo>& ListGenerators();

// Throws allot::Error("unknown model generator 'x' (known: ...)") for an unknown name, and allot::Error for
// options the generator rejects (an option it does not take, or sizes that do not fit the architecture).
onnx::ModelProto Generate(const std::string& name, const ModelOptions& options);

// Parses "nmt,layers=4,batch=64,seq=40,hidden=1024,vocab=32000,weights=1,seed=3" (keys in any order, each at
// most once; weights takes 0/1/true/false). Throws allot::Error naming the bad key or value, or the unknown
// generator name.
std::pair<std::string, ModelOptions> ParseModelSpec(const std::string& spec);

}  // namespace allot::models
