#pragma once
// How a simulated step is shown: the one-screen table and the JSON that `simulate` and `place` print.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cost_model/bounds.h"
#include "cost_model/simulator.h"
#include "tools/cluster_args.h"

namespace allot::tools {

DispatchOrder ParseDispatchOrder(const std::string& name);
nlohmann::ordered_json SimulationJson(const CostedModel& m, const std::vector<DeviceId>& placement,
                                      const SimResult& r, const LowerBound& lb);
void PrintSimulation(const CostedModel& m, const std::vector<DeviceId>& placement, const SimResult& r,
                     const LowerBound& lb);

}  // namespace allot::tools
