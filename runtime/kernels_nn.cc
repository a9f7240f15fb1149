// Convolution, pooling, normalization, resampling, dropout and loss kernels.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <ATen/Parallel.h>

#include "runtime/kernels_common.h"

namespace allot::runtime {
namespace {

c10::optional<at::Tensor> Optional(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

// A per-channel vector [C] shaped to broadcast over [N, C, spatial...].
at::Tensor PerChannel(const at::Tensor& v, int64_t rank) {
  std::vector<int64_t> shape(static_cast<size_t>(std::max<int64_t>(rank, 2)), 1);
  shape[1] = -1;
  return v.reshape(shape);
}

// Dims 2.. of [N, C, spatial...]; an error when there are none (LibTorch reduces over every dim given none).
std::vector<int64_t> SpatialDims(const KernelContext& ctx, const at::Tensor& x) {
  if (x.dim() < 3) Fail(ctx, "input must be [N, C, spatial...]");
  return DimRange(2, x.dim());
}

std::vector<int64_t> Ones(size_t n) { return std::vector<int64_t>(n, 1); }

// LibTorch pools 1-D inputs only through a subset of its kernels; they are run as [N, C, L, 1] instead.
struct Lifted {
  at::Tensor x;
  std::vector<int64_t> kernel, strides, dilations;
  bool lifted = false;
  at::Tensor Lower(const at::Tensor& y) const { return lifted ? y.squeeze(-1) : y; }
};

Lifted Lift(const at::Tensor& x, const WindowGeometry& g) {
  Lifted l{x, g.kernel, g.strides, g.dilations, x.dim() == 3};
  if (l.lifted) {
    l.x = x.unsqueeze(-1);
    l.kernel.push_back(1);
    l.strides.push_back(1);
    l.dilations.push_back(1);
  }
  return l;
}

// Window sums of an already padded input (divisor 1), with ceil_mode's partial windows clipped to the input.
at::Tensor WindowSum(const at::Tensor& padded, const WindowGeometry& g, bool ceil_mode) {
  const Lifted l = Lift(padded, g);
  const std::vector<int64_t> zero(l.kernel.size(), 0);
  at::Tensor y = l.kernel.size() == 2 ? at::avg_pool2d(l.x, l.kernel, l.strides, zero, ceil_mode, true, 1)
                                      : at::avg_pool3d(l.x, l.kernel, l.strides, zero, ceil_mode, true, 1);
  return l.Lower(y);
}

// Averages as sums over counts, so that any (asymmetric, large) pads and count_include_pad behave as ONNX says:
// pads count in the divisor only with count_include_pad; cells past the input (ceil_mode) never do.
at::Tensor AveragePoolImpl(const at::Tensor& x, const WindowGeometry& g, bool ceil_mode, bool count_include_pad) {
  at::Tensor sums = WindowSum(PadDims(x, 2, g.pad_begin, g.pad_end, 0), g, ceil_mode);
  std::vector<int64_t> one_plane(x.sizes().begin(), x.sizes().end());
  one_plane[0] = one_plane[1] = 1;
  at::Tensor ones = at::ones(one_plane, x.options());
  at::Tensor cells = count_include_pad ? PadDims(ones, 2, g.pad_begin, g.pad_end, 1)
                                       : PadDims(ones, 2, g.pad_begin, g.pad_end, 0);
  return sums / WindowSum(cells, g, ceil_mode);
}

// Row-major flat indices <-> per-dim coordinates.
std::vector<at::Tensor> Unravel(at::Tensor flat, at::IntArrayRef shape) {
  std::vector<at::Tensor> coords(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    coords[i] = at::remainder(flat, shape[i]);
    flat = at::div(flat, shape[i], "floor");
  }
  return coords;
}
at::Tensor Ravel(const std::vector<at::Tensor>& coords, at::IntArrayRef shape) {
  at::Tensor flat = at::zeros_like(coords[0]);
  for (size_t i = 0; i < shape.size(); ++i) flat = flat * shape[i] + coords[i];
  return flat;
}

// MaxPool indices count over the whole unpadded input, [N, C, spatial...] flattened (column-major spatial dims
// with storage_order 1); LibTorch's count over one padded plane.
at::Tensor OnnxMaxPoolIndices(const at::Tensor& plane_index, at::IntArrayRef padded, at::IntArrayRef spatial,
                              const std::vector<int64_t>& pad_begin, bool column_major) {
  std::vector<at::Tensor> coords = Unravel(plane_index, padded);
  for (size_t i = 0; i < coords.size(); ++i) coords[i] = coords[i] - pad_begin[i];
  std::vector<int64_t> dims(spatial.begin(), spatial.end());
  if (column_major) {
    std::reverse(coords.begin(), coords.end());
    std::reverse(dims.begin(), dims.end());
  }
  const int64_t batch = plane_index.size(0), channels = plane_index.size(1);
  std::vector<int64_t> plane_shape{batch, channels};
  plane_shape.resize(static_cast<size_t>(plane_index.dim()), 1);
  at::Tensor plane = at::arange(batch * channels, plane_index.options()).reshape(plane_shape);
  return Ravel(coords, dims) + plane * c10::multiply_integers(spatial);
}

// Output sizes of ONNX's ConvTranspose and the pads that crop LibTorch's full result to them.
void ConvTransposePads(const KernelContext& ctx, at::IntArrayRef spatial, const std::vector<int64_t>& full,
                       const std::vector<int64_t>& output_padding, WindowGeometry& g) {
  const size_t n = spatial.size();
  const std::string auto_pad = ctx.String("auto_pad", "NOTSET");
  std::vector<int64_t> target = ctx.Ints("output_shape");
  if (!target.empty() && target.size() > n) target.erase(target.begin(), target.end() - n);  // [N, C, ...] form
  if (target.empty() && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"))
    for (size_t i = 0; i < n; ++i) target.push_back(spatial[i] * g.strides[i]);
  if (target.empty()) {
    if (auto_pad == "VALID") g.pad_begin = g.pad_end = std::vector<int64_t>(n, 0);
    return;
  }
  if (target.size() != n) Fail(ctx, "output_shape must list the spatial dims");
  for (size_t i = 0; i < n; ++i) {
    const int64_t total = full[i] + output_padding[i] - target[i];
    // Floor division, as ONNX's reference: a negative total (output_shape beyond the full result) grows the end.
    const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
    g.pad_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
    g.pad_end[i] = total - g.pad_begin[i];
  }
}

// ---- Resize ----------------------------------------------------------------------------------------------------

struct ResizeOptions {
  std::string mode = "nearest";            // nearest, linear, cubic
  std::string coordinates = "half_pixel";  // coordinate_transformation_mode
  std::string nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  bool legacy_nearest = false;  // opset < 11: floor when upsampling, ceil when downsampling
};

// Where output position `o` samples the input, per coordinate_transformation_mode (as ONNX's reference: the
// "output width" of the formulas is scale * in, not the rounded output size).
double SourceCoordinate(const KernelContext& ctx, const ResizeOptions& opt, int64_t o, double scale, int64_t in,
                        double roi_start, double roi_end) {
  const double out_width = scale * static_cast<double>(in), x = static_cast<double>(o);
  const std::string& m = opt.coordinates;
  if (m == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (m == "pytorch_half_pixel") return out_width > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (m == "align_corners") return out_width == 1 ? 0.0 : x * (in - 1) / (out_width - 1);
  if (m == "asymmetric") return x / scale;
  if (m == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (m == "half_pixel_symmetric") {
    const double adjustment = std::floor(out_width) / out_width;
    const double center = in / 2.0, offset = center * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  if (m == "tf_crop_and_resize")
    return out_width > 1 ? roi_start * (in - 1) + x * (roi_end - roi_start) * (in - 1) / (out_width - 1)
                         : 0.5 * (roi_start + roi_end) * (in - 1);
  Fail(ctx, "unknown coordinate_transformation_mode '" + m + "'");
}

std::vector<double> CubicCoefficients(double r, double a) {
  auto far = [a](double t) { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a; };  // 1 <= |t| < 2
  auto near = [a](double t) { return ((a + 2) * t - (a + 3)) * t * t + 1; };       // |t| < 1
  return {far(r + 1), near(r), near(1 - r), far(2 - r)};
}

// Resamples dim `d` from size in to size out: each output row is a weighted sum of a few input rows (taps).
at::Tensor ResizeAxis(const KernelContext& ctx, const ResizeOptions& opt, const at::Tensor& x, int64_t d,
                      int64_t out, double scale, double roi_start, double roi_end) {
  const int64_t in = x.size(d);
  const int taps = opt.mode == "nearest" ? 1 : opt.mode == "linear" ? 2 : 4;
  std::vector<int64_t> index(static_cast<size_t>(out * taps));
  std::vector<double> weight(index.size());
  std::vector<uint8_t> outside(static_cast<size_t>(out), 0);
  for (int64_t o = 0; o < out; ++o) {
    const double src = SourceCoordinate(ctx, opt, o, scale, in, roi_start, roi_end);
    outside[o] = opt.coordinates == "tf_crop_and_resize" && (src < 0 || src > in - 1);
    // As ONNX's reference: the left neighbour is strictly left of src, so an exact hit has ratio 1.
    int64_t base = static_cast<int64_t>(std::floor(src));
    double ratio = src - static_cast<double>(base);
    if (ratio == 0) {
      --base;
      ratio = 1;
    }
    int64_t* idx = &index[static_cast<size_t>(o * taps)];
    double* w = &weight[static_cast<size_t>(o * taps)];
    if (opt.mode == "nearest") {
      bool up;  // whether the right neighbour (base + 1) is nearest
      if (ratio == 1) up = true;
      else if (opt.legacy_nearest) up = scale < 1;
      else if (opt.nearest == "round_prefer_floor") up = ratio > 0.5;
      else if (opt.nearest == "round_prefer_ceil") up = ratio >= 0.5;
      else if (opt.nearest == "floor") up = false;
      else if (opt.nearest == "ceil") up = true;
      else Fail(ctx, "unknown nearest_mode '" + opt.nearest + "'");
      idx[0] = base + (up ? 1 : 0);
      w[0] = 1;
    } else {
      std::vector<double> c = taps == 2 ? std::vector<double>{1 - ratio, ratio} : CubicCoefficients(ratio, opt.cubic_a);
      const int64_t first = taps == 2 ? base : base - 1;
      double total = 0;
      for (int j = 0; j < taps; ++j) {
        idx[j] = first + j;
        if (opt.exclude_outside && (idx[j] < 0 || idx[j] >= in)) c[j] = 0;
        total += c[j];
      }
      for (int j = 0; j < taps; ++j) w[j] = opt.exclude_outside ? c[j] / total : c[j];
    }
    for (int j = 0; j < taps; ++j) idx[j] = std::clamp<int64_t>(idx[j], 0, in - 1);
  }
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor index_t = at::tensor(index, long_opts).reshape({out, taps}).to(x.device());
  at::Tensor weight_t = at::tensor(weight, at::TensorOptions().dtype(at::kDouble)).reshape({out, taps}).to(x.device());
  std::vector<int64_t> along(static_cast<size_t>(x.dim()), 1);
  along[d] = out;
  at::Tensor y;
  for (int j = 0; j < taps; ++j) {
    at::Tensor rows = x.index_select(d, index_t.select(1, j).contiguous());
    if (taps == 1) {
      y = rows;
      break;
    }
    at::Tensor term = rows * weight_t.select(1, j).to(x.scalar_type()).reshape(along);
    y = j == 0 ? term : y + term;
  }
  if (opt.coordinates == "tf_crop_and_resize") {
    at::Tensor mask =
        at::tensor(std::vector<int64_t>(outside.begin(), outside.end()), long_opts).reshape(along).to(x.device());
    y = at::where(mask != 0, at::scalar_tensor(opt.extrapolation, y.options()), y);
  }
  return y;
}

// Resize and Upsample after their inputs are resolved: per-dim scales, or output sizes (scales then follow).
at::Tensor ResizeImpl(const KernelContext& ctx, const ResizeOptions& opt, const at::Tensor& input,
                      std::vector<double> scales, std::vector<int64_t> sizes, const std::vector<double>& roi) {
  const int64_t rank = input.dim();
  const bool integral = !IsFloatingType(input);
  at::Tensor y = integral ? input.to(at::kFloat) : input;
  if (sizes.empty()) {
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(static_cast<int64_t>(std::floor(input.size(d) * scales[d])));
  } else {
    scales.clear();
    for (int64_t d = 0; d < rank; ++d) scales.push_back(static_cast<double>(sizes[d]) / input.size(d));
  }
  // Innermost dim first: with tf_crop_and_resize, extrapolated inner rows then blend into outer ones exactly as
  // in ONNX's recursive reference.
  for (int64_t d = rank; d-- > 0;) {
    const double start = roi.empty() ? 0.0 : roi[d], end = roi.empty() ? 1.0 : roi[d + rank];
    if (sizes[d] == input.size(d) && scales[d] == 1.0 && opt.coordinates != "tf_crop_and_resize") continue;
    y = ResizeAxis(ctx, opt, y, d, sizes[d], scales[d], start, end);
  }
  return integral ? at::round(y).to(input.scalar_type()) : y;
}

// Uniform [0, 1) samples shaped like x. With a seed attribute they are MT19937's doubles as numpy's legacy
// RandomState draws them (53 bits from two 32-bit outputs), so seeded models reproduce ONNX's reference outputs.
at::Tensor UniformLike(const at::Tensor& x, const KernelContext& ctx) {
  if (!ctx.HasAttr("seed")) return at::rand_like(x, x.options().dtype(at::kDouble));
  std::mt19937 engine(static_cast<uint32_t>(ctx.Float("seed", 0.0f)));
  at::Tensor u = at::empty(x.sizes(), at::TensorOptions().dtype(at::kDouble));  // filled on the host
  double* p = u.data_ptr<double>();
  for (int64_t i = 0; i < u.numel(); ++i) {
    const uint32_t a = engine() >> 5, b = engine() >> 6;
    p[i] = (a * 67108864.0 + b) / 9007199254740992.0;
  }
  return u.to(x.device());
}

// ---- RoiAlign ----------------------------------------------------------------------------------------------------

struct RoiAlignParams {
  int64_t channels, height, width, pooled_h, pooled_w, sampling_ratio;
  double spatial_scale;
  bool half_pixel, max_mode;
};

// One bilinear sample: the flat positions of its four neighbours and their weights (all zero off the map).
template <typename T>
struct BilinearSample {
  int64_t pos[4] = {0, 0, 0, 0};
  T w[4] = {0, 0, 0, 0};
};

// RoiAlign of one box over every channel of its image, in the operation order of ONNX's reference (Caffe2's
// algorithm, as ONNX Runtime and torchvision run it), so float results agree to the last bits.
template <typename T>
void RoiAlignBox(const RoiAlignParams& p, const T* image, const T* box, T* out) {
  const T offset = p.half_pixel ? T(0.5) : T(0);
  const T scale = static_cast<T>(p.spatial_scale);
  const T start_w = box[0] * scale - offset, start_h = box[1] * scale - offset;
  T roi_w = box[2] * scale - offset - start_w, roi_h = box[3] * scale - offset - start_h;
  if (!p.half_pixel) {  // output_half_pixel (opset 10's only mode) keeps a box at least one pixel wide
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  const T bin_h = roi_h / static_cast<T>(p.pooled_h), bin_w = roi_w / static_cast<T>(p.pooled_w);
  // Samples per bin and side: sampling_ratio, or adaptive (one per input pixel the bin spans, rounded up).
  auto grid = [&](T bin) {
    return p.sampling_ratio > 0 ? p.sampling_ratio : std::max<int64_t>(0, static_cast<int64_t>(std::ceil(bin)));
  };
  const int64_t grid_h = grid(bin_h), grid_w = grid(bin_w);
  const T count = static_cast<T>(std::max<int64_t>(grid_h * grid_w, 1));
  std::vector<BilinearSample<T>> samples;
  samples.reserve(static_cast<size_t>(p.pooled_h * p.pooled_w * grid_h * grid_w));
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw)
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const T yy = start_h + ph * bin_h + static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          T x = start_w + pw * bin_w + static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid_w), y = yy;
          BilinearSample<T>& s = samples.emplace_back();
          if (y < -1.0 || y > p.height || x < -1.0 || x > p.width) continue;
          y = std::max(y, T(0));
          x = std::max(x, T(0));
          int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x), y1 = y0 + 1, x1 = x0 + 1;
          if (y0 >= p.height - 1) {
            y0 = y1 = p.height - 1;
            y = static_cast<T>(y0);
          }
          if (x0 >= p.width - 1) {
            x0 = x1 = p.width - 1;
            x = static_cast<T>(x0);
          }
          const T ly = y - y0, lx = x - x0, hy = T(1) - ly, hx = T(1) - lx;
          s.pos[0] = y0 * p.width + x0;
          s.pos[1] = y0 * p.width + x1;
          s.pos[2] = y1 * p.width + x0;
          s.pos[3] = y1 * p.width + x1;
          s.w[0] = hy * hx;
          s.w[1] = hy * lx;
          s.w[2] = ly * hx;
          s.w[3] = ly * lx;
        }
      }
  const int64_t per_bin = grid_h * grid_w;
  for (int64_t c = 0; c < p.channels; ++c) {
    const T* plane = image + c * p.height * p.width;
    for (int64_t bin = 0; bin < p.pooled_h * p.pooled_w; ++bin, ++out) {
      const BilinearSample<T>* s = samples.data() + bin * per_bin;
      T value = 0;
      for (int64_t i = 0; i < per_bin; ++i) {
        const T v0 = s[i].w[0] * plane[s[i].pos[0]], v1 = s[i].w[1] * plane[s[i].pos[1]];
        const T v2 = s[i].w[2] * plane[s[i].pos[2]], v3 = s[i].w[3] * plane[s[i].pos[3]];
        // mode=max takes the largest weighted neighbour, as the reference does (not the largest sample).
        if (!p.max_mode) value += v0 + v1 + v2 + v3;
        else value = i == 0 ? std::max({v0, v1, v2, v3}) : std::max({value, v0, v1, v2, v3});
      }
      *out = p.max_mode ? value : value / count;
    }
  }
}

// ---- losses ----------------------------------------------------------------------------------------------------

// NegativeLogLikelihoodLoss on log-probabilities [N, C, d...] (also the second half of SoftmaxCrossEntropyLoss).
at::Tensor NllLoss(const KernelContext& ctx, const at::Tensor& log_prob, const at::Tensor& target,
                   const at::Tensor& class_weight) {
  at::Tensor t = target.to(at::kLong);
  at::Tensor valid = ctx.HasAttr("ignore_index") ? t != ctx.Int("ignore_index", 0) : at::ones_like(t, at::kBool);
  at::Tensor safe = at::where(valid, t, at::zeros_like(t));
  at::Tensor picked = -at::gather(log_prob, 1, safe.unsqueeze(1)).squeeze(1);
  at::Tensor w = class_weight.defined() ? class_weight.index_select(0, safe.reshape({-1})).reshape(t.sizes())
                                        : at::ones_like(picked);
  w = w * valid.to(w.scalar_type());
  at::Tensor loss = picked * w;
  const std::string reduction = ctx.String("reduction", "mean");
  if (reduction == "none") return loss;
  if (reduction == "sum") return loss.sum();
  if (reduction == "mean") return loss.sum() / w.sum();
  Fail(ctx, "unknown reduction '" + reduction + "'");
}

}  // namespace

// ---- convolution -------------------------------------------------------------------------------------------------

ALLOT_KERNEL(Conv) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& w = ctx.Required(1);
  if (x.dim() < 3) Fail(ctx, "input must be [N, C, spatial...]");
  const auto spatial = x.sizes().slice(2);
  const WindowGeometry g = ResolveWindow(ctx, spatial, ctx.Ints("kernel_shape", w.sizes().slice(2).vec()));
  // LibTorch pads symmetrically only; asymmetric pads are applied to the input first.
  const bool symmetric = g.Symmetric();
  at::Tensor input = symmetric ? x : PadDims(x, 2, g.pad_begin, g.pad_end, 0);
  const std::vector<int64_t> padding = symmetric ? g.pad_begin : std::vector<int64_t>(spatial.size(), 0);
  return {at::convolution(input, w, Optional(ctx.Input(2)), g.strides, padding, g.dilations, false,
                          std::vector<int64_t>(spatial.size(), 0), ctx.Int("group", 1))};
}

ALLOT_KERNEL(ConvTranspose) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& w = ctx.Required(1);
  if (x.dim() < 3) Fail(ctx, "input must be [N, C, spatial...]");
  const auto spatial = x.sizes().slice(2);
  const size_t n = spatial.size();
  WindowGeometry g;
  g.kernel = ctx.Ints("kernel_shape", w.sizes().slice(2).vec());
  g.strides = ctx.Ints("strides", Ones(n));
  g.dilations = ctx.Ints("dilations", Ones(n));
  const std::vector<int64_t> pads = ctx.Ints("pads", std::vector<int64_t>(2 * n, 0));
  const std::vector<int64_t> output_padding = ctx.Ints("output_padding", std::vector<int64_t>(n, 0));
  if (g.kernel.size() != n || g.strides.size() != n || g.dilations.size() != n || pads.size() != 2 * n ||
      output_padding.size() != n)
    Fail(ctx, "kernel_shape, strides, dilations, pads and output_padding must match the spatial dims");
  g.pad_begin.assign(pads.begin(), pads.begin() + n);
  g.pad_end.assign(pads.begin() + n, pads.end());
  std::vector<int64_t> full(n);
  for (size_t i = 0; i < n; ++i) full[i] = (spatial[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
  ConvTransposePads(ctx, spatial, full, output_padding, g);
  // The full (unpadded) transposed convolution, then output_padding appended and pads cropped (or, when negative,
  // zero-filled) at once.
  at::Tensor y = at::convolution(x, w, c10::nullopt, g.strides, std::vector<int64_t>(n, 0), g.dilations, true,
                                 std::vector<int64_t>(n, 0), ctx.Int("group", 1));
  std::vector<int64_t> begin(n), end(n);
  for (size_t i = 0; i < n; ++i) {
    begin[i] = -g.pad_begin[i];
    end[i] = output_padding[i] - g.pad_end[i];
  }
  y = PadDims(y, 2, begin, end, 0);
  if (ctx.HasInput(2)) y = y + PerChannel(ctx.Input(2), y.dim());
  return {y};
}

// ---- pooling -----------------------------------------------------------------------------------------------------

ALLOT_KERNEL(MaxPool) {
  const at::Tensor& x = X(ctx);
  if (x.dim() < 3 || x.dim() > 5) Fail(ctx, "input must be [N, C, spatial...] with 1-3 spatial dims");
  const auto spatial = x.sizes().slice(2);
  const WindowGeometry g = ResolveWindow(ctx, spatial, ctx.Ints("kernel_shape"));
  const bool ceil_mode = ctx.Int("ceil_mode", 0) != 0;
  // Integer inputs (int8/uint8) are exact in float; padding takes -inf so that it never wins.
  at::Tensor input = IsFloatingType(x) ? x : x.to(at::kFloat);
  at::Tensor padded = PadDims(input, 2, g.pad_begin, g.pad_end, -std::numeric_limits<double>::infinity());
  const Lifted l = Lift(padded, g);
  const std::vector<int64_t> zero(l.kernel.size(), 0);
  auto [values, indices] =
      l.kernel.size() == 2 ? at::max_pool2d_with_indices(l.x, l.kernel, l.strides, zero, l.dilations, ceil_mode)
                           : at::max_pool3d_with_indices(l.x, l.kernel, l.strides, zero, l.dilations, ceil_mode);
  Tensors out{l.Lower(values).to(x.scalar_type())};
  if (ctx.WantsOutput(1))
    out.push_back(OnnxMaxPoolIndices(l.Lower(indices), padded.sizes().slice(2), spatial, g.pad_begin,
                                     ctx.Int("storage_order", 0) != 0));
  return out;
}

ALLOT_KERNEL(AveragePool) {
  const at::Tensor& x = X(ctx);
  if (x.dim() < 3 || x.dim() > 5) Fail(ctx, "input must be [N, C, spatial...] with 1-3 spatial dims");
  const WindowGeometry g = ResolveWindow(ctx, x.sizes().slice(2), ctx.Ints("kernel_shape"));
  if (std::any_of(g.dilations.begin(), g.dilations.end(), [](int64_t d) { return d != 1; }))
    Fail(ctx, "dilations are not supported");
  return {AveragePoolImpl(x, g, ctx.Int("ceil_mode", 0) != 0, ctx.Int("count_include_pad", 0) != 0)};
}

ALLOT_KERNEL(LpPool) {
  const at::Tensor& x = X(ctx);
  if (x.dim() < 3 || x.dim() > 5) Fail(ctx, "input must be [N, C, spatial...] with 1-3 spatial dims");
  const WindowGeometry g = ResolveWindow(ctx, x.sizes().slice(2), ctx.Ints("kernel_shape"));
  const double p = static_cast<double>(ctx.Int("p", 2));
  at::Tensor powered = at::pow(at::abs(PadDims(x, 2, g.pad_begin, g.pad_end, 0)), p);
  return {at::pow(WindowSum(powered, g, ctx.Int("ceil_mode", 0) != 0), 1.0 / p)};
}

ALLOT_KERNEL(GlobalAveragePool) { return {at::mean(X(ctx), SpatialDims(ctx, X(ctx)), true)}; }
ALLOT_KERNEL(GlobalMaxPool) { return {at::amax(X(ctx), SpatialDims(ctx, X(ctx)), true)}; }
ALLOT_KERNEL(GlobalLpPool) {
  const double p = static_cast<double>(ctx.Int("p", 2));
  return {at::pow(at::sum(at::pow(at::abs(X(ctx)), p), SpatialDims(ctx, X(ctx)), true), 1.0 / p)};
}

ALLOT_KERNEL(MaxUnpool) {
  const at::Tensor& x = X(ctx);
  const at::Tensor& indices = ctx.Required(1);
  const auto spatial = x.sizes().slice(2);
  const WindowGeometry g = ResolveWindow(ctx, spatial, ctx.Ints("kernel_shape"));
  std::vector<int64_t> pooled_from{x.size(0), x.size(1)};
  for (size_t i = 0; i < spatial.size(); ++i)
    pooled_from.push_back((spatial[i] - 1) * g.strides[i] + g.kernel[i] - g.pad_begin[i] - g.pad_end[i]);
  // MaxPool's indices count over the whole [N, C, spatial...] input it pooled; an explicit output_shape keeps
  // each value's coordinates, not its flat index.
  at::Tensor flat = indices.reshape({-1}).to(at::kLong);
  const std::vector<int64_t> shape = ctx.HasInput(2) ? ToInts(ctx.Input(2)) : pooled_from;
  if (shape != pooled_from) flat = Ravel(Unravel(flat, pooled_from), shape);
  at::Tensor y = at::zeros({c10::multiply_integers(shape)}, x.options());
  y.index_put_({flat}, x.reshape({-1}));
  return {y.reshape(shape)};
}

ALLOT_KERNEL(GridSample) {
  std::string mode = ctx.String("mode", "bilinear");
  if (mode == "linear") mode = "bilinear";  // opset 20 names
  if (mode == "cubic") mode = "bicubic";
  const std::string padding = ctx.String("padding_mode", "zeros");
  const int64_t interpolation = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : mode == "bicubic" ? 2 : -1;
  const int64_t pad = padding == "zeros" ? 0 : padding == "border" ? 1 : padding == "reflection" ? 2 : -1;
  if (interpolation < 0 || pad < 0) Fail(ctx, "unknown mode or padding_mode");
  return {at::grid_sampler(X(ctx), ctx.Required(1), interpolation, pad, ctx.Int("align_corners", 0) != 0)};
}

ALLOT_KERNEL(NonMaxSuppression) {
  const at::Tensor boxes = X(ctx).to(at::kFloat).contiguous(), scores = ctx.Required(1).to(at::kFloat).contiguous();
  const int64_t max_per_class = ctx.HasInput(2) && ctx.Input(2).numel() > 0 ? ToInt(ctx.Input(2)) : 0;
  const float iou_threshold =
      ctx.HasInput(3) && ctx.Input(3).numel() > 0 ? static_cast<float>(ToDouble(ctx.Input(3))) : 0;
  const bool score_gate = ctx.HasInput(4) && ctx.Input(4).numel() > 0;
  const float score_threshold = score_gate ? static_cast<float>(ToDouble(ctx.Input(4))) : 0;
  const bool center = ctx.Int("center_point_box", 0) != 0;
  const int64_t batches = scores.size(0), classes = scores.size(1), n = scores.size(2);
  auto box = boxes.accessor<float, 3>();
  auto score = scores.accessor<float, 3>();
  // Corners (y1, x1, y2, x2) of box i in batch b, whichever corner order or center form the box uses.
  auto corners = [&](int64_t b, int64_t i) {
    const float a0 = box[b][i][0], a1 = box[b][i][1], a2 = box[b][i][2], a3 = box[b][i][3];
    if (center) return std::array<float, 4>{a1 - a3 / 2, a0 - a2 / 2, a1 + a3 / 2, a0 + a2 / 2};
    return std::array<float, 4>{std::min(a0, a2), std::min(a1, a3), std::max(a0, a2), std::max(a1, a3)};
  };
  auto iou = [](const std::array<float, 4>& p, const std::array<float, 4>& q) {
    const float h = std::max(0.0f, std::min(p[2], q[2]) - std::max(p[0], q[0]));
    const float w = std::max(0.0f, std::min(p[3], q[3]) - std::max(p[1], q[1]));
    const float inter = h * w;
    const float uni = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
    return uni > 0 ? inter / uni : 0.0f;
  };
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t c = 0; c < classes; ++c) {
      std::vector<int64_t> order;
      for (int64_t i = 0; i < n; ++i)
        if (!score_gate || score[b][c][i] > score_threshold) order.push_back(i);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t i, int64_t j) { return score[b][c][i] > score[b][c][j]; });
      std::vector<std::array<float, 4>> kept;
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        const std::array<float, 4> candidate = corners(b, i);
        if (std::any_of(kept.begin(), kept.end(), [&](const auto& k) { return iou(k, candidate) > iou_threshold; }))
          continue;
        kept.push_back(candidate);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  return {LongTensor(selected).reshape({-1, 3})};
}

// Opset 10 has output_half_pixel semantics only; opset 16 adds coordinate_transformation_mode, half_pixel by default.
ALLOT_KERNEL(RoiAlign) {
  const at::Tensor& x = X(ctx);
  if (x.dim() != 4 || !IsFloatingType(x)) Fail(ctx, "X must be a floating [N, C, H, W] tensor");
  const at::Tensor rois = ctx.Required(1).to(x.scalar_type()).contiguous();
  const at::Tensor batch = ctx.Required(2).to(at::kLong).contiguous();
  if (rois.dim() != 2 || rois.size(1) != 4 || batch.dim() != 1 || batch.size(0) != rois.size(0))
    Fail(ctx, "rois must be [num_rois, 4] and batch_indices [num_rois]");
  const std::string mode = ctx.String("mode", "avg");
  const std::string transform =
      ctx.String("coordinate_transformation_mode", ctx.opset >= 16 ? "half_pixel" : "output_half_pixel");
  if (mode != "avg" && mode != "max") Fail(ctx, "unknown mode '" + mode + "'");
  if (transform != "half_pixel" && transform != "output_half_pixel")
    Fail(ctx, "unknown coordinate_transformation_mode '" + transform + "'");
  const RoiAlignParams p{x.size(1), x.size(2), x.size(3), ctx.Int("output_height", 1), ctx.Int("output_width", 1),
                         ctx.Int("sampling_ratio", 0), ctx.Float("spatial_scale", 1.0f), transform == "half_pixel",
                         mode == "max"};
  if (p.pooled_h < 1 || p.pooled_w < 1 || p.sampling_ratio < 0)
    Fail(ctx, "output_height and output_width must be positive and sampling_ratio non-negative");
  const int64_t* image_of = batch.data_ptr<int64_t>();
  for (int64_t r = 0; r < batch.size(0); ++r)
    if (image_of[r] < 0 || image_of[r] >= x.size(0))
      Fail(ctx, "batch index " + std::to_string(image_of[r]) + " of roi " + std::to_string(r) + " is out of range");
  const at::Tensor input = x.contiguous();
  at::Tensor y = at::empty({rois.size(0), p.channels, p.pooled_h, p.pooled_w}, x.options());
  const int64_t image_size = p.channels * p.height * p.width, out_size = p.channels * p.pooled_h * p.pooled_w;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "RoiAlign", [&] {
    const scalar_t* images = input.data_ptr<scalar_t>();
    const scalar_t* boxes = rois.data_ptr<scalar_t>();
    scalar_t* out = y.data_ptr<scalar_t>();
    at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        RoiAlignBox<scalar_t>(p, images + image_of[r] * image_size, boxes + 4 * r, out + r * out_size);
    });
  });
  return {y};
}

// ---- normalization -----------------------------------------------------------------------------------------------

ALLOT_KERNEL(BatchNormalization) {
  const at::Tensor& x = X(ctx);
  const int64_t rank = x.dim();
  const double eps = ctx.Float("epsilon", 1e-5f);
  at::Tensor scale = PerChannel(ctx.Required(1), rank), bias = PerChannel(ctx.Required(2), rank);
  at::Tensor mean = ctx.Required(3), var = ctx.Required(4);
  auto normalize = [&](const at::Tensor& m, const at::Tensor& v) {
    return (x - PerChannel(m, rank)) / at::sqrt(PerChannel(v, rank) + eps) * scale + bias;
  };
  if (ctx.opset < 14 || ctx.Int("training_mode", 0) == 0) return {normalize(mean, var)};
  // Training mode: normalize with the batch's statistics and output the updated running ones.
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < rank; ++d) dims.push_back(d);
  at::Tensor batch_mean = x.mean(dims), batch_var = x.var(dims, /*unbiased=*/false);
  const double momentum = ctx.Float("momentum", 0.9f);
  return {normalize(batch_mean, batch_var), mean * momentum + batch_mean * (1 - momentum),
          var * momentum + batch_var * (1 - momentum)};
}

ALLOT_KERNEL(InstanceNormalization) {
  const at::Tensor& x = X(ctx);
  const std::vector<int64_t> dims = SpatialDims(ctx, x);
  at::Tensor mean = x.mean(dims, true), var = x.var(dims, /*unbiased=*/false, true);
  const double eps = ctx.Float("epsilon", 1e-5f);
  return {(x - mean) / at::sqrt(var + eps) * PerChannel(ctx.Required(1), x.dim()) +
          PerChannel(ctx.Required(2), x.dim())};
}

ALLOT_KERNEL(LayerNormalization) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", -1), x.dim());
  const std::vector<int64_t> dims = DimRange(axis, x.dim());
  at::Tensor mean = x.mean(dims, true);
  at::Tensor centered = x - mean;
  at::Tensor inv_std = at::rsqrt((centered * centered).mean(dims, true) + ctx.Float("epsilon", 1e-5f));
  at::Tensor y = centered * inv_std * ctx.Required(1);
  if (ctx.HasInput(2)) y = y + ctx.Input(2);
  return {y, mean, inv_std};
}

ALLOT_KERNEL(LpNormalization) {
  const at::Tensor& x = X(ctx);
  const int64_t axis = NormalizeAxis(ctx, ctx.Int("axis", -1), x.dim());
  return {x / at::norm(x, static_cast<double>(ctx.Int("p", 2)), {axis}, true)};
}

ALLOT_KERNEL(LRN) {
  const at::Tensor& x = X(ctx);
  const int64_t size = ctx.Int("size", 0);
  if (size <= 0) Fail(ctx, "size must be positive");
  const double alpha = ctx.Float("alpha", 1e-4f), beta = ctx.Float("beta", 0.75f), bias = ctx.Float("bias", 1.0f);
  // Channel c sums the squares of channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  at::Tensor squares = PadDims(x * x, 1, {before}, {after}, 0);
  at::Tensor sums = squares.unfold(1, size, 1).sum(-1);
  return {x / at::pow(sums * (alpha / size) + bias, beta)};
}

ALLOT_KERNEL(MeanVarianceNormalization) {
  const at::Tensor& x = X(ctx);
  const std::vector<int64_t> axes = NormalizeAxes(ctx, ctx.Ints("axes", {0, 2, 3}), x.dim());
  at::Tensor mean = x.mean(axes, true);
  at::Tensor var = (x * x).mean(axes, true) - mean * mean;
  return {(x - mean) / (at::sqrt(var) + 1e-9)};
}

ALLOT_KERNEL(Dropout) {
  const at::Tensor& x = X(ctx);
  double ratio = ctx.opset >= 12 ? (ctx.HasInput(1) ? ToDouble(ctx.Input(1)) : 0.5) : ctx.Float("ratio", 0.5f);
  const bool training = ctx.opset >= 12 && ctx.HasInput(2) && ToInt(ctx.Input(2)) != 0;
  if (!training) ratio = 0;
  at::Tensor keep = ratio == 0 ? at::ones_like(x, at::kBool) : UniformLike(x, ctx) >= ratio;
  at::Tensor y = ratio == 0 ? x : x * keep.to(x.scalar_type()) / (1 - ratio);
  if (!ctx.WantsOutput(1)) return {y};
  return {y, ctx.opset >= 10 ? keep : keep.to(x.scalar_type())};
}

// ---- resampling --------------------------------------------------------------------------------------------------

ALLOT_KERNEL(Resize) {
  const at::Tensor& x = X(ctx);
  const int64_t rank = x.dim();
  ResizeOptions opt;
  opt.mode = ctx.String("mode", "nearest");
  if (opt.mode != "nearest" && opt.mode != "linear" && opt.mode != "cubic")
    Fail(ctx, "unknown mode '" + opt.mode + "'");
  if (ctx.Int("antialias", 0) != 0) Fail(ctx, "antialias is not supported");
  std::vector<double> scales, roi;
  std::vector<int64_t> sizes;
  if (ctx.opset < 11) {  // Resize-10: X, scales; asymmetric coordinates
    opt.coordinates = "asymmetric";
    opt.legacy_nearest = true;
    scales = ToDoubles(ctx.Required(1));
  } else {
    opt.coordinates = ctx.String("coordinate_transformation_mode", "half_pixel");
    opt.nearest = ctx.String("nearest_mode", "round_prefer_floor");
    opt.cubic_a = ctx.Float("cubic_coeff_a", -0.75f);
    opt.exclude_outside = ctx.Int("exclude_outside", 0) != 0;
    opt.extrapolation = ctx.Float("extrapolation_value", 0.0f);
    if (ctx.HasInput(1) && ctx.Input(1).numel() > 0) roi = ToDoubles(ctx.Input(1));
    if (ctx.HasInput(2) && ctx.Input(2).numel() > 0) scales = ToDoubles(ctx.Input(2));
    if (ctx.HasInput(3) && ctx.Input(3).numel() > 0) sizes = ToInts(ctx.Input(3));
  }
  if (scales.empty() == sizes.empty()) Fail(ctx, "exactly one of scales and sizes must be given");
  // Opset 18's axes: scales, sizes and roi list only those dims; expand them to all dims.
  const std::vector<int64_t> axes =
      ctx.HasAttr("axes") ? NormalizeAxes(ctx, ctx.Ints("axes"), rank) : DimRange(0, rank);
  const size_t listed = scales.empty() ? sizes.size() : scales.size();
  if (listed != axes.size()) Fail(ctx, "scales/sizes must have one value per resized axis");
  std::vector<double> all_scales(static_cast<size_t>(rank), 1.0), all_roi;
  std::vector<int64_t> all_sizes(x.sizes().begin(), x.sizes().end());
  if (!roi.empty()) {
    if (roi.size() != 2 * axes.size()) Fail(ctx, "roi must have 2 values per resized axis");
    all_roi.assign(static_cast<size_t>(2 * rank), 0.0);
    for (int64_t d = 0; d < rank; ++d) all_roi[d + rank] = 1.0;
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    if (!scales.empty()) all_scales[axes[i]] = scales[i];
    if (!sizes.empty()) all_sizes[axes[i]] = sizes[i];
    if (!roi.empty()) {
      all_roi[axes[i]] = roi[i];
      all_roi[axes[i] + rank] = roi[i + axes.size()];
    }
  }
  if (!sizes.empty()) {
    const std::string policy = ctx.String("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") {
      double s = policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t a : axes) {
        const double r = static_cast<double>(all_sizes[a]) / x.size(a);
        s = policy == "not_larger" ? std::min(s, r) : std::max(s, r);
      }
      for (int64_t a : axes) all_sizes[a] = static_cast<int64_t>(std::round(s * x.size(a)));
    }
    return {ResizeImpl(ctx, opt, x, {}, all_sizes, all_roi)};
  }
  return {ResizeImpl(ctx, opt, x, all_scales, {}, all_roi)};
}

ALLOT_KERNEL(Upsample) {
  ResizeOptions opt;
  opt.mode = ctx.String("mode", "nearest");
  if (opt.mode == "bilinear") opt.mode = "linear";
  opt.coordinates = "asymmetric";
  opt.legacy_nearest = true;
  std::vector<double> scales;
  if (ctx.opset >= 9) {
    scales = ToDoubles(ctx.Required(1));
  } else {
    const std::vector<float> attr = ctx.Floats("scales");
    scales.assign(attr.begin(), attr.end());
  }
  if (static_cast<int64_t>(scales.size()) != X(ctx).dim()) Fail(ctx, "scales must have one value per dim");
  return {ResizeImpl(ctx, opt, X(ctx), scales, {}, {})};
}

// ---- losses --------------------------------------------------------------------------------------------------------

ALLOT_KERNEL(NegativeLogLikelihoodLoss) { return {NllLoss(ctx, X(ctx), ctx.Required(1), ctx.Input(2))}; }

ALLOT_KERNEL(SoftmaxCrossEntropyLoss) {
  at::Tensor log_prob = at::log_softmax(X(ctx), 1);
  return {NllLoss(ctx, log_prob, ctx.Required(1), ctx.Input(2)), log_prob};
}

}  // namespace allot::runtime
