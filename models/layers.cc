#include "models/layers.h"

#include <cmath>

namespace allot::models {

DenseWeights MakeDense(OnnxBuilder& b, const std::string& scope, int64_t in, int64_t out) {
  return {b.Parameter(scope + "/weight", {in, out}, in), b.Parameter(scope + "/bias", {out}, in)};
}

Tensor Dense(OnnxBuilder& b, const DenseWeights& w, const Tensor& x, const std::string& scope) {
  return b.Add(b.MatMul(x, w.w, scope + "/matmul"), w.b, scope + "/bias_add");
}

void ProjectStep(OnnxBuilder& b, const DenseWeights& softmax, const Tensor& h, int64_t t) {
  const Tensor logits = Dense(b, softmax, h, "softmax/t" + std::to_string(t));
  b.Output(b.LogSoftmax(logits, -1, "logprobs_t" + std::to_string(t)));
}

LstmWeights MakeLstm(OnnxBuilder& b, const std::string& scope, int64_t input, int64_t hidden) {
  // PyTorch's LSTM init bound 1/sqrt(hidden) for kernel and bias alike.
  return {b.Parameter(scope + "/kernel", {input + hidden, 4 * hidden}, hidden),
          b.Parameter(scope + "/bias", {4 * hidden}, hidden), hidden};
}

LstmState ZeroLstmState(OnnxBuilder& b, int64_t batch, int64_t hidden) {
  const Tensor zeros = b.ZerosFloat({batch, hidden}, "const/zero_state");
  return {zeros, zeros};
}

LstmState LstmCell(OnnxBuilder& b, const LstmWeights& w, const Tensor& x, const LstmState& state,
                   const std::string& scope) {
  const int64_t h = w.hidden;
  const Tensor xh = b.Concat({x, state.h}, 1, scope + "/concat");
  const Tensor gates = b.Add(b.MatMul(xh, w.kernel, scope + "/matmul"), w.bias, scope + "/bias_add");
  const std::vector<Tensor> ijfo = b.Split(gates, 1, {h, h, h, h}, scope + "/split");
  const Tensor i = b.Sigmoid(ijfo[0], scope + "/input_gate");
  const Tensor j = b.Tanh(ijfo[1], scope + "/candidate");
  const Tensor f = b.Sigmoid(ijfo[2], scope + "/forget_gate");
  const Tensor o = b.Sigmoid(ijfo[3], scope + "/output_gate");
  const Tensor c = b.Add(b.Mul(state.c, f, scope + "/keep"), b.Mul(i, j, scope + "/write"), scope + "/c");
  const Tensor new_h = b.Mul(b.Tanh(c, scope + "/c_tanh"), o, scope + "/h");
  return {new_h, c};
}

std::vector<Tensor> LstmLayer(OnnxBuilder& b, const LstmWeights& w, const std::vector<Tensor>& inputs,
                              const LstmState& initial, const std::string& scope, bool reverse, LstmState* final) {
  const size_t steps = inputs.size();
  std::vector<Tensor> outputs(steps);
  LstmState state = initial;
  for (size_t n = 0; n < steps; ++n) {
    const size_t t = reverse ? steps - 1 - n : n;
    state = LstmCell(b, w, inputs[t], state, scope + "/t" + std::to_string(t));
    outputs[t] = state.h;
  }
  if (final != nullptr) *final = state;
  return outputs;
}

std::vector<Tensor> EmbedSteps(OnnxBuilder& b, const Tensor& table, const Tensor& tokens, const std::string& scope) {
  const Tensor embedded = b.Gather(table, tokens, 0, scope + "/lookup");  // [batch, steps, dim]
  const int64_t steps = tokens.dim(1);
  const std::vector<Tensor> slices = b.Split(embedded, 1, std::vector<int64_t>(steps, 1), scope + "/unstack");
  std::vector<Tensor> result;
  result.reserve(slices.size());
  for (int64_t t = 0; t < steps; ++t) {
    result.push_back(b.Squeeze(slices[t], {1}, scope + "/t" + std::to_string(t)));
  }
  return result;
}

int64_t HeadsFor(int64_t d_model) { return d_model >= 64 && d_model % 64 == 0 ? d_model / 64 : 1; }

Tensor LayerNorm(OnnxBuilder& b, const Tensor& x, const std::string& scope, float epsilon) {
  const int64_t d = x.dim(-1);
  const Tensor gamma = b.Parameter(scope + "/gamma", {d}, d, Init::kOnes);
  const Tensor beta = b.Parameter(scope + "/beta", {d}, d, Init::kZeros);
  const Tensor mean = b.ReduceMean(x, {-1}, true, scope + "/mean");
  const Tensor centered = b.Binary("Sub", x, mean, scope + "/center");
  const Tensor squared = b.Binary("Pow", centered, b.ScalarFloat(2.0f, "const/two"), scope + "/square");
  const Tensor var = b.ReduceMean(squared, {-1}, true, scope + "/variance");
  const Tensor var_eps = b.Add(var, b.ScalarFloat(epsilon, "const/layer_norm_epsilon"), scope + "/add_epsilon");
  const Tensor stddev = b.Unary("Sqrt", var_eps, scope + "/stddev");
  const Tensor normalized = b.Binary("Div", centered, stddev, scope + "/normalize");
  return b.Add(b.Mul(normalized, gamma, scope + "/scale"), beta, scope + "/shift");
}

Tensor Gelu(OnnxBuilder& b, const Tensor& x, const std::string& scope) {
  const Tensor scaled = b.Binary("Div", x, b.ScalarFloat(std::sqrt(2.0f), "const/sqrt_two"), scope + "/div");
  const Tensor erf = b.Unary("Erf", scaled, scope + "/erf");
  const Tensor one_plus = b.Add(erf, b.ScalarFloat(1.0f, "const/one"), scope + "/add_one");
  const Tensor times_x = b.Mul(x, one_plus, scope + "/mul_x");
  return b.Mul(times_x, b.ScalarFloat(0.5f, "const/half"), scope + "/mul_half");
}

Tensor AttentionCore(OnnxBuilder& b, const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                     const Tensor* mask, const std::string& scope) {
  const int64_t batch = q.dim(0), tq = q.dim(1), tk = k.dim(1), d = q.dim(2);
  const int64_t dk = d / heads;
  // [B,T,D] -> [B,T,H,dk] -> [B,H,T,dk] for queries and values, [B,H,dk,T] for keys (pre-transposed for MatMul).
  const Tensor qh = b.Transpose(b.Reshape(q, {batch, tq, heads, dk}, scope + "/q_heads"), {0, 2, 1, 3},
                                scope + "/q_transpose");
  const Tensor kh = b.Transpose(b.Reshape(k, {batch, tk, heads, dk}, scope + "/k_heads"), {0, 2, 3, 1},
                                scope + "/k_transpose");
  const Tensor vh = b.Transpose(b.Reshape(v, {batch, tk, heads, dk}, scope + "/v_heads"), {0, 2, 1, 3},
                                scope + "/v_transpose");
  Tensor scores = b.MatMul(qh, kh, scope + "/scores");  // [B,H,Tq,Tk]
  scores = b.Mul(scores, b.ScalarFloat(1.0f / std::sqrt(static_cast<float>(dk)), "const/attention_scale_" +
                                                                                     std::to_string(dk)),
                 scope + "/scale");
  if (mask != nullptr) scores = b.Add(scores, *mask, scope + "/mask");
  const Tensor probs = b.Softmax(scores, -1, scope + "/softmax");
  const Tensor context = b.MatMul(probs, vh, scope + "/context");  // [B,H,Tq,dk]
  const Tensor merged = b.Transpose(context, {0, 2, 1, 3}, scope + "/merge_transpose");
  return b.Reshape(merged, {batch, tq, d}, scope + "/merge_heads");
}

Tensor CausalMask(OnnxBuilder& b, int64_t steps) {
  std::vector<float> mask(static_cast<size_t>(steps * steps), 0.0f);
  for (int64_t i = 0; i < steps; ++i) {
    for (int64_t j = i + 1; j < steps; ++j) mask[static_cast<size_t>(i * steps + j)] = -1e4f;
  }
  return b.ConstFloat(mask, {steps, steps}, "const/causal_mask");
}

Tensor SinusoidalPositions(OnnxBuilder& b, int64_t steps, int64_t d_model) {
  std::vector<float> table(static_cast<size_t>(steps * d_model));
  for (int64_t pos = 0; pos < steps; ++pos) {
    for (int64_t i = 0; i < d_model; ++i) {
      const double angle = static_cast<double>(pos) / std::pow(10000.0, static_cast<double>(2 * (i / 2)) / d_model);
      table[static_cast<size_t>(pos * d_model + i)] = static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return b.ConstFloat(table, {steps, d_model}, "const/position_encoding");
}

Tensor ConvBn(OnnxBuilder& b, const Tensor& x, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
              int64_t stride, const std::vector<int64_t>& pads, float bn_epsilon, bool relu,
              const std::string& scope) {
  const int64_t in = x.dim(1);
  const Tensor w = b.Parameter(scope + "/conv/weight", {out_channels, in, kernel_h, kernel_w}, in * kernel_h * kernel_w);
  const Tensor conv = b.Conv(x, w, nullptr, {stride, stride}, pads, scope + "/conv");
  const Tensor scale = b.Parameter(scope + "/bn/scale", {out_channels}, 1, Init::kOnes);
  const Tensor shift = b.Parameter(scope + "/bn/bias", {out_channels}, 1, Init::kZeros);
  const Tensor mean = b.Parameter(scope + "/bn/running_mean", {out_channels}, 1, Init::kZeros);
  const Tensor var = b.Parameter(scope + "/bn/running_var", {out_channels}, 1, Init::kOnes);
  const Tensor bn = b.BatchNormalization(conv, scale, shift, mean, var, bn_epsilon, scope + "/bn");
  return relu ? b.Relu(bn, scope + "/relu") : bn;
}

Tensor Classifier(OnnxBuilder& b, const Tensor& pooled, int64_t classes) {
  const Tensor flat = b.Flatten(pooled, 1, "flatten");
  const int64_t in = flat.dim(1);
  const Tensor w = b.Parameter("fc/weight", {classes, in}, in);
  const Tensor bias = b.Parameter("fc/bias", {classes}, in);
  return b.Gemm(flat, w, bias, true, "logits");
}

}  // namespace allot::models
