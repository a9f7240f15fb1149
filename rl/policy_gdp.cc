#include "rl/policy_gdp.h"

#include "graph/error.h"
#include "graph/json_io.h"
#include "rl/features.h"

namespace allot::rl {

GdpNetImpl::GdpNetImpl(const GdpConfig& config) : config_(config) {
  config_.attention.width = config_.hidden;
  encoder_ = register_module("encoder", SageEncoder(UnitFeatureWidth(), config_.hidden, config_.sage_layers));
  placer_ = register_module("placer", SegmentAttention(config_.attention));
  output_ = register_module("output", torch::nn::Linear(config_.hidden, config_.num_devices));
}

at::Tensor GdpNetImpl::forward(const at::Tensor& features, const EdgeTensors& edges) {
  const at::Tensor h = encoder_->forward(features, edges);
  const at::Tensor context = h.size(0) > 0 ? h.mean(0) : at::zeros({config_.hidden});
  return output_->forward(placer_->forward(h, context));
}

void GdpNetImpl::ResetParameters(uint64_t seed) { InitLinearLayers(*this, seed); }

GdpPolicy::GdpPolicy(const PlacementProblem& problem, GdpConfig config, GdpNet net) : config_(std::move(config)) {
  decision_ = DecisionGroups(*problem.graph, config_.max_groups, config_.fuse_chains, problem.classes);
  map_ = MapDecision(problem, decision_, config_.gpu_only);
  config_.num_devices = num_devices();
  graph_ = BuildUnitGraph(*problem.graph, decision_);
  edges_ = EdgeTensors::Of(graph_);
  std::vector<int64_t> position(graph_.order.size());
  for (size_t i = 0; i < graph_.order.size(); ++i) position[graph_.order[i]] = static_cast<int64_t>(i);
  position_of_unit_ = at::tensor(position, at::TensorOptions().dtype(at::kLong));
  if (!net) {
    net_ = GdpNet(config_);
  } else {
    if (net->config().num_devices != config_.num_devices)
      throw Error("gdp: the shared network places on " + std::to_string(net->config().num_devices) +
                  " devices, this cluster offers it " + std::to_string(config_.num_devices));
    net_ = net;
  }
}

at::Tensor GdpPolicy::LogProbabilities() {
  return at::log_softmax(net_->forward(graph_.features, edges_), 1).index_select(0, position_of_unit_);
}

Decoded GdpPolicy::Sample(int64_t K, std::mt19937_64& rng, double) {
  const at::Tensor logp = LogProbabilities();
  return ScoreIndependent(logp, K, DrawIndependent(logp.detach().exp(), K, &rng));
}

Decoded GdpPolicy::Greedy() {
  const at::Tensor logp = LogProbabilities();
  return ScoreIndependent(logp, 1, DrawIndependent(logp.detach().exp(), 1, nullptr));
}

Decoded GdpPolicy::Evaluate(const Decoded& batch) {
  return ScoreIndependent(LogProbabilities(), batch.samples, batch.devices);
}

nlohmann::ordered_json GdpPolicy::Config() const {
  nlohmann::ordered_json j;
  j["hidden"] = config_.hidden;
  j["sage_layers"] = config_.sage_layers;
  j["heads"] = config_.attention.heads;
  j["attention_layers"] = config_.attention.layers;
  j["segment"] = config_.attention.segment;
  j["superposition"] = config_.attention.superposition;
  j["max_groups"] = config_.max_groups;
  j["fuse_chains"] = config_.fuse_chains;
  j["gpu_only"] = config_.gpu_only;
  return j;
}

std::unique_ptr<Policy> LoadGdpPolicy(const PlacementProblem& problem, const nlohmann::json& j, const std::string& source) {
  GdpConfig c;
  c.hidden = JsonInteger(j, "hidden", source, 1, 8192);
  c.sage_layers = JsonInteger(j, "sage_layers", source, 0, 64);
  c.attention.heads = JsonInteger(j, "heads", source, 1, 1024);
  c.attention.layers = JsonInteger(j, "attention_layers", source, 0, 64);
  c.attention.segment = JsonInteger(j, "segment", source, 1, 1 << 20);
  c.attention.superposition = JsonBool(j, "superposition", source);
  c.max_groups = static_cast<size_t>(JsonInteger(j, "max_groups", source, 0, int64_t{1} << 22));
  c.fuse_chains = JsonBool(j, "fuse_chains", source);
  c.gpu_only = JsonBool(j, "gpu_only", source);
  if (c.hidden % c.attention.heads != 0) throw Error(source + ": hidden must be a multiple of heads");
  return std::make_unique<GdpPolicy>(problem, c);
}

}  // namespace allot::rl
