#include "placers/registry.h"

#include "graph/error.h"
#include "placers/classic_placers.h"

namespace allot {

void PlacerRegistry::Register(PlacerInfo info) {
  if (Find(info.name)) throw Error("placer '" + info.name + "' registered twice");
  placers_.push_back(std::move(info));
}

const PlacerInfo* PlacerRegistry::Find(const std::string& name) const {
  for (const PlacerInfo& p : placers_)
    if (p.name == name) return &p;
  return nullptr;
}

OptionValues PlacerRegistry::ParseOptions(const std::string& spec) const {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const PlacerInfo* info = Find(name);
  if (!info) {
    std::string known;
    for (const PlacerInfo& p : placers_) known += (known.empty() ? "" : ", ") + p.name;
    throw Error("unknown placer '" + name + "' (placers: " + known + ")");
  }
  return OptionValues(name, info->options, colon == std::string::npos ? "" : spec.substr(colon + 1));
}

std::unique_ptr<Placer> PlacerRegistry::Create(const std::string& spec) const {
  OptionValues options = ParseOptions(spec);
  return Find(spec.substr(0, spec.find(':')))->create(std::move(options));
}

void RegisterClassicPlacers(PlacerRegistry& r) {
  // The explicit table: every classic placer, in the order `allot placers` lists them.
  r.Register(SinglePlacerInfo());
  r.Register(CpuPlacerInfo());
  r.Register(RandomPlacerInfo());
  r.Register(ExpertPlacerInfo());
  r.Register(MetisPlacerInfo());
  r.Register(EtfPlacerInfo());
  r.Register(SctPlacerInfo());
  r.Register(TopoPlacerInfo());
  r.Register(RefinePlacerInfo());
}

}  // namespace allot
