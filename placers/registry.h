#pragma once
// The placer registry: one explicit table of factories (as ONNX Runtime registers kernels), so the CLI, `compare`
// and the tests enumerate placers and never hard-code the list. placers/ registers the classic placers; rl/ adds
// the learned ones to the same registry (tools/ composes both).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "placers/options.h"
#include "placers/placer.h"

namespace allot {

struct PlacerInfo {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Placer>(OptionValues)> create;
};

class PlacerRegistry {
 public:
  // Throws Error on a duplicate name (a programming error, caught by the registry test).
  void Register(PlacerInfo info);
  const std::vector<PlacerInfo>& List() const { return placers_; }
  const PlacerInfo* Find(const std::string& name) const;
  // "name" or "name:key=value,..."; throws Error for an unknown placer or bad options.
  std::unique_ptr<Placer> Create(const std::string& spec) const;
  // Parses a spec's options without creating the placer.
  OptionValues ParseOptions(const std::string& spec) const;

 private:
  std::vector<PlacerInfo> placers_;
};

// The classic placers: single, cpu, expert, metis, etf, sct, topo, refine, random.
void RegisterClassicPlacers(PlacerRegistry& registry);

}  // namespace allot
