#pragma once
// Typed, documented placer options, parsed from the MLIR-style spec "metis:seed=1,imbalance=1.05". Each placer
// declares its options (name, type, default, help) once; `allot placers` prints them, the parser rejects unknown
// names and ill-typed values with one line naming the option, and placement files record the values used.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace allot {

struct OptionSpec {
  enum class Type : uint8_t { kInt, kDouble, kBool, kString };
  std::string name;
  Type type = Type::kInt;
  std::string default_value;
  std::string help;
  // Numbers outside [min, max] are refused naming the option: no option of allot's takes a negative value, and
  // none an integer past 2^31 (a step count, size or seed that large is a typo, and products of them overflow).
  double min = 0;
  double max = 2147483647;
};

class OptionValues {
 public:
  OptionValues() = default;
  // Applies "k=v,k=v" over the specs' defaults; throws Error naming the placer and the option.
  OptionValues(const std::string& placer, const std::vector<OptionSpec>& specs, const std::string& assignments);

  int64_t Int(const std::string& name) const;
  double Double(const std::string& name) const;
  bool Bool(const std::string& name) const;
  const std::string& String(const std::string& name) const;
  // Sets a value programmatically (e.g. the CLI's --seed), validated like the parser does.
  void Set(const std::string& name, const std::string& value);
  bool Has(const std::string& name) const { return values_.count(name) != 0; }

  std::string ToJson() const;  // {"seed": 1, "imbalance": 1.05, ...}
  std::string ToSpec() const;  // "seed=1,imbalance=1.05"

 private:
  const OptionSpec& SpecOf(const std::string& name) const;
  std::string placer_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace allot
