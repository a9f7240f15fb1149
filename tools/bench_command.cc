// `allot bench import`: where import time goes, against bare protobuf parsing of the same bytes.
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <cstdio>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/onnx_import.h"
#include "models/model_zoo.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "tools/baseline_simulator.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/spec_lists.h"
#include "tools/format.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string ModelBytes(const std::string& model) {
  if (model.rfind("gen:", 0) == 0) {
    const auto [name, options] = models::ParseModelSpec(model.substr(4));
    std::string bytes;
    models::Generate(name, options).SerializeToString(&bytes);
    return bytes;
  }
  return ReadFile(model);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct ImportBenchArgs {
  // Weightless generated graphs show the IR build against a small parse; real files carry their weights.
  std::string models = "gen:synthetic,layers=100000;gen:nmt,layers=8;gen:nmt,layers=8,weights=1";
  int repeats = 3;
};

void RunImportBench(const ImportBenchArgs& args) {
  std::printf("%-34s %8s %9s %9s %9s %9s %10s %9s %9s %10s %8s %8s %8s %8s\n", "model", "nodes", "MB", "caps", "parse",
              "check", "shapes", "IR build", "exposed", "total", "IR/parse", "add/parse", "shp/parse", "all/parse");
  for (const std::string& model : SplitModels(args.models)) {
    const std::string bytes = ModelBytes(model);
    std::vector<double> caps, parse, check, infer, build, exposed, total;
    size_t nodes = 0;
    bool inferred = false;
    for (int r = 0; r < std::max(1, args.repeats); ++r) {
      {
        auto t0 = Clock::now();
        onnx::ModelProto alone;
        if (!alone.ParseFromString(bytes)) throw Error(model + ": protobuf parse failed");
        parse.push_back(Since(t0));
      }
      auto t0 = Clock::now();
      onnx::ModelProto proto;
      ImportReport report;
      const Graph g = ParseAndImport(bytes, model, ImportOptions{}, proto, &report);
      total.push_back(Since(t0));
      caps.push_back(report.caps_seconds);
      check.push_back(report.check_seconds);
      infer.push_back(report.infer_seconds);
      inferred |= report.ran_shape_inference;
      build.push_back(report.build_seconds);
      exposed.push_back(report.build_exposed_seconds);
      nodes = g.num_nodes();
    }
    const double p = Median(parse), b = Median(build), e = Median(exposed), t = Median(total), s = Median(infer);
    std::printf("%-34s %8zu %9.1f %9s %9s %9s %10s %9s %9s %10s %7.2fx %8.2fx %8.2fx %8.2fx\n", model.c_str(), nodes,
                static_cast<double>(bytes.size()) / 1e6, FormatSeconds(Median(caps)).c_str(), FormatSeconds(p).c_str(),
                FormatSeconds(Median(check)).c_str(),
                (FormatSeconds(s) + (inferred ? "*" : "")).c_str(), FormatSeconds(b).c_str(), FormatSeconds(e).c_str(),
                FormatSeconds(t).c_str(), b / p, e / p, s / p, t / p);
    std::fflush(stdout);
  }
  std::printf("caps: the walk over the bytes that checks repeated fields against their caps before anything parses "
              "them (graph/onnx_limits.h). parse: bare protobuf parse of the bytes. The import (allot's ParseAndImport) parses them and builds the IR "
              "from them at once, on two threads. IR build: its own time; exposed: the part of it still running "
              "when the parse is done (all of it when shape inference forces a second build). IR/parse: the build's "
              "cost; add/parse: what it adds to the parse (target <= 0.5); shapes: allot's shape pass, checking the "
              "shapes the file declares, or inferring them where it lacks some (*: then the IR is built again); "
              "all/parse: the whole import (parse, checker, shape pass, IR) over the bare parse. Medians of %d runs.\n",
              args.repeats);
}

struct SimBenchArgs {
  std::string models = "gen:synthetic,layers=10000;gen:nmt,layers=4;gen:synthetic,layers=100000";
  std::string cluster = "p100x4";
  std::string mode = "inference";
  int runs = 50;
  int baseline_runs = 3;
};

void RunSimulateBench(const SimBenchArgs& args) {
  std::printf("%-30s %9s %7s %12s %14s %12s %9s\n", "model", "nodes", "devices", "per run", "ops/s",
              "baseline", "speedup");
  for (const std::string& spec : SplitModels(args.models)) {
    ModelArgs margs;
    margs.model = spec;
    margs.mode = args.mode;
    ClusterArgs cargs;
    cargs.cluster = args.cluster;
    const CostedModel m = LoadCostedModel(margs, cargs);
    const Graph& g = m.model.graph;
    std::mt19937_64 rng(1);
    std::vector<DeviceId> placement(g.num_nodes());
    for (auto& d : placement) d = static_cast<DeviceId>(rng() % m.cluster.num_devices());
    ExpandPlacement(g, placement);
    Simulator sim(g, m.cluster, m.costs);
    const double expected = sim.Run(placement).step_time;  // warm-up
    std::vector<double> times;
    for (int r = 0; r < std::max(1, args.runs); ++r) {
      const auto t0 = Clock::now();
      sim.Run(placement);
      times.push_back(Since(t0));
    }
    std::vector<double> base;
    for (int r = 0; r < std::max(1, args.baseline_runs); ++r) {
      const auto t0 = Clock::now();
      const BaselineResult b = BaselineSimulate(g, m.cluster, m.costs, placement);
      base.push_back(Since(t0));
      if (std::abs(b.step_time - expected) > 1e-9 * std::max(1.0, expected))
        throw Error(spec + ": the baseline simulator disagrees (" + std::to_string(b.step_time) + " s vs " +
                    std::to_string(expected) + " s)");
    }
    const double t = Median(times), bt = Median(base);
    std::printf("%-30s %9zu %7zu %12s %14s %12s %8.1fx\n", spec.c_str(), g.num_nodes(), m.cluster.num_devices(),
                FormatSeconds(t).c_str(), FormatCount(static_cast<double>(g.num_nodes()) / t).c_str(),
                FormatSeconds(bt).c_str(), bt / t);
    std::fflush(stdout);
  }
  std::printf("per run: median of %d Simulator::Run calls on one core (random placement, seed 1, cluster %s); "
              "baseline: tools/baseline_simulator.cc, same semantics and result.\n", args.runs, args.cluster.c_str());
}

}  // namespace

void RegisterBench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (timings never live in tests)");
  bench->require_subcommand(1);
  auto args = std::make_shared<ImportBenchArgs>();
  CLI::App* import = bench->add_subcommand("import", "Import time (checker, shape inference, IR) against protobuf parse");
  import->add_option("--models", args->models, "ONNX files or gen:SPECs (';'-separated, or commas as in compare)");
  import->add_option("--repeats", args->repeats, "runs per model (median reported)")->check(kCount);
  import->callback([args] { RunImportBench(*args); });

  auto sim = std::make_shared<SimBenchArgs>();
  CLI::App* simulate = bench->add_subcommand("simulate", "Simulator speed against a straightforward baseline");
  simulate->add_option("--models", sim->models, "ONNX files, cost graphs or gen:SPECs (';'-separated)");
  simulate->add_option("--cluster", sim->cluster, "cluster preset or JSON");
  simulate->add_option("--mode", sim->mode, "inference or training")->check(CLI::IsMember({"inference", "training"}));
  simulate->add_option("--runs", sim->runs, "timed runs per model (median reported)")->check(kCount);
  simulate->add_option("--baseline-runs", sim->baseline_runs, "timed baseline runs per model")->check(kCountOrZero);
  simulate->callback([sim] { RunSimulateBench(*sim); });
  RegisterRuntimeBench(*bench);
}

}  // namespace allot::tools
