// `allot bench fidelity` (simulated against measured step times on virtual CPU devices) and `allot bench
// overhead` (the executor against a plain loop of the same ATen kernels).
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "runtime/measure.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/place_run.h"
#include "tools/rank_launcher.h"
#include "tools/spec_lists.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < v.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = 0.5 * static_cast<double>(i + j);  // ties share a rank
    i = j + 1;
  }
  return ranks;
}

double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += ra[i] / n;
    mb += rb[i] / n;
  }
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  return va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : 0;
}

struct FidelityArgs {
  // Models with parallel branches or pipelines, so that placements differ (a plain MLP's all run alike).
  std::string models =
      "gen:inception_v3,batch=2;gen:nmt,layers=2,seq=8,hidden=256,vocab=2000,batch=32;"
      "gen:transformer,layers=2,seq=32,hidden=256,vocab=2000,batch=8";
  std::string placers = "single;expert;metis;etf;random:seed=1;random:seed=2";
  std::string mode = "training";
  std::string cluster = "cpu2";  // every device is profiled and may be placed on; `allot run` must execute it
  int steps = 5, warmup = 2, repeats = 3;
  int launch = 0;  // > 1: the devices run as ranks of that many processes (links between them measured so)
};

// Writes `placement` of model `spec` and runs it with `allot run` in a child process (--launch N when ranks > 1):
// its JSON report.
nlohmann::json RunInChild(const std::string& spec, const std::string& mode, const std::string& cluster,
                          const CostedModel& m, const std::vector<DeviceId>& placement, int ranks, int steps,
                          int warmup, const std::string& dir) {
  const std::string path = dir + "/placement.json";
  PlacementInfo info;
  info.model = spec;
  info.mode = mode;
  WriteFileAtomic(path, PlacementToJson(m.model.graph, m.cluster, placement, info, nullptr));
  std::vector<std::string> args{"run", spec, "--mode", mode, "--placement", path, "--cluster", cluster, "--threads",
                                "1", "--steps", std::to_string(steps), "--warmup", std::to_string(warmup), "--json"};
  if (ranks > 1) args.insert(args.end(), {"--launch", std::to_string(ranks)});
  return nlohmann::json::parse(RunSelf(args));
}

std::string TempDir() {
  char dir[] = "/tmp/allot_bench_XXXXXX";
  if (!mkdtemp(dir)) throw Error("cannot create a temporary folder");
  return dir;
}

void RunFidelity(const FidelityArgs& args) {
  const std::string dir = args.launch > 1 ? TempDir() : "";
  std::vector<double> simulated, measured;
  std::printf("%-58s %-15s %12s %12s %8s %9s\n", "model", "placer", "simulated", "measured", "error", "transfers");
  for (const std::string& spec : SplitModels(args.models)) {
    ModelArgs margs;
    margs.model = spec;
    margs.mode = args.mode;
    CostedModel m;
    m.model = LoadModel(margs);
    m.cluster = LoadCluster(args.cluster);
    runtime::ProfileOptions popts;
    popts.repeats = args.repeats;
    popts.model_dir = m.model.model_dir;
    std::vector<DeviceId> all(m.cluster.num_devices());
    for (DeviceId d = 0; d < all.size(); ++d) all[d] = d;
    m.profile = std::make_unique<Profile>(runtime::ProfileModel(*m.model.proto, m.model.graph, m.cluster, all, popts));
    if (args.launch > 1) {
      MeasureRankLinksInto(*m.profile, m.cluster, args.launch, 60);
      for (const ProfiledLink& l : m.profile->links())
        std::printf("link %s -> %s: %.3g GB/s, latency %s\n", l.from.c_str(), l.to.c_str(), l.bandwidth / 1e9,
                    FormatSeconds(l.latency).c_str());
    }
    ApplyProfiledLinks(*m.profile, m.cluster);
    m.costs = ComputeCosts(m.model.graph, m.cluster, m.profile.get());
    for (const std::string& placer : SplitPlacers(args.placers)) {
      const PlaceRun run = RunPlacer(m, placer, -1, DispatchOrder::kFifo);
      if (!run.error.empty()) {
        std::printf("%-58s %-15s failed: %s\n", spec.c_str(), placer.c_str(), run.error.c_str());
        continue;
      }
      runtime::MeasureOptions mopts;
      mopts.steps = args.steps;
      mopts.warmup = args.warmup;
      mopts.intra_op_threads = 1;
      mopts.model_dir = m.model.model_dir;
      const double real =
          args.launch > 1
              ? RunInChild(spec, args.mode, args.cluster, m, run.placement, args.launch, args.steps, args.warmup, dir)
                        .at("step_time_ms")
                        .get<double>() * 1e-3
              : runtime::MeasurePlacement(*m.model.proto, m.model.graph, m.cluster, run.placement, mopts).median();
      const double sim = run.result.step_time;
      simulated.push_back(sim);
      measured.push_back(real);
      std::printf("%-58s %-15s %12s %12s %7.1f%% %9zu\n", spec.c_str(), placer.c_str(), FormatSeconds(sim).c_str(),
                  FormatSeconds(real).c_str(), 100 * (sim - real) / real, run.result.transfers_count);
      std::fflush(stdout);
    }
  }
  std::vector<double> errors;
  for (size_t i = 0; i < simulated.size(); ++i) errors.push_back(std::abs(simulated[i] - measured[i]) / measured[i]);
  std::sort(errors.begin(), errors.end());
  const double median_error = errors.empty() ? 0 : errors[errors.size() / 2];
  std::printf("%zu placements on %s%s (CPU devices 1 thread each), %s steps, costs profiled first: "
              "median |simulated - measured| / measured = %.1f%%, Spearman rank correlation = %.3f\n",
              simulated.size(), args.cluster.c_str(),
              args.launch > 1 ? (" as " + std::to_string(args.launch) + " processes").c_str() : "", args.mode.c_str(),
              100 * median_error, Spearman(simulated, measured));
  if (!dir.empty()) std::filesystem::remove_all(dir);
}

struct OverheadArgs {
  std::string models =
      "gen:mlp,batch=128,hidden=1024,layers=4,weights=1;gen:resnet50,batch=1,weights=1;"
      "gen:transformer,layers=2,seq=32,hidden=256,vocab=2000,batch=8,weights=1";
  int steps = 10, warmup = 3;
};

void RunOverhead(const OverheadArgs& args) {
  std::printf("%-62s %12s %12s %8s\n", "model", "executor", "plain loop", "ratio");
  for (const std::string& spec : SplitModels(args.models)) {
    ModelArgs margs;
    margs.model = spec;
    const LoadedModel m = LoadModel(margs);
    if (!m.proto) throw Error(spec + ": needs an ONNX model");
    const Cluster cluster = MakePreset("cpu1");
    runtime::MeasureOptions mopts;
    mopts.steps = args.steps;
    mopts.warmup = args.warmup;
    mopts.intra_op_threads = 1;
    mopts.model_dir = m.model_dir;
    const double exec = runtime::MeasurePlacement(*m.proto, m.graph, cluster, std::vector<DeviceId>(m.graph.num_nodes(), 0), mopts).median();
    const double loop = runtime::MeasurePlainLoop(*m.proto, m.graph, args.steps, args.warmup, 1);
    std::printf("%-62s %12s %12s %7.3fx\n", spec.c_str(), FormatSeconds(exec).c_str(), FormatSeconds(loop).c_str(), exec / loop);
    std::fflush(stdout);
  }
  std::printf("inference, one device, one intra-op thread; medians of %d steps after %d warm-up (target ratio <= 1.10)\n",
              args.steps, args.warmup);
}

struct RanksArgs {
  std::string models =
      "gen:mlp,batch=128,hidden=1024,layers=4;gen:inception_v3,batch=2;"
      "gen:transformer,layers=2,seq=32,hidden=256,vocab=2000,batch=8";
  // A split along the critical path: a hundred tensors and more cross between the ranks per step (metis cuts so
  // few that the cost of one transfer drowns in the noise of the step time).
  std::string placer = "etf";
  std::string mode = "training";
  int steps = 10, warmup = 3;
};

// The same cpu2 placement run as 2 threads of one process and as 2 ranks (2 processes, c10d over the loopback),
// and one cross-rank transfer against the link between the ranks as profiled.
void RunRanks(const RanksArgs& args) {
  const std::string dir = TempDir();
  Profile links;  // cpu:0 <-> cpu:1: in-process copies, then the link between ranks
  const Cluster cluster = MakePreset("cpu2");
  links.AddLink({"cpu:0", "cpu:1", 0, 0});
  MeasureRankLinksInto(links, cluster, 2, 60);
  const ProfiledLink& link = links.links().front();
  std::printf("link between 2 ranks (c10d Gloo, 127.0.0.1): %.3g GB/s, latency %s\n", link.bandwidth / 1e9,
              FormatSeconds(link.latency).c_str());
  std::printf("%-62s %11s %11s %7s %9s %13s %13s\n", "model", "2 threads", "2 ranks", "ratio", "transfers",
              "per transfer", "link predicts");
  for (const std::string& spec : SplitModels(args.models)) {
    ModelArgs margs;
    margs.model = spec;
    margs.mode = args.mode;
    ClusterArgs cargs;
    cargs.cluster = "cpu2";
    const CostedModel m = LoadCostedModel(margs, cargs);
    const PlaceRun run = RunPlacer(m, args.placer, -1, DispatchOrder::kFifo);
    if (!run.error.empty()) throw Error(spec + ": " + run.error);
    const nlohmann::json threads = RunInChild(spec, args.mode, "cpu2", m, run.placement, 1, args.steps, args.warmup, dir);
    const nlohmann::json ranks = RunInChild(spec, args.mode, "cpu2", m, run.placement, 2, args.steps, args.warmup, dir);
    const double t = threads.at("step_time_ms").get<double>() * 1e-3, r = ranks.at("step_time_ms").get<double>() * 1e-3;
    const auto copies = ranks.at("copies").get<double>();
    const double bytes = ranks.at("bytes_copied").get<double>();
    // What one transfer of the mean size costs on the measured link, against the extra time per transfer.
    const double predicted = copies > 0 ? link.latency + bytes / copies / link.bandwidth : 0;
    std::printf("%-62s %11s %11s %6.2fx %9.0f %13s %13s\n", spec.c_str(), FormatSeconds(t).c_str(),
                FormatSeconds(r).c_str(), r / t, copies, copies > 0 ? FormatSeconds((r - t) / copies).c_str() : "-",
                copies > 0 ? FormatSeconds(predicted).c_str() : "-");
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  std::printf("%s steps placed by %s on cpu2, 1 intra-op thread per device, medians of %d steps after %d warm-up; "
              "per transfer = (2 ranks - 2 threads) / transfers per step\n",
              args.mode.c_str(), args.placer.c_str(), args.steps, args.warmup);
}

}  // namespace

void RegisterRuntimeBench(CLI::App& bench) {
  auto f = std::make_shared<FidelityArgs>();
  CLI::App* fidelity = bench.add_subcommand("fidelity", "Simulated against measured step times (cpu2 by default), after profiling");
  fidelity->add_option("--models", f->models, "models (';'-separated; gen: specs contain commas)");
  fidelity->add_option("--placers", f->placers, "placer specs (';'-separated)");
  fidelity->add_option("--mode", f->mode, "inference or training")->check(CLI::IsMember({"inference", "training"}));
  fidelity->add_option("--cluster", f->cluster, "cluster to profile and run on (cpuN, h200x1 with CUDA, or JSON)");
  fidelity->add_option("--steps", f->steps, "measured steps per placement (median)")->check(kCount);
  fidelity->add_option("--warmup", f->warmup, "untimed steps first")->check(kCountOrZero);
  fidelity->add_option("--repeats", f->repeats, "profiling steps per device")->check(kCount);
  fidelity->add_option("--launch", f->launch, "run the devices as N ranks (processes; links between them measured so)")
      ->check(CLI::Range(1, 64));
  fidelity->callback([f] { RunFidelity(*f); });

  auto o = std::make_shared<OverheadArgs>();
  CLI::App* overhead = bench.add_subcommand("overhead", "Executor on one device against a plain loop of the same kernels");
  overhead->add_option("--models", o->models, "models (';'-separated)");
  overhead->add_option("--steps", o->steps, "timed steps (median)")->check(kCount);
  overhead->add_option("--warmup", o->warmup, "untimed steps first")->check(kCountOrZero);
  overhead->callback([o] { RunOverhead(*o); });

  auto r = std::make_shared<RanksArgs>();
  CLI::App* ranks = bench.add_subcommand("ranks", "One cpu2 placement as 2 threads and as 2 ranks (processes): step ratio and transfer cost");
  ranks->add_option("--models", r->models, "models (';'-separated)");
  ranks->add_option("--placer", r->placer, "placer spec");
  ranks->add_option("--mode", r->mode, "inference or training")->check(CLI::IsMember({"inference", "training"}));
  ranks->add_option("--steps", r->steps, "timed steps (median)")->check(kCount);
  ranks->add_option("--warmup", r->warmup, "untimed steps first")->check(kCountOrZero);
  ranks->callback([r] { RunRanks(*r); });
}

}  // namespace allot::tools
