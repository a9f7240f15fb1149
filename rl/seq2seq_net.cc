#include "rl/seq2seq_net.h"

#include <torch/nn/options/embedding.h>
#include <torch/nn/options/linear.h>
#include <torch/nn/options/rnn.h>

#include <cmath>
#include <string>

#include "graph/error.h"
#include "graph/json_io.h"

namespace allot::rl {

Seq2SeqNetImpl::Seq2SeqNetImpl(const Seq2SeqConfig& config) : config_(config) {
  const int64_t H = config.hidden;
  const int64_t per_direction = config.bidirectional ? H / 2 : H;
  TORCH_CHECK(per_direction > 0 && (!config.bidirectional || H % 2 == 0), "hidden must be a positive even number");
  TORCH_CHECK(config.num_devices >= 1, "the policy needs at least one device");
  TORCH_CHECK(config.op_embedding >= 0 && config.numeric >= 0 && config.op_embedding + config.numeric > 0,
              "the network needs some input features");
  if (config.op_embedding > 0)
    op_embedding_ = register_module(
        "op_embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(OpTypeVocabulary(), config.op_embedding)));
  encoder_ = register_module(
      "encoder", torch::nn::LSTM(torch::nn::LSTMOptions(config.op_embedding + config.numeric, per_direction)
                                     .bidirectional(config.bidirectional)));
  device_embedding_ = register_module(
      "device_embedding",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(config.num_devices + 1, config.device_embedding)));
  decoder_ = register_module("decoder", torch::nn::LSTMCell(torch::nn::LSTMCellOptions(config.device_embedding + H, H)));
  const int64_t A = config.attention;
  TORCH_CHECK(A > 0, "the attention width must be positive");
  attention_encoder_ = register_module("attention_encoder", torch::nn::Linear(torch::nn::LinearOptions(H, A).bias(false)));
  attention_decoder_ = register_module("attention_decoder", torch::nn::Linear(torch::nn::LinearOptions(H, A)));
  attention_score_ = register_module("attention_score", torch::nn::Linear(torch::nn::LinearOptions(A, 1).bias(false)));
  output_ = register_module("output", torch::nn::Linear(torch::nn::LinearOptions(2 * H, config.num_devices)));
  // Registered last, so the other parameters draw the same initial values with or without it.
  if (config.value_head) value_ = register_module("value", torch::nn::Linear(torch::nn::LinearOptions(H, 1)));
}

void Seq2SeqNetImpl::ResetParameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  const int64_t H = config_.hidden;
  const int64_t per_direction = config_.bidirectional ? H / 2 : H;
  for (auto& item : named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    double bound;
    if (name.find("embedding") != std::string::npos) {
      bound = std::sqrt(3.0);  // unit variance
    } else if (name.rfind("encoder.", 0) == 0) {
      bound = 1.0 / std::sqrt(static_cast<double>(per_direction));
    } else if (name.rfind("decoder.", 0) == 0) {
      bound = 1.0 / std::sqrt(static_cast<double>(H));
    } else {
      const int64_t fan_in = p.dim() == 2 ? p.size(1) : H;
      bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    }
    FillUniform(p, bound, rng);
    // LSTM gates are stacked i, f, g, o: the forget gate's bias starts at 1 (split as 1 + 0 over ih/hh).
    if (name.find("bias_ih") != std::string::npos) {
      const int64_t n = p.size(0) / 4;
      p.narrow(0, n, n).fill_(1.0);
    } else if (name.find("bias_hh") != std::string::npos) {
      const int64_t n = p.size(0) / 4;
      p.narrow(0, n, n).fill_(0.0);
    }
  }
}

Decoded Seq2SeqNetImpl::Sample(const Seq2SeqInput& input, int64_t samples, std::mt19937_64& rng, double logit_noise) {
  return Decode(input, samples, &rng, logit_noise, nullptr);
}

Decoded Seq2SeqNetImpl::Greedy(const Seq2SeqInput& input) { return Decode(input, 1, nullptr, 0, nullptr); }

Decoded Seq2SeqNetImpl::Evaluate(const Seq2SeqInput& input, int64_t samples, const std::vector<int64_t>& devices) {
  TORCH_CHECK(static_cast<int64_t>(devices.size()) == samples * input.numeric.size(-2), "one device per group and sample");
  return Decode(input, samples, nullptr, 0, devices.data());
}

Decoded Seq2SeqNetImpl::Decode(const Seq2SeqInput& input, int64_t K, std::mt19937_64* rng, double logit_noise,
                               const int64_t* forced) {
  const bool shared = input.numeric.dim() == 2;  // else [K, G, F]: one input per sample
  TORCH_CHECK(shared || input.numeric.size(0) == K, "one input per sample");
  const int64_t G = input.numeric.size(-2);
  const int64_t D = config_.num_devices;
  const int64_t H = config_.hidden;
  Decoded out;
  out.samples = K;
  out.groups = G;
  out.decisions = G;
  out.action_width = G;
  out.devices.assign(static_cast<size_t>(K * G), 0);
  if (G == 0) {
    out.log_prob = at::zeros({K});
    out.entropy = at::zeros({K});
    out.step_log_prob = at::zeros({K, 0});
    if (config_.value_head) out.value = at::zeros({K, 0});
    return out;
  }

  // Encoder: one pass over the groups, batch 1 when the K samples share the input.
  at::Tensor x = shared ? input.numeric.unsqueeze(1) : input.numeric.transpose(0, 1);  // [G, B, F]
  if (config_.op_embedding > 0) {
    at::Tensor types = op_embedding_->forward(input.op_type).unsqueeze(1);  // [G, 1, E]
    if (!shared) types = types.expand({G, K, config_.op_embedding});
    x = at::cat({types, x}, 2);
  }
  auto [states, final_state] = encoder_->forward(x);
  const int64_t B = shared ? 1 : K;
  at::Tensor h = std::get<0>(final_state), c = std::get<1>(final_state);  // [dirs, B, H/dirs]
  h = h.permute({1, 0, 2}).reshape({B, H});
  c = c.permute({1, 0, 2}).reshape({B, H});
  if (shared) {
    h = h.expand({K, H}).contiguous();
    c = c.expand({K, H}).contiguous();
  }
  // [G, H] shared, [K, G, H] per sample.
  const at::Tensor enc = shared ? states.squeeze(1) : states.transpose(0, 1);

  // The decoder is an LSTMCell followed by attention and the output layer, computed by hand so that everything
  // that does not depend on the step is done once (same function, fewer FLOPs): the cell's input projection of the
  // aligned encoder states and of the device embeddings, the output layer's projection of the encoder states
  // (softmax(scores) @ enc @ W_c^T = softmax(scores) @ (enc @ W_c^T)), and one matmul of h by the stacked
  // [W_hh; W2; W_h] per step. LibTorch's gate order is i, f, g, o.
  const int64_t E = config_.device_embedding, A = config_.attention;
  const at::Tensor w_ih = decoder_->weight_ih;  // [4H, E + H]
  const at::Tensor dev_gates =
      device_embedding_->weight.mm(w_ih.narrow(1, 0, E).t()) + decoder_->bias_ih + decoder_->bias_hh;  // [D+1, 4H]
  const at::Tensor enc_gates = at::matmul(enc, w_ih.narrow(1, E, H).t());                            // [(K,) G, 4H]
  at::Tensor enc_keys = attention_encoder_->forward(enc) + attention_decoder_->bias;                 // [(K,) G, A]
  if (shared) enc_keys = enc_keys.unsqueeze(0);
  const at::Tensor score_v = attention_score_->weight.t();                                             // [A, 1]
  const at::Tensor enc_out = at::matmul(enc, output_->weight.narrow(1, H, H).t());                     // [(K,) G, D]
  const at::Tensor h_weights =
      at::cat({decoder_->weight_hh, attention_decoder_->weight, output_->weight.narrow(1, 0, H)}, 0).t();  // [H, 4H+A+D]
  at::Tensor h_gates = h.mm(decoder_->weight_hh.t());  // [K, 4H]

  const double inv_t = 1.0 / config_.temperature;
  const double clip = config_.logit_clip;
  at::Tensor previous = at::full({K}, D, at::TensorOptions().dtype(at::kLong));
  std::vector<at::Tensor> step_logp, step_value;
  step_logp.reserve(static_cast<size_t>(G));
  std::vector<int64_t> chosen(static_cast<size_t>(K));
  std::vector<float> noise(static_cast<size_t>(rng != nullptr && logit_noise > 0 ? K * D : 0));
  for (int64_t i = 0; i < G; ++i) {
    const at::Tensor gates =
        dev_gates.index_select(0, previous) + (shared ? enc_gates[i] : enc_gates.select(1, i)) + h_gates;
    const std::vector<at::Tensor> g = gates.chunk(4, 1);
    c = at::sigmoid(g[1]) * c + at::sigmoid(g[0]) * at::tanh(g[2]);
    h = at::sigmoid(g[3]) * at::tanh(c);
    if (config_.value_head) step_value.push_back(value_->forward(h).squeeze(1));
    const at::Tensor hw = h.mm(h_weights);
    h_gates = hw.narrow(1, 0, 4 * H);
    const at::Tensor query = hw.narrow(1, 4 * H, A).unsqueeze(1);  // [K, 1, A]
    // Bahdanau attention over the encoder states.
    const at::Tensor attention = at::softmax(at::matmul(at::tanh(enc_keys + query), score_v).squeeze(2), 1);  // [K, G]
    const at::Tensor context = shared ? attention.mm(enc_out) : at::bmm(attention.unsqueeze(1), enc_out).squeeze(1);
    at::Tensor logits = (hw.narrow(1, 4 * H + A, D) + context + output_->bias) * inv_t;
    if (clip > 0) logits = at::tanh(logits) * clip;
    if (rng != nullptr && logit_noise > 0) {
      const double rms = logits.detach().pow(2).mean().sqrt().item<double>();
      for (float& z : noise) z = static_cast<float>(NormalDouble(*rng) * logit_noise * rms);
      logits = logits + at::from_blob(noise.data(), {K, D}, at::TensorOptions().dtype(at::kFloat));
    }
    const at::Tensor logp = at::log_softmax(logits, 1);
    step_logp.push_back(logp);

    // Choose on the CPU, from the probabilities as floats.
    const at::Tensor probs = logp.detach().exp().contiguous();
    const float* p = probs.data_ptr<float>();
    for (int64_t k = 0; k < K; ++k) {
      const int64_t pick = forced != nullptr ? forced[k * G + i]
                           : rng != nullptr  ? DrawIndex(p + k * D, D, UniformDouble(*rng))
                                             : ArgMax(p + k * D, D);
      TORCH_CHECK(pick >= 0 && pick < D, "device index out of range");
      chosen[k] = pick;
      out.devices[static_cast<size_t>(k * G + i)] = pick;
    }
    previous = at::tensor(chosen, at::TensorOptions().dtype(at::kLong));
  }
  const at::Tensor logp = at::stack(step_logp);  // [G, K, D]
  const at::Tensor picked = at::tensor(out.devices, at::TensorOptions().dtype(at::kLong)).view({K, G}).t().unsqueeze(2);
  const at::Tensor gathered = logp.gather(2, picked).squeeze(2);  // [G, K]
  out.log_prob = gathered.sum(0);
  out.step_log_prob = gathered.t();
  out.entropy = -(logp.exp() * logp).sum(2).mean(0);
  if (config_.value_head) out.value = at::stack(step_value).t();
  out.actions = out.devices;
  return out;
}

void WriteSeq2SeqConfig(const Seq2SeqConfig& n, nlohmann::ordered_json& j) {
  j["hidden"] = n.hidden;
  j["op_embedding"] = n.op_embedding;
  j["device_embedding"] = n.device_embedding;
  j["attention"] = n.attention;
  j["bidirectional"] = n.bidirectional;
  j["temperature"] = n.temperature;
  j["logit_clip"] = n.logit_clip;
  j["value_head"] = n.value_head;
}

Seq2SeqConfig ReadSeq2SeqConfig(const nlohmann::json& j, const std::string& source) {
  // Every size the network is built from is bounded: an edited file must not allocate a 2^40-wide layer.
  constexpr int64_t kWidth = 1 << 13;
  Seq2SeqConfig n;
  n.hidden = JsonInteger(j, "hidden", source, 1, kWidth);
  n.op_embedding = JsonInteger(j, "op_embedding", source, 0, kWidth);
  n.device_embedding = JsonInteger(j, "device_embedding", source, 1, kWidth);
  n.attention = JsonInteger(j, "attention", source, 1, kWidth);
  n.bidirectional = JsonBool(j, "bidirectional", source);
  n.temperature = JsonNumber(j, "temperature", source);
  if (!(n.temperature >= 1e-3 && n.temperature <= 1e6))
    throw Error(source + ": field 'temperature' must be from 0.001 to 1e6");
  n.logit_clip = JsonNumber(j, "logit_clip", source);
  if (!(n.logit_clip >= 0 && n.logit_clip <= 1e6)) throw Error(source + ": field 'logit_clip' must be from 0 to 1e6");
  if (n.bidirectional && n.hidden % 2 != 0)
    throw Error(source + ": field 'hidden' must be even for a bidirectional encoder (each direction gets half)");
  n.value_head = JsonBool(j, "value_head", source, false);
  return n;
}

}  // namespace allot::rl
