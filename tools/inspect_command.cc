#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "graph/graph_stats.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/model_loader.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct InspectArgs {
  ModelArgs model;
  bool json = false;
  size_t top = 12;
};

nlohmann::json StatsJson(const LoadedModel& m, const GraphStats& s, const ModelArgs& args) {
  nlohmann::json j;
  j["model"] = args.model;
  j["graph_hash"] = m.graph.hash_hex();
  j["mode"] = args.mode;
  if (args.mode == "training") j["optimizer"] = args.optimizer;
  j["nodes"] = s.nodes;
  j["edges"] = s.edges;
  j["tensors"] = s.tensors;
  j["forward_nodes"] = s.forward_nodes;
  j["gradient_nodes"] = s.gradient_nodes;
  j["update_nodes"] = s.update_nodes;
  j["parameters"] = s.parameter_count;
  j["parameters_bytes"] = s.parameter_bytes;
  j["optimizer_state_bytes"] = s.optimizer_state_bytes;
  j["flops"] = s.flops;
  j["bytes_accessed"] = s.bytes_accessed;
  j["edge_bytes"] = s.edge_bytes;
  j["activation_bytes"] = s.activation_bytes;
  j["peak_activation_bytes"] = s.peak_activation_bytes;
  j["critical_path_flops"] = s.critical_path_flops;
  j["depth"] = s.depth;
  j["unknown_ops"] = s.unknown_ops;
  j["op_histogram"] = s.op_histogram;
  j["warnings"] = m.report.warnings;
  j["ran_shape_inference"] = m.report.ran_shape_inference;
  j["import_seconds"] = m.parse_seconds + m.import_seconds;
  return j;
}

void PrintStats(const LoadedModel& m, const GraphStats& s, const ModelArgs& args, size_t top) {
  auto row = [](const char* key, const std::string& value) { std::printf("%-22s %s\n", key, value.c_str()); };
  row("model", args.model);
  row("graph hash", m.graph.hash_hex());
  row("mode", args.mode == "training" ? "training (optimizer " + args.optimizer + ")" : args.mode);
  std::string nodes = WithCommas(s.nodes);
  if (args.mode == "training")
    nodes += "  (forward " + WithCommas(s.forward_nodes) + ", gradient " + WithCommas(s.gradient_nodes) +
             ", update " + WithCommas(s.update_nodes) + ")";
  row("nodes", nodes);
  row("edges", WithCommas(s.edges));
  row("parameters", FormatCount(static_cast<double>(s.parameter_count)) + "  (" +
                        FormatBytes(static_cast<double>(s.parameter_bytes)) + ")");
  if (s.optimizer_state_bytes) row("optimizer state", FormatBytes(static_cast<double>(s.optimizer_state_bytes)));
  row("FLOPs per step", FormatFlops(s.flops));
  row("bytes accessed", FormatBytes(s.bytes_accessed));
  row("edge bytes", FormatBytes(static_cast<double>(s.edge_bytes)));
  row("activations", FormatBytes(static_cast<double>(s.activation_bytes)) + " produced, peak " +
                         FormatBytes(static_cast<double>(s.peak_activation_bytes)) + " in topological order");
  row("critical path", FormatFlops(s.critical_path_flops) + " over " + WithCommas(s.depth) + " ops");
  row("unknown ops", WithCommas(s.unknown_ops));
  row("import time", FormatSeconds(m.parse_seconds + m.import_seconds) +
                         (m.report.ran_shape_inference ? " (with shape inference)" : " (shapes from the model)"));
  std::vector<std::pair<size_t, std::string>> ops;
  for (const auto& [op, count] : s.op_histogram) ops.emplace_back(count, op);
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::string hist;
  for (size_t i = 0; i < ops.size() && i < top; ++i)
    hist += (i ? ", " : "") + ops[i].second + " " + WithCommas(ops[i].first);
  if (ops.size() > top) hist += ", ... (" + std::to_string(ops.size()) + " op types)";
  row("ops", hist);
  for (const std::string& w : m.report.warnings) std::printf("warning: %s\n", w.c_str());
}

}  // namespace

void RegisterInspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Import a model and print its graph statistics");
  AddModelOptions(*cmd, args->model);
  cmd->add_flag("--json", args->json, "print JSON (fields documented in README)");
  cmd->add_option("--top", args->top, "op types shown in the histogram line")->check(kCountOrZero);
  cmd->callback([args] {
    const LoadedModel m = LoadModel(args->model);
    const GraphStats s = ComputeStats(m.graph);
    if (args->json) std::cout << StatsJson(m, s, args->model).dump(2) << "\n";
    else PrintStats(m, s, args->model, args->top);
  });
}

}  // namespace allot::tools
