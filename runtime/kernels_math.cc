// Element-wise, matrix, reduction and softmax-family kernels.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "runtime/kernels_common.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

// The two operands of a binary op, with pre-opset-7 broadcasting resolved.
std::pair<at::Tensor, at::Tensor> Operands(const KernelContext& ctx) {
  const at::Tensor& a = ctx.Required(0);
  return {a, LegacyBroadcast(ctx, a, ctx.Required(1))};
}

template <typename F>
Tensors Binary(const KernelContext& ctx, F f) {
  auto [a, b] = Operands(ctx);
  return {f(a, b)};
}

// Max, Min, Sum, Mean: a left fold with numpy broadcasting.
template <typename F>
at::Tensor Fold(const KernelContext& ctx, F f) {
  at::Tensor acc = ctx.Required(0);
  for (size_t i = 1; i < ctx.inputs.size(); ++i) acc = f(acc, ctx.Required(i));
  return acc;
}

at::Scalar ScalarLike(const at::Tensor& like, const at::Tensor& value) {
  return IsFloatingType(like) ? at::Scalar(ToDouble(value)) : at::Scalar(ToInt(value));
}

using Reducer = std::function<at::Tensor(const at::Tensor& x, at::IntArrayRef dims, bool keep)>;

// The Reduce* ops: axes from the attribute, or from input 1 from opset `axes_input_since` (13 for ReduceSum, 18
// for the rest), where noop_with_empty_axes also appears. The result keeps the input's element type.
Tensors Reduce(const KernelContext& ctx, int axes_input_since, const Reducer& f) {
  at::Tensor x = X(ctx);
  bool keep = ctx.Int("keepdims", 1) != 0;
  std::vector<int64_t> axes = AxesArgument(ctx, 1, axes_input_since);
  if (axes.empty() && ctx.opset >= axes_input_since && ctx.Int("noop_with_empty_axes", 0) != 0) return {x};
  if (x.dim() == 0) {  // a scalar reduces to itself through f (ReduceSumSquare squares it)
    x = x.reshape({1});
    axes = {0};
    keep = false;
  }
  const std::vector<int64_t> dims = axes.empty() ? DimRange(0, x.dim()) : NormalizeAxes(ctx, axes, x.dim());
  return {f(x, dims, keep).to(x.scalar_type())};
}

at::Tensor SumOf(const at::Tensor& x, at::IntArrayRef dims, bool keep) {
  return at::sum(x, dims, keep, x.scalar_type());
}

at::Tensor SoftmaxFamily(const KernelContext& ctx, const std::function<at::Tensor(const at::Tensor&, int64_t)>& f) {
  const at::Tensor& x = X(ctx);
  if (x.dim() == 0) Fail(ctx, "input must have rank >= 1");
  if (ctx.opset >= 13) return f(x, NormalizeAxis(ctx, ctx.Int("axis", -1), x.dim()));
  // Before opset 13 the input is coerced to 2-D at `axis` and normalized along the flattened tail.
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 1), x.dim());
  const int64_t rows = c10::multiply_integers(x.sizes().begin(), x.sizes().begin() + axis);
  return f(x.reshape({rows, -1}), 1).reshape(x.sizes());
}

at::Tensor OneHotOfMax(const at::Tensor& x, int64_t dim) {
  return at::zeros_like(x).scatter_(dim, at::argmax(x, dim, true), 1);
}

Tensors ArgExtreme(const KernelContext& ctx, bool max) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim());
  const bool keep = ctx.Int("keepdims", 1) != 0;
  auto arg = [&](const at::Tensor& t) { return max ? at::argmax(t, axis, keep) : at::argmin(t, axis, keep); };
  if (ctx.Int("select_last_index", 0) == 0) return {arg(x)};
  return {(x.size(axis) - 1) - arg(x.flip(axis))};
}

}  // namespace

// ---- unary -----------------------------------------------------------------------------------------------------

ALLOT_KERNEL(Abs) { return {at::abs(X(ctx))}; }
ALLOT_KERNEL(Acos) { return {at::acos(X(ctx))}; }
ALLOT_KERNEL(Acosh) { return {at::acosh(X(ctx))}; }
ALLOT_KERNEL(Asin) { return {at::asin(X(ctx))}; }
ALLOT_KERNEL(Asinh) { return {at::asinh(X(ctx))}; }
ALLOT_KERNEL(Atan) { return {at::atan(X(ctx))}; }
ALLOT_KERNEL(Atanh) { return {at::atanh(X(ctx))}; }
ALLOT_KERNEL(Ceil) { return {at::ceil(X(ctx))}; }
ALLOT_KERNEL(Celu) { return {at::celu(X(ctx), ctx.Float("alpha", 1.0f))}; }
ALLOT_KERNEL(Cos) { return {at::cos(X(ctx))}; }
ALLOT_KERNEL(Cosh) { return {at::cosh(X(ctx))}; }
ALLOT_KERNEL(Elu) { return {at::elu(X(ctx), ctx.Float("alpha", 1.0f))}; }
ALLOT_KERNEL(Erf) { return {at::erf(X(ctx))}; }
ALLOT_KERNEL(Exp) { return {at::exp(X(ctx))}; }
ALLOT_KERNEL(Floor) { return {at::floor(X(ctx))}; }
ALLOT_KERNEL(Gelu) { return {at::gelu(X(ctx), ctx.String("approximate", "none"))}; }
ALLOT_KERNEL(HardSigmoid) {
  return {at::clamp(X(ctx) * ctx.Float("alpha", 0.2f) + ctx.Float("beta", 0.5f), 0, 1)};
}
ALLOT_KERNEL(HardSwish) { return {X(ctx) * at::clamp(X(ctx) / 6.0 + 0.5, 0, 1)}; }
ALLOT_KERNEL(IsInf) {
  const at::Tensor& x = X(ctx);
  if (!IsFloatingType(x)) return {at::zeros_like(x, at::kBool)};
  at::Tensor inf = at::isinf(x);
  if (ctx.Int("detect_positive", 1) == 0) inf = inf & (x < 0);
  if (ctx.Int("detect_negative", 1) == 0) inf = inf & (x > 0);
  return {inf};
}
ALLOT_KERNEL(IsNaN) { return {at::isnan(X(ctx))}; }
ALLOT_KERNEL(LeakyRelu) { return {at::leaky_relu(X(ctx), ctx.Float("alpha", 0.01f))}; }
ALLOT_KERNEL(Log) { return {at::log(X(ctx))}; }
ALLOT_KERNEL(Mish) { return {at::mish(X(ctx))}; }
ALLOT_KERNEL(Neg) { return {at::neg(X(ctx))}; }
ALLOT_KERNEL(Not) { return {at::logical_not(X(ctx))}; }
ALLOT_KERNEL(PRelu) {
  const at::Tensor& x = X(ctx);
  at::Tensor slope = ctx.Required(1);
  if (ctx.opset < 7 && slope.dim() == 1 && x.dim() > 2 && slope.numel() == x.size(1)) {
    // Before numpy broadcasting, a 1-D slope was per channel.
    std::vector<int64_t> shape(static_cast<size_t>(x.dim() - 1), 1);
    shape[0] = slope.numel();
    slope = slope.reshape(shape);
  }
  return {at::where(x < 0, x * slope, x)};
}
ALLOT_KERNEL(Reciprocal) { return {at::reciprocal(X(ctx))}; }
ALLOT_KERNEL(Relu) { return {at::relu(X(ctx))}; }
ALLOT_KERNEL(Round) { return {at::round(X(ctx))}; }  // half to even, as ONNX asks
ALLOT_KERNEL(Selu) {
  return {at::elu(X(ctx), ctx.Float("alpha", 1.67326319217681884765625f),
                  ctx.Float("gamma", 1.05070102214813232421875f))};
}
ALLOT_KERNEL(Shrink) {
  const at::Tensor& x = X(ctx);
  const double bias = ctx.Float("bias", 0.0f), lambd = ctx.Float("lambd", 0.5f);
  at::Tensor zero = at::zeros_like(x);
  return {at::where(x < -lambd, x + bias, at::where(x > lambd, x - bias, zero)).to(x.scalar_type())};
}
ALLOT_KERNEL(Sigmoid) { return {at::sigmoid(X(ctx))}; }
ALLOT_KERNEL(Sign) { return {at::sign(X(ctx))}; }
ALLOT_KERNEL(Sin) { return {at::sin(X(ctx))}; }
ALLOT_KERNEL(Sinh) { return {at::sinh(X(ctx))}; }
ALLOT_KERNEL(Softplus) { return {at::softplus(X(ctx))}; }
ALLOT_KERNEL(Softsign) { return {X(ctx) / (at::abs(X(ctx)) + 1)}; }
ALLOT_KERNEL(Sqrt) { return {at::sqrt(X(ctx))}; }
ALLOT_KERNEL(Tan) { return {at::tan(X(ctx))}; }
ALLOT_KERNEL(Tanh) { return {at::tanh(X(ctx))}; }
ALLOT_KERNEL(ThresholdedRelu) {
  const at::Tensor& x = X(ctx);
  return {at::where(x > ctx.Float("alpha", 1.0f), x, at::zeros_like(x))};
}

// ---- binary and variadic -----------------------------------------------------------------------------------------

ALLOT_KERNEL(Add) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }); }
ALLOT_KERNEL(Sub) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }); }
ALLOT_KERNEL(Mul) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }); }
ALLOT_KERNEL(Div) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) {
    // Integer division truncates (C semantics, as ONNX Runtime and the reference do).
    return IsFloatingType(a) ? at::div(a, b) : at::div(a, b, "trunc");
  });
}
ALLOT_KERNEL(Mod) {
  const bool c_fmod = ctx.Int("fmod", 0) != 0;  // fmod=0: the result takes the divisor's sign (Python's %)
  return Binary(ctx, [&](const at::Tensor& a, const at::Tensor& b) {
    return c_fmod ? at::fmod(a, b) : at::remainder(a, b);
  });
}
ALLOT_KERNEL(Pow) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) {
    // The result has the base's type; an integer base with a floating exponent is computed in double.
    if (!IsFloatingType(a) && IsFloatingType(b))
      return at::pow(a.to(at::kDouble), b.to(at::kDouble)).to(a.scalar_type());
    return at::pow(a, b).to(a.scalar_type());
  });
}
ALLOT_KERNEL(Equal) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }); }
ALLOT_KERNEL(Greater) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }); }
ALLOT_KERNEL(GreaterOrEqual) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); });
}
ALLOT_KERNEL(Less) { return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }); }
ALLOT_KERNEL(LessOrEqual) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); });
}
ALLOT_KERNEL(And) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); });
}
ALLOT_KERNEL(Or) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); });
}
ALLOT_KERNEL(Xor) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_xor(a, b); });
}
ALLOT_KERNEL(BitShift) {
  const std::string direction = ctx.String("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") Fail(ctx, "direction must be LEFT or RIGHT");
  return Binary(ctx, [&](const at::Tensor& a, const at::Tensor& b) {
    return direction == "LEFT" ? at::bitwise_left_shift(a, b) : at::bitwise_right_shift(a, b);
  });
}
ALLOT_KERNEL(BitwiseAnd) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_and(a, b); });
}
ALLOT_KERNEL(BitwiseOr) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_or(a, b); });
}
ALLOT_KERNEL(BitwiseXor) {
  return Binary(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_xor(a, b); });
}
ALLOT_KERNEL(BitwiseNot) { return {at::bitwise_not(X(ctx))}; }
ALLOT_KERNEL(Where) { return {at::where(ctx.Required(0).to(at::kBool), ctx.Required(1), ctx.Required(2))}; }
ALLOT_KERNEL(Max) { return {Fold(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); })}; }
ALLOT_KERNEL(Min) { return {Fold(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); })}; }
ALLOT_KERNEL(Sum) { return {Fold(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); })}; }
ALLOT_KERNEL(Mean) {
  at::Tensor sum = Fold(ctx, [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); });
  return {sum / static_cast<double>(ctx.inputs.size())};
}
ALLOT_KERNEL(Clip) {
  const at::Tensor& x = X(ctx);
  c10::optional<at::Scalar> lo, hi;
  if (ctx.opset < 11) {  // bounds were attributes
    if (ctx.HasAttr("min")) lo = ctx.Float("min", 0.0f);
    if (ctx.HasAttr("max")) hi = ctx.Float("max", 0.0f);
  } else {
    if (ctx.HasInput(1)) lo = ScalarLike(x, ctx.Input(1));
    if (ctx.HasInput(2)) hi = ScalarLike(x, ctx.Input(2));
  }
  if (!lo && !hi) return {x};
  return {at::clamp(x, lo, hi)};
}

// ---- matrix ------------------------------------------------------------------------------------------------------

ALLOT_KERNEL(MatMul) { return {at::matmul(ctx.Required(0), ctx.Required(1))}; }
ALLOT_KERNEL(Gemm) {
  at::Tensor a = ctx.Required(0), b = ctx.Required(1);
  if (ctx.Int("transA", 0)) a = a.t();
  if (ctx.Int("transB", 0)) b = b.t();
  const double alpha = ctx.Float("alpha", 1.0f), beta = ctx.Float("beta", 1.0f);
  at::Tensor y = at::mm(a, b);
  if (alpha != 1.0) y = y * alpha;
  if (ctx.HasInput(2) && beta != 0.0) y = beta == 1.0 ? y + ctx.Input(2) : y + ctx.Input(2) * beta;
  return {y.to(a.scalar_type())};
}
ALLOT_KERNEL(Einsum) {
  std::string equation = ctx.String("equation", "");
  equation.erase(std::remove(equation.begin(), equation.end(), ' '), equation.end());
  return {at::einsum(equation, ctx.inputs)};
}
ALLOT_KERNEL(Det) { return {at::linalg_det(X(ctx))}; }

ALLOT_KERNEL(DFT) {
  const at::Tensor& x = X(ctx);
  if (x.dim() < 2 || (x.size(-1) != 1 && x.size(-1) != 2))
    Fail(ctx, "input must end in a dim of 1 (real) or 2 (complex)");
  // In double, as ONNX's reference: float32 FFTs leave ~1e-6 where exact zeros are expected.
  const at::Tensor wide = x.to(at::kDouble);
  at::Tensor signal = x.size(-1) == 1 ? at::complex(wide.squeeze(-1), at::zeros_like(wide.squeeze(-1)))
                                      : at::view_as_complex(wide.contiguous());
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 1), signal.dim());
  const int64_t length = ctx.HasInput(1) ? ToInt(ctx.Input(1)) : signal.size(axis);
  at::Tensor y = ctx.Int("inverse", 0) != 0 ? at::fft_ifft(signal, length, axis) : at::fft_fft(signal, length, axis);
  if (ctx.Int("onesided", 0) != 0) y = y.narrow(axis, 0, length / 2 + 1);
  return {at::view_as_real(y).to(x.scalar_type()).contiguous()};
}

namespace {
// The window ops: sum_k a_k cos(2 pi k n / N), N = size (periodic) or size - 1 (symmetric).
constexpr double kPi = 3.14159265358979323846;

at::Tensor CosineWindow(const KernelContext& ctx, const std::vector<double>& a) {
  const int64_t size = ToInt(X(ctx));
  const bool periodic = ctx.Int("periodic", 1) != 0;
  const double n_total = static_cast<double>(periodic ? size : size - 1);
  at::Tensor n = at::arange(size, at::TensorOptions().dtype(at::kDouble));
  at::Tensor w = at::zeros_like(n);
  for (size_t k = 0; k < a.size(); ++k) w = w + a[k] * at::cos(n * (2.0 * kPi * static_cast<double>(k) / n_total));
  const int32_t type = static_cast<int32_t>(ctx.Int("output_datatype", 1));
  return w.to(ScalarTypeFromOnnx(type, ctx.Where()));
}
}  // namespace

ALLOT_KERNEL(HannWindow) { return {CosineWindow(ctx, {0.5, -0.5})}; }
ALLOT_KERNEL(HammingWindow) { return {CosineWindow(ctx, {25.0 / 46.0, -21.0 / 46.0})}; }
ALLOT_KERNEL(BlackmanWindow) { return {CosineWindow(ctx, {0.42, -0.5, 0.08})}; }

// ---- reductions ----------------------------------------------------------------------------------------------------

ALLOT_KERNEL(ReduceSum) { return Reduce(ctx, 13, SumOf); }
ALLOT_KERNEL(ReduceMean) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    return IsFloatingType(x) ? at::mean(x, dims, keep) : at::mean(x.to(at::kDouble), dims, keep);
  });
}
ALLOT_KERNEL(ReduceMax) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) { return at::amax(x, dims, keep); });
}
ALLOT_KERNEL(ReduceMin) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) { return at::amin(x, dims, keep); });
}
ALLOT_KERNEL(ReduceProd) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    std::vector<int64_t> sorted(dims.begin(), dims.end());
    std::sort(sorted.rbegin(), sorted.rend());
    at::Tensor y = x;
    for (int64_t d : sorted) y = at::prod(y, d, keep, x.scalar_type());
    return y;
  });
}
ALLOT_KERNEL(ReduceSumSquare) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) { return SumOf(x * x, dims, keep); });
}
ALLOT_KERNEL(ReduceL1) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    return SumOf(at::abs(x), dims, keep);
  });
}
ALLOT_KERNEL(ReduceL2) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    return at::sqrt(SumOf(x * x, dims, keep).to(at::kDouble));
  });
}
ALLOT_KERNEL(ReduceLogSum) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    return at::log(SumOf(x, dims, keep));
  });
}
ALLOT_KERNEL(ReduceLogSumExp) {
  return Reduce(ctx, 18, [](const at::Tensor& x, at::IntArrayRef dims, bool keep) {
    return at::logsumexp(x, dims, keep);
  });
}

ALLOT_KERNEL(ArgMax) { return ArgExtreme(ctx, true); }
ALLOT_KERNEL(ArgMin) { return ArgExtreme(ctx, false); }

ALLOT_KERNEL(TopK) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", -1), x.dim());
  const int64_t k = ctx.opset >= 10 ? ToInt(ctx.Required(1)) : ctx.Int("k", -1);
  if (k < 0 || k > x.size(axis)) Fail(ctx, "k = " + std::to_string(k) + " is out of range");
  // A stable sort puts the lower index first among equal values, as ONNX requires.
  auto [values, indices] = at::sort(x, /*stable=*/true, axis, /*descending=*/ctx.Int("largest", 1) != 0);
  return {values.narrow(axis, 0, k), indices.narrow(axis, 0, k)};
}

ALLOT_KERNEL(CumSum) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ToInt(ctx.Required(1)), x.dim());
  const bool reverse = ctx.Int("reverse", 0) != 0;
  at::Tensor sum = at::cumsum(reverse ? x.flip(axis) : x, axis, x.scalar_type());
  if (ctx.Int("exclusive", 0) != 0 && x.size(axis) > 0)
    sum = at::cat({at::zeros_like(sum.narrow(axis, 0, 1)), sum.narrow(axis, 0, x.size(axis) - 1)}, axis);
  return {reverse ? sum.flip(axis) : sum};
}

ALLOT_KERNEL(Softmax) {
  return {SoftmaxFamily(ctx, [](const at::Tensor& x, int64_t d) { return at::softmax(x, d); })};
}
ALLOT_KERNEL(LogSoftmax) {
  return {SoftmaxFamily(ctx, [](const at::Tensor& x, int64_t d) { return at::log_softmax(x, d); })};
}
ALLOT_KERNEL(Hardmax) { return {SoftmaxFamily(ctx, OneHotOfMax)}; }

}  // namespace allot::runtime
