#pragma once
// Internal helpers shared by the classic algorithmic placers (metis, etf, sct, topo): which devices a placer may
// use, a per-device memory ledger that follows the simulator's memory model, and the simulator check every
// placer runs on its result before returning it. Not part of the placer interface.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "placers/placer.h"

namespace allot::classic {

// The devices a placer spreads work over: "gpu" = the GPUs (every device when the cluster has none), "all" =
// every device. Throws Error naming the placer for another value.
std::vector<DeviceId> SelectDevices(const Cluster& cluster, const std::string& which, const std::string& placer);

// Human-readable bytes ("1.50 GiB", "12.0 MiB", "300 B").
std::string FormatBytes(uint64_t bytes);

// A memory ledger per device, for placers that decide co-location groups one at a time. Two modes:
//
// Dynamic (m-ETF, m-SCT), the simulator's accounting (cost_model/simulator.h) replayed in the placer's order:
// - AssignGroup fixes a group on a device: its resident tensors (parameters, constants, graph inputs; once per
//   device that reads them) and optimizer state are charged there, and copies of inputs already produced
//   elsewhere arrive (the simulator sends a tensor when its producer finishes, to every device with a reader);
// - RunOp runs an op: its outputs are allocated, copied at once to every other device a reader was assigned to,
//   and freed where no reader is left to run (the producer's own copy only once every reader is assigned);
// - weight gradients (outputs of gradient ops read only by an update op) all live until their update runs, at
//   the end of the step, on the update's device (the producer's copy goes once sent), so they are reserved
//   there when the update's group is assigned: Baechi's reserve mode in spirit, setting aside what a group will
//   need when it is fixed. Shared weights (an unrolled RNN's) have one gradient per reader: seq of them.
// Static (m-TOPO): nothing is ever freed; see StaticGroupBytes.
class MemoryTracker {
 public:
  explicit MemoryTracker(const PlacementProblem& problem);

  // Clears the ledger; `limit[d]` is the most device d may hold.
  void Reset(const std::vector<uint64_t>& limit);

  uint64_t used(DeviceId d) const { return used_[d]; }
  uint64_t limit(DeviceId d) const { return limit_[d]; }
  uint64_t headroom(DeviceId d) const { return used_[d] < limit_[d] ? limit_[d] - used_[d] : 0; }
  DeviceId device_of(NodeId n) const { return node_dev_[n]; }
  // Whether tensor t is a weight gradient (reserved on its update's device; see the class comment).
  bool weight_gradient(TensorId t) const { return wgrad_[t]; }

  // --- Dynamic mode ---
  // Adds to need[e] (one entry per device) what AssignGroup(group, d) would charge each device.
  void AssignNeeds(uint32_t group, DeviceId d, std::vector<uint64_t>& need) const;
  void AssignGroup(uint32_t group, DeviceId d);
  // Adds to need[e] what RunOp(n) would charge each device if n ran on d (its group assigned there, or about
  // to be).
  void RunNeeds(NodeId n, DeviceId d, std::vector<uint64_t>& need) const;
  void RunOp(NodeId n);

  // --- Static mode (m-TOPO) ---
  // Everything placing group g on d adds to d for good: resident tensors not yet there, optimizer state, its
  // members' outputs, and copies of inputs from groups already placed elsewhere.
  uint64_t StaticGroupBytes(uint32_t group, DeviceId d) const;
  // Charges StaticGroupBytes to d, and copies of the members' outputs to the devices of readers already placed
  // elsewhere (a gradient op placed before the op that feeds it).
  void StaticPlaceGroup(uint32_t group, DeviceId d);

 private:
  uint64_t ResidentBytes(uint32_t group, DeviceId d) const;
  void Allocate(DeviceId d, uint64_t bytes) { used_[d] += bytes; }
  void Free(DeviceId d, uint64_t bytes) { used_[d] -= std::min(used_[d], bytes); }
  // Frees the copies of t no reader on their device still needs (the producer's only once all are assigned).
  void TryFree(TensorId t);
  size_t At(TensorId t, DeviceId d) const { return static_cast<size_t>(t) * D_ + d; }

  const PlacementProblem& problem_;
  const Graph& graph_;
  size_t D_ = 0;
  // Per node: distinct produced input tensors, CSR.
  std::vector<uint32_t> in_offsets_;
  std::vector<TensorId> in_tensors_;
  // Per group: distinct resident tensors read by its members, CSR; and optimizer state.
  std::vector<uint32_t> resident_offsets_;
  std::vector<TensorId> resident_tensors_;
  std::vector<uint64_t> group_state_;
  std::vector<char> wgrad_;          // per tensor
  std::vector<NodeId> wgrad_reader_; // per weight gradient: its update op

  // Ledger.
  std::vector<uint64_t> limit_, used_;
  std::vector<DeviceId> node_dev_;     // assigned device per node
  std::vector<char> present_;          // [tensor * D + device]: resident tensor charged, or a copy there
  std::vector<uint32_t> waiting_;      // [tensor * D + device]: readers assigned there that have not run
  std::vector<uint32_t> unassigned_;   // per tensor: readers not yet assigned
  std::vector<char> produced_;         // per tensor: its producer ran
  std::vector<char> reserved_;         // per weight gradient: charged on its update's device ahead of time
  mutable std::vector<uint32_t> mark_; // per tensor: scratch stamps
  mutable uint32_t stamp_ = 0;
};

// Runs `attempt(scale)` for scale = 1, 0.9, ..., 0.5 (each placer says what it scales: the memory its forward
// pass, or its whole walk, may use) until the simulator (with the problem's dispatch order) finds the placement
// within memory everywhere, and returns that placement. The placers' own memory models replay ops in their own
// order, which can free activations earlier than the simulator's FIFO dispatch does, and a greedy schedule that
// packs the forward pass tight can leave the backward pass no room: a smaller budget is the simplest margin for
// both. An attempt that throws Error is skipped; if none succeeds, throws the first attempt's Error (it names
// the op and the shortfall at full budget), or, if some placement was found but overflows in simulation, an
// Error naming the placer and the simulator's overflow.
std::vector<DeviceId> SimulateWithMemoryRetries(const PlacementProblem& problem, const std::string& placer,
                                                const std::function<std::vector<DeviceId>(double scale)>& attempt);

}  // namespace allot::classic
