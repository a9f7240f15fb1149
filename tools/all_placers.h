#pragma once
// Every placer allot has: the classic ones (placers/) and, when built, the learned ones (rl/).
#include "placers/registry.h"

namespace allot::tools {

const PlacerRegistry& AllPlacers();

}  // namespace allot::tools
