// `allot clusters` and `allot simulate`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cost_model/bounds.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "cost_model/trace.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/placement_args.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct SimulateArgs {
  ModelArgs model;
  ClusterArgs cluster;
  std::string placement, trace, order = "fifo";
  bool json = false;
};

void RunSimulate(const SimulateArgs& args) {
  ModelArgs model = args.model;
  ClusterArgs cluster = args.cluster;
  TakePlacementContext(args.placement, model, &cluster.cluster, cluster.cluster_option);
  CostedModel m = LoadCostedModel(model, cluster);
  const std::vector<DeviceId> placement = ReadPlacementFile(args.placement, m.model.graph, m.cluster);
  SimOptions options;
  options.order = ParseDispatchOrder(args.order);
  options.record_schedule = !args.trace.empty();
  Simulator sim(m.model.graph, m.cluster, m.costs, options);
  const SimResult& r = sim.Run(placement);
  const LowerBound lb = ComputeLowerBound(m.model.graph, m.costs);
  if (!args.trace.empty()) WriteFileAtomic(args.trace, ChromeTrace(m.model.graph, m.cluster, r));
  if (args.json) std::cout << SimulationJson(m, placement, r, lb).dump(2) << "\n";
  else PrintSimulation(m, placement, r, lb);
}

}  // namespace

void RegisterSimulate(CLI::App& app) {
  CLI::App* clusters = app.add_subcommand("clusters", "List the cluster presets, or print one as JSON");
  auto show = std::make_shared<std::string>();
  clusters->add_option("--json", *show, "print this preset as an editable JSON spec");
  clusters->callback([show] {
    if (!show->empty()) {
      std::cout << MakePreset(*show).ToJson() << "\n";
      return;
    }
    for (const auto& p : ListClusterPresets()) {
      const Cluster c = MakePreset(p.name);
      std::printf("%-8s %2zu devices  %s\n", p.name.c_str(), c.num_devices(), p.description.c_str());
    }
  });

  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand("simulate", "Simulate one step of a placed model");
  AddModelOptions(*cmd, args->model);
  AddClusterOptions(*cmd, args->cluster);
  cmd->add_option("--placement", args->placement, "placement JSON (from `allot place`)")->required();
  cmd->add_option("--order", args->order, "ready-op dispatch: fifo (TensorFlow's executor) or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->add_option("--trace", args->trace, "write the simulated schedule as a Chrome/Perfetto trace")->check(kOutputPath);
  cmd->add_flag("--json", args->json, "print JSON (fields documented in README)");
  cmd->callback([args] { RunSimulate(*args); });
}

}  // namespace allot::tools
