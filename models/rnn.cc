// The recurrent benchmarks of ColocRL and the hierarchical planner: RNNLM and attentional NMT.
//
// The papers placed TensorFlow graphs built with static_rnn, i.e. the recurrence unrolled into one cell per
// time step and layer; the placement problem lives in that unrolled structure (a layer's cells form a chain,
// layers form a wavefront). So the LSTMs here are unrolled 13-op cells (models/layers.h), not ONNX LSTM
// nodes. Dropout is left out (identity at inference, and the papers' op counts vary with it anyway).
#include "graph/error.h"
#include "models/generators.h"
#include "models/layers.h"

namespace allot::models::detail {
namespace {

std::string Step(const std::string& scope, int64_t t) { return scope + "/t" + std::to_string(t); }

}  // namespace

// Defaults: Zaremba et al. 2014 / Jozefowicz et al. 2016 style, per shared/REFERENCES.md: 2 layers, hidden 2048,
// 20 steps, batch 64. Vocabulary 32000: the papers' corpora range from PTB's 10k to LM1B's 793k (with sampled
// softmax); 32k keeps the full softmax the dominant op of the graph, as it was for the placers, while the model
// with weights=1 (~200M parameters, ~800 MB) still fits protobuf's 2 GB limit.
onnx::ModelProto GenerateRnnLm(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 64), steps = OrDefault(options.seq, 20);
  const int64_t layers = OrDefault(options.layers, 2), hidden = OrDefault(options.hidden, 2048);
  const int64_t vocab = OrDefault(options.vocab, 32000);
  OnnxBuilder b("rnnlm", options.weights, options.seed);
  const Tensor tokens = b.Input("tokens", onnx::TensorProto::INT64, {batch, steps});
  const Tensor embedding = b.Parameter("embedding", {vocab, hidden}, hidden);
  std::vector<Tensor> x = EmbedSteps(b, embedding, tokens, "embed");
  const LstmState zero = ZeroLstmState(b, batch, hidden);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string scope = "lstm/l" + std::to_string(l);
    x = LstmLayer(b, MakeLstm(b, scope, x[0].dim(1), hidden), x, zero, scope);
  }
  const DenseWeights softmax = MakeDense(b, "softmax", hidden, vocab);
  for (int64_t t = 0; t < steps; ++t) ProjectStep(b, softmax, x[t], t);
  return b.Finish(DescribeModel("rnnlm", options,
                                {{"batch", batch}, {"seq", steps}, {"layers", layers}, {"hidden", hidden}, {"vocab", vocab}}));
}

// GNMT-like (Wu et al. 2016) attentional encoder-decoder with `layers` encoder and `layers` decoder layers:
//  - encoder: bidirectional bottom layer (forward and backward chains run in parallel, their outputs
//    concatenated), unidirectional layers above, residual connections from the third layer up;
//  - decoder: layer l starts from encoder layer l's final state (the forward one for the bottom layer);
//    residuals as in the encoder;
//  - attention (Luong et al. 2015 "general" score, with input feeding): per decoder step, scores = top decoder
//    state . (memory W_a), softmax over source positions, context = weights . memory, attentional state
//    tanh([context, h] W_c), which feeds the projection and the next step's bottom-layer input.
// GNMT proper feeds the attention context to every decoder layer and uses an additive score; the Luong form
// keeps the same dependency structure (decoder steps serialized through attention) with fewer ops per step.
// Defaults per shared/REFERENCES.md: hidden 1024, vocab 32000 (WMT14 En-De BPE), 40 steps, batch 64.
onnx::ModelProto GenerateNmt(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 64), steps = OrDefault(options.seq, 40);
  const int64_t layers = OrDefault(options.layers, 4), hidden = OrDefault(options.hidden, 1024);
  const int64_t vocab = OrDefault(options.vocab, 32000);
  OnnxBuilder b("nmt", options.weights, options.seed);
  const Tensor source = b.Input("source_tokens", onnx::TensorProto::INT64, {batch, steps});
  const Tensor target = b.Input("target_tokens", onnx::TensorProto::INT64, {batch, steps});
  const LstmState zero = ZeroLstmState(b, batch, hidden);

  // ---- encoder ----
  std::vector<Tensor> x = EmbedSteps(b, b.Parameter("encoder/embedding", {vocab, hidden}, hidden), source,
                                     "encoder/embed");
  std::vector<LstmState> final_states;
  {
    LstmState fw_final;
    const std::vector<Tensor> fw =
        LstmLayer(b, MakeLstm(b, "encoder/l0/fw", hidden, hidden), x, zero, "encoder/l0/fw", false, &fw_final);
    const std::vector<Tensor> bw =
        LstmLayer(b, MakeLstm(b, "encoder/l0/bw", hidden, hidden), x, zero, "encoder/l0/bw", true);
    for (int64_t t = 0; t < steps; ++t) x[t] = b.Concat({fw[t], bw[t]}, 1, Step("encoder/l0/concat", t));
    final_states.push_back(fw_final);
  }
  for (int64_t l = 1; l < layers; ++l) {
    const std::string scope = "encoder/l" + std::to_string(l);
    LstmState final_state;
    std::vector<Tensor> h = LstmLayer(b, MakeLstm(b, scope, x[0].dim(1), hidden), x, zero, scope, false, &final_state);
    if (l >= 2) {
      for (int64_t t = 0; t < steps; ++t) h[t] = b.Add(h[t], x[t], Step(scope + "/residual", t));
    }
    x = std::move(h);
    final_states.push_back(final_state);
  }

  // ---- attention memory: top encoder outputs stacked to [batch, steps, M], keys precomputed once ----
  std::vector<Tensor> stacked;
  for (int64_t t = 0; t < steps; ++t) stacked.push_back(b.Unsqueeze(x[t], {1}, Step("attention/memory", t)));
  const Tensor memory = b.Concat(stacked, 1, "attention/memory");
  const int64_t memory_dim = memory.dim(2);  // 2*hidden when the encoder is only the bidirectional layer
  const Tensor keys = b.MatMul(memory, b.Parameter("attention/W_a", {memory_dim, hidden}, memory_dim),
                               "attention/keys");
  const Tensor keys_t = b.Transpose(keys, {0, 2, 1}, "attention/keys_transposed");  // [batch, hidden, steps]
  const Tensor w_c = b.Parameter("attention/W_c", {memory_dim + hidden, hidden}, memory_dim + hidden);

  // ---- decoder, step-major because input feeding ties step t's bottom layer to step t-1's attention ----
  const std::vector<Tensor> y = EmbedSteps(b, b.Parameter("decoder/embedding", {vocab, hidden}, hidden), target,
                                           "decoder/embed");
  std::vector<LstmWeights> cells;
  std::vector<LstmState> states;
  for (int64_t l = 0; l < layers; ++l) {
    const std::string scope = "decoder/l" + std::to_string(l);
    cells.push_back(MakeLstm(b, scope, l == 0 ? 2 * hidden : hidden, hidden));
    states.push_back(final_states[l]);
  }
  const DenseWeights softmax = MakeDense(b, "softmax", hidden, vocab);
  Tensor attentional = zero.h;  // the "previous attentional state" of step 0
  for (int64_t t = 0; t < steps; ++t) {
    Tensor input = b.Concat({y[t], attentional}, 1, Step("decoder/input_feed", t));
    for (int64_t l = 0; l < layers; ++l) {
      const std::string scope = "decoder/l" + std::to_string(l);
      states[l] = LstmCell(b, cells[l], input, states[l], Step(scope, t));
      input = l >= 2 ? b.Add(states[l].h, input, Step(scope + "/residual", t)) : states[l].h;
    }
    const std::string s = Step("attention", t);
    const Tensor query = b.Unsqueeze(input, {1}, s + "/query");                     // [batch, 1, hidden]
    const Tensor scores = b.MatMul(query, keys_t, s + "/scores");                   // [batch, 1, steps]
    const Tensor weights = b.Softmax(scores, -1, s + "/weights");
    const Tensor context = b.Squeeze(b.MatMul(weights, memory, s + "/context"), {1}, s + "/context_squeeze");
    const Tensor combined = b.Concat({context, input}, 1, s + "/concat");          // [batch, M + hidden]
    attentional = b.Tanh(b.MatMul(combined, w_c, s + "/combine"), s + "/attentional");
    ProjectStep(b, softmax, attentional, t);
  }
  return b.Finish(DescribeModel("nmt", options,
                                {{"batch", batch}, {"seq", steps}, {"layers", layers}, {"hidden", hidden}, {"vocab", vocab}}));
}

}  // namespace allot::models::detail
