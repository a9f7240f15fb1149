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

// A sweep's levels from `level` (per position) and the edges into each level's members from `into` (CSR per
// position): each level's incoming messages are read from the outputs of the few earlier levels they come from.
SweepPlan::Sweep Levels(const std::vector<uint32_t>& level, const std::vector<uint32_t>& into_offsets,
                        const std::vector<uint32_t>& into) {
  const uint32_t count = level.empty() ? 0 : *std::max_element(level.begin(), level.end()) + 1;
  std::vector<std::vector<int64_t>> members(count);
  std::vector<int64_t> local(level.size());
  for (size_t i = 0; i < level.size(); ++i) {
    local[i] = static_cast<int64_t>(members[level[i]].size());
    members[level[i]].push_back(static_cast<int64_t>(i));
  }
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  SweepPlan::Sweep out;
  out.levels.resize(count);
  std::vector<int64_t> row_of(level.size());
  int64_t next_row = 0;
  for (uint32_t l = 0; l < count; ++l) {
    SweepPlan::Level& L = out.levels[l];
    // offset: a source level's first row in the concatenation of the levels this one reads
    std::vector<int64_t> offset(count, -1), sources, targets;
    int64_t rows = 0;
    for (size_t t = 0; t < members[l].size(); ++t) {
      const int64_t i = members[l][t];
      row_of[i] = next_row++;
      for (uint32_t k = into_offsets[i]; k < into_offsets[i + 1]; ++k) {
        const uint32_t from = level[into[k]];
        if (offset[from] < 0) {
          offset[from] = rows;
          rows += static_cast<int64_t>(members[from].size());
          L.source_levels.push_back(from);
        }
        sources.push_back(offset[from] + local[into[k]]);
        targets.push_back(static_cast<int64_t>(t));
      }
    }
    L.members = at::tensor(members[l], i64);
    L.sources = at::tensor(sources, i64);
    L.targets = at::tensor(targets, i64);
  }
  out.row_of = at::tensor(row_of, i64);
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

at::Tensor PlacetoEncoderImpl::Sweep(const at::Tensor& e, const SweepPlan::Sweep& sweep, torch::nn::Sequential& f,
                                     torch::nn::Sequential& g) {
  // Each level's outputs and messages f(h) kept apart and concatenated once at the end: writing them into [U, ...]
  // tensors level by level copied the whole tensor per level (out of place, for autograd), O(levels x U) per pass.
  std::vector<at::Tensor> outputs(sweep.levels.size()), messages(sweep.levels.size()), from;
  for (size_t l = 0; l < sweep.levels.size(); ++l) {
    const SweepPlan::Level& level = sweep.levels[l];
    std::vector<int64_t> shape = e.sizes().vec();
    shape[0] = level.members.size(0);
    at::Tensor incoming = at::zeros(shape, e.options());
    if (!level.source_levels.empty()) {
      from.clear();
      for (int64_t m : level.source_levels) from.push_back(messages[m]);
      const at::Tensor sources = from.size() == 1 ? from[0] : at::cat(from, 0);
      incoming = incoming.index_add(0, level.targets, sources.index_select(0, level.sources));
    }
    outputs[l] = at::layer_norm(e.index_select(0, level.members) + g->forward(incoming), {width_});
    messages[l] = f->forward(outputs[l]);
  }
  return at::cat(outputs, 0).index_select(0, sweep.row_of);
}

at::Tensor PlacetoEncoderImpl::Embed(const at::Tensor& x, const SweepPlan& plan) {
  const at::Tensor e = transform_->forward(x);
  return at::cat({Sweep(e, plan.forward, f_forward_, g_forward_), Sweep(e, plan.backward, f_backward_, g_backward_)}, -1);
}

at::Tensor PlacetoEncoderImpl::Aggregate(const at::Tensor& h, const SweepPlan& plan, const at::Tensor& current) {
  const int64_t J = h.size(1);
  TORCH_CHECK(h.dim() == 3 && current.size(0) == J, "one current unit per column");
  std::vector<at::Tensor> parts = {h.index({current, at::arange(J, current.options())})};
  const at::Tensor* masks[] = {&plan.ancestors, &plan.descendants, &plan.parallel};
  for (size_t s = 0; s < 3; ++s) {
    // Column j's set sum: Σ_u mask[current_j, u] · f(h)[u, j], a batched (over columns) vector-matrix product.
    const at::Tensor weights = masks[s]->index_select(0, current).t().unsqueeze(-1);  // [U, J, 1]
    parts.push_back(set_out_[s]->forward((weights * set_in_[s]->forward(h)).sum(0)));
  }
  return at::cat(parts, -1);
}

}  // namespace allot::rl
