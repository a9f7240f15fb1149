#include "rl/algorithm.h"

#include <torch/nn/utils/clip_grad.h>

#include <cmath>
#include <cstdio>

#include "graph/error.h"
#include "rl/checked_load.h"

namespace allot::rl {

double PlacementCost(double step_time, bool valid) {
  return std::sqrt(valid ? std::max(0.0, step_time) : kInvalidStepTime);
}

UpdateStats Algorithm::Update(const Batch& batch) { return UpdateAll({batch})[0]; }

std::string FingerprintNumber(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double EmaBaseline::Before(double mean) {
  if (!started_) {
    value_ = mean;
    started_ = true;
  }
  return value_;
}

void EmaBaseline::Save(ArchiveWriter archive, const std::string& suffix) const {
  archive.PutDouble("baseline" + suffix, value_);
  archive.PutBool("has_baseline" + suffix, started_);
}

void EmaBaseline::Load(const ArchiveReader& archive, const std::string& source, const std::string& suffix) {
  value_ = archive.GetDouble("baseline" + suffix);
  if (!std::isfinite(value_)) throw Error(source + ": the reward baseline is not finite");
  started_ = archive.GetBool("has_baseline" + suffix);
}

EmaBaseline& TaskBaselines::of(int64_t task) {
  while (static_cast<int64_t>(baselines_.size()) <= task) baselines_.emplace_back(decay_);
  return baselines_[static_cast<size_t>(task)];
}

void TaskBaselines::Save(ArchiveWriter archive) const {
  const EmaBaseline first(decay_);
  (baselines_.empty() ? first : baselines_[0]).Save(archive);
  if (baselines_.size() > 1) archive.PutInt("baseline_tasks", static_cast<int64_t>(baselines_.size()));
  for (size_t t = 1; t < baselines_.size(); ++t) baselines_[t].Save(archive, "_" + std::to_string(t));
}

void TaskBaselines::Load(const ArchiveReader& archive, const std::string& source) {
  const int64_t tasks = archive.Has("baseline_tasks") ? archive.GetInt("baseline_tasks") : 1;
  if (tasks < 1 || tasks > (1 << 20)) throw Error(source + ": the count of reward baselines is out of range");
  baselines_.assign(static_cast<size_t>(tasks), EmaBaseline(decay_));
  for (int64_t t = 0; t < tasks; ++t) baselines_[t].Load(archive, source, t == 0 ? "" : "_" + std::to_string(t));
}

double AdvantageScale(const std::vector<double>& costs, double baseline, bool normalize) {
  if (!normalize || costs.empty()) return 1.0;
  double mean = 0, var = 0;
  for (double c : costs) mean += c;
  mean /= static_cast<double>(costs.size());
  for (double c : costs) var += (c - mean) * (c - mean);
  var /= static_cast<double>(costs.size());
  return 1.0 / (std::sqrt(var) + 1e-6 * std::abs(baseline) + 1e-12);
}

std::vector<float> Advantages(const std::vector<double>& costs, double baseline, bool normalize,
                              const std::vector<uint8_t>* mask) {
  const double scale = AdvantageScale(costs, baseline, normalize);
  std::vector<float> advantage(costs.size());
  for (size_t k = 0; k < costs.size(); ++k)
    advantage[k] = mask != nullptr && !(*mask)[k] ? 0.f : static_cast<float>((costs[k] - baseline) * scale);
  return advantage;
}

PolicyOptimizer::PolicyOptimizer(Policy& policy, double lr, double grad_clip)
    : policy_(policy), adam_(policy.parameters(), torch::optim::AdamOptions(lr)), grad_clip_(grad_clip) {}

void PolicyOptimizer::Step(const at::Tensor& loss) {
  if (!loss.requires_grad()) return;  // false only for a graph without decision units
  adam_.zero_grad();
  loss.backward();
  if (grad_clip_ > 0) torch::nn::utils::clip_grad_norm_(policy_.parameters(), grad_clip_);
  adam_.step();
}

void PolicyOptimizer::SetLearningRate(double lr) {
  for (auto& group : adam_.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

void PolicyOptimizer::Save(ArchiveWriter archive, const std::string& key) const { SaveAdam(adam_, archive.Scope(key)); }

void PolicyOptimizer::Load(const ArchiveReader& archive, const std::string& key, const std::string& source) {
  LoadAdamChecked(adam_, archive.Scope(key), source);
}

}  // namespace allot::rl
