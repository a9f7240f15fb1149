// METIS k-way partitioning as a placer (the classic graph-partitioning baseline of the device-placement papers;
// shared/REFERENCES.md §7): partition the co-location groups into one part per device so that compute (and
// memory) are balanced to each device's share while the data crossing parts is small, then check and repair the
// result in the simulator, since METIS knows nothing of precedence or of memory over time.
//
// The METIS graph (METIS_PartGraphKway, libmetis 5.1, 32-bit idx_t):
// - vertices: the co-location groups (graph/coarsen.h), so gradient and update ops stay with their forward op;
// - edges: the group adjacency made undirected (u->v and v->u merged, weights summed; no self-loops);
//   weight = bytes;
// - vertex weights (ncon = 2 with memory_balance=1): compute time, the group's time averaged over the
//   partition devices of the kind most of them are (all GPUs, usually); and memory (CoarseGraph::memory_bytes:
//   parameters, optimizer state and outputs);
// - vsize (used by objective=vol, METIS's total communication volume): the bytes of the group's outputs read
//   by other groups, which is what the simulator sends once per other device;
// - tpwgts: compute shares proportional to device speed (1 / the device's time for the whole graph), memory
//   shares proportional to capacity; ubvec = imbalance for both.
// All weights are scaled to integers with a minimum of 1 (METIS rejects zero totals and overflows 32 bits).
//
// Deviations and choices, and why:
// - devices=gpu (default) partitions over the GPUs only, leaving the host CPU out as the papers' partitioners
//   did (a CPU share proportional to its speed is tiny and only adds transfers).
// - Pinned groups are fixed after partitioning (METIS has no fixed vertices).
// - Fewer groups than devices: group i goes to device i (METIS's k-way needs more vertices than parts).
// - Repair: while the simulator reports a device over capacity, move that device's unpinned groups, boundary
//   groups first (those with a neighbour on another device, so the cut grows least), largest memory first, to
//   the partition device with the most free memory at its simulated peak (any device, the CPU included, when no
//   partition device has room), until the moved groups' memory covers the overflow; re-simulate. A group moves
//   at most once and counts double against its target's room (it brings copies of its inputs and of shared
//   weights along), which keeps groups from bouncing between two devices; gives up with an Error after 100
//   rounds or when nothing can move. Some graphs fit nowhere however split: an unrolled RNN's update op
//   collects one weight gradient per time step on its own device.
#include <metis.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/error.h"
#include "placers/classic_placers.h"
#include "placers/memory_tracker.h"

namespace allot {
namespace {

// Scales non-negative values to integers summing to about `target`, each at least 1.
std::vector<idx_t> ScaleWeights(const std::vector<double>& values, double target) {
  double total = 0;
  for (double v : values) total += v;
  std::vector<idx_t> out(values.size(), 1);
  if (total <= 0) return out;
  const double f = target / total;
  for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<idx_t>(std::max(1.0, std::round(values[i] * f)));
  return out;
}

class MetisPlacer : public Placer {
 public:
  explicit MetisPlacer(OptionValues options) : Placer(std::move(options)) {}
  std::string_view name() const override { return "metis"; }

  std::vector<DeviceId> place(const PlacementProblem& problem) override {
    const std::string& objective = options_.String("objective");
    if (objective != "cut" && objective != "vol")
      throw Error("placer 'metis': option 'objective' must be cut or vol, got '" + objective + "'");
    const double imbalance = options_.Double("imbalance");
    if (!(imbalance >= 1.0)) throw Error("placer 'metis': option 'imbalance' must be at least 1");
    const std::vector<DeviceId> devices = classic::SelectDevices(*problem.cluster, options_.String("devices"), "metis");

    const CoarseGraph& cg = problem.groups;
    const size_t G = cg.num_groups();
    std::vector<DeviceId> group_dev(G, devices[0]);
    if (devices.size() > 1 && G > 0) {
      if (G < devices.size()) {
        for (uint32_t k = 0; k < G; ++k) group_dev[k] = devices[k];
      } else {
        group_dev = Partition(problem, devices, objective == "vol", imbalance);
      }
    }
    for (uint32_t k = 0; k < G; ++k) {
      const DeviceId pin = problem.GroupPin(k);
      if (pin != Cluster::kNoDevice) group_dev[k] = pin;
    }
    return Repair(problem, devices, group_dev);
  }

 private:
  std::vector<DeviceId> Partition(const PlacementProblem& problem, const std::vector<DeviceId>& devices, bool volume,
                                  double imbalance) const {
    const Graph& g = *problem.graph;
    const CostTable& costs = *problem.costs;
    const Cluster& cluster = *problem.cluster;
    const CoarseGraph& cg = problem.groups;
    const size_t G = cg.num_groups(), P = devices.size();

    // Compute weights on the device kind most partition devices are (GPU on a tie).
    size_t gpus = 0;
    for (DeviceId d : devices) gpus += cluster.device(d).kind == DeviceKind::kGpu;
    const DeviceKind kind = 2 * gpus >= P ? DeviceKind::kGpu : DeviceKind::kCpu;
    std::vector<DeviceId> reference;
    for (DeviceId d : devices)
      if (cluster.device(d).kind == kind) reference.push_back(d);
    std::vector<double> compute(G, 0);
    std::vector<double> device_total(P, 0);  // each partition device's time for the whole graph
    for (NodeId n = 0; n < g.num_nodes(); ++n) {
      double t = 0;
      for (DeviceId d : reference) t += costs.at(n, d);
      compute[cg.group_of[n]] += t / static_cast<double>(reference.size());
      for (size_t i = 0; i < P; ++i) device_total[i] += costs.at(n, devices[i]);
    }

    const bool memory_balance = options_.Bool("memory_balance");
    idx_t ncon = memory_balance ? 2 : 1;
    const std::vector<idx_t> compute_w = ScaleWeights(compute, 1e7);
    std::vector<idx_t> vwgt(G * ncon);
    std::vector<idx_t> memory_w;
    if (memory_balance) {
      std::vector<double> memory(G);
      for (size_t k = 0; k < G; ++k) memory[k] = static_cast<double>(cg.memory_bytes[k]);
      memory_w = ScaleWeights(memory, 1e7);
    }
    for (size_t k = 0; k < G; ++k) {
      vwgt[k * ncon] = compute_w[k];
      if (memory_balance) vwgt[k * ncon + 1] = memory_w[k];
    }

    // Undirected, merged adjacency.
    std::vector<std::pair<uint64_t, uint64_t>> edges;  // (a << 32 | b, bytes)
    for (uint32_t a = 0; a < G; ++a)
      for (uint32_t i = cg.out_offsets[a]; i < cg.out_offsets[a + 1]; ++i) {
        const uint64_t b = cg.out_groups[i];
        if (b == a) continue;
        edges.emplace_back(static_cast<uint64_t>(a) << 32 | b, cg.out_bytes[i]);
        edges.emplace_back(b << 32 | a, cg.out_bytes[i]);
      }
    std::sort(edges.begin(), edges.end());
    std::vector<idx_t> xadj(G + 1, 0), adjncy;
    std::vector<double> edge_bytes;
    for (size_t i = 0; i < edges.size();) {
      size_t j = i;
      double bytes = 0;
      for (; j < edges.size() && edges[j].first == edges[i].first; ++j) bytes += static_cast<double>(edges[j].second);
      ++xadj[(edges[i].first >> 32) + 1];
      adjncy.push_back(static_cast<idx_t>(edges[i].first & 0xffffffffu));
      edge_bytes.push_back(bytes);
      i = j;
    }
    for (size_t k = 0; k < G; ++k) xadj[k + 1] += xadj[k];
    std::vector<idx_t> adjwgt = ScaleWeights(edge_bytes, 1e8);

    // vsize: bytes of each group's outputs that some other group reads.
    std::vector<double> out_bytes(G, 0);
    for (NodeId n = 0; n < g.num_nodes(); ++n)
      for (TensorId t : g.node(n).outputs)
        for (NodeId c : g.consumers(t))
          if (cg.group_of[c] != cg.group_of[n]) {
            out_bytes[cg.group_of[n]] += static_cast<double>(g.tensor(t).bytes);
            break;
          }
    std::vector<idx_t> vsize = ScaleWeights(out_bytes, 1e8);

    // Target shares: speed for compute, capacity for memory.
    std::vector<real_t> tpwgts(P * ncon);
    double speed_sum = 0, capacity_sum = 0;
    for (size_t i = 0; i < P; ++i) {
      speed_sum += device_total[i] > 0 ? 1.0 / device_total[i] : 1.0;
      capacity_sum += static_cast<double>(cluster.device(devices[i]).memory_capacity);
    }
    for (size_t i = 0; i < P; ++i) {
      tpwgts[i * ncon] = static_cast<real_t>((device_total[i] > 0 ? 1.0 / device_total[i] : 1.0) / speed_sum);
      if (memory_balance)
        tpwgts[i * ncon + 1] = static_cast<real_t>(
            capacity_sum > 0 ? static_cast<double>(cluster.device(devices[i]).memory_capacity) / capacity_sum
                             : 1.0 / static_cast<double>(P));
    }
    std::vector<real_t> ubvec(ncon, static_cast<real_t>(imbalance));

    idx_t options[METIS_NOPTIONS];
    METIS_SetDefaultOptions(options);
    options[METIS_OPTION_OBJTYPE] = volume ? METIS_OBJTYPE_VOL : METIS_OBJTYPE_CUT;
    options[METIS_OPTION_SEED] = static_cast<idx_t>(options_.Int("seed"));
    options[METIS_OPTION_NUMBERING] = 0;
    idx_t nvtxs = static_cast<idx_t>(G), nparts = static_cast<idx_t>(P), objval = 0;
    std::vector<idx_t> part(G, 0);
    const int status = METIS_PartGraphKway(&nvtxs, &ncon, xadj.data(), adjncy.empty() ? nullptr : adjncy.data(),
                                           vwgt.data(), volume ? vsize.data() : nullptr,
                                           adjwgt.empty() ? nullptr : adjwgt.data(), &nparts, tpwgts.data(),
                                           ubvec.data(), options, &objval, part.data());
    if (status != METIS_OK)
      throw Error("metis: METIS_PartGraphKway failed (status " + std::to_string(status) + ") on " +
                  std::to_string(G) + " groups and " + std::to_string(P) + " parts");
    std::vector<DeviceId> group_dev(G);
    for (size_t k = 0; k < G; ++k) group_dev[k] = devices[part[k]];
    return group_dev;
  }

  // Simulates the partition and moves groups off devices over capacity until it fits (see the file comment).
  static std::vector<DeviceId> Repair(const PlacementProblem& problem, const std::vector<DeviceId>& devices,
                                      std::vector<DeviceId>& group_dev) {
    const CoarseGraph& cg = problem.groups;
    const Cluster& cluster = *problem.cluster;
    const size_t G = cg.num_groups(), D = cluster.num_devices();
    SimOptions sim_options;
    sim_options.order = problem.order;
    Simulator sim(*problem.graph, cluster, *problem.costs, sim_options);

    // Undirected group neighbours, for the boundary test.
    std::vector<std::vector<uint32_t>> neighbours(G);
    for (uint32_t a = 0; a < G; ++a)
      for (uint32_t i = cg.out_offsets[a]; i < cg.out_offsets[a + 1]; ++i) {
        neighbours[a].push_back(cg.out_groups[i]);
        neighbours[cg.out_groups[i]].push_back(a);
      }
    std::vector<char> fixed(G);  // pinned, or moved once already (no ping-pong between devices)
    for (uint32_t k = 0; k < G; ++k) fixed[k] = problem.GroupPin(k) != Cluster::kNoDevice;

    std::string error;
    for (int round = 0; round < 100; ++round) {
      std::vector<DeviceId> placement = problem.ExpandGroups(group_dev);
      const SimResult& r = sim.Run(placement);
      if (r.valid) return placement;
      error = r.error;
      std::vector<int64_t> room(D);
      std::vector<DeviceId> over;
      for (DeviceId d = 0; d < D; ++d) {
        room[d] = static_cast<int64_t>(cluster.device(d).memory_capacity) - static_cast<int64_t>(r.peak_memory[d]);
        if (room[d] < 0) over.push_back(d);
      }
      std::sort(over.begin(), over.end(), [&](DeviceId a, DeviceId b) { return room[a] != room[b] ? room[a] < room[b] : a < b; });
      bool moved_any = false;
      for (DeviceId d : over) {
        struct Move {
          bool boundary;
          uint64_t memory;
          uint32_t group;
        };
        std::vector<Move> moves;
        for (uint32_t k = 0; k < G; ++k) {
          if (group_dev[k] != d || fixed[k]) continue;
          bool boundary = false;
          for (uint32_t nb : neighbours[k]) boundary |= group_dev[nb] != d;
          moves.push_back({boundary, cg.memory_bytes[k], k});
        }
        std::sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) {
          if (a.boundary != b.boundary) return a.boundary;
          if (a.memory != b.memory) return a.memory > b.memory;
          return a.group < b.group;
        });
        const int64_t excess = -room[d];
        int64_t moved = 0;
        for (const Move& m : moves) {
          if (moved >= excess) break;
          const int64_t need = static_cast<int64_t>(m.memory);
          auto best_of = [&](auto begin, auto end) {
            DeviceId best = Cluster::kNoDevice;
            for (auto it = begin; it != end; ++it)
              if (*it != d && (best == Cluster::kNoDevice || room[*it] > room[best])) best = *it;
            return best;
          };
          DeviceId target = best_of(devices.begin(), devices.end());
          if (target == Cluster::kNoDevice || room[target] < need) {
            std::vector<DeviceId> all(D);
            std::iota(all.begin(), all.end(), DeviceId{0});
            target = best_of(all.begin(), all.end());
          }
          if (target == Cluster::kNoDevice || room[target] < need) continue;
          group_dev[m.group] = target;
          fixed[m.group] = 1;
          room[target] -= 2 * need;  // a moved group also brings copies of its inputs and shared weights
          room[d] += need;
          moved += need;
          moved_any = true;
        }
      }
      if (!moved_any) break;
    }
    throw Error("metis: the partition exceeds device memory and repair failed (" + error + ")");
  }
};

}  // namespace

PlacerInfo MetisPlacerInfo() {
  return {"metis",
          "METIS k-way partition of the co-location groups (compute and memory balanced to each device's share, "
          "communication volume minimized), repaired in the simulator to fit memory",
          {{"devices", OptionSpec::Type::kString, "gpu",
            "gpu: partition over the GPUs only, leaving the host CPU out (every device if there is no GPU); all: "
            "every device, with a share proportional to its speed"},
           {"objective", OptionSpec::Type::kString, "vol",
            "vol: minimize the total communication volume (METIS_OBJTYPE_VOL); cut: minimize the bytes on cut edges"},
           {"imbalance", OptionSpec::Type::kDouble, "1.05",
            "allowed load imbalance per balance constraint (METIS ubvec; 1.05 = 5% over the target share)", 1, 100},
           {"memory_balance", OptionSpec::Type::kBool, "1",
            "1: balance memory as a second constraint (ncon=2, shares proportional to capacity); 0: compute only"},
           {"seed", OptionSpec::Type::kInt, "1", "METIS random seed (METIS_OPTION_SEED); same seed, same placement"}},
          [](OptionValues o) { return std::make_unique<MetisPlacer>(std::move(o)); }};
}

}  // namespace allot
