#pragma once
// A deliberately straightforward simulator with the same semantics as cost_model/simulator.h (FIFO dispatch, one
// transfer per tensor and device, FIFO link contention, memory liveness): the way one would first write it, with
// per-call set-up, name-keyed maps and an ordered set as the event queue. It exists only so `allot bench
// simulate` can show what the flat-array design buys, and checks that both agree on the step time.
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "graph/graph.h"

namespace allot::tools {

struct BaselineResult {
  double step_time = 0;
  std::vector<uint64_t> peak_memory;
};

BaselineResult BaselineSimulate(const Graph& graph, const Cluster& cluster, const CostTable& costs,
                                const std::vector<DeviceId>& placement);

}  // namespace allot::tools
