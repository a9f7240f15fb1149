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

void InitLinearLayers(torch::nn::Module& module, uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  double bound = 0;  // of the last matrix, for the bias that follows it; 0 after a vector weight
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    const bool bias = item.key().size() >= 4 && item.key().compare(item.key().size() - 4, 4, "bias") == 0;
    if (!bias) bound = p.dim() >= 2 ? 1.0 / std::sqrt(static_cast<double>(p.size(1))) : 0.0;
    if (bound > 0)
      FillUniform(p, bound, rng);
    else
      p.fill_(bias ? 0.0 : 1.0);
  }
}

}  // namespace allot::rl
