#include "graph/graph_builder.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <queue>
#include <utility>

#include "graph/error.h"

namespace allot {
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
void HashString(uint64_t& h, const std::string& s) {
  HashBytes(h, s.data(), s.size());
  HashBytes(h, "\0", 1);  // separator: ("ab","c") and ("a","bc") must differ
}
void HashInt(uint64_t& h, int64_t v) { HashBytes(h, &v, sizeof v); }

}  // namespace

GraphBuilder::GraphBuilder(std::string source) : source_(std::move(source)) {}

GraphBuilder::GraphBuilder(const Graph& base, std::string source)
    : source_(std::move(source)), nodes_(base.nodes()), tensors_(base.tensors()), training_(base.is_training()) {}

void GraphBuilder::EnsureIndexed() const {
  if (indexed_) return;
  indexed_ = true;
  tensor_ids_.reserve(tensors_.size());
  for (TensorId t = 0; t < tensors_.size(); ++t) tensor_ids_.emplace(tensors_[t].name, t);
  node_names_.reserve(nodes_.size());
  for (NodeId n = 0; n < nodes_.size(); ++n) node_names_.emplace(nodes_[n].name, n);
}

TensorId GraphBuilder::NewTensor(std::string name) {
  const TensorId id = static_cast<TensorId>(tensors_.size());
  if (indexed_) tensor_ids_.emplace(name, id);
  tensors_.emplace_back();
  tensors_.back().name = std::move(name);
  return id;
}

TensorId GraphBuilder::Tensor(const std::string& name) {
  EnsureIndexed();
  // find before emplace: emplace builds the key string even when the name exists, and most calls find it.
  auto it = tensor_ids_.find(name);
  if (it != tensor_ids_.end()) return it->second;
  const TensorId id = static_cast<TensorId>(tensors_.size());
  tensor_ids_.emplace(name, id);
  tensors_.emplace_back();
  tensors_.back().name = name;
  return id;
}

void GraphBuilder::Reserve(size_t nodes, size_t tensors) {
  nodes_.reserve(nodes);
  tensors_.reserve(tensors);
}

TensorId GraphBuilder::FindTensor(const std::string& name) const {
  EnsureIndexed();
  auto it = tensor_ids_.find(name);
  return it == tensor_ids_.end() ? kNone : it->second;
}

void GraphBuilder::SetType(TensorId id, DType dtype, std::vector<int64_t> shape) {
  allot::Tensor& t = tensors_[id];
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = TensorBytes(t.dtype, t.shape);
}

std::string GraphBuilder::UniqueNodeName(const std::string& base) const {
  EnsureIndexed();
  if (!node_names_.count(base)) return base;
  for (int k = 2;; ++k) {
    std::string candidate = base + "__" + std::to_string(k);
    if (!node_names_.count(candidate)) return candidate;
  }
}

NodeId GraphBuilder::AddNode(Node node) {
  EnsureIndexed();
  const NodeId id = static_cast<NodeId>(nodes_.size());
  if (!node_names_.emplace(node.name, id).second) throw Error(source_ + ": duplicate node name '" + node.name + "'");
  nodes_.push_back(std::move(node));
  return id;
}

NodeId GraphBuilder::AddNodeUnchecked(Node node) {
  const NodeId id = static_cast<NodeId>(nodes_.size());
  if (indexed_) node_names_.emplace(node.name, id);
  nodes_.push_back(std::move(node));
  return id;
}

Graph GraphBuilder::Finalize() {
  Graph g;
  const size_t n_nodes = nodes_.size();
  const size_t n_tensors = tensors_.size();

  // Producers.
  for (allot::Tensor& t : tensors_) t.producer = kNone;
  for (NodeId n = 0; n < n_nodes; ++n) {
    for (TensorId t : nodes_[n].outputs) {
      allot::Tensor& tensor = tensors_[t];
      if (tensor.producer != kNone && tensor.producer != n)
        throw Error(source_ + ": tensor '" + tensor.name + "' is produced by both node '" +
                    nodes_[tensor.producer].name + "' and node '" + nodes_[n].name + "'");
      if (tensor.is_parameter || tensor.is_constant || tensor.is_graph_input)
        throw Error(source_ + ": node '" + nodes_[n].name + "' writes tensor '" + tensor.name +
                    "', which is a graph input or initializer");
      tensor.producer = n;
    }
  }

  // Dangling inputs and tensor consumers (distinct, in node-id order).
  g.consumer_offsets_.assign(n_tensors + 1, 0);
  std::vector<NodeId> last_reader(n_tensors, kNone);
  for (NodeId n = 0; n < n_nodes; ++n) {
    for (TensorId t : nodes_[n].inputs) {
      const allot::Tensor& tensor = tensors_[t];
      if (tensor.producer == kNone && !tensor.is_graph_input && !tensor.is_parameter && !tensor.is_constant)
        throw Error(source_ + ": node '" + nodes_[n].name + "' reads tensor '" + tensor.name +
                    "', which no node produces and is neither a graph input nor an initializer (dangling input)");
      if (last_reader[t] != n) {
        last_reader[t] = n;
        ++g.consumer_offsets_[t + 1];
      }
    }
  }
  for (size_t t = 0; t < n_tensors; ++t) g.consumer_offsets_[t + 1] += g.consumer_offsets_[t];
  g.consumer_nodes_.resize(g.consumer_offsets_[n_tensors]);
  {
    std::vector<uint32_t> fill(g.consumer_offsets_.begin(), g.consumer_offsets_.end() - 1);
    std::fill(last_reader.begin(), last_reader.end(), kNone);
    for (NodeId n = 0; n < n_nodes; ++n)
      for (TensorId t : nodes_[n].inputs)
        if (last_reader[t] != n) {
          last_reader[t] = n;
          g.consumer_nodes_[fill[t]++] = n;
        }
  }

  // In-edges, merged per producer; then out-edges by transposition (successors come out sorted by id).
  g.in_offsets_.assign(n_nodes + 1, 0);
  g.in_nodes_.reserve(n_nodes * 2);
  g.in_bytes_.reserve(n_nodes * 2);
  std::vector<TensorId> ins;
  std::vector<std::pair<NodeId, uint64_t>> preds;
  for (NodeId n = 0; n < n_nodes; ++n) {
    ins.assign(nodes_[n].inputs.begin(), nodes_[n].inputs.end());
    std::sort(ins.begin(), ins.end());
    ins.erase(std::unique(ins.begin(), ins.end()), ins.end());
    preds.clear();
    for (TensorId t : ins) {
      const NodeId p = tensors_[t].producer;
      if (p == kNone) continue;
      if (p == n) throw Error(source_ + ": cycle: node '" + nodes_[n].name + "' reads its own output '" +
                              tensors_[t].name + "'");
      preds.emplace_back(p, tensors_[t].bytes);
    }
    std::sort(preds.begin(), preds.end());
    for (size_t i = 0; i < preds.size();) {
      uint64_t bytes = 0;
      size_t j = i;
      for (; j < preds.size() && preds[j].first == preds[i].first; ++j) bytes += preds[j].second;
      g.in_nodes_.push_back(preds[i].first);
      g.in_bytes_.push_back(bytes);
      i = j;
    }
    g.in_offsets_[n + 1] = static_cast<uint32_t>(g.in_nodes_.size());
  }
  const size_t n_edges = g.in_nodes_.size();
  g.out_offsets_.assign(n_nodes + 1, 0);
  for (NodeId p : g.in_nodes_) ++g.out_offsets_[p + 1];
  for (size_t n = 0; n < n_nodes; ++n) g.out_offsets_[n + 1] += g.out_offsets_[n];
  g.out_nodes_.resize(n_edges);
  g.out_bytes_.resize(n_edges);
  {
    std::vector<uint32_t> fill(g.out_offsets_.begin(), g.out_offsets_.end() - 1);
    for (NodeId n = 0; n < n_nodes; ++n)
      for (uint32_t e = g.in_offsets_[n]; e < g.in_offsets_[n + 1]; ++e) {
        const uint32_t slot = fill[g.in_nodes_[e]]++;
        g.out_nodes_[slot] = n;
        g.out_bytes_[slot] = g.in_bytes_[e];
      }
  }

  // Topological order: Kahn's algorithm, smallest ready id first.
  std::vector<uint32_t> indegree(n_nodes);
  for (size_t n = 0; n < n_nodes; ++n) indegree[n] = g.in_offsets_[n + 1] - g.in_offsets_[n];
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<NodeId>> ready;
  for (NodeId n = 0; n < n_nodes; ++n)
    if (indegree[n] == 0) ready.push(n);
  g.topo_order_.reserve(n_nodes);
  while (!ready.empty()) {
    const NodeId n = ready.top();
    ready.pop();
    g.topo_order_.push_back(n);
    for (uint32_t e = g.out_offsets_[n]; e < g.out_offsets_[n + 1]; ++e)
      if (--indegree[g.out_nodes_[e]] == 0) ready.push(g.out_nodes_[e]);
  }
  if (g.topo_order_.size() != n_nodes) {
    // Walk back along unfinished predecessors until a node repeats: that walk closes a cycle.
    NodeId start = 0;
    while (indegree[start] == 0) ++start;
    std::vector<uint32_t> seen_at(n_nodes, kNone);
    std::vector<NodeId> walk;
    NodeId cur = start;
    while (seen_at[cur] == kNone) {
      seen_at[cur] = static_cast<uint32_t>(walk.size());
      walk.push_back(cur);
      for (uint32_t e = g.in_offsets_[cur]; e < g.in_offsets_[cur + 1]; ++e)
        if (indegree[g.in_nodes_[e]] != 0) {
          cur = g.in_nodes_[e];
          break;
        }
    }
    std::string names;
    for (size_t i = walk.size(); i-- > seen_at[cur];) {
      names += "'" + nodes_[walk[i]].name + "' -> ";
      if (names.size() > 300) { names += "... -> "; break; }
    }
    names += "'" + nodes_[cur].name + "'";
    throw Error(source_ + ": the graph has a cycle: " + names);
  }
  g.topo_rank_.resize(n_nodes);
  for (uint32_t i = 0; i < n_nodes; ++i) g.topo_rank_[g.topo_order_[i]] = i;

  // Flat per-node arrays.
  g.flops_.resize(n_nodes);
  g.bytes_accessed_.resize(n_nodes);
  g.output_bytes_.assign(n_nodes, 0);
  g.parameter_bytes_.assign(n_nodes, 0);
  for (NodeId n = 0; n < n_nodes; ++n) {
    g.flops_[n] = nodes_[n].flops;
    g.bytes_accessed_[n] = nodes_[n].bytes_accessed;
    for (TensorId t : nodes_[n].outputs) g.output_bytes_[n] += tensors_[t].bytes;
  }
  for (TensorId t = 0; t < n_tensors; ++t)
    if (tensors_[t].is_parameter && g.consumer_offsets_[t + 1] > g.consumer_offsets_[t])
      g.parameter_bytes_[g.consumer_nodes_[g.consumer_offsets_[t]]] += tensors_[t].bytes;

  // Hash.
  uint64_t h = kFnvOffset;
  for (const Node& node : nodes_) {
    HashString(h, node.name);
    HashString(h, node.op_type);
    HashInt(h, static_cast<int64_t>(node.role));
    for (TensorId t : node.inputs) HashString(h, tensors_[t].name);
    HashInt(h, -1);
    for (TensorId t : node.outputs) HashString(h, tensors_[t].name);
    HashInt(h, -2);
  }
  for (const allot::Tensor& t : tensors_) {
    HashInt(h, static_cast<int64_t>(t.dtype));
    for (int64_t d : t.shape) HashInt(h, d);
    HashInt(h, t.is_parameter ? -3 : -4);
  }
  g.hash_ = h;

  g.nodes_ = std::move(nodes_);  // moves the buffer: the strings stay where they are, so views into them hold
  NameTable node_table;
  node_table.Reserve(n_nodes);
  for (NodeId n = 0; n < n_nodes; ++n)
    if (node_table.Insert(g.nodes_[n].name, n) != n)
      throw Error(source_ + ": duplicate node name '" + g.nodes_[n].name + "'");
  g.node_index_.Set(std::move(node_table));
  g.tensors_ = std::move(tensors_);
  g.is_training_ = training_;
  nodes_.clear();
  tensors_.clear();
  tensor_ids_.clear();
  node_names_.clear();
  indexed_ = false;
  return g;
}

}  // namespace allot
