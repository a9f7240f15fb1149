// `allot placers` and `allot place`.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cost_model/bounds.h"
#include "cost_model/placement.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/learned_placers.h"
#include "tools/all_placers.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/place_run.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct PlaceArgs {
  ModelArgs model;
  ClusterArgs cluster;
  std::string placer = "etf", output, order = "fifo", policy;
  int64_t seed = -1, finetune_steps = -1;
  double budget_seconds = 0;
  bool json = false;
  bool placer_given = false;
};

void RunPlace(const PlaceArgs& args) {
  const CostedModel m = LoadCostedModel(args.model, args.cluster);
  // A learned placer's trained policy: place with it, without training (the placer named in the policy unless
  // --placer says otherwise; a mismatch is refused by the placer).
  std::string spec = !args.policy.empty() && !args.placer_given ? SavedPolicyPlacer(args.policy) : args.placer;
  auto add = [&spec](const std::string& option) {
    spec += std::string(spec.find(':') == std::string::npos ? ":" : ",") + option;
  };
  if (!args.policy.empty()) add("policy=" + args.policy);
  if ((args.finetune_steps >= 0 || args.budget_seconds > 0) && args.policy.empty())
    throw Error("allot place: --finetune-steps and --budget-seconds fine-tune a trained policy: give --policy DIR");
  // A time budget alone fine-tunes until it runs out.
  if (args.finetune_steps >= 0 || args.budget_seconds > 0)
    add("finetune_steps=" + std::to_string(args.finetune_steps >= 0 ? args.finetune_steps : int64_t{INT32_MAX}));
  if (args.budget_seconds > 0) add("seconds=" + std::to_string(args.budget_seconds));
  const PlaceRun run = RunPlacer(m, spec, args.seed, ParseDispatchOrder(args.order));
  if (!run.error.empty()) throw Error(run.error);
  PlacementInfo info;
  info.model = args.model.model;
  info.mode = args.model.mode;
  info.optimizer = args.model.optimizer;
  info.bindings = ParseBindings(args.model);
  info.placer = run.placer;
  info.placer_options_json = run.options_json;
  info.lower_bound = run.lower_bound.value();
  if (!args.output.empty())
    WriteFileAtomic(args.output, PlacementToJson(m.model.graph, m.cluster, run.placement, info, &run.result));
  if (args.json) {
    nlohmann::ordered_json j = SimulationJson(m, run.placement, run.result, run.lower_bound);
    j["placer"] = run.placer;
    j["placement_seconds"] = run.seconds;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("model          %s (%zu nodes, %s)\n", args.model.model.c_str(), m.model.graph.num_nodes(),
              args.model.mode.c_str());
  std::printf("cluster        %s\n", m.cluster.name().c_str());
  std::printf("placer         %s  (%s to place)\n", (run.placer + ":" + run.options_spec).c_str(),
              FormatSeconds(run.seconds).c_str());
  PrintSimulation(m, run.placement, run.result, run.lower_bound);
  if (!args.output.empty()) std::printf("wrote          %s\n", args.output.c_str());
}

}  // namespace

void RegisterPlace(CLI::App& app) {
  CLI::App* list = app.add_subcommand("placers", "List the placers and their options");
  list->callback([] {
    for (const PlacerInfo& p : AllPlacers().List()) {
      std::printf("%-9s %s\n", p.name.c_str(), p.description.c_str());
      for (const OptionSpec& o : p.options)
        std::printf("            %s=%s  %s\n", o.name.c_str(), o.default_value.c_str(), o.help.c_str());
    }
  });

  auto args = std::make_shared<PlaceArgs>();
  CLI::App* cmd = app.add_subcommand("place", "Place a model on a cluster and write the placement");
  AddModelOptions(*cmd, args->model);
  AddClusterOptions(*cmd, args->cluster);
  CLI::Option* placer = cmd->add_option("--placer", args->placer, "placer spec: NAME[:key=value,...] (see `allot placers`)");
  cmd->add_option("--seed", args->seed, "seed for placers that take one")->check(kCountOrZero);
  cmd->add_option("--policy", args->policy,
                  "a learned placer's trained policy (allot train --out DIR: DIR or DIR/policy); its placer is the "
                  "default --placer");
  cmd->add_option("--finetune-steps", args->finetune_steps,
                  "with --policy of a graph-generic placer (gdp, placeto): train this many updates on this model first "
                  "(0: zero-shot, the default)")
      ->check(kCountOrZero);
  cmd->add_option("--budget-seconds", args->budget_seconds,
                  "with --policy (gdp, placeto): fine-tune on this model for at most this many seconds")
      ->check(kSeconds);
  cmd->add_option("--order", args->order, "simulator dispatch order: fifo or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->add_option("-o,--output", args->output, "placement JSON to write")->check(kOutputPath);
  cmd->add_flag("--json", args->json, "print the result as JSON");
  cmd->callback([args, placer] {
    args->placer_given = placer->count() > 0;
    RunPlace(*args);
  });
}

}  // namespace allot::tools
