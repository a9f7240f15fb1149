#pragma once
// Proximal policy optimisation (Schulman et al. 2017) over placement decisions, as Spotlight (Gao et al., ICML
// 2018; REFERENCES Part I §3) and Post (NeurIPS 2018; §4) use it. Placement is a multi-stage MDP: stage i chooses
// decision i's device (or group) given the choices before it, and the only reward is the terminal one, the cost
// of the whole placement. For each batch of K samples, E epochs of
//   loss = mean_k Σ_i max(r_ki A_ki, clip(r_ki, 1 - ε, 1 + ε) A_ki)
//          - entropy · decisions · mean_k H_k + value_coef · mean_ki (V_ki - Â_k)²
// with r_ki = π(a_ki | s_ki) / π_old(a_ki | s_ki) (π_old: the policy that sampled the batch), Â_k = (c_k - b)·s
// the cost advantage against the EMA baseline b (rl/algorithm.h Advantages; positive = worse, so the max is PPO's
// pessimistic min on rewards) and, with a learned value head (the policy's `value`, spotlight), A_ki = Â_k - V_ki:
// the head predicts, from decoder state i, how much worse than the baseline the placement will end up, so the
// choices already made stop counting in stage i's advantage (a per-stage baseline). Without a head, A_ki = Â_k.
// The head regresses the centred, scaled cost rather than the raw one: a raw cost (sqrt seconds) is a constant
// plus differences a thousand times smaller, which a freshly initialised head misses by more than the batch's
// spread, turning every advantage into noise; centred, a zero head is exactly REINFORCE's baseline.
// Summing over stages (not averaging) makes the first epoch's gradient exactly REINFORCE's.
//
// The papers give no ε, E or learning rate (REFERENCES §3, §7.4): ε = 0.2 and E = 4 are PPO's usual defaults,
// recorded here as ours.
// `entropy_target` (ours, as SAC tunes its temperature): instead of a fixed bonus weight, each graph's weight α
// starts at `entropy` and follows log α += rate · (target - H) / target after every update, H the batch's mean
// entropy per decision, so the policy keeps about `target` nats of exploration per unit. A fixed weight has a
// narrow useful band: on gdp's nas_cnn graphs 0.03 collapses to under 0.02 nats within ~100 updates and 0.1 stays
// near uniform (README), and a weight right for one graph of a multi-graph run is wrong for another. The weight
// integrates the deficit, and a saturated softmax's entropy hardly responds to it, so the entropy swings through
// the target rather than settling on it (RlPpoTest.AnEntropyTargetBringsBack...: ~300 updates a period on a toy). The first epoch reuses the sampling pass's autograd graph (r = 1 there); later epochs
// re-score the batch with Policy::Evaluate (without logit noise: the exploration noise belongs to sampling).
#include "rl/algorithm.h"

namespace allot::rl {

struct PpoConfig {
  double lr = 0.001;
  double clip = 0.2;       // ε
  int64_t epochs = 4;      // E
  double entropy = 0.0;
  bool normalize = true;
  double value_coef = 0.5; // weight of the value head's squared error (when the policy has one)
  double baseline_decay = 0.9;
  double grad_clip = 1.0;
  bool batch_baseline = false;  // the batch's mean cost as baseline instead of the EMA (rl/ppo.cc says why)
  double entropy_target = 0;    // nats per decision held by adapting the weight per graph (above); 0: fixed weight
  double entropy_rate = 0.05;   // log α's step per update at H = 0
};

class Ppo : public Algorithm {
 public:
  Ppo(Policy& policy, const PpoConfig& config);

  std::vector<UpdateStats> UpdateAll(const std::vector<Batch>& batches) override;
  void SetLearningRate(double lr) override { optimizer_.SetLearningRate(lr); }
  void Save(ArchiveWriter archive) const override;
  void Load(const ArchiveReader& archive, const std::string& source) override;
  std::string Fingerprint() const override;

  // The clipped surrogate of one epoch: mean_k Σ_i max(r A, clip(r) A) for new and old per-stage log-probabilities
  // [K, S] and cost advantages [K, S] (exposed for its test).
  static at::Tensor ClippedSurrogate(const at::Tensor& log_prob, const at::Tensor& old_log_prob,
                                     const at::Tensor& advantage, double clip);

 private:
  Policy& policy_;
  PpoConfig config_;
  // The entropy weight of graph `task` (config_.entropy until it adapts).
  double EntropyWeight(int64_t task) const;

  PolicyOptimizer optimizer_;
  TaskBaselines baselines_;
  std::vector<double> log_entropy_weight_;  // per graph, with entropy_target; NaN: not adapted yet
};

}  // namespace allot::rl
