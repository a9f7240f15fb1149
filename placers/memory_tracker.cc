#include "placers/memory_tracker.h"

#include <algorithm>
#include <cstdio>

#include "graph/error.h"

namespace allot::classic {

std::vector<DeviceId> SelectDevices(const Cluster& cluster, const std::string& which, const std::string& placer) {
  std::vector<DeviceId> all, gpus;
  for (DeviceId d = 0; d < cluster.num_devices(); ++d) {
    all.push_back(d);
    if (cluster.device(d).kind == DeviceKind::kGpu) gpus.push_back(d);
  }
  if (which == "all") return all;
  if (which == "gpu") return gpus.empty() ? all : gpus;
  throw Error("placer '" + placer + "': option 'devices' must be gpu or all, got '" + which + "'");
}

std::string FormatBytes(uint64_t bytes) {
  char buf[48];
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1ull << 30));
  else if (bytes >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1ull << 20));
  else if (bytes >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / (1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

MemoryTracker::MemoryTracker(const PlacementProblem& problem)
    : problem_(problem), graph_(*problem.graph), D_(problem.cluster->num_devices()) {
  const Graph& g = graph_;
  const size_t N = g.num_nodes(), T = g.num_tensors();
  in_offsets_.assign(N + 1, 0);
  std::vector<TensorId> ins;
  for (NodeId n = 0; n < N; ++n) {
    ins.assign(g.node(n).inputs.begin(), g.node(n).inputs.end());
    std::sort(ins.begin(), ins.end());
    ins.erase(std::unique(ins.begin(), ins.end()), ins.end());
    for (TensorId t : ins)
      if (g.tensor(t).producer != kNone) in_tensors_.push_back(t);
    in_offsets_[n + 1] = static_cast<uint32_t>(in_tensors_.size());
  }
  const CoarseGraph& cg = problem.groups;
  const size_t G = cg.num_groups();
  resident_offsets_.assign(G + 1, 0);
  group_state_.assign(G, 0);
  for (uint32_t k = 0; k < G; ++k) {
    ins.clear();
    for (uint32_t i = cg.member_offsets[k]; i < cg.member_offsets[k + 1]; ++i) {
      const Node& node = g.node(cg.members[i]);
      group_state_[k] += node.state_bytes;
      for (TensorId t : node.inputs)
        if (g.tensor(t).producer == kNone) ins.push_back(t);
    }
    std::sort(ins.begin(), ins.end());
    ins.erase(std::unique(ins.begin(), ins.end()), ins.end());
    resident_tensors_.insert(resident_tensors_.end(), ins.begin(), ins.end());
    resident_offsets_[k + 1] = static_cast<uint32_t>(resident_tensors_.size());
  }
  wgrad_.assign(T, 0);
  wgrad_reader_.assign(T, kNone);
  for (TensorId t = 0; t < T; ++t) {
    const Tensor& tensor = g.tensor(t);
    const auto readers = g.consumers(t);
    if (tensor.producer == kNone || tensor.is_graph_output || readers.size() != 1) continue;
    if (g.node(tensor.producer).role == NodeRole::kGradient && g.node(readers[0]).role == NodeRole::kUpdate) {
      wgrad_[t] = 1;
      wgrad_reader_[t] = readers[0];
    }
  }
  limit_.assign(D_, 0);
  used_.assign(D_, 0);
  mark_.assign(T, 0);
}

void MemoryTracker::Reset(const std::vector<uint64_t>& limit) {
  const size_t N = graph_.num_nodes(), T = graph_.num_tensors();
  limit_ = limit;
  std::fill(used_.begin(), used_.end(), 0);
  node_dev_.assign(N, Cluster::kNoDevice);
  present_.assign(T * D_, 0);
  waiting_.assign(T * D_, 0);
  unassigned_.resize(T);
  for (TensorId t = 0; t < T; ++t) unassigned_[t] = static_cast<uint32_t>(graph_.consumers(t).size());
  produced_.assign(T, 0);
  reserved_.assign(T, 0);
}

uint64_t MemoryTracker::ResidentBytes(uint32_t group, DeviceId d) const {
  uint64_t bytes = group_state_[group];
  for (uint32_t i = resident_offsets_[group]; i < resident_offsets_[group + 1]; ++i)
    if (!present_[At(resident_tensors_[i], d)]) bytes += graph_.tensor(resident_tensors_[i]).bytes;
  return bytes;
}

void MemoryTracker::AssignNeeds(uint32_t group, DeviceId d, std::vector<uint64_t>& need) const {
  const CoarseGraph& cg = problem_.groups;
  need[d] += ResidentBytes(group, d);
  ++stamp_;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) {
    const NodeId m = cg.members[i];
    for (uint32_t j = in_offsets_[m]; j < in_offsets_[m + 1]; ++j) {
      const TensorId t = in_tensors_[j];
      if (mark_[t] == stamp_) continue;
      mark_[t] = stamp_;
      if (produced_[t] ? !present_[At(t, d)] : wgrad_[t] && !reserved_[t]) need[d] += graph_.tensor(t).bytes;
    }
  }
}

void MemoryTracker::AssignGroup(uint32_t group, DeviceId d) {
  const CoarseGraph& cg = problem_.groups;
  Allocate(d, ResidentBytes(group, d));
  for (uint32_t i = resident_offsets_[group]; i < resident_offsets_[group + 1]; ++i)
    present_[At(resident_tensors_[i], d)] = 1;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) node_dev_[cg.members[i]] = d;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) {
    const NodeId m = cg.members[i];
    for (uint32_t j = in_offsets_[m]; j < in_offsets_[m + 1]; ++j) {
      const TensorId t = in_tensors_[j];
      --unassigned_[t];
      ++waiting_[At(t, d)];
      const uint64_t bytes = graph_.tensor(t).bytes;
      if (produced_[t]) {
        if (!present_[At(t, d)]) {  // the simulator's copy, sent when the producer finished
          present_[At(t, d)] = 1;
          Allocate(d, bytes);
        }
        if (wgrad_[t]) reserved_[t] = 1;
      } else if (wgrad_[t] && !reserved_[t]) {  // a weight gradient still to come, reserved for its update
        reserved_[t] = 1;
        Allocate(d, bytes);
      }
    }
  }
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) {
    const NodeId m = cg.members[i];
    for (uint32_t j = in_offsets_[m]; j < in_offsets_[m + 1]; ++j) TryFree(in_tensors_[j]);
  }
}

void MemoryTracker::RunNeeds(NodeId n, DeviceId d, std::vector<uint64_t>& need) const {
  for (TensorId t : graph_.node(n).outputs) {
    const uint64_t bytes = graph_.tensor(t).bytes;
    const DeviceId reserved_on = wgrad_[t] && reserved_[t] ? node_dev_[wgrad_reader_[t]] : Cluster::kNoDevice;
    if (reserved_on != d) need[d] += bytes;
    for (DeviceId e = 0; e < D_; ++e)
      if (e != d && e != reserved_on && waiting_[At(t, e)] > 0 && !present_[At(t, e)]) need[e] += bytes;
  }
}

void MemoryTracker::RunOp(NodeId n) {
  const DeviceId d = node_dev_[n];
  for (TensorId t : graph_.node(n).outputs) {
    const uint64_t bytes = graph_.tensor(t).bytes;
    const DeviceId reserved_on = wgrad_[t] && reserved_[t] ? node_dev_[wgrad_reader_[t]] : Cluster::kNoDevice;
    produced_[t] = 1;
    if (reserved_on != d) Allocate(d, bytes);
    present_[At(t, d)] = 1;
    for (DeviceId e = 0; e < D_; ++e)
      if (e != d && waiting_[At(t, e)] > 0 && !present_[At(t, e)]) {
        present_[At(t, e)] = 1;
        if (e != reserved_on) Allocate(e, bytes);
      }
    TryFree(t);
  }
  for (uint32_t j = in_offsets_[n]; j < in_offsets_[n + 1]; ++j) {
    const TensorId t = in_tensors_[j];
    --waiting_[At(t, d)];
    TryFree(t);
  }
}

void MemoryTracker::TryFree(TensorId t) {
  const Tensor& tensor = graph_.tensor(t);
  if (!produced_[t] || tensor.is_graph_output) return;
  const DeviceId src = node_dev_[tensor.producer];
  for (DeviceId e = 0; e < D_; ++e) {
    char& here = present_[At(t, e)];
    if (!here || waiting_[At(t, e)] > 0 || (e == src && unassigned_[t] > 0)) continue;
    here = 0;
    Free(e, tensor.bytes);
  }
}

uint64_t MemoryTracker::StaticGroupBytes(uint32_t group, DeviceId d) const {
  const CoarseGraph& cg = problem_.groups;
  uint64_t bytes = ResidentBytes(group, d);
  ++stamp_;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) {
    const NodeId n = cg.members[i];
    bytes += graph_.output_bytes()[n];
    for (uint32_t j = in_offsets_[n]; j < in_offsets_[n + 1]; ++j) {
      const TensorId t = in_tensors_[j];
      const NodeId producer = graph_.tensor(t).producer;
      if (cg.group_of[producer] == group) continue;
      const DeviceId from = node_dev_[producer];
      if (from == Cluster::kNoDevice || from == d || present_[At(t, d)] || mark_[t] == stamp_) continue;
      mark_[t] = stamp_;
      bytes += graph_.tensor(t).bytes;
    }
  }
  return bytes;
}

void MemoryTracker::StaticPlaceGroup(uint32_t group, DeviceId d) {
  const CoarseGraph& cg = problem_.groups;
  Allocate(d, StaticGroupBytes(group, d));
  for (uint32_t i = resident_offsets_[group]; i < resident_offsets_[group + 1]; ++i)
    present_[At(resident_tensors_[i], d)] = 1;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) node_dev_[cg.members[i]] = d;
  for (uint32_t i = cg.member_offsets[group]; i < cg.member_offsets[group + 1]; ++i) {
    const NodeId n = cg.members[i];
    for (uint32_t j = in_offsets_[n]; j < in_offsets_[n + 1]; ++j) {
      const TensorId t = in_tensors_[j];
      const DeviceId from = node_dev_[graph_.tensor(t).producer];
      if (from != Cluster::kNoDevice && from != d) present_[At(t, d)] = 1;
    }
    for (TensorId t : graph_.node(n).outputs)
      for (NodeId c : graph_.consumers(t)) {
        const DeviceId to = node_dev_[c];
        if (to == Cluster::kNoDevice || to == d || present_[At(t, to)]) continue;
        present_[At(t, to)] = 1;
        Allocate(to, graph_.tensor(t).bytes);
      }
  }
}

std::vector<DeviceId> SimulateWithMemoryRetries(const PlacementProblem& problem, const std::string& placer,
                                                const std::function<std::vector<DeviceId>(double scale)>& attempt) {
  SimOptions options;
  options.order = problem.order;
  Simulator sim(*problem.graph, *problem.cluster, *problem.costs, options);
  std::string first_error, sim_error;
  for (int step = 0; step <= 5; ++step) {
    const double scale = 1.0 - 0.1 * step;
    std::vector<DeviceId> placement;
    try {
      placement = attempt(scale);
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
      continue;
    }
    const SimResult& r = sim.Run(placement);
    if (r.valid) return placement;
    sim_error = r.error;
  }
  if (sim_error.empty()) throw Error(first_error);
  throw Error(placer + ": no placement within memory in simulation (" + sim_error + ")");
}

}  // namespace allot::classic
