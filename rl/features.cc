#include "rl/features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "graph/op_work.h"

namespace allot::rl {
namespace {

constexpr int kFamilies = static_cast<int>(OpFamily::kUnknown) + 1;

float LogScale(double x, double divisor) { return static_cast<float>(std::log1p(std::max(0.0, x)) / divisor); }

}  // namespace

int64_t OpTypeVocabulary() { return kFamilies; }

GroupFeatures ComputeGroupFeatures(const Graph& graph, const CoarseGraph& cg) {
  const int64_t G = static_cast<int64_t>(cg.num_groups());
  GroupFeatures f;
  f.num_groups = G;
  std::vector<int64_t> op_type(G, static_cast<int64_t>(OpFamily::kUnknown));
  std::vector<float> shape(G * kShapeDims, 0.f), work(G * kWorkFeatures, 0.f);
  std::vector<int64_t> adjacency(G * kMaxNeighbours, -1);
  std::vector<float> adjacency_bytes(G * kMaxNeighbours, 0.f);

  // Op families of the node types, classified once per node.
  std::vector<uint8_t> family(graph.num_nodes());
  for (NodeId n = 0; n < graph.num_nodes(); ++n) family[n] = static_cast<uint8_t>(ClassifyOp(graph.node(n).op_type));

  std::vector<std::pair<uint64_t, uint32_t>> neighbours;  // (bytes, group)
  for (int64_t g = 0; g < G; ++g) {
    const uint32_t first = cg.member_offsets[g], last = cg.member_offsets[g + 1];
    bool any_forward = false;
    for (uint32_t i = first; i < last; ++i) any_forward |= graph.node(cg.members[i]).role == NodeRole::kForward;

    // Majority family over the forward members (all members if there is none).
    std::array<int, kFamilies> count{};
    std::array<double, kFamilies> flops{};
    for (uint32_t i = first; i < last; ++i) {
      const NodeId n = cg.members[i];
      if (any_forward && graph.node(n).role != NodeRole::kForward) continue;
      ++count[family[n]];
      flops[family[n]] += graph.flops()[n];
    }
    int best = static_cast<int>(OpFamily::kUnknown);
    for (int k = 0; k < kFamilies; ++k)
      if (count[k] > 0 && (count[best] == 0 || count[k] > count[best] || (count[k] == count[best] && flops[k] > flops[best])))
        best = k;
    op_type[g] = best;

    // Output shape: the largest tensor a forward member sends to another group (or a graph output); else the
    // last forward member's first output.
    TensorId out = kNone;
    NodeId last_forward = kNone;
    for (uint32_t i = first; i < last; ++i) {
      const NodeId n = cg.members[i];
      const Node& node = graph.node(n);
      if (any_forward && node.role != NodeRole::kForward) continue;
      if (last_forward == kNone || graph.topo_rank()[n] > graph.topo_rank()[last_forward]) last_forward = n;
      for (TensorId t : node.outputs) {
        const TensorInfo& tensor = graph.tensor_info(t);
        bool leaves = tensor.is_graph_output;
        for (NodeId c : graph.consumers(t)) leaves |= cg.group_of[c] != static_cast<uint32_t>(g);
        if (leaves && (out == kNone || tensor.bytes > graph.tensor_info(out).bytes)) out = t;
      }
    }
    if (out == kNone && last_forward != kNone && !graph.node(last_forward).outputs.empty())
      out = graph.node(last_forward).outputs.front();
    if (out != kNone) {
      const Span<int64_t> dims = graph.tensor(out).shape;
      for (size_t d = 0; d < dims.size() && d < static_cast<size_t>(kShapeDims); ++d)
        shape[g * kShapeDims + d] = LogScale(static_cast<double>(dims[d]), 10.0);
    }

    float* w = &work[g * kWorkFeatures];
    w[0] = LogScale(cg.flops[g], 25.0);
    w[1] = LogScale(cg.bytes_accessed[g], 25.0);
    w[2] = LogScale(static_cast<double>(cg.memory_bytes[g]), 25.0);
    w[3] = LogScale(static_cast<double>(last - first), 10.0);
    w[4] = G > 1 ? static_cast<float>(g) / static_cast<float>(G) : 0.f;

    neighbours.clear();
    for (uint32_t i = cg.out_offsets[g]; i < cg.out_offsets[g + 1]; ++i)
      neighbours.emplace_back(cg.out_bytes[i], cg.out_groups[i]);
    std::sort(neighbours.begin(), neighbours.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t k = 0; k < neighbours.size() && k < static_cast<size_t>(kMaxNeighbours); ++k) {
      adjacency[g * kMaxNeighbours + k] = neighbours[k].second;
      adjacency_bytes[g * kMaxNeighbours + k] = LogScale(static_cast<double>(neighbours[k].first), 25.0);
    }
  }

  const auto i64 = at::TensorOptions().dtype(at::kLong);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  f.op_type = at::tensor(op_type, i64);
  f.output_shape = at::tensor(shape, f32).reshape({G, kShapeDims});
  f.work = at::tensor(work, f32).reshape({G, kWorkFeatures});
  f.adjacency = at::tensor(adjacency, i64).reshape({G, kMaxNeighbours});
  f.adjacency_bytes = at::tensor(adjacency_bytes, f32).reshape({G, kMaxNeighbours});
  return f;
}

CoarseGraph DecisionGroups(const Graph& graph, size_t max_groups, bool fuse_chains,
                           const std::vector<uint32_t>& classes) {
  CoarsenOptions options;
  options.classes = classes;
  options.fuse_chains = fuse_chains;
  options.max_groups = max_groups;
  return Coarsen(graph, options);
}

DecisionMap MapDecision(const PlacementProblem& problem, const CoarseGraph& decision, bool gpu_only) {
  const CoarseGraph& pg = problem.groups;
  DecisionMap map;
  for (DeviceId d = 0; d < problem.cluster->num_devices(); ++d)
    if (!gpu_only || problem.cluster->device(d).kind == DeviceKind::kGpu) map.devices.push_back(d);
  if (map.devices.empty())
    for (DeviceId d = 0; d < problem.cluster->num_devices(); ++d) map.devices.push_back(d);
  map.problem_to_decision.assign(pg.num_groups(), 0);
  map.pin.assign(decision.num_groups(), Cluster::kNoDevice);
  for (uint32_t g = 0; g < pg.num_groups(); ++g) {
    if (pg.member_offsets[g] == pg.member_offsets[g + 1]) continue;
    const uint32_t d = decision.group_of[pg.members[pg.member_offsets[g]]];
    map.problem_to_decision[g] = d;
    const DeviceId pin = problem.GroupPin(g);
    if (pin != Cluster::kNoDevice && map.pin[d] == Cluster::kNoDevice) map.pin[d] = pin;
  }
  return map;
}

std::vector<DeviceId> ExpandDecision(const PlacementProblem& problem, const DecisionMap& map,
                                     const int64_t* group_devices) {
  std::vector<DeviceId> devices(map.problem_to_decision.size());
  for (size_t g = 0; g < devices.size(); ++g) {
    const uint32_t d = map.problem_to_decision[g];
    devices[g] = map.pin[d] != Cluster::kNoDevice ? map.pin[d] : map.devices[static_cast<size_t>(group_devices[d])];
  }
  return problem.ExpandGroups(devices);
}

void EncodePosition(double r, float* out) {
  for (int64_t k = 0; k < kPositionFeatures / 2; ++k) {
    out[2 * k] = static_cast<float>(std::sin(std::ldexp(M_PI, static_cast<int>(k)) * r));
    out[2 * k + 1] = static_cast<float>(std::cos(std::ldexp(M_PI, static_cast<int>(k)) * r));
  }
}

at::Tensor GroupFeatures::Numeric() const {
  const at::Tensor self = at::arange(num_groups, at::TensorOptions().dtype(at::kLong)).unsqueeze(1);
  const at::Tensor present = adjacency.ge(0);
  at::Tensor offsets = (adjacency - self).to(at::kFloat) / static_cast<float>(std::max<int64_t>(num_groups, 1));
  offsets = at::where(present, offsets, at::zeros_like(offsets));
  return at::cat({output_shape, work, offsets, adjacency_bytes}, 1).contiguous();
}

}  // namespace allot::rl
