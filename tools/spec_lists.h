#pragma once
// The lists of models and placer specs that `compare` and the benchmarks take on one option.
#include <string>
#include <vector>

namespace allot::tools {

// --models: with a ';' anywhere, ';' alone separates models. Otherwise commas do, except inside a gen: spec: a
// token continues the gen: spec before it unless it starts with "gen:" or names a file (.onnx or .json).
std::vector<std::string> SplitModels(const std::string& text);

// --placers: "all" (every registered placer), "classic" (placers/ only, no learning) or specs. With a ';'
// anywhere, it alone separates specs. Otherwise commas do, except that a key=value token (no ':' before its '=')
// is one more option of the spec before it: "single,refine:from=metis,iterations=500,etf" is three specs.
std::vector<std::string> SplitPlacers(const std::string& text);

}  // namespace allot::tools
