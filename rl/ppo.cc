#include "rl/ppo.h"

#include <algorithm>
#include <cmath>

#include "graph/error.h"

namespace allot::rl {
namespace {
// Bounds of an adapted entropy weight, so that a graph whose entropy cannot reach the target (one device, one unit)
// keeps a finite weight.
const double kMinLogEntropyWeight = std::log(1e-6), kMaxLogEntropyWeight = std::log(1e3);
}  // namespace

Ppo::Ppo(Policy& policy, const PpoConfig& config)
    : policy_(policy), config_(config), optimizer_(policy, config.lr, config.grad_clip), baselines_(config.baseline_decay) {}

at::Tensor Ppo::ClippedSurrogate(const at::Tensor& log_prob, const at::Tensor& old_log_prob, const at::Tensor& advantage,
                                 double clip) {
  const at::Tensor ratio = at::exp(log_prob - old_log_prob);
  return at::max(ratio * advantage, ratio.clamp(1.0 - clip, 1.0 + clip) * advantage).sum(1).mean();
}

std::vector<UpdateStats> Ppo::UpdateAll(const std::vector<Batch>& batches) {
  TORCH_CHECK(!batches.empty(), "an update needs a batch");
  const size_t B = batches.size();
  std::vector<UpdateStats> stats(B);
  // Per batch: the sampling pass's log-probabilities, the centred costs and the advantages, fixed over the epochs.
  std::vector<at::Tensor> old_log_prob(B), centred(B), advantage(B);
  for (size_t b = 0; b < B; ++b) {
    const Batch& batch = batches[b];
    const Decoded& sampled = batch.decoded;
    const int64_t K = sampled.samples;
    TORCH_CHECK(static_cast<int64_t>(batch.costs.size()) == K, "one cost per sample");
    double mean = 0;
    for (double c : batch.costs) mean += c;
    mean /= static_cast<double>(K);
    // The batch's own mean as baseline (GRPO's group baseline): advantages are centred on the batch, so with
    // normalisation they have unit spread, and a batch of identical placements, which carries no signal, gives none.
    // Against the EMA instead, a sharpened policy's batch lies off a lagging baseline by many times its tiny spread,
    // and the normalised advantages swamp the entropy bonus: on Inception-V3 a collapsed gdp policy then drifted
    // from 225.4 ms to 251.2 ms while every batch was one placement.
    const double baseline = config_.batch_baseline ? mean : baselines_.of(batch.task).Before(mean);
    old_log_prob[b] = sampled.step_log_prob.detach();
    const int64_t S = old_log_prob[b].size(1);
    // The cost advantages against the baseline, [K, 1]; with a value head, minus the per-stage correction it
    // predicts (its regression target is this same centred, scaled cost).
    std::vector<float> centred_costs = Advantages(batch.costs, baseline, config_.normalize);
    const auto [lo, hi] = std::minmax_element(batch.costs.begin(), batch.costs.end());
    if (config_.batch_baseline && *lo == *hi) std::fill(centred_costs.begin(), centred_costs.end(), 0.f);
    centred[b] = at::tensor(centred_costs, at::TensorOptions().dtype(at::kFloat)).unsqueeze(1);
    advantage[b] = sampled.value.defined() ? centred[b] - sampled.value.detach() : centred[b].expand({K, S});
    stats[b].mean_cost = mean;
    stats[b].baseline = baseline;
  }

  for (int64_t epoch = 0; epoch < config_.epochs; ++epoch) {
    at::Tensor loss;
    for (size_t b = 0; b < B; ++b) {
      const Decoded& sampled = batches[b].decoded;
      Policy& policy = batches[b].policy != nullptr ? *batches[b].policy : policy_;
      const Decoded current = epoch == 0 ? Decoded(sampled) : policy.Evaluate(sampled);
      const at::Tensor entropy = current.entropy.mean();
      at::Tensor batch_loss = ClippedSurrogate(current.step_log_prob, old_log_prob[b], advantage[b], config_.clip);
      const double weight = EntropyWeight(batches[b].task);
      if (weight != 0) batch_loss = batch_loss - weight * static_cast<double>(current.decisions) * entropy;
      if (current.value.defined() && config_.value_coef > 0)
        batch_loss = batch_loss + config_.value_coef * (current.value - centred[b]).pow(2).mean();
      loss = b == 0 ? batch_loss : loss + batch_loss;
      if (epoch == 0) {
        stats[b].loss = batch_loss.item<double>();
        stats[b].entropy = entropy.item<double>();
      }
    }
    if (B > 1) loss = loss / static_cast<double>(B);
    optimizer_.Step(loss);
  }
  if (!config_.batch_baseline)
    for (size_t b = 0; b < B; ++b) baselines_.of(batches[b].task).After(stats[b].mean_cost);
  if (config_.entropy_target > 0)
    for (size_t b = 0; b < B; ++b) {
      const auto task = static_cast<size_t>(batches[b].task);
      const double log_weight = std::log(EntropyWeight(batches[b].task));
      if (log_entropy_weight_.size() <= task) log_entropy_weight_.resize(task + 1, std::nan(""));
      log_entropy_weight_[task] = std::clamp(
          log_weight + config_.entropy_rate * (config_.entropy_target - stats[b].entropy) / config_.entropy_target,
          kMinLogEntropyWeight, kMaxLogEntropyWeight);
    }
  return stats;
}

double Ppo::EntropyWeight(int64_t task) const {
  const auto t = static_cast<size_t>(task);
  if (config_.entropy_target <= 0 || t >= log_entropy_weight_.size() || std::isnan(log_entropy_weight_[t]))
    return config_.entropy;
  return std::exp(log_entropy_weight_[t]);
}

void Ppo::Save(ArchiveWriter archive) const {
  optimizer_.Save(archive, "optimizer");
  baselines_.Save(archive);
  if (config_.entropy_target > 0)
    archive.PutTensor("log_entropy_weight", at::tensor(log_entropy_weight_, at::TensorOptions().dtype(at::kDouble)));
}

void Ppo::Load(const ArchiveReader& archive, const std::string& source) {
  optimizer_.Load(archive, "optimizer", source);
  baselines_.Load(archive, source);
  log_entropy_weight_.clear();
  if (config_.entropy_target <= 0) return;
  const at::Tensor w = archive.GetTensor("log_entropy_weight").contiguous();
  if (w.scalar_type() != at::kDouble || w.dim() != 1)
    throw Error(source + ": the entropy weights are not a list of doubles");
  log_entropy_weight_.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
  for (double v : log_entropy_weight_)
    if (!std::isnan(v) && !(v >= kMinLogEntropyWeight && v <= kMaxLogEntropyWeight))
      throw Error(source + ": an entropy weight out of range");
}

std::string Ppo::Fingerprint() const {
  return "algorithm=ppo;lr=" + FingerprintNumber(config_.lr) + ";clip=" + FingerprintNumber(config_.clip) +
         ";epochs=" + std::to_string(config_.epochs) + ";entropy=" + FingerprintNumber(config_.entropy) +
         ";normalize=" + std::to_string(config_.normalize) + ";value_coef=" + FingerprintNumber(config_.value_coef) +
         ";baseline_decay=" + FingerprintNumber(config_.baseline_decay) + ";grad_clip=" +
         FingerprintNumber(config_.grad_clip) + (config_.batch_baseline ? ";batch_baseline=1" : "") +
         (config_.entropy_target > 0 ? ";entropy_target=" + FingerprintNumber(config_.entropy_target) +
                                           ";entropy_rate=" + FingerprintNumber(config_.entropy_rate)
                                     : "");
}

}  // namespace allot::rl
