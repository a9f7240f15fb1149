#pragma once
// IR placement -> ONNX: annotate a model with its placement, read the annotation back, and split a placed model
// into one ONNX model per device (per device stage), with a manifest that says how to run them in order.
//
// This layer sees no cluster or cost model: a placement is one device name per node of the ONNX main graph
// (`device_of_node[i]` for graph.node(i)), which is forward node i of the IR Graph (see onnx_import.h). Node names
// follow the importer's rule (OnnxNodeNames), so they are the names placement files use.
//
// Annotation (AnnotateModel). ONNX 1.12's NodeProto has no metadata_props, and the checker rejects attributes an
// ONNX-domain op's schema does not declare, so the placement is stored where ONNX allows free data:
//   - ModelProto.metadata_props["allot.placement"]: a JSON object {node name: device}, in graph order (plus
//     forward IR nodes that are not in the ONNX graph, such as a training graph's "allot/loss");
//   - metadata_props "allot.graph_hash", "allot.cluster", "allot.mode", "allot.optimizer" and "allot.bindings"
//     (graph/dim_bindings.h) when known (the placement file's fields);
//   - each NodeProto.doc_string gets a line "allot.device=<device>" (an existing such line is replaced), for
//     humans and tools that look at one node (Netron shows doc_string).
// The annotated model still passes onnx::checker::check_model and hashes to the same IR graph (doc strings and
// metadata are not part of the hash). ReadPlacementFromModel reads the metadata back (or, without it, the
// doc_string lines); PlacementJsonFromModel turns it into a placement file, so `simulate`/`run` can take the
// annotated model itself as --placement (see ReadPlacementText).
//
// Split (SplitModel). Each device's nodes form one submodel, in original order, with the initializers they read
// and the graph inputs they read. A tensor produced in one submodel and read in another is a graph output of the
// producer and a graph input of each reader (typed from value_info, graph inputs/outputs, after ONNX shape
// inference when the model lacks them); original graph outputs stay outputs of their producer's submodel. Tensors
// that control-flow bodies (If/Loop/Scan) read from the outer scope count as reads of the control-flow node.
// When the device graph has a cycle (a placement that goes A -> B -> A), a device's nodes are split into stages
// ("cuda_0_stage0", "cuda_0_stage1", ...) so that the graph of submodels is acyclic; otherwise each device is one
// submodel named after it ("cuda_0"). Submodels are listed in execution order. Every submodel passes the checker.
//
// Manifest (SplitModelResult::manifest, "manifest.json" of `allot export --format submodels`):
//   {"version": 1, "graph": "<graph name>",
//    "devices": [{"name": "cuda_0", "device": "cuda:0", "stage": 0, "model": "cuda_0.onnx", "nodes": 12,
//                 "inputs": ["x", ...], "outputs": ["h", ...]}, ...],          (execution order)
//    "transfers": [{"tensor": "h", "from": "cuda:0", "to": "cuda:1", "from_model": "cuda_0",
//                   "to_model": "cuda_1", "bytes": 4096}, ...],
//    "order": ["cuda_0", "cuda_1", ...],
//    "inputs": ["x", ...],                                       (original graph inputs, initializers excluded)
//    "outputs": [{"tensor": "y", "model": "cuda_1"}, ...]}       (original graph outputs; model null: an input)
// "inputs" of a submodel are the values to feed it, in its graph-input order (initializers excluded); "outputs"
// are its graph outputs in order. A transfer is one tensor going from its producer's submodel to one reader;
// from == to (same device, another stage) needs no copy. "bytes" comes from SplitOptions::tensor_bytes (0 when
// unknown).
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graph/error.h"

namespace allot {

// The importer's names for the main graph's nodes: "<op_type>_<index>" for an unnamed node, "__2", "__3", ...
// appended to a name already taken, in graph order (see onnx_import.h).
std::vector<std::string> OnnxNodeNames(const onnx::GraphProto& graph);

// ---- Annotation ----

inline constexpr const char* kPlacementMetadataKey = "allot.placement";
inline constexpr const char* kGraphHashMetadataKey = "allot.graph_hash";
inline constexpr const char* kClusterMetadataKey = "allot.cluster";
inline constexpr const char* kModeMetadataKey = "allot.mode";
inline constexpr const char* kOptimizerMetadataKey = "allot.optimizer";
inline constexpr const char* kBindingsMetadataKey = "allot.bindings";
inline constexpr const char* kDeviceDocPrefix = "allot.device=";

struct PlacementAnnotation {
  std::string graph_hash;  // the placement's "graph_hash" ("" to leave out)
  std::string cluster;     // the placement's "cluster" ("" to leave out)
  std::string mode;        // "inference" or "training" ("" to leave out)
  std::string optimizer;   // training's optimizer ("" to leave out)
  std::string bindings;    // the dim bindings as JSON (graph/dim_bindings.h; "" to leave out)
  // Forward IR nodes that have no ONNX node (a training graph's "allot/loss"), with their devices, so that the
  // annotation is a complete placement of the IR graph.
  std::vector<std::pair<std::string, std::string>> extra_nodes;
};

// Records device_of_node (one non-empty device name per main-graph node) in the model; replaces an earlier
// annotation. Throws Error when the sizes differ or a device is empty.
void AnnotateModel(onnx::ModelProto& model, const std::vector<std::string>& device_of_node,
                   const PlacementAnnotation& info = {});

struct ModelPlacement {
  std::vector<std::string> node_names;      // per main-graph node (OnnxNodeNames)
  std::vector<std::string> device_of_node;  // per main-graph node: what AnnotateModel was given
  PlacementAnnotation info;                 // extra_nodes: map entries naming no ONNX node, by name
};

// Whether the model carries an annotation (the metadata entry, or a doc_string device line on some node).
bool HasPlacementAnnotation(const onnx::ModelProto& model);

// Reads an annotation back. Errors name `source` and the field: no annotation, malformed JSON, a node without a
// device, a doc_string line that contradicts the metadata.
ModelPlacement ReadPlacementFromModel(const onnx::ModelProto& model, const std::string& source = "model");

// The annotation as a placement file (cost_model/placement.h: "version", "graph_hash", "cluster", "mode",
// "placement"), for ParsePlacementJson(text, source, graph, cluster), which validates it against the graph.
std::string PlacementJsonFromModel(const onnx::ModelProto& model, const std::string& source);

// What `simulate`/`run --placement PATH` should parse: the file itself, or, for an ONNX file (".onnx", or any file
// that does not start with '{' and parses as an annotated ModelProto), PlacementJsonFromModel of it. Usage:
//   ParsePlacementJson(ReadPlacementText(path), path, graph, cluster)
std::string ReadPlacementText(const std::string& path);

// ---- Split ----

struct SplitOptions {
  // Bytes of a tensor that crosses submodels, for the manifest's transfers. Unset: from its static shape and
  // element type when known, else 0.
  std::function<uint64_t(const std::string& tensor)> tensor_bytes;
  bool check = true;  // run onnx::checker::check_model on every submodel (an Error if one fails)
};

struct Submodel {
  std::string name;                  // "cuda_0", or "cuda_0_stage1" when the device has several stages
  std::string device;                // "cuda:0"
  int stage = 0;                     // 0.. within the device, in execution order
  std::string file;                  // name + ".onnx"
  std::vector<int> nodes;            // main-graph node indices, in graph order
  std::vector<std::string> inputs;   // values to feed, in graph-input order (initializers excluded)
  std::vector<std::string> outputs;  // graph outputs, in order
  onnx::ModelProto model;
};

struct SplitTransfer {
  std::string tensor;
  size_t from = 0, to = 0;  // indices into SplitModelResult::submodels
  uint64_t bytes = 0;
};

struct SplitModelResult {
  std::vector<Submodel> submodels;         // in execution order: each reads only from earlier ones
  std::vector<SplitTransfer> transfers;    // one per (tensor, reading submodel), grouped by reader in order
  std::vector<std::string> graph_inputs;   // original graph inputs (initializers excluded), in order
  std::vector<std::string> graph_outputs;  // original graph outputs, in order
  std::string manifest;                    // JSON (see above)
};

// Throws Error for a size mismatch, an empty device name, a graph output that no node produces and that is not a
// graph input, a crossing tensor without an inferable type, or (a bug) a submodel that fails the checker.
SplitModelResult SplitModel(const onnx::ModelProto& model, const std::vector<std::string>& device_of_node,
                            const SplitOptions& options = {});

// Runs a split model: each submodel in order through `run` (which gets the values of Submodel::inputs in order and
// returns those of Submodel::outputs in order), passing tensors between them by name. `inputs` holds the original
// graph inputs by name (those no submodel reads may be left out). Returns the original graph outputs in order.
// Value is whatever the runner computes with (at::Tensor for the runtime). Throws Error when an input is missing
// or `run` returns the wrong number of values.
template <typename Value>
using SubmodelRunner = std::function<std::vector<Value>(const Submodel&, const std::vector<Value>&)>;

template <typename Value>
std::vector<Value> RunSplitModel(const SplitModelResult& split, const std::map<std::string, Value>& inputs,
                                 const SubmodelRunner<Value>& run) {
  // Last reader of each value (submodel index; SIZE_MAX for graph outputs), to drop values once read.
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < split.submodels.size(); ++i)
    for (const std::string& name : split.submodels[i].inputs) last_use[name] = i;
  for (const std::string& name : split.graph_outputs) last_use[name] = static_cast<size_t>(-1);
  std::unordered_map<std::string, Value> env;
  for (const auto& [name, value] : inputs)
    if (last_use.count(name)) env.emplace(name, value);
  std::vector<Value> args;
  for (size_t i = 0; i < split.submodels.size(); ++i) {
    const Submodel& sub = split.submodels[i];
    args.clear();
    for (const std::string& name : sub.inputs) {
      auto it = env.find(name);
      if (it == env.end()) throw Error("submodel '" + sub.name + "': input '" + name + "' was not given");
      args.push_back(it->second);
    }
    std::vector<Value> results = run(sub, args);
    if (results.size() != sub.outputs.size())
      throw Error("submodel '" + sub.name + "': the runner returned " + std::to_string(results.size()) +
                  " values for " + std::to_string(sub.outputs.size()) + " outputs");
    for (const std::string& name : sub.inputs)
      if (last_use[name] == i) env.erase(name);
    for (size_t k = 0; k < results.size(); ++k)
      if (last_use.count(sub.outputs[k])) env.insert_or_assign(sub.outputs[k], std::move(results[k]));
  }
  std::vector<Value> out;
  out.reserve(split.graph_outputs.size());
  for (const std::string& name : split.graph_outputs) {
    auto it = env.find(name);
    if (it == env.end()) throw Error("graph output '" + name + "' was not computed (a graph input not given?)");
    out.push_back(it->second);
  }
  return out;
}

}  // namespace allot
