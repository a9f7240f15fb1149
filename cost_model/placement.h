#pragma once
// Placements: a device per node, and the placement file every command reads and writes.
//
// A placement names forward ops only; gradient and update ops always run with their forward op (the papers'
// setting), so ExpandPlacement derives them. The file (README "Placement files"):
//   {"version": 1, "model": "nmt4.onnx", "graph_hash": "89ab...", "mode": "training", "optimizer": "momentum",
//    "bindings": {"batch": 8, "seq": 50, "dims": {"N": 8}},            (those the command line gave)
//    "cluster": "p100x4", "devices": ["cpu:0", "cuda:0", ...],
//    "placer": {"name": "metis", "options": {"seed": 1}},
//    "placement": {"<onnx node name>": "cuda:0", ...},            (every forward op, graph order)
//    "step_time_ms": 12.3, "lower_bound_ms": 10.1, "valid": true,
//    "peak_memory_bytes": {"cpu:0": 123, ...}}
#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "graph/dim_bindings.h"
#include "graph/graph.h"

namespace allot {

struct SimResult;

// Every node gets its forward op's device (forward ops keep theirs).
void ExpandPlacement(const Graph& graph, std::vector<DeviceId>& placement);

struct PlacementInfo {
  std::string model;
  std::string mode;
  std::string optimizer;  // training only
  DimBindings bindings;  // as the command line gave them
  std::string placer;
  std::string placer_options_json = "{}";  // a JSON object
  double lower_bound = 0;                  // seconds
};

// Serializes a full placement (one device per node) with its simulated result.
std::string PlacementToJson(const Graph& graph, const Cluster& cluster, const std::vector<DeviceId>& placement,
                            const PlacementInfo& info, const SimResult* result);

// What a placement file (or a model annotated by `allot export --format onnx`) says it was made for: the
// cluster, mode, optimizer and dim bindings, each empty (0) when absent. Commands that read a placement take
// these where their own options do not say (tools/placement_args.h). Errors name the file and the field.
struct PlacementContext {
  std::string cluster, mode, optimizer;
  std::string graph_hash, placer;  // the graph it places; the placer's name ("placer": {"name": ...})
  DimBindings bindings;
};
PlacementContext ReadPlacementContext(const std::string& path);

// Reads a placement file for this graph and cluster (a placement JSON, or an ONNX model annotated by `allot
// export --format onnx`); errors name the file and the field (another model's hash,
// an unknown node, an unknown device, a missing node, malformed JSON). Returns one device per node.

std::vector<DeviceId> ReadPlacementFile(const std::string& path, const Graph& graph, const Cluster& cluster);
std::vector<DeviceId> ParsePlacementJson(const std::string& text, const std::string& source, const Graph& graph,
                                         const Cluster& cluster);

}  // namespace allot
