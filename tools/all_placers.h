#pragma once
// Every placer allot has: the classic ones (placers/) and, when built, the learned ones (rl/).
#include "placers/registry.h"

namespace allot::tools {

const PlacerRegistry& AllPlacers();
// The classic placers only (placers/: no training), as `compare --placers classic` runs them.
const PlacerRegistry& ClassicPlacers();
// The learned placers only (rl/: seq2seq, hierarchical, spotlight, post), as `compare --placers learned` runs them.
const PlacerRegistry& LearnedPlacers();

}  // namespace allot::tools
