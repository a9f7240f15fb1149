#include "graph/graph.h"

#include <cstdio>

namespace allot {

std::string_view NodeRoleName(NodeRole r) {
  switch (r) {
    case NodeRole::kForward: return "forward";
    case NodeRole::kGradient: return "gradient";
    case NodeRole::kUpdate: return "update";
  }
  return "forward";
}

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

uint64_t TensorBytes(DType dtype, const std::vector<int64_t>& shape) {
  const int64_t n = NumElements(shape);
  return n < 0 ? 0 : static_cast<uint64_t>(n) * static_cast<uint64_t>(DTypeSize(dtype));
}

std::string Graph::hash_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
  return buf;
}

NodeId Graph::FindNode(std::string_view name) const {
  const NameTable& table = node_index_.Get([this](NameTable& t) {
    t.Reserve(nodes_.size());
    for (NodeId n = 0; n < nodes_.size(); ++n) t.Insert(nodes_[n].name, n);
  });
  return table.Find(name);
}

TensorId Graph::FindTensor(std::string_view name) const {
  const NameTable& table = tensor_index_.Get([this](NameTable& t) {
    t.Reserve(tensors_.size());
    for (TensorId i = 0; i < tensors_.size(); ++i) t.Insert(tensors_[i].name, i);
  });
  return table.Find(name);
}

uint64_t Graph::total_parameter_bytes() const {
  uint64_t total = 0;
  for (const Tensor& t : tensors_)
    if (t.is_parameter) total += t.bytes;
  return total;
}

double Graph::total_flops() const {
  double total = 0;
  for (double f : flops_) total += f;
  return total;
}

}  // namespace allot
