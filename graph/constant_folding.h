#pragma once
// Values known at import time, and the ONNX ops that compute them. Real exports compute the shapes their Reshape,
// Slice, Expand, Pad and Resize nodes need inside the graph, from Shape ops (torch.chunk: Shape -> Gather -> Div ->
// Unsqueeze -> Concat -> Slice); ONNX 1.12's shape inference, with or without its data propagation, does not
// evaluate those chains, so the nodes they feed get no static shape. The shape pass (graph/shape_inference.h)
// evaluates them here, on small tensors, as ONNX Runtime's constant folding does. The graph keeps the nodes: a
// folded value only gives the shapes of what it feeds.
//
// Semantics are the ONNX operator specs' at the node's opset (attribute-borne axes, starts and splits before
// opset 10/13). Integers are held as int64 and wrap at their type's width after every op; floating values as
// double, rounded to their type's precision after every op, so float arithmetic matches a float32 runtime.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/dtype.h"

namespace onnx {
class NodeProto;
class TensorProto;
class TypeProto;
}  // namespace onnx

namespace allot {

struct ConstTensor {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  std::vector<int64_t> ints;  // integer and bool types (bool as 0/1)
  std::vector<double> reals;  // floating types

  bool is_real() const { return IsFloating(dtype); }
  size_t size() const { return is_real() ? reals.size() : ints.size(); }
};

// Values above this many elements are not folded: shape computations are tiny, and masks or ranges that large
// feed no shape.
inline constexpr int64_t kMaxFoldedElements = int64_t{1} << 16;

// An initializer's or Constant's tensor as a value; nullopt for external data, strings, complex numbers and
// tensors over kMaxFoldedElements. Throws Error naming `what` when the payload disagrees with the dims.
std::optional<ConstTensor> ConstFromProto(const onnx::TensorProto& proto, const std::string& what);
// The value as a TensorProto with typed fields (int64_data, float_data, ...), as ONNX's inference reads them.
void ConstToProto(const ConstTensor& value, onnx::TensorProto& proto);

// Whether FoldNode evaluates this op (default domain only).
bool IsFoldableOp(std::string_view op_type, std::string_view domain);

// Thrown when a node's values are invalid for the op (an index out of range, a reshape that cannot hold the data):
// the model fails here at run time too.
struct FoldError {
  std::string message;
};

// What FoldNode needs of each input: its value where known, and its type (Shape and Size read the shape only).
struct FoldInput {
  const ConstTensor* value = nullptr;     // null: absent or not known at import time
  const onnx::TypeProto* type = nullptr;  // null: absent or unknown
  bool present = false;                   // the node names this input (optional inputs may be absent)
};

// Evaluates `node` at `opset` into `outputs` (one per node output). Returns false when it cannot be evaluated
// here: an input without a value, an output over kMaxFoldedElements, or a type or attribute this evaluator does
// not handle. Throws FoldError when the values are invalid for the op.
bool FoldNode(const onnx::NodeProto& node, int opset, const std::vector<FoldInput>& inputs,
              std::vector<ConstTensor>& outputs);

// "2x3x4" for dims, "[1, 2, 3]" for a small value (shortened past a few elements): for error messages.
std::string FormatDims(const std::vector<int64_t>& dims);
std::string FormatValue(const ConstTensor& value);

}  // namespace allot
