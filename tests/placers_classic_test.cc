// The algorithmic placers (metis, etf, sct, topo) on hand-made graphs with a known optimum, under memory limits,
// with pins, and on generated training graphs (determinism, validity).
#include <gtest/gtest.h>

#include <set>

#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/graph_builder.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "placers/classic_placers.h"
#include "placers/registry.h"

namespace allot {
namespace {

// Identical GPUs "A", "B", ... with links between every pair at `gbps` GB/s and no latency or launch overhead.
Cluster Gpus(int devices, double gbps = 1, uint64_t capacity = 1ull << 40) {
  std::vector<Device> ds;
  std::vector<Link> links;
  for (int i = 0; i < devices; ++i)
    ds.push_back({std::string(1, static_cast<char>('A' + i)), DeviceKind::kGpu, "test", 1e12, 0, 1e12, capacity, 0});
  for (int i = 0; i < devices; ++i)
    for (int j = 0; j < devices; ++j)
      if (i != j) links.push_back({ds[i].name + ds[j].name, ds[i].name, ds[j].name, gbps * 1e9, 0});
  return Cluster("test", ds, links);
}

struct Op {
  std::string name;
  std::vector<std::string> inputs;  // tensor names; "w:<name>:<bytes>" is a parameter of that many bytes
  std::vector<std::pair<std::string, int64_t>> outputs;  // tensor name, bytes
  double seconds;
};

struct Case {
  Graph graph;
  Cluster cluster;
  CostTable costs;
  PlacementProblem problem;
};

std::unique_ptr<Case> Build(const std::vector<Op>& ops, Cluster cluster) {
  GraphBuilder b("test");
  for (const Op& op : ops) {
    NodeDef n;
    n.name = op.name;
    n.op_type = "Test";
    for (const std::string& in : op.inputs) {
      if (in.rfind("w:", 0) == 0) {
        const size_t colon = in.find(':', 2);
        const TensorId t = b.Tensor(in.substr(2, colon - 2));
        b.SetType(t, DType::kUInt8, {std::stoll(in.substr(colon + 1))});
        b.tensor(t).is_parameter = true;
        n.inputs.push_back(t);
      } else {
        n.inputs.push_back(b.Tensor(in));
      }
    }
    for (const auto& [out, bytes] : op.outputs) {
      const TensorId t = b.Tensor(out);
      b.SetType(t, DType::kUInt8, {bytes});
      n.outputs.push_back(t);
    }
    b.AddNode(std::move(n));
  }
  auto c = std::make_unique<Case>();
  c->graph = b.Finalize();
  c->cluster = std::move(cluster);
  c->costs.num_nodes = c->graph.num_nodes();
  c->costs.num_devices = c->cluster.num_devices();
  for (const Op& op : ops)
    for (size_t d = 0; d < c->cluster.num_devices(); ++d) c->costs.time.push_back(op.seconds);
  c->problem = PlacementProblem::Make(c->graph, c->cluster, c->costs);
  return c;
}

std::unique_ptr<Case> Generated(const std::string& spec, Cluster cluster, bool training = true) {
  auto c = std::make_unique<Case>();
  auto [name, options] = models::ParseModelSpec(spec);
  onnx::ModelProto proto = models::Generate(name, options);
  c->graph = ImportModel(proto, spec, ImportOptions{});
  if (training) c->graph = SynthesizeTrainingGraph(c->graph);
  c->cluster = std::move(cluster);
  c->costs = ComputeCosts(c->graph, c->cluster);
  c->problem = PlacementProblem::Make(c->graph, c->cluster, c->costs);
  return c;
}

// The placers under test, created through their own descriptors (the registry test covers registration).
PlacerRegistry Registry() {
  PlacerRegistry r;
  r.Register(MetisPlacerInfo());
  r.Register(EtfPlacerInfo());
  r.Register(SctPlacerInfo());
  r.Register(TopoPlacerInfo());
  return r;
}

std::vector<DeviceId> Place(const Case& c, const std::string& spec) { return Registry().Create(spec)->place(c.problem); }

const SimResult& Simulate(const Case& c, const std::vector<DeviceId>& p) {
  static std::unique_ptr<Simulator> sim;
  sim = std::make_unique<Simulator>(c.graph, c.cluster, c.costs);
  return sim->Run(p);
}

DeviceId On(const Case& c, const std::vector<DeviceId>& p, const std::string& node) { return p[c.graph.FindNode(node)]; }

// Every forward op with its gradient and update ops (co-location), and every device within its capacity.
void ExpectValid(const Case& c, const std::vector<DeviceId>& p, const std::string& spec) {
  ASSERT_EQ(p.size(), c.graph.num_nodes()) << spec;
  for (NodeId n = 0; n < c.graph.num_nodes(); ++n) {
    ASSERT_LT(p[n], c.cluster.num_devices()) << spec;
    const NodeId fwd = c.graph.node(n).forward;
    if (c.graph.node(n).role != NodeRole::kForward && fwd != kNone) {
      EXPECT_EQ(p[n], p[fwd]) << spec << ": " << c.graph.node(n).name << " is not with its forward op";
    }
  }
  const SimResult& r = Simulate(c, p);
  EXPECT_TRUE(r.valid) << spec << ": " << r.error;
  for (DeviceId d = 0; d < c.cluster.num_devices(); ++d)
    EXPECT_LE(r.peak_memory[d], c.cluster.device(d).memory_capacity) << spec << " on " << c.cluster.device(d).name;
}

// Two independent chains of three 1 s ops each.
std::vector<Op> TwoChains() {
  return {{"a0", {}, {{"ta0", 100}}, 1}, {"a1", {"ta0"}, {{"ta1", 100}}, 1}, {"a2", {"ta1"}, {{"ta2", 100}}, 1},
          {"b0", {}, {{"tb0", 100}}, 1}, {"b1", {"tb0"}, {{"tb1", 100}}, 1}, {"b2", {"tb1"}, {{"tb2", 100}}, 1}};
}

TEST(ClassicPlacersTest, DescriptorsDeclareTheirOptions) {
  PlacerRegistry r = Registry();
  EXPECT_EQ(r.ParseOptions("metis").ToSpec(), "devices=gpu,objective=vol,imbalance=1.05,memory_balance=1,seed=1");
  EXPECT_EQ(r.ParseOptions("etf").ToSpec(), "devices=gpu");
  EXPECT_EQ(r.ParseOptions("sct").ToSpec(), "devices=gpu");
  EXPECT_EQ(r.ParseOptions("topo").ToSpec(), "uniform=1,devices=gpu");
  for (const PlacerInfo& info : r.List()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    for (const OptionSpec& o : info.options) EXPECT_FALSE(o.help.empty()) << info.name << ":" << o.name;
  }
  EXPECT_THROW(r.Create("etf:seed=1"), Error);  // only options that do something
  auto c = Build(TwoChains(), Gpus(2));
  EXPECT_THROW(Place(*c, "etf:devices=tpu"), Error);
  EXPECT_THROW(Place(*c, "metis:objective=edges"), Error);
}

TEST(ClassicPlacersTest, TwoIndependentChainsGoToTwoDevices) {
  auto c = Build(TwoChains(), Gpus(2));
  for (const std::string spec : {"etf", "sct", "metis", "metis:objective=cut", "metis:memory_balance=0"}) {
    const auto p = Place(*c, spec);
    EXPECT_EQ(On(*c, p, "a0"), On(*c, p, "a1")) << spec;
    EXPECT_EQ(On(*c, p, "a0"), On(*c, p, "a2")) << spec;
    EXPECT_EQ(On(*c, p, "b0"), On(*c, p, "b1")) << spec;
    EXPECT_EQ(On(*c, p, "b0"), On(*c, p, "b2")) << spec;
    EXPECT_NE(On(*c, p, "a0"), On(*c, p, "b0")) << spec;
    EXPECT_DOUBLE_EQ(Simulate(*c, p).step_time, 3) << spec;  // the optimum: one chain per device
  }
}

// a -> {b, c} -> d with 1 GB tensors: b and c could run in parallel, but only if the copies are cheap.
std::vector<Op> ForkJoin() {
  return {{"a", {}, {{"ta", 1'000'000'000}}, 1},
          {"b", {"ta"}, {{"tb", 1'000'000'000}}, 1},
          {"c", {"ta"}, {{"tc", 1'000'000'000}}, 1},
          {"d", {"tb", "tc"}, {{"td", 1}}, 1}};
}

TEST(ClassicPlacersTest, SlowLinksKeepTheGraphOnOneDevice) {
  auto slow = Build(ForkJoin(), Gpus(2, /*gbps=*/0.1));  // 10 s per copy
  for (const std::string spec : {"etf", "sct"}) {
    const auto p = Place(*slow, spec);
    EXPECT_EQ(std::set<DeviceId>(p.begin(), p.end()).size(), 1u) << spec;
    EXPECT_DOUBLE_EQ(Simulate(*slow, p).step_time, 4) << spec;
  }
  auto chain = Build({{"x", {}, {{"tx", 1'000'000'000}}, 1}, {"y", {"tx"}, {{"ty", 1'000'000'000}}, 1},
                      {"z", {"ty"}, {{"tz", 1}}, 1}},
                     Gpus(3, 0.1));
  for (const std::string spec : {"etf", "sct"}) {
    const auto p = Place(*chain, spec);
    EXPECT_EQ(std::set<DeviceId>(p.begin(), p.end()).size(), 1u) << spec;
  }
  // With 100 GB/s links (0.01 s per copy) ETF runs b and c side by side.
  auto fast = Build(ForkJoin(), Gpus(2, 100));
  const auto p = Place(*fast, "etf");
  EXPECT_NE(On(*fast, p, "b"), On(*fast, p, "c"));
  EXPECT_NEAR(Simulate(*fast, p).step_time, 3.01, 1e-9);  // a; b and c with a 0.01 s copy each way; d
}

// Four 1 s ops in a chain, each owning a 400-byte parameter: 1640 bytes in all, 1000 per device.
std::vector<Op> HeavyChain() {
  return {{"p", {"w:wp:400"}, {{"tp", 10}}, 1},
          {"q", {"tp", "w:wq:400"}, {{"tq", 10}}, 1},
          {"r", {"tq", "w:wr:400"}, {{"tr", 10}}, 1},
          {"s", {"tr", "w:ws:400"}, {{"ts", 10}}, 1}};
}

TEST(ClassicPlacersTest, AGraphTooBigForOneDeviceIsSplitWithinMemory) {
  auto c = Build(HeavyChain(), Gpus(2, 1, /*capacity=*/1000));
  for (const std::string spec : {"etf", "sct", "metis", "metis:memory_balance=0", "topo", "topo:uniform=0"}) {
    const auto p = Place(*c, spec);
    EXPECT_EQ(std::set<DeviceId>(p.begin(), p.end()).size(), 2u) << spec;
    ExpectValid(*c, p, spec);
  }
  // Uniform m-TOPO caps a device at 1640 / 2 + 410 bytes, so the first two ops fill device A.
  const auto topo = Place(*c, "topo");
  EXPECT_EQ(On(*c, topo, "q"), 0);
  EXPECT_EQ(On(*c, topo, "r"), 1);
}

TEST(ClassicPlacersTest, AGraphThatFitsNowhereIsAnError) {
  // One op whose 2000-byte parameter is larger than either device.
  auto c = Build({{"big", {"w:huge:2000"}, {{"t", 10}}, 1}, {"after", {"t"}, {{"u", 10}}, 1}},
                 Gpus(2, 1, /*capacity=*/1000));
  for (const std::string spec : {"etf", "sct", "metis", "topo", "topo:uniform=0"}) {
    try {
      Place(*c, spec);
      ADD_FAILURE() << spec << " placed a graph that fits nowhere";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(spec.substr(0, spec.find(':'))), std::string::npos) << e.what();
    }
  }
  try {
    Place(*c, "etf");
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'big'"), std::string::npos) << what;  // names the op
    EXPECT_NE(what.find("short by"), std::string::npos) << what;  // and the shortfall
  }
}

TEST(ClassicPlacersTest, PinnedOpsStayPut) {
  auto c = Build(TwoChains(), Gpus(3));
  c->problem.pinned[c->graph.FindNode("a1")] = 2;
  c->problem.pinned[c->graph.FindNode("b0")] = 0;
  for (const std::string spec : {"etf", "sct", "metis", "topo"}) {
    const auto p = Place(*c, spec);
    EXPECT_EQ(On(*c, p, "a1"), 2) << spec;
    EXPECT_EQ(On(*c, p, "b0"), 0) << spec;
  }
}

Cluster Shrunk(const std::string& preset, double gpu_gib) {
  const Cluster base = MakePreset(preset);
  std::vector<Device> devices = base.devices();
  for (Device& d : devices)
    if (d.kind == DeviceKind::kGpu) d.memory_capacity = static_cast<uint64_t>(gpu_gib * (1ull << 30));
  return Cluster(base.name() + "-small", devices, base.links());
}

TEST(ClassicPlacersTest, TrainingGraphsArePlacedValidlyAndDeterministically) {
  const std::string model = "nmt,layers=2,seq=6,hidden=256,vocab=2000,batch=32";
  auto c = Generated(model, MakePreset("p100x4"));
  const double single = Simulate(*c, std::vector<DeviceId>(c->graph.num_nodes(), 1)).step_time;
  for (const std::string spec : {"etf", "sct", "metis", "topo", "etf:devices=gpu", "metis:seed=7"}) {
    const auto p = Place(*c, spec);
    ExpectValid(*c, p, spec);
    EXPECT_EQ(Place(*c, spec), p) << spec << ": same seed, same placement";
    if (spec == "etf" || spec == "sct") {
      EXPECT_LT(Simulate(*c, p).step_time, 1.5 * single) << spec;
    }
  }
  // Pins on a generated graph: the whole group (gradient and update ops too) follows the pin.
  const NodeId pinned = c->graph.topo_order()[c->graph.num_nodes() / 3];
  const NodeId fwd = c->graph.node(pinned).role == NodeRole::kForward ? pinned : c->graph.node(pinned).forward;
  c->problem.pinned[fwd] = 3;
  for (const std::string spec : {"etf", "sct", "metis", "topo"}) {
    const auto p = Place(*c, spec);
    const uint32_t group = c->problem.groups.group_of[fwd];
    for (uint32_t i = c->problem.groups.member_offsets[group]; i < c->problem.groups.member_offsets[group + 1]; ++i)
      EXPECT_EQ(p[c->problem.groups.members[i]], 3) << spec;
  }
}

TEST(ClassicPlacersTest, TrainingGraphLargerThanOneGpuIsSpreadWithinMemory) {
  const std::string model = "nmt,layers=2,seq=6,hidden=256,vocab=2000,batch=32";
  auto probe = Generated(model, MakePreset("p100x4"));
  // The peak of the whole step on one GPU; give each GPU 80% of it. (Splitting costs memory: every device that
  // reads a shared weight holds it, and the update's device collects one gradient per reader.)
  const uint64_t peak = Simulate(*probe, std::vector<DeviceId>(probe->graph.num_nodes(), 1)).peak_memory[1];
  auto tight = Generated(model, Shrunk("p100x4", 0.8 * static_cast<double>(peak) / (1ull << 30)));
  // m-TOPO never frees memory in its accounting (as in Baechi), so it needs a looser cap than the schedulers.
  auto loose = Generated(model, Shrunk("p100x4", 0.95 * static_cast<double>(peak) / (1ull << 30)));
  for (const std::string spec : {"etf", "sct", "metis", "topo", "topo:uniform=0", "etf:devices=gpu"}) {
    const auto* c = spec.rfind("topo", 0) == 0 ? loose.get() : tight.get();
    std::vector<DeviceId> p;
    try {
      p = Place(*c, spec);
    } catch (const Error& e) {
      ADD_FAILURE() << spec << ": " << e.what();
      continue;
    }
    ExpectValid(*c, p, spec);
    std::set<DeviceId> gpus;
    for (DeviceId d : p)
      if (c->cluster.device(d).kind == DeviceKind::kGpu) gpus.insert(d);
    EXPECT_GE(gpus.size(), 2u) << spec;
  }
}

TEST(ClassicPlacersTest, SctKeepsAHeavyEdgeWithItsFavouriteChild) {
  // x feeds y (1 GB, 1 s to copy) and z (1 byte); y and z could run side by side after x. The favourite child y
  // stays with x; z, cheap to reach, runs on the other device.
  auto c = Build({{"x", {}, {{"txy", 1'000'000'000}, {"txz", 1}}, 1},
                  {"y", {"txy"}, {{"ty", 1}}, 2},
                  {"z", {"txz"}, {{"tz", 1}}, 2}},
                 Gpus(2));
  for (const std::string spec : {"etf", "sct"}) {
    const auto p = Place(*c, spec);
    EXPECT_EQ(On(*c, p, "x"), On(*c, p, "y")) << spec;
    EXPECT_NE(On(*c, p, "y"), On(*c, p, "z")) << spec;
    EXPECT_NEAR(Simulate(*c, p).step_time, 3, 1e-6) << spec;
  }
}

}  // namespace
}  // namespace allot
