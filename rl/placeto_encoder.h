#pragma once
// Placeto's graph embedding (Addanki et al., NeurIPS 2019; REFERENCES Part II §1 "Architecture"; reference code
// aravic/generalizable-device-placement model/mp_progressive_nn.py), over a unit graph (rl/unit_graph.h):
//
//   1. node transform   e_v = MLP(x_v), two hidden layers of `width`
//   2. two sweeps       forward, in topological order:  h_v = LN(e_v + g(Σ_{u ∈ pred(v)} f(h_u)))
//                       backward, in reverse order:     h'_v = LN(e_v + g'(Σ_{w ∈ succ(v)} f'(h'_w)))
//                       (f, g, f', g': one-hidden-layer ReLU MLPs; LN: layer normalisation without parameters),
//                       output [h ‖ h'] of 2·width
//   3. tri-aggregation  for a unit c being placed: own embedding ‖ A(ancestors of c) ‖ A(descendants of c) ‖
//                       A(units parallel to c: neither), each A a sum (or a mean: SweepPlan::Of) of an MLP over
//                       the set followed by an MLP
//
// Batched over the nodes: a sweep processes one topological level at a time (every unit of a level at once: one
// gather, one index_add and two small MLPs per level), and the three sets come from the unit graph's reachability
// bitsets as [C, U] masks, so a set sum is one matrix product (dense [U, U] masks: Placeto places coarsened graphs
// of hundreds of units, where they cost a few MB). The reference code's per-node loop and O(U³)
// Floyd-Warshall are gone; the values are the same (the level order respects every dependency a node order does).
//
// Deviation: the layer normalisation in the sweeps is not in the reference. A sweep is a recurrence over the
// graph's depth, and once f and g were trained it amplified: after 12 updates on two 32-unit nas_cnn graphs the
// embeddings averaged 1.4e4 per element and the policy was deterministic. Normalised per unit they stay O(1).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "rl/unit_graph.h"

namespace allot::rl {

// A unit graph's sweep schedule as tensors, made once per graph (ComputeReachability() must have run).
struct SweepPlan {
  int64_t units = 0;
  // Per level (forward: by UnitGraph::level; backward: by longest path to a sink): the positions it holds, and its
  // incoming messages: the earlier levels they come from, and each message as (row in the concatenation of those
  // levels' members, index of the target within the level).
  struct Level {
    std::vector<int64_t> source_levels;
    at::Tensor members, sources, targets;
  };
  struct Sweep {
    std::vector<Level> levels;
    at::Tensor row_of;  // [U]: a position's row in the concatenation of every level's members
  };
  Sweep forward, backward;
  // [U, U] float: row c is c's set, 1 per member, or 1/|set| per member when the sets are averaged (Of's
  // `mean_sets`: the reference code's --normalize-aggs).
  at::Tensor ancestors, descendants, parallel;
  static SweepPlan Of(const UnitGraph& graph, bool mean_sets = false);
};

class PlacetoEncoderImpl : public torch::nn::Module {
 public:
  PlacetoEncoderImpl(int64_t input, int64_t width);
  // x [U, input] (or [U, K, input]: K states of the graph at once) -> embeddings [U, (K,) 2 * width].
  at::Tensor Embed(const at::Tensor& x, const SweepPlan& plan);
  // For embeddings [U, J, 2 * width] of J states and the unit being placed in each (`current`, [J] int64
  // positions): [J, 8 * width] = own ‖ ancestors ‖ descendants ‖ parallel. The J states may be K episodes at one
  // step, or every step of them at once (PlacetoPolicy scores whole episodes in one pass).
  at::Tensor Aggregate(const at::Tensor& embeddings, const SweepPlan& plan, const at::Tensor& current);
  int64_t output_width() const { return 8 * width_; }

 private:
  at::Tensor Sweep(const at::Tensor& e, const SweepPlan::Sweep& sweep, torch::nn::Sequential& f,
                   torch::nn::Sequential& g);

  int64_t width_;
  torch::nn::Sequential transform_{nullptr}, f_forward_{nullptr}, g_forward_{nullptr}, f_backward_{nullptr},
      g_backward_{nullptr};
  std::vector<torch::nn::Sequential> set_in_, set_out_;  // ancestors, descendants, parallel
};
TORCH_MODULE(PlacetoEncoder);

}  // namespace allot::rl
