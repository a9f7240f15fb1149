#include "graph/graph.h"

#include <cstdio>

namespace allot {

const OpAttrs Graph::kDefaultAttrs{};

std::string_view NodeRoleName(NodeRole r) {
  switch (r) {
    case NodeRole::kForward: return "forward";
    case NodeRole::kGradient: return "gradient";
    case NodeRole::kUpdate: return "update";
  }
  return "forward";
}

bool OpAttrs::is_default() const {
  return kernel_shape.empty() && strides.empty() && pads.empty() && dilations.empty() && group == 1 && axis == 0 &&
         !trans_a && !trans_b && hidden_size == 0 && trip_count == 1;
}

int64_t NumElements(Span<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

uint64_t TensorBytes(DType dtype, Span<int64_t> shape) {
  const int64_t n = NumElements(shape);
  return n < 0 ? 0 : static_cast<uint64_t>(n) * static_cast<uint64_t>(DTypeSize(dtype));
}

std::string Graph::hash_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
  return buf;
}

NodeId Graph::FindNode(std::string_view name) const {
  return node_index_.Find(name, [this](uint32_t n) { return str(node_name_[n]); });
}

TensorId Graph::FindTensor(std::string_view name) const {
  return tensor_index_.Find(name, [this](uint32_t t) { return str(tensor_name_[t]); });
}

uint64_t Graph::total_parameter_bytes() const {
  uint64_t total = 0;
  for (const TensorInfo& t : tensor_info_)
    if (t.is_parameter) total += t.bytes;
  return total;
}

double Graph::total_flops() const {
  double total = 0;
  for (double f : flops_) total += f;
  return total;
}

}  // namespace allot
