#include "placers/options.h"

#include <nlohmann/json.hpp>
#include <iomanip>
#include <sstream>

#include "graph/error.h"

namespace allot {
namespace {

void Validate(const std::string& placer, const OptionSpec& spec, const std::string& value) {
  const std::string where = "placer '" + placer + "': option '" + spec.name + "'";
  try {
    size_t used = 0;
    switch (spec.type) {
      case OptionSpec::Type::kInt:
      case OptionSpec::Type::kDouble: {
        const double number = spec.type == OptionSpec::Type::kInt ? static_cast<double>(std::stoll(value, &used))
                                                                  : std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        if (!(number >= spec.min && number <= spec.max)) {
          std::ostringstream range;
          range << std::setprecision(10) << spec.min << " to " << spec.max;
          throw Error(where + " must be " + range.str() + ", got '" + value + "'");
        }
        return;
      }
      case OptionSpec::Type::kBool:
        if (value != "0" && value != "1" && value != "true" && value != "false") throw std::invalid_argument(value);
        return;
      case OptionSpec::Type::kString: return;
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    static const char* names[] = {"an integer", "a number", "0/1/true/false", "a string"};
    throw Error(where + " must be " + names[static_cast<int>(spec.type)] + ", got '" + value + "'");
  }
}

}  // namespace

OptionValues::OptionValues(const std::string& placer, const std::vector<OptionSpec>& specs,
                           const std::string& assignments)
    : placer_(placer), specs_(specs) {
  for (const OptionSpec& s : specs_) values_[s.name] = s.default_value;
  size_t pos = 0;
  while (pos < assignments.size()) {
    size_t comma = assignments.find(',', pos);
    if (comma == std::string::npos) comma = assignments.size();
    const std::string item = assignments.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw Error("placer '" + placer + "': expected key=value, got '" + item + "'");
    Set(item.substr(0, eq), item.substr(eq + 1));
  }
}

const OptionSpec& OptionValues::SpecOf(const std::string& name) const {
  for (const OptionSpec& s : specs_)
    if (s.name == name) return s;
  std::string known;
  for (const OptionSpec& s : specs_) known += (known.empty() ? "" : ", ") + s.name;
  throw Error("placer '" + placer_ + "' has no option '" + name + "' (options: " + (known.empty() ? "none" : known) + ")");
}

void OptionValues::Set(const std::string& name, const std::string& value) {
  Validate(placer_, SpecOf(name), value);
  values_[name] = value;
}

int64_t OptionValues::Int(const std::string& name) const { return std::stoll(values_.at(SpecOf(name).name)); }
double OptionValues::Double(const std::string& name) const { return std::stod(values_.at(SpecOf(name).name)); }
bool OptionValues::Bool(const std::string& name) const {
  const std::string& v = values_.at(SpecOf(name).name);
  return v == "1" || v == "true";
}
const std::string& OptionValues::String(const std::string& name) const { return values_.at(SpecOf(name).name); }

std::string OptionValues::ToJson() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const OptionSpec& s : specs_) {
    const std::string& v = values_.at(s.name);
    switch (s.type) {
      case OptionSpec::Type::kInt: j[s.name] = std::stoll(v); break;
      case OptionSpec::Type::kDouble: j[s.name] = std::stod(v); break;
      case OptionSpec::Type::kBool: j[s.name] = v == "1" || v == "true"; break;
      case OptionSpec::Type::kString: j[s.name] = v; break;
    }
  }
  return j.dump();
}

std::string OptionValues::ToSpec() const {
  std::string out;
  for (const OptionSpec& s : specs_) out += (out.empty() ? "" : ",") + s.name + "=" + values_.at(s.name);
  return out;
}

}  // namespace allot
