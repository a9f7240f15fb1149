#include "graph/shape_inference.h"

#include <onnx/defs/data_type_utils.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <unordered_map>

#include "graph/constant_folding.h"
#include "graph/dtype.h"
#include "graph/error.h"
#include "graph/graph.h"
#include "graph/name_table.h"
#include "graph/op_validation.h"

namespace allot {
namespace {

using onnx::TypeProto;

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

bool IsTensor(const TypeProto& t) { return t.value_case() == TypeProto::kTensorType; }

// Nothing known: no type, or a tensor type without element type or shape (as NodeContext leaves an output).
bool IsEmpty(const TypeProto& t) {
  return t.value_case() == TypeProto::VALUE_NOT_SET ||
         (IsTensor(t) && t.tensor_type().elem_type() == 0 && !t.tensor_type().has_shape());
}

bool IsStatic(const TypeProto& t) {
  if (!IsTensor(t) || t.tensor_type().elem_type() == 0 || !t.tensor_type().has_shape()) return false;
  for (const auto& d : t.tensor_type().shape().dim())
    if (!d.has_dim_value() || d.dim_value() < 0) return false;
  return true;
}

// "1x?x64" (symbolic dims by name); for messages.
std::string DescribeShape(const TypeProto& t) {
  switch (t.value_case()) {
    case TypeProto::kTensorType: break;
    case TypeProto::kSequenceType: return "a sequence";
    case TypeProto::kOptionalType: return "an optional";
    case TypeProto::kMapType: return "a map";
    case TypeProto::VALUE_NOT_SET: return "nothing";
    default: return "a non-tensor";
  }
  if (!t.tensor_type().has_shape()) return "an unknown shape";
  const auto& dims = t.tensor_type().shape().dim();
  if (dims.empty()) return "a scalar";
  std::string s;
  for (int k = 0; k < dims.size(); ++k) {
    if (k) s += "x";
    if (dims[k].has_dim_value()) s += std::to_string(dims[k].dim_value());
    else if (dims[k].has_dim_param()) s += dims[k].dim_param();
    else s += "?";
  }
  return s;
}

std::string DescribeType(int32_t elem_type) {
  const std::string_view name = DTypeName(static_cast<DType>(elem_type));
  return name.empty() ? "type " + std::to_string(elem_type) : std::string(name);
}

// How `known` (declared in the file, or a folded value's exact type) contradicts `inferred`: "" when it does not,
// else both sides described ("float32 vs int64", "4x4 vs 8x8"), by element type, rank or a dim both give.
std::pair<std::string, std::string> Contradiction(const TypeProto& known, const TypeProto& inferred) {
  if (!IsTensor(known) || !IsTensor(inferred)) return {};
  const auto &k = known.tensor_type(), &i = inferred.tensor_type();
  if (k.elem_type() != 0 && i.elem_type() != 0 && k.elem_type() != i.elem_type())
    return {DescribeType(k.elem_type()), DescribeType(i.elem_type())};
  if (!k.has_shape() || !i.has_shape()) return {};
  bool differs = k.shape().dim_size() != i.shape().dim_size();
  for (int d = 0; !differs && d < k.shape().dim_size(); ++d) {
    const auto &a = k.shape().dim(d), &b = i.shape().dim(d);
    differs = a.has_dim_value() && b.has_dim_value() && a.dim_value() != b.dim_value();
  }
  if (!differs) return {};
  return {DescribeShape(known), DescribeShape(inferred)};
}

// Fills what `inferred` lacks from `known` (after Contradiction found none).
void Fill(const TypeProto& known, TypeProto& inferred) {
  if (IsEmpty(inferred)) {
    inferred = known;
    return;
  }
  if (!IsTensor(known) || !IsTensor(inferred)) return;
  const auto& k = known.tensor_type();
  auto* i = inferred.mutable_tensor_type();
  if (i->elem_type() == 0) i->set_elem_type(k.elem_type());
  if (!k.has_shape()) return;
  if (!i->has_shape()) {
    *i->mutable_shape() = k.shape();
    return;
  }
  if (i->shape().dim_size() != k.shape().dim_size()) return;  // a rank the bounds contradict
  for (int d = 0; d < k.shape().dim_size(); ++d) {
    const auto& a = k.shape().dim(d);
    auto* b = i->mutable_shape()->mutable_dim(d);
    if (a.has_dim_value() && !b->has_dim_value()) b->set_dim_value(a.dim_value());
    else if (a.has_dim_param() && !b->has_dim_value() && !b->has_dim_param()) b->set_dim_param(a.dim_param());
  }
}

TypeProto TypeOf(const ConstTensor& v) {
  TypeProto t;
  auto* tt = t.mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  auto* shape = tt->mutable_shape();
  for (int64_t d : v.dims) shape->add_dim()->set_dim_value(d);
  return t;
}

std::optional<std::vector<int64_t>> StaticDims(const TypeProto* t) {
  if (!t || !IsStatic(*t)) return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto& d : t->tensor_type().shape().dim()) dims.push_back(d.dim_value());
  return dims;
}

int64_t AttrInt(const onnx::NodeProto& node, const std::string& name, int64_t fallback, bool* present = nullptr) {
  for (const auto& a : node.attribute())
    if (a.name() == name) {
      if (present) *present = true;
      return a.i();
    }
  if (present) *present = false;
  return fallback;
}

class GraphPass;

// How a pass treats its graph, inherited by the passes over its bodies.
struct PassMode {
  bool write = true;           // the graph's value_info takes what is inferred
  bool trust_declared = true;  // the graph's declared types are checked and used (a what-if pass ignores them:
                               // an exporter declares what one traced iteration saw)
  bool strict = true;          // a declared type the op contradicts is an Error (--no-check: inference wins)
  bool what_if = false;        // a later Loop iteration's types: no warnings, no facts for the cost model
};

// What every graph of one model shares: its opsets and functions, the op lookups, and the report.
struct ModelScope {
  const std::string& source;
  std::map<std::string, int> opsets;
  onnx::shape_inference::ModelLocalFunctionsMap functions;
  // Fresh symbolic dims for ONNX's function inference, unlike the model's own: filled on first use (reading every
  // value_info of a large graph costs more than the checks of the ops that never need it).
  onnx::SymbolTable* Symbols() {
    if (!symbols_filled) symbols.addFromGraph(model.graph());
    symbols_filled = true;
    return &symbols;
  }
  const onnx::ModelProto& model;
  onnx::shape_inference::SymbolTableImpl symbols;
  bool symbols_filled = false;
  // The element types a schema's formal input takes, for the check ONNX's own inference makes first
  // (OpSchema::CheckInputOutputType), here without its per-input string lookups under a global lock.
  struct FormalInput {
    uint32_t elem_types = ~0u;  // bit e: tensor(e) allowed (all bits where the schema lists no tensor type)
    int group = -1;             // homogeneous inputs sharing a type variable ("T") share a group
  };
  struct OpInfo {
    const onnx::OpSchema* schema = nullptr;
    std::vector<FormalInput> inputs;
    int groups = 0;
    onnx::InferenceFunction infer;  // the schema's, copied once (the schema returns it by value)
    const onnx::FunctionProto* local_function = nullptr;
    int opset = 1;
    bool foldable = false;
  };
  NameTable op_index;                // by op type (default domain) or "domain:op type"
  std::deque<std::string> op_keys;    // stable storage for op_index's keys
  std::deque<OpInfo> op_infos;
  struct BoundedOp {
    size_t count = 0;
    std::string example;  // preferably one whose bounded output is fully static
    bool example_static = false;
  };
  std::map<std::string, BoundedOp> bounded_ops;
  ShapeInferenceReport report;

  ModelScope(const onnx::ModelProto& model_in, const std::string& source_in) : source(source_in), model(model_in) {
    for (const auto& op : model.opset_import())
      opsets[op.domain() == "ai.onnx" ? "" : op.domain()] = static_cast<int>(op.version());
    for (const auto& f : model.functions()) functions[f.domain() + ":" + f.name()] = &f;
  }

  // One probe per node: ops are few, nodes many, and a string-keyed map showed in the profile.
  const OpInfo& Info(const onnx::NodeProto& node) {
    const bool custom = !(node.domain().empty() || node.domain() == "ai.onnx");
    std::string custom_key;
    std::string_view key = node.op_type();
    if (custom) key = custom_key = node.domain() + ":" + node.op_type();
    const uint32_t hash = NameTable::Hash(key);
    const auto key_of = [this](uint32_t id) { return std::string_view(op_keys[id]); };
    const uint32_t found = op_index.Find(key, hash, key_of);
    if (found != NameTable::kMissing) return op_infos[found];
    OpInfo info;
    const std::string domain = custom ? node.domain() : "";
    const auto opset = opsets.find(domain);
    info.opset = opset == opsets.end() ? 1 : opset->second;
    info.schema = onnx::OpSchemaRegistry::Schema(node.op_type(), info.opset, domain);
    if (info.schema && info.schema->has_type_and_shape_inference_function())
      info.infer = info.schema->GetTypeAndShapeInferenceFunction();
    if (info.schema) {
      std::map<std::string, int> groups;
      for (const auto& formal : info.schema->inputs()) {
        FormalInput in;
        uint32_t tensors = 0;
        for (const onnx::DataType type : formal.GetTypes()) {
          const onnx::TypeProto& proto = onnx::Utils::DataTypeUtils::ToTypeProto(type);
          if (proto.has_tensor_type() && proto.tensor_type().elem_type() < 32) tensors |= 1u << proto.tensor_type().elem_type();
        }
        if (tensors) in.elem_types = tensors;
        if (formal.GetIsHomogeneous()) in.group = groups.emplace(formal.GetTypeStr(), static_cast<int>(groups.size())).first->second;
        info.inputs.push_back(in);
      }
      info.groups = static_cast<int>(groups.size());
    }
    if (const auto f = functions.find(node.domain() + ":" + node.op_type()); f != functions.end())
      info.local_function = f->second;
    info.foldable = IsFoldableOp(node.op_type(), domain);
    const auto id = static_cast<uint32_t>(op_infos.size());
    op_keys.emplace_back(key);
    op_infos.push_back(std::move(info));
    op_index.FindOrInsert(op_keys.back(), hash, id, key_of);
    return op_infos.back();
  }
};

// Runs a GraphPass over a control-flow body for ONNX's If/Loop/Scan inference functions, with the enclosing
// graph's values (types, folded values) as its outer scope: folding and bounds work inside bodies too.
class BodyInferencer final : public onnx::GraphInferencer {
 public:
  BodyInferencer(onnx::GraphProto& body, ModelScope& scope, GraphPass& parent, PassMode mode)
      : body_(body), scope_(scope), parent_(parent), mode_(mode) {}
  std::vector<const TypeProto*> doInferencing(const std::vector<const TypeProto*>& input_types,
                                              const std::vector<const onnx::TensorProto*>& input_data) override;
  const std::vector<const TypeProto*>& outputs() const { return outputs_; }
  // Whether an output's type derives from a bounded dim (so the node's outputs are bounds too).
  bool approx() const;

 private:
  onnx::GraphProto& body_;
  ModelScope& scope_;
  GraphPass& parent_;
  PassMode mode_;
  std::unique_ptr<GraphPass> pass_;  // holds the types returned
  std::vector<const TypeProto*> outputs_;
};

// The output dims of an Einsum `equation` ("bij,bjk->bik", "...ij,...jk", implicit outputs included) over
// inputs of these dims; nullopt for an equation it cannot read or dims that disagree.
std::optional<std::vector<int64_t>> EinsumShape(std::string equation,
                                                const std::vector<std::vector<int64_t>>& inputs) {
  equation.erase(std::remove(equation.begin(), equation.end(), ' '), equation.end());
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != inputs.size()) return std::nullopt;
  std::map<char, int64_t> size;
  std::map<char, int> count;
  std::vector<int64_t> ellipsis;  // broadcast over the inputs' ellipsis dims
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string& term = terms[i];
    const size_t dots = term.find("...");
    const size_t letters = term.size() - (dots == std::string::npos ? 0 : 3);
    if (letters > inputs[i].size() || (dots == std::string::npos && letters != inputs[i].size())) return std::nullopt;
    const size_t covered = inputs[i].size() - letters;
    size_t dim = 0;
    for (size_t c = 0; c < term.size(); ++c) {
      if (c == dots) {
        std::vector<int64_t> here(inputs[i].begin() + dim, inputs[i].begin() + dim + covered);
        if (here.size() > ellipsis.size()) ellipsis.insert(ellipsis.begin(), here.size() - ellipsis.size(), 1);
        for (size_t e = 0; e < here.size(); ++e) {
          int64_t& o = ellipsis[ellipsis.size() - here.size() + e];
          if (here[e] != 1 && o != 1 && here[e] != o) return std::nullopt;
          if (o == 1) o = here[e];
        }
        dim += covered;
        c += 2;
        continue;
      }
      const char l = term[c];
      if (!std::isalpha(static_cast<unsigned char>(l))) return std::nullopt;
      const int64_t d = inputs[i][dim++];
      const auto [it, fresh] = size.emplace(l, d);
      if (!fresh && it->second != d) {
        if (it->second == 1) it->second = d;
        else if (d != 1) return std::nullopt;
      }
      ++count[l];
    }
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = equation.substr(arrow + 2);
  } else {
    out = "...";
    for (const auto& [l, c] : count)
      if (c == 1) out += l;
  }
  std::vector<int64_t> dims;
  for (size_t c = 0; c < out.size(); ++c) {
    if (out.compare(c, 3, "...") == 0) {
      dims.insert(dims.end(), ellipsis.begin(), ellipsis.end());
      c += 2;
      continue;
    }
    const auto it = size.find(out[c]);
    if (it == size.end()) return std::nullopt;
    dims.push_back(it->second);
  }
  return dims;
}

PassMode PassModeOf(const GraphPass& pass);

// One node's view for ONNX's inference functions: input types and values resolved by the pass, output types
// written into reusable scratch messages. (onnx's own InferenceContextImpl builds maps of names per node.)
class NodeContext final : public onnx::InferenceContext {
 public:
  NodeContext(ModelScope& scope, GraphPass& pass) : scope_(scope), pass_(pass) {}

  void Reset(onnx::NodeProto& node) {
    node_ = &node;
    types.assign(static_cast<size_t>(node.input_size()), nullptr);
    data.assign(static_cast<size_t>(node.input_size()), nullptr);
    const size_t n = static_cast<size_t>(node.output_size());
    if (outputs_.size() < n) outputs_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      // TypeProto::Clear frees the tensor type (its oneof) and its dims, which the next inference allocates
      // again; clearing inside the tensor type keeps them for reuse (a third of the pass was malloc and free).
      if (outputs_[k].has_tensor_type()) outputs_[k].mutable_tensor_type()->Clear();
      else outputs_[k].Clear();
    }
    bodies_.clear();
  }
  std::vector<const TypeProto*> types;
  std::vector<const onnx::TensorProto*> data;
  TypeProto& output(size_t k) { return outputs_[k]; }
  bool inferred_bodies() const { return !bodies_.empty(); }
  bool approx_bodies() const {
    return std::any_of(bodies_.begin(), bodies_.end(), [](const auto& b) { return b->approx(); });
  }
  // The bodies inferred for this node, in the order its inference asked for them (If: then, else; Loop: body).
  const std::vector<std::unique_ptr<BodyInferencer>>& bodies() const { return bodies_; }
  const BodyInferencer* first_body() const { return bodies_.empty() ? nullptr : bodies_.front().get(); }
  // Infers the body held by attribute `name` again, on other input types, without writing into it.
  std::vector<TypeProto> WhatIf(const std::string& name, const std::vector<const TypeProto*>& input_types) {
    for (auto& a : *node_->mutable_attribute())
      if (a.name() == name && a.has_g()) {
        PassMode what_if;
        what_if.write = what_if.trust_declared = false;
        what_if.what_if = true;
        BodyInferencer body(*a.mutable_g(), scope_, pass_, what_if);
        std::vector<TypeProto> out;
        for (const TypeProto* t : body.doInferencing(input_types, {})) out.push_back(t ? *t : TypeProto());
        return out;
      }
    return {};
  }

  const onnx::AttributeProto* getAttribute(const std::string& name) const override {
    for (const auto& a : node_->attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  size_t getNumInputs() const override { return types.size(); }
  const TypeProto* getInputType(size_t i) const override { return i < types.size() ? types[i] : nullptr; }
  const onnx::TensorProto* getInputData(size_t i) const override { return i < data.size() ? data[i] : nullptr; }
  size_t getNumOutputs() const override { return static_cast<size_t>(node_->output_size()); }
  TypeProto* getOutputType(size_t k) override {
    if (k >= getNumOutputs()) fail_type_inference("output ", k, " is out of range");
    return &outputs_[k];
  }
  onnx::GraphInferencer* getGraphAttributeInferencer(const std::string& name) override {
    for (auto& a : *node_->mutable_attribute())
      if (a.name() == name && a.has_g()) {
        bodies_.push_back(std::make_unique<BodyInferencer>(*a.mutable_g(), scope_, pass_, PassModeOf(pass_)));
        return bodies_.back().get();
      }
    fail_type_inference("attribute ", name, " holds no graph");
  }
  const onnx::SparseTensorProto* getInputSparseData(size_t) const override { return nullptr; }
  const onnx::TensorShapeProto* getSymbolicInput(size_t) const override { return nullptr; }

 private:
  ModelScope& scope_;
  GraphPass& pass_;
  onnx::NodeProto* node_ = nullptr;
  std::vector<TypeProto> outputs_;
  std::vector<std::unique_ptr<BodyInferencer>> bodies_;
};

// The pass over one graph: the main graph, or a control-flow body whose outer scope is `parent`.
class GraphPass {
 public:
  GraphPass(onnx::GraphProto& graph, ModelScope& scope, GraphPass* parent, PassMode mode)
      : g_(graph), scope_(scope), parent_(parent), mode_(mode), ctx_(scope, *this) {}
  const PassMode& mode() const { return mode_; }

  // The main graph.
  void Run(bool require_static) {
    Declare();
    const std::vector<int> order = Order();
    for (int n : order) InferNode(n);
    if (require_static)
      for (int n : order) RequireStatic(n);
    if (mode_.write) WriteBack();
    else scope_.report.changed |= std::any_of(values_.begin(), values_.end(), [](const Value& v) { return v.stored; });
  }

  // A body: its inputs typed by the control-flow op (where it gives them); returns its outputs' types. The values
  // ONNX's Loop inference passes for the inputs are the first iteration's (a carried counter's 0): they are folded
  // into this pass, which infers the first iteration (GrowthBound infers the second without them), so that
  // sizes computed from a carried value (torchvision's per-detection paste loop) resolve.
  std::vector<const TypeProto*> RunBody(const std::vector<const TypeProto*>& input_types,
                                        const std::vector<const onnx::TensorProto*>& input_data) {
    Declare();
    for (int i = 0; i < g_.input_size() && static_cast<size_t>(i) < input_types.size(); ++i) {
      Value& v = values_[Intern(g_.input(i).name())];
      if (input_types[i]) {
        TypeProto& t = inferred_.emplace_back(*input_types[i]);
        if (const TypeProto* declared = Declared(v)) Fill(*declared, t);
        v.type = &t;
      }
      if (static_cast<size_t>(i) < input_data.size() && input_data[i]) {
        v.data = input_data[i];
        if (auto c = ConstFromProto(*input_data[i], scope_.source + ": body input '" + g_.input(i).name() + "'"))
          v.value = &folded_.emplace_back(Folded{std::move(*c), {}}).value;
      }
    }
    for (int n : Order()) InferNode(n);
    if (mode_.write) WriteBack();
    std::vector<const TypeProto*> outputs;
    for (const auto& out : g_.output()) {
      const uint32_t id = Resolve(out.name());
      const TypeProto* t = id == NameTable::kMissing ? nullptr : values_[id].type;
      outputs_approx_ |= id != NameTable::kMissing && values_[id].approx;
      outputs.push_back(t ? t : &out.type());
    }
    return outputs;
  }

  bool outputs_approx() const { return outputs_approx_; }

  // The id of a name visible here, importing it from the enclosing graphs on first use; kMissing if none has it.
  uint32_t Resolve(std::string_view name) {
    const uint32_t id = index_.Find(name, [this](uint32_t i) { return names_[i]; });
    if (id != NameTable::kMissing || !parent_) return id;
    const uint32_t outer = parent_->Resolve(name);
    if (outer == NameTable::kMissing) return outer;
    const ConstTensor* value = parent_->ValueOf(outer);
    const Value& o = parent_->values_[outer];
    Value& v = values_[Intern(name)];
    v.type = o.type;
    v.data = o.data;
    v.value = value;
    v.decode_tried = true;
    v.outer = true;
    v.approx = o.approx;
    return static_cast<uint32_t>(values_.size() - 1);
  }

  // A value's folded content, decoding a small initializer on first use.
  const ConstTensor* ValueOf(uint32_t id) {
    Value& v = values_[id];
    if (v.value || v.initializer < 0 || v.decode_tried) return v.value;
    v.decode_tried = true;
    const onnx::TensorProto& init = g_.initializer(v.initializer);
    auto c = ConstFromProto(init, scope_.source + ": initializer '" + init.name() + "'");
    if (c) v.value = &folded_.emplace_back(Folded{std::move(*c), {}}).value;
    return v.value;
  }

 private:
  // Kept small (48 bytes): a 100k-node graph has as many values, and their first touch costs page faults.
  struct Value {
    const TypeProto* type = nullptr;          // what consumers see
    const onnx::TensorProto* data = nullptr;  // for ONNX's inference: an initializer or a folded value
    const ConstTensor* value = nullptr;       // known at import time
    int32_t declared = -1;                    // a graph input's index (graph_input), else a value_info's index
    int32_t initializer = -1;                 // index into the graph's initializers
    int32_t output = -1;                      // index into the graph's outputs
    int32_t producer = -1;                    // node index
    bool stored = false;                      // type points into inferred_ (to be written back)
    bool decode_tried = false;                // an initializer's value was looked for
    bool graph_input = false;
    bool outer = false;                       // from an enclosing graph
    bool approx = false;                      // its type or value derives from a bounded dim (an upper bound)
  };
  // The types the file declares for a value: as a graph input or in value_info, and as a graph output.
  const TypeProto* Declared(const Value& v) const {
    if (v.declared < 0 || (!mode_.trust_declared && !v.graph_input)) return nullptr;
    return v.graph_input ? &g_.input(v.declared).type() : &g_.value_info(v.declared).type();
  }
  const TypeProto* DeclaredOutput(const Value& v) const {
    return mode_.trust_declared && v.output >= 0 && v.initializer < 0 && !v.graph_input ? &g_.output(v.output).type() : nullptr;
  }
  struct Folded {
    ConstTensor value;
    onnx::TensorProto proto;
  };

  uint32_t Intern(std::string_view name) { return Intern(name, NameTable::Hash(name)); }
  uint32_t Intern(std::string_view name, uint32_t hash) {
    const uint32_t id = index_.FindOrInsert(name, hash, static_cast<uint32_t>(names_.size()),
                                            [this](uint32_t i) { return names_[i]; });
    if (id == names_.size()) {
      names_.push_back(name);
      values_.emplace_back();
    }
    return id;
  }

  // Interns names[0..n) in order, calling f(i, id): each name is hashed and its index slot prefetched kAhead names
  // early, so that the table's cache misses overlap (as in the IR build, graph/onnx_import.cc).
  template <typename F>
  void InternEach(const std::vector<const std::string*>& names, F f) {
    constexpr size_t kAhead = 8;
    uint32_t hashes[kAhead];
    const size_t n = names.size();
    for (size_t i = 0; i < std::min(n, kAhead); ++i) index_.Prefetch(hashes[i] = NameTable::Hash(*names[i]));
    for (size_t i = 0; i < n; ++i) {
      const uint32_t hash = hashes[i % kAhead];
      if (i + kAhead < n) index_.Prefetch(hashes[i % kAhead] = NameTable::Hash(*names[i + kAhead]));
      f(i, Intern(*names[i], hash));
    }
  }

  void Declare() {
    // Names: the initializers, inputs and node outputs (value_info and graph outputs name node outputs).
    size_t names = static_cast<size_t>(g_.initializer_size() + g_.input_size());
    for (const auto& node : g_.node()) names += static_cast<size_t>(node.output_size());
    index_.Reserve(names);
    names_.reserve(names);
    for (int i = 0; i < g_.initializer_size(); ++i) {
      const auto& init = g_.initializer(i);
      if (const std::string fault = ValidateInitializer(init); !fault.empty())
        throw Error(scope_.source + ": initializer " + Quote(init.name()) + ": " + fault);
      Value& v = values_[Intern(init.name())];
      if (v.initializer >= 0) continue;
      v.initializer = i;
      if (init.data_location() != onnx::TensorProto::EXTERNAL) v.data = &init;
      auto& t = init_types_.emplace_back();
      t.mutable_tensor_type()->set_elem_type(init.data_type());
      auto* shape = t.mutable_tensor_type()->mutable_shape();
      for (int64_t d : init.dims()) shape->add_dim()->set_dim_value(d);
      v.type = &t;
    }
    for (int i = 0; i < g_.input_size(); ++i) {
      Value& v = values_[Intern(g_.input(i).name())];
      if (v.initializer >= 0 || v.graph_input) continue;
      v.declared = i;
      v.graph_input = true;
      v.type = &g_.input(i).type();
    }
    std::vector<const std::string*> names_of;
    names_of.reserve(names);
    for (const auto& vi : g_.value_info()) names_of.push_back(&vi.name());
    InternEach(names_of, [this](size_t i, uint32_t id) {
      Value& v = values_[id];
      if (v.initializer < 0 && !v.graph_input && v.declared < 0) v.declared = static_cast<int32_t>(i);
    });
    for (int i = 0; i < g_.output_size(); ++i) {
      Value& v = values_[Intern(g_.output(i).name())];
      if (v.output < 0) v.output = i;
    }
    names_of.clear();
    std::vector<int> producer_of;
    producer_of.reserve(names);
    for (int n = 0; n < g_.node_size(); ++n)
      for (const std::string& out : g_.node(n).output())
        if (!out.empty()) {
          names_of.push_back(&out);
          producer_of.push_back(n);
        }
    InternEach(names_of, [&](size_t i, uint32_t id) {
      Value& v = values_[id];
      if (v.producer < 0) v.producer = producer_of[i];
    });
  }

  // Every node's input ids, resolved once (kMissing for an absent or unknown input).
  void ResolveInputs() {
    input_begin_.assign(1, 0);
    input_begin_.reserve(static_cast<size_t>(g_.node_size()) + 1);
    std::vector<const std::string*> names;
    for (const auto& node : g_.node()) {
      for (const std::string& in : node.input()) names.push_back(&in);
      input_begin_.push_back(static_cast<uint32_t>(names.size()));
    }
    // Hashed and prefetched kAhead names early, as in InternEach; a name this graph lacks comes from Resolve.
    constexpr size_t kAhead = 8;
    uint32_t hashes[kAhead];
    const size_t n = names.size();
    inputs_.resize(n);
    const auto key_of = [this](uint32_t i) { return names_[i]; };
    for (size_t i = 0; i < std::min(n, kAhead); ++i) index_.Prefetch(hashes[i] = NameTable::Hash(*names[i]));
    for (size_t i = 0; i < n; ++i) {
      const uint32_t hash = hashes[i % kAhead];
      if (i + kAhead < n) index_.Prefetch(hashes[i % kAhead] = NameTable::Hash(*names[i + kAhead]));
      if (names[i]->empty()) {
        inputs_[i] = NameTable::kMissing;
        continue;
      }
      const uint32_t id = index_.Find(*names[i], hash, key_of);
      inputs_[i] = id != NameTable::kMissing ? id : Resolve(*names[i]);
    }
  }
  Span<uint32_t> InputIds(int n) const { return {inputs_.data() + input_begin_[n], inputs_.data() + input_begin_[n + 1]}; }
  int Producer(uint32_t id) const { return id == NameTable::kMissing ? -1 : values_[id].producer; }

  // The file's order when it is topological (the checker requires it); else Kahn's, ties by index. Nodes on a
  // cycle are left out: the IR build names the cycle.
  std::vector<int> Order() {
    ResolveInputs();
    const int n = g_.node_size();
    bool sorted = true;
    for (int i = 0; i < n && sorted; ++i)
      for (uint32_t id : InputIds(i))
        if (Producer(id) >= i) {
          sorted = false;
          break;
        }
    std::vector<int> order;
    order.reserve(static_cast<size_t>(n));
    if (sorted) {
      for (int i = 0; i < n; ++i) order.push_back(i);
      return order;
    }
    std::vector<int> pending(static_cast<size_t>(n), 0);
    std::vector<std::vector<int>> consumers(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      for (uint32_t id : InputIds(i)) {
        const int p = Producer(id);
        if (p >= 0 && p != i) {
          ++pending[i];
          consumers[p].push_back(i);
        }
      }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int i = 0; i < n; ++i)
      if (pending[i] == 0) ready.push(i);
    while (!ready.empty()) {
      const int i = ready.top();
      ready.pop();
      order.push_back(i);
      for (int c : consumers[i])
        if (--pending[c] == 0) ready.push(c);
    }
    return order;
  }

  std::string NodeName(int n) const {
    const auto& node = g_.node(n);
    return node.name().empty() ? node.op_type() + "_" + std::to_string(n) : node.name();
  }
  std::string Where(int n) const {
    return scope_.source + ": node '" + NodeName(n) + "' (" + g_.node(n).op_type() + ")";
  }

  void InferNode(int n) {
    onnx::NodeProto& node = *g_.mutable_node(n);
    const ModelScope::OpInfo& info = scope_.Info(node);
    current_node_ = n;
    ctx_.Reset(node);
    bool inputs_static = true, approx_inputs = false;
    input_ids_ = InputIds(n);
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) continue;
      const uint32_t id = input_ids_[i];
      if (id == NameTable::kMissing) {
        inputs_static = false;
        continue;
      }
      const Value& v = values_[id];
      ctx_.types[i] = v.type;
      ctx_.data[i] = v.data;
      inputs_static &= v.type && (IsStatic(*v.type) || !IsTensor(*v.type));
      approx_inputs |= v.approx;
    }

    if (const std::string fault = ValidateNode(node, ctx_.types); !fault.empty()) throw Error(Where(n) + ": " + fault);
    CheckInputTypes(info, n);
    try {
      if (!InferTakenBranch(node)) {
        if (info.infer) {
          info.infer(ctx_);
        } else if (info.schema && info.schema->HasFunction() && info.schema->GetFunction()) {
          onnx::shape_inference::InferShapeForFunctionNode(*info.schema->GetFunction(),
                                                           onnx::OpSchemaRegistry::Instance(), ctx_, {},
                                                           scope_.functions, scope_.Symbols());
        } else if (info.local_function) {
          std::unordered_map<std::string, int> function_opsets;
          for (const auto& op : info.local_function->opset_import())
            function_opsets[op.domain()] = static_cast<int>(op.version());
          onnx::shape_inference::InferShapeForFunctionNode(*info.local_function, function_opsets,
                                                           onnx::OpSchemaRegistry::Instance(), ctx_, {},
                                                           scope_.functions, scope_.Symbols());
        }
      }
    } catch (const Error&) {
      throw;  // from a body's pass: already names its node
    } catch (const std::exception& e) {
      // With every input known, a failing inference is the model's fault (mismatched channels, an impossible
      // reshape, ...); with an input unknown the fault lies upstream, and RequireStatic names it there.
      // Inputs sized by bounds may disagree where the run's sizes agree: not the model's fault either.
      if (inputs_static && !approx_inputs) throw Error(Where(n) + ": " + CleanInferenceMessage(e.what()));
      for (int k = 0; k < node.output_size(); ++k) ctx_.output(k).Clear();
    }
    scope_.report.changed |= ctx_.inferred_bodies();  // bodies gained value_info
    approx_inputs |= ctx_.approx_bodies();

    if (!parent_ && node.op_type() == "Loop")
      if (const auto trips = LoopTrips(node)) scope_.report.loop_trips[n] = *trips;

    folded_out_.clear();
    if (info.foldable) Fold(node, n, info.opset, approx_inputs);

    for (int k = 0; k < node.output_size(); ++k) {
      if (node.output(k).empty()) continue;
      const uint32_t id = Resolve(node.output(k));
      Value& v = values_[id];
      if (v.producer != n) continue;  // a second producer: the IR build refuses it
      TypeProto& t = ctx_.output(static_cast<size_t>(k));
      if (k < static_cast<int>(folded_out_.size())) {
        const TypeProto exact = TypeOf(folded_out_[k]);
        if (const auto c = Contradiction(exact, t); !c.first.empty())
          throw Error(Where(n) + ": output '" + node.output(k) + "' evaluates to " + c.first +
                      " but ONNX's inference gives " + c.second);
        Fill(exact, t);
        Folded& f = folded_.emplace_back(Folded{std::move(folded_out_[k]), {}});
        ConstToProto(f.value, f.proto);
        v.value = &f.value;
        v.data = &f.proto;
        ++scope_.report.folded;
      }
      const bool inferred_something = !IsEmpty(t);
      // A data-dependent dim is bounded before the file's types are read: where an exporter declares one, it
      // declares what one traced run saw, not what any run may see. Types derived from a bound may exceed what
      // the file declares; elsewhere a contradiction is the model's fault.
      if (!IsStatic(t) && IsTensor(t) && inputs_static) CompleteShape(node, k, t);
      // (An If whose branches disagree in rank or type leaves t empty: Bound sees both branches.)
      const bool approx =
          (!IsStatic(t) && (IsTensor(t) || IsEmpty(t)) && Bound(node, n, static_cast<size_t>(k), t)) || approx_inputs;
      const TypeProto* declared_types[] = {Declared(v), DeclaredOutput(v)};
      bool contradicted = false;  // by bounds: the declared type is not the consumers' then
      for (const TypeProto* declared : declared_types) {
        if (!declared) continue;
        if (const auto c = Contradiction(*declared, t); !c.first.empty()) {
          if (!approx && mode_.strict)
            throw Error(Where(n) + ": output '" + node.output(k) + "' is declared " + c.first +
                        " but the op implies " + c.second);
          contradicted = true;  // the bounds stand; the file still says what they leave open
        }
        Fill(*declared, t);
      }
      v.approx = approx;
      if (IsEmpty(t)) continue;
      // Consumers read the file's type where it says everything the op implies; otherwise the inferred one.
      const TypeProto* same = nullptr;
      for (const TypeProto* declared : declared_types)
        if (declared && IsStatic(*declared) && !approx && !contradicted) same = declared;
      if (same) {
        v.type = same;
      } else {
        v.type = &inferred_.emplace_back(std::move(t));
        v.stored = true;
        scope_.report.inferred += inferred_something;
      }
    }
  }

  // Each input's element type is one its formal parameter takes, and inputs bound to one type variable agree (a
  // bool or complex weight of a Conv would otherwise be costed as float).
  void CheckInputTypes(const ModelScope::OpInfo& info, int n) {
    const onnx::NodeProto& node = g_.node(n);
    // Per type variable: its element type and the input that bound it. (Schemas have a few variables; this runs
    // for every node, so no allocation.)
    constexpr int kMaxGroups = 8;
    int32_t group_types[kMaxGroups] = {};
    int group_inputs[kMaxGroups];
    const size_t count = std::min(static_cast<size_t>(node.input_size()), info.inputs.size());
    const auto type_name = [](int32_t e) {
      return e <= static_cast<int32_t>(DType::kBFloat16) ? std::string(DTypeName(static_cast<DType>(e)))
                                                          : "type-" + std::to_string(e);
    };
    for (size_t i = 0; i < count; ++i) {
      const TypeProto* t = ctx_.types[i];
      if (!t || !IsTensor(*t) || t->tensor_type().elem_type() <= 0 || t->tensor_type().elem_type() >= 32) continue;
      const int32_t e = t->tensor_type().elem_type();
      const ModelScope::FormalInput& formal = info.inputs[i];
      if (!((formal.elem_types >> e) & 1))
        throw Error(Where(n) + ": input " + Quote(node.input(static_cast<int>(i))) + " is a " + type_name(e) +
                    " tensor, which input " + std::to_string(i) + " of " + node.op_type() + " does not take");
      if (formal.group < 0 || formal.group >= kMaxGroups) continue;
      int32_t& bound = group_types[formal.group];
      if (bound == 0) {
        bound = e;
        group_inputs[formal.group] = static_cast<int>(i);
      } else if (bound != e) {
        throw Error(Where(n) + ": inputs " + Quote(node.input(group_inputs[formal.group])) +
                    " (" + type_name(bound) + ") and " + Quote(node.input(static_cast<int>(i))) + " (" +
                    type_name(e) + ") must have one type");
      }
    }
  }

  // An If whose condition folded is inferred through the branch it takes: its outputs get that branch's shapes,
  // where ONNX's If inference merges both branches (and loses every dim they disagree on).
  bool InferTakenBranch(onnx::NodeProto& node) {
    if (node.op_type() != "If" || !(node.domain().empty() || node.domain() == "ai.onnx") || node.input_size() < 1 ||
        input_ids_[0] == NameTable::kMissing)
      return false;
    if (values_[input_ids_[0]].approx) return false;  // a bound decides nothing about which branch runs
    const ConstTensor* cond = ValueOf(input_ids_[0]);
    if (!cond || cond->size() != 1) return false;
    const bool taken = cond->is_real() ? cond->reals[0] != 0 : cond->ints[0] != 0;
    if (!parent_) scope_.report.if_branches[current_node_] = taken;
    onnx::GraphInferencer* branch = ctx_.getGraphAttributeInferencer(taken ? "then_branch" : "else_branch");
    const std::vector<const TypeProto*> outs = branch->doInferencing({}, {});
    if (outs.size() != static_cast<size_t>(node.output_size()))
      fail_type_inference("the ", taken ? "then" : "else", " branch has ", outs.size(), " outputs for ",
                          node.output_size(), " node outputs");
    for (size_t k = 0; k < outs.size(); ++k)
      if (outs[k]) *ctx_.getOutputType(k) = *outs[k];
    return true;
  }

  // A Loop's trip count M where it folds to a plausible one: torch's while-loops give M = INT64_MAX and stop on
  // their condition, which is no count to cost or bound by.
  std::optional<int64_t> LoopTrips(const onnx::NodeProto& node) {
    constexpr int64_t kMaxTrips = int64_t{1} << 31;  // a count a tensor dim holds; torch's while loops pass INT64_MAX
    if (node.input_size() < 1 || node.input(0).empty() || input_ids_.empty() || input_ids_[0] == NameTable::kMissing)
      return std::nullopt;
    const ConstTensor* m = ValueOf(input_ids_[0]);
    if (!m || m->size() != 1 || m->is_real() || m->ints[0] < 0 || m->ints[0] > kMaxTrips) return std::nullopt;
    return m->ints[0];
  }

  // `approx`: an input derives from a bound, so values invalid for the op may be the bound's, not the model's.
  void Fold(const onnx::NodeProto& node, int n, int opset, bool approx) {
    fold_in_.assign(static_cast<size_t>(node.input_size()), FoldInput());
    const bool reads_shape_only = node.op_type() == "Shape" || node.op_type() == "Size";
    for (int i = 0; i < node.input_size(); ++i) {
      FoldInput& in = fold_in_[i];
      in.present = !node.input(i).empty();
      in.type = ctx_.types[i];
      if (!in.present || reads_shape_only) continue;
      const uint32_t id = input_ids_[i];
      if (id == NameTable::kMissing) return;
      in.value = ValueOf(id);
      if (!in.value) return;  // an input only known at run time: nothing to fold
    }
    try {
      if (!FoldNode(node, opset, fold_in_, folded_out_)) folded_out_.clear();
    } catch (const FoldError& e) {
      folded_out_.clear();
      if (!approx) throw Error(Where(n) + ": " + e.message);
    } catch (const std::exception& e) {  // an Error from a malformed Constant's payload, or an allocation
      throw Error(Where(n) + ": " + FirstLine(e.what()));
    }
  }

  // ---- bounds of data-dependent dims ----

  // Sets the dims of output k of a data-dependent op that inference left unknown to their upper bound; true if
  // it did.
  bool Bound(const onnx::NodeProto& node, int n, size_t k, TypeProto& t) {
    const std::string& op = node.op_type();
    if (!(node.domain().empty() || node.domain() == "ai.onnx")) return false;
    const auto in = [&](size_t i) { return i < ctx_.types.size() ? StaticDims(ctx_.types[i]) : std::nullopt; };
    const auto scalar_input = [&](size_t i) -> std::optional<int64_t> {
      if (i >= input_ids_.size() || input_ids_[i] == NameTable::kMissing) return std::nullopt;
      const ConstTensor* c = ValueOf(input_ids_[i]);
      if (!c || c->size() != 1 || c->is_real()) return std::nullopt;
      return c->ints[0];
    };
    auto numel = [](const std::vector<int64_t>& d) {
      int64_t e = 1;
      for (int64_t x : d)
        if (__builtin_mul_overflow(e, x, &e)) return int64_t{-1};
      return e;
    };
    std::vector<int64_t> bound;
    std::string why;
    const auto x = in(0);
    if (op == "NonZero" && x) {
      bound = {static_cast<int64_t>(x->size()), numel(*x)};
      why = "every element non-zero";
    } else if (op == "NonMaxSuppression" && x && x->size() == 3 && in(1) && in(1)->size() == 3) {
      const int64_t batches = (*x)[0], boxes = (*x)[1], classes = (*in(1))[1];
      int64_t per_class = 0;  // max_output_boxes_per_class defaults to 0
      if (node.input_size() > 2 && !node.input(2).empty())
        per_class = std::clamp<int64_t>(scalar_input(2).value_or(boxes), 0, boxes);
      int64_t selected;
      if (__builtin_mul_overflow(batches, classes, &selected) || __builtin_mul_overflow(selected, per_class, &selected))
        return false;
      bound = {selected, 3};
      why = "max_output_boxes_per_class boxes of every class";
    } else if (op == "TopK" && x && !x->empty()) {
      bound = *x;  // k <= the axis' length
      why = "k = the axis' length";
    } else if ((op == "Unique" || op == "Compress") && x) {
      bool has_axis = false;
      const int64_t axis = AttrInt(node, "axis", 0, &has_axis);
      const int64_t rank = static_cast<int64_t>(x->size());
      if (!has_axis) {
        bound = {numel(*x)};
      } else if (axis >= -rank && axis < rank) {
        const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
        bound = op == "Compress" || k == 0 ? *x : std::vector<int64_t>{(*x)[a]};
      }
      why = op == "Unique" ? "every element unique" : "every condition true";
    } else if (op == "Slice" && scope_.Info(node).opset >= 10) {
      if (!SliceBound(t, bound)) return false;
      why = "the sliced extent";
    } else if (op == "If") {
      // Both branches' sizes where both are known; else the branch a bounded condition picks, where its sizes
      // are (an empty-result branch may size itself from what is unknown here).
      std::vector<int64_t> larger;
      const bool both = BranchesBound(k, t, larger);
      if (both && std::none_of(larger.begin(), larger.end(), [](int64_t d) { return d < 0; })) {
        bound = std::move(larger);
        why = "the larger branch's";
      } else if (GuessedBranchBound(k, t, bound) &&
                 std::none_of(bound.begin(), bound.end(), [](int64_t d) { return d < 0; })) {
        why = "the branch a condition computed from bounds takes";
      } else if (both) {
        bound = std::move(larger);
        why = "the larger branch's";
      } else {
        return false;
      }
    } else if (op == "Loop" && node.input_size() >= 2) {
      const size_t carried = static_cast<size_t>(node.input_size() - 2);
      const auto trips = LoopTrips(node);
      if (!trips) return false;
      if (k < carried) {
        if (!GrowthBound(k, *trips, bound)) return false;
        why = "all M iterations, growing as the first two do";
      } else {
        if (!t.tensor_type().has_shape() || t.tensor_type().shape().dim_size() == 0) return false;
        bound.assign(static_cast<size_t>(t.tensor_type().shape().dim_size()), -1);
        bound[0] = *trips;
        why = "all M iterations";
      }
    }
    if (bound.empty() || std::any_of(bound.begin(), bound.end(), [](int64_t d) { return d < -1; })) return false;
    auto* shape = t.mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() != static_cast<int>(bound.size())) {
      shape->Clear();
      for (size_t d = 0; d < bound.size(); ++d) shape->add_dim();
    }
    for (int d = 0; d < shape->dim_size(); ++d) {
      auto* dim = shape->mutable_dim(d);
      if (dim->has_dim_value() || bound[d] < 0) continue;
      dim->set_dim_value(bound[d]);
      dim->set_denotation(kUpperBoundDenotation);
    }
    if (mode_.what_if) return true;  // counted once, by the pass that writes
    auto& b = scope_.bounded_ops[op];
    if (b.count++ == 0 || (!b.example_static && IsStatic(t))) {
      b.example = "node '" + NodeName(n) + "': " + DescribeShape(t) + ", " + why;
      b.example_static = IsStatic(t);
    }
    return true;
  }

  // An If whose condition is known at run time only: output k's dims where both branches give a size, the larger
  // one (ONNX's If inference keeps only the dims the branches agree on). Detection models choose between an empty
  // and a full result this way.
  bool BranchesBound(size_t k, TypeProto& t, std::vector<int64_t>& bound) {
    const auto& bodies = ctx_.bodies();
    if (bodies.size() != 2) return false;
    const TypeProto* branch[2];
    for (int b = 0; b < 2; ++b) {
      const auto& outs = bodies[b]->outputs();
      branch[b] = k < outs.size() ? outs[k] : nullptr;
      if (!branch[b] || !IsTensor(*branch[b]) || !branch[b]->tensor_type().has_shape()) return false;
    }
    const auto &then_shape = branch[0]->tensor_type().shape(), &else_shape = branch[1]->tensor_type().shape();
    if (then_shape.dim_size() != else_shape.dim_size() ||
        branch[0]->tensor_type().elem_type() != branch[1]->tensor_type().elem_type())
      return false;
    if (!IsTensor(t)) t.mutable_tensor_type()->set_elem_type(branch[0]->tensor_type().elem_type());
    for (int d = 0; d < then_shape.dim_size(); ++d) {
      const auto &a = then_shape.dim(d), &b = else_shape.dim(d);
      bound.push_back(a.has_dim_value() && b.has_dim_value() ? std::max(a.dim_value(), b.dim_value()) : -1);
    }
    return true;
  }

  // Where the branches disagree in rank (torchvision's `squeeze(1)` when dim 1 is 1) no size bounds both: the
  // branch that the condition, folded from bounded sizes, picks. A guess, as the bound's dims are not the run's;
  // it only prices the op and types what follows, and the runtime executes the branch the data picks.
  bool GuessedBranchBound(size_t k, TypeProto& t, std::vector<int64_t>& bound) {
    const auto& bodies = ctx_.bodies();
    if (bodies.size() != 2 || input_ids_.empty() || input_ids_[0] == NameTable::kMissing) return false;
    const ConstTensor* cond = ValueOf(input_ids_[0]);
    if (!cond || cond->size() != 1) return false;
    const bool taken = cond->is_real() ? cond->reals[0] != 0 : cond->ints[0] != 0;
    const auto& outs = bodies[taken ? 0 : 1]->outputs();
    const TypeProto* branch = k < outs.size() ? outs[k] : nullptr;
    if (!branch || !IsTensor(*branch) || !branch->tensor_type().has_shape()) return false;
    if (!IsTensor(t) || t.tensor_type().elem_type() != branch->tensor_type().elem_type()) {
      t.Clear();
      t.mutable_tensor_type()->set_elem_type(branch->tensor_type().elem_type());
    }
    for (const auto& d : branch->tensor_type().shape().dim()) bound.push_back(d.has_dim_value() ? d.dim_value() : -1);
    return true;
  }

  // Exact shapes ONNX 1.12's inference leaves open although its inputs decide them: Einsum (it gives the rank
  // only).
  void CompleteShape(const onnx::NodeProto& node, size_t k, TypeProto& t) {
    if (node.op_type() != "Einsum" || k != 0 || !(node.domain().empty() || node.domain() == "ai.onnx")) return;
    std::string equation;
    for (const auto& a : node.attribute())
      if (a.name() == "equation") equation = a.s();
    std::vector<std::vector<int64_t>> inputs;
    for (const TypeProto* type : ctx_.types) {
      const auto dims = StaticDims(type);
      if (!dims) return;
      inputs.push_back(*dims);
    }
    const auto dims = EinsumShape(equation, inputs);
    if (!dims) return;
    auto* shape = t.mutable_tensor_type()->mutable_shape();
    shape->Clear();
    for (int64_t d : *dims) shape->add_dim()->set_dim_value(d);
  }

  // A Slice's extents where inference has none: at most the input's dim, and at most end - start where both are
  // known and non-negative (so independent of the input's size): the end of a paste into a fixed-size image.
  bool SliceBound(TypeProto& t, std::vector<int64_t>& bound) {
    const TypeProto* x = ctx_.types.empty() ? nullptr : ctx_.types[0];
    if (!x || !IsTensor(*x) || !x->tensor_type().has_shape()) return false;
    const int rank = x->tensor_type().shape().dim_size();
    if (t.tensor_type().has_shape() && t.tensor_type().shape().dim_size() != rank) return false;
    if (!t.tensor_type().has_shape())  // ONNX's Slice inference drops the rank when starts or ends are unknown
      for (int a = 0; a < rank; ++a) t.mutable_tensor_type()->mutable_shape()->add_dim();
    bound.assign(static_cast<size_t>(rank), -1);
    for (int a = 0; a < rank; ++a)
      if (x->tensor_type().shape().dim(a).has_dim_value()) bound[a] = x->tensor_type().shape().dim(a).dim_value();
    const auto ints = [&](size_t i) -> const ConstTensor* {
      if (i >= input_ids_.size() || input_ids_[i] == NameTable::kMissing) return nullptr;
      const ConstTensor* c = ValueOf(input_ids_[i]);
      return c && !c->is_real() ? c : nullptr;
    };
    const ConstTensor *starts = ints(1), *ends = ints(2), *axes = ints(3), *steps = ints(4);
    const auto given = [&](size_t i) { return i < input_ids_.size() && input_ids_[i] != NameTable::kMissing; };
    const bool axes_known = !given(3) || axes, steps_known = !given(4) || steps;  // else: which axis, which step?
    if (starts && ends && starts->size() == ends->size() && axes_known && steps_known) {
      for (size_t i = 0; i < starts->size(); ++i) {
        int64_t a = axes && i < axes->size() ? axes->ints[i] : static_cast<int64_t>(i);
        if (a < 0) a += rank;
        const int64_t step = steps && i < steps->size() ? steps->ints[i] : 1;
        const int64_t b = starts->ints[i], e = ends->ints[i];
        if (a < 0 || a >= rank || step <= 0 || b < 0 || e < 0 || e > (int64_t{1} << 40)) continue;
        const int64_t extent = e > b ? (e - b - 1) / step + 1 : 0;
        bound[a] = bound[a] < 0 ? extent : std::min(bound[a], extent);
      }
    }
    return std::any_of(bound.begin(), bound.end(), [](int64_t d) { return d >= 0; });
  }

  // A Loop's carried value that grows by the same amount in its first two iterations (a result appended to
  // once per iteration, as torchvision's mask pasting does) is bounded by its size after M iterations. A body
  // that grows otherwise (doubling, say) gets no bound.
  bool GrowthBound(size_t k, int64_t trips, std::vector<int64_t>& bound) {
    const BodyInferencer* body = ctx_.first_body();
    const size_t carried_in = 2 + k, carried_out = 1 + k;
    if (!body || body->outputs().size() <= carried_out || ctx_.types.size() <= carried_in || !ctx_.types[carried_in])
      return false;
    const TypeProto* in = ctx_.types[carried_in];
    const TypeProto* first = body->outputs()[carried_out];
    if (!first || !IsTensor(*first) || !first->tensor_type().has_shape()) return false;
    // The second iteration: the body again, on the first iteration's carried outputs.
    TypeProto iteration, condition;
    iteration.mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
    iteration.mutable_tensor_type()->mutable_shape();
    condition.mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
    condition.mutable_tensor_type()->mutable_shape();
    std::vector<const TypeProto*> inputs = {&iteration, &condition};
    for (size_t c = 1; c < body->outputs().size() && inputs.size() < ctx_.types.size(); ++c)
      inputs.push_back(body->outputs()[c]);
    const std::vector<TypeProto> second = ctx_.WhatIf("body", inputs);
    if (second.size() <= carried_out || !IsTensor(second[carried_out])) return false;
    const auto dims = [](const TypeProto& t) {
      std::vector<int64_t> d;
      if (IsTensor(t) && t.tensor_type().has_shape())
        for (const auto& x : t.tensor_type().shape().dim()) d.push_back(x.has_dim_value() ? x.dim_value() : -1);
      return d;
    };
    const std::vector<int64_t> d0 = dims(*in), d1 = dims(*first), d2 = dims(second[carried_out]);
    if (d0.size() != d1.size() || d1.size() != d2.size()) return false;
    bound.assign(d0.size(), -1);
    bool any = false;
    for (size_t a = 0; a < d0.size(); ++a) {
      if (d0[a] < 0 || d1[a] < 0 || d2[a] < 0 || d1[a] - d0[a] != d2[a] - d1[a] || d1[a] < d0[a]) continue;
      int64_t grown;
      if (__builtin_mul_overflow(trips, d1[a] - d0[a], &grown) || __builtin_add_overflow(d0[a], grown, &bound[a]))
        return false;
      any = true;
    }
    return any;
  }

  // ---- what stays unknown ----

  void RequireStatic(int n) {
    const auto& node = g_.node(n);
    for (int k = 0; k < node.output_size(); ++k) {
      if (node.output(k).empty()) continue;
      const Value& v = values_[Resolve(node.output(k))];
      if (v.type && IsStatic(*v.type)) continue;
      throw Error(scope_.source + ": cannot resolve the static shape of tensor '" + node.output(k) +
                  "' (output of node '" + NodeName(n) + "', op " + node.op_type() + "): " + WhyUnknown(n, v));
    }
  }

  std::string WhyUnknown(int n, const Value& out) {
    const auto& node = g_.node(n);
    if (out.type && !IsTensor(*out.type))
      return "it is " + DescribeShape(*out.type) + "; allot places tensor programs only";
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) continue;
      const uint32_t id = Resolve(node.input(i));
      const TypeProto* t = id == NameTable::kMissing ? nullptr : values_[id].type;
      if (!t || !IsTensor(*t) || IsStatic(*t)) continue;
      for (const auto& d : t->tensor_type().shape().dim())
        if (d.has_dim_param())
          return "it depends on the symbolic dim '" + d.dim_param() + "' of input '" + node.input(i) +
                 "'; bind it with --dim " + d.dim_param() + "=N (or --batch N, --seq N)";
      return "its input '" + node.input(i) + "' has no static shape (" + DescribeShape(*t) + ")";
    }
    const ModelScope::OpInfo& info = scope_.Info(node);
    if (!info.schema && !info.local_function)
      return "op " + node.op_type() + (node.domain().empty() ? "" : " (domain '" + node.domain() + "')") +
             " is unknown to ONNX 1.12's shape inference, and the file does not declare the output's shape";
    // A scalar or 1-D input without a value (shape, sizes, scales, limits) is where a shape comes from run-time data.
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) continue;
      const uint32_t id = Resolve(node.input(i));
      if (id == NameTable::kMissing || ValueOf(id)) continue;
      const TypeProto* t = values_[id].type;
      if (!t || !IsTensor(*t) || t->tensor_type().shape().dim_size() > 1) continue;
      return "its input '" + node.input(i) + "' (input " + std::to_string(i) + ") is computed from run-time data: " +
             Origin(id, 0) + "; allot evaluates shape computations at import, not run-time values";
    }
    return "ONNX's shape inference for " + node.op_type() + " gives " +
           (out.type ? DescribeShape(*out.type) : std::string("no type")) + " here, and the file does not declare it";
  }

  // Where a value without an import-time value comes from: the first node on its path that allot cannot evaluate.
  std::string Origin(uint32_t id, int depth) {
    const Value& v = values_[id];
    const std::string name(names_[id]);
    if (v.outer) return "the enclosing graph's '" + name + "'";
    if (v.producer < 0) return v.graph_input ? "graph input '" + name + "'" : "'" + name + "'";
    const int p = v.producer;
    const auto& node = g_.node(p);
    if (!scope_.Info(node).foldable || depth > 64)
      return "node '" + NodeName(p) + "' (" + node.op_type() + ") computes it from tensors known only at run time";
    if (node.op_type() != "Shape" && node.op_type() != "Size")
      for (int i = 0; i < node.input_size(); ++i) {
        if (node.input(i).empty()) continue;
        const uint32_t in = Resolve(node.input(i));
        if (in != NameTable::kMissing && !ValueOf(in)) return Origin(in, depth + 1);
      }
    return "node '" + NodeName(p) + "' (" + node.op_type() + ") could not be evaluated at import (a value over " +
           std::to_string(kMaxFoldedElements) + " elements, or an attribute allot does not evaluate)";
  }

  // ONNX's messages start with "[ShapeInferenceError] " or "[TypeInferenceError] " and may span lines.
  static std::string CleanInferenceMessage(std::string m) {
    m = m.substr(0, m.find('\n'));
    for (const std::string tag : {"[ShapeInferenceError] ", "[TypeInferenceError] "})
      if (m.rfind(tag, 0) == 0) m = m.substr(tag.size());
    return "the op's shape inference fails: " + m;
  }

  // ---- writing back ----

  void WriteBack() {
    for (uint32_t id = 0; id < names_.size(); ++id) {
      const Value& v = values_[id];
      if (!v.stored || v.outer) continue;
      scope_.report.changed = true;
      const bool in_value_info = v.declared >= 0 && !v.graph_input;
      if (in_value_info) *g_.mutable_value_info(v.declared)->mutable_type() = *v.type;
      if (v.output >= 0) *g_.mutable_output(v.output)->mutable_type() = *v.type;
      if (!in_value_info && v.output < 0 && !v.graph_input) {
        auto* vi = g_.add_value_info();
        vi->set_name(std::string(names_[id]));
        *vi->mutable_type() = *v.type;
      }
    }
  }

  onnx::GraphProto& g_;
  ModelScope& scope_;
  GraphPass* parent_;
  PassMode mode_;
  int current_node_ = -1;  // the node InferNode is at
  bool outputs_approx_ = false;  // RunBody: an output derives from a bounded dim
  NameTable index_;
  std::vector<std::string_view> names_;  // into the model's strings, which the pass does not change
  std::deque<Value> values_;  // a deque: a nested pass may add outer values while a reference is held here
  std::deque<TypeProto> init_types_, inferred_;
  std::deque<Folded> folded_;

  NodeContext ctx_;
  std::vector<uint32_t> input_begin_, inputs_;  // CSR: node n's input ids are inputs_[input_begin_[n], ...[n + 1])
  Span<uint32_t> input_ids_;                     // the node being inferred's
  std::vector<FoldInput> fold_in_;
  std::vector<ConstTensor> folded_out_;
};

PassMode PassModeOf(const GraphPass& pass) { return pass.mode(); }

std::vector<const TypeProto*> BodyInferencer::doInferencing(const std::vector<const TypeProto*>& input_types,
                                                            const std::vector<const onnx::TensorProto*>& input_data) {
  pass_ = std::make_unique<GraphPass>(body_, scope_, &parent_, mode_);
  outputs_ = pass_->RunBody(input_types, input_data);
  return outputs_;
}

bool BodyInferencer::approx() const { return pass_ && pass_->outputs_approx(); }

ShapeInferenceReport Run(onnx::GraphProto& graph, const onnx::ModelProto& model, const std::string& source,
                         PassMode mode, bool require_static) {
  ModelScope scope(model, source);
  GraphPass(graph, scope, nullptr, mode).Run(require_static);
  for (const auto& [op, b] : scope.bounded_ops)
    scope.report.warnings.push_back(std::to_string(b.count) + " " + op + " node" + (b.count > 1 ? "s have" : " has") +
                                    " outputs whose size depends on run-time data; costed at their upper bounds (e.g. " +
                                    b.example + ")");
  return scope.report;
}

}  // namespace

ShapeInferenceReport InferShapes(onnx::ModelProto& model, const std::string& source, bool require_static,
                                 bool check_declared) {
  PassMode mode;
  mode.strict = check_declared;
  return Run(*model.mutable_graph(), model, source, mode, require_static);
}

void UnboundDims(onnx::GraphProto& graph) {
  for (auto* values : {graph.mutable_value_info(), graph.mutable_input(), graph.mutable_output()})
    for (auto& vi : *values) {
      if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) continue;
      auto* shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
      for (int d = 0; d < shape->dim_size(); ++d) {
        auto* dim = shape->mutable_dim(d);
        if (dim->denotation() != kUpperBoundDenotation) continue;
        dim->clear_denotation();
        dim->set_dim_param(vi.name() + "_dim_" + std::to_string(d));
      }
    }
}

ShapeInferenceReport CheckShapes(const onnx::ModelProto& model, const std::string& source) {
  // Without writing (nor do the passes over bodies), the pass reads the graph only: the mutable reference is
  // GraphPass's interface, shared with InferShapes.
  PassMode mode;
  mode.write = false;
  return Run(const_cast<onnx::GraphProto&>(model.graph()), model, source, mode, /*require_static=*/true);
}

}  // namespace allot
