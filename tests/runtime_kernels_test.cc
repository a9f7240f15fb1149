// The operator layer below the conformance suites: TensorProto conversion, the kernel registry, the reference
// interpreter's checks, and kernel semantics that libonnx-testdata does not cover (old opsets, bidirectional and
// variable-length recurrences, asymmetric pads, half precision).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/conformance.h"
#include "runtime/kernels.h"
#include "runtime/reference_interpreter.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

using onnx::TensorProto;

class RuntimeKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);  // the machine is shared
    at::manual_seed(7);
  }
};

// A model of one node whose inputs are graph inputs (named as given; "" is an absent optional input) and whose
// outputs are graph outputs.
class NodeModel {
 public:
  NodeModel(const std::string& op, const std::vector<std::string>& inputs, int outputs, int opset = 17) {
    model_.set_ir_version(8);
    auto* import = model_.add_opset_import();
    import->set_domain("");
    import->set_version(opset);
    node_ = model_.mutable_graph()->add_node();
    node_->set_op_type(op);
    node_->set_name("n");
    for (const std::string& in : inputs) {
      node_->add_input(in);
      if (!in.empty()) model_.mutable_graph()->add_input()->set_name(in);
    }
    for (int i = 0; i < outputs; ++i) {
      node_->add_output("y" + std::to_string(i));
      model_.mutable_graph()->add_output()->set_name("y" + std::to_string(i));
    }
  }
  NodeModel& Int(const std::string& name, int64_t v) {
    auto* a = Attr(name, onnx::AttributeProto::INT);
    a->set_i(v);
    return *this;
  }
  NodeModel& Float(const std::string& name, float v) {
    Attr(name, onnx::AttributeProto::FLOAT)->set_f(v);
    return *this;
  }
  NodeModel& String(const std::string& name, const std::string& v) {
    Attr(name, onnx::AttributeProto::STRING)->set_s(v);
    return *this;
  }
  NodeModel& Ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = Attr(name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
    return *this;
  }
  std::vector<at::Tensor> Run(const std::vector<at::Tensor>& inputs) const { return RunModel(model_, inputs); }
  onnx::ModelProto& model() { return model_; }

 private:
  onnx::AttributeProto* Attr(const std::string& name, onnx::AttributeProto::AttributeType type) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  onnx::ModelProto model_;
  onnx::NodeProto* node_;
};

at::Tensor Longs(const std::vector<int64_t>& v) { return at::tensor(v, at::TensorOptions().dtype(at::kLong)); }

void ExpectClose(const at::Tensor& expected, const at::Tensor& actual) {
  EXPECT_EQ(CompareTensors(expected, actual), "");
}

// ---- TensorProto ---------------------------------------------------------------------------------------------------

TEST_F(RuntimeKernels, TensorProtoRoundTripsEveryType) {
  for (at::ScalarType type : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kChar, at::kByte, at::kShort,
                              at::kInt, at::kLong, at::kBool, at::kComplexFloat, at::kComplexDouble}) {
    at::Tensor t = (at::randn({2, 3}, at::kDouble) * 50).to(type);
    const TensorProto proto = TensorToProto(t, "t");
    EXPECT_EQ(proto.data_type(), OnnxTypeFromScalarType(type));
    at::Tensor back = TensorFromProto(proto);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_TRUE(at::equal(back, t)) << c10::toString(type);
  }
}

TEST_F(RuntimeKernels, TensorProtoReadsTypedFieldsAndScalars) {
  TensorProto f;
  f.set_data_type(TensorProto::FLOAT);
  f.add_float_data(2.5f);  // no dims: a scalar
  at::Tensor scalar = TensorFromProto(f);
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<float>(), 2.5f);

  TensorProto i8;
  i8.set_data_type(TensorProto::INT8);
  i8.add_dims(3);
  for (int v : {-128, 0, 127}) i8.add_int32_data(v);
  EXPECT_TRUE(at::equal(TensorFromProto(i8), at::tensor({-128, 0, 127}, at::kChar)));

  TensorProto half;  // float16 bit patterns in int32_data
  half.set_data_type(TensorProto::FLOAT16);
  half.add_dims(2);
  half.add_int32_data(0x3C00);  // 1.0
  half.add_int32_data(0xC000);  // -2.0
  EXPECT_TRUE(at::equal(TensorFromProto(half), at::tensor({1.0, -2.0}).to(at::kHalf)));

  TensorProto u32;
  u32.set_data_type(TensorProto::UINT32);
  u32.add_dims(2);
  u32.add_uint64_data(4000000000ULL);
  u32.add_uint64_data(1);
  at::Tensor wide = TensorFromProto(u32);
  EXPECT_EQ(wide.scalar_type(), at::kLong);  // LibTorch has no uint32: widened
  EXPECT_EQ(wide[0].item<int64_t>(), 4000000000LL);
}

TEST_F(RuntimeKernels, TensorProtoWidensAndNarrowsUnsignedTypes) {
  TensorProto u16;
  u16.set_data_type(TensorProto::UINT16);
  u16.add_dims(2);
  const uint16_t raw[2] = {65535, 7};
  u16.set_raw_data(std::string(reinterpret_cast<const char*>(raw), sizeof(raw)));
  at::Tensor t = TensorFromProto(u16);
  EXPECT_EQ(t.scalar_type(), at::kInt);
  EXPECT_EQ(t[0].item<int32_t>(), 65535);
  EXPECT_EQ(TensorToProto(t, "u", TensorProto::UINT16).raw_data(), u16.raw_data());
}

TEST_F(RuntimeKernels, TensorProtoErrorsNameTheTensor) {
  TensorProto s;
  s.set_name("words");
  s.set_data_type(TensorProto::STRING);
  s.add_string_data("a");
  try {
    TensorFromProto(s);
    FAIL() << "strings must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'words'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("STRING"), std::string::npos) << e.what();
  }
  TensorProto short_raw;
  short_raw.set_name("w");
  short_raw.set_data_type(TensorProto::FLOAT);
  short_raw.add_dims(4);
  short_raw.set_raw_data(std::string(8, '\0'));
  EXPECT_THROW(TensorFromProto(short_raw), Error);
  TensorProto big;
  big.set_name("b");
  big.set_data_type(TensorProto::UINT64);
  big.add_uint64_data(1ULL << 63);
  EXPECT_THROW(TensorFromProto(big), Error);
}

// ---- registry and interpreter ------------------------------------------------------------------------------------

TEST_F(RuntimeKernels, RegistryCoversTheRequiredOps) {
  for (const char* op :
       {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization", "InstanceNormalization",
        "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign",
        "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Abs", "Neg", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Pow",
        "Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Sum", "Mean", "Clip", "Where", "Equal", "Less", "Greater",
        "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "Xor", "Cast", "Concat", "Split", "Slice", "Gather",
        "GatherElements", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Tile", "Pad", "Shape",
        "Size", "Identity", "Dropout", "Constant", "ConstantOfShape", "Range", "Softmax", "LogSoftmax", "MaxPool",
        "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
        "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ArgMax", "ArgMin", "TopK",
        "CumSum", "Einsum", "LSTM", "GRU", "RNN", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth", "OneHot",
        "NonZero", "Trilu", "ScatterND", "ScatterElements", "If", "Loop", "Scan", "RoiAlign"})
    EXPECT_NE(FindKernel(op, ""), nullptr) << op;
  EXPECT_EQ(FindKernel("Conv", "ai.onnx"), FindKernel("Conv", ""));
  EXPECT_EQ(FindKernel("Conv", "com.microsoft"), nullptr);
  EXPECT_EQ(FindKernel("SequenceConstruct", ""), nullptr);
  const std::vector<std::string> ops = SupportedOps();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  EXPECT_EQ(std::adjacent_find(ops.begin(), ops.end()), ops.end());
}

TEST_F(RuntimeKernels, InterpreterReportsEveryUnsupportedOpAtOnce) {
  onnx::ModelProto model;
  model.add_opset_import()->set_version(17);
  auto* g = model.mutable_graph();
  g->add_input()->set_name("x");
  for (const char* op : {"Relu", "Frobnicate", "Bernoulli", "Frobnicate"}) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(std::string("node_") + op);
    n->add_input(g->node_size() == 1 ? "x" : g->node(g->node_size() - 2).output(0));
    n->add_output("v" + std::to_string(g->node_size()));
  }
  g->add_output()->set_name("v4");
  try {
    ReferenceInterpreter interpreter(model);
    FAIL() << "unsupported ops must be rejected before running";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Frobnicate, Bernoulli"), std::string::npos) << what;
    EXPECT_NE(what.find("node 'node_Frobnicate' (Frobnicate)"), std::string::npos) << what;
  }
}

TEST_F(RuntimeKernels, InterpreterBindsNonInitializerInputsInOrder) {
  NodeModel m("Sub", {"a", "b"}, 1);
  // "b" becomes an initializer, so the single runtime input binds to "a".
  *m.model().mutable_graph()->add_initializer() = TensorToProto(at::tensor({1.0f, 2.0f}), "b");
  ReferenceInterpreter interpreter(m.model());
  ASSERT_EQ(interpreter.input_names(), std::vector<std::string>{"a"});
  ExpectClose(at::tensor({9.0f, 8.0f}), interpreter.Run({at::tensor({10.0f, 10.0f})})[0]);
}

TEST_F(RuntimeKernels, KernelErrorsNameTheNode) {
  NodeModel m("Reshape", {"x", "shape"}, 1);
  try {
    m.Run({at::ones({2, 3}), Longs({4, -1})});
    FAIL() << "an impossible reshape must fail";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("node 'n' (Reshape): ", 0), 0u) << e.what();
  }
}

// ---- semantics beyond libonnx-testdata -----------------------------------------------------------------------------

TEST_F(RuntimeKernels, SoftmaxBeforeOpset13CoercesTo2D) {
  at::Tensor x = at::randn({2, 3, 4});
  NodeModel m("Softmax", {"x"}, 1, 11);
  m.Int("axis", 1);
  ExpectClose(at::softmax(x.reshape({2, 12}), 1).reshape({2, 3, 4}), m.Run({x})[0]);
  NodeModel m13("Softmax", {"x"}, 1, 13);
  m13.Int("axis", 1);
  ExpectClose(at::softmax(x, 1), m13.Run({x})[0]);
}

TEST_F(RuntimeKernels, SplitNumOutputsLeavesTheLastPartSmaller) {
  NodeModel m("Split", {"x"}, 3, 18);
  m.Int("num_outputs", 3);
  const std::vector<at::Tensor> parts = m.Run({at::arange(7)});
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].numel(), 3);
  EXPECT_EQ(parts[2].numel(), 1);
}

TEST_F(RuntimeKernels, SliceClampsNegativeSteps) {
  NodeModel m("Slice", {"x", "starts", "ends", "axes", "steps"}, 1, 13);
  at::Tensor x = at::arange(10);
  // From past the end down to before the start: everything, reversed.
  at::Tensor y = m.Run({x, Longs({INT64_MAX}), Longs({INT64_MIN}), Longs({0}), Longs({-3})})[0];
  EXPECT_TRUE(at::equal(y, Longs({9, 6, 3, 0})));
}

TEST_F(RuntimeKernels, PadReflectsAnyDimAndCropsNegativePads) {
  NodeModel m("Pad", {"x", "pads"}, 1, 13);
  m.String("mode", "reflect");
  at::Tensor x = at::arange(12, at::kFloat).reshape({3, 4});
  // Dim 0: 2 before, 1 after (reflected); dim 1: 1 cropped at the end.
  at::Tensor y = m.Run({x, Longs({2, 0, 1, -1})})[0];
  at::Tensor rows = x.index_select(0, Longs({2, 1, 0, 1, 2, 1}));
  ExpectClose(rows.narrow(1, 0, 3), y);
}

TEST_F(RuntimeKernels, MaxPoolIndicesWithAsymmetricPads) {
  NodeModel m("MaxPool", {"x"}, 2, 12);
  m.Ints("kernel_shape", {3, 3}).Ints("strides", {2, 2}).Ints("pads", {0, 1, 2, 0});
  at::Tensor x = at::randn({2, 3, 5, 6});
  const std::vector<at::Tensor> out = m.Run({x});
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{2, 3, 3, 3}));
  // Indices address the flattened input: gathering there gives the pooled values.
  ExpectClose(out[0], x.reshape({-1}).index_select(0, out[1].reshape({-1})).reshape(out[0].sizes()));
}

TEST_F(RuntimeKernels, AveragePoolExcludesPadsUnlessAsked) {
  at::Tensor x = at::ones({1, 1, 3, 3});
  NodeModel exclude("AveragePool", {"x"}, 1, 11);
  exclude.Ints("kernel_shape", {2, 2}).Ints("pads", {1, 1, 0, 0});
  EXPECT_FLOAT_EQ(exclude.Run({x})[0][0][0][0][0].item<float>(), 1.0f);
  NodeModel include("AveragePool", {"x"}, 1, 11);
  include.Ints("kernel_shape", {2, 2}).Ints("pads", {1, 1, 0, 0}).Int("count_include_pad", 1);
  EXPECT_FLOAT_EQ(include.Run({x})[0][0][0][0][0].item<float>(), 0.25f);
}

TEST_F(RuntimeKernels, ConvSameUpperWithStride) {
  NodeModel m("Conv", {"x", "w"}, 1, 11);
  m.String("auto_pad", "SAME_UPPER").Ints("strides", {2, 2});
  at::Tensor x = at::randn({1, 2, 7, 8}), w = at::randn({4, 2, 3, 3});
  at::Tensor y = m.Run({x, w})[0];
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 4, 4, 4}));
  // Total pad 2 on H (1 each side), 1 on W (at the end only).
  ExpectClose(at::conv2d(at::constant_pad_nd(x, {0, 1, 1, 1}), w, {}, 2), y);
}

TEST_F(RuntimeKernels, HalfPrecisionRunsInFloatAndComesBackHalf) {
  NodeModel m("Conv", {"x", "w"}, 1, 13);
  at::Tensor x = at::randn({1, 2, 5, 5}), w = at::randn({3, 2, 3, 3});
  at::Tensor y = m.Run({x.to(at::kHalf), w.to(at::kHalf)})[0];
  EXPECT_EQ(y.scalar_type(), at::kHalf);
  EXPECT_EQ(CompareTensors(at::conv2d(x.to(at::kHalf).to(at::kFloat), w.to(at::kHalf).to(at::kFloat)).to(at::kHalf),
                           y, 1e-2, 1e-2),
            "");
}

TEST_F(RuntimeKernels, ResizeOpset10NearestRepeats) {
  NodeModel m("Resize", {"x", "scales"}, 1, 10);
  at::Tensor x = at::arange(6, at::kFloat).reshape({1, 1, 2, 3});
  at::Tensor y = m.Run({x, at::tensor({1.0f, 1.0f, 2.0f, 2.0f})})[0];
  ExpectClose(x.repeat_interleave(2, 2).repeat_interleave(2, 3), y);
}

// On x[y][x] = 4y + x, bilinear samples are exact, so a bin's average is the value at its samples' mean.
TEST_F(RuntimeKernels, RoiAlignCoordinateModesAdaptiveSamplingAndMax) {
  const at::Tensor x = at::arange(16, at::kFloat).reshape({1, 1, 4, 4});
  const at::Tensor box = at::tensor({0.0f, 0.0f, 2.0f, 2.0f}).reshape({1, 4}), batch = at::zeros({1}, at::kLong);
  auto run = [&](const NodeModel& m) { return m.Run({x, box, batch})[0].reshape({-1}); };
  // Opset 10 maps box corners to pixel corners (output_half_pixel): 2x2 samples at 0.5 and 1.5, mean at (1, 1).
  ExpectClose(at::tensor({5.0f}), run(NodeModel("RoiAlign", {"x", "rois", "b"}, 1, 10)));
  // Opset 16 defaults to half_pixel: the box shifts by half a pixel, samples at 0 and 1.
  ExpectClose(at::tensor({2.5f}), run(NodeModel("RoiAlign", {"x", "rois", "b"}, 1, 16)));
  // mode=max, as ONNX's reference computes it: the largest weighted corner of any sample (0.25 * 10), not the
  // largest sample (7.5).
  ExpectClose(at::tensor({2.5f}), run(NodeModel("RoiAlign", {"x", "rois", "b"}, 1, 10).String("mode", "max")));
}

// The reverse half of a bidirectional LSTM is a forward LSTM over the time-reversed input.
TEST_F(RuntimeKernels, BidirectionalLstmMatchesForwardOnReversedInput) {
  const int64_t steps = 4, batch = 2, input = 3, hidden = 5;
  at::Tensor x = at::randn({steps, batch, input});
  at::Tensor w = at::randn({2, 4 * hidden, input}), r = at::randn({2, 4 * hidden, hidden});
  at::Tensor b = at::randn({2, 8 * hidden});
  NodeModel bi("LSTM", {"x", "w", "r", "b"}, 3, 14);
  bi.String("direction", "bidirectional").Int("hidden_size", hidden);
  const std::vector<at::Tensor> both = bi.Run({x, w, r, b});
  NodeModel fwd("LSTM", {"x", "w", "r", "b"}, 3, 14);
  fwd.Int("hidden_size", hidden);
  const std::vector<at::Tensor> back = fwd.Run({x.flip(0), w.narrow(0, 1, 1), r.narrow(0, 1, 1), b.narrow(0, 1, 1)});
  ExpectClose(back[0].flip(0).select(1, 0), both[0].select(1, 1));
  ExpectClose(back[1][0], both[1][1]);
  ExpectClose(back[2][0], both[2][1]);
}

// A sequence shorter than the batch's maximum gives what it gives alone; its later outputs are zero.
TEST_F(RuntimeKernels, GruSequenceLensMaskLaterSteps) {
  const int64_t hidden = 4;
  at::Tensor x = at::randn({3, 2, 3});
  at::Tensor w = at::randn({1, 3 * hidden, 3}), r = at::randn({1, 3 * hidden, hidden});
  NodeModel m("GRU", {"x", "w", "r", "", "lens"}, 2, 14);
  m.Int("hidden_size", hidden);
  const std::vector<at::Tensor> out = m.Run({x, w, r, at::tensor({3, 1}, at::kInt)});
  NodeModel alone("GRU", {"x", "w", "r"}, 2, 14);
  alone.Int("hidden_size", hidden);
  const std::vector<at::Tensor> short_one = alone.Run({x.narrow(0, 0, 1).narrow(1, 1, 1), w, r});
  ExpectClose(short_one[1][0][0], out[1][0][1]);
  EXPECT_EQ(out[0].narrow(0, 1, 2).select(2, 1).abs().sum().item<float>(), 0.0f);
}

TEST_F(RuntimeKernels, RnnBatchFirstLayoutIsATranspose) {
  at::Tensor x = at::randn({4, 2, 3}), w = at::randn({1, 5, 3}), r = at::randn({1, 5, 5}), h0 = at::randn({1, 2, 5});
  NodeModel time_major("RNN", {"x", "w", "r", "", "", "h0"}, 2, 14);
  time_major.Int("hidden_size", 5);
  NodeModel batch_major("RNN", {"x", "w", "r", "", "", "h0"}, 2, 14);
  batch_major.Int("hidden_size", 5).Int("layout", 1);
  const std::vector<at::Tensor> a = time_major.Run({x, w, r, h0});
  const std::vector<at::Tensor> b =
      batch_major.Run({x.transpose(0, 1), w, r, h0.transpose(0, 1)});
  ExpectClose(a[0].permute({2, 0, 1, 3}), b[0]);
  ExpectClose(a[1].transpose(0, 1), b[1]);
}

TEST_F(RuntimeKernels, CompareTensorsFollowsAllclose) {
  at::Tensor e = at::tensor({1.0f, NAN, INFINITY});
  EXPECT_EQ(CompareTensors(e, at::tensor({1.0009f, NAN, INFINITY})), "");
  EXPECT_NE(CompareTensors(e, at::tensor({1.002f, NAN, INFINITY})), "");
  EXPECT_NE(CompareTensors(e, at::tensor({1.0f, 0.0f, INFINITY})), "");
  EXPECT_NE(CompareTensors(at::tensor({1, 2}), at::tensor({1, 3})), "");
  EXPECT_NE(CompareTensors(at::tensor({1.0f}), at::tensor({1.0})), "");  // dtype
}

}  // namespace
}  // namespace allot::runtime
