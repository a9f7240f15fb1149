// The placer registry and the placers written without an external solver: single, cpu, random, expert, refine.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "cost_model/cost_graph.h"
#include "cost_model/placement.h"
#include "graph/coarsen.h"
#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "placers/registry.h"

namespace allot {
namespace {

struct Fixture {
  Graph graph;
  Cluster cluster;
  CostTable costs;
  PlacementProblem problem;
};

std::unique_ptr<Fixture> Make(const std::string& spec, const std::string& cluster, bool training) {
  auto f = std::make_unique<Fixture>();
  auto [name, options] = models::ParseModelSpec(spec);
  onnx::ModelProto proto = models::Generate(name, options);
  f->graph = ImportModel(proto, spec, ImportOptions{});
  if (training) f->graph = SynthesizeTrainingGraph(f->graph);
  f->cluster = MakePreset(cluster);
  f->costs = ComputeCosts(f->graph, f->cluster);
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs);
  return f;
}

PlacerRegistry Registry() {
  PlacerRegistry r;
  RegisterClassicPlacers(r);
  return r;
}

double StepTime(const Fixture& f, const std::vector<DeviceId>& p) {
  Simulator sim(f.graph, f.cluster, f.costs);
  const SimResult& r = sim.Run(p);
  EXPECT_TRUE(r.valid) << r.error;
  return r.step_time;
}

TEST(PlacerRegistryTest, ListsEveryClassicPlacerOnceAndCreatesEach) {
  PlacerRegistry r = Registry();
  std::set<std::string> names;
  for (const PlacerInfo& p : r.List()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_EQ(r.Create(p.name)->name(), p.name);
  }
  for (const char* expected : {"single", "cpu", "random", "expert", "metis", "etf", "sct", "topo", "refine"})
    EXPECT_TRUE(names.count(expected)) << expected;
  EXPECT_THROW(r.Create("nope"), Error);
  EXPECT_THROW(r.Create("random:sede=1"), Error);      // unknown option
  EXPECT_THROW(r.Create("random:seed=abc"), Error);    // ill-typed value
  EXPECT_THROW(r.Register(r.List().front()), Error);   // duplicate name
  EXPECT_EQ(r.ParseOptions("random:seed=7").ToSpec(), "seed=7,devices=gpu");
}

TEST(PlacersTest, SingleIsAllOnTheFastestDeviceThatFits) {
  auto f = Make("mlp,batch=32", "p100x2", true);
  const auto p = Registry().Create("single")->place(f->problem);
  std::set<DeviceId> used(p.begin(), p.end());
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(f->cluster.device(*used.begin()).kind, DeviceKind::kGpu);
  const auto cpu = Registry().Create("cpu")->place(f->problem);
  EXPECT_GT(StepTime(*f, cpu), StepTime(*f, p));
}

TEST(PlacersTest, SingleFailsWithTheShortfallWhenNothingFits) {
  auto f = Make("mlp,batch=256", "p100x2", true);
  // Two 1 MiB GPUs: the MLP's 0.8 MB of weights plus its optimizer state and activations fit on neither.
  f->cluster = ParseClusterJson(R"({"name": "tiny", "devices": [
      {"name": "cuda:0", "peak_tflops": 10, "memory_gbps": 700, "memory_gib": 0.0009765625},
      {"name": "cuda:1", "peak_tflops": 10, "memory_gbps": 700, "memory_gib": 0.0009765625}],
      "links": [{"from": "cuda:0", "to": "cuda:1", "gbps": 10}, {"from": "cuda:1", "to": "cuda:0", "gbps": 10}]})",
                                "tiny.json");
  f->costs = ComputeCosts(f->graph, f->cluster);
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs);
  try {
    Registry().Create("single")->place(f->problem);
    FAIL() << "placed a model that fits nowhere";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0 needs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Registry().Create("cpu")->place(f->problem), Error);  // no CPU in this cluster
}

TEST(PlacersTest, ExpertPutsEachLstmLayerOnItsOwnGpu) {
  auto f = Make("nmt,layers=4,seq=6,hidden=64,vocab=200,batch=8", "p100x4", true);
  const auto p = Registry().Create("expert")->place(f->problem);
  for (int layer = 0; layer < 4; ++layer) {
    const NodeId enc = f->graph.FindNode("encoder/l" + std::to_string(layer) + "/t0/matmul");
    const NodeId dec = f->graph.FindNode("decoder/l" + std::to_string(layer) + "/t0/matmul");
    ASSERT_NE(dec, kNone);
    EXPECT_EQ(f->cluster.device(p[dec]).name, "cuda:" + std::to_string(layer));
    if (enc != kNone) {
      EXPECT_EQ(p[enc], p[dec]);
    }
  }
  EXPECT_EQ(f->cluster.device(p[f->graph.FindNode("softmax/t0/matmul")]).name, "cuda:3");
  // Gradients follow their forward op.
  const NodeId grad = f->graph.FindNode("grad/decoder/l2/t0/matmul");
  EXPECT_EQ(p[grad], p[f->graph.FindNode("decoder/l2/t0/matmul")]);
}

TEST(PlacersTest, ExpertPipelinesOtherModels) {
  auto f = Make("resnet50,batch=8", "p100x4", false);
  const auto p = Registry().Create("expert")->place(f->problem);
  EXPECT_EQ(f->cluster.device(p[f->graph.topo_order().front()]).name, "cuda:0");
  EXPECT_EQ(f->cluster.device(p[f->graph.topo_order().back()]).name, "cuda:3");
}

TEST(PlacersTest, RandomIsSeededAndRespectsPins) {
  auto f = Make("nmt,layers=2,seq=4,hidden=32,vocab=50,batch=4", "p100x4", true);
  const NodeId pinned = f->graph.FindNode("softmax/t0/matmul");
  f->problem.pinned[pinned] = f->cluster.FindDevice("cpu:0");
  const auto a = Registry().Create("random:seed=3")->place(f->problem);
  const auto b = Registry().Create("random:seed=3")->place(f->problem);
  const auto c = Registry().Create("random:seed=4")->place(f->problem);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a[pinned], f->cluster.FindDevice("cpu:0"));
  EXPECT_EQ(a[f->graph.FindNode("grad/softmax/t0/matmul")], a[pinned]);
}

TEST(PlacersTest, RefineNeverReturnsWorseThanItsStart) {
  auto f = Make("nmt,layers=2,seq=6,hidden=64,vocab=200,batch=8", "p100x4", true);
  const double start = StepTime(*f, Registry().Create("expert")->place(f->problem));
  const auto refined = Registry().Create("refine:from=expert,iterations=300,seed=2")->place(f->problem);
  EXPECT_LE(StepTime(*f, refined), start);
  EXPECT_EQ(refined, Registry().Create("refine:from=expert,iterations=300,seed=2")->place(f->problem));
}

TEST(PlacersTest, RefineOverCoarseGroupsKeepsEachGroupOnOneDevice) {
  auto f = Make("nmt,layers=2,seq=6,hidden=64,vocab=200,batch=8", "p100x4", true);
  const auto placed = Registry().Create("refine:from=etf,iterations=200,groups=8")->place(f->problem);
  CoarsenOptions co;
  co.fuse_chains = true;
  co.max_groups = 8;
  const CoarseGraph groups = Coarsen(f->graph, co);
  ASSERT_EQ(groups.num_groups(), 8u);
  for (uint32_t g = 0; g < groups.num_groups(); ++g)
    for (uint32_t i = groups.member_offsets[g]; i < groups.member_offsets[g + 1]; ++i)
      EXPECT_EQ(placed[groups.members[i]], placed[groups.members[groups.member_offsets[g]]]);
  StepTime(*f, placed);  // valid
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// A cost graph's own constraints (co-location classes, allowed and pinned devices) hold in every registered
// placer's result. Most placers search within them; `cpu` and `expert` place by rule, and the final Legalize
// (which `allot place` runs after every placer) moves what they put where it may not run.
TEST(PlacerConstraintsTest, EveryPlacerHonoursClassesAndAllowedDevices) {
  // a -> b -> c -> d, a -> e -> d; b and d share a class; e runs on the CPU only; c on the GPUs only.
  const std::string text = R"({"format": "allot-cost-graph", "version": 1, "name": "constrained",
    "nodes": [{"name": "a", "time_us": {"gpu": 100, "cpu": 900}, "output_bytes": 4096},
              {"name": "b", "time_us": {"gpu": 300, "cpu": 2000}, "output_bytes": 4096, "colocation": "bd"},
              {"name": "c", "time_us": {"gpu": 300, "cpu": 2000}, "output_bytes": 4096, "devices": ["gpu"]},
              {"name": "d", "time_us": {"gpu": 100, "cpu": 900}, "output_bytes": 4096, "colocation": "bd"},
              {"name": "e", "time_us": {"gpu": 50, "cpu": 60}, "output_bytes": 4096, "devices": ["cpu"]}],
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"},
              {"from": "a", "to": "e"}, {"from": "e", "to": "d"}]})";
  const CostGraph cg = ParseCostGraph(text, "constrained.json");
  const Cluster cluster = MakePreset("p100x2");
  const CostTable costs = ComputeCosts(cg.graph, cluster, nullptr, &cg.times);
  const PlacementProblem problem = PlacementProblem::Make(cg.graph, cluster, costs, &cg.constraints);
  const auto node = [&](const char* name) { return cg.graph.FindNode(name); };
  EXPECT_EQ(problem.pinned[node("e")], cluster.FindDevice("cpu:0"));  // one allowed device: a pin
  PlacerRegistry registry = Registry();
  for (const PlacerInfo& info : registry.List()) {
    std::vector<DeviceId> placement = registry.Create(info.name)->place(problem);
    const bool searched = placement[node("e")] == cluster.FindDevice("cpu:0") &&
                          placement[node("b")] == placement[node("d")] &&
                          cluster.device(placement[node("c")]).kind == DeviceKind::kGpu;
    if (info.name != "cpu" && info.name != "expert") {
      EXPECT_TRUE(searched) << info.name;
    }
    problem.Legalize(placement);
    EXPECT_EQ(placement[node("b")], placement[node("d")]) << info.name;
    EXPECT_EQ(placement[node("e")], cluster.FindDevice("cpu:0")) << info.name;
    EXPECT_EQ(cluster.device(placement[node("c")]).kind, DeviceKind::kGpu) << info.name;
  }
}

TEST(PlacerConstraintsTest, ContradictoryConstraintsAreOneLineErrors) {
  const Cluster cluster = MakePreset("p100x2");
  auto problem_error = [&](const std::string& nodes, const std::string& edges) {
    nlohmann::json costed = nlohmann::json::parse("[" + nodes + "]");
    for (auto& node : costed) node["flops"] = 1e6;  // the constraints are under test, not the costs
    const CostGraph cg = ParseCostGraph(R"({"format": "allot-cost-graph", "version": 1, "nodes": )" + costed.dump() +
                                            R"(, "edges": [)" + edges + "]}",
                                        "c.json");
    const CostTable costs = ComputeCosts(cg.graph, cluster, nullptr, &cg.times);
    try {
      PlacementProblem::Make(cg.graph, cluster, costs, &cg.constraints);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // A class whose members allow no common device.
  EXPECT_NE(problem_error(R"({"name": "x", "colocation": "k", "devices": ["cpu"]},
                             {"name": "y", "colocation": "k", "devices": ["cuda:1"]})", "")
                .find("node 'y' may run on cuda:1 only, but its co-location class 'k' may run on cpu:0 only"),
            std::string::npos);
  // A class on cuda:0 whose members' data would pass through a node pinned to the CPU: a cycle.
  EXPECT_NE(problem_error(R"({"name": "x", "colocation": "k", "devices": ["cuda:0"]},
                             {"name": "mid", "devices": ["cpu"]}, {"name": "y", "colocation": "k"})",
                          R"({"from": "x", "to": "mid"}, {"from": "mid", "to": "y"})")
                .find("co-location class 'k' (on cuda:0) would form a cycle with node 'mid', pinned to cpu:0"),
            std::string::npos);
  // The same with sets: a class on the GPUs, a node between its members on the CPU or nowhere it may go.
  EXPECT_NE(problem_error(R"({"name": "x", "colocation": "k", "devices": ["cuda:0", "cuda:1"]},
                             {"name": "mid", "devices": ["cpu"]}, {"name": "y", "colocation": "k"})",
                          R"({"from": "x", "to": "mid"}, {"from": "mid", "to": "y"})")
                .find("co-location class 'k' (on cuda:0, cuda:1) would form a cycle with node 'mid', pinned to cpu:0"),
            std::string::npos);
  EXPECT_EQ(problem_error(R"({"name": "x", "colocation": "k", "devices": ["cuda:0", "cuda:1"]},
                             {"name": "mid", "devices": ["cpu", "cuda:1"]}, {"name": "y", "colocation": "k"})",
                          R"({"from": "x", "to": "mid"}, {"from": "mid", "to": "y"})"),
            "");  // mid may join the class on cuda:1
  // A device the cluster lacks.
  EXPECT_NE(problem_error(R"({"name": "x", "devices": ["tpu:0"]})", "").find("node 'x': device 'tpu:0' is not in"),
            std::string::npos);
}

}  // namespace
}  // namespace allot
