#pragma once
// allot's operator-graph IR. A Graph is built once (by the ONNX importer, the training-graph synthesis, the JSON
// cost-graph reader or a test) through a GraphBuilder, then frozen: node ids are dense 0..N-1, per-node data lives
// in flat arrays indexed by NodeId, adjacency is CSR in both directions, and the topological order and hash are
// computed once. Every placer and the simulator read it millions of times; nothing here allocates after Finalize.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "graph/dtype.h"
#include "graph/name_table.h"

namespace allot {

using NodeId = uint32_t;
using TensorId = uint32_t;
inline constexpr uint32_t kNone = 0xffffffffu;

// A read-only view of a contiguous range (C++17 has no std::span).
template <typename T>
struct Span {
  const T* first = nullptr;
  const T* last = nullptr;
  const T* begin() const { return first; }
  const T* end() const { return last; }
  size_t size() const { return static_cast<size_t>(last - first); }
  bool empty() const { return first == last; }
  const T& operator[](size_t i) const { return first[i]; }
};

// Forward ops come from the model; gradient and update ops are synthesized for a training step and are always
// co-located with their forward op (TensorFlow's colocate_gradients_with_ops, the papers' setting).
enum class NodeRole : uint8_t { kForward = 0, kGradient = 1, kUpdate = 2 };
std::string_view NodeRoleName(NodeRole r);

// The attributes a cost model reads. Everything else of an ONNX node is dropped at import.
struct OpAttrs {
  std::vector<int64_t> kernel_shape;  // Conv/ConvTranspose/pooling (from the weight when the attribute is absent)
  std::vector<int64_t> strides;
  std::vector<int64_t> pads;
  std::vector<int64_t> dilations;
  int64_t group = 1;
  int64_t axis = 0;
  bool trans_a = false;  // Gemm
  bool trans_b = false;
  int64_t hidden_size = 0;  // LSTM/GRU/RNN
  int64_t trip_count = 1;   // Loop/Scan: iterations the body cost is multiplied by (1 when unknown)
};

struct Tensor {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  NodeId producer = kNone;      // kNone for graph inputs and parameters
  bool is_parameter = false;    // trainable weight (an initializer, or an input marked "allot:parameter")
  bool is_constant = false;     // non-trainable initializer (shapes, indices, masks)
  bool is_graph_input = false;
  bool is_graph_output = false;
  TensorId gradient_of = kNone; // for gradient tensors: the forward tensor
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;
  NodeRole role = NodeRole::kForward;
  NodeId forward = kNone;  // gradient/update ops: the forward op they are co-located with
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  OpAttrs attrs;
  double flops = 0;           // floating-point operations of one execution
  double bytes_accessed = 0;  // bytes read and written from device memory (roofline's memory side)
  uint64_t state_bytes = 0;   // resident memory besides parameters (optimizer state of update ops)
  bool known_op = true;       // false: the cost model had no formula and used the generic estimate
};

class GraphBuilder;

// A name index over a frozen graph's own strings, built on first use (most graphs are never searched by tensor
// name) and safe to build from several threads. A copy starts unbuilt, since its keys would point into the
// source; a move keeps it, since moving the graph's vectors does not move their strings.
class LazyNameIndex {
 public:
  LazyNameIndex() : state_(std::make_unique<State>()) {}
  LazyNameIndex(const LazyNameIndex&) : LazyNameIndex() {}
  LazyNameIndex& operator=(const LazyNameIndex&) {
    state_ = std::make_unique<State>();
    return *this;
  }
  LazyNameIndex(LazyNameIndex&&) noexcept = default;
  LazyNameIndex& operator=(LazyNameIndex&&) noexcept = default;

  void Set(NameTable table) {
    state_->table = std::move(table);
    state_->built.store(true, std::memory_order_release);
  }
  template <typename Build>
  const NameTable& Get(Build build) const {
    if (!state_->built.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (!state_->built.load(std::memory_order_relaxed)) {
        build(state_->table);
        state_->built.store(true, std::memory_order_release);
      }
    }
    return state_->table;
  }

 private:
  struct State {
    std::mutex mu;
    std::atomic<bool> built{false};
    NameTable table;
  };
  std::unique_ptr<State> state_;
};

class Graph {
 public:
  Graph() = default;

  size_t num_nodes() const { return nodes_.size(); }
  size_t num_tensors() const { return tensors_.size(); }
  size_t num_edges() const { return out_nodes_.size(); }

  const Node& node(NodeId id) const { return nodes_[id]; }
  const Tensor& tensor(TensorId id) const { return tensors_[id]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Tensor>& tensors() const { return tensors_; }

  // Node-level edges: one per (producer, consumer) pair, weighted by the bytes of all tensors between them.
  Span<NodeId> successors(NodeId n) const { return {&out_nodes_[out_offsets_[n]], &out_nodes_[0] + out_offsets_[n + 1]}; }
  Span<uint64_t> successor_bytes(NodeId n) const { return {&out_bytes_[0] + out_offsets_[n], &out_bytes_[0] + out_offsets_[n + 1]}; }
  Span<NodeId> predecessors(NodeId n) const { return {&in_nodes_[0] + in_offsets_[n], &in_nodes_[0] + in_offsets_[n + 1]}; }
  Span<uint64_t> predecessor_bytes(NodeId n) const { return {&in_bytes_[0] + in_offsets_[n], &in_bytes_[0] + in_offsets_[n + 1]}; }
  // Tensor-level fan-out: the distinct nodes reading a tensor (a tensor crosses to each consuming device once).
  Span<NodeId> consumers(TensorId t) const { return {&consumer_nodes_[0] + consumer_offsets_[t], &consumer_nodes_[0] + consumer_offsets_[t + 1]}; }

  // Raw CSR arrays for hot loops (offsets have num_nodes()+1 entries).
  const std::vector<uint32_t>& out_offsets() const { return out_offsets_; }
  const std::vector<NodeId>& out_nodes() const { return out_nodes_; }
  const std::vector<uint64_t>& out_bytes() const { return out_bytes_; }
  const std::vector<uint32_t>& in_offsets() const { return in_offsets_; }
  const std::vector<NodeId>& in_nodes() const { return in_nodes_; }
  const std::vector<uint64_t>& in_bytes() const { return in_bytes_; }

  // Flat per-node arrays.
  const std::vector<double>& flops() const { return flops_; }
  const std::vector<double>& bytes_accessed() const { return bytes_accessed_; }
  const std::vector<uint64_t>& output_bytes() const { return output_bytes_; }  // sum of the node's outputs
  // Parameter bytes owned by each node: a parameter belongs to its first consumer (lowest id) so totals add up.
  const std::vector<uint64_t>& parameter_bytes() const { return parameter_bytes_; }

  // Kahn's order, ties broken by node id: deterministic and, for ONNX (topologically sorted), the file order.
  const std::vector<NodeId>& topo_order() const { return topo_order_; }
  // Position of each node in topo_order().
  const std::vector<uint32_t>& topo_rank() const { return topo_rank_; }

  // FNV-1a over names, op types, roles, wiring, dtypes and shapes: the same model and binding hash the same on
  // every machine, and a placement file names the graph it was made for by this value.
  uint64_t hash() const { return hash_; }
  std::string hash_hex() const;

  NodeId FindNode(std::string_view name) const;      // kNone if absent
  TensorId FindTensor(std::string_view name) const;  // kNone if absent

  bool is_training() const { return is_training_; }
  uint64_t total_parameter_bytes() const;
  double total_flops() const;

 private:
  friend class GraphBuilder;
  std::vector<Node> nodes_;
  std::vector<Tensor> tensors_;
  std::vector<uint32_t> out_offsets_, in_offsets_, consumer_offsets_;
  std::vector<NodeId> out_nodes_, in_nodes_, consumer_nodes_;
  std::vector<uint64_t> out_bytes_, in_bytes_;
  std::vector<double> flops_, bytes_accessed_;
  std::vector<uint64_t> output_bytes_, parameter_bytes_;
  std::vector<NodeId> topo_order_;
  std::vector<uint32_t> topo_rank_;
  LazyNameIndex node_index_;    // set by Finalize, which checks names are unique with it
  LazyNameIndex tensor_index_;  // built on the first FindTensor
  uint64_t hash_ = 0;
  bool is_training_ = false;
};

// Bytes of a dense tensor; 0 when a dimension is unknown (negative).
uint64_t TensorBytes(DType dtype, const std::vector<int64_t>& shape);
int64_t NumElements(const std::vector<int64_t>& shape);

}  // namespace allot
