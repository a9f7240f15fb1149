#pragma once
// Per-group input features of the learned placers (ColocRL's op descriptions, REFERENCES Part I §1
// "Architecture"): for each decision group, in the order the policy reads them,
//   - an op-type index for a learned embedding: the group's majority op family (graph/op_work.h) over its forward
//     members (ties: the family with more FLOPs, then the lower index). Families rather than raw ONNX op types so
//     the vocabulary is fixed and small (13) and a saved policy never meets an unknown index;
//   - its output shape: the largest tensor a forward member sends out of the group (or the last forward member's
//     first output), padded to kShapeDims dimensions with 0 and log-scaled (log1p(d) / 10);
//   - its work: FLOPs, bytes accessed and resident memory, log-scaled (log1p(x) / 25), the member count
//     (log1p(n) / 10), and its position in the sequence (g / G);
//   - adjacency: up to kMaxNeighbours neighbour group indices, heaviest edges first (ties: lower index), padded
//     with -1; the encoder reads each as (neighbour - g) / G (0 for padding) with log1p(edge bytes) / 25.
// Every scale is a constant (not a per-graph statistic), so the features of a group do not depend on the others'.
#include <ATen/ATen.h>

#include <cstdint>

#include "graph/coarsen.h"
#include "graph/graph.h"
#include "placers/placer.h"

namespace allot::rl {

inline constexpr int64_t kShapeDims = 4;
inline constexpr int64_t kMaxNeighbours = 8;
inline constexpr int64_t kWorkFeatures = 5;  // flops, bytes, memory, members, position
// Width of GroupFeatures::Numeric().
inline constexpr int64_t kNumericFeatures = kShapeDims + kWorkFeatures + 2 * kMaxNeighbours;
// Size of the op-type vocabulary (the OpFamily values).
int64_t OpTypeVocabulary();

struct GroupFeatures {
  int64_t num_groups = 0;
  at::Tensor op_type;          // [G] int64, in [0, OpTypeVocabulary())
  at::Tensor output_shape;     // [G, kShapeDims] float, log-scaled, 0-padded
  at::Tensor work;             // [G, kWorkFeatures] float
  at::Tensor adjacency;        // [G, kMaxNeighbours] int64 neighbour group index, -1 padded
  at::Tensor adjacency_bytes;  // [G, kMaxNeighbours] float, log-scaled edge bytes, 0 where padded

  // [G, kNumericFeatures] float: output_shape ‖ work ‖ relative neighbour offsets ‖ adjacency_bytes.
  at::Tensor Numeric() const;
};

GroupFeatures ComputeGroupFeatures(const Graph& graph, const CoarseGraph& groups);

// Where something sits in a sequence, as a smooth, size-independent code: sin/cos(2^k π r) of its relative position
// r in [0, 1] (k < kPositionFeatures / 2), written to out[0, kPositionFeatures). Networks read contiguous ranges of
// the topological order (a pipeline split) from it far more easily than from r alone.
inline constexpr int64_t kPositionFeatures = 16;
void EncodePosition(double r, float* out);

// The groups the policy decides over: ColocRL's co-location groups, i.e. the problem's forced groups (gradient and
// update ops with their forward op), plus, with `fuse_chains`, "an op whose output feeds a single consumer is
// merged with it", cut to at most `max_groups` contiguous runs (graph/coarsen.h; 0: no cap).
CoarseGraph DecisionGroups(const Graph& graph, size_t max_groups, bool fuse_chains,
                           const std::vector<uint32_t>& classes = {});

// How decisions become a placement. Each problem group (the forced co-location groups) takes the device of the
// decision group of its first member, so forced co-location holds whatever the decision groups are. A decision
// group with a pinned member goes wholly to that pin (the first pinned member's, by problem group order), and
// PlacementProblem::ExpandGroups applies every pin on top.
// The policy chooses among `devices`, by index: every device of the cluster, or with `gpu_only` its GPUs only
// (all devices when it has none).
struct DecisionMap {
  std::vector<uint32_t> problem_to_decision;  // per problem group
  std::vector<DeviceId> pin;                  // per decision group; Cluster::kNoDevice where free
  std::vector<DeviceId> devices;              // policy output index -> cluster device
};
DecisionMap MapDecision(const PlacementProblem& problem, const CoarseGraph& decision, bool gpu_only = false);
// `group_devices`: one policy output index per decision group.
std::vector<DeviceId> ExpandDecision(const PlacementProblem& problem, const DecisionMap& map,
                                     const int64_t* group_devices);

}  // namespace allot::rl
