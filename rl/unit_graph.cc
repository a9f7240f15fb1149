#include "rl/unit_graph.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "rl/features.h"

namespace allot::rl {
namespace {

constexpr int64_t kDegreeFeatures = 2;

// CSR from (row, column) pairs sorted by row then column.
void ToCsr(const std::vector<std::pair<uint32_t, uint32_t>>& pairs, int64_t rows, std::vector<uint32_t>& offsets,
           std::vector<uint32_t>& columns) {
  offsets.assign(static_cast<size_t>(rows + 1), 0);
  columns.resize(pairs.size());
  for (const auto& [r, c] : pairs) ++offsets[r + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  for (size_t i = 0; i < pairs.size(); ++i) columns[i] = pairs[i].second;
}

}  // namespace

int64_t UnitFeatureWidth() {
  return OpTypeVocabulary() + kShapeDims + kWorkFeatures + kDegreeFeatures + kPositionFeatures;
}

UnitGraph BuildUnitGraph(const Graph& graph, const CoarseGraph& cg) {
  UnitGraph u;
  const int64_t U = static_cast<int64_t>(cg.num_groups());
  u.units = U;

  // Order by the first forward member's topological rank (all members when the unit has no forward op).
  std::vector<uint32_t> key(static_cast<size_t>(U), UINT32_MAX), any_key(static_cast<size_t>(U), UINT32_MAX);
  for (int64_t g = 0; g < U; ++g)
    for (uint32_t i = cg.member_offsets[g]; i < cg.member_offsets[g + 1]; ++i) {
      const NodeId n = cg.members[i];
      const uint32_t rank = graph.topo_rank()[n];
      any_key[g] = std::min(any_key[g], rank);
      if (graph.node(n).role == NodeRole::kForward) key[g] = std::min(key[g], rank);
    }
  for (int64_t g = 0; g < U; ++g)
    if (key[g] == UINT32_MAX) key[g] = any_key[g];
  u.order.resize(static_cast<size_t>(U));
  std::iota(u.order.begin(), u.order.end(), 0u);
  std::stable_sort(u.order.begin(), u.order.end(), [&](uint32_t a, uint32_t b) { return key[a] < key[b]; });
  std::vector<uint32_t> position(static_cast<size_t>(U));
  for (int64_t i = 0; i < U; ++i) position[u.order[i]] = static_cast<uint32_t>(i);

  // Forward data edges between units, oriented from the earlier position to the later.
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // (from, to) positions
  for (NodeId n = 0; n < graph.num_nodes(); ++n) {
    const Node node = graph.node(n);
    if (node.role != NodeRole::kForward) continue;
    const uint32_t a = position[cg.group_of[n]];
    for (TensorId t : node.outputs)
      for (NodeId c : graph.consumers(t)) {
        if (graph.node(c).role != NodeRole::kForward) continue;
        const uint32_t b = position[cg.group_of[c]];
        if (a != b) edges.emplace_back(std::min(a, b), std::max(a, b));
      }
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  ToCsr(edges, U, u.succ_offsets, u.succs);
  for (auto& e : edges) std::swap(e.first, e.second);
  std::sort(edges.begin(), edges.end());
  ToCsr(edges, U, u.pred_offsets, u.preds);

  // Levels: predecessors sit at earlier positions, so one pass in position order suffices.
  u.level.assign(static_cast<size_t>(U), 0);
  uint32_t levels = 0;
  for (int64_t i = 0; i < U; ++i) {
    for (uint32_t k = u.pred_offsets[i]; k < u.pred_offsets[i + 1]; ++k) u.level[i] = std::max(u.level[i], u.level[u.preds[k]] + 1);
    levels = std::max(levels, u.level[i] + 1);
  }
  std::vector<std::pair<uint32_t, uint32_t>> by_level;
  for (int64_t i = 0; i < U; ++i) by_level.emplace_back(u.level[i], static_cast<uint32_t>(i));
  std::sort(by_level.begin(), by_level.end());
  ToCsr(by_level, levels, u.level_offsets, u.level_members);

  // Features, in position order.
  const GroupFeatures f = ComputeGroupFeatures(graph, cg);
  const int64_t V = OpTypeVocabulary(), W = UnitFeatureWidth();
  std::vector<float> x(static_cast<size_t>(U * W), 0.f);
  const int64_t* op_type = f.op_type.data_ptr<int64_t>();
  const float* shape = f.output_shape.contiguous().data_ptr<float>();
  const float* work = f.work.contiguous().data_ptr<float>();
  for (int64_t i = 0; i < U; ++i) {
    const uint32_t g = u.order[i];
    float* row = x.data() + i * W;
    row[op_type[g]] = 1.f;
    std::copy(shape + g * kShapeDims, shape + (g + 1) * kShapeDims, row + V);
    std::copy(work + g * kWorkFeatures, work + (g + 1) * kWorkFeatures, row + V + kShapeDims);
    row[V + kShapeDims + 4] = U > 1 ? static_cast<float>(i) / static_cast<float>(U) : 0.f;  // position, in this order
    row[V + kShapeDims + kWorkFeatures] = static_cast<float>(std::log1p(u.pred_offsets[i + 1] - u.pred_offsets[i]) / 5.0);
    row[V + kShapeDims + kWorkFeatures + 1] = static_cast<float>(std::log1p(u.succ_offsets[i + 1] - u.succ_offsets[i]) / 5.0);
    EncodePosition(U > 1 ? static_cast<double>(i) / static_cast<double>(U - 1) : 0.0, row + V + kShapeDims + kWorkFeatures + kDegreeFeatures);
  }
  u.features = at::tensor(x, at::TensorOptions().dtype(at::kFloat)).reshape({U, W});
  return u;
}

void UnitGraph::ComputeReachability() {
  words = (units + 63) / 64;
  descendants.assign(static_cast<size_t>(units * words), 0);
  ancestors.assign(static_cast<size_t>(units * words), 0);
  for (int64_t i = units - 1; i >= 0; --i) {
    uint64_t* row = descendants.data() + i * words;
    for (uint32_t k = succ_offsets[i]; k < succ_offsets[i + 1]; ++k) {
      const uint32_t s = succs[k];
      row[s / 64] |= uint64_t{1} << (s % 64);
      const uint64_t* other = descendants.data() + static_cast<int64_t>(s) * words;
      for (int64_t w = 0; w < words; ++w) row[w] |= other[w];
    }
  }
  for (int64_t i = 0; i < units; ++i) {
    uint64_t* row = ancestors.data() + i * words;
    for (uint32_t k = pred_offsets[i]; k < pred_offsets[i + 1]; ++k) {
      const uint32_t p = preds[k];
      row[p / 64] |= uint64_t{1} << (p % 64);
      const uint64_t* other = ancestors.data() + static_cast<int64_t>(p) * words;
      for (int64_t w = 0; w < words; ++w) row[w] |= other[w];
    }
  }
}

at::Tensor UnitGraph::EdgeSources() const {
  std::vector<int64_t> s;
  s.reserve(succs.size());
  for (int64_t i = 0; i < units; ++i)
    for (uint32_t k = succ_offsets[i]; k < succ_offsets[i + 1]; ++k) s.push_back(i);
  return at::tensor(s, at::TensorOptions().dtype(at::kLong));
}

at::Tensor UnitGraph::EdgeTargets() const {
  std::vector<int64_t> t(succs.begin(), succs.end());
  return at::tensor(t, at::TensorOptions().dtype(at::kLong));
}

}  // namespace allot::rl
