#include "runtime/reference_interpreter.h"

#include <onnx/onnx_pb.h>

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

// The model, once UnsupportedFeatures finds nothing in it.
const onnx::ModelProto& Supported(const onnx::ModelProto& model) {
  std::vector<std::string> problems = UnsupportedFeatures(model);
  if (problems.empty()) return model;
  std::string message = "the runtime cannot run this model: ";
  for (size_t i = 0; i < problems.size(); ++i) message += (i ? ", " : "") + problems[i];
  std::string first;
  for (const onnx::NodeProto& node : model.graph().node())
    ForEachNode(node, [&](const onnx::NodeProto& n) {
      if (first.empty() && !FindKernel(n.op_type(), n.domain())) first = NodeLabel(n);
    });
  if (!first.empty()) message += "; first unsupported " + first;
  throw Error(message);
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
    ForEachNode(node, [&](const onnx::NodeProto& n) {
      if (!FindKernel(n.op_type(), n.domain()) && seen.insert(OpName(n)).second) problems.push_back(OpName(n));
    });
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

ReferenceInterpreter::ReferenceInterpreter(const onnx::ModelProto& model)
    : runner_(Supported(model).graph(), ImportedOpset(model, "")) {}

std::vector<at::Tensor> RunModel(const onnx::ModelProto& model, const std::vector<at::Tensor>& inputs) {
  return ReferenceInterpreter(model).Run(inputs);
}

}  // namespace allot::runtime
