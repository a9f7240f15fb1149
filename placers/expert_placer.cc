// `expert`: the human placements the papers compare against.
//
// Layer-wise (recurrent models whose op names carry a layer scope "/l<k>/", as allot's generated NMT and RNNLM
// do, and as GNMT's TensorFlow graphs did): LSTM layer k of L goes to GPU floor(k * G / L), encoder and decoder
// layer k on the same GPU; the embedding with layer 0; attention with the top decoder layer; the softmax
// projection on the last GPU. This is the placement of Wu et al.'s GNMT and of ColocRL's NMT/RNNLM experts.
//
// Elsewhere (CNNs, Transformers, imported models): a pipeline cut, the way a person splits a network into
// stages: forward ops in topological order are cut into G contiguous stages of about equal compute, one per GPU.
// Ops with no rule (glue such as input feeding) follow their first placed producer. The CPU is used only
// when the cluster has no GPU.
#include <algorithm>
#include <regex>

#include "cost_model/placement.h"
#include "placers/classic_placers.h"

namespace allot {
namespace {

int LayerOf(std::string_view name) {
  static const std::regex layer(R"((^|/)l(\d+)/)");
  std::cmatch m;
  return std::regex_search(name.begin(), name.end(), m, layer) ? std::stoi(m[2]) : -1;
}

bool StartsWith(std::string_view s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class ExpertPlacer : public Placer {
 public:
  using Placer::Placer;
  std::string_view name() const override { return "expert"; }

  std::vector<DeviceId> place(const PlacementProblem& p) override {
    const Graph& g = *p.graph;
    std::vector<DeviceId> gpus;
    for (DeviceId d = 0; d < p.cluster->num_devices(); ++d)
      if (p.cluster->device(d).kind == DeviceKind::kGpu) gpus.push_back(d);
    if (gpus.empty())
      for (DeviceId d = 0; d < p.cluster->num_devices(); ++d) gpus.push_back(d);
    const size_t G = gpus.size();

    int layers = 0;
    for (const Node& node : g.nodes())
      if (node.role == NodeRole::kForward) layers = std::max(layers, LayerOf(node.name) + 1);

    constexpr DeviceId kUnset = Cluster::kNoDevice;
    std::vector<DeviceId> placement(g.num_nodes(), kUnset);
    if (layers > 0) {
      for (NodeId n = 0; n < g.num_nodes(); ++n) {
        const Node& node = g.node(n);
        if (node.role != NodeRole::kForward) continue;
        const int k = LayerOf(node.name);
        const std::string_view s = node.name;
        if (k >= 0) placement[n] = gpus[static_cast<size_t>(k) * G / static_cast<size_t>(layers)];
        else if (s.find("embed") != std::string::npos) placement[n] = gpus.front();
        else if (StartsWith(s, "attention")) placement[n] = gpus[static_cast<size_t>(layers - 1) * G / layers];
        else if (StartsWith(s, "softmax") || StartsWith(s, "logprobs")) placement[n] = gpus.back();
      }
    } else {
      // Pipeline stages of equal forward compute (mean time over the GPUs).
      double total = 0;
      std::vector<double> cost(g.num_nodes(), 0);
      for (NodeId n = 0; n < g.num_nodes(); ++n) {
        if (g.node(n).role != NodeRole::kForward) continue;
        for (DeviceId d : gpus) cost[n] += p.costs->at(n, d) / static_cast<double>(G);
        total += cost[n];
      }
      double done = 0;
      for (NodeId n : g.topo_order()) {
        if (g.node(n).role != NodeRole::kForward) continue;
        const size_t stage = total > 0 ? std::min(G - 1, static_cast<size_t>(done / total * static_cast<double>(G))) : 0;
        placement[n] = gpus[stage];
        done += cost[n];
      }
    }
    // Glue ops follow their first placed forward producer (or the first GPU).
    for (NodeId n : g.topo_order()) {
      if (g.node(n).role != NodeRole::kForward || placement[n] != kUnset) continue;
      for (NodeId pred : g.predecessors(n))
        if (placement[pred] != kUnset) {
          placement[n] = placement[pred];
          break;
        }
      if (placement[n] == kUnset) placement[n] = gpus.front();
    }
    for (NodeId n = 0; n < g.num_nodes(); ++n)
      if (p.pinned[n] != Cluster::kNoDevice) placement[n] = p.pinned[n];
    ExpandPlacement(g, placement);
    return placement;
  }
};

}  // namespace

PlacerInfo ExpertPlacerInfo() {
  return {"expert",
          "the papers' human placement: one LSTM layer per GPU for NMT/RNNLM (attention with the top layer, softmax "
          "on the last GPU); elsewhere equal-compute pipeline stages in topological order",
          {},
          [](OptionValues o) { return std::make_unique<ExpertPlacer>(std::move(o)); }};
}

}  // namespace allot
