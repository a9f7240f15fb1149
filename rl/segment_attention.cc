#include "rl/segment_attention.h"

#include <cmath>
#include <limits>

namespace allot::rl {
namespace {

at::Tensor Apply(torch::nn::ModuleList& list, size_t l, const at::Tensor& x) {
  return list[l]->as<torch::nn::Linear>()->forward(x);
}

}  // namespace

SegmentAttentionImpl::SegmentAttentionImpl(const SegmentAttentionConfig& c) : config_(c) {
  TORCH_CHECK(c.width % c.heads == 0, "the attention width must be a multiple of the heads");
  TORCH_CHECK(c.segment >= 1, "segments need at least one unit");
  for (auto* list : {&query_, &key_, &value_, &output_, &ffn_in_, &ffn_out_, &norm1_, &norm2_, &gate_})
    *list = torch::nn::ModuleList();
  query_ = register_module("query", query_);
  key_ = register_module("key", key_);
  value_ = register_module("value", value_);
  output_ = register_module("output", output_);
  ffn_in_ = register_module("ffn_in", ffn_in_);
  ffn_out_ = register_module("ffn_out", ffn_out_);
  norm1_ = register_module("norm1", norm1_);
  norm2_ = register_module("norm2", norm2_);
  if (c.superposition) gate_ = register_module("gate", gate_);
  const int64_t W = c.width;
  for (int64_t l = 0; l < c.layers; ++l) {
    query_->push_back(torch::nn::Linear(W, W));
    key_->push_back(torch::nn::Linear(W, W));
    value_->push_back(torch::nn::Linear(W, W));
    output_->push_back(torch::nn::Linear(W, W));
    ffn_in_->push_back(torch::nn::Linear(W, 2 * W));
    ffn_out_->push_back(torch::nn::Linear(2 * W, W));
    norm1_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({W})));
    norm2_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({W})));
    if (c.superposition) gate_->push_back(torch::nn::Linear(W, W));
  }
}

at::Tensor SegmentAttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  const int64_t U = x.size(0), W = config_.width, H = config_.heads, L = config_.segment, Dh = W / H;
  if (U == 0) return x;
  const int64_t S = (U + L - 1) / L, padded = S * L;
  // Keys a query may read: [S, 2L], the previous segment (none for the first) and its own, without padding.
  const at::Tensor position = at::arange(2 * L, at::TensorOptions().dtype(at::kLong)).unsqueeze(0) +
                              (at::arange(S, at::TensorOptions().dtype(at::kLong)) * L - L).unsqueeze(1);
  const at::Tensor blocked = position.ge(0).logical_and(position.lt(U)).logical_not().view({S, 1, 1, 2 * L});
  at::Tensor h = padded > U ? at::cat({x, at::zeros({padded - U, W}, x.options())}, 0) : x;
  h = h.view({S, L, W});
  for (size_t l = 0; l < static_cast<size_t>(config_.layers); ++l) {
    const at::Tensor memory = at::cat({at::zeros({1, L, W}, h.options()), h.narrow(0, 0, S - 1)}, 0);
    const at::Tensor window = at::cat({memory, h}, 1);  // [S, 2L, W]
    // Scaled before the product: the [S, H, L, 2L] scores are the largest tensors of the pass, so every
    // elementwise pass over them is avoided where it can be (the mask is applied in place).
    const at::Tensor q = (Apply(query_, l, h) * (1.0 / std::sqrt(static_cast<double>(Dh)))).view({S, L, H, Dh}).transpose(1, 2);
    const at::Tensor k = Apply(key_, l, window).view({S, 2 * L, H, Dh}).transpose(1, 2);  // [S, H, 2L, Dh]
    const at::Tensor v = Apply(value_, l, window).view({S, 2 * L, H, Dh}).transpose(1, 2);
    at::Tensor scores = at::matmul(q, k.transpose(2, 3));  // [S, H, L, 2L]
    scores.masked_fill_(blocked, -std::numeric_limits<float>::infinity());
    const at::Tensor attended = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({S, L, W});
    h = norm1_[l]->as<torch::nn::LayerNorm>()->forward(h + Apply(output_, l, attended));
    h = norm2_[l]->as<torch::nn::LayerNorm>()->forward(h + Apply(ffn_out_, l, at::relu(Apply(ffn_in_, l, h))));
    if (config_.superposition) h = h * (1 + at::tanh(Apply(gate_, l, context)));
  }
  return h.reshape({padded, W}).narrow(0, 0, U);
}

}  // namespace allot::rl
