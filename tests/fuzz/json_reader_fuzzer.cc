// libFuzzer targets: bytes as one of allot's JSON files, read as the CLI reads it. ALLOT_FUZZ_READER (set by
// tests/CMakeLists.txt, one executable per reader) picks the reader: a cluster spec, a placement file (for a fixed
// MLP on p100x2), a JSON cost graph, or a profile. Any allot::Error is the expected answer to bad input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cost_model/cluster.h"
#include "cost_model/cost_graph.h"
#include "cost_model/placement.h"
#include "cost_model/profile.h"
#include "graph/error.h"
#include "models/model_zoo.h"
#include "graph/onnx_import.h"

namespace {

enum Reader { kCluster = 0, kPlacement = 1, kCostGraph = 2, kProfile = 3 };

void Read(const std::string& text) {
  switch (ALLOT_FUZZ_READER) {
    case kCluster:
      allot::ParseClusterJson(text, "fuzz.json");
      break;
    case kPlacement: {
      static const allot::Cluster cluster = allot::MakePreset("p100x2");
      static const allot::Graph graph = [] {
        onnx::ModelProto model = allot::models::Generate("mlp", {});
        return allot::ImportModel(model, "mlp", allot::ImportOptions{});
      }();
      allot::ParsePlacementJson(text, "fuzz.json", graph, cluster);
      break;
    }
    case kCostGraph:
      allot::ParseCostGraph(text, "fuzz.json");
      break;
    case kProfile:
      allot::Profile::FromJson(text, "fuzz.json");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Read(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const allot::Error&) {
  }
  return 0;
}
