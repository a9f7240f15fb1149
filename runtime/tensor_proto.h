#pragma once
// ONNX TensorProto <-> at::Tensor. Every numeric element type and bool converts, from raw_data or from the typed
// fields. LibTorch has no uint16/uint32/uint64: those widen to int32/int64/int64 (exact, except uint64 values of
// 2^63 and above, which are an error); TensorToProto narrows back when told the ONNX type. Strings and undefined
// types are errors (allot::Error) that name the tensor; external data is read through ExternalTensors.
#include <cstdint>
#include <string>
#include <string_view>

#include <c10/core/ScalarType.h>

namespace at {
class Tensor;
}
namespace onnx {
class TensorProto;
}

namespace allot::runtime {

// The ATen type that holds ONNX element type `onnx_type` (TensorProto.DataType); `what` names the tensor in errors.
c10::ScalarType ScalarTypeFromOnnx(int32_t onnx_type, std::string_view what);
// The ONNX element type of an ATen type (the widened types map to their signed ONNX type).
int32_t OnnxTypeFromScalarType(c10::ScalarType type);
// Whether ONNX element type `onnx_type` has an ATen representation (see above).
bool IsSupportedOnnxType(int32_t onnx_type);

class ExternalTensors;

// A contiguous CPU tensor with the proto's dims (no dims: a scalar). External data comes through `external` (an
// Error without it).
at::Tensor TensorFromProto(const onnx::TensorProto& proto, ExternalTensors* external = nullptr);
// The tensor `proto` describes (type, dims) from its raw little-endian bytes, held elsewhere.
at::Tensor TensorFromBytes(std::string_view bytes, const onnx::TensorProto& proto);
// `data_type` 0 takes the type from the tensor; UINT16/32/64 narrow a widened tensor back.
onnx::TensorProto TensorToProto(const at::Tensor& tensor, const std::string& name, int32_t data_type = 0);

// Parses a serialized TensorProto (a test case's input_K.pb); errors name the path.
onnx::TensorProto ReadTensorProto(const std::string& path);

}  // namespace allot::runtime
