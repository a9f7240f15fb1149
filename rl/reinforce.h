#pragma once
// REINFORCE with a moving-average baseline, as ColocRL and HDP train their placers (REFERENCES Part I §1
// "Training", §2 "Loss, exactly as coded", §7.1):
//   cost     c = sqrt(step time in seconds); an invalid placement (out of memory) counts as a 100 s step, cost 10;
//   baseline b: an exponential moving average of the batch's mean cost, decay 0.9. It starts at the first
//            batch's mean cost (HDP's code starts at the failing cost 10 instead; starting at the first batch
//            gives an unbiased first update rather than one that rewards every sample);
//   loss     mean_k((c_k - b) · log π(placement_k)) - entropy · mean_k(Σ_g H_kg), H_kg group g's entropy;
//            minimising it lowers the probability of placements slower than the baseline. The entropy bonus is
//            ours (both papers use none; default 0);
//   update   Adam, gradients clipped to global norm 1.0 (HDP's grad_bound), then b <- 0.9 b + 0.1 mean_k(c_k).
// Not done: HDP's masking of failing samples after 1000 steps (ColocRL's paper gives none). HDP's lr decay: the
// trainer's lr_decay* settings (rl/trainer.h), through SetLearningRate.
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <vector>

#include "rl/policy_seq2seq.h"

namespace allot::rl {

inline constexpr double kInvalidStepTime = 100.0;  // seconds, HDP code's failing_signal

// sqrt(step time), or sqrt(kInvalidStepTime) for an invalid placement.
double PlacementCost(double step_time, bool valid);

struct ReinforceConfig {
  double lr = 0.001;
  // Entropy bonus weight. The loss term is entropy · Σ_groups H_g (a sum, like the log-probability it balances;
  // the reported UpdateStats::entropy is the mean per group), so a weight means the same for 20 or 256 groups.
  double entropy = 0.0;
  // Advantage normalisation within the batch of K samples: A_k = (c_k - b) / (std_k(c) + 1e-6 · b), with b the
  // EMA baseline as above. Not in either paper (HDP codes plain c_k - b); standard REINFORCE practice (e.g.
  // GRPO's per-group scaling). It makes the policy-gradient term's scale independent of how much the step times
  // of a batch differ, so the entropy bonus and the learning rate keep one meaning as the policy sharpens.
  bool normalize = false;
  double baseline_decay = 0.9;
  double grad_clip = 1.0;  // global norm; 0: off
};

struct UpdateStats {
  double loss = 0;
  double mean_cost = 0;
  double baseline = 0;  // the one the update used
  double entropy = 0;   // mean over samples of the mean per-group entropy
};

class Reinforce {
 public:
  Reinforce(Seq2SeqPolicy policy, const ReinforceConfig& config);

  // One policy-gradient step from K decoded samples and their costs.
  UpdateStats Update(const Decoded& decoded, const std::vector<double>& costs);

  void SetLearningRate(double lr);

  double baseline() const { return baseline_; }
  bool has_baseline() const { return has_baseline_; }

  // Optimizer state and baseline (the policy's parameters are saved by the caller).
  void Save(torch::serialize::OutputArchive& archive) const;
  // Throws Error naming `source` when the optimizer state does not fit the policy (rl/checked_load.h).
  void Load(torch::serialize::InputArchive& archive, const std::string& source);

 private:
  Seq2SeqPolicy policy_;
  ReinforceConfig config_;
  torch::optim::Adam optimizer_;
  double baseline_ = 0;
  bool has_baseline_ = false;
};

}  // namespace allot::rl
