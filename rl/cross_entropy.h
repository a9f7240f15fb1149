#pragma once
// The cross-entropy method (Rubinstein; as Post uses it, Gao et al., NeurIPS 2018, REFERENCES Part I §4): keep the
// last `every` samples; once that many have arrived, refit the policy to the elite fraction of them (lowest cost;
// Post's reviewers: the top 10%) and start a new window. A policy with a closed form (Post's product of
// categoricals, Policy::FitElite) takes it: per-decision frequencies among the elites, mixed with uniform by
// `mix`. Any other policy takes `epochs` Adam steps on the elites' negative log-likelihood, mean_elite(-log π)
// (the cross-entropy objective for a parametric policy).
//
// `between` (optional) is the algorithm run on every other batch, so Post is CE + PPO: "every K samples, when n is
// not also a multiple of N, PPO steps; every N samples, the CE refit" (Post's Algorithm 1). Without it, batches
// between refits only fill the window.
#include <memory>

#include "rl/algorithm.h"

namespace allot::rl {

struct CrossEntropyConfig {
  double elite = 0.1;   // elite fraction (at least one sample)
  int64_t every = 160;  // samples per refit window (Post's N); rounded up to whole batches
  double mix = 0.05;    // ε: weight of the uniform distribution mixed into a closed-form refit (Post: not given)
  // The gradient refit, for policies without a closed form.
  double lr = 0.001;
  int64_t epochs = 4;
  double grad_clip = 1.0;
};

class CrossEntropy : public Algorithm {
 public:
  CrossEntropy(Policy& policy, const CrossEntropyConfig& config, std::unique_ptr<Algorithm> between = nullptr);

  // One batch only: the elite window follows one graph's samples.
  std::vector<UpdateStats> UpdateAll(const std::vector<Batch>& batches) override;
  void SetLearningRate(double lr) override;
  void Save(ArchiveWriter archive) const override;
  void Load(const ArchiveReader& archive, const std::string& source) override;
  std::string Fingerprint() const override;

  // Indices of the elite samples of `costs`: the ceil(fraction · n) lowest (at least one; ties: lower index).
  static std::vector<int64_t> EliteIndices(const std::vector<double>& costs, double fraction);

 private:
  Policy& policy_;
  CrossEntropyConfig config_;
  std::unique_ptr<Algorithm> between_;
  PolicyOptimizer optimizer_;
  // The current window's samples.
  Decoded window_;
  std::vector<double> window_costs_;
};

}  // namespace allot::rl
