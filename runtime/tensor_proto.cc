#include "runtime/tensor_proto.h"

#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <cstring>
#include <vector>

#include "graph/error.h"
#include "graph/file_io.h"
#include "runtime/external_tensors.h"

namespace allot::runtime {
namespace {

using onnx::TensorProto;

std::string Describe(const TensorProto& proto) {
  return "tensor '" + proto.name() + "'";
}

std::vector<int64_t> Dims(const TensorProto& proto) {
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  for (int64_t d : dims)
    if (d < 0) throw Error(Describe(proto) + ": negative dimension " + std::to_string(d));
  return dims;
}

// A 1-D tensor of `n` elements of type `type` copied from `data`.
at::Tensor CopyOf(const void* data, int64_t n, at::ScalarType type) {
  at::Tensor t = at::empty({n}, at::TensorOptions().dtype(type));
  if (n > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(n) * t.element_size());
  return t;
}

// The unsigned types LibTorch lacks: decoded from their own width, stored widened.
template <typename U>
at::Tensor WidenUnsigned(const U* data, int64_t n, at::ScalarType wide, const TensorProto& proto) {
  at::Tensor t = at::empty({n}, at::TensorOptions().dtype(wide));
  if (wide == at::kInt) {
    auto* out = t.data_ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(data[i]);
  } else {
    auto* out = t.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (static_cast<uint64_t>(data[i]) > static_cast<uint64_t>(INT64_MAX))
        throw Error(Describe(proto) + ": uint64 value " + std::to_string(data[i]) + " does not fit int64");
      out[i] = static_cast<int64_t>(data[i]);
    }
  }
  return t;
}

at::Tensor FromRaw(std::string_view raw, const TensorProto& proto, int64_t n, at::ScalarType type) {
  const int32_t dt = proto.data_type();
  const size_t width = dt == TensorProto::UINT16 ? 2 : dt == TensorProto::UINT32 ? 4 : dt == TensorProto::UINT64
                           ? 8 : at::elementSize(type);
  if (raw.size() != static_cast<size_t>(n) * width)
    throw Error(Describe(proto) + ": its data holds " + std::to_string(raw.size()) + " bytes, dims need " +
                std::to_string(static_cast<size_t>(n) * width));
  switch (dt) {
    case TensorProto::UINT16: {
      std::vector<uint16_t> v(n);
      if (n) std::memcpy(v.data(), raw.data(), raw.size());
      return WidenUnsigned(v.data(), n, type, proto);
    }
    case TensorProto::UINT32: {
      std::vector<uint32_t> v(n);
      if (n) std::memcpy(v.data(), raw.data(), raw.size());
      return WidenUnsigned(v.data(), n, type, proto);
    }
    case TensorProto::UINT64: {
      std::vector<uint64_t> v(n);
      if (n) std::memcpy(v.data(), raw.data(), raw.size());
      return WidenUnsigned(v.data(), n, type, proto);
    }
    default:
      return CopyOf(raw.data(), n, type);
  }
}

template <typename Field>
void CheckCount(const TensorProto& proto, const Field& field, int64_t expected, const char* field_name) {
  if (field.size() != expected)
    throw Error(Describe(proto) + ": " + field_name + " holds " + std::to_string(field.size()) +
                " values, dims need " + std::to_string(expected));
}

at::Tensor FromTypedFields(const TensorProto& proto, int64_t n, at::ScalarType type) {
  switch (proto.data_type()) {
    case TensorProto::FLOAT:
      CheckCount(proto, proto.float_data(), n, "float_data");
      return CopyOf(proto.float_data().data(), n, at::kFloat);
    case TensorProto::COMPLEX64:
      CheckCount(proto, proto.float_data(), 2 * n, "float_data");
      return CopyOf(proto.float_data().data(), n, at::kComplexFloat);
    case TensorProto::DOUBLE:
      CheckCount(proto, proto.double_data(), n, "double_data");
      return CopyOf(proto.double_data().data(), n, at::kDouble);
    case TensorProto::COMPLEX128:
      CheckCount(proto, proto.double_data(), 2 * n, "double_data");
      return CopyOf(proto.double_data().data(), n, at::kComplexDouble);
    case TensorProto::INT64:
      CheckCount(proto, proto.int64_data(), n, "int64_data");
      return CopyOf(proto.int64_data().data(), n, at::kLong);
    case TensorProto::UINT32:
    case TensorProto::UINT64:
      CheckCount(proto, proto.uint64_data(), n, "uint64_data");
      return WidenUnsigned(proto.uint64_data().data(), n, type, proto);
    case TensorProto::FLOAT16:
    case TensorProto::BFLOAT16: {
      // int32_data carries the 16-bit patterns.
      CheckCount(proto, proto.int32_data(), n, "int32_data");
      return CopyOf(proto.int32_data().data(), n, at::kInt).to(at::kShort).view(type);
    }
    default:  // the other integer types and bool live in int32_data
      CheckCount(proto, proto.int32_data(), n, "int32_data");
      return CopyOf(proto.int32_data().data(), n, at::kInt).to(type);
  }
}

template <typename U>
std::string NarrowBytes(const at::Tensor& wide, const std::string& name) {
  at::Tensor values = wide.to(at::kLong).contiguous();
  const int64_t* p = values.data_ptr<int64_t>();
  std::string bytes(static_cast<size_t>(values.numel()) * sizeof(U), '\0');
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (p[i] < 0)
      throw Error("tensor '" + name + "': negative value " + std::to_string(p[i]) + " for an unsigned type");
    const U u = static_cast<U>(p[i]);
    std::memcpy(&bytes[static_cast<size_t>(i) * sizeof(U)], &u, sizeof(U));
  }
  return bytes;
}

}  // namespace

c10::ScalarType ScalarTypeFromOnnx(int32_t onnx_type, std::string_view what) {
  switch (onnx_type) {
    case TensorProto::FLOAT: return at::kFloat;
    case TensorProto::UINT8: return at::kByte;
    case TensorProto::INT8: return at::kChar;
    case TensorProto::UINT16: return at::kInt;
    case TensorProto::INT16: return at::kShort;
    case TensorProto::INT32: return at::kInt;
    case TensorProto::INT64: return at::kLong;
    case TensorProto::BOOL: return at::kBool;
    case TensorProto::FLOAT16: return at::kHalf;
    case TensorProto::DOUBLE: return at::kDouble;
    case TensorProto::UINT32: return at::kLong;
    case TensorProto::UINT64: return at::kLong;
    case TensorProto::COMPLEX64: return at::kComplexFloat;
    case TensorProto::COMPLEX128: return at::kComplexDouble;
    case TensorProto::BFLOAT16: return at::kBFloat16;
    default: break;
  }
  const std::string type_name = TensorProto::DataType_IsValid(onnx_type)
                                    ? TensorProto::DataType_Name(static_cast<TensorProto::DataType>(onnx_type))
                                    : std::to_string(onnx_type);
  throw Error(std::string(what) + ": element type " + type_name + " has no tensor representation in the runtime");
}

bool IsSupportedOnnxType(int32_t onnx_type) {
  return onnx_type != TensorProto::UNDEFINED && onnx_type != TensorProto::STRING &&
         TensorProto::DataType_IsValid(onnx_type) && onnx_type <= TensorProto::BFLOAT16;
}

int32_t OnnxTypeFromScalarType(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return TensorProto::FLOAT;
    case at::kByte: return TensorProto::UINT8;
    case at::kChar: return TensorProto::INT8;
    case at::kShort: return TensorProto::INT16;
    case at::kInt: return TensorProto::INT32;
    case at::kLong: return TensorProto::INT64;
    case at::kBool: return TensorProto::BOOL;
    case at::kHalf: return TensorProto::FLOAT16;
    case at::kDouble: return TensorProto::DOUBLE;
    case at::kComplexFloat: return TensorProto::COMPLEX64;
    case at::kComplexDouble: return TensorProto::COMPLEX128;
    case at::kBFloat16: return TensorProto::BFLOAT16;
    default: throw Error(std::string("tensor type ") + c10::toString(type) + " has no ONNX element type");
  }
}

at::Tensor TensorFromProto(const TensorProto& proto, ExternalTensors* external) {
  if (proto.data_location() == TensorProto::EXTERNAL) {
    if (!external)
      throw Error(Describe(proto) + ": external data needs the model's folder (a model read from a file)");
    return external->Load(proto);
  }
  const at::ScalarType type = ScalarTypeFromOnnx(proto.data_type(), Describe(proto));
  const std::vector<int64_t> dims = Dims(proto);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  at::Tensor flat = proto.has_raw_data() ? FromRaw(proto.raw_data(), proto, n, type) : FromTypedFields(proto, n, type);
  return flat.reshape(dims);
}

at::Tensor TensorFromBytes(std::string_view bytes, const TensorProto& proto) {
  const at::ScalarType type = ScalarTypeFromOnnx(proto.data_type(), Describe(proto));
  const std::vector<int64_t> dims = Dims(proto);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return FromRaw(bytes, proto, n, type).reshape(dims);
}

TensorProto TensorToProto(const at::Tensor& tensor, const std::string& name, int32_t data_type) {
  TensorProto proto;
  proto.set_name(name);
  for (int64_t d : tensor.sizes()) proto.add_dims(d);
  at::Tensor t = tensor.cpu().contiguous();
  if (data_type == 0) data_type = OnnxTypeFromScalarType(t.scalar_type());
  proto.set_data_type(data_type);
  switch (data_type) {
    case TensorProto::UINT16: proto.set_raw_data(NarrowBytes<uint16_t>(t, name)); break;
    case TensorProto::UINT32: proto.set_raw_data(NarrowBytes<uint32_t>(t, name)); break;
    case TensorProto::UINT64: proto.set_raw_data(NarrowBytes<uint64_t>(t, name)); break;
    default: {
      t = t.to(ScalarTypeFromOnnx(data_type, "tensor '" + name + "'"));
      proto.set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size()));
    }
  }
  return proto;
}

TensorProto ReadTensorProto(const std::string& path) {
  const std::string bytes = ReadFile(path);
  TensorProto proto;
  if (!proto.ParseFromString(bytes)) throw Error(path + ": not a serialized ONNX TensorProto");
  return proto;
}

}  // namespace allot::runtime
