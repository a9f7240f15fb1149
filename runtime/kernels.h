#pragma once
// ATen implementations of ONNX operators. A kernel maps a node and its input tensors to its output tensors, with
// the semantics of the opset that the model imports for the node's domain (opset 13-17 in full; older opsets where
// the semantics differ, e.g. Softmax's 2-D coercion before 13 or attribute-borne axes). The kernels are registered
// in one explicit table (kernels.cc) rather than by static registrars, so that the supported set is greppable and
// link order cannot drop a kernel.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <ATen/core/Tensor.h>

namespace onnx {
class AttributeProto;
class GraphProto;
class NodeProto;
}

namespace allot::runtime {

// Values visible by name from a control-flow body: those of the graph that holds its node, then of the graphs
// around that one (ONNX's outer scope). A body may read any of them, however deeply it is nested.
struct Scope {
  const std::unordered_map<std::string, at::Tensor>& values;
  const Scope* parent = nullptr;

  // The innermost graph's value named `name`; nullptr when no enclosing graph holds one.
  const at::Tensor* Find(const std::string& name) const;
};

struct KernelContext {
  const onnx::NodeProto& node;
  std::vector<at::Tensor> inputs;  // an undefined tensor for a missing optional input
  int opset;                       // the model's opset for the node's domain
  // What the node's bodies may read from outside themselves; nullptr for a node without bodies. The executor
  // supplies the values its IR node reads (graph/onnx_reads.h), the graph runner every live value of its graph.
  const Scope* outer = nullptr;

  // Input i, or an undefined tensor when it is absent (empty name or past the end).
  const at::Tensor& Input(size_t i) const;
  bool HasInput(size_t i) const { return Input(i).defined(); }
  // Input i, which must be present; the error names the node.
  const at::Tensor& Required(size_t i) const;
  // Number of outputs the node names; output i is wanted when it has a non-empty name.
  size_t NumOutputs() const;
  bool WantsOutput(size_t i) const;

  const onnx::AttributeProto* Attr(std::string_view name) const;  // nullptr when absent
  bool HasAttr(std::string_view name) const { return Attr(name) != nullptr; }
  int64_t Int(std::string_view name, int64_t fallback) const;
  float Float(std::string_view name, float fallback) const;
  std::string String(std::string_view name, std::string_view fallback) const;
  std::vector<int64_t> Ints(std::string_view name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> Floats(std::string_view name, std::vector<float> fallback = {}) const;
  std::vector<std::string> Strings(std::string_view name, std::vector<std::string> fallback = {}) const;
  at::Tensor TensorAttr(std::string_view name) const;  // undefined when absent
  const onnx::GraphProto& GraphAttr(std::string_view name) const;  // a body; required

  // "node 'name' (OpType)", for error messages.
  std::string Where() const;
};

using KernelFn = std::vector<at::Tensor> (*)(const KernelContext&);

// "node 'name' (OpType)" (an unnamed node goes by its first output), the prefix of every kernel error.
std::string NodeLabel(const onnx::NodeProto& node);

struct Kernel {
  std::string_view op_type;
  std::string_view domain;  // "" is the default ONNX domain (also spelled "ai.onnx")
  KernelFn run;
  // float16/bfloat16 inputs are computed in float32 and floating outputs cast back (LibTorch's CPU kernels lack
  // half-precision variants of many ops). Off for kernels whose output type is part of their semantics (Cast).
  bool widen_half = true;
  // The kernel loops over its inputs' elements on the host (NonMaxSuppression, RoiAlign, seeded random): on a GPU
  // its inputs are copied to the host and its outputs back, as ONNX Runtime does for a CPU-only kernel.
  bool host_only = false;
};

const Kernel* FindKernel(std::string_view op_type, std::string_view domain);
// "Op" for the default domain, "domain::Op" otherwise; sorted.
std::vector<std::string> SupportedOps();

// Runs `kernel` on `ctx`, widening half-precision types as the kernel asks and moving a host-only kernel's
// inputs to the host, and rethrows any failure as an allot::Error that names the node. Outputs are on the inputs'
// device, except what a kernel computes from shapes and attributes alone (on the host: the caller moves it).
std::vector<at::Tensor> RunKernel(const Kernel& kernel, const KernelContext& ctx);

}  // namespace allot::runtime
