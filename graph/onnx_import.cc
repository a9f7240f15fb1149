#include "graph/onnx_import.h"
#include "graph/onnx_limits.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "graph/error.h"
#include "graph/external_data.h"
#include "graph/file_io.h"
#include "graph/graph_builder.h"
#include "graph/name_table.h"
#include "graph/onnx_wire.h"
#include "graph/op_work.h"
#include "graph/shape_inference.h"

namespace allot {
namespace {

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool LooksLikeBatch(const std::string& name) {
  const std::string l = Lower(name);
  return l == "n" || l == "b" || l == "bs" || l.find("batch") != std::string::npos;
}
bool LooksLikeSequence(const std::string& name) {
  const std::string l = Lower(name);
  for (const char* key : {"seq", "len", "time", "step", "token"})
    if (l.find(key) != std::string::npos) return true;
  return false;
}

// Binds symbolic dims of the graph inputs; inference then propagates them. True when it bound any.
bool BindInputDims(onnx::GraphProto& graph, const ImportOptions& opt) {
  bool bound = false;
  std::map<std::string, int64_t> explicit_dims(opt.dims.begin(), opt.dims.end());
  for (auto& input : *graph.mutable_input()) {
    if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape()) continue;
    auto* shape = input.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (int i = 0; i < shape->dim_size(); ++i) {
      auto* dim = shape->mutable_dim(i);
      if (dim->has_dim_value()) continue;
      const std::string param = dim->has_dim_param() ? dim->dim_param() : "";
      int64_t value = 0;
      if (auto it = explicit_dims.find(param); !param.empty() && it != explicit_dims.end()) value = it->second;
      else if (opt.seq > 0 && !param.empty() && LooksLikeSequence(param)) value = opt.seq;
      else if (opt.batch > 0 && (i == 0 || LooksLikeBatch(param))) value = opt.batch;
      if (value > 0) {
        dim->set_dim_value(value);
        bound = true;
      }
    }
  }
  return bound;
}

using WireType = onnx_wire::Type;

bool Complete(const WireType& t) {
  return t.is_tensor && t.has_shape && std::none_of(t.dims.begin(), t.dims.end(), [](int64_t d) { return d < 0; });
}

// A part of the model's bytes the wire reader (onnx_wire.h) could not decode. Protobuf parses the same bytes, and
// where it accepted what the reader did not (a model whose graph field is given twice, which protobuf merges),
// Import builds again from the parsed model; otherwise this is the error, naming the part, never a crash.
struct MalformedBytes : Error {
  using Error::Error;
};
[[noreturn]] void Malformed(const std::string& source, const std::string& what) {
  throw MalformedBytes(source + ": malformed protobuf in " + what);
}

void ApplyAttribute(const onnx_wire::Attribute& attr, OpAttrs& a) {
  const std::string_view n = attr.name;  // a view compares sizes first: most names fail on that
  if (n == "kernel_shape") a.kernel_shape = attr.ints;
  else if (n == "strides") a.strides = attr.ints;
  else if (n == "pads") a.pads = attr.ints;
  else if (n == "dilations") a.dilations = attr.ints;
  else if (n == "group") a.group = attr.i;
  else if (n == "axis") a.axis = attr.i;
  else if (n == "transA") a.trans_a = attr.i != 0;
  else if (n == "transB") a.trans_b = attr.i != 0;
  else if (n == "hidden_size") a.hidden_size = attr.i;
}

// Decodes a node's attributes one at a time into `scratch`, calling f(attribute) for each.
template <typename F>
void ForEachAttribute(const onnx_wire::Node& node, onnx_wire::Attribute& scratch, const std::string& source, F f) {
  for (std::string_view bytes : node.attributes) {
    if (!onnx_wire::ReadAttribute(bytes, scratch)) Malformed(source, "an attribute of node '" + std::string(node.name) + "'");
    f(scratch);
  }
}

void ReadAttrs(const onnx_wire::Node& node, OpAttrs& a, onnx_wire::Attribute& scratch, const std::string& source) {
  ForEachAttribute(node, scratch, source, [&a](const onnx_wire::Attribute& attr) { ApplyAttribute(attr, a); });
}

// Shapes visible in one scope (a graph or a control-flow body), chained to the enclosing scope. Only control flow
// needs name-level lookups, and bodies are small: each entry owns its name and shape.
class Scope {
 public:
  Scope(const onnx_wire::Graph& g, const Scope* parent, const std::string& source) : parent_(parent) {
    onnx_wire::ValueInfo vi;
    for (const auto* values : {&g.inputs, &g.value_infos, &g.outputs})
      for (std::string_view bytes : *values) {
        if (!onnx_wire::ReadValueInfo(bytes, vi)) Malformed(source, "a value_info of a control-flow body");
        if (Complete(vi.type)) Set(vi.name, static_cast<DType>(vi.type.elem_type), vi.type.dims);
        else Set(vi.name, static_cast<DType>(vi.type.elem_type), {}, /*known=*/false);
      }
    onnx_wire::TensorMeta init;
    for (std::string_view bytes : g.initializers) {
      if (!onnx_wire::ReadTensor(bytes, init)) Malformed(source, "an initializer of a control-flow body");
      Set(init.name, static_cast<DType>(init.data_type), init.dims);
    }
  }
  const Tensor* Find(std::string_view name) const {
    auto it = tensors_.find(std::string(name));
    if (it != tensors_.end()) return &it->second.view;
    return parent_ ? parent_->Find(name) : nullptr;
  }

 private:
  struct Entry {
    std::vector<int64_t> shape;
    Tensor view;
  };
  void Set(std::string_view name, DType dtype, std::vector<int64_t> shape, bool known = true) {
    auto it = tensors_.try_emplace(std::string(name)).first;  // unordered_map entries never move
    Entry& e = it->second;
    e.shape = std::move(shape);
    e.view.name = it->first;
    e.view.dtype = dtype;
    e.view.shape = e.shape;
    e.view.bytes = known ? TensorBytes(dtype, e.shape) : 0;
  }
  const Scope* parent_;
  std::unordered_map<std::string, Entry> tensors_;
};

struct BodyWork {
  OpWork work;
  size_t unknown = 0;
};

BodyWork GraphWork(std::string_view body, const Scope* parent, const std::string& source);

// The costlier of a control-flow node's bodies (If: its branches; Loop/Scan: the one body).
// `only`: the one attribute to cost (the branch an If is known to take); empty for all.
BodyWork CostliestBody(const onnx_wire::Node& node, const Scope& scope, const std::string& source,
                       std::string_view only = {}) {
  BodyWork best;
  best.work.flops = -1;
  onnx_wire::Attribute attr;
  ForEachAttribute(node, attr, source, [&](const onnx_wire::Attribute& a) {
    if (!only.empty() && a.name != only) return;
    for (std::string_view body : a.graphs) {
      BodyWork w = GraphWork(body, &scope, source);
      if (w.work.flops > best.work.flops) best = w;
    }
  });
  if (best.work.flops < 0) best = BodyWork();
  return best;
}

// Work of a node inside a body (shapes from the body's scope); control flow recurses.
BodyWork NodeWork(const onnx_wire::Node& node, const Scope& scope, const std::string& source) {
  if (ClassifyOp(node.op_type) == OpFamily::kControlFlow) return CostliestBody(node, scope, source);
  OpAttrs attrs;
  onnx_wire::Attribute scratch;
  ReadAttrs(node, attrs, scratch, source);
  std::vector<const Tensor*> ins, outs;
  for (std::string_view n : node.inputs) ins.push_back(n.empty() ? nullptr : scope.Find(n));
  for (std::string_view n : node.outputs) outs.push_back(n.empty() ? nullptr : scope.Find(n));
  BodyWork bw;
  bw.work = EstimateOpWork(node.op_type, attrs, ins, outs);
  bw.unknown = bw.work.known ? 0 : 1;
  return bw;
}

BodyWork GraphWork(std::string_view body, const Scope* parent, const std::string& source) {
  onnx_wire::Graph g;
  if (!onnx_wire::ReadGraph(body, g)) Malformed(source, "a control-flow body");
  Scope scope(g, parent, source);
  BodyWork total;
  onnx_wire::Node node;
  for (std::string_view bytes : g.nodes) {
    if (!onnx_wire::ReadNode(bytes, node)) Malformed(source, "a node of a control-flow body");
    const BodyWork w = NodeWork(node, scope, source);
    total.work.flops += w.work.flops;
    total.work.bytes += w.work.bytes;
    total.unknown += w.unknown;
  }
  return total;
}

// Names a body reads from enclosing scopes: they are implicit inputs of the control-flow node.
void CollectOuterReads(std::string_view body, std::set<std::string>& out, const std::string& source) {
  onnx_wire::Graph g;
  if (!onnx_wire::ReadGraph(body, g)) Malformed(source, "a control-flow body");
  std::unordered_set<std::string> local;
  onnx_wire::ValueInfo vi;
  onnx_wire::TensorMeta init;
  for (std::string_view bytes : g.inputs) {
    if (!onnx_wire::ReadValueInfo(bytes, vi)) Malformed(source, "an input of a control-flow body");
    local.emplace(vi.name);
  }
  for (std::string_view bytes : g.initializers) {
    if (!onnx_wire::ReadTensor(bytes, init)) Malformed(source, "an initializer of a control-flow body");
    local.emplace(init.name);
  }
  onnx_wire::Node node;
  onnx_wire::Attribute attr;
  for (std::string_view bytes : g.nodes) {
    if (!onnx_wire::ReadNode(bytes, node)) Malformed(source, "a node of a control-flow body");
    for (std::string_view in : node.inputs)
      if (!in.empty() && !local.count(std::string(in))) out.emplace(in);
    ForEachAttribute(node, attr, source, [&](const onnx_wire::Attribute& a) {
      for (std::string_view inner_body : a.graphs) {
        std::set<std::string> inner;
        CollectOuterReads(inner_body, inner, source);
        for (const auto& n : inner)
          if (!local.count(n)) out.insert(n);
      }
    });
    for (std::string_view o : node.outputs) local.emplace(o);
  }
  for (std::string_view bytes : g.outputs) {
    if (!onnx_wire::ReadValueInfo(bytes, vi)) Malformed(source, "an output of a control-flow body");
    if (!local.count(std::string(vi.name))) out.emplace(vi.name);
  }
}

// Thrown by an optimistic build that meets a node output without a static shape, or a control-flow body (whose
// shapes only inference provides): ImportModel then runs shape inference and builds again.
struct NeedsShapeInference {};

// Builds the IR from the model's bytes, writing the Graph's columns directly through GraphBuilder: per node a
// sequential decode, a few name-index probes and array appends, no allocation.
class IrBuilder {
 public:
  // `facts`: what the shape pass evaluated of control flow (null in an optimistic build, which has none).
  IrBuilder(std::string_view model_bytes, const std::string& source, ImportReport& report,
            const std::string& model_dir, bool optimistic, const ShapeInferenceReport* facts = nullptr)
      : source_(source), report_(report), model_dir_(model_dir), optimistic_(optimistic), facts_(facts),
        builder_(source) {
    if (!onnx_wire::ReadModelGraph(model_bytes, wire_)) Malformed(source, "the model's graph");
  }

  Graph Build() {
    DeclareInitializers();
    DeclareInputs();
    DeclareValueInfo();
    AddNodes();
    DemoteRunningStatistics();
    for (std::string_view out : output_names_) {
      const TensorId t = builder_.FindTensor(out);
      if (t == kNone)
        throw Error(source_ + ": graph output '" + std::string(out) + "' is not produced by any node or input");
      builder_.tensor(t).is_graph_output = true;
    }
    return builder_.Finalize();
  }

 private:
  void DeclareInitializers() {
    // Sizes from counts alone, so no column grows while it is filled: a tensor per initializer, input and typed
    // value (or per node, if more), and names no longer than the messages that hold them, nor than 64 characters
    // a name (initializers and Constant nodes hold data).
    const size_t nodes = wire_.nodes.size();
    const size_t tensors = wire_.initializers.size() + wire_.inputs.size() +
                           std::max(nodes, wire_.value_infos.size() + wire_.outputs.size());
    const size_t name_chars = std::min(wire_.nodes.bytes() + wire_.value_infos.bytes() + wire_.inputs.bytes() +
                                           wire_.outputs.bytes() + 64 * wire_.initializers.size(),
                                       64 * (tensors + nodes));
    builder_.Reserve(nodes, tensors, name_chars);
    onnx_wire::TensorMeta init;
    for (std::string_view bytes : wire_.initializers) {
      if (!onnx_wire::ReadTensor(bytes, init)) Malformed(source_, "an initializer");
      const TensorId id = builder_.Tensor(init.name);
      builder_.SetType(id, static_cast<DType>(init.data_type), init.dims);
      TensorInfo& t = builder_.tensor(id);
      t.is_parameter = IsFloating(t.dtype) && t.bytes > static_cast<uint64_t>(DTypeSize(t.dtype));
      t.is_constant = !t.is_parameter;
      if (init.external) CheckExternal(init, t.bytes);
    }
  }

  // BatchNormalization's running mean and variance (inputs 3 and 4) are state, not trained weights, unless
  // something else reads them too. Found while adding nodes (reads_ records each tensor's readers) and settled
  // here.
  void DemoteRunningStatistics() {
    if (!has_batch_norm_) return;
    for (TensorId t = 0; t < reads_.size(); ++t) {
      TensorInfo& info = builder_.tensor(t);
      if (reads_[t] == kReadAsRunningStat && info.is_parameter) {
        info.is_parameter = false;
        info.is_constant = true;
      }
    }
  }

  void CheckExternal(const onnx_wire::TensorMeta& init, uint64_t bytes) {
    ResolveExternalData(init.external_data, bytes, model_dir_,
                        source_ + ": initializer '" + std::string(init.name) + "'");
  }


  void DeclareInputs() {
    onnx_wire::ValueInfo vi;
    for (std::string_view bytes : wire_.inputs) {
      if (!onnx_wire::ReadValueInfo(bytes, vi)) Malformed(source_, "a graph input");
      if (builder_.FindTensor(vi.name) != kNone) continue;  // an initializer with a default-overridable input: the initializer wins
      const TensorId id = builder_.Tensor(vi.name);
      const WireType& type = vi.type;
      if (type.is_tensor && !Complete(type)) {
        const std::string name(vi.name);
        if (!type.has_shape) throw Error(source_ + ": graph input '" + name + "' has no shape");
        for (size_t k = 0; k < type.dims.size(); ++k)  // -1 stands for a symbolic dim
          if (type.dims[k] < -1)
            throw Error(source_ + ": graph input '" + name + "' has dim " + std::to_string(k) + " = " +
                        std::to_string(type.dims[k]) + "; dims must not be negative");
        const size_t dim = std::find(type.dims.begin(), type.dims.end(), -1) - type.dims.begin();
        const std::string symbolic(type.first_param);
        throw Error(source_ + ": graph input '" + name + "' has symbolic dim " + std::to_string(dim) + " ('" +
                    symbolic + "'): bind it with --batch, --seq or --dim " + symbolic + "=<size>");
      }
      builder_.SetType(id, static_cast<DType>(type.elem_type), type.dims);
      TensorInfo& t = builder_.tensor(id);
      // Marked inputs are weights (running statistics among them are demoted after the nodes are read).
      t.is_parameter = vi.doc_string == "allot:parameter";
      t.is_graph_input = !t.is_parameter;
    }
  }

  // value_info, then the graph outputs' types; names are decoded and hashed kAhead values early (see AddNodes).
  void DeclareValueInfo() {
    static const int64_t kUnknown[] = {-1};
    output_names_.reserve(wire_.outputs.size());
    onnx_wire::ValueInfo ahead[kAhead];
    uint32_t hashes[kAhead];
    for (const onnx_wire::Repeated* values : {&wire_.value_infos, &wire_.outputs}) {
      const size_t n = values->size();
      auto next = values->begin();  // the value kAhead ahead of the one declared
      auto prepare = [&](size_t i) {
        if (!onnx_wire::ReadValueInfo(*next, ahead[i % kAhead]))
          Malformed(source_, values == &wire_.outputs ? "a graph output" : "a value_info");
        ++next;
        hashes[i % kAhead] = NameTable::Hash(ahead[i % kAhead].name);
        builder_.PrefetchTensor(hashes[i % kAhead]);
      };
      for (size_t i = 0; i < std::min<size_t>(n, kAhead); ++i) prepare(i);
      for (size_t i = 0; i < n; ++i) {
        const onnx_wire::ValueInfo& vi = ahead[i % kAhead];
        if (values == &wire_.outputs) output_names_.push_back(vi.name);
        if (vi.type.is_tensor) {
          const TensorId id = builder_.Tensor(vi.name, hashes[i % kAhead]);
          if (builder_.tensor(id).dtype == DType::kUndefined) {
            if (Complete(vi.type)) builder_.SetType(id, static_cast<DType>(vi.type.elem_type), vi.type.dims);
            else builder_.SetType(id, static_cast<DType>(vi.type.elem_type), Span<int64_t>(kUnknown, kUnknown + 1));
          }
        }
        if (i + kAhead < n) prepare(i + kAhead);
      }
    }
  }

  // A node decoded, and the name hashes of its inputs, outputs and name, kAhead nodes early.
  struct AheadNode {
    onnx_wire::Node node;
    std::vector<uint32_t> hashes;  // of the inputs' names, then the outputs'
    uint32_t name_hash = 0;
  };
  void PrepareNode(size_t i, std::string_view bytes, AheadNode& a) {
    if (!onnx_wire::ReadNode(bytes, a.node)) Malformed(source_, "node " + std::to_string(i));
    a.hashes.clear();
    for (const auto* names : {&a.node.inputs, &a.node.outputs})
      for (std::string_view n : *names) {
        a.hashes.push_back(NameTable::Hash(n));
        builder_.PrefetchTensor(a.hashes.back());
      }
    a.name_hash = NameTable::Hash(a.node.name);
    if (!a.node.name.empty()) builder_.PrefetchNode(a.name_hash);
  }

  void AddNodes() {
    std::unique_ptr<Scope> scope;  // built lazily: only control-flow bodies need name-level shape lookups
    std::map<std::string, size_t> unknown_by_op;
    std::vector<TensorId> in_ids, out_ids, inputs, outputs;
    std::vector<Tensor> views;
    std::vector<const Tensor*> ins, outs;
    OpAttrs attrs;
    onnx_wire::Attribute attr;
    std::string generated;
    // Each name lookup starts with a cache miss into an index of all names: hashing node i + kAhead and
    // prefetching its slots while node i is built lets those misses overlap (measured: the node phase 1.6x
    // faster on the 100k-node synthetic graph). Prefetching further (the tensors a slot holds, then their names
    // and dims) was measured too, and gained nothing.
    const size_t n_nodes = wire_.nodes.size();
    AheadNode ahead[kAhead];
    auto next = wire_.nodes.begin();  // node i + kAhead
    for (size_t i = 0; i < std::min<size_t>(n_nodes, kAhead); ++i, ++next) PrepareNode(i, *next, ahead[i]);
    for (size_t i = 0; i < n_nodes; ++i) {
      const AheadNode& a = ahead[i % kAhead];
      const onnx_wire::Node& proto = a.node;
      // "<op_type>_<index>" for unnamed nodes, "__2", "__3", ... on collisions (see onnx_import.h).
      std::string_view name = proto.name;
      uint32_t name_hash = a.name_hash;
      if (name.empty()) {
        generated.assign(proto.op_type).append("_").append(std::to_string(i));
        name = generated;
        name_hash = NameTable::Hash(name);
      }
      in_ids.clear();
      out_ids.clear();
      inputs.clear();
      outputs.clear();
      const bool batch_norm = proto.op_type == "BatchNormalization";
      has_batch_norm_ |= batch_norm;
      for (size_t k = 0; k < proto.inputs.size(); ++k) {
        const std::string_view n = proto.inputs[k];
        if (n.empty()) {
          in_ids.push_back(kNone);
          continue;
        }
        const TensorId t = builder_.Tensor(n, a.hashes[k]);
        in_ids.push_back(t);
        inputs.push_back(t);
        if (reads_.size() <= t) reads_.resize(std::max<size_t>(t + 1, 2 * reads_.size()), 0);
        reads_[t] |= batch_norm && (k == 3 || k == 4) ? kReadAsRunningStat : kReadOtherwise;
      }
      for (size_t k = 0; k < proto.outputs.size(); ++k) {
        const std::string_view n = proto.outputs[k];
        out_ids.push_back(n.empty() ? kNone : builder_.Tensor(n, a.hashes[proto.inputs.size() + k]));
        if (!n.empty()) outputs.push_back(out_ids.back());
      }
      // Only a node with attributes can hold a body; every other node's family comes from a per-op-type cache.
      const bool has_attrs = !proto.attributes.empty();
      const bool control_flow = has_attrs && ClassifyOp(proto.op_type) == OpFamily::kControlFlow;
      if (control_flow) {
        if (optimistic_) throw NeedsShapeInference{};
        // Outer-scope reads become inputs so the edges (and transfers) exist.
        std::set<std::string> outer;
        ForEachAttribute(proto, attr, source_, [&](const onnx_wire::Attribute& at) {
          for (std::string_view body : at.graphs) CollectOuterReads(body, outer, source_);
        });
        for (const auto& read : outer) {
          const TensorId t = builder_.FindTensor(read);
          if (t == kNone)
            throw Error(source_ + ": node '" + builder_.UniqueNodeName(name) + "': its body reads '" + read +
                        "', which is not defined before it (dangling input)");
          if (std::find(inputs.begin(), inputs.end(), t) == inputs.end()) inputs.push_back(t);
        }
      }
      const NodeId id = builder_.AppendNode(name, name_hash, proto.op_type, proto.domain, inputs, outputs);
      const OpFamily family = FamilyOf(builder_.graph().op_id(id), proto.op_type);
      if (has_attrs) {
        attrs = OpAttrs();
        ReadAttrs(proto, attrs, attr, source_);
      }
      // Views last: adding tensors or names may move the graph's arrays.
      // The views work estimates read: type and shape, not names (a cache line less per tensor). Filled in
      // place: copying returned views into the array stalled on store-to-load forwarding (the copy read 16 bytes
      // at a time what had just been written 8 at a time).
      const Graph& graph = builder_.graph();
      views.resize(in_ids.size() + out_ids.size());
      for (size_t k = 0; k < views.size(); ++k) {
        const TensorId t = k < in_ids.size() ? in_ids[k] : out_ids[k - in_ids.size()];
        if (t == kNone) continue;
        static_cast<TensorInfo&>(views[k]) = graph.tensor_info(t);
        views[k].shape = graph.tensor_shape(t);
      }
      ins.clear();
      outs.clear();
      for (size_t k = 0; k < in_ids.size(); ++k) ins.push_back(in_ids[k] == kNone ? nullptr : &views[k]);
      for (size_t k = 0; k < out_ids.size(); ++k) {
        outs.push_back(out_ids[k] == kNone ? nullptr : &views[in_ids.size() + k]);
        if (outs.back()) CheckStaticShape(*outs.back(), out_ids[k], id);
      }
      static const OpAttrs kNoAttrs;
      const OpAttrs& node_attrs = has_attrs ? attrs : kNoAttrs;
      OpWork work;
      if (control_flow) {  // has attributes (its bodies), so node_attrs is attrs, which gets the trip count
        if (!scope) scope = std::make_unique<Scope>(wire_, nullptr, source_);
        work = ControlFlowWork(proto, static_cast<int>(i), *scope, std::string(builder_.graph().node_name(id)), attrs);
      } else {
        work = EstimateOpWork(family, proto.op_type, node_attrs, ins, outs);
      }
      if (has_attrs) builder_.SetAttrs(id, attrs);
      builder_.SetWork(id, work.flops, work.bytes, work.known);
      if (!work.known) {
        ++report_.unknown_ops;
        ++unknown_by_op[std::string(proto.op_type)];
      }
      if (i + kAhead < n_nodes) {
        PrepareNode(i + kAhead, *next, ahead[i % kAhead]);
        ++next;
      }
    }
    for (const auto& [op, count] : unknown_by_op)
      report_.warnings.push_back("op '" + op + "' (" + std::to_string(count) +
                                 " nodes) is unknown to the cost model: using a generic cost");
  }

  // An If costs the branch it takes where the shape pass evaluated its condition, else its costlier branch; a
  // Loop its body times the trip count the pass evaluated.
  OpWork ControlFlowWork(const onnx_wire::Node& proto, int index, const Scope& scope, const std::string& node_name,
                         OpAttrs& attrs) {
    const auto branch = facts_ ? facts_->if_branches.find(index) : std::map<int, bool>::const_iterator();
    const bool known_branch = facts_ && branch != facts_->if_branches.end();
    const BodyWork best =
        CostliestBody(proto, scope, source_, known_branch ? (branch->second ? "then_branch" : "else_branch") : "");
    int64_t trips = 1;
    if (proto.op_type == "Loop") {
      const auto m = facts_ ? facts_->loop_trips.find(index) : std::map<int, int64_t>::const_iterator();
      trips = facts_ && m != facts_->loop_trips.end() ? m->second : 0;
      if (trips <= 0) {
        report_.warnings.push_back("node '" + node_name + "': Loop trip count is not known at import; costing one trip");
        trips = 1;
      }
    } else if (proto.op_type == "Scan") {
      int64_t num_scan_inputs = 0;
      onnx_wire::Attribute attr;
      ForEachAttribute(proto, attr, source_, [&](const onnx_wire::Attribute& a) {
        if (a.name == "num_scan_inputs") num_scan_inputs = a.i;
      });
      const int64_t first_scan = static_cast<int64_t>(proto.inputs.size()) - num_scan_inputs;
      const Tensor* x = first_scan >= 0 && first_scan < static_cast<int64_t>(proto.inputs.size())
                            ? scope.Find(proto.inputs[first_scan])
                            : nullptr;
      trips = x && !x->shape.empty() && x->shape[0] > 0 ? x->shape[0] : 1;
    }
    attrs.trip_count = trips;
    OpWork work;
    work.flops = best.work.flops * static_cast<double>(trips);
    work.bytes = best.work.bytes * static_cast<double>(trips);
    work.known = best.unknown == 0;
    return work;
  }

  OpFamily FamilyOf(uint32_t op_id, std::string_view op_type) {
    if (op_id >= family_of_op_.size()) family_of_op_.resize(op_id + 1, -1);
    if (family_of_op_[op_id] < 0) family_of_op_[op_id] = static_cast<int8_t>(ClassifyOp(op_type));
    return static_cast<OpFamily>(family_of_op_[op_id]);
  }

  // A node output's type must be static (from the model, or from shape inference).
  void CheckStaticShape(const Tensor& output, TensorId t, NodeId n) {
    const bool unknown = output.dtype == DType::kUndefined ||
                         std::any_of(output.shape.begin(), output.shape.end(), [](int64_t d) { return d < 0; });
    if (unknown) UnknownShape(t, n);
  }
  [[noreturn]] void UnknownShape(TensorId t, NodeId n) {
    if (optimistic_) throw NeedsShapeInference{};
    const Graph& g = builder_.graph();
    throw Error(source_ + ": cannot resolve the static shape of tensor '" + std::string(g.tensor_name(t)) +
                "' (output of node '" + std::string(g.node_name(n)) + "', op " + std::string(g.op_type(n)) +
                "): it depends on a symbolic dim or on run-time data; bind dims with --batch, --seq or --dim");
  }

  static constexpr size_t kAhead = 16;
  onnx_wire::Graph wire_;
  std::vector<std::string_view> output_names_;
  static constexpr uint8_t kReadAsRunningStat = 1, kReadOtherwise = 2;
  std::vector<uint8_t> reads_;  // per tensor: how nodes read it (bits above)
  std::vector<int8_t> family_of_op_;  // by Graph::op_id: an OpFamily, or -1 until classified
  bool has_batch_norm_ = false;
  const std::string& source_;
  ImportReport& report_;
  std::string model_dir_;
  bool optimistic_;  // shape inference has not run: a missing shape means it must (NeedsShapeInference)
  const ShapeInferenceReport* facts_;
  GraphBuilder builder_;
};

// Builds the IR without shapes only to find structural faults (dangling input, cycle, duplicate producer) and
// report them in allot's words, since the checker words both as "not topologically sorted".
void ExplainStructure(const onnx::GraphProto& g, const std::string& source) {
  GraphBuilder b(source);
  for (const auto& init : g.initializer()) b.tensor(b.Tensor(init.name())).is_constant = true;
  for (const auto& vi : g.input()) {
    const TensorId t = b.Tensor(vi.name());
    if (!b.tensor(t).is_constant) b.tensor(t).is_graph_input = true;
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& proto = g.node(i);
    NodeDef node;
    node.name = b.UniqueNodeName(proto.name().empty() ? proto.op_type() + "_" + std::to_string(i) : proto.name());
    for (const auto& in : proto.input())
      if (!in.empty()) node.inputs.push_back(b.Tensor(in));
    for (const auto& out : proto.output())
      if (!out.empty()) node.outputs.push_back(b.Tensor(out));
    b.AddNode(std::move(node));
  }
  b.Finalize();
}

// onnx::checker resolves external data against the current directory (its model-path variant re-parses the
// file), so external initializers are checked by IrBuilder::CheckExternal against the model's folder instead,
// and the checker sees them as typed graph inputs.
void CheckModel(const onnx::ModelProto& model) {
  const auto& inits = model.graph().initializer();
  const bool external = std::any_of(inits.begin(), inits.end(), [](const onnx::TensorProto& t) {
    return t.data_location() == onnx::TensorProto::EXTERNAL;
  });
  if (!external) {
    onnx::checker::check_model(model);
    return;
  }
  onnx::ModelProto checkable = model;
  auto* graph = checkable.mutable_graph();
  graph->clear_initializer();
  for (const onnx::TensorProto& init : inits) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) {
      *graph->add_initializer() = init;
      continue;
    }
    const bool listed = std::any_of(graph->input().begin(), graph->input().end(),
                                    [&](const onnx::ValueInfoProto& vi) { return vi.name() == init.name(); });
    if (listed) continue;
    auto* vi = graph->add_input();
    vi->set_name(init.name());
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(init.data_type());
    for (int64_t d : init.dims()) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  onnx::checker::check_model(checkable);
}

// What every reader of a model's bytes may assume: not empty, within protobuf's size limit, repeated fields within
// their caps (graph/onnx_limits.h).
void CheckModelBytes(std::string_view bytes, const std::string& path) {
  if (bytes.empty()) throw Error(path + ": empty file, not an ONNX model");
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw Error(path + ": larger than protobuf's 2 GiB limit; store the weights as external data");
  CheckRepeatedFieldCaps(bytes, path);
}

// Bytes CheckModelBytes accepted, parsed.
onnx::ModelProto ParseCheckedBytes(std::string_view bytes, const std::string& path) {
  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    throw Error(path + ": not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  if (model.ir_version() <= 0 || !model.has_graph())
    throw Error(path + ": not an ONNX model (no ir_version or no graph)");
  return model;
}

}  // namespace

onnx::ModelProto ParseModelProto(std::string_view bytes, const std::string& path) {
  CheckModelBytes(bytes, path);
  return ParseCheckedBytes(bytes, path);
}

onnx::ModelProto ReadModelProto(const std::string& path) { return ParseModelProto(ReadFile(path), path); }

namespace {

// Exchanges two tensors' data. raw_data is optional, and present only where it was (an empty raw_data that is
// present means "no elements", not "see float_data").
void SwapTensorData(onnx::TensorProto& a, onnx::TensorProto& b) {
  const bool a_raw = a.has_raw_data(), b_raw = b.has_raw_data();
  a.mutable_raw_data()->swap(*b.mutable_raw_data());
  if (!b_raw) a.clear_raw_data();
  if (!a_raw) b.clear_raw_data();
  a.mutable_float_data()->Swap(b.mutable_float_data());
  a.mutable_int32_data()->Swap(b.mutable_int32_data());
  a.mutable_string_data()->Swap(b.mutable_string_data());
  a.mutable_int64_data()->Swap(b.mutable_int64_data());
  a.mutable_double_data()->Swap(b.mutable_double_data());
  a.mutable_uint64_data()->Swap(b.mutable_uint64_data());
}

// Serializes a model for the IR build (onnx_wire.h) without its initializers' data, which the build never
// reads: the data is swapped out of the model (O(1) per tensor) and back. Serializing the weights too cost
// ResNet-50's 100 MB 285 ms after shape inference. Small tensors keep their data: a Loop's trip count is one.
std::string SerializeForIr(onnx::ModelProto& model, const std::string& source) {
  constexpr size_t kKeptBytes = 64;
  class SetAside {  // holds the large tensors' data, and puts it back however SerializeForIr returns
   public:
    explicit SetAside(google::protobuf::RepeatedPtrField<onnx::TensorProto>& inits) : inits_(inits) {
      auto large = [](const onnx::TensorProto& t) {
        const size_t bytes = t.raw_data().size() + 4 * (t.float_data_size() + t.int32_data_size()) +
                             8 * (t.int64_data_size() + t.double_data_size() + t.uint64_data_size()) +
                             (t.string_data_size() > 0 ? kKeptBytes + 1 : 0);
        return bytes > kKeptBytes;
      };
      // Allocate first: once data is swapped out, nothing may throw before this object owns it.
      for (int i = 0; i < inits.size(); ++i)
        if (large(inits.Get(i))) data_.emplace_back(i, onnx::TensorProto());
      for (auto& [i, data] : data_) SwapTensorData(data, *inits.Mutable(i));
    }
    ~SetAside() {
      for (auto& [i, data] : data_) SwapTensorData(data, *inits_.Mutable(i));
    }

   private:
    google::protobuf::RepeatedPtrField<onnx::TensorProto>& inits_;
    std::vector<std::pair<int, onnx::TensorProto>> data_;
  } set_aside(*model.mutable_graph()->mutable_initializer());
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error(source + ": cannot serialize the model (over protobuf's 2 GiB limit without its weights?)");
  return bytes;
}

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// An optimistic IR build (see Import): a graph, or nothing when it needs shape inference first, or the error it
// met, rethrown by Import only after the checker's, which takes precedence.
struct Attempt {
  std::optional<Graph> graph;
  ImportReport report;
  std::exception_ptr error;
  double seconds = 0;
  Clock::time_point finished;
};

Attempt TryBuild(std::string_view bytes, const std::string& source, const std::string& model_dir) {
  Attempt a;
  const auto t0 = Clock::now();
  try {
    a.graph = IrBuilder(bytes, source, a.report, model_dir, /*optimistic=*/true).Build();
  } catch (const NeedsShapeInference&) {
  } catch (...) {
    a.error = std::current_exception();
  }
  a.finished = Clock::now();
  a.seconds = std::chrono::duration<double>(a.finished - t0).count();
  return a;
}

// The ONNX ops are defined up to the opset this build's ONNX knows: a later version may change what a node means,
// and its schema lookup silently falls back to the last version known (which the checker accepts).
void CheckOpsetVersions(const onnx::ModelProto& model, const std::string& source) {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& op : model.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    const auto it = ranges.find(domain);
    if (it == ranges.end()) continue;  // a custom domain: its ops are unknown ops, costed generically
    if (op.version() < it->second.first || op.version() > it->second.second)
      throw Error(source + ": opset_import: " + (domain.empty() ? "ai.onnx" : domain) + " version " +
                  std::to_string(op.version()) + " is outside the " + std::to_string(it->second.first) + " to " +
                  std::to_string(it->second.second) + " that this build's ONNX defines");
  }
}

// An optimistic build and, where it completed, the shape pass's check of the shapes the file declares.
struct Checked {
  explicit Checked(Attempt a) : attempt(std::move(a)) {}
  Attempt attempt;
  ShapeInferenceReport shapes;
  std::exception_ptr error;  // the shape check's
  double seconds = 0;
  bool checked = false;

  void Check(const onnx::ModelProto& model, const std::string& source) {
    const auto t0 = Clock::now();
    try {
      shapes = CheckShapes(model, source);
    } catch (...) {
      error = std::current_exception();
    }
    seconds = SecondsSince(t0);
    checked = true;
  }
};

// Binds dims, checks, builds, and infers shapes only if the build needs them. `bytes`: the model serialized,
// or null to serialize it here. `early`: an optimistic build of `bytes` already running (ParseAndImport) since
// before the parse, which ended at `parsed`; used unless binding dims changed the model.
Graph Import(onnx::ModelProto& model, const std::string* bytes, std::future<Attempt>* early, Clock::time_point parsed,
             const std::string& source, const ImportOptions& options, ImportReport* report,
             const std::string& model_dir) {
  ImportReport local;
  ImportReport& rep = report ? *report : local;
  CheckOpsetVersions(model, source);
  auto t0 = Clock::now();
  // The IR is built from the serialized model (see onnx_wire.h): a model given without its bytes, or whose
  // inputs were just bound, is serialized first (without weights), which counts as build time.
  std::string serialized;
  const bool bound = BindInputDims(*model.mutable_graph(), options);
  if (bound || !bytes) {
    serialized = SerializeForIr(model, source);
    bytes = &serialized;
  }
  const double serialize_seconds = SecondsSince(t0);
  // Most models allot generates, and many exports, carry every shape already: build first (on its own thread in
  // ParseAndImport), and build a second time only when the first met a shape the file lacks (it stops there).
  // When the first build completes, allot's shape pass (graph/shape_inference.h) only checks the declared shapes
  // against what each op implies, reading the model: it runs on the build's thread, beside the checker here.
  bool overlapped = early && !bound;
  std::future<Checked> pending;
  if (overlapped) {
    try {
      pending = std::async(std::launch::async, [&] {
        Checked c(early->get());
        if (c.attempt.graph && options.check) c.Check(model, source);
        return c;
      });
    } catch (const std::system_error&) {  // no thread to be had: check after the checker instead
    }
  }
  t0 = Clock::now();
  if (options.check) {
    try {
      CheckModel(model);
    } catch (const std::exception& e) {
      if (pending.valid()) pending.wait();
      if (early && early->valid()) early->wait();  // the structural explanation below builds a graph too
      ExplainStructure(model.graph(), source);  // throws allot's own message for structural faults
      throw Error(source + ": ONNX checker: " + FirstLine(e.what()));
    }
  }
  rep.check_seconds = SecondsSince(t0);
  Checked c = pending.valid() ? pending.get() : Checked(overlapped ? early->get() : TryBuild(*bytes, source, model_dir));
  if (early && bound) early->wait();  // built from the unbound bytes: void
  if (c.attempt.error && bytes != &serialized) {
    try {
      std::rethrow_exception(c.attempt.error);
    } catch (const MalformedBytes&) {  // bytes protobuf parsed but the reader did not: read the parsed model
      serialized = SerializeForIr(model, source);
      c = Checked(TryBuild(serialized, source, model_dir));
      overlapped = false;
    } catch (...) {
    }
  }
  Attempt& attempt = c.attempt;
  if (attempt.error) std::rethrow_exception(attempt.error);
  const bool complete = attempt.graph.has_value();
  if (complete && options.check && !c.checked) c.Check(model, source);
  if (c.error) std::rethrow_exception(c.error);
  rep.infer_seconds = c.seconds;
  ShapeInferenceReport shapes = std::move(c.shapes);
  if (complete && !shapes.changed) {
    rep.folded_values = shapes.folded;
    rep.warnings = std::move(attempt.report.warnings);
    rep.warnings.insert(rep.warnings.end(), shapes.warnings.begin(), shapes.warnings.end());
    rep.unknown_ops = attempt.report.unknown_ops;
    rep.build_seconds = serialize_seconds + attempt.seconds;
    rep.build_exposed_seconds =
        overlapped ? std::max(0.0, std::chrono::duration<double>(attempt.finished - parsed).count())
                   : rep.build_seconds;
    return std::move(*attempt.graph);
  }
  // The file lacks shapes: infer, fold and bound them, and build the IR again from the completed model.
  t0 = Clock::now();
  try {
    shapes = InferShapes(model, source, /*require_static=*/true, /*check_declared=*/options.check);
  } catch (const Error&) {
    if (!options.check) ExplainStructure(model.graph(), source);  // the checker did not vouch for the structure
    throw;
  }
  rep.infer_seconds += SecondsSince(t0);
  rep.folded_values = shapes.folded;
  serialized = SerializeForIr(model, source);  // with the inferred value_info
  rep.ran_shape_inference = true;
  // The abandoned build counts as inference, unless it ran hidden behind the parse.
  if (!overlapped) rep.infer_seconds += attempt.seconds;
  rep.warnings = std::move(shapes.warnings);
  t0 = Clock::now();
  Graph graph = IrBuilder(serialized, source, rep, model_dir, /*optimistic=*/false, &shapes).Build();
  rep.build_seconds = serialize_seconds + SecondsSince(t0);
  rep.build_exposed_seconds = rep.build_seconds;
  return graph;
}

}  // namespace

Graph ImportModel(onnx::ModelProto& model, const std::string& source, const ImportOptions& options,
                  ImportReport* report, const std::string& model_dir) {
  return Import(model, nullptr, nullptr, Clock::time_point(), source, options, report, model_dir);
}

Graph ParseAndImport(const std::string& bytes, const std::string& source, const ImportOptions& options,
                     onnx::ModelProto& model, ImportReport* report, const std::string& model_dir) {
  ImportReport local;
  ImportReport& rep = report ? *report : local;
  const auto t_caps = Clock::now();
  CheckModelBytes(bytes, source);  // before either reader allocates for a hostile list
  rep.caps_seconds = std::chrono::duration<double>(Clock::now() - t_caps).count();
  // The IR build reads the bytes, not the parsed model: start it now, on a second thread, while protobuf parses
  // the same bytes for the checker and shape inference.
  std::future<Attempt> early;
  try {
    early = std::async(std::launch::async, TryBuild, std::string_view(bytes), source, model_dir);
  } catch (const std::system_error&) {  // no thread to be had (a process limit): build after the parse instead
  }
  const auto t0 = Clock::now();
  try {
    model = ParseCheckedBytes(bytes, source);
  } catch (...) {
    if (early.valid()) early.wait();
    throw;
  }
  const auto parsed = Clock::now();
  rep.parse_seconds = std::chrono::duration<double>(parsed - t0).count();
  return Import(model, &bytes, early.valid() ? &early : nullptr, parsed, source, options, &rep, model_dir);
}

Graph ImportOnnxFile(const std::string& path, const ImportOptions& options, ImportReport* report) {
  const std::string bytes = ReadFile(path);
  onnx::ModelProto model;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseAndImport(bytes, path, options, model, report, dir.empty() ? "." : dir);
}

}  // namespace allot
