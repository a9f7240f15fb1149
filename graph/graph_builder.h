#pragma once
// The mutable phase of the IR: add tensors and nodes by name, then Finalize() validates (unique node names, one
// producer per tensor, no dangling input, no cycle) and freezes into a Graph. Errors name the source (a file
// path or "<generated>") and the node or tensor at fault.
#include <string>
#include <unordered_map>

#include "graph/graph.h"

namespace allot {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string source = "<graph>");
  // Starts from an existing graph's nodes and tensors (training synthesis extends a forward graph this way).
  explicit GraphBuilder(const Graph& base, std::string source = "<graph>");

  // Sizes the tables for a graph of about this many nodes and tensors (the importer knows them up front).
  void Reserve(size_t nodes, size_t tensors);
  // Returns the id of the tensor with this name, creating it (with no type yet) if new.
  TensorId Tensor(const std::string& name);
  // Appends a tensor whose name the caller knows to be new (the importer resolves names itself, without the
  // builder's string maps, which are then never built).
  TensorId NewTensor(std::string name);
  allot::Tensor& tensor(TensorId id) { return tensors_[id]; }
  const allot::Tensor& tensor(TensorId id) const { return tensors_[id]; }
  TensorId FindTensor(const std::string& name) const;
  // Sets dtype and shape and derives bytes.
  void SetType(TensorId id, DType dtype, std::vector<int64_t> shape);

  // Adds a node; its name must be unique (use UniqueNodeName for generated names).
  NodeId AddNode(Node node);
  // Adds a node whose name the caller knows to be unique; Finalize still verifies it.
  NodeId AddNodeUnchecked(Node node);
  Node& node(NodeId id) { return nodes_[id]; }
  size_t num_nodes() const { return nodes_.size(); }
  size_t num_tensors() const { return tensors_.size(); }
  bool HasNode(const std::string& name) const {
    EnsureIndexed();
    return node_names_.count(name) != 0;
  }
  // `base` if unused, else base__2, base__3, ...: deterministic for a given insertion order.
  std::string UniqueNodeName(const std::string& base) const;

  void set_training(bool training) { training_ = training; }
  const std::string& source() const { return source_; }

  // Validates and freezes. The builder is left empty.
  Graph Finalize();

 private:
  std::string source_;
  std::vector<Node> nodes_;
  std::vector<allot::Tensor> tensors_;
  // Name maps for the by-name calls, built on the first one and maintained from then on.
  void EnsureIndexed() const;
  mutable std::unordered_map<std::string, TensorId> tensor_ids_;
  mutable std::unordered_map<std::string, NodeId> node_names_;
  mutable bool indexed_ = false;
  bool training_ = false;
};

}  // namespace allot
