#include "placers/placer.h"

#include <map>
#include <queue>

#include "graph/error.h"

namespace allot {
namespace {

// The devices a node's entry names: device names, or kinds ("cpu", "gpu").
uint64_t DeviceMask(const std::vector<std::string>& names, const Cluster& cluster, const std::string& where) {
  uint64_t mask = 0;
  for (const std::string& name : names) {
    uint64_t bits = 0;
    for (DeviceId d = 0; d < cluster.num_devices(); ++d) {
      const Device& device = cluster.device(d);
      const bool kind = (name == "cpu" && device.kind == DeviceKind::kCpu) ||
                        (name == "gpu" && device.kind == DeviceKind::kGpu);
      if (kind || device.name == name) bits |= uint64_t{1} << d;
    }
    if (bits == 0)
      throw Error(where + ": device '" + name + "' is not in cluster " + cluster.name() +
                  " (a device name, or a kind: cpu, gpu)");
    mask |= bits;
  }
  return mask;
}

std::string MaskNames(uint64_t mask, const Cluster& cluster) {
  std::string s;
  for (DeviceId d = 0; d < cluster.num_devices(); ++d)
    if ((mask >> d) & 1) s += (s.empty() ? "" : ", ") + cluster.device(d).name;
  return s.empty() ? "no device" : s;
}

// A class must not have a path between two of its members through a node that may run on none of the class's
// devices: the class's data would leave its device and come back within what the class says is one unit.
void CheckClassCycles(const PlacementProblem& p, const std::vector<std::string>& class_names) {
  const Graph& g = *p.graph;
  const size_t n = g.num_nodes();
  std::map<uint32_t, std::vector<NodeId>> members;
  for (NodeId v = 0; v < p.classes.size(); ++v)
    if (p.classes[v] != kNone) members[p.classes[v]].push_back(v);
  for (const auto& member : members) {
    const uint32_t c = member.first;
    const std::vector<NodeId>& nodes = member.second;  // (not a structured binding: sweep captures it)
    // The class's devices: its group's allowed set (a pin is a set of one). A node on a path between members that
    // may run on none of them takes the data off the class's device and back.
    const uint64_t mask = p.allowed[p.groups.group_of[nodes.front()]];
    const uint64_t all = p.cluster->num_devices() >= 64 ? ~uint64_t{0} : (uint64_t{1} << p.cluster->num_devices()) - 1;
    if (mask == all || nodes.size() < 2) continue;
    // Nodes reachable from a member, and nodes from which a member is reachable: their intersection lies on a
    // path between members.
    auto sweep = [&](bool forward) {
      std::vector<char> seen(n, 0);
      std::queue<NodeId> q;
      for (NodeId v : nodes) {
        seen[v] = 1;
        q.push(v);
      }
      while (!q.empty()) {
        const NodeId v = q.front();
        q.pop();
        for (NodeId w : forward ? g.successors(v) : g.predecessors(v))
          if (!seen[w]) {
            seen[w] = 1;
            q.push(w);
          }
      }
      return seen;
    };
    const std::vector<char> after = sweep(true), before = sweep(false);
    for (NodeId v = 0; v < n; ++v)
      if (after[v] && before[v] && (p.allowed[p.groups.group_of[v]] & mask) == 0)
        throw Error("co-location class '" + class_names[c] + "' (on " + MaskNames(mask, *p.cluster) +
                    ") would form a cycle with node '" + std::string(g.node_name(v)) + "', " +
                    (p.pinned[v] != Cluster::kNoDevice ? "pinned to " : "allowed on ") +
                    MaskNames(p.allowed[p.groups.group_of[v]], *p.cluster) +
                    ": data would leave the class's device and come back");
  }
}

}  // namespace

PlacementProblem PlacementProblem::Make(const Graph& graph, const Cluster& cluster, const CostTable& costs,
                                        const NodeConstraints* constraints) {
  PlacementProblem p;
  p.graph = &graph;
  p.cluster = &cluster;
  p.costs = &costs;
  const size_t n = graph.num_nodes();
  p.pinned.assign(n, Cluster::kNoDevice);
  std::vector<std::string> class_names;
  if (constraints && !constraints->colocation.empty()) {
    std::map<std::string, uint32_t> ids;
    p.classes.assign(n, kNone);
    for (NodeId v = 0; v < n && v < constraints->colocation.size(); ++v) {
      const std::string& name = constraints->colocation[v];
      if (name.empty()) continue;
      const auto [it, fresh] = ids.emplace(name, static_cast<uint32_t>(class_names.size()));
      if (fresh) class_names.push_back(name);
      p.classes[v] = it->second;
    }
  }
  CoarsenOptions options;
  options.classes = p.classes;
  p.groups = Coarsen(graph, options);
  const uint64_t all = cluster.num_devices() >= 64 ? ~uint64_t{0} : (uint64_t{1} << cluster.num_devices()) - 1;
  p.allowed.assign(p.groups.num_groups(), all);
  if (!constraints || constraints->devices.empty()) return p;
  if (cluster.num_devices() > 64)
    throw Error("cluster " + cluster.name() + ": allowed-device constraints support at most 64 devices");
  for (NodeId v = 0; v < n && v < constraints->devices.size(); ++v) {
    if (constraints->devices[v].empty()) continue;
    const std::string where = "node '" + std::string(graph.node_name(v)) + "'";
    const uint32_t g = p.groups.group_of[v];
    const uint64_t before = p.allowed[g];
    p.allowed[g] &= DeviceMask(constraints->devices[v], cluster, where);
    if (p.allowed[g] == 0) {
      const uint32_t c = p.classes.empty() ? kNone : p.classes[v];
      throw Error(where + " may run on " + MaskNames(DeviceMask(constraints->devices[v], cluster, where), cluster) +
                  " only, but " + (c == kNone ? "its group" : "its co-location class '" + class_names[c] + "'") +
                  " may run on " + MaskNames(before, cluster) + " only");
    }
  }
  // A group allowed one device is pinned there.
  for (uint32_t g = 0; g < p.groups.num_groups(); ++g) {
    const uint64_t mask = p.allowed[g];
    if (mask & (mask - 1)) continue;
    const DeviceId d = static_cast<DeviceId>(__builtin_ctzll(mask));
    for (uint32_t i = p.groups.member_offsets[g]; i < p.groups.member_offsets[g + 1]; ++i)
      p.pinned[p.groups.members[i]] = d;
  }
  if (!p.classes.empty()) CheckClassCycles(p, class_names);
  return p;
}

std::vector<DeviceId> PlacementProblem::ExpandGroups(const std::vector<DeviceId>& group_devices) const {
  std::vector<DeviceId> placement(graph->num_nodes());
  for (uint32_t g = 0; g < groups.num_groups(); ++g) {
    DeviceId d = GroupPin(g);
    if (d == Cluster::kNoDevice) d = group_devices[g];
    if (!Allows(g, d)) d = static_cast<DeviceId>(__builtin_ctzll(allowed[g]));
    for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i) placement[groups.members[i]] = d;
  }
  return placement;
}

void PlacementProblem::Legalize(std::vector<DeviceId>& placement) const {
  std::vector<DeviceId> group_devices(groups.num_groups());
  for (uint32_t g = 0; g < groups.num_groups(); ++g)
    group_devices[g] = groups.member_offsets[g] < groups.member_offsets[g + 1]
                           ? placement[groups.members[groups.member_offsets[g]]]
                           : Cluster::kNoDevice;
  placement = ExpandGroups(group_devices);
}

DeviceId PlacementProblem::GroupPin(uint32_t group) const {
  for (uint32_t i = groups.member_offsets[group]; i < groups.member_offsets[group + 1]; ++i)
    if (pinned[groups.members[i]] != Cluster::kNoDevice) return pinned[groups.members[i]];
  return Cluster::kNoDevice;
}

}  // namespace allot
