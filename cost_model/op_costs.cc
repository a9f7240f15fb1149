#include "cost_model/op_costs.h"

#include <algorithm>

#include "cost_model/profile.h"

namespace allot {

Efficiency FamilyEfficiency(DeviceKind kind, OpFamily family) {
  const bool gpu = kind == DeviceKind::kGpu;
  Efficiency e;
  e.memory = gpu ? 0.70 : 0.60;
  switch (family) {
    case OpFamily::kConv: e.compute = gpu ? 0.55 : 0.40; break;
    case OpFamily::kMatMul: e.compute = gpu ? 0.70 : 0.60; break;
    case OpFamily::kRecurrent: e.compute = gpu ? 0.45 : 0.35; break;
    default: e.compute = gpu ? 0.30 : 0.25; break;
  }
  return e;
}

namespace {

DType NodeDType(const Graph& g, const Node& node) {
  for (TensorId t : node.outputs)
    if (IsFloating(g.tensor(t).dtype)) return g.tensor(t).dtype;
  return DType::kFloat32;
}

}  // namespace

double EstimateTime(const Graph& g, NodeId n, const Device& device) {
  const Node& node = g.node(n);
  // Gradient ops ("ConvGrad", "allot.UpdateAdam", ...) behave like their forward family.
  std::string_view op = node.op_type;
  if (node.role == NodeRole::kGradient && op.size() > 4 && op.substr(op.size() - 4) == "Grad") op.remove_suffix(4);
  const OpFamily family = node.role == NodeRole::kUpdate ? OpFamily::kElementwise : ClassifyOp(op);
  if (family == OpFamily::kView && node.role == NodeRole::kForward) return device.launch_overhead;
  const Efficiency eff = FamilyEfficiency(device.kind, family);
  double peak = device.peak_flops_f32;
  const DType dtype = NodeDType(g, node);
  const bool low_precision = dtype == DType::kFloat16 || dtype == DType::kBFloat16;
  if (low_precision && device.peak_flops_f16 > 0 &&
      (family == OpFamily::kConv || family == OpFamily::kMatMul || family == OpFamily::kRecurrent))
    peak = device.peak_flops_f16;
  const double compute = node.flops / (peak * eff.compute);
  const double memory = node.bytes_accessed / (device.memory_bandwidth * eff.memory);
  return device.launch_overhead + std::max(compute, memory);
}

CostTable ComputeCosts(const Graph& g, const Cluster& cluster, const Profile* profile, const NodeTimes* given) {
  CostTable table;
  const size_t N = g.num_nodes(), D = cluster.num_devices();
  table.num_nodes = N;
  table.num_devices = D;
  table.time.resize(N * D);
  std::string signature;
  for (NodeId n = 0; n < N; ++n) {
    if (profile && profile->size() > 0) signature = OpSignature(g, n);
    bool profiled = false, was_given = false;
    for (DeviceId d = 0; d < D; ++d) {
      const Device& device = cluster.device(d);
      double t = -1;
      if (given && !given->empty()) {
        const auto& times = device.kind == DeviceKind::kCpu ? given->cpu : given->gpu;
        if (n < times.size() && times[n] >= 0) {
          t = times[n];
          was_given = true;
        }
      }
      if (t < 0 && profile && profile->size() > 0) {
        t = profile->Lookup(signature, device);
        profiled |= t >= 0;
      }
      if (t < 0) t = EstimateTime(g, n, device);
      table.time[n * D + d] = t;
    }
    table.profiled_nodes += profiled;
    table.given_nodes += was_given;
  }
  return table;
}

}  // namespace allot
