#include "cost_model/trace.h"

#include <nlohmann/json.hpp>

namespace allot {

std::string ChromeTrace(const Graph& g, const Cluster& cluster, const SimResult& r) {
  nlohmann::json events = nlohmann::json::array();
  auto meta = [&](int pid, int tid, const char* what, const std::string& name) {
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", what}, {"args", {{"name", name}}}});
  };
  meta(0, 0, "process_name", "devices");
  meta(1, 0, "process_name", "links");
  for (DeviceId d = 0; d < cluster.num_devices(); ++d) meta(0, d, "thread_name", cluster.device(d).name);
  for (size_t l = 0; l < cluster.links().size(); ++l) meta(1, static_cast<int>(l), "thread_name", cluster.links()[l].name);
  for (const ScheduledOp& op : r.ops) {
    const Node& node = g.node(op.node);
    events.push_back({{"ph", "X"}, {"pid", 0}, {"tid", op.device}, {"name", node.name},
                      {"cat", std::string(NodeRoleName(node.role))}, {"ts", op.start * 1e6},
                      {"dur", (op.end - op.start) * 1e6}, {"args", {{"op", node.op_type}}}});
  }
  for (const ScheduledTransfer& t : r.transfers) {
    const std::string name(g.tensor_name(t.tensor));
    for (uint32_t l : cluster.route(t.from, t.to))
      events.push_back({{"ph", "X"}, {"pid", 1}, {"tid", l}, {"name", name}, {"cat", "transfer"},
                        {"ts", t.start * 1e6}, {"dur", (t.end - t.start) * 1e6},
                        {"args", {{"bytes", t.bytes}, {"from", cluster.device(t.from).name}, {"to", cluster.device(t.to).name}}}});
  }
  nlohmann::json trace = {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}};
  return trace.dump() + "\n";
}

}  // namespace allot
