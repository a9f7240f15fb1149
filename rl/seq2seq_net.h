#pragma once
// The attention sequence-to-sequence network of ColocRL (Mirhoseini et al., ICML 2017; REFERENCES Part I §1 and §2
// "Architecture"), shared by three learned placers: seq2seq (over co-location groups), spotlight (the same, with a
// value head) and hierarchical (HDP's Placer, over the Grouper's groups). It reads one feature vector per group and
// emits one device per group.
//
//   encoder  op-type embedding (OpTypeVocabulary() x op_embedding; none when op_embedding is 0) ‖ numeric features,
//            read by an LSTM. Bidirectional by default, hidden/2 units per direction so its states are `hidden`
//            wide: the ICML'17 text only says "LSTM encoder"; the authors' later code (HDP's
//            hierarchical_controller.py) uses a bi-LSTM, and attention over states that saw the whole graph helps
//            the early groups.
//   decoder  an LSTMCell (hidden units) started from the encoder's final state. Input at step i: the embedding of
//            the device chosen at step i-1 (a start token at i = 0), as in the paper, concatenated with the
//            encoder state of group i. The aligned encoder state is our addition: with content-based attention
//            alone the decoder must infer which group it is placing from the attention weights; feeding it
//            directly is the usual seq2seq-tagging choice and learns much faster.
//   attention Bahdanau (content-based): score_j = v · tanh(W1 e_j + W2 h_i); context = Σ softmax(score)_j e_j.
//            The tanh layer has `attention` units (64), not `hidden`: it is evaluated for every (step, group) pair,
//            G² per placement; at 256 units it took about a fifth of the decoder's time.
//   output   logits = W [h_i ‖ context] over the devices, shaped as HDP's code does: C · tanh(logits / T) with
//            C = logit_clip and T = temperature (REFERENCES §2 "Logit shaping"; the paper's C = 5, T = 10).
//   value    with `value_head`, V(s_i) = w · h_i + b, the predicted cost of the placement from decoder state i
//            (Spotlight's per-stage baseline; rl/ppo.h).
//
// Inputs are shared by the K samples (seq2seq: one encoder pass for the batch) or one per sample (hierarchical:
// every sample has its own grouping, so its own group features).
//
// Speed: Debian's LibTorch calls whatever libblas.so.3 the alternatives system provides; scripts/setup.sh installs
// OpenBLAS for it (netlib's reference BLAS, the default, runs about 5 GFLOP/s). The decoder still precomputes
// every step-independent product once per placement batch (seq2seq_net.cc): its steps are small matrices.
//
// Sampling draws one uniform number per group and sample from a caller-owned std::mt19937_64 (inverse CDF over
// the softmax): no global or torch generator is involved, so a run is a function of its seed and the RNG state
// checkpoints as a string. Parameters are initialised from the seed the same way (ResetParameters).
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <random>
#include <vector>

#include "rl/policy.h"

namespace allot::rl {

struct Seq2SeqConfig {
  int64_t num_devices = 2;
  int64_t hidden = 256;          // encoder output / decoder / attention width (REFERENCES: 256)
  int64_t op_embedding = 20;     // HDP paper: op-type embedding of size 20; 0: no op-type input
  int64_t numeric = kNumericFeatures;  // width of the numeric features per group
  int64_t device_embedding = 32;
  int64_t attention = 64;        // width of Bahdanau's tanh layer (W1, W2, v)
  bool bidirectional = true;
  double temperature = 10.0;     // T
  double logit_clip = 5.0;       // C (0: no tanh shaping, logits / T only)
  bool value_head = false;       // V(s_i) per decoder step (spotlight)
};

// What the encoder reads.
struct Seq2SeqInput {
  at::Tensor op_type;  // [G] int64; undefined when the network has no op-type embedding
  at::Tensor numeric;  // [G, numeric] float, shared by every sample; or [K, G, numeric], one per sample
  static Seq2SeqInput From(const GroupFeatures& f) { return {f.op_type, f.Numeric()}; }
};

class Seq2SeqNetImpl : public torch::nn::Module {
 public:
  explicit Seq2SeqNetImpl(const Seq2SeqConfig& config);

  // Draws `samples` placements, consuming samples * groups uniform draws of `rng` in group-major order. A shared
  // input is encoded once for the batch.
  //
  // `logit_noise` > 0: HDP's exploration noise (REFERENCES §2 "Exploration"; hierarchical_controller.py's
  // logits_std_noise): at every step, Gaussian noise of std logit_noise x RMS(logits of the step's [samples,
  // devices]) is added to the shaped logits, and the sample and its log-probability come from the noisy
  // distribution (as HDP's code, which samples from and differentiates the noisy logits). The noise takes
  // samples * devices further draws of `rng` per group (Box-Muller on UniformDouble pairs), before that group's
  // sampling draws.
  Decoded Sample(const Seq2SeqInput& input, int64_t samples, std::mt19937_64& rng, double logit_noise = 0);
  // The most likely device per group, step by step (ties: the lower device index).
  Decoded Greedy(const Seq2SeqInput& input);
  // The log-probabilities (and values) of given devices, `samples` rows of G (teacher forcing: each step's input
  // is the given previous device).
  Decoded Evaluate(const Seq2SeqInput& input, int64_t samples, const std::vector<int64_t>& devices);

  // Re-initialises every parameter from `seed` (uniform ±1/sqrt(fan-in) for weights and biases, as PyTorch's own
  // LSTM/Linear defaults; unit-variance uniform embeddings; forget-gate biases 1.0 as HDP's code).
  void ResetParameters(uint64_t seed);

  const Seq2SeqConfig& config() const { return config_; }

 private:
  // rng null: greedy, or `forced` (samples * G devices) when given.
  Decoded Decode(const Seq2SeqInput& input, int64_t samples, std::mt19937_64* rng, double logit_noise,
                 const int64_t* forced);

  Seq2SeqConfig config_;
  torch::nn::Embedding op_embedding_{nullptr};
  torch::nn::LSTM encoder_{nullptr};
  torch::nn::Embedding device_embedding_{nullptr};
  torch::nn::LSTMCell decoder_{nullptr};
  torch::nn::Linear attention_encoder_{nullptr};  // W1
  torch::nn::Linear attention_decoder_{nullptr};  // W2
  torch::nn::Linear attention_score_{nullptr};    // v
  torch::nn::Linear output_{nullptr};
  torch::nn::Linear value_{nullptr};
};
TORCH_MODULE(Seq2SeqNet);

// The network's settings as a saved policy's policy.json holds them (hidden, op_embedding, device_embedding,
// attention, bidirectional, temperature, logit_clip, value_head), every size bounded; Error naming `source`.
Seq2SeqConfig ReadSeq2SeqConfig(const nlohmann::json& j, const std::string& source);
// The same fields into `j` (what ReadSeq2SeqConfig reads back).
void WriteSeq2SeqConfig(const Seq2SeqConfig& config, nlohmann::ordered_json& j);

}  // namespace allot::rl
