#include "graph/op_work.h"

#include <string>
#include <unordered_map>

namespace allot {
namespace {

const std::unordered_map<std::string_view, OpFamily>& FamilyTable() {
  static const auto* table = [] {
    auto* t = new std::unordered_map<std::string_view, OpFamily>;
    auto add = [t](OpFamily f, std::initializer_list<std::string_view> ops) {
      for (auto op : ops) t->emplace(op, f);
    };
    add(OpFamily::kConv, {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"});
    add(OpFamily::kMatMul, {"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "Einsum"});
    add(OpFamily::kRecurrent, {"LSTM", "GRU", "RNN"});
    add(OpFamily::kElementwise,
        {"Add", "Sub", "Mul", "Relu", "LeakyRelu", "PRelu", "Neg", "Abs", "Max", "Min", "Sum", "Mean", "Clip",
         "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Sign",
         "Floor", "Ceil", "Round", "Cast", "Dropout", "BitShift", "Mod", "ThresholdedRelu", "HardSigmoid",
         "HardSwish", "Shrink", "IsNaN", "IsInf", "Reciprocal", "CastLike", "BitwiseAnd", "BitwiseOr",
         "BitwiseXor", "BitwiseNot", "QuantizeLinear", "DequantizeLinear", "Celu"});
    add(OpFamily::kTranscendental,
        {"Exp", "Log", "Tanh", "Sigmoid", "Erf", "Sqrt", "Pow", "Div", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
         "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Elu", "Selu", "Softplus", "Softsign", "Gelu", "Mish"});
    add(OpFamily::kNormalization, {"BatchNormalization", "LayerNormalization", "InstanceNormalization",
                                   "LpNormalization", "GroupNormalization", "LRN", "MeanVarianceNormalization"});
    add(OpFamily::kSoftmax, {"Softmax", "LogSoftmax", "Hardmax", "SoftmaxCrossEntropyLoss",
                             "NegativeLogLikelihoodLoss"});
    add(OpFamily::kReduction,
        {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "GlobalAveragePool",
         "GlobalMaxPool", "GlobalLpPool", "CumSum", "TopK"});
    add(OpFamily::kPooling, {"AveragePool", "MaxPool", "LpPool", "MaxRoiPool", "RoiAlign", "MaxUnpool"});
    add(OpFamily::kDataMovement,
        {"Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "Transpose", "Pad", "Tile", "Expand",
         "ScatterND", "ScatterElements", "Scatter", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth",
         "OneHot", "Compress", "ReverseSequence", "Trilu", "NonZero", "Range", "ConstantOfShape", "EyeLike",
         "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
         "SequenceConstruct", "SequenceAt", "SequenceInsert", "SplitToSequence", "ConcatFromSequence", "Unique",
         "NonMaxSuppression", "CenterCropPad", "Col2Im", "GridSample"});
    add(OpFamily::kView, {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Size",
                          "Constant", "Optional", "OptionalGetElement", "OptionalHasElement"});
    add(OpFamily::kControlFlow, {"If", "Loop", "Scan"});
    return t;
  }();
  return *table;
}

double Elems(const Tensor* t) {
  if (!t) return 0;
  const int64_t n = NumElements(t->shape);
  return n < 0 ? 0 : static_cast<double>(n);
}
double Bytes(const std::vector<const Tensor*>& ts) {
  double b = 0;
  for (const Tensor* t : ts)
    if (t) b += static_cast<double>(t->bytes);
  return b;
}
double OutElems(const std::vector<const Tensor*>& outs) {
  double e = 0;
  for (const Tensor* t : outs) e += Elems(t);
  return e;
}
int64_t Dim(const Tensor* t, int i) {
  if (!t) return 0;
  const int rank = static_cast<int>(t->shape.size());
  if (i < 0) i += rank;
  return (i < 0 || i >= rank || t->shape[i] < 0) ? 0 : t->shape[i];
}
double KernelVolume(const OpAttrs& a, const Tensor* weight) {
  double k = 1;
  if (!a.kernel_shape.empty()) {
    for (int64_t d : a.kernel_shape) k *= static_cast<double>(d);
  } else if (weight && weight->shape.size() > 2) {
    for (size_t i = 2; i < weight->shape.size(); ++i) k *= static_cast<double>(weight->shape[i]);
  }
  return k;
}

OpWork MatMulWork(std::string_view op, const OpAttrs& a, const std::vector<const Tensor*>& in,
                  const std::vector<const Tensor*>& out) {
  OpWork w;
  const Tensor* A = in.size() > 0 ? in[0] : nullptr;
  const Tensor* Y = out.empty() ? nullptr : out[0];
  if (op == "Gemm") {
    const double m = static_cast<double>(Dim(A, a.trans_a ? 1 : 0));
    const double k = static_cast<double>(Dim(A, a.trans_a ? 0 : 1));
    const double n = Elems(Y) / (m > 0 ? m : 1);
    w.flops = 2 * m * n * k + (in.size() > 2 && in[2] ? m * n : 0);
  } else if (op == "Einsum") {
    w.flops = 2 * OutElems(out);  // contraction sizes are not recoverable from shapes alone
    w.known = false;
  } else {
    const double k = A && !A->shape.empty() ? static_cast<double>(Dim(A, -1)) : 0;
    w.flops = 2 * Elems(Y) * k;
  }
  return w;
}

}  // namespace

OpFamily ClassifyOp(std::string_view op_type) {
  const auto& table = FamilyTable();
  auto it = table.find(op_type);
  return it == table.end() ? OpFamily::kUnknown : it->second;
}

std::string_view OpFamilyName(OpFamily f) {
  switch (f) {
    case OpFamily::kConv: return "conv";
    case OpFamily::kMatMul: return "matmul";
    case OpFamily::kRecurrent: return "recurrent";
    case OpFamily::kElementwise: return "elementwise";
    case OpFamily::kTranscendental: return "transcendental";
    case OpFamily::kNormalization: return "normalization";
    case OpFamily::kSoftmax: return "softmax";
    case OpFamily::kReduction: return "reduction";
    case OpFamily::kPooling: return "pooling";
    case OpFamily::kDataMovement: return "data_movement";
    case OpFamily::kView: return "view";
    case OpFamily::kControlFlow: return "control_flow";
    case OpFamily::kUnknown: break;
  }
  return "unknown";
}

OpWork EstimateOpWork(std::string_view op, const OpAttrs& a, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out) {
  return EstimateOpWork(ClassifyOp(op), op, a, in, out);
}

OpWork EstimateOpWork(OpFamily family, std::string_view op, const OpAttrs& a, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out) {
  OpWork w;
  w.bytes = Bytes(in) + Bytes(out);
  const Tensor* X = in.empty() ? nullptr : in[0];
  const Tensor* W = in.size() > 1 ? in[1] : nullptr;
  switch (family) {
    case OpFamily::kConv: {
      const double group = static_cast<double>(a.group > 0 ? a.group : 1);
      if (op == "ConvTranspose") {
        const double c_out = static_cast<double>(Dim(W, 1));  // W: (C_in, C_out/group, k...)
        w.flops = 2 * Elems(X) * c_out * KernelVolume(a, W);
      } else {
        const double c_in_per_group = static_cast<double>(Dim(W, 1));  // W: (C_out, C_in/group, k...)
        w.flops = 2 * OutElems(out) * (c_in_per_group > 0 ? c_in_per_group : Dim(X, 1) / group) *
                  KernelVolume(a, W);
      }
      break;
    }
    case OpFamily::kMatMul: {
      const OpWork m = MatMulWork(op, a, in, out);
      w.flops = m.flops;
      w.known = m.known;
      break;
    }
    case OpFamily::kRecurrent: {
      const double gates = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
      const double seq = static_cast<double>(Dim(X, 0)), batch = static_cast<double>(Dim(X, 1));
      const double input = static_cast<double>(Dim(X, 2));
      const double dirs = static_cast<double>(Dim(W, 0) > 0 ? Dim(W, 0) : 1);
      const double hidden = static_cast<double>(a.hidden_size > 0 ? a.hidden_size : Dim(W, 1) / gates);
      w.flops = 2 * seq * batch * dirs * gates * hidden * (input + hidden) + 10 * seq * batch * dirs * hidden;
      break;
    }
    case OpFamily::kElementwise: w.flops = OutElems(out); break;
    case OpFamily::kTranscendental: w.flops = 4 * OutElems(out); break;
    case OpFamily::kNormalization: w.flops = (op == "BatchNormalization" ? 4 : 8) * Elems(X); break;
    case OpFamily::kSoftmax: w.flops = 5 * Elems(X); break;
    case OpFamily::kReduction: w.flops = Elems(X); break;
    case OpFamily::kPooling: w.flops = OutElems(out) * KernelVolume(a, nullptr); break;
    case OpFamily::kDataMovement: w.flops = 0; break;
    case OpFamily::kView:
      w.flops = 0;
      w.bytes = 0;
      break;
    case OpFamily::kControlFlow: w.flops = 0; break;  // the importer adds the body's work
    case OpFamily::kUnknown:
      w.flops = OutElems(out);
      w.known = false;
      break;
  }
  return w;
}

}  // namespace allot
