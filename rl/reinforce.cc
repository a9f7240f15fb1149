#include "rl/reinforce.h"

namespace allot::rl {

Reinforce::Reinforce(Policy& policy, const ReinforceConfig& config)
    : config_(config), optimizer_(policy, config.lr, config.grad_clip), baselines_(config.baseline_decay) {}

UpdateStats Reinforce::Update(const Batch& batch) {
  const Decoded& decoded = batch.decoded;
  TORCH_CHECK(static_cast<int64_t>(batch.costs.size()) == decoded.samples, "one cost per sample");
  const bool masking = config_.mask_invalid_after > 0 && batch.step >= config_.mask_invalid_after;
  EmaBaseline& ema = baselines_.of(batch.task);
  double mean = 0;
  int64_t counted = 0;
  for (size_t k = 0; k < batch.costs.size(); ++k)
    if (!masking || batch.valid[k]) {
      mean += batch.costs[k];
      ++counted;
    }
  mean = counted > 0 ? mean / static_cast<double>(counted) : ema.value();
  UpdateStats stats;
  const double baseline = ema.Before(mean);
  const std::vector<float> advantage = Advantages(batch.costs, baseline, config_.normalize, masking ? &batch.valid : nullptr);
  const at::Tensor adv = at::tensor(advantage, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor entropy = decoded.entropy.mean();
  at::Tensor loss = (adv * decoded.log_prob).mean();
  if (config_.entropy != 0) loss = loss - config_.entropy * static_cast<double>(decoded.decisions) * entropy;
  optimizer_.Step(loss);

  stats.loss = loss.item<double>();
  stats.mean_cost = mean;
  stats.baseline = baseline;
  stats.entropy = entropy.item<double>();
  if (counted > 0) ema.After(mean);
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
