#include "rl/placeto_encoder.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <numeric>

namespace allot::rl {
namespace {

torch::nn::Sequential Mlp(int64_t in, int64_t hidden, int64_t out) {
  return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
}

// Levels from `level` (per position) and the edges into each level's members from `into` (CSR per position).
std::vector<SweepPlan::Level> Levels(const std::vector<uint32_t>& level, const std::vector<uint32_t>& into_offsets,
                                     const std::vector<uint32_t>& into) {
  const uint32_t count = level.empty() ? 0 : *std::max_element(level.begin(), level.end()) + 1;
  std::vector<std::vector<int64_t>> members(count), sources(count), targets(count);
  for (size_t i = 0; i < level.size(); ++i) {
    const uint32_t l = level[i];
    const int64_t local = static_cast<int64_t>(members[l].size());
    members[l].push_back(static_cast<int64_t>(i));
    for (uint32_t k = into_offsets[i]; k < into_offsets[i + 1]; ++k) {
      sources[l].push_back(into[k]);
      targets[l].push_back(local);
    }
  }
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  std::vector<SweepPlan::Level> out(count);
  for (uint32_t l = 0; l < count; ++l)
    out[l] = {at::tensor(members[l], i64), at::tensor(sources[l], i64), at::tensor(targets[l], i64)};
  return out;
}

}  // namespace

SweepPlan SweepPlan::Of(const UnitGraph& g, bool mean_sets) {
  SweepPlan p;
  p.units = g.units;
  p.forward = Levels(g.level, g.pred_offsets, g.preds);
  std::vector<uint32_t> to_sink(static_cast<size_t>(g.units), 0);  // longest path to a sink
  for (int64_t i = g.units - 1; i >= 0; --i)
    for (uint32_t k = g.succ_offsets[i]; k < g.succ_offsets[i + 1]; ++k)
      to_sink[i] = std::max(to_sink[i], to_sink[g.succs[k]] + 1);
  p.backward = Levels(to_sink, g.succ_offsets, g.succs);
  std::vector<float> anc(static_cast<size_t>(g.units * g.units)), desc(anc.size()), par(anc.size());
  for (int64_t c = 0; c < g.units; ++c)
    for (int64_t j = 0; j < g.units; ++j) {
      const bool a = g.IsAncestor(c, j), d = g.IsDescendant(c, j);
      anc[c * g.units + j] = a;
      desc[c * g.units + j] = d;
      par[c * g.units + j] = !a && !d && j != c;
    }
  if (mean_sets)
    for (std::vector<float>* m : {&anc, &desc, &par})
      for (int64_t c = 0; c < g.units; ++c) {
        float* row = m->data() + c * g.units;
        const float count = std::accumulate(row, row + g.units, 0.f);
        if (count > 0)
          for (int64_t j = 0; j < g.units; ++j) row[j] /= count;
      }
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  p.ancestors = at::tensor(anc, f32).view({g.units, g.units});
  p.descendants = at::tensor(desc, f32).view({g.units, g.units});
  p.parallel = at::tensor(par, f32).view({g.units, g.units});
  return p;
}

PlacetoEncoderImpl::PlacetoEncoderImpl(int64_t input, int64_t width) : width_(width) {
  transform_ = register_module(
      "transform", torch::nn::Sequential(torch::nn::Linear(input, width), torch::nn::ReLU(), torch::nn::Linear(width, width),
                                         torch::nn::ReLU(), torch::nn::Linear(width, width)));
  f_forward_ = register_module("f_forward", Mlp(width, width, width));
  g_forward_ = register_module("g_forward", Mlp(width, width, width));
  f_backward_ = register_module("f_backward", Mlp(width, width, width));
  g_backward_ = register_module("g_backward", Mlp(width, width, width));
  for (const char* set : {"ancestors", "descendants", "parallel"}) {
    set_in_.push_back(register_module(std::string(set) + "_in", Mlp(2 * width, 2 * width, 2 * width)));
    set_out_.push_back(register_module(std::string(set) + "_out", Mlp(2 * width, 2 * width, 2 * width)));
  }
}

at::Tensor PlacetoEncoderImpl::Sweep(const at::Tensor& e, const std::vector<SweepPlan::Level>& levels,
                                     torch::nn::Sequential& f, torch::nn::Sequential& g) {
  // messages[u] = f(h_u), filled level by level; out-of-place index_put keeps autograd's view of each level intact.
  at::Tensor messages = at::zeros_like(e), h = at::zeros_like(e);
  for (const SweepPlan::Level& level : levels) {
    std::vector<int64_t> shape = e.sizes().vec();
    shape[0] = level.members.size(0);
    at::Tensor incoming = at::zeros(shape, e.options());
    if (level.sources.size(0) > 0)
      incoming = incoming.index_add(0, level.targets, messages.index_select(0, level.sources));
    const at::Tensor hl = at::layer_norm(e.index_select(0, level.members) + g->forward(incoming), {width_});
    h = h.index_put({level.members}, hl);
    messages = messages.index_put({level.members}, f->forward(hl));
  }
  return h;
}

at::Tensor PlacetoEncoderImpl::Embed(const at::Tensor& x, const SweepPlan& plan) {
  const at::Tensor e = transform_->forward(x);
  return at::cat({Sweep(e, plan.forward, f_forward_, g_forward_), Sweep(e, plan.backward, f_backward_, g_backward_)}, -1);
}

at::Tensor PlacetoEncoderImpl::Aggregate(const at::Tensor& h, const SweepPlan& plan, const at::Tensor& current) {
  std::vector<at::Tensor> parts = {h.index_select(0, current)};
  const at::Tensor* masks[] = {&plan.ancestors, &plan.descendants, &plan.parallel};
  std::vector<int64_t> shape = h.sizes().vec();  // [U, (K,) 2d] -> [C, (K,) 2d]
  shape[0] = current.size(0);
  for (size_t s = 0; s < 3; ++s) {
    const at::Tensor summed = at::matmul(masks[s]->index_select(0, current), set_in_[s]->forward(h).reshape({h.size(0), -1}));
    parts.push_back(set_out_[s]->forward(summed.reshape(shape)));
  }
  return at::cat(parts, -1);
}

}  // namespace allot::rl
