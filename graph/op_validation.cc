#include "graph/op_validation.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <tuple>
#include <string_view>
#include <utility>

#include "graph/dtype.h"

namespace allot {
namespace {

const onnx::AttributeProto* Attr(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// The dims of a tensor type, -1 where unknown; nullopt without a shape.
std::optional<std::vector<int64_t>> Dims(const onnx::TypeProto* t) {
  if (!t || !t->has_tensor_type() || !t->tensor_type().has_shape()) return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto& d : t->tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

// Every entry of an ints attribute at least `min`.
std::string AtLeast(const onnx::NodeProto& node, std::string_view name, int64_t min, std::string_view why) {
  const auto* a = Attr(node, name);
  if (!a) return "";
  for (int64_t v : a->ints())
    if (v < min)
      return "attribute '" + std::string(name) + "' has " + std::to_string(v) + "; " + std::string(why);
  return "";
}

std::string ConvPool(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs, bool conv) {
  for (const auto& [name, min, why] : {std::tuple<const char*, int64_t, const char*>{"strides", 1, "strides must be positive"},
                                       {"dilations", 1, "dilations must be positive"},
                                       {"kernel_shape", 1, "kernel sizes must be positive"},
                                       {"pads", 0, "pads must not be negative"}})
    if (std::string e = AtLeast(node, name, min, why); !e.empty()) return e;
  // Ranks and attribute lengths: ONNX's inference indexes the weight's and the attributes' dims by the input's
  // spatial rank without checking them (a rank-2 weight under a rank-4 input read past its dims).
  const auto x_dims = Dims(inputs.size() > 0 ? inputs[0] : nullptr);
  if (x_dims) {
    if (x_dims->size() < 3)
      return "its input has rank " + std::to_string(x_dims->size()) + "; it must be [N, C, spatial...]";
    const size_t spatial = x_dims->size() - 2;
    const auto w_dims = Dims(inputs.size() > 1 ? inputs[1] : nullptr);
    if (conv && w_dims && w_dims->size() != x_dims->size())
      return "the weight has rank " + std::to_string(w_dims->size()) + " under an input of rank " +
             std::to_string(x_dims->size());
    for (const auto& [name, per_axis] : {std::pair<const char*, size_t>{"kernel_shape", 1}, {"strides", 1},
                                         {"dilations", 1}, {"pads", 2}, {"output_padding", 1}}) {
      const auto* a = Attr(node, name);
      if (a && a->ints_size() != 0 && static_cast<size_t>(a->ints_size()) != per_axis * spatial)
        return "attribute '" + std::string(name) + "' has " + std::to_string(a->ints_size()) + " values for " +
               std::to_string(spatial) + " spatial axes";
    }
  }
  if (!conv) return "";
  const auto* g = Attr(node, "group");
  const int64_t group = g ? g->i() : 1;
  if (group < 1) return "attribute 'group' is " + std::to_string(group) + "; it must be positive";
  const auto x = Dims(inputs.size() > 0 ? inputs[0] : nullptr);
  const auto w = Dims(inputs.size() > 1 ? inputs[1] : nullptr);
  if (!x || !w || x->size() < 2 || w->size() < 2 || (*x)[1] < 0 || (*w)[0] < 0 || (*w)[1] < 0) return "";
  const int64_t channels = (*x)[1];
  if (channels % group != 0)
    return "group " + std::to_string(group) + " does not divide the input's " + std::to_string(channels) + " channels";
  if (node.op_type() == "ConvTranspose") {
    if ((*w)[0] != channels)
      return "the weight has " + std::to_string((*w)[0]) + " input channels, the input " + std::to_string(channels);
    return "";
  }
  if ((*w)[1] != channels / group)  // channels % group == 0 above; a product could overflow
    return "the weight's " + std::to_string((*w)[1]) + " channels per group times group " + std::to_string(group) +
           " is not the input's " + std::to_string(channels) + " channels";
  if ((*w)[0] % group != 0)
    return "group " + std::to_string(group) + " does not divide the weight's " + std::to_string((*w)[0]) +
           " output channels";
  return "";
}

std::string BatchNorm(const std::vector<const onnx::TypeProto*>& inputs) {
  const auto x = Dims(inputs.empty() ? nullptr : inputs[0]);
  if (!x || x->size() < 2 || (*x)[1] < 0) return "";
  static const char* const kNames[] = {"", "scale", "bias", "mean", "var"};
  for (size_t i = 1; i < inputs.size() && i < 5; ++i) {
    const auto d = Dims(inputs[i]);
    if (d && d->size() == 1 && (*d)[0] >= 0 && (*d)[0] != (*x)[1])
      return "its " + std::string(kNames[i]) + " has " + std::to_string((*d)[0]) + " entries for " +
             std::to_string((*x)[1]) + " channels";
  }
  return "";
}

// Gemm's A (M x K, or K x M with transA) and B (K x N, or N x K with transB) must agree on K.
std::string Gemm(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs) {
  const auto a = Dims(inputs.size() > 0 ? inputs[0] : nullptr), b = Dims(inputs.size() > 1 ? inputs[1] : nullptr);
  if (!a || !b || a->size() != 2 || b->size() != 2) return "";
  const auto flag = [&](const char* name) {
    const auto* attr = Attr(node, name);
    return attr && attr->i() != 0;
  };
  const int64_t ka = (*a)[flag("transA") ? 0 : 1], kb = (*b)[flag("transB") ? 1 : 0];
  if (ka < 0 || kb < 0 || ka == kb) return "";
  return "A's inner dim " + std::to_string(ka) + " differs from B's " + std::to_string(kb);
}

// Elements each typed payload field holds per tensor element (0: the field is not this type's).
int PerElement(int32_t data_type, int field) {
  using T = onnx::TensorProto;
  switch (field) {
    case T::kFloatDataFieldNumber: return data_type == T::FLOAT ? 1 : data_type == T::COMPLEX64 ? 2 : 0;
    case T::kDoubleDataFieldNumber: return data_type == T::DOUBLE ? 1 : data_type == T::COMPLEX128 ? 2 : 0;
    case T::kInt64DataFieldNumber: return data_type == T::INT64 ? 1 : 0;
    case T::kUint64DataFieldNumber: return data_type == T::UINT32 || data_type == T::UINT64 ? 1 : 0;
    case T::kStringDataFieldNumber: return data_type == T::STRING ? 1 : 0;
    case T::kInt32DataFieldNumber:
      return data_type == T::INT32 || data_type == T::INT16 || data_type == T::INT8 || data_type == T::UINT16 ||
                     data_type == T::UINT8 || data_type == T::BOOL || data_type == T::FLOAT16 ||
                     data_type == T::BFLOAT16
                 ? 1
                 : 0;
  }
  return 0;
}

}  // namespace

std::string ValidateInitializer(const onnx::TensorProto& t) {
  using T = onnx::TensorProto;
  if (!onnx::TensorProto_DataType_IsValid(t.data_type()) || t.data_type() == T::UNDEFINED)
    return "data_type " + std::to_string(t.data_type()) + " is no ONNX tensor type";
  uint64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) return "has a negative dim " + std::to_string(d);
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count)) return "its element count overflows 64 bits";
  }
  if (t.data_location() == T::EXTERNAL) return "";
  const std::string dims = t.dims_size() == 0 ? "a scalar" : [&] {
    std::string s;
    for (int64_t d : t.dims()) s += (s.empty() ? "" : "x") + std::to_string(d);
    return s;
  }();
  if (t.has_raw_data()) {
    const int64_t width = DTypeSize(static_cast<DType>(t.data_type()));  // valid: checked above
    uint64_t bytes;
    if (width == 0) return "";  // strings cannot be raw: the checker says so
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(width), &bytes)) return "its size in bytes overflows 64 bits";
    if (t.raw_data().size() != bytes)
      return "raw_data holds " + std::to_string(t.raw_data().size()) + " bytes, but " + dims + " takes " +
             std::to_string(bytes);
    return "";
  }
  const std::pair<int, int> fields[] = {
      {T::kFloatDataFieldNumber, t.float_data_size()},   {T::kInt32DataFieldNumber, t.int32_data_size()},
      {T::kInt64DataFieldNumber, t.int64_data_size()},   {T::kDoubleDataFieldNumber, t.double_data_size()},
      {T::kUint64DataFieldNumber, t.uint64_data_size()}, {T::kStringDataFieldNumber, t.string_data_size()}};
  for (const auto& [field, size] : fields) {
    const int per = PerElement(t.data_type(), field);
    if (size == 0 || per == 0) continue;
    if (static_cast<uint64_t>(size) != count * static_cast<uint64_t>(per))
      return "holds " + std::to_string(size) + " values, but " + dims + " takes " + std::to_string(count * per);
    return "";
  }
  if (count > 0) return "holds no data for its " + dims + " elements";
  return "";
}

std::string ValidateNode(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs) {
  if (!(node.domain().empty() || node.domain() == "ai.onnx")) return "";
  const std::string& op = node.op_type();
  if (op == "Conv" || op == "ConvTranspose" || op == "ConvInteger") return ConvPool(node, inputs, /*conv=*/true);
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool" || op == "MaxUnpool" || op == "MaxRoiPool")
    return ConvPool(node, inputs, /*conv=*/false);
  if (op == "BatchNormalization") return BatchNorm(inputs);
  if (op == "Gemm") return Gemm(node, inputs);
  return "";
}

}  // namespace allot
