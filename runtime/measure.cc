#include "runtime/measure.h"

#include <onnx/onnx_pb.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <optional>
#include <tuple>

#include "graph/error.h"
#include "graph/file_io.h"
#include "runtime/devices.h"
#include "runtime/executor.h"
#include "runtime/kernels.h"
#include "runtime/rank_link.h"
#include "runtime/reference_interpreter.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

std::vector<at::Tensor> ReadInputs(const std::string& dir, size_t count) {
  std::vector<at::Tensor> inputs;
  for (size_t k = 0; k < count; ++k) {
    const std::string path = (std::filesystem::path(dir) / ("input_" + std::to_string(k) + ".pb")).string();
    if (!std::filesystem::exists(path)) throw Error(path + ": missing (the model has " + std::to_string(count) + " inputs)");
    inputs.push_back(TensorFromProto(ReadTensorProto(path)));
  }
  return inputs;
}

void WriteOutputs(const std::string& dir, const onnx::ModelProto& model, const std::vector<at::Tensor>& outputs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory: " + ec.message());
  for (size_t k = 0; k < outputs.size(); ++k) {
    const std::string name = k < static_cast<size_t>(model.graph().output_size()) ? model.graph().output(static_cast<int>(k)).name() : "";
    const onnx::TensorProto proto = TensorToProto(outputs[k].contiguous(), name);
    WriteFileAtomic((std::filesystem::path(dir) / ("output_" + std::to_string(k) + ".pb")).string(),
                    proto.SerializeAsString());
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

constexpr int64_t kFitSizes[] = {1 << 10, 1 << 14, 1 << 18, 1 << 21, 1 << 23};  // float32 elements: 4 KB .. 32 MB

// (bandwidth B/s, latency s): a least-squares line through (bytes, seconds).
std::pair<double, double> FitLine(const std::vector<double>& xs, const std::vector<double>& ys) {
  const double n = static_cast<double>(xs.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    sx += xs[i];
    sy += ys[i];
    sxx += xs[i] * xs[i];
    sxy += xs[i] * ys[i];
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return {slope > 0 ? 1 / slope : 1e12, std::max(0.0, (sy - slope * sx) / n)};
}

// (bandwidth B/s, latency s) of copying from `from` to `to`: a least-squares line through the medians of five
// copies at each of five sizes, 4 KB to 32 MB.
std::pair<double, double> FitCopies(c10::Device from, c10::Device to) {
  std::vector<double> xs, ys;
  for (int64_t elems : kFitSizes) {
    const at::Tensor src = at::rand({elems}).to(from);
    SynchronizeCurrent(from);
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      at::Tensor copy = src.to(to, src.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
      SynchronizeCurrent(to);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    xs.push_back(static_cast<double>(elems * 4));
    ys.push_back(Median(t));
  }
  return FitLine(xs, ys);
}

// Rank 0 to each other rank: half of a round trip (there and back, each a header and the data), the median of
// 21 at each size (loopback round trips on this VM vary tenfold), 4 KB to 8 MB: a 32 MB receive buffer is above allot's mmap threshold (tools/main.cc), so
// its page faults (~15 us per 4 KB page here) would set the slope. Every rank calls it; ranks wait their turn.
std::vector<RankLinkFit> FitRankLinks(RankLink& link) {
  std::vector<RankLinkFit> fits;
  int tag = 1 << 28;
  for (int peer = 1; peer < link.world_size(); ++peer) {
    std::vector<double> xs, ys;
    for (int64_t elems : {1 << 10, 1 << 14, 1 << 18, 1 << 20, 1 << 21}) {
      const at::Tensor x = at::rand({elems});
      std::vector<double> t;
      for (int r = 0; r < 21; ++r, ++tag) {
        if (link.rank() == peer) link.Send(link.Recv(0, tag), 0, tag);
        if (link.rank() != 0) continue;
        const auto t0 = std::chrono::steady_clock::now();
        link.Send(x, peer, tag);
        link.Recv(peer, tag);
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 2);
      }
      xs.push_back(static_cast<double>(elems * 4));
      ys.push_back(Median(t));
    }
    if (link.rank() != 0) continue;
    // The slope over all sizes; the latency from the smallest transfer, which the line's intercept (set by the
    // large ones) misjudges by more than the latency itself.
    const double bandwidth = FitLine(xs, ys).first;
    fits.push_back({0, peer, bandwidth, std::max(0.0, ys.front() - xs.front() / bandwidth)});
  }
  return fits;
}


}  // namespace

double Measurement::median() const { return Median(step_seconds); }

double Measurement::percentile(double p) const {
  if (step_seconds.empty()) return 0;
  std::vector<double> v = step_seconds;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100 * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

namespace {

// What every rank must agree on: the model's graph, the placement and where each device runs.
std::string Fingerprint(const Graph& graph, const Cluster& cluster, const std::vector<DeviceId>& placement,
                        const std::vector<int>& device_rank) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  };
  for (DeviceId d : placement) mix(d);
  for (int r : device_rank) mix(static_cast<uint64_t>(r));
  for (const Device& d : cluster.devices())
    for (char c : d.name) mix(static_cast<uint64_t>(c));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return "graph " + graph.hash_hex() + ", placement " + buf;
}

// Fault injection for the tests of runs across processes: ALLOT_FAULT_INJECTION=kill:RANK:STEP (or stop:RANK:STEP)
// makes rank RANK kill (stop) itself before step STEP, warm-up steps counted from 0, as a crash or a hang would.
void InjectFault(int rank, int step) {
  const char* spec = std::getenv("ALLOT_FAULT_INJECTION");
  if (!spec) return;
  char what[8] = {0};
  int r = -1, s = -1;
  if (std::sscanf(spec, "%7[a-z]:%d:%d", what, &r, &s) != 3 || r != rank || s != step) return;
  std::fflush(nullptr);
  if (std::string(what) == "kill") raise(SIGKILL);
  if (std::string(what) == "stop") raise(SIGSTOP);
}

// Each rank compares its fingerprint with every other's: a mismatch is the same one-line Error on every rank.
void CheckRanksAgree(RankLink& link, const std::string& mine) {
  const std::vector<std::string> all = link.Exchange("fingerprint", mine);
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      throw Error("rank " + std::to_string(r) + " runs another model or placement than rank 0 (" + all[r] + " vs " +
                  all[0] + "): every rank needs the same MODEL, options and --placement");
}

}  // namespace

Measurement MeasurePlacement(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
                             const std::vector<DeviceId>& placement, const MeasureOptions& options) {
  RunOptions run;
  run.intra_op_threads = options.intra_op_threads;
  run.learning_rate = options.learning_rate;
  run.seed = options.seed;
  run.model_dir = options.model_dir;
  std::unique_ptr<RankLink> link;
  if (options.ranks.world_size > 1) {
    if (options.device_rank.size() != cluster.num_devices())
      throw Error("MeasurePlacement: device_rank must give a rank for every device");
    link = std::make_unique<RankLink>(options.ranks);
    CheckRanksAgree(*link, Fingerprint(graph, cluster, placement, options.device_rank));
    run.link = link.get();
    run.device_rank = options.device_rank;
  }
  Executor exec(model, graph, cluster, placement, run);
  if (!options.inputs_dir.empty()) exec.SetInputs(ReadInputs(options.inputs_dir, exec.num_inputs()));
  Measurement m;
  std::vector<StepStats> timed;
  const int total = std::max(0, options.warmup) + std::max(1, options.steps);
  for (int s = 0; s < total; ++s) {
    if (link) InjectFault(options.ranks.rank, s);
    StepStats st = exec.Step();
    m.losses.push_back(st.loss);
    if (s >= options.warmup) timed.push_back(std::move(st));
  }
  for (const StepStats& st : timed) m.step_seconds.push_back(st.seconds);
  // The median step's busy times; the last step's schedule.
  std::vector<size_t> order(timed.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return timed[a].seconds < timed[b].seconds; });
  const StepStats& median = timed[order[order.size() / 2]];
  m.busy = median.busy;
  m.bytes_copied = median.bytes_copied;
  m.copies = median.copies;
  m.rank_bytes_sent = median.rank_bytes_sent;
  if (options.record) {
    run.record = true;
    Executor recorder(model, graph, cluster, placement, run);
    if (!options.inputs_dir.empty()) recorder.SetInputs(ReadInputs(options.inputs_dir, recorder.num_inputs()));
    recorder.Step();
    const StepStats last = recorder.Step();
    m.schedule.step_time = last.seconds;
    m.schedule.busy = last.busy;
    for (const OpTiming& o : last.ops) m.schedule.ops.push_back({o.node, o.device, o.start, o.end});
    for (const CopyTiming& c : last.copies_timed) m.schedule.transfers.push_back({c.tensor, c.from, c.to, c.start, c.end, c.bytes});
  }
  if (!options.outputs_dir.empty()) {
    const std::vector<at::Tensor> outputs = exec.Outputs();  // every rank takes part; rank 0 gets them
    if (options.ranks.rank == 0) WriteOutputs(options.outputs_dir, model, outputs);
  }
  if (link && options.measure_link) m.rank_links = FitRankLinks(*link);
  return m;
}

Profile ProfileModel(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
                     const std::vector<DeviceId>& devices, const ProfileOptions& options) {
  Profile profile;
  RunOptions run;
  run.intra_op_threads = options.intra_op_threads;
  run.seed = options.seed;
  run.record = true;
  run.model_dir = options.model_dir;
  for (DeviceId d : devices) {
    const Device& device = cluster.device(d);
    Executor exec(model, graph, cluster, std::vector<DeviceId>(graph.num_nodes(), d), run);
    for (int w = 0; w < options.warmup; ++w) exec.Step();
    std::vector<std::vector<double>> times(graph.num_nodes());
    for (int r = 0; r < std::max(1, options.repeats); ++r)
      for (const OpTiming& o : exec.Step().ops) times[o.node].push_back(o.end - o.start);
    // One entry per signature: the median over its ops' medians (identical ops measure alike).
    std::unordered_map<std::string, std::vector<double>> by_signature;
    std::vector<std::string> order;
    for (NodeId n = 0; n < graph.num_nodes(); ++n) {
      if (times[n].empty()) continue;
      const std::string sig = OpSignature(graph, n);
      auto [it, inserted] = by_signature.emplace(sig, std::vector<double>{});
      if (inserted) order.push_back(sig);
      it->second.push_back(Median(times[n]));
    }
    for (const std::string& sig : order)
      profile.Add(sig, device.name, device.kind, Median(by_signature[sig]), options.repeats);
  }
  // Each link: latency + bytes / bandwidth fitted over a range of copy sizes. Between virtual CPU devices a
  // transfer is a memcpy (measured once for all such pairs); to or from a GPU, the copy the executor makes.
  std::optional<ProfiledLink> cpu_pair;
  for (DeviceId a : devices)
    for (DeviceId b : devices) {
      if (a == b) continue;
      const c10::Device from = TorchDevice(cluster.device(a)), to = TorchDevice(cluster.device(b));
      ProfiledLink link{cluster.device(a).name, cluster.device(b).name, 0, 0};
      if (from.is_cpu() && to.is_cpu() && cpu_pair) {
        link.bandwidth = cpu_pair->bandwidth;
        link.latency = cpu_pair->latency;
      } else {
        std::tie(link.bandwidth, link.latency) = FitCopies(from, to);
        if (from.is_cpu() && to.is_cpu()) cpu_pair = link;
      }
      profile.AddLink(link);
    }
  return profile;
}

double MeasurePlainLoop(const onnx::ModelProto& model, const Graph& graph, int steps, int warmup, uint64_t seed) {
  at::set_num_threads(1);
  ReferenceInterpreter interpreter(model);
  std::vector<at::Tensor> inputs;
  at::manual_seed(seed);
  for (const std::string& name : interpreter.input_names()) {
    const TensorId t = graph.FindTensor(name);
    if (t == kNone) throw Error("input '" + name + "' is not in the graph");
    const Tensor& tensor = graph.tensor(t);
    const auto type = ScalarTypeFromOnnx(static_cast<int32_t>(tensor.dtype), tensor.name);
    inputs.push_back(at::isFloatingType(type) ? at::rand(tensor.shape.vec(), at::TensorOptions().dtype(type))
                                              : at::zeros(tensor.shape.vec(), at::TensorOptions().dtype(type)));
  }
  std::vector<double> times;
  for (int s = 0; s < std::max(0, warmup) + std::max(1, steps); ++s) {
    c10::NoGradGuard no_grad;
    const auto t0 = std::chrono::steady_clock::now();
    interpreter.Run(inputs);
    if (s >= warmup) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return Median(times);
}

std::vector<std::string> SupportedOpNames() { return SupportedOps(); }

}  // namespace allot::runtime
