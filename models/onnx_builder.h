#pragma once
// OnnxBuilder: appends nodes to an in-memory ONNX graph and tracks every tensor's static shape itself.
//
// Why compute shapes here instead of running ONNX shape inference afterwards: the generated graphs reach 100k
// nodes, and the importer wants a value_info for every tensor without paying for inference. Each op helper
// below applies the op's shape rule and records the result as value_info (or as the graph output's type), so
// a generated model is fully annotated by construction; the tests then run ONNX's strict shape inference to
// prove that the declared shapes agree with ONNX's own rules.
//
// Conventions of every generated model: IR version 8, opset 14 of the default domain only, all shapes static,
// node names unique, and a node's (first) output tensor named like the node, so a graph reads as a tree of
// scope paths ("enc/l1/t7/lstm/matmul"). Multi-output nodes name their outputs "<node>:<i>".
//
// Parameters (trainable weights) come in two forms, chosen once per builder:
//  - weights=true: an initializer holding seeded random float32 raw_data. Each parameter draws from its own
//    std::mt19937_64 seeded from (seed, FNV-1a of its name), so adding a parameter does not shift the values
//    of the others and the same seed always serializes to the same bytes.
//  - weights=false: a graph input whose doc_string is exactly kParameterDocString. Paper-size models (hundreds
//    of MB of weights) then stay a few hundred KB; allot's importer treats these inputs as parameters and the
//    runtime fills them.
// Constants an op needs to be well-defined (Reshape shapes, Split sizes, masks, zero states) are always real
// initializers, deduplicated by content so that e.g. one Split-sizes tensor serves every LSTM cell.
// onnx_pb.h, not onnx-ml.pb.h directly: it defines ONNX_API, which onnx-ml.pb.h needs, then includes it.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace allot::models {

// The doc_string that marks a graph input as a parameter rather than a data input.
inline constexpr const char* kParameterDocString = "allot:parameter";
inline constexpr int64_t kOpsetVersion = 14;

using Shape = std::vector<int64_t>;

// A handle to a tensor already in the graph. Cheap to copy; the builder owns the proto.
struct Tensor {
  std::string name;
  int32_t dtype = onnx::TensorProto::FLOAT;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Dimension i, Python-style: dim(-1) is the last one.
  int64_t dim(int64_t i) const;
  int64_t numel() const;
};

// How a weights=true parameter is filled. Uniform is the classic ±1/sqrt(fan_in) (LeCun/PyTorch-Linear
// style); Ones/Zeros exist for normalization scales, shifts and running variances, which must stay positive
// or neutral for a runtime to produce finite numbers.
enum class Init { kUniform, kZeros, kOnes };

onnx::AttributeProto AttrInt(const std::string& name, int64_t value);
onnx::AttributeProto AttrInts(const std::string& name, const std::vector<int64_t>& values);
onnx::AttributeProto AttrFloat(const std::string& name, float value);
onnx::AttributeProto AttrString(const std::string& name, const std::string& value);

// Output shape of a numpy-style broadcast of a and b; throws std::logic_error when they do not broadcast.
Shape BroadcastShapes(const Shape& a, const Shape& b);
std::string ShapeToString(const Shape& shape);

class OnnxBuilder {
 public:
  OnnxBuilder(const std::string& graph_name, bool weights, uint64_t seed);

  // ---- graph interface -------------------------------------------------------------------------------------
  Tensor Input(const std::string& name, int32_t dtype, const Shape& shape);
  // A trainable tensor; see the file comment for the two forms. fan_in only matters for Init::kUniform.
  Tensor Parameter(const std::string& name, const Shape& shape, int64_t fan_in, Init init = Init::kUniform);
  // Marks t as a graph output; its value_info moves to the output list (ONNX wants each tensor typed once).
  void Output(const Tensor& t);

  // ---- constants (always initializers, deduplicated by dtype, shape and content) ----------------------------
  Tensor ConstInt64(const std::vector<int64_t>& values, const Shape& shape, const std::string& name);
  Tensor ConstInt64s(const std::vector<int64_t>& values, const std::string& name) {  // 1-D
    return ConstInt64(values, {static_cast<int64_t>(values.size())}, name);
  }
  Tensor ConstFloat(const std::vector<float>& values, const Shape& shape, const std::string& name);
  Tensor ScalarFloat(float value, const std::string& name) { return ConstFloat({value}, {}, name); }
  Tensor ZerosFloat(const Shape& shape, const std::string& name);

  // ---- generic node ----------------------------------------------------------------------------------------
  // Appends a node whose output shapes the caller computed. Returns the outputs, named as the file comment says.
  struct OutputSpec {
    int32_t dtype;
    Shape shape;
  };
  std::vector<Tensor> AddNode(const std::string& op_type, const std::vector<Tensor>& inputs,
                              const std::vector<OutputSpec>& outputs, std::vector<onnx::AttributeProto> attrs,
                              const std::string& name);

  // ---- ops with built-in shape rules (opset 14 semantics) ---------------------------------------------------
  Tensor Unary(const std::string& op_type, const Tensor& x, const std::string& name);
  Tensor Relu(const Tensor& x, const std::string& name) { return Unary("Relu", x, name); }
  Tensor Sigmoid(const Tensor& x, const std::string& name) { return Unary("Sigmoid", x, name); }
  Tensor Tanh(const Tensor& x, const std::string& name) { return Unary("Tanh", x, name); }

  // Elementwise with numpy broadcasting: Add, Sub, Mul, Div, Pow.
  Tensor Binary(const std::string& op_type, const Tensor& a, const Tensor& b, const std::string& name);
  Tensor Add(const Tensor& a, const Tensor& b, const std::string& name) { return Binary("Add", a, b, name); }
  Tensor Mul(const Tensor& a, const Tensor& b, const std::string& name) { return Binary("Mul", a, b, name); }

  // Rank >= 2 operands; leading (batch) dimensions broadcast as numpy.matmul does.
  Tensor MatMul(const Tensor& a, const Tensor& b, const std::string& name);
  // Y = A * B^T(if trans_b) + C, the classifier layer of the CNNs (PyTorch's Linear exports this way).
  Tensor Gemm(const Tensor& a, const Tensor& b, const Tensor& c, bool trans_b, const std::string& name);
  // 2-D convolution, NCHW; w is [out, in / group, kh, kw]. pads are {top, left, bottom, right}. group = in
  // (with out = in) is a depthwise convolution, the first half of a separable one.
  Tensor Conv(const Tensor& x, const Tensor& w, const Tensor* bias, const std::vector<int64_t>& strides,
              const std::vector<int64_t>& pads, const std::string& name, int64_t group = 1);
  // Inference-form BatchNormalization (one output).
  Tensor BatchNormalization(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                            const Tensor& var, float epsilon, const std::string& name);
  Tensor MaxPool(const Tensor& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                 const std::vector<int64_t>& pads, const std::string& name);
  Tensor AveragePool(const Tensor& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                     const std::vector<int64_t>& pads, bool count_include_pad, const std::string& name);
  Tensor GlobalAveragePool(const Tensor& x, const std::string& name);

  Tensor Concat(const std::vector<Tensor>& inputs, int64_t axis, const std::string& name);
  std::vector<Tensor> Split(const Tensor& x, int64_t axis, const std::vector<int64_t>& sizes,
                            const std::string& name);
  Tensor Squeeze(const Tensor& x, const std::vector<int64_t>& axes, const std::string& name);
  Tensor Unsqueeze(const Tensor& x, const std::vector<int64_t>& axes, const std::string& name);
  // shape must be fully explicit (no 0 or -1): the builder wants to know the result without guessing.
  Tensor Reshape(const Tensor& x, const Shape& shape, const std::string& name);
  Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm, const std::string& name);
  Tensor Flatten(const Tensor& x, int64_t axis, const std::string& name);
  Tensor Gather(const Tensor& data, const Tensor& indices, int64_t axis, const std::string& name);

  Tensor Softmax(const Tensor& x, int64_t axis, const std::string& name);
  Tensor LogSoftmax(const Tensor& x, int64_t axis, const std::string& name);
  Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, const std::string& name);

  // ---- result ----------------------------------------------------------------------------------------------
  int64_t node_count() const { return graph_->node_size(); }
  // Moves the finished model out; the builder must not be used afterwards.
  onnx::ModelProto Finish(const std::string& doc_string);

 private:
  std::string UniqueName(const std::string& base);
  void AddValueInfo(const Tensor& t);
  Tensor AddInitializer(const std::string& name, int32_t dtype, const Shape& shape, std::string raw_data);
  Tensor AddConstant(int32_t dtype, const Shape& shape, std::string raw_data, const std::string& name);

  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
  bool weights_;
  uint64_t seed_;
  std::unordered_set<std::string> names_;               // every node and tensor name in use
  std::unordered_map<std::string, int64_t> next_suffix_;  // base name -> next suffix to try
  std::unordered_map<std::string, int> value_info_index_; // tensor -> index in graph.value_info
  std::unordered_map<std::string, Tensor> constants_;   // dtype|shape|bytes -> existing constant
};

}  // namespace allot::models
