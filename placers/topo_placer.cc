// Baechi's m-TOPO (beomyeol/baechi placer/m_topo.py, TopoWithColocation / TopoUniformWithColocation): walk the
// co-location groups in topological order and fill the first device until the next group would not fit under
// its cap, then move on to the next device, never coming back.
//   uniform=1  caps each device at sum(group memory) / k + max(group memory) (and its capacity), so the graph is
//              spread over the k devices in contiguous topological slices;
//   uniform=0  caps each device at its capacity: everything on the first device until it is full.
// Memory is static, as in Baechi: whatever a group brings is charged for good (resident parameters once per
// device, optimizer state, every output, copies of inputs from other devices), which bounds the simulator's
// peak from above.
//
// Deviations, and why:
// - Groups are ordered by the earliest topological position of their forward ops (graph/coarsen.h numbers them
//   so), the order in which a forward op opens its group; Baechi sorts ops and places a whole group at its
//   first op, which is the same order.
// - Charges follow allot's memory model (placers/memory_tracker.h), not TF's per-op temporary/persistent bytes;
//   the uniform cap's sum uses the groups' own memory (CoarseGraph::memory_bytes).
// - The last device may fill up to its capacity even past the uniform cap (Baechi raises an error there; the
//   cap is only meant to spread the load).
// - A gradient op runs with its forward group but reads tensors of groups placed later (on later devices);
//   those copies are charged to the earlier device when the producer is placed and can overflow it. The result
//   is checked in the simulator and, if some device overflows, redone with 90%, 80%, ... of the capacity.
// - Pinned groups are placed on their pin first, before the walk.
#include <algorithm>

#include "graph/error.h"
#include "placers/classic_placers.h"
#include "placers/memory_tracker.h"

namespace allot {
namespace {

class TopoPlacer : public Placer {
 public:
  explicit TopoPlacer(OptionValues options) : Placer(std::move(options)) {}
  std::string_view name() const override { return "topo"; }

  std::vector<DeviceId> place(const PlacementProblem& problem) override {
    const std::vector<DeviceId> devices = classic::SelectDevices(*problem.cluster, options_.String("devices"), "topo");
    const bool uniform = options_.Bool("uniform");
    classic::MemoryTracker tracker(problem);
    return classic::SimulateWithMemoryRetries(problem, "topo",
                                              [&](double scale) { return Walk(problem, devices, uniform, scale, tracker); });
  }

 private:
  static std::vector<DeviceId> Walk(const PlacementProblem& problem, const std::vector<DeviceId>& devices, bool uniform,
                                    double scale, classic::MemoryTracker& tracker) {
    const CoarseGraph& cg = problem.groups;
    const Cluster& cluster = *problem.cluster;
    const size_t D = cluster.num_devices();
    std::vector<uint64_t> capacity(D);
    for (DeviceId d = 0; d < D; ++d)
      capacity[d] = static_cast<uint64_t>(static_cast<double>(cluster.device(d).memory_capacity) * scale);
    tracker.Reset(capacity);

    // Baechi's uniform cap: the mean load per device plus the largest group.
    uint64_t total = 0, largest = 0;
    for (uint32_t k = 0; k < cg.num_groups(); ++k) {
      total += cg.memory_bytes[k];
      largest = std::max(largest, cg.memory_bytes[k]);
    }
    const uint64_t uniform_cap = total / devices.size() + largest;

    std::vector<DeviceId> node_dev(problem.graph->num_nodes(), Cluster::kNoDevice);
    auto place_group = [&](uint32_t k, DeviceId d) {
      for (uint32_t i = cg.member_offsets[k]; i < cg.member_offsets[k + 1]; ++i) node_dev[cg.members[i]] = d;
      tracker.StaticPlaceGroup(k, d);
    };
    for (uint32_t k = 0; k < cg.num_groups(); ++k) {
      const DeviceId pin = problem.GroupPin(k);
      if (pin == Cluster::kNoDevice) continue;
      const uint64_t need = tracker.StaticGroupBytes(k, pin);
      if (need > tracker.headroom(pin))
        throw Error("topo: group '" + cg.group_names[k] + "' pinned to " + cluster.device(pin).name + " needs " +
                    classic::FormatBytes(need) + ", which has " + classic::FormatBytes(tracker.headroom(pin)) +
                    " left (short by " + classic::FormatBytes(need - tracker.headroom(pin)) + ")");
      place_group(k, pin);
    }

    size_t current = 0;
    for (uint32_t k = 0; k < cg.num_groups(); ++k) {
      if (problem.GroupPin(k) != Cluster::kNoDevice) continue;
      while (true) {
        const DeviceId d = devices[current];
        const bool last = current + 1 == devices.size();
        const uint64_t cap = uniform && !last ? std::min(capacity[d], uniform_cap) : capacity[d];
        const uint64_t need = tracker.StaticGroupBytes(k, d);
        if (tracker.used(d) + need <= cap) {
          place_group(k, d);
          break;
        }
        if (last) {
          const uint64_t room = cap > tracker.used(d) ? cap - tracker.used(d) : 0;
          throw Error("topo: out of memory: group '" + cg.group_names[k] + "' needs " + classic::FormatBytes(need) +
                      " on " + cluster.device(d).name + ", the last device, which has " + classic::FormatBytes(room) +
                      " left of " + classic::FormatBytes(cap) + " (short by " + classic::FormatBytes(need - room) + ")");
        }
        ++current;
      }
    }
    return node_dev;
  }
};

}  // namespace

PlacerInfo TopoPlacerInfo() {
  return {"topo",
          "Baechi m-TOPO: co-location groups in topological order fill one device after the other, each up to a "
          "memory cap",
          {{"uniform", OptionSpec::Type::kBool, "1",
            "1: cap each device at total memory / devices + the largest group, spreading the graph; 0: fill each "
            "device to its capacity"},
           {"devices", OptionSpec::Type::kString, "gpu",
            "gpu: fill the GPUs only (every device if there is none); all: the host CPU too, as the first device"}},
          [](OptionValues o) { return std::make_unique<TopoPlacer>(std::move(o)); }};
}

}  // namespace allot
