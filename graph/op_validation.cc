#include "graph/op_validation.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <tuple>
#include <string_view>

namespace allot {
namespace {

const onnx::AttributeProto* Attr(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// The dims of a tensor type, -1 where unknown; nullopt without a shape.
std::optional<std::vector<int64_t>> Dims(const onnx::TypeProto* t) {
  if (!t || !t->has_tensor_type() || !t->tensor_type().has_shape()) return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto& d : t->tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

// Every entry of an ints attribute at least `min`.
std::string AtLeast(const onnx::NodeProto& node, std::string_view name, int64_t min, std::string_view why) {
  const auto* a = Attr(node, name);
  if (!a) return "";
  for (int64_t v : a->ints())
    if (v < min)
      return "attribute '" + std::string(name) + "' has " + std::to_string(v) + "; " + std::string(why);
  return "";
}

std::string ConvPool(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs, bool conv) {
  for (const auto& [name, min, why] : {std::tuple<const char*, int64_t, const char*>{"strides", 1, "strides must be positive"},
                                       {"dilations", 1, "dilations must be positive"},
                                       {"kernel_shape", 1, "kernel sizes must be positive"},
                                       {"pads", 0, "pads must not be negative"}})
    if (std::string e = AtLeast(node, name, min, why); !e.empty()) return e;
  if (!conv) return "";
  const auto* g = Attr(node, "group");
  const int64_t group = g ? g->i() : 1;
  if (group < 1) return "attribute 'group' is " + std::to_string(group) + "; it must be positive";
  const auto x = Dims(inputs.size() > 0 ? inputs[0] : nullptr);
  const auto w = Dims(inputs.size() > 1 ? inputs[1] : nullptr);
  if (!x || !w || x->size() < 2 || w->size() < 2 || (*x)[1] < 0 || (*w)[0] < 0 || (*w)[1] < 0) return "";
  const int64_t channels = (*x)[1];
  if (channels % group != 0)
    return "group " + std::to_string(group) + " does not divide the input's " + std::to_string(channels) + " channels";
  if (node.op_type() == "ConvTranspose") {
    if ((*w)[0] != channels)
      return "the weight has " + std::to_string((*w)[0]) + " input channels, the input " + std::to_string(channels);
    return "";
  }
  if ((*w)[1] != channels / group)  // channels % group == 0 above; a product could overflow
    return "the weight's " + std::to_string((*w)[1]) + " channels per group times group " + std::to_string(group) +
           " is not the input's " + std::to_string(channels) + " channels";
  if ((*w)[0] % group != 0)
    return "group " + std::to_string(group) + " does not divide the weight's " + std::to_string((*w)[0]) +
           " output channels";
  return "";
}

std::string BatchNorm(const std::vector<const onnx::TypeProto*>& inputs) {
  const auto x = Dims(inputs.empty() ? nullptr : inputs[0]);
  if (!x || x->size() < 2 || (*x)[1] < 0) return "";
  static const char* const kNames[] = {"", "scale", "bias", "mean", "var"};
  for (size_t i = 1; i < inputs.size() && i < 5; ++i) {
    const auto d = Dims(inputs[i]);
    if (d && d->size() == 1 && (*d)[0] >= 0 && (*d)[0] != (*x)[1])
      return "its " + std::string(kNames[i]) + " has " + std::to_string((*d)[0]) + " entries for " +
             std::to_string((*x)[1]) + " channels";
  }
  return "";
}

}  // namespace

std::string ValidateNode(const onnx::NodeProto& node, const std::vector<const onnx::TypeProto*>& inputs) {
  if (!(node.domain().empty() || node.domain() == "ai.onnx")) return "";
  const std::string& op = node.op_type();
  if (op == "Conv" || op == "ConvTranspose" || op == "ConvInteger") return ConvPool(node, inputs, /*conv=*/true);
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool" || op == "MaxUnpool" || op == "MaxRoiPool")
    return ConvPool(node, inputs, /*conv=*/false);
  if (op == "BatchNormalization") return BatchNorm(inputs);
  return "";
}

}  // namespace allot
