#pragma once
// allot's operator-graph IR. A Graph is built once (by the ONNX importer, the training-graph synthesis, the JSON
// cost-graph reader or a test) through a GraphBuilder, then frozen: node ids are dense 0..N-1, every per-node and
// per-tensor fact lives in a column (a flat array indexed by id), names live in one character arena, adjacency
// is CSR in both directions, and the topological order is computed once (the hash on first use). Graph::node and
// Graph::tensor return small views assembled from the columns. Every placer and the simulator read it millions
// of times, and the importer builds it with no allocation per node or tensor (list attributes aside); nothing
// here allocates after Finalize.
#include <algorithm>
#include <atomic>
#include <cstdint>
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
  Span() = default;
  Span(const T* f, const T* l) : first(f), last(l) {}
  Span(const std::vector<T>& v) : first(v.data()), last(v.data() + v.size()) {}  // NOLINT: implicit by design
  const T* begin() const { return first; }
  const T* end() const { return last; }
  size_t size() const { return static_cast<size_t>(last - first); }
  bool empty() const { return first == last; }
  const T& operator[](size_t i) const { return first[i]; }
  const T& front() const { return *first; }
  const T& back() const { return last[-1]; }
  std::vector<T> vec() const { return std::vector<T>(first, last); }
  friend bool operator==(Span a, Span b) { return std::equal(a.first, a.last, b.first, b.last); }
  friend bool operator!=(Span a, Span b) { return !(a == b); }
};

// Forward ops come from the model; gradient and update ops are synthesized for a training step and are always
// co-located with their forward op (TensorFlow's colocate_gradients_with_ops, the papers' setting).
enum class NodeRole : uint8_t { kForward = 0, kGradient = 1, kUpdate = 2 };
std::string_view NodeRoleName(NodeRole r);

// The attributes a cost model reads. Everything else of an ONNX node is dropped at import. A graph stores them
// only for the nodes that have any (most ops have none).
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
  bool is_default() const;
};

// The fixed-size facts of a tensor: what GraphBuilder::tensor() lets a builder set directly.
struct TensorInfo {
  DType dtype = DType::kUndefined;
  uint64_t bytes = 0;
  NodeId producer = kNone;      // kNone for graph inputs and parameters
  TensorId gradient_of = kNone; // for gradient tensors: the forward tensor
  bool is_parameter = false;    // trainable weight (an initializer, or an input marked "allot:parameter")
  bool is_constant = false;     // non-trainable initializer (shapes, indices, masks)
  bool is_graph_input = false;
  bool is_graph_output = false;
};

// A read-only view of one tensor of a Graph (Graph::tensor returns it by value): valid while the graph lives.
struct Tensor : TensorInfo {
  std::string_view name;
  Span<int64_t> shape;
};

// A read-only view of one node of a Graph (Graph::node returns it by value): valid while the graph lives.
struct Node {
  std::string_view name;
  std::string_view op_type;
  std::string_view domain;
  NodeRole role;
  NodeId forward;  // gradient/update ops: the forward op they are co-located with
  Span<TensorId> inputs;
  Span<TensorId> outputs;
  const OpAttrs& attrs;
  double flops;           // floating-point operations of one execution
  double bytes_accessed;  // bytes read and written from device memory (roofline's memory side)
  uint64_t state_bytes;   // resident memory besides parameters (optimizer state of update ops)
  bool known_op;          // false: the cost model had no formula and used the generic estimate
};

// What a builder adds as one node (GraphBuilder::AddNode); the Graph stores it column-wise.
struct NodeDef {
  std::string name;
  std::string op_type;
  std::string domain;
  NodeRole role = NodeRole::kForward;
  NodeId forward = kNone;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  OpAttrs attrs;
  double flops = 0;
  double bytes_accessed = 0;
  uint64_t state_bytes = 0;
  bool known_op = true;
};

class GraphBuilder;
class Graph;

// Iterates a graph's nodes or tensors as views: `for (const Node& node : g.nodes())`.
template <typename View, View (Graph::*Get)(uint32_t) const>
class ViewRange {
 public:
  class iterator {
   public:
    iterator(const Graph* g, uint32_t i) : g_(g), i_(i) {}
    View operator*() const { return (g_->*Get)(i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const Graph* g_;
    uint32_t i_;
  };
  ViewRange(const Graph* g, uint32_t n) : g_(g), n_(n) {}
  iterator begin() const { return {g_, 0}; }
  iterator end() const { return {g_, n_}; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  View operator[](uint32_t i) const { return (g_->*Get)(i); }

 private:
  const Graph* g_;
  uint32_t n_;
};

// A string in a graph's character arena.
struct StrRef {
  uint32_t offset = 0;
  uint32_t size = 0;
};

class Graph {
 public:
  Graph() = default;

  size_t num_nodes() const { return node_name_.size(); }
  size_t num_tensors() const { return tensor_info_.size(); }
  size_t num_edges() const { return out_nodes_.size(); }

  Node node(NodeId id) const {
    const uint32_t a = attrs_of_[id];
    return Node{str(node_name_[id]), str(symbols_[node_op_[id]]), str(symbols_[node_domain_[id]]), role_[id],
                forward_[id], {io_.data() + io_begin_[id], io_.data() + out_begin_[id]},
                {io_.data() + out_begin_[id], io_.data() + io_begin_[id + 1]}, a == kNone ? kDefaultAttrs : attrs_[a],
                flops_[id], bytes_accessed_[id], state_bytes_[id], known_op_[id] != 0};
  }
  Tensor tensor(TensorId id) const {
    Tensor t;
    static_cast<TensorInfo&>(t) = tensor_info_[id];
    t.name = str(tensor_name_[id]);
    t.shape = tensor_shape(id);
    return t;
  }
  ViewRange<Node, &Graph::node> nodes() const { return {this, static_cast<uint32_t>(num_nodes())}; }
  ViewRange<Tensor, &Graph::tensor> tensors() const { return {this, static_cast<uint32_t>(num_tensors())}; }
  // Column accessors for hot loops.
  std::string_view node_name(NodeId id) const { return str(node_name_[id]); }
  std::string_view op_type(NodeId id) const { return str(symbols_[node_op_[id]]); }
  // The op type interned: nodes with the same op type have the same small id (for per-op-type caches).
  uint32_t op_id(NodeId id) const { return node_op_[id]; }
  std::string_view tensor_name(TensorId id) const { return str(tensor_name_[id]); }
  const TensorInfo& tensor_info(TensorId id) const { return tensor_info_[id]; }
  Span<int64_t> tensor_shape(TensorId id) const {
    const StrRef s = shape_of_[id];
    return {dims_.data() + s.offset, dims_.data() + s.offset + s.size};
  }

  // Node-level edges: one per (producer, consumer) pair, weighted by the bytes of all tensors between them.
  Span<NodeId> successors(NodeId n) const { return {out_nodes_.data() + out_offsets_[n], out_nodes_.data() + out_offsets_[n + 1]}; }
  Span<uint64_t> successor_bytes(NodeId n) const { return {out_bytes_.data() + out_offsets_[n], out_bytes_.data() + out_offsets_[n + 1]}; }
  Span<NodeId> predecessors(NodeId n) const { return {in_nodes_.data() + in_offsets_[n], in_nodes_.data() + in_offsets_[n + 1]}; }
  Span<uint64_t> predecessor_bytes(NodeId n) const { return {in_bytes_.data() + in_offsets_[n], in_bytes_.data() + in_offsets_[n + 1]}; }
  // Tensor-level fan-out: the distinct nodes reading a tensor (a tensor crosses to each consuming device once).
  Span<NodeId> consumers(TensorId t) const { return {consumer_nodes_.data() + consumer_offsets_[t], consumer_nodes_.data() + consumer_offsets_[t + 1]}; }

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
  // every machine, and placement files, trained policies and checkpoints name the graph they were made for by
  // this value. Computed on first use (importing never needs it), then cached; safe from several threads.
  uint64_t hash() const;
  std::string hash_hex() const;

  NodeId FindNode(std::string_view name) const;      // kNone if absent
  TensorId FindTensor(std::string_view name) const;  // kNone if absent

  bool is_training() const { return is_training_; }
  uint64_t total_parameter_bytes() const;
  double total_flops() const;

 private:
  friend class GraphBuilder;
  static const OpAttrs kDefaultAttrs;
  std::string_view str(StrRef r) const { return {chars_.data() + r.offset, r.size}; }

  // Names: one character arena; op types and domains are interned symbols. Strings are offsets, not pointers,
  // so a Graph copies and moves as plain vectors and its name indexes stay valid.
  std::vector<char> chars_;
  std::vector<StrRef> symbols_;
  NameTable symbol_index_, node_index_, tensor_index_;

  // Nodes, column-wise. A node's inputs are io_[io_begin_[n], out_begin_[n]), its outputs
  // io_[out_begin_[n], io_begin_[n + 1]).
  std::vector<StrRef> node_name_;
  std::vector<uint32_t> node_op_, node_domain_;
  std::vector<NodeRole> role_;
  std::vector<NodeId> forward_;
  std::vector<uint32_t> io_begin_{0}, out_begin_;
  std::vector<TensorId> io_;
  std::vector<uint32_t> attrs_of_;  // index into attrs_, or kNone for the defaults
  std::vector<OpAttrs> attrs_;
  std::vector<double> flops_, bytes_accessed_;
  std::vector<uint64_t> state_bytes_;
  std::vector<uint8_t> known_op_;

  // Tensors, column-wise; a shape is dims_[offset, offset + size).
  std::vector<TensorInfo> tensor_info_;
  std::vector<StrRef> tensor_name_;
  std::vector<StrRef> shape_of_;
  std::vector<int64_t> dims_;

  // Derived by GraphBuilder::Finalize.
  std::vector<uint32_t> out_offsets_, in_offsets_, consumer_offsets_;
  std::vector<NodeId> out_nodes_, in_nodes_, consumer_nodes_;
  std::vector<uint64_t> out_bytes_, in_bytes_;
  std::vector<uint64_t> output_bytes_, parameter_bytes_;
  std::vector<NodeId> topo_order_;
  std::vector<uint32_t> topo_rank_;
  // The cached hash; 0 until computed. Copies carry it; a builder started from a graph clears it.
  class CachedHash {
   public:
    CachedHash() = default;
    CachedHash(const CachedHash& o) : value_(o.value_.load(std::memory_order_relaxed)) {}
    CachedHash& operator=(const CachedHash& o) {
      value_.store(o.value_.load(std::memory_order_relaxed), std::memory_order_relaxed);
      return *this;
    }
    std::atomic<uint64_t>& value() const { return value_; }

   private:
    mutable std::atomic<uint64_t> value_{0};
  };
  uint64_t ComputeHash() const;
  CachedHash hash_;
  bool is_training_ = false;
};

// Bytes of a dense tensor; 0 when a dimension is unknown (negative) or the size overflows 64 bits.
uint64_t TensorBytes(DType dtype, Span<int64_t> shape);
// The same, false when the size overflows 64 bits (importers refuse such a tensor).
bool CheckedTensorBytes(DType dtype, Span<int64_t> shape, uint64_t* bytes);
// Element count; -1 when a dimension is unknown (negative) or the count overflows int64.
int64_t NumElements(Span<int64_t> shape);

}  // namespace allot
