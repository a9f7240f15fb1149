#pragma once
// The seq2seq policy family over co-location groups: ColocRL's `seq2seq` placer (Mirhoseini et al., ICML 2017)
// and Spotlight's `spotlight` (Gao et al., ICML 2018), the same network (rl/seq2seq_net.h) with a value head for
// PPO's per-stage baseline. Decision units: the problem's forced groups, with `fuse_chains` ColocRL's "an op whose
// output feeds a single consumer is merged with it", cut to at most `max_groups` contiguous runs
// (rl/features.h DecisionGroups); inputs: their features (rl/features.h).
#include <memory>
#include <string>

#include "placers/placer.h"
#include "rl/seq2seq_net.h"

namespace allot::rl {

struct Seq2SeqPolicyConfig {
  Seq2SeqConfig net;        // num_devices is set from the decision map
  size_t max_groups = 128;  // 0: no cap
  bool fuse_chains = true;
  bool gpu_only = true;     // choose among the cluster's GPUs only (rl/features.h DecisionMap)
};

class Seq2SeqPolicy : public Policy {
 public:
  // `kind`: the placer it serves ("seq2seq" or "spotlight"). The problem must outlive the policy.
  Seq2SeqPolicy(const PlacementProblem& problem, Seq2SeqPolicyConfig config, std::string kind);

  std::string_view kind() const override { return kind_; }
  Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) override;
  Decoded Greedy() override;
  Decoded Evaluate(const Decoded& batch) override;
  torch::nn::Module& module() override { return *net_; }
  void ResetParameters(uint64_t seed) override { net_->ResetParameters(seed); }
  nlohmann::ordered_json Config() const override;

  const Seq2SeqPolicyConfig& config() const { return config_; }
  const Seq2SeqInput& input() const { return input_; }

 private:
  std::string kind_;
  Seq2SeqPolicyConfig config_;
  Seq2SeqInput input_;
  Seq2SeqNet net_{nullptr};
};

// A saved seq2seq/spotlight policy's network over `problem` (parameters not loaded yet).
std::unique_ptr<Policy> LoadSeq2SeqPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                          const std::string& source, const std::string& kind);

}  // namespace allot::rl
