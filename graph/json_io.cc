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
const nlohmann::json* Field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.is_object()) throw Error(where + " must be a JSON object");
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

}  // namespace

std::string JsonString(const nlohmann::json& j, const char* key, const std::string& where,
                       std::optional<std::string> fallback, size_t max_chars) {
  const nlohmann::json* f = Field(j, key, where);
  if (!f) {
    if (fallback) return *fallback;
    throw Error(where + ": missing string field '" + key + "'");
  }
  if (!f->is_string()) throw Error(where + ": field '" + key + "' must be a string, not " + f->type_name());
  const std::string& s = f->get_ref<const std::string&>();
  if (s.size() > max_chars)
    throw Error(where + ": field '" + key + "' is " + std::to_string(s.size()) + " characters long (at most " +
                std::to_string(max_chars) + ")");
  return s;
}

double JsonNumber(const nlohmann::json& j, const char* key, const std::string& where, std::optional<double> fallback) {
  const nlohmann::json* f = Field(j, key, where);
  if (!f) {
    if (fallback) return *fallback;
    throw Error(where + ": missing field '" + key + "'");
  }
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

}  // namespace allot
