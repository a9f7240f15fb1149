#pragma once
// The learned placers, added to the same registry as the classic ones (tools/all_placers.cc composes both): every
// entry of rl/learned_registry.h's table (seq2seq, hierarchical, spotlight, post), each trained by the shared
// trainer (rl/trainer.h) against the simulator. Without `policy`, place() trains for `steps` updates (or until
// its `seconds`/`placements` budget) and returns the best valid placement it sampled; with `policy=DIR` (from
// `allot train ... --out DIR`) it decodes that policy greedily and trains nothing.
//
// Where seq2seq departs from the ICML'17 paper (details in the files named):
// - rewards come from allot's simulator, not from timing each placement on GPUs (rl/trainer.h; `allot train
//   --reward measured` times them on the runtime's virtual CPU devices instead);
// - one synchronous controller, K samples per update simulated on threads, instead of asynchronous controllers
//   and workers around a parameter server (rl/trainer.h);
// - the decoder also reads the encoder state of the group it places, and Bahdanau's tanh layer is 64 wide
//   (rl/seq2seq_net.h);
// - defaults tuned on Inception-V3 / NMT-4 (p100x4, simulated): Adam at lr 0.0005 (HDP's paper: 0.1; at 0.01 the
//   policy collapses onto one GPU within ~10 steps, at 0.001 within ~100), K = 16 samples per update (HDP: 4),
//   at most 128 decision groups, advantages normalised by the batch's cost std and an entropy bonus of 0.05 per
//   group (neither in the papers: both keep exploration alive), HDP's Gaussian logit noise (0.5 x RMS) for the
//   first 750 updates; the baseline starts at the first batch's mean cost (rl/algorithm.h);
// - HDP's staircase lr decay is available (lr_decay*) but off by default; no masking of failing samples.
// The other placers' deviations are in their policy headers (rl/policy_hierarchical.h, rl/policy_categorical.h)
// and algorithms (rl/ppo.h, rl/cross_entropy.h).
//
// Deliberately torch-free, so tools/all_placers.cc compiles fast.
#include <string>

#include "placers/registry.h"

namespace allot {

void RegisterLearnedPlacers(PlacerRegistry& registry);

// The learned placer a saved policy belongs to (policy.json's "placer"), for `allot place --policy DIR` without
// --placer; `dir` may be the policy folder or the training output folder holding it. Error naming the file.
std::string SavedPolicyPlacer(const std::string& dir);

}  // namespace allot
