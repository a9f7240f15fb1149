#include "graph/onnx_import.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/graph_builder.h"
#include "graph/name_table.h"
#include "graph/op_work.h"

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

// Binds symbolic dims of the graph inputs; inference then propagates them.
void BindInputDims(onnx::GraphProto& graph, const ImportOptions& opt) {
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
      if (value > 0) dim->set_dim_value(value);
    }
  }
}

// A tensor type read from a TypeProto. Read into one reused TypeInfo: the importer reads one per value, and a
// fresh vector each would be an allocation per tensor.
struct TypeInfo {
  bool is_tensor = false;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;  // -1 for unknown dims
  bool has_shape = false;
  std::string_view symbolic;   // first dim_param found, for error messages (a view into the proto)
};

const TypeInfo& ReadType(const onnx::TypeProto& type, TypeInfo& info) {
  info.is_tensor = false;
  info.dtype = DType::kUndefined;
  info.shape.clear();
  info.has_shape = false;
  info.symbolic = {};
  if (!type.has_tensor_type()) return info;
  const onnx::TypeProto_Tensor& tt = type.tensor_type();
  info.is_tensor = true;
  info.dtype = static_cast<DType>(tt.elem_type());
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        info.shape.push_back(d.dim_value());
      } else {
        info.shape.push_back(-1);
        if (info.symbolic.empty()) info.symbolic = d.has_dim_param() ? std::string_view(d.dim_param()) : "?";
      }
    }
  }
  return info;
}

bool Complete(const TypeInfo& t) {
  return t.is_tensor && t.has_shape && std::none_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; });
}

void ReadAttrs(const onnx::NodeProto& node, OpAttrs& a) {
  for (const auto& attr : node.attribute()) {
    const std::string_view n = attr.name();  // a view compares sizes first: most names fail on that
    if (n == "kernel_shape") a.kernel_shape.assign(attr.ints().begin(), attr.ints().end());
    else if (n == "strides") a.strides.assign(attr.ints().begin(), attr.ints().end());
    else if (n == "pads") a.pads.assign(attr.ints().begin(), attr.ints().end());
    else if (n == "dilations") a.dilations.assign(attr.ints().begin(), attr.ints().end());
    else if (n == "group") a.group = attr.i();
    else if (n == "axis") a.axis = attr.i();
    else if (n == "transA") a.trans_a = attr.i() != 0;
    else if (n == "transB") a.trans_b = attr.i() != 0;
    else if (n == "hidden_size") a.hidden_size = attr.i();
  }
}

// Shapes visible in one scope (a graph or a control-flow body), chained to the enclosing scope.
class Scope {
 public:
  Scope(const onnx::GraphProto& g, const Scope* parent) : parent_(parent) {
    for (const auto& vi : g.input()) Add(vi.name(), vi.type());
    for (const auto& vi : g.value_info()) Add(vi.name(), vi.type());
    for (const auto& vi : g.output()) Add(vi.name(), vi.type());
    for (const auto& init : g.initializer())
      Set(init.name(), static_cast<DType>(init.data_type()), {init.dims().begin(), init.dims().end()});
    for (const auto& node : g.node())
      for (const auto& out : node.output()) defined_.insert(out);
    for (const auto& vi : g.input()) defined_.insert(vi.name());
    for (const auto& init : g.initializer()) defined_.insert(init.name());
  }
  const Tensor* Find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it != tensors_.end()) return &it->second.view;
    return parent_ ? parent_->Find(name) : nullptr;
  }
  bool Defines(const std::string& name) const { return defined_.count(name) != 0; }

 private:
  void Add(const std::string& name, const onnx::TypeProto& type) {
    TypeInfo info;
    ReadType(type, info);
    if (Complete(info)) Set(name, info.dtype, info.shape);
    else Set(name, info.dtype, {}, /*known=*/false);
  }
  // A body's tensors are few: each owns its shape, and its view points at it.
  struct Entry {
    std::vector<int64_t> shape;
    Tensor view;
  };
  void Set(const std::string& name, DType dtype, std::vector<int64_t> shape, bool known = true) {
    auto it = tensors_.try_emplace(name).first;  // unordered_map entries never move
    Entry& e = it->second;
    e.shape = std::move(shape);
    e.view.name = it->first;
    e.view.dtype = dtype;
    e.view.shape = e.shape;
    e.view.bytes = known ? TensorBytes(dtype, e.shape) : 0;
  }
  const Scope* parent_;
  std::unordered_map<std::string, Entry> tensors_;
  std::unordered_set<std::string> defined_;
};

struct BodyWork {
  OpWork work;
  size_t unknown = 0;
};

BodyWork GraphWork(const onnx::GraphProto& g, const Scope* parent);

// Work of a node inside a body (shapes from the body's scope); control flow recurses.
BodyWork NodeWork(const onnx::NodeProto& node, const Scope& scope) {
  BodyWork bw;
  OpAttrs attrs;
  ReadAttrs(node, attrs);
  std::vector<const Tensor*> ins, outs;
  for (const auto& n : node.input()) ins.push_back(n.empty() ? nullptr : scope.Find(n));
  for (const auto& n : node.output()) outs.push_back(n.empty() ? nullptr : scope.Find(n));
  if (ClassifyOp(node.op_type()) == OpFamily::kControlFlow) {
    double best = -1;
    for (const auto& attr : node.attribute()) {
      if (!attr.has_g()) continue;
      BodyWork sub = GraphWork(attr.g(), &scope);
      if (sub.work.flops > best) {  // If: the costlier branch
        best = sub.work.flops;
        bw = sub;
      }
    }
    return bw;
  }
  bw.work = EstimateOpWork(node.op_type(), attrs, ins, outs);
  bw.unknown = bw.work.known ? 0 : 1;
  return bw;
}

BodyWork GraphWork(const onnx::GraphProto& g, const Scope* parent) {
  Scope scope(g, parent);
  BodyWork total;
  for (const auto& node : g.node()) {
    BodyWork w = NodeWork(node, scope);
    total.work.flops += w.work.flops;
    total.work.bytes += w.work.bytes;
    total.unknown += w.unknown;
  }
  return total;
}

// Names a body reads from enclosing scopes: they are implicit inputs of the control-flow node.
void CollectOuterReads(const onnx::GraphProto& g, std::set<std::string>& out) {
  std::unordered_set<std::string> local;
  for (const auto& vi : g.input()) local.insert(vi.name());
  for (const auto& init : g.initializer()) local.insert(init.name());
  for (const auto& node : g.node()) {
    for (const auto& in : node.input())
      if (!in.empty() && !local.count(in)) out.insert(in);
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) {
        std::set<std::string> inner;
        CollectOuterReads(attr.g(), inner);
        for (const auto& n : inner)
          if (!local.count(n)) out.insert(n);
      }
    }
    for (const auto& o : node.output()) local.insert(o);
  }
  for (const auto& o : g.output())
    if (!local.count(o.name())) out.insert(o.name());
}

int64_t ConstantScalar(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& init : g.initializer()) {
    if (init.name() != name) continue;
    if (init.int64_data_size() > 0) return init.int64_data(0);
    if (init.data_type() == onnx::TensorProto::INT64 && init.raw_data().size() >= 8) {
      int64_t v;
      std::memcpy(&v, init.raw_data().data(), 8);
      return v;
    }
  }
  return 0;
}

// Thrown by an optimistic build that meets a node output without a static shape, or a control-flow body (whose
// shapes only inference provides): ImportModel then runs shape inference and builds again.
struct NeedsShapeInference {};

// Builds the IR from the model, writing the Graph's columns directly through GraphBuilder: per node a few
// name-index probes and array appends, no allocation.
class IrBuilder {
 public:
  IrBuilder(onnx::ModelProto& model, const std::string& source, ImportReport& report, const std::string& model_dir,
            bool optimistic)
      : g_(model.graph()), source_(source), report_(report), model_dir_(model_dir), optimistic_(optimistic),
        builder_(source) {}

  Graph Build() {
    DeclareInitializers();
    DeclareInputs();
    DeclareValueInfo();
    AddNodes();
    DemoteRunningStatistics();
    for (const auto& out : g_.output()) {
      const TensorId t = builder_.FindTensor(out.name());
      if (t == kNone)
        throw Error(source_ + ": graph output '" + out.name() + "' is not produced by any node or input");
      builder_.tensor(t).is_graph_output = true;
    }
    return builder_.Finalize();
  }

 private:
  void DeclareInitializers() {
    // Sizes from counts alone (a pass over the nodes would cost as much as a tenth of the build): one tensor per
    // value_info or node, and names well under 16 characters on average; the columns grow if not.
    const auto nodes = static_cast<size_t>(g_.node_size());
    const size_t tensors = std::max(nodes, static_cast<size_t>(g_.value_info_size())) +
                           static_cast<size_t>(g_.input_size() + g_.initializer_size());
    builder_.Reserve(nodes, tensors, 16 * (tensors + nodes));
    for (const auto& init : g_.initializer()) {
      const TensorId id = builder_.Tensor(init.name());
      builder_.SetType(id, static_cast<DType>(init.data_type()),
                       Span<int64_t>(init.dims().data(), init.dims().data() + init.dims_size()));
      TensorInfo& t = builder_.tensor(id);
      t.is_parameter = IsFloating(t.dtype) && t.bytes > static_cast<uint64_t>(DTypeSize(t.dtype));
      t.is_constant = !t.is_parameter;
      if (init.data_location() == onnx::TensorProto::EXTERNAL) CheckExternal(init, t.bytes);
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

  void CheckExternal(const onnx::TensorProto& init, uint64_t bytes) {
    std::string location;
    uint64_t offset = 0, length = bytes;
    for (const auto& kv : init.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoull(kv.value());
      else if (kv.key() == "length") length = std::stoull(kv.value());
    }
    if (location.empty())
      throw Error(source_ + ": initializer '" + init.name() + "' has external data without a location");
    if (model_dir_.empty()) return;
    const std::filesystem::path file = std::filesystem::path(model_dir_) / location;
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec)
      throw Error(source_ + ": initializer '" + init.name() + "': external data file '" + file.string() +
                  "' cannot be read");
    if (offset + length > size)
      throw Error(source_ + ": initializer '" + init.name() + "': external data file '" + file.string() +
                  "' is shorter than offset + length (" + std::to_string(offset + length) + " > " +
                  std::to_string(size) + " bytes)");
  }

  void DeclareInputs() {
    for (const auto& vi : g_.input()) {
      if (builder_.FindTensor(vi.name()) != kNone) continue;  // an initializer with a default-overridable input: the initializer wins
      const TensorId id = builder_.Tensor(vi.name());
      const TypeInfo& info = ReadType(vi.type(), type_);
      if (info.is_tensor && !Complete(info)) {
        if (!info.has_shape)
          throw Error(source_ + ": graph input '" + vi.name() + "' has no shape");
        const size_t dim = std::find(info.shape.begin(), info.shape.end(), -1) - info.shape.begin();
        const std::string symbolic(info.symbolic);
        throw Error(source_ + ": graph input '" + vi.name() + "' has symbolic dim " + std::to_string(dim) + " ('" +
                    symbolic + "'): bind it with --batch, --seq or --dim " + symbolic + "=<size>");
      }
      builder_.SetType(id, info.dtype, info.shape);
      TensorInfo& t = builder_.tensor(id);
      // Marked inputs are weights (running statistics among them are demoted after the nodes are read).
      t.is_parameter = vi.doc_string() == "allot:parameter";
      t.is_graph_input = !t.is_parameter;
    }
  }

  void DeclareValueInfo() {
    static const int64_t kUnknown[] = {-1};
    auto declare = [&](const onnx::ValueInfoProto& vi, uint32_t hash) {
      const TypeInfo& info = ReadType(vi.type(), type_);
      if (!info.is_tensor) return;
      const TensorId id = builder_.Tensor(vi.name(), hash);
      if (builder_.tensor(id).dtype != DType::kUndefined) return;
      if (Complete(info)) builder_.SetType(id, info.dtype, info.shape);
      else builder_.SetType(id, info.dtype, Span<int64_t>(kUnknown, kUnknown + 1));
    };
    for (const auto* values : {&g_.value_info(), &g_.output()}) {
      // Hash and prefetch kAhead values ahead (see AddNodes).
      const int n = values->size();
      uint32_t hashes[kAhead];
      auto prepare = [&](int i) {
        hashes[i % kAhead] = NameTable::Hash(values->Get(i).name());
        builder_.PrefetchTensor(hashes[i % kAhead]);
      };
      for (int i = 0; i < std::min(n, kAhead); ++i) prepare(i);
      for (int i = 0; i < n; ++i) {
        declare(values->Get(i), hashes[i % kAhead]);
        if (i + kAhead < n) prepare(i + kAhead);
      }
    }
  }

  // The name hashes of a node's inputs, outputs and name, computed kAhead nodes early.
  struct NodeHashes {
    std::vector<uint32_t> inputs, outputs;
    uint32_t name = 0;
  };
  void PrepareNode(int i, NodeHashes& h) {
    const onnx::NodeProto& proto = g_.node(i);
    h.inputs.clear();
    h.outputs.clear();
    for (const auto& n : proto.input()) {
      h.inputs.push_back(NameTable::Hash(n));
      builder_.PrefetchTensor(h.inputs.back());
    }
    for (const auto& n : proto.output()) {
      h.outputs.push_back(NameTable::Hash(n));
      builder_.PrefetchTensor(h.outputs.back());
    }
    h.name = NameTable::Hash(proto.name());
    if (!proto.name().empty()) builder_.PrefetchNode(h.name);
  }

  void AddNodes() {
    std::unique_ptr<Scope> scope;  // built lazily: only control-flow bodies need name-level shape lookups
    std::map<std::string, size_t> unknown_by_op;
    std::vector<TensorId> in_ids, out_ids, inputs, outputs;
    std::vector<Tensor> views;
    std::vector<const Tensor*> ins, outs;
    OpAttrs attrs;
    std::string generated;
    // Each name lookup starts with a cache miss into an index of all names: hashing node i + kAhead and
    // prefetching its slots while node i is built lets those misses overlap (measured: the node phase 1.6x
    // faster on the 100k-node synthetic graph; prefetching the tensors' data one level deeper did not help).
    const int n_nodes = g_.node_size();
    NodeHashes ahead[kAhead];
    for (int i = 0; i < std::min(n_nodes, kAhead); ++i) PrepareNode(i, ahead[i]);
    for (int i = 0; i < n_nodes; ++i) {
      const onnx::NodeProto& proto = g_.node(i);
      const NodeHashes& hashes = ahead[i % kAhead];
      // "<op_type>_<index>" for unnamed nodes, "__2", "__3", ... on collisions (see onnx_import.h).
      std::string_view name = proto.name();
      uint32_t name_hash = hashes.name;
      if (name.empty()) {
        generated = proto.op_type() + "_" + std::to_string(i);
        name = generated;
        name_hash = NameTable::Hash(name);
      }
      in_ids.clear();
      out_ids.clear();
      inputs.clear();
      outputs.clear();
      const bool batch_norm = std::string_view(proto.op_type()) == "BatchNormalization";
      has_batch_norm_ |= batch_norm;
      for (int k = 0; k < proto.input_size(); ++k) {
        const std::string& n = proto.input(k);
        if (n.empty()) {
          in_ids.push_back(kNone);
          continue;
        }
        const TensorId t = builder_.Tensor(n, hashes.inputs[k]);
        in_ids.push_back(t);
        inputs.push_back(t);
        if (reads_.size() <= t) reads_.resize(std::max<size_t>(t + 1, 2 * reads_.size()), 0);
        reads_[t] |= batch_norm && (k == 3 || k == 4) ? kReadAsRunningStat : kReadOtherwise;
      }
      for (int k = 0; k < proto.output_size(); ++k) {
        const std::string& n = proto.output(k);
        out_ids.push_back(n.empty() ? kNone : builder_.Tensor(n, hashes.outputs[k]));
        if (!n.empty()) outputs.push_back(out_ids.back());
      }
      // Only a node with attributes can hold a body; every other node's family comes from a per-op-type cache.
      const bool control_flow =
          proto.attribute_size() > 0 && ClassifyOp(proto.op_type()) == OpFamily::kControlFlow;
      if (control_flow) {
        if (optimistic_) throw NeedsShapeInference{};
        // Outer-scope reads become inputs so the edges (and transfers) exist.
        std::set<std::string> outer;
        for (const auto& attr : proto.attribute())
          if (attr.has_g()) CollectOuterReads(attr.g(), outer);
        for (const auto& read : outer) {
          const TensorId t = builder_.FindTensor(read);
          if (t == kNone)
            throw Error(source_ + ": node '" + builder_.UniqueNodeName(name) + "': its body reads '" + read +
                        "', which is not defined before it (dangling input)");
          if (std::find(inputs.begin(), inputs.end(), t) == inputs.end()) inputs.push_back(t);
        }
      }
      const NodeId id = builder_.AppendNode(name, name_hash, proto.op_type(), proto.domain(), inputs, outputs);
      const OpFamily family = FamilyOf(builder_.graph().op_id(id), proto.op_type());
      if (proto.attribute_size() > 0) {
        attrs = OpAttrs();
        ReadAttrs(proto, attrs);
      }
      // Views last: adding tensors or names may move the graph's arrays.
      views.clear();
      for (TensorId t : in_ids) views.push_back(t == kNone ? Tensor() : builder_.graph().tensor(t));
      for (TensorId t : out_ids) views.push_back(t == kNone ? Tensor() : builder_.graph().tensor(t));
      ins.clear();
      outs.clear();
      for (size_t k = 0; k < in_ids.size(); ++k) ins.push_back(in_ids[k] == kNone ? nullptr : &views[k]);
      for (size_t k = 0; k < out_ids.size(); ++k) {
        outs.push_back(out_ids[k] == kNone ? nullptr : &views[in_ids.size() + k]);
        if (outs.back()) CheckStaticShape(*outs.back(), id);
      }
      static const OpAttrs kNoAttrs;
      const OpAttrs& node_attrs = proto.attribute_size() > 0 ? attrs : kNoAttrs;
      OpWork work;
      if (control_flow) {  // has attributes (its bodies), so node_attrs is attrs, which gets the trip count
        if (!scope) scope = std::make_unique<Scope>(g_, nullptr);
        work = ControlFlowWork(proto, *scope, std::string(builder_.graph().node_name(id)), attrs);
      } else {
        work = EstimateOpWork(family, proto.op_type(), node_attrs, ins, outs);
      }
      if (proto.attribute_size() > 0) builder_.SetAttrs(id, attrs);
      builder_.SetWork(id, work.flops, work.bytes, work.known);
      if (!work.known) {
        ++report_.unknown_ops;
        ++unknown_by_op[proto.op_type()];
      }
      if (i + kAhead < n_nodes) PrepareNode(i + kAhead, ahead[i % kAhead]);
    }
    for (const auto& [op, count] : unknown_by_op)
      report_.warnings.push_back("op '" + op + "' (" + std::to_string(count) +
                                 " nodes) is unknown to the cost model: using a generic cost");
  }

  OpWork ControlFlowWork(const onnx::NodeProto& proto, const Scope& scope, const std::string& node_name,
                         OpAttrs& attrs) {
    OpWork work;
    BodyWork best;
    best.work.flops = -1;
    for (const auto& attr : proto.attribute()) {
      if (!attr.has_g()) continue;
      BodyWork w = GraphWork(attr.g(), &scope);
      if (w.work.flops > best.work.flops) best = w;
    }
    if (best.work.flops < 0) best.work.flops = 0;
    int64_t trips = 1;
    if (proto.op_type() == "Loop") {
      trips = proto.input_size() > 0 && !proto.input(0).empty() ? ConstantScalar(g_, proto.input(0)) : 0;
      if (trips <= 0) {
        report_.warnings.push_back("node '" + node_name + "': Loop trip count is not a constant; costing one trip");
        trips = 1;
      }
    } else if (proto.op_type() == "Scan") {
      int64_t num_scan_inputs = 0;
      for (const auto& attr : proto.attribute())
        if (attr.name() == "num_scan_inputs") num_scan_inputs = attr.i();
      const int first_scan = proto.input_size() - static_cast<int>(num_scan_inputs);
      const Tensor* x = first_scan >= 0 && first_scan < proto.input_size() ? scope.Find(proto.input(first_scan)) : nullptr;
      trips = x && !x->shape.empty() && x->shape[0] > 0 ? x->shape[0] : 1;
    }
    attrs.trip_count = trips;
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
  void CheckStaticShape(const Tensor& output, NodeId n) {
    const bool unknown = output.dtype == DType::kUndefined ||
                         std::any_of(output.shape.begin(), output.shape.end(), [](int64_t d) { return d < 0; });
    if (!unknown) return;
    if (optimistic_) throw NeedsShapeInference{};
    const Graph& g = builder_.graph();
    throw Error(source_ + ": cannot resolve the static shape of tensor '" + std::string(output.name) +
                "' (output of node '" + std::string(g.node_name(n)) + "', op " + std::string(g.op_type(n)) +
                "): it depends on a symbolic dim or on run-time data; bind dims with --batch, --seq or --dim");
  }

  static constexpr int kAhead = 16;
  const onnx::GraphProto& g_;
  static constexpr uint8_t kReadAsRunningStat = 1, kReadOtherwise = 2;
  std::vector<uint8_t> reads_;  // per tensor: how nodes read it (bits above)
  std::vector<int8_t> family_of_op_;  // by Graph::op_id: an OpFamily, or -1 until classified
  bool has_batch_norm_ = false;
  TypeInfo type_;  // reused by every ReadType
  const std::string& source_;
  ImportReport& report_;
  std::string model_dir_;
  bool optimistic_;  // shape inference has not run: a missing shape means it must (NeedsShapeInference)
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

}  // namespace

onnx::ModelProto ReadModelProto(const std::string& path) {
  const std::string bytes = ReadFile(path);
  if (bytes.empty()) throw Error(path + ": empty file, not an ONNX model");
  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
  stream.SetTotalBytesLimit(INT_MAX);
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw Error(path + ": larger than protobuf's 2 GiB limit; store the weights as external data");
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    throw Error(path + ": not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  if (model.ir_version() <= 0 || !model.has_graph())
    throw Error(path + ": not an ONNX model (no ir_version or no graph)");
  return model;
}

Graph ImportModel(onnx::ModelProto& model, const std::string& source, const ImportOptions& options,
                  ImportReport* report, const std::string& model_dir) {
  ImportReport local;
  ImportReport& rep = report ? *report : local;
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  BindInputDims(*model.mutable_graph(), options);
  auto t0 = Clock::now();
  if (options.check) {
    try {
      CheckModel(model);
    } catch (const std::exception& e) {
      ExplainStructure(model.graph(), source);  // throws allot's own message for structural faults
      throw Error(source + ": ONNX checker: " + FirstLine(e.what()));
    }
  }
  rep.check_seconds = seconds_since(t0);
  // Most models allot generates, and many exports, carry every shape already: build first, and run ONNX shape
  // inference (the costliest step of a large import) only when the build meets a shape it lacks. The abandoned
  // build stops at the first such node and counts as inference time.
  t0 = Clock::now();
  try {
    ImportReport attempt;
    Graph graph = IrBuilder(model, source, attempt, model_dir, /*optimistic=*/true).Build();
    rep.warnings = std::move(attempt.warnings);
    rep.unknown_ops = attempt.unknown_ops;
    rep.build_seconds = seconds_since(t0);
    return graph;
  } catch (const NeedsShapeInference&) {
  }
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception& e) {
    if (!options.check) ExplainStructure(model.graph(), source);
    throw Error(source + ": shape inference failed: " + FirstLine(e.what()));
  }
  rep.ran_shape_inference = true;
  rep.infer_seconds = seconds_since(t0);
  t0 = Clock::now();
  Graph graph = IrBuilder(model, source, rep, model_dir, /*optimistic=*/false).Build();
  rep.build_seconds = seconds_since(t0);
  return graph;
}

Graph ImportOnnxFile(const std::string& path, const ImportOptions& options, ImportReport* report) {
  onnx::ModelProto model = ReadModelProto(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ImportModel(model, path, options, report, dir.empty() ? "." : dir);
}

}  // namespace allot
