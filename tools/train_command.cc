// `allot train`: trains a learned placer's policy (seq2seq, hierarchical, spotlight, post: rl/learned_registry.h)
// on one model and cluster, with checkpoints, resume, SIGINT handling and a learning curve. Writes, under --out DIR:
//   best_placement.json   the best valid placement sampled (placement-file format, cost_model/placement.h)
//   learning_curve.csv    step, mean step time, best step time, mean reward, entropy, elapsed, valid fraction
//   learning_curve.svg    the same, plotted
//   policy/               the trained policy: `allot place MODEL --policy DIR` (or DIR/policy)
//   checkpoint.pt         everything --resume needs to continue exactly where the run stopped
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cost_model/bounds.h"
#include "cost_model/placement.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/learned_registry.h"
#include "rl/policy_io.h"
#include "rl/trainer.h"
#include "runtime/measure.h"
#include "tools/all_placers.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/place_run.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct TrainArgs {
  ModelArgs model;
  ClusterArgs cluster;
  std::string placer = "seq2seq", out, order = "fifo", reward = "simulated";
  int64_t steps = -1, seed = -1, samples = -1, threads = -1, checkpoint_every = 50;
  bool resume = false;
};

// --reward measured: each sample run on the runtime (HDP's protocol: 10 steps, the first 5 dropped, the median of
// the rest). A placement the simulator finds over a device's memory is not run and counts as invalid; the
// runtime executes virtual CPU devices (e.g. --cluster cpu2) and, with a CUDA LibTorch, this machine's GPUs
// (--cluster h200x1), and refuses placements on devices it lacks with an Error.
class MeasuredScorer : public rl::PlacementScorer {
 public:
  MeasuredScorer(const LoadedModel& model, const Cluster& cluster, const CostTable& costs, DispatchOrder order)
      : model_(model), cluster_(cluster), sim_(model.graph, cluster, costs, SimOptions{order, false}) {
    if (!model.proto) throw Error("--reward measured: a cost graph cannot be executed; train on an ONNX model");
    options_.warmup = 5;
    options_.steps = 5;
    options_.model_dir = model.model_dir;
  }
  void ScoreAll(const std::vector<std::vector<DeviceId>>& placements, std::vector<rl::Score>& scores) override {
    scores.assign(placements.size(), rl::Score{});
    for (size_t k = 0; k < placements.size(); ++k) {
      if (!sim_.Run(placements[k]).valid) {
        scores[k].valid = false;
        continue;
      }
      scores[k].step_time = runtime::MeasurePlacement(*model_.proto, model_.graph, cluster_, placements[k], options_).median();
    }
  }

 private:
  const LoadedModel& model_;
  const Cluster& cluster_;
  Simulator sim_;
  runtime::MeasureOptions options_;
};

std::atomic<bool> g_stop{false};

void OnTrainSigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

// Installs OnTrainSigint for the lifetime of the object.
class SigintScope {
 public:
  SigintScope() {
    g_stop.store(false);
    previous_ = std::signal(SIGINT, OnTrainSigint);
  }
  ~SigintScope() { std::signal(SIGINT, previous_); }

 private:
  void (*previous_)(int) = SIG_DFL;
};

void RunTrain(const TrainArgs& args) {
  const std::string name = args.placer.substr(0, args.placer.find(':'));
  try {
    rl::FindLearnedPlacer(name);
  } catch (const Error& e) {
    throw Error(std::string("allot train: ") + e.what());
  }
  OptionValues options = AllPlacers().ParseOptions(args.placer);
  if (!options.String("policy").empty()) throw Error("allot train: the policy option is for `allot place`");
  if (args.steps >= 0) options.Set("steps", std::to_string(args.steps));
  if (args.seed >= 0) options.Set("seed", std::to_string(args.seed));
  if (args.samples >= 0) options.Set("samples", std::to_string(args.samples));
  if (args.threads >= 0) options.Set("threads", std::to_string(args.threads));

  const CostedModel m = LoadCostedModel(args.model, args.cluster);
  PlacementProblem problem = MakeProblem(m);
  problem.mode = args.model.mode;
  problem.order = ParseDispatchOrder(args.order);

  rl::TrainerConfig config;
  config.reward = rl::ParseRewardSource(args.reward);
  config.out_dir = args.out;
  config.checkpoint_every = std::max<int64_t>(0, args.checkpoint_every);
  config.resume = args.resume;
  config.progress = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  config.stop = &g_stop;
  if (config.reward == rl::RewardSource::kMeasured)
    config.scorer = std::make_shared<MeasuredScorer>(m.model, m.cluster, m.costs, problem.order);

  const std::unique_ptr<rl::Trainer> trainer_ptr = rl::MakeTrainer(problem, name, options, config);
  rl::Trainer& trainer = *trainer_ptr;
  std::printf("model          %s (%zu nodes, %s)\n", args.model.model.c_str(), m.model.graph.num_nodes(),
              args.model.mode.c_str());
  std::printf("cluster        %s (%zu devices)\n", m.cluster.name().c_str(), m.cluster.num_devices());
  std::printf("placer         %s:%s\n", name.c_str(), options.ToSpec().c_str());
  std::printf("groups         %zu decision units\n", trainer.decision_groups().num_groups());
  if (args.resume) std::printf("resuming       from %s\n", trainer.CheckpointPath().c_str());
  std::fflush(stdout);

  rl::TrainResult r;
  {
    SigintScope sigint;
    r = trainer.Train();
  }
  const std::filesystem::path out(args.out);
  rl::PolicyMetadata meta = rl::MetadataOf(trainer, r);
  meta.model = args.model.model;
  meta.mode = args.model.mode;
  rl::SavePolicyDirectory((out / "policy").string(), trainer.policy(), meta);

  std::printf("trained        %lld steps (%lld placements in %s, %.1f placements/s; policy %.0f%%, scoring %.0f%%)%s\n",
              static_cast<long long>(r.steps_done), static_cast<long long>(r.placements_evaluated),
              FormatSeconds(r.seconds).c_str(), r.placements_per_second,
              r.seconds > 0 ? 100 * r.policy_seconds / r.seconds : 0.0,
              r.seconds > 0 ? 100 * r.scoring_seconds / r.seconds : 0.0,
              r.interrupted        ? "; interrupted: continue with --resume"
              : r.budget_exhausted ? "; time budget reached"
                                   : "");
  if (r.best_placement.empty()) {
    std::printf("wrote          %s/{policy/,learning_curve.csv,learning_curve.svg,checkpoint.pt}\n", args.out.c_str());
    throw Error(name + " found no placement that fits in memory in " + std::to_string(r.steps_done) +
                " steps; no best_placement.json written");
  }
  Simulator sim(m.model.graph, m.cluster, m.costs, SimOptions{problem.order, false});
  const SimResult& result = sim.Run(r.best_placement);
  PlacementInfo info;
  info.model = args.model.model;
  info.mode = args.model.mode;
  info.optimizer = args.model.optimizer;
  info.bindings = ParseBindings(args.model);
  info.placer = name;
  info.placer_options_json = options.ToJson();
  info.lower_bound = ComputeLowerBound(m.model.graph, m.costs).value();
  WriteFileAtomic((out / "best_placement.json").string(),
                  PlacementToJson(m.model.graph, m.cluster, r.best_placement, info, &result));
  if (config.reward == rl::RewardSource::kMeasured)
    std::printf("best           %s measured, %s simulated (found at step %lld; lower bound %s)\n",
                FormatSeconds(r.best_step_time).c_str(), FormatSeconds(result.step_time).c_str(),
                static_cast<long long>(r.best_step), FormatSeconds(info.lower_bound).c_str());
  else
    std::printf("best           %s (found at step %lld; lower bound %s)\n", FormatSeconds(result.step_time).c_str(),
                static_cast<long long>(r.best_step), FormatSeconds(info.lower_bound).c_str());
  std::printf("wrote          %s/{best_placement.json,policy/,learning_curve.csv,learning_curve.svg,checkpoint.pt}\n",
              args.out.c_str());
}

}  // namespace

void RegisterTrain(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a learned placer's policy (seq2seq, hierarchical, spotlight, post) with checkpoints");
  AddModelOptions(*cmd, args->model);
  AddClusterOptions(*cmd, args->cluster);
  cmd->add_option("--placer", args->placer, "learned placer spec: seq2seq|hierarchical|spotlight|post[:key=value,...] (see `allot placers`)");
  cmd->add_option("--out", args->out, "output directory (checkpoint, curve, policy, best placement)")
      ->required()
      ->check(kOutputPath);
  cmd->add_option("--steps", args->steps, "policy updates in total (overrides the placer's steps)")->check(kCount);
  cmd->add_option("--seed", args->seed, "seed (overrides the placer's seed)")->check(kCountOrZero);
  cmd->add_option("--samples", args->samples, "placements per update, K (overrides the placer's samples)")->check(kCount);
  cmd->add_option("--threads", args->threads, "simulator threads (the result does not depend on it)")->check(kCount);
  cmd->add_option("--checkpoint-every", args->checkpoint_every, "steps between checkpoints (0: only at the end)")
      ->check(kCountOrZero);
  cmd->add_flag("--resume", args->resume, "continue from OUT/checkpoint.pt (same model, cluster and options)");
  cmd->add_option("--reward", args->reward, "simulated, or measured (each sample run on the runtime: virtual CPU clusters such as cpu2)")
      ->check(CLI::IsMember({"simulated", "measured"}));
  cmd->add_option("--order", args->order, "simulator dispatch order: fifo or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->callback([args] { RunTrain(*args); });
}

}  // namespace allot::tools
