#include "rl/policy_seq2seq.h"

#include "graph/error.h"
#include "graph/json_io.h"

namespace allot::rl {

Seq2SeqPolicy::Seq2SeqPolicy(const PlacementProblem& problem, Seq2SeqPolicyConfig config, std::string kind)
    : kind_(std::move(kind)), config_(std::move(config)) {
  decision_ = DecisionGroups(*problem.graph, config_.max_groups, config_.fuse_chains, problem.classes);
  map_ = MapDecision(problem, decision_, config_.gpu_only);
  config_.net.num_devices = num_devices();
  input_ = Seq2SeqInput::From(ComputeGroupFeatures(*problem.graph, decision_));
  net_ = Seq2SeqNet(config_.net);
}

Decoded Seq2SeqPolicy::Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) {
  return net_->Sample(input_, samples, rng, logit_noise);
}

Decoded Seq2SeqPolicy::Greedy() { return net_->Greedy(input_); }

Decoded Seq2SeqPolicy::Evaluate(const Decoded& batch) { return net_->Evaluate(input_, batch.samples, batch.devices); }

nlohmann::ordered_json Seq2SeqPolicy::Config() const {
  nlohmann::ordered_json j;
  j["max_groups"] = config_.max_groups;
  j["fuse_chains"] = config_.fuse_chains;
  j["gpu_only"] = config_.gpu_only;
  WriteSeq2SeqConfig(config_.net, j);
  return j;
}

std::unique_ptr<Policy> LoadSeq2SeqPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                          const std::string& source, const std::string& kind) {
  Seq2SeqPolicyConfig c;
  c.net = ReadSeq2SeqConfig(j, source);
  if (c.net.op_embedding == 0) throw Error(source + ": field 'op_embedding' must be at least 1");
  c.max_groups = static_cast<size_t>(JsonInteger(j, "max_groups", source, 0, int64_t{1} << 22));
  c.fuse_chains = JsonBool(j, "fuse_chains", source);
  c.gpu_only = JsonBool(j, "gpu_only", source, false);
  return std::make_unique<Seq2SeqPolicy>(problem, c, kind);
}

}  // namespace allot::rl
