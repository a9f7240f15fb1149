#pragma once
// The learned placers, added to the same registry as the classic ones (tools/all_placers.cc composes both).
//
// seq2seq: ColocRL (Mirhoseini et al., ICML 2017): an attention seq2seq policy over co-location groups trained
// with REINFORCE on sqrt(step time) (rl/policy_seq2seq.h, rl/reinforce.h, rl/trainer.h). Without `policy`,
// place() trains for `steps` updates against the simulator and returns the best valid placement it sampled;
// with `policy=DIR` (from `allot train ... --out OUT`, DIR = OUT/policy) it decodes that policy greedily and
// trains nothing.
// Deliberately torch-free, so tools/all_placers.cc compiles fast.
#include "placers/registry.h"

namespace allot {

void RegisterLearnedPlacers(PlacerRegistry& registry);

}  // namespace allot
