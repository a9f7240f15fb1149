#pragma once
// Per-op, per-device execution time: a roofline estimate from the IR's FLOPs and bytes, overridden by profiled
// times (cost_model/profile.h) and by times given with a JSON cost graph (cost_model/cost_graph.h).
//
//   time(op, device) = launch_overhead + max(flops / (peak(dtype) * compute_eff(kind, family)),
//                                            bytes / (memory_bandwidth * memory_eff(kind)))
//
// Efficiency factors (the fraction of spec-sheet peak ops reach in practice; first-order numbers from
// published kernel benchmarks, meant to be replaced by profiles where precision matters):
//   GPU compute: conv 0.55, matmul 0.70, recurrent 0.45, everything else 0.30; memory 0.70
//   CPU compute: conv 0.40, matmul 0.60, recurrent 0.35, everything else 0.25; memory 0.60
// float16/bfloat16 conv, matmul and recurrent ops use the device's f16 peak (tensor cores); views (Reshape, ...)
// cost only the launch overhead.
#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "graph/graph.h"
#include "graph/op_work.h"

namespace allot {

class Profile;

struct Efficiency {
  double compute = 1;
  double memory = 1;
};
Efficiency FamilyEfficiency(DeviceKind kind, OpFamily family);

// Explicit per-node times by device kind (from a JSON cost graph); < 0 where absent.
struct NodeTimes {
  std::vector<double> cpu;
  std::vector<double> gpu;
  bool empty() const { return cpu.empty() && gpu.empty(); }
};

// time[node * D + device], seconds. Flat so the simulator's inner loop is one load.
struct CostTable {
  size_t num_nodes = 0;
  size_t num_devices = 0;
  std::vector<double> time;
  size_t profiled_nodes = 0;  // nodes whose time came from a profile on at least one device
  size_t given_nodes = 0;     // nodes whose time came from a cost graph
  double at(NodeId n, DeviceId d) const { return time[static_cast<size_t>(n) * num_devices + d]; }
  // Fraction of nodes covered by the profile (the report shows it).
  double profile_coverage() const { return num_nodes ? static_cast<double>(profiled_nodes) / static_cast<double>(num_nodes) : 0; }
};

// Roofline time of one node on one device.
double EstimateTime(const Graph& graph, NodeId node, const Device& device);

CostTable ComputeCosts(const Graph& graph, const Cluster& cluster, const Profile* profile = nullptr,
                       const NodeTimes* given = nullptr);

}  // namespace allot
