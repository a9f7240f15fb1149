#pragma once
// A trained policy on disk: DIR/policy.pt (the parameters by name, in allot's archive: rl/archive_file.h) and DIR/policy.json (which learned placer it belongs to, what it was trained on and how to
// rebuild its network: the decision grouping, sizes, logit shaping, the graph hash and cluster).
// `allot place MODEL --placer NAME --policy DIR` loads it and decodes greedily.
#include <cstdint>
#include <memory>
#include <string>

#include "placers/placer.h"
#include "rl/policy.h"

namespace allot::rl {

class Trainer;
struct TrainResult;

struct PolicyMetadata {
  std::string placer;                   // the learned placer ("seq2seq", "hierarchical", ...)
  int64_t num_groups = 0;               // decision units
  std::string graph_hash;
  std::string cluster;
  int64_t num_devices = 0;              // devices the policy chooses among
  int64_t steps = 0;                    // policy updates it was trained for
  double best_step_time = 0;            // seconds, best sampled placement during training (0: none valid)
  std::string model, mode;              // informational
};

PolicyMetadata MetadataOf(const Trainer& trainer, const TrainResult& result);

// Creates DIR; files are written atomically.
void SavePolicyDirectory(const std::string& dir, Policy& policy, const PolicyMetadata& meta);

struct LoadedPolicy {
  std::unique_ptr<Policy> policy;
  PolicyMetadata meta;
};
// The policy saved in `dir` (or in `dir`/policy: a training output folder), rebuilt over `problem`, which must be
// the graph it was trained on (any graph for a graph-generic placer: gdp) and offer it as many devices. Throws Error naming the file for a missing, malformed
// or mismatched directory.
LoadedPolicy LoadPolicyDirectory(const std::string& dir, const PlacementProblem& problem);
// `dir`, or `dir`/policy when `dir` is a training output folder (it has no policy.json but policy/ has).
std::string ResolvePolicyDirectory(const std::string& dir);

}  // namespace allot::rl
