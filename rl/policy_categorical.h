#pragma once
// Post's policy (Gao et al., NeurIPS 2018; REFERENCES Part I §4 "Policy representation"): one categorical
// distribution over the devices per decision unit, f(d_g | u_g) = softmax(u_g), independent across units, with
// every u starting at 0 (uniform). No network: PPO moves u by gradient, the cross-entropy method sets it in closed
// form (FitElite: the per-unit device frequencies among the elite samples, mixed with uniform).
//
// Decision units: as seq2seq's (rl/features.h DecisionGroups). Post decides per op or op group; the paper's
// groups are not specified, so allot uses the same co-location groups as the seq2seq family, which keeps the
// comparison between them about the learning method alone.
#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "placers/placer.h"
#include "rl/policy.h"

namespace allot::rl {

struct CategoricalConfig {
  size_t max_groups = 128;
  bool fuse_chains = true;
  bool gpu_only = true;
};

class CategoricalPolicy : public Policy {
 public:
  CategoricalPolicy(const PlacementProblem& problem, const CategoricalConfig& config);

  std::string_view kind() const override { return "post"; }
  // Draws samples x units uniform numbers, unit-major (as the seq2seq network does). No logit noise: the uniform
  // mixing of the CE refit is Post's exploration.
  Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) override;
  Decoded Greedy() override;
  Decoded Evaluate(const Decoded& batch) override;
  bool FitElite(const Decoded& elite, double mix) override;
  torch::nn::Module& module() override { return module_; }
  // u = 0 (uniform), whatever the seed: Post's start.
  void ResetParameters(uint64_t seed) override;
  nlohmann::ordered_json Config() const override;

  // [units, devices] probabilities (no grad).
  at::Tensor Probabilities() const;

 private:
  Decoded Score(int64_t samples, std::vector<int64_t> devices);

  CategoricalConfig config_;
  torch::nn::Module module_;
  at::Tensor logits_;  // u: [units, devices], a parameter of module_
};

std::unique_ptr<Policy> LoadCategoricalPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                              const std::string& source);

}  // namespace allot::rl
