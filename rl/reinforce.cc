#include "rl/reinforce.h"

namespace allot::rl {

Reinforce::Reinforce(Policy& policy, const ReinforceConfig& config)
    : config_(config), optimizer_(policy, config.lr, config.grad_clip), baselines_(config.baseline_decay) {}

std::vector<UpdateStats> Reinforce::UpdateAll(const std::vector<Batch>& batches) {
  TORCH_CHECK(!batches.empty(), "an update needs a batch");
  std::vector<UpdateStats> stats(batches.size());
  std::vector<int64_t> counted(batches.size(), 0);
  at::Tensor loss;
  for (size_t b = 0; b < batches.size(); ++b) {
    const Batch& batch = batches[b];
    const Decoded& decoded = batch.decoded;
    TORCH_CHECK(static_cast<int64_t>(batch.costs.size()) == decoded.samples, "one cost per sample");
    const bool masking = config_.mask_invalid_after > 0 && batch.step >= config_.mask_invalid_after;
    EmaBaseline& ema = baselines_.of(batch.task);
    double mean = 0;
    for (size_t k = 0; k < batch.costs.size(); ++k)
      if (!masking || batch.valid[k]) {
        mean += batch.costs[k];
        ++counted[b];
      }
    mean = counted[b] > 0 ? mean / static_cast<double>(counted[b]) : ema.value();
    const double baseline = ema.Before(mean);
    const std::vector<float> advantage = Advantages(batch.costs, baseline, config_.normalize, masking ? &batch.valid : nullptr);
    const at::Tensor adv = at::tensor(advantage, at::TensorOptions().dtype(at::kFloat));
    const at::Tensor entropy = decoded.entropy.mean();
    at::Tensor batch_loss = (adv * decoded.log_prob).mean();
    if (config_.entropy != 0) batch_loss = batch_loss - config_.entropy * static_cast<double>(decoded.decisions) * entropy;
    loss = b == 0 ? batch_loss : loss + batch_loss;
    stats[b].loss = batch_loss.item<double>();
    stats[b].mean_cost = mean;
    stats[b].baseline = baseline;
    stats[b].entropy = entropy.item<double>();
  }
  if (batches.size() > 1) loss = loss / static_cast<double>(batches.size());
  optimizer_.Step(loss);
  for (size_t b = 0; b < batches.size(); ++b)
    if (counted[b] > 0) baselines_.of(batches[b].task).After(stats[b].mean_cost);
  return stats;
}

void Reinforce::Save(ArchiveWriter archive) const {
  optimizer_.Save(archive, "optimizer");
  baselines_.Save(archive);
}

void Reinforce::Load(const ArchiveReader& archive, const std::string& source) {
  optimizer_.Load(archive, "optimizer", source);
  baselines_.Load(archive, source);
}

std::string Reinforce::Fingerprint() const {
  return "algorithm=reinforce;lr=" + FingerprintNumber(config_.lr) + ";entropy=" + FingerprintNumber(config_.entropy) +
         ";baseline_decay=" + FingerprintNumber(config_.baseline_decay) + ";grad_clip=" +
         FingerprintNumber(config_.grad_clip) + ";normalize=" + std::to_string(config_.normalize) +
         ";mask_invalid_after=" + std::to_string(config_.mask_invalid_after);
}

}  // namespace allot::rl
