#pragma once
// Cost graphs from elsewhere: a documented JSON form of an already-profiled graph (from another framework, or a
// published benchmark), so allot can place graphs it cannot import as ONNX. Every command that takes a model
// takes a *.json cost graph too.
//
//   {"format": "allot-cost-graph", "version": 1, "name": "my-model",
//    "nodes": [{"name": "conv1", "op": "Conv",
//               "time_us": {"gpu": 120.5, "cpu": 2400},      (per device kind; a missing kind is estimated)
//               "output_bytes": 1048576,                      (the op's output, sent once per consuming device)
//               "memory_bytes": 37632,                        (resident: parameters and state)
//               "flops": 1.2e9,                               (optional, for roofline estimates and reports)
//               "colocation": "embedding",                    (optional: nodes of one class share a device)
//               "devices": ["cpu"]},                          (optional: where it may run, names or kinds;
//                                                              one device pins it)
//              ...],
//    "edges": [{"from": "conv1", "to": "relu1", "bytes": 1048576}, ...]}   (bytes default to output_bytes)
// An edge whose bytes differ from its producer's output_bytes carries its own tensor.
#include <string>

#include "cost_model/node_constraints.h"
#include "cost_model/op_costs.h"
#include "graph/graph.h"

namespace allot {

struct CostGraph {
  Graph graph;
  NodeTimes times;
  NodeConstraints constraints;  // empty unless some node has "colocation" or "devices"
};

bool LooksLikeCostGraph(const std::string& path);  // a *.json path
CostGraph ReadCostGraph(const std::string& path);
CostGraph ParseCostGraph(const std::string& text, const std::string& source);

}  // namespace allot
