#include "rl/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/error.h"

namespace allot::rl {

CrossEntropy::CrossEntropy(Policy& policy, const CrossEntropyConfig& config, std::unique_ptr<Algorithm> between)
    : policy_(policy), config_(config), between_(std::move(between)), optimizer_(policy, config.lr, config.grad_clip) {}

std::vector<int64_t> CrossEntropy::EliteIndices(const std::vector<double>& costs, double fraction) {
  std::vector<int64_t> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return costs[a] < costs[b]; });
  const auto n = static_cast<size_t>(std::ceil(fraction * static_cast<double>(costs.size()) - 1e-9));
  order.resize(std::min(costs.size(), std::max<size_t>(1, n)));
  return order;
}

std::vector<UpdateStats> CrossEntropy::UpdateAll(const std::vector<Batch>& batches) {
  if (batches.size() != 1) throw Error("the cross-entropy method takes one graph's batch per update");
  const Batch& batch = batches[0];
  const Decoded& d = batch.decoded;
  if (window_.samples == 0) {
    window_ = Decoded{};
    window_.groups = d.groups;
    window_.decisions = d.decisions;
    window_.action_width = d.action_width;
  }
  window_.samples += d.samples;
  window_.devices.insert(window_.devices.end(), d.devices.begin(), d.devices.end());
  window_.actions.insert(window_.actions.end(), d.actions.begin(), d.actions.end());
  window_costs_.insert(window_costs_.end(), batch.costs.begin(), batch.costs.end());

  UpdateStats stats;
  double mean = 0;
  for (double c : batch.costs) mean += c;
  stats.mean_cost = mean / static_cast<double>(batch.costs.size());
  stats.entropy = d.entropy.mean().item<double>();
  if (window_.samples < config_.every) {
    if (between_) return {between_->Update(batch)};
    return {stats};
  }
  const Decoded elite = window_.Select(EliteIndices(window_costs_, config_.elite));
  if (!policy_.FitElite(elite, config_.mix)) {
    for (int64_t epoch = 0; epoch < config_.epochs; ++epoch) {
      const at::Tensor loss = -policy_.Evaluate(elite).log_prob.mean();
      optimizer_.Step(loss);
      if (epoch == 0) stats.loss = loss.item<double>();
    }
  }
  window_ = Decoded{};
  window_costs_.clear();
  return {stats};
}

void CrossEntropy::SetLearningRate(double lr) {
  optimizer_.SetLearningRate(lr);
  if (between_) between_->SetLearningRate(lr);
}

void CrossEntropy::Save(ArchiveWriter archive) const {
  optimizer_.Save(archive, "ce_optimizer");
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  archive.PutTensor("window_shape", at::tensor(std::vector<int64_t>{window_.samples, window_.groups, window_.decisions,
                                                                window_.action_width}, i64));
  archive.PutTensor("window_devices", at::tensor(window_.devices, i64));
  archive.PutTensor("window_actions", at::tensor(window_.actions, i64));
  archive.PutTensor("window_costs", at::tensor(window_costs_, at::TensorOptions().dtype(at::kDouble)));
  if (between_) between_->Save(archive.Scope("between"));
}

void CrossEntropy::Load(const ArchiveReader& archive, const std::string& source) {
  optimizer_.Load(archive, "ce_optimizer", source);
  auto read = [&](const char* key, at::ScalarType type) {
    const at::Tensor t = archive.GetTensor(key);
    if (t.scalar_type() != type || t.dim() != 1) throw Error(source + ": '" + key + "' is not a 1-d tensor of its type");
    return t.contiguous();
  };
  const at::Tensor shape = read("window_shape", at::kLong), devices = read("window_devices", at::kLong),
                   actions = read("window_actions", at::kLong), costs = read("window_costs", at::kDouble);
  if (shape.numel() != 4) throw Error(source + ": malformed cross-entropy window");
  const int64_t* s = shape.data_ptr<int64_t>();
  const int64_t n = s[0];
  if (n < 0 || n > config_.every + (int64_t{1} << 20) || costs.numel() != n ||
      (n > 0 && (s[1] != static_cast<int64_t>(policy_.decision_groups().num_groups()) || devices.numel() != n * s[1] ||
                 actions.numel() != n * s[3])))
    throw Error(source + ": the cross-entropy window does not fit this policy");
  window_ = Decoded{};
  window_.samples = n;
  window_.groups = s[1];
  window_.decisions = s[2];
  window_.action_width = s[3];
  window_.devices.assign(devices.data_ptr<int64_t>(), devices.data_ptr<int64_t>() + devices.numel());
  window_.actions.assign(actions.data_ptr<int64_t>(), actions.data_ptr<int64_t>() + actions.numel());
  window_costs_.assign(costs.data_ptr<double>(), costs.data_ptr<double>() + costs.numel());
  policy_.CheckActions(window_, source);
  if (between_) between_->Load(archive.Scope("between"), source);
}

std::string CrossEntropy::Fingerprint() const {
  return "algorithm=ce;elite=" + FingerprintNumber(config_.elite) + ";every=" + std::to_string(config_.every) +
         ";mix=" + FingerprintNumber(config_.mix) + ";ce_lr=" + FingerprintNumber(config_.lr) +
         ";ce_epochs=" + std::to_string(config_.epochs) + (between_ ? ";" + between_->Fingerprint() : "");
}

}  // namespace allot::rl
