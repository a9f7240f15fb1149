#include "tools/all_placers.h"

#include "rl/learned_placers.h"

namespace allot::tools {

const PlacerRegistry& AllPlacers() {
  static const PlacerRegistry registry = [] {
    PlacerRegistry r;
    RegisterClassicPlacers(r);
    RegisterLearnedPlacers(r);
    return r;
  }();
  return registry;
}

const PlacerRegistry& ClassicPlacers() {
  static const PlacerRegistry registry = [] {
    PlacerRegistry r;
    RegisterClassicPlacers(r);
    return r;
  }();
  return registry;
}

const PlacerRegistry& LearnedPlacers() {
  static const PlacerRegistry registry = [] {
    PlacerRegistry r;
    RegisterLearnedPlacers(r);
    return r;
  }();
  return registry;
}

}  // namespace allot::tools
