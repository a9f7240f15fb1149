// The ONNX importer: hand-built models, every libonnx-testdata model, and malformed input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "tests/test_models.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "allot_tests";
  fs::create_directories(dir);
  return (dir / name).string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ErrorOf(const std::string& path, const ImportOptions& opt = {}) {
  try {
    ImportOnnxFile(path, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImportTest, MlpShapesBytesAndWork) {
  onnx::ModelProto m = test::Mlp(5);
  ImportReport report;
  const Graph g = ImportModel(m, "mlp", ImportOptions{}, &report);
  ASSERT_EQ(g.num_nodes(), 3u);
  EXPECT_TRUE(report.ran_shape_inference);
  const Tensor& h = g.tensor(g.FindTensor("h"));
  EXPECT_EQ(h.shape, (std::vector<int64_t>{5, 8}));
  EXPECT_EQ(h.bytes, 5u * 8u * 4u);
  EXPECT_TRUE(g.tensor(g.FindTensor("W1")).is_parameter);
  EXPECT_TRUE(g.tensor(g.FindTensor("x")).is_graph_input);
  EXPECT_TRUE(g.tensor(g.FindTensor("y")).is_graph_output);
  // Gemm: 2*M*N*K + M*N.
  EXPECT_DOUBLE_EQ(g.node(g.FindNode("fc1")).flops, 2.0 * 5 * 8 * 4 + 5 * 8);
  EXPECT_EQ(g.parameter_bytes()[g.FindNode("fc1")], (4u * 8u + 8u) * 4u);
  EXPECT_EQ(g.total_parameter_bytes(), (4u * 8u + 8u + 8u * 3u + 3u) * 4u);
}

TEST(OnnxImportTest, UnnamedNodesGetDeterministicUniqueNames) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2});
  test::AddNode(g, "Relu", "", {"x"}, {"a"});
  test::AddNode(g, "Relu", "Relu_0", {"a"}, {"b"});  // collides with the generated name of node 0
  test::AddNode(g, "Relu", "", {"b"}, {"c"});
  test::SetType(g->add_output(), "c", {2});
  const Graph graph = ImportModel(m, "names", ImportOptions{});
  EXPECT_EQ(graph.node(0).name, "Relu_0");
  EXPECT_EQ(graph.node(1).name, "Relu_0__2");
  EXPECT_EQ(graph.node(2).name, "Relu_2");
}

// BatchNormalization's running mean and variance are optimizer-free state, unless another node reads them too
// (then they are weights like any other). Scale and bias are trained.
TEST(OnnxImportTest, BatchNormRunningStatisticsAreStateNotParameters) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3, 4, 4});
  for (const char* name : {"scale", "bias", "mean", "var"}) test::AddInitializer(g, name, {3});
  test::AddNode(g, "BatchNormalization", "bn", {"x", "scale", "bias", "mean", "var"}, {"y"});
  test::SetType(g->add_output(), "y", {2, 3, 4, 4});
  {
    const Graph graph = ImportModel(m, "bn", ImportOptions{});
    for (const char* name : {"scale", "bias"}) EXPECT_TRUE(graph.tensor(graph.FindTensor(name)).is_parameter) << name;
    for (const char* name : {"mean", "var"}) {
      const Tensor t = graph.tensor(graph.FindTensor(name));
      EXPECT_FALSE(t.is_parameter) << name;
      EXPECT_TRUE(t.is_constant) << name;
    }
  }
  test::AddNode(g, "Add", "also_reads_mean", {"mean", "bias"}, {"z"});
  test::SetType(g->add_output(), "z", {3});
  const Graph graph = ImportModel(m, "bn2", ImportOptions{});
  EXPECT_TRUE(graph.tensor(graph.FindTensor("mean")).is_parameter);
  EXPECT_FALSE(graph.tensor(graph.FindTensor("var")).is_parameter);
}

// Attributes are stored only for the nodes that have some; the rest read the defaults.
TEST(OnnxImportTest, AttributesReadBackPerNode) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {1, 3, 8, 8});
  test::AddInitializer(g, "w", {4, 3, 3, 3});
  test::SetInts(test::AddNode(g, "Conv", "conv", {"x", "w"}, {"c"}), "strides", {2, 2});
  test::AddNode(g, "Relu", "relu", {"c"}, {"y"});
  test::SetType(g->add_output(), "y", {1, 4, 3, 3});
  const Graph graph = ImportModel(m, "attrs", ImportOptions{});
  EXPECT_EQ(graph.node(graph.FindNode("conv")).attrs.strides, (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(graph.node(graph.FindNode("relu")).attrs.is_default());
  // 4 output channels x 3x3 pixels, each 3 input channels x 3x3 kernel, 2 FLOPs per multiply-add.
  EXPECT_DOUBLE_EQ(graph.node(graph.FindNode("conv")).flops, 2.0 * 4 * 3 * 3 * 3 * 3 * 3);
}

// A model that carries every shape is built without ONNX shape inference; one missing a shape gets it.
TEST(OnnxImportTest, ShapeInferenceRunsOnlyWhenAShapeIsMissing) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {2, 3});
  test::AddNode(g, "Relu", "r1", {"x"}, {"a"});
  test::AddNode(g, "Relu", "r2", {"a"}, {"b"});
  test::SetType(g->add_output(), "b", {2, 3});
  onnx::ModelProto missing = m;
  test::SetType(m.mutable_graph()->add_value_info(), "a", {2, 3});
  ImportReport carried, inferred;
  const Graph with_shapes = ImportModel(m, "carried", ImportOptions{}, &carried);
  const Graph without = ImportModel(missing, "inferred", ImportOptions{}, &inferred);
  EXPECT_FALSE(carried.ran_shape_inference);
  EXPECT_TRUE(inferred.ran_shape_inference);
  EXPECT_EQ(without.tensor(without.FindTensor("a")).shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(with_shapes.hash(), without.hash());
}

TEST(OnnxImportTest, SymbolicBatchIsBoundOrReported) {
  const onnx::ModelProto base = test::MlpWithSymbolicBatch();
  {
    onnx::ModelProto m = base;
    ImportOptions opt;
    opt.batch = 7;
    const Graph g = ImportModel(m, "sym", opt);
    EXPECT_EQ(g.tensor(g.FindTensor("y")).shape, (std::vector<int64_t>{7, 3}));
  }
  {
    onnx::ModelProto m = base;
    ImportOptions opt;
    opt.dims = {{"batch_size", 3}};
    const Graph g = ImportModel(m, "sym", opt);
    EXPECT_EQ(g.tensor(g.FindTensor("h")).shape, (std::vector<int64_t>{3, 8}));
  }
  {
    onnx::ModelProto m = base;
    try {
      ImportModel(m, "sym.onnx", ImportOptions{});
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("batch_size"), std::string::npos) << e.what();
    }
  }
}

TEST(OnnxImportTest, ControlFlowIsOneNodeCostingItsBody) {
  onnx::ModelProto m = test::NewModel();
  auto* g = m.mutable_graph();
  test::SetType(g->add_input(), "x", {4, 4});
  test::SetType(g->add_input(), "cond", {}, onnx::TensorProto::BOOL);
  auto* node = test::AddNode(g, "If", "branch", {"cond"}, {"y"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attr = node->add_attribute();
    attr->set_name(branch);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* body = attr->mutable_g();
    body->set_name(branch);
    const bool heavy = std::string(branch) == "then_branch";
    test::AddNode(body, heavy ? "MatMul" : "Relu", "", heavy ? std::vector<std::string>{"x", "x"} : std::vector<std::string>{"x"}, {"out"});
    test::SetType(body->add_output(), "out", {4, 4});
  }
  test::SetType(g->add_output(), "y", {4, 4});
  const Graph graph = ImportModel(m, "if", ImportOptions{});
  ASSERT_EQ(graph.num_nodes(), 1u);
  EXPECT_DOUBLE_EQ(graph.node(0).flops, 2.0 * 16 * 4);  // the MatMul branch
  // The outer-scope read of x became an input.
  EXPECT_EQ(graph.node(0).inputs.size(), 2u);
}

TEST(OnnxImportTest, MalformedFilesGiveOneLineErrorsNamingTheFile) {
  std::string good;
  test::Mlp().SerializeToString(&good);

  const std::string truncated = TempPath("truncated.onnx");
  WriteBytes(truncated, good.substr(0, good.size() / 2));
  const std::string random = TempPath("random.onnx");
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  WriteBytes(random, noise);
  const std::string empty = TempPath("empty.onnx");
  WriteBytes(empty, "");

  onnx::ModelProto dangling = test::Mlp();
  dangling.mutable_graph()->mutable_node(1)->set_input(0, "ghost");
  const std::string dangling_path = TempPath("dangling.onnx");
  WriteBytes(dangling_path, dangling.SerializeAsString());

  onnx::ModelProto cycle = test::Mlp();
  cycle.mutable_graph()->mutable_node(0)->set_input(0, "r");  // fc1 reads relu's output
  const std::string cycle_path = TempPath("cycle.onnx");
  WriteBytes(cycle_path, cycle.SerializeAsString());

  const std::vector<std::pair<std::string, std::string>> cases = {
      {truncated, ""}, {random, ""}, {empty, "empty"}, {TempPath("missing.onnx"), "cannot open"},
      {dangling_path, "ghost"}, {cycle_path, "cycle"}};
  for (const auto& [path, needle] : cases) {
    const std::string msg = ErrorOf(path);
    ASSERT_FALSE(msg.empty()) << path << " imported without error";
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind(path, 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

// Every model in libonnx-testdata's node/ and pytorch-converted/ either imports or fails with a clean one-line
// Error; nothing crashes. The counts are printed so regressions in coverage are visible.
void SweepTestdata(const std::string& folder, size_t min_imported) {
  const fs::path root = fs::path("/usr/share/libonnx-testdata/data") / folder;
  if (!fs::exists(root)) GTEST_SKIP() << root << " missing (install libonnx-testdata)";
  size_t imported = 0, failed = 0;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root))
    if (fs::exists(entry.path() / "model.onnx")) cases.push_back(entry.path() / "model.onnx");
  std::sort(cases.begin(), cases.end());
  for (const fs::path& model : cases) {
    try {
      const Graph g = ImportOnnxFile(model.string(), ImportOptions{});
      EXPECT_EQ(g.topo_order().size(), g.num_nodes());
      ++imported;
    } catch (const Error& e) {
      ++failed;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  std::printf("[ testdata ] %s: %zu imported, %zu failed with a clean error (of %zu)\n", folder.c_str(), imported,
              failed, cases.size());
  EXPECT_GE(imported, min_imported);
}

// Repeated fields over their caps (graph/onnx_limits.h) are refused from the bytes, before protobuf or the IR build
// allocates them, naming the node, attribute or tensor and the field.
TEST(OnnxImportTest, RepeatedFieldsOverTheirCapsFailBeforeParsing) {
  auto refused = [](const onnx::ModelProto& m, const std::string& needle) {
    onnx::ModelProto parsed;
    try {
      ParseAndImport(m.SerializeAsString(), "hostile.onnx", ImportOptions{}, parsed);
      ADD_FAILURE() << "imported; wanted: " << needle;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("hostile.onnx: ", 0), 0u) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_EQ(parsed.graph().node_size(), 0) << "parsed before the check";
    }
  };
  onnx::ModelProto inputs = test::Mlp();
  auto* sum = test::AddNode(inputs.mutable_graph(), "Sum", "wide", {}, {"s"});
  for (int i = 0; i <= 65536; ++i) sum->add_input("x");
  refused(inputs, "node 'wide' (Sum) has more than 65536 inputs");

  onnx::ModelProto rank = test::Mlp();
  test::AddInitializer(rank.mutable_graph(), "deep", std::vector<int64_t>(65, 1));
  refused(rank, "initializer tensor 'deep' has more than 64 dims");

  onnx::ModelProto ints = test::Mlp();
  test::SetInts(test::AddNode(ints.mutable_graph(), "Constant", "k", {}, {"k_out"}), "value_ints",
                std::vector<int64_t>((1 << 24) + 1, 1));
  refused(ints, "node 'k' (Constant)'s attribute 'value_ints' has more than 16777216 ints");

  onnx::ModelProto opsets = test::Mlp();
  for (int i = 0; i < 1024; ++i) opsets.add_opset_import()->set_domain("d" + std::to_string(i));
  refused(opsets, "the model has more than 1024 opset_import entries");

  // Below the caps a model imports as before (a Concat of 4096 inputs).
  onnx::ModelProto wide = test::Mlp();
  onnx::NodeProto* concat = test::AddNode(wide.mutable_graph(), "Concat", "cat", {}, {"c"});
  test::SetInt(concat, "axis", 0);
  for (int i = 0; i < 4096; ++i) concat->add_input(wide.graph().input(0).name());
  onnx::ModelProto parsed;
  EXPECT_NO_THROW(ParseAndImport(wide.SerializeAsString(), "wide.onnx", ImportOptions{}, parsed));
}

TEST(OnnxImportTest, TestdataNodeModelsImportOrFailCleanly) { SweepTestdata("node", 800); }
TEST(OnnxImportTest, TestdataPytorchConvertedModelsImportOrFailCleanly) { SweepTestdata("pytorch-converted", 70); }

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// External-data initializers are sized from their dims and their files checked, never loaded.
TEST(OnnxImportTest, ExternalDataIsSizedAndChecked) {
  onnx::ModelProto m = test::Mlp(2);
  auto* w1 = m.mutable_graph()->mutable_initializer(0);  // W1 [4, 8]
  w1->clear_float_data();
  w1->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* location = w1->add_external_data();
  location->set_key("location");
  location->set_value("weights.bin");
  const std::string path = TempPath("external.onnx");
  WriteBytes(path, m.SerializeAsString());
  std::filesystem::remove(TempPath("weights.bin"));
  const std::string missing = ErrorOf(path);
  EXPECT_NE(missing.find("weights.bin"), std::string::npos) << missing;
  EXPECT_NE(missing.find("'W1'"), std::string::npos) << missing;

  WriteBytes(TempPath("weights.bin"), std::string(4 * 8 * 4, '\0'));
  const Graph g = ImportOnnxFile(path, ImportOptions{});
  EXPECT_EQ(g.tensor(g.FindTensor("W1")).bytes, 4u * 8u * 4u);
  EXPECT_TRUE(g.tensor(g.FindTensor("W1")).is_parameter);

  WriteBytes(TempPath("weights.bin"), std::string(10, '\0'));
  EXPECT_NE(ErrorOf(path).find("shorter"), std::string::npos);
}

}  // namespace
}  // namespace allot
