#pragma once
// Every placer allot has: the classic ones (placers/) and, when built, the learned ones (rl/).
#include "placers/registry.h"

namespace allot::tools {

const PlacerRegistry& AllPlacers();
// The classic placers only (placers/: no training), as `compare --placers classic` runs them.
const PlacerRegistry& ClassicPlacers();

}  // namespace allot::tools
