#include "rl/policy_categorical.h"

#include <cmath>

#include "graph/error.h"
#include "graph/json_io.h"

namespace allot::rl {

CategoricalPolicy::CategoricalPolicy(const PlacementProblem& problem, const CategoricalConfig& config)
    : config_(config) {
  decision_ = DecisionGroups(*problem.graph, config_.max_groups, config_.fuse_chains, problem.classes);
  map_ = MapDecision(problem, decision_, config_.gpu_only);
  logits_ = module_.register_parameter(
      "logits", at::zeros({static_cast<int64_t>(decision_.num_groups()), num_devices()}));
}

void CategoricalPolicy::ResetParameters(uint64_t) {
  torch::NoGradGuard no_grad;
  logits_.zero_();
}

at::Tensor CategoricalPolicy::Probabilities() const { return at::softmax(logits_.detach(), 1).contiguous(); }

Decoded CategoricalPolicy::Score(int64_t K, std::vector<int64_t> devices) {
  const int64_t G = logits_.size(0);
  Decoded out;
  out.samples = K;
  out.groups = G;
  out.decisions = G;
  out.action_width = G;
  out.devices = std::move(devices);
  out.actions = out.devices;
  const at::Tensor logp = at::log_softmax(logits_, 1);  // [G, D]
  const at::Tensor index = at::tensor(out.devices, at::TensorOptions().dtype(at::kLong)).view({K, G});
  out.step_log_prob = logp.unsqueeze(0).expand({K, G, logp.size(1)}).gather(2, index.unsqueeze(2)).squeeze(2);
  out.log_prob = out.step_log_prob.sum(1);
  const at::Tensor entropy = G > 0 ? -(logp.exp() * logp).sum(1).mean() : at::zeros({});
  out.entropy = entropy.expand({K});
  return out;
}

Decoded CategoricalPolicy::Sample(int64_t K, std::mt19937_64& rng, double) {
  const int64_t G = logits_.size(0), D = logits_.size(1);
  const at::Tensor probs = Probabilities();
  const float* p = probs.data_ptr<float>();
  std::vector<int64_t> devices(static_cast<size_t>(K * G));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k = 0; k < K; ++k) devices[k * G + g] = DrawIndex(p + g * D, D, UniformDouble(rng));
  return Score(K, std::move(devices));
}

Decoded CategoricalPolicy::Greedy() {
  const int64_t G = logits_.size(0), D = logits_.size(1);
  const at::Tensor probs = Probabilities();
  std::vector<int64_t> devices(static_cast<size_t>(G));
  for (int64_t g = 0; g < G; ++g) devices[g] = ArgMax(probs.data_ptr<float>() + g * D, D);
  return Score(1, std::move(devices));
}

Decoded CategoricalPolicy::Evaluate(const Decoded& batch) { return Score(batch.samples, batch.devices); }

bool CategoricalPolicy::FitElite(const Decoded& elite, double mix) {
  const int64_t G = logits_.size(0), D = logits_.size(1);
  if (elite.samples == 0) return true;
  std::vector<double> freq(static_cast<size_t>(G * D), 0.0);
  for (int64_t k = 0; k < elite.samples; ++k)
    for (int64_t g = 0; g < G; ++g) freq[g * D + elite.device(k, g)] += 1.0 / static_cast<double>(elite.samples);
  std::vector<float> u(freq.size());
  // log of the mixed probabilities (softmax(log p) = p); a device no elite chose keeps mix / D > 0 when mix > 0.
  for (size_t i = 0; i < freq.size(); ++i)
    u[i] = static_cast<float>(std::log(std::max((1.0 - mix) * freq[i] + mix / static_cast<double>(D), 1e-30)));
  torch::NoGradGuard no_grad;
  logits_.copy_(at::tensor(u, at::TensorOptions().dtype(at::kFloat)).view({G, D}));
  return true;
}

nlohmann::ordered_json CategoricalPolicy::Config() const {
  nlohmann::ordered_json j;
  j["max_groups"] = config_.max_groups;
  j["fuse_chains"] = config_.fuse_chains;
  j["gpu_only"] = config_.gpu_only;
  return j;
}

std::unique_ptr<Policy> LoadCategoricalPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                              const std::string& source) {
  CategoricalConfig c;
  c.max_groups = static_cast<size_t>(JsonInteger(j, "max_groups", source, 0, int64_t{1} << 22));
  c.fuse_chains = JsonBool(j, "fuse_chains", source);
  c.gpu_only = JsonBool(j, "gpu_only", source, false);
  return std::make_unique<CategoricalPolicy>(problem, c);
}

}  // namespace allot::rl
