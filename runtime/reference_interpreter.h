#pragma once
// A minimal sequential interpreter over a model's main graph (a GraphRunner over it, with the model's support
// checked up front): the single-device reference that the multi-device executor is checked against, and the
// conformance harness.
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "runtime/graph_runner.h"

namespace onnx {
class ModelProto;
}

namespace allot::runtime {

// What the interpreter cannot run, one line each: ops without a kernel ("Op" or "domain::Op", each once, in graph
// order, control-flow bodies included), then graph inputs, outputs and initializers that are not tensors of a
// supported element type.
std::vector<std::string> UnsupportedFeatures(const onnx::ModelProto& model);

// The model's opset for `domain` ("" and "ai.onnx" are the default domain); 0 when the model does not import it.
int ImportedOpset(const onnx::ModelProto& model, const std::string& domain);

class ReferenceInterpreter {
 public:
  // Checks everything up front (one allot::Error that lists every unsupported op and names the first node that
  // needs one) and converts the initializers once. `model` must outlive the interpreter.
  explicit ReferenceInterpreter(const onnx::ModelProto& model);

  // Inputs bind, in order, to the graph inputs that are not initializers; trailing ones may be left out (absent
  // optional inputs). Returns the graph outputs in order.
  std::vector<at::Tensor> Run(const std::vector<at::Tensor>& inputs) const { return runner_.Run(inputs, nullptr); }

  const std::vector<std::string>& input_names() const { return runner_.input_names(); }
  const std::vector<std::string>& output_names() const { return runner_.output_names(); }

 private:
  GraphRunner runner_;
};

// ReferenceInterpreter(model).Run(inputs).
std::vector<at::Tensor> RunModel(const onnx::ModelProto& model, const std::vector<at::Tensor>& inputs);

}  // namespace allot::runtime
