#include "rl/reinforce.h"

#include <torch/nn/utils/clip_grad.h>

#include <cmath>

#include "graph/error.h"
#include "rl/checked_load.h"

namespace allot::rl {

double PlacementCost(double step_time, bool valid) {
  return std::sqrt(valid ? std::max(0.0, step_time) : kInvalidStepTime);
}

Reinforce::Reinforce(Seq2SeqPolicy policy, const ReinforceConfig& config)
    : policy_(std::move(policy)),
      config_(config),
      optimizer_(policy_->parameters(), torch::optim::AdamOptions(config.lr)) {}

UpdateStats Reinforce::Update(const Decoded& decoded, const std::vector<double>& costs) {
  TORCH_CHECK(static_cast<int64_t>(costs.size()) == decoded.samples, "one cost per sample");
  UpdateStats stats;
  double mean = 0;
  for (double c : costs) mean += c;
  mean /= static_cast<double>(costs.size());
  if (!has_baseline_) {
    baseline_ = mean;
    has_baseline_ = true;
  }
  double scale = 1.0;
  if (config_.normalize) {
    double var = 0;
    for (double c : costs) var += (c - mean) * (c - mean);
    var /= static_cast<double>(costs.size());
    scale = 1.0 / (std::sqrt(var) + 1e-6 * std::abs(baseline_) + 1e-12);
  }
  std::vector<float> advantage(costs.size());
  for (size_t k = 0; k < costs.size(); ++k) advantage[k] = static_cast<float>((costs[k] - baseline_) * scale);
  const at::Tensor adv = at::tensor(advantage, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor entropy = decoded.entropy.mean();
  at::Tensor loss = (adv * decoded.log_prob).mean();
  if (config_.entropy != 0) loss = loss - config_.entropy * static_cast<double>(decoded.groups) * entropy;

  if (loss.requires_grad()) {  // false only for a graph without groups
    optimizer_.zero_grad();
    loss.backward();
    if (config_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(policy_->parameters(), config_.grad_clip);
    optimizer_.step();
  }

  stats.loss = loss.item<double>();
  stats.mean_cost = mean;
  stats.baseline = baseline_;
  stats.entropy = entropy.item<double>();
  baseline_ = config_.baseline_decay * baseline_ + (1.0 - config_.baseline_decay) * mean;
  return stats;
}

void Reinforce::SetLearningRate(double lr) {
  for (auto& group : optimizer_.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

void Reinforce::Save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive adam;
  optimizer_.save(adam);
  archive.write("optimizer", adam);
  archive.write("baseline", c10::IValue(baseline_));
  archive.write("has_baseline", c10::IValue(has_baseline_));
}

void Reinforce::Load(torch::serialize::InputArchive& archive, const std::string& source) {
  torch::serialize::InputArchive adam;
  archive.read("optimizer", adam);
  optimizer_.load(adam);
  CheckAdamState(optimizer_, source);
  c10::IValue v;
  archive.read("baseline", v);
  baseline_ = v.toDouble();
  if (!std::isfinite(baseline_)) throw Error(source + ": the reward baseline is not finite");
  archive.read("has_baseline", v);
  has_baseline_ = v.toBool();
}

}  // namespace allot::rl
