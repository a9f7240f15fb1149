#pragma once
// Descriptors of the classic placers, one per placer file, gathered by RegisterClassicPlacers.
#include "placers/registry.h"

namespace allot {

PlacerInfo SinglePlacerInfo();  // placers/single_placer.cc
PlacerInfo CpuPlacerInfo();     // placers/single_placer.cc
PlacerInfo RandomPlacerInfo();  // placers/random_placer.cc
PlacerInfo ExpertPlacerInfo();  // placers/expert_placer.cc
PlacerInfo MetisPlacerInfo();   // placers/metis_placer.cc
PlacerInfo EtfPlacerInfo();     // placers/list_scheduling_placer.cc (m-ETF)
PlacerInfo SctPlacerInfo();     // placers/list_scheduling_placer.cc (m-SCT)
PlacerInfo TopoPlacerInfo();    // placers/topo_placer.cc (m-TOPO)
PlacerInfo RefinePlacerInfo();  // placers/refine_placer.cc

}  // namespace allot
