#pragma once
// Element types, numbered as ONNX's TensorProto.DataType so that the importer converts by cast.
#include <cstdint>
#include <string_view>

namespace allot {

enum class DType : uint8_t {
  kUndefined = 0, kFloat32 = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kFloat64 = 11, kUInt32 = 12, kUInt64 = 13, kComplex64 = 14,
  kComplex128 = 15, kBFloat16 = 16,
};

// Bytes per element; 0 for kUndefined and kString (whose size is not known from the shape).
int DTypeSize(DType t);
std::string_view DTypeName(DType t);
// Floating types are the ones gradients flow through.
bool IsFloating(DType t);

}  // namespace allot
