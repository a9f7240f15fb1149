#pragma once
// The runtime as the rest of allot sees it, without LibTorch in the interface (tools/ and rl/ include this, not
// executor.h): run a placement for some steps and measure it, and profile ops and transfers into a cost_model
// Profile.
#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/profile.h"
#include "cost_model/simulator.h"
#include "graph/graph.h"
#include "runtime/rank_options.h"

namespace onnx {
class ModelProto;
}

namespace allot::runtime {

struct MeasureOptions {
  int steps = 10;
  int warmup = 2;
  int intra_op_threads = 0;     // per device; 0: cores / devices
  double learning_rate = 1e-3;  // training steps (SGD)
  uint64_t seed = 1;
  std::string inputs_dir;   // input_K.pb TensorProtos (libonnx-testdata layout); empty: seeded random inputs
  std::string outputs_dir;  // writes output_K.pb after the last step; empty: none
  bool record = false;      // keep the last step's measured schedule
  std::string model_dir;    // the folder external-data initializers are relative to ("" when none)
  // Across processes: this process is ranks.rank of ranks.world_size, and runs the devices whose device_rank is
  // its own (world_size 1: every device here). Every rank calls MeasurePlacement with the same model, placement and
  // options; rank 0's Measurement covers all of them and only rank 0 writes outputs.
  RankOptions ranks;
  std::vector<int> device_rank;
  bool measure_link = false;  // across processes: after the steps, fit rank 0's link to every other rank
};

// A transfer between two ranks as the executor makes it (header and data through runtime/rank_link.h): latency
// plus bytes over bandwidth, fitted over 4 KB to 8 MB.
struct RankLinkFit {
  int from = 0, to = 0;  // ranks
  double bandwidth = 0;  // B/s
  double latency = 0;    // s
};

struct Measurement {
  std::vector<double> step_seconds;  // one per timed step
  std::vector<double> losses;        // training: the loss of every step, warm-up included
  std::vector<double> busy;          // per device, in the median step
  uint64_t bytes_copied = 0;         // per step
  size_t copies = 0;                 // per step
  SimResult schedule;                // the last step as measured: ops, transfers, busy (when recorded)
  std::vector<uint64_t> rank_bytes_sent;  // across processes: per rank, bytes sent to other ranks per step
  std::vector<RankLinkFit> rank_links;    // with measure_link, on rank 0: rank 0 to each other rank
  double median() const;
  double percentile(double p) const;
};

// `graph` is `model`'s IR (inference, or its training graph); one device per node.
Measurement MeasurePlacement(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
                             const std::vector<DeviceId>& placement, const MeasureOptions& options);

struct ProfileOptions {
  int repeats = 5;  // timed steps per device (median per op)
  int warmup = 1;
  int intra_op_threads = 1;
  uint64_t seed = 1;
  std::string model_dir;  // as MeasureOptions'
};

// Measures every op of `graph` on each of `devices` (the whole graph placed there), and the transfer bandwidth
// and latency between every pair of them. Devices must be in `cluster`.
Profile ProfileModel(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
                     const std::vector<DeviceId>& devices, const ProfileOptions& options);

// The same model run as a plain loop of the same ATen kernels in graph order on the calling thread (the reference
// interpreter, one intra-op thread) on seeded random inputs: the yardstick of the executor's overhead.
// Median seconds of `steps` runs after `warmup`.
double MeasurePlainLoop(const onnx::ModelProto& model, const Graph& graph, int steps, int warmup, uint64_t seed);

// The op names this runtime executes, sorted.
std::vector<std::string> SupportedOpNames();

}  // namespace allot::runtime
