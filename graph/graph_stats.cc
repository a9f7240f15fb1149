#include "graph/graph_stats.h"

#include <algorithm>

namespace allot {

GraphStats ComputeStats(const Graph& g) {
  GraphStats s;
  const size_t n = g.num_nodes();
  s.nodes = n;
  s.edges = g.num_edges();
  s.tensors = g.num_tensors();
  for (const Node& node : g.nodes()) {
    ++s.op_histogram[std::string(node.op_type)];
    s.forward_nodes += node.role == NodeRole::kForward;
    s.gradient_nodes += node.role == NodeRole::kGradient;
    s.update_nodes += node.role == NodeRole::kUpdate;
    s.unknown_ops += !node.known_op;
    s.optimizer_state_bytes += node.state_bytes;
    s.flops += node.flops;
    s.bytes_accessed += node.bytes_accessed;
  }
  for (const Tensor& t : g.tensors()) {
    if (t.is_parameter) {
      s.parameter_bytes += t.bytes;
      s.parameter_count += static_cast<uint64_t>(std::max<int64_t>(0, NumElements(t.shape)));
    }
    if (t.producer != kNone) s.activation_bytes += t.bytes;
  }
  for (uint64_t b : g.out_bytes()) s.edge_bytes += b;

  // Longest paths by FLOPs and by op count.
  std::vector<double> path(n, 0);
  std::vector<uint32_t> hops(n, 0);
  for (NodeId v : g.topo_order()) {
    double best = 0;
    uint32_t best_hops = 0;
    for (NodeId p : g.predecessors(v)) {
      best = std::max(best, path[p]);
      best_hops = std::max(best_hops, hops[p]);
    }
    path[v] = best + g.flops()[v];
    hops[v] = best_hops + 1;
    s.critical_path_flops = std::max(s.critical_path_flops, path[v]);
    s.depth = std::max<size_t>(s.depth, hops[v]);
  }

  // Sequential liveness.
  const auto& rank = g.topo_rank();
  std::vector<std::vector<TensorId>> frees(n);
  for (TensorId t = 0; t < g.num_tensors(); ++t) {
    const Tensor& tensor = g.tensor(t);
    if (tensor.producer == kNone || tensor.is_graph_output) continue;
    uint32_t last = rank[tensor.producer];
    for (NodeId c : g.consumers(t)) last = std::max(last, rank[c]);
    frees[g.topo_order()[last]].push_back(t);
  }
  uint64_t live = 0;
  for (NodeId v : g.topo_order()) {
    live += g.output_bytes()[v];
    s.peak_activation_bytes = std::max(s.peak_activation_bytes, live);
    for (TensorId t : frees[v]) live -= g.tensor(t).bytes;
  }
  return s;
}

}  // namespace allot
