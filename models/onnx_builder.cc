#include "models/onnx_builder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace allot::models {
namespace {

// A malformed op in a generator is a bug in allot, not bad user input, hence std::logic_error rather than
// allot::Error. It is checked in Release too: a silently wrong shape would only surface much later.
void Require(bool condition, const std::string& op, const std::string& name, const std::string& message) {
  if (!condition) throw std::logic_error("OnnxBuilder: " + op + " '" + name + "': " + message);
}

int64_t NormalizeAxis(int64_t axis, int64_t rank, const std::string& op, const std::string& name) {
  Require(axis >= -rank && axis < rank, op, name,
          "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

void FillTensorType(onnx::TypeProto* type, int32_t dtype, const Shape& shape) {
  auto* tensor_type = type->mutable_tensor_type();
  tensor_type->set_elem_type(dtype);
  auto* shape_proto = tensor_type->mutable_shape();  // present even for scalars: rank 0 is a static shape
  for (int64_t d : shape) shape_proto->add_dim()->set_dim_value(d);
}

void FillValueInfo(onnx::ValueInfoProto* info, const Tensor& t) {
  info->set_name(t.name);
  FillTensorType(info->mutable_type(), t.dtype, t.shape);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// raw_data is little-endian by the ONNX spec; memcpy is therefore only right on little-endian hosts, which
// are all the hosts allot targets (x86-64, aarch64).
static_assert(sizeof(float) == 4, "float32 expected");
template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  std::string raw(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

// Output size of a convolution or pooling window along one axis (ceil_mode 0, dilation 1).
int64_t WindowOutput(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end) {
  return (in + pad_begin + pad_end - kernel) / stride + 1;
}

}  // namespace

int64_t Tensor::dim(int64_t i) const {
  const int64_t r = rank();
  if (i < -r || i >= r) throw std::logic_error("Tensor '" + name + "': dim " + std::to_string(i) + " of rank " +
                                               std::to_string(r));
  return shape[static_cast<size_t>(i < 0 ? i + r : i)];
}

int64_t Tensor::numel() const { return Product(shape, 0, shape.size()); }

onnx::AttributeProto AttrInt(const std::string& name, int64_t value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
  return a;
}

onnx::AttributeProto AttrInts(const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a.add_ints(v);
  return a;
}

onnx::AttributeProto AttrFloat(const std::string& name, float value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
  return a;
}

onnx::AttributeProto AttrString(const std::string& name, const std::string& value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(value);
  return a;
}

std::string ShapeToString(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << ']';
  return out.str();
}

Shape BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::logic_error("shapes " + ShapeToString(a) + " and " + ShapeToString(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

OnnxBuilder::OnnxBuilder(const std::string& graph_name, bool weights, uint64_t seed)
    : graph_(model_.mutable_graph()), weights_(weights), seed_(seed) {
  graph_->set_name(graph_name);
}

std::string OnnxBuilder::UniqueName(const std::string& base) {
  if (names_.insert(base).second) return base;
  int64_t& next = next_suffix_[base];
  for (;;) {
    std::string candidate = base + "_" + std::to_string(++next);
    if (names_.insert(candidate).second) return candidate;
  }
}

void OnnxBuilder::AddValueInfo(const Tensor& t) {
  value_info_index_.emplace(t.name, graph_->value_info_size());
  FillValueInfo(graph_->add_value_info(), t);
}

Tensor OnnxBuilder::Input(const std::string& name, int32_t dtype, const Shape& shape) {
  Tensor t{UniqueName(name), dtype, shape};
  FillValueInfo(graph_->add_input(), t);
  return t;
}

Tensor OnnxBuilder::AddInitializer(const std::string& name, int32_t dtype, const Shape& shape,
                                   std::string raw_data) {
  Tensor t{name, dtype, shape};
  auto* init = graph_->add_initializer();
  init->set_name(t.name);
  init->set_data_type(dtype);
  for (int64_t d : shape) init->add_dims(d);
  init->set_raw_data(std::move(raw_data));
  return t;
}

Tensor OnnxBuilder::Parameter(const std::string& name, const Shape& shape, int64_t fan_in, Init init) {
  const std::string unique = UniqueName(name);
  if (!weights_) {
    Tensor t{unique, onnx::TensorProto::FLOAT, shape};
    auto* input = graph_->add_input();
    FillValueInfo(input, t);
    input->set_doc_string(kParameterDocString);
    return t;
  }
  std::vector<float> values(static_cast<size_t>(Product(shape, 0, shape.size())));
  switch (init) {
    case Init::kZeros:
      std::fill(values.begin(), values.end(), 0.0f);
      break;
    case Init::kOnes:
      std::fill(values.begin(), values.end(), 1.0f);
      break;
    case Init::kUniform: {
      // Own stream per parameter (see header). The 24-bit mantissa draw is portable, unlike
      // std::uniform_real_distribution whose algorithm differs between standard libraries.
      std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL ^ Fnv1a(unique));
      const float bound = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in, 1)));
      for (float& v : values) {
        const float u = static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f);  // [0, 1)
        v = (2.0f * u - 1.0f) * bound;
      }
      break;
    }
  }
  return AddInitializer(unique, onnx::TensorProto::FLOAT, shape, RawBytes(values));
}

Tensor OnnxBuilder::AddConstant(int32_t dtype, const Shape& shape, std::string raw_data, const std::string& name) {
  std::string key = std::to_string(dtype) + ShapeToString(shape) + raw_data;
  auto it = constants_.find(key);
  if (it != constants_.end()) return it->second;
  Tensor t = AddInitializer(UniqueName(name), dtype, shape, std::move(raw_data));
  constants_.emplace(std::move(key), t);
  return t;
}

Tensor OnnxBuilder::ConstInt64(const std::vector<int64_t>& values, const Shape& shape, const std::string& name) {
  Require(static_cast<int64_t>(values.size()) == Product(shape, 0, shape.size()), "constant", name,
          "value count does not match shape " + ShapeToString(shape));
  return AddConstant(onnx::TensorProto::INT64, shape, RawBytes(values), name);
}

Tensor OnnxBuilder::ConstFloat(const std::vector<float>& values, const Shape& shape, const std::string& name) {
  Require(static_cast<int64_t>(values.size()) == Product(shape, 0, shape.size()), "constant", name,
          "value count does not match shape " + ShapeToString(shape));
  return AddConstant(onnx::TensorProto::FLOAT, shape, RawBytes(values), name);
}

Tensor OnnxBuilder::ZerosFloat(const Shape& shape, const std::string& name) {
  return ConstFloat(std::vector<float>(static_cast<size_t>(Product(shape, 0, shape.size())), 0.0f), shape, name);
}

void OnnxBuilder::Output(const Tensor& t) {
  auto it = value_info_index_.find(t.name);
  Require(it != value_info_index_.end(), "Output", t.name, "only node outputs can be graph outputs");
  Require(it->second >= 0, "Output", t.name, "already a graph output");
  // Blank the value_info entry now, drop the blanks in Finish(): erasing from the middle of a repeated field
  // would cost O(n) per output.
  graph_->mutable_value_info(it->second)->Clear();
  it->second = -1;
  FillValueInfo(graph_->add_output(), t);
}

std::vector<Tensor> OnnxBuilder::AddNode(const std::string& op_type, const std::vector<Tensor>& inputs,
                                         const std::vector<OutputSpec>& outputs,
                                         std::vector<onnx::AttributeProto> attrs, const std::string& name) {
  auto* node = graph_->add_node();
  const std::string node_name = UniqueName(name);
  node->set_name(node_name);
  node->set_op_type(op_type);
  for (const Tensor& t : inputs) node->add_input(t.name);
  std::vector<Tensor> result;
  result.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    // A single output shares the node's (already reserved) name; several get ":<i>" suffixes.
    std::string tensor_name = outputs.size() == 1 ? node_name : UniqueName(node_name + ":" + std::to_string(i));
    Tensor t{std::move(tensor_name), outputs[i].dtype, outputs[i].shape};
    node->add_output(t.name);
    AddValueInfo(t);
    result.push_back(std::move(t));
  }
  for (auto& a : attrs) *node->add_attribute() = std::move(a);
  return result;
}

Tensor OnnxBuilder::Unary(const std::string& op_type, const Tensor& x, const std::string& name) {
  return AddNode(op_type, {x}, {{x.dtype, x.shape}}, {}, name)[0];
}

Tensor OnnxBuilder::Binary(const std::string& op_type, const Tensor& a, const Tensor& b, const std::string& name) {
  Require(a.dtype == b.dtype, op_type, name, "operand types differ");
  Shape out;
  try {
    out = BroadcastShapes(a.shape, b.shape);
  } catch (const std::logic_error& e) {
    Require(false, op_type, name, e.what());
  }
  return AddNode(op_type, {a, b}, {{a.dtype, out}}, {}, name)[0];
}

Tensor OnnxBuilder::MatMul(const Tensor& a, const Tensor& b, const std::string& name) {
  Require(a.rank() >= 2 && b.rank() >= 2, "MatMul", name, "operands must have rank >= 2");
  Require(a.dim(-1) == b.dim(-2), "MatMul", name,
          "inner dimensions differ: " + ShapeToString(a.shape) + " x " + ShapeToString(b.shape));
  Shape batch_a(a.shape.begin(), a.shape.end() - 2), batch_b(b.shape.begin(), b.shape.end() - 2);
  Shape out;
  try {
    out = BroadcastShapes(batch_a, batch_b);
  } catch (const std::logic_error& e) {
    Require(false, "MatMul", name, e.what());
  }
  out.push_back(a.dim(-2));
  out.push_back(b.dim(-1));
  return AddNode("MatMul", {a, b}, {{a.dtype, out}}, {}, name)[0];
}

Tensor OnnxBuilder::Gemm(const Tensor& a, const Tensor& b, const Tensor& c, bool trans_b, const std::string& name) {
  Require(a.rank() == 2 && b.rank() == 2, "Gemm", name, "operands must be matrices");
  const int64_t k = trans_b ? b.dim(1) : b.dim(0);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  Require(a.dim(1) == k, "Gemm", name, "inner dimensions differ");
  const Shape out{a.dim(0), n};
  Require(BroadcastShapes(c.shape, out) == out, "Gemm", name, "bias does not broadcast to the output");
  std::vector<onnx::AttributeProto> attrs;
  if (trans_b) attrs.push_back(AttrInt("transB", 1));
  return AddNode("Gemm", {a, b, c}, {{a.dtype, out}}, std::move(attrs), name)[0];
}

Tensor OnnxBuilder::Conv(const Tensor& x, const Tensor& w, const Tensor* bias, const std::vector<int64_t>& strides,
                         const std::vector<int64_t>& pads, const std::string& name, int64_t group) {
  Require(x.rank() == 4 && w.rank() == 4, "Conv", name, "2-D NCHW convolution expected");
  Require(group >= 1 && x.dim(1) % group == 0 && w.dim(0) % group == 0, "Conv", name,
          "group must divide the input and output channels");
  Require(x.dim(1) == w.dim(1) * group, "Conv", name, "input channels differ from the kernel's times group");
  Require(strides.size() == 2 && pads.size() == 4, "Conv", name, "2 strides and 4 pads expected");
  const Shape out{x.dim(0), w.dim(0), WindowOutput(x.dim(2), w.dim(2), strides[0], pads[0], pads[2]),
                  WindowOutput(x.dim(3), w.dim(3), strides[1], pads[1], pads[3])};
  Require(out[2] > 0 && out[3] > 0, "Conv", name, "empty output " + ShapeToString(out));
  std::vector<Tensor> inputs{x, w};
  if (bias != nullptr) inputs.push_back(*bias);
  std::vector<onnx::AttributeProto> attrs{AttrInts("kernel_shape", {w.dim(2), w.dim(3)}),
                                          AttrInts("strides", strides), AttrInts("pads", pads)};
  // Only written when it is not ONNX's default, so group-1 models serialize as before.
  if (group != 1) attrs.push_back(AttrInt("group", group));
  return AddNode("Conv", inputs, {{x.dtype, out}}, std::move(attrs), name)[0];
}

Tensor OnnxBuilder::BatchNormalization(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                                       const Tensor& var, float epsilon, const std::string& name) {
  Require(x.rank() >= 2, "BatchNormalization", name, "rank >= 2 expected");
  for (const Tensor* p : {&scale, &bias, &mean, &var}) {
    Require(p->shape == Shape{x.dim(1)}, "BatchNormalization", name, "'" + p->name + "' must be [C]");
  }
  return AddNode("BatchNormalization", {x, scale, bias, mean, var}, {{x.dtype, x.shape}},
                 {AttrFloat("epsilon", epsilon)}, name)[0];
}

Tensor OnnxBuilder::MaxPool(const Tensor& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                            const std::vector<int64_t>& pads, const std::string& name) {
  Require(x.rank() == 4 && kernel.size() == 2 && strides.size() == 2 && pads.size() == 4, "MaxPool", name,
          "2-D NCHW pooling expected");
  const Shape out{x.dim(0), x.dim(1), WindowOutput(x.dim(2), kernel[0], strides[0], pads[0], pads[2]),
                  WindowOutput(x.dim(3), kernel[1], strides[1], pads[1], pads[3])};
  return AddNode("MaxPool", {x}, {{x.dtype, out}},
                 {AttrInts("kernel_shape", kernel), AttrInts("strides", strides), AttrInts("pads", pads)}, name)[0];
}

Tensor OnnxBuilder::AveragePool(const Tensor& x, const std::vector<int64_t>& kernel,
                                const std::vector<int64_t>& strides, const std::vector<int64_t>& pads,
                                bool count_include_pad, const std::string& name) {
  Require(x.rank() == 4 && kernel.size() == 2 && strides.size() == 2 && pads.size() == 4, "AveragePool", name,
          "2-D NCHW pooling expected");
  const Shape out{x.dim(0), x.dim(1), WindowOutput(x.dim(2), kernel[0], strides[0], pads[0], pads[2]),
                  WindowOutput(x.dim(3), kernel[1], strides[1], pads[1], pads[3])};
  std::vector<onnx::AttributeProto> attrs{AttrInts("kernel_shape", kernel), AttrInts("strides", strides),
                                          AttrInts("pads", pads)};
  if (count_include_pad) attrs.push_back(AttrInt("count_include_pad", 1));
  return AddNode("AveragePool", {x}, {{x.dtype, out}}, std::move(attrs), name)[0];
}

Tensor OnnxBuilder::GlobalAveragePool(const Tensor& x, const std::string& name) {
  Require(x.rank() >= 3, "GlobalAveragePool", name, "rank >= 3 expected");
  Shape out = x.shape;
  std::fill(out.begin() + 2, out.end(), 1);
  return AddNode("GlobalAveragePool", {x}, {{x.dtype, out}}, {}, name)[0];
}

Tensor OnnxBuilder::Concat(const std::vector<Tensor>& inputs, int64_t axis, const std::string& name) {
  Require(!inputs.empty(), "Concat", name, "no inputs");
  const Tensor& first = inputs.front();
  const int64_t a = NormalizeAxis(axis, first.rank(), "Concat", name);
  Shape out = first.shape;
  out[a] = 0;
  for (const Tensor& t : inputs) {
    Require(t.rank() == first.rank() && t.dtype == first.dtype, "Concat", name, "'" + t.name + "' differs in rank or type");
    for (int64_t i = 0; i < t.rank(); ++i) {
      Require(i == a || t.shape[i] == first.shape[i], "Concat", name,
              "'" + t.name + "' " + ShapeToString(t.shape) + " differs off the concat axis");
    }
    out[a] += t.shape[a];
  }
  return AddNode("Concat", inputs, {{first.dtype, out}}, {AttrInt("axis", a)}, name)[0];
}

std::vector<Tensor> OnnxBuilder::Split(const Tensor& x, int64_t axis, const std::vector<int64_t>& sizes,
                                       const std::string& name) {
  const int64_t a = NormalizeAxis(axis, x.rank(), "Split", name);
  int64_t total = 0;
  std::vector<OutputSpec> outputs;
  for (int64_t s : sizes) {
    total += s;
    Shape shape = x.shape;
    shape[a] = s;
    outputs.push_back({x.dtype, std::move(shape)});
  }
  Require(total == x.shape[a], "Split", name, "sizes do not add up to the split dimension");
  // Opset 13+ takes the sizes as an input tensor.
  const Tensor split = ConstInt64s(sizes, "const/split_sizes");
  return AddNode("Split", {x, split}, outputs, {AttrInt("axis", a)}, name);
}

Tensor OnnxBuilder::Squeeze(const Tensor& x, const std::vector<int64_t>& axes, const std::string& name) {
  std::vector<bool> drop(x.shape.size(), false);
  std::vector<int64_t> normalized;
  for (int64_t axis : axes) {
    const int64_t a = NormalizeAxis(axis, x.rank(), "Squeeze", name);
    Require(x.shape[a] == 1, "Squeeze", name, "squeezed dimension is not 1");
    drop[a] = true;
    normalized.push_back(a);
  }
  Shape out;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!drop[i]) out.push_back(x.shape[i]);
  }
  const Tensor axes_tensor = ConstInt64s(normalized, "const/axes");
  return AddNode("Squeeze", {x, axes_tensor}, {{x.dtype, out}}, {}, name)[0];
}

Tensor OnnxBuilder::Unsqueeze(const Tensor& x, const std::vector<int64_t>& axes, const std::string& name) {
  const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  std::vector<int64_t> normalized;
  for (int64_t axis : axes) {
    const int64_t a = NormalizeAxis(axis, out_rank, "Unsqueeze", name);
    Require(!inserted[a], "Unsqueeze", name, "repeated axis");
    inserted[a] = true;
    normalized.push_back(a);
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(inserted[i] ? 1 : x.shape[next++]);
  const Tensor axes_tensor = ConstInt64s(normalized, "const/axes");
  return AddNode("Unsqueeze", {x, axes_tensor}, {{x.dtype, out}}, {}, name)[0];
}

Tensor OnnxBuilder::Reshape(const Tensor& x, const Shape& shape, const std::string& name) {
  for (int64_t d : shape) Require(d > 0, "Reshape", name, "target shape must be explicit and positive");
  Require(Product(shape, 0, shape.size()) == x.numel(), "Reshape", name,
          ShapeToString(x.shape) + " cannot become " + ShapeToString(shape));
  const Tensor shape_tensor = ConstInt64s(shape, "const/shape");
  return AddNode("Reshape", {x, shape_tensor}, {{x.dtype, shape}}, {}, name)[0];
}

Tensor OnnxBuilder::Transpose(const Tensor& x, const std::vector<int64_t>& perm, const std::string& name) {
  Require(static_cast<int64_t>(perm.size()) == x.rank(), "Transpose", name, "perm length differs from rank");
  Shape out;
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    Require(p >= 0 && p < x.rank() && !seen[p], "Transpose", name, "perm is not a permutation");
    seen[p] = true;
    out.push_back(x.shape[p]);
  }
  return AddNode("Transpose", {x}, {{x.dtype, out}}, {AttrInts("perm", perm)}, name)[0];
}

Tensor OnnxBuilder::Flatten(const Tensor& x, int64_t axis, const std::string& name) {
  Require(axis >= 0 && axis <= x.rank(), "Flatten", name, "axis out of range");
  const Shape out{Product(x.shape, 0, axis), Product(x.shape, axis, x.shape.size())};
  return AddNode("Flatten", {x}, {{x.dtype, out}}, {AttrInt("axis", axis)}, name)[0];
}

Tensor OnnxBuilder::Gather(const Tensor& data, const Tensor& indices, int64_t axis, const std::string& name) {
  const int64_t a = NormalizeAxis(axis, data.rank(), "Gather", name);
  Require(indices.dtype == onnx::TensorProto::INT64 || indices.dtype == onnx::TensorProto::INT32, "Gather", name,
          "indices must be integers");
  Shape out(data.shape.begin(), data.shape.begin() + a);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + a + 1, data.shape.end());
  return AddNode("Gather", {data, indices}, {{data.dtype, out}}, {AttrInt("axis", a)}, name)[0];
}

Tensor OnnxBuilder::Softmax(const Tensor& x, int64_t axis, const std::string& name) {
  NormalizeAxis(axis, x.rank(), "Softmax", name);
  return AddNode("Softmax", {x}, {{x.dtype, x.shape}}, {AttrInt("axis", axis)}, name)[0];
}

Tensor OnnxBuilder::LogSoftmax(const Tensor& x, int64_t axis, const std::string& name) {
  NormalizeAxis(axis, x.rank(), "LogSoftmax", name);
  return AddNode("LogSoftmax", {x}, {{x.dtype, x.shape}}, {AttrInt("axis", axis)}, name)[0];
}

Tensor OnnxBuilder::ReduceMean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims,
                               const std::string& name) {
  std::vector<bool> reduced(x.shape.size(), false);
  for (int64_t axis : axes) reduced[NormalizeAxis(axis, x.rank(), "ReduceMean", name)] = true;
  Shape out;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!reduced[i]) {
      out.push_back(x.shape[i]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  // Opset 14 still takes axes as an attribute (it became an input in opset 18).
  return AddNode("ReduceMean", {x}, {{x.dtype, out}}, {AttrInts("axes", axes), AttrInt("keepdims", keepdims ? 1 : 0)},
                 name)[0];
}

onnx::ModelProto OnnxBuilder::Finish(const std::string& doc_string) {
  // Drop the value_info entries blanked by Output().
  auto* infos = graph_->mutable_value_info();
  infos->erase(std::remove_if(infos->begin(), infos->end(),
                              [](const onnx::ValueInfoProto& v) { return v.name().empty(); }),
               infos->end());
  value_info_index_.clear();
  model_.set_ir_version(onnx::IR_VERSION);
  model_.set_producer_name("allot");
  model_.set_producer_version("0.1");
  model_.set_doc_string(doc_string);
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  return std::move(model_);
}

}  // namespace allot::models
