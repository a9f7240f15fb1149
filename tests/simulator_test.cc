// The event-driven simulator against hand-computed schedules, plus memory, contention, bounds and determinism.
#include <gtest/gtest.h>

#include <random>

#include "cost_model/bounds.h"
#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/graph_builder.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "tests/test_models.h"

namespace allot {
namespace {

constexpr double kGBps = 1e9;

// Devices "A", "B" (and "C"): 1 GB/s links between every pair, no latency, no launch overhead.
Cluster TestCluster(int devices = 2, uint64_t capacity = 1ull << 40) {
  std::vector<Device> ds;
  std::vector<Link> links;
  const char* names[] = {"A", "B", "C"};
  for (int i = 0; i < devices; ++i) ds.push_back({names[i], DeviceKind::kGpu, "test", 1e12, 0, 1e12, capacity, 0});
  for (int i = 0; i < devices; ++i)
    for (int j = 0; j < devices; ++j)
      if (i != j) links.push_back({std::string(names[i]) + names[j], names[i], names[j], kGBps, 0});
  return Cluster("test", ds, links);
}

struct Op {
  const char* name;
  std::vector<const char*> inputs;  // tensor names
  std::vector<std::pair<const char*, int64_t>> outputs;  // tensor name, bytes
  double seconds;
};

struct Case {
  Graph graph;
  CostTable costs;
};

Case Build(const std::vector<Op>& ops, size_t devices, std::vector<const char*> graph_outputs = {}) {
  GraphBuilder b("test");
  for (const Op& op : ops) {
    NodeDef n;
    n.name = op.name;
    n.op_type = "Test";
    for (auto in : op.inputs) n.inputs.push_back(b.Tensor(in));
    for (auto [out, bytes] : op.outputs) {
      const TensorId t = b.Tensor(out);
      b.SetType(t, DType::kUInt8, {bytes});
      n.outputs.push_back(t);
    }
    b.AddNode(std::move(n));
  }
  for (auto o : graph_outputs) b.tensor(b.Tensor(o)).is_graph_output = true;
  Case c{b.Finalize(), {}};
  c.costs.num_nodes = c.graph.num_nodes();
  c.costs.num_devices = devices;
  for (const Op& op : ops)
    for (size_t d = 0; d < devices; ++d) c.costs.time.push_back(op.seconds);
  return c;
}

std::vector<DeviceId> Place(const Graph& g, std::map<std::string, DeviceId> where) {
  std::vector<DeviceId> p(g.num_nodes(), 0);
  for (auto& [name, d] : where) p[g.FindNode(name)] = d;
  return p;
}

TEST(SimulatorTest, ChainOnOneDeviceSumsItsOps) {
  Case c = Build({{"a", {}, {{"ta", 100}}, 1}, {"b", {"ta"}, {{"tb", 100}}, 2}, {"c", {"tb"}, {{"tc", 100}}, 3}}, 2);
  const Cluster cluster = TestCluster();
  Simulator sim(c.graph, cluster, c.costs);
  const SimResult& r = sim.Run(Place(c.graph, {}));
  EXPECT_DOUBLE_EQ(r.step_time, 6);
  EXPECT_DOUBLE_EQ(r.busy[0], 6);
  EXPECT_EQ(r.transfers_count, 0u);
}

TEST(SimulatorTest, ChainAcrossDevicesPaysTheTransfer) {
  Case c = Build({{"a", {}, {{"ta", 1'000'000'000}}, 1}, {"b", {"ta"}, {{"tb", 10}}, 2}}, 2);
  const Cluster cluster = TestCluster();
  Simulator sim(c.graph, cluster, c.costs);
  const SimResult& r = sim.Run(Place(c.graph, {{"b", 1}}));
  EXPECT_DOUBLE_EQ(r.step_time, 1 + 1 + 2);  // a, 1 GB over 1 GB/s, b
  EXPECT_EQ(r.link_bytes[0], 1'000'000'000u);
}

TEST(SimulatorTest, DiamondWithTransfers) {
  // a -> {b on B, c} -> d; 0.1 s per transfer.
  Case c = Build({{"a", {}, {{"ta", 100'000'000}}, 1},
                  {"b", {"ta"}, {{"tb", 100'000'000}}, 2},
                  {"c", {"ta"}, {{"tc", 100'000'000}}, 3},
                  {"d", {"tb", "tc"}, {{"td", 1}}, 1}},
                 2);
  const Cluster cluster = TestCluster();
  SimOptions record;
  record.record_schedule = true;
  Simulator sim(c.graph, cluster, c.costs, record);
  const SimResult& r = sim.Run(Place(c.graph, {{"b", 1}}));
  // a 0-1; ta to B 1-1.1; b 1.1-3.1; c 1-4; tb to A 3.1-3.2; d 4-5.
  EXPECT_DOUBLE_EQ(r.step_time, 5);
  ASSERT_EQ(r.transfers.size(), 2u);
  EXPECT_NEAR(r.transfers[1].start, 3.1, 1e-12);
  EXPECT_NEAR(r.transfers[1].end, 3.2, 1e-12);
  EXPECT_EQ(r.ops.size(), 4u);
}

TEST(SimulatorTest, ForkJoinTransfersContendOnASharedLink) {
  // a (on A) feeds b and c (on B) through two tensors of 1 s each on the one A->B link.
  const std::vector<Op> ops = {{"a", {}, {{"t1", 1'000'000'000}, {"t2", 1'000'000'000}}, 1},
                               {"b", {"t1"}, {{"tb", 1}}, 1},
                               {"c", {"t2"}, {{"tc", 1}}, 1},
                               {"d", {"tb", "tc"}, {{"td", 1}}, 1}};
  Case c = Build(ops, 3);
  const Cluster cluster = TestCluster(3);
  Simulator sim(c.graph, cluster, c.costs);
  // Same destination: t1 1-2, t2 2-3 (queued); b 2-3, c 3-4; d on B 4-5.
  EXPECT_DOUBLE_EQ(sim.Run(Place(c.graph, {{"b", 1}, {"c", 1}, {"d", 1}})).step_time, 5);
  // Different destinations use different links: t1 to B and t2 to C both 1-2; b, c 2-3; tc C->B 3-3; d 3-4.
  EXPECT_NEAR(sim.Run(Place(c.graph, {{"b", 1}, {"c", 2}, {"d", 1}})).step_time, 4, 1e-6);
}

TEST(SimulatorTest, TensorGoesOnceToEachDevice) {
  Case c = Build({{"a", {}, {{"ta", 1'000'000'000}}, 1}, {"b", {"ta"}, {{"tb", 1}}, 1}, {"c", {"ta"}, {{"tc", 1}}, 1}}, 2);
  const Cluster cluster = TestCluster();
  Simulator sim(c.graph, cluster, c.costs);
  const SimResult& r = sim.Run(Place(c.graph, {{"b", 1}, {"c", 1}}));
  EXPECT_EQ(r.transfers_count, 1u);
  EXPECT_DOUBLE_EQ(r.step_time, 1 + 1 + 1 + 1);
}

TEST(SimulatorTest, MemoryLivenessAndOverflow) {
  // a -> b -> c, 100 bytes each: a's output dies once b ran, so at most two tensors are alive.
  Case chain = Build({{"a", {}, {{"ta", 100}}, 1}, {"b", {"ta"}, {{"tb", 100}}, 1}, {"c", {"tb"}, {{"tc", 100}}, 1}},
                     2, {"tc"});
  const Cluster roomy = TestCluster();
  Simulator sim(chain.graph, roomy, chain.costs);
  EXPECT_EQ(sim.Run(Place(chain.graph, {})).peak_memory[0], 200u);

  // a feeds b and c, whose outputs are kept: 300 bytes on one device, 200 on each when c moves to B.
  Case fork = Build({{"a", {}, {{"ta", 100}}, 1}, {"b", {"ta"}, {{"tb", 100}}, 1}, {"c", {"ta"}, {{"tc", 100}}, 1}},
                    2, {"tb", "tc"});
  const Cluster tight = TestCluster(2, 250);
  Simulator small(fork.graph, tight, fork.costs);
  const SimResult& r = small.Run(Place(fork.graph, {}));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.peak_memory[0], 300u);
  EXPECT_NE(r.error.find("A needs"), std::string::npos) << r.error;
  const SimResult& split = small.Run(Place(fork.graph, {{"c", 1}}));
  EXPECT_TRUE(split.valid) << split.error;
  EXPECT_EQ(split.peak_memory[0], 200u);
  EXPECT_EQ(split.peak_memory[1], 200u);
}

TEST(SimulatorTest, TrainingNeedsMoreMemoryThanInference) {
  auto [name, options] = models::ParseModelSpec("mlp,batch=64");
  onnx::ModelProto proto = models::Generate(name, options);
  const Graph inference = ImportModel(proto, "mlp", ImportOptions{});
  const Graph training = SynthesizeTrainingGraph(inference);
  const Cluster cluster = MakePreset("p100x2");
  auto peak = [&](const Graph& g) {
    const CostTable costs = ComputeCosts(g, cluster);
    Simulator sim(g, cluster, costs);
    return sim.Run(std::vector<DeviceId>(g.num_nodes(), 1)).peak_memory[1];
  };
  EXPECT_GT(peak(training), peak(inference));
}

TEST(SimulatorTest, CriticalPathOrderRunsTheLongTailFirst) {
  // Both x and y are ready at 0 on A; y leads to a long op on B. FIFO runs x first (lower id), delaying y.
  Case c = Build({{"x", {}, {{"tx", 1}}, 2}, {"y", {}, {{"ty", 1}}, 1}, {"z", {"ty"}, {{"tz", 1}}, 5}}, 2);
  const Cluster cluster = TestCluster();
  const auto p = Place(c.graph, {{"z", 1}});
  Simulator fifo(c.graph, cluster, c.costs);
  SimOptions cp;
  cp.order = DispatchOrder::kCriticalPath;
  Simulator critical(c.graph, cluster, c.costs, cp);
  EXPECT_NEAR(fifo.Run(p).step_time, 2 + 1 + 5, 1e-6);
  EXPECT_NEAR(critical.Run(p).step_time, 1 + 5, 1e-6);
}

TEST(SimulatorTest, NeverBeatsTheLowerBoundAndIsDeterministic) {
  auto [name, options] = models::ParseModelSpec("nmt,layers=2,seq=4,hidden=64,vocab=100,batch=8");
  onnx::ModelProto proto = models::Generate(name, options);
  const Graph g = SynthesizeTrainingGraph(ImportModel(proto, "nmt", ImportOptions{}));
  const Cluster cluster = MakePreset("p100x4");
  const CostTable costs = ComputeCosts(g, cluster);
  const LowerBound lb = ComputeLowerBound(g, costs);
  Simulator sim(g, cluster, costs);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<DeviceId> p(g.num_nodes());
    for (auto& d : p) d = static_cast<DeviceId>(rng() % cluster.num_devices());
    ExpandPlacement(g, p);
    const double first = sim.Run(p).step_time;
    EXPECT_GE(first, lb.value() * (1 - 1e-9));
    Simulator fresh(g, cluster, costs);
    EXPECT_EQ(fresh.Run(p).step_time, first);  // bit-identical, whatever ran before
  }
}

TEST(ClusterTest, PresetsRouteThroughTheirTopology) {
  const Cluster pcie = MakePreset("p100x4");
  const DeviceId g0 = pcie.FindDevice("cuda:0"), g1 = pcie.FindDevice("cuda:1");
  EXPECT_EQ(pcie.route(g0, g1).size(), 2u);  // up to the host, down to the other GPU
  const Cluster nvswitch = MakePreset("h100x8");
  EXPECT_LT(nvswitch.TransferTime(nvswitch.FindDevice("cuda:0"), nvswitch.FindDevice("cuda:5"), 1 << 30),
            pcie.TransferTime(g0, g1, 1 << 30));
  EXPECT_EQ(MakePreset("cpu2").num_devices(), 2u);
  EXPECT_THROW(MakePreset("tpu9"), Error);
  // A spec printed as JSON reads back to the same devices and routes.
  const Cluster round = ParseClusterJson(pcie.ToJson(), "p100x4.json");
  EXPECT_EQ(round.num_devices(), pcie.num_devices());
  EXPECT_EQ(round.route(g0, g1), pcie.route(g0, g1));
  EXPECT_THROW(ParseClusterJson(R"({"devices": [{"name": "x"}]})", "bad.json"), Error);
}

}  // namespace
}  // namespace allot
