#pragma once
// What a placement file (or an annotated model) says it was made for — cluster, mode, optimizer and dim bindings
// (cost_model/placement.h, PlacementContext) — stands in for the options a command that reads it does not give,
// so `allot simulate M --placement P.json` of a training placement needs no --mode training. A value given both
// ways and differently is an Error naming both.
#include <string>

#include "tools/model_loader.h"

namespace CLI {
class Option;
}

namespace allot::tools {

// Fills `model` (and `cluster`, unless cluster_option was given; may be null) from the placement file at `path`.
void TakePlacementContext(const std::string& path, ModelArgs& model, std::string* cluster = nullptr,
                          const CLI::Option* cluster_option = nullptr);

}  // namespace allot::tools
