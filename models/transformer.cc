// The attention benchmarks: the Transformer of GDP and Baechi, and a GPT-2-small-like decoder.
//
// Ops are at PyTorch-export granularity (opset 14): Linear = MatMul + Add, LayerNorm = 9 primitive ops, GELU
// = 5 ops, attention heads split with Reshape + Transpose. Dropout is omitted (identity at inference).
#include <algorithm>
#include <cmath>

#include "models/generators.h"
#include "models/layers.h"

namespace allot::models::detail {
namespace {

std::string Layer(const std::string& stack, int64_t l) { return stack + "/l" + std::to_string(l); }

// Multi-head attention with separate Q, K, V projections (queries from x, keys and values from memory).
Tensor MultiHeadAttention(OnnxBuilder& b, const Tensor& x, const Tensor& memory, int64_t heads, const Tensor* mask,
                          const std::string& scope) {
  const int64_t d = x.dim(2);
  const Tensor q = Dense(b, MakeDense(b, scope + "/q", d, d), x, scope + "/q");
  const Tensor k = Dense(b, MakeDense(b, scope + "/k", d, d), memory, scope + "/k");
  const Tensor v = Dense(b, MakeDense(b, scope + "/v", d, d), memory, scope + "/v");
  const Tensor merged = AttentionCore(b, q, k, v, heads, mask, scope);
  return Dense(b, MakeDense(b, scope + "/out", d, d), merged, scope + "/out");
}

// Position-wise feed-forward: Dense, activation, Dense.
Tensor FeedForward(OnnxBuilder& b, const Tensor& x, int64_t inner, bool gelu, const std::string& scope) {
  const int64_t d = x.dim(2);
  Tensor h = Dense(b, MakeDense(b, scope + "/fc1", d, inner), x, scope + "/fc1");
  h = gelu ? Gelu(b, h, scope + "/gelu") : b.Relu(h, scope + "/relu");
  return Dense(b, MakeDense(b, scope + "/fc2", inner, d), h, scope + "/fc2");
}

// Post-LN sublayer wrapper of the original Transformer: LayerNorm(x + sublayer(x)).
Tensor PostNorm(OnnxBuilder& b, const Tensor& x, const Tensor& sublayer_out, const std::string& scope) {
  return LayerNorm(b, b.Add(x, sublayer_out, scope + "/residual"), scope + "/norm");
}

}  // namespace

// Transformer base (Vaswani et al. 2017): 6+6 layers, d_model 512, 8 heads, FFN 2048, shared source/target
// embedding and pre-softmax projection (section 3.4), sinusoidal positions. seq 128 for source and target.
// Batch 32: the paper's batches held ~25k source + 25k target tokens over 8 GPUs, ~3k per GPU; 32 x 128 = 4k
// tokens is that order, a realistic per-device training batch for a placement benchmark.
onnx::ModelProto GenerateTransformer(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 32), steps = OrDefault(options.seq, 128);
  const int64_t layers = OrDefault(options.layers, 6), d = OrDefault(options.hidden, 512);
  const int64_t vocab = OrDefault(options.vocab, 32000);
  const int64_t heads = HeadsFor(d);
  OnnxBuilder b("transformer", options.weights, options.seed);
  const Tensor source = b.Input("source_tokens", onnx::TensorProto::INT64, {batch, steps});
  const Tensor target = b.Input("target_tokens", onnx::TensorProto::INT64, {batch, steps});
  const Tensor embedding = b.Parameter("embedding", {vocab, d}, d);
  const Tensor positions = SinusoidalPositions(b, steps, d);
  const Tensor embed_scale = b.ScalarFloat(std::sqrt(static_cast<float>(d)), "const/embedding_scale");
  auto embed = [&](const Tensor& tokens, const std::string& scope) {
    const Tensor e = b.Mul(b.Gather(embedding, tokens, 0, scope + "/lookup"), embed_scale, scope + "/scale");
    return b.Add(e, positions, scope + "/positions");
  };

  Tensor x = embed(source, "encoder/embed");
  for (int64_t l = 0; l < layers; ++l) {
    const std::string s = Layer("encoder", l);
    x = PostNorm(b, x, MultiHeadAttention(b, x, x, heads, nullptr, s + "/self_attention"), s + "/self_attention");
    x = PostNorm(b, x, FeedForward(b, x, 4 * d, false, s + "/ffn"), s + "/ffn");
  }
  const Tensor memory = x;

  const Tensor mask = CausalMask(b, steps);
  Tensor y = embed(target, "decoder/embed");
  for (int64_t l = 0; l < layers; ++l) {
    const std::string s = Layer("decoder", l);
    y = PostNorm(b, y, MultiHeadAttention(b, y, y, heads, &mask, s + "/self_attention"), s + "/self_attention");
    y = PostNorm(b, y, MultiHeadAttention(b, y, memory, heads, nullptr, s + "/cross_attention"),
                 s + "/cross_attention");
    y = PostNorm(b, y, FeedForward(b, y, 4 * d, false, s + "/ffn"), s + "/ffn");
  }
  const Tensor projection = b.Transpose(embedding, {1, 0}, "output/embedding_transposed");  // tied weights
  const Tensor logits = b.MatMul(y, projection, "output/logits");
  b.Output(b.LogSoftmax(logits, -1, "logprobs"));
  return b.Finish(DescribeModel("transformer", options,
                                {{"batch", batch}, {"seq", steps}, {"layers", layers}, {"hidden", d}, {"vocab", vocab}}));
}

// GPT-2 small (Radford et al. 2019): 12 pre-LN blocks, d_model 768, 12 heads, FFN 3072, vocab 50257, learned
// positions over a 1024-token context, final LayerNorm, LM head tied to the token embedding. seq 1024 (the
// full context, where the quadratic attention matters) and batch 8, a common per-device training batch at
// that length; the [8, 1024, 50257] logits make the LM head the memory hot spot it is in practice.
onnx::ModelProto GenerateGpt2(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 8), steps = OrDefault(options.seq, 1024);
  const int64_t layers = OrDefault(options.layers, 12), d = OrDefault(options.hidden, 768);
  const int64_t vocab = OrDefault(options.vocab, 50257);
  const int64_t heads = HeadsFor(d);
  const int64_t context = std::max<int64_t>(1024, steps);
  OnnxBuilder b("gpt2", options.weights, options.seed);
  const Tensor tokens = b.Input("tokens", onnx::TensorProto::INT64, {batch, steps});
  const Tensor wte = b.Parameter("wte", {vocab, d}, d);
  const Tensor wpe = b.Parameter("wpe", {context, d}, d);
  std::vector<int64_t> position_ids(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) position_ids[static_cast<size_t>(t)] = t;
  const Tensor positions = b.Gather(wpe, b.ConstInt64s(position_ids, "const/position_ids"), 0, "embed/positions");
  Tensor x = b.Add(b.Gather(wte, tokens, 0, "embed/tokens"), positions, "embed/add");
  const Tensor mask = CausalMask(b, steps);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string s = Layer("h", l);
    // Attention with GPT-2's fused QKV projection, split afterwards.
    const Tensor normed = LayerNorm(b, x, s + "/ln_1");
    const Tensor qkv = Dense(b, MakeDense(b, s + "/attn/c_attn", d, 3 * d), normed, s + "/attn/c_attn");
    const std::vector<Tensor> split = b.Split(qkv, 2, {d, d, d}, s + "/attn/split_qkv");
    const Tensor merged = AttentionCore(b, split[0], split[1], split[2], heads, &mask, s + "/attn");
    const Tensor attn = Dense(b, MakeDense(b, s + "/attn/c_proj", d, d), merged, s + "/attn/c_proj");
    x = b.Add(x, attn, s + "/attn/residual");
    x = b.Add(x, FeedForward(b, LayerNorm(b, x, s + "/ln_2"), 4 * d, true, s + "/mlp"), s + "/mlp/residual");
  }
  x = LayerNorm(b, x, "ln_f");
  const Tensor head = b.Transpose(wte, {1, 0}, "lm_head/wte_transposed");  // tied weights
  b.Output(b.MatMul(x, head, "logits"));
  return b.Finish(DescribeModel("gpt2", options,
                                {{"batch", batch}, {"seq", steps}, {"layers", layers}, {"hidden", d}, {"vocab", vocab}}));
}

}  // namespace allot::models::detail
