#pragma once
// REINFORCE over progressive episodes with Placeto's per-step baseline (Addanki et al. 2019; REFERENCES Part II §1
// "Training"; reference code model/progressive_placer.py): every step t of an episode carries its return R_t (the
// cost its moves and the later ones removed: Decoded::step_returns), and its baseline b_t is the mean return at
// step t over the last `window` episodes on the same graph (the reference's bl_n_rnds = 10; the first batch on a
// graph uses its own mean). With A_t = R_t - b_t,
//   loss = -mean_k Σ_t A_kt · log π(a_kt | s_kt) - entropy · steps · mean_k H_k
// Minimising it raises the probability of moves that gained more than usual at their step.
// Deviations: Adam with global-norm clipping as the other placers (the reference: Adam, no clipping); advantages
// divided by their standard deviation over the batch (not in the paper; the same reason as rl/algorithm.h's
// normalisation: an entropy weight keeps one meaning whatever the graph's step time); constant lr (the reference
// decays 1e-3 to 1e-4 linearly; the trainer's staircase decay is not offered here).
#include <deque>
#include <map>

#include "rl/algorithm.h"

namespace allot::rl {

struct ProgressiveReinforceConfig {
  double lr = 0.001;
  double entropy = 0.0;
  int64_t window = 10;     // episodes per step baseline
  bool normalize = true;
  double grad_clip = 1.0;
};

class ProgressiveReinforce : public Algorithm {
 public:
  ProgressiveReinforce(Policy& policy, const ProgressiveReinforceConfig& config);

  std::vector<UpdateStats> UpdateAll(const std::vector<Batch>& batches) override;
  void SetLearningRate(double lr) override { optimizer_.SetLearningRate(lr); }
  void Save(ArchiveWriter archive) const override;
  void Load(const ArchiveReader& archive, const std::string& source) override;
  std::string Fingerprint() const override;

 private:
  ProgressiveReinforceConfig config_;
  PolicyOptimizer optimizer_;
  std::map<int64_t, std::deque<std::vector<double>>> history_;  // per graph: the last episodes' returns per step
};

}  // namespace allot::rl
