#include "cost_model/simulator.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace allot {
namespace {

std::string Gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

}  // namespace

Simulator::Simulator(const Graph& graph, const Cluster& cluster, const CostTable& costs, SimOptions options)
    : graph_(graph), cluster_(cluster), costs_(costs), options_(options) {
  N_ = graph.num_nodes();
  T_ = graph.num_tensors();
  D_ = cluster.num_devices();
  assert(costs.num_nodes == N_ && costs.num_devices == D_);

  producer_.resize(T_);
  bytes_.resize(T_);
  keep_.resize(T_);
  for (TensorId t = 0; t < T_; ++t) {
    const Tensor& tensor = graph.tensor(t);
    producer_[t] = tensor.producer;
    bytes_[t] = tensor.bytes;
    keep_[t] = tensor.is_graph_output;
    if (tensor.producer == kNone && !graph.consumers(t).empty()) resident_tensors_.push_back(t);
  }
  in_count_.assign(N_, 0);
  in_offsets_.assign(N_ + 1, 0);
  out_offsets_.assign(N_ + 1, 0);
  std::vector<TensorId> ins;
  for (NodeId n = 0; n < N_; ++n) {
    const Node& node = graph.node(n);
    ins.assign(node.inputs.begin(), node.inputs.end());
    std::sort(ins.begin(), ins.end());
    ins.erase(std::unique(ins.begin(), ins.end()), ins.end());
    for (TensorId t : ins)
      if (producer_[t] != kNone) {
        in_tensors_.push_back(t);
        ++in_count_[n];
      }
    in_offsets_[n + 1] = static_cast<uint32_t>(in_tensors_.size());
    for (TensorId t : node.outputs) out_tensors_.push_back(t);
    out_offsets_[n + 1] = static_cast<uint32_t>(out_tensors_.size());
  }

  // Upward rank: mean cost over the devices plus the heaviest path below.
  rank_.assign(N_, 0);
  const auto& order = graph.topo_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodeId n = *it;
    double mean = 0;
    for (DeviceId d = 0; d < D_; ++d) mean += costs.at(n, d);
    mean /= static_cast<double>(D_);
    double below = 0;
    for (NodeId s : graph.successors(n)) below = std::max(below, rank_[s]);
    rank_[n] = mean + below;
  }

  routes_.resize(D_ * D_);
  route_latency_.assign(D_ * D_, 0);
  route_bandwidth_.assign(D_ * D_, 0);
  for (DeviceId a = 0; a < D_; ++a)
    for (DeviceId b = 0; b < D_; ++b) {
      routes_[a * D_ + b] = cluster.route(a, b);
      double latency = 0, bw = 0;
      for (uint32_t l : routes_[a * D_ + b]) {
        latency += cluster.links()[l].latency;
        bw = bw == 0 ? cluster.links()[l].bandwidth : std::min(bw, cluster.links()[l].bandwidth);
      }
      route_latency_[a * D_ + b] = latency;
      route_bandwidth_[a * D_ + b] = bw;
    }

  // Per-run buffers, at their largest.
  size_t max_transfers = 0;
  for (TensorId t = 0; t < T_; ++t)
    if (producer_[t] != kNone) max_transfers += std::min<size_t>(graph.consumers(t).size(), D_ - 1);
  place_.resize(N_);
  pending_.resize(N_);
  uses_.assign(T_ * D_, 0);
  stamp_.assign(T_ * D_, 0);
  ready_offsets_.resize(D_ + 1);
  ready_head_.resize(D_);
  ready_tail_.resize(D_);
  ready_.resize(N_);
  running_.resize(D_);
  link_free_.resize(cluster.links().size());
  memory_.resize(D_);
  heap_.reserve(N_ + max_transfers + 1);
  transfer_tensor_.resize(max_transfers);
  transfer_to_.resize(max_transfers);
  transfer_from_.resize(max_transfers);
  transfer_start_.resize(max_transfers);
  result_.busy.resize(D_);
  result_.peak_memory.resize(D_);
  result_.link_bytes.resize(cluster.links().size());
}

void Simulator::Push(double time, uint32_t id, bool transfer) {
  heap_.push_back(Event{time, seq_++, id, transfer});
  std::push_heap(heap_.begin(), heap_.end(), [](const Event& a, const Event& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  });
}

Simulator::Event Simulator::Pop() {
  std::pop_heap(heap_.begin(), heap_.end(), [](const Event& a, const Event& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  });
  const Event e = heap_.back();
  heap_.pop_back();
  return e;
}

void Simulator::MakeReady(NodeId n, DeviceId d) {
  NodeId* base = ready_.data() + ready_offsets_[d];
  if (options_.order == DispatchOrder::kFifo) {
    base[ready_tail_[d]++] = n;
  } else {
    base[ready_tail_[d]++] = n;
    std::push_heap(base, base + ready_tail_[d], [this](NodeId a, NodeId b) {
      return rank_[a] != rank_[b] ? rank_[a] < rank_[b] : a > b;
    });
  }
}

void Simulator::Allocate(DeviceId d, uint64_t bytes) {
  memory_[d] += bytes;
  if (memory_[d] > result_.peak_memory[d]) result_.peak_memory[d] = memory_[d];
}

void Simulator::Release(TensorId t, DeviceId d) {
  if (--uses_[t * D_ + d] == 0 && !keep_[t]) memory_[d] -= bytes_[t];
}

void Simulator::TryDispatch(DeviceId d, double now) {
  if (running_[d]) return;
  NodeId* base = ready_.data() + ready_offsets_[d];
  NodeId n;
  if (options_.order == DispatchOrder::kFifo) {
    if (ready_head_[d] == ready_tail_[d]) return;
    n = base[ready_head_[d]++];
  } else {
    if (ready_tail_[d] == 0) return;
    std::pop_heap(base, base + ready_tail_[d], [this](NodeId a, NodeId b) {
      return rank_[a] != rank_[b] ? rank_[a] < rank_[b] : a > b;
    });
    n = base[--ready_tail_[d]];
  }
  const double cost = costs_.time[static_cast<size_t>(n) * D_ + d];
  running_[d] = 1;
  result_.busy[d] += cost;
  uint64_t out = 0;
  for (uint32_t i = out_offsets_[n]; i < out_offsets_[n + 1]; ++i) out += bytes_[out_tensors_[i]];
  Allocate(d, out);
  Push(now + cost, n, false);
  if (options_.record_schedule) result_.ops.push_back({n, d, now, now + cost});
}

void Simulator::StartTransfer(TensorId t, DeviceId from, DeviceId to, double now) {
  const size_t pair = static_cast<size_t>(from) * D_ + to;
  double start = now;
  for (uint32_t l : routes_[pair]) start = std::max(start, link_free_[l]);
  const double bw = route_bandwidth_[pair];
  const double end = start + route_latency_[pair] + (bw > 0 ? static_cast<double>(bytes_[t]) / bw : 0);
  for (uint32_t l : routes_[pair]) {
    link_free_[l] = end;
    result_.link_bytes[l] += bytes_[t];
  }
  const uint32_t slot = static_cast<uint32_t>(result_.transfers_count++);
  transfer_tensor_[slot] = t;
  transfer_from_[slot] = from;
  transfer_to_[slot] = to;
  transfer_start_[slot] = start;
  result_.transferred_bytes += bytes_[t];
  Allocate(to, bytes_[t]);
  Push(end, slot, true);
}

const SimResult& Simulator::Run(const std::vector<DeviceId>& placement) {
  assert(placement.size() == N_);
  std::copy(placement.begin(), placement.end(), place_.begin());
  SimResult& r = result_;
  r.step_time = 0;
  r.valid = true;
  r.error.clear();
  r.transferred_bytes = 0;
  r.transfers_count = 0;
  r.ops.clear();
  r.transfers.clear();
  std::fill(r.busy.begin(), r.busy.end(), 0.0);
  std::fill(r.peak_memory.begin(), r.peak_memory.end(), 0);
  std::fill(r.link_bytes.begin(), r.link_bytes.end(), 0);
  std::fill(memory_.begin(), memory_.end(), 0);
  std::fill(link_free_.begin(), link_free_.end(), 0.0);
  std::fill(running_.begin(), running_.end(), 0);
  heap_.clear();
  seq_ = 0;
  // Stamps: run_ marks "counted for this run" and run_ + 1 "transfer started"; advancing by two keeps old marks stale.
  run_ += 2;
  const uint32_t counted = run_, sent = run_ + 1;

  // Resident tensors, once per reading device.
  for (TensorId t : resident_tensors_)
    for (NodeId c : graph_.consumers(t)) {
      const size_t idx = static_cast<size_t>(t) * D_ + place_[c];
      if (stamp_[idx] != counted) {
        stamp_[idx] = counted;
        Allocate(place_[c], bytes_[t]);
      }
    }
  // Optimizer state.
  for (NodeId n = 0; n < N_; ++n)
    if (graph_.node(n).state_bytes) Allocate(place_[n], graph_.node(n).state_bytes);

  // Uses per (tensor, device): local consumers, plus one per transfer out on the producer's device.
  for (NodeId n = 0; n < N_; ++n) {
    const DeviceId src = place_[n];
    for (uint32_t i = out_offsets_[n]; i < out_offsets_[n + 1]; ++i) {
      const TensorId t = out_tensors_[i];
      const size_t base = static_cast<size_t>(t) * D_;
      stamp_[base + src] = counted;
      uses_[base + src] = 0;
      for (NodeId c : graph_.consumers(t)) {
        const DeviceId d = place_[c];
        if (stamp_[base + d] != counted) {
          stamp_[base + d] = counted;
          uses_[base + d] = 0;
          ++uses_[base + src];  // the transfer out
        }
        ++uses_[base + d];
      }
    }
  }

  // Ready queues: one segment of ready_ per device.
  std::fill(ready_offsets_.begin(), ready_offsets_.end(), 0);
  for (NodeId n = 0; n < N_; ++n) ++ready_offsets_[place_[n] + 1];
  for (size_t d = 0; d < D_; ++d) ready_offsets_[d + 1] += ready_offsets_[d];
  std::fill(ready_head_.begin(), ready_head_.end(), 0);
  std::fill(ready_tail_.begin(), ready_tail_.end(), 0);
  for (NodeId n = 0; n < N_; ++n) {
    pending_[n] = in_count_[n];
    if (pending_[n] == 0) MakeReady(n, place_[n]);
  }
  for (DeviceId d = 0; d < D_; ++d) TryDispatch(d, 0);

  double now = 0;
  while (!heap_.empty()) {
    const Event e = Pop();
    now = e.time;
    if (!e.transfer) {
      const NodeId n = e.id;
      const DeviceId d = place_[n];
      running_[d] = 0;
      for (uint32_t i = in_offsets_[n]; i < in_offsets_[n + 1]; ++i) Release(in_tensors_[i], d);
      for (uint32_t i = out_offsets_[n]; i < out_offsets_[n + 1]; ++i) {
        const TensorId t = out_tensors_[i];
        const size_t base = static_cast<size_t>(t) * D_;
        const auto consumers = graph_.consumers(t);
        if (consumers.empty() && !keep_[t]) memory_[d] -= bytes_[t];
        for (NodeId c : consumers) {
          const DeviceId dc = place_[c];
          if (dc == d) {
            if (--pending_[c] == 0) MakeReady(c, d);
          } else if (stamp_[base + dc] != sent) {
            stamp_[base + dc] = sent;
            StartTransfer(t, d, dc, now);
          }
        }
      }
      TryDispatch(d, now);
    } else {
      const uint32_t slot = e.id;
      const TensorId t = transfer_tensor_[slot];
      const DeviceId to = transfer_to_[slot];
      for (NodeId c : graph_.consumers(t))
        if (place_[c] == to && --pending_[c] == 0) MakeReady(c, to);
      Release(t, transfer_from_[slot]);
      if (options_.record_schedule)
        r.transfers.push_back({t, transfer_from_[slot], to, transfer_start_[slot], now, bytes_[t]});
      TryDispatch(to, now);
    }
  }
  r.step_time = now;

  uint64_t worst = 0;
  for (DeviceId d = 0; d < D_; ++d) {
    const uint64_t cap = cluster_.device(d).memory_capacity;
    if (r.peak_memory[d] > cap && r.peak_memory[d] - cap > worst) {
      worst = r.peak_memory[d] - cap;
      r.valid = false;
      r.error = cluster_.device(d).name + " needs " + Gib(r.peak_memory[d]) + ", has " + Gib(cap) + " (over by " +
                Gib(worst) + ")";
    }
  }
  return r;
}

}  // namespace allot
