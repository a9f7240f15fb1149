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
  return ScoreIndependent(at::log_softmax(logits_, 1), K, std::move(devices));
}

Decoded CategoricalPolicy::Sample(int64_t K, std::mt19937_64& rng, double) {
  return Score(K, DrawIndependent(Probabilities(), K, &rng));
}

Decoded CategoricalPolicy::Greedy() { return Score(1, DrawIndependent(Probabilities(), 1, nullptr)); }

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
