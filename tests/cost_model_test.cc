// Op costs, profiles, cost graphs, placement files and traces.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cost_model/bounds.h"
#include "cost_model/cost_graph.h"
#include "cost_model/op_costs.h"
#include "cost_model/placement.h"
#include "cost_model/profile.h"
#include "cost_model/simulator.h"
#include "cost_model/trace.h"
#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "tests/test_models.h"

namespace allot {
namespace {

Graph Mlp() {
  onnx::ModelProto m = test::Mlp(64);
  return ImportModel(m, "mlp", ImportOptions{});
}

TEST(OpCostsTest, RooflineFavoursTheGpuAndProfilesOverride) {
  const Graph g = Mlp();
  const Cluster cluster = MakePreset("p100x2");
  const CostTable costs = ComputeCosts(g, cluster);
  const NodeId fc1 = g.FindNode("fc1");
  const DeviceId cpu = cluster.FindDevice("cpu:0"), gpu = cluster.FindDevice("cuda:0");
  EXPECT_GT(costs.at(fc1, gpu), cluster.device(gpu).launch_overhead);
  EXPECT_EQ(costs.profiled_nodes, 0u);

  Profile profile;
  profile.Add(OpSignature(g, fc1), "cuda:0", DeviceKind::kGpu, 0.5, 3);
  const Profile reread = Profile::FromJson(profile.ToJson(), "p.json");
  const CostTable measured = ComputeCosts(g, cluster, &reread);
  EXPECT_DOUBLE_EQ(measured.at(fc1, gpu), 0.5);
  EXPECT_DOUBLE_EQ(measured.at(fc1, cluster.FindDevice("cuda:1")), 0.5);  // by kind
  EXPECT_DOUBLE_EQ(measured.at(fc1, cpu), costs.at(fc1, cpu));           // not covered
  EXPECT_EQ(measured.profiled_nodes, 1u);
  EXPECT_THROW(Profile::FromJson(R"({"ops": [{"signature": "x"}]})", "bad.json"), Error);
}

TEST(CostGraphTest, ReadsNodesEdgesTimesAndMemory) {
  const CostGraph cg = ParseCostGraph(R"({"format": "allot-cost-graph", "version": 1,
      "nodes": [{"name": "a", "op": "MatMul", "time_us": {"gpu": 10, "cpu": 100}, "output_bytes": 1000,
                 "memory_bytes": 4000},
                {"name": "b", "time_us": {"gpu": 20}, "output_bytes": 10},
                {"name": "c", "time_us": {"gpu": 5}, "output_bytes": 10}],
      "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c", "bytes": 500}, {"from": "b", "to": "c"}]})",
                                     "g.json");
  const Graph& g = cg.graph;
  ASSERT_EQ(g.num_nodes(), 3u);
  EXPECT_EQ(g.num_edges(), 3u);
  EXPECT_EQ(g.successor_bytes(g.FindNode("a"))[0], 1000u);  // a -> b carries a's output
  EXPECT_EQ(g.total_parameter_bytes(), 4000u);
  const Cluster cluster = MakePreset("p100x2");
  const CostTable costs = ComputeCosts(g, cluster, nullptr, &cg.times);
  EXPECT_DOUBLE_EQ(costs.at(g.FindNode("a"), cluster.FindDevice("cpu:0")), 100e-6);
  EXPECT_DOUBLE_EQ(costs.at(g.FindNode("b"), cluster.FindDevice("cuda:1")), 20e-6);
  EXPECT_EQ(costs.given_nodes, 3u);
  Simulator sim(g, cluster, costs);
  EXPECT_NEAR(sim.Run(std::vector<DeviceId>(3, 1)).step_time, 35e-6, 1e-12);

  for (const char* bad : {R"({"nodes": []})", R"({"format": "allot-cost-graph", "nodes": [{"op": "x"}]})",
                          R"({"format": "allot-cost-graph", "nodes": [{"name": "a"}], "edges": [{"from": "a", "to": "z"}]})",
                          "not json"}) {
    try {
      ParseCostGraph(bad, "bad.json");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("bad.json", 0), 0u) << e.what();
    }
  }
}

TEST(PlacementFileTest, RoundTripsAndRejectsBadFiles) {
  const Graph g = SynthesizeTrainingGraph(Mlp());
  const Cluster cluster = MakePreset("p100x2");
  std::vector<DeviceId> p(g.num_nodes(), 1);
  p[g.FindNode("fc2")] = 2;
  ExpandPlacement(g, p);
  EXPECT_EQ(p[g.FindNode("grad/fc2")], 2);
  PlacementInfo info;
  info.model = "mlp";
  info.mode = "training";
  info.placer = "test";
  const std::string text = PlacementToJson(g, cluster, p, info, nullptr);
  EXPECT_EQ(ParsePlacementJson(text, "p.json", g, cluster), p);

  auto error_of = [&](const std::string& t) {
    try {
      ParsePlacementJson(t, "p.json", g, cluster);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  nlohmann::json j = nlohmann::json::parse(text);
  auto with = [&](auto edit) {
    nlohmann::json copy = j;
    edit(copy);
    return copy.dump();
  };
  EXPECT_NE(error_of(with([](auto& c) { c["graph_hash"] = "0000000000000000"; })).find("graph_hash"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["placement"]["ghost"] = "cuda:0"; })).find("ghost"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["placement"]["fc1"] = "tpu:0"; })).find("tpu:0"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["placement"].erase("relu"); })).find("'relu' is missing"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["placement"]["grad/fc1"] = "cuda:0"; })).find("gradient"), std::string::npos);
  EXPECT_NE(error_of("{\"version\": 1, ").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c.erase("graph_hash"); })).find("missing field 'graph_hash'"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["devices"] = nlohmann::json::array(); })).find("field 'devices' must be"),
            std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c["devices"][0] = "tpu:7"; })).find("names 'tpu:7', which cluster p100x2 lacks"),
            std::string::npos);
  // A repeated key is refused rather than read as its last value.
  std::string twice = text;
  twice.insert(twice.find('{') + 1, "\"mode\": \"inference\",");
  EXPECT_NE(error_of(twice).find("key 'mode' appears twice in one object"), std::string::npos);
  // A value quoted in an error is cut to a readable length.
  const std::string long_name = error_of(with([](auto& c) { c["devices"][0] = std::string(100000, 'x'); }));
  EXPECT_LT(long_name.size(), 200u);
  EXPECT_NE(long_name.find("(100000 characters)"), std::string::npos);
  EXPECT_NE(error_of(with([](auto& c) { c.erase("version"); })).find("version"), std::string::npos);
  for (const std::string& msg : {error_of("[]"), error_of(with([](auto& c) { c["placement"] = 3; }))}) {
    EXPECT_EQ(msg.rfind("p.json: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(TraceTest, HasATrackPerDeviceAndLinkAndAnEventPerOp) {
  const Graph g = Mlp();
  const Cluster cluster = MakePreset("p100x2");
  const CostTable costs = ComputeCosts(g, cluster);
  SimOptions options;
  options.record_schedule = true;
  Simulator sim(g, cluster, costs, options);
  std::vector<DeviceId> p(g.num_nodes(), 1);
  p[g.FindNode("fc2")] = 2;
  const SimResult& r = sim.Run(p);
  const nlohmann::json trace = nlohmann::json::parse(ChromeTrace(g, cluster, r));
  size_t ops = 0, transfers = 0, tracks = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") ++tracks;
    if (e["ph"] == "X" && e["pid"] == 0) ++ops;
    if (e["ph"] == "X" && e["pid"] == 1) ++transfers;
  }
  EXPECT_EQ(tracks, cluster.num_devices() + cluster.links().size());
  EXPECT_EQ(ops, g.num_nodes());
  EXPECT_EQ(transfers, 2u);  // relu's output up to the host and down to cuda:1
}

}  // namespace
}  // namespace allot
