#include "rl/policy_seq2seq.h"

#include <torch/nn/options/embedding.h>
#include <torch/nn/options/linear.h>
#include <torch/nn/options/rnn.h>

#include <cmath>
#include <string>

namespace allot::rl {

Seq2SeqPolicyImpl::Seq2SeqPolicyImpl(const PolicyConfig& config) : config_(config) {
  const int64_t H = config.hidden;
  const int64_t per_direction = config.bidirectional ? H / 2 : H;
  TORCH_CHECK(per_direction > 0 && (!config.bidirectional || H % 2 == 0), "hidden must be a positive even number");
  TORCH_CHECK(config.num_devices >= 1, "the policy needs at least one device");
  op_embedding_ = register_module(
      "op_embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(OpTypeVocabulary(), config.op_embedding)));
  encoder_ = register_module(
      "encoder", torch::nn::LSTM(torch::nn::LSTMOptions(config.op_embedding + kNumericFeatures, per_direction)
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
}

void Seq2SeqPolicyImpl::ResetParameters(uint64_t seed) {
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
    std::vector<float> values(static_cast<size_t>(p.numel()));
    for (float& v : values) v = static_cast<float>((2.0 * UniformDouble(rng) - 1.0) * bound);
    p.copy_(at::tensor(values, at::TensorOptions().dtype(at::kFloat)).reshape(p.sizes()));
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

double NormalDouble(std::mt19937_64& rng) {
  const double u1 = 1.0 - UniformDouble(rng);  // (0, 1]
  const double u2 = UniformDouble(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

Decoded Seq2SeqPolicyImpl::Sample(const PolicyInput& input, int64_t samples, std::mt19937_64& rng, double logit_noise) {
  return Decode(input, samples, &rng, logit_noise);
}

Decoded Seq2SeqPolicyImpl::Greedy(const PolicyInput& input) { return Decode(input, 1, nullptr, 0); }

Decoded Seq2SeqPolicyImpl::Decode(const PolicyInput& input, int64_t K, std::mt19937_64* rng, double logit_noise) {
  const int64_t G = input.op_type.size(0);
  const int64_t D = config_.num_devices;
  const int64_t H = config_.hidden;
  Decoded out;
  out.samples = K;
  out.groups = G;
  out.devices.assign(static_cast<size_t>(K * G), 0);
  if (G == 0) {
    out.log_prob = at::zeros({K});
    out.entropy = at::zeros({K});
    return out;
  }

  // Encoder: one pass over the groups (batch 1), shared by the K samples.
  const at::Tensor x = at::cat({op_embedding_->forward(input.op_type), input.numeric}, 1).unsqueeze(1);  // [G,1,F]
  auto [states, final_state] = encoder_->forward(x);
  const at::Tensor enc = states.squeeze(1);  // [G, H]
  at::Tensor h = std::get<0>(final_state), c = std::get<1>(final_state);  // [dirs, 1, H/dirs]
  h = h.permute({1, 0, 2}).reshape({1, H}).expand({K, H}).contiguous();
  c = c.permute({1, 0, 2}).reshape({1, H}).expand({K, H}).contiguous();

  // The decoder is an LSTMCell followed by attention and the output layer, computed by hand so that everything
  // that does not depend on the step is done once (same function, fewer FLOPs): the cell's input projection of the
  // aligned encoder states and of the device embeddings, the output layer's projection of the encoder states
  // (softmax(scores) @ enc @ W_c^T = softmax(scores) @ (enc @ W_c^T)), and one matmul of h by the stacked
  // [W_hh; W2; W_h] per step. LibTorch's gate order is i, f, g, o.
  const int64_t E = config_.device_embedding, A = config_.attention;
  const at::Tensor w_ih = decoder_->weight_ih;  // [4H, E + H]
  const at::Tensor dev_gates =
      device_embedding_->weight.mm(w_ih.narrow(1, 0, E).t()) + decoder_->bias_ih + decoder_->bias_hh;  // [D+1, 4H]
  const at::Tensor enc_gates = enc.mm(w_ih.narrow(1, E, H).t());                                      // [G, 4H]
  const at::Tensor enc_keys = (attention_encoder_->forward(enc) + attention_decoder_->bias).unsqueeze(0);  // [1,G,A]
  const at::Tensor score_v = attention_score_->weight.t();                                             // [A, 1]
  const at::Tensor enc_out = enc.mm(output_->weight.narrow(1, H, H).t());                              // [G, D]
  const at::Tensor h_weights =
      at::cat({decoder_->weight_hh, attention_decoder_->weight, output_->weight.narrow(1, 0, H)}, 0).t();  // [H, 4H+A+D]
  at::Tensor h_gates = h.mm(decoder_->weight_hh.t());  // [K, 4H]

  const double inv_t = 1.0 / config_.temperature;
  const double clip = config_.logit_clip;
  at::Tensor previous = at::full({K}, D, at::TensorOptions().dtype(at::kLong));
  std::vector<at::Tensor> step_logp;
  step_logp.reserve(static_cast<size_t>(G));
  std::vector<int64_t> chosen(static_cast<size_t>(K));
  std::vector<float> noise(static_cast<size_t>(rng != nullptr && logit_noise > 0 ? K * D : 0));
  for (int64_t i = 0; i < G; ++i) {
    const at::Tensor gates = dev_gates.index_select(0, previous) + enc_gates[i] + h_gates;
    const std::vector<at::Tensor> g = gates.chunk(4, 1);
    c = at::sigmoid(g[1]) * c + at::sigmoid(g[0]) * at::tanh(g[2]);
    h = at::sigmoid(g[3]) * at::tanh(c);
    const at::Tensor hw = h.mm(h_weights);
    h_gates = hw.narrow(1, 0, 4 * H);
    const at::Tensor query = hw.narrow(1, 4 * H, A).unsqueeze(1);  // [K, 1, A]
    // Bahdanau attention over the encoder states.
    const at::Tensor scores = at::matmul(at::tanh(enc_keys + query), score_v).squeeze(2);  // [K, G]
    at::Tensor logits = (hw.narrow(1, 4 * H + A, D) + at::softmax(scores, 1).mm(enc_out) + output_->bias) * inv_t;
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
      const float* row = p + k * D;
      int64_t pick = 0;
      if (rng == nullptr) {
        for (int64_t d = 1; d < D; ++d)
          if (row[d] > row[pick]) pick = d;
      } else {
        double total = 0;
        for (int64_t d = 0; d < D; ++d) total += row[d];
        const double u = UniformDouble(*rng) * total;
        double cumulative = 0;
        pick = D - 1;
        for (int64_t d = 0; d < D; ++d) {
          cumulative += row[d];
          if (u < cumulative) {
            pick = d;
            break;
          }
        }
        // Never pick a device whose probability rounded to 0.
        while (row[pick] <= 0.f && pick > 0) --pick;
      }
      chosen[k] = pick;
      out.devices[static_cast<size_t>(k * G + i)] = pick;
    }
    previous = at::tensor(chosen, at::TensorOptions().dtype(at::kLong));
  }
  const at::Tensor logp = at::stack(step_logp);  // [G, K, D]
  const at::Tensor picked = at::tensor(out.devices, at::TensorOptions().dtype(at::kLong)).view({K, G}).t().unsqueeze(2);
  out.log_prob = logp.gather(2, picked).squeeze(2).sum(0);
  out.entropy = -(logp.exp() * logp).sum(2).mean(0);
  return out;
}

}  // namespace allot::rl
