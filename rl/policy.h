#pragma once
// The interface every learned placement policy implements, whatever its network: seq2seq (ColocRL), spotlight's
// seq2seq with a value head, hierarchical (HDP's Grouper + Placer), categorical (Post). The trainer
// (rl/trainer.h) and the learning algorithms (rl/algorithm.h) see only this, so a new learned placer is a policy
// file plus, where it needs one, an algorithm file (rl/learned_placers.cc lists the combinations).
//
// A policy decides over *decision units* (`decision_groups()`, a partition of the nodes that refines nothing the
// problem forces: each forced co-location group lies in one unit) and chooses for each a device among
// `decision_map().devices` (rl/features.h). A placement is therefore one device index per unit; how the policy
// arrived at it (e.g. HDP's sampled grouping) is its `actions`, which Evaluate() scores again under the current
// parameters (PPO's ratio, CE's likelihood).
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "rl/features.h"

namespace allot::rl {

// K sampled (or decoded) placements and what the algorithms need of them.
struct Decoded {
  int64_t samples = 0;
  int64_t groups = 0;             // decision units per sample
  int64_t decisions = 0;          // choices per sample (= groups, or units + groups for HDP); the entropy bonus's scale
  int64_t action_width = 0;       // actions per sample
  std::vector<int64_t> devices;   // [samples * groups]: a device index per unit, row-major
  std::vector<int64_t> actions;   // [samples * action_width]: the policy's choices (seq2seq, Post: = devices)
  at::Tensor log_prob;            // [samples]: log π(actions); differentiable unless decoded under no-grad
  at::Tensor entropy;             // [samples]: mean over decisions of each choice's entropy (nats); differentiable
  at::Tensor step_log_prob;       // [samples, decisions]: per-decision log π, the stages of Spotlight's MDP
  at::Tensor value;               // [samples, decisions] predicted cost per stage, or undefined (no value head)
  // [samples * decisions]: progressive policies' (Placeto's) return from each step on, in cost units (positive: the
  // moves from that step on lowered the cost); empty for one-shot policies.
  std::vector<double> step_returns;
  int64_t device(int64_t sample, int64_t group) const { return devices[sample * groups + group]; }
  const int64_t* actions_of(int64_t sample) const { return actions.data() + sample * action_width; }
  // The samples `which`, with their actions only (the tensors are left undefined): what Evaluate() re-scores.
  Decoded Select(const std::vector<int64_t>& which) const;
};

class Policy {
 public:
  virtual ~Policy() = default;

  // The registered placer name whose network this is ("seq2seq", "hierarchical", ...).
  virtual std::string_view kind() const = 0;
  const CoarseGraph& decision_groups() const { return decision_; }
  const DecisionMap& decision_map() const { return map_; }
  int64_t num_devices() const { return static_cast<int64_t>(map_.devices.size()); }

  // `samples` placements drawn from the policy with `rng` (and nothing else random), with logit noise of std
  // `logit_noise` x RMS(logits) where the policy supports HDP's exploration noise.
  virtual Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) = 0;
  // The most likely placement, decision by decision (ties: the lower index).
  virtual Decoded Greedy() = 0;
  // `batch`'s actions scored under the current parameters: log_prob, entropy, step_log_prob (and value), all
  // differentiable; devices and actions copied.
  virtual Decoded Evaluate(const Decoded& batch) = 0;
  // The cross-entropy method's refit in closed form, where the policy has one (Post's product of categoricals):
  // the maximum-likelihood policy of the `elite` samples' actions, mixed with uniform by `mix`. False: no closed
  // form (the CE algorithm then takes gradient steps on the elites' log-likelihood).
  virtual bool FitElite(const Decoded& elite, double mix);
  // Throws Error naming `source` unless `d`'s actions and devices are ones this policy could have produced (a
  // checkpoint's sample window is read back; the default: actions equal devices, each a device index).
  virtual void CheckActions(const Decoded& d, const std::string& source) const;
  // Seconds this policy has spent in the simulator itself, so far: Placeto's episodes re-simulate after every
  // move, which the trainer counts as scoring, not as policy time.
  virtual double simulation_seconds() const { return 0; }

  virtual torch::nn::Module& module() = 0;
  std::vector<at::Tensor> parameters() { return module().parameters(); }
  // Re-initialises every parameter from `seed` (no global or torch generator involved).
  virtual void ResetParameters(uint64_t seed) = 0;
  // What a saved policy needs to rebuild this network over the same graph (the decision grouping and sizes), as
  // written into policy.json; LoadPolicy (rl/learned_placers.h) reads it back.
  virtual nlohmann::ordered_json Config() const = 0;

 protected:
  CoarseGraph decision_;
  DecisionMap map_;
};

// Inverse-CDF draw from `row` (D probabilities, summing to about 1) with one uniform number `u`; never an index
// whose probability is 0. Shared by every policy, so all sample the same way.
int64_t DrawIndex(const float* row, int64_t D, double u);
int64_t ArgMax(const float* row, int64_t D);

// Policies that choose every unit's device independently (Post's categoricals, GDP's one-shot network), from
// [units, devices] tables:
// - DrawIndependent: from probabilities, `samples` placements drawn unit-major (units x samples uniform draws of
//   `rng`), or the most likely device per unit once when `rng` is null;
// - ScoreIndependent: `devices` ([samples * units]) scored under log-probabilities: per-unit log-probabilities,
//   their sum, and the mean per-unit entropy (the same for every sample), differentiable through `log_prob`.
std::vector<int64_t> DrawIndependent(const at::Tensor& probabilities, int64_t samples, std::mt19937_64* rng);
Decoded ScoreIndependent(const at::Tensor& log_prob, int64_t samples, std::vector<int64_t> devices);

// A uniform double in [0, 1) from the top 53 bits of one draw: the same sequence on every platform and library
// (std::uniform_real_distribution is implementation-defined).
inline double UniformDouble(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
// A standard normal from two UniformDouble draws (Box-Muller, cosine branch): portable, like UniformDouble.
double NormalDouble(std::mt19937_64& rng);
// Fills `tensor` (float) with uniform values in ±bound drawn from `rng`, in storage order.
void FillUniform(at::Tensor& tensor, double bound, std::mt19937_64& rng);
// Initialisation of a module made of Linear and LayerNorm layers, drawn from `seed`. kPyTorch (PyTorch's default):
// a matrix and the bias after it uniform in ±1/sqrt(fan-in). kGlorot (TensorFlow's default, which the TF reference
// codes ran with): a matrix uniform in ±sqrt(6/(fan-in + fan-out)), its bias 0; through a deep ReLU stack it keeps
// about three times the signal per layer. Either way a vector weight (LayerNorm's gain) is 1 and its bias 0.
enum class LinearInit { kPyTorch, kGlorot };
void InitLinearLayers(torch::nn::Module& module, uint64_t seed, LinearInit init = LinearInit::kPyTorch);

}  // namespace allot::rl
