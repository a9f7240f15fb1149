#pragma once
// REINFORCE with a moving-average baseline, as ColocRL and HDP train their placers (REFERENCES Part I §1
// "Training", §2 "Loss, exactly as coded", §7.1):
//   loss     mean_k(A_k · log π(actions_k)) - entropy · decisions · mean_k(H_k), A_k the cost advantage
//            (rl/algorithm.h: c_k - b, optionally normalised), H_k the mean entropy per decision; minimising it
//            lowers the probability of placements slower than the baseline. The entropy bonus is ours (both papers
//            use none; default 0); it is scaled by the decisions per sample so a weight means the same for 20 or
//            256 groups;
//   update   Adam, gradients clipped to global norm 1.0 (HDP's grad_bound), then the EMA baseline (decay 0.9).
// HDP's masking of failing samples (its code: after stop_updating_after_steps = 1000; the paper: 500): from update
// `mask_invalid_after` on, invalid samples get no gradient and the baseline follows the valid samples' mean only
// (0: never, ColocRL). HDP's lr decay: the trainer's lr_decay* settings (rl/trainer.h), through SetLearningRate.
#include "rl/algorithm.h"

namespace allot::rl {

struct ReinforceConfig {
  double lr = 0.001;
  double entropy = 0.0;
  bool normalize = false;  // rl/algorithm.h Advantages
  double baseline_decay = 0.9;
  double grad_clip = 1.0;  // global norm; 0: off
  int64_t mask_invalid_after = 0;
};

class Reinforce : public Algorithm {
 public:
  Reinforce(Policy& policy, const ReinforceConfig& config);

  std::vector<UpdateStats> UpdateAll(const std::vector<Batch>& batches) override;
  void SetLearningRate(double lr) override { optimizer_.SetLearningRate(lr); }
  void Save(ArchiveWriter archive) const override;
  void Load(const ArchiveReader& archive, const std::string& source) override;
  std::string Fingerprint() const override;

 private:
  ReinforceConfig config_;
  PolicyOptimizer optimizer_;
  TaskBaselines baselines_;
};

}  // namespace allot::rl
