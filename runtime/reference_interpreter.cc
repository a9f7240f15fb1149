#include "runtime/reference_interpreter.h"

#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "graph/error.h"
#include "runtime/kernels.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

std::string OpName(const onnx::NodeProto& node) {
  const bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
  return default_domain ? node.op_type() : node.domain() + "::" + node.op_type();
}

// "" when `value` is a tensor of a supported element type (or carries no type), else why not.
std::string ValueProblem(const onnx::ValueInfoProto& value) {
  if (!value.has_type()) return "";
  const onnx::TypeProto& type = value.type();
  if (type.has_sequence_type()) return "is a sequence";
  if (type.has_optional_type()) return "is an optional";
  if (type.has_map_type()) return "is a map";
  if (type.has_sparse_tensor_type()) return "is a sparse tensor";
  if (!type.has_tensor_type()) return "is not a tensor";
  const int32_t elem = type.tensor_type().elem_type();
  if (elem != onnx::TensorProto::UNDEFINED && !IsSupportedOnnxType(elem))
    return "has element type " + onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(elem));
  return "";
}

}  // namespace

int ImportedOpset(const onnx::ModelProto& model, const std::string& domain) {
  const bool default_domain = domain.empty() || domain == "ai.onnx";
  for (const onnx::OperatorSetIdProto& o : model.opset_import()) {
    const bool match = default_domain ? o.domain().empty() || o.domain() == "ai.onnx" : o.domain() == domain;
    if (match) return static_cast<int>(o.version());
  }
  return 0;
}

std::vector<std::string> UnsupportedFeatures(const onnx::ModelProto& model) {
  std::vector<std::string> problems;
  std::unordered_set<std::string> seen;
  for (const onnx::NodeProto& node : model.graph().node())
    if (!FindKernel(node.op_type(), node.domain()) && seen.insert(OpName(node)).second)
      problems.push_back(OpName(node));
  for (const onnx::ValueInfoProto& v : model.graph().input())
    if (std::string why = ValueProblem(v); !why.empty()) problems.push_back("input '" + v.name() + "' " + why);
  for (const onnx::ValueInfoProto& v : model.graph().output())
    if (std::string why = ValueProblem(v); !why.empty()) problems.push_back("output '" + v.name() + "' " + why);
  for (const onnx::TensorProto& t : model.graph().initializer())
    if (!IsSupportedOnnxType(t.data_type()) || t.data_location() == onnx::TensorProto::EXTERNAL)
      problems.push_back("initializer '" + t.name() + "' has an unsupported type or external data");
  if (model.graph().sparse_initializer_size() > 0) problems.push_back("sparse initializers");
  return problems;
}

ReferenceInterpreter::ReferenceInterpreter(const onnx::ModelProto& model) : model_(model) {
  const onnx::GraphProto& graph = model.graph();
  if (std::vector<std::string> problems = UnsupportedFeatures(model); !problems.empty()) {
    std::string message = "the runtime cannot run this model: ";
    for (size_t i = 0; i < problems.size(); ++i) message += (i ? ", " : "") + problems[i];
    for (const onnx::NodeProto& node : graph.node())
      if (!FindKernel(node.op_type(), node.domain())) {
        message += "; first unsupported " + NodeLabel(node);
        break;
      }
    throw Error(message);
  }
  std::unordered_set<std::string> initialized;
  for (const onnx::TensorProto& t : graph.initializer()) {
    initializers_.emplace_back(t.name(), TensorFromProto(t));
    initialized.insert(t.name());
  }
  for (const onnx::ValueInfoProto& v : graph.input())
    if (!initialized.count(v.name())) input_names_.push_back(v.name());
  for (const onnx::ValueInfoProto& v : graph.output()) output_names_.push_back(v.name());

  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < static_cast<size_t>(graph.node_size()); ++i) {
    const onnx::NodeProto& node = graph.node(static_cast<int>(i));
    steps_.push_back({&node, FindKernel(node.op_type(), node.domain()), ImportedOpset(model, node.domain()), {}});
    for (const std::string& in : node.input())
      if (!in.empty()) last_use[in] = i;
  }
  const std::unordered_set<std::string> outputs(output_names_.begin(), output_names_.end());
  for (const auto& [name, step] : last_use)
    if (!outputs.count(name)) steps_[step].frees.push_back(name);
}

std::vector<at::Tensor> ReferenceInterpreter::Run(const std::vector<at::Tensor>& inputs) const {
  if (inputs.size() > input_names_.size())
    throw Error("the model takes " + std::to_string(input_names_.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  std::unordered_map<std::string, at::Tensor> values(initializers_.begin(), initializers_.end());
  for (size_t i = 0; i < inputs.size(); ++i) values[input_names_[i]] = inputs[i];
  for (const Step& step : steps_) {
    const onnx::NodeProto& node = *step.node;
    KernelContext ctx{node, {}, step.opset};
    for (const std::string& name : node.input()) {
      if (name.empty()) {
        ctx.inputs.emplace_back();
        continue;
      }
      auto it = values.find(name);
      if (it == values.end()) throw Error(NodeLabel(node) + ": input '" + name + "' is not computed before use");
      ctx.inputs.push_back(it->second);
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
    auto it = values.find(name);
    if (it == values.end()) throw Error("graph output '" + name + "' is never computed");
    outputs.push_back(it->second);
  }
  return outputs;
}

std::vector<at::Tensor> RunModel(const onnx::ModelProto& model, const std::vector<at::Tensor>& inputs) {
  return ReferenceInterpreter(model).Run(inputs);
}

}  // namespace allot::runtime
