#include "runtime/kernels.h"

#include <c10/util/Exception.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/error.h"
#include "runtime/kernels_common.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

using onnx::AttributeProto;

// The one registration table. widen_half = false for kernels whose output type is their semantics (Cast), for
// pure data movement, which LibTorch does in any type, and for control flow, whose bodies' kernels widen alone.
constexpr bool kExactTypes = false;
constexpr bool kHostOnly = true;
const Kernel kKernels[] = {
    {"Abs", "", Abs},
    {"Acos", "", Acos},
    {"Acosh", "", Acosh},
    {"Add", "", Add},
    {"And", "", And},
    {"ArgMax", "", ArgMax},
    {"ArgMin", "", ArgMin},
    {"Asin", "", Asin},
    {"Asinh", "", Asinh},
    {"Atan", "", Atan},
    {"Atanh", "", Atanh},
    {"AveragePool", "", AveragePool},
    {"BatchNormalization", "", BatchNormalization},
    {"BitShift", "", BitShift},
    {"BitwiseAnd", "", BitwiseAnd},
    {"BitwiseNot", "", BitwiseNot},
    {"BitwiseOr", "", BitwiseOr},
    {"BitwiseXor", "", BitwiseXor},
    {"BlackmanWindow", "", BlackmanWindow},
    {"Cast", "", Cast, kExactTypes},
    {"CastLike", "", CastLike, kExactTypes},
    {"Ceil", "", Ceil},
    {"Celu", "", Celu},
    {"Clip", "", Clip},
    {"Compress", "", Compress, kExactTypes},
    {"Concat", "", Concat, kExactTypes},
    {"Constant", "", Constant, kExactTypes},
    {"ConstantOfShape", "", ConstantOfShape, kExactTypes},
    {"Conv", "", Conv},
    {"ConvInteger", "", ConvInteger, kExactTypes},
    {"ConvTranspose", "", ConvTranspose},
    {"Cos", "", Cos},
    {"Cosh", "", Cosh},
    {"CumSum", "", CumSum},
    {"DFT", "", DFT},
    {"DepthToSpace", "", DepthToSpace, kExactTypes},
    {"DequantizeLinear", "", DequantizeLinear, kExactTypes},
    {"Det", "", Det},
    {"Div", "", Div},
    {"Dropout", "", Dropout},
    {"DynamicQuantizeLinear", "", DynamicQuantizeLinear},
    {"Einsum", "", Einsum},
    {"Elu", "", Elu},
    {"Equal", "", Equal},
    {"Erf", "", Erf},
    {"Exp", "", Exp},
    {"Expand", "", Expand, kExactTypes},
    {"EyeLike", "", EyeLike, kExactTypes},
    {"Flatten", "", Flatten, kExactTypes},
    {"Floor", "", Floor},
    {"GRU", "", GRU},
    {"Gather", "", Gather, kExactTypes},
    {"GatherElements", "", GatherElements, kExactTypes},
    {"GatherND", "", GatherND, kExactTypes},
    {"Gelu", "", Gelu},
    {"Gemm", "", Gemm},
    {"GlobalAveragePool", "", GlobalAveragePool},
    {"GlobalLpPool", "", GlobalLpPool},
    {"GlobalMaxPool", "", GlobalMaxPool},
    {"Greater", "", Greater},
    {"GreaterOrEqual", "", GreaterOrEqual},
    {"GridSample", "", GridSample},
    {"HammingWindow", "", HammingWindow},
    {"HannWindow", "", HannWindow},
    {"HardSigmoid", "", HardSigmoid},
    {"HardSwish", "", HardSwish},
    {"Hardmax", "", Hardmax},
    {"Identity", "", Identity, kExactTypes},
    {"If", "", If, kExactTypes},
    {"InstanceNormalization", "", InstanceNormalization},
    {"IsInf", "", IsInf},
    {"IsNaN", "", IsNaN},
    {"LRN", "", LRN},
    {"LSTM", "", LSTM},
    {"LayerNormalization", "", LayerNormalization},
    {"LeakyRelu", "", LeakyRelu},
    {"Less", "", Less},
    {"LessOrEqual", "", LessOrEqual},
    {"Log", "", Log},
    {"LogSoftmax", "", LogSoftmax},
    {"Loop", "", Loop, kExactTypes},
    {"LpNormalization", "", LpNormalization},
    {"LpPool", "", LpPool},
    {"MatMul", "", MatMul},
    {"MatMulInteger", "", MatMulInteger, kExactTypes},
    {"Max", "", Max},
    {"MaxPool", "", MaxPool},
    {"MaxUnpool", "", MaxUnpool},
    {"Mean", "", Mean},
    {"MeanVarianceNormalization", "", MeanVarianceNormalization},
    {"Min", "", Min},
    {"Mish", "", Mish},
    {"Mod", "", Mod},
    {"Mul", "", Mul},
    {"Neg", "", Neg},
    {"NegativeLogLikelihoodLoss", "", NegativeLogLikelihoodLoss},
    {"NonMaxSuppression", "", NonMaxSuppression, true, kHostOnly},
    {"NonZero", "", NonZero, kExactTypes},
    {"Not", "", Not},
    {"OneHot", "", OneHot, kExactTypes},
    {"Or", "", Or},
    {"PRelu", "", PRelu},
    {"Pad", "", Pad, kExactTypes},
    {"Pow", "", Pow},
    {"QLinearConv", "", QLinearConv, kExactTypes},
    {"QLinearMatMul", "", QLinearMatMul, kExactTypes},
    {"QuantizeLinear", "", QuantizeLinear},
    {"RNN", "", RNN},
    {"Range", "", Range},
    {"Reciprocal", "", Reciprocal},
    {"ReduceL1", "", ReduceL1},
    {"ReduceL2", "", ReduceL2},
    {"ReduceLogSum", "", ReduceLogSum},
    {"ReduceLogSumExp", "", ReduceLogSumExp},
    {"ReduceMax", "", ReduceMax},
    {"ReduceMean", "", ReduceMean},
    {"ReduceMin", "", ReduceMin},
    {"ReduceProd", "", ReduceProd},
    {"ReduceSum", "", ReduceSum},
    {"ReduceSumSquare", "", ReduceSumSquare},
    {"Relu", "", Relu},
    {"Reshape", "", Reshape, kExactTypes},
    {"Resize", "", Resize},
    {"ReverseSequence", "", ReverseSequence, kExactTypes},
    {"RoiAlign", "", RoiAlign, true, kHostOnly},
    {"Round", "", Round},
    {"Scan", "", Scan, kExactTypes},
    {"Scatter", "", ScatterElements},  // opset 9-10 name of ScatterElements
    {"ScatterElements", "", ScatterElements},
    {"ScatterND", "", ScatterND},
    {"Selu", "", Selu},
    {"Shape", "", Shape, kExactTypes},
    {"Shrink", "", Shrink},
    {"Sigmoid", "", Sigmoid},
    {"Sign", "", Sign},
    {"Sin", "", Sin},
    {"Sinh", "", Sinh},
    {"Size", "", Size, kExactTypes},
    {"Slice", "", Slice, kExactTypes},
    {"Softmax", "", Softmax},
    {"SoftmaxCrossEntropyLoss", "", SoftmaxCrossEntropyLoss},
    {"Softplus", "", Softplus},
    {"Softsign", "", Softsign},
    {"SpaceToDepth", "", SpaceToDepth, kExactTypes},
    {"Split", "", Split, kExactTypes},
    {"Sqrt", "", Sqrt},
    {"Squeeze", "", Squeeze, kExactTypes},
    {"Sub", "", Sub},
    {"Sum", "", Sum},
    {"Tan", "", Tan},
    {"Tanh", "", Tanh},
    {"ThresholdedRelu", "", ThresholdedRelu},
    {"Tile", "", Tile, kExactTypes},
    {"TopK", "", TopK},
    {"Transpose", "", Transpose, kExactTypes},
    {"Trilu", "", Trilu, kExactTypes},
    {"Unique", "", Unique},
    {"Unsqueeze", "", Unsqueeze, kExactTypes},
    {"Upsample", "", Upsample},
    {"Where", "", Where},
    {"Xor", "", Xor},
};

std::string_view CanonicalDomain(std::string_view domain) {
  return domain == "ai.onnx" ? std::string_view() : domain;
}

bool KernelLess(const Kernel& a, const Kernel& b) {
  return std::make_pair(a.domain, a.op_type) < std::make_pair(b.domain, b.op_type);
}

const std::vector<Kernel>& SortedKernels() {
  static const std::vector<Kernel> sorted = [] {
    std::vector<Kernel> v(std::begin(kKernels), std::end(kKernels));
    std::sort(v.begin(), v.end(), KernelLess);
    return v;
  }();
  return sorted;
}

const AttributeProto& Typed(const KernelContext& ctx, const AttributeProto* a, AttributeProto::AttributeType type) {
  if (a->type() != type)
    Fail(ctx, "attribute '" + a->name() + "' is " + AttributeProto::AttributeType_Name(a->type()) + ", expected " +
                  AttributeProto::AttributeType_Name(type));
  return *a;
}

std::string FirstLine(const char* text) {
  std::string s(text);
  return s.substr(0, s.find('\n'));
}

bool IsHalf(const at::Tensor& t) {
  return t.defined() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16);
}

std::vector<at::Tensor> RunOnHost(const Kernel& kernel, const KernelContext& ctx) {
  if (!kernel.host_only) return kernel.run(ctx);
  auto on_device = std::find_if(ctx.inputs.begin(), ctx.inputs.end(),
                                [](const at::Tensor& t) { return t.defined() && !t.device().is_cpu(); });
  if (on_device == ctx.inputs.end()) return kernel.run(ctx);
  const at::Device device = on_device->device();
  KernelContext host{ctx.node, ctx.inputs, ctx.opset, ctx.outer};
  for (at::Tensor& t : host.inputs)
    if (t.defined()) t = t.cpu();
  std::vector<at::Tensor> outputs = kernel.run(host);
  for (at::Tensor& t : outputs)
    if (t.defined()) t = t.to(device);
  return outputs;
}

std::vector<at::Tensor> RunWidened(const Kernel& kernel, const KernelContext& ctx) {
  if (!kernel.widen_half) return RunOnHost(kernel, ctx);
  auto half = std::find_if(ctx.inputs.begin(), ctx.inputs.end(), IsHalf);
  if (half == ctx.inputs.end()) return RunOnHost(kernel, ctx);
  const at::ScalarType narrow = half->scalar_type();
  KernelContext wide{ctx.node, ctx.inputs, ctx.opset, ctx.outer};
  for (at::Tensor& t : wide.inputs)
    if (IsHalf(t)) t = t.to(at::kFloat);
  std::vector<at::Tensor> outputs = RunOnHost(kernel, wide);
  for (at::Tensor& t : outputs)
    if (t.defined() && t.scalar_type() == at::kFloat) t = t.to(narrow);
  return outputs;
}

}  // namespace

// ---- KernelContext ---------------------------------------------------------------------------------------------

const at::Tensor& KernelContext::Input(size_t i) const {
  static const at::Tensor kAbsent;
  return i < inputs.size() ? inputs[i] : kAbsent;
}

const at::Tensor& KernelContext::Required(size_t i) const {
  const at::Tensor& t = Input(i);
  if (!t.defined()) Fail(*this, "input " + std::to_string(i) + " is required");
  return t;
}

size_t KernelContext::NumOutputs() const { return static_cast<size_t>(node.output_size()); }

bool KernelContext::WantsOutput(size_t i) const {
  return i < NumOutputs() && !node.output(static_cast<int>(i)).empty();
}

const AttributeProto* KernelContext::Attr(std::string_view name) const {
  for (const AttributeProto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t KernelContext::Int(std::string_view name, int64_t fallback) const {
  const AttributeProto* a = Attr(name);
  return a ? Typed(*this, a, AttributeProto::INT).i() : fallback;
}

float KernelContext::Float(std::string_view name, float fallback) const {
  const AttributeProto* a = Attr(name);
  if (!a) return fallback;
  if (a->type() == AttributeProto::INT) return static_cast<float>(a->i());  // some exporters write 1 for 1.0
  return Typed(*this, a, AttributeProto::FLOAT).f();
}

std::string KernelContext::String(std::string_view name, std::string_view fallback) const {
  const AttributeProto* a = Attr(name);
  return a ? Typed(*this, a, AttributeProto::STRING).s() : std::string(fallback);
}

std::vector<int64_t> KernelContext::Ints(std::string_view name, std::vector<int64_t> fallback) const {
  const AttributeProto* a = Attr(name);
  if (!a) return fallback;
  const auto& v = Typed(*this, a, AttributeProto::INTS).ints();
  return {v.begin(), v.end()};
}

std::vector<float> KernelContext::Floats(std::string_view name, std::vector<float> fallback) const {
  const AttributeProto* a = Attr(name);
  if (!a) return fallback;
  const auto& v = Typed(*this, a, AttributeProto::FLOATS).floats();
  return {v.begin(), v.end()};
}

std::vector<std::string> KernelContext::Strings(std::string_view name, std::vector<std::string> fallback) const {
  const AttributeProto* a = Attr(name);
  if (!a) return fallback;
  const auto& v = Typed(*this, a, AttributeProto::STRINGS).strings();
  return {v.begin(), v.end()};
}

at::Tensor KernelContext::TensorAttr(std::string_view name) const {
  const AttributeProto* a = Attr(name);
  return a ? TensorFromProto(Typed(*this, a, AttributeProto::TENSOR).t()) : at::Tensor();
}

const onnx::GraphProto& KernelContext::GraphAttr(std::string_view name) const {
  const AttributeProto* a = Attr(name);
  if (!a) Fail(*this, "attribute '" + std::string(name) + "' is required");
  return Typed(*this, a, AttributeProto::GRAPH).g();
}

std::string KernelContext::Where() const { return NodeLabel(node); }

const at::Tensor* Scope::Find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent)
    if (auto it = s->values.find(name); it != s->values.end()) return &it->second;
  return nullptr;
}

std::string NodeLabel(const onnx::NodeProto& node) {
  const std::string& name = node.name().empty() && node.output_size() > 0 ? node.output(0) : node.name();
  return "node '" + name + "' (" + node.op_type() + ")";
}

// ---- registry --------------------------------------------------------------------------------------------------

const Kernel* FindKernel(std::string_view op_type, std::string_view domain) {
  const std::vector<Kernel>& kernels = SortedKernels();
  const Kernel key{op_type, CanonicalDomain(domain), nullptr};
  auto it = std::lower_bound(kernels.begin(), kernels.end(), key, KernelLess);
  return it != kernels.end() && it->op_type == op_type && it->domain == key.domain ? &*it : nullptr;
}

std::vector<std::string> SupportedOps() {
  std::vector<std::string> ops;
  for (const Kernel& k : SortedKernels())
    ops.push_back(k.domain.empty() ? std::string(k.op_type) : std::string(k.domain) + "::" + std::string(k.op_type));
  std::sort(ops.begin(), ops.end());
  return ops;
}

std::vector<at::Tensor> RunKernel(const Kernel& kernel, const KernelContext& ctx) {
  try {
    return RunWidened(kernel, ctx);
  } catch (const Error& e) {
    if (std::string_view(e.what()).rfind("node '", 0) == 0) throw;
    throw Error(ctx.Where() + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(ctx.Where() + ": " + FirstLine(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(ctx.Where() + ": " + FirstLine(e.what()));
  }
}

// ---- shared helpers --------------------------------------------------------------------------------------------

void Fail(const KernelContext& ctx, const std::string& message) { throw Error(ctx.Where() + ": " + message); }

int64_t NormalizeAxis(const KernelContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    Fail(ctx, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> NormalizeAxes(const KernelContext& ctx, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    const int64_t n = NormalizeAxis(ctx, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end()) Fail(ctx, "axis " + std::to_string(a) + " repeats");
    out.push_back(n);
  }
  return out;
}

std::vector<int64_t> ToInts(const at::Tensor& t) {
  at::Tensor v = t.to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = v.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + v.numel());
}

std::vector<double> ToDoubles(const at::Tensor& t) {
  at::Tensor v = t.to(at::kCPU, at::kDouble).contiguous();
  const double* p = v.data_ptr<double>();
  return std::vector<double>(p, p + v.numel());
}

at::Tensor LongTensor(const std::vector<int64_t>& values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong));
}

std::vector<int64_t> DimRange(int64_t begin, int64_t end) {
  std::vector<int64_t> dims(static_cast<size_t>(std::max<int64_t>(end - begin, 0)));
  std::iota(dims.begin(), dims.end(), begin);
  return dims;
}

int64_t ToInt(const at::Tensor& t) { return t.to(at::kLong).reshape({-1})[0].item<int64_t>(); }

double ToDouble(const at::Tensor& t) { return t.to(at::kDouble).reshape({-1})[0].item<double>(); }

std::vector<int64_t> AxesArgument(const KernelContext& ctx, size_t input, int input_since) {
  if (ctx.opset >= input_since) return ctx.HasInput(input) ? ToInts(ctx.Input(input)) : std::vector<int64_t>{};
  return ctx.Ints("axes");
}

at::Tensor LegacyBroadcast(const KernelContext& ctx, const at::Tensor& a, const at::Tensor& b) {
  if (ctx.opset >= 7 || ctx.Int("broadcast", 0) == 0 || b.dim() == 0) return b;
  const int64_t axis = ctx.HasAttr("axis") ? NormalizeAxis(ctx, ctx.Int("axis", 0), a.dim()) : a.dim() - b.dim();
  std::vector<int64_t> shape(b.sizes().begin(), b.sizes().end());
  shape.resize(static_cast<size_t>(std::max<int64_t>(a.dim() - axis, b.dim())), 1);
  return b.reshape(shape);
}

bool IsFloatingType(const at::Tensor& t) { return at::isFloatingType(t.scalar_type()); }

bool WindowGeometry::Unpadded() const {
  return std::all_of(pad_begin.begin(), pad_begin.end(), [](int64_t p) { return p == 0; }) &&
         std::all_of(pad_end.begin(), pad_end.end(), [](int64_t p) { return p == 0; });
}

WindowGeometry ResolveWindow(const KernelContext& ctx, at::IntArrayRef spatial, std::vector<int64_t> kernel) {
  const size_t n = spatial.size();
  WindowGeometry g;
  g.kernel = std::move(kernel);
  g.strides = ctx.Ints("strides", std::vector<int64_t>(n, 1));
  g.dilations = ctx.Ints("dilations", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.Ints("pads", std::vector<int64_t>(2 * n, 0));
  if (g.kernel.size() != n || g.strides.size() != n || g.dilations.size() != n || pads.size() != 2 * n)
    Fail(ctx, "kernel_shape, strides, dilations and pads must match the " + std::to_string(n) + " spatial dims");
  g.pad_begin.assign(pads.begin(), pads.begin() + n);
  g.pad_end.assign(pads.begin() + n, pads.end());
  const std::string auto_pad = ctx.String("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    std::fill(g.pad_begin.begin(), g.pad_begin.end(), 0);
    std::fill(g.pad_end.begin(), g.pad_end.end(), 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < n; ++i) {
      const int64_t out = (spatial[i] + g.strides[i] - 1) / g.strides[i];
      const int64_t total =
          std::max<int64_t>(0, (out - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - spatial[i]);
      const int64_t small = total / 2;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
    }
  } else if (auto_pad != "NOTSET") {
    Fail(ctx, "unknown auto_pad '" + auto_pad + "'");
  }
  return g;
}

at::Tensor PadDims(const at::Tensor& x, int64_t first_dim, const std::vector<int64_t>& begin,
                   const std::vector<int64_t>& end, const at::Scalar& value) {
  std::vector<int64_t> pad;  // constant_pad_nd lists the last dim first
  bool any = false;
  const int64_t last = first_dim + static_cast<int64_t>(begin.size());
  for (int64_t d = x.dim() - 1; d >= first_dim; --d) {
    const bool padded = d < last;
    pad.push_back(padded ? begin[d - first_dim] : 0);
    pad.push_back(padded ? end[d - first_dim] : 0);
    any = any || pad[pad.size() - 2] != 0 || pad.back() != 0;
  }
  return any ? at::constant_pad_nd(x, pad, value) : x;
}

}  // namespace allot::runtime
