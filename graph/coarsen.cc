#include "graph/coarsen.h"

#include <algorithm>
#include <numeric>

#include "graph/op_work.h"

namespace allot {
namespace {

class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0u); }
  uint32_t Find(uint32_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  // The smaller root wins, so group representatives do not depend on merge order.
  void Union(uint32_t a, uint32_t b) {
    a = Find(a);
    b = Find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    parent_[b] = a;
  }

 private:
  std::vector<uint32_t> parent_;
};

bool Cheap(const Node& node) {
  const OpFamily f = ClassifyOp(node.op_type);
  return f == OpFamily::kElementwise || f == OpFamily::kView;
}

// Cuts groups (numbered in topological order) into at most `cap` contiguous runs of about equal FLOPs.
std::vector<uint32_t> ContiguousCap(const std::vector<double>& group_flops, size_t cap) {
  const size_t groups = group_flops.size();
  const double total = std::accumulate(group_flops.begin(), group_flops.end(), 0.0);
  const double target = total / static_cast<double>(cap);
  std::vector<uint32_t> run_of(groups);
  uint32_t run = 0;
  double filled = 0;
  for (uint32_t k = 0; k < groups; ++k) {
    // Start a new run when this one is full, keeping enough groups left for the remaining runs.
    const bool full = filled >= target && filled > 0;
    const bool must = groups - k <= cap - 1 - run;
    if ((full || must) && run + 1 < cap) {
      ++run;
      filled = 0;
    }
    run_of[k] = run;
    filled += group_flops[k];
  }
  return run_of;
}

}  // namespace

CoarseGraph Coarsen(const Graph& g, const CoarsenOptions& options) {
  const size_t n = g.num_nodes();
  UnionFind uf(n);
  for (NodeId v = 0; v < n; ++v)
    if (g.node(v).role != NodeRole::kForward && g.node(v).forward != kNone) uf.Union(v, g.node(v).forward);
  {
    std::vector<NodeId> first_of_class;
    for (NodeId v = 0; v < options.classes.size() && v < n; ++v) {
      const uint32_t c = options.classes[v];
      if (c == kNone) continue;
      if (c >= first_of_class.size()) first_of_class.resize(c + 1, kNone);
      if (first_of_class[c] == kNone) first_of_class[c] = v;
      else uf.Union(v, first_of_class[c]);
    }
  }
  auto forward_only = [&](NodeId v) { return g.node(v).role == NodeRole::kForward; };
  std::vector<std::pair<NodeId, NodeId>> chain_links;  // (op, its only producer), fused below
  for (NodeId v = 0; v < n; ++v) {
    if (!forward_only(v)) continue;
    // Forward producers and consumers only: gradient edges must not pull forward ops together.
    NodeId only_pred = kNone;
    size_t fwd_preds = 0;
    for (NodeId p : g.predecessors(v))
      if (forward_only(p)) { ++fwd_preds; if (only_pred == kNone) only_pred = p; }
    if (fwd_preds == 0) continue;
    if (options.fuse_elementwise && Cheap(g.node(v))) {
      uf.Union(v, only_pred);
      continue;
    }
    if (options.fuse_chains && fwd_preds == 1) {
      size_t fwd_succs = 0;
      for (NodeId s : g.successors(only_pred)) fwd_succs += forward_only(s) ? 1 : 0;
      if (fwd_succs == 1) chain_links.emplace_back(v, only_pred);
    }
  }
  if (!chain_links.empty()) {
    // With a cap, chains fuse only until the cap is reached, cheapest links first: fusing below the cap would
    // take decisions away from the placer (`allot place gen:inception_v3 --mode training --cluster p100x4 --placer
    // refine:groups=N`: 209.6 ms at N = 64, 198.1 ms at 128, against 192.6 ms over the 314 forced groups).
    size_t roots = 0;
    for (NodeId v = 0; v < n; ++v) roots += forward_only(v) && uf.Find(v) == v ? 1 : 0;
    if (options.max_groups > 0)
      std::stable_sort(chain_links.begin(), chain_links.end(), [&](const auto& a, const auto& b) {
        return g.flops()[a.first] + g.flops()[a.second] < g.flops()[b.first] + g.flops()[b.second];
      });
    for (const auto& [v, pred] : chain_links) {
      if (options.max_groups > 0 && roots <= options.max_groups) break;
      if (uf.Find(v) == uf.Find(pred)) continue;
      uf.Union(v, pred);
      --roots;
    }
  }

  // Number groups by their earliest topological position.
  CoarseGraph cg;
  cg.group_of.assign(n, kNone);
  std::vector<uint32_t> group_of_root(n, kNone);
  uint32_t groups = 0;
  for (NodeId v : g.topo_order()) {
    if (!forward_only(v)) continue;
    const uint32_t r = uf.Find(v);
    if (group_of_root[r] == kNone) group_of_root[r] = groups++;
  }
  for (NodeId v : g.topo_order()) {  // groups without forward members (none in practice) go last
    const uint32_t r = uf.Find(v);
    if (group_of_root[r] == kNone) group_of_root[r] = groups++;
  }
  for (NodeId v = 0; v < n; ++v) cg.group_of[v] = group_of_root[uf.Find(v)];

  std::vector<double> group_flops(groups, 0);
  for (NodeId v = 0; v < n; ++v) group_flops[cg.group_of[v]] += g.flops()[v];

  if (options.max_groups > 0 && groups > options.max_groups) {
    const std::vector<uint32_t> run_of = ContiguousCap(group_flops, options.max_groups);
    groups = *std::max_element(run_of.begin(), run_of.end()) + 1;
    for (NodeId v = 0; v < n; ++v) cg.group_of[v] = run_of[cg.group_of[v]];
  }

  // Members CSR, sums and names.
  cg.member_offsets.assign(groups + 1, 0);
  for (NodeId v = 0; v < n; ++v) ++cg.member_offsets[cg.group_of[v] + 1];
  for (uint32_t k = 0; k < groups; ++k) cg.member_offsets[k + 1] += cg.member_offsets[k];
  cg.members.resize(n);
  {
    std::vector<uint32_t> fill(cg.member_offsets.begin(), cg.member_offsets.end() - 1);
    for (NodeId v = 0; v < n; ++v) cg.members[fill[cg.group_of[v]]++] = v;
  }
  cg.group_names.resize(groups);
  cg.flops.assign(groups, 0);
  cg.bytes_accessed.assign(groups, 0);
  cg.memory_bytes.assign(groups, 0);
  for (uint32_t k = 0; k < groups; ++k) {
    NodeId name_node = cg.members[cg.member_offsets[k]];
    for (uint32_t i = cg.member_offsets[k]; i < cg.member_offsets[k + 1]; ++i) {
      const NodeId v = cg.members[i];
      if (forward_only(v) && (!forward_only(name_node) || g.topo_rank()[v] < g.topo_rank()[name_node])) name_node = v;
      cg.flops[k] += g.flops()[v];
      cg.bytes_accessed[k] += g.bytes_accessed()[v];
      cg.memory_bytes[k] += g.parameter_bytes()[v] + g.node(v).state_bytes + g.output_bytes()[v];
    }
    cg.group_names[k] = g.node(name_node).name;
  }

  // Group edges: collect (src, dst, bytes), sort, merge.
  std::vector<std::pair<uint64_t, uint64_t>> edges;  // (src << 32 | dst, bytes)
  edges.reserve(g.num_edges());
  for (NodeId v = 0; v < n; ++v) {
    const auto succ = g.successors(v);
    const auto bytes = g.successor_bytes(v);
    for (size_t i = 0; i < succ.size(); ++i) {
      const uint64_t a = cg.group_of[v], c = cg.group_of[succ[i]];
      if (a != c) edges.emplace_back(a << 32 | c, bytes[i]);
    }
  }
  std::sort(edges.begin(), edges.end());
  cg.out_offsets.assign(groups + 1, 0);
  for (size_t i = 0; i < edges.size();) {
    size_t j = i;
    uint64_t bytes = 0;
    for (; j < edges.size() && edges[j].first == edges[i].first; ++j) bytes += edges[j].second;
    const uint32_t src = static_cast<uint32_t>(edges[i].first >> 32);
    cg.out_groups.push_back(static_cast<uint32_t>(edges[i].first & 0xffffffffu));
    cg.out_bytes.push_back(bytes);
    ++cg.out_offsets[src + 1];
    i = j;
  }
  for (uint32_t k = 0; k < groups; ++k) cg.out_offsets[k + 1] += cg.out_offsets[k];
  return cg;
}

}  // namespace allot
