#include "runtime/graph_runner.h"

#include <onnx/onnx_pb.h>

#include <unordered_map>
#include <unordered_set>

#include "graph/error.h"
#include "graph/onnx_reads.h"
#include "runtime/kernels.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {

bool HasBodies(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& a : node.attribute())
    if (a.has_g() || a.graphs_size() > 0) return true;
  return false;
}

void ForEachNode(const onnx::NodeProto& node, const std::function<void(const onnx::NodeProto&)>& fn) {
  fn(node);
  auto walk = [&](const onnx::GraphProto& body) {
    for (const onnx::NodeProto& inner : body.node()) ForEachNode(inner, fn);
  };
  for (const onnx::AttributeProto& a : node.attribute()) {
    if (a.has_g()) walk(a.g());
    for (const onnx::GraphProto& body : a.graphs()) walk(body);
  }
}

GraphRunner::GraphRunner(const onnx::GraphProto& graph, int opset) : opset_(opset) {
  std::unordered_set<std::string> initialized;
  for (const onnx::TensorProto& t : graph.initializer()) {
    initializers_.emplace_back(t.name(), TensorFromProto(t));
    initialized.insert(t.name());
  }
  for (const onnx::ValueInfoProto& v : graph.input())
    if (!initialized.count(v.name())) input_names_.push_back(v.name());
  for (const onnx::ValueInfoProto& v : graph.output()) output_names_.push_back(v.name());

  // A body's reads from this graph are uses too: its node keeps them alive until it has run.
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < static_cast<size_t>(graph.node_size()); ++i) {
    const onnx::NodeProto& node = graph.node(static_cast<int>(i));
    const Kernel* kernel = FindKernel(node.op_type(), node.domain());
    if (!kernel) throw Error(NodeLabel(node) + ": no runtime kernel (see runtime/OPS.md)");
    steps_.push_back({&node, kernel, HasBodies(node), {}});
    for (const std::string& name : NodeReads(node)) last_use[name] = i;
  }
  const std::unordered_set<std::string> outputs(output_names_.begin(), output_names_.end());
  for (const auto& [name, step] : last_use)
    if (!outputs.count(name)) steps_[step].frees.push_back(name);
}

std::vector<at::Tensor> GraphRunner::Run(const std::vector<at::Tensor>& inputs, const Scope* outer) const {
  if (inputs.size() > input_names_.size())
    throw Error("the graph takes " + std::to_string(input_names_.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  std::unordered_map<std::string, at::Tensor> values(initializers_.begin(), initializers_.end());
  for (size_t i = 0; i < inputs.size(); ++i) values[input_names_[i]] = inputs[i];
  const Scope scope{values, outer};
  for (const Step& step : steps_) {
    const onnx::NodeProto& node = *step.node;
    KernelContext ctx{node, {}, opset_, step.has_bodies ? &scope : nullptr};
    for (const std::string& name : node.input()) {
      if (name.empty()) {
        ctx.inputs.emplace_back();
        continue;
      }
      const at::Tensor* value = scope.Find(name);
      if (!value) throw Error(NodeLabel(node) + ": input '" + name + "' is not computed before use");
      ctx.inputs.push_back(*value);
    }
    std::vector<at::Tensor> results = RunKernel(*step.kernel, ctx);
    for (size_t i = 0; i < ctx.NumOutputs(); ++i) {
      if (!ctx.WantsOutput(i)) continue;
      if (i >= results.size() || !results[i].defined())
        throw Error(NodeLabel(node) + ": the kernel does not produce output " + std::to_string(i));
      values[node.output(static_cast<int>(i))] = std::move(results[i]);
    }
    for (const std::string& name : step.frees) values.erase(name);
  }
  std::vector<at::Tensor> outputs;
  for (const std::string& name : output_names_) {
    const at::Tensor* value = scope.Find(name);
    if (!value) throw Error("graph output '" + name + "' is never computed");
    outputs.push_back(*value);
  }
  return outputs;
}

}  // namespace allot::runtime
