// `allot run` (execute a placement and measure it) and `allot profile` (measure ops and transfers).
#include <onnx/onnx_pb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
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
  double timeout = 60;    // across processes: rendezvous and every transfer
  bool worker = false;    // `allot worker`: one rank, from torchrun's environment variables
};

// Which rank runs each device: the cluster's "rank" fields, or device d on rank d mod the world size when it has
// none.
std::vector<int> DeviceRanks(const Cluster& cluster, int world) {
  std::vector<int> ranks;
  size_t given = 0;
  for (const Device& d : cluster.devices()) given += d.rank >= 0;
  for (DeviceId d = 0; d < cluster.num_devices(); ++d) {
    const Device& device = cluster.device(d);
    if (given == 0) {
      ranks.push_back(static_cast<int>(d % static_cast<size_t>(world)));
      continue;
    }
    if (device.rank < 0)
      throw Error("cluster " + cluster.name() + ": device " + device.name +
                  " has no \"rank\" while others have one (give every device a rank, or none)");
    if (device.rank >= world)
      throw Error("cluster " + cluster.name() + ": device " + device.name + " is on rank " +
                  std::to_string(device.rank) + " but WORLD_SIZE is " + std::to_string(world));
    ranks.push_back(device.rank);
  }
  return ranks;
}

// This process's command line, as execv takes it.
std::vector<std::string> OwnCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  for (size_t start = 0; start < raw.size();) {
    const size_t end = std::min(raw.find('\0', start), raw.size());
    out.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A TCP port free on the loopback now (the kernel's pick), for the launched ranks' rendezvous.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--launch: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) throw Error("--launch: cannot find a free port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

std::string ExitDescription(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// `allot run --launch N`: this command line again as `allot worker` in N local processes (ranks 0..N-1, torchrun's
// variables set), waited for. When one fails, the others get the timeout and a few seconds to notice and exit
// with their own error; then any still running are killed, and every child is reaped: no hang, no zombie.
void Launch(const RunArgs& args) {
  std::vector<std::string> argv = OwnCommandLine();
  const auto run = std::find(argv.begin() + 1, argv.end(), "run");
  if (argv.empty() || run == argv.end()) throw Error("--launch: cannot find the run command in this command line");
  *run = "worker";
  for (size_t i = 1; i < argv.size();) {  // drop --launch N / --launch=N
    if (argv[i] == "--launch" && i + 1 < argv.size()) argv.erase(argv.begin() + i, argv.begin() + i + 2);
    else if (argv[i].rfind("--launch=", 0) == 0) argv.erase(argv.begin() + i);
    else ++i;
  }
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string port = std::to_string(FreePort());
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int r = 0; r < args.launch; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) kill(p, SIGKILL);
      for (pid_t p : pids) waitpid(p, nullptr, 0);
      throw Error("--launch: fork failed");
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a launcher that dies takes its ranks with it
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", port.c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(args.launch).c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      execv("/proc/self/exe", cargv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::string failure;
  size_t running = pids.size();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      const int rank = static_cast<int>(it - pids.begin());
      *it = -1;
      --running;
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && failure.empty()) {
        failure = "rank " + std::to_string(rank) + " " + ExitDescription(status);
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>((args.timeout + 5) * 1000));
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!failure.empty()) throw Error("--launch: " + failure);
}

void RunRun(const RunArgs& args) {
  if (args.launch > 1) return Launch(args);
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
  if (model.mode == "training" && !r.losses.empty())
    std::printf("loss           %.6g -> %.6g over %zu steps (SGD, lr %g)\n", r.losses.front(), r.losses.back(),
                r.losses.size(), args.lr);
}

struct ProfileArgs {
  ModelArgs model;
  std::vector<std::string> devices = {"cpu:0"};
  std::string output;
  int repeats = 5, warmup = 1, threads = 1;
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
  const Profile profile = runtime::ProfileModel(*m.proto, m.graph, cluster, devices, options);
  WriteFileAtomic(args.output, profile.ToJson() + "\n");
  std::printf("wrote %s: %zu op signatures on %zu device(s), %zu links\n", args.output.c_str(), profile.size(),
              devices.size(), profile.links().size());
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "Execute a placement on this machine's devices and measure the step");
  AddModelOptions(*run, args->model);
  run->add_option("--placement", args->placement, "placement JSON (from `allot place`)")->required();
  run->add_option("--cluster", args->cluster, "cluster to read the placement against (default: the file's)");
  run->add_option("--steps", args->steps, "timed steps")->check(kCount);
  run->add_option("--warmup", args->warmup, "untimed steps first")->check(kCountOrZero);
  run->add_option("--threads", args->threads, "intra-op threads per device (0: cores / devices)")->check(kCountOrZero);
  run->add_option("--lr", args->lr, "SGD learning rate of a training step");
  run->add_option("--seed", args->seed, "seed of generated parameters and inputs");
  run->add_option("--inputs", args->inputs, "directory of input_K.pb TensorProtos (libonnx-testdata layout)");
  run->add_option("--outputs", args->outputs, "directory to write output_K.pb into")->check(kOutputPath);
  run->add_option("--trace", args->trace, "write the measured schedule as a Chrome trace")->check(kOutputPath);
  run->add_flag("--json", args->json, "print JSON");
  run->add_option("--launch", args->launch,
                  "run across N local processes (ranks; the cluster's device \"rank\" fields, or device d on rank d "
                  "mod N): starts `allot worker` N times on 127.0.0.1 and waits")
      ->check(CLI::Range(1, 64));
  run->add_option("--timeout", args->timeout, "across processes: seconds to wait for a rank (rendezvous, transfers)")
      ->check(kSeconds);
  run->callback([args] { RunRun(*args); });

  // `allot worker`: the same options, one rank of a run across processes or hosts.
  auto wargs = std::make_shared<RunArgs>();
  wargs->worker = true;
  CLI::App* worker = app.add_subcommand(
      "worker", "Run one rank of a placement across processes or hosts (torchrun's MASTER_ADDR, MASTER_PORT, "
                "WORLD_SIZE, RANK); rank 0 reports");
  AddModelOptions(*worker, wargs->model);
  worker->add_option("--placement", wargs->placement, "placement JSON (from `allot place`)")->required();
  worker->add_option("--cluster", wargs->cluster, "cluster to read the placement against (default: the file's)");
  worker->add_option("--steps", wargs->steps, "timed steps")->check(kCount);
  worker->add_option("--warmup", wargs->warmup, "untimed steps first")->check(kCountOrZero);
  worker->add_option("--threads", wargs->threads, "intra-op threads per device (0: cores / devices)")->check(kCountOrZero);
  worker->add_option("--lr", wargs->lr, "SGD learning rate of a training step");
  worker->add_option("--seed", wargs->seed, "seed of generated parameters and inputs");
  worker->add_option("--inputs", wargs->inputs, "directory of input_K.pb TensorProtos (libonnx-testdata layout)");
  worker->add_option("--outputs", wargs->outputs, "directory to write output_K.pb into (rank 0)")->check(kOutputPath);
  worker->add_option("--trace", wargs->trace, "write the measured schedule of every rank as one Chrome trace (rank 0)")
      ->check(kOutputPath);
  worker->add_flag("--json", wargs->json, "print JSON (rank 0)");
  worker->add_option("--timeout", wargs->timeout, "seconds to wait for a rank (rendezvous, transfers)")->check(kSeconds);
  worker->callback([wargs] { RunRun(*wargs); });

  auto pargs = std::make_shared<ProfileArgs>();
  CLI::App* profile = app.add_subcommand("profile", "Measure per-op times and transfers into a profile for --profile");
  AddModelOptions(*profile, pargs->model);
  profile->add_option("--devices", pargs->devices, "devices to measure on (cpu:0,cpu:1,...)")->delimiter(',');
  profile->add_option("--repeats", pargs->repeats, "timed steps per device (median per op)")->check(kCount);
  profile->add_option("--warmup", pargs->warmup, "untimed steps first")->check(kCountOrZero);
  profile->add_option("--threads", pargs->threads, "intra-op threads")->check(kCountOrZero);
  profile->add_option("-o,--output", pargs->output, "profile JSON to write")->required()->check(kOutputPath);
  profile->callback([pargs] { RunProfile(*pargs); });
}

}  // namespace allot::tools
