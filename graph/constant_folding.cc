#include "graph/constant_folding.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "graph/error.h"

namespace allot {
namespace {

using Dims = std::vector<int64_t>;

// Element count, or -1 past kMaxFoldedElements (or on a negative dim).
int64_t CappedCount(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxFoldedElements) return -1;  // even beside a 0: no folded tensor has such a dim
    if (d == 0) return 0;
  }
  for (int64_t d : dims) {
    if (n * d > kMaxFoldedElements) return -1;  // both <= the cap: the product fits
    n *= d;
  }
  return n;
}

// ---- IEEE half and bfloat16 ----------------------------------------------------------------------------------------

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exp = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | 0x7c00 | (x > 0x7f800000u ? 0x200 : 0);  // inf, nan
  if (x >= 0x477ff000u) return sign | 0x7c00;                                   // overflows to inf
  if (x < 0x38800000u) {                                                        // subnormal or zero
    if (x < 0x33000000u) return sign;
    const uint32_t exp = x >> 23, mant = (x & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exp;
    uint32_t half = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t half = ((x >> 13) - (112u << 10));
  const uint32_t rest = x & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return sign | static_cast<uint16_t>(half);
}

float BFloatToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToBFloat(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet nan
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

// ---- normalisation to the element type -----------------------------------------------------------------------------

bool IsInteger(DType t) {
  switch (t) {
    case DType::kInt8: case DType::kUInt8: case DType::kInt16: case DType::kUInt16: case DType::kInt32:
    case DType::kUInt32: case DType::kInt64: case DType::kUInt64: case DType::kBool:
      return true;
    default:
      return false;
  }
}
bool Supported(DType t) { return IsInteger(t) || IsFloating(t); }

int64_t WrapInt(DType t, int64_t v) {
  switch (t) {
    case DType::kInt8: return static_cast<int8_t>(v);
    case DType::kUInt8: return static_cast<uint8_t>(v);
    case DType::kInt16: return static_cast<int16_t>(v);
    case DType::kUInt16: return static_cast<uint16_t>(v);
    case DType::kInt32: return static_cast<int32_t>(v);
    case DType::kUInt32: return static_cast<uint32_t>(v);
    case DType::kBool: return v != 0;
    default: return v;
  }
}

double RoundReal(DType t, double v) {
  switch (t) {
    case DType::kFloat32: return static_cast<float>(v);
    case DType::kFloat16: return HalfToFloat(FloatToHalf(static_cast<float>(v)));
    case DType::kBFloat16: return BFloatToFloat(FloatToBFloat(static_cast<float>(v)));
    default: return v;
  }
}

void Normalize(ConstTensor& t) {
  if (t.is_real()) {
    for (double& v : t.reals) v = RoundReal(t.dtype, v);
  } else {
    for (int64_t& v : t.ints) v = WrapInt(t.dtype, v);
  }
}

// A tensor of `dims` and `dtype` with storage for its elements (count already checked against the cap).
ConstTensor Make(DType dtype, Dims dims) {
  ConstTensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  const int64_t n = CappedCount(t.dims);
  if (IsFloating(dtype)) t.reals.resize(static_cast<size_t>(n));
  else t.ints.resize(static_cast<size_t>(n));
  return t;
}

double AsReal(const ConstTensor& t, size_t i) { return t.is_real() ? t.reals[i] : static_cast<double>(t.ints[i]); }

// ---- node attributes -----------------------------------------------------------------------------------------------

const onnx::AttributeProto* Attr(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t AttrInt(const onnx::NodeProto& node, std::string_view name, int64_t fallback) {
  const auto* a = Attr(node, name);
  return a ? a->i() : fallback;
}
std::optional<Dims> AttrInts(const onnx::NodeProto& node, std::string_view name) {
  const auto* a = Attr(node, name);
  if (!a) return std::nullopt;
  return Dims(a->ints().begin(), a->ints().end());
}

// ---- evaluation context --------------------------------------------------------------------------------------------

struct Ctx {
  const onnx::NodeProto& node;
  int opset;
  const std::vector<FoldInput>& in;
  std::vector<ConstTensor>& out;

  size_t num_inputs() const { return in.size(); }
  bool present(size_t i) const { return i < in.size() && in[i].present; }
  bool has(size_t i) const { return i < in.size() && in[i].value; }
  const ConstTensor& v(size_t i) const { return *in[i].value; }
  [[noreturn]] void Fail(const std::string& what) const { throw FoldError{what}; }
  // An integer 1-D (or scalar) input's elements: axes, starts, shapes, repeats.
  bool Ints(size_t i, Dims& values) const {
    if (!has(i) || v(i).is_real() || v(i).dims.size() > 1) return false;
    values = v(i).ints;
    return true;
  }
  bool Scalar(size_t i, double& value) const {
    if (!has(i) || v(i).size() != 1) return false;
    value = AsReal(v(i), 0);
    return true;
  }
  void Emit(ConstTensor t) {
    Normalize(t);
    out.push_back(std::move(t));
  }
};

// Normalises an axis against a rank; FoldError when out of range.
int64_t Axis(const Ctx& c, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    c.Fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

// Multidirectional (numpy) broadcasting of shapes.
bool Broadcast(const Ctx& c, const std::vector<const Dims*>& shapes, Dims& out) {
  size_t rank = 0;
  for (const Dims* s : shapes) rank = std::max(rank, s->size());
  out.assign(rank, 1);
  for (const Dims* s : shapes)
    for (size_t k = 0; k < s->size(); ++k) {
      int64_t& o = out[rank - s->size() + k];
      const int64_t d = (*s)[k];
      if (d == o || d == 1) continue;
      if (o == 1) o = d;
      else c.Fail("shapes " + FormatDims(*shapes[0]) + " and " + FormatDims(*s) + " do not broadcast");
    }
  return CappedCount(out) >= 0;
}

// For each element of `out` dims, the index of the element of a tensor of `in` dims that broadcasts to it.
std::vector<size_t> BroadcastIndex(const Dims& in, const Dims& out) {
  const size_t n = static_cast<size_t>(CappedCount(out));
  std::vector<size_t> index(n);
  const size_t rank = out.size(), offset = rank - in.size();
  std::vector<size_t> stride(rank, 0);
  size_t s = 1;
  for (size_t k = in.size(); k-- > 0;) {
    stride[offset + k] = in[k] == 1 ? 0 : s;
    s *= static_cast<size_t>(in[k]);
  }
  std::vector<int64_t> pos(rank, 0);
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    index[i] = at;
    for (size_t k = rank; k-- > 0;) {  // odometer
      at += stride[k];
      if (++pos[k] < out[k]) break;
      at -= stride[k] * static_cast<size_t>(out[k]);
      pos[k] = 0;
    }
  }
  return index;
}

// ---- element-wise --------------------------------------------------------------------------------------------------

using IntFn = std::function<bool(int64_t, int64_t, int64_t&)>;
using RealFn = std::function<double(double, double)>;

// A binary op over broadcast inputs of one type; `bool_out` for comparisons.
bool Binary(Ctx& c, const IntFn& fi, const RealFn& fr, bool bool_out = false) {
  if (!c.has(0) || !c.has(1)) return false;
  const ConstTensor &a = c.v(0), &b = c.v(1);
  if (a.dtype != b.dtype) return false;
  Dims dims;
  if (!Broadcast(c, {&a.dims, &b.dims}, dims)) return false;
  const auto ia = BroadcastIndex(a.dims, dims), ib = BroadcastIndex(b.dims, dims);
  ConstTensor r = Make(bool_out ? DType::kBool : a.dtype, dims);
  for (size_t i = 0; i < ia.size(); ++i) {
    if (a.is_real()) {
      if (!fr) return false;
      const double x = fr(a.reals[ia[i]], b.reals[ib[i]]);
      if (bool_out) r.ints[i] = x != 0;
      else r.reals[i] = x;
    } else {
      if (!fi) return false;
      int64_t x;
      if (!fi(a.ints[ia[i]], b.ints[ib[i]], x)) return false;
      r.ints[i] = x;
    }
  }
  c.Emit(std::move(r));
  return true;
}

bool Unary(Ctx& c, const std::function<bool(int64_t, int64_t&)>& fi, const std::function<double(double)>& fr) {
  if (!c.has(0)) return false;
  ConstTensor r = c.v(0);
  if (r.is_real()) {
    if (!fr) return false;
    for (double& x : r.reals) x = fr(x);
  } else {
    if (!fi) return false;
    for (int64_t& x : r.ints)
      if (!fi(x, x)) return false;
  }
  c.Emit(std::move(r));
  return true;
}

// Min, Max, Sum, Mean: variadic and broadcasting.
bool Variadic(Ctx& c, const IntFn& fi, const RealFn& fr, bool mean = false) {
  if (c.num_inputs() == 0) return false;
  std::vector<const Dims*> shapes;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.has(i) || c.v(i).dtype != c.v(0).dtype) return false;
    shapes.push_back(&c.v(i).dims);
  }
  Dims dims;
  if (!Broadcast(c, shapes, dims)) return false;
  ConstTensor r = Make(c.v(0).dtype, dims);
  for (size_t k = 0; k < c.num_inputs(); ++k) {
    const ConstTensor& x = c.v(k);
    const auto idx = BroadcastIndex(x.dims, dims);
    for (size_t i = 0; i < idx.size(); ++i) {
      if (r.is_real()) {
        r.reals[i] = k == 0 ? x.reals[idx[i]] : fr(r.reals[i], x.reals[idx[i]]);
      } else if (k == 0) {
        r.ints[i] = x.ints[idx[i]];
      } else if (!fi(r.ints[i], x.ints[idx[i]], r.ints[i])) {
        return false;
      }
    }
  }
  if (mean) {
    if (!r.is_real()) return false;
    for (double& x : r.reals) x /= static_cast<double>(c.num_inputs());
  }
  c.Emit(std::move(r));
  return true;
}

bool CheckedAdd(int64_t a, int64_t b, int64_t& r) { return !__builtin_add_overflow(a, b, &r); }
bool CheckedSub(int64_t a, int64_t b, int64_t& r) { return !__builtin_sub_overflow(a, b, &r); }
bool CheckedMul(int64_t a, int64_t b, int64_t& r) { return !__builtin_mul_overflow(a, b, &r); }

bool Where(Ctx& c) {
  if (!c.has(0) || !c.has(1) || !c.has(2)) return false;
  const ConstTensor &cond = c.v(0), &x = c.v(1), &y = c.v(2);
  if (cond.is_real() || x.dtype != y.dtype) return false;
  Dims dims;
  if (!Broadcast(c, {&cond.dims, &x.dims, &y.dims}, dims)) return false;
  const auto ic = BroadcastIndex(cond.dims, dims), ix = BroadcastIndex(x.dims, dims), iy = BroadcastIndex(y.dims, dims);
  ConstTensor r = Make(x.dtype, dims);
  for (size_t i = 0; i < ic.size(); ++i) {
    const bool take_x = cond.ints[ic[i]] != 0;
    if (r.is_real()) r.reals[i] = take_x ? x.reals[ix[i]] : y.reals[iy[i]];
    else r.ints[i] = take_x ? x.ints[ix[i]] : y.ints[iy[i]];
  }
  c.Emit(std::move(r));
  return true;
}

bool CastTo(Ctx& c, const ConstTensor& x, DType to) {
  if (!Supported(to)) return false;
  ConstTensor r = Make(to, x.dims);
  for (size_t i = 0; i < x.size(); ++i) {
    if (IsFloating(to)) {
      r.reals[i] = AsReal(x, i);
    } else if (x.is_real()) {
      const double v = x.reals[i];
      if (to == DType::kBool) r.ints[i] = v != 0;
      else if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) return false;  // undefined in ONNX
      else r.ints[i] = static_cast<int64_t>(v);                             // toward zero, as C++ and ORT
    } else {
      r.ints[i] = x.ints[i];
    }
  }
  c.Emit(std::move(r));
  return true;
}

// ---- reductions ----------------------------------------------------------------------------------------------------

bool Reduce(Ctx& c, double init, const RealFn& fr, const IntFn& fi, bool mean = false) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  Dims axes;
  const bool axes_input = c.node.op_type() == "ReduceSum" && c.opset >= 13;
  if (axes_input) {
    if (c.present(1) && !c.Ints(1, axes)) return false;
  } else if (auto a = AttrInts(c.node, "axes")) {
    axes = *a;
  }
  const bool keep = AttrInt(c.node, "keepdims", 1) != 0;
  if (axes.empty()) {
    if (axes_input && AttrInt(c.node, "noop_with_empty_axes", 0) != 0) {
      c.Emit(x);
      return true;
    }
    axes.resize(static_cast<size_t>(rank));
    std::iota(axes.begin(), axes.end(), 0);
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(Axis(c, a, rank))] = true;
  Dims out_dims, kept_dims;  // kept_dims: the output with reduced axes as 1
  for (int64_t k = 0; k < rank; ++k) {
    kept_dims.push_back(reduced[k] ? 1 : x.dims[k]);
    if (!reduced[k] || keep) out_dims.push_back(kept_dims.back());
  }
  const int64_t n = CappedCount(kept_dims);
  if (n < 0) return false;
  // Map each input element to its output slot: the input's index with reduced coordinates zeroed.
  std::vector<size_t> slot(x.size());
  {
    std::vector<int64_t> pos(static_cast<size_t>(rank), 0);
    for (size_t i = 0; i < x.size(); ++i) {
      size_t s = 0;
      for (int64_t k = 0; k < rank; ++k) s = s * static_cast<size_t>(kept_dims[k]) + (reduced[k] ? 0 : pos[k]);
      slot[i] = s;
      for (int64_t k = rank; k-- > 0;) {
        if (++pos[k] < x.dims[k]) break;
        pos[k] = 0;
      }
    }
  }
  // Min and max (init infinite) start from their first element; sums and products from init.
  const bool first_wins = std::isinf(init);
  std::vector<size_t> count(static_cast<size_t>(n), 0);
  ConstTensor r = Make(x.dtype, out_dims);
  if (!first_wins) {
    if (r.is_real()) std::fill(r.reals.begin(), r.reals.end(), init);
    else std::fill(r.ints.begin(), r.ints.end(), static_cast<int64_t>(init));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t s = slot[i];
    if (r.is_real()) {
      r.reals[s] = count[s] == 0 && first_wins ? x.reals[i] : fr(r.reals[s], x.reals[i]);
    } else if (count[s] == 0 && first_wins) {
      r.ints[s] = x.ints[i];
    } else if (!fi(r.ints[s], x.ints[i], r.ints[s])) {
      return false;
    }
    ++count[s];
  }
  for (size_t s = 0; s < count.size(); ++s) {
    if (count[s] == 0 && first_wins) return false;  // min/max over nothing
    if (mean) {
      if (!r.is_real()) r.ints[s] /= static_cast<int64_t>(std::max<size_t>(count[s], 1));
      else r.reals[s] /= static_cast<double>(count[s]);
    }
  }
  c.Emit(std::move(r));
  return true;
}

// ---- shape and data movement ---------------------------------------------------------------------------------------

// The static shape of a tensor type, or nullopt.
std::optional<Dims> StaticShape(const onnx::TypeProto* type) {
  if (!type || !type->has_tensor_type() || !type->tensor_type().has_shape()) return std::nullopt;
  Dims dims;
  for (const auto& d : type->tensor_type().shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return std::nullopt;
    dims.push_back(d.dim_value());
  }
  return dims;
}

bool Shape(Ctx& c) {
  const auto dims = c.num_inputs() > 0 ? StaticShape(c.in[0].type) : std::nullopt;
  if (!dims) return false;
  const int64_t rank = static_cast<int64_t>(dims->size());
  int64_t start = AttrInt(c.node, "start", 0), end = AttrInt(c.node, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  ConstTensor r = Make(DType::kInt64, {std::max<int64_t>(end - start, 0)});
  for (int64_t k = start; k < end; ++k) r.ints[k - start] = (*dims)[k];
  c.Emit(std::move(r));
  return true;
}

bool Size(Ctx& c) {
  const auto dims = c.num_inputs() > 0 ? StaticShape(c.in[0].type) : std::nullopt;
  if (!dims) return false;
  int64_t n = 1;
  for (int64_t d : *dims)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  ConstTensor r = Make(DType::kInt64, {});
  r.ints[0] = n;
  c.Emit(std::move(r));
  return true;
}

// Copies the elements of `x` at the given linear indices into a tensor of `dims`.
ConstTensor Take(const ConstTensor& x, Dims dims, const std::vector<size_t>& from) {
  ConstTensor r = Make(x.dtype, std::move(dims));
  for (size_t i = 0; i < from.size(); ++i) {
    if (r.is_real()) r.reals[i] = x.reals[from[i]];
    else r.ints[i] = x.ints[from[i]];
  }
  return r;
}

// Row-major strides of dims.
std::vector<size_t> Strides(const Dims& dims) {
  std::vector<size_t> s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * static_cast<size_t>(dims[k]);
  return s;
}

// Calls f(linear index, coordinates) for every element of dims, in row-major order.
template <typename F>
void ForEachIndex(const Dims& dims, F f) {
  const int64_t n = CappedCount(dims);
  std::vector<int64_t> pos(dims.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(static_cast<size_t>(i), pos);
    for (size_t k = dims.size(); k-- > 0;) {
      if (++pos[k] < dims[k]) break;
      pos[k] = 0;
    }
  }
}

// The tensor of `dims` whose element at each position `pos` is x's element at linear index index_of(pos): what
// Gather, Slice, Split, Tile and Transpose have in common.
template <typename IndexOf>
ConstTensor Rearranged(const ConstTensor& x, Dims dims, IndexOf index_of) {
  std::vector<size_t> from(static_cast<size_t>(CappedCount(dims)));
  ForEachIndex(dims, [&](size_t i, const Dims& pos) { from[i] = index_of(pos); });
  return Take(x, std::move(dims), from);
}

bool Gather(Ctx& c) {
  if (!c.has(0) || !c.has(1) || c.v(1).is_real()) return false;
  const ConstTensor &x = c.v(0), &idx = c.v(1);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  if (rank == 0) c.Fail("Gather of a scalar");
  const size_t axis = static_cast<size_t>(Axis(c, AttrInt(c.node, "axis", 0), rank));
  Dims dims(x.dims.begin(), x.dims.begin() + axis);
  dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
  dims.insert(dims.end(), x.dims.begin() + axis + 1, x.dims.end());
  if (CappedCount(dims) < 0) return false;
  const int64_t extent = x.dims[axis];
  const auto xs = Strides(x.dims);
  const size_t q = idx.dims.size();
  c.Emit(Rearranged(x, dims, [&](const Dims& pos) {
    size_t flat_idx = 0;
    for (size_t k = 0; k < q; ++k) flat_idx = flat_idx * static_cast<size_t>(idx.dims[k]) + static_cast<size_t>(pos[axis + k]);
    int64_t j = idx.ints[flat_idx];
    if (j < -extent || j >= extent)
      c.Fail("index " + std::to_string(j) + " is out of range for a dimension of " + std::to_string(extent));
    if (j < 0) j += extent;
    size_t at = static_cast<size_t>(j) * xs[axis];
    for (size_t k = 0; k < axis; ++k) at += static_cast<size_t>(pos[k]) * xs[k];
    for (size_t k = axis + 1; k < x.dims.size(); ++k) at += static_cast<size_t>(pos[k + q - 1]) * xs[k];
    return at;
  }));
  return true;
}

// Axes from the attribute (before `input_from_opset`) or from input 1.
bool AxesOf(const Ctx& c, int input_from_opset, std::optional<Dims>& axes) {
  if (c.opset < input_from_opset) {
    axes = AttrInts(c.node, "axes");
    return true;
  }
  if (!c.present(1)) return true;  // absent
  Dims a;
  if (!c.Ints(1, a)) return false;
  axes = a;
  return true;
}

bool Unsqueeze(Ctx& c) {
  std::optional<Dims> axes;
  if (!c.has(0) || !AxesOf(c, 13, axes) || !axes) return false;
  const ConstTensor& x = c.v(0);
  const int64_t out_rank = static_cast<int64_t>(x.dims.size() + axes->size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : *axes) {
    const size_t k = static_cast<size_t>(Axis(c, a, out_rank));
    if (inserted[k]) c.Fail("axis " + std::to_string(a) + " is repeated");
    inserted[k] = true;
  }
  Dims dims;
  size_t next = 0;
  for (int64_t k = 0; k < out_rank; ++k) dims.push_back(inserted[k] ? 1 : x.dims[next++]);
  ConstTensor r = x;
  r.dims = dims;
  c.Emit(std::move(r));
  return true;
}

bool Squeeze(Ctx& c) {
  std::optional<Dims> axes;
  if (!c.has(0) || !AxesOf(c, 13, axes)) return false;
  const ConstTensor& x = c.v(0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  std::vector<bool> removed(static_cast<size_t>(rank), false);
  if (axes && !axes->empty()) {
    for (int64_t a : *axes) {
      const size_t k = static_cast<size_t>(Axis(c, a, rank));
      if (x.dims[k] != 1) c.Fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x.dims[k]));
      removed[k] = true;
    }
  } else {
    for (int64_t k = 0; k < rank; ++k) removed[k] = x.dims[k] == 1;
  }
  ConstTensor r = x;
  r.dims.clear();
  for (int64_t k = 0; k < rank; ++k)
    if (!removed[k]) r.dims.push_back(x.dims[k]);
  c.Emit(std::move(r));
  return true;
}

bool Concat(Ctx& c) {
  if (c.num_inputs() == 0) return false;
  for (size_t i = 0; i < c.num_inputs(); ++i)
    if (!c.has(i) || c.v(i).dtype != c.v(0).dtype || c.v(i).dims.size() != c.v(0).dims.size()) return false;
  const int64_t rank = static_cast<int64_t>(c.v(0).dims.size());
  if (rank == 0) c.Fail("Concat of scalars");
  const size_t axis = static_cast<size_t>(Axis(c, AttrInt(c.node, "axis", 0), rank));
  Dims dims = c.v(0).dims;
  dims[axis] = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    for (size_t k = 0; k < dims.size(); ++k)
      if (k != axis && c.v(i).dims[k] != dims[k])
        c.Fail("inputs " + FormatDims(c.v(0).dims) + " and " + FormatDims(c.v(i).dims) + " differ off the axis");
    dims[axis] += c.v(i).dims[axis];
  }
  if (CappedCount(dims) < 0) return false;
  ConstTensor r = Make(c.v(0).dtype, dims);
  // Rows of the flattened [outer, axis * inner] views, appended input by input.
  size_t outer = 1, inner = 1;
  for (size_t k = 0; k < axis; ++k) outer *= static_cast<size_t>(dims[k]);
  for (size_t k = axis + 1; k < dims.size(); ++k) inner *= static_cast<size_t>(dims[k]);
  size_t at = 0;
  for (size_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < c.num_inputs(); ++i) {
      const ConstTensor& x = c.v(i);
      const size_t row = static_cast<size_t>(x.dims[axis]) * inner;
      for (size_t e = 0; e < row; ++e, ++at) {
        if (r.is_real()) r.reals[at] = x.reals[o * row + e];
        else r.ints[at] = x.ints[o * row + e];
      }
    }
  c.Emit(std::move(r));
  return true;
}

bool Slice(Ctx& c) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  Dims starts, ends, axes, steps;
  if (c.opset < 10) {
    auto s = AttrInts(c.node, "starts"), e = AttrInts(c.node, "ends");
    if (!s || !e) return false;
    starts = *s;
    ends = *e;
    if (auto a = AttrInts(c.node, "axes")) axes = *a;
  } else {
    if (!c.Ints(1, starts) || !c.Ints(2, ends)) return false;
    if (c.present(3) && !c.Ints(3, axes)) return false;
    if (c.present(4) && !c.Ints(4, steps)) return false;
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    c.Fail("starts, ends, axes and steps differ in length");
  Dims begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1), dims = x.dims;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t k = static_cast<size_t>(Axis(c, axes[i], rank));
    if (seen[k]) c.Fail("axis " + std::to_string(axes[i]) + " is repeated");
    seen[k] = true;
    const int64_t d = x.dims[k], s = steps[i];
    if (s == 0) c.Fail("a step is 0");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    // Counts as (distance - 1) / |step| + 1: no sum near INT64_MAX, and |INT64_MIN| is never formed.
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      dims[k] = e > b ? (e - b - 1) / s + 1 : 0;
    } else if (d == 0) {
      b = 0;
      dims[k] = 0;
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      dims[k] = b > e ? (s == INT64_MIN ? 1 : (b - e - 1) / -s + 1) : 0;
    }
    begin[k] = b;
    step[k] = s;
  }
  if (CappedCount(dims) < 0) return false;
  const auto xs = Strides(x.dims);
  c.Emit(Rearranged(x, dims, [&](const Dims& pos) {
    size_t at = 0;
    for (size_t k = 0; k < pos.size(); ++k) at += static_cast<size_t>(begin[k] + pos[k] * step[k]) * xs[k];
    return at;
  }));
  return true;
}

bool Split(Ctx& c) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  const size_t axis = static_cast<size_t>(Axis(c, AttrInt(c.node, "axis", 0), rank));
  const size_t parts = static_cast<size_t>(c.node.output_size());
  Dims split;
  if (c.opset < 13) {
    if (auto s = AttrInts(c.node, "split")) split = *s;
  } else if (c.present(1) && !c.Ints(1, split)) {
    return false;
  }
  if (split.empty()) {
    if (parts == 0 || x.dims[axis] % static_cast<int64_t>(parts) != 0) return false;
    split.assign(parts, x.dims[axis] / static_cast<int64_t>(parts));
  }
  int64_t total = 0;
  for (int64_t len : split)
    if (len < 0 || __builtin_add_overflow(total, len, &total)) c.Fail("a split size is " + std::to_string(len));
  if (split.size() != parts || total != x.dims[axis])
    c.Fail("split sizes do not add up to dimension " + std::to_string(x.dims[axis]));
  const auto xs = Strides(x.dims);
  int64_t offset = 0;
  for (int64_t len : split) {
    Dims dims = x.dims;
    dims[axis] = len;
    c.Emit(Rearranged(x, dims, [&](const Dims& pos) {
      size_t at = 0;
      for (size_t k = 0; k < pos.size(); ++k) at += static_cast<size_t>(pos[k] + (k == axis ? offset : 0)) * xs[k];
      return at;
    }));
    offset += len;
  }
  return true;
}

bool Reshape(Ctx& c) {
  Dims shape;
  if (!c.has(0) || !c.Ints(1, shape)) return false;
  const ConstTensor& x = c.v(0);
  const bool allow_zero = c.opset >= 14 && AttrInt(c.node, "allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 0 && !allow_zero) {
      if (k >= x.dims.size()) c.Fail("a 0 in the shape has no input dim to copy");
      shape[k] = x.dims[k];
    }
    if (shape[k] == -1) {
      if (infer >= 0) c.Fail("the shape has two -1s");
      infer = static_cast<int64_t>(k);
    } else if (shape[k] < 0) {
      c.Fail("the shape has a dim of " + std::to_string(shape[k]));
    } else if (__builtin_mul_overflow(known, shape[k], &known)) {
      c.Fail("the shape " + FormatDims(shape) + " has more elements than int64 counts");
    }
  }
  const int64_t n = static_cast<int64_t>(x.size());
  if (infer >= 0) {
    if (known == 0 || n % known != 0) c.Fail("cannot reshape " + FormatDims(x.dims) + " to " + FormatDims(shape));
    shape[static_cast<size_t>(infer)] = n / known;
  } else if (known != n) {
    c.Fail("cannot reshape " + FormatDims(x.dims) + " to " + FormatDims(shape));
  }
  ConstTensor r = x;
  r.dims = shape;
  c.Emit(std::move(r));
  return true;
}

bool Expand(Ctx& c) {
  Dims shape;
  if (!c.has(0) || !c.Ints(1, shape)) return false;
  const ConstTensor& x = c.v(0);
  Dims dims;
  if (!Broadcast(c, {&x.dims, &shape}, dims)) return false;
  c.Emit(Take(x, dims, BroadcastIndex(x.dims, dims)));
  return true;
}

bool Tile(Ctx& c) {
  Dims repeats;
  if (!c.has(0) || !c.Ints(1, repeats)) return false;
  const ConstTensor& x = c.v(0);
  if (repeats.size() != x.dims.size()) c.Fail("repeats has " + std::to_string(repeats.size()) + " entries for rank " + std::to_string(x.dims.size()));
  Dims dims = x.dims;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (repeats[k] < 0) c.Fail("a negative repeat");
    if (__builtin_mul_overflow(dims[k], repeats[k], &dims[k])) return false;
  }
  if (CappedCount(dims) < 0) return false;
  const auto xs = Strides(x.dims);
  c.Emit(Rearranged(x, dims, [&](const Dims& pos) {
    size_t at = 0;
    for (size_t k = 0; k < pos.size(); ++k) at += static_cast<size_t>(pos[k] % x.dims[k]) * xs[k];
    return at;
  }));
  return true;
}

bool Transpose(Ctx& c) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  const size_t rank = x.dims.size();
  Dims perm(rank);
  if (auto p = AttrInts(c.node, "perm")) perm = *p;
  else std::iota(perm.rbegin(), perm.rend(), 0);
  if (perm.size() != rank) c.Fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  Dims dims(rank);
  std::vector<bool> used(rank, false);
  for (size_t k = 0; k < rank; ++k) {
    if (perm[k] < 0 || perm[k] >= static_cast<int64_t>(rank) || used[perm[k]]) c.Fail("perm is not a permutation");
    used[perm[k]] = true;
    dims[k] = x.dims[perm[k]];
  }
  const auto xs = Strides(x.dims);
  c.Emit(Rearranged(x, dims, [&](const Dims& pos) {
    size_t at = 0;
    for (size_t k = 0; k < rank; ++k) at += static_cast<size_t>(pos[k]) * xs[perm[k]];
    return at;
  }));
  return true;
}

bool Flatten(Ctx& c) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  int64_t axis = AttrInt(c.node, "axis", 1);
  if (axis < -rank || axis > rank) c.Fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  int64_t a = 1, b = 1;
  for (int64_t k = 0; k < rank; ++k)  // an empty tensor's other dims may multiply past int64
    if (__builtin_mul_overflow(k < axis ? a : b, x.dims[k], k < axis ? &a : &b)) return false;
  ConstTensor r = x;
  r.dims = {a, b};
  c.Emit(std::move(r));
  return true;
}

bool Range(Ctx& c) {
  if (!c.has(0) || !c.has(1) || !c.has(2)) return false;
  const ConstTensor& s = c.v(0);
  if (s.size() != 1 || c.v(1).size() != 1 || c.v(2).size() != 1 || c.v(1).dtype != s.dtype || c.v(2).dtype != s.dtype)
    return false;
  const double start = AsReal(s, 0), limit = AsReal(c.v(1), 0), delta = AsReal(c.v(2), 0);
  if (delta == 0) c.Fail("delta is 0");
  double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (!s.is_real()) {  // exactly: a double loses int64 digits past 2^53
    const int64_t step = c.v(2).ints[0];
    int64_t span;
    if (__builtin_sub_overflow(c.v(1).ints[0], s.ints[0], &span) || (span == INT64_MIN && step == -1)) return false;
    const int64_t q = span / step + (span % step != 0 && (span < 0) == (step < 0) ? 1 : 0);
    count = static_cast<double>(std::max<int64_t>(q, 0));
  }
  if (!(count <= static_cast<double>(kMaxFoldedElements))) return false;
  ConstTensor r = Make(s.dtype, {static_cast<int64_t>(count)});
  for (size_t i = 0; i < r.size(); ++i) {
    if (r.is_real()) r.reals[i] = start + static_cast<double>(i) * delta;
    else r.ints[i] = s.ints[0] + static_cast<int64_t>(i) * c.v(2).ints[0];
  }
  c.Emit(std::move(r));
  return true;
}

bool ConstantOfShape(Ctx& c) {
  Dims shape;
  if (!c.Ints(0, shape)) return false;
  for (int64_t d : shape)
    if (d < 0) c.Fail("the shape has a dim of " + std::to_string(d));
  if (CappedCount(shape) < 0) return false;
  ConstTensor fill = Make(DType::kFloat32, {1});
  if (const auto* a = Attr(c.node, "value")) {
    auto v = ConstFromProto(a->t(), "attribute 'value'");
    if (!v || v->size() != 1) return false;
    fill = *v;
  }
  ConstTensor r = Make(fill.dtype, shape);
  if (r.is_real()) std::fill(r.reals.begin(), r.reals.end(), fill.reals[0]);
  else std::fill(r.ints.begin(), r.ints.end(), fill.ints[0]);
  c.Emit(std::move(r));
  return true;
}

bool NonZero(Ctx& c) {
  if (!c.has(0)) return false;
  const ConstTensor& x = c.v(0);
  std::vector<Dims> coords;
  ForEachIndex(x.dims, [&](size_t i, const Dims& pos) {
    if (AsReal(x, i) != 0) coords.push_back(pos);
  });
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  ConstTensor r = Make(DType::kInt64, {rank, static_cast<int64_t>(coords.size())});
  for (size_t j = 0; j < coords.size(); ++j)
    for (int64_t k = 0; k < rank; ++k) r.ints[static_cast<size_t>(k) * coords.size() + j] = coords[j][k];
  c.Emit(std::move(r));
  return true;
}

// a^b for b >= 0 by squaring; false where it overflows int64 (a double's pow would round, then overflow the cast).
bool IntPow(int64_t a, int64_t b, int64_t& r) {
  if (b < 0) return false;
  int64_t result = 1, base = a;
  while (b > 0) {
    if ((b & 1) && __builtin_mul_overflow(result, base, &result)) return false;
    b >>= 1;
    if (b > 0 && __builtin_mul_overflow(base, base, &base)) return false;
  }
  r = result;
  return true;
}

bool Clip(Ctx& c) {
  if (!c.has(0)) return false;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  if (c.opset < 11) {
    if (const auto* a = Attr(c.node, "min")) lo = a->f();
    if (const auto* a = Attr(c.node, "max")) hi = a->f();
  } else {
    if (c.present(1) && !c.Scalar(1, lo)) return false;
    if (c.present(2) && !c.Scalar(2, hi)) return false;
  }
  ConstTensor r = c.v(0);
  // Integers clip in int64 against saturated bounds: a double holds neither every int64 nor a cast back of 2^63.
  const auto saturated = [](double x) {
    constexpr double kEdge = 9.2e18;  // below 2^63
    return x >= kEdge ? INT64_MAX : x <= -kEdge ? INT64_MIN : static_cast<int64_t>(x);
  };
  if (std::isnan(lo) || std::isnan(hi)) return false;
  const int64_t lo_int = saturated(std::ceil(lo)), hi_int = saturated(std::floor(hi));
  for (size_t i = 0; i < r.size(); ++i) {
    if (r.is_real()) r.reals[i] = std::min(std::max(r.reals[i], lo), hi);
    else r.ints[i] = std::min(std::max(r.ints[i], lo_int), hi_int);
  }
  c.Emit(std::move(r));
  return true;
}

bool Constant(Ctx& c) {
  if (c.node.attribute_size() != 1) return false;
  const auto& a = c.node.attribute(0);
  ConstTensor r;
  if (a.name() == "value") {
    auto v = ConstFromProto(a.t(), "attribute 'value'");
    if (!v) return false;
    r = std::move(*v);
  } else if (a.name() == "value_float" || a.name() == "value_floats") {
    r.dtype = DType::kFloat32;
    if (a.name() == "value_float") r.reals = {a.f()};
    else r.reals.assign(a.floats().begin(), a.floats().end()), r.dims = {static_cast<int64_t>(r.reals.size())};
  } else if (a.name() == "value_int" || a.name() == "value_ints") {
    r.dtype = DType::kInt64;
    if (a.name() == "value_int") r.ints = {a.i()};
    else r.ints.assign(a.ints().begin(), a.ints().end()), r.dims = {static_cast<int64_t>(r.ints.size())};
  } else {
    return false;  // sparse_value, strings
  }
  if (static_cast<int64_t>(r.size()) > kMaxFoldedElements) return false;
  c.Emit(std::move(r));
  return true;
}

// ---- the table -----------------------------------------------------------------------------------------------------

using Folder = bool (*)(Ctx&);

int64_t FloorMod(int64_t a, int64_t b) {
  const int64_t m = a % b;
  return m != 0 && ((m < 0) != (b < 0)) ? m + b : m;
}

const std::unordered_map<std::string_view, Folder>& Folders() {
  static const std::unordered_map<std::string_view, Folder> table = {
      {"Constant", Constant}, {"Shape", Shape}, {"Size", Size},
      {"Identity", [](Ctx& c) { return c.has(0) && (c.Emit(c.v(0)), true); }},
      {"Cast", [](Ctx& c) { return c.has(0) && CastTo(c, c.v(0), static_cast<DType>(AttrInt(c.node, "to", 0))); }},
      {"CastLike",
       [](Ctx& c) {
         if (!c.has(0) || c.num_inputs() < 2 || !c.in[1].type || !c.in[1].type->has_tensor_type()) return false;
         return CastTo(c, c.v(0), static_cast<DType>(c.in[1].type->tensor_type().elem_type()));
       }},
      {"Gather", Gather}, {"Unsqueeze", Unsqueeze}, {"Squeeze", Squeeze}, {"Concat", Concat}, {"Slice", Slice},
      {"Split", Split}, {"Reshape", Reshape}, {"Expand", Expand}, {"Tile", Tile}, {"Transpose", Transpose},
      {"Flatten", Flatten}, {"Range", Range}, {"ConstantOfShape", ConstantOfShape}, {"NonZero", NonZero},
      {"Clip", Clip}, {"Where", Where},
      {"Add", [](Ctx& c) { return Binary(c, CheckedAdd, std::plus<double>()); }},
      {"Sub", [](Ctx& c) { return Binary(c, CheckedSub, std::minus<double>()); }},
      {"Mul", [](Ctx& c) { return Binary(c, CheckedMul, std::multiplies<double>()); }},
      {"Div",
       [](Ctx& c) {
         return Binary(
             c, [](int64_t a, int64_t b, int64_t& r) { return b != 0 && !(a == INT64_MIN && b == -1) && (r = a / b, true); },
             std::divides<double>());
       }},
      {"Mod",
       [](Ctx& c) {
         const bool fmod = AttrInt(c.node, "fmod", 0) != 0;
         return Binary(
             c,
             [fmod](int64_t a, int64_t b, int64_t& r) {
               if (b == 0 || (a == INT64_MIN && b == -1)) return false;
               r = fmod ? a % b : FloorMod(a, b);
               return true;
             },
             [](double a, double b) { return std::fmod(a, b); });
       }},
      {"Pow",
       [](Ctx& c) {
         if (c.has(0) && c.has(1) && c.v(0).dtype != c.v(1).dtype) {  // Pow allows mixed types: compute in the base's
           ConstTensor e = Make(c.v(0).dtype, c.v(1).dims);
           for (size_t i = 0; i < e.size(); ++i) {
             if (e.is_real()) e.reals[i] = AsReal(c.v(1), i);
             else if (c.v(1).is_real()) return false;
             else e.ints[i] = c.v(1).ints[i];
           }
           std::vector<FoldInput> in = {c.in[0], {&e, c.in[1].type, true}};
           Ctx same{c.node, c.opset, in, c.out};
           return Binary(
               same, IntPow,
               [](double a, double b) { return std::pow(a, b); });
         }
         return Binary(
             c, IntPow,
             [](double a, double b) { return std::pow(a, b); });
       }},
      {"Equal", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a == b, true; }, std::equal_to<double>(), true); }},
      {"Less", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a < b, true; }, std::less<double>(), true); }},
      {"LessOrEqual", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a <= b, true; }, std::less_equal<double>(), true); }},
      {"Greater", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a > b, true; }, std::greater<double>(), true); }},
      {"GreaterOrEqual", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a >= b, true; }, std::greater_equal<double>(), true); }},
      {"And", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a && b, true; }, nullptr); }},
      {"Or", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = a || b, true; }, nullptr); }},
      {"Xor", [](Ctx& c) { return Binary(c, [](int64_t a, int64_t b, int64_t& r) { return r = (a != 0) != (b != 0), true; }, nullptr); }},
      {"Not", [](Ctx& c) { return Unary(c, [](int64_t a, int64_t& r) { return r = !a, true; }, nullptr); }},
      {"Neg", [](Ctx& c) { return Unary(c, [](int64_t a, int64_t& r) { return a != INT64_MIN && (r = -a, true); }, [](double a) { return -a; }); }},
      {"Abs", [](Ctx& c) { return Unary(c, [](int64_t a, int64_t& r) { return a != INT64_MIN && (r = a < 0 ? -a : a, true); }, [](double a) { return std::fabs(a); }); }},
      {"Sign", [](Ctx& c) { return Unary(c, [](int64_t a, int64_t& r) { return r = (a > 0) - (a < 0), true; }, [](double a) { return static_cast<double>((a > 0) - (a < 0)); }); }},
      {"Floor", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::floor(a); }); }},
      {"Ceil", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::ceil(a); }); }},
      {"Round", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::nearbyint(a); }); }},
      {"Sqrt", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::sqrt(a); }); }},
      {"Reciprocal", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return 1.0 / a; }); }},
      {"Exp", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::exp(a); }); }},
      {"Log", [](Ctx& c) { return Unary(c, nullptr, [](double a) { return std::log(a); }); }},
      {"Min", [](Ctx& c) { return Variadic(c, [](int64_t a, int64_t b, int64_t& r) { return r = std::min(a, b), true; }, [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }); }},
      {"Max", [](Ctx& c) { return Variadic(c, [](int64_t a, int64_t b, int64_t& r) { return r = std::max(a, b), true; }, [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }); }},
      {"Sum", [](Ctx& c) { return Variadic(c, CheckedAdd, std::plus<double>()); }},
      {"Mean", [](Ctx& c) { return Variadic(c, CheckedAdd, std::plus<double>(), /*mean=*/true); }},
      {"ReduceSum", [](Ctx& c) { return Reduce(c, 0, std::plus<double>(), CheckedAdd); }},
      {"ReduceMean", [](Ctx& c) { return Reduce(c, 0, std::plus<double>(), CheckedAdd, /*mean=*/true); }},
      {"ReduceProd", [](Ctx& c) { return Reduce(c, 1, std::multiplies<double>(), CheckedMul); }},
      {"ReduceMin", [](Ctx& c) { return Reduce(c, INFINITY, [](double a, double b) { return std::min(a, b); }, [](int64_t a, int64_t b, int64_t& r) { return r = std::min(a, b), true; }); }},
      {"ReduceMax", [](Ctx& c) { return Reduce(c, INFINITY, [](double a, double b) { return std::max(a, b); }, [](int64_t a, int64_t b, int64_t& r) { return r = std::max(a, b), true; }); }},
  };
  return table;
}

}  // namespace

std::optional<ConstTensor> ConstFromProto(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  const auto dtype = static_cast<DType>(proto.data_type());
  if (!Supported(dtype)) return std::nullopt;
  Dims dims(proto.dims().begin(), proto.dims().end());
  for (int64_t d : dims)
    if (d < 0) throw Error(what + ": dim " + std::to_string(d) + " is negative");
  const int64_t n = CappedCount(dims);
  if (n < 0) return std::nullopt;
  ConstTensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  const size_t count = static_cast<size_t>(n);
  auto mismatch = [&](size_t got) {
    return Error(what + ": its data holds " + std::to_string(got) + " values but its dims (" + FormatDims(t.dims) +
                 ") say " + std::to_string(count));
  };
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    const size_t width = static_cast<size_t>(DTypeSize(dtype));
    if (raw.size() != count * width) throw mismatch(raw.size() / std::max<size_t>(width, 1));
    const char* p = raw.data();
    auto load = [p, width](size_t i, auto tag) {
      decltype(tag) v;
      std::memcpy(&v, p + i * width, sizeof v);
      return v;
    };
    if (t.is_real()) t.reals.resize(count);
    else t.ints.resize(count);
    for (size_t i = 0; i < count; ++i) {
      switch (dtype) {
        case DType::kFloat32: t.reals[i] = load(i, float()); break;
        case DType::kFloat64: t.reals[i] = load(i, double()); break;
        case DType::kFloat16: t.reals[i] = HalfToFloat(load(i, uint16_t())); break;
        case DType::kBFloat16: t.reals[i] = BFloatToFloat(load(i, uint16_t())); break;
        case DType::kInt8: t.ints[i] = load(i, int8_t()); break;
        case DType::kUInt8: case DType::kBool: t.ints[i] = load(i, uint8_t()); break;
        case DType::kInt16: t.ints[i] = load(i, int16_t()); break;
        case DType::kUInt16: t.ints[i] = load(i, uint16_t()); break;
        case DType::kInt32: t.ints[i] = load(i, int32_t()); break;
        case DType::kUInt32: t.ints[i] = load(i, uint32_t()); break;
        default: t.ints[i] = load(i, int64_t()); break;  // int64, uint64 (as its bits)
      }
    }
  } else {
    switch (dtype) {
      case DType::kFloat32:
        if (static_cast<size_t>(proto.float_data_size()) != count) throw mismatch(proto.float_data_size());
        t.reals.assign(proto.float_data().begin(), proto.float_data().end());
        break;
      case DType::kFloat64:
        if (static_cast<size_t>(proto.double_data_size()) != count) throw mismatch(proto.double_data_size());
        t.reals.assign(proto.double_data().begin(), proto.double_data().end());
        break;
      case DType::kInt64:
        if (static_cast<size_t>(proto.int64_data_size()) != count) throw mismatch(proto.int64_data_size());
        t.ints.assign(proto.int64_data().begin(), proto.int64_data().end());
        break;
      case DType::kUInt32: case DType::kUInt64:
        if (static_cast<size_t>(proto.uint64_data_size()) != count) throw mismatch(proto.uint64_data_size());
        for (uint64_t v : proto.uint64_data()) t.ints.push_back(static_cast<int64_t>(v));
        break;
      case DType::kFloat16: case DType::kBFloat16:
        if (static_cast<size_t>(proto.int32_data_size()) != count) throw mismatch(proto.int32_data_size());
        for (int32_t v : proto.int32_data())
          t.reals.push_back(dtype == DType::kFloat16 ? HalfToFloat(static_cast<uint16_t>(v)) : BFloatToFloat(static_cast<uint16_t>(v)));
        break;
      default:  // int32 and narrower, bool: int32_data
        if (static_cast<size_t>(proto.int32_data_size()) != count) throw mismatch(proto.int32_data_size());
        t.ints.assign(proto.int32_data().begin(), proto.int32_data().end());
        break;
    }
  }
  Normalize(t);
  return t;
}

void ConstToProto(const ConstTensor& value, onnx::TensorProto& proto) {
  proto.Clear();
  proto.set_data_type(static_cast<int32_t>(value.dtype));
  for (int64_t d : value.dims) proto.add_dims(d);
  switch (value.dtype) {
    case DType::kFloat32:
      for (double v : value.reals) proto.add_float_data(static_cast<float>(v));
      break;
    case DType::kFloat64:
      for (double v : value.reals) proto.add_double_data(v);
      break;
    case DType::kFloat16:
      for (double v : value.reals) proto.add_int32_data(FloatToHalf(static_cast<float>(v)));
      break;
    case DType::kBFloat16:
      for (double v : value.reals) proto.add_int32_data(FloatToBFloat(static_cast<float>(v)));
      break;
    case DType::kInt64:
      for (int64_t v : value.ints) proto.add_int64_data(v);
      break;
    case DType::kUInt32: case DType::kUInt64:
      for (int64_t v : value.ints) proto.add_uint64_data(static_cast<uint64_t>(v));
      break;
    default:
      for (int64_t v : value.ints) proto.add_int32_data(static_cast<int32_t>(v));
      break;
  }
}

bool IsFoldableOp(std::string_view op_type, std::string_view domain) {
  return (domain.empty() || domain == "ai.onnx") && Folders().count(op_type) != 0;
}

bool FoldNode(const onnx::NodeProto& node, int opset, const std::vector<FoldInput>& inputs,
              std::vector<ConstTensor>& outputs) {
  outputs.clear();
  const auto it = Folders().find(node.op_type());
  if (it == Folders().end()) return false;
  // The folders implement the operators as defined up to opset 17 (ONNX 1.12's); a later version may change
  // what a node means, and a wrong value would give wrong shapes, where no value only leaves them unknown.
  constexpr int kLastKnownOpset = 17;
  if (opset > kLastKnownOpset) return false;
  for (const FoldInput& in : inputs)
    if (in.value && !Supported(in.value->dtype)) return false;
  Ctx c{node, opset, inputs, outputs};
  if (!it->second(c)) {
    outputs.clear();
    return false;
  }
  return outputs.size() == static_cast<size_t>(node.output_size());
}

std::string FormatDims(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "a scalar";
  std::string s;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (k) s += "x";
    s += std::to_string(dims[k]);
  }
  return s;
}

std::string FormatValue(const ConstTensor& value) {
  std::string s = "[";
  const size_t shown = std::min<size_t>(value.size(), 8);
  for (size_t i = 0; i < shown; ++i) {
    if (i) s += ", ";
    if (value.is_real()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", value.reals[i]);
      s += buf;
    } else {
      s += std::to_string(value.ints[i]);
    }
  }
  if (value.size() > shown) s += ", ...";
  return s + "]";
}

}  // namespace allot
