#pragma once
// allot's shape inference over an ONNX model's main graph. It runs ONNX's own per-op type and shape inference
// functions (the ones onnx::shape_inference::InferShapes runs), node by node in topological order, with three
// additions that real exports need:
//
// - Folding. A value computable at import time (initializers, Constant, the Shape and Size of tensors whose shapes
//   are known, and the ops of graph/constant_folding.h over those) is evaluated, and handed to the inference of
//   the nodes it feeds, so that Reshape, Slice, Expand, Pad, Resize, Range, ConstantOfShape, TopK, ... fed by
//   Shape -> Gather -> Div -> Concat chains get static shapes. ONNX 1.12's data propagation stops at Div and
//   never reaches Resize or Expand. An If whose condition folds is inferred through the branch it takes.
// - Checking. What a node's op implies is checked against what the file declares (value_info, graph outputs): a
//   contradiction is an Error naming the node and both shapes. An op whose inference fails on its inputs (ONNX's
//   InferenceError: a Conv whose channels do not match its weight, a Reshape that cannot hold its data) is an
//   Error naming the node.
// - Bounds. Dims that depend on run-time data (NonZero, NonMaxSuppression, TopK with a run-time k, Unique,
//   Compress, the scan outputs of a Loop with a constant trip count) are set to their upper bound (a NonZero
//   output as if every element were non-zero), so the cost model prices the worst case; each bounded op type is
//   reported in a warning, and the bounded dims carry the denotation kUpperBoundDenotation in value_info.
//
// Whatever stays without a static shape is an Error naming the first node in order that has such an output, and
// why: the run-time data it depends on (the node that computes it), a symbolic dim to bind with --dim, or an op
// that ONNX cannot infer and the file does not declare.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace onnx {
class GraphProto;
class ModelProto;
}  // namespace onnx

namespace allot {

inline constexpr const char* kUpperBoundDenotation = "allot:upper_bound";

// Turns every bounded dim (kUpperBoundDenotation) of a graph's value_info, inputs and outputs back into a
// symbolic one, for models written for other runtimes, whose sizes are the run's, not the bound.
void UnboundDims(onnx::GraphProto& graph);

struct ShapeInferenceReport {
  bool changed = false;   // value_info was (CheckShapes: would have been) added or refined: rebuild the IR
  size_t folded = 0;      // node outputs evaluated at import time
  size_t inferred = 0;    // node outputs whose type came from inference, not from the file
  std::vector<std::string> warnings;  // data-dependent dims set to their bounds, one line per op type
  // What the pass evaluated of the main graph's control flow, by node index, for the cost model: a Loop's trip
  // count M, and the branch an If takes (true: then_branch).
  std::map<int, int64_t> loop_trips;
  std::map<int, bool> if_branches;
};

// Infers, checks and bounds every node output's type in the model's main graph and its control-flow bodies, and
// writes what it learned into their value_info and graph outputs. `source` names the model in errors. With
// require_static, an output left without a static shape is an Error (the importer's case); without, it keeps
// what could be inferred (an exporter typing a model whose dims stay symbolic). Without check_declared
// (--no-check), a declared type the op contradicts is not an error: the inferred one wins.
ShapeInferenceReport InferShapes(onnx::ModelProto& model, const std::string& source, bool require_static = true,
                                 bool check_declared = true);

// The same pass for a model that declares every node output's static shape (as a completed IR build confirms):
// it checks those shapes against what each op implies and writes nothing, so it may run beside onnx::checker on
// another thread. `changed` says whether InferShapes would have refined anything.
ShapeInferenceReport CheckShapes(const onnx::ModelProto& model, const std::string& source);

}  // namespace allot
