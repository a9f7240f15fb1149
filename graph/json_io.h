#pragma once
// JSON at allot's file boundaries (cluster specs, placements, profiles, cost graphs): a syntax error, a duplicate
// key, a missing field or one of the wrong type becomes one Error line naming the source and the field, with any
// value it quotes cut to a readable length.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "graph/error.h"

namespace allot {

// Parses `text`; an object that repeats a key is an Error (nlohmann keeps the last one silently).
nlohmann::json ParseJsonText(const std::string& text, const std::string& source);

// Field `key` of object `j`. `where` names the object ("c.json: devices[0]"). A missing field takes `fallback`
// where one is given, else is an Error; so is a field of another type.
std::string JsonString(const nlohmann::json& j, const char* key, const std::string& where,
                       std::optional<std::string> fallback = std::nullopt, size_t max_chars = 256);
double JsonNumber(const nlohmann::json& j, const char* key, const std::string& where,
                  std::optional<double> fallback = std::nullopt);
// The same number, which must be finite and > 0 (rates, sizes a division uses) or >= 0.
double JsonPositive(const nlohmann::json& j, const char* key, const std::string& where,
                    std::optional<double> fallback = std::nullopt);
double JsonNonNegative(const nlohmann::json& j, const char* key, const std::string& where,
                       std::optional<double> fallback = std::nullopt);
// An integer in [lo, hi] (sizes a network or a loop is built from).
int64_t JsonInteger(const nlohmann::json& j, const char* key, const std::string& where, int64_t lo, int64_t hi,
                    std::optional<int64_t> fallback = std::nullopt);
// A boolean.
bool JsonBool(const nlohmann::json& j, const char* key, const std::string& where,
              std::optional<bool> fallback = std::nullopt);

// Appends `key: value` to an ordered object whose keys the caller knows to be distinct (node names). Assigning
// through ordered_json's operator[] searches the keys linearly, so a 100k-node placement file took 21 s to
// write (`allot place gen:synthetic,layers=100000 --placer single -o F`); appending is O(1).
void AppendDistinctField(nlohmann::ordered_json& object, std::string key, nlohmann::ordered_json value);

}  // namespace allot
