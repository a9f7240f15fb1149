#pragma once
// Checks of an op's attributes and operand shapes that ONNX's checker and its shape inference let through, made
// before anything divides by them or costs from them: a Conv or pooling op with a zero stride, dilation or kernel
// (ONNX's inference divides by the stride: a zero kills the process), a negative pad, a group that is not
// positive or does not divide the channels, a weight whose channels disagree with the input's, BatchNormalization
// statistics whose size is not the channel count, Gemm operands whose inner dims differ; and initializers whose
// type is no ONNX type, whose dims are negative or whose payload is not the size the dims say. The shape pass
// (graph/shape_inference.h) runs them on every node and initializer.
#include <string>
#include <vector>

namespace onnx {
class NodeProto;
class TensorProto;
class TypeProto;
}  // namespace onnx

namespace allot {

// "" when the node is sound, else what is wrong (without the node's name: the caller names it). `inputs` are the
// node's input types (null where absent or unknown).
std::string ValidateNode(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs);

// "" when the initializer is sound, else what is wrong (the caller names it). External data is checked where it
// is resolved (graph/external_data.h).
std::string ValidateInitializer(const onnx::TensorProto& tensor);

}  // namespace allot
