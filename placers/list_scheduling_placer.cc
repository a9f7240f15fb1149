// Baechi's list-scheduling placers (Jeon et al., SoCC 2020; beomyeol/baechi placer/m_etf.py, m_sct.py):
//   etf  m-ETF: memory-constrained Earliest-Time-First list scheduling (Hwang, Chow, Anger, Lee 1989).
//   sct  m-SCT: memory-constrained Small-Communication-Time scheduling (Hanen & Munier 1995): favourite
//        children, then ETF in which a device that just ran an op waits for that op's favourite child.
// Both schedule the full graph (forward, gradient and update ops) op by op, and the device an op first runs on
// fixes its whole co-location group (Baechi's "colocation" mode).
//
// One engine serves both. At each step it starts the (ready op, device) pair with the earliest start time
//   start(op, d) = max(free(d), arrival on d of every input),
// where an input made on d arrives when its producer finishes, and one made elsewhere when its copy does: a
// copy starts once its producer finished and every link of its route is free, occupies those links for
// latency + bytes / bandwidth (the simulator's transfer model), and goes to a device once. Ties go to the larger
// upward rank, then the lower op id, then the earlier finish, then the lower device id.
//
// Speed: Baechi rescans every ready op on every device at every step (O(N^2 D)). Here each device keeps two
// heaps: ready ops that could start as soon as it is free (ordered by rank) and ops whose inputs arrive later
// (ordered by arrival). free(d) only grows, so an entry moves between them at most once. Link occupancy only
// grows too, so a stored arrival is a lower bound: the chosen pair's arrival is recomputed, and if it moved the
// pair goes back with its new time and the choice is made again (lazy re-evaluation; the final choice is exact).
// A step costs O(D log N) plus the op's inputs and outputs: 0.1 s for the 100k-op synthetic graph, 0.25 s for
// its 210k-op training step (p100x4, including the simulator check).
//
// Memory follows allot's simulator (placers/memory_tracker.h), replayed in schedule order: when a group is
// fixed on a device, its resident tensors and optimizer state are charged there, copies of inputs already made
// elsewhere arrive, and, for an update op, the weight gradients it will collect (one per reader of the weight)
// are reserved; an op's outputs are allocated when it runs, copied at once to every device where a reader
// waits, and freed where no reader is left. A device is a candidate for an op only if what the op (and its
// group, if not fixed yet) adds to every device fits in what is left; if some ready op fits nowhere and nothing
// else can run, the placer throws an Error naming the op and the shortfall.
//
// Deviations from Baechi's code, and why:
// - Memory sizes come from allot's IR, not TF's allocator stats (no temporary memory).
// - Reserving for later (Baechi's reserve mode sets aside each group's largest output when the group is fixed,
//   so that its later ops can run). Here: the update's weight gradients, as above; and a backward working
//   space per device: a forward op may use a device only if it leaves free the most a gradient or update op of
//   a group there adds around its run (outputs and inputs from other groups), plus 1 - `scale` of the
//   capacity. Without that the greedy forward pass fills a device with saved activations and the gradient ops,
//   which must run there to free them, find no room: the schedule deadlocks on training graphs that fit.
// - The simulator (FIFO dispatch) can keep activations alive longer than this schedule does, and a tight
//   forward pass can still starve the backward one; the schedule is redone with scale = 0.9, 0.8, ..., 0.5
//   when the placement overflows in simulation or the schedule deadlocks (SimulateWithMemoryRetries).
// - Link waits are "after the last transfer booked on the link" (no gap filling), as Baechi's channels do.
// - devices=gpu by default: Baechi's device graph held the GPUs only. With the host CPU in it, earliest-start
//   selection hands the CPU an op whenever it is idle, however slow it runs there (nmt training on p100x4: 1.2 s
//   a step with the CPU, 0.79 s without).
// - Ties on the same op and start time go to the device that finishes it first (matters only for devices of
//   different speed, e.g. the host CPU at time 0), before the device id.
// - m-SCT's favourite children come from Baechi's LP relaxation (FavoriteChildLPSolver, solved with MOSEK):
//       min w  s.t.  s_i + p_i + c_ij x_ij <= s_j,  s_i + p_i <= w,  sum_j x_ij >= |succ(i)| - 1,
//                    sum_i x_ij >= |pred(j)| - 1,  0 <= x_ij <= 1,
//   rounded with a threshold (x_ij = 0: j is i's favourite child). allot has no LP solver and the LP has
//   |V| + |E| variables (10^5 and more), so it is approximated greedily, in the LP's spirit of zeroing the
//   communication that lengthens the makespan most: edges are taken by decreasing length of the longest path
//   through them (top level + p_i + c_ij + bottom level, every edge paying its mean communication), then by
//   c_ij, and an edge i -> j with c_ij > 0 becomes a favourite-child pair when neither i has a favourite child
//   nor j a favourite parent yet. This is a maximal matching, so both "at most one" constraints hold exactly
//   (Baechi's rounding can violate them; its code notes as much).
// - m-SCT's "awake" device (its last op's favourite child is ready and starts earliest on it) runs an urgent op
//   instead only if one can start now; Baechi looks for the earliest urgent op among all ready ops, here only
//   the device's best ready op is checked (urgent: it could start now on every device it may run on).
#include <algorithm>
#include <limits>
#include <numeric>

#include "graph/error.h"
#include "placers/classic_placers.h"
#include "placers/memory_tracker.h"

namespace allot {
namespace {

constexpr DeviceId kNoDev = Cluster::kNoDevice;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Candidate {
  double start = kInf;
  double rank = 0;
  NodeId op = kNone;
  double finish = kInf;
  DeviceId device = kNoDev;
  bool valid() const { return op != kNone; }
};

// Strict "a goes first".
bool Before(const Candidate& a, const Candidate& b) {
  if (!b.valid()) return a.valid();
  if (!a.valid()) return false;
  if (a.start != b.start) return a.start < b.start;
  if (a.rank != b.rank) return a.rank > b.rank;
  if (a.op != b.op) return a.op < b.op;
  if (a.finish != b.finish) return a.finish < b.finish;
  return a.device < b.device;
}

struct Waiting {  // an op whose inputs arrive at `ready` on this device
  double ready;
  double rank;
  NodeId op;
};
struct WaitingLater {  // heap order: the earliest arrival on top
  bool operator()(const Waiting& a, const Waiting& b) const {
    if (a.ready != b.ready) return a.ready > b.ready;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.op > b.op;
  }
};
struct Startable {  // an op that could start as soon as the device is free
  double rank;
  NodeId op;
};
struct StartableLower {  // heap order: the largest rank (then lowest id) on top
  bool operator()(const Startable& a, const Startable& b) const {
    return a.rank != b.rank ? a.rank < b.rank : a.op > b.op;
  }
};
struct Blocked {  // an op that did not fit on this device when it needed `need` bytes
  uint64_t need;
  NodeId op;
};
struct BlockedLarger {
  bool operator()(const Blocked& a, const Blocked& b) const { return a.need != b.need ? a.need > b.need : a.op > b.op; }
};

class ListScheduler {
 public:
  ListScheduler(const PlacementProblem& problem, std::vector<DeviceId> devices, bool sct, std::string name)
      : p_(problem),
        g_(*problem.graph),
        cluster_(*problem.cluster),
        costs_(*problem.costs),
        allowed_(std::move(devices)),
        sct_(sct),
        name_(std::move(name)),
        N_(g_.num_nodes()),
        T_(g_.num_tensors()),
        D_(cluster_.num_devices()),
        tracker_(problem) {
    // Routes as the simulator prices them: summed latency, slowest link.
    routes_.resize(D_ * D_);
    lat_.assign(D_ * D_, 0);
    inv_bw_.assign(D_ * D_, 0);
    for (DeviceId a = 0; a < D_; ++a)
      for (DeviceId b = 0; b < D_; ++b) {
        const size_t pair = a * D_ + b;
        routes_[pair] = cluster_.route(a, b);
        double bw = 0;
        for (uint32_t l : routes_[pair]) {
          lat_[pair] += cluster_.links()[l].latency;
          bw = bw == 0 ? cluster_.links()[l].bandwidth : std::min(bw, cluster_.links()[l].bandwidth);
        }
        inv_bw_[pair] = bw > 0 ? 1.0 / bw : 0;
      }
    // Distinct produced inputs per node (CSR), as the simulator counts them.
    in_offsets_.assign(N_ + 1, 0);
    std::vector<TensorId> ins;
    for (NodeId n = 0; n < N_; ++n) {
      ins.assign(g_.node(n).inputs.begin(), g_.node(n).inputs.end());
      std::sort(ins.begin(), ins.end());
      ins.erase(std::unique(ins.begin(), ins.end()), ins.end());
      for (TensorId t : ins)
        if (g_.tensor(t).producer != kNone) in_tensors_.push_back(t);
      in_offsets_[n + 1] = static_cast<uint32_t>(in_tensors_.size());
    }

    // Means over the devices the placer may use: compute per op, and communication over ordered pairs.
    double mean_lat = 0, mean_inv_bw = 0;
    size_t pairs = 0;
    for (DeviceId a : allowed_)
      for (DeviceId b : allowed_)
        if (a != b) {
          mean_lat += lat_[a * D_ + b];
          mean_inv_bw += inv_bw_[a * D_ + b];
          ++pairs;
        }
    if (pairs) {
      mean_lat /= static_cast<double>(pairs);
      mean_inv_bw /= static_cast<double>(pairs);
    }
    auto mean_comm = [&](uint64_t bytes) { return pairs ? mean_lat + static_cast<double>(bytes) * mean_inv_bw : 0.0; };
    std::vector<double> mean_cost(N_, 0);
    for (NodeId n = 0; n < N_; ++n) {
      for (DeviceId d : allowed_) mean_cost[n] += costs_.at(n, d);
      mean_cost[n] /= static_cast<double>(allowed_.size());
    }
    // HEFT's upward rank: mean compute plus the heaviest path below, with mean communication.
    rank_.assign(N_, 0);
    const auto& order = g_.topo_order();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const NodeId n = *it;
      double below = 0;
      const auto succ = g_.successors(n);
      const auto bytes = g_.successor_bytes(n);
      for (size_t i = 0; i < succ.size(); ++i) below = std::max(below, mean_comm(bytes[i]) + rank_[succ[i]]);
      rank_[n] = mean_cost[n] + below;
    }
    favourite_.assign(N_, kNone);
    if (sct_) ChooseFavouriteChildren(mean_cost, mean_comm);

    // The most a gradient/update op of each group adds to its device around its run: its outputs and the
    // inputs it receives from other groups (weight gradients aside: those are reserved ahead).
    const CoarseGraph& cg = p_.groups;
    backward_need_.assign(cg.num_groups(), 0);
    for (NodeId n = 0; n < N_; ++n) {
      if (g_.node(n).role == NodeRole::kForward) continue;
      const uint32_t group = cg.group_of[n];
      uint64_t bytes = 0;
      for (TensorId t : g_.node(n).outputs)
        if (!tracker_.weight_gradient(t)) bytes += g_.tensor(t).bytes;
      for (uint32_t i = in_offsets_[n]; i < in_offsets_[n + 1]; ++i) {
        const TensorId t = in_tensors_[i];
        if (cg.group_of[g_.tensor(t).producer] != group && !tracker_.weight_gradient(t)) bytes += g_.tensor(t).bytes;
      }
      backward_need_[group] = std::max(backward_need_[group], bytes);
    }
  }

  // One device per node. Forward ops (and the groups they fix) may fill `scale` of each device's capacity; the
  // rest, and the backward working space, stays for the backward pass. Throws Error when some op fits nowhere.
  std::vector<DeviceId> Run(double scale) {
    const CoarseGraph& cg = p_.groups;
    std::vector<uint64_t> limit(D_);
    for (DeviceId d = 0; d < D_; ++d)
      limit[d] = cluster_.device(d).memory_capacity;
    forward_reserve_.resize(D_);
    for (DeviceId d = 0; d < D_; ++d)
      forward_reserve_[d] = limit[d] - static_cast<uint64_t>(static_cast<double>(limit[d]) * scale);
    tracker_.Reset(limit);
    node_dev_.assign(N_, kNoDev);
    finish_.assign(N_, 0);
    group_dev_.assign(cg.num_groups(), kNoDev);
    pending_.resize(N_);
    for (NodeId n = 0; n < N_; ++n) pending_[n] = static_cast<uint32_t>(g_.predecessors(n).size());
    ready_time_.assign(N_ * D_, 0);
    blocked_flag_.assign(N_ * D_, 0);
    arrival_.assign(T_ * D_, -1);
    link_free_.assign(cluster_.links().size(), 0);
    free_.assign(D_, 0);
    working_.assign(D_, 0);
    last_.assign(D_, kNone);
    waiting_.assign(D_, {});
    startable_.assign(D_, {});
    blocked_.assign(D_, {});

    // Pinned groups are fixed, and their resident memory reserved, before anything runs.
    for (uint32_t k = 0; k < cg.num_groups(); ++k) {
      const DeviceId pin = p_.GroupPin(k);
      if (pin == kNoDev) continue;
      need_.assign(D_, 0);
      tracker_.AssignNeeds(k, pin, need_);
      const uint64_t need = need_[pin];
      if (need > tracker_.headroom(pin))
        throw Error(name_ + ": group '" + cg.group_names[k] + "' pinned to " + cluster_.device(pin).name + " needs " +
                    classic::FormatBytes(need) + " there, which has " + classic::FormatBytes(tracker_.headroom(pin)) +
                    " left (short by " + classic::FormatBytes(need - tracker_.headroom(pin)) + ")");
      FixGroup(k, pin);
    }

    for (NodeId n : g_.topo_order())
      if (pending_[n] == 0) MakeReady(n);

    size_t scheduled = 0;
    while (scheduled < N_) {
      Candidate best;
      for (DeviceId d = 0; d < D_; ++d) {
        const Candidate c = BestOn(d);
        if (Before(c, best)) best = c;
      }
      if (!best.valid()) {
        if (!Unstick()) ThrowOutOfMemory();
        continue;
      }
      const NodeId n = best.op;
      const DeviceId d = best.device;
      const size_t idx = static_cast<size_t>(n) * D_ + d;
      const double arrival = Arrival(n, d, /*commit=*/false);
      if (arrival > ready_time_[idx]) {  // links got busier since it was priced: choose again
        ready_time_[idx] = arrival;
        Push(n, d);
        continue;
      }
      if (Shortfall(n, d) > 0) {
        uint64_t total = 0;
        for (uint64_t b : need_) total += b;
        Block(n, d, total);
        continue;
      }
      Schedule(n, d);
      ++scheduled;
      Unblock();
    }
    return node_dev_;
  }

 private:
  // The devices op n may run on: its group's device once fixed, else the placer's devices.
  template <typename F>
  void ForEachDevice(NodeId n, F f) const {
    const DeviceId fixed = group_dev_[p_.groups.group_of[n]];
    if (fixed != kNoDev) {
      f(fixed);
      return;
    }
    for (DeviceId d : allowed_)
      if (p_.Allows(p_.groups.group_of[n], d)) f(d);
  }

  bool Valid(NodeId n, DeviceId d) const {
    if (node_dev_[n] != kNoDev || blocked_flag_[static_cast<size_t>(n) * D_ + d]) return false;
    const uint32_t group = p_.groups.group_of[n];
    const DeviceId fixed = group_dev_[group];
    return fixed == kNoDev ? p_.Allows(group, d) : fixed == d;
  }

  double StartOn(NodeId n, DeviceId d) const { return std::max(free_[d], ready_time_[static_cast<size_t>(n) * D_ + d]); }

  // When every input of op n would be on d, booking the copies on their links if `commit`.
  double Arrival(NodeId n, DeviceId d, bool commit) {
    // Copies go out in the order their producers finished.
    scratch_.clear();
    for (uint32_t i = in_offsets_[n]; i < in_offsets_[n + 1]; ++i) scratch_.push_back(in_tensors_[i]);
    std::sort(scratch_.begin(), scratch_.end(), [&](TensorId a, TensorId b) {
      const double fa = finish_[g_.tensor(a).producer], fb = finish_[g_.tensor(b).producer];
      return fa != fb ? fa < fb : a < b;
    });
    touched_.clear();
    double ready = 0;
    for (TensorId t : scratch_) {
      const NodeId producer = g_.tensor(t).producer;
      const DeviceId from = node_dev_[producer];
      double at = finish_[producer];
      if (from != d) {
        double& arrived = arrival_[static_cast<size_t>(t) * D_ + d];
        if (arrived >= 0) {
          at = arrived;
        } else {
          const size_t pair = static_cast<size_t>(from) * D_ + d;
          for (uint32_t l : routes_[pair]) at = std::max(at, link_free_[l]);
          at += lat_[pair] + static_cast<double>(g_.tensor(t).bytes) * inv_bw_[pair];
          for (uint32_t l : routes_[pair]) {
            if (!commit) touched_.push_back({l, link_free_[l]});
            link_free_[l] = at;
          }
          if (commit) arrived = at;
        }
      }
      ready = std::max(ready, at);
    }
    for (auto it = touched_.rbegin(); it != touched_.rend(); ++it) link_free_[it->first] = it->second;
    return ready;
  }

  void MakeReady(NodeId n) {
    ForEachDevice(n, [&](DeviceId d) {
      ready_time_[static_cast<size_t>(n) * D_ + d] = Arrival(n, d, false);
      Push(n, d);
    });
  }

  void Push(NodeId n, DeviceId d) {
    auto& heap = waiting_[d];
    heap.push_back({ready_time_[static_cast<size_t>(n) * D_ + d], rank_[n], n});
    std::push_heap(heap.begin(), heap.end(), WaitingLater());
  }

  // The best pair on device d (ETF), or, for m-SCT, what an awake device runs.
  Candidate BestOn(DeviceId d) {
    auto& waiting = waiting_[d];
    auto& startable = startable_[d];
    while (!waiting.empty()) {
      const Waiting top = waiting.front();
      const bool current = Valid(top.op, d) && top.ready == ready_time_[static_cast<size_t>(top.op) * D_ + d];
      if (current && top.ready > free_[d]) break;
      std::pop_heap(waiting.begin(), waiting.end(), WaitingLater());
      waiting.pop_back();
      if (!current) continue;
      startable.push_back({top.rank, top.op});
      std::push_heap(startable.begin(), startable.end(), StartableLower());
    }
    while (!startable.empty()) {
      const NodeId op = startable.front().op;
      if (Valid(op, d) && ready_time_[static_cast<size_t>(op) * D_ + d] <= free_[d]) break;
      std::pop_heap(startable.begin(), startable.end(), StartableLower());
      startable.pop_back();
    }
    Candidate c;
    if (!startable.empty()) {
      c.op = startable.front().op;
      c.start = free_[d];
    } else if (!waiting.empty()) {
      c.op = waiting.front().op;
      c.start = waiting.front().ready;
    }
    if (sct_) {
      const NodeId fav = Favourite(d);
      if (fav != kNone) {
        // Awake: run an urgent op if the best one that could start now is urgent, else the favourite child.
        const bool urgent = !startable.empty() && startable.front().op != fav && UrgentTime(c.op) <= free_[d];
        if (!urgent) {
          c.op = fav;
          c.start = StartOn(fav, d);
        }
      }
    }
    if (c.valid()) {
      c.rank = rank_[c.op];
      c.finish = c.start + costs_.at(c.op, d);
      c.device = d;
    }
    return c;
  }

  // m-SCT: the favourite child of the op device d ran last, if it is ready and starts earliest on d.
  NodeId Favourite(DeviceId d) const {
    if (last_[d] == kNone) return kNone;
    const NodeId f = favourite_[last_[d]];
    if (f == kNone || pending_[f] != 0 || !Valid(f, d)) return kNone;
    const double here = StartOn(f, d);
    bool earliest = true;
    ForEachDevice(f, [&](DeviceId e) {
      if (Valid(f, e) && StartOn(f, e) < here) earliest = false;
    });
    return earliest ? f : kNone;
  }

  // The time by which op n could start on every device it may run on.
  double UrgentTime(NodeId n) const {
    double t = 0;
    ForEachDevice(n, [&](DeviceId e) {
      if (Valid(n, e)) t = std::max(t, StartOn(n, e));
    });
    return t;
  }

  void FixGroup(uint32_t group, DeviceId d) {
    group_dev_[group] = d;
    tracker_.AssignGroup(group, d);
    working_[d] = std::max(working_[d], backward_need_[group]);
  }

  // Fills need_ with the bytes running op n on d needs free on each device: what the op allocates (outputs
  // there, copies of them where readers wait), its group's reservation if the group is not fixed yet, and for a
  // forward op the device's backward working space. Returns the largest shortfall (0: it fits) and its device.
  uint64_t Shortfall(NodeId n, DeviceId d, DeviceId* where = nullptr) {
    const uint32_t group = p_.groups.group_of[n];
    const bool unfixed = group_dev_[group] == kNoDev;
    need_.assign(D_, 0);
    if (unfixed) tracker_.AssignNeeds(group, d, need_);
    tracker_.RunNeeds(n, d, need_);
    if (g_.node(n).role == NodeRole::kForward)
      need_[d] += std::max(working_[d], unfixed ? backward_need_[group] : uint64_t{0}) + forward_reserve_[d];
    uint64_t worst = 0;
    if (where) *where = d;
    for (DeviceId e = 0; e < D_; ++e) {
      const uint64_t room = tracker_.headroom(e);
      if (need_[e] > room && need_[e] - room > worst) {
        worst = need_[e] - room;
        if (where) *where = e;
      }
    }
    return worst;
  }

  void Schedule(NodeId n, DeviceId d) {
    const uint32_t group = p_.groups.group_of[n];
    if (group_dev_[group] == kNoDev) FixGroup(group, d);
    const double start = std::max(free_[d], Arrival(n, d, /*commit=*/true));
    node_dev_[n] = d;
    finish_[n] = start + costs_.at(n, d);
    free_[d] = finish_[n];
    last_[d] = n;
    tracker_.RunOp(n);
    for (NodeId s : g_.successors(n))
      if (--pending_[s] == 0) MakeReady(s);
  }

  void Block(NodeId n, DeviceId d, uint64_t need) {
    blocked_flag_[static_cast<size_t>(n) * D_ + d] = 1;
    blocked_[d].push_back({need, n});
    std::push_heap(blocked_[d].begin(), blocked_[d].end(), BlockedLarger());
  }

  // Ops blocked for memory come back once their device has room for what they needed then (re-checked when
  // chosen again).
  void Unblock() {
    for (DeviceId d = 0; d < D_; ++d) {
      auto& heap = blocked_[d];
      while (!heap.empty()) {
        const Blocked top = heap.front();
        const size_t idx = static_cast<size_t>(top.op) * D_ + d;
        const bool stale = !blocked_flag_[idx] || node_dev_[top.op] != kNoDev;
        if (!stale && top.need > tracker_.headroom(d)) break;
        std::pop_heap(heap.begin(), heap.end(), BlockedLarger());
        heap.pop_back();
        if (stale) continue;
        blocked_flag_[idx] = 0;
        if (Valid(top.op, d)) Push(top.op, d);
      }
    }
  }

  // Nothing is schedulable: re-check every blocked op with its current need. False when none fits anywhere.
  bool Unstick() {
    bool any = false;
    for (DeviceId d = 0; d < D_; ++d) {
      std::vector<Blocked> keep;
      for (const Blocked& b : blocked_[d]) {
        const size_t idx = static_cast<size_t>(b.op) * D_ + d;
        if (!blocked_flag_[idx] || node_dev_[b.op] != kNoDev) continue;
        if (Shortfall(b.op, d) == 0) {
          blocked_flag_[idx] = 0;
          if (Valid(b.op, d)) Push(b.op, d);
          any = true;
        } else {
          keep.push_back(b);
        }
      }
      blocked_[d] = std::move(keep);
      std::make_heap(blocked_[d].begin(), blocked_[d].end(), BlockedLarger());
    }
    return any;
  }

  [[noreturn]] void ThrowOutOfMemory() {
    // The earliest blocked op in topological order, and the device where it is closest to fitting.
    NodeId worst = kNone;
    for (DeviceId d = 0; d < D_; ++d)
      for (const Blocked& b : blocked_[d])
        if (node_dev_[b.op] == kNoDev && (worst == kNone || g_.topo_rank()[b.op] < g_.topo_rank()[worst])) worst = b.op;
    if (worst == kNone) throw Error(name_ + ": scheduling stalled with no ready op (is the graph acyclic?)");
    DeviceId best = kNoDev, short_on = kNoDev;
    uint64_t best_short = 0, best_need = 0;
    ForEachDevice(worst, [&](DeviceId d) {
      DeviceId where = d;
      const uint64_t shortfall = Shortfall(worst, d, &where);
      if (best == kNoDev || shortfall < best_short) {
        best = d;
        short_on = where;
        best_short = shortfall;
        best_need = need_[where];
      }
    });
    const std::string on = short_on == best ? "" : " (for copies of its outputs)";
    throw Error(name_ + ": out of memory: op '" + std::string(g_.node_name(worst)) + "' (group '" +
                p_.groups.group_names[p_.groups.group_of[worst]] + "') would run best on " +
                cluster_.device(best).name + " but needs " + classic::FormatBytes(best_need) + " on " +
                cluster_.device(short_on).name + on + ", which has " +
                classic::FormatBytes(tracker_.headroom(short_on)) + " free of " +
                classic::FormatBytes(tracker_.limit(short_on)) + " (short by " + classic::FormatBytes(best_short) +
                "); no device has room for it");
  }

  // The greedy stand-in for Baechi's favourite-child LP (see the file comment).
  template <typename Comm>
  void ChooseFavouriteChildren(const std::vector<double>& p, const Comm& comm) {
    const auto& order = g_.topo_order();
    const auto& group_of = p_.groups.group_of;
    auto c = [&](NodeId i, NodeId j, uint64_t bytes) { return group_of[i] == group_of[j] ? 0.0 : comm(bytes); };
    std::vector<double> top(N_, 0), bottom(N_, 0);
    for (NodeId i : order) {
      const auto succ = g_.successors(i);
      const auto bytes = g_.successor_bytes(i);
      for (size_t k = 0; k < succ.size(); ++k)
        top[succ[k]] = std::max(top[succ[k]], top[i] + p[i] + c(i, succ[k], bytes[k]));
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const NodeId i = *it;
      double below = 0;
      const auto succ = g_.successors(i);
      const auto bytes = g_.successor_bytes(i);
      for (size_t k = 0; k < succ.size(); ++k) below = std::max(below, c(i, succ[k], bytes[k]) + bottom[succ[k]]);
      bottom[i] = p[i] + below;
    }
    struct Edge {
      double path, comm;
      NodeId from, to;
    };
    std::vector<Edge> edges;
    for (NodeId i = 0; i < N_; ++i) {
      const auto succ = g_.successors(i);
      const auto bytes = g_.successor_bytes(i);
      for (size_t k = 0; k < succ.size(); ++k) {
        const double ck = c(i, succ[k], bytes[k]);
        if (ck > 0) edges.push_back({top[i] + p[i] + ck + bottom[succ[k]], ck, i, succ[k]});
      }
    }
    std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
      if (a.path != b.path) return a.path > b.path;
      if (a.comm != b.comm) return a.comm > b.comm;
      return a.from != b.from ? a.from < b.from : a.to < b.to;
    });
    std::vector<char> has_parent(N_, 0);
    for (const Edge& e : edges)
      if (favourite_[e.from] == kNone && !has_parent[e.to]) {
        favourite_[e.from] = e.to;
        has_parent[e.to] = 1;
      }
  }

  const PlacementProblem& p_;
  const Graph& g_;
  const Cluster& cluster_;
  const CostTable& costs_;
  const std::vector<DeviceId> allowed_;
  const bool sct_;
  const std::string name_;
  const size_t N_, T_, D_;
  std::vector<std::vector<uint32_t>> routes_;  // [from * D + to]
  std::vector<double> lat_, inv_bw_;           // [from * D + to]
  std::vector<uint32_t> in_offsets_;
  std::vector<TensorId> in_tensors_;
  std::vector<double> rank_;
  std::vector<NodeId> favourite_;
  std::vector<uint64_t> backward_need_;  // per group
  classic::MemoryTracker tracker_;

  // Per run.
  std::vector<DeviceId> node_dev_, group_dev_;
  std::vector<double> finish_;
  std::vector<uint32_t> pending_;     // predecessors not yet scheduled
  std::vector<double> ready_time_;    // [op * D + device]: when its inputs arrive there (a lower bound)
  std::vector<char> blocked_flag_;    // [op * D + device]
  std::vector<double> arrival_;       // [tensor * D + device]: when its booked copy arrives; < 0: none
  std::vector<double> link_free_;     // per link: the end of the last transfer booked on it
  std::vector<double> free_;          // per device: when its last op finishes
  std::vector<uint64_t> working_;     // per device: backward working space to keep free
  std::vector<uint64_t> forward_reserve_;  // per device: capacity forward ops leave to the backward pass
  std::vector<NodeId> last_;          // per device: the op it ran last
  std::vector<std::vector<Waiting>> waiting_;
  std::vector<std::vector<Startable>> startable_;
  std::vector<std::vector<Blocked>> blocked_;
  std::vector<TensorId> scratch_;
  std::vector<uint64_t> need_;  // per device, filled by Shortfall
  std::vector<std::pair<uint32_t, double>> touched_;
};

class ListSchedulingPlacer : public Placer {
 public:
  ListSchedulingPlacer(OptionValues options, bool sct) : Placer(std::move(options)), sct_(sct) {}
  std::string_view name() const override { return sct_ ? "sct" : "etf"; }

  std::vector<DeviceId> place(const PlacementProblem& problem) override {
    const std::string placer(name());
    ListScheduler scheduler(problem, classic::SelectDevices(*problem.cluster, options_.String("devices"), placer), sct_,
                            placer);
    return classic::SimulateWithMemoryRetries(problem, placer, [&](double scale) { return scheduler.Run(scale); });
  }

 private:
  bool sct_;
};

std::vector<OptionSpec> ListSchedulingOptions() {
  return {{"devices", OptionSpec::Type::kString, "gpu",
           "gpu: schedule on the GPUs only, as Baechi's device graph had them (every device if there is none); all: "
           "the host CPU too (an op starts wherever it can start first, so an idle CPU does take work)"}};
}

}  // namespace

PlacerInfo EtfPlacerInfo() {
  return {"etf",
          "Baechi m-ETF: list scheduling that starts the (ready op, device) pair with the earliest start time, "
          "within each device's memory; co-location groups follow their first op",
          ListSchedulingOptions(),
          [](OptionValues o) { return std::make_unique<ListSchedulingPlacer>(std::move(o), false); }};
}

PlacerInfo SctPlacerInfo() {
  return {"sct",
          "Baechi m-SCT: m-ETF in which a device waits for the favourite child of the op it just ran "
          "(favourite children: a greedy stand-in for the Hanen-Munier LP)",
          ListSchedulingOptions(),
          [](OptionValues o) { return std::make_unique<ListSchedulingPlacer>(std::move(o), true); }};
}

}  // namespace allot
