// `allot run` (execute a placement and measure it) and `allot profile` (measure ops and transfers).
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cost_model/placement.h"
#include "cost_model/trace.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "runtime/measure.h"
#include "runtime/rank_options.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/placement_args.h"
#include "tools/rank_launcher.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct RunArgs {
  ModelArgs model;
  std::string cluster, placement, trace, inputs, outputs;
  int steps = 10, warmup = 2, threads = 0;
  double lr = 1e-3;
  uint64_t seed = 1;
  bool json = false;
  int launch = 0;         // run: start this many local ranks (allot worker) and wait for them
  bool measure_link = false;  // across processes: fit rank 0's link to each other rank after the steps
  double timeout = 60;    // across processes: rendezvous and every transfer
  bool worker = false;    // `allot worker`: one rank, from torchrun's environment variables
};

void RunRun(const RunArgs& args) {
  if (args.launch > 1) return LaunchRanks(args.launch, args.timeout);
  ModelArgs model = args.model;
  std::string cluster_name = args.cluster;
  TakePlacementContext(args.placement, model, args.cluster.empty() ? &cluster_name : nullptr);
  if (cluster_name.empty()) cluster_name = "cpu2";
  const LoadedModel m = LoadModel(model);
  if (!m.proto) throw Error(model.model + ": a cost graph cannot be executed; run an ONNX model");
  const Cluster cluster = LoadCluster(cluster_name);
  const std::vector<DeviceId> placement = ReadPlacementFile(args.placement, m.graph, cluster);
  runtime::MeasureOptions options;
  options.steps = args.steps;
  options.warmup = args.warmup;
  options.intra_op_threads = args.threads;
  options.learning_rate = args.lr;
  options.seed = args.seed;
  options.inputs_dir = args.inputs;
  options.outputs_dir = args.outputs;
  options.model_dir = m.model_dir;
  options.record = !args.trace.empty();
  if (args.worker) {
    options.ranks = runtime::RankOptionsFromEnvironment(args.timeout);
    options.device_rank = DeviceRanks(cluster, options.ranks.world_size);
    options.measure_link = args.measure_link;
  }
  const runtime::Measurement r = runtime::MeasurePlacement(*m.proto, m.graph, cluster, placement, options);
  if (options.ranks.rank != 0) return;  // rank 0 reports for all
  if (!args.trace.empty()) WriteFileAtomic(args.trace, ChromeTrace(m.graph, cluster, r.schedule));
  if (args.json) {
    nlohmann::ordered_json j;
    j["step_time_ms"] = r.median() * 1e3;
    j["p10_ms"] = r.percentile(10) * 1e3;
    j["p90_ms"] = r.percentile(90) * 1e3;
    j["steps_ms"] = nlohmann::json::array();
    for (double s : r.step_seconds) j["steps_ms"].push_back(s * 1e3);
    j["busy_ms"] = nlohmann::ordered_json::object();
    for (DeviceId d = 0; d < cluster.num_devices(); ++d) j["busy_ms"][cluster.device(d).name] = r.busy[d] * 1e3;
    j["bytes_copied"] = r.bytes_copied;
    j["copies"] = r.copies;
    if (!r.rank_bytes_sent.empty()) {
      j["ranks"] = r.rank_bytes_sent.size();
      j["device_rank"] = nlohmann::ordered_json::object();
      for (DeviceId d = 0; d < cluster.num_devices(); ++d) j["device_rank"][cluster.device(d).name] = options.device_rank[d];
      j["bytes_sent_per_rank"] = r.rank_bytes_sent;
    }
    if (!r.rank_links.empty()) {
      j["rank_links"] = nlohmann::ordered_json::array();
      for (const runtime::RankLinkFit& l : r.rank_links)
        j["rank_links"].push_back({{"from", l.from}, {"to", l.to}, {"gbps", l.bandwidth / 1e9}, {"latency_us", l.latency * 1e6}});
    }
    if (model.mode == "training") j["losses"] = r.losses;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("step time      %s median over %zu steps (p10 %s, p90 %s, after %d warm-up)\n",
              FormatSeconds(r.median()).c_str(), r.step_seconds.size(), FormatSeconds(r.percentile(10)).c_str(),
              FormatSeconds(r.percentile(90)).c_str(), args.warmup);
  std::printf("copies         %zu per step, %s\n", r.copies, FormatBytes(static_cast<double>(r.bytes_copied)).c_str());
  for (DeviceId d = 0; d < cluster.num_devices(); ++d)
    std::printf("%-14s busy %s (%.0f%%)%s\n", cluster.device(d).name.c_str(), FormatSeconds(r.busy[d]).c_str(),
                r.median() > 0 ? 100 * r.busy[d] / r.median() : 0.0,
                r.rank_bytes_sent.empty() ? "" : ("  rank " + std::to_string(options.device_rank[d])).c_str());
  for (size_t k = 0; k < r.rank_bytes_sent.size(); ++k)
    std::printf("rank %-9zu sent %s per step\n", k, FormatBytes(static_cast<double>(r.rank_bytes_sent[k])).c_str());
  for (const runtime::RankLinkFit& l : r.rank_links)
    std::printf("link %d -> %d    %.3g GB/s, latency %s (fitted over 4 KB .. 8 MB)\n", l.from, l.to, l.bandwidth / 1e9,
                FormatSeconds(l.latency).c_str());
  if (model.mode == "training" && !r.losses.empty())
    std::printf("loss           %.6g -> %.6g over %zu steps (SGD, lr %g)\n", r.losses.front(), r.losses.back(),
                r.losses.size(), args.lr);
}

struct ProfileArgs {
  ModelArgs model;
  std::vector<std::string> devices = {"cpu:0"};
  std::string output;
  int repeats = 5, warmup = 1, threads = 1;
  int launch = 0;  // the devices run on this many ranks: measure the links between ranks across processes
  double timeout = 60;
};

void RunProfile(const ProfileArgs& args) {
  const LoadedModel m = LoadModel(args.model);
  if (!m.proto) throw Error(args.model.model + ": a cost graph is already profiled");
  int cpus = 0;
  for (const std::string& d : args.devices) {
    if (d.rfind("cpu:", 0) != 0)
      throw Error("--devices: '" + d + "': this build of the runtime profiles virtual CPU devices (cpu:K) only");
    cpus = std::max(cpus, std::stoi(d.substr(4)) + 1);
  }
  const Cluster cluster = MakePreset("cpu" + std::to_string(std::max(1, cpus)));
  std::vector<DeviceId> devices;
  for (const std::string& d : args.devices) devices.push_back(cluster.FindDevice(d));
  runtime::ProfileOptions options;
  options.repeats = args.repeats;
  options.warmup = args.warmup;
  options.intra_op_threads = args.threads;
  options.model_dir = m.model_dir;
  Profile profile = runtime::ProfileModel(*m.proto, m.graph, cluster, devices, options);
  if (args.launch > 1) MeasureRankLinksInto(profile, cluster, args.launch, args.timeout);
  WriteFileAtomic(args.output, profile.ToJson() + "\n");
  std::printf("wrote %s: %zu op signatures on %zu device(s), %zu links\n", args.output.c_str(), profile.size(),
              devices.size(), profile.links().size());
}

// The options `run` and `worker` share.
void AddRunOptions(CLI::App& cmd, RunArgs& args) {
  AddModelOptions(cmd, args.model);
  cmd.add_option("--placement", args.placement, "placement JSON (from `allot place`)")->required();
  cmd.add_option("--cluster", args.cluster, "cluster to read the placement against (default: the file's)");
  cmd.add_option("--steps", args.steps, "timed steps")->check(kCount);
  cmd.add_option("--warmup", args.warmup, "untimed steps first")->check(kCountOrZero);
  cmd.add_option("--threads", args.threads, "intra-op threads per device (0: cores / devices)")->check(kCountOrZero);
  cmd.add_option("--lr", args.lr, "SGD learning rate of a training step");
  cmd.add_option("--seed", args.seed, "seed of generated parameters and inputs");
  cmd.add_option("--inputs", args.inputs, "directory of input_K.pb TensorProtos (libonnx-testdata layout)");
  cmd.add_option("--outputs", args.outputs, "directory to write output_K.pb into (across processes: rank 0)")
      ->check(kOutputPath);
  cmd.add_option("--trace", args.trace, "write the measured schedule as a Chrome trace (across processes: every rank's)")
      ->check(kOutputPath);
  cmd.add_flag("--json", args.json, "print JSON");
  cmd.add_option("--timeout", args.timeout, "across processes: seconds to wait for a rank (rendezvous, transfers)")
      ->check(kSeconds);
  cmd.add_flag("--measure-link", args.measure_link, "across processes: after the steps, fit rank 0's link to each rank");
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "Execute a placement on this machine's devices and measure the step");
  AddRunOptions(*run, *args);
  run->add_option("--launch", args->launch,
                  "run across N local processes (ranks; the cluster's device \"rank\" fields, or device d on rank d "
                  "mod N): starts `allot worker` N times on 127.0.0.1 and waits")
      ->check(CLI::Range(1, 64));
  run->callback([args] { RunRun(*args); });

  auto wargs = std::make_shared<RunArgs>();
  wargs->worker = true;
  CLI::App* worker = app.add_subcommand(
      "worker", "Run one rank of a placement across processes or hosts (torchrun's MASTER_ADDR, MASTER_PORT, "
                "WORLD_SIZE, RANK; GLOO_SOCKET_IFNAME picks the interfaces); rank 0 reports");
  AddRunOptions(*worker, *wargs);
  worker->callback([wargs] { RunRun(*wargs); });

  auto pargs = std::make_shared<ProfileArgs>();
  CLI::App* profile = app.add_subcommand("profile", "Measure per-op times and transfers into a profile for --profile");
  AddModelOptions(*profile, pargs->model);
  profile->add_option("--devices", pargs->devices, "devices to measure on (cpu:0,cpu:1,...)")->delimiter(',');
  profile->add_option("--repeats", pargs->repeats, "timed steps per device (median per op)")->check(kCount);
  profile->add_option("--warmup", pargs->warmup, "untimed steps first")->check(kCountOrZero);
  profile->add_option("--threads", pargs->threads, "intra-op threads")->check(kCountOrZero);
  profile->add_option("-o,--output", pargs->output, "profile JSON to write")->required()->check(kOutputPath);
  profile->add_option("--launch", pargs->launch,
                      "the devices will run on N ranks (device d on rank d mod N, as `allot run --launch N`): the "
                      "links between ranks are measured across N local processes")
      ->check(CLI::Range(1, 64));
  profile->add_option("--timeout", pargs->timeout, "with --launch: seconds to wait for a rank")->check(kSeconds);
  profile->callback([pargs] { RunProfile(*pargs); });
}

}  // namespace allot::tools
