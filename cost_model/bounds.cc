#include "cost_model/bounds.h"

#include <algorithm>
#include <limits>

namespace allot {

LowerBound ComputeLowerBound(const Graph& g, const CostTable& costs) {
  LowerBound lb;
  const size_t N = g.num_nodes(), D = costs.num_devices;
  std::vector<double> fastest(N, 0), path(N, 0);
  double total = 0;
  for (NodeId n = 0; n < N; ++n) {
    double best = std::numeric_limits<double>::infinity();
    for (DeviceId d = 0; d < D; ++d) best = std::min(best, costs.at(n, d));
    fastest[n] = D ? best : 0;
    total += fastest[n];
  }
  for (NodeId n : g.topo_order()) {
    double before = 0;
    for (NodeId p : g.predecessors(n)) before = std::max(before, path[p]);
    path[n] = before + fastest[n];
    lb.critical_path = std::max(lb.critical_path, path[n]);
  }
  lb.work = D ? total / static_cast<double>(D) : 0;
  return lb;
}

}  // namespace allot
