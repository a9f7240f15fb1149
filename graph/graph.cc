#include "graph/graph.h"

#include <algorithm>
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
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  return n;
}

uint64_t TensorBytes(DType dtype, Span<int64_t> shape) {
  uint64_t bytes = 0;
  return CheckedTensorBytes(dtype, shape, &bytes) ? bytes : 0;
}

bool CheckedTensorBytes(DType dtype, Span<int64_t> shape, uint64_t* bytes) {
  *bytes = 0;
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d <= 0; })) return true;  // unknown or empty
  uint64_t n = static_cast<uint64_t>(DTypeSize(dtype));
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  *bytes = n;
  return true;
}

uint64_t Graph::hash() const {
  uint64_t h = hash_.value().load(std::memory_order_acquire);
  if (h == 0) {  // two threads may both compute it: they store the same value
    h = ComputeHash();
    hash_.value().store(h, std::memory_order_release);
  }
  return h;
}

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void HashBytes(uint64_t& h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
}
void HashString(uint64_t& h, std::string_view s) {
  HashBytes(h, s.data(), s.size());
  HashBytes(h, "\0", 1);  // separator: ("ab","c") and ("a","bc") must differ
}
void HashInt(uint64_t& h, int64_t v) { HashBytes(h, &v, sizeof v); }

}  // namespace

// The byte sequence is the one allot has always hashed, so placements, policies and checkpoints written by
// earlier versions still match their graphs.
uint64_t Graph::ComputeHash() const {
  uint64_t h = kFnvOffset;
  for (NodeId n = 0; n < num_nodes(); ++n) {
    HashString(h, node_name(n));
    HashString(h, op_type(n));
    HashInt(h, static_cast<int64_t>(role_[n]));
    for (uint32_t i = io_begin_[n]; i < out_begin_[n]; ++i) HashString(h, tensor_name(io_[i]));
    HashInt(h, -1);
    for (uint32_t i = out_begin_[n]; i < io_begin_[n + 1]; ++i) HashString(h, tensor_name(io_[i]));
    HashInt(h, -2);
  }
  for (TensorId t = 0; t < num_tensors(); ++t) {
    HashInt(h, static_cast<int64_t>(tensor_info_[t].dtype));
    const StrRef s = shape_of_[t];
    for (uint32_t i = 0; i < s.size; ++i) HashInt(h, dims_[s.offset + i]);
    HashInt(h, tensor_info_[t].is_parameter ? -3 : -4);
  }
  return h == 0 ? 1 : h;  // 0 marks "not computed"
}

std::string Graph::hash_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash()));
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
