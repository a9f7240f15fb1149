// Linear quantization: (De)QuantizeLinear, DynamicQuantizeLinear, the integer matmul/convolution ops and their
// QLinear forms. Integer arithmetic runs in double (exact for these sizes; LibTorch has no integer convolution).
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernels_common.h"

namespace allot::runtime {
namespace {

// A scale or zero point: a scalar, or a 1-D tensor along `axis` of a rank-`rank` tensor.
at::Tensor AlongAxis(const at::Tensor& v, int64_t axis, int64_t rank) {
  if (v.dim() == 0 || v.numel() == 1) return v.reshape({});
  std::vector<int64_t> shape(static_cast<size_t>(rank), 1);
  shape[axis] = v.numel();
  return v.reshape(shape);
}

// The zero point as double, broadcast along `axis`; 0 when absent.
at::Tensor ZeroPoint(const at::Tensor& zp, int64_t axis, int64_t rank) {
  return zp.defined() ? AlongAxis(zp.to(at::kDouble), axis, rank)
                      : at::zeros({}, at::TensorOptions().dtype(at::kDouble));
}

// round-half-to-even(x / scale) + zero point, saturated to `type`'s range. The division runs in x's own type, as
// in ONNX's reference (float32 inputs round differently in double).
at::Tensor Quantize(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& zero_point, at::ScalarType type) {
  const double lo = type == at::kByte ? 0 : type == at::kChar ? -128 : std::numeric_limits<int32_t>::min();
  const double hi = type == at::kByte ? 255 : type == at::kChar ? 127 : std::numeric_limits<int32_t>::max();
  at::Tensor q = at::round(x / scale.to(x.scalar_type())).to(at::kDouble);
  return at::clamp(q + zero_point.to(at::kDouble), lo, hi).to(type);
}

// The axis of per-axis scales; scalars have none.
int64_t ScaleAxis(const KernelContext& ctx, const at::Tensor& x, const at::Tensor& scale) {
  return scale.numel() > 1 ? NormalizeAxis(ctx, ctx.Int("axis", 1), x.dim()) : 0;
}

at::ScalarType QuantizedType(const at::Tensor& zero_point) {
  return zero_point.defined() ? zero_point.scalar_type() : at::kByte;
}

// Matrix-side zero points of MatMulInteger/QLinearMatMul: per row of A ([M] or [..., M, 1]), per column of B.
at::Tensor Centered(const at::Tensor& m, const at::Tensor& zp, bool rows) {
  at::Tensor x = m.to(at::kDouble);
  if (!zp.defined()) return x;
  at::Tensor z = zp.to(at::kDouble);
  if (z.numel() > 1 && rows && z.dim() == 1) z = z.unsqueeze(-1);
  return x - z;
}

// Conv over zero-point-centered double tensors, through the Conv kernel (same attributes).
at::Tensor CenteredConv(const KernelContext& ctx, const at::Tensor& x, const at::Tensor& x_zp, const at::Tensor& w,
                        const at::Tensor& w_zp) {
  at::Tensor xc = x.to(at::kDouble) - (x_zp.defined() ? x_zp.to(at::kDouble).reshape({}) : at::zeros({}, at::kDouble));
  at::Tensor wc = w.to(at::kDouble) - ZeroPoint(w_zp, 0, w.dim());
  const KernelContext conv{ctx.node, {xc, wc}, ctx.opset};
  return Conv(conv)[0];
}

}  // namespace

ALLOT_KERNEL(QuantizeLinear) {
  const at::Tensor& x = ctx.Required(0);
  const at::Tensor& scale = ctx.Required(1);
  const int64_t axis = ScaleAxis(ctx, x, scale);
  const at::Tensor& zp = ctx.Input(2);
  return {Quantize(IsFloatingType(x) ? x : x.to(at::kFloat), AlongAxis(scale, axis, x.dim()),
                   ZeroPoint(zp, axis, x.dim()), QuantizedType(zp))};
}

ALLOT_KERNEL(DequantizeLinear) {
  const at::Tensor& x = ctx.Required(0);
  const at::Tensor& scale = ctx.Required(1);
  const int64_t axis = ScaleAxis(ctx, x, scale);
  at::Tensor y =
      (x.to(at::kDouble) - ZeroPoint(ctx.Input(2), axis, x.dim())) * AlongAxis(scale.to(at::kDouble), axis, x.dim());
  return {y.to(scale.scalar_type())};
}

ALLOT_KERNEL(DynamicQuantizeLinear) {
  const at::Tensor& x = ctx.Required(0);
  // The range always includes 0 so that 0 is exact; uint8 [0, 255].
  const double lo = std::min(0.0, x.min().item<double>()), hi = std::max(0.0, x.max().item<double>());
  const float scale = static_cast<float>((hi - lo) / 255.0);
  at::Tensor scale_t = at::scalar_tensor(scale, at::kFloat);
  const double zp = scale == 0 ? 0 : std::nearbyint(std::clamp(-lo / scale, 0.0, 255.0));
  at::Tensor zp_t = at::scalar_tensor(zp, at::kDouble);
  at::Tensor y = scale == 0 ? at::zeros_like(x, at::kByte) : Quantize(x.to(at::kFloat), scale_t, zp_t, at::kByte);
  return {y, scale_t, zp_t.to(at::kByte)};
}

ALLOT_KERNEL(MatMulInteger) {
  at::Tensor y =
      at::matmul(Centered(ctx.Required(0), ctx.Input(2), true), Centered(ctx.Required(1), ctx.Input(3), false));
  return {y.to(at::kInt)};
}

ALLOT_KERNEL(QLinearMatMul) {
  at::Tensor acc = at::matmul(Centered(ctx.Required(0), ctx.Required(2), true),
                              Centered(ctx.Required(3), ctx.Required(5), false));
  at::Tensor a_scale = ctx.Required(1).to(at::kDouble), b_scale = ctx.Required(4).to(at::kDouble);
  if (a_scale.numel() > 1) a_scale = a_scale.reshape({-1, 1});
  return {Quantize(acc * a_scale * b_scale, ctx.Required(6).to(at::kDouble), ctx.Required(7).to(at::kDouble),
                   ctx.Required(7).scalar_type())};
}

ALLOT_KERNEL(ConvInteger) {
  return {at::round(CenteredConv(ctx, ctx.Required(0), ctx.Input(2), ctx.Required(1), ctx.Input(3))).to(at::kInt)};
}

ALLOT_KERNEL(QLinearConv) {
  const at::Tensor& x = ctx.Required(0);
  at::Tensor acc = CenteredConv(ctx, x, ctx.Required(2), ctx.Required(3), ctx.Required(5));
  if (ctx.HasInput(8)) acc = acc + AlongAxis(ctx.Input(8).to(at::kDouble), 1, acc.dim());
  at::Tensor scale =
      ctx.Required(1).to(at::kDouble).reshape({}) * AlongAxis(ctx.Required(4).to(at::kDouble), 1, acc.dim());
  const at::Tensor& y_zp = ctx.Required(7);
  return {Quantize(acc * scale, ctx.Required(6).to(at::kDouble), y_zp.to(at::kDouble), y_zp.scalar_type())};
}

}  // namespace allot::runtime
