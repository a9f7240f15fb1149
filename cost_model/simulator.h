#pragma once
// Event-driven simulation of one step of a placed graph: what every placer is scored with and every learned
// placer is rewarded by, so it is built for speed — all set-up in the constructor, and Run() touches only flat,
// preallocated arrays (no allocation per call unless the schedule is recorded).
//
// Semantics (README "Simulator"):
// - Each device runs one op at a time; an op is ready once every input tensor is on its device. Ready ops
//   dispatch FIFO in ready order (TensorFlow's executor; ties by event order), or by critical-path priority
//   (largest upward rank first, rank from mean cost over the devices) with DispatchOrder::kCriticalPath.
// - A tensor goes once to each device that has a consumer of it, when its producer finishes. A transfer occupies
//   every link of its route from start to end, and starts when they are all free (FIFO per link): transfers that
//   share a link contend. Duration: summed link latency + bytes / slowest link bandwidth.
// - Memory per device: parameters (and constants and graph inputs) resident on every device that reads them;
//   optimizer state resident with its update op; an op's outputs allocated when it starts and freed after their
//   last consumer on that device finishes (and, on the producer's device, after the last transfer out); a
//   transferred copy from transfer start to its last local consumer; graph outputs kept to the end. In a training
//   graph saved activations are inputs of gradient ops, so they live until those ran. The peak is tracked; a
//   device whose peak exceeds its capacity makes the placement invalid.
#include <cstdint>
#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "graph/graph.h"

namespace allot {

enum class DispatchOrder : uint8_t { kFifo, kCriticalPath };

struct SimOptions {
  DispatchOrder order = DispatchOrder::kFifo;
  bool record_schedule = false;  // fill SimResult::ops and ::transfers (allocates)
};

struct ScheduledOp {
  NodeId node;
  DeviceId device;
  double start, end;
};
struct ScheduledTransfer {
  TensorId tensor;
  DeviceId from, to;
  double start, end;
  uint64_t bytes;
};

struct SimResult {
  double step_time = 0;                // seconds
  bool valid = true;                   // false: some device ran out of memory
  std::string error;                   // the worst overflow, e.g. "cuda:1 needs 18.2 GiB, has 16 GiB (+2.2 GiB)"
  std::vector<double> busy;            // per device, seconds of compute
  std::vector<uint64_t> peak_memory;   // per device, bytes
  std::vector<uint64_t> link_bytes;    // per link
  uint64_t transferred_bytes = 0;
  size_t transfers_count = 0;
  std::vector<ScheduledOp> ops;              // when recorded, in start order per device
  std::vector<ScheduledTransfer> transfers;  // when recorded
};

class Simulator {
 public:
  // graph, cluster and costs are borrowed and must outlive the simulator.
  Simulator(const Graph& graph, const Cluster& cluster, const CostTable& costs, SimOptions options = {});

  // `placement` has one device per node (see ExpandPlacement for forward-only placements). The result is owned by
  // the simulator and overwritten by the next Run. Not thread-safe: use one Simulator per thread.
  const SimResult& Run(const std::vector<DeviceId>& placement);

  const SimOptions& options() const { return options_; }
  void set_record_schedule(bool record) { options_.record_schedule = record; }

 private:
  struct Event {
    double time;
    uint64_t seq;   // push order: deterministic tie-break
    uint32_t id;    // node, or transfer slot
    bool transfer;
  };
  void Push(double time, uint32_t id, bool transfer);
  Event Pop();
  void MakeReady(NodeId n, DeviceId d);
  void TryDispatch(DeviceId d, double now);
  void Allocate(DeviceId d, uint64_t bytes);
  void Release(TensorId t, DeviceId d);
  void StartTransfer(TensorId t, DeviceId from, DeviceId to, double now);

  const Graph& graph_;
  const Cluster& cluster_;
  const CostTable& costs_;
  SimOptions options_;
  size_t N_ = 0, T_ = 0, D_ = 0;

  // Set-up: flat views of the graph.
  std::vector<uint32_t> in_count_;                  // distinct produced input tensors per node
  std::vector<uint32_t> in_offsets_, in_tensors_;   // distinct input tensors per node (CSR)
  std::vector<uint32_t> out_offsets_, out_tensors_; // output tensors per node (CSR)
  std::vector<NodeId> producer_;
  std::vector<uint64_t> bytes_;
  std::vector<char> keep_;                          // graph outputs: never freed
  std::vector<TensorId> resident_tensors_;          // parameters, constants, graph inputs
  std::vector<double> rank_;                        // upward rank, for kCriticalPath
  std::vector<std::vector<uint32_t>> routes_;       // [from * D + to]
  std::vector<double> route_latency_, route_bandwidth_;

  // Per-run state, sized once.
  std::vector<DeviceId> place_;
  std::vector<uint32_t> pending_;
  std::vector<int32_t> uses_;       // [tensor * D + device]: consumers (and transfers out) still to come
  std::vector<uint32_t> stamp_;     // [tensor * D + device]: == run_ when a copy exists there
  uint32_t run_ = 0;
  std::vector<uint32_t> ready_offsets_, ready_head_, ready_tail_;
  std::vector<NodeId> ready_;
  std::vector<char> running_;
  std::vector<double> link_free_;
  std::vector<uint64_t> memory_;
  std::vector<Event> heap_;
  uint64_t seq_ = 0;
  std::vector<TensorId> transfer_tensor_;  // transfer slot -> tensor
  std::vector<DeviceId> transfer_to_, transfer_from_;
  std::vector<double> transfer_start_;
  SimResult result_;
};

}  // namespace allot
