#include "rl/policy_hierarchical.h"

#include <torch/nn/options/embedding.h>
#include <torch/nn/options/linear.h>

#include <algorithm>
#include <cmath>

#include "graph/error.h"
#include "graph/json_io.h"
#include "graph/op_work.h"

namespace allot::rl {
namespace {

constexpr int64_t kWork = 2;  // summed FLOPs, summed memory

float Log(double x, double divisor) { return static_cast<float>(std::log1p(std::max(0.0, x)) / divisor); }

}  // namespace

HierarchicalPolicy::HierarchicalPolicy(const PlacementProblem& problem, HierarchicalConfig config)
    : config_(std::move(config)) {
  decision_ = problem.groups;
  map_ = MapDecision(problem, decision_, config_.gpu_only);
  if (config_.groups <= 0) config_.groups = std::min<int64_t>(256, 20 * num_devices());
  const GroupFeatures unit = ComputeGroupFeatures(*problem.graph, decision_);
  unit_types_ = unit.op_type;
  unit_numeric_ = unit.Numeric();
  // Where each unit sits in the graph, as the Grouper reads it: its first member's topological rank r in [0, 1]
  // (rl/features.h EncodePosition).
  const int64_t U = static_cast<int64_t>(decision_.num_groups());
  std::vector<float> position(static_cast<size_t>(U * kPositionFeatures), 0.f);
  std::vector<double> rank(static_cast<size_t>(U), 0.0);
  const double nodes = static_cast<double>(std::max<size_t>(1, problem.graph->num_nodes()));
  for (int64_t u = 0; u < U; ++u) {
    if (decision_.member_offsets[u] == decision_.member_offsets[u + 1]) continue;
    const double r = problem.graph->topo_rank()[decision_.members[decision_.member_offsets[u]]] / nodes;
    EncodePosition(r, position.data() + u * kPositionFeatures);
    rank[u] = r;
  }
  unit_position_ = at::tensor(position, at::TensorOptions().dtype(at::kFloat)).view({U, kPositionFeatures});
  if (config_.prior_width > 0) {
    // Narrower is a fixed grouping (a 5,000-nat gap the network cannot cross), and far narrower overflows the
    // float logits to -inf (NaN rows).
    if (config_.prior_width < 0.01) throw Error("hierarchical: prior must be 0 (none) or at least 0.01 groups");
    const int64_t G = config_.groups;
    std::vector<float> prior(static_cast<size_t>(U * G));
    for (int64_t u = 0; u < U; ++u)
      for (int64_t g = 0; g < G; ++g) {
        const double z = (static_cast<double>(g) + 0.5 - rank[u] * static_cast<double>(G)) / config_.prior_width;
        prior[u * G + g] = static_cast<float>(-0.5 * z * z);
      }
    grouper_prior_ = at::tensor(prior, at::TensorOptions().dtype(at::kFloat)).view({U, G});
  }
  const int64_t V = OpTypeVocabulary();
  unit_families_.assign(static_cast<size_t>(decision_.num_groups() * V), 0.f);
  for (uint32_t u = 0; u < decision_.num_groups(); ++u)
    for (uint32_t i = decision_.member_offsets[u]; i < decision_.member_offsets[u + 1]; ++i)
      unit_families_[u * V + static_cast<int64_t>(ClassifyOp(problem.graph->node(decision_.members[i]).op_type))] += 1.f;
  const int64_t F = config_.op_embedding + kNumericFeatures + kPositionFeatures;
  op_embedding_ = module_.register_module(
      "op_embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(OpTypeVocabulary(), config_.op_embedding)));
  grouper_hidden_ = module_.register_module("grouper_hidden",
                                            torch::nn::Linear(torch::nn::LinearOptions(F, config_.grouper_hidden)));
  grouper_out_ = module_.register_module(
      "grouper_out", torch::nn::Linear(torch::nn::LinearOptions(config_.grouper_hidden, config_.groups)));
  config_.placer.op_embedding = 0;
  config_.placer.numeric = GroupFeatureWidth();
  config_.placer.num_devices = num_devices();
  placer_ = module_.register_module("placer", Seq2SeqNet(config_.placer));
}

int64_t HierarchicalPolicy::GroupFeatureWidth() const {
  return OpTypeVocabulary() + kShapeDims + kWork + 2 * config_.groups;
}

void HierarchicalPolicy::ResetParameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  for (auto& item : op_embedding_->named_parameters()) FillUniform(item.value(), std::sqrt(3.0), rng);
  for (torch::nn::Linear layer : {grouper_hidden_, grouper_out_}) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(layer->weight.size(1)));
    FillUniform(layer->weight, bound, rng);
    FillUniform(layer->bias, bound, rng);
  }
  placer_->ResetParameters(rng());
}

at::Tensor HierarchicalPolicy::GrouperLogits() {
  const at::Tensor x = at::cat({op_embedding_->forward(unit_types_), unit_numeric_, unit_position_}, 1);
  return grouper_out_->forward(at::tanh(grouper_hidden_->forward(x)));  // [U, G]
}

at::Tensor HierarchicalPolicy::GroupInputs(const std::vector<int64_t>& groups, int64_t K) const {
  const CoarseGraph& units = decision_;
  const int64_t U = static_cast<int64_t>(units.num_groups()), G = config_.groups, V = OpTypeVocabulary();
  const int64_t W = GroupFeatureWidth(), shape = V, work = V + kShapeDims, out_adj = work + kWork, in_adj = out_adj + G;
  std::vector<float> out(static_cast<size_t>(K * G * W), 0.f);
  std::vector<double> flops(static_cast<size_t>(G)), memory(static_cast<size_t>(G));
  const at::Tensor unit_shape = unit_numeric_.narrow(1, 0, kShapeDims).contiguous();
  const float* ushape = unit_shape.data_ptr<float>();
  for (int64_t k = 0; k < K; ++k) {
    const int64_t* a = groups.data() + k * U;
    float* base = out.data() + k * G * W;
    std::fill(flops.begin(), flops.end(), 0.0);
    std::fill(memory.begin(), memory.end(), 0.0);
    for (int64_t u = 0; u < U; ++u) {
      float* row = base + a[u] * W;
      const float* families = unit_families_.data() + u * V;
      for (int64_t f = 0; f < V; ++f) row[f] += families[f];
      for (int64_t d = 0; d < kShapeDims; ++d) row[shape + d] += ushape[u * kShapeDims + d];
      flops[a[u]] += units.flops[u];
      memory[a[u]] += static_cast<double>(units.memory_bytes[u]);
      for (uint32_t e = units.out_offsets[u]; e < units.out_offsets[u + 1]; ++e) {
        const int64_t to = a[units.out_groups[e]];
        if (to == a[u]) continue;
        row[out_adj + to] += 1.f;
        base[to * W + in_adj + a[u]] += 1.f;
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      float* row = base + g * W;
      for (int64_t f = 0; f < V; ++f) row[f] = Log(row[f], 10.0);
      for (int64_t d = 0; d < kShapeDims; ++d) row[shape + d] = Log(row[shape + d], 5.0);
      row[work] = Log(flops[g], 25.0);
      row[work + 1] = Log(memory[g], 25.0);
      for (int64_t block : {out_adj, in_adj}) {
        const float top = *std::max_element(row + block, row + block + G);
        for (int64_t j = 0; j < G; ++j) row[block + j] /= top + 1.f;
      }
    }
  }
  return at::tensor(out, at::TensorOptions().dtype(at::kFloat)).view({K, G, W});
}

Decoded HierarchicalPolicy::Decode(int64_t K, std::mt19937_64* rng, double logit_noise, const Decoded* forced) {
  const int64_t U = static_cast<int64_t>(decision_.num_groups()), G = config_.groups;
  at::Tensor logits = GrouperLogits();
  if (rng != nullptr && logit_noise > 0 && U > 0) {
    const double rms = logits.detach().pow(2).mean().sqrt().item<double>();
    std::vector<float> noise(static_cast<size_t>(U * G));
    for (float& z : noise) z = static_cast<float>(NormalDouble(*rng) * logit_noise * rms);
    logits = logits + at::tensor(noise, at::TensorOptions().dtype(at::kFloat)).view({U, G});
  }
  // The prior joins after the noise, which is scaled to the learned logits' RMS (the prior's would drown them).
  if (grouper_prior_.defined()) logits = logits + grouper_prior_;
  const at::Tensor logp = at::log_softmax(logits, 1);  // [U, G]
  std::vector<int64_t> groups(static_cast<size_t>(K * U));
  if (forced != nullptr) {
    for (int64_t k = 0; k < K; ++k) std::copy(forced->actions_of(k), forced->actions_of(k) + U, groups.begin() + k * U);
  } else {
    const at::Tensor probs = logp.detach().exp().contiguous();
    const float* p = probs.data_ptr<float>();
    for (int64_t u = 0; u < U; ++u)
      for (int64_t k = 0; k < K; ++k)
        groups[k * U + u] = rng != nullptr ? DrawIndex(p + u * G, G, UniformDouble(*rng)) : ArgMax(p + u * G, G);
  }
  const at::Tensor index = at::tensor(groups, at::TensorOptions().dtype(at::kLong)).view({K, U});
  const at::Tensor grouper_logp = logp.t().gather(0, index);  // [K, U]: logp[u, group of u in sample k]
  const at::Tensor grouper_entropy = U > 0 ? -(logp.exp() * logp).sum(1).sum() : at::zeros({});

  const Seq2SeqInput input{at::Tensor(), GroupInputs(groups, K)};
  Decoded placed;
  if (forced != nullptr) {
    std::vector<int64_t> devices(static_cast<size_t>(K * G));
    for (int64_t k = 0; k < K; ++k)
      std::copy(forced->actions_of(k) + U, forced->actions_of(k) + U + G, devices.begin() + k * G);
    placed = placer_->Evaluate(input, K, devices);
  } else {
    placed = rng != nullptr ? placer_->Sample(input, K, *rng, logit_noise) : placer_->Greedy(input);
  }

  Decoded out;
  out.samples = K;
  out.groups = U;
  out.decisions = U + G;
  out.action_width = U + G;
  out.devices.resize(static_cast<size_t>(K * U));
  out.actions.resize(static_cast<size_t>(K * (U + G)));
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t u = 0; u < U; ++u) out.devices[k * U + u] = placed.device(k, groups[k * U + u]);
    std::copy(groups.begin() + k * U, groups.begin() + (k + 1) * U, out.actions.begin() + k * (U + G));
    std::copy(placed.devices.begin() + k * G, placed.devices.begin() + (k + 1) * G,
              out.actions.begin() + k * (U + G) + U);
  }
  out.step_log_prob = at::cat({grouper_logp, placed.step_log_prob}, 1);
  out.log_prob = grouper_logp.sum(1) + placed.log_prob;
  out.entropy = (grouper_entropy + placed.entropy * static_cast<double>(G)) / static_cast<double>(std::max<int64_t>(1, U + G));
  return out;
}

Decoded HierarchicalPolicy::Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) {
  return Decode(samples, &rng, logit_noise, nullptr);
}

Decoded HierarchicalPolicy::Greedy() { return Decode(1, nullptr, 0, nullptr); }

Decoded HierarchicalPolicy::Evaluate(const Decoded& batch) { return Decode(batch.samples, nullptr, 0, &batch); }

void HierarchicalPolicy::CheckActions(const Decoded& d, const std::string& source) const {
  const int64_t U = static_cast<int64_t>(decision_.num_groups()), G = config_.groups;
  if (d.action_width != U + G || d.groups != U) throw Error(source + ": samples of another grouping");
  for (int64_t k = 0; k < d.samples; ++k) {
    const int64_t* a = d.actions_of(k);
    for (int64_t u = 0; u < U + G; ++u)
      if (a[u] < 0 || a[u] >= (u < U ? G : num_devices()))
        throw Error(source + ": a sample's " + (u < U ? "group" : "device") + " is out of range");
    for (int64_t u = 0; u < U; ++u)
      if (d.device(k, u) != a[U + a[u]]) throw Error(source + ": a sample's devices do not follow its groups");
  }
}

nlohmann::ordered_json HierarchicalPolicy::Config() const {
  nlohmann::ordered_json j;
  j["gpu_only"] = config_.gpu_only;
  j["groups"] = config_.groups;
  j["grouper_hidden"] = config_.grouper_hidden;
  j["grouper_op_embedding"] = config_.op_embedding;
  j["prior_width"] = config_.prior_width;
  WriteSeq2SeqConfig(config_.placer, j);  // the Placer's (op_embedding 0: it reads group embeddings only)
  return j;
}

std::unique_ptr<Policy> LoadHierarchicalPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                               const std::string& source) {
  HierarchicalConfig c;
  c.placer = ReadSeq2SeqConfig(j, source);
  c.gpu_only = JsonBool(j, "gpu_only", source, false);
  c.groups = JsonInteger(j, "groups", source, 1, 4096);
  c.grouper_hidden = JsonInteger(j, "grouper_hidden", source, 1, 1 << 13);
  c.op_embedding = JsonInteger(j, "grouper_op_embedding", source, 1, 1 << 13);
  c.prior_width = JsonNonNegative(j, "prior_width", source, 0.0);  // policies saved before the prior had none
  return std::make_unique<HierarchicalPolicy>(problem, c);
}

}  // namespace allot::rl
