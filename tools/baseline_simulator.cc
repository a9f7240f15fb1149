#include "tools/baseline_simulator.h"

#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace allot::tools {
namespace {
// The baseline keys its maps by name, as a first simulator would.
std::string TensorName(const Graph& g, TensorId t) { return std::string(g.tensor_name(t)); }
std::string NodeName(const Graph& g, NodeId n) { return std::string(g.node_name(n)); }
}  // namespace

BaselineResult BaselineSimulate(const Graph& g, const Cluster& cluster, const CostTable& costs,
                                const std::vector<DeviceId>& placement) {
  const size_t D = cluster.num_devices();
  std::map<std::string, int> pending;                        // node name -> inputs still missing
  std::map<std::pair<std::string, int>, int> uses;           // (tensor, device) -> uses left
  std::map<std::pair<std::string, int>, bool> sent;
  std::map<std::string, double> link_free;
  std::vector<std::deque<NodeId>> ready(D);
  std::vector<bool> running(D, false);
  std::vector<uint64_t> memory(D, 0), peak(D, 0);
  // (time, sequence, is_transfer, id, device)
  std::set<std::tuple<double, uint64_t, bool, uint32_t, int>> events;
  uint64_t seq = 0;
  auto allocate = [&](int d, uint64_t b) { memory[d] += b; peak[d] = std::max(peak[d], memory[d]); };
  auto release = [&](TensorId t, int d) {
    if (--uses[{TensorName(g, t), d}] == 0 && !g.tensor(t).is_graph_output) memory[d] -= g.tensor(t).bytes;
  };
  auto produced_inputs = [&](NodeId n) {
    std::set<TensorId> ins;
    for (TensorId t : g.node(n).inputs)
      if (g.tensor(t).producer != kNone) ins.insert(t);
    return ins;
  };
  auto dispatch = [&](int d, double now) {
    if (running[d] || ready[d].empty()) return;
    const NodeId n = ready[d].front();
    ready[d].pop_front();
    running[d] = true;
    for (TensorId t : g.node(n).outputs) allocate(d, g.tensor(t).bytes);
    events.insert({now + costs.at(n, d), seq++, false, n, d});
  };

  std::set<std::pair<std::string, int>> resident;
  for (TensorId t = 0; t < g.num_tensors(); ++t)
    if (g.tensor(t).producer == kNone)
      for (NodeId c : g.consumers(t))
        if (resident.insert({TensorName(g, t), placement[c]}).second) allocate(placement[c], g.tensor(t).bytes);
  for (NodeId n = 0; n < g.num_nodes(); ++n)
    if (g.node(n).state_bytes) allocate(placement[n], g.node(n).state_bytes);
  for (NodeId n = 0; n < g.num_nodes(); ++n)
    for (TensorId t : g.node(n).outputs) {
      const int src = placement[n];
      uses[{TensorName(g, t), src}] += 0;
      std::set<int> seen;
      for (NodeId c : g.consumers(t)) {
        const int d = placement[c];
        if (seen.insert(d).second && d != src) ++uses[{TensorName(g, t), src}];
        ++uses[{TensorName(g, t), d}];
      }
    }
  for (NodeId n = 0; n < g.num_nodes(); ++n) {
    pending[NodeName(g, n)] = static_cast<int>(produced_inputs(n).size());
    if (pending[NodeName(g, n)] == 0) ready[placement[n]].push_back(n);
  }
  for (size_t d = 0; d < D; ++d) dispatch(static_cast<int>(d), 0);

  std::vector<std::tuple<TensorId, int, int>> transfers;  // tensor, from, to
  double now = 0;
  while (!events.empty()) {
    const auto [time, s, is_transfer, id, device] = *events.begin();
    events.erase(events.begin());
    now = time;
    if (!is_transfer) {
      running[device] = false;
      for (TensorId t : produced_inputs(id)) release(t, device);
      for (TensorId t : g.node(id).outputs) {
        if (g.consumers(t).empty() && !g.tensor(t).is_graph_output) memory[device] -= g.tensor(t).bytes;
        for (NodeId c : g.consumers(t)) {
          const int dc = placement[c];
          if (dc == device) {
            if (--pending[NodeName(g, c)] == 0) ready[dc].push_back(c);
          } else if (!sent[{TensorName(g, t), dc}]) {
            sent[{TensorName(g, t), dc}] = true;
            double start = now;
            for (uint32_t l : cluster.route(device, dc)) start = std::max(start, link_free[cluster.links()[l].name]);
            const double end = start + cluster.TransferTime(device, dc, g.tensor(t).bytes);
            for (uint32_t l : cluster.route(device, dc)) link_free[cluster.links()[l].name] = end;
            allocate(dc, g.tensor(t).bytes);
            transfers.emplace_back(t, device, dc);
            events.insert({end, seq++, true, static_cast<uint32_t>(transfers.size() - 1), dc});
          }
        }
      }
      dispatch(device, now);
    } else {
      const auto [t, from, to] = transfers[id];
      for (NodeId c : g.consumers(t))
        if (placement[c] == to && --pending[NodeName(g, c)] == 0) ready[to].push_back(c);
      release(t, from);
      dispatch(to, now);
    }
  }
  return {now, peak};
}

}  // namespace allot::tools
