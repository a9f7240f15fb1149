#include "rl/learned_placers.h"

#include <algorithm>
#include <cstdio>

#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/json_io.h"
#include "rl/cross_entropy.h"
#include "rl/learned_registry.h"
#include "rl/policy_categorical.h"
#include "rl/policy_gdp.h"
#include "rl/policy_hierarchical.h"
#include "rl/policy_io.h"
#include "rl/policy_placeto.h"
#include "rl/policy_seq2seq.h"
#include "rl/ppo.h"
#include "rl/progressive_reinforce.h"
#include "rl/reinforce.h"

namespace allot {
namespace rl {
namespace {

using T = OptionSpec::Type;
using Specs = std::vector<OptionSpec>;

Specs Concat(std::initializer_list<Specs> parts) {
  Specs out;
  for (const Specs& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The loop's options, shared by every learned placer.
Specs LoopOptions(const char* steps, const char* samples, const char* samples_help) {
  return {
      {"steps", T::kInt, steps, "policy updates to train for", 1},
      {"samples", T::kInt, samples, samples_help, 1},
      {"seed", T::kInt, "1", "seed of the policy's initialisation and sampling"},
      {"threads", T::kInt, "1", "simulator threads (the result does not depend on it)", 1, 256},
      {"policy_threads", T::kInt, "1",
       "LibTorch intra-op threads for the policy (its matrices are small: 2 are no faster than 1)", 1, 256},
      {"seconds", T::kDouble, "0", "budget: stop training after this many seconds (0: none)", 0, 1e9},
      {"placements", T::kInt, "0", "budget: stop after this many placements evaluated (0: none)"},
      {"policy", T::kString, "", "directory of a trained policy (allot train --out OUT: OUT or OUT/policy): decode "
                                 "it greedily instead of training"},
  };
}

Specs NoiseOptions(const char* noise) {
  return {
      {"noise", T::kDouble, noise, "HDP's Gaussian logit noise, std as a fraction of RMS(logits) (HDP code: 0.5)"},
      {"noise_steps", T::kInt, "750", "updates that get logit noise (HDP code: 750)"},
      {"lr_decay", T::kDouble, "1", "staircase lr factor (HDP code: 0.95 every 50 steps after step 400)", 0, 1},
      {"lr_decay_every", T::kInt, "0", "steps between lr decays (0: constant lr)"},
      {"lr_decay_start", T::kInt, "0", "step after which the lr decays"},
  };
}

Specs NetOptions() {
  return {
      {"hidden", T::kInt, "256", "LSTM width (encoder states, decoder, attention)", 2, 8192},
      {"temperature", T::kDouble, "10", "logit temperature T: logits / T, then C*tanh (HDP paper: 10)", 1e-3, 1e6},
      {"logit_clip", T::kDouble, "5", "tanh constant C (HDP paper: 5; 0: no tanh)", 0, 1e6},
      {"op_embedding", T::kInt, "20", "op-type embedding width (HDP paper: 20)", 1, 8192},
      {"device_embedding", T::kInt, "32", "device embedding width (the decoder's previous-device input)", 1, 8192},
  };
}

Specs GroupingOptions() {
  return {
      {"groups", T::kInt, "128", "most co-location groups the policy decides (ColocRL: ~80-300; 0: no cap). Fewer "
                                  "learn and decode faster but cap the result: refine:groups=N on Inception-V3 "
                                  "training, p100x4, reaches 209.6 ms at 64, 198.1 at 128, 194.3 at 256; NMT-4 "
                                  "needs 256"},
      {"fuse_chains", T::kBool, "true", "merge an op into its single consumer before grouping (ColocRL)"},
      {"devices", T::kString, "gpu", "the devices the policy chooses among: gpu (the cluster's GPUs; all devices if it "
                                     "has none) or all (ColocRL also offers the CPU; on p100x4 a uniform first policy "
                                     "then puts a fifth of the graph on the host)"},
  };
}

Specs PpoOptions(const char* lr, const char* epochs, const char* entropy) {
  return {
      {"lr", T::kDouble, lr, "Adam learning rate"},
      {"clip", T::kDouble, "0.2", "PPO's clip range epsilon (PPO's default; the papers give none)", 0, 1},
      {"epochs", T::kInt, epochs, "PPO epochs over each batch", 1, 1000},
      {"entropy", T::kDouble, entropy, "entropy bonus weight, per decision"},
      {"entropy_target", T::kDouble, "0", "nats per decision to hold by adapting the entropy weight per graph, "
                                          "starting from `entropy` (not in the papers; 0: a fixed weight)", 0, 100},
      {"normalize", T::kBool, "true", "divide advantages by the std of the K samples' costs (not in the papers)"},
  };
}

bool GpuOnly(const OptionValues& o, const char* placer) {
  const std::string devices = o.String("devices");
  if (devices != "gpu" && devices != "all")
    throw Error(std::string(placer) + ": devices must be gpu or all, not '" + devices + "'");
  return devices == "gpu";
}

Seq2SeqConfig NetConfig(const OptionValues& o, const char* placer) {
  Seq2SeqConfig n;
  n.hidden = o.Int("hidden");
  if (n.hidden % 2 != 0) throw Error(std::string(placer) + ": hidden must be a positive even number");
  n.temperature = o.Double("temperature");
  n.logit_clip = o.Double("logit_clip");
  n.op_embedding = o.Int("op_embedding");
  n.device_embedding = o.Int("device_embedding");
  return n;
}

Seq2SeqPolicyConfig Seq2SeqPolicyConfigOf(const OptionValues& o, const char* placer) {
  Seq2SeqPolicyConfig c;
  c.net = NetConfig(o, placer);
  c.max_groups = static_cast<size_t>(o.Int("groups"));
  c.fuse_chains = o.Bool("fuse_chains");
  c.gpu_only = GpuOnly(o, placer);
  return c;
}

PpoConfig PpoConfigOf(const OptionValues& o) {
  PpoConfig c;
  c.lr = o.Double("lr");
  c.clip = o.Double("clip");
  c.epochs = o.Int("epochs");
  c.entropy = o.Double("entropy");
  c.normalize = o.Bool("normalize");
  c.entropy_target = o.Double("entropy_target");
  if (c.entropy_target > 0 && !(c.entropy > 0))
    throw Error("option entropy_target needs a positive entropy (the weight it adapts starts there), got entropy=" +
                FingerprintNumber(c.entropy));
  return c;
}

// --- seq2seq: ColocRL ---------------------------------------------------------------------------------------------

Specs Seq2SeqOptions() {
  Specs s = Concat({LoopOptions("500", "16", "placements sampled and simulated per update (K; HDP: 4; ColocRL: one "
                                             "per worker, many workers; 16 batches the decoder for ~10x the "
                                             "placements/s of 4)"),
                    {{"lr", T::kDouble, "0.0005", "Adam learning rate (HDP paper: 0.1; ours: 0.01 collapses to one GPU "
                                                  "within 10 steps, 0.001 within ~100)"},
                     {"entropy", T::kDouble, "0.05", "entropy bonus weight, per group (the papers use none; without it "
                                                     "the policy collapses onto one GPU within ~100 steps; at 0.03 "
                                                     "Inception-V3's collapses at 214.8 ms, at 0.1 it learns too "
                                                     "slowly; NMT-4 at 256 groups needs 0.07)"},
                     {"normalize", T::kBool, "true", "divide advantages by the std of the K samples' costs (not in the papers)"}},
                    NetOptions(), GroupingOptions(), NoiseOptions("0.5")});
  return s;
}

std::unique_ptr<Policy> MakeSeq2Seq(const PlacementProblem& p, const OptionValues& o) {
  return std::make_unique<Seq2SeqPolicy>(p, Seq2SeqPolicyConfigOf(o, "seq2seq"), "seq2seq");
}

ReinforceConfig ReinforceConfigOf(const OptionValues& o) {
  ReinforceConfig c;
  c.lr = o.Double("lr");
  c.entropy = o.Double("entropy");
  c.normalize = o.Bool("normalize");
  return c;
}

std::unique_ptr<Algorithm> Seq2SeqAlgorithm(Policy& policy, const OptionValues& o) {
  return std::make_unique<Reinforce>(policy, ReinforceConfigOf(o));
}

std::unique_ptr<Policy> LoadSeq2Seq(const PlacementProblem& p, const nlohmann::json& j, const std::string& source) {
  return LoadSeq2SeqPolicy(p, j, source, "seq2seq");
}

// --- spotlight: PPO on the seq2seq policy ---------------------------------------------------------------------------

Specs SpotlightOptions() {
  return Concat({LoopOptions("500", "16", "placements sampled per PPO batch (K)"),
                 PpoOptions("0.0005", "4", "0.05"),
                 {{"value", T::kBool, "true", "learned per-stage value baseline (a head on the decoder state); false: "
                                              "the EMA baseline"},
                  {"value_coef", T::kDouble, "0.5", "weight of the value head's squared error"}},
                 NetOptions(), GroupingOptions(), NoiseOptions("0")});
}

std::unique_ptr<Policy> MakeSpotlight(const PlacementProblem& p, const OptionValues& o) {
  Seq2SeqPolicyConfig c = Seq2SeqPolicyConfigOf(o, "spotlight");
  c.net.value_head = o.Bool("value");
  return std::make_unique<Seq2SeqPolicy>(p, c, "spotlight");
}

std::unique_ptr<Algorithm> SpotlightAlgorithm(Policy& policy, const OptionValues& o) {
  PpoConfig c = PpoConfigOf(o);
  c.value_coef = o.Double("value_coef");
  return std::make_unique<Ppo>(policy, c);
}

std::unique_ptr<Policy> LoadSpotlight(const PlacementProblem& p, const nlohmann::json& j, const std::string& source) {
  return LoadSeq2SeqPolicy(p, j, source, "spotlight");
}

// --- post: categorical + PPO + cross-entropy ------------------------------------------------------------------------

Specs PostOptions() {
  return Concat({LoopOptions("300", "16", "placements sampled per PPO batch (Post's K)"),
                 PpoOptions("0.01", "10", "0"),
                 {{"elite", T::kDouble, "0.1", "elite fraction of the CE refit (Post: top 10%)", 1e-6, 1},
                  {"every", T::kInt, "160", "samples between CE refits (Post's N; rounded up to whole batches)", 1},
                  {"mix", T::kDouble, "0.05", "weight of uniform mixed into each CE refit (Post's epsilon)", 0, 1}},
                 GroupingOptions()});
}

std::unique_ptr<Policy> MakePost(const PlacementProblem& p, const OptionValues& o) {
  CategoricalConfig c;
  c.max_groups = static_cast<size_t>(o.Int("groups"));
  c.fuse_chains = o.Bool("fuse_chains");
  c.gpu_only = GpuOnly(o, "post");
  return std::make_unique<CategoricalPolicy>(p, c);
}

std::unique_ptr<Algorithm> PostAlgorithm(Policy& policy, const OptionValues& o) {
  CrossEntropyConfig c;
  c.elite = o.Double("elite");
  c.every = o.Int("every");
  c.mix = o.Double("mix");
  return std::make_unique<CrossEntropy>(policy, c, std::make_unique<Ppo>(policy, PpoConfigOf(o)));
}

// --- hierarchical: HDP ----------------------------------------------------------------------------------------------

Specs HierarchicalOptions() {
  Specs s = Concat({LoopOptions("1000", "16", "placements (each with its own grouping) per update"),
                    {{"lr", T::kDouble, "0.0005", "Adam learning rate (HDP paper: 0.1)"},
                     {"entropy", T::kDouble, "0.01", "entropy bonus weight, per decision (HDP: none)"},
                     {"normalize", T::kBool, "true", "divide advantages by the std of the K samples' costs (not in HDP)"},
                     {"groups", T::kInt, "0", "groups G of the Grouper (0: min(256, 20 x devices), HDP's code)", 0, 4096},
                     {"grouper_hidden", T::kInt, "64", "the Grouper's hidden width (HDP: 64)", 1, 8192},
                     {"prior", T::kDouble, "0.2", "width, in groups, of the Grouper's positional prior: unit u's "
                                                  "logit for group g gains -((g + 1/2 - r_u G) / prior)^2 / 2, r_u its "
                                                  "topological rank in [0, 1) (ours; 0: none, as HDP)", 0, 1e6},
                     {"mask_after", T::kInt, "500", "updates after which invalid samples are masked out of the loss "
                                                    "(HDP paper: 500; code: 1000; 0: never)"},
                     {"devices", T::kString, "gpu", "gpu (the cluster's GPUs) or all"}},
                    NetOptions(), NoiseOptions("0.5")});
  return s;
}

std::unique_ptr<Policy> MakeHierarchical(const PlacementProblem& p, const OptionValues& o) {
  HierarchicalConfig c;
  c.groups = o.Int("groups");
  c.grouper_hidden = o.Int("grouper_hidden");
  c.prior_width = o.Double("prior");
  c.op_embedding = o.Int("op_embedding");
  c.placer = NetConfig(o, "hierarchical");
  c.gpu_only = GpuOnly(o, "hierarchical");
  return std::make_unique<HierarchicalPolicy>(p, c);
}

std::unique_ptr<Algorithm> HierarchicalAlgorithm(Policy& policy, const OptionValues& o) {
  ReinforceConfig c = ReinforceConfigOf(o);
  c.mask_invalid_after = o.Int("mask_after");
  return std::make_unique<Reinforce>(policy, c);
}

// The graph-generic placers: a policy over another graph sharing a trained one's network, and the option that
// fine-tunes a trained policy on the graph it places.
template <typename P>
std::unique_ptr<Policy> ShareNetwork(const PlacementProblem& p, Policy& trained) {
  auto& policy = dynamic_cast<P&>(trained);
  return std::make_unique<P>(p, policy.config(), policy.net());
}

OptionSpec GraphsOption() {
  return {"graphs", T::kInt, "1", "training on several graphs: graphs per update, their losses averaged into one "
                                  "optimizer step (GDP-batch; at most the number of graphs)", 1, 1 << 20};
}

OptionSpec FinetuneOption() {
  return {"finetune_steps", T::kInt, "0", "with policy=DIR: updates on this graph before placing (0: zero-shot, the "
                                          "greedy decode)"};
}

// --- gdp: GraphSAGE + segment attention, one-shot, PPO, many graphs ------------------------------------------------

Specs GdpOptions() {
  return Concat({LoopOptions("1000", "16", "placements sampled per PPO batch (K), all from one forward pass"),
                 PpoOptions("0.0002", "4", "0.03"),
                 {{"hidden", T::kInt, "64", "embedding and attention width (DOPPLER's GDP: 64)", 2, 4096},
                  {"sage_layers", T::kInt, "2", "GraphSAGE layers (hops)", 0, 16},
                  {"heads", T::kInt, "4", "attention heads (DOPPLER's GDP: 4)", 1, 64},
                  {"attention_layers", T::kInt, "2", "segment-attention blocks", 0, 16},
                  {"segment", T::kInt, "64", "units per attention segment; each also attends to the previous one (128: 4x slower at 10k units)",
                   1, 1 << 20},
                  {"baseline", T::kString, "batch", "the advantage's baseline: batch (the batch's mean cost) or ema "
                                                    "(the moving average of the other PPO placers)"},
                  {"superposition", T::kBool, "true", "graph-conditioned gates on every attention block (GDP's "
                                                      "superposition network)"},
                  {"groups", T::kInt, "0", "most decision units (0: every forced co-location group, as GDP places "
                                           "every op)"},
                  {"fuse_chains", T::kBool, "false", "merge an op into its single consumer first"},
                  {"devices", T::kString, "gpu", "the devices the policy chooses among: gpu or all"},
                  GraphsOption(), FinetuneOption()}});
}

GdpConfig GdpConfigOf(const OptionValues& o) {
  GdpConfig c;
  c.hidden = o.Int("hidden");
  c.sage_layers = o.Int("sage_layers");
  c.attention.heads = o.Int("heads");
  c.attention.layers = o.Int("attention_layers");
  c.attention.segment = o.Int("segment");
  c.attention.superposition = o.Bool("superposition");
  if (c.hidden % c.attention.heads != 0) throw Error("gdp: hidden must be a multiple of heads");
  c.max_groups = static_cast<size_t>(o.Int("groups"));
  c.fuse_chains = o.Bool("fuse_chains");
  c.gpu_only = GpuOnly(o, "gdp");
  return c;
}

std::unique_ptr<Policy> MakeGdp(const PlacementProblem& p, const OptionValues& o) {
  return std::make_unique<GdpPolicy>(p, GdpConfigOf(o));
}

std::unique_ptr<Algorithm> GdpAlgorithm(Policy& policy, const OptionValues& o) {
  PpoConfig c = PpoConfigOf(o);
  c.batch_baseline = o.String("baseline") == "batch";
  if (!c.batch_baseline && o.String("baseline") != "ema")
    throw Error("gdp: baseline must be batch or ema, not '" + o.String("baseline") + "'");
  return std::make_unique<Ppo>(policy, c);
}

// --- placeto: progressive episodes, REINFORCE with per-step baselines (or PPO on the episode's cost) ----------------

Specs PlacetoOptions() {
  return Concat({LoopOptions("300", "4", "episodes per update (each visits every unit and re-simulates after every "
                                         "move)"),
                 {{"algorithm", T::kString, "reinforce",
                   "reinforce (Placeto's: per-step returns, per-step baselines) or ppo (not in Placeto: the final "
                   "placement's cost against the batch's mean, clipped surrogate, replayed episodes; on nas_cnn graphs "
                   "it learns better than single where reinforce learns single: README)"},
                  {"clip", T::kDouble, "0.2", "with algorithm=ppo: the clip range epsilon", 0, 1},
                  {"epochs", T::kInt, "4", "with algorithm=ppo: epochs over each batch (each replays its episodes)", 1,
                   1000},
                  {"lr", T::kDouble, "0.001", "Adam learning rate (Placeto's hyperparameters.txt: 1e-3)"},
                  {"entropy", T::kDouble, "0", "entropy bonus weight, per step (Placeto decays one; 0.01 and 0.03 "
                                               "did not keep the policy on the tests' 8-chain toy from turning "
                                               "deterministic, nor help it find the optimum)"},
                  {"entropy_target", T::kDouble, "0", "with algorithm=ppo: nats per step to hold by adapting the "
                                                      "entropy weight per graph (0: a fixed weight)", 0, 100},
                  {"window", T::kInt, "10", "episodes in each step's baseline (Placeto: 10; algorithm=reinforce)", 1,
                   100000},
                  {"normalize", T::kBool, "true", "divide advantages by their std over the batch (not in Placeto)"},
                  {"width", T::kInt, "32", "the encoder's embedding width d", 2, 4096},
                  {"groups", T::kInt, "128", "most decision units (Placeto places coarsened graphs; 0: no cap)"},
                  {"fuse_chains", T::kBool, "true", "merge an op into its single consumer before grouping"},
                  {"mean_sets", T::kBool, "true", "average the ancestor/descendant/parallel sets, not sum them "
                                                  "(the reference code's --normalize-aggs)"},
                  {"keep_best", T::kBool, "false",
                   "an episode's placement is the best it visited (its start included), and a step's reward the drop "
                   "of the best cost so far (the reference's use-min-runtime return), not its last placement"},
                  {"devices", T::kString, "gpu", "the devices the policy chooses among: gpu or all"},
                  GraphsOption(), FinetuneOption()}});
}

std::unique_ptr<Policy> MakePlaceto(const PlacementProblem& p, const OptionValues& o) {
  PlacetoConfig c;
  c.width = o.Int("width");
  c.max_groups = static_cast<size_t>(o.Int("groups"));
  c.fuse_chains = o.Bool("fuse_chains");
  c.gpu_only = GpuOnly(o, "placeto");
  c.mean_sets = o.Bool("mean_sets");
  c.keep_best = o.Bool("keep_best");
  return std::make_unique<PlacetoPolicy>(p, c);
}

std::unique_ptr<Algorithm> PlacetoAlgorithm(Policy& policy, const OptionValues& o) {
  const std::string algorithm = o.String("algorithm");
  if (algorithm == "ppo") {
    PpoConfig c = PpoConfigOf(o);
    c.batch_baseline = true;  // gdp's reason (rl/ppo.cc): a sharpened policy's batches carry no signal
    return std::make_unique<Ppo>(policy, c);
  }
  if (algorithm != "reinforce") throw Error("placeto: algorithm must be reinforce or ppo, not '" + algorithm + "'");
  if (o.Double("entropy_target") > 0) throw Error("placeto: entropy_target needs algorithm=ppo");
  ProgressiveReinforceConfig c;
  c.lr = o.Double("lr");
  c.entropy = o.Double("entropy");
  c.window = o.Int("window");
  c.normalize = o.Bool("normalize");
  return std::make_unique<ProgressiveReinforce>(policy, c);
}

// --- the generic placer ---------------------------------------------------------------------------------------------

class LearnedPlacer : public Placer {
 public:
  LearnedPlacer(const LearnedPlacerDef& def, OptionValues o) : Placer(std::move(o)), def_(def) {}
  std::string_view name() const override { return def_.name; }

  std::vector<DeviceId> place(const PlacementProblem& p) override {
    curve_.clear();
    if (!options_.String("policy").empty()) {
      if (options_.Has("finetune_steps") && options_.Int("finetune_steps") > 0) return FineTune(p, options_.String("policy"));
      return PlaceWithPolicy(p, options_.String("policy"));
    }
    TrainerConfig run;
    // Training inside `allot place` can take minutes: report on stderr every 10 s.
    const std::string name = def_.name;
    run.progress = [name](const std::string& line) { std::fprintf(stderr, "%s: %s\n", name.c_str(), line.c_str()); };
    run.progress_interval = 10;
    std::unique_ptr<Trainer> trainer = MakeTrainer(p, def_.name, options_, run);
    const TrainResult r = trainer->Train();
    for (const CurvePoint& c : r.curve)
      curve_.push_back({c.step * trainer->config().samples, c.best_step_time, c.elapsed});
    if (r.best_placement.empty())
      throw Error(name + ": no sampled placement fit in memory in " + std::to_string(r.steps_done) +
                  " steps (try more steps, or a cluster with more memory)");
    return r.best_placement;
  }

  std::vector<SearchPoint> search_curve() const override { return curve_; }

 private:
  LoadedPolicy Load(const PlacementProblem& p, const std::string& dir) const {
    LoadedPolicy loaded = LoadPolicyDirectory(dir, p);
    if (loaded.meta.placer != def_.name)
      throw Error(std::string(def_.name) + ": the policy in " + dir + " is a " + loaded.meta.placer +
                  " policy (use --placer " + loaded.meta.placer + ")");
    return loaded;
  }

  static std::vector<DeviceId> GreedyPlacement(const PlacementProblem& p, Policy& policy) {
    torch::NoGradGuard no_grad;
    const Decoded d = policy.Greedy();
    return ExpandDecision(p, policy.decision_map(), d.devices.data());
  }

  std::vector<DeviceId> PlaceWithPolicy(const PlacementProblem& p, const std::string& dir) const {
    LoadedPolicy loaded = Load(p, dir);
    std::vector<DeviceId> placement = GreedyPlacement(p, *loaded.policy);
    Simulator sim(*p.graph, *p.cluster, *p.costs, SimOptions{p.order, false});
    const SimResult& r = sim.Run(placement);
    if (!r.valid)
      throw Error(std::string(def_.name) + ": the greedy placement of the policy in " + dir + " does not fit: " + r.error);
    return placement;
  }

  // A trained policy's greedy placement, then finetune_steps updates on this graph: the best of the greedy decodes
  // before and after and of every sample.
  std::vector<DeviceId> FineTune(const PlacementProblem& p, const std::string& dir) {
    LoadedPolicy loaded = Load(p, dir);
    Simulator sim(*p.graph, *p.cluster, *p.costs, SimOptions{p.order, false});
    std::vector<DeviceId> best = GreedyPlacement(p, *loaded.policy);
    const SimResult& zero_shot = sim.Run(best);
    double best_time = zero_shot.valid ? zero_shot.step_time : std::numeric_limits<double>::infinity();
    OptionValues o = options_;
    o.Set("steps", std::to_string(options_.Int("finetune_steps")));
    TrainerConfig run;
    const std::string name = def_.name;
    run.progress = [name](const std::string& line) { std::fprintf(stderr, "%s: %s\n", name.c_str(), line.c_str()); };
    run.progress_interval = 10;
    std::unique_ptr<Trainer> trainer = MakeTrainer({&p}, def_.name, o, run, std::move(loaded.policy));
    const TrainResult r = trainer->Train();
    curve_.push_back({1, best_time, 0});
    for (const CurvePoint& c : r.curve)
      curve_.push_back({1 + c.step * trainer->config().samples, std::min(best_time, c.best_step_time), c.elapsed});
    if (!r.best_placement.empty() && r.best_step_time < best_time) {
      best = r.best_placement;
      best_time = r.best_step_time;
    }
    std::vector<DeviceId> after = GreedyPlacement(p, trainer->policy());
    const SimResult& tuned = sim.Run(after);
    if (tuned.valid && tuned.step_time < best_time) {
      best = std::move(after);
      best_time = tuned.step_time;
    }
    if (!std::isfinite(best_time))
      throw Error(name + ": no placement of the policy in " + dir + " fits in memory, before or after fine-tuning");
    return best;
  }

  const LearnedPlacerDef& def_;
  std::vector<SearchPoint> curve_;
};

}  // namespace

const std::vector<LearnedPlacerDef>& LearnedPlacerDefs() {
  static const std::vector<LearnedPlacerDef> defs = {
      {"seq2seq",
       "ColocRL: attention seq2seq policy over co-location groups, REINFORCE on sqrt(simulated step time); trains per "
       "graph (or decodes a trained policy=DIR)",
       Seq2SeqOptions, MakeSeq2Seq, Seq2SeqAlgorithm, LoadSeq2Seq},
      {"hierarchical",
       "HDP: a feed-forward Grouper assigns every op to a group, a seq2seq Placer places the groups; joint REINFORCE",
       HierarchicalOptions, MakeHierarchical, HierarchicalAlgorithm, LoadHierarchicalPolicy},
      {"spotlight", "Spotlight: the seq2seq policy trained with PPO over the multi-stage MDP, per-stage value baseline",
       SpotlightOptions, MakeSpotlight, SpotlightAlgorithm, LoadSpotlight},
      {"post",
       "Post: a categorical distribution per group, PPO every batch and a closed-form cross-entropy refit to the "
       "elite 10% every N samples",
       PostOptions, MakePost, PostAlgorithm, LoadCategoricalPolicy},
      {"gdp",
       "GDP: GraphSAGE embeddings and segment (Transformer-XL-style) attention place every unit in one shot, PPO; "
       "trains on many graphs (allot train --models) and places unseen ones (policy=DIR, finetune_steps=N)",
       GdpOptions, MakeGdp, GdpAlgorithm, LoadGdpPolicy, ShareNetwork<GdpPolicy>},
      {"placeto",
       "Placeto: episodes that revisit every unit of a placement in topological order, a two-sweep graph network "
       "with ancestor/descendant/parallel aggregation, REINFORCE with per-step baselines; trains on many graphs",
       PlacetoOptions, MakePlaceto, PlacetoAlgorithm, LoadPlacetoPolicy, ShareNetwork<PlacetoPolicy>},
  };
  return defs;
}

const LearnedPlacerDef& FindLearnedPlacer(const std::string& name) {
  std::string known;
  for (const LearnedPlacerDef& d : LearnedPlacerDefs()) {
    if (name == d.name) return d;
    known += (known.empty() ? "" : ", ") + std::string(d.name);
  }
  throw Error("'" + name + "' is not a learned placer (learned placers: " + known + ")");
}

namespace {

// The loop's settings from a placer's options.
void LoopSettings(const OptionValues& o, TrainerConfig& run) {
  run.steps = o.Int("steps");
  run.samples = o.Int("samples");
  if (o.Int("placements") > 0) run.steps = std::min(run.steps, (o.Int("placements") + run.samples - 1) / run.samples);
  run.max_seconds = o.Double("seconds");
  run.seed = static_cast<uint64_t>(o.Int("seed"));
  run.threads = static_cast<int>(o.Int("threads"));
  run.policy_threads = static_cast<int>(o.Int("policy_threads"));
  run.lr = o.Double("lr");
  if (o.Has("graphs")) run.graphs_per_update = o.Int("graphs");
  if (o.Has("noise")) {
    run.logit_noise = o.Double("noise");
    run.noise_steps = o.Int("noise_steps");
    run.lr_decay = o.Double("lr_decay");
    run.lr_decay_every = o.Int("lr_decay_every");
    run.lr_decay_start = o.Int("lr_decay_start");
  }
}

}  // namespace

std::unique_ptr<Trainer> MakeTrainer(const PlacementProblem& problem, const std::string& name, const OptionValues& o,
                                     TrainerConfig run) {
  const LearnedPlacerDef& def = FindLearnedPlacer(name);
  LoopSettings(o, run);
  try {
    std::unique_ptr<Policy> policy = def.make_policy(problem, o);
    std::unique_ptr<Algorithm> algorithm = def.make_algorithm(*policy, o);
    return std::make_unique<Trainer>(problem, std::move(run), std::move(policy), std::move(algorithm));
  } catch (const c10::Error& e) {  // a network LibTorch refuses to build
    throw Error(name + ": " + e.what_without_backtrace());
  }
}

std::unique_ptr<Trainer> MakeTrainer(const std::vector<const PlacementProblem*>& problems, const std::string& name,
                                     const OptionValues& o, TrainerConfig run, std::unique_ptr<Policy> start) {
  const LearnedPlacerDef& def = FindLearnedPlacer(name);
  if (def.share_policy == nullptr && (problems.size() > 1 || start))
    throw Error(name + " trains on one graph at a time; graph-generic placers train on many (gdp, placeto)");
  if (problems.empty()) throw Error(name + ": no graph to train on");
  LoopSettings(o, run);
  try {
    std::vector<TrainTask> tasks(problems.size());
    if (start) {
      run.init_parameters = false;
      tasks[0].policy = def.share_policy(*problems[0], *start);
    } else {
      tasks[0].policy = def.make_policy(*problems[0], o);
    }
    tasks[0].problem = problems[0];
    for (size_t t = 1; t < problems.size(); ++t) {
      tasks[t].problem = problems[t];
      tasks[t].policy = def.share_policy(*problems[t], *tasks[0].policy);
    }
    std::unique_ptr<Algorithm> algorithm = def.make_algorithm(*tasks[0].policy, o);
    return std::make_unique<Trainer>(std::move(tasks), std::move(run), std::move(algorithm));
  } catch (const c10::Error& e) {
    throw Error(name + ": " + e.what_without_backtrace());
  }
}

}  // namespace rl

std::string SavedPolicyPlacer(const std::string& dir) {
  const std::string path = rl::ResolvePolicyDirectory(dir) + "/policy.json";
  const nlohmann::json j = ParseJsonText(ReadFile(path), path);
  if (!j.is_object()) throw Error(path + ": not a policy (not a JSON object)");
  return JsonString(j, "placer", path);
}

void RegisterLearnedPlacers(PlacerRegistry& registry) {
  for (const rl::LearnedPlacerDef& def : rl::LearnedPlacerDefs())
    registry.Register({def.name, def.description, def.options(), [&def](OptionValues o) -> std::unique_ptr<Placer> {
                         return std::make_unique<rl::LearnedPlacer>(def, std::move(o));
                       }});
}

}  // namespace allot
