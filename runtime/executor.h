#pragma once
// The multi-device executor: runs one inference or training step of a placed model with each op on its device,
// and measures it. The task graph is allot's IR itself — forward ops, and for a training step the synthesized loss,
// gradient and update ops (graph/training.h) — so the runtime executes exactly the DAG the simulator scores.
//
// - Devices: `cpu:k` are virtual CPU devices: one worker thread each with its own intra-op thread budget, so two
//   devices on a 2-core machine really run concurrently. `cuda:k` is this machine's GPU k (runtime/devices.h;
//   needs a CUDA LibTorch, else refused before running): its worker queues each op on a stream of its own and
//   moves on; parameters, constants and inputs are resident on it (copied once, at construction or SetInputs);
//   a value another device reads is copied after an event marks it computed, waited on by the device, not the
//   host; a step ends when every GPU is done. In a recorded step a GPU worker waits for each op, so that op
//   timings are the op's (launch and execution), not its launch.
// - Each worker runs ready ops FIFO, like the simulator. A tensor is copied once to each device that reads it,
//   by the reading device's worker, when its producer finishes (virtual CPU devices share memory; the copy is what
//   a transfer costs). Parameters, constants and graph inputs are shared, not copied, as in the simulator.
// - Training: each forward op runs as its own autograd island (inputs detached with requires_grad, outputs kept);
//   its gradient op, on the same device, calls autograd::grad on that island once the gradients of its outputs
//   have arrived from its consumers (summed). LibTorch's engine would otherwise run all CPU backward work on the
//   thread calling backward() (shared/NOTES.md). The loss is the sum over floating graph outputs of their mean;
//   the update is plain SGD (the IR's optimizer choice sets costs and memory only).
// - Every op's kernel is checked before anything runs: an unsupported op is an Error naming the node and op.
// - Across processes (RunOptions::link), each rank runs its devices' ops exactly as above. A tensor read on another
//   rank is sent once to each device there that reads it. Every rank builds one list of these transfers alike,
//   ordered by the producer's topological position (its index is the message tag). A sender thread posts each
//   send as its tensor is produced and never waits on the network until all are posted; a receiver thread takes
//   the list in order, with the receives of tensors whose dtype and shape the graph fixes posted a window ahead
//   (no header, and the data lands without a round trip) and the others (shapes bounded by shape inference, and
//   what is computed from them) received header first. No wait can deadlock: sends never block, and the earliest
//   transfer not yet received can always arrive (its producer needs only earlier transfers). Device workers never
//   wait on the network. A step starts at a barrier; afterwards parameters updated on one rank and read on others
//   are sent to them, and rank 0 gathers the step's statistics.
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "cost_model/cluster.h"
#include "graph/graph.h"

namespace onnx {
class ModelProto;
}

namespace allot::runtime {

class RankLink;

struct RunOptions {
  int intra_op_threads = 0;     // per device; 0: the machine's cores divided by the devices (at least 1)
  double learning_rate = 1e-3;  // SGD
  uint64_t seed = 1;            // parameters marked "allot:parameter" and default inputs
  bool record = false;          // per-op and per-copy timings (for traces and profiles)
  std::string model_dir;        // the folder external-data initializers are relative to ("" when none)
  // Across processes (runtime/rank_link.h): this process runs the devices whose rank is link->rank(), and a tensor
  // read on another rank travels through the link. Null: every device runs here.
  RankLink* link = nullptr;
  std::vector<int> device_rank;  // per device, with a link
};

struct OpTiming {
  NodeId node;
  DeviceId device;
  double start, end;  // seconds since the step began
};
struct CopyTiming {
  TensorId tensor;
  DeviceId from, to;
  double start, end;
  uint64_t bytes;
};

// Across processes, rank 0's StepStats cover every rank (the step time is the slowest rank's); the others' cover
// their own devices.
struct StepStats {
  double seconds = 0;
  std::vector<double> busy;  // per device: seconds running ops and copies
  uint64_t bytes_copied = 0;  // within a process and between ranks
  size_t copies = 0;
  std::vector<uint64_t> rank_bytes_sent;  // across processes: per rank, bytes it sent to the others
  double loss = 0;  // training steps
  std::vector<OpTiming> ops;       // when recorded
  std::vector<CopyTiming> copies_timed;
};

class Executor {
 public:
  // `graph` is the IR of `model` (inference, or its training graph); `placement` has one device per node. The
  // model and graph are borrowed and must outlive the executor. Throws Error for unsupported ops or devices.
  Executor(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
           std::vector<DeviceId> placement, RunOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Graph inputs (non-parameter inputs, ONNX order). Until set, seeded random values of the declared shapes.
  void SetInputs(const std::vector<at::Tensor>& inputs);
  size_t num_inputs() const;

  // Runs one step. Rethrows the first op failure as an Error naming the node.
  StepStats Step();

  // Graph outputs of the last step, in ONNX order, on the host. Across processes every rank calls it (outputs
  // made elsewhere travel to rank 0) and only rank 0 gets them.
  std::vector<at::Tensor> Outputs();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::runtime
