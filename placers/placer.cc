#include "placers/placer.h"

namespace allot {

PlacementProblem PlacementProblem::Make(const Graph& graph, const Cluster& cluster, const CostTable& costs) {
  PlacementProblem p;
  p.graph = &graph;
  p.cluster = &cluster;
  p.costs = &costs;
  p.groups = Coarsen(graph);
  p.pinned.assign(graph.num_nodes(), Cluster::kNoDevice);
  return p;
}

std::vector<DeviceId> PlacementProblem::ExpandGroups(const std::vector<DeviceId>& group_devices) const {
  std::vector<DeviceId> placement(graph->num_nodes());
  for (NodeId n = 0; n < graph->num_nodes(); ++n) placement[n] = group_devices[groups.group_of[n]];
  for (uint32_t g = 0; g < groups.num_groups(); ++g) {
    const DeviceId pin = GroupPin(g);
    if (pin == Cluster::kNoDevice) continue;
    for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i) placement[groups.members[i]] = pin;
  }
  return placement;
}

DeviceId PlacementProblem::GroupPin(uint32_t group) const {
  for (uint32_t i = groups.member_offsets[group]; i < groups.member_offsets[group + 1]; ++i)
    if (pinned[groups.members[i]] != Cluster::kNoDevice) return pinned[groups.members[i]];
  return Cluster::kNoDevice;
}

}  // namespace allot
