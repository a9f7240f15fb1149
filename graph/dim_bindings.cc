#include "graph/dim_bindings.h"

#include "graph/json_io.h"

namespace allot {

std::string BindingsToJson(const DimBindings& b) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (b.batch > 0) j["batch"] = b.batch;
  if (b.seq > 0) j["seq"] = b.seq;
  if (!b.dims.empty()) {
    j["dims"] = nlohmann::ordered_json::object();
    for (const auto& [name, value] : b.dims) j["dims"][name] = value;
  }
  return j.dump();
}

DimBindings BindingsFromJson(const std::string& json, const std::string& what) {
  const nlohmann::json j = ParseJsonText(json, what);
  if (!j.is_object()) throw Error(what + " must be an object {\"batch\": N, \"seq\": N, \"dims\": {NAME: N}}");
  DimBindings b;
  const auto positive = [&](const nlohmann::json& v, const std::string& field) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      throw Error(what + ": '" + field + "' must be a positive integer");
    return v.get<int64_t>();
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "batch") {
      b.batch = positive(value, key);
    } else if (key == "seq") {
      b.seq = positive(value, key);
    } else if (key == "dims") {
      if (!value.is_object()) throw Error(what + ": 'dims' must be an object {NAME: N}");
      for (const auto& [name, n] : value.items()) b.dims.emplace_back(name, positive(n, "dims." + name));
    } else {
      throw Error(what + ": unknown key '" + key + "' (expected batch, seq, dims)");
    }
  }
  return b;
}

}  // namespace allot
