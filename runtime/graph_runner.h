#pragma once
// Runs one ONNX graph through the kernels: a model's main graph (the reference interpreter) or a control-flow body
// (If, Loop, Scan; kernels_control_flow.cc). Nodes run in graph order (ONNX requires a topological one) through
// FindKernel and RunKernel, each value is dropped after its last use, and a name the graph does not define is read
// from the enclosing graphs' Scope. A node with bodies gets this graph's live values, chained to that scope, as its
// outer scope, so bodies nest to any depth.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace onnx {
class GraphProto;
class NodeProto;
}

namespace allot::runtime {

struct Kernel;
struct Scope;

// Whether `node` holds bodies (graph attributes: If's branches, Loop's and Scan's body).
bool HasBodies(const onnx::NodeProto& node);

// Calls `fn` on `node`, then on every node of its bodies, recursively, in graph order.
void ForEachNode(const onnx::NodeProto& node, const std::function<void(const onnx::NodeProto&)>& fn);

class GraphRunner {
 public:
  // Looks up every node's kernel (an Error names the first node without one; nested bodies are looked up when
  // their node runs) and converts the initializers once. Every kernel is in the default domain (kernels.cc's
  // table), so `opset`, the default domain's, is every node's. `graph` must outlive the runner.
  GraphRunner(const onnx::GraphProto& graph, int opset);

  // Inputs bind, in order, to the graph inputs that are not initializers; trailing ones may be left out (absent
  // optional inputs). `outer` holds what the graph reads from enclosing graphs (nullptr for a model's main graph).
  // Returns the graph outputs in order.
  std::vector<at::Tensor> Run(const std::vector<at::Tensor>& inputs, const Scope* outer) const;

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }

 private:
  struct Step {
    const onnx::NodeProto* node;
    const Kernel* kernel;
    bool has_bodies;
    std::vector<std::string> frees;  // values whose last use is this step
  };
  int opset_;
  std::vector<std::pair<std::string, at::Tensor>> initializers_;
  std::vector<std::string> input_names_, output_names_;
  std::vector<Step> steps_;
};

}  // namespace allot::runtime
