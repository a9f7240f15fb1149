#include "cost_model/profile.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/json_io.h"

namespace allot {
namespace {

const char* KindName(DeviceKind k) { return k == DeviceKind::kCpu ? "cpu" : "gpu"; }

void AppendShape(std::string& s, const Tensor& t) {
  s += DTypeName(t.dtype);
  s += '[';
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(t.shape[i]);
  }
  s += ']';
}

void AppendInts(std::string& s, const char* tag, const std::vector<int64_t>& v) {
  if (v.empty()) return;
  s += ' ';
  s += tag;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
}

}  // namespace

std::string OpSignature(const Graph& g, NodeId n) {
  const Node& node = g.node(n);
  std::string s = std::string(node.op_type) + "(";
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (i) s += ',';
    AppendShape(s, g.tensor(node.inputs[i]));
  }
  s += ")->(";
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (i) s += ',';
    AppendShape(s, g.tensor(node.outputs[i]));
  }
  s += "){";
  const OpAttrs& a = node.attrs;
  AppendInts(s, "k", a.kernel_shape);
  AppendInts(s, "s", a.strides);
  AppendInts(s, "p", a.pads);
  AppendInts(s, "d", a.dilations);
  if (a.group != 1) s += " g" + std::to_string(a.group);
  if (a.trans_a || a.trans_b) s += std::string(" t") + (a.trans_a ? "1" : "0") + (a.trans_b ? "1" : "0");
  if (a.axis != 0) s += " a" + std::to_string(a.axis);
  s += '}';
  return s;
}

double Profile::Lookup(const std::string& signature, const Device& device) const {
  auto it = by_device_.find(signature + '@' + device.name);
  if (it != by_device_.end()) return entries_[it->second].seconds;
  it = by_kind_.find(signature + '@' + KindName(device.kind));
  return it != by_kind_.end() ? entries_[it->second].seconds : -1;
}

void Profile::Add(const std::string& signature, const std::string& device, DeviceKind kind, double seconds,
                  int repeats) {
  const size_t index = entries_.size();
  entries_.push_back({signature, device, kind, seconds, repeats});
  by_device_[signature + '@' + device] = index;
  by_kind_.emplace(signature + '@' + KindName(kind), index);  // the first device of a kind stands for the kind
}

std::string Profile::ToJson() const {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["ops"] = nlohmann::ordered_json::array();
  for (const Entry& e : entries_)
    j["ops"].push_back({{"signature", e.signature}, {"device", e.device}, {"kind", KindName(e.kind)},
                        {"time_us", e.seconds * 1e6}, {"repeats", e.repeats}});
  j["links"] = nlohmann::ordered_json::array();
  for (const ProfiledLink& l : links_)
    j["links"].push_back({{"from", l.from}, {"to", l.to}, {"gbps", l.bandwidth / 1e9}, {"latency_us", l.latency * 1e6}});
  return j.dump(1);
}

Profile Profile::FromJson(const std::string& text, const std::string& source) {
  const nlohmann::json j = ParseJsonText(text, source);
  if (!j.is_object() || !j.contains("ops") || !j["ops"].is_array())
    throw Error(source + ": a profile needs an 'ops' array");
  Profile p;
  for (size_t i = 0; i < j["ops"].size(); ++i) {
    const auto& e = j["ops"][i];
    const std::string where = source + ": ops[" + std::to_string(i) + "]";
    const std::string signature = JsonString(e, "signature", where, std::nullopt, 1 << 16);
    const double time_us = JsonNonNegative(e, "time_us", where);
    const std::string kind = JsonString(e, "kind", where, "cpu");
    if (kind != "cpu" && kind != "gpu") throw Error(where + ": 'kind' must be \"cpu\" or \"gpu\", not " + Quote(kind));
    const double repeats = JsonNumber(e, "repeats", where, 1);
    if (repeats < 1 || repeats > 2147483647 || repeats != std::floor(repeats))
      throw Error(where + ": field 'repeats' must be a count of at least 1");
    p.Add(signature, JsonString(e, "device", where, ""), kind == "cpu" ? DeviceKind::kCpu : DeviceKind::kGpu,
          time_us * 1e-6, static_cast<int>(repeats));
  }
  if (j.contains("links") && !j["links"].is_array()) throw Error(source + ": field 'links' must be an array");
  if (j.contains("links"))
    for (size_t i = 0; i < j["links"].size(); ++i) {
      const auto& l = j["links"][i];
      const std::string where = source + ": links[" + std::to_string(i) + "]";
      p.AddLink({JsonString(l, "from", where), JsonString(l, "to", where), JsonPositive(l, "gbps", where) * 1e9,
                 JsonNonNegative(l, "latency_us", where, 0) * 1e-6});
    }
  return p;
}

Profile Profile::Load(const std::string& path) {
  return FromJson(ReadFile(path), path);
}

void ApplyProfiledLinks(const Profile& profile, Cluster& cluster) {
  std::vector<Link> links = cluster.links();
  for (const ProfiledLink& p : profile.links()) {
    const DeviceId a = cluster.FindDevice(p.from), b = cluster.FindDevice(p.to);
    if (a == Cluster::kNoDevice || b == Cluster::kNoDevice || a == b) continue;
    const auto& route = cluster.route(a, b);
    for (uint32_t l : route) {
      links[l].bandwidth = p.bandwidth;
      links[l].latency = p.latency / static_cast<double>(route.size());
    }
  }
  std::vector<std::vector<uint32_t>> routes;
  for (DeviceId a = 0; a < cluster.num_devices(); ++a)
    for (DeviceId b = 0; b < cluster.num_devices(); ++b) routes.push_back(cluster.route(a, b));
  Cluster calibrated(cluster.name(), cluster.devices(), links);
  for (DeviceId a = 0; a < cluster.num_devices(); ++a)
    for (DeviceId b = 0; b < cluster.num_devices(); ++b)
      calibrated.SetRoute(a, b, routes[a * cluster.num_devices() + b]);
  cluster = std::move(calibrated);
}

}  // namespace allot
