#include "tools/simulation_report.h"

#include <cstdio>

#include "graph/error.h"
#include "tools/format.h"

namespace allot::tools {

DispatchOrder ParseDispatchOrder(const std::string& name) {
  if (name == "fifo") return DispatchOrder::kFifo;
  if (name == "critical-path") return DispatchOrder::kCriticalPath;
  throw Error("unknown dispatch order '" + name + "' (fifo, critical-path)");
}

nlohmann::ordered_json SimulationJson(const CostedModel& m, const std::vector<DeviceId>& placement,
                                      const SimResult& r, const LowerBound& lb) {
  nlohmann::ordered_json j;
  j["step_time_ms"] = r.step_time * 1e3;
  j["lower_bound_ms"] = lb.value() * 1e3;
  j["ratio_to_lower_bound"] = lb.value() > 0 ? r.step_time / lb.value() : 0;
  j["critical_path_ms"] = lb.critical_path * 1e3;
  j["work_bound_ms"] = lb.work * 1e3;
  j["valid"] = r.valid;
  if (!r.valid) j["error"] = r.error;
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  std::vector<size_t> ops(m.cluster.num_devices(), 0);
  for (DeviceId d : placement) ++ops[d];
  for (DeviceId d = 0; d < m.cluster.num_devices(); ++d)
    devices.push_back({{"device", m.cluster.device(d).name}, {"ops", ops[d]}, {"busy_ms", r.busy[d] * 1e3},
                       {"peak_memory_bytes", r.peak_memory[d]},
                       {"memory_capacity_bytes", m.cluster.device(d).memory_capacity}});
  j["devices"] = devices;
  nlohmann::ordered_json peak = nlohmann::ordered_json::object();
  for (DeviceId d = 0; d < m.cluster.num_devices(); ++d) peak[m.cluster.device(d).name] = r.peak_memory[d];
  j["peak_memory_bytes"] = peak;
  nlohmann::ordered_json links = nlohmann::ordered_json::object();
  for (size_t l = 0; l < m.cluster.links().size(); ++l)
    if (r.link_bytes[l]) links[m.cluster.links()[l].name] = r.link_bytes[l];
  j["link_bytes"] = links;
  j["transfers"] = r.transfers_count;
  j["transferred_bytes"] = r.transferred_bytes;
  j["profile_coverage"] = m.costs.profile_coverage();
  return j;
}

void PrintSimulation(const CostedModel& m, const std::vector<DeviceId>& placement, const SimResult& r,
                     const LowerBound& lb) {
  std::printf("step time      %s  (%.2fx the lower bound %s: critical path %s, work %s)\n",
              FormatSeconds(r.step_time).c_str(), lb.value() > 0 ? r.step_time / lb.value() : 0.0,
              FormatSeconds(lb.value()).c_str(), FormatSeconds(lb.critical_path).c_str(),
              FormatSeconds(lb.work).c_str());
  std::printf("valid          %s\n", r.valid ? "yes" : ("no: " + r.error).c_str());
  std::printf("transfers      %zu, %s\n", r.transfers_count, FormatBytes(static_cast<double>(r.transferred_bytes)).c_str());
  if (m.profile) std::printf("profile        %.0f%% of ops measured\n", 100 * m.costs.profile_coverage());
  std::vector<size_t> ops(m.cluster.num_devices(), 0);
  for (DeviceId d : placement) ++ops[d];
  std::printf("%-10s %8s %12s %8s %22s\n", "device", "ops", "busy", "util", "peak memory / capacity");
  for (DeviceId d = 0; d < m.cluster.num_devices(); ++d) {
    const std::string mem = FormatBytes(static_cast<double>(r.peak_memory[d])) + " / " +
                            FormatBytes(static_cast<double>(m.cluster.device(d).memory_capacity));
    std::printf("%-10s %8zu %12s %7.0f%% %22s\n", m.cluster.device(d).name.c_str(), ops[d],
                FormatSeconds(r.busy[d]).c_str(), r.step_time > 0 ? 100 * r.busy[d] / r.step_time : 0.0, mem.c_str());
  }
}

}  // namespace allot::tools
