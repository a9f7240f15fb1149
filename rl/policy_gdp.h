#pragma once
// GDP (Zhou et al., "GDP: Generalized Device Placement for Dataflow Graphs", 2019; IEEE Micro 2020; REFERENCES Part
// II §2): a graph-neural policy that places every decision unit of a graph in one shot and, trained on many graphs,
// places graphs it never saw.
//
//   encoder    GraphSAGE over the unit graph (rl/sage_encoder.h) from size-independent unit features
//              (rl/unit_graph.h)
//   placer     Transformer-XL-style segment attention over the embeddings in topological order, with the
//              superposition gate conditioned on the graph's mean embedding (rl/segment_attention.h)
//   output     a linear layer to one logit per device; the units' devices are drawn independently from their
//              softmax (one-shot placement: one network pass per batch of samples, whatever K)
//
// The same network serves every graph: the policy object binds it to one problem (its units, unit graph and
// features), and a multi-graph trainer holds one policy per graph sharing one GdpNet. The device count is part of
// the network (one logit per device, as in the paper), so a policy trained for D devices refuses a cluster that
// offers it another count.
//
// Decision units: the forced co-location groups by default (GDP places every op; a gradient op follows its forward
// op), optionally fused and capped (`max_groups`, `fuse_chains`) as the other placers do.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>

#include "placers/placer.h"
#include "rl/policy.h"
#include "rl/sage_encoder.h"
#include "rl/segment_attention.h"
#include "rl/unit_graph.h"

namespace allot::rl {

struct GdpConfig {
  int64_t num_devices = 2;   // set from the decision map
  int64_t hidden = 64;       // DOPPLER's re-implementation: 64
  int64_t sage_layers = 2;
  SegmentAttentionConfig attention;  // width = hidden
  size_t max_groups = 0;     // 0: every forced co-location group is a unit
  bool fuse_chains = false;
  bool gpu_only = true;
};

class GdpNetImpl : public torch::nn::Module {
 public:
  explicit GdpNetImpl(const GdpConfig& config);
  // Device logits [U, num_devices] for a graph's units (in the unit graph's position order).
  at::Tensor forward(const at::Tensor& features, const EdgeTensors& edges);
  void ResetParameters(uint64_t seed);
  const GdpConfig& config() const { return config_; }

 private:
  GdpConfig config_;
  SageEncoder encoder_{nullptr};
  SegmentAttention placer_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(GdpNet);

class GdpPolicy : public Policy {
 public:
  // `net`: the network shared with other graphs' policies; null: a new one. The problem must outlive the policy.
  GdpPolicy(const PlacementProblem& problem, GdpConfig config, GdpNet net = nullptr);

  std::string_view kind() const override { return "gdp"; }
  Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) override;
  Decoded Greedy() override;
  Decoded Evaluate(const Decoded& batch) override;
  torch::nn::Module& module() override { return *net_; }
  void ResetParameters(uint64_t seed) override { net_->ResetParameters(seed); }
  nlohmann::ordered_json Config() const override;

  GdpNet net() const { return net_; }
  const GdpConfig& config() const { return config_; }
  const UnitGraph& unit_graph() const { return graph_; }

 private:
  at::Tensor LogProbabilities();  // [U, D] by decision unit, differentiable

  GdpConfig config_;
  UnitGraph graph_;
  EdgeTensors edges_;
  at::Tensor position_of_unit_;  // [U] int64: a unit's row in the network's output
  GdpNet net_{nullptr};
};

// A saved gdp policy's network over `problem` (parameters not loaded yet).
std::unique_ptr<Policy> LoadGdpPolicy(const PlacementProblem& problem, const nlohmann::json& j, const std::string& source);

}  // namespace allot::rl
