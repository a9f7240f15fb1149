#include "graph/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "graph/file_io.h"
#include "graph/json_io.h"
#include "graph/onnx_import.h"
#include "graph/onnx_reads.h"
#include "graph/shape_inference.h"

namespace allot {
namespace {

using Json = nlohmann::ordered_json;

std::string FirstLine(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// ---- Metadata and doc strings ----

const std::string* FindMetadata(const onnx::ModelProto& model, const std::string& key) {
  for (const auto& entry : model.metadata_props())
    if (entry.key() == key) return &entry.value();
  return nullptr;
}

// Sets (or, with an empty value, removes) every entry of `key`, leaving one at most: the checker rejects duplicates.
void SetMetadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* props = model.mutable_metadata_props();
  bool set = false;
  for (int i = 0; i < props->size();) {
    if (props->Get(i).key() != key) {
      ++i;
    } else if (!set && !value.empty()) {
      props->Mutable(i)->set_value(value);
      set = true;
      ++i;
    } else {
      props->DeleteSubrange(i, 1);
    }
  }
  if (!set && !value.empty()) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
}

// The device of a doc_string's "allot.device=" line; false when it has none.
bool DeviceFromDoc(const std::string& doc, std::string& device) {
  size_t start = 0;
  const std::string prefix = kDeviceDocPrefix;
  while (start <= doc.size()) {
    size_t end = doc.find('\n', start);
    if (end == std::string::npos) end = doc.size();
    if (doc.compare(start, prefix.size(), prefix) == 0) {
      device = doc.substr(start + prefix.size(), end - start - prefix.size());
      while (!device.empty() && std::isspace(static_cast<unsigned char>(device.back()))) device.pop_back();
      return true;
    }
    start = end + 1;
  }
  return false;
}

// `doc` without its "allot.device=" lines, plus one for `device`.
std::string WithDeviceLine(const std::string& doc, const std::string& device) {
  std::string kept;
  size_t start = 0;
  while (start < doc.size()) {
    size_t end = doc.find('\n', start);
    if (end == std::string::npos) end = doc.size();
    if (doc.compare(start, std::string(kDeviceDocPrefix).size(), kDeviceDocPrefix) != 0) {
      if (!kept.empty()) kept += '\n';
      kept.append(doc, start, end - start);
    }
    start = end + 1;
  }
  if (!kept.empty()) kept += '\n';
  return kept + kDeviceDocPrefix + device;
}

// ---- Graph structure ----

bool IsTyped(const onnx::ValueInfoProto& vi) {
  if (!vi.has_type()) return false;
  const onnx::TypeProto& t = vi.type();
  if (t.value_case() == onnx::TypeProto::VALUE_NOT_SET) return false;
  if (t.has_tensor_type()) return t.tensor_type().elem_type() != onnx::TensorProto::UNDEFINED;
  return true;
}

uint64_t ElementBytes(int32_t type) {
  switch (type) {
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8: return 1;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: return 2;
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::FLOAT: return 4;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::COMPLEX64: return 8;
    case onnx::TensorProto::COMPLEX128: return 16;
    default: return 0;
  }
}

// Bytes of a tensor with a fully static shape; 0 otherwise.
uint64_t StaticBytes(const onnx::ValueInfoProto& vi) {
  if (!vi.type().has_tensor_type()) return 0;
  const auto& tt = vi.type().tensor_type();
  if (!tt.has_shape()) return 0;
  uint64_t n = ElementBytes(tt.elem_type());
  for (const auto& d : tt.shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return 0;
    n *= static_cast<uint64_t>(d.dim_value());
  }
  return n;
}

// "cuda:0" -> "cuda_0": a file-name-safe stem.
std::string FileStem(const std::string& device) {
  std::string s;
  for (char c : device) s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return s.empty() ? "device" : s;
}

struct Stage {
  int device = 0;
  int index = 0;  // within the device
  std::vector<int> nodes;
};

// Assigns every node a stage so that the graph of stages is acyclic; returns the stages in execution order and
// fills stage_of. One stage per device when the device graph is acyclic (devices in topological order, ties by
// their first node); otherwise list scheduling: repeatedly take a device with a ready node and run every node of
// it that can run without another device (its closure), choosing the device whose ready node has the most
// device switches still ahead of it (ties: the earliest node).
std::vector<Stage> AssignStages(const std::vector<int>& dev, size_t num_devices,
                                const std::vector<std::vector<int>>& preds, std::vector<int>& stage_of) {
  const int n = static_cast<int>(dev.size());
  const size_t D = num_devices;
  std::vector<std::vector<int>> succs(n);
  for (int v = 0; v < n; ++v)
    for (int p : preds[v]) succs[p].push_back(v);
  stage_of.assign(n, -1);
  std::vector<Stage> stages;

  // Device graph.
  std::vector<std::set<int>> dev_succ(D);
  std::vector<int> dev_in(D, 0), first_node(D, n);
  for (int v = 0; v < n; ++v) {
    first_node[dev[v]] = std::min(first_node[dev[v]], v);
    for (int p : preds[v])
      if (dev[p] != dev[v] && dev_succ[dev[p]].insert(dev[v]).second) ++dev_in[dev[v]];
  }
  {
    std::priority_queue<std::pair<int, int>, std::vector<std::pair<int, int>>, std::greater<>> ready;
    for (size_t d = 0; d < D; ++d)
      if (dev_in[d] == 0) ready.emplace(first_node[d], static_cast<int>(d));
    std::vector<int> order;
    while (!ready.empty()) {
      const int d = ready.top().second;
      ready.pop();
      order.push_back(d);
      for (int s : dev_succ[d])
        if (--dev_in[s] == 0) ready.emplace(first_node[s], s);
    }
    if (order.size() == D) {
      std::vector<int> stage_of_device(D);
      for (size_t k = 0; k < D; ++k) {
        stage_of_device[order[k]] = static_cast<int>(k);
        stages.push_back(Stage{order[k], 0, {}});
      }
      for (int v = 0; v < n; ++v) {
        stage_of[v] = stage_of_device[dev[v]];
        stages[stage_of[v]].nodes.push_back(v);
      }
      return stages;
    }
  }

  // Device switches still ahead of each node, on its longest path to a sink.
  std::vector<int> ahead(n, 0);
  for (int v = n - 1; v >= 0; --v)
    for (int s : succs[v]) ahead[v] = std::max(ahead[v], ahead[s] + (dev[s] != dev[v] ? 1 : 0));
  using Key = std::pair<int, int>;  // (ahead, -node): the largest first
  std::vector<std::priority_queue<Key>> ready(D);
  std::vector<size_t> pending(n);
  for (int v = 0; v < n; ++v) {
    pending[v] = preds[v].size();
    if (pending[v] == 0) ready[dev[v]].emplace(ahead[v], -v);
  }
  std::vector<int> stages_of_device(D, 0);
  int done = 0;
  while (done < n) {
    int best = -1;
    for (size_t d = 0; d < D; ++d)
      if (!ready[d].empty() && (best < 0 || ready[d].top() > ready[best].top())) best = static_cast<int>(d);
    if (best < 0) break;  // unreachable: the node graph is acyclic
    Stage stage{best, stages_of_device[best]++, {}};
    const int id = static_cast<int>(stages.size());
    auto& queue = ready[best];
    while (!queue.empty()) {
      const int v = -queue.top().second;
      queue.pop();
      stage_of[v] = id;
      stage.nodes.push_back(v);
      ++done;
      for (int s : succs[v])
        if (--pending[s] == 0) ready[dev[s]].emplace(ahead[s], -s);
    }
    std::sort(stage.nodes.begin(), stage.nodes.end());
    stages.push_back(std::move(stage));
  }
  return stages;
}

}  // namespace

std::vector<std::string> OnnxNodeNames(const onnx::GraphProto& graph) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(graph.node_size()));
  std::unordered_set<std::string> taken;
  taken.reserve(static_cast<size_t>(graph.node_size()) * 2);
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    const std::string base = node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name();
    std::string name = base;
    for (int k = 2; taken.count(name); ++k) name = base + "__" + std::to_string(k);
    taken.insert(name);
    names.push_back(std::move(name));
  }
  return names;
}

// ---- Annotation ----

void AnnotateModel(onnx::ModelProto& model, const std::vector<std::string>& device_of_node,
                   const PlacementAnnotation& info) {
  onnx::GraphProto& g = *model.mutable_graph();
  if (device_of_node.size() != static_cast<size_t>(g.node_size()))
    throw Error("AnnotateModel: " + std::to_string(device_of_node.size()) + " devices for " +
                std::to_string(g.node_size()) + " nodes");
  const std::vector<std::string> names = OnnxNodeNames(g);
  Json map = Json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    if (device_of_node[i].empty()) throw Error("AnnotateModel: node '" + names[i] + "' has an empty device");
    AppendDistinctField(map, names[i], device_of_node[i]);  // OnnxNodeNames are distinct
  }
  const std::unordered_set<std::string> node_names(names.begin(), names.end());
  std::unordered_set<std::string> extra_names;
  for (const auto& [name, device] : info.extra_nodes) {
    if (node_names.count(name)) throw Error("AnnotateModel: extra node '" + name + "' is a node of the ONNX graph");
    if (!extra_names.insert(name).second) throw Error("AnnotateModel: extra node '" + name + "' is given twice");
    if (device.empty()) throw Error("AnnotateModel: node '" + name + "' has an empty device");
    AppendDistinctField(map, name, device);
  }
  for (int i = 0; i < g.node_size(); ++i) {
    onnx::NodeProto& node = *g.mutable_node(i);
    node.set_doc_string(WithDeviceLine(node.doc_string(), device_of_node[static_cast<size_t>(i)]));
  }
  SetMetadata(model, kPlacementMetadataKey, map.dump());
  SetMetadata(model, kGraphHashMetadataKey, info.graph_hash);
  SetMetadata(model, kClusterMetadataKey, info.cluster);
  SetMetadata(model, kModeMetadataKey, info.mode);
  SetMetadata(model, kOptimizerMetadataKey, info.optimizer);
  SetMetadata(model, kBindingsMetadataKey, info.bindings);
}

bool HasPlacementAnnotation(const onnx::ModelProto& model) {
  if (FindMetadata(model, kPlacementMetadataKey)) return true;
  std::string device;
  for (const auto& node : model.graph().node())
    if (DeviceFromDoc(node.doc_string(), device)) return true;
  return false;
}

ModelPlacement ReadPlacementFromModel(const onnx::ModelProto& model, const std::string& source) {
  const onnx::GraphProto& g = model.graph();
  ModelPlacement out;
  out.node_names = OnnxNodeNames(g);
  out.device_of_node.assign(out.node_names.size(), "");
  if (const std::string* v = FindMetadata(model, kGraphHashMetadataKey)) out.info.graph_hash = *v;
  if (const std::string* v = FindMetadata(model, kClusterMetadataKey)) out.info.cluster = *v;
  if (const std::string* v = FindMetadata(model, kModeMetadataKey)) out.info.mode = *v;
  if (const std::string* v = FindMetadata(model, kOptimizerMetadataKey)) out.info.optimizer = *v;
  if (const std::string* v = FindMetadata(model, kBindingsMetadataKey)) out.info.bindings = *v;
  const std::string field = std::string("metadata '") + kPlacementMetadataKey + "'";
  if (const std::string* text = FindMetadata(model, kPlacementMetadataKey)) {
    nlohmann::json j;  // unordered: an ordered object's keys are searched linearly as they are parsed
    try {
      j = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(source + ": " + field + " is not valid JSON: " + FirstLine(e.what()).substr(0, 160));
    }
    if (!j.is_object()) throw Error(source + ": " + field + " must be a JSON object mapping node names to devices");
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < out.node_names.size(); ++i) index.emplace(out.node_names[i], i);
    for (const auto& [name, device] : j.items()) {
      if (!device.is_string() || device.get<std::string>().empty())
        throw Error(source + ": " + field + "['" + name + "']: the device must be a non-empty string");
      auto it = index.find(name);
      if (it == index.end()) out.info.extra_nodes.emplace_back(name, device.get<std::string>());
      else out.device_of_node[it->second] = device.get<std::string>();
    }
    for (size_t i = 0; i < out.node_names.size(); ++i) {
      if (out.device_of_node[i].empty())
        throw Error(source + ": " + field + ": node '" + out.node_names[i] + "' has no device");
      std::string doc_device;
      if (DeviceFromDoc(g.node(static_cast<int>(i)).doc_string(), doc_device) && doc_device != out.device_of_node[i])
        throw Error(source + ": node '" + out.node_names[i] + "': doc_string says " + kDeviceDocPrefix + doc_device +
                    " but " + field + " says " + out.device_of_node[i]);
    }
    return out;
  }
  bool any = false;
  for (size_t i = 0; i < out.node_names.size(); ++i) any |= DeviceFromDoc(g.node(static_cast<int>(i)).doc_string(), out.device_of_node[i]);
  if (!any)
    throw Error(source + ": no allot placement in the model (" + field + " or '" + kDeviceDocPrefix +
                "' doc_string lines)");
  for (size_t i = 0; i < out.node_names.size(); ++i)
    if (out.device_of_node[i].empty())
      throw Error(source + ": node '" + out.node_names[i] + "' has no '" + kDeviceDocPrefix + "' line in its doc_string");
  return out;
}

std::string PlacementJsonFromModel(const onnx::ModelProto& model, const std::string& source) {
  const ModelPlacement p = ReadPlacementFromModel(model, source);
  Json j;
  j["version"] = 1;
  j["model"] = source;
  // A model annotated by hand (doc_string lines only) carries no hash: its node names are checked all the same.
  if (!p.info.graph_hash.empty()) j["graph_hash"] = p.info.graph_hash;
  else j["annotations"] = "doc_string";
  if (!p.info.mode.empty()) j["mode"] = p.info.mode;
  if (!p.info.optimizer.empty()) j["optimizer"] = p.info.optimizer;
  if (!p.info.bindings.empty())
    j["bindings"] = ParseJsonText(p.info.bindings, source + ": metadata '" + kBindingsMetadataKey + "'");
  if (!p.info.cluster.empty()) j["cluster"] = p.info.cluster;
  Json map = Json::object(), devices = Json::array();
  std::set<std::string> seen;
  const auto place = [&](const std::string& name, const std::string& device) {
    AppendDistinctField(map, name, device);  // node names are distinct, extra nodes are none of them
    if (seen.insert(device).second) devices.push_back(device);
  };
  for (size_t i = 0; i < p.node_names.size(); ++i) place(p.node_names[i], p.device_of_node[i]);
  for (const auto& [name, device] : p.info.extra_nodes) place(name, device);
  j["devices"] = std::move(devices);
  j["placement"] = std::move(map);
  return j.dump(1) + "\n";
}

std::string ReadPlacementText(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".onnx") return PlacementJsonFromModel(ReadModelProto(path), path);
  std::string text = ReadFile(path);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] == '{' || text[first] == '[') return text;
  onnx::ModelProto model;
  if (model.ParseFromString(text) && model.has_graph() && HasPlacementAnnotation(model))
    return PlacementJsonFromModel(model, path);
  return text;  // the JSON parser reports it
}

// ---- Split ----

SplitModelResult SplitModel(const onnx::ModelProto& model, const std::vector<std::string>& device_of_node,
                            const SplitOptions& options) {
  const onnx::GraphProto& g = model.graph();
  const int n = g.node_size();
  if (device_of_node.size() != static_cast<size_t>(n))
    throw Error("SplitModel: " + std::to_string(device_of_node.size()) + " devices for " + std::to_string(n) +
                " nodes");
  const std::vector<std::string> node_names = OnnxNodeNames(g);

  // Devices, in order of first use.
  std::vector<std::string> devices;
  std::unordered_map<std::string, int> device_index;
  std::vector<int> dev(n);
  for (int v = 0; v < n; ++v) {
    const std::string& d = device_of_node[v];
    if (d.empty()) throw Error("SplitModel: node '" + node_names[v] + "' has an empty device");
    auto [it, added] = device_index.emplace(d, static_cast<int>(devices.size()));
    if (added) devices.push_back(d);
    dev[v] = it->second;
  }

  // Who defines each name.
  std::unordered_map<std::string, int> producer, initializer, sparse_initializer, input;
  for (int i = 0; i < g.initializer_size(); ++i) initializer.emplace(g.initializer(i).name(), i);
  for (int i = 0; i < g.sparse_initializer_size(); ++i)
    sparse_initializer.emplace(g.sparse_initializer(i).values().name(), i);
  for (int i = 0; i < g.input_size(); ++i) input.emplace(g.input(i).name(), i);
  for (int v = 0; v < n; ++v)
    for (const auto& o : g.node(v).output())
      if (!o.empty() && !producer.emplace(o, v).second)
        throw Error("node '" + node_names[v] + "': output '" + o + "' is also produced by node '" +
                    node_names[producer[o]] + "'");

  // Reads and node-level predecessors.
  std::vector<std::vector<std::string>> reads(n);
  std::vector<std::vector<int>> preds(n);
  for (int v = 0; v < n; ++v) {
    reads[v] = NodeReads(g.node(v));
    for (const std::string& r : reads[v]) {
      auto it = producer.find(r);
      if (it != producer.end()) {
        if (it->second >= v)
          throw Error("node '" + node_names[v] + "' reads '" + r + "', which node '" + node_names[it->second] +
                      "' produces later (the graph is not topologically sorted)");
        preds[v].push_back(it->second);
      } else if (!initializer.count(r) && !sparse_initializer.count(r) && !input.count(r)) {
        throw Error("node '" + node_names[v] + "' reads '" + r +
                    "', which no node, initializer or graph input defines");
      }
    }
    std::sort(preds[v].begin(), preds[v].end());
    preds[v].erase(std::unique(preds[v].begin(), preds[v].end()), preds[v].end());
  }

  std::vector<int> stage_of;
  std::vector<Stage> stages = AssignStages(dev, devices.size(), preds, stage_of);
  const size_t S = stages.size();

  // Crossing tensors: outputs of their producer's stage, inputs of each reading stage.
  std::vector<std::vector<std::string>> cross_in(S);
  std::vector<std::unordered_set<std::string>> cross_in_set(S), cross_out_set(S);
  for (size_t s = 0; s < S; ++s)
    for (int v : stages[s].nodes)
      for (const std::string& r : reads[v]) {
        auto it = producer.find(r);
        if (it == producer.end() || stage_of[it->second] == static_cast<int>(s)) continue;
        if (cross_in_set[s].insert(r).second) cross_in[s].push_back(r);
        cross_out_set[stage_of[it->second]].insert(r);
      }
  std::unordered_map<std::string, int> graph_output;
  for (int i = 0; i < g.output_size(); ++i) {
    const std::string& name = g.output(i).name();
    graph_output.emplace(name, i);
    if (producer.count(name)) continue;
    if (initializer.count(name) || sparse_initializer.count(name))
      throw Error("graph output '" + name + "' is an initializer: a split model cannot output it");
    if (!input.count(name)) throw Error("graph output '" + name + "' is not produced by any node or input");
  }

  // Types of crossing tensors; ONNX shape inference on a copy when the model lacks some.
  std::unordered_map<std::string, const onnx::ValueInfoProto*> typed;
  auto collect = [&typed](const onnx::GraphProto& graph) {
    for (const auto& vi : graph.input())
      if (IsTyped(vi)) typed.emplace(vi.name(), &vi);
    for (const auto& vi : graph.output())
      if (IsTyped(vi)) typed.emplace(vi.name(), &vi);
    for (const auto& vi : graph.value_info())
      if (IsTyped(vi)) typed.emplace(vi.name(), &vi);
  };
  collect(g);
  bool missing = false;
  for (size_t s = 0; s < S && !missing; ++s)
    for (const std::string& r : cross_in[s]) missing |= !typed.count(r);
  onnx::ModelProto inferred;
  if (missing) {
    inferred = model;
    try {
      // allot's pass (it folds the shape computations real exports carry), keeping symbolic dims symbolic.
      InferShapes(inferred, "<split>", /*require_static=*/false);
    } catch (const Error&) {
      // Keep whatever it inferred; a type still missing is reported below.
    }
    UnboundDims(*inferred.mutable_graph());  // the submodels' sizes are the run's, not allot's cost bounds
    typed.clear();
    collect(inferred.graph());
  }

  // Names and files.
  std::vector<int> stage_count(devices.size(), 0);
  for (const Stage& st : stages) ++stage_count[st.device];
  std::vector<std::string> stem(devices.size());
  {
    std::unordered_set<std::string> used;
    for (size_t d = 0; d < devices.size(); ++d) {
      std::string s = FileStem(devices[d]);
      for (int k = 2; used.count(s); ++k) s = FileStem(devices[d]) + "_" + std::to_string(k);
      used.insert(s);
      stem[d] = s;
    }
  }

  SplitModelResult result;
  for (const auto& vi : g.input())
    if (!initializer.count(vi.name()) && !sparse_initializer.count(vi.name())) result.graph_inputs.push_back(vi.name());
  for (const auto& vi : g.output()) result.graph_outputs.push_back(vi.name());
  result.submodels.resize(S);
  std::unordered_map<std::string, size_t> output_owner;

  for (size_t s = 0; s < S; ++s) {
    const Stage& st = stages[s];
    Submodel& sub = result.submodels[s];
    sub.device = devices[st.device];
    sub.stage = st.index;
    sub.name = stage_count[st.device] > 1 ? stem[st.device] + "_stage" + std::to_string(st.index) : stem[st.device];
    sub.file = sub.name + ".onnx";
    sub.nodes = st.nodes;

    onnx::ModelProto& m = sub.model;
    m.set_ir_version(model.ir_version());
    *m.mutable_opset_import() = model.opset_import();
    if (model.has_producer_name()) m.set_producer_name(model.producer_name());
    if (model.has_producer_version()) m.set_producer_version(model.producer_version());
    if (model.has_domain()) m.set_domain(model.domain());
    if (model.has_model_version()) m.set_model_version(model.model_version());
    if (model.has_doc_string()) m.set_doc_string(model.doc_string());
    *m.mutable_functions() = model.functions();
    for (const auto& entry : model.metadata_props())
      if (entry.key().rfind("allot.", 0) != 0) *m.add_metadata_props() = entry;
    SetMetadata(m, "allot.device", sub.device);
    SetMetadata(m, "allot.submodel", sub.name);

    onnx::GraphProto& sg = *m.mutable_graph();
    sg.set_name(g.name().empty() ? sub.name : g.name() + "_" + sub.name);
    if (g.has_doc_string()) sg.set_doc_string(g.doc_string());

    // What the stage reads from outside itself, besides crossing tensors.
    std::set<int> inputs_read, inits_read, sparse_read;
    std::unordered_set<std::string> produced_here;
    for (int v : st.nodes) {
      for (const std::string& r : reads[v]) {
        if (producer.count(r)) continue;
        if (auto it = initializer.find(r); it != initializer.end()) inits_read.insert(it->second);
        if (auto it = sparse_initializer.find(r); it != sparse_initializer.end()) sparse_read.insert(it->second);
        if (auto it = input.find(r); it != input.end()) inputs_read.insert(it->second);
      }
      *sg.add_node() = g.node(v);
      for (const auto& o : g.node(v).output())
        if (!o.empty()) produced_here.insert(o);
    }
    for (int i : inputs_read) {
      *sg.add_input() = g.input(i);
      const std::string& name = g.input(i).name();
      if (!initializer.count(name) && !sparse_initializer.count(name)) sub.inputs.push_back(name);
    }
    for (int i : inits_read) *sg.add_initializer() = g.initializer(i);
    for (int i : sparse_read) *sg.add_sparse_initializer() = g.sparse_initializer(i);
    for (const std::string& name : cross_in[s]) {
      auto it = typed.find(name);
      if (it == typed.end())
        throw Error("tensor '" + name + "' (from node '" + node_names[producer[name]] + "' on " +
                    devices[dev[producer[name]]] + " to submodel '" + sub.name +
                    "') has no type, and ONNX shape inference cannot infer one");
      onnx::ValueInfoProto* vi = sg.add_input();
      *vi = *it->second;
      vi->set_name(name);
      sub.inputs.push_back(name);
    }
    // Outputs in production order; typed internal tensors as value_info.
    for (int v : st.nodes) {
      for (const auto& o : g.node(v).output()) {
        if (o.empty()) continue;
        auto go = graph_output.find(o);
        const bool crossing = cross_out_set[s].count(o) != 0;
        if (go != graph_output.end() && IsTyped(g.output(go->second))) {
          *sg.add_output() = g.output(go->second);
        } else if (go != graph_output.end() || crossing) {
          auto it = typed.find(o);
          if (it == typed.end())
            throw Error("tensor '" + o + "' (output of node '" + node_names[v] + "' on " + sub.device +
                        ") has no type, and ONNX shape inference cannot infer one");
          onnx::ValueInfoProto* vi = sg.add_output();
          *vi = *it->second;
          vi->set_name(o);
        } else {
          if (auto it = typed.find(o); it != typed.end()) *sg.add_value_info() = *it->second;
          continue;
        }
        sub.outputs.push_back(o);
        if (go != graph_output.end()) output_owner.emplace(o, s);
      }
    }
    if (options.check) {
      try {
        onnx::checker::check_model(m);
      } catch (const std::exception& e) {
        throw Error("submodel '" + sub.name + "' fails the ONNX checker: " + FirstLine(e.what()));
      }
    }
  }

  // Transfers, grouped by reader in execution order.
  for (size_t s = 0; s < S; ++s)
    for (const std::string& name : cross_in[s]) {
      SplitTransfer t;
      t.tensor = name;
      t.from = static_cast<size_t>(stage_of[producer[name]]);
      t.to = s;
      if (options.tensor_bytes) t.bytes = options.tensor_bytes(name);
      else if (auto it = typed.find(name); it != typed.end()) t.bytes = StaticBytes(*it->second);
      result.transfers.push_back(std::move(t));
    }

  // Manifest.
  Json j;
  j["version"] = 1;
  j["graph"] = g.name();
  Json subs = Json::array(), order = Json::array();
  for (const Submodel& sub : result.submodels) {
    subs.push_back(Json{{"name", sub.name},
                        {"device", sub.device},
                        {"stage", sub.stage},
                        {"model", sub.file},
                        {"nodes", sub.nodes.size()},
                        {"inputs", sub.inputs},
                        {"outputs", sub.outputs}});
    order.push_back(sub.name);
  }
  j["devices"] = std::move(subs);
  Json transfers = Json::array();
  for (const SplitTransfer& t : result.transfers)
    transfers.push_back(Json{{"tensor", t.tensor},
                             {"from", result.submodels[t.from].device},
                             {"to", result.submodels[t.to].device},
                             {"from_model", result.submodels[t.from].name},
                             {"to_model", result.submodels[t.to].name},
                             {"bytes", t.bytes}});
  j["transfers"] = std::move(transfers);
  j["order"] = std::move(order);
  j["inputs"] = result.graph_inputs;
  Json outputs = Json::array();
  for (const std::string& name : result.graph_outputs) {
    auto it = output_owner.find(name);
    outputs.push_back(Json{{"tensor", name},
                           {"model", it == output_owner.end() ? Json(nullptr) : Json(result.submodels[it->second].name)}});
  }
  j["outputs"] = std::move(outputs);
  result.manifest = j.dump(1) + "\n";
  return result;
}

}  // namespace allot
