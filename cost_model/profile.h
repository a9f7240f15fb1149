#pragma once
// Measured per-op times (written by `allot profile`, read by every command that takes --profile). An entry is
// keyed by an op signature (type, dtypes, shapes, the attributes that change the work) and a device (by name, or
// by kind for every device of that kind); it overrides the analytical estimate wherever it matches.
//
// JSON:
//   {"version": 1,
//    "ops": [{"signature": "Conv(float32[32,3,224,224],float32[64,3,7,7])->(float32[32,64,112,112]){k7,7 s2,2 g1}",
//             "device": "cpu:0", "kind": "cpu", "time_us": 1234.5, "repeats": 10}, ...],
//    "links": [{"from": "cpu:0", "to": "cpu:1", "gbps": 4.2, "latency_us": 6.0}, ...]}
#include <string>
#include <unordered_map>
#include <vector>

#include "cost_model/cluster.h"
#include "graph/graph.h"

namespace allot {

struct ProfiledLink {
  std::string from, to;
  double bandwidth = 0;  // B/s
  double latency = 0;    // s
};

class Profile {
 public:
  // Seconds for this signature on this device, or < 0 when not profiled.
  double Lookup(const std::string& signature, const Device& device) const;
  void Add(const std::string& signature, const std::string& device, DeviceKind kind, double seconds, int repeats);
  void AddLink(ProfiledLink link) { links_.push_back(std::move(link)); }
  void SetLinks(std::vector<ProfiledLink> links) { links_ = std::move(links); }
  const std::vector<ProfiledLink>& links() const { return links_; }
  size_t size() const { return entries_.size(); }

  std::string ToJson() const;
  static Profile FromJson(const std::string& text, const std::string& source);
  static Profile Load(const std::string& path);

 private:
  struct Entry {
    std::string signature, device;
    DeviceKind kind;
    double seconds;
    int repeats;
  };
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_device_;  // signature + '@' + device name
  std::unordered_map<std::string, size_t> by_kind_;    // signature + '@' + kind
  std::vector<ProfiledLink> links_;
};

// The signature of a node: what its cost depends on, nothing else.
std::string OpSignature(const Graph& graph, NodeId node);

// Replaces the bandwidth and latency of the links on each profiled device pair's route (a measured pair time
// spreads over its route as the slowest link plus the summed latency).
void ApplyProfiledLinks(const Profile& profile, Cluster& cluster);

}  // namespace allot
