#include "rl/learned_placers.h"

#include <cstdio>

#include "cost_model/simulator.h"
#include "graph/error.h"
#include "rl/policy_io.h"
#include "rl/trainer.h"

namespace allot {
namespace rl {

std::vector<OptionSpec> Seq2SeqOptionSpecs() {
  using T = OptionSpec::Type;
  return {
      {"steps", T::kInt, "500", "policy updates (REINFORCE steps) to train for", 1},
      {"samples", T::kInt, "16", "placements sampled and simulated per update (K; HDP: 4; ColocRL: one per worker, "
                                  "many workers; 16 batches the decoder for ~10x the placements/s of 4)", 1},
      {"lr", T::kDouble, "0.0005", "Adam learning rate (HDP paper: 0.1; ours: 0.01 collapses to one GPU within 10 steps, "
                                   "0.001 within ~100)"},
      {"hidden", T::kInt, "256", "LSTM width (encoder states, decoder, attention)", 1},
      {"groups", T::kInt, "128", "most co-location groups the policy decides (ColocRL: ~80-300; 0: no cap). Fewer "
                                  "learn and decode faster but cap the result: refine:groups=N on Inception-V3 "
                                  "training, p100x4, reaches 209.6 ms at 64, 198.1 at 128, 194.3 at 256; NMT-4 "
                                  "needs 256"},
      {"temperature", T::kDouble, "10", "logit temperature T: logits / T, then C*tanh (HDP paper: 10)", 1e-3, 1e6},
      {"logit_clip", T::kDouble, "5", "tanh constant C (HDP paper: 5; 0: no tanh)"},
      {"entropy", T::kDouble, "0.05", "entropy bonus weight, per group (the papers use none; without it the policy "
                                     "collapses onto one GPU within ~100 steps; at 0.03 Inception-V3's collapses at "
                                     "214.8 ms, at 0.1 it learns too slowly; NMT-4 at 256 groups needs 0.07)"},
      {"devices", T::kString, "gpu", "the devices the policy chooses among: gpu (the cluster's GPUs; all devices if it "
                                     "has none) or all (ColocRL also offers the CPU; on p100x4 a uniform first policy "
                                     "then puts a fifth of the graph on the host)"},
      {"fuse_chains", T::kBool, "true", "merge an op into its single consumer before grouping (ColocRL)"},
      {"normalize", T::kBool, "true", "divide advantages by the std of the K samples' costs (not in the papers)"},
      {"noise", T::kDouble, "0.5", "HDP's Gaussian logit noise, std as a fraction of RMS(logits) (HDP code: 0.5)"},
      {"noise_steps", T::kInt, "750", "updates that get logit noise (HDP code: 750)"},
      {"lr_decay", T::kDouble, "1", "staircase lr factor (HDP code: 0.95 every 50 steps after step 400)", 0, 1},
      {"lr_decay_every", T::kInt, "0", "steps between lr decays (0: constant lr)"},
      {"lr_decay_start", T::kInt, "0", "step after which the lr decays"},
      {"seed", T::kInt, "1", "seed of the policy's initialisation and sampling"},
      {"threads", T::kInt, "1", "simulator threads (the result does not depend on it)", 1, 256},
      {"policy_threads", T::kInt, "1",
       "LibTorch intra-op threads for the policy (its matrices are small: 2 are no faster than 1)", 1, 256},
      {"policy", T::kString, "", "directory of a trained policy (allot train --out OUT: OUT/policy): decode it "
                                 "greedily instead of training"},
  };
}

TrainerConfig Seq2SeqTrainerConfig(const OptionValues& o) {
  TrainerConfig c;
  c.steps = o.Int("steps");
  c.samples = o.Int("samples");
  c.reinforce.lr = o.Double("lr");
  c.reinforce.entropy = o.Double("entropy");
  c.reinforce.normalize = o.Bool("normalize");
  c.fuse_chains = o.Bool("fuse_chains");
  const std::string devices = o.String("devices");
  if (devices != "gpu" && devices != "all") throw Error("seq2seq: devices must be gpu or all, not '" + devices + "'");
  c.gpu_only = devices == "gpu";
  c.logit_noise = o.Double("noise");
  c.noise_steps = o.Int("noise_steps");
  c.lr_decay = o.Double("lr_decay");
  c.lr_decay_every = o.Int("lr_decay_every");
  c.lr_decay_start = o.Int("lr_decay_start");
  c.policy.hidden = o.Int("hidden");
  if (o.Int("groups") < 0) throw Error("seq2seq: groups must not be negative");
  c.max_groups = static_cast<size_t>(o.Int("groups"));
  c.policy.temperature = o.Double("temperature");
  c.policy.logit_clip = o.Double("logit_clip");
  c.seed = static_cast<uint64_t>(o.Int("seed"));
  c.threads = static_cast<int>(std::max<int64_t>(1, o.Int("threads")));
  c.policy_threads = static_cast<int>(std::max<int64_t>(1, o.Int("policy_threads")));
  return c;
}

namespace {

class Seq2SeqPlacer : public Placer {
 public:
  using Placer::Placer;
  std::string_view name() const override { return "seq2seq"; }

  std::vector<DeviceId> place(const PlacementProblem& p) override {
    if (!options_.String("policy").empty()) return PlaceWithPolicy(p, options_.String("policy"));
    TrainerConfig config = Seq2SeqTrainerConfig(options_);
    // Training inside `allot place` can take minutes: report on stderr every 10 s.
    config.progress = [](const std::string& line) { std::fprintf(stderr, "seq2seq: %s\n", line.c_str()); };
    config.progress_interval = 10;
    Trainer trainer(p, config);
    const TrainResult r = trainer.Train();
    if (r.best_placement.empty())
      throw Error("seq2seq: no sampled placement fit in memory in " + std::to_string(r.steps_done) +
                  " steps (try more steps, or a cluster with more memory)");
    return r.best_placement;
  }

 private:
  static std::vector<DeviceId> PlaceWithPolicy(const PlacementProblem& p, const std::string& dir) {
    LoadedPolicy loaded = LoadPolicyDirectory(dir);
    const PolicyMetadata& m = loaded.meta;
    if (m.graph_hash != p.graph->hash_hex())
      throw Error("seq2seq: the policy in " + dir + " was trained on another graph (hash " + m.graph_hash +
                  ", this one " + p.graph->hash_hex() + "; same model, mode and sizes needed)");
    const CoarseGraph decision = DecisionGroups(*p.graph, m.max_groups, m.fuse_chains, p.classes);
    if (static_cast<int64_t>(decision.num_groups()) != m.num_groups)
      throw Error("seq2seq: the policy in " + dir + " decides " + std::to_string(m.num_groups) +
                  " groups, this graph gives " + std::to_string(decision.num_groups()));
    const DecisionMap map = MapDecision(p, decision, m.gpu_only);
    if (m.num_devices != static_cast<int64_t>(map.devices.size()))
      throw Error("seq2seq: the policy in " + dir + " places on " + std::to_string(m.num_devices) +
                  " devices (cluster " + m.cluster + "), this cluster offers it " +
                  std::to_string(map.devices.size()));
    const PolicyInput input = PolicyInput::From(ComputeGroupFeatures(*p.graph, decision));
    torch::NoGradGuard no_grad;
    const Decoded d = loaded.policy->Greedy(input);
    std::vector<DeviceId> placement = ExpandDecision(p, map, d.devices.data());
    Simulator sim(*p.graph, *p.cluster, *p.costs, SimOptions{p.order, false});
    const SimResult& r = sim.Run(placement);
    if (!r.valid) throw Error("seq2seq: the greedy placement of the policy in " + dir + " does not fit: " + r.error);
    return placement;
  }
};

}  // namespace
}  // namespace rl

void RegisterLearnedPlacers(PlacerRegistry& registry) {
  registry.Register({"seq2seq",
                     "ColocRL: attention seq2seq policy over co-location groups, REINFORCE on sqrt(simulated step "
                     "time); trains per graph (or decodes a trained policy=DIR)",
                     rl::Seq2SeqOptionSpecs(),
                     [](OptionValues o) { return std::make_unique<rl::Seq2SeqPlacer>(std::move(o)); }});
}

}  // namespace allot
