// Placement export: the annotated model (checker, read-back, same graph), the split into per-device submodels
// (checker, acyclic stages, and the same outputs as the whole model under a small reference evaluator), and
// `allot export` at its boundary (every format; bad placements and outputs fail with one line and leave nothing).
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "cost_model/cluster.h"
#include "cost_model/placement.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/onnx_export.h"
#include "graph/onnx_import.h"
#include "tests/cli_runner.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "tests/test_models.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

// ---- A reference evaluator for a handful of ops on float tensors ----

struct Val {
  std::vector<int64_t> shape;
  std::vector<float> data;
  bool operator==(const Val& o) const { return shape == o.shape && data == o.data; }
};

int64_t Count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Val FromProto(const onnx::TensorProto& t) {
  Val v;
  v.shape.assign(t.dims().begin(), t.dims().end());
  const size_t n = static_cast<size_t>(Count(v.shape));
  v.data.resize(n);
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!t.raw_data().empty()) std::memcpy(v.data.data(), t.raw_data().data(), n * sizeof(float));
      else for (size_t i = 0; i < n; ++i) v.data[i] = t.float_data(static_cast<int>(i));
      break;
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::INT32:
      for (size_t i = 0; i < n; ++i)
        v.data[i] = t.raw_data().empty() ? static_cast<float>(t.int32_data(static_cast<int>(i)))
                                         : static_cast<float>(t.raw_data()[i]);
      break;
    default:
      throw Error("evaluator: initializer '" + t.name() + "' has an unsupported type");
  }
  return v;
}

const onnx::AttributeProto* Attr(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

template <typename F>
Val Broadcast(const Val& a, const Val& b, F f) {
  const size_t r = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> as(r, 1), bs(r, 1), os(r);
  std::copy(a.shape.begin(), a.shape.end(), as.begin() + static_cast<long>(r - a.shape.size()));
  std::copy(b.shape.begin(), b.shape.end(), bs.begin() + static_cast<long>(r - b.shape.size()));
  for (size_t i = 0; i < r; ++i) {
    if (as[i] != bs[i] && as[i] != 1 && bs[i] != 1) throw Error("evaluator: shapes do not broadcast");
    os[i] = std::max(as[i], bs[i]);
  }
  Val out{os, std::vector<float>(static_cast<size_t>(Count(os)))};
  std::vector<int64_t> idx(r, 0);
  for (size_t k = 0; k < out.data.size(); ++k) {
    int64_t ai = 0, bi = 0;
    for (size_t i = 0; i < r; ++i) {
      ai = ai * as[i] + (as[i] == 1 ? 0 : idx[i]);
      bi = bi * bs[i] + (bs[i] == 1 ? 0 : idx[i]);
    }
    out.data[k] = f(a.data[static_cast<size_t>(ai)], b.data[static_cast<size_t>(bi)]);
    for (size_t i = r; i-- > 0;) {
      if (++idx[i] < os[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

// C = alpha * op(A) op(B) + beta * bias, 2-D.
Val MatMul2(const Val& a, const Val& b, bool ta, bool tb) {
  if (a.shape.size() != 2 || b.shape.size() != 2) throw Error("evaluator: MatMul/Gemm takes 2-D tensors");
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t n = tb ? b.shape[0] : b.shape[1];
  if ((tb ? b.shape[1] : b.shape[0]) != k) throw Error("evaluator: MatMul inner dims differ");
  Val out{{m, n}, std::vector<float>(static_cast<size_t>(m * n), 0.f)};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += a.data[static_cast<size_t>(ta ? p * m + i : i * k + p)] *
             b.data[static_cast<size_t>(tb ? j * k + p : p * n + j)];
      out.data[static_cast<size_t>(i * n + j)] = s;
    }
  return out;
}

std::vector<Val> EvalGraph(const onnx::GraphProto& g, std::map<std::string, Val> env, const std::vector<Val>& inputs) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) {
    env[t.name()] = FromProto(t);
    inits.insert(t.name());
  }
  size_t k = 0;
  for (const auto& vi : g.input()) {
    if (inits.count(vi.name())) continue;
    if (k >= inputs.size()) throw Error("evaluator: input '" + vi.name() + "' not given");
    env[vi.name()] = inputs[k++];
  }
  if (k != inputs.size()) throw Error("evaluator: too many inputs");
  auto in = [&env](const onnx::NodeProto& node, int i) -> const Val& {
    auto it = env.find(node.input(i));
    if (it == env.end()) throw Error("evaluator: '" + node.input(i) + "' is undefined");
    return it->second;
  };
  for (const auto& node : g.node()) {
    const std::string& op = node.op_type();
    std::vector<Val> outs;
    if (op == "Add") outs.push_back(Broadcast(in(node, 0), in(node, 1), [](float x, float y) { return x + y; }));
    else if (op == "Mul") outs.push_back(Broadcast(in(node, 0), in(node, 1), [](float x, float y) { return x * y; }));
    else if (op == "Relu") {
      Val v = in(node, 0);
      for (float& x : v.data) x = std::max(x, 0.f);
      outs.push_back(std::move(v));
    } else if (op == "Identity") {
      outs.push_back(in(node, 0));
    } else if (op == "MatMul") {
      outs.push_back(MatMul2(in(node, 0), in(node, 1), false, false));
    } else if (op == "Gemm") {
      const auto* ta = Attr(node, "transA");
      const auto* tb = Attr(node, "transB");
      const auto* alpha = Attr(node, "alpha");
      const auto* beta = Attr(node, "beta");
      Val y = MatMul2(in(node, 0), in(node, 1), ta && ta->i(), tb && tb->i());
      const float al = alpha ? alpha->f() : 1.f, be = beta ? beta->f() : 1.f;
      for (float& x : y.data) x *= al;
      if (node.input_size() > 2 && !node.input(2).empty())
        y = Broadcast(y, in(node, 2), [be](float x, float c) { return x + be * c; });
      outs.push_back(std::move(y));
    } else if (op == "If") {
      const bool cond = in(node, 0).data.at(0) != 0;
      const auto* body = Attr(node, cond ? "then_branch" : "else_branch");
      outs = EvalGraph(body->g(), env, {});
    } else {
      throw Error("evaluator: op " + op + " is not supported");
    }
    if (outs.size() != static_cast<size_t>(node.output_size())) throw Error("evaluator: output count of " + op);
    for (size_t i = 0; i < outs.size(); ++i) env[node.output(static_cast<int>(i))] = std::move(outs[i]);
  }
  std::vector<Val> result;
  for (const auto& vi : g.output()) {
    auto it = env.find(vi.name());
    if (it == env.end()) throw Error("evaluator: output '" + vi.name() + "' was not computed");
    result.push_back(it->second);
  }
  return result;
}

std::vector<Val> Evaluate(const onnx::ModelProto& m, const std::vector<Val>& inputs) {
  return EvalGraph(m.graph(), {}, inputs);
}

Val Ramp(std::vector<int64_t> shape, float scale = 0.25f, float offset = -0.4f) {
  Val v{shape, std::vector<float>(static_cast<size_t>(Count(shape)))};
  for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = offset + scale * std::sin(static_cast<float>(i) + 0.5f);
  return v;
}

// Splits, runs the parts through RunSplitModel and the whole model directly, and compares.
SplitModelResult ExpectSplitComposes(const onnx::ModelProto& model, const std::vector<std::string>& devices,
                                     const std::map<std::string, Val>& inputs) {
  SplitModelResult split = SplitModel(model, devices);
  std::vector<Val> ordered;
  std::set<std::string> inits;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  for (const auto& vi : model.graph().input())
    if (!inits.count(vi.name())) ordered.push_back(inputs.at(vi.name()));
  const std::vector<Val> whole = Evaluate(model, ordered);
  const std::vector<Val> parts = RunSplitModel<Val>(
      split, inputs, [](const Submodel& sub, const std::vector<Val>& args) { return Evaluate(sub.model, args); });
  EXPECT_EQ(parts.size(), whole.size());
  for (size_t i = 0; i < std::min(parts.size(), whole.size()); ++i)
    EXPECT_TRUE(parts[i] == whole[i]) << "output " << model.graph().output(static_cast<int>(i)).name();
  // Every node in exactly one submodel, each submodel's nodes in graph order, and every submodel valid.
  std::vector<int> seen(static_cast<size_t>(model.graph().node_size()), 0);
  for (const Submodel& sub : split.submodels) {
    EXPECT_TRUE(std::is_sorted(sub.nodes.begin(), sub.nodes.end())) << sub.name;
    for (int v : sub.nodes) {
      ++seen[static_cast<size_t>(v)];
      EXPECT_EQ(devices[static_cast<size_t>(v)], sub.device);
    }
    EXPECT_NO_THROW(onnx::checker::check_model(sub.model)) << sub.name;
  }
  for (size_t v = 0; v < seen.size(); ++v) EXPECT_EQ(seen[v], 1) << "node " << v;
  return split;
}

std::vector<std::string> Names(const SplitModelResult& split) {
  std::vector<std::string> names;
  for (const Submodel& s : split.submodels) names.push_back(s.name);
  return names;
}

// top(x) -> {left, right} -> join -> out; `join_device` places the join and the last node.
onnx::ModelProto Diamond() {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  test::AddInitializer(g, "W", {2, 3});
  test::AddInitializer(g, "M", {3, 2});
  test::AddNode(g, "Relu", "top", {"x"}, {"t"});
  test::AddNode(g, "Mul", "left", {"t", "W"}, {"a"});
  test::AddNode(g, "Add", "right", {"t", "W"}, {"b"});
  test::AddNode(g, "Add", "join", {"a", "b"}, {"c"});
  test::AddNode(g, "MatMul", "out", {"c", "M"}, {"y"});
  test::SetType(g->add_output(), "y", {2, 2});
  test::SetType(g->add_output(), "t", {2, 3});  // a graph output that also crosses devices
  return m;
}

TEST(ExportSplitTest, DiamondAcrossTwoDevicesIsOneSubmodelEach) {
  const onnx::ModelProto m = Diamond();
  const std::map<std::string, Val> inputs{{"x", Ramp({2, 3})}};
  const SplitModelResult split =
      ExpectSplitComposes(m, {"cuda:0", "cuda:0", "cuda:1", "cuda:1", "cuda:1"}, inputs);
  EXPECT_EQ(Names(split), (std::vector<std::string>{"cuda_0", "cuda_1"}));
  EXPECT_EQ(split.submodels[0].outputs, (std::vector<std::string>{"t", "a"}));
  EXPECT_EQ(split.submodels[1].inputs, (std::vector<std::string>{"t", "a"}));
  EXPECT_EQ(split.submodels[1].outputs, (std::vector<std::string>{"y"}));
  // Initializers go with their readers; the crossing tensors are typed from the model.
  EXPECT_EQ(split.submodels[0].model.graph().initializer_size(), 1);
  EXPECT_EQ(split.submodels[1].model.graph().initializer_size(), 2);
  ASSERT_EQ(split.transfers.size(), 2u);
  EXPECT_EQ(split.transfers[0].tensor, "t");
  EXPECT_EQ(split.transfers[0].bytes, 2u * 3u * 4u);
  const auto manifest = nlohmann::json::parse(split.manifest);
  EXPECT_EQ(manifest["order"], nlohmann::json::array({"cuda_0", "cuda_1"}));
  EXPECT_EQ(manifest["devices"][0]["model"], "cuda_0.onnx");
  EXPECT_EQ(manifest["transfers"][0]["from"], "cuda:0");
  EXPECT_EQ(manifest["transfers"][0]["to"], "cuda:1");
  EXPECT_EQ(manifest["outputs"][0]["model"], "cuda_1");
  EXPECT_EQ(manifest["outputs"][1]["model"], "cuda_0");
}

TEST(ExportSplitTest, DiamondBackToTheFirstDeviceGetsStages) {
  const onnx::ModelProto m = Diamond();
  const SplitModelResult split =
      ExpectSplitComposes(m, {"cuda:0", "cuda:0", "cuda:1", "cuda:0", "cuda:0"}, {{"x", Ramp({2, 3})}});
  EXPECT_EQ(Names(split), (std::vector<std::string>{"cuda_0_stage0", "cuda_1", "cuda_0_stage1"}));
  EXPECT_EQ(split.submodels[0].nodes, (std::vector<int>{0, 1}));
  EXPECT_EQ(split.submodels[2].nodes, (std::vector<int>{3, 4}));
}

TEST(ExportSplitTest, PingPongChainComposes) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {4});
  test::AddNode(g, "Relu", "r0", {"x"}, {"v0"});
  test::AddNode(g, "Mul", "m1", {"v0", "x"}, {"v1"});
  test::AddNode(g, "Add", "a2", {"v1", "v0"}, {"v2"});
  test::AddNode(g, "Mul", "m3", {"v2", "v2"}, {"v3"});
  test::AddNode(g, "Add", "a4", {"v3", "v0"}, {"y"});  // v0 again: same device, two stages later
  test::SetType(g->add_output(), "y", {4});
  const SplitModelResult split =
      ExpectSplitComposes(m, {"cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"}, {{"x", Ramp({4})}});
  EXPECT_EQ(Names(split), (std::vector<std::string>{"cuda_0_stage0", "cuda_1_stage0", "cuda_0_stage1",
                                                    "cuda_1_stage1", "cuda_0_stage2"}));
  // v0 leaves stage 0 once per reader, including the later stages of its own device.
  size_t v0 = 0;
  for (const SplitTransfer& t : split.transfers) v0 += t.tensor == "v0";
  EXPECT_EQ(v0, 3u);
  const auto manifest = nlohmann::json::parse(split.manifest);
  EXPECT_EQ(manifest["order"].size(), 5u);
  EXPECT_EQ(manifest["devices"][4]["stage"], 2);
}

TEST(ExportSplitTest, IndependentWorkIsNotSplitNeedlessly) {
  // cuda:1's first node needs nothing from cuda:0, but its second does: still one submodel per device.
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  test::AddNode(g, "Relu", "b0", {"x"}, {"p"});
  test::AddNode(g, "Relu", "a0", {"x"}, {"q"});
  test::AddNode(g, "Add", "b1", {"p", "q"}, {"y"});
  test::SetType(g->add_output(), "y", {3});
  const SplitModelResult split = ExpectSplitComposes(m, {"cuda:1", "cuda:0", "cuda:1"}, {{"x", Ramp({3})}});
  EXPECT_EQ(Names(split), (std::vector<std::string>{"cuda_0", "cuda_1"}));
}

TEST(ExportSplitTest, CrossedIndependentChainsNeedThreeStages) {
  // a1 -> b1 and b2 -> a2 with a1, b2 independent: one submodel per device would be a cycle.
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  test::SetType(g->add_input(), "w", {3});
  test::AddNode(g, "Relu", "a1", {"x"}, {"p"});
  test::AddNode(g, "Mul", "b1", {"p", "p"}, {"y1"});
  test::AddNode(g, "Relu", "b2", {"w"}, {"q"});
  test::AddNode(g, "Add", "a2", {"q", "w"}, {"y2"});
  test::SetType(g->add_output(), "y1", {3});
  test::SetType(g->add_output(), "y2", {3});
  const SplitModelResult split = ExpectSplitComposes(m, {"cuda:0", "cuda:1", "cuda:1", "cuda:0"},
                                                     {{"x", Ramp({3})}, {"w", Ramp({3}, 0.5f, 0.1f)}});
  EXPECT_EQ(split.submodels.size(), 3u);
}

// relu_a (cuda:0), mul_b (cuda:1), If on cuda:1 whose branches read a and b from the outer scope, relu_y (cuda:0).
onnx::ModelProto IfModel() {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2});
  test::SetType(g->add_input(), "cond", {}, onnx::TensorProto::BOOL);
  test::AddNode(g, "Relu", "relu_a", {"x"}, {"a"});
  test::AddNode(g, "Mul", "mul_b", {"x", "x"}, {"b"});
  auto* node = test::AddNode(g, "If", "branch", {"cond"}, {"z"});
  auto* then_attr = node->add_attribute();
  then_attr->set_name("then_branch");
  then_attr->set_type(onnx::AttributeProto::GRAPH);
  auto* then_g = then_attr->mutable_g();
  then_g->set_name("then");
  test::AddNode(then_g, "Add", "then_add", {"a", "b"}, {"then_out"});
  test::SetType(then_g->add_output(), "then_out", {2});
  auto* else_attr = node->add_attribute();
  else_attr->set_name("else_branch");
  else_attr->set_type(onnx::AttributeProto::GRAPH);
  auto* else_g = else_attr->mutable_g();
  else_g->set_name("else");
  test::AddNode(else_g, "Mul", "else_mul", {"a", "a"}, {"else_out"});
  test::SetType(else_g->add_output(), "else_out", {2});
  test::AddNode(g, "Relu", "relu_y", {"z"}, {"y"});
  test::SetType(g->add_output(), "y", {2});
  return m;
}

TEST(ExportSplitTest, IfBodiesReadingOuterTensorsGetThemAsInputs) {
  const onnx::ModelProto m = IfModel();
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  for (float cond : {1.f, 0.f}) {
    const std::map<std::string, Val> inputs{{"x", Ramp({2}, 1.0f, 0.2f)}, {"cond", Val{{}, {cond}}}};
    const SplitModelResult split = ExpectSplitComposes(m, {"cuda:0", "cuda:1", "cuda:1", "cuda:0"}, inputs);
    ASSERT_EQ(Names(split), (std::vector<std::string>{"cuda_0_stage0", "cuda_1", "cuda_0_stage1"}));
    // "a" is read only inside the If's bodies, yet it is an input of cuda:1's submodel.
    EXPECT_EQ(split.submodels[1].inputs, (std::vector<std::string>{"x", "cond", "a"}));
    EXPECT_EQ(split.submodels[1].outputs, (std::vector<std::string>{"z"}));
  }
}

TEST(ExportSplitTest, RandomPlacementsOfRandomGraphsCompose) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 25; ++trial) {
    onnx::ModelProto m = test::NewModel();
    auto* g = m.mutable_graph();
    test::SetType(g->add_input(), "x", {3});
    test::SetType(g->add_input(), "w", {3});
    std::vector<std::string> tensors{"x", "w"};
    std::vector<std::string> devices;
    const int n = 10 + trial * 2;
    const char* ops[] = {"Add", "Mul", "Relu"};
    for (int i = 0; i < n; ++i) {
      const std::string op = ops[rng() % 3];
      std::vector<std::string> ins{tensors[rng() % tensors.size()]};
      if (op != "Relu") ins.push_back(tensors[rng() % tensors.size()]);
      const std::string out = "t" + std::to_string(i);
      test::AddNode(g, op, i % 5 == 0 ? "" : "n" + std::to_string(i), ins, {out});
      tensors.push_back(out);
      devices.push_back("cuda:" + std::to_string(rng() % 3));
    }
    for (int i = n - 3; i < n; ++i) test::SetType(g->add_output(), "t" + std::to_string(i), {3});
    SCOPED_TRACE("trial " + std::to_string(trial));
    ExpectSplitComposes(m, devices, {{"x", Ramp({3})}, {"w", Ramp({3}, 0.5f, 0.3f)}});
  }
}

TEST(ExportSplitTest, MissingTypesAreInferred) {
  onnx::ModelProto m = Diamond();
  m.mutable_graph()->clear_value_info();  // the crossing tensors a and t have no value_info
  const SplitModelResult split = SplitModel(m, {"cuda:0", "cuda:0", "cuda:1", "cuda:1", "cuda:1"});
  const auto& in = split.submodels[1].model.graph().input(1);
  EXPECT_EQ(in.name(), "a");
  EXPECT_EQ(in.type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(in.type().tensor_type().shape().dim_size(), 2);
}

TEST(ExportSplitTest, InitializersListedAsInputsStayInitializers) {
  onnx::ModelProto m = Diamond();
  test::SetType(m.mutable_graph()->add_input(), "W", {2, 3});  // an overridable initializer
  const SplitModelResult split =
      ExpectSplitComposes(m, {"cuda:0", "cuda:0", "cuda:1", "cuda:1", "cuda:1"}, {{"x", Ramp({2, 3})}});
  EXPECT_EQ(split.graph_inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(split.submodels[1].inputs, (std::vector<std::string>{"t", "a"}));
  EXPECT_EQ(split.submodels[1].model.graph().input(0).name(), "W");
}

TEST(ExportSplitTest, BadArgumentsAreErrors) {
  const onnx::ModelProto m = Diamond();
  EXPECT_THROW(SplitModel(m, {"cuda:0"}), Error);
  EXPECT_THROW(SplitModel(m, {"cuda:0", "", "cuda:1", "cuda:1", "cuda:1"}), Error);
  const SplitModelResult split = SplitModel(m, {"cuda:0", "cuda:0", "cuda:1", "cuda:1", "cuda:1"});
  EXPECT_THROW(RunSplitModel<Val>(split, {},
                                  [](const Submodel& s, const std::vector<Val>& a) { return Evaluate(s.model, a); }),
               Error);
}

// ---- Annotation ----

// Unnamed and colliding node names, as the importer renames them.
onnx::ModelProto Renamed() {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2});
  test::AddNode(g, "Relu", "", {"x"}, {"a"});
  test::AddNode(g, "Relu", "Relu_0", {"a"}, {"b"})->set_doc_string("kept\nallot.device=cpu:0");
  test::AddNode(g, "Relu", "", {"b"}, {"c"});
  test::AddNode(g, "Relu", "Relu_0", {"c"}, {"d"});
  test::SetType(g->add_output(), "d", {2});
  return m;
}

TEST(ExportAnnotateTest, NodeNamesAreTheImportersNames) {
  onnx::ModelProto m = Renamed();
  const std::vector<std::string> names = OnnxNodeNames(m.graph());
  const Graph graph = ImportModel(m, "renamed", ImportOptions{});
  ASSERT_EQ(names.size(), graph.num_nodes());
  for (NodeId v = 0; v < graph.num_nodes(); ++v) EXPECT_EQ(names[v], graph.node(v).name);
  EXPECT_EQ(names, (std::vector<std::string>{"Relu_0", "Relu_0__2", "Relu_2", "Relu_0__3"}));
}

TEST(ExportAnnotateTest, AnnotatedModelPassesTheCheckerAndReadsBack) {
  onnx::ModelProto m = Renamed();
  onnx::ModelProto original = m;
  const Graph before = ImportModel(original, "renamed", ImportOptions{});
  const std::vector<std::string> devices{"cuda:0", "cuda:1", "cuda:1", "cpu:0"};
  PlacementAnnotation info;
  info.graph_hash = before.hash_hex();
  info.cluster = "p100x4";
  info.mode = "inference";
  AnnotateModel(m, devices, info);
  AnnotateModel(m, devices, info);  // again: replaces, never duplicates
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  EXPECT_EQ(m.metadata_props_size(), 4);
  EXPECT_EQ(m.graph().node(1).doc_string(), "kept\nallot.device=cuda:1");
  EXPECT_EQ(m.graph().node(0).doc_string(), "allot.device=cuda:0");

  // Through bytes, as a file would carry it.
  onnx::ModelProto reread;
  ASSERT_TRUE(reread.ParseFromString(m.SerializeAsString()));
  const ModelPlacement p = ReadPlacementFromModel(reread);
  EXPECT_EQ(p.device_of_node, devices);
  EXPECT_EQ(p.node_names, OnnxNodeNames(m.graph()));
  EXPECT_EQ(p.info.graph_hash, before.hash_hex());
  EXPECT_EQ(p.info.cluster, "p100x4");
  EXPECT_EQ(p.info.mode, "inference");

  // The annotated model is the same graph, and its annotation is a valid placement of it.
  onnx::ModelProto copy = reread;
  const Graph after = ImportModel(copy, "annotated", ImportOptions{});
  EXPECT_EQ(after.hash(), before.hash());
  const Cluster cluster = MakePreset("p100x4");
  const std::vector<DeviceId> placement = ParsePlacementJson(PlacementJsonFromModel(reread, "annotated.onnx"),
                                                             "annotated.onnx", after, cluster);
  for (NodeId v = 0; v < after.num_nodes(); ++v) EXPECT_EQ(cluster.device(placement[v]).name, devices[v]);

  // Without the metadata, the doc_string lines carry it.
  reread.clear_metadata_props();
  EXPECT_EQ(ReadPlacementFromModel(reread).device_of_node, devices);
}

TEST(ExportAnnotateTest, BadAnnotationsAreOneLineErrors) {
  auto error_of = [](const onnx::ModelProto& m) -> std::string {
    try {
      ReadPlacementFromModel(m, "m.onnx");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  onnx::ModelProto plain = test::Mlp();
  EXPECT_NE(error_of(plain).find("no allot placement"), std::string::npos) << error_of(plain);
  EXPECT_FALSE(HasPlacementAnnotation(plain));
  onnx::ModelProto m = test::Mlp();
  AnnotateModel(m, {"cuda:0", "cuda:1", "cuda:0"});
  EXPECT_TRUE(HasPlacementAnnotation(m));
  {
    onnx::ModelProto bad = m;
    bad.mutable_graph()->mutable_node(1)->set_doc_string("allot.device=cuda:3");
    const std::string e = error_of(bad);
    EXPECT_NE(e.find("node 'relu'"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  {
    onnx::ModelProto bad = m;
    bad.mutable_metadata_props(0)->set_value("{\"fc1\": ");
    EXPECT_NE(error_of(bad).find("metadata 'allot.placement' is not valid JSON"), std::string::npos) << error_of(bad);
  }
  {
    onnx::ModelProto bad = m;
    bad.mutable_metadata_props(0)->set_value("{\"fc1\": \"cuda:0\", \"relu\": \"cuda:1\"}");
    EXPECT_NE(error_of(bad).find("node 'fc2' has no device"), std::string::npos) << error_of(bad);
  }
  EXPECT_THROW(AnnotateModel(m, {"cuda:0"}), Error);
  EXPECT_THROW(AnnotateModel(m, {"cuda:0", "", "cuda:0"}), Error);
}

TEST(ExportAnnotateTest, PlacementTextFromJsonOrOnnx) {
  const std::string json = (fs::temp_directory_path() / "allot_export_text.json").string();
  WriteFileAtomic(json, "{\"version\": 1}");
  EXPECT_EQ(ReadPlacementText(json), "{\"version\": 1}");
  onnx::ModelProto m = test::Mlp();
  const std::string plain = (fs::temp_directory_path() / "allot_export_plain.onnx").string();
  WriteFileAtomic(plain, m.SerializeAsString());
  try {
    ReadPlacementText(plain);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(plain + ": no allot placement"), std::string::npos) << e.what();
  }
  AnnotateModel(m, {"cuda:0", "cuda:1", "cuda:0"});
  const std::string noext = (fs::temp_directory_path() / "allot_export_annotated_model").string();
  WriteFileAtomic(noext, m.SerializeAsString());
  const auto j = nlohmann::json::parse(ReadPlacementText(noext));
  EXPECT_EQ(j["placement"]["relu"], "cuda:1");
  EXPECT_FALSE(j.contains("graph_hash"));
}

// ---- `allot export` ----

using test::ExpectOneLineError;
using test::Outcome;
using test::RunAllot;

std::string Temp(const std::string& name) { return test::TempPath("allot_export_tests", name); }

// Nothing at `path`, and no temporary left next to it.
void ExpectNoOutput(const std::string& path) {
  EXPECT_FALSE(fs::exists(path)) << path;
  const std::string stem = fs::path(path).filename().string();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path(), ec))
    EXPECT_NE(e.path().filename().string().rfind(stem + ".", 0), 0u) << "left behind: " << e.path();
}

const char* kSpec = "gen:mlp,batch=2,hidden=8,layers=3,weights=1";

onnx::ModelProto SpecProto(const std::string& spec) {
  auto [name, options] = models::ParseModelSpec(spec.substr(4));
  return models::Generate(name, options);
}

struct PlacedModel {
  Graph graph;
  Cluster cluster = MakePreset("p100x4");
  std::vector<DeviceId> placement;
  std::string path;  // the placement file
};

// Forward nodes alternate between cuda:0 and cuda:1 (a ping-pong placement); written as `name`.
PlacedModel Place(const std::string& name, bool training) {
  PlacedModel p;
  onnx::ModelProto proto = SpecProto(kSpec);
  p.graph = ImportModel(proto, kSpec, ImportOptions{});
  if (training) p.graph = SynthesizeTrainingGraph(p.graph);
  p.placement.assign(p.graph.num_nodes(), 0);
  for (NodeId v = 0; v < p.graph.num_nodes(); ++v) p.placement[v] = static_cast<DeviceId>(1 + v % 2);
  ExpandPlacement(p.graph, p.placement);
  PlacementInfo info;
  info.model = kSpec;
  info.mode = training ? "training" : "inference";
  info.placer = "test";
  p.path = Temp(name);
  WriteFileAtomic(p.path, PlacementToJson(p.graph, p.cluster, p.placement, info, nullptr));
  return p;
}

std::string ExportArgs(const std::string& placement, const std::string& format, const std::string& out,
                       const std::string& spec = kSpec) {
  return "export " + placement + " --model " + spec + " --format " + format + " -o " + out;
}

TEST(ExportCliTest, OnnxFormatAnnotatesTheModel) {
  const PlacedModel p = Place("onnx_place.json", false);
  const std::string out = Temp("annotated.onnx");
  fs::remove(out);
  const Outcome o = RunAllot(ExportArgs(p.path, "onnx", out));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const onnx::ModelProto m = ReadModelProto(out);
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  const ModelPlacement read = ReadPlacementFromModel(m, out);
  ASSERT_EQ(read.device_of_node.size(), p.graph.num_nodes());
  for (NodeId v = 0; v < p.graph.num_nodes(); ++v)
    EXPECT_EQ(read.device_of_node[v], p.cluster.device(p.placement[v]).name);
  EXPECT_EQ(read.info.graph_hash, p.graph.hash_hex());
  EXPECT_EQ(read.info.cluster, "p100x4");
  // Usable as a placement file of the same graph.
  EXPECT_EQ(ParsePlacementJson(ReadPlacementText(out), out, p.graph, p.cluster), p.placement);
}

TEST(ExportCliTest, SubmodelsComposeToTheWholeModel) {
  const PlacedModel p = Place("sub_place.json", false);
  const std::string out = Temp("submodels");
  fs::remove_all(out);
  Outcome o = RunAllot(ExportArgs(p.path, "submodels", out));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const auto manifest = nlohmann::json::parse(ReadFile(out + "/manifest.json"));
  // Rebuild the split from the directory alone, as a runtime would.
  SplitModelResult split;
  for (const auto& d : manifest["devices"]) {
    Submodel sub;
    sub.name = d["name"].get<std::string>();
    sub.device = d["device"].get<std::string>();
    sub.inputs = d["inputs"].get<std::vector<std::string>>();
    sub.outputs = d["outputs"].get<std::vector<std::string>>();
    sub.model = ReadModelProto(out + "/" + d["model"].get<std::string>());
    EXPECT_NO_THROW(onnx::checker::check_model(sub.model)) << sub.name;
    split.submodels.push_back(std::move(sub));
  }
  for (const auto& t : manifest["outputs"]) split.graph_outputs.push_back(t["tensor"].get<std::string>());
  EXPECT_EQ(manifest["order"].size(), split.submodels.size());
  EXPECT_GT(split.submodels.size(), 2u);  // the ping-pong placement needs stages
  for (const auto& t : manifest["transfers"]) EXPECT_GT(t["bytes"].get<uint64_t>(), 0u);
  const onnx::ModelProto whole = SpecProto(kSpec);
  const Val x = Ramp({2, 784});
  const std::vector<Val> expected = Evaluate(whole, {x});
  const std::vector<Val> got = RunSplitModel<Val>(
      split, {{whole.graph().input(0).name(), x}},
      [](const Submodel& sub, const std::vector<Val>& args) { return Evaluate(sub.model, args); });
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got[0] == expected[0]);

  // Exporting again replaces the earlier export; a directory that is not one is left alone.
  o = RunAllot(ExportArgs(p.path, "submodels", out));
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_TRUE(fs::exists(out + "/manifest.json"));
  const std::string other = Temp("not_an_export");
  fs::remove_all(other);
  fs::create_directories(other);
  std::ofstream(other + "/precious.txt") << "keep";
  ExpectOneLineError(RunAllot(ExportArgs(p.path, "submodels", other)), "not an allot export");
  EXPECT_TRUE(fs::exists(other + "/precious.txt"));
}

TEST(ExportCliTest, TraceFormatWritesTheSimulatedSchedule) {
  const PlacedModel p = Place("trace_place.json", false);
  const std::string out = Temp("trace.json");
  fs::remove(out);
  const Outcome o = RunAllot(ExportArgs(p.path, "trace", out));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const auto trace = nlohmann::json::parse(ReadFile(out));
  ASSERT_TRUE(trace.contains("traceEvents"));
  EXPECT_FALSE(trace["traceEvents"].empty());
}

TEST(ExportCliTest, TrainingPlacementsExportTheForwardOps) {
  const PlacedModel p = Place("train_place.json", true);
  const onnx::ModelProto whole = SpecProto(kSpec);
  const size_t n = static_cast<size_t>(whole.graph().node_size());
  // --mode comes from the placement file.
  const std::string onnx_out = Temp("train_annotated.onnx");
  Outcome o = RunAllot(ExportArgs(p.path, "onnx", onnx_out));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const onnx::ModelProto m = ReadModelProto(onnx_out);
  EXPECT_EQ(static_cast<size_t>(m.graph().node_size()), n);
  const ModelPlacement read = ReadPlacementFromModel(m, onnx_out);
  ASSERT_EQ(read.info.extra_nodes.size(), 1u);  // the loss
  EXPECT_EQ(read.info.mode, "training");
  // The annotation is a full placement of the training graph (gradient ops follow their forward op).
  EXPECT_EQ(ParsePlacementJson(ReadPlacementText(onnx_out), onnx_out, p.graph, p.cluster), p.placement);

  const std::string dir = Temp("train_submodels");
  fs::remove_all(dir);
  o = RunAllot(ExportArgs(p.path, "submodels", dir) + " --mode training");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const auto manifest = nlohmann::json::parse(ReadFile(dir + "/manifest.json"));
  size_t nodes = 0;
  for (const auto& d : manifest["devices"]) nodes += d["nodes"].get<size_t>();
  EXPECT_EQ(nodes, n);
  const std::string trace = Temp("train_trace.json");
  o = RunAllot(ExportArgs(p.path, "trace", trace));
  ASSERT_EQ(o.exit_code, 0) << o.out;
}

TEST(ExportCliTest, BadPlacementsAndOutputsFailWithOneLineAndNoOutput) {
  const PlacedModel p = Place("good_place.json", false);
  nlohmann::json good = nlohmann::json::parse(ReadFile(p.path));
  auto variant = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    const std::string path = Temp(name);
    WriteFileAtomic(path, j.dump());
    return path;
  };
  const std::string first = good["placement"].begin().key();
  const std::string unknown_node = variant("unknown_node.json", [](nlohmann::json& j) { j["placement"]["nope"] = "cuda:0"; });
  const std::string unknown_device =
      variant("unknown_device.json", [&](nlohmann::json& j) { j["placement"][first] = "cuda:9"; });
  const std::string missing_node = variant("missing_node.json", [&](nlohmann::json& j) { j["placement"].erase(first); });
  const std::string malformed = Temp("malformed.json");
  WriteFileAtomic(malformed, "{\"version\": 1, \"placement\": {");
  const std::string another_model = "gen:mlp,batch=2,hidden=8,layers=2,weights=1";

  for (const std::string format : {"onnx", "submodels", "trace"}) {
    SCOPED_TRACE(format);
    const std::string out = Temp("never_" + format);
    fs::remove_all(out);
    ExpectOneLineError(RunAllot(ExportArgs(p.path, format, out, another_model)), p.path + ": field 'graph_hash'");
    ExpectNoOutput(out);
    ExpectOneLineError(RunAllot(ExportArgs(unknown_node, format, out)), unknown_node + ": placement['nope']");
    ExpectNoOutput(out);
    ExpectOneLineError(RunAllot(ExportArgs(unknown_device, format, out)), "unknown device 'cuda:9'");
    ExpectNoOutput(out);
    ExpectOneLineError(RunAllot(ExportArgs(missing_node, format, out)), missing_node + ": placement: node '" + first);
    ExpectNoOutput(out);
    ExpectOneLineError(RunAllot(ExportArgs(malformed, format, out)), malformed + ": not valid JSON");
    ExpectNoOutput(out);
    ExpectOneLineError(RunAllot(ExportArgs(Temp("no_such_placement.json"), format, out)), "no_such_placement.json");
    ExpectNoOutput(out);
    const std::string unwritable = "/nonexistent_allot_dir/out_" + format;
    ExpectOneLineError(RunAllot(ExportArgs(p.path, format, unwritable)), unwritable);
    EXPECT_FALSE(fs::exists("/nonexistent_allot_dir"));
  }
  // A "cluster" that is neither a preset nor a file (a JSON spec's name) needs --cluster.
  const std::string named = variant("named_cluster.json", [](nlohmann::json& j) { j["cluster"] = "tiny"; });
  ExpectOneLineError(RunAllot(ExportArgs(named, "onnx", Temp("never_named.onnx"))), named + ": field 'cluster'");
  ExpectNoOutput(Temp("never_named.onnx"));
  const Outcome o = RunAllot(ExportArgs(named, "onnx", Temp("named.onnx")) + " --cluster p100x4");
  EXPECT_EQ(o.exit_code, 0) << o.out;
  // A cost graph has no ONNX to export.
  ExpectOneLineError(RunAllot(ExportArgs(p.path, "onnx", Temp("never_cg.onnx"), Temp("graph.json"))), "cost graph");
  ExpectNoOutput(Temp("never_cg.onnx"));
}

}  // namespace
}  // namespace allot
