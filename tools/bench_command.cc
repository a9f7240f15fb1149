// `allot bench import`: where import time goes, against bare protobuf parsing of the same bytes.
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/onnx_import.h"
#include "models/model_zoo.h"
#include "tools/commands.h"
#include "tools/format.h"

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
  std::vector<std::string> models = {"gen:synthetic,layers=100000", "gen:nmt,layers=8"};
  int repeats = 3;
};

void RunImportBench(const ImportBenchArgs& args) {
  std::printf("%-34s %8s %9s %9s %9s %9s %9s %10s %8s %8s\n", "model", "nodes", "MB", "parse", "check", "infer",
              "IR build", "total", "IR/parse", "all/parse");
  for (const std::string& model : args.models) {
    const std::string bytes = ModelBytes(model);
    std::vector<double> parse, check, infer, build, total;
    size_t nodes = 0;
    for (int r = 0; r < std::max(1, args.repeats); ++r) {
      auto t0 = Clock::now();
      onnx::ModelProto proto;
      if (!proto.ParseFromString(bytes)) throw Error(model + ": protobuf parse failed");
      parse.push_back(Since(t0));
      ImportReport report;
      const Graph g = ImportModel(proto, model, ImportOptions{}, &report);
      total.push_back(Since(t0));
      check.push_back(report.check_seconds);
      infer.push_back(report.infer_seconds);
      build.push_back(report.build_seconds);
      nodes = g.num_nodes();
    }
    const double p = Median(parse), b = Median(build), t = Median(total);
    std::printf("%-34s %8zu %9.1f %9s %9s %9s %9s %10s %7.2fx %7.2fx\n", model.c_str(), nodes,
                static_cast<double>(bytes.size()) / 1e6, FormatSeconds(p).c_str(), FormatSeconds(Median(check)).c_str(),
                FormatSeconds(Median(infer)).c_str(), FormatSeconds(b).c_str(), FormatSeconds(t).c_str(), b / p,
                t / p);
    std::fflush(stdout);
  }
  std::printf("IR/parse: IR build time over bare protobuf parse (target <= 0.5); all/parse: parse + checker + shape "
              "inference + IR build over parse. Medians of %d runs.\n", args.repeats);
}

}  // namespace

void RegisterBench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (timings never live in tests)");
  bench->require_subcommand(1);
  auto args = std::make_shared<ImportBenchArgs>();
  CLI::App* import = bench->add_subcommand("import", "Import time (checker, shape inference, IR) against protobuf parse");
  import->add_option("--models", args->models, "ONNX files or gen:SPECs")->delimiter(',');
  import->add_option("--repeats", args->repeats, "runs per model (median reported)");
  import->callback([args] { RunImportBench(*args); });
}

}  // namespace allot::tools
