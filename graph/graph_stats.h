#pragma once
// Whole-graph statistics: what `allot inspect` prints.
#include <cstdint>
#include <map>
#include <string>

#include "graph/graph.h"

namespace allot {

struct GraphStats {
  size_t nodes = 0, edges = 0, tensors = 0;
  size_t forward_nodes = 0, gradient_nodes = 0, update_nodes = 0;
  size_t unknown_ops = 0;
  std::map<std::string, size_t> op_histogram;
  uint64_t parameter_bytes = 0;
  uint64_t parameter_count = 0;   // elements
  uint64_t optimizer_state_bytes = 0;
  double flops = 0;
  double bytes_accessed = 0;      // summed over ops (roofline memory traffic)
  uint64_t edge_bytes = 0;        // summed over node-level edges (what placements may have to transfer)
  uint64_t activation_bytes = 0;  // all tensors produced by ops
  // Peak of live op-produced tensors when ops run one at a time in topological order (a tensor lives from its
  // producer to its last consumer; graph outputs to the end).
  uint64_t peak_activation_bytes = 0;
  double critical_path_flops = 0;  // heaviest path, by FLOPs
  size_t depth = 0;                // longest path, in ops
};

GraphStats ComputeStats(const Graph& graph);

}  // namespace allot
