// `single`: the whole graph on the fastest device that fits it; `cpu`: the whole graph on the host CPU. The
// papers' first two baselines ("1 GPU", "1 CPU").
#include <algorithm>

#include "graph/error.h"
#include "placers/classic_placers.h"

namespace allot {
namespace {

class SinglePlacer : public Placer {
 public:
  SinglePlacer(OptionValues options, bool cpu_only) : Placer(std::move(options)), cpu_only_(cpu_only) {}
  std::string_view name() const override { return cpu_only_ ? "cpu" : "single"; }

  std::vector<DeviceId> place(const PlacementProblem& p) override {
    const Cluster& cluster = *p.cluster;
    Simulator sim(*p.graph, cluster, *p.costs, SimOptions{p.order, false});
    std::vector<DeviceId> best;
    double best_time = 0;
    std::string shortfalls;
    for (DeviceId d = 0; d < cluster.num_devices(); ++d) {
      if (cpu_only_ && cluster.device(d).kind != DeviceKind::kCpu) continue;
      std::vector<DeviceId> all(p.graph->num_nodes(), d);
      for (NodeId n = 0; n < all.size(); ++n)
        if (p.pinned[n] != Cluster::kNoDevice) all[n] = p.pinned[n];
      const SimResult& r = sim.Run(all);
      if (!r.valid) {
        shortfalls += (shortfalls.empty() ? "" : "; ") + r.error;
        continue;
      }
      if (best.empty() || r.step_time < best_time) {
        best = all;
        best_time = r.step_time;
      }
      if (cpu_only_) break;
    }
    if (best.empty()) {
      if (cpu_only_ && shortfalls.empty()) throw Error("placer 'cpu': the cluster has no CPU device");
      throw Error(std::string("placer '") + std::string(name()) + "': no single device fits the model (" +
                  shortfalls + ")");
    }
    return best;
  }

 private:
  bool cpu_only_;
};

}  // namespace

PlacerInfo SinglePlacerInfo() {
  return {"single", "everything on the one device that runs the step fastest and fits it (the '1 GPU' baseline)", {},
          [](OptionValues o) { return std::make_unique<SinglePlacer>(std::move(o), false); }};
}

PlacerInfo CpuPlacerInfo() {
  return {"cpu", "everything on the first host CPU (the '1 CPU' baseline)", {},
          [](OptionValues o) { return std::make_unique<SinglePlacer>(std::move(o), true); }};
}

}  // namespace allot
