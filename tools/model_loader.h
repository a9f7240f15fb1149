#pragma once
// How every command turns its MODEL argument into a Graph: an ONNX file path, a JSON cost graph (*.json, see
// cost_model/cost_graph.h), or "gen:SPEC" for a generated benchmark model (see `allot models`), imported with
// the same binding, checking and mode options.
#include <memory>
#include <string>

#include "cost_model/node_constraints.h"
#include "cost_model/op_costs.h"
#include "graph/graph.h"
#include "graph/onnx_import.h"
#include "graph/training.h"

namespace CLI {
class App;
class Option;
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
  // The options as added to the command line, so that a placement file can tell given values from defaults
  // (tools/placement_args.h).
  const CLI::Option *mode_option = nullptr, *optimizer_option = nullptr, *batch_option = nullptr,
                    *seq_option = nullptr, *dim_option = nullptr;
};

// Adds MODEL (a positional argument, or `--model` with model_option; optional with `optional_model`) and the
// options above to a subcommand.
void AddModelOptions(CLI::App& app, ModelArgs& args, bool model_option = false, bool optional_model = false);

// --batch, --seq and --dim as bindings; an ill-formed --dim is an Error.
DimBindings ParseBindings(const ModelArgs& args);

struct LoadedModel {
  std::string source;  // the MODEL argument, naming the model in errors
  Graph graph;
  std::shared_ptr<const onnx::ModelProto> proto;  // the ONNX model (null for cost graphs): the runtime executes it
  NodeTimes times;  // per-node times given by a cost graph (empty for ONNX models)
  NodeConstraints constraints;  // co-location classes and allowed devices a cost graph gives (none for ONNX)
  ImportReport report;
  std::string model_dir;  // an ONNX file's folder (external data is relative to it); "" for gen: and cost graphs
  double parse_seconds = 0;   // reading + protobuf parsing (generation for gen:)
  double import_seconds = 0;  // checker + shape inference + IR build (+ training synthesis)
};

LoadedModel LoadModel(const ModelArgs& args);

// MODEL and the options above as a command line (for a child `allot run`): what LoadModel reads the same way.
std::vector<std::string> ModelCommandLine(const ModelArgs& args);

}  // namespace allot::tools
