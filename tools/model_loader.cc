#include "tools/model_loader.h"
#include "tools/option_checks.h"

#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>

#include "cost_model/cost_graph.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "models/model_zoo.h"

namespace allot::tools {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

DimBindings ParseBindings(const ModelArgs& args) {
  DimBindings b;
  b.batch = args.batch;
  b.seq = args.seq;
  for (const std::string& d : args.dims) {
    const size_t eq = d.find('=');
    int64_t value = 0;
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(d);
      size_t used = 0;
      value = std::stoll(d.substr(eq + 1), &used);
      if (used != d.size() - eq - 1 || value <= 0) throw std::invalid_argument(d);
    } catch (const std::exception&) {
      throw Error("--dim '" + d + "': expected NAME=N with N a positive integer");
    }
    b.dims.emplace_back(d.substr(0, eq), value);
  }
  return b;
}

void AddModelOptions(CLI::App& app, ModelArgs& args, bool model_option, bool optional_model) {
  const char* help = "ONNX file, or gen:SPEC for a generated model (e.g. gen:nmt,layers=4)";
  app.add_option(model_option ? "--model" : "model", args.model, help)->required(!optional_model);
  args.mode_option = app.add_option("--mode", args.mode, "inference, or training (adds backward and optimizer ops)")
                         ->check(CLI::IsMember({"inference", "training"}));
  args.optimizer_option = app.add_option("--optimizer", args.optimizer, "training optimizer: sgd, momentum, adam")
                              ->check(CLI::IsMember({"sgd", "momentum", "adam"}));
  args.batch_option =
      app.add_option("--batch", args.batch, "bind symbolic batch dims (gen: the generator's batch)")->check(kCount);
  args.seq_option =
      app.add_option("--seq", args.seq, "bind symbolic sequence dims (gen: the generator's sequence length)")->check(kCount);
  args.dim_option = app.add_option("--dim", args.dims, "bind a symbolic dim by name: NAME=N (repeatable)");
  app.add_flag("--no-check", args.no_check, "skip the ONNX checker and the check of declared shapes");
}

std::vector<std::string> ModelCommandLine(const ModelArgs& args) {
  std::vector<std::string> out{args.model, "--mode", args.mode, "--optimizer", args.optimizer};
  if (args.batch > 0) out.insert(out.end(), {"--batch", std::to_string(args.batch)});
  if (args.seq > 0) out.insert(out.end(), {"--seq", std::to_string(args.seq)});
  for (const std::string& d : args.dims) out.insert(out.end(), {"--dim", d});
  if (args.no_check) out.push_back("--no-check");
  return out;
}

LoadedModel LoadModel(const ModelArgs& args) {
  LoadedModel out;
  out.source = args.model;
  ImportOptions options;
  static_cast<DimBindings&>(options) = ParseBindings(args);
  options.check = !args.no_check;
  const auto t0 = std::chrono::steady_clock::now();
  onnx::ModelProto proto;
  std::string bytes;  // a file's: parsed and read by the IR build at once (ParseAndImport)
  std::string dir;
  const bool file = args.model.rfind("gen:", 0) != 0;
  if (LooksLikeCostGraph(args.model)) {
    if (args.mode == "training")
      throw Error(args.model + ": a cost graph is already a profiled step; --mode training applies to ONNX models");
    CostGraph cg = ReadCostGraph(args.model);
    out.graph = std::move(cg.graph);
    out.times = std::move(cg.times);
    out.constraints = std::move(cg.constraints);
    out.parse_seconds = Since(t0);
    return out;
  }
  if (!file) {
    auto [name, model_options] = models::ParseModelSpec(args.model.substr(4));
    if (args.batch > 0 && model_options.batch == 0) model_options.batch = args.batch;
    if (args.seq > 0 && model_options.seq == 0) model_options.seq = args.seq;
    proto = models::Generate(name, model_options);
  } else {
    bytes = ReadFile(args.model);
    dir = std::filesystem::path(args.model).parent_path().string();
    if (dir.empty()) dir = ".";
  }
  out.parse_seconds = Since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  out.graph = file ? ParseAndImport(bytes, args.model, options, proto, &out.report, dir)
                   : ImportModel(proto, args.model, options, &out.report, dir);
  std::string().swap(bytes);  // the parsed model has its own copy of the weights
  out.model_dir = dir;
  out.proto = std::make_shared<const onnx::ModelProto>(std::move(proto));
  if (args.mode == "training") {
    TrainingOptions training;
    training.optimizer = ParseOptimizer(args.optimizer);
    try {
      out.graph = SynthesizeTrainingGraph(out.graph, training);
    } catch (const Error& e) {
      throw Error(args.model + ": " + e.what());
    }
  }
  // A file's parse runs inside the import (alongside the IR build): count it as parsing.
  out.parse_seconds += out.report.parse_seconds;
  out.import_seconds = Since(t1) - out.report.parse_seconds;
  return out;
}

}  // namespace allot::tools
