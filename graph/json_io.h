#pragma once
// JSON at allot's file boundaries (cluster specs, placements, profiles, cost graphs): a parse error becomes one
// Error line naming the source.
#include <nlohmann/json.hpp>
#include <string>

#include "graph/error.h"

namespace allot {

inline nlohmann::json ParseJsonText(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    throw Error(source + ": not valid JSON: " + what.substr(0, std::min<size_t>(160, what.find('\n'))));
  }
}

}  // namespace allot
