#pragma once
// A cluster: devices (a host CPU, GPUs, or virtual CPU devices) and the directed links between them. Transfers
// follow a route (a list of links); transfers that share a link queue on it, so a PCIe tree through the host
// contends where an NVLink mesh does not.
//
// JSON format (README "Cluster specs"):
//   {"name": "...",
//    "devices": [{"name": "cuda:0", "kind": "gpu", "model": "P100",
//                 "peak_tflops": {"float32": 9.3, "float16": 18.7}, "memory_gbps": 732,
//                 "memory_gib": 16, "launch_overhead_us": 5, "rank": 0}, ...],   ("rank": optional, see Device)
//    "links": [{"name": "pcie0-up", "from": "cuda:0", "to": "switch", "gbps": 12, "latency_us": 10}, ...],
//    "routes": [{"from": "cuda:0", "to": "cuda:1", "links": ["pcie0-up", "pcie1-down"]}, ...]}   (optional)
// Link endpoints may be devices or named junctions (a PCIe switch, an NVSwitch). Without "routes", each pair of
// devices uses the path with the fewest links (ties: lowest link index first). Bandwidths are GB/s (1e9 B/s).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/dtype.h"

namespace allot {

using DeviceId = uint16_t;

enum class DeviceKind : uint8_t { kCpu, kGpu };

struct Device {
  std::string name;   // "cpu:0", "cuda:3"
  DeviceKind kind = DeviceKind::kGpu;
  std::string model;  // "K80", "P100", "Haswell", ...
  double peak_flops_f32 = 0;  // FLOP/s
  double peak_flops_f16 = 0;  // FLOP/s (tensor cores where the device has them); 0: same as f32
  double memory_bandwidth = 0;  // B/s
  uint64_t memory_capacity = 0;  // bytes
  double launch_overhead = 0;    // seconds per op
  // The process (c10d rank) that runs it when a placement executes across processes (`allot run --launch N`,
  // `allot worker`); -1: not given (then device d runs on rank d mod the world size).
  int rank = -1;
};

struct Link {
  std::string name;
  std::string from, to;  // device names or junction names
  double bandwidth = 0;  // B/s
  double latency = 0;    // seconds
};

class Cluster {
 public:
  Cluster() = default;
  Cluster(std::string name, std::vector<Device> devices, std::vector<Link> links);

  const std::string& name() const { return name_; }
  size_t num_devices() const { return devices_.size(); }
  const Device& device(DeviceId d) const { return devices_[d]; }
  const std::vector<Device>& devices() const { return devices_; }
  const std::vector<Link>& links() const { return links_; }
  DeviceId FindDevice(const std::string& name) const;  // kNoDevice if absent
  static constexpr DeviceId kNoDevice = 0xffff;

  // Links a transfer from a to b occupies, in order (empty for a == b).
  const std::vector<uint32_t>& route(DeviceId a, DeviceId b) const { return routes_[a * devices_.size() + b]; }
  // Replaces the computed route of one pair (JSON "routes").
  void SetRoute(DeviceId a, DeviceId b, std::vector<uint32_t> links);
  // Time to move `bytes` from a to b on an idle network: summed latency plus bytes over the slowest link.
  double TransferTime(DeviceId a, DeviceId b, uint64_t bytes) const;

  std::string ToJson() const;

 private:
  void ComputeRoutes();
  std::string name_;
  std::vector<Device> devices_;
  std::vector<Link> links_;
  std::vector<std::vector<uint32_t>> routes_;  // [a * D + b]
};

// A preset name (see ListClusterPresets) or a path to a JSON spec. Errors name the file and field.
Cluster LoadCluster(const std::string& name_or_path);
Cluster ParseClusterJson(const std::string& text, const std::string& source);

struct ClusterPreset {
  std::string name;
  std::string description;
};
const std::vector<ClusterPreset>& ListClusterPresets();
Cluster MakePreset(const std::string& name);  // throws Error for an unknown preset

}  // namespace allot
