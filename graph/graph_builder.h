#pragma once
// The mutable phase of the IR: add tensors and nodes, then Finalize() validates (unique node names, one producer
// per tensor, no dangling input, no cycle) and freezes into a Graph. The builder writes the Graph's columns
// directly (no per-node objects), so the importer's cost is a few array appends and name-index probes per node.
// Errors name the source (a file path or "<generated>") and the node or tensor at fault.
#include <initializer_list>
#include <string>

#include "graph/graph.h"

namespace allot {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string source = "<graph>");
  // Starts from an existing graph's nodes and tensors (training synthesis extends a forward graph this way).
  explicit GraphBuilder(const Graph& base, std::string source = "<graph>");

  // Sizes the columns for a graph of about this many nodes, tensors and name characters.
  void Reserve(size_t nodes, size_t tensors, size_t name_chars = 0);

  // The id of the tensor with this name, creating it (with no type yet) if new.
  TensorId Tensor(std::string_view name) { return Tensor(name, NameTable::Hash(name)); }
  // The same with the name's NameTable::Hash precomputed, after PrefetchTensor(hash) some work earlier. Inline:
  // the importer resolves every tensor reference here, and most find a tensor already there.
  TensorId Tensor(std::string_view name, uint32_t hash) {
    const auto fresh = static_cast<TensorId>(g_.num_tensors());
    const TensorId id =
        g_.tensor_index_.FindOrInsert(name, hash, fresh, [this](uint32_t t) { return g_.str(g_.tensor_name_[t]); });
    if (id == fresh) AddTensorColumns(name);
    return id;
  }
  // Starts loading the index slot Tensor(name, hash) will probe first.
  void PrefetchTensor(uint32_t hash) const { g_.tensor_index_.Prefetch(hash); }
  void PrefetchNode(uint32_t hash) const { g_.node_index_.Prefetch(hash); }
  TensorId FindTensor(std::string_view name) const;  // kNone if absent
  // The tensor's fixed-size facts, to set flags; names and shapes go through Tensor() and SetType().
  TensorInfo& tensor(TensorId id) { return g_.tensor_info_[id]; }
  // Sets dtype and shape and derives bytes.
  void SetType(TensorId id, DType dtype, Span<int64_t> shape);
  void SetType(TensorId id, DType dtype, std::initializer_list<int64_t> shape) {
    SetType(id, dtype, Span<int64_t>(shape.begin(), shape.end()));
  }

  // Adds a node; its name must be unique (use UniqueNodeName for generated names).
  NodeId AddNode(const NodeDef& node);
  // Adds a node named `name`, or `name__2`, `name__3`, ... if taken (the importer's rule for clashing names);
  // its role is forward, its attributes default and its work zero until set below.
  NodeId AppendNode(std::string_view name, std::string_view op_type, std::string_view domain, Span<TensorId> inputs,
                    Span<TensorId> outputs) {
    return AppendNode(name, NameTable::Hash(name), op_type, domain, inputs, outputs);
  }
  NodeId AppendNode(std::string_view name, uint32_t name_hash, std::string_view op_type, std::string_view domain,
                    Span<TensorId> inputs, Span<TensorId> outputs);
  void SetWork(NodeId id, double flops, double bytes_accessed, bool known_op);
  void SetAttrs(NodeId id, const OpAttrs& attrs);

  size_t num_nodes() const { return g_.num_nodes(); }
  size_t num_tensors() const { return g_.num_tensors(); }
  bool HasNode(std::string_view name) const { return g_.FindNode(name) != kNone; }
  // `base` if unused, else base__2, base__3, ...: deterministic for a given insertion order.
  std::string UniqueNodeName(std::string_view base) const;

  // The graph so far, to read back what was added (its views are invalidated by the next addition; CSR,
  // order and hash exist only after Finalize).
  const Graph& graph() const { return g_; }

  void set_training(bool training) { g_.is_training_ = training; }
  const std::string& source() const { return source_; }

  // Validates and freezes. The builder is left empty.
  Graph Finalize();

 private:
  [[noreturn]] void SizeOverflow(TensorId id, Span<int64_t> shape) const;
  StrRef Store(std::string_view s);
  void AddTensorColumns(std::string_view name);
  uint32_t Symbol(std::string_view s);
  NodeId AppendColumns(StrRef name, std::string_view op_type, std::string_view domain, Span<TensorId> inputs,
                       Span<TensorId> outputs);
  std::string source_;
  Graph g_;
};

}  // namespace allot
