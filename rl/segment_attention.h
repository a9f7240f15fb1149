#pragma once
// Transformer-XL-style attention over a long sequence of unit embeddings (Dai et al. 2019), GDP's placer (Zhou et
// al. 2019; REFERENCES Part II §2 "scalable sequential attention"). The sequence (units in topological order) is
// cut into segments of `segment` units; every unit attends to its own segment and to the previous one (the
// "memory"), so a layer costs O(U · segment) rather than O(U²) and graphs of 50k+ units fit.
//
// Every segment's memory is the previous segment's input to the same layer, as in Transformer-XL; because GDP
// places in one shot (no autoregressive decoding), all segments of a layer are computed in one batched pass —
// [S, segment] queries against [S, 2·segment] keys — instead of Transformer-XL's segment-by-segment recurrence,
// which gives the same values. Deviations: attention is bidirectional within the window (one-shot placement has
// no causal order to respect); the memory is not detached (the whole graph is one pass, nothing to truncate);
// no relative position encoding (the unit features carry the unit's position, and GraphSAGE its neighbourhood).
// Post-LN blocks: attention, then a ReLU feed-forward of 2 x width, each with a residual and a LayerNorm.
//
// The superposition network (GDP §"batch training"): a graph context vector c (the mean of the graph's unit
// embeddings) modulates each block's output, h <- h ⊙ (1 + tanh(W_l c)), so one set of weights can specialise per
// graph. The paper names the mechanism without its exact form; this multiplicative, identity-at-zero gate is
// allot's choice.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace allot::rl {

struct SegmentAttentionConfig {
  int64_t width = 64;
  int64_t heads = 4;
  int64_t layers = 2;
  int64_t segment = 64;
  bool superposition = true;
};

class SegmentAttentionImpl : public torch::nn::Module {
 public:
  explicit SegmentAttentionImpl(const SegmentAttentionConfig& config);
  // x: [U, width] in sequence order, context: [width] -> [U, width].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);
  const SegmentAttentionConfig& config() const { return config_; }

 private:
  SegmentAttentionConfig config_;
  torch::nn::ModuleList query_, key_, value_, output_, ffn_in_, ffn_out_, norm1_, norm2_, gate_;
};
TORCH_MODULE(SegmentAttention);

}  // namespace allot::rl
