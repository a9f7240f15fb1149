#pragma once
// Tiny placement problems with known optima and small learned-placer configurations, shared by the rl/ tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cost_model/simulator.h"
#include "graph/graph_builder.h"
#include "placers/registry.h"
#include "rl/learned_placers.h"
#include "rl/learned_registry.h"
#include "rl/trainer.h"

namespace allot::rltest {

// Devices with per-device speed: `slowdown[d]` multiplies every op's time on d. Links between every pair.
inline Cluster MakeCluster(const std::vector<double>& slowdown) {
  std::vector<Device> ds;
  std::vector<Link> links;
  for (size_t i = 0; i < slowdown.size(); ++i)
    ds.push_back({(slowdown[i] > 1 ? "cpu:" : "cuda:") + std::to_string(i),
                  slowdown[i] > 1 ? DeviceKind::kCpu : DeviceKind::kGpu, "test", 1e12, 0, 1e12, 1ull << 40, 0});
  for (size_t i = 0; i < ds.size(); ++i)
    for (size_t j = 0; j < ds.size(); ++j)
      if (i != j) links.push_back({ds[i].name + "-" + ds[j].name, ds[i].name, ds[j].name, 10e9, 0});
  return Cluster("test", ds, links);
}

struct Case {
  Graph graph;
  Cluster cluster;
  CostTable costs;
  PlacementProblem problem;
};

// Independent chains of three ops reading one small graph input x; chain c's ops take chain_ms[c] / 3 ms each on a
// device with slowdown 1. With chain fusion every chain is one decision group.
inline std::unique_ptr<Case> Chains(const std::vector<double>& chain_ms, const std::vector<double>& slowdown) {
  GraphBuilder b("chains");
  const TensorId x = b.Tensor("x");
  b.SetType(x, DType::kFloat32, {4, 4});
  b.tensor(x).is_graph_input = true;
  std::vector<double> node_ms;
  for (size_t c = 0; c < chain_ms.size(); ++c) {
    TensorId in = x;
    for (int k = 0; k < 3; ++k) {
      NodeDef n;
      n.name = "c" + std::to_string(c) + "/op" + std::to_string(k);
      n.op_type = k == 1 ? "Relu" : "MatMul";
      n.inputs = {in};
      const TensorId out = b.Tensor(n.name + ":0");
      b.SetType(out, DType::kFloat32, {16, 32});
      if (k == 2) b.tensor(out).is_graph_output = true;
      n.outputs = {out};
      n.flops = chain_ms[c] * 1e6;
      b.AddNode(std::move(n));
      node_ms.push_back(chain_ms[c] / 3);
      in = out;
    }
  }
  auto f = std::make_unique<Case>();
  f->graph = b.Finalize();
  f->cluster = MakeCluster(slowdown);
  f->costs.num_nodes = f->graph.num_nodes();
  f->costs.num_devices = slowdown.size();
  for (double ms : node_ms)
    for (double s : slowdown) f->costs.time.push_back(ms * 1e-3 * s);
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs);
  return f;
}

inline double StepTime(const Case& f, const std::vector<DeviceId>& placement) {
  Simulator sim(f.graph, f.cluster, f.costs);
  const SimResult& r = sim.Run(placement);
  EXPECT_TRUE(r.valid) << r.error;
  return r.step_time;
}

inline const PlacerRegistry& Learned() {
  static const PlacerRegistry registry = [] {
    PlacerRegistry r;
    RegisterLearnedPlacers(r);
    return r;
  }();
  return registry;
}

// `placer`'s options for tiny graphs: small networks, 4 samples, seed 7, no group cap, every device offered, no
// noise or entropy bonus, the networks' learning rate 0.01; `extra` ("k=v,...") on top.
inline OptionValues SmallOptions(const std::string& placer, int64_t steps, const std::string& extra = "") {
  std::string spec = placer + ":steps=" + std::to_string(steps) + ",samples=4,seed=7,devices=all";
  const PlacerInfo* info = Learned().Find(placer);
  auto has = [&](const char* name) {
    for (const OptionSpec& o : info->options)
      if (o.name == name) return true;
    return false;
  };
  if (has("hidden")) spec += ",hidden=32";
  if (has("op_embedding")) spec += ",op_embedding=8,device_embedding=8";
  if (has("noise")) spec += ",noise=0";
  if (placer != "hierarchical") spec += ",groups=0";
  if (placer == "seq2seq") spec += ",lr=0.01,entropy=0,normalize=false";
  if (placer == "spotlight" || placer == "hierarchical") spec += ",lr=0.01,entropy=0";
  OptionValues o = Learned().ParseOptions(spec);
  size_t start = 0;
  while (start < extra.size()) {
    size_t end = extra.find(',', start);
    if (end == std::string::npos) end = extra.size();
    const std::string kv = extra.substr(start, end - start);
    o.Set(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    start = end + 1;
  }
  return o;
}

inline std::unique_ptr<rl::Trainer> SmallTrainer(const PlacementProblem& p, const std::string& placer, int64_t steps,
                                                 rl::TrainerConfig run = {}, const std::string& extra = "") {
  return rl::MakeTrainer(p, placer, SmallOptions(placer, steps, extra), std::move(run));
}

inline std::vector<at::Tensor> Parameters(const rl::Trainer& t) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : t.policy().parameters()) out.push_back(p.detach().clone());
  return out;
}

inline void ExpectSameParameters(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "parameter " << i;
}

inline std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("allot_rl_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// A placement's devices per decision unit under the policy's greedy decoding, expanded to nodes.
inline std::vector<DeviceId> GreedyPlacement(rl::Trainer& t) {
  torch::NoGradGuard no_grad;
  const rl::Decoded greedy = t.policy().Greedy();
  return rl::ExpandDecision(t.problem(), t.decision_map(), greedy.devices.data());
}

inline const std::vector<double> kUnequal = {1, 2, 3, 4, 5, 6, 7, 8};  // 36 ms in all: the best split is 18 + 18

}  // namespace allot::rltest
