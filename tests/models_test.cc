// Tests of the benchmark model generators (models/): every generator yields a valid ONNX model whose declared
// shapes ONNX's own strict shape inference agrees with, sizes scale as the architectures say, the spec parser
// rejects bad input with a useful message, and weights are seeded and reproducible.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "models/onnx_builder.h"

namespace allot::models {
namespace {

// Small sizes for every generator, so the whole suite stays fast.
const std::vector<std::string>& SmallSpecs() {
  static const std::vector<std::string> specs = {
      "mlp",
      "mlp,layers=4,hidden=16,batch=2",
      "chain,layers=50",
      "synthetic,layers=300,hidden=8,seed=5",
      "inception_v3,batch=1",
      "resnet50,batch=1",
      "resnet50,batch=1,layers=101",
      "rnnlm,seq=3,hidden=32,vocab=50,batch=2",
      "nmt,layers=2,seq=4,hidden=64,vocab=100",
      "nmt,layers=1,seq=3,hidden=16,vocab=20,batch=2",
      "nmt,layers=3,seq=3,hidden=16,vocab=20,batch=2",
      "transformer,layers=2,seq=8,hidden=64,vocab=100,batch=2",
      "transformer,layers=1,seq=5,hidden=24,vocab=30,batch=1",
      "gpt2,layers=2,seq=8,hidden=128,vocab=100,batch=2",
      "gpt2,layers=1,seq=4,hidden=32,vocab=50,batch=1,weights=1",
      "nas_cnn,batch=1,hidden=4,seed=3",
      "nas_cnn,batch=2,layers=1,hidden=8,seed=7,weights=1",
      "nas_rnn,seq=3,hidden=16,vocab=30,batch=2,seed=2",
      "nas_rnn,layers=2,seq=2,hidden=8,vocab=20,batch=1,seed=5,weights=1",
  };
  return specs;
}

onnx::ModelProto GenerateSpec(const std::string& spec) {
  auto [name, options] = ParseModelSpec(spec);
  return Generate(name, options);
}

int64_t CountOp(const onnx::ModelProto& m, const std::string& op) {
  int64_t n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == op;
  return n;
}

bool IsStatic(const onnx::TypeProto& type) {
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return false;
  for (const auto& d : type.tensor_type().shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() <= 0) return false;
  }
  return true;
}

// Runs the checks the importer relies on to skip shape inference: checker, strict inference that agrees with
// (and adds nothing to) the declared types, and a static declared type for every tensor a node reads or writes.
void ExpectValidAndFullyTyped(const onnx::ModelProto& model, const std::string& spec) {
  SCOPED_TRACE(spec);
  ASSERT_NO_THROW(onnx::checker::check_model(model));
  EXPECT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).domain(), "");
  EXPECT_EQ(model.opset_import(0).version(), kOpsetVersion);

  onnx::ModelProto inferred = model;
  ASSERT_NO_THROW(onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                                     onnx::ShapeInferenceOptions(true, 1, false)));
  const auto& g = model.graph();
  const auto& ig = inferred.graph();
  ASSERT_EQ(ig.value_info_size(), g.value_info_size()) << "inference found tensors without a declared type";
  for (int i = 0; i < g.value_info_size(); ++i) {
    EXPECT_EQ(ig.value_info(i).SerializeAsString(), g.value_info(i).SerializeAsString())
        << "value_info of '" << g.value_info(i).name() << "' changed";
  }
  ASSERT_EQ(ig.output_size(), g.output_size());
  for (int i = 0; i < g.output_size(); ++i) {
    EXPECT_EQ(ig.output(i).SerializeAsString(), g.output(i).SerializeAsString())
        << "output '" << g.output(i).name() << "' changed";
  }

  std::unordered_set<std::string> typed;
  for (const auto& v : g.input()) {
    EXPECT_TRUE(IsStatic(v.type())) << v.name();
    typed.insert(v.name());
  }
  for (const auto& v : g.value_info()) {
    EXPECT_TRUE(IsStatic(v.type())) << v.name();
    typed.insert(v.name());
  }
  for (const auto& v : g.output()) {
    EXPECT_TRUE(IsStatic(v.type())) << v.name();
    typed.insert(v.name());
  }
  for (const auto& t : g.initializer()) {
    EXPECT_TRUE(t.has_raw_data()) << t.name();
    typed.insert(t.name());
  }
  std::unordered_set<std::string> node_names;
  for (const auto& node : g.node()) {
    EXPECT_TRUE(node_names.insert(node.name()).second) << "duplicate node name " << node.name();
    for (const auto& name : node.input()) EXPECT_TRUE(typed.count(name)) << name;
    for (const auto& name : node.output()) EXPECT_TRUE(typed.count(name)) << name;
  }
}

TEST(ModelZoo, ListsAllGenerators) {
  std::set<std::string> names;
  for (const auto& info : ListGenerators()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    names.insert(info.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"inception_v3", "resnet50", "rnnlm", "nmt", "transformer", "gpt2", "mlp",
                                          "chain", "synthetic", "nas_cnn", "nas_rnn"}));
}

TEST(ModelZoo, SmallModelsPassCheckerAndStrictShapeInference) {
  std::set<std::string> covered;
  for (const auto& spec : SmallSpecs()) {
    ExpectValidAndFullyTyped(GenerateSpec(spec), spec);
    covered.insert(ParseModelSpec(spec).first);
  }
  EXPECT_EQ(covered.size(), ListGenerators().size()) << "every generator needs a small spec above";
}

// The check above is only worth something if strict inference does reject a wrong declared shape.
TEST(ModelZoo, StrictShapeInferenceCatchesAWrongDeclaredShape) {
  onnx::ModelProto model = GenerateSpec("nmt,layers=2,seq=2,hidden=8,vocab=10,batch=2");
  onnx::ValueInfoProto* gates = nullptr;
  for (auto& v : *model.mutable_graph()->mutable_value_info()) {
    if (v.name() == "encoder/l0/fw/t0/matmul") gates = &v;  // [2, 32]
  }
  ASSERT_NE(gates, nullptr);
  gates->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(33);
  EXPECT_ANY_THROW(onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                                      onnx::ShapeInferenceOptions(true, 1, false)));
}

// The node counts follow from the unrolled structure; spelling them out pins the structure down.
int64_t RnnLmNodes(int64_t layers, int64_t steps) {
  return 2 + steps                // Gather, Split, a Squeeze per step
         + layers * steps * 13    // LSTM cells
         + steps * 3;             // MatMul, Add, LogSoftmax per step
}

int64_t NmtNodes(int64_t layers, int64_t steps) {
  const int64_t residual_layers = layers > 2 ? layers - 2 : 0;
  const int64_t embed = 2 * (2 + steps);
  const int64_t encoder = steps * (2 * 13 + 1)                         // bidirectional bottom layer + concat
                          + (layers - 1) * steps * 13 + residual_layers * steps;
  const int64_t memory = steps + 3;                                    // Unsqueezes, Concat, MatMul, Transpose
  const int64_t decoder = steps * (1 + layers * 13 + residual_layers + 8 + 3);  // feed, cells, attention, softmax
  return embed + encoder + memory + decoder;
}

TEST(ModelZoo, RecurrentNodeCountsFollowLayersAndSteps) {
  for (int layers : {1, 2, 3}) {
    for (int64_t seq : {2, 5}) {
      ModelOptions o;
      o.layers = layers;
      o.seq = seq;
      o.hidden = 8;
      o.vocab = 11;
      o.batch = 2;
      EXPECT_EQ(Generate("rnnlm", o).graph().node_size(), RnnLmNodes(layers, seq)) << layers << " " << seq;
      EXPECT_EQ(Generate("nmt", o).graph().node_size(), NmtNodes(layers, seq)) << layers << " " << seq;
    }
  }
  ModelOptions o;  // paper sizes, 3 steps: one Split per LSTM cell plus the embedding's unstack
  o.seq = 3;
  EXPECT_EQ(CountOp(Generate("rnnlm", o), "Split"), 1 + 2 * 3);
}

TEST(ModelZoo, FeedForwardNodeCountsFollowLayers) {
  auto nodes = [](const std::string& name, int layers) {
    ModelOptions o;
    o.layers = layers;
    o.seq = 4;
    o.hidden = 16;
    o.vocab = 10;
    o.batch = 1;
    return Generate(name, o).graph().node_size();
  };
  for (const std::string name : {"transformer", "gpt2"}) {
    const int64_t one = nodes(name, 1), two = nodes(name, 2), five = nodes(name, 5);
    EXPECT_GT(two, one) << name;
    EXPECT_EQ(five - one, 4 * (two - one)) << name << ": each layer must add the same ops";
  }
  ModelOptions o;
  o.batch = 1;
  o.layers = 50;
  const auto r50 = Generate("resnet50", o);
  o.layers = 152;
  const auto r152 = Generate("resnet50", o);
  EXPECT_EQ(CountOp(r50, "Conv"), 53);    // 16 blocks * 3 + 4 downsamples + stem
  EXPECT_EQ(CountOp(r152, "Conv"), 155);  // 50 blocks * 3 + 4 + 1
  EXPECT_EQ(CountOp(Generate("inception_v3", ModelOptions{1}), "Conv"), 94);
}

TEST(ModelZoo, NmtFourLayersAtPaperSizeHasThousandsOfNodes) {
  const auto start = std::chrono::steady_clock::now();
  const onnx::ModelProto model = Generate("nmt", ModelOptions{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(model.graph().node_size(), NmtNodes(4, 40));
  EXPECT_GT(model.graph().node_size(), 5000);
  EXPECT_LT(seconds, 5.0);
  EXPECT_LT(model.ByteSizeLong(), 10u << 20) << "parameters must be inputs, not data, without weights";
  // Paper-size shapes are declared as such.
  bool found = false;
  for (const auto& v : model.graph().input()) {
    if (v.name() == "encoder/l1/kernel") {
      const auto& dims = v.type().tensor_type().shape().dim();
      ASSERT_EQ(dims.size(), 2);
      EXPECT_EQ(dims[0].dim_value(), 2048 + 1024);  // [bidirectional output, h]
      EXPECT_EQ(dims[1].dim_value(), 4 * 1024);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  ExpectValidAndFullyTyped(model, "nmt (paper size)");
}

void ExpectNoDeadOps(const onnx::ModelProto& model) {
  std::unordered_set<std::string> used;
  for (const auto& node : model.graph().node()) used.insert(node.input().begin(), node.input().end());
  for (const auto& out : model.graph().output()) used.insert(out.name());
  for (const auto& node : model.graph().node()) {
    for (const auto& name : node.output()) EXPECT_TRUE(used.count(name)) << name << " is dead";
  }
}

TEST(ModelZoo, SyntheticHasTheRequestedNodeCountAndNoDeadOps) {
  ModelOptions o;
  o.layers = 5000;
  o.seed = 7;
  const onnx::ModelProto model = Generate("synthetic", o);
  EXPECT_EQ(model.graph().node_size(), 5000);
  ExpectNoDeadOps(model);
  EXPECT_GT(CountOp(model, "MatMul"), 0);
  o.seed = 8;
  EXPECT_NE(Generate("synthetic", o).SerializeAsString(), model.SerializeAsString());
  o.layers = 100;
  EXPECT_EQ(Generate("chain", o).graph().node_size(), 100);
}

// What an architecture is, without the doc string (which names the seed) and the weights: each node's op type
// and the tensors it reads (named by scope path, so they encode the wiring and the ops along it).
std::string Structure(const onnx::ModelProto& model) {
  std::string s;
  for (const auto& node : model.graph().node()) {
    s += node.op_type() + "(";
    for (const auto& input : node.input()) s += input + ",";
    s += ")\n";
  }
  return s;
}

// The NAS families exist to give a learned placer many related graphs: each seed must be its own architecture,
// reproducible to the byte, free of dead ops, and importable as an inference and a training graph.
TEST(ModelZoo, NasFamiliesTakeTheArchitectureFromTheSeed) {
  for (const std::string name : {"nas_cnn", "nas_rnn"}) {
    SCOPED_TRACE(name);
    ModelOptions o;
    o.batch = 2;
    o.hidden = 8;
    if (name == "nas_rnn") {
      o.seq = 4;
      o.vocab = 20;
    }
    std::set<std::string> structures;
    std::set<int> node_counts;
    int64_t depthwise = 0;  // grouped Convs: the sep_conv ops, which only nas_cnn has
    constexpr uint64_t kSeeds = 8;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
      o.seed = seed;
      onnx::ModelProto model = Generate(name, o);
      structures.insert(Structure(model));
      node_counts.insert(model.graph().node_size());
      for (const auto& node : model.graph().node()) {
        for (const auto& attr : node.attribute()) depthwise += attr.name() == "group";
      }
      ExpectNoDeadOps(model);
      if (seed == 1) {
        EXPECT_EQ(Generate(name, o).SerializeAsString(), model.SerializeAsString()) << "same seed, same bytes";
        o.weights = true;
        EXPECT_EQ(Generate(name, o).SerializeAsString(), Generate(name, o).SerializeAsString()) << "with weights";
        o.weights = false;
        const Graph forward = ImportModel(model, name, ImportOptions{});
        EXPECT_EQ(forward.num_nodes(), static_cast<size_t>(model.graph().node_size()));
        EXPECT_GT(SynthesizeTrainingGraph(forward).num_nodes(), forward.num_nodes());
      }
    }
    EXPECT_EQ(structures.size(), kSeeds) << "two seeds gave the same architecture";
    EXPECT_GT(node_counts.size(), 1u) << "the sizes of a family's graphs vary with the architecture";
    EXPECT_EQ(depthwise > 0, name == "nas_cnn");
  }
}

TEST(ModelZoo, NasFamiliesKeepTheirFixedSkeleton) {
  ModelOptions o;
  o.batch = 1;
  o.hidden = 4;
  for (int layers : {1, 3}) {
    o.layers = layers;
    const onnx::ModelProto cnn = Generate("nas_cnn", o);
    int64_t cells = 0;
    for (const auto& node : cnn.graph().node()) {
      const std::string& n = node.name();
      cells += n.size() > 16 && n.compare(n.size() - 16, 16, "/final_conv/conv") == 0;
    }
    EXPECT_EQ(cells, 3 * layers + 2) << "3 stages of normal cells and 2 reduction cells";
    EXPECT_EQ(CountOp(cnn, "Gemm"), 1);
    EXPECT_EQ(CountOp(cnn, "GlobalAveragePool"), 1);
    EXPECT_EQ(cnn.graph().output(0).type().tensor_type().shape().dim(1).dim_value(), 10);
  }
  // Every node of the recurrent cell is one MatMul (node 0 two: input and state), whatever the wiring.
  ModelOptions r;
  r.batch = 1;
  r.hidden = 8;
  r.vocab = 10;
  r.seq = 3;
  r.layers = 2;
  for (uint64_t seed : {1, 2, 3}) {
    r.seed = seed;
    const onnx::ModelProto rnn = Generate("nas_rnn", r);
    EXPECT_EQ(CountOp(rnn, "MatMul"), 3 * 2 * 9 + 3) << "8 nodes per cell, 3 steps, 2 layers, one softmax per step";
    EXPECT_EQ(rnn.graph().output_size(), 3);
  }
}

TEST(ModelZoo, ParametersAreMarkedInputsWithoutWeights) {
  ModelOptions o;
  o.batch = 1;
  const onnx::ModelProto model = Generate("resnet50", o);
  int parameters = 0;
  for (const auto& v : model.graph().input()) {
    if (v.name() == "images") {
      EXPECT_EQ(v.doc_string(), "");
    } else {
      EXPECT_EQ(v.doc_string(), "allot:parameter") << v.name();
      ++parameters;
    }
  }
  EXPECT_EQ(parameters, 53 + 53 * 4 + 2);  // conv weights, BN (scale, bias, mean, var), fc weight and bias
  EXPECT_EQ(model.graph().initializer_size(), 0);
}

TEST(ModelZoo, WeightsAreSeededInitializers) {
  ModelOptions o;
  o.layers = 2;
  o.seq = 3;
  o.hidden = 16;
  o.vocab = 20;
  o.batch = 2;
  o.weights = true;
  o.seed = 3;
  const onnx::ModelProto a = Generate("nmt", o);
  ASSERT_EQ(a.graph().input_size(), 2);  // the token inputs only
  int64_t parameters = 0;
  for (const auto& t : a.graph().initializer()) {
    int64_t count = 1;
    for (int64_t d : t.dims()) count *= d;
    const size_t element = t.data_type() == onnx::TensorProto::FLOAT ? 4 : 8;
    EXPECT_EQ(t.raw_data().size(), static_cast<size_t>(count) * element) << t.name();
    parameters += t.name().rfind("const/", 0) != 0;
  }
  o.weights = false;
  EXPECT_EQ(parameters, Generate("nmt", o).graph().input_size() - 2) << "the same parameters in both forms";

  o.weights = true;
  const std::string bytes = a.SerializeAsString();
  EXPECT_EQ(Generate("nmt", o).SerializeAsString(), bytes) << "same seed, same bytes";
  o.seed = 4;
  EXPECT_NE(Generate("nmt", o).SerializeAsString(), bytes);

  // Uniform draws stay within +-1/sqrt(fan_in) and are not all equal.
  for (const auto& t : a.graph().initializer()) {
    if (t.name() != "softmax/weight") continue;
    std::vector<float> values(t.raw_data().size() / 4);
    std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
    const float bound = 1.0f / std::sqrt(16.0f);
    std::set<float> distinct(values.begin(), values.end());
    EXPECT_GT(distinct.size(), values.size() / 2);
    for (float v : values) EXPECT_LE(std::abs(v), bound);
  }
}

TEST(ModelZoo, ParseModelSpec) {
  const auto [name, o] = ParseModelSpec("nmt,layers=4,batch=64,seq=40,hidden=1024,vocab=32000,weights=1,seed=3");
  EXPECT_EQ(name, "nmt");
  EXPECT_EQ(o.layers, 4);
  EXPECT_EQ(o.batch, 64);
  EXPECT_EQ(o.seq, 40);
  EXPECT_EQ(o.hidden, 1024);
  EXPECT_EQ(o.vocab, 32000);
  EXPECT_TRUE(o.weights);
  EXPECT_EQ(o.seed, 3u);

  const auto [plain, defaults] = ParseModelSpec("gpt2");
  EXPECT_EQ(plain, "gpt2");
  EXPECT_EQ(defaults.layers, 0);
  EXPECT_FALSE(defaults.weights);
  EXPECT_EQ(defaults.seed, 1u);
  EXPECT_TRUE(ParseModelSpec("mlp, weights = false").second.weights == false);
}

void ExpectSpecError(const std::string& spec, const std::string& fragment) {
  try {
    ParseModelSpec(spec);
    ADD_FAILURE() << "'" << spec << "' parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ModelZoo, ParseModelSpecErrorsNameTheCulprit) {
  ExpectSpecError("", "missing the generator name");
  ExpectSpecError("nmtt,layers=2", "unknown model generator 'nmtt' (known: ");
  ExpectSpecError("nmt,layrs=2", "unknown option 'layrs'");
  ExpectSpecError("nmt,layers=two", "bad value 'two' for 'layers'");
  ExpectSpecError("nmt,batch=-1", "bad value '-1' for 'batch'");
  ExpectSpecError("nmt,batch=12x", "bad value '12x' for 'batch'");
  ExpectSpecError("nmt,seed=", "bad value '' for 'seed'");
  ExpectSpecError("nmt,weights=2", "bad value '2' for 'weights'");
  ExpectSpecError("nmt,layers=99999999999", "bad value '99999999999' for 'layers'");
  ExpectSpecError("nmt,layers", "option 'layers' is not key=value");
  ExpectSpecError("nmt,layers=2,layers=4", "option 'layers' given twice");
  ExpectSpecError("nmt,", "empty option");
}

TEST(ModelZoo, GenerateRejectsWhatAGeneratorCannotDo) {
  try {
    Generate("alexnet", {});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model generator 'alexnet' (known: inception_v3, "),
              std::string::npos)
        << e.what();
  }
  ModelOptions seq;
  seq.seq = 5;
  EXPECT_THROW(Generate("inception_v3", seq), Error);
  ModelOptions depth;
  depth.layers = 34;
  EXPECT_THROW(Generate("resnet50", depth), Error);
  ModelOptions negative;
  negative.batch = -2;
  EXPECT_THROW(Generate("mlp", negative), Error);
  ModelOptions huge;
  huge.layers = 2'000'000'000;
  EXPECT_THROW(Generate("synthetic", huge), Error);
}

TEST(OnnxBuilder, NamesAreUniqueAndConstantsShared) {
  OnnxBuilder b("g", false, 1);
  const Tensor x = b.Input("x", onnx::TensorProto::FLOAT, {2, 6});
  const Tensor r1 = b.Relu(x, "act");
  const Tensor r2 = b.Relu(r1, "act");
  EXPECT_EQ(r1.name, "act");
  EXPECT_EQ(r2.name, "act_1");
  const auto parts = b.Split(r2, 1, {2, 4}, "split");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "split:0");
  EXPECT_EQ(parts[1].shape, (Shape{2, 4}));
  const Tensor c1 = b.ConstInt64s({2, 4}, "sizes");
  EXPECT_EQ(c1.name, "const/split_sizes");  // the Split above already made this constant
  const Tensor m = b.MatMul(b.Reshape(parts[1], {2, 2, 2}, "r"), b.Parameter("w", {2, 3}, 2), "mm");
  EXPECT_EQ(m.shape, (Shape{2, 2, 3}));
  b.Output(m);
  const onnx::ModelProto model = b.Finish("test");
  EXPECT_EQ(model.graph().output(0).name(), "mm");
  for (const auto& v : model.graph().value_info()) EXPECT_NE(v.name(), "mm");
  EXPECT_EQ(model.graph().initializer_size(), 2);  // split sizes and reshape shape
  ExpectValidAndFullyTyped(model, "builder");
}

TEST(OnnxBuilder, RejectsMalformedOps) {
  OnnxBuilder b("g", false, 1);
  const Tensor x = b.Input("x", onnx::TensorProto::FLOAT, {2, 3});
  const Tensor y = b.Input("y", onnx::TensorProto::FLOAT, {4, 5});
  EXPECT_THROW(b.MatMul(x, y, "mm"), std::logic_error);
  EXPECT_THROW(b.Add(x, y, "add"), std::logic_error);
  EXPECT_THROW(b.Reshape(x, {5}, "reshape"), std::logic_error);
  EXPECT_THROW(b.Split(x, 1, {1, 1}, "split"), std::logic_error);
  EXPECT_THROW(b.Output(x), std::logic_error);  // graph inputs cannot double as outputs
}

}  // namespace
}  // namespace allot::models
