#include "cost_model/cost_graph.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "graph/error.h"
#include "graph/json_io.h"
#include "graph/file_io.h"
#include "graph/graph_builder.h"

namespace allot {
bool LooksLikeCostGraph(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

CostGraph ParseCostGraph(const std::string& text, const std::string& source) {
  const nlohmann::json j = ParseJsonText(text, source);
  if (!j.is_object() || !j.contains("format") || j["format"] != "allot-cost-graph")
    throw Error(source + ": not an allot cost graph (field 'format' must be \"allot-cost-graph\")");
  if (!j.contains("version") || j["version"] != 1)
    throw Error(source + ": field 'version' must be 1 (the version this build of allot reads)");
  if (!j.contains("nodes") || !j["nodes"].is_array() || j["nodes"].empty())
    throw Error(source + ": field 'nodes' must be a non-empty array");
  const auto& nodes = j["nodes"];
  GraphBuilder b(source);
  CostGraph cg;
  cg.times.cpu.assign(nodes.size(), -1);
  cg.times.gpu.assign(nodes.size(), -1);
  std::unordered_map<std::string, NodeId> ids;
  std::vector<NodeDef> pending(nodes.size());
  std::vector<TensorId> output(nodes.size());
  std::vector<uint64_t> output_bytes(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    const std::string where = source + ": nodes[" + std::to_string(i) + "]";
    NodeDef& node = pending[i];
    node.name = JsonString(n, "name", where, std::nullopt, 4096);
    if (!ids.emplace(node.name, static_cast<NodeId>(i)).second)
      throw Error(where + ": duplicate node name " + Quote(node.name));
    node.op_type = JsonString(n, "op", where, "Unknown");
    // A node without either has no cost at all: a typo in the field name, not a free op.
    if (!n.contains("time_us") && !n.contains("flops"))
      throw Error(where + " (" + Quote(node.name) + "): has neither 'time_us' nor 'flops'");
    node.flops = JsonNonNegative(n, "flops", where, 0);
    const double out_bytes = JsonNonNegative(n, "output_bytes", where, 0);
    if (out_bytes >= 9.2e18) throw Error(where + ": field 'output_bytes' is too large");
    output_bytes[i] = static_cast<uint64_t>(out_bytes);
    node.bytes_accessed = static_cast<double>(output_bytes[i]);
    if (n.contains("time_us")) {
      if (!n["time_us"].is_object() || n["time_us"].empty())
        throw Error(where + ": 'time_us' must map device kinds (\"cpu\", \"gpu\") to microseconds");
      for (const auto& [kind, value] : n["time_us"].items()) {
        if (!value.is_number() || !(value.get<double>() >= 0) || !std::isfinite(value.get<double>()))
          throw Error(where + ": time_us['" + kind + "'] must be a non-negative number");
        if (kind == "cpu") cg.times.cpu[i] = value.get<double>() * 1e-6;
        else if (kind == "gpu") cg.times.gpu[i] = value.get<double>() * 1e-6;
        else throw Error(where + ": time_us[" + Quote(kind) + "]: device kinds are \"cpu\" and \"gpu\"");
      }
    }
    if (n.contains("colocation")) {
      if (!n["colocation"].is_string() || n["colocation"].get<std::string>().empty())
        throw Error(where + ": 'colocation' must be a non-empty string (a class name)");
      cg.constraints.colocation.resize(nodes.size());
      cg.constraints.colocation[i] = n["colocation"].get<std::string>();
    }
    if (n.contains("devices")) {
      if (!n["devices"].is_array() || n["devices"].empty())
        throw Error(where + ": 'devices' must be a non-empty array of device names or kinds");
      cg.constraints.devices.resize(nodes.size());
      for (const auto& d : n["devices"]) {
        if (!d.is_string()) throw Error(where + ": 'devices' must hold strings (\"cpu\", \"gpu\", \"cuda:1\")");
        cg.constraints.devices[i].push_back(d.get<std::string>());
      }
    }
    output[i] = b.Tensor(node.name + ":out");
    b.SetType(output[i], DType::kUInt8, {static_cast<int64_t>(output_bytes[i])});
    node.outputs.push_back(output[i]);
    const double memory = JsonNonNegative(n, "memory_bytes", where, 0);
    if (memory >= 9.2e18) throw Error(where + ": field 'memory_bytes' is too large");
    if (memory > 0) {
      const TensorId param = b.Tensor(node.name + ":memory");
      b.SetType(param, DType::kUInt8, {static_cast<int64_t>(memory)});
      b.tensor(param).is_parameter = true;
      node.inputs.push_back(param);
    }
  }
  if (j.contains("edges")) {
    if (!j["edges"].is_array()) throw Error(source + ": field 'edges' must be an array");
    for (size_t e = 0; e < j["edges"].size(); ++e) {
      const auto& edge = j["edges"][e];
      const std::string where = source + ": edges[" + std::to_string(e) + "]";
      const auto from = ids.find(JsonString(edge, "from", where, std::nullopt, 4096)),
                 to = ids.find(JsonString(edge, "to", where, std::nullopt, 4096));
      if (from == ids.end()) throw Error(where + ": unknown node " + Quote(edge["from"].get<std::string>()));
      if (to == ids.end()) throw Error(where + ": unknown node " + Quote(edge["to"].get<std::string>()));
      const double edge_bytes = JsonNonNegative(edge, "bytes", where, static_cast<double>(output_bytes[from->second]));
      if (edge_bytes >= 9.2e18) throw Error(where + ": field 'bytes' is too large");
      const uint64_t bytes = static_cast<uint64_t>(edge_bytes);
      TensorId t = output[from->second];
      if (bytes != output_bytes[from->second]) {
        t = b.Tensor(pending[from->second].name + "->" + pending[to->second].name);
        b.SetType(t, DType::kUInt8, {static_cast<int64_t>(bytes)});
        pending[from->second].outputs.push_back(t);
      }
      pending[to->second].inputs.push_back(t);
    }
  }
  for (const NodeDef& node : pending) b.AddNode(node);
  cg.graph = b.Finalize();
  return cg;
}

CostGraph ReadCostGraph(const std::string& path) { return ParseCostGraph(ReadFile(path), path); }

}  // namespace allot
