#include "rl/progressive_reinforce.h"

#include <cmath>

#include "graph/error.h"

namespace allot::rl {

ProgressiveReinforce::ProgressiveReinforce(Policy& policy, const ProgressiveReinforceConfig& config)
    : config_(config), optimizer_(policy, config.lr, config.grad_clip) {}

std::vector<UpdateStats> ProgressiveReinforce::UpdateAll(const std::vector<Batch>& batches) {
  TORCH_CHECK(!batches.empty(), "an update needs a batch");
  std::vector<UpdateStats> stats(batches.size());
  at::Tensor loss;
  for (size_t b = 0; b < batches.size(); ++b) {
    const Batch& batch = batches[b];
    const Decoded& d = batch.decoded;
    const int64_t K = d.samples, S = d.decisions;
    TORCH_CHECK(static_cast<int64_t>(d.step_returns.size()) == K * S, "progressive episodes carry a return per step");
    const std::deque<std::vector<double>>& history = history_[batch.task];
    std::vector<double> baseline(static_cast<size_t>(S), 0.0);
    if (history.empty()) {
      for (int64_t k = 0; k < K; ++k)
        for (int64_t t = 0; t < S; ++t) baseline[t] += d.step_returns[k * S + t] / static_cast<double>(K);
    } else {
      for (const std::vector<double>& episode : history) {
        TORCH_CHECK(static_cast<int64_t>(episode.size()) == S, "a baseline episode of another graph");
        for (int64_t t = 0; t < S; ++t) baseline[t] += episode[t] / static_cast<double>(history.size());
      }
    }
    std::vector<float> advantage(static_cast<size_t>(K * S));
    double mean = 0, var = 0;
    for (int64_t i = 0; i < K * S; ++i) {
      advantage[i] = static_cast<float>(d.step_returns[i] - baseline[i % S]);
      mean += advantage[i];
    }
    mean /= static_cast<double>(std::max<int64_t>(1, K * S));
    for (float a : advantage) var += (a - mean) * (a - mean);
    const double scale = config_.normalize ? 1.0 / (std::sqrt(var / static_cast<double>(std::max<int64_t>(1, K * S))) + 1e-9) : 1.0;
    for (float& a : advantage) a = static_cast<float>(a * scale);

    const at::Tensor adv = at::tensor(advantage, at::TensorOptions().dtype(at::kFloat)).view({K, S});
    const at::Tensor entropy = d.entropy.mean();
    at::Tensor batch_loss = -(adv * d.step_log_prob).sum(1).mean();
    if (config_.entropy != 0) batch_loss = batch_loss - config_.entropy * static_cast<double>(S) * entropy;
    loss = b == 0 ? batch_loss : loss + batch_loss;
    stats[b].loss = batch_loss.item<double>();
    for (double c : batch.costs) stats[b].mean_cost += c / static_cast<double>(K);
    stats[b].baseline = S > 0 ? baseline[0] : 0.0;
    stats[b].entropy = entropy.item<double>();
  }
  if (batches.size() > 1) loss = loss / static_cast<double>(batches.size());
  optimizer_.Step(loss);

  for (const Batch& batch : batches) {
    const Decoded& d = batch.decoded;
    const int64_t K = d.samples, S = d.decisions;
    std::deque<std::vector<double>>& history = history_[batch.task];
    for (int64_t k = 0; k < K; ++k) {
      history.emplace_back(d.step_returns.begin() + k * S, d.step_returns.begin() + (k + 1) * S);
      while (static_cast<int64_t>(history.size()) > config_.window) history.pop_front();
    }
  }
  return stats;
}

void ProgressiveReinforce::Save(ArchiveWriter archive) const {
  optimizer_.Save(archive, "optimizer");
  std::vector<int64_t> tasks;
  for (const auto& [task, episodes] : history_) {
    tasks.push_back(task);
    std::vector<double> flat;
    for (const std::vector<double>& e : episodes) flat.insert(flat.end(), e.begin(), e.end());
    const int64_t n = static_cast<int64_t>(episodes.size());
    archive.PutTensor("returns_" + std::to_string(task),
                  at::tensor(flat, at::TensorOptions().dtype(at::kDouble)).view({n, n > 0 ? static_cast<int64_t>(flat.size()) / n : 0}));
  }
  archive.PutTensor("return_tasks", at::tensor(tasks, at::TensorOptions().dtype(at::kLong)));
}

void ProgressiveReinforce::Load(const ArchiveReader& archive, const std::string& source) {
  optimizer_.Load(archive, "optimizer", source);
  at::Tensor tasks = archive.GetTensor("return_tasks");
  if (tasks.scalar_type() != at::kLong || tasks.dim() != 1) throw Error(source + ": the baselines' graphs are malformed");
  history_.clear();
  tasks = tasks.contiguous();
  for (int64_t i = 0; i < tasks.numel(); ++i) {
    const int64_t task = tasks.data_ptr<int64_t>()[i];
    at::Tensor returns = archive.GetTensor("returns_" + std::to_string(task));
    if (returns.scalar_type() != at::kDouble || returns.dim() != 2 || returns.size(0) > config_.window)
      throw Error(source + ": the per-step baselines of graph " + std::to_string(task) + " are malformed");
    returns = returns.contiguous();
    auto& episodes = history_[task];
    for (int64_t e = 0; e < returns.size(0); ++e)
      episodes.emplace_back(returns.data_ptr<double>() + e * returns.size(1), returns.data_ptr<double>() + (e + 1) * returns.size(1));
  }
}

std::string ProgressiveReinforce::Fingerprint() const {
  return "algorithm=progressive_reinforce;lr=" + FingerprintNumber(config_.lr) + ";entropy=" +
         FingerprintNumber(config_.entropy) + ";window=" + std::to_string(config_.window) + ";normalize=" +
         std::to_string(config_.normalize) + ";grad_clip=" + FingerprintNumber(config_.grad_clip);
}

}  // namespace allot::rl
