// allot's shape pass (graph/shape_inference.h) through the importer: shape computations folded, declared shapes
// checked, data-dependent dims bounded, and what stays unknown explained.
#include "graph/shape_inference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "tests/test_models.h"

namespace allot {
namespace {

void AddInts(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> values, bool scalar = false) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  if (!scalar) t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
}

// A graph output whose dims the file leaves symbolic, as exporters do for what they cannot trace.
void AddUntypedOutput(onnx::GraphProto* g, const std::string& name, int elem_type = onnx::TensorProto::FLOAT,
                      int rank = 2) {
  auto* vi = g->add_output();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int d = 0; d < rank; ++d) shape->add_dim()->set_dim_param(name + "_dim_" + std::to_string(d));
}

// A Loop node reading `inputs` (M, cond, carried...) into `outputs`, whose body takes the iteration number and
// the condition, passes the condition on, and is returned for the test to add its own nodes, carried inputs
// (after those two) and outputs (after the condition).
onnx::GraphProto* AddLoop(onnx::GraphProto* g, std::vector<std::string> inputs, std::vector<std::string> outputs) {
  auto* loop = test::AddNode(g, "Loop", "loop", std::move(inputs), std::move(outputs));
  auto* a = loop->add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* body = a->mutable_g();
  body->set_name("body");
  test::SetType(body->add_input(), "i", {}, onnx::TensorProto::INT64);
  test::SetType(body->add_input(), "cond_in", {}, onnx::TensorProto::BOOL);
  test::AddNode(body, "Identity", "keep_going", {"cond_in"}, {"cond_out"});
  auto* cond = body->add_output();
  cond->set_name("cond_out");
  cond->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
  cond->mutable_type()->mutable_tensor_type()->mutable_shape();
  return body;
}

std::vector<int64_t> ShapeOf(const Graph& g, const std::string& tensor) {
  const TensorId t = g.FindTensor(tensor);
  EXPECT_NE(t, kNone) << tensor;
  return t == kNone ? std::vector<int64_t>{} : g.tensor_shape(t).vec();
}

std::string ImportError(onnx::ModelProto m) {
  try {
    ImportModel(m, "m.onnx", ImportOptions{});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void ExpectContains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' not in: " << text;
}

// torch.chunk(x, 2, dim=1) as PyTorch exports it: the slice's end comes from Shape -> Gather -> Div -> Unsqueeze.
// ONNX 1.12's inference, data propagation included, leaves the Slice without a shape.
onnx::ModelProto ChunkModel() {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 8});
  AddInts(g, "one", {1}, /*scalar=*/true);
  AddInts(g, "two", {2}, /*scalar=*/true);
  AddInts(g, "zero_axis", {0});
  AddInts(g, "starts", {0});
  AddInts(g, "axes", {1});
  test::AddNode(g, "Shape", "shape", {"x"}, {"s"});
  test::AddNode(g, "Gather", "gather", {"s", "one"}, {"d"});
  test::AddNode(g, "Div", "div", {"d", "two"}, {"half"});
  test::AddNode(g, "Unsqueeze", "unsqueeze", {"half", "zero_axis"}, {"end"});
  test::AddNode(g, "Slice", "slice", {"x", "starts", "end", "axes"}, {"y"});
  test::AddNode(g, "Relu", "relu", {"y"}, {"out"});
  AddUntypedOutput(g, "out");
  return m;
}

TEST(ShapeInferenceTest, ShapeComputationsAreFoldedSoSlicesGetStaticShapes) {
  onnx::ModelProto m = ChunkModel();
  ImportReport report;
  const Graph g = ImportModel(m, "chunk", ImportOptions{}, &report);
  EXPECT_EQ(ShapeOf(g, "y"), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ShapeOf(g, "out"), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ShapeOf(g, "end"), (std::vector<int64_t>{1}));
  EXPECT_TRUE(report.ran_shape_inference);
  EXPECT_EQ(report.folded_values, 4u);  // s, d, half, end
  EXPECT_EQ(g.num_nodes(), 6u);         // folded nodes stay: forward node i is ONNX node i
  EXPECT_EQ(g.node(4).op_type, "Slice");
}

TEST(ShapeInferenceTest, DeclaredShapeThatContradictsTheOpIsRefused) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {8, 8});
  test::AddNode(g, "Relu", "relu", {"x"}, {"y"});
  test::SetType(g->add_value_info(), "y", {4, 4});
  test::SetType(g->add_output(), "y", {4, 4});
  ExpectContains(ImportError(m), {"m.onnx: node 'relu' (Relu): output 'y' is declared 4x4 but the op implies 8x8"});
  // The same file imports when it says nothing, and --no-check skips the check of what it says.
  ImportOptions unchecked;
  unchecked.check = false;
  EXPECT_EQ(ShapeOf(ImportModel(m, "m.onnx", unchecked), "y"), (std::vector<int64_t>{4, 4}));
}

TEST(ShapeInferenceTest, DeclaredElementTypeThatContradictsTheOpIsRefused) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  test::AddNode(g, "Shape", "shape", {"x"}, {"s"});
  test::SetType(g->add_output(), "s", {1}, onnx::TensorProto::FLOAT);
  ExpectContains(ImportError(m), {"node 'shape' (Shape): output 's' is declared float32 but the op implies int64"});
}

TEST(ShapeInferenceTest, SizesThatOverflowSixtyFourBitsAreRefused) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  const int64_t huge = int64_t{1} << 40;
  test::SetType(g->add_input(), "x", {huge, huge});
  test::AddNode(g, "Relu", "relu", {"x"}, {"y"});
  test::SetType(g->add_output(), "y", {huge, huge});
  ExpectContains(ImportError(m), {"tensor 'x' (1099511627776x1099511627776): its size overflows 64 bits"});
}

TEST(ShapeInferenceTest, AnOpWhoseInferenceFailsOnItsInputsIsNamed) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  test::AddInitializer(g, "w", {4, 5});  // inner dims 3 and 4
  test::AddNode(g, "MatMul", "matmul", {"x", "w"}, {"y"});
  AddUntypedOutput(g, "y");
  ExpectContains(ImportError(m), {"m.onnx: node 'matmul' (MatMul): the op's shape inference fails: "
                                  "Incompatible dimensions for matrix multiplication"});
}

TEST(ShapeInferenceTest, DataDependentDimsAreBoundedAndReported) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3, 4});
  test::AddNode(g, "NonZero", "nonzero", {"x"}, {"nz"});
  test::AddNode(g, "Transpose", "transpose", {"nz"}, {"coords"});
  AddUntypedOutput(g, "coords", onnx::TensorProto::INT64);
  ImportReport report;
  const Graph graph = ImportModel(m, "nz", ImportOptions{}, &report);
  EXPECT_EQ(ShapeOf(graph, "nz"), (std::vector<int64_t>{2, 12}));  // every element non-zero
  EXPECT_EQ(ShapeOf(graph, "coords"), (std::vector<int64_t>{12, 2}));
  ASSERT_EQ(report.warnings.size(), 1u);
  ExpectContains(report.warnings[0], {"1 NonZero node has outputs whose size depends on run-time data",
                                      "upper bounds", "node 'nonzero': 2x12"});
  // The model says which dims are bounds: the inferred value_info marks them.
  bool marked = false;
  for (const auto& vi : m.graph().value_info())
    if (vi.name() == "nz") marked = vi.type().tensor_type().shape().dim(1).denotation() == kUpperBoundDenotation;
  EXPECT_TRUE(marked);
}

TEST(ShapeInferenceTest, AShapeComputedFromRunTimeDataNamesWhereItComesFrom) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {4});
  test::SetType(g->add_input(), "y", {2, 2});
  test::AddNode(g, "Cast", "cast", {"x"}, {"c"})->add_attribute()->set_name("to");
  g->mutable_node(0)->mutable_attribute(0)->set_i(onnx::TensorProto::INT64);
  g->mutable_node(0)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  test::AddNode(g, "Reshape", "reshape", {"y", "c"}, {"r"});
  AddUntypedOutput(g, "r");
  ExpectContains(ImportError(m), {"cannot resolve the static shape of tensor 'r' (output of node 'reshape', op Reshape)",
                                  "its input 'c' (input 1) is computed from run-time data: graph input 'x'"});
}

// An If choosing between x (2x3) and x twice (4x3); its condition folds (6 == Size(x)) unless run_time_condition.
onnx::ModelProto IfModel(bool run_time_condition) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  if (run_time_condition) {
    test::SetType(g->add_input(), "cond", {}, onnx::TensorProto::BOOL);
  } else {
    AddInts(g, "six", {6}, /*scalar=*/true);
    test::AddNode(g, "Size", "size", {"x"}, {"n"});
    test::AddNode(g, "Equal", "equal", {"n", "six"}, {"cond"});
  }
  auto* node = test::AddNode(g, "If", "if", {"cond"}, {"out"});
  auto branch = [&](const std::string& name, bool doubled) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* body = a->mutable_g();
    body->set_name(name);
    auto* n = test::AddNode(body, doubled ? "Concat" : "Identity", name + "_op",
                            doubled ? std::vector<std::string>{"x", "x"} : std::vector<std::string>{"x"}, {name + "_y"});
    if (doubled) {
      auto* axis = n->add_attribute();
      axis->set_name("axis");
      axis->set_type(onnx::AttributeProto::INT);
      axis->set_i(0);
    }
    AddUntypedOutput(body, name + "_y");
  };
  branch("then_branch", false);
  branch("else_branch", true);
  AddUntypedOutput(g, "out");
  return m;
}

TEST(ShapeInferenceTest, AnIfWhoseConditionFoldsTakesItsBranchsShapes) {
  // ONNX merges the branches (2x3 and 4x3) into ?x3; the condition (6 == 6) says which one runs.
  onnx::ModelProto m = IfModel(false);
  EXPECT_EQ(ShapeOf(ImportModel(m, "if", ImportOptions{}), "out"), (std::vector<int64_t>{2, 3}));
}

TEST(ShapeInferenceTest, AnIfDecidedAtRunTimeIsBoundedByItsLargerBranch) {
  onnx::ModelProto m = IfModel(true);
  ImportReport report;
  EXPECT_EQ(ShapeOf(ImportModel(m, "if", ImportOptions{}, &report), "out"), (std::vector<int64_t>{4, 3}));
  ASSERT_EQ(report.warnings.size(), 1u);
  ExpectContains(report.warnings[0], {"1 If node has outputs whose size depends on run-time data", "node 'if': 4x3"});
}

TEST(ShapeInferenceTest, AnIfOnBoundedSizesWhoseBranchesDifferInRankTakesTheBranchTheBoundPicks) {
  // torchvision's roi pooling: `squeeze(1)` if dim 1 of a data-dependent tensor is 1, else the tensor itself.
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3, 4});
  test::AddNode(g, "NonZero", "nonzero", {"x"}, {"nz"});  // 2 x (at most 12)
  test::AddNode(g, "Shape", "shape", {"nz"}, {"s"});
  AddInts(g, "zero", {0}, /*scalar=*/true);
  AddInts(g, "two", {2}, /*scalar=*/true);
  test::AddNode(g, "Gather", "rows", {"s", "zero"}, {"rows"});
  test::AddNode(g, "Equal", "equal", {"rows", "two"}, {"cond"});
  auto* node = test::AddNode(g, "If", "if", {"cond"}, {"out"});
  for (const bool then : {true, false}) {
    auto* a = node->add_attribute();
    a->set_name(then ? "then_branch" : "else_branch");
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* body = a->mutable_g();
    body->set_name(a->name());
    const std::string y = a->name() + "_y";
    if (then) {
      test::AddNode(body, "Identity", "keep", {"x"}, {y});
    } else {
      auto* sum = test::AddNode(body, "ReduceSum", "sum", {"x"}, {y});
      auto* keep = sum->add_attribute();
      keep->set_name("keepdims");
      keep->set_type(onnx::AttributeProto::INT);
      keep->set_i(0);
    }
    AddUntypedOutput(body, y, onnx::TensorProto::FLOAT, then ? 2 : 0);
  }
  AddUntypedOutput(g, "out");
  ImportReport report;
  EXPECT_EQ(ShapeOf(ImportModel(m, "if", ImportOptions{}, &report), "out"), (std::vector<int64_t>{3, 4}));
  bool warned = false;
  for (const std::string& w : report.warnings)
    warned |= w.find("1 If node has outputs") != std::string::npos &&
              w.find("the branch a condition computed from bounds takes") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(ShapeInferenceTest, LoopScanOutputsAreBoundedByAConstantTripCount) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  AddInts(g, "trips", {5}, /*scalar=*/true);
  auto* body = AddLoop(g, {"trips", ""}, {"stacked"});
  test::AddNode(body, "Neg", "neg", {"x"}, {"step"});  // reads x from the main graph
  AddUntypedOutput(body, "step", onnx::TensorProto::FLOAT, 1);
  AddUntypedOutput(g, "stacked");
  ImportReport report;
  const Graph graph = ImportModel(m, "loop", ImportOptions{}, &report);
  EXPECT_EQ(ShapeOf(graph, "stacked"), (std::vector<int64_t>{5, 3}));
  ASSERT_EQ(report.warnings.size(), 1u);
  ExpectContains(report.warnings[0], {"1 Loop node", "all M iterations"});
}

// torchvision's mask pasting: a result appended to once per iteration. Its size after M iterations bounds it;
// what the exporter declared (one traced iteration) does not contradict that bound.
TEST(ShapeInferenceTest, LoopCarriedValuesThatGrowEachIterationAreBounded) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {3});
  AddInts(g, "trips", {5}, /*scalar=*/true);
  AddInts(g, "axis0", {0});
  test::AddInitializer(g, "empty", {0, 3});
  auto* body = AddLoop(g, {"trips", "", "empty"}, {"rows"});
  auto* carried = body->add_input();
  carried->set_name("acc");
  carried->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  test::AddNode(body, "Unsqueeze", "row", {"x", "axis0"}, {"r"});
  auto* axis = test::AddNode(body, "Concat", "append", {"acc", "r"}, {"acc_out"})->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  test::SetType(body->add_value_info(), "acc_out", {1, 3});  // what the traced first iteration saw
  AddUntypedOutput(body, "acc_out");
  AddUntypedOutput(g, "rows");
  ImportReport report;
  const Graph graph = ImportModel(m, "grow", ImportOptions{}, &report);
  EXPECT_EQ(ShapeOf(graph, "rows"), (std::vector<int64_t>{5, 3}));
  ASSERT_EQ(report.warnings.size(), 1u);
  ExpectContains(report.warnings[0], {"1 Loop node", "node 'loop': 5x3", "growing as the first two do"});
  // The cost model runs the body M = 5 times.
  EXPECT_EQ(graph.node(graph.FindNode("loop")).attrs.trip_count, 5);
}

TEST(ShapeInferenceTest, CheckingAModelThatCarriesItsShapesWritesNothing) {
  const onnx::ModelProto m = test::Mlp(4);
  std::string before, after;
  m.SerializeToString(&before);
  onnx::ModelProto inferred = m;
  InferShapes(inferred, "mlp");  // the file lacks h and r: inference adds them
  const ShapeInferenceReport check = CheckShapes(inferred, "mlp");
  EXPECT_FALSE(check.changed);
  EXPECT_EQ(check.inferred, 0u);
  inferred.SerializeToString(&after);
  std::string again;
  CheckShapes(inferred, "mlp");
  inferred.SerializeToString(&again);
  EXPECT_EQ(after, again);
  EXPECT_NE(before, after);
  EXPECT_TRUE(CheckShapes(m, "mlp").changed);  // the original would gain value_info from InferShapes
}

// What onnx::checker lets through, found by mutating models as a hostile user would: each a one-line Error naming
// the initializer, node, input or field.
TEST(ShapeInferenceTest, HostileInitializersOpsetsAndOutputsAreOneLineErrors) {
  const auto gemm = [](std::vector<int64_t> b_dims) {
    onnx::ModelProto m = test::NewModel();
    auto* g = m.mutable_graph();
    test::SetType(g->add_input(), "a", {4, 5});
    test::AddInitializer(g, "B", std::move(b_dims));
    test::AddNode(g, "Gemm", "gemm", {"a", "B"}, {"y"});
    AddUntypedOutput(g, "y");
    return m;
  };
  const auto error_with = [&](auto edit) {
    onnx::ModelProto m = gemm({5, 3});
    edit(m);
    return ImportError(m);
  };
  EXPECT_EQ(error_with([](onnx::ModelProto&) {}), "");
  ExpectContains(ImportError(gemm({6, 3})), {"m.onnx: node 'gemm' (Gemm): A's inner dim 5 differs from B's 6"});
  using T = onnx::TensorProto;
  // (The checker refuses a bad data_type beside typed data; beside raw_data, allot does.)
  ExpectContains(error_with([](onnx::ModelProto& m) {
                   T* b = m.mutable_graph()->mutable_initializer(0);
                   b->clear_float_data();
                   b->set_raw_data(std::string(60, '\0'));
                   b->set_data_type(999);
                 }),
                 {"m.onnx: initializer 'B': data_type 999 is no ONNX tensor type"});
  ExpectContains(error_with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->add_float_data(1); }),
                 {"initializer 'B': holds 16 values, but 5x3 takes 15"});
  ExpectContains(error_with([](onnx::ModelProto& m) {
                   T* b = m.mutable_graph()->mutable_initializer(0);
                   b->clear_float_data();
                   b->set_raw_data(std::string(59, '\0'));
                 }),
                 {"initializer 'B': raw_data holds 59 bytes, but 5x3 takes 60"});
  ExpectContains(error_with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->set_dims(1, -7); }),
                 {"initializer 'B': has a negative dim -7"});
  ExpectContains(error_with([](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(999); }),
                 {"opset_import: ai.onnx version 999 is outside the 1 to"});
  ExpectContains(error_with([](onnx::ModelProto& m) { AddUntypedOutput(m.mutable_graph(), "ghost"); }),
                 {"graph output 'ghost' is produced by no node"});
  ExpectContains(error_with([](onnx::ModelProto& m) {
                   m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(-7);
                 }),
                 {"graph input 'a' has dim 1 = -7"});

  // Found by scripts/fuzz.sh (onnx_import): a ConvTranspose whose weight has rank 2 under a rank-4 input made
  // ONNX's inference read past the weight's dims (SIGSEGV).
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "X", {1, 1, 3, 3});
  test::SetType(g->add_input(), "W", {1, 1});
  test::SetInts(test::AddNode(g, "ConvTranspose", "deconv", {"X", "W"}, {"Y"}), "dilations", {2, 2});
  AddUntypedOutput(g, "Y", onnx::TensorProto::FLOAT, 4);
  ExpectContains(ImportError(m), {"node 'deconv' (ConvTranspose): the weight has rank 2 under an input of rank 4"});
  g->mutable_input(1)->CopyFrom(g->input(0));
  g->mutable_input(1)->set_name("W");
  g->mutable_node(0)->mutable_attribute(0)->add_ints(2);  // dilations: 3 values
  ExpectContains(ImportError(m), {"attribute 'dilations' has 3 values for 2 spatial axes"});
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// Attributes and operand shapes the checker lets through are refused before anything divides by them (a zero
// stride killed `allot inspect` with SIGFPE inside ONNX's Conv inference).
TEST(ShapeInferenceTest, UnsoundConvAndPoolAttributesAreOneLineErrors) {
  auto conv = [](const std::string& op, std::vector<int64_t> weight, const std::string& attr,
                 std::vector<int64_t> values) {
    onnx::ModelProto m = test::NewModel();
    auto* g = m.mutable_graph();
    test::SetType(g->add_input(), "x", {1, 4, 8, 8});
    std::vector<std::string> inputs = {"x"};
    if (!weight.empty()) {
      test::AddInitializer(g, "w", weight);
      inputs.push_back("w");
    }
    auto* node = test::AddNode(g, op, "op", inputs, {"y"});
    if (op != "Conv") {
      auto* k = node->add_attribute();
      k->set_name("kernel_shape");
      k->set_type(onnx::AttributeProto::INTS);
      k->add_ints(2);
      k->add_ints(2);
    }
    auto* a = node->add_attribute();
    a->set_name(attr);
    if (attr == "group") {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(values[0]);
    } else {
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : values) a->add_ints(v);
    }
    AddUntypedOutput(g, "y", onnx::TensorProto::FLOAT, 4);
    return ImportError(m);
  };
  ExpectContains(conv("Conv", {4, 4, 3, 3}, "strides", {0, 0}),
                 {"node 'op' (Conv): attribute 'strides' has 0; strides must be positive"});
  ExpectContains(conv("MaxPool", {}, "strides", {1, 0}), {"node 'op' (MaxPool): attribute 'strides' has 0"});
  ExpectContains(conv("Conv", {4, 4, 3, 3}, "dilations", {0, 1}), {"attribute 'dilations' has 0"});
  ExpectContains(conv("AveragePool", {}, "pads", {0, -1, 0, 0}), {"attribute 'pads' has -1"});
  ExpectContains(conv("Conv", {4, 4, 3, 3}, "group", {0}), {"attribute 'group' is 0; it must be positive"});
  ExpectContains(conv("Conv", {4, 1, 3, 3}, "group", {3}), {"group 3 does not divide the input's 4 channels"});
  ExpectContains(conv("Conv", {4, 2, 3, 3}, "group", {1}),
                 {"the weight's 2 channels per group times group 1 is not the input's 4 channels"});
  EXPECT_EQ(conv("Conv", {4, 2, 3, 3}, "group", {2}), "");  // a sound grouped convolution
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// ONNX 1.12's Einsum inference gives the rank only (MaxViT's attention); the pass reads the equation.
TEST(ShapeInferenceTest, EinsumOutputsGetTheirShapesFromTheEquation) {
  auto einsum = [](const std::string& equation, std::vector<std::vector<int64_t>> inputs, int rank) {
    onnx::ModelProto m = test::NewModel();
    auto* g = m.mutable_graph();
    std::vector<std::string> names;
    for (size_t i = 0; i < inputs.size(); ++i) {
      names.push_back("x" + std::to_string(i));
      test::SetType(g->add_input(), names.back(), inputs[i]);
    }
    auto* a = test::AddNode(g, "Einsum", "einsum", names, {"y"})->add_attribute();
    a->set_name("equation");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(equation);
    AddUntypedOutput(g, "y", onnx::TensorProto::FLOAT, rank);
    return ShapeOf(ImportModel(m, "einsum", ImportOptions{}), "y");
  };
  EXPECT_EQ(einsum("bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}, 3), (std::vector<int64_t>{2, 3, 5}));
  EXPECT_EQ(einsum("...ij,...jk->...ik", {{7, 2, 3, 4}, {7, 2, 4, 5}}, 4), (std::vector<int64_t>{7, 2, 3, 5}));
  EXPECT_EQ(einsum("ij,jk", {{3, 4}, {4, 5}}, 2), (std::vector<int64_t>{3, 5}));  // implicit: i, k
  EXPECT_EQ(einsum("b h w c, b h k c -> b h w k", {{1, 2, 3, 8}, {1, 2, 5, 8}}, 4), (std::vector<int64_t>{1, 2, 3, 5}));
}

}  // namespace
}  // namespace allot
