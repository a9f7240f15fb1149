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
#include <deque>
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

struct TypeInfo {
  bool is_tensor = false;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;  // -1 for unknown dims
  bool has_shape = false;
  std::string symbolic;        // first dim_param found, for error messages
};

TypeInfo ReadType(const onnx::TypeProto& type) {
  TypeInfo info;
  const onnx::TypeProto_Tensor* tt = nullptr;
  if (type.has_tensor_type()) tt = &type.tensor_type();
  if (!tt) return info;
  info.is_tensor = true;
  info.dtype = static_cast<DType>(tt->elem_type());
  if (tt->has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt->shape().dim()) {
      if (d.has_dim_value()) {
        info.shape.push_back(d.dim_value());
      } else {
        info.shape.push_back(-1);
        if (info.symbolic.empty()) info.symbolic = d.has_dim_param() ? d.dim_param() : "?";
      }
    }
  }
  return info;
}

bool Complete(const TypeInfo& t) {
  return t.is_tensor && t.has_shape && std::none_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; });
}

// True when every node output already has a complete static shape (allot's generated models): shape inference
// can then be skipped, which is most of the import time of a large model.
bool ModelCarriesAllShapes(const onnx::GraphProto& g) {
  NameTable typed;
  typed.Reserve(static_cast<size_t>(g.value_info_size() + g.output_size()));
  for (const auto& vi : g.value_info())
    if (Complete(ReadType(vi.type()))) typed.Insert(vi.name(), 0);
  for (const auto& vi : g.output())
    if (Complete(ReadType(vi.type()))) typed.Insert(vi.name(), 0);
  for (const auto& vi : g.input())
    if (!Complete(ReadType(vi.type()))) return false;
  for (const auto& node : g.node()) {
    for (const auto& attr : node.attribute())
      if (attr.has_g() || attr.graphs_size() > 0) return false;
    for (const auto& out : node.output())
      if (!out.empty() && typed.Find(out) == NameTable::kMissing) return false;
  }
  return true;
}

void ReadAttrs(const onnx::NodeProto& node, OpAttrs& a) {
  for (const auto& attr : node.attribute()) {
    const std::string& n = attr.name();
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
    for (const auto& init : g.initializer()) {
      Tensor& t = tensors_[init.name()];
      t.name = init.name();
      t.dtype = static_cast<DType>(init.data_type());
      t.shape.assign(init.dims().begin(), init.dims().end());
      t.bytes = TensorBytes(t.dtype, t.shape);
    }
    for (const auto& node : g.node())
      for (const auto& out : node.output()) defined_.insert(out);
    for (const auto& vi : g.input()) defined_.insert(vi.name());
    for (const auto& init : g.initializer()) defined_.insert(init.name());
  }
  const Tensor* Find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it != tensors_.end()) return &it->second;
    return parent_ ? parent_->Find(name) : nullptr;
  }
  bool Defines(const std::string& name) const { return defined_.count(name) != 0; }

 private:
  void Add(const std::string& name, const onnx::TypeProto& type) {
    TypeInfo info = ReadType(type);
    Tensor& t = tensors_[name];
    t.name = name;
    t.dtype = info.dtype;
    if (Complete(info)) {
      t.shape = std::move(info.shape);
      t.bytes = TensorBytes(t.dtype, t.shape);
    }
  }
  const Scope* parent_;
  std::unordered_map<std::string, Tensor> tensors_;
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

// Builds the IR from the (shape-inferred) model.
class IrBuilder {
 public:
  IrBuilder(onnx::ModelProto& model, const std::string& source, ImportReport& report, const std::string& model_dir)
      : g_(model.graph()), source_(source), report_(report), model_dir_(model_dir), builder_(source) {}

  Graph Build() {
    DeclareInitializers();
    DeclareInputs();
    DeclareValueInfo();
    AddNodes();
    for (const auto& out : g_.output()) {
      const TensorId t = names_.Find(out.name());
      if (t == kNone)
        throw Error(source_ + ": graph output '" + out.name() + "' is not produced by any node or input");
      builder_.tensor(t).is_graph_output = true;
    }
    CheckShapes();
    return builder_.Finalize();
  }

 private:
  void DeclareInitializers() {
    size_t tensors = static_cast<size_t>(g_.input_size() + g_.initializer_size());
    bool has_batch_norm = false;
    for (const auto& node : g_.node()) {
      tensors += static_cast<size_t>(node.output_size());
      has_batch_norm |= node.op_type() == "BatchNormalization";
    }
    builder_.Reserve(static_cast<size_t>(g_.node_size()), tensors);
    names_.Reserve(tensors);
    node_names_.Reserve(static_cast<size_t>(g_.node_size()));
    // Running statistics are not trained; only models with BatchNormalization pay for finding them.
    if (has_batch_norm)
      for (const auto& node : g_.node())
        for (int i = 0; i < node.input_size(); ++i) {
          if (node.op_type() == "BatchNormalization" && (i == 3 || i == 4)) bn_stats_.insert(node.input(i));
          else other_reads_.insert(node.input(i));
        }
    for (const auto& init : g_.initializer()) {
      const TensorId id = Resolve(init.name());
      std::vector<int64_t> dims(init.dims().begin(), init.dims().end());
      builder_.SetType(id, static_cast<DType>(init.data_type()), dims);
      Tensor& t = builder_.tensor(id);
      const bool running_stat = bn_stats_.count(init.name()) && !other_reads_.count(init.name());
      t.is_parameter = IsFloating(t.dtype) && NumElements(t.shape) > 1 && !running_stat;
      t.is_constant = !t.is_parameter;
      if (init.data_location() == onnx::TensorProto::EXTERNAL) CheckExternal(init, t.bytes);
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
      const TensorId existing = names_.Find(vi.name());
      if (existing != kNone) continue;  // an initializer with a default-overridable input: the initializer wins
      const TensorId id = Resolve(vi.name());
      const TypeInfo info = ReadType(vi.type());
      if (info.is_tensor && !Complete(info)) {
        if (!info.has_shape)
          throw Error(source_ + ": graph input '" + vi.name() + "' has no shape");
        const size_t dim = std::find(info.shape.begin(), info.shape.end(), -1) - info.shape.begin();
        throw Error(source_ + ": graph input '" + vi.name() + "' has symbolic dim " + std::to_string(dim) + " ('" +
                    info.symbolic + "'): bind it with --batch, --seq or --dim " + info.symbolic + "=<size>");
      }
      builder_.SetType(id, info.dtype, info.shape);
      Tensor& t = builder_.tensor(id);
      // Marked inputs are weights; BatchNormalization's running statistics among them are state, not trained.
      const bool running_stat = bn_stats_.count(vi.name()) && !other_reads_.count(vi.name());
      t.is_parameter = vi.doc_string() == "allot:parameter" && !running_stat;
      t.is_constant = vi.doc_string() == "allot:parameter" && running_stat;
      t.is_graph_input = !t.is_parameter && !t.is_constant;
    }
  }

  void DeclareValueInfo() {
    auto declare = [&](const onnx::ValueInfoProto& vi) {
      const TypeInfo info = ReadType(vi.type());
      if (!info.is_tensor) return;
      const TensorId id = Resolve(vi.name());
      if (builder_.tensor(id).dtype != DType::kUndefined) return;
      builder_.SetType(id, info.dtype, Complete(info) ? info.shape : std::vector<int64_t>{-1});
    };
    for (const auto& vi : g_.value_info()) declare(vi);
    for (const auto& vi : g_.output()) declare(vi);
  }

  void AddNodes() {
    std::unique_ptr<Scope> scope;  // built lazily: only control-flow bodies need name-level shape lookups
    std::map<std::string, size_t> unknown_by_op;
    std::vector<const Tensor*> ins, outs;
    std::vector<TensorId> in_ids, out_ids;
    for (int i = 0; i < g_.node_size(); ++i) {
      const onnx::NodeProto& proto = g_.node(i);
      Node node;
      node.name = std::string(UniqueNodeName(proto, i));
      node.op_type = proto.op_type();
      node.domain = proto.domain();
      ReadAttrs(proto, node.attrs);
      // Ids first, pointers after: creating a tensor may move the builder's tensor array.
      in_ids.clear();
      out_ids.clear();
      for (const auto& name : proto.input()) in_ids.push_back(name.empty() ? kNone : Resolve(name));
      for (const auto& name : proto.output()) out_ids.push_back(name.empty() ? kNone : Resolve(name));
      ins.clear();
      outs.clear();
      for (TensorId t : in_ids) {
        ins.push_back(t == kNone ? nullptr : &builder_.tensor(t));
        if (t != kNone) node.inputs.push_back(t);
      }
      for (TensorId t : out_ids) {
        outs.push_back(t == kNone ? nullptr : &builder_.tensor(t));
        if (t != kNone) node.outputs.push_back(t);
      }
      OpWork work;
      if (ClassifyOp(proto.op_type()) == OpFamily::kControlFlow) {
        if (!scope) scope = std::make_unique<Scope>(g_, nullptr);
        work = ControlFlowWork(proto, *scope, node);
      } else {
        work = EstimateOpWork(proto.op_type(), node.attrs, ins, outs);
      }
      node.flops = work.flops;
      node.bytes_accessed = work.bytes;
      node.known_op = work.known;
      if (!work.known) {
        ++report_.unknown_ops;
        ++unknown_by_op[proto.op_type()];
      }
      builder_.AddNodeUnchecked(std::move(node));
    }
    for (const auto& [op, count] : unknown_by_op)
      report_.warnings.push_back("op '" + op + "' (" + std::to_string(count) +
                                 " nodes) is unknown to the cost model: using a generic cost");
  }

  OpWork ControlFlowWork(const onnx::NodeProto& proto, const Scope& scope, Node& node) {
    OpWork work;
    std::set<std::string> outer;
    BodyWork best;
    best.work.flops = -1;
    for (const auto& attr : proto.attribute()) {
      if (!attr.has_g()) continue;
      CollectOuterReads(attr.g(), outer);
      BodyWork w = GraphWork(attr.g(), &scope);
      if (w.work.flops > best.work.flops) best = w;
    }
    if (best.work.flops < 0) best.work.flops = 0;
    int64_t trips = 1;
    if (proto.op_type() == "Loop") {
      trips = proto.input_size() > 0 && !proto.input(0).empty() ? ConstantScalar(g_, proto.input(0)) : 0;
      if (trips <= 0) {
        report_.warnings.push_back("node '" + node.name + "': Loop trip count is not a constant; costing one trip");
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
    node.attrs.trip_count = trips;
    work.flops = best.work.flops * static_cast<double>(trips);
    work.bytes = best.work.bytes * static_cast<double>(trips);
    work.known = best.unknown == 0;
    // Outer-scope reads become inputs so the edges (and transfers) exist.
    for (const auto& name : outer) {
      const TensorId t = names_.Find(name);
      if (t == kNone)
        throw Error(source_ + ": node '" + node.name + "': its body reads '" + name +
                    "', which is not defined before it (dangling input)");
      if (std::find(node.inputs.begin(), node.inputs.end(), t) == node.inputs.end()) node.inputs.push_back(t);
    }
    return work;
  }

  void CheckShapes() {
    for (NodeId n = 0; n < builder_.num_nodes(); ++n) {
      const Node& node = builder_.node(n);
      for (TensorId t : node.outputs) {
        const Tensor& tensor = builder_.tensor(t);
        const bool unknown = tensor.dtype == DType::kUndefined ||
                             std::any_of(tensor.shape.begin(), tensor.shape.end(), [](int64_t d) { return d < 0; });
        if (unknown)
          throw Error(source_ + ": cannot resolve the static shape of tensor '" + tensor.name + "' (output of node '" +
                      node.name + "', op " + node.op_type +
                      "): it depends on a symbolic dim or on run-time data; bind dims with --batch, --seq or --dim");
      }
    }
  }

  // Tensor names resolve through a table keyed by the ModelProto's own strings, which outlive the build.
  TensorId Resolve(const std::string& name) {
    const TensorId id = names_.Find(name);
    if (id != kNone) return id;
    return names_.Insert(name, builder_.NewTensor(name));
  }

  // "<op_type>_<index>" for unnamed nodes, "__2", "__3", ... on collisions (see onnx_import.h).
  std::string_view UniqueNodeName(const onnx::NodeProto& proto, int index) {
    std::string_view base = proto.name();
    if (base.empty()) base = generated_.emplace_back(proto.op_type() + "_" + std::to_string(index));
    std::string_view name = base;
    for (int k = 2; node_names_.Find(name) != NameTable::kMissing; ++k)
      name = generated_.emplace_back(std::string(base) + "__" + std::to_string(k));
    node_names_.Insert(name, static_cast<uint32_t>(index));
    return name;
  }

  const onnx::GraphProto& g_;
  std::unordered_set<std::string> bn_stats_, other_reads_;  // filled only for models with BatchNormalization
  NameTable names_;
  NameTable node_names_;
  std::deque<std::string> generated_;  // storage for generated names (a deque never moves its elements)
  const std::string& source_;
  ImportReport& report_;
  std::string model_dir_;
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
    Node node;
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
  t0 = Clock::now();
  const bool carries = ModelCarriesAllShapes(model.graph());
  if (!carries) {
    try {
      onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(false, 0, true));
    } catch (const std::exception& e) {
      if (!options.check) ExplainStructure(model.graph(), source);
      throw Error(source + ": shape inference failed: " + FirstLine(e.what()));
    }
    rep.ran_shape_inference = true;
  }
  rep.infer_seconds = seconds_since(t0);
  t0 = Clock::now();
  IrBuilder builder(model, source, rep, model_dir);
  Graph graph = builder.Build();
  rep.build_seconds = seconds_since(t0);
  return graph;
}

Graph ImportOnnxFile(const std::string& path, const ImportOptions& options, ImportReport* report) {
  onnx::ModelProto model = ReadModelProto(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ImportModel(model, path, options, report, dir.empty() ? "." : dir);
}

}  // namespace allot
