// Shape, indexing, data movement and constant kernels.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "runtime/kernels_common.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

// Indices in [-n, n) as non-negative int64 (Gather and the Scatter/Gather*Elements family accept negatives).
at::Tensor WrapIndices(const at::Tensor& indices, int64_t n) {
  at::Tensor i = indices.to(at::kLong);
  return at::where(i < 0, i + n, i);
}

// Index tuples (the last dim of `indices`) of GatherND/ScatterND as one linear index into the flattened leading
// `k` dims of `shape`.
at::Tensor LinearIndex(const at::Tensor& indices, at::IntArrayRef shape) {
  const int64_t k = indices.size(-1);
  at::Tensor idx = indices.to(at::kLong);
  at::Tensor linear = at::zeros(idx.sizes().slice(0, idx.dim() - 1), idx.options());
  for (int64_t j = 0; j < k; ++j) linear = linear * shape[j] + WrapIndices(idx.select(-1, j), shape[j]);
  return linear.reshape({-1});
}

std::vector<int64_t> Join(at::IntArrayRef a, at::IntArrayRef b) {
  std::vector<int64_t> v(a.begin(), a.end());
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

// Index of a reflect/edge/wrap pad: output position i (from -begin) mapped into [0, n).
at::Tensor PadSourceIndex(const std::string& mode, int64_t n, int64_t begin, int64_t end, at::Device device) {
  at::Tensor i = at::arange(-begin, n + end, at::TensorOptions().dtype(at::kLong).device(device));
  if (mode == "edge") return at::clamp(i, 0, n - 1);
  if (mode == "wrap") return at::remainder(i, n);
  if (n == 1) return at::zeros_like(i);
  const int64_t period = 2 * (n - 1);
  at::Tensor r = at::remainder(i, period);
  return at::where(r >= n, period - r, r);
}

at::Tensor DenseFromSparse(const KernelContext& ctx, const onnx::SparseTensorProto& sparse) {
  at::Tensor values = TensorFromProto(sparse.values()).reshape({-1});
  at::Tensor indices = TensorFromProto(sparse.indices()).to(at::kLong);
  const std::vector<int64_t> dims(sparse.dims().begin(), sparse.dims().end());
  if (indices.dim() == 2) indices = LinearIndex(indices, dims);  // [NNZ, rank] coordinates
  const int64_t numel = c10::multiply_integers(dims);
  at::Tensor dense = at::zeros({numel}, values.options());
  dense.index_put_({indices.reshape({-1})}, values);
  return dense.reshape(dims);
}

// Per-dim begin/end pads of Pad (ONNX lists all begins, then all ends, for `axes`).
void PadsPerDim(const KernelContext& ctx, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes,
                int64_t rank, std::vector<int64_t>& begin, std::vector<int64_t>& end) {
  if (pads.size() != 2 * axes.size())
    Fail(ctx, "pads has " + std::to_string(pads.size()) + " values for " + std::to_string(axes.size()) + " axes");
  begin.assign(static_cast<size_t>(rank), 0);
  end.assign(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    begin[axes[i]] = pads[i];
    end[axes[i]] = pads[i + axes.size()];
  }
}

// The widened unsigned types: a cast into them wraps modulo 2^bits like a C cast.
at::Tensor CastTo(const at::Tensor& x, int32_t onnx_type, const std::string& what) {
  const at::ScalarType type = ScalarTypeFromOnnx(onnx_type, what);
  if (onnx_type == onnx::TensorProto::UINT16 || onnx_type == onnx::TensorProto::UINT32) {
    const int64_t mask = onnx_type == onnx::TensorProto::UINT16 ? 0xFFFF : 0xFFFFFFFFLL;
    return at::bitwise_and(x.to(at::kLong), mask).to(type);
  }
  return x.to(type);
}

}  // namespace

ALLOT_KERNEL(Cast) { return {CastTo(X(ctx), static_cast<int32_t>(ctx.Int("to", 0)), ctx.Where())}; }
ALLOT_KERNEL(CastLike) { return {X(ctx).to(ctx.Required(1).scalar_type())}; }

ALLOT_KERNEL(Compress) {
  const at::Tensor& x = X(ctx);
  at::Tensor selected = at::nonzero(ctx.Required(1).to(at::kBool).reshape({-1})).reshape({-1});
  if (!ctx.HasAttr("axis")) return {x.reshape({-1}).index_select(0, selected)};
  return {x.index_select(NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim()), selected)};
}

ALLOT_KERNEL(Concat) {
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 1), X(ctx).dim());
  return {at::cat(ctx.inputs, axis)};
}

ALLOT_KERNEL(Constant) {
  for (const onnx::AttributeProto& a : ctx.node.attribute()) {
    const std::string& n = a.name();
    if (n == "value") return {TensorFromProto(a.t())};
    if (n == "value_float") return {at::scalar_tensor(a.f(), at::kFloat)};
    if (n == "value_int") return {at::scalar_tensor(a.i(), at::kLong)};
    if (n == "value_floats") return {at::tensor(std::vector<float>(a.floats().begin(), a.floats().end()))};
    if (n == "value_ints") return {LongTensor(std::vector<int64_t>(a.ints().begin(), a.ints().end()))};
    if (n == "sparse_value") return {DenseFromSparse(ctx, a.sparse_tensor())};
    if (n == "value_string" || n == "value_strings") Fail(ctx, "string constants are not supported");
  }
  Fail(ctx, "no value attribute");
}

ALLOT_KERNEL(ConstantOfShape) {
  const std::vector<int64_t> shape = ToInts(X(ctx));
  at::Tensor value = ctx.TensorAttr("value");
  if (!value.defined()) return {at::zeros(shape, at::TensorOptions().dtype(at::kFloat))};
  return {value.reshape({}).expand(shape).contiguous()};
}

ALLOT_KERNEL(DepthToSpace) {
  const at::Tensor& x = X(ctx);
  const int64_t b = ctx.Int("blocksize", 0), n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (b <= 0 || c % (b * b) != 0) Fail(ctx, "blocksize must divide the channels");
  const bool crd = ctx.String("mode", "DCR") == "CRD";
  at::Tensor t = crd ? x.reshape({n, c / (b * b), b, b, h, w}).permute({0, 1, 4, 2, 5, 3})
                     : x.reshape({n, b, b, c / (b * b), h, w}).permute({0, 3, 4, 1, 5, 2});
  return {t.reshape({n, c / (b * b), h * b, w * b})};
}

ALLOT_KERNEL(SpaceToDepth) {
  const at::Tensor& x = X(ctx);
  const int64_t b = ctx.Int("blocksize", 0), n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (b <= 0 || h % b != 0 || w % b != 0) Fail(ctx, "blocksize must divide the spatial dims");
  at::Tensor t = x.reshape({n, c, h / b, b, w / b, b}).permute({0, 3, 5, 1, 2, 4});
  return {t.reshape({n, c * b * b, h / b, w / b})};
}

ALLOT_KERNEL(Expand) {
  const at::Tensor& x = X(ctx);
  return {x.expand(at::infer_size(x.sizes(), ToInts(ctx.Required(1))))};
}

ALLOT_KERNEL(EyeLike) {
  const at::Tensor& x = X(ctx);
  if (x.dim() != 2) Fail(ctx, "input must be 2-D");
  const at::ScalarType type = ctx.HasAttr("dtype")
                                  ? ScalarTypeFromOnnx(static_cast<int32_t>(ctx.Int("dtype", 0)), ctx.Where())
                                  : x.scalar_type();
  const auto opts = at::TensorOptions().dtype(at::kLong).device(x.device());
  at::Tensor rows = at::arange(x.size(0), opts).unsqueeze(1), cols = at::arange(x.size(1), opts).unsqueeze(0);
  return {(rows + ctx.Int("k", 0) == cols).to(type)};
}

ALLOT_KERNEL(Flatten) {
  const at::Tensor& x = X(ctx);
  int64_t axis = ctx.Int("axis", 1);
  if (axis < 0) axis += x.dim();
  if (axis < 0 || axis > x.dim()) Fail(ctx, "axis out of range");
  const int64_t rows = c10::multiply_integers(x.sizes().begin(), x.sizes().begin() + axis);
  const int64_t cols = c10::multiply_integers(x.sizes().begin() + axis, x.sizes().end());
  return {x.reshape({rows, cols})};
}

ALLOT_KERNEL(Gather) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& indices = ctx.Required(1);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim());
  at::Tensor flat = x.index_select(axis, WrapIndices(indices, x.size(axis)).reshape({-1}));
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + axis);
  shape.insert(shape.end(), indices.sizes().begin(), indices.sizes().end());
  shape.insert(shape.end(), x.sizes().begin() + axis + 1, x.sizes().end());
  return {flat.reshape(shape)};
}

ALLOT_KERNEL(GatherElements) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim());
  return {at::gather(x, axis, WrapIndices(ctx.Required(1), x.size(axis)))};
}

ALLOT_KERNEL(GatherND) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& indices = ctx.Required(1);
  const int64_t b = ctx.Int("batch_dims", 0), k = indices.size(-1);
  if (b < 0 || b + k > x.dim() || b >= indices.dim()) Fail(ctx, "batch_dims and index depth exceed the data rank");
  // Batch dims become one leading dim of the data and of the index tuples; each tuple picks a slice of its batch.
  const int64_t batch = c10::multiply_integers(x.sizes().begin(), x.sizes().begin() + b);
  at::Tensor data = x.reshape(Join({batch}, x.sizes().slice(b)));
  at::Tensor tuples = indices.reshape({batch, -1, k});
  const std::vector<int64_t> inner(x.sizes().begin() + b, x.sizes().begin() + b + k);
  at::Tensor linear = LinearIndex(tuples, inner).reshape({batch, -1});
  at::Tensor batch_base = at::arange(batch, linear.options()).unsqueeze(1) * c10::multiply_integers(inner);
  at::Tensor flat = data.reshape(Join({batch * c10::multiply_integers(inner)}, x.sizes().slice(b + k)));
  at::Tensor out = flat.index_select(0, (linear + batch_base).reshape({-1}));
  return {out.reshape(Join(indices.sizes().slice(0, indices.dim() - 1), x.sizes().slice(b + k)))};
}

ALLOT_KERNEL(Identity) { return {X(ctx)}; }

ALLOT_KERNEL(NonZero) { return {at::nonzero(X(ctx)).t().contiguous()}; }

ALLOT_KERNEL(OneHot) {
  const int64_t depth = static_cast<int64_t>(ToDouble(ctx.Required(1)));
  const at::Tensor& values = ctx.Required(2);
  at::Tensor indices = WrapIndices(X(ctx), depth);
  const int64_t rank = indices.dim() + 1;
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", -1), rank);
  std::vector<int64_t> class_shape(static_cast<size_t>(rank), 1);
  class_shape[axis] = depth;
  at::Tensor classes = at::arange(depth, indices.options()).reshape(class_shape);
  at::Tensor hot = indices.unsqueeze(axis) == classes;
  at::Tensor flat_values = values.reshape({-1});
  return {at::where(hot, flat_values[1], flat_values[0])};
}

ALLOT_KERNEL(Pad) {
  at::Tensor x = X(ctx);
  const std::string mode = ctx.String("mode", "constant");
  std::vector<int64_t> pads, axes = DimRange(0, x.dim());
  at::Scalar value = 0;
  if (ctx.opset >= 11) {
    pads = ToInts(ctx.Required(1));
    if (ctx.HasInput(2) && ctx.Input(2).numel() > 0) value = IsFloatingType(x) ? at::Scalar(ToDouble(ctx.Input(2)))
                                                                                : at::Scalar(ToInt(ctx.Input(2)));
    if (ctx.HasInput(3)) axes = NormalizeAxes(ctx, ToInts(ctx.Input(3)), x.dim());
  } else {
    pads = ctx.Ints("pads", ctx.Ints("paddings"));
    value = ctx.Float("value", 0.0f);
  }
  std::vector<int64_t> begin, end;
  PadsPerDim(ctx, pads, axes, x.dim(), begin, end);
  if (mode == "constant") return {PadDims(x, 0, begin, end, value)};
  if (mode != "reflect" && mode != "edge" && mode != "wrap") Fail(ctx, "unknown mode '" + mode + "'");
  for (int64_t d = 0; d < x.dim(); ++d) {
    // Negative pads crop first; the positive ones then gather from the cropped tensor.
    const int64_t crop_begin = std::max<int64_t>(0, -begin[d]), crop_end = std::max<int64_t>(0, -end[d]);
    x = x.narrow(d, crop_begin, x.size(d) - crop_begin - crop_end);
    const int64_t b = std::max<int64_t>(0, begin[d]), e = std::max<int64_t>(0, end[d]);
    if (b == 0 && e == 0) continue;
    if (x.size(d) == 0) Fail(ctx, "cannot " + mode + "-pad an empty dimension");
    x = x.index_select(d, PadSourceIndex(mode, x.size(d), b, e, x.device()));
  }
  return {x};
}

ALLOT_KERNEL(Range) {
  const at::Tensor& start = ctx.Required(0);
  const double s = ToDouble(start), limit = ToDouble(ctx.Required(1)), delta = ToDouble(ctx.Required(2));
  if (delta == 0) Fail(ctx, "delta is zero");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - s) / delta)));
  if (!IsFloatingType(start)) {
    const int64_t s_int = ToInt(start), d_int = ToInt(ctx.Required(2));
    return {(at::arange(n, at::TensorOptions().dtype(at::kLong)) * d_int + s_int).to(start.scalar_type())};
  }
  return {(at::arange(n, at::TensorOptions().dtype(at::kDouble)) * delta + s).to(start.scalar_type())};
}

ALLOT_KERNEL(Reshape) {
  const at::Tensor& x = X(ctx);
  std::vector<int64_t> shape = ctx.opset >= 5 ? ToInts(ctx.Required(1)) : ctx.Ints("shape");
  // 0 copies the input's dim unless allowzero (opset 14) asks for a literal 0.
  if (ctx.Int("allowzero", 0) == 0)
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] == 0) {
        if (static_cast<int64_t>(i) >= x.dim()) Fail(ctx, "shape has a 0 beyond the input's rank");
        shape[i] = x.size(static_cast<int64_t>(i));
      }
  return {x.reshape(shape)};
}

ALLOT_KERNEL(ReverseSequence) {
  const at::Tensor& x = X(ctx);
  const int64_t batch_axis = NormalizeAxis(ctx, ctx.Int("batch_axis", 1), x.dim());
  const int64_t time_axis = NormalizeAxis(ctx, ctx.Int("time_axis", 0), x.dim());
  std::vector<int64_t> time_shape(static_cast<size_t>(x.dim()), 1), batch_shape = time_shape;
  time_shape[time_axis] = x.size(time_axis);
  batch_shape[batch_axis] = x.size(batch_axis);
  at::Tensor t = at::arange(x.size(time_axis), at::TensorOptions().dtype(at::kLong).device(x.device())).reshape(time_shape);
  at::Tensor len = ctx.Required(1).to(at::kLong).reshape(batch_shape);
  at::Tensor source = at::where(t < len, len - 1 - t, t).expand(x.sizes());
  return {at::gather(x, time_axis, source)};
}

ALLOT_KERNEL(ScatterElements) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim());
  at::Tensor indices = WrapIndices(ctx.Required(1), x.size(axis));
  const at::Tensor& updates = ctx.Required(2);
  const std::string reduction = ctx.String("reduction", "none");
  if (reduction == "none") return {at::scatter(x, axis, indices, updates)};
  const char* reduce = reduction == "add" ? "sum" : reduction == "mul" ? "prod" : reduction == "max" ? "amax"
                       : reduction == "min" ? "amin" : nullptr;
  if (!reduce) Fail(ctx, "unknown reduction '" + reduction + "'");
  return {at::scatter_reduce(x, axis, indices, updates, reduce, /*include_self=*/true)};
}

ALLOT_KERNEL(ScatterND) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& indices = ctx.Required(1);
  const int64_t k = indices.size(-1);
  if (k > x.dim()) Fail(ctx, "index tuples are longer than the data rank");
  // Scatter into the data viewed as [prod(leading k dims), trailing dims...], one row per index tuple.
  at::Tensor out = x.clone(at::MemoryFormat::Contiguous);
  at::Tensor rows = out.view(Join({c10::multiply_integers(x.sizes().slice(0, k))}, x.sizes().slice(k)));
  at::Tensor linear = LinearIndex(indices, x.sizes());
  at::Tensor updates = ctx.Required(2).reshape(Join({linear.numel()}, x.sizes().slice(k)));
  const std::string reduction = ctx.String("reduction", "none");
  if (reduction == "none") {
    rows.index_copy_(0, linear, updates);
  } else if (reduction == "add") {
    rows.index_add_(0, linear, updates);
  } else {
    const char* reduce = reduction == "mul" ? "prod" : reduction == "max" ? "amax" : reduction == "min" ? "amin"
                                                                                                       : nullptr;
    if (!reduce) Fail(ctx, "unknown reduction '" + reduction + "'");
    rows.index_reduce_(0, linear, updates, reduce, /*include_self=*/true);
  }
  return {out};
}

ALLOT_KERNEL(Shape) {
  const at::Tensor& x = X(ctx);
  const int64_t rank = x.dim();
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(ctx.Int("start", 0));
  const int64_t end = ctx.HasAttr("end") ? clamp(ctx.Int("end", rank)) : rank;
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(x.size(d));
  return {LongTensor(dims)};
}

ALLOT_KERNEL(Size) { return {at::scalar_tensor(X(ctx).numel(), at::TensorOptions().dtype(at::kLong))}; }

ALLOT_KERNEL(Slice) {
  at::Tensor y = X(ctx);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset >= 10) {
    starts = ToInts(ctx.Required(1));
    ends = ToInts(ctx.Required(2));
    if (ctx.HasInput(3)) axes = ToInts(ctx.Input(3));
    if (ctx.HasInput(4)) steps = ToInts(ctx.Input(4));
  } else {
    starts = ctx.Ints("starts");
    ends = ctx.Ints("ends");
    axes = ctx.Ints("axes");
  }
  if (axes.empty()) axes = DimRange(0, static_cast<int64_t>(starts.size()));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    Fail(ctx, "starts, ends, axes and steps differ in length");
  axes = NormalizeAxes(ctx, axes, y.dim());
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = axes[i], dim = y.size(axis), step = steps[i];
    if (step == 0) Fail(ctx, "step is zero");
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      y = y.slice(axis, s, std::max(s, e), step);
    } else {
      // Walking backwards, start clamps to the last element and end to one before the first.
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      const auto long_opts = at::TensorOptions().dtype(at::kLong).device(y.device());
      at::Tensor picked = s > e && dim > 0 ? at::arange(s, e, step, long_opts) : at::empty({0}, long_opts);
      y = y.index_select(axis, picked);
    }
  }
  return {y};
}

ALLOT_KERNEL(Split) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim());
  std::vector<int64_t> sizes;
  if (ctx.opset >= 13) {
    if (ctx.HasInput(1)) sizes = ToInts(ctx.Input(1));
  } else {
    sizes = ctx.Ints("split");
  }
  if (sizes.empty()) {
    // Equal parts, one per output (opset 18: num_outputs, the last part smaller when uneven).
    const int64_t n = ctx.HasAttr("num_outputs") ? ctx.Int("num_outputs", 1) : static_cast<int64_t>(ctx.NumOutputs());
    const int64_t part = (x.size(axis) + n - 1) / n;
    sizes.assign(static_cast<size_t>(n), part);
    sizes.back() = x.size(axis) - part * (n - 1);
    if (sizes.back() < 0) Fail(ctx, "cannot split " + std::to_string(x.size(axis)) + " into " + std::to_string(n));
  }
  return at::split_with_sizes(x, sizes, axis);
}

ALLOT_KERNEL(Squeeze) {
  const at::Tensor& x = X(ctx);
  const std::vector<int64_t> axes = NormalizeAxes(ctx, AxesArgument(ctx, 1, 13), x.dim());
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (listed && x.size(d) != 1) Fail(ctx, "cannot squeeze dim " + std::to_string(d) + " of size " +
                                                std::to_string(x.size(d)));
    if (!(listed || (axes.empty() && x.size(d) == 1))) shape.push_back(x.size(d));
  }
  return {x.reshape(shape)};
}

ALLOT_KERNEL(Unique) {
  const at::Tensor& x = X(ctx);
  const bool has_axis = ctx.HasAttr("axis");
  const int64_t axis = has_axis ? NormalizeAxis(ctx, ctx.Int("axis", 0), x.dim()) : 0;
  const at::Tensor input = has_axis ? x : x.reshape({-1});
  // LibTorch sorts (by value, or lexicographically by slice); ONNX also wants each unique's first index and,
  // with sorted=0, the order of first occurrence.
  at::Tensor values, inverse, counts;
  if (has_axis) std::tie(values, inverse, counts) = at::unique_dim(input, axis, true, true, true);
  else std::tie(values, inverse, counts) = at::_unique2(input, true, true, true);
  const int64_t n = input.size(axis), unique = values.size(axis);
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(x.device());
  at::Tensor first =
      at::full({unique}, n, long_opts).scatter_reduce(0, inverse.reshape({-1}), at::arange(n, long_opts), "amin");
  if (ctx.Int("sorted", 1) == 0) {
    at::Tensor order = at::argsort(first);
    at::Tensor rank = at::empty_like(order).scatter_(0, order, at::arange(unique, long_opts));
    values = values.index_select(axis, order);
    first = first.index_select(0, order);
    counts = counts.index_select(0, order);
    inverse = rank.index_select(0, inverse.reshape({-1}));
  }
  return {values, first, inverse.reshape({-1}), counts};
}

ALLOT_KERNEL(Unsqueeze) {
  const at::Tensor& x = X(ctx);
  const std::vector<int64_t> listed = AxesArgument(ctx, 1, 13);
  std::vector<int64_t> axes = NormalizeAxes(ctx, listed, x.dim() + static_cast<int64_t>(listed.size()));
  std::sort(axes.begin(), axes.end());
  at::Tensor y = x;
  for (int64_t a : axes) y = y.unsqueeze(a);
  return {y};
}

ALLOT_KERNEL(Tile) { return {X(ctx).repeat(ToInts(ctx.Required(1)))}; }

ALLOT_KERNEL(Transpose) {
  const at::Tensor& x = X(ctx);
  std::vector<int64_t> perm = ctx.Ints("perm");
  if (perm.empty()) {
    perm = DimRange(0, x.dim());
    std::reverse(perm.begin(), perm.end());
  }
  return {x.permute(perm)};
}

ALLOT_KERNEL(Trilu) {
  const at::Tensor& x = X(ctx);
  const int64_t k = ctx.HasInput(1) ? ToInt(ctx.Input(1)) : 0;
  return {ctx.Int("upper", 1) != 0 ? at::triu(x, k) : at::tril(x, k)};
}

}  // namespace allot::runtime
