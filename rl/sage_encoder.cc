#include "rl/sage_encoder.h"

namespace allot::rl {

EdgeTensors EdgeTensors::Of(const UnitGraph& g) {
  EdgeTensors e;
  e.units = g.units;
  e.source = g.EdgeSources();
  e.target = g.EdgeTargets();
  std::vector<float> in(static_cast<size_t>(g.units)), out(static_cast<size_t>(g.units));
  for (int64_t i = 0; i < g.units; ++i) {
    in[i] = static_cast<float>(std::max<uint32_t>(1, g.pred_offsets[i + 1] - g.pred_offsets[i]));
    out[i] = static_cast<float>(std::max<uint32_t>(1, g.succ_offsets[i + 1] - g.succ_offsets[i]));
  }
  e.in_degree = at::tensor(in, at::TensorOptions().dtype(at::kFloat)).unsqueeze(1);
  e.out_degree = at::tensor(out, at::TensorOptions().dtype(at::kFloat)).unsqueeze(1);
  return e;
}

SageEncoderImpl::SageEncoderImpl(int64_t input, int64_t hidden, int64_t layers) : hidden_(hidden) {
  input_ = register_module("input", torch::nn::Linear(input, hidden));
  pred_ = register_module("pred", torch::nn::ModuleList());
  succ_ = register_module("succ", torch::nn::ModuleList());
  combine_ = register_module("combine", torch::nn::ModuleList());
  for (int64_t l = 0; l < layers; ++l) {
    pred_->push_back(torch::nn::Linear(hidden, hidden));
    succ_->push_back(torch::nn::Linear(hidden, hidden));
    combine_->push_back(torch::nn::Linear(3 * hidden, hidden));
  }
}

at::Tensor SageEncoderImpl::forward(const at::Tensor& x, const EdgeTensors& e) {
  at::Tensor h = at::relu(input_->forward(x));
  for (size_t l = 0; l < combine_->size(); ++l) {
    const at::Tensor p = at::relu(pred_[l]->as<torch::nn::Linear>()->forward(h));
    const at::Tensor s = at::relu(succ_[l]->as<torch::nn::Linear>()->forward(h));
    // Messages along each edge: the source's to its target (a predecessor's view), the target's back to its source.
    const at::Tensor from_preds = at::zeros_like(h).index_add(0, e.target, p.index_select(0, e.source)) / e.in_degree;
    const at::Tensor from_succs = at::zeros_like(h).index_add(0, e.source, s.index_select(0, e.target)) / e.out_degree;
    h = at::relu(combine_[l]->as<torch::nn::Linear>()->forward(at::cat({h, from_preds, from_succs}, 1)));
    h = h / (h.norm(2, 1, true) + 1e-6);
  }
  return h;
}

}  // namespace allot::rl
