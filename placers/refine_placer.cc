// `refine`: local search over the simulator, started from any classic placer's result. Moves a connected region
// of 1 to 128 co-location groups (grown from a group on the cut, within its device) to another device, and accepts worse moves with a simulated-annealing probability exp(-relative_loss / T), T falling
// linearly to zero. Returns the best valid placement seen, so never a worse one than it started from. The search
// is bounded by an iteration count, not wall time, so a seed fixes the result (time_limit only caps it).
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "graph/error.h"
#include "placers/classic_placers.h"

namespace allot {
namespace {

class RefinePlacer : public Placer {
 public:
  using Placer::Placer;
  std::string_view name() const override { return "refine"; }

  std::vector<DeviceId> place(const PlacementProblem& p) override {
    const std::string from = options_.String("from");
    if (from.rfind("refine", 0) == 0) throw Error("placer 'refine': option 'from' cannot be refine itself");
    PlacerRegistry classic;
    RegisterClassicPlacers(classic);
    std::vector<DeviceId> placement = classic.Create(from)->place(p);

    // groups=N searches over coarser decision groups (graph/coarsen.h: chains fused down to the cap, then
    // contiguous runs), the learned placers' grouping: what the best placement over such groups can reach.
    CoarseGraph coarse;
    if (options_.Int("groups") > 0) {
      CoarsenOptions co;
      co.fuse_chains = true;
      co.classes = p.classes;
      co.max_groups = static_cast<size_t>(options_.Int("groups"));
      coarse = Coarsen(*p.graph, co);
    }
    const CoarseGraph& groups = options_.Int("groups") > 0 ? coarse : p.groups;
    const size_t G = groups.num_groups();
    std::vector<DeviceId> gdev(G);
    for (uint32_t g = 0; g < G; ++g) gdev[g] = placement[groups.members[groups.member_offsets[g]]];
    std::vector<char> movable(G, 1);
    // The devices each group may take: where all its members' forced groups may run.
    std::vector<uint64_t> allowed(G, ~uint64_t{0});
    for (uint32_t g = 0; g < G; ++g)
      for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i)
        allowed[g] &= p.allowed[p.groups.group_of[groups.members[i]]];
    auto allows = [&](uint32_t g, DeviceId d) { return d < 64 && ((allowed[g] >> d) & 1); };
    for (uint32_t g = 0; g < G; ++g)
      for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i)
        if (p.pinned[groups.members[i]] != Cluster::kNoDevice) movable[g] = 0;
    std::vector<DeviceId> candidates;
    for (DeviceId d = 0; d < p.cluster->num_devices(); ++d)
      if (options_.String("devices") == "all" || p.cluster->device(d).kind == DeviceKind::kGpu) candidates.push_back(d);
    if (candidates.empty())
      for (DeviceId d = 0; d < p.cluster->num_devices(); ++d) candidates.push_back(d);

    Simulator sim(*p.graph, *p.cluster, *p.costs, SimOptions{p.order, false});
    auto score = [&](const SimResult& r) {
      // Invalid placements stay reachable as stepping stones, at a price that grows with the overflow.
      if (r.valid) return r.step_time;
      double over = 0;
      for (DeviceId d = 0; d < p.cluster->num_devices(); ++d) {
        const double cap = static_cast<double>(p.cluster->device(d).memory_capacity);
        if (static_cast<double>(r.peak_memory[d]) > cap) over += static_cast<double>(r.peak_memory[d]) / cap - 1;
      }
      return r.step_time * (2 + 10 * over);
    };
    auto assign = [&](uint32_t g, DeviceId d) {
      gdev[g] = d;
      for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i) placement[groups.members[i]] = d;
    };

    // The start placement, one device per group (a no-op over the forced groups, which every placer honours).
    for (uint32_t g = 0; g < G; ++g)
      if (movable[g]) assign(g, gdev[g]);
    const SimResult& start = sim.Run(placement);
    double current = score(start);
    double best = start.valid ? start.step_time : std::numeric_limits<double>::infinity();
    std::vector<DeviceId> best_placement = placement;
    const double scale = current;

    std::mt19937_64 rng(static_cast<uint64_t>(options_.Int("seed")));
    const int64_t iterations = options_.Int("iterations");
    const double t0 = options_.Double("temperature");
    const double limit = options_.Double("time_limit");
    const auto began = std::chrono::steady_clock::now();
    auto neighbour_elsewhere = [&](uint32_t g) -> int64_t {
      for (uint32_t e = groups.out_offsets[g]; e < groups.out_offsets[g + 1]; ++e)
        if (gdev[groups.out_groups[e]] != gdev[g]) return groups.out_groups[e];
      return -1;
    };
    // Undirected group adjacency, for growing regions.
    std::vector<std::vector<uint32_t>> neighbours(G);
    for (uint32_t a = 0; a < G; ++a)
      for (uint32_t e = groups.out_offsets[a]; e < groups.out_offsets[a + 1]; ++e) {
        neighbours[a].push_back(groups.out_groups[e]);
        neighbours[groups.out_groups[e]].push_back(a);
      }
    std::vector<uint32_t> region, seen(G, 0);
    uint32_t stamp = 0;
    if (G > 0 && candidates.size() > 1) {
      for (int64_t it = 0; it < iterations; ++it) {
        if (limit > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() > limit) break;
        const double temperature = t0 * (1 - static_cast<double>(it) / static_cast<double>(iterations));
        // Pick a group on the cut when one turns up within a few draws.
        uint32_t g = static_cast<uint32_t>(rng() % G);
        int64_t other = neighbour_elsewhere(g);
        for (int tries = 0; tries < 8 && (other < 0 || !movable[g]); ++tries) {
          g = static_cast<uint32_t>(rng() % G);
          other = neighbour_elsewhere(g);
        }
        if (!movable[g]) continue;
        const DeviceId old = gdev[g];
        const DeviceId target = other >= 0 && (rng() & 1) ? gdev[other] : candidates[rng() % candidates.size()];
        if (target == old || !allows(g, target)) continue;
        // Move a connected region of 1..128 groups that share g's device: single-op moves cannot change an
        // unrolled RNN's placement for the better (each one adds transfers both ways), whole stripes can.
        const size_t want = size_t{1} << (rng() % 8);
        region.clear();
        region.push_back(g);
        ++stamp;
        seen[g] = stamp;
        for (size_t head = 0; head < region.size() && region.size() < want; ++head)
          for (uint32_t nb : neighbours[region[head]])
            if (seen[nb] != stamp && gdev[nb] == old && movable[nb] && allows(nb, target) && region.size() < want) {
              seen[nb] = stamp;
              region.push_back(nb);
            }
        for (uint32_t r : region) assign(r, target);
        const SimResult& r = sim.Run(placement);
        const double s = score(r);
        const double loss = (s - current) / scale;
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        if (loss <= 0 || (temperature > 0 && u < std::exp(-loss / temperature))) {
          current = s;
          if (r.valid && r.step_time < best) {
            best = r.step_time;
            best_placement = placement;
          }
        } else {
          for (uint32_t back : region) assign(back, old);
        }
      }
    }
    if (!std::isfinite(best))
      throw Error("placer 'refine': no valid placement found from '" + from + "' (" + start.error + ")");
    return best_placement;
  }
};

}  // namespace

PlacerInfo RefinePlacerInfo() {
  return {"refine",
          "simulated-annealing local search (moves and swaps of co-location groups) from another placer's result; "
          "never returns a worse placement",
          {{"from", OptionSpec::Type::kString, "etf", "the classic placer to start from (a spec, e.g. metis)"},
           {"iterations", OptionSpec::Type::kInt, "10000", "simulations to spend"},
           {"temperature", OptionSpec::Type::kDouble, "0.0005", "initial annealing temperature (relative step-time loss accepted with probability 1/e)"},
           {"time_limit", OptionSpec::Type::kDouble, "0", "wall-clock cap in seconds (0: none; caps break seed determinism)"},
           {"devices", OptionSpec::Type::kString, "all", "all, or gpu: never move a group to a CPU"},
           {"groups", OptionSpec::Type::kInt, "0",
            "search over at most this many coarser groups (chains fused, then contiguous runs, as the learned "
            "placers group; 0: the co-location groups)"},
           {"seed", OptionSpec::Type::kInt, "1", "random seed"}},
          [](OptionValues o) { return std::make_unique<RefinePlacer>(std::move(o)); }};
}

}  // namespace allot
