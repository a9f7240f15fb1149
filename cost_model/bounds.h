#pragma once
// Lower bounds on the step time of any placement, to report every step time as a ratio to them. Both ignore
// memory limits, so a bound may be unreachable; neither can be beaten by the simulator.
//   critical_path: the heaviest path when every op runs on its fastest device and communication is free.
//   work:          the sum of every op's fastest time over the number of devices (all devices busy all the time).
#include "cost_model/op_costs.h"
#include "graph/graph.h"

namespace allot {

struct LowerBound {
  double critical_path = 0;  // seconds
  double work = 0;           // seconds
  double value() const { return critical_path > work ? critical_path : work; }
};

LowerBound ComputeLowerBound(const Graph& graph, const CostTable& costs);

}  // namespace allot
