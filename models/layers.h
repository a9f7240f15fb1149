#pragma once
// Layer helpers shared by the model generators (internal to models/; not part of allot's public interface).
//
// Each helper expands one framework-level layer into the primitive ONNX ops that the papers' TensorFlow graphs
// (or PyTorch's opset-14 export) contained, because placement works on exactly that granularity: an LSTM cell
// is 13 placeable ops, not one fused LSTM node, and a LayerNorm is the 9 ops PyTorch emits below opset 17.
// All names are scope paths under the caller's `scope`.
#include <string>
#include <vector>

#include "models/onnx_builder.h"

namespace allot::models {

// ---- dense ------------------------------------------------------------------------------------------------------
struct DenseWeights {
  Tensor w;  // [in, out]: MatMul layout, so x of any rank >= 2 multiplies on its last axis
  Tensor b;  // [out]
};
DenseWeights MakeDense(OnnxBuilder& b, const std::string& scope, int64_t in, int64_t out);
// x[..., in] -> x W + b. Two ops (MatMul, Add), as TF's matmul + bias_add and PyTorch's Linear on 3-D input.
Tensor Dense(OnnxBuilder& b, const DenseWeights& w, const Tensor& x, const std::string& scope);

// Per-step output projection of a language model: Dense to the vocabulary (scope "softmax/t<t>") + LogSoftmax,
// one graph output per step ("logprobs_t<t>"), matching the per-step softmax/loss ops of unrolled TF graphs.
void ProjectStep(OnnxBuilder& b, const DenseWeights& softmax, const Tensor& h, int64_t t);

// ---- LSTM -------------------------------------------------------------------------------------------------------
// TF BasicLSTMCell layout: one fused kernel over [x, h] producing the four gates (i, j, f, o) side by side.
struct LstmWeights {
  Tensor kernel;  // [input + hidden, 4 * hidden]
  Tensor bias;    // [4 * hidden]
  int64_t hidden = 0;
};
LstmWeights MakeLstm(OnnxBuilder& b, const std::string& scope, int64_t input, int64_t hidden);

struct LstmState {
  Tensor h;  // [batch, hidden]
  Tensor c;  // [batch, hidden]
};
// The all-zero initial state (one shared constant per shape).
LstmState ZeroLstmState(OnnxBuilder& b, int64_t batch, int64_t hidden);

// One time step, 13 ops: Concat, MatMul, Add, Split, Sigmoid x3, Tanh, Mul, Mul, Add, Tanh, Mul.
//   c' = c * sigmoid(f) + sigmoid(i) * tanh(j);  h' = tanh(c') * sigmoid(o)
LstmState LstmCell(OnnxBuilder& b, const LstmWeights& w, const Tensor& x, const LstmState& state,
                   const std::string& scope);

// A whole layer unrolled over `inputs` (one [batch, input] tensor per step), step scopes "<scope>/t<i>".
// reverse runs from the last step to the first (the backward half of a bidirectional layer); the returned
// outputs are always in time order. final (optional) receives the state after the last processed step.
std::vector<Tensor> LstmLayer(OnnxBuilder& b, const LstmWeights& w, const std::vector<Tensor>& inputs,
                              const LstmState& initial, const std::string& scope, bool reverse = false,
                              LstmState* final = nullptr);

// ---- embeddings -------------------------------------------------------------------------------------------------
// tokens [batch, steps] -> `steps` tensors [batch, dim]: one Gather, one Split along time, a Squeeze per step
// (TF's embedding_lookup followed by unstack, as static_rnn consumed it).
std::vector<Tensor> EmbedSteps(OnnxBuilder& b, const Tensor& table, const Tensor& tokens, const std::string& scope);

// ---- transformer pieces -----------------------------------------------------------------------------------------
// Attention heads of width 64 as in the Transformer and GPT-2 papers (512/8, 768/12, 1024/16); one head when
// d_model is smaller than 64 or not a multiple of it, so that shrunken test models still build.
int64_t HeadsFor(int64_t d_model);

// LayerNorm over the last axis from primitives (opset 14 has no LayerNormalization), 9 ops:
// ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt, Div, Mul(gamma), Add(beta).
Tensor LayerNorm(OnnxBuilder& b, const Tensor& x, const std::string& scope, float epsilon = 1e-5f);

// Exact GELU, x * 0.5 * (1 + erf(x / sqrt(2))), 5 ops as PyTorch exports it.
Tensor Gelu(OnnxBuilder& b, const Tensor& x, const std::string& scope);

// Scaled dot-product attention over projected q [B,Tq,D], k and v [B,Tk,D] with `heads` heads; mask
// (optional, [Tq,Tk], added to the scores) carries -inf-like values where attention is forbidden.
// Returns the merged heads [B,Tq,D], before the output projection.
Tensor AttentionCore(OnnxBuilder& b, const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                     const Tensor* mask, const std::string& scope);

// Lower-triangular causal mask [steps, steps]: 0 on and below the diagonal, -1e4 above (Hugging Face GPT-2's
// masked_bias; large enough to zero the softmax, small enough to stay finite in float16).
Tensor CausalMask(OnnxBuilder& b, int64_t steps);

// Sinusoidal position encoding [steps, d_model] of "Attention is all you need".
Tensor SinusoidalPositions(OnnxBuilder& b, int64_t steps, int64_t d_model);

// ---- convolution pieces -----------------------------------------------------------------------------------------
// Conv (no bias) + BatchNormalization (+ Relu): the unit of Inception (TF-slim conv2d with batch_norm) and
// ResNet. pads are {top, left, bottom, right}.
Tensor ConvBn(OnnxBuilder& b, const Tensor& x, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
              int64_t stride, const std::vector<int64_t>& pads, float bn_epsilon, bool relu,
              const std::string& scope);

// Global pooling output [N, C, 1, 1] -> Flatten -> Gemm (PyTorch Linear layout, "fc/weight" and "fc/bias") ->
// logits [N, classes], the node "logits".
Tensor Classifier(OnnxBuilder& b, const Tensor& pooled, int64_t classes);

}  // namespace allot::models
