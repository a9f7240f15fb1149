#pragma once
// How every command turns its MODEL argument into a Graph: an ONNX file path, a JSON cost graph (*.json, see
// cost_model/cost_graph.h), or "gen:SPEC" for a generated benchmark model (see `allot models`), imported with
// the same binding, checking and mode options.
#include <memory>
#include <string>

#include "cost_model/op_costs.h"
#include "graph/graph.h"
#include "graph/onnx_import.h"
#include "graph/training.h"

namespace CLI {
class App;
}
namespace onnx {
class ModelProto;
}

namespace allot::tools {

struct ModelArgs {
  std::string model;
  std::string mode = "inference";  // inference | training
  std::string optimizer = "momentum";
  int64_t batch = 0;
  int64_t seq = 0;
  std::vector<std::string> dims;  // NAME=N
  bool no_check = false;
};

// Adds MODEL and the options above to a subcommand.
void AddModelOptions(CLI::App& app, ModelArgs& args);

struct LoadedModel {
  Graph graph;
  std::shared_ptr<const onnx::ModelProto> proto;  // the ONNX model (null for cost graphs): the runtime executes it
  NodeTimes times;  // per-node times given by a cost graph (empty for ONNX models)
  ImportReport report;
  double parse_seconds = 0;   // reading + protobuf parsing (generation for gen:)
  double import_seconds = 0;  // checker + shape inference + IR build (+ training synthesis)
};

LoadedModel LoadModel(const ModelArgs& args);

}  // namespace allot::tools
