#include "tools/spec_lists.h"

#include "tools/all_placers.h"

namespace allot::tools {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(Trim(s.substr(start, at == std::string::npos ? std::string::npos : at - start)));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

bool Contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

}  // namespace

std::vector<std::string> SplitModels(const std::string& text) {
  std::vector<std::string> out;
  if (Contains(text, ";")) {
    for (const std::string& t : Split(text, ';'))
      if (!t.empty()) out.push_back(t);
    return out;
  }
  for (const std::string& t : Split(text, ',')) {
    if (t.empty()) continue;
    const bool starts_new = out.empty() || t.rfind("gen:", 0) == 0 || Contains(t, ".onnx") ||
                            Contains(t, ".json") || out.back().rfind("gen:", 0) != 0;
    if (starts_new) out.push_back(t);
    else out.back() += "," + t;
  }
  return out;
}

std::vector<std::string> SplitPlacers(const std::string& text) {
  std::vector<std::string> tokens = Contains(text, ";") ? Split(text, ';') : Split(text, ',');
  const bool semicolons = Contains(text, ";");
  std::vector<std::string> out;
  for (const std::string& t : tokens) {
    if (t.empty()) continue;
    if (t == "all") {
      for (const PlacerInfo& p : AllPlacers().List()) out.push_back(p.name);
      continue;
    }
    if (t == "classic") {
      for (const PlacerInfo& p : ClassicPlacers().List()) out.push_back(p.name);
      continue;
    }
    if (t == "learned") {
      for (const PlacerInfo& p : LearnedPlacers().List()) out.push_back(p.name);
      continue;
    }
    const size_t eq = t.find('=');
    const bool option = !semicolons && eq != std::string::npos && t.substr(0, eq).find(':') == std::string::npos;
    if (option && !out.empty()) out.back() += (Contains(out.back(), ":") ? "," : ":") + t;
    else out.push_back(t);
  }
  return out;
}

}  // namespace allot::tools
