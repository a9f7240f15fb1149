#pragma once
// A trained policy on disk: DIR/policy.pt (the parameters, torch::serialize) and DIR/policy.json (what it was
// trained on and how to rebuild it: network sizes, logit shaping, the decision grouping, the graph hash and
// cluster). `allot place MODEL --placer seq2seq:policy=DIR` loads it and decodes greedily.
#include <cstdint>
#include <string>

#include "rl/policy_seq2seq.h"

namespace allot::rl {

class Trainer;
struct TrainResult;

struct PolicyMetadata {
  PolicyConfig policy;
  size_t max_groups = 0;
  bool fuse_chains = true;
  int64_t num_groups = 0;
  std::string graph_hash;
  std::string cluster;
  int64_t num_devices = 0;
  bool gpu_only = false;                // the policy's devices: the cluster's GPUs only, or all of them
  int64_t steps = 0;                    // policy updates it was trained for
  double best_step_time = 0;            // seconds, best sampled placement during training (0: none valid)
  std::string model, mode;              // informational
};

PolicyMetadata MetadataOf(const Trainer& trainer, const TrainResult& result);

// Creates DIR; files are written atomically.
void SavePolicyDirectory(const std::string& dir, const Seq2SeqPolicy& policy, const PolicyMetadata& meta);

struct LoadedPolicy {
  Seq2SeqPolicy policy{nullptr};
  PolicyMetadata meta;
};
// Throws Error naming the file for a missing or malformed directory.
LoadedPolicy LoadPolicyDirectory(const std::string& dir);

}  // namespace allot::rl
