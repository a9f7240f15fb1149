// Control flow through the executor: If, Loop and Scan run as one op on their device, their bodies reading the
// values of the enclosing graphs by name (copied to that device like any other input), nested bodies reading
// every scope around them, and a training step differentiating through a loop body.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "runtime/executor.h"
#include "runtime/reference_interpreter.h"
#include "runtime/tensor_proto.h"
#include "tests/test_models.h"

namespace allot {
namespace {

using onnx::TensorProto;

class RuntimeControlFlow : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }  // the machine is shared
};

onnx::AttributeProto* AddAttribute(onnx::NodeProto* node, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

onnx::GraphProto* AddBody(onnx::NodeProto* node, const std::string& attribute) {
  auto* g = AddAttribute(node, attribute, onnx::AttributeProto::GRAPH)->mutable_g();
  g->set_name(node->name() + "_" + attribute);
  return g;
}

void AddConstant(onnx::GraphProto* g, const std::string& name, const at::Tensor& value) {
  auto* node = test::AddNode(g, "Constant", name, {}, {name});
  *AddAttribute(node, "value", onnx::AttributeProto::TENSOR)->mutable_t() = runtime::TensorToProto(value, name);
}

void AddInt64Initializer(onnx::GraphProto* g, const std::string& name, int64_t value) {
  *g->add_initializer() = runtime::TensorToProto(at::scalar_tensor(value, at::kLong), name);
}

// Node n on device n % 2, so that producers and the control-flow node that reads them are apart.
std::vector<DeviceId> Alternate(const Graph& g) {
  std::vector<DeviceId> p(g.num_nodes());
  for (NodeId n = 0; n < g.num_nodes(); ++n) p[n] = static_cast<DeviceId>(n % 2);
  return p;
}

// Runs `model` on two virtual CPU devices (node n on device n % 2) and on the reference interpreter; both must
// agree. Returns the executor's outputs.
std::vector<at::Tensor> RunSplit(const onnx::ModelProto& model, const std::vector<at::Tensor>& inputs,
                                 size_t* copies = nullptr) {
  onnx::ModelProto copy = model;
  const Graph graph = ImportModel(copy, model.graph().name(), ImportOptions{});
  const Cluster cluster = MakePreset("cpu2");
  runtime::Executor executor(model, graph, cluster, Alternate(graph));
  executor.SetInputs(inputs);
  const runtime::StepStats stats = executor.Step();
  if (copies) *copies = stats.copies;
  std::vector<at::Tensor> outputs = executor.Outputs();
  const std::vector<at::Tensor> reference = runtime::RunModel(model, inputs);
  EXPECT_EQ(outputs.size(), reference.size());
  for (size_t i = 0; i < outputs.size() && i < reference.size(); ++i)
    EXPECT_TRUE(at::equal(outputs[i], reference[i])) << "output " << i;
  return outputs;
}

void ExpectClose(const at::Tensor& expected, const at::Tensor& actual) {
  ASSERT_EQ(expected.sizes(), actual.sizes());
  EXPECT_TRUE(at::allclose(expected, actual, 1e-5, 1e-6)) << "expected\n" << expected << "\ngot\n" << actual;
}

TEST_F(RuntimeControlFlow, IfBranchesReadOuterValuesFromTheOtherDevice) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  test::SetType(g->add_input(), "c", {}, TensorProto::BOOL);
  test::AddNode(g, "Mul", "square", {"x", "x"}, {"a"});  // device 0
  test::AddNode(g, "Add", "double", {"x", "x"}, {"b"});  // device 1
  auto* choose = test::AddNode(g, "If", "choose", {"c"}, {"y"});  // device 0: b is copied over
  auto* then_branch = AddBody(choose, "then_branch");
  test::AddNode(then_branch, "Add", "sum", {"a", "b"}, {"t"});
  test::SetType(then_branch->add_output(), "t", {2, 3});
  auto* else_branch = AddBody(choose, "else_branch");
  test::AddNode(else_branch, "Sub", "difference", {"a", "b"}, {"e"});
  test::SetType(else_branch->add_output(), "e", {2, 3});
  test::SetType(g->add_output(), "y", {2, 3});

  const at::Tensor x = at::arange(6, at::kFloat).reshape({2, 3}) - 2;
  size_t copies = 0;
  ExpectClose(x * x + 2 * x, RunSplit(m, {x, at::scalar_tensor(true)}, &copies).at(0));
  EXPECT_GT(copies, 0u);
  ExpectClose(x * x - 2 * x, RunSplit(m, {x, at::scalar_tensor(false)}).at(0));
}

TEST_F(RuntimeControlFlow, LoopCarriesValuesStacksScanOutputsAndStopsOnItsCondition) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  AddInt64Initializer(g, "M", 10);
  *g->add_initializer() = runtime::TensorToProto(at::scalar_tensor(true, at::kBool), "keep_going");
  test::AddNode(g, "Mul", "weights", {"x", "x"}, {"w"});
  auto* loop = test::AddNode(g, "Loop", "loop", {"M", "keep_going", "x"}, {"acc", "scan"});
  auto* body = AddBody(loop, "body");
  test::SetType(body->add_input(), "i", {}, TensorProto::INT64);
  test::SetType(body->add_input(), "cond_in", {}, TensorProto::BOOL);
  test::SetType(body->add_input(), "acc_in", {3});
  test::AddNode(body, "Add", "accumulate", {"acc_in", "w"}, {"acc_out"});  // w from the main graph
  auto* cast = test::AddNode(body, "Cast", "to_float", {"i"}, {"fi"});
  AddAttribute(cast, "to", onnx::AttributeProto::INT)->set_i(TensorProto::FLOAT);
  test::AddNode(body, "Mul", "scale", {"acc_out", "fi"}, {"scaled"});
  AddConstant(body, "three", at::scalar_tensor(3, at::kLong));
  test::AddNode(body, "Less", "more", {"i", "three"}, {"cond_out"});  // false after iteration 3
  test::SetType(body->add_output(), "cond_out", {}, TensorProto::BOOL);
  test::SetType(body->add_output(), "acc_out", {3});
  test::SetType(body->add_output(), "scaled", {3});
  test::SetType(g->add_output(), "acc", {3});
  test::SetType(g->add_output(), "scan", {4, 3});

  const at::Tensor x = at::tensor({1.0f, -2.0f, 0.5f});
  const at::Tensor w = x * x;
  const std::vector<at::Tensor> out = RunSplit(m, {x});
  ExpectClose(x + 4 * w, out.at(0));
  std::vector<at::Tensor> rows;
  for (int t = 0; t < 4; ++t) rows.push_back((x + (t + 1) * w) * t);
  ExpectClose(at::stack(rows), out.at(1));
}

TEST_F(RuntimeControlFlow, IfNestedInALoopReadsTheLoopBodyAndTheMainGraph) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2});
  AddInt64Initializer(g, "M", 4);
  AddConstant(g, "k", at::scalar_tensor(3.0f));
  test::AddNode(g, "Mul", "triple", {"x", "k"}, {"x3"});
  auto* loop = test::AddNode(g, "Loop", "loop", {"M", "", "x"}, {"acc"});  // a for loop: no condition
  auto* body = AddBody(loop, "body");
  test::SetType(body->add_input(), "i", {}, TensorProto::INT64);
  test::SetType(body->add_input(), "cond_in", {}, TensorProto::BOOL);
  test::SetType(body->add_input(), "acc_in", {2});
  AddConstant(body, "two", at::scalar_tensor(2, at::kLong));
  AddConstant(body, "zero", at::scalar_tensor(0, at::kLong));
  test::AddNode(body, "Mod", "parity", {"i", "two"}, {"odd"});
  test::AddNode(body, "Equal", "is_even", {"odd", "zero"}, {"even"});
  auto* step = test::AddNode(body, "If", "step", {"even"}, {"acc_out"});
  auto* then_branch = AddBody(step, "then_branch");
  test::AddNode(then_branch, "Add", "plus_x", {"acc_in", "x"}, {"up"});  // the loop body's acc_in, main's x
  test::SetType(then_branch->add_output(), "up", {2});
  auto* else_branch = AddBody(step, "else_branch");
  test::AddNode(else_branch, "Sub", "minus_3x", {"acc_in", "x3"}, {"down"});
  test::SetType(else_branch->add_output(), "down", {2});
  test::AddNode(body, "Identity", "pass", {"cond_in"}, {"cond_out"});
  test::SetType(body->add_output(), "cond_out", {}, TensorProto::BOOL);
  test::SetType(body->add_output(), "acc_out", {2});
  test::SetType(g->add_output(), "acc", {2});

  // x, then +x, -3x, +x, -3x.
  const at::Tensor x = at::tensor({1.5f, -4.0f});
  ExpectClose(-3 * x, RunSplit(m, {x}).at(0));
}

TEST_F(RuntimeControlFlow, ScanReadsAlongAnAxisInReverseAndPrependsOutputs) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "init", {2});
  test::SetType(g->add_input(), "seq", {2, 3});
  test::AddNode(g, "Neg", "bias_of", {"init"}, {"bias"});
  auto* scan = test::AddNode(g, "Scan", "scan", {"init", "seq"}, {"state", "ys"});
  AddAttribute(scan, "num_scan_inputs", onnx::AttributeProto::INT)->set_i(1);
  for (const char* name : {"scan_input_axes", "scan_input_directions", "scan_output_axes", "scan_output_directions"})
    AddAttribute(scan, name, onnx::AttributeProto::INTS)->add_ints(1);
  auto* body = AddBody(scan, "body");
  test::SetType(body->add_input(), "s_in", {2});
  test::SetType(body->add_input(), "column", {2});
  test::AddNode(body, "Add", "add_column", {"s_in", "column"}, {"partial"});
  test::AddNode(body, "Add", "add_bias", {"partial", "bias"}, {"s_out"});  // bias from the main graph
  test::AddNode(body, "Identity", "emit", {"s_out"}, {"y"});
  test::SetType(body->add_output(), "s_out", {2});
  test::SetType(body->add_output(), "y", {2});
  test::SetType(g->add_output(), "state", {2});
  test::SetType(g->add_output(), "ys", {2, 3});

  const at::Tensor init = at::tensor({1.0f, 2.0f});
  const at::Tensor seq = at::arange(6, at::kFloat).reshape({2, 3});
  const std::vector<at::Tensor> out = RunSplit(m, {init, seq});
  // Columns 2, 1, 0 in turn; each step's state is prepended along axis 1, so the last one comes first.
  const at::Tensor s1 = init + seq.select(1, 2) - init, s2 = s1 + seq.select(1, 1) - init,
                   s3 = s2 + seq.select(1, 0) - init;
  ExpectClose(s3, out.at(0));
  ExpectClose(at::stack({s3, s2, s1}, 1), out.at(1));
}

TEST_F(RuntimeControlFlow, TrainingStepDifferentiatesThroughALoopBodyReadingAParameter) {
  // h <- tanh(h W) three times, W a parameter the body reads from the main graph, loss mean(h^2): the loop is one
  // autograd island whose gradient op differentiates W through every iteration.
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  test::AddInitializer(g, "W", {3, 3});
  AddInt64Initializer(g, "M", 3);
  auto* loop = test::AddNode(g, "Loop", "loop", {"M", "", "x"}, {"h"});
  auto* body = AddBody(loop, "body");
  test::SetType(body->add_input(), "i", {}, TensorProto::INT64);
  test::SetType(body->add_input(), "cond_in", {}, TensorProto::BOOL);
  test::SetType(body->add_input(), "h_in", {2, 3});
  test::AddNode(body, "MatMul", "project", {"h_in", "W"}, {"p"});
  test::AddNode(body, "Tanh", "squash", {"p"}, {"h_out"});
  test::AddNode(body, "Identity", "pass", {"cond_in"}, {"cond_out"});
  test::SetType(body->add_output(), "cond_out", {}, TensorProto::BOOL);
  test::SetType(body->add_output(), "h_out", {2, 3});
  test::SetType(g->add_value_info(), "h", {2, 3});
  test::AddNode(g, "Mul", "square", {"h", "h"}, {"y"});
  test::SetType(g->add_output(), "y", {2, 3});

  onnx::ModelProto copy = m;
  const Graph graph = SynthesizeTrainingGraph(ImportModel(copy, "loop", ImportOptions{}));
  std::vector<DeviceId> split(graph.num_nodes());
  for (NodeId n = 0; n < graph.num_nodes(); ++n) {
    const NodeId f = graph.node(n).forward == kNone ? n : graph.node(n).forward;
    split[n] = graph.node(f).op_type == "Loop" ? 1 : 0;
  }
  const Cluster cluster = MakePreset("cpu2");
  runtime::RunOptions options;
  options.learning_rate = 0.5;
  runtime::Executor executor(m, graph, cluster, split, options);
  const at::Tensor x = at::tensor({0.5f, -1.0f, 2.0f, 1.0f, 0.25f, -0.5f}).reshape({2, 3});
  executor.SetInputs({x});
  const double first = executor.Step().loss, second = executor.Step().loss;

  // The same two SGD steps with one autograd graph over the unrolled loop.
  auto loss_of = [&](const at::Tensor& w) {
    at::Tensor h = x;
    for (int i = 0; i < 3; ++i) h = at::tanh(at::matmul(h, w));
    return (h * h).mean();
  };
  const at::Tensor w0 = (at::arange(9, at::kFloat).remainder(7) * 0.01f).reshape({3, 3}).requires_grad_();
  const at::Tensor l0 = loss_of(w0);
  l0.backward();
  const at::Tensor w1 = (w0 - 0.5 * w0.grad()).detach();
  EXPECT_NEAR(l0.item<double>(), first, 1e-7);
  EXPECT_NEAR(loss_of(w1).item<double>(), second, 1e-7);
  EXPECT_LT(second, first);
}

TEST_F(RuntimeControlFlow, AnOpWithoutKernelInABodyIsRefusedBeforeRunning) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "c", {}, TensorProto::BOOL);
  test::SetType(g->add_input(), "x", {2});
  auto* choose = test::AddNode(g, "If", "choose", {"c"}, {"y"});
  auto* then_branch = AddBody(choose, "then_branch");
  test::AddNode(then_branch, "RandomNormalLike", "coin", {"x"}, {"t"});
  test::SetType(then_branch->add_output(), "t", {2});
  auto* else_branch = AddBody(choose, "else_branch");
  test::AddNode(else_branch, "Identity", "same", {"x"}, {"e"});
  test::SetType(else_branch->add_output(), "e", {2});
  test::SetType(g->add_output(), "y", {2});

  EXPECT_EQ(runtime::UnsupportedFeatures(m), std::vector<std::string>{"RandomNormalLike"});
  onnx::ModelProto copy = m;
  const Graph graph = ImportModel(copy, "if", ImportOptions{});
  const Cluster cluster = MakePreset("cpu2");
  try {
    runtime::Executor executor(m, graph, cluster, {0});
    FAIL() << "ran a body op without a kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'choose'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'coin' (RandomNormalLike)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace allot
