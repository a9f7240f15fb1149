#pragma once
// The decision units of a graph as a graph of their own: what the graph-neural placers (Placeto, GDP) read. Unlike
// the seq2seq family's features (rl/features.h), which describe a unit by its place in one graph, everything here
// means the same on any graph, so one policy can place graphs it never saw (REFERENCES Part II §1-§2).
//
// - Order: units sorted by the topological position of their first forward member (all members when none is
//   forward): GDP's "nodes fed in topological order", and the order Placeto's episodes visit.
// - Edges: a forward op's output read by a forward op of another unit, oriented from the earlier unit to the later
//   in that order, parallel edges merged. A training graph's gradient ops share their forward op's unit, so the
//   gradient flow would only add reversed copies of these edges; orienting by the order keeps the unit graph a DAG
//   even where a fused unit reaches a dependency both ways.
// - Features per unit (kUnitFeatures, constant scales only, no per-graph statistic): op-family one-hot (the unit's
//   majority family, rl/features.h), its output shape (4 dims, log1p/10), FLOPs, bytes accessed and resident memory
//   (log1p/25), member count (log1p/10), relative position in the order (i/U), in- and out-degree (log1p/5), and the
//   position again as sin/cos codes (rl/features.h EncodePosition).
// - Levels: a unit's level is the longest path from a source; a sweep in topological order processes one level at
//   a time, every unit of a level at once.
// - Reachability (on request; Placeto's ancestor/descendant/parallel sets): one bitset row per unit, computed in
//   reverse topological order by OR-ing successor rows: O(U·E/64) words, instead of the reference code's
//   O(U³) Floyd-Warshall.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "graph/coarsen.h"
#include "graph/graph.h"

namespace allot::rl {

// Width of UnitGraph::features.
int64_t UnitFeatureWidth();

struct UnitGraph {
  int64_t units = 0;
  // order[i]: the decision unit (index into the CoarseGraph) at position i. All CSR arrays and features below are
  // indexed by position, not by unit.
  std::vector<uint32_t> order;
  std::vector<uint32_t> pred_offsets, preds;  // CSR over positions: predecessors (earlier positions)
  std::vector<uint32_t> succ_offsets, succs;  // successors (later positions)
  std::vector<uint32_t> level;                // per position: longest path from a source
  std::vector<uint32_t> level_offsets, level_members;  // CSR: positions per level, ascending
  at::Tensor features;                        // [units, UnitFeatureWidth()] float

  // Reachability rows, ComputeReachability() fills them: bit j of row i is set when position j is an ancestor
  // (descendant) of position i; `words` 64-bit words per row.
  int64_t words = 0;
  std::vector<uint64_t> ancestors, descendants;
  void ComputeReachability();
  bool IsAncestor(int64_t i, int64_t j) const { return (ancestors[i * words + j / 64] >> (j % 64)) & 1; }
  bool IsDescendant(int64_t i, int64_t j) const { return (descendants[i * words + j / 64] >> (j % 64)) & 1; }

  int64_t num_edges() const { return static_cast<int64_t>(preds.size()); }
  // Edge lists as [E] int64 tensors (source position, target position), for batched message passing.
  at::Tensor EdgeSources() const;
  at::Tensor EdgeTargets() const;
};

UnitGraph BuildUnitGraph(const Graph& graph, const CoarseGraph& units);

}  // namespace allot::rl
