#include "graph/json_io.h"

#include <cmath>
#include <set>
#include <vector>

namespace allot {

nlohmann::json ParseJsonText(const std::string& text, const std::string& source) {
  // One set of keys per object being parsed, innermost last.
  std::vector<std::set<std::string>> keys;
  const nlohmann::json::parser_callback_t check = [&](int, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case nlohmann::json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case nlohmann::json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second)
          throw Error(source + ": key " + Quote(parsed.get<std::string>()) + " appears twice in one object");
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, check);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    throw Error(source + ": not valid JSON: " + what.substr(0, std::min<size_t>(160, what.find('\n'))));
  }
}

namespace {

// The field, or null where it is absent; an Error where `j` is no object.
// Field `key` of object `j`; nullptr when it is missing and the caller has a fallback, an Error when it has none.
const nlohmann::json* Field(const nlohmann::json& j, const char* key, const std::string& where, bool has_fallback,
                            const char* kind = "") {
  if (!j.is_object()) throw Error(where + " must be a JSON object");
  const auto it = j.find(key);
  if (it != j.end()) return &*it;
  if (has_fallback) return nullptr;
  throw Error(where + ": missing " + kind + "field '" + key + "'");
}

}  // namespace

std::string JsonString(const nlohmann::json& j, const char* key, const std::string& where,
                       std::optional<std::string> fallback, size_t max_chars) {
  const nlohmann::json* f = Field(j, key, where, fallback.has_value(), "string ");
  if (!f) return *fallback;
  if (!f->is_string()) throw Error(where + ": field '" + key + "' must be a string, not " + f->type_name());
  const std::string& s = f->get_ref<const std::string&>();
  if (s.size() > max_chars)
    throw Error(where + ": field '" + key + "' is " + std::to_string(s.size()) + " characters long (at most " +
                std::to_string(max_chars) + ")");
  return s;
}

double JsonNumber(const nlohmann::json& j, const char* key, const std::string& where, std::optional<double> fallback) {
  const nlohmann::json* f = Field(j, key, where, fallback.has_value());
  if (!f) return *fallback;
  if (!f->is_number()) throw Error(where + ": field '" + key + "' must be a number, not " + f->type_name());
  const double v = f->get<double>();
  if (!std::isfinite(v)) throw Error(where + ": field '" + key + "' must be finite");
  return v;
}

double JsonPositive(const nlohmann::json& j, const char* key, const std::string& where, std::optional<double> fallback) {
  const double v = JsonNumber(j, key, where, fallback);
  if (!(v > 0)) throw Error(where + ": field '" + key + "' is " + nlohmann::json(v).dump() + "; it must be positive");
  return v;
}

double JsonNonNegative(const nlohmann::json& j, const char* key, const std::string& where,
                       std::optional<double> fallback) {
  const double v = JsonNumber(j, key, where, fallback);
  if (v < 0) throw Error(where + ": field '" + key + "' is " + nlohmann::json(v).dump() + "; it must not be negative");
  return v;
}

int64_t JsonInteger(const nlohmann::json& j, const char* key, const std::string& where, int64_t lo, int64_t hi,
                    std::optional<int64_t> fallback) {
  const nlohmann::json* f = Field(j, key, where, fallback.has_value());
  if (!f) return *fallback;
  if (!f->is_number_integer()) throw Error(where + ": field '" + key + "' must be an integer, not " + f->type_name());
  // nlohmann keeps non-negative integers unsigned (up to 2^64 - 1): compare those as unsigned, without overflow.
  bool in_range;
  if (f->is_number_unsigned()) {
    const uint64_t u = f->get<uint64_t>();
    in_range = hi >= 0 && u <= static_cast<uint64_t>(hi) && (lo <= 0 || u >= static_cast<uint64_t>(lo));
  } else {
    const int64_t v = f->get<int64_t>();
    in_range = v >= lo && v <= hi;
  }
  if (!in_range)
    throw Error(where + ": field '" + key + "' is " + Quote(f->dump(), 24) + "; it must be an integer from " +
                std::to_string(lo) + " to " + std::to_string(hi));
  return f->is_number_unsigned() ? static_cast<int64_t>(f->get<uint64_t>()) : f->get<int64_t>();
}

bool JsonBool(const nlohmann::json& j, const char* key, const std::string& where, std::optional<bool> fallback) {
  const nlohmann::json* f = Field(j, key, where, fallback.has_value());
  if (!f) return *fallback;
  if (!f->is_boolean()) throw Error(where + ": field '" + key + "' must be true or false, not " + f->type_name());
  return f->get<bool>();
}

void AppendDistinctField(nlohmann::ordered_json& object, std::string key, nlohmann::ordered_json value) {
  if (object.is_null()) object = nlohmann::ordered_json::object();
  object.get_ref<nlohmann::ordered_json::object_t&>().emplace_back(std::move(key), std::move(value));
}

}  // namespace allot
