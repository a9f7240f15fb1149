// `allot train`: trains a learned placer's policy (seq2seq, hierarchical, spotlight, post, gdp, placeto:
// rl/learned_registry.h) on one model and cluster — or, for a graph-generic placer, on many (`--models "M1;M2"`)
// — with checkpoints, resume, SIGINT handling and a learning curve. Writes, under --out DIR:
//   best_placement.json   the best valid placement sampled (placement-file format, cost_model/placement.h); one
//                         model only (with many, the best per model is printed)
//   learning_curve.csv    step, mean step time, best step time, mean reward, entropy, elapsed, valid fraction
//   learning_curve.svg    the same, plotted
//   policy/               the trained policy: `allot place MODEL --policy DIR` (or DIR/policy)
//   checkpoint.pt         everything --resume needs to continue exactly where the run stopped
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

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
#include "tools/rank_launcher.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct TrainArgs {
  ModelArgs model;
  ClusterArgs cluster;
  std::string models;  // "M1;M2;...": train one graph-generic policy on all of them
  std::string placer = "seq2seq", out, order = "fifo", reward = "simulated";
  int launch = 0;  // --reward measured across this many processes
  int64_t steps = -1, seed = -1, samples = -1, threads = -1, checkpoint_every = 50;
  bool resume = false;
};

// --reward measured: each sample run on the runtime (HDP's protocol: 10 steps, the first 5 dropped, the median of
// the rest). A placement the simulator finds over a device's memory is not run and counts as invalid; the
// runtime executes virtual CPU devices (e.g. --cluster cpu2) and, with a CUDA LibTorch, this machine's GPUs
// (--cluster h200x1), and refuses placements on devices it lacks with an Error.
// With --launch N, each sample runs across N local processes (`allot run --launch N`, a child per sample: a
// process start, LibTorch's load and a rendezvous, about a second, on top of the steps).
class MeasuredScorer : public rl::PlacementScorer {
 public:
  MeasuredScorer(const LoadedModel& model, const Cluster& cluster, const CostTable& costs, DispatchOrder order,
                 const ModelArgs& model_args, const std::string& cluster_arg, int launch)
      : model_(model), cluster_(cluster), sim_(model.graph, cluster, costs, SimOptions{order, false}),
        model_args_(model_args), cluster_arg_(cluster_arg), launch_(launch) {
    if (!model.proto) throw Error("--reward measured: a cost graph cannot be executed; train on an ONNX model");
    options_.warmup = 5;
    options_.steps = 5;
    options_.model_dir = model.model_dir;
  }
  ~MeasuredScorer() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void ScoreAll(const std::vector<std::vector<DeviceId>>& placements, std::vector<rl::Score>& scores) override {
    scores.assign(placements.size(), rl::Score{});
    for (size_t k = 0; k < placements.size(); ++k) {
      if (!sim_.Run(placements[k]).valid) {
        scores[k].valid = false;
        continue;
      }
      scores[k].step_time = launch_ > 1 ? MeasureAcrossProcesses(placements[k])
                                        : runtime::MeasurePlacement(*model_.proto, model_.graph, cluster_,
                                                                    placements[k], options_).median();
    }
  }

 private:
  double MeasureAcrossProcesses(const std::vector<DeviceId>& placement) {
    if (dir_.empty()) {
      char dir[] = "/tmp/allot_train_XXXXXX";
      if (!mkdtemp(dir)) throw Error("--launch: cannot create a temporary folder");
      dir_ = dir;
    }
    const std::string path = dir_ + "/sample.json";
    PlacementInfo info;
    info.model = model_args_.model;
    info.mode = model_args_.mode;
    WriteFileAtomic(path, PlacementToJson(model_.graph, cluster_, placement, info, nullptr));
    std::vector<std::string> argv{"run"};
    for (const std::string& a : ModelCommandLine(model_args_)) argv.push_back(a);
    argv.insert(argv.end(), {"--placement", path, "--cluster", cluster_arg_, "--steps", std::to_string(options_.steps),
                             "--warmup", std::to_string(options_.warmup), "--launch", std::to_string(launch_),
                             "--json"});
    return nlohmann::json::parse(RunSelf(argv)).at("step_time_ms").get<double>() * 1e-3;
  }

  const LoadedModel& model_;
  const Cluster& cluster_;
  Simulator sim_;
  runtime::MeasureOptions options_;
  ModelArgs model_args_;
  std::string cluster_arg_;
  int launch_ = 0;
  std::string dir_;
};

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  return begin == std::string::npos ? "" : s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

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

  std::vector<std::string> specs;
  if (!args.model.model.empty()) specs.push_back(args.model.model);
  for (size_t start = 0; start <= args.models.size() && !args.models.empty();) {
    const size_t end = std::min(args.models.find(';', start), args.models.size());
    const std::string spec = Trim(args.models.substr(start, end - start));
    if (!spec.empty()) specs.push_back(spec);
    start = end + 1;
  }
  if (specs.empty()) throw Error("allot train: give a MODEL or --models \"M1;M2;...\"");
  if (specs.size() > 1 && rl::FindLearnedPlacer(name).share_policy == nullptr)
    throw Error("allot train: " + name + " trains on one model; graph-generic placers (gdp, placeto) train on several");
  if (specs.size() > 1 && args.reward != "simulated")
    throw Error("allot train: --reward measured trains on one model");
  if (args.launch > 1 && args.reward != "measured")
    throw Error("allot train: --launch runs measured rewards across processes: give --reward measured");
  // Stable addresses: the problems point into these.
  std::vector<std::unique_ptr<CostedModel>> costed;
  std::vector<PlacementProblem> problems;
  problems.reserve(specs.size());
  for (const std::string& spec : specs) {
    ModelArgs model = args.model;
    model.model = spec;
    costed.push_back(std::make_unique<CostedModel>(LoadCostedModel(model, args.cluster)));
    problems.push_back(MakeProblem(*costed.back()));
    problems.back().mode = args.model.mode;
    problems.back().order = ParseDispatchOrder(args.order);
  }
  const CostedModel& m = *costed[0];
  const PlacementProblem& problem = problems[0];

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
    config.scorer = std::make_shared<MeasuredScorer>(m.model, m.cluster, m.costs, problem.order, args.model,
                                                     args.cluster.cluster, args.launch);

  std::vector<const PlacementProblem*> pointers;
  for (const PlacementProblem& p : problems) pointers.push_back(&p);
  const std::unique_ptr<rl::Trainer> trainer_ptr = specs.size() > 1 ? rl::MakeTrainer(pointers, name, options, config)
                                                                      : rl::MakeTrainer(problem, name, options, config);
  rl::Trainer& trainer = *trainer_ptr;
  for (size_t i = 0; i < specs.size(); ++i)
    std::printf("%-15s%s (%zu nodes, %s; %zu decision units)\n", i == 0 ? "model" : "", specs[i].c_str(),
                costed[i]->model.graph.num_nodes(), args.model.mode.c_str(),
                trainer.task(i).policy->decision_groups().num_groups());
  std::printf("cluster        %s (%zu devices)\n", m.cluster.name().c_str(), m.cluster.num_devices());
  std::printf("placer         %s:%s\n", name.c_str(), options.ToSpec().c_str());
  if (specs.size() == 1) std::printf("groups         %zu decision units\n", trainer.decision_groups().num_groups());
  if (args.resume) std::printf("resuming       from %s\n", trainer.CheckpointPath().c_str());
  std::fflush(stdout);

  rl::TrainResult r;
  {
    SigintScope sigint;
    r = trainer.Train();
  }
  const std::filesystem::path out(args.out);
  rl::PolicyMetadata meta = rl::MetadataOf(trainer, r);
  meta.model = specs[0];
  for (size_t i = 1; i < specs.size(); ++i) meta.model += ";" + specs[i];
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
  if (specs.size() > 1) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const double bound = ComputeLowerBound(costed[i]->model.graph, costed[i]->costs).value();
      const rl::TaskBest& best = r.tasks[i];
      std::printf("%-15s%s  best %s (%.3gx its lower bound %s)\n", i == 0 ? "best" : "", specs[i].c_str(),
                  FormatSeconds(best.step_time).c_str(), best.step_time / bound, FormatSeconds(bound).c_str());
    }
    std::printf("wrote          %s/{policy/,learning_curve.csv,learning_curve.svg,checkpoint.pt}\n", args.out.c_str());
    return;
  }
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
  CLI::App* cmd = app.add_subcommand("train", "Train a learned placer's policy (seq2seq, hierarchical, spotlight, post, gdp, placeto) with checkpoints");
  AddModelOptions(*cmd, args->model, /*model_option=*/false, /*optional_model=*/true);
  cmd->add_option("--models", args->models,
                  "several models, \"M1;M2;...\" (ONNX files or gen: specs): one graph-generic policy (gdp, placeto) for all, "
                  "a graph drawn per update");
  AddClusterOptions(*cmd, args->cluster);
  cmd->add_option("--placer", args->placer, "learned placer spec: seq2seq|hierarchical|spotlight|post|gdp|placeto[:key=value,...] (see `allot placers`)");
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
  cmd->add_option("--launch", args->launch,
                  "with --reward measured: run each sample across N local processes (ranks, as `allot run --launch N`)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--reward", args->reward, "simulated, or measured (each sample run on the runtime: virtual CPU clusters such as cpu2)")
      ->check(CLI::IsMember({"simulated", "measured"}));
  cmd->add_option("--order", args->order, "simulator dispatch order: fifo or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->callback([args] { RunTrain(*args); });
}

}  // namespace allot::tools
