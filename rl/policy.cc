#include "rl/policy.h"

#include <cmath>
#include <string>

#include "graph/error.h"

namespace allot::rl {

Decoded Decoded::Select(const std::vector<int64_t>& which) const {
  Decoded out;
  out.samples = static_cast<int64_t>(which.size());
  out.groups = groups;
  out.decisions = decisions;
  out.action_width = action_width;
  for (int64_t k : which) {
    out.devices.insert(out.devices.end(), devices.begin() + k * groups, devices.begin() + (k + 1) * groups);
    out.actions.insert(out.actions.end(), actions_of(k), actions_of(k) + action_width);
  }
  return out;
}

bool Policy::FitElite(const Decoded&, double) { return false; }

void Policy::CheckActions(const Decoded& d, const std::string& source) const {
  if (d.actions != d.devices) throw Error(source + ": sampled actions that are not one device per decision unit");
  for (int64_t v : d.devices)
    if (v < 0 || v >= num_devices()) throw Error(source + ": a sample names device " + std::to_string(v));
}

int64_t DrawIndex(const float* row, int64_t D, double uniform) {
  double total = 0;
  for (int64_t d = 0; d < D; ++d) total += row[d];
  const double u = uniform * total;
  double cumulative = 0;
  int64_t pick = D - 1;
  for (int64_t d = 0; d < D; ++d) {
    cumulative += row[d];
    if (u < cumulative) {
      pick = d;
      break;
    }
  }
  // Never pick an index whose probability rounded to 0.
  while (row[pick] <= 0.f && pick > 0) --pick;
  return pick;
}

int64_t ArgMax(const float* row, int64_t D) {
  int64_t pick = 0;
  for (int64_t d = 1; d < D; ++d)
    if (row[d] > row[pick]) pick = d;
  return pick;
}

double NormalDouble(std::mt19937_64& rng) {
  const double u1 = 1.0 - UniformDouble(rng);  // (0, 1]
  const double u2 = UniformDouble(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

void FillUniform(at::Tensor& tensor, double bound, std::mt19937_64& rng) {
  std::vector<float> values(static_cast<size_t>(tensor.numel()));
  for (float& v : values) v = static_cast<float>((2.0 * UniformDouble(rng) - 1.0) * bound);
  tensor.copy_(at::tensor(values, at::TensorOptions().dtype(at::kFloat)).reshape(tensor.sizes()));
}

std::vector<int64_t> DrawIndependent(const at::Tensor& probabilities, int64_t K, std::mt19937_64* rng) {
  const int64_t U = probabilities.size(0), D = probabilities.size(1);
  const at::Tensor probs = probabilities.detach().contiguous();
  const float* p = probs.data_ptr<float>();
  if (rng == nullptr) K = 1;
  std::vector<int64_t> devices(static_cast<size_t>(K * U));
  for (int64_t g = 0; g < U; ++g)
    for (int64_t k = 0; k < K; ++k)
      devices[k * U + g] = rng != nullptr ? DrawIndex(p + g * D, D, UniformDouble(*rng)) : ArgMax(p + g * D, D);
  return devices;
}

Decoded ScoreIndependent(const at::Tensor& logp, int64_t K, std::vector<int64_t> devices) {
  const int64_t U = logp.size(0);
  Decoded out;
  out.samples = K;
  out.groups = U;
  out.decisions = U;
  out.action_width = U;
  out.devices = std::move(devices);
  out.actions = out.devices;
  const at::Tensor index = at::tensor(out.devices, at::TensorOptions().dtype(at::kLong)).view({K, U});
  out.step_log_prob = logp.unsqueeze(0).expand({K, U, logp.size(1)}).gather(2, index.unsqueeze(2)).squeeze(2);
  out.log_prob = out.step_log_prob.sum(1);
  const at::Tensor entropy = U > 0 ? -(logp.exp() * logp).sum(1).mean() : at::zeros({});
  out.entropy = entropy.expand({K});
  return out;
}

void InitLinearLayers(torch::nn::Module& module, uint64_t seed, LinearInit init) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  double bound = 0;  // of the last matrix, for the bias that follows it; 0 after a vector weight
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    const bool bias = item.key().size() >= 4 && item.key().compare(item.key().size() - 4, 4, "bias") == 0;
    if (!bias) {
      if (p.dim() < 2)
        bound = 0.0;
      else if (init == LinearInit::kGlorot)
        bound = std::sqrt(6.0 / static_cast<double>(p.size(0) + p.size(1)));
      else
        bound = 1.0 / std::sqrt(static_cast<double>(p.size(1)));
    }
    if (bias && init == LinearInit::kGlorot)
      p.fill_(0.0);
    else if (bound > 0)
      FillUniform(p, bound, rng);
    else
      p.fill_(bias ? 0.0 : 1.0);
  }
}

}  // namespace allot::rl
