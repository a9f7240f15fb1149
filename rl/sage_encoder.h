#pragma once
// GraphSAGE (Hamilton, Ying, Leskovec 2017) over a unit graph (rl/unit_graph.h): GDP's graph embedding (Zhou et
// al. 2019; REFERENCES Part II §2). Batched over all units: every layer is a few matrix products and two
// index_add scatters over the edge list, no per-unit loop.
//
//   h0 = relu(W_in x)
//   h' = normalize(relu(W [h ‖ mean_{u ∈ pred(v)} relu(P h_u) ‖ mean_{w ∈ succ(v)} relu(S h_w)]))
//
// Deviations, and why: GDP gives no aggregator; DOPPLER's re-implementation uses one max-pool layer. allot uses
// the mean aggregator of the GraphSAGE paper with predecessors and successors aggregated separately (a dataflow
// graph is directed: what feeds a unit and what it feeds place it differently), and `layers` (default 2) hops.
// Mean rather than max keeps the gradient dense and the layer a sum (index_add), whose backward LibTorch 1.13
// has for every case.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "rl/unit_graph.h"

namespace allot::rl {

// A unit graph's edges and degrees as tensors, made once per graph.
struct EdgeTensors {
  at::Tensor source, target;      // [E] int64 positions
  at::Tensor in_degree, out_degree;  // [U, 1] float, at least 1 (the mean's divisor)
  int64_t units = 0;
  static EdgeTensors Of(const UnitGraph& graph);
};

class SageEncoderImpl : public torch::nn::Module {
 public:
  SageEncoderImpl(int64_t input, int64_t hidden, int64_t layers);
  // x: [U, input] -> [U, hidden].
  at::Tensor forward(const at::Tensor& x, const EdgeTensors& edges);
  int64_t hidden() const { return hidden_; }

 private:
  int64_t hidden_;
  torch::nn::Linear input_{nullptr};
  torch::nn::ModuleList pred_, succ_, combine_;
};
TORCH_MODULE(SageEncoder);

}  // namespace allot::rl
