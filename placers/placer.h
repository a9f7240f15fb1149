#pragma once
// The placer interface. A PlacementProblem is everything a placer may read; a Placer turns it into one device per
// node. Placers are interchangeable behind this interface and registered by name in placers/registry.h.
//
// Constraints every placer honours (as TensorFlow's placer documents its own):
// 1. Co-location: gradient and update ops run with their forward op. Placers decide over `groups` (the forced
//    co-location groups, cost_model-free: graph/coarsen.h) or decide forward ops and call ExpandPlacement.
// 2. Pinned ops: pinned[n] != kNoDevice fixes node n's group to that device. A model's own constraints
//    (cost_model/node_constraints.h: co-location classes, allowed devices) become groups, pins (a node allowed
//    one device) and allowed-device sets, which placers search within (Allows) and ExpandGroups enforces.
// 3. Memory: no device's simulated peak may exceed its capacity. A placer that cannot meet it throws Error
//    saying which device is short and by how much; `allot place` never writes an invalid placement.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/node_constraints.h"
#include "cost_model/op_costs.h"
#include "cost_model/simulator.h"
#include "graph/coarsen.h"
#include "graph/graph.h"
#include "placers/options.h"

namespace allot {

struct PlacementProblem {
  // Borrowed; they outlive the problem.
  const Graph* graph = nullptr;
  const Cluster* cluster = nullptr;
  const CostTable* costs = nullptr;
  CoarseGraph groups;                // forced co-location groups (Coarsen with the model's classes)
  std::vector<uint32_t> classes;     // per node (or empty): the model's co-location class, kNone where none;
                                     // placers that coarsen further pass it on (CoarsenOptions::classes)
  std::vector<DeviceId> pinned;      // per node; Cluster::kNoDevice where free
  std::vector<uint64_t> allowed;     // per group: bit d set where the group may run (all bits: anywhere)
  std::string mode = "inference";    // recorded in outputs
  DispatchOrder order = DispatchOrder::kFifo;  // how the simulator that scores placements dispatches

  // Builds the groups, pins and allowed sets from the model's constraints (none: all free). Errors name the node
  // or class: a device not in the cluster, a class whose members allow no common device, a class that would
  // form a cycle with a node pinned elsewhere (its members' data would go out to that device and back).
  static PlacementProblem Make(const Graph& graph, const Cluster& cluster, const CostTable& costs,
                               const NodeConstraints* constraints = nullptr);

  // (A cluster of over 64 devices takes no allowed-device constraints: every group's mask is all bits.)
  bool Allows(uint32_t group, DeviceId d) const {
    return allowed[group] == ~uint64_t{0} || (d < 64 && ((allowed[group] >> d) & 1));
  }
  // One device per group -> one device per node (pins applied on top; a group on a device it may not use moves
  // to its first allowed device).
  std::vector<DeviceId> ExpandGroups(const std::vector<DeviceId>& group_devices) const;
  // The same for a placement by node: each group takes its first member's device, where allowed.
  void Legalize(std::vector<DeviceId>& placement) const;
  // The device a group is pinned to, or kNoDevice.
  DeviceId GroupPin(uint32_t group) const;
};

// One point of a search's progress: after `evaluated` placements, the best valid step time found so far (seconds;
// inf while none), `seconds` into the search.
struct SearchPoint {
  int64_t evaluated = 0;
  double best_step_time = 0;
  double seconds = 0;
};

class Placer {
 public:
  explicit Placer(OptionValues options) : options_(std::move(options)) {}
  virtual ~Placer() = default;
  virtual std::string_view name() const = 0;
  // One device per node. Throws Error when no valid placement is found.
  virtual std::vector<DeviceId> place(const PlacementProblem& problem) = 0;
  // The progress of the last place() (the learned placers: one point per policy update); empty for placers that
  // do not report one. `allot compare` charts it.
  virtual std::vector<SearchPoint> search_curve() const { return {}; }
  const OptionValues& options() const { return options_; }

 protected:
  OptionValues options_;
};

}  // namespace allot
