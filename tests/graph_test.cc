// The IR: CSR adjacency, bytes, topological order, hash, and the builder's structural errors.
#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/graph_builder.h"
#include "graph/graph_stats.h"
#include "graph/json_io.h"

namespace allot {
namespace {

NodeDef MakeNode(const char* name, const char* op) {
  NodeDef n;
  n.name = name;
  n.op_type = op;
  return n;
}

// a -> b, a -> c, b -> d, c -> d (a diamond), tensors of 4x4 float32 = 64 bytes.
Graph Diamond(bool reversed_ids = false) {
  GraphBuilder b("diamond");
  const TensorId x = b.Tensor("x");
  b.SetType(x, DType::kFloat32, {4, 4});
  b.tensor(x).is_graph_input = true;
  for (const char* t : {"ta", "tb", "tc", "td"}) b.SetType(b.Tensor(t), DType::kFloat32, {4, 4});
  auto add = [&](const char* name, std::vector<const char*> ins, const char* out) {
    NodeDef n;
    n.name = name;
    n.op_type = "Relu";
    for (auto i : ins) n.inputs.push_back(b.Tensor(i));
    n.outputs.push_back(b.Tensor(out));
    n.flops = 16;
    b.AddNode(std::move(n));
  };
  if (reversed_ids) {
    add("d", {"tb", "tc"}, "td");
    add("c", {"ta"}, "tc");
    add("b", {"ta"}, "tb");
    add("a", {"x"}, "ta");
  } else {
    add("a", {"x"}, "ta");
    add("b", {"ta"}, "tb");
    add("c", {"ta"}, "tc");
    add("d", {"tb", "tc"}, "td");
  }
  b.tensor(b.Tensor("td")).is_graph_output = true;
  return b.Finalize();
}

TEST(GraphTest, DiamondAdjacencyAndBytes) {
  const Graph g = Diamond();
  ASSERT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(g.num_edges(), 4u);
  const NodeId a = g.FindNode("a"), d = g.FindNode("d");
  ASSERT_EQ(g.successors(a).size(), 2u);
  EXPECT_EQ(g.successors(a)[0], g.FindNode("b"));
  EXPECT_EQ(g.successor_bytes(a)[0], 64u);
  EXPECT_EQ(g.predecessors(d).size(), 2u);
  EXPECT_EQ(g.consumers(g.FindTensor("ta")).size(), 2u);
  EXPECT_EQ(g.output_bytes()[a], 64u);
  EXPECT_EQ(g.FindNode("nope"), kNone);
}

TEST(GraphTest, TopologicalOrderRespectsEdgesWhateverTheIds) {
  const Graph g = Diamond(/*reversed_ids=*/true);
  const auto& rank = g.topo_rank();
  for (NodeId v = 0; v < g.num_nodes(); ++v)
    for (NodeId s : g.successors(v)) EXPECT_LT(rank[v], rank[s]);
  EXPECT_EQ(g.topo_order().front(), g.FindNode("a"));
  EXPECT_EQ(g.topo_order().back(), g.FindNode("d"));
}

TEST(GraphTest, HashIsStableAndSensitive) {
  // Pinned: placement files, trained policies and checkpoints name their graph by this value, so a change to
  // what is hashed invalidates every saved one (the value allot has computed since the first IR).
  EXPECT_EQ(Diamond().hash_hex(), "8a2c6616e25cfee4");
  EXPECT_EQ(Diamond().hash(), Diamond().hash());
  EXPECT_NE(Diamond().hash(), Diamond(true).hash());
  EXPECT_EQ(Diamond().hash_hex().size(), 16u);
}

// Names live in the graph's arena as offsets, so copies and moves keep their lookups and views.
TEST(GraphTest, CopiesAndMovesKeepNameLookups) {
  Graph copy;
  {
    const Graph original = Diamond();
    copy = original;
  }
  Graph moved = std::move(copy);
  ASSERT_NE(moved.FindNode("c"), kNone);
  EXPECT_EQ(moved.node(moved.FindNode("c")).name, "c");
  EXPECT_EQ(moved.tensor_name(moved.FindTensor("tc")), "tc");
  EXPECT_EQ(moved.FindTensor("nope"), kNone);
  EXPECT_EQ(moved.hash(), Diamond().hash());
}

// The builder reads names and shapes from its own storage safely while it grows.
TEST(GraphTest, BuilderAcceptsItsOwnNamesAndShapes) {
  GraphBuilder b("self");
  const TensorId x = b.Tensor("input_tensor");
  b.SetType(x, DType::kFloat32, {2, 3});
  b.tensor(x).is_graph_input = true;
  EXPECT_EQ(b.Tensor(b.graph().tensor_name(x)), x);
  for (int i = 0; i < 1000; ++i) {  // enough growth to move the arena and the dims pool
    const TensorId t = b.Tensor(b.graph().tensor_name(x).substr(0, 5 + i % 7));
    b.SetType(t, DType::kFloat32, b.graph().tensor(x).shape);
  }
  EXPECT_EQ(b.graph().tensor_name(b.Tensor("input")), "input");
  EXPECT_EQ(b.graph().tensor(b.Tensor("input")).shape, (std::vector<int64_t>{2, 3}));
  const TensorId y = b.Tensor("y");
  b.SetType(y, DType::kFloat32, {2, 3});
  EXPECT_EQ(b.AppendNode("n", "Relu", "", std::vector<TensorId>{x}, std::vector<TensorId>{y}), 0u);
  const TensorId z = b.Tensor("z");
  b.SetType(z, DType::kFloat32, {2, 3});
  EXPECT_EQ(b.AppendNode("n", "Relu", "", std::vector<TensorId>{y}, std::vector<TensorId>{z}), 1u);
  b.tensor(z).is_graph_output = true;
  const Graph g = b.Finalize();
  EXPECT_EQ(g.node(1).name, "n__2");  // AppendNode renames a taken name
  EXPECT_EQ(g.node(1).inputs.front(), y);
  EXPECT_EQ(g.op_id(0), g.op_id(1));
}

TEST(GraphTest, StatsOfDiamond) {
  const GraphStats s = ComputeStats(Diamond());
  EXPECT_EQ(s.nodes, 4u);
  EXPECT_EQ(s.depth, 3u);
  EXPECT_DOUBLE_EQ(s.critical_path_flops, 48);
  EXPECT_DOUBLE_EQ(s.flops, 64);
  EXPECT_EQ(s.activation_bytes, 256u);
  // a runs (64), b (128), c (192, ta freed after c), d (192 - 64 + 64): the peak is three live tensors.
  EXPECT_EQ(s.peak_activation_bytes, 192u);
}

TEST(GraphTest, CycleIsAnErrorNamingItsNodes) {
  GraphBuilder b("cyclic.onnx");
  NodeDef p = MakeNode("p", "Relu"), q = MakeNode("q", "Relu");
  p.inputs = {b.Tensor("tq")};
  p.outputs = {b.Tensor("tp")};
  q.inputs = {b.Tensor("tp")};
  q.outputs = {b.Tensor("tq")};
  b.AddNode(p);
  b.AddNode(q);
  try {
    b.Finalize();
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cyclic.onnx"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'p'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(GraphTest, DanglingInputAndDuplicateProducerAreErrors) {
  {
    GraphBuilder b("m.onnx");
    NodeDef n = MakeNode("n", "Relu");
    n.inputs = {b.Tensor("ghost")};
    n.outputs = {b.Tensor("out")};
    b.AddNode(n);
    EXPECT_THROW(b.Finalize(), Error);
  }
  {
    GraphBuilder b("m.onnx");
    b.tensor(b.Tensor("x")).is_graph_input = true;
    NodeDef n1 = MakeNode("n1", "Relu"), n2 = MakeNode("n2", "Relu");
    n1.inputs = n2.inputs = {b.Tensor("x")};
    n1.outputs = n2.outputs = {b.Tensor("out")};
    b.AddNode(n1);
    b.AddNode(n2);
    EXPECT_THROW(b.Finalize(), Error);
  }
  {
    GraphBuilder b("m.onnx");
    b.AddNode(MakeNode("same", "Relu"));
    EXPECT_THROW(b.AddNode(MakeNode("same", "Relu")), Error);
    EXPECT_EQ(b.UniqueNodeName("same"), "same__2");
  }
}

TEST(JsonIoTest, AppendedFieldsKeepTheirOrderAndReadBack) {
  nlohmann::ordered_json j;  // null becomes an object
  AppendDistinctField(j, "zeta", "cuda:1");
  AppendDistinctField(j, "alpha", 2);
  EXPECT_EQ(j.dump(), R"({"zeta":"cuda:1","alpha":2})");
  EXPECT_EQ(j["alpha"], 2);  // lookups see appended fields
  EXPECT_EQ(ParseJsonText(j.dump(), "t").size(), 2u);
}

}  // namespace
}  // namespace allot
