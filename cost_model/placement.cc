#include "cost_model/placement.h"

#include <nlohmann/json.hpp>

#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/json_io.h"
#include "graph/file_io.h"
#include "graph/onnx_export.h"

namespace allot {

void ExpandPlacement(const Graph& g, std::vector<DeviceId>& placement) {
  for (NodeId n = 0; n < g.num_nodes(); ++n) {
    const Node& node = g.node(n);
    if (node.role != NodeRole::kForward && node.forward != kNone) placement[n] = placement[node.forward];
  }
}

std::string PlacementToJson(const Graph& g, const Cluster& cluster, const std::vector<DeviceId>& placement,
                            const PlacementInfo& info, const SimResult* result) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["model"] = info.model;
  j["graph_hash"] = g.hash_hex();
  j["mode"] = info.mode;
  if (info.mode == "training" && !info.optimizer.empty()) j["optimizer"] = info.optimizer;
  if (!info.bindings.empty()) j["bindings"] = nlohmann::ordered_json::parse(BindingsToJson(info.bindings));
  j["cluster"] = cluster.name();
  j["devices"] = nlohmann::ordered_json::array();
  for (const Device& d : cluster.devices()) j["devices"].push_back(d.name);
  j["placer"] = {{"name", info.placer}, {"options", nlohmann::ordered_json::parse(info.placer_options_json)}};
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  for (NodeId n = 0; n < g.num_nodes(); ++n)
    if (g.node(n).role == NodeRole::kForward)
      AppendDistinctField(map, std::string(g.node(n).name), cluster.device(placement[n]).name);
  j["placement"] = std::move(map);
  if (result) {
    j["step_time_ms"] = result->step_time * 1e3;
    j["lower_bound_ms"] = info.lower_bound * 1e3;
    j["valid"] = result->valid;
    if (!result->valid) j["error"] = result->error;
    nlohmann::ordered_json peak = nlohmann::ordered_json::object();
    for (DeviceId d = 0; d < cluster.num_devices(); ++d) peak[cluster.device(d).name] = result->peak_memory[d];
    j["peak_memory_bytes"] = std::move(peak);
  }
  return j.dump(1) + "\n";
}

std::vector<DeviceId> ParsePlacementJson(const std::string& text, const std::string& source, const Graph& g,
                                         const Cluster& cluster) {
  const nlohmann::json j = ParseJsonText(text, source);
  if (!j.is_object()) throw Error(source + ": a placement file must be a JSON object");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    throw Error(source + ": field 'version' must be 1");
  // The hash ties a placement to one graph: node names alone match another mode's or batch size's graph.
  const bool hand_annotated = j.contains("annotations") && j["annotations"] == "doc_string";  // PlacementJsonFromModel
  if (!j.contains("graph_hash") && !hand_annotated)
    throw Error(source + ": missing field 'graph_hash' (`allot place` writes it; this model's graph hashes to " +
                g.hash_hex() + ")");
  const std::string hash = JsonString(j, "graph_hash", source, g.hash_hex(), 64);
  if (hash != g.hash_hex())
    throw Error(source + ": field 'graph_hash' is " + Quote(hash) + " but this model's graph hashes to " +
                g.hash_hex() + " (a placement for another model, mode or batch size)");
  // The devices it was made for: each must be in the cluster it is read for.
  if (!j.contains("devices") || !j["devices"].is_array() || j["devices"].empty())
    throw Error(source + ": field 'devices' must be a non-empty array of the cluster's device names");
  for (const auto& d : j["devices"]) {
    if (!d.is_string()) throw Error(source + ": field 'devices' must hold device names, not " + d.dump().substr(0, 60));
    if (cluster.FindDevice(d.get<std::string>()) == Cluster::kNoDevice)
      throw Error(source + ": field 'devices' names " + Quote(d.get<std::string>()) + ", which cluster " +
                  cluster.name() + " lacks");
  }
  if (!j.contains("placement") || !j["placement"].is_object())
    throw Error(source + ": field 'placement' must be an object mapping node names to devices");
  constexpr DeviceId kUnset = Cluster::kNoDevice;
  std::vector<DeviceId> placement(g.num_nodes(), kUnset);
  for (const auto& [name, device] : j["placement"].items()) {
    const NodeId n = g.FindNode(name);
    if (n == kNone) throw Error(source + ": placement[" + Quote(name) + "]: no node of that name in the model");
    if (g.node(n).role != NodeRole::kForward)
      throw Error(source + ": placement['" + name + "']: a " + std::string(NodeRoleName(g.node(n).role)) +
                  " op is placed with its forward op, not on its own");
    if (!device.is_string()) throw Error(source + ": placement['" + name + "']: the device must be a string");
    const DeviceId d = cluster.FindDevice(device.get<std::string>());
    if (d == Cluster::kNoDevice)
      throw Error(source + ": placement['" + name + "']: unknown device " + Quote(device.get<std::string>()) +
                  " (cluster " + cluster.name() + ")");
    placement[n] = d;
  }
  for (NodeId n = 0; n < g.num_nodes(); ++n)
    if (g.node(n).role == NodeRole::kForward && placement[n] == kUnset)
      throw Error(source + ": placement: node '" + std::string(g.node_name(n)) + "' is missing");
  ExpandPlacement(g, placement);
  return placement;
}

PlacementContext ReadPlacementContext(const std::string& path) {
  const nlohmann::json j = ParseJsonText(ReadPlacementText(path), path);
  PlacementContext c;
  if (!j.is_object()) return c;  // ParsePlacementJson says what is wrong
  const auto text = [&](const char* field, std::string& out) {
    if (!j.contains(field)) return;
    if (!j[field].is_string()) throw Error(path + ": field '" + std::string(field) + "' must be a string");
    out = j[field].get<std::string>();
  };
  text("cluster", c.cluster);
  text("mode", c.mode);
  text("optimizer", c.optimizer);
  text("graph_hash", c.graph_hash);
  if (j.contains("placer") && j["placer"].is_object() && j["placer"].contains("name") &&
      j["placer"]["name"].is_string())
    c.placer = j["placer"]["name"].get<std::string>();
  if (!c.mode.empty() && c.mode != "inference" && c.mode != "training")
    throw Error(path + ": field 'mode' is '" + c.mode + "'; expected inference or training");
  if (!c.optimizer.empty() && c.optimizer != "sgd" && c.optimizer != "momentum" && c.optimizer != "adam")
    throw Error(path + ": field 'optimizer' is '" + c.optimizer + "'; expected sgd, momentum or adam");
  if (j.contains("bindings")) c.bindings = BindingsFromJson(j["bindings"].dump(), path + ": field 'bindings'");
  return c;
}

std::vector<DeviceId> ReadPlacementFile(const std::string& path, const Graph& g, const Cluster& cluster) {
  return ParsePlacementJson(ReadPlacementText(path), path, g, cluster);
}

}  // namespace allot
