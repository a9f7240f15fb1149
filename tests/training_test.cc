// Training-step synthesis on a 2-layer MLP: exactly the expected gradient and update ops and edges.
#include <gtest/gtest.h>

#include <set>

#include "graph/coarsen.h"
#include "graph/error.h"
#include "graph/graph_stats.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "tests/test_models.h"

namespace allot {
namespace {

Graph MlpForward() {
  onnx::ModelProto m = test::Mlp(2);
  return ImportModel(m, "mlp", ImportOptions{});
}

bool HasEdge(const Graph& g, const std::string& from, const std::string& to) {
  const NodeId a = g.FindNode(from), b = g.FindNode(to);
  if (a == kNone || b == kNone) return false;
  for (NodeId s : g.successors(a))
    if (s == b) return true;
  return false;
}

TEST(TrainingTest, MlpGetsExactlyTheExpectedOps) {
  const Graph fwd = MlpForward();
  const Graph g = SynthesizeTrainingGraph(fwd);
  ASSERT_TRUE(g.is_training());
  std::set<std::string> names;
  for (const Node& n : g.nodes()) names.insert(std::string(n.name));
  const std::set<std::string> expected = {
      "fc1", "relu", "fc2", "allot/loss",                                  // forward + loss
      "grad/allot/loss", "grad/fc2", "grad/relu", "grad/fc1",              // gradients
      "update/W1", "update/b1", "update/W2", "update/b2"};                 // optimizer
  EXPECT_EQ(names, expected);
  // Forward ids are preserved.
  for (NodeId v = 0; v < fwd.num_nodes(); ++v) EXPECT_EQ(g.node(v).name, fwd.node(v).name);

  // Co-location: gradients and updates name their forward op.
  EXPECT_EQ(g.node(g.FindNode("grad/fc2")).forward, g.FindNode("fc2"));
  EXPECT_EQ(g.node(g.FindNode("update/W1")).forward, g.FindNode("fc1"));
  EXPECT_EQ(g.node(g.FindNode("update/b2")).forward, g.FindNode("fc2"));

  // Edges: 3 forward; loss -> its gradient and fc2 -> it (y); gradient chain; saved activations; updates.
  const std::vector<std::pair<std::string, std::string>> edges = {
      {"fc1", "relu"}, {"relu", "fc2"}, {"fc2", "allot/loss"},
      {"allot/loss", "grad/allot/loss"}, {"fc2", "grad/allot/loss"},
      {"grad/allot/loss", "grad/fc2"}, {"relu", "grad/fc2"},      // fc2's gradient needs its input r
      {"grad/fc2", "grad/relu"}, {"relu", "grad/relu"},            // Relu's gradient needs its output only
      {"grad/relu", "grad/fc1"},                                   // x is a graph input: no edge
      {"grad/fc1", "update/W1"}, {"grad/fc1", "update/b1"}, {"grad/fc2", "update/W2"}, {"grad/fc2", "update/b2"}};
  for (const auto& [a, b] : edges) EXPECT_TRUE(HasEdge(g, a, b)) << a << " -> " << b;
  EXPECT_EQ(g.num_edges(), edges.size());

  // fc1's gradient computes dW1 and db1 but no dx.
  const Node& g1 = g.node(g.FindNode("grad/fc1"));
  ASSERT_EQ(g1.outputs.size(), 2u);
  EXPECT_EQ(g.tensor(g1.outputs[0]).name, "grad:W1@fc1");
  EXPECT_EQ(g.tensor(g1.outputs[0]).shape, (std::vector<int64_t>{4, 8}));
  // Costs: fc2's gradient (dx and dW) is two forwards; fc1's (dW only) is one.
  EXPECT_DOUBLE_EQ(g.node(g.FindNode("grad/fc2")).flops, 2 * fwd.node(fwd.FindNode("fc2")).flops);
  EXPECT_DOUBLE_EQ(g.node(g.FindNode("grad/fc1")).flops, fwd.node(fwd.FindNode("fc1")).flops);
  // Momentum keeps one copy of each parameter.
  EXPECT_EQ(g.node(g.FindNode("update/W1")).state_bytes, 4u * 8u * 4u);
}

TEST(TrainingTest, TrainingNeedsMoreMemoryThanInference) {
  const Graph fwd = MlpForward();
  const Graph g = SynthesizeTrainingGraph(fwd, {Optimizer::kAdam});
  const GraphStats a = ComputeStats(fwd), b = ComputeStats(g);
  EXPECT_GT(b.activation_bytes, a.activation_bytes);
  EXPECT_EQ(b.optimizer_state_bytes, 2 * a.parameter_bytes);
  EXPECT_GT(b.flops, 2 * a.flops);
}

TEST(TrainingTest, GraphWithoutParametersIsAnError) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 2});
  test::AddNode(g, "Relu", "r", {"x"}, {"y"});
  test::SetType(g->add_output(), "y", {2, 2});
  const Graph fwd = ImportModel(m, "noparams", ImportOptions{});
  EXPECT_THROW(SynthesizeTrainingGraph(fwd), Error);
}

TEST(CoarsenTest, ForcedColocationAndCap) {
  const Graph g = SynthesizeTrainingGraph(MlpForward());
  const CoarseGraph forced = Coarsen(g);
  EXPECT_EQ(forced.num_groups(), 4u);  // fc1, relu, fc2, loss with their gradients and updates
  EXPECT_EQ(forced.group_of[g.FindNode("grad/fc1")], forced.group_of[g.FindNode("fc1")]);
  EXPECT_EQ(forced.group_of[g.FindNode("update/W2")], forced.group_of[g.FindNode("fc2")]);
  EXPECT_EQ(forced.group_names[forced.group_of[g.FindNode("fc2")]], "fc2");
  double total = 0;
  for (double f : forced.flops) total += f;
  EXPECT_DOUBLE_EQ(total, g.total_flops());

  CoarsenOptions cap;
  cap.max_groups = 2;
  const CoarseGraph two = Coarsen(g, cap);
  EXPECT_EQ(two.num_groups(), 2u);
  EXPECT_EQ(two.member_offsets.back(), g.num_nodes());

  CoarsenOptions fuse;
  fuse.fuse_elementwise = true;
  const CoarseGraph fused = Coarsen(g, fuse);
  EXPECT_EQ(fused.group_of[g.FindNode("relu")], fused.group_of[g.FindNode("fc1")]);
}

TEST(CoarsenTest, ChainsFuseOnlyDownToTheCap) {
  const Graph g = SynthesizeTrainingGraph(MlpForward());  // fc1 -> relu -> fc2 -> loss: one chain
  CoarsenOptions all;
  all.fuse_chains = true;
  EXPECT_EQ(Coarsen(g, all).num_groups(), 1u);

  CoarsenOptions capped = all;
  capped.max_groups = 3;  // one of the three links fuses: the cheapest
  const CoarseGraph three = Coarsen(g, capped);
  ASSERT_EQ(three.num_groups(), 3u);
  const std::vector<std::pair<std::string, std::string>> links = {
      {"fc1", "relu"}, {"relu", "fc2"}, {"fc2", "allot/loss"}};
  size_t cheapest = 0, fused = 0, fused_count = 0;
  auto cost = [&](size_t i) { return g.flops()[g.FindNode(links[i].first)] + g.flops()[g.FindNode(links[i].second)]; };
  for (size_t i = 0; i < links.size(); ++i) {
    if (cost(i) < cost(cheapest)) cheapest = i;
    if (three.group_of[g.FindNode(links[i].first)] == three.group_of[g.FindNode(links[i].second)]) {
      fused = i;
      ++fused_count;
    }
  }
  EXPECT_EQ(fused_count, 1u);
  EXPECT_EQ(fused, cheapest);

  capped.max_groups = 8;  // above the forced count: nothing fuses
  EXPECT_EQ(Coarsen(g, capped).num_groups(), 4u);
}

}  // namespace
}  // namespace allot
