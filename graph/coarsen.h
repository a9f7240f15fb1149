#pragma once
// Coarsening: merges ops into groups that are placed as one, so placers decide over hundreds of groups rather
// than tens of thousands of ops (ColocRL's co-location groups, HDP's groups, Baechi's and Placeto's fusion).
//
// 1. Forced co-location (always): a gradient or update op joins its forward op's group, and the members of one
//    co-location class (`classes`, a model's own constraints) share a group.
// 2. Optional fusion: `fuse_chains` merges an op into its only producer when it is that producer's only consumer
//    (with `max_groups`, only until the count reaches the cap, cheapest links first); `fuse_elementwise` merges
//    element-wise and view ops into their first producer (Baechi's and Placeto's co-placement of cheap ops with
//    their input).
// 3. `max_groups` > 0 caps the count: groups, ordered by the earliest topological position of their forward
//    members, are cut into at most max_groups contiguous runs of about equal compute. Contiguous runs of a
//    topological order keep dependencies pointing forward, so a cut loses parallelism but never invents a
//    dependency between independent runs placed apart. (A METIS partition of the group graph instead, balanced
//    compute and fewest bytes cut, was tried during development and not kept: refine over its parts did worse on
//    NMT-4 training than over contiguous runs.)
// The group graph is not necessarily acyclic (a forward op and its gradient share a group); it is a decision
// structure, and the simulator always runs the full graph.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace allot {

struct CoarsenOptions {
  std::vector<uint32_t> classes;  // per node (or empty): nodes of one class share a group; kNone: no class
  bool fuse_chains = false;
  bool fuse_elementwise = false;
  size_t max_groups = 0;  // 0: no cap
};

struct CoarseGraph {
  size_t num_groups() const { return group_names.size(); }
  std::vector<uint32_t> group_of;         // node -> group (the map back)
  std::vector<uint32_t> member_offsets;   // CSR: members of group g are members[member_offsets[g] ..]
  std::vector<NodeId> members;            // sorted by node id within a group
  std::vector<std::string> group_names;   // the name of the group's first forward member
  std::vector<double> flops;              // summed over members
  std::vector<double> bytes_accessed;
  std::vector<uint64_t> memory_bytes;     // parameters + optimizer state + outputs of the members
  // Group adjacency (CSR, both directions merged per pair, self-loops dropped), weighted by bytes.
  std::vector<uint32_t> out_offsets;
  std::vector<uint32_t> out_groups;
  std::vector<uint64_t> out_bytes;
};

CoarseGraph Coarsen(const Graph& graph, const CoarsenOptions& options = {});

}  // namespace allot
