#pragma once
// Work of one execution of an ONNX op from its shapes: floating-point operations and bytes moved through device
// memory. The cost model turns these into time per device (roofline); the IR stores them per node.
//
// Formulas (multiply-add = 2 FLOPs):
//   Conv          2 * out_elems * (C_in / group) * prod(kernel)
//   ConvTranspose 2 * in_elems * (C_out / group) * prod(kernel)
//   MatMul        2 * out_elems * K            Gemm  2 * M * N * K (+ M * N for C)
//   LSTM/GRU/RNN  2 * seq * batch * dirs * gates * hidden * (input + hidden)  (gates 4/3/1), + 10 * outputs
//   elementwise   out_elems (arithmetic) or 4 * out_elems (exp, tanh, sigmoid, erf, log, sqrt, pow, ...)
//   normalization 4 (BatchNorm) or 8 (LayerNorm/InstanceNorm) * elems; Softmax/LogSoftmax 5 * elems
//   reductions and pooling: in_elems (pooling: out_elems * prod(kernel))
//   data movement (Concat, Split, Slice, Gather, Transpose, Pad, ...) 0 FLOPs, bytes only
//   views (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Shape, Constant, ...) neither
// An op without a formula gets out_elems FLOPs and is reported as unknown.
#include <string_view>
#include <vector>

#include "graph/graph.h"

namespace allot {

struct OpWork {
  double flops = 0;
  double bytes = 0;
  bool known = true;
};

// Op families, coarse enough for per-device efficiency factors in the cost model.
enum class OpFamily : uint8_t {
  kConv, kMatMul, kRecurrent, kElementwise, kTranscendental, kNormalization, kSoftmax, kReduction, kPooling,
  kDataMovement, kView, kControlFlow, kUnknown,
};
OpFamily ClassifyOp(std::string_view op_type);
std::string_view OpFamilyName(OpFamily f);

// `inputs` and `outputs` follow the node's ONNX positions; a missing optional input is nullptr.
OpWork EstimateOpWork(std::string_view op_type, const OpAttrs& attrs, const std::vector<const Tensor*>& inputs,
                      const std::vector<const Tensor*>& outputs);
// The same for a caller that knows the family (ClassifyOp(op_type)) already.
OpWork EstimateOpWork(OpFamily family, std::string_view op_type, const OpAttrs& attrs,
                      const std::vector<const Tensor*>& inputs, const std::vector<const Tensor*>& outputs);

}  // namespace allot
