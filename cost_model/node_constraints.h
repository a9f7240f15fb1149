#pragma once
// Placement constraints a model brings with it, by node and by name: co-location classes (TensorFlow's colocation
// groups; the "color classes" of Tarnawski et al.'s cost graphs) and the devices a node may run on (a pinned op,
// or a CPU-only one). JSON cost graphs carry them (cost_model/cost_graph.h); placers/placer.h resolves them
// against a cluster, and every placer honours them.
#include <string>
#include <vector>

namespace allot {

struct NodeConstraints {
  // Per node: a class name; nodes of one class run on one device. Empty: no class.
  std::vector<std::string> colocation;
  // Per node: the devices it may run on, each a device name ("cuda:1") or kind ("cpu", "gpu"). Empty: any.
  std::vector<std::vector<std::string>> devices;

  bool empty() const { return colocation.empty() && devices.empty(); }
};

}  // namespace allot
