#pragma once
// ONNX → IR. Reads a ModelProto (no size limit below protobuf's 2 GiB; external-data initializers are sized from
// their dims and their files checked, never loaded), binds symbolic dimensions, runs ONNX's checker and allot's
// shape pass (graph/shape_inference.h: ONNX's per-op inference with shape computations folded, declared shapes
// checked, data-dependent dims bounded), and builds a Graph. Forward node i of the Graph is node i of the ONNX main graph, so tools that need
// the op's full semantics (the runtime, exporters) can go back to the ModelProto.
//
// Naming: a node without a name is called "<op_type>_<index>" (index = its position in the ONNX graph); a name
// already taken gets "__2", "__3", ... appended, in graph order. Placement files use these names.
//
// Parameters: floating initializers with more than one element are trainable parameters, except those only read
// as BatchNormalization's running mean/variance; graph inputs whose doc_string is "allot:parameter" (allot's
// generated models without weights) are parameters too. Other initializers are constants.
//
// Control flow (If/Loop/Scan) is one node whose work is its body's: If takes the costlier branch, Loop multiplies
// its body by a constant trip count (1 when not constant, with a warning), Scan by the scanned length.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/dim_bindings.h"
#include "graph/graph.h"

namespace onnx {
class ModelProto;
}

namespace allot {

struct ImportOptions : DimBindings {
  bool check = true;  // run onnx::checker and check declared shapes (structural errors are reported either way)
};

struct ImportReport {
  std::vector<std::string> warnings;
  size_t unknown_ops = 0;         // nodes costed with the generic estimate
  bool ran_shape_inference = false;  // the file lacked shapes and the IR was built from inferred ones
  size_t folded_values = 0;          // node outputs evaluated at import time (graph/constant_folding.h)
  double caps_seconds = 0;           // the walk over the bytes checking repeated fields' caps (ParseAndImport only)
  double parse_seconds = 0;          // protobuf parse (ParseAndImport only)
  double check_seconds = 0;          // onnx::checker
  double infer_seconds = 0;          // allot's shape pass (graph/shape_inference.h): checking or inferring
  double build_seconds = 0;          // IR construction and Finalize (on its own thread in ParseAndImport)
  double build_exposed_seconds = 0;  // the part of build_seconds the parse did not hide (all of it if sequential)
};

// Reads and parses a file. Errors (missing, unreadable, truncated, not ONNX) name the path.
onnx::ModelProto ReadModelProto(const std::string& path);
// Parses a file's bytes; `path` names them in errors.
onnx::ModelProto ParseModelProto(std::string_view bytes, const std::string& path);

// Builds the IR from a parsed model; `source` names it in errors (the file path). The model is modified in place
// (bound dims, inferred value_info). `model_dir` resolves external data ("" skips the file check). The IR is
// built from the serialized model (graph/onnx_wire.h), so this serializes it first.
Graph ImportModel(onnx::ModelProto& model, const std::string& source, const ImportOptions& options,
                  ImportReport* report = nullptr, const std::string& model_dir = "");
// Parses a file's bytes into `model` and builds the IR from them, both at once: the IR build reads the bytes
// (graph/onnx_wire.h) on a second thread while protobuf parses them for the checker and shape inference, so on
// two cores the build costs no time beyond the parse and the checker when it is shorter. Errors come in the
// order of the sequential import: parse, checker, IR build. `bytes` must outlive the call.
Graph ParseAndImport(const std::string& bytes, const std::string& source, const ImportOptions& options,
                     onnx::ModelProto& model, ImportReport* report = nullptr, const std::string& model_dir = "");

// ReadFile + ParseAndImport.
Graph ImportOnnxFile(const std::string& path, const ImportOptions& options, ImportReport* report = nullptr);

}  // namespace allot
