#include "graph/graph_builder.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <queue>
#include <utility>

#include "graph/error.h"

namespace allot {
namespace {

// True when p points into v: appending to v may move what p points at, so the caller copies first.
template <typename T>
bool PointsInto(const T* p, const std::vector<T>& v) {
  return !v.empty() && p >= v.data() && p < v.data() + v.size();
}

}  // namespace

GraphBuilder::GraphBuilder(std::string source) : source_(std::move(source)) {}

GraphBuilder::GraphBuilder(const Graph& base, std::string source) : source_(std::move(source)), g_(base) {}

void GraphBuilder::Reserve(size_t nodes, size_t tensors, size_t name_chars) {
  g_.chars_.reserve(g_.chars_.size() + name_chars);
  g_.node_index_.Reserve(g_.num_nodes() + nodes);
  g_.tensor_index_.Reserve(g_.num_tensors() + tensors);
  const size_t n = g_.num_nodes() + nodes, t = g_.num_tensors() + tensors;
  g_.node_name_.reserve(n);
  g_.node_op_.reserve(n);
  g_.node_domain_.reserve(n);
  g_.role_.reserve(n);
  g_.forward_.reserve(n);
  g_.io_begin_.reserve(n + 1);
  g_.out_begin_.reserve(n);
  g_.io_.reserve(g_.io_.size() + 3 * nodes);
  g_.attrs_of_.reserve(n);
  g_.flops_.reserve(n);
  g_.bytes_accessed_.reserve(n);
  g_.state_bytes_.reserve(n);
  g_.known_op_.reserve(n);
  g_.tensor_info_.reserve(t);
  g_.tensor_name_.reserve(t);
  g_.shape_of_.reserve(t);
  g_.dims_.reserve(g_.dims_.size() + 2 * tensors);
}

StrRef GraphBuilder::Store(std::string_view s) {
  std::vector<char>& chars = g_.chars_;
  if (PointsInto(s.data(), chars)) return Store(std::string(s));
  if (chars.size() + s.size() > 0xffffffffull) throw Error(source_ + ": more than 4 GiB of names");
  const StrRef r{static_cast<uint32_t>(chars.size()), static_cast<uint32_t>(s.size())};
  chars.insert(chars.end(), s.begin(), s.end());
  return r;
}

uint32_t GraphBuilder::Symbol(std::string_view s) {
  auto key_of = [this](uint32_t i) { return g_.str(g_.symbols_[i]); };
  const uint32_t h = NameTable::Hash(s);
  const uint32_t found = g_.symbol_index_.Find(s, h, key_of);
  if (found != NameTable::kMissing) return found;
  const auto id = static_cast<uint32_t>(g_.symbols_.size());
  g_.symbols_.push_back(Store(s));
  g_.symbol_index_.FindOrInsert(s, h, id, key_of);
  return id;
}

[[gnu::flatten]] void GraphBuilder::AddTensorColumns(std::string_view name) {
  g_.tensor_name_.push_back(Store(name));
  g_.tensor_info_.emplace_back();
  g_.shape_of_.emplace_back();
}

TensorId GraphBuilder::FindTensor(std::string_view name) const { return g_.FindTensor(name); }

[[gnu::flatten]] void GraphBuilder::SetType(TensorId id, DType dtype, Span<int64_t> shape) {
  std::vector<int64_t>& dims = g_.dims_;
  if (PointsInto(shape.first, dims)) return SetType(id, dtype, shape.vec());
  StrRef& ref = g_.shape_of_[id];
  if (ref.size != shape.size()) {
    ref = StrRef{static_cast<uint32_t>(dims.size()), static_cast<uint32_t>(shape.size())};
    dims.resize(dims.size() + shape.size());
  }
  std::copy(shape.begin(), shape.end(), dims.begin() + ref.offset);
  TensorInfo& t = g_.tensor_info_[id];
  t.dtype = dtype;
  if (!CheckedTensorBytes(dtype, shape, &t.bytes)) SizeOverflow(id, shape);
}

void GraphBuilder::SizeOverflow(TensorId id, Span<int64_t> shape) const {
  std::string dims;
  for (int64_t d : shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
  throw Error(source_ + ": tensor '" + std::string(g_.tensor_name(id)) + "' (" + dims +
              "): its size overflows 64 bits");
}

// Flattened, as are the other per-node and per-tensor appends: GCC otherwise calls out of line for each
// push_back, and these run once per node of a 100k-node import (measured: AppendNode 5.4 -> 4.1 ms there).
[[gnu::flatten]] NodeId GraphBuilder::AppendColumns(StrRef name, std::string_view op_type, std::string_view domain,
                                                    Span<TensorId> inputs, Span<TensorId> outputs) {
  if (PointsInto(inputs.first, g_.io_) || PointsInto(outputs.first, g_.io_))  // another node's wiring
    return AppendColumns(name, op_type, domain, inputs.vec(), outputs.vec());
  const auto id = static_cast<NodeId>(g_.num_nodes());
  g_.node_name_.push_back(name);
  g_.node_op_.push_back(Symbol(op_type));
  g_.node_domain_.push_back(Symbol(domain));
  g_.role_.push_back(NodeRole::kForward);
  g_.forward_.push_back(kNone);
  g_.io_.insert(g_.io_.end(), inputs.begin(), inputs.end());
  g_.out_begin_.push_back(static_cast<uint32_t>(g_.io_.size()));
  g_.io_.insert(g_.io_.end(), outputs.begin(), outputs.end());
  g_.io_begin_.push_back(static_cast<uint32_t>(g_.io_.size()));
  g_.attrs_of_.push_back(kNone);
  g_.flops_.push_back(0);
  g_.bytes_accessed_.push_back(0);
  g_.state_bytes_.push_back(0);
  g_.known_op_.push_back(1);
  return id;
}

NodeId GraphBuilder::AddNode(const NodeDef& node) {
  const auto fresh = static_cast<NodeId>(g_.num_nodes());
  const NodeId id = g_.node_index_.FindOrInsert(node.name, NameTable::Hash(node.name), fresh,
                                                [this](uint32_t n) { return g_.str(g_.node_name_[n]); });
  if (id != fresh) throw Error(source_ + ": duplicate node name '" + node.name + "'");
  AppendColumns(Store(node.name), node.op_type, node.domain, node.inputs, node.outputs);
  g_.role_[id] = node.role;
  g_.forward_[id] = node.forward;
  g_.state_bytes_[id] = node.state_bytes;
  SetAttrs(id, node.attrs);
  SetWork(id, node.flops, node.bytes_accessed, node.known_op);
  return id;
}

NodeId GraphBuilder::AppendNode(std::string_view name, uint32_t name_hash, std::string_view op_type,
                                std::string_view domain, Span<TensorId> inputs, Span<TensorId> outputs) {
  const auto fresh = static_cast<NodeId>(g_.num_nodes());
  auto key_of = [this](uint32_t n) { return g_.str(g_.node_name_[n]); };
  if (g_.node_index_.FindOrInsert(name, name_hash, fresh, key_of) == fresh)
    return AppendColumns(Store(name), op_type, domain, inputs, outputs);
  const std::string unique = UniqueNodeName(name);
  g_.node_index_.FindOrInsert(unique, NameTable::Hash(unique), fresh, key_of);
  return AppendColumns(Store(unique), op_type, domain, inputs, outputs);
}

void GraphBuilder::SetWork(NodeId id, double flops, double bytes_accessed, bool known_op) {
  g_.flops_[id] = flops;
  g_.bytes_accessed_[id] = bytes_accessed;
  g_.known_op_[id] = known_op ? 1 : 0;
}

void GraphBuilder::SetAttrs(NodeId id, const OpAttrs& attrs) {
  if (attrs.is_default()) {
    g_.attrs_of_[id] = kNone;
    return;
  }
  if (g_.attrs_of_[id] == kNone) {
    g_.attrs_of_[id] = static_cast<uint32_t>(g_.attrs_.size());
    g_.attrs_.push_back(attrs);
  } else {
    g_.attrs_[g_.attrs_of_[id]] = attrs;
  }
}

std::string GraphBuilder::UniqueNodeName(std::string_view base) const {
  if (!HasNode(base)) return std::string(base);
  for (int k = 2;; ++k) {
    std::string candidate = std::string(base) + "__" + std::to_string(k);
    if (!HasNode(candidate)) return candidate;
  }
}

Graph GraphBuilder::Finalize() {
  Graph g = std::move(g_);
  g_ = Graph();
  const size_t n_nodes = g.num_nodes();
  const size_t n_tensors = g.num_tensors();
  std::vector<TensorInfo>& info = g.tensor_info_;
  auto inputs = [&g](NodeId n) { return Span<TensorId>(g.io_.data() + g.io_begin_[n], g.io_.data() + g.out_begin_[n]); };
  auto outputs = [&g](NodeId n) { return Span<TensorId>(g.io_.data() + g.out_begin_[n], g.io_.data() + g.io_begin_[n + 1]); };
  auto node_name = [&g](NodeId n) { return std::string(g.node_name(n)); };
  auto tensor_name = [&g](TensorId t) { return std::string(g.tensor_name(t)); };

  // Producers.
  for (TensorInfo& t : info) t.producer = kNone;
  for (NodeId n = 0; n < n_nodes; ++n) {
    for (TensorId t : outputs(n)) {
      TensorInfo& tensor = info[t];
      if (tensor.producer != kNone && tensor.producer != n)
        throw Error(source_ + ": tensor '" + tensor_name(t) + "' is produced by both node '" +
                    node_name(tensor.producer) + "' and node '" + node_name(n) + "'");
      if (tensor.is_parameter || tensor.is_constant || tensor.is_graph_input)
        throw Error(source_ + ": node '" + node_name(n) + "' writes tensor '" + tensor_name(t) +
                    "', which is a graph input or initializer");
      tensor.producer = n;
    }
  }

  // A graph output must come from somewhere: a file may declare an output's type with nothing producing it.
  for (TensorId t = 0; t < n_tensors; ++t) {
    const TensorInfo& tensor = info[t];
    if (tensor.is_graph_output && tensor.producer == kNone && !tensor.is_graph_input && !tensor.is_parameter &&
        !tensor.is_constant)
      throw Error(source_ + ": graph output '" + tensor_name(t) +
                  "' is produced by no node and is neither a graph input nor an initializer");
  }

  // Dangling inputs and tensor consumers (distinct, in node-id order).
  g.consumer_offsets_.assign(n_tensors + 1, 0);
  std::vector<NodeId> last_reader(n_tensors, kNone);
  for (NodeId n = 0; n < n_nodes; ++n) {
    for (TensorId t : inputs(n)) {
      const TensorInfo& tensor = info[t];
      if (tensor.producer == kNone && !tensor.is_graph_input && !tensor.is_parameter && !tensor.is_constant)
        throw Error(source_ + ": node '" + node_name(n) + "' reads tensor '" + tensor_name(t) +
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
      for (TensorId t : inputs(n))
        if (last_reader[t] != n) {
          last_reader[t] = n;
          g.consumer_nodes_[fill[t]++] = n;
        }
  }

  // In-edges, merged per producer; then out-edges by transposition (successors come out sorted by id).
  g.in_offsets_.assign(n_nodes + 1, 0);
  g.in_nodes_.clear();  // a builder started from a graph holds that graph's edges
  g.in_bytes_.clear();
  g.in_nodes_.reserve(n_nodes * 2);
  g.in_bytes_.reserve(n_nodes * 2);
  std::vector<std::pair<NodeId, uint64_t>> preds;
  bool forward_only = true;  // every edge goes from a lower id to a higher one: the order is already topological
  std::fill(last_reader.begin(), last_reader.end(), kNone);
  for (NodeId n = 0; n < n_nodes; ++n) {
    preds.clear();
    for (TensorId t : inputs(n)) {
      if (last_reader[t] == n) continue;  // a tensor read twice counts once
      last_reader[t] = n;
      const NodeId p = info[t].producer;
      if (p == kNone) continue;
      if (p == n) throw Error(source_ + ": cycle: node '" + node_name(n) + "' reads its own output '" +
                              tensor_name(t) + "'");
      forward_only &= p < n;
      preds.emplace_back(p, info[t].bytes);
    }
    if (preds.size() > 1) std::sort(preds.begin(), preds.end());
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

  // Topological order: Kahn's algorithm, smallest ready id first (which is the id order when every edge goes
  // forward, as in any ONNX file).
  g.topo_order_.resize(n_nodes);
  if (forward_only) {
    for (NodeId n = 0; n < n_nodes; ++n) g.topo_order_[n] = n;
  } else {
    g.topo_order_.clear();
    std::vector<uint32_t> indegree(n_nodes);
    for (size_t n = 0; n < n_nodes; ++n) indegree[n] = g.in_offsets_[n + 1] - g.in_offsets_[n];
    std::priority_queue<NodeId, std::vector<NodeId>, std::greater<NodeId>> ready;
    for (NodeId n = 0; n < n_nodes; ++n)
      if (indegree[n] == 0) ready.push(n);
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
        names += "'" + node_name(walk[i]) + "' -> ";
        if (names.size() > 300) { names += "... -> "; break; }
      }
      names += "'" + node_name(cur) + "'";
      throw Error(source_ + ": the graph has a cycle: " + names);
    }
  }
  g.topo_rank_.resize(n_nodes);
  for (uint32_t i = 0; i < n_nodes; ++i) g.topo_rank_[g.topo_order_[i]] = i;

  // Flat per-node sums.
  g.output_bytes_.assign(n_nodes, 0);
  g.parameter_bytes_.assign(n_nodes, 0);
  for (NodeId n = 0; n < n_nodes; ++n)
    for (TensorId t : outputs(n)) g.output_bytes_[n] += info[t].bytes;
  for (TensorId t = 0; t < n_tensors; ++t)
    if (info[t].is_parameter && g.consumer_offsets_[t + 1] > g.consumer_offsets_[t])
      g.parameter_bytes_[g.consumer_nodes_[g.consumer_offsets_[t]]] += info[t].bytes;

  g.hash_.value().store(0);  // a builder started from a graph copied its hash
  return g;
}

}  // namespace allot
