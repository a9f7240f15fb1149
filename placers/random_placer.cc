// `random`: each co-location group on a uniformly drawn device. A sanity baseline, the starting point of the
// learned placers' exploration, and a source of varied placements for the simulator's fidelity benchmark. It
// does not check memory: an invalid draw is reported by `allot place` like any other.
#include <random>

#include "placers/classic_placers.h"

namespace allot {
namespace {

class RandomPlacer : public Placer {
 public:
  using Placer::Placer;
  std::string_view name() const override { return "random"; }
  std::vector<DeviceId> place(const PlacementProblem& p) override {
    std::mt19937_64 rng(static_cast<uint64_t>(options_.Int("seed")));
    std::vector<DeviceId> candidates;
    for (DeviceId d = 0; d < p.cluster->num_devices(); ++d)
      if (options_.String("devices") == "all" || p.cluster->device(d).kind == DeviceKind::kGpu) candidates.push_back(d);
    if (candidates.empty())
      for (DeviceId d = 0; d < p.cluster->num_devices(); ++d) candidates.push_back(d);
    std::vector<DeviceId> groups(p.groups.num_groups());
    for (auto& d : groups) d = candidates[rng() % candidates.size()];
    return p.ExpandGroups(groups);
  }
};

}  // namespace

PlacerInfo RandomPlacerInfo() {
  return {"random",
          "each co-location group on a uniformly random device (seeded)",
          {{"seed", OptionSpec::Type::kInt, "1", "random seed"},
           {"devices", OptionSpec::Type::kString, "gpu", "gpu: GPUs only (all devices when there is none); all"}},
          [](OptionValues o) { return std::make_unique<RandomPlacer>(std::move(o)); }};
}

}  // namespace allot
