#include "cost_model/cluster.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>

#include "graph/error.h"
#include "graph/json_io.h"

namespace allot {
namespace {

constexpr double kGB = 1e9;
constexpr double kUs = 1e-6;
constexpr uint64_t kGiB = 1ull << 30;

// Spec-sheet numbers (fp32 without tensor cores; f16 with them where the part has them). A K80 board holds two
// GK210 dies that TensorFlow saw as two GPUs; these are per die, as in the papers' "4 K80" (= 4 dies) setups.
Device Haswell() { return {"cpu:0", DeviceKind::kCpu, "Haswell (2x E5-2680 v3)", 1.0e12, 0, 100 * kGB, 256 * kGiB, 10 * kUs}; }
Device K80(int i) { return {"cuda:" + std::to_string(i), DeviceKind::kGpu, "K80 (one GK210)", 4.37e12, 0, 240 * kGB, 12 * kGiB, 10 * kUs}; }
Device P100(int i) { return {"cuda:" + std::to_string(i), DeviceKind::kGpu, "P100 PCIe 16GB", 9.3e12, 18.7e12, 732 * kGB, 16 * kGiB, 5 * kUs}; }
Device V100(int i) { return {"cuda:" + std::to_string(i), DeviceKind::kGpu, "V100 SXM2 16GB", 15.7e12, 125e12, 900 * kGB, 16 * kGiB, 5 * kUs}; }
Device H100(int i) { return {"cuda:" + std::to_string(i), DeviceKind::kGpu, "H100 SXM5 80GB", 67e12, 989e12, 3350 * kGB, 80 * kGiB, 4 * kUs}; }
Device H200(int i) { return {"cuda:" + std::to_string(i), DeviceKind::kGpu, "H200 SXM 141GB", 67e12, 989e12, 4800 * kGB, 141 * kGiB, 4 * kUs}; }
Device HostOfToday() { return {"cpu:0", DeviceKind::kCpu, "Sapphire Rapids (2x 56 cores)", 8.0e12, 0, 300 * kGB, 2048 * kGiB, 10 * kUs}; }

void AddDuplex(std::vector<Link>& links, const std::string& a, const std::string& b, double gbps, double latency_us,
               const std::string& tag) {
  links.push_back({tag + ":" + a + "->" + b, a, b, gbps * kGB, latency_us * kUs});
  links.push_back({tag + ":" + b + "->" + a, b, a, gbps * kGB, latency_us * kUs});
}

// GPUs hang off the host's PCIe root: GPU-to-GPU copies go up one link and down another, sharing them.
Cluster PcieTree(const std::string& name, Device host, int gpus, Device (*gpu)(int), double gbps) {
  std::vector<Device> devices = {host};
  std::vector<Link> links;
  for (int i = 0; i < gpus; ++i) {
    devices.push_back(gpu(i));
    AddDuplex(links, devices.back().name, host.name, gbps, 10, "pcie");
  }
  return Cluster(name, devices, links);
}

Cluster Dgx1V100() {
  std::vector<Device> devices = {Haswell()};
  std::vector<Link> links;
  for (int i = 0; i < 8; ++i) {
    devices.push_back(V100(i));
    AddDuplex(links, devices.back().name, "cpu:0", 12, 10, "pcie");
  }
  // DGX-1's hybrid cube mesh: two fully connected quads plus i <-> i+4; NVLink 2 at 25 GB/s per direction.
  auto gpu = [](int i) { return "cuda:" + std::to_string(i); };
  for (int q = 0; q < 2; ++q)
    for (int i = 0; i < 4; ++i)
      for (int j = i + 1; j < 4; ++j) AddDuplex(links, gpu(4 * q + i), gpu(4 * q + j), 25, 2, "nvlink");
  for (int i = 0; i < 4; ++i) AddDuplex(links, gpu(i), gpu(i + 4), 25, 2, "nvlink");
  return Cluster("v100x8", devices, links);
}

Cluster DgxH100() {
  std::vector<Device> devices = {HostOfToday()};
  std::vector<Link> links;
  for (int i = 0; i < 8; ++i) {
    devices.push_back(H100(i));
    AddDuplex(links, devices.back().name, "cpu:0", 55, 5, "pcie");
    AddDuplex(links, devices.back().name, "nvswitch", 450, 1, "nvlink");  // NVLink 4 through NVSwitch
  }
  return Cluster("h100x8", devices, links);
}

// N virtual CPU devices of one core each (what the local runtime executes): copies are memcpys between
// threads, modelled as a direct link per pair.
Cluster VirtualCpus(int n) {
  std::vector<Device> devices;
  std::vector<Link> links;
  for (int i = 0; i < n; ++i)
    devices.push_back({"cpu:" + std::to_string(i), DeviceKind::kCpu, "one core", 50e9, 0, 5 * kGB, 8 * kGiB, 2 * kUs});
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) AddDuplex(links, devices[i].name, devices[j].name, 5, 5, "memcpy");
  return Cluster("cpu" + std::to_string(n), devices, links);
}

}  // namespace

Cluster::Cluster(std::string name, std::vector<Device> devices, std::vector<Link> links)
    : name_(std::move(name)), devices_(std::move(devices)), links_(std::move(links)) {
  ComputeRoutes();
}

DeviceId Cluster::FindDevice(const std::string& name) const {
  for (DeviceId d = 0; d < devices_.size(); ++d)
    if (devices_[d].name == name) return d;
  return kNoDevice;
}

void Cluster::ComputeRoutes() {
  const size_t D = devices_.size();
  routes_.assign(D * D, {});
  // Endpoints: devices first (ids 0..D-1), then junctions in order of appearance.
  std::map<std::string, uint32_t> endpoint;
  for (size_t d = 0; d < D; ++d) endpoint[devices_[d].name] = static_cast<uint32_t>(d);
  for (const Link& l : links_)
    for (const std::string* e : {&l.from, &l.to})
      if (!endpoint.count(*e)) endpoint.emplace(*e, static_cast<uint32_t>(endpoint.size()));
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> out(endpoint.size());  // (link, to)
  for (uint32_t i = 0; i < links_.size(); ++i) out[endpoint[links_[i].from]].emplace_back(i, endpoint[links_[i].to]);
  for (size_t a = 0; a < D; ++a) {
    // BFS: fewest links, ties broken by link order. A route may pass through the host (the PCIe root).
    std::vector<uint32_t> via(endpoint.size(), UINT32_MAX);
    std::vector<char> seen(endpoint.size(), 0);
    std::queue<uint32_t> q;
    q.push(static_cast<uint32_t>(a));
    seen[a] = 1;
    while (!q.empty()) {
      const uint32_t u = q.front();
      q.pop();
      for (const auto& [link, v] : out[u])
        if (!seen[v]) {
          seen[v] = 1;
          via[v] = link;
          q.push(v);
        }
    }
    for (size_t b = 0; b < D; ++b) {
      if (a == b || !seen[b]) continue;
      std::vector<uint32_t> path;
      for (uint32_t v = static_cast<uint32_t>(b); v != a; v = endpoint[links_[via[v]].from]) path.push_back(via[v]);
      std::reverse(path.begin(), path.end());
      routes_[a * D + b] = std::move(path);
    }
  }
}

void Cluster::SetRoute(DeviceId a, DeviceId b, std::vector<uint32_t> links) {
  routes_[a * devices_.size() + b] = std::move(links);
}

double Cluster::TransferTime(DeviceId a, DeviceId b, uint64_t bytes) const {
  if (a == b) return 0;
  const auto& r = route(a, b);
  double latency = 0, bw = 0;
  for (uint32_t l : r) {
    latency += links_[l].latency;
    bw = bw == 0 ? links_[l].bandwidth : std::min(bw, links_[l].bandwidth);
  }
  return bw > 0 ? latency + static_cast<double>(bytes) / bw : latency;
}

std::string Cluster::ToJson() const {
  nlohmann::ordered_json j;
  j["name"] = name_;
  for (const Device& d : devices_) {
    nlohmann::ordered_json dev;
    dev["name"] = d.name;
    dev["kind"] = d.kind == DeviceKind::kCpu ? "cpu" : "gpu";
    dev["model"] = d.model;
    dev["peak_tflops"] = {{"float32", d.peak_flops_f32 / 1e12}, {"float16", (d.peak_flops_f16 > 0 ? d.peak_flops_f16 : d.peak_flops_f32) / 1e12}};
    dev["memory_gbps"] = d.memory_bandwidth / kGB;
    dev["memory_gib"] = static_cast<double>(d.memory_capacity) / kGiB;
    dev["launch_overhead_us"] = d.launch_overhead / kUs;
    if (d.rank >= 0) dev["rank"] = d.rank;
    j["devices"].push_back(dev);
  }
  j["links"] = nlohmann::ordered_json::array();
  for (const Link& l : links_)
    j["links"].push_back({{"name", l.name}, {"from", l.from}, {"to", l.to}, {"gbps", l.bandwidth / kGB}, {"latency_us", l.latency / kUs}});
  return j.dump(2);
}

Cluster ParseClusterJson(const std::string& text, const std::string& source) {
  const nlohmann::json j = ParseJsonText(text, source);
  if (!j.is_object()) throw Error(source + ": a cluster spec must be a JSON object");
  if (!j.contains("devices") || !j["devices"].is_array() || j["devices"].empty())
    throw Error(source + ": field 'devices' must be a non-empty array");
  // Device and link rates divide the work of every op and copy: each must be finite and positive.
  std::vector<Device> devices;
  for (size_t i = 0; i < j["devices"].size(); ++i) {
    const auto& d = j["devices"][i];
    const std::string where = source + ": devices[" + std::to_string(i) + "]";
    Device dev;
    dev.name = JsonString(d, "name", where);
    const std::string kind = JsonString(d, "kind", where, "gpu");
    if (kind != "cpu" && kind != "gpu") throw Error(where + ": field 'kind' must be \"cpu\" or \"gpu\", not " + Quote(kind));
    dev.kind = kind == "cpu" ? DeviceKind::kCpu : DeviceKind::kGpu;
    dev.model = JsonString(d, "model", where, "");
    if (!d.contains("peak_tflops")) throw Error(where + ": missing field 'peak_tflops'");
    if (d["peak_tflops"].is_object()) {
      dev.peak_flops_f32 = JsonPositive(d["peak_tflops"], "float32", where + ".peak_tflops") * 1e12;
      dev.peak_flops_f16 = JsonNonNegative(d["peak_tflops"], "float16", where + ".peak_tflops", 0) * 1e12;
    } else {
      dev.peak_flops_f32 = JsonPositive(d, "peak_tflops", where) * 1e12;
    }
    dev.memory_bandwidth = JsonPositive(d, "memory_gbps", where) * kGB;
    const double gib = JsonNonNegative(d, "memory_gib", where);
    if (gib * kGiB >= 1.8e19) throw Error(where + ": field 'memory_gib' is too large to count in bytes");
    dev.memory_capacity = static_cast<uint64_t>(gib * kGiB);
    dev.launch_overhead = JsonNonNegative(d, "launch_overhead_us", where, 0) * kUs;
    dev.rank = static_cast<int>(JsonInteger(d, "rank", where, 0, 65535, -1));
    for (const Device& other : devices)
      if (other.name == dev.name) throw Error(where + ": duplicate device name " + Quote(dev.name));
    devices.push_back(dev);
  }
  std::vector<Link> links;
  const auto array = [&](const char* key) {
    if (j.contains(key) && !j[key].is_array()) throw Error(source + ": field '" + key + "' must be an array");
    return j.contains(key) ? j[key].size() : size_t{0};
  };
  for (size_t i = 0, n = array("links"); i < n; ++i) {
    const auto& l = j["links"][i];
    const std::string where = source + ": links[" + std::to_string(i) + "]";
    Link link{JsonString(l, "name", where, "link" + std::to_string(i)), JsonString(l, "from", where),
              JsonString(l, "to", where), JsonPositive(l, "gbps", where) * kGB,
              JsonNonNegative(l, "latency_us", where, 0) * kUs};
    links.push_back(link);
  }
  Cluster cluster(JsonString(j, "name", source, source), devices, links);
  for (size_t i = 0, n = array("routes"); i < n; ++i) {
    const auto& r = j["routes"][i];
    const std::string where = source + ": routes[" + std::to_string(i) + "]";
    const std::string from = JsonString(r, "from", where), to = JsonString(r, "to", where);
    const DeviceId a = cluster.FindDevice(from), b = cluster.FindDevice(to);
    if (a == Cluster::kNoDevice || b == Cluster::kNoDevice)
      throw Error(where + ": unknown device " + Quote(a == Cluster::kNoDevice ? from : to));
    if (!r.contains("links") || !r["links"].is_array()) throw Error(where + ": field 'links' must be an array of link names");
    std::vector<uint32_t> path;
    for (const auto& name : r["links"]) {
      const auto it = std::find_if(links.begin(), links.end(), [&](const Link& l) { return name.is_string() && l.name == name; });
      if (it == links.end()) throw Error(where + ": unknown link " + Quote(name.dump()));
      path.push_back(static_cast<uint32_t>(it - links.begin()));
    }
    cluster.SetRoute(a, b, std::move(path));
  }
  for (DeviceId a = 0; a < cluster.num_devices(); ++a)
    for (DeviceId b = 0; b < cluster.num_devices(); ++b)
      if (a != b && cluster.route(a, b).empty())
        throw Error(source + ": no route from " + Quote(cluster.device(a).name) + " to " + Quote(cluster.device(b).name));
  return cluster;
}

const std::vector<ClusterPreset>& ListClusterPresets() {
  static const std::vector<ClusterPreset> presets = {
      {"k80x4", "Haswell host + 4 K80 dies over PCIe 3.0 through the host (ColocRL, Spotlight, Placeto)"},
      {"p100x2", "Haswell host + 2 P100 (PCIe 16GB) over PCIe 3.0 through the host"},
      {"p100x4", "Haswell host + 4 P100 (PCIe 16GB) over PCIe 3.0 through the host"},
      {"p100x8", "Haswell host + 8 P100 (PCIe 16GB) over PCIe 3.0 through the host"},
      {"v100x8", "DGX-1: Haswell host + 8 V100 SXM2 16GB, NVLink 2 hybrid cube mesh"},
      {"h100x8", "DGX H100: host + 8 H100 SXM5 80GB, NVLink 4 through NVSwitch"},
      {"h200x1", "host + 1 H200 SXM 141GB over PCIe 5.0 (a one-GPU machine `allot run` can execute with CUDA)"},
      {"cpu2", "2 virtual CPU devices of one core each (what `allot run` executes here); cpuN for N devices"},
  };
  return presets;
}

Cluster MakePreset(const std::string& name) {
  if (name == "k80x4") return PcieTree(name, Haswell(), 4, K80, 12);
  if (name == "p100x2") return PcieTree(name, Haswell(), 2, P100, 12);
  if (name == "p100x4") return PcieTree(name, Haswell(), 4, P100, 12);
  if (name == "p100x8") return PcieTree(name, Haswell(), 8, P100, 12);
  if (name == "v100x8") return Dgx1V100();
  if (name == "h100x8") return DgxH100();
  if (name == "h200x1") return PcieTree(name, HostOfToday(), 1, H200, 55);
  if (name.size() > 3 && name.rfind("cpu", 0) == 0 &&
      std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (name.size() <= 5) {  // at most 64 devices: cpu1 .. cpu64, and no stoi overflow
      const int n = std::stoi(name.substr(3));
      if (n >= 1 && n <= 64) return VirtualCpus(n);
    }
    throw Error("cluster " + Quote(name) + ": cpuN takes 1 to 64 devices");
  }
  std::string known;
  for (const auto& p : ListClusterPresets()) known += (known.empty() ? "" : ", ") + p.name;
  throw Error("unknown cluster " + Quote(name) + " (presets: " + known + "; or a path to a JSON spec)");
}

Cluster LoadCluster(const std::string& name_or_path) {
  std::ifstream in(name_or_path);
  if (!in) {
    const bool path = name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0;
    if (path) throw FileNotFound(name_or_path + ": cannot open file: no such file");
    return MakePreset(name_or_path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseClusterJson(ss.str(), name_or_path);
}

}  // namespace allot
