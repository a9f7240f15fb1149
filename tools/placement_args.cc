#include "tools/placement_args.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <sstream>

#include "cost_model/cluster.h"
#include "cost_model/placement.h"
#include "graph/error.h"

namespace allot::tools {
namespace {

namespace fs = std::filesystem;

bool Given(const CLI::Option* option) { return option && option->count() > 0; }

// The placement file's "cluster" field as something LoadCluster takes: a preset, a path as written, or a path
// relative to the placement file. (`allot place` records a JSON spec's "name", which may be neither.)
std::string ResolveCluster(const std::string& field, const std::string& placement_path) {
  try {
    MakePreset(field);  // the listed presets and the cpuN family
    return field;
  } catch (const Error&) {
  }
  std::error_code ec;
  if (fs::is_regular_file(field, ec)) return field;
  const fs::path relative = fs::path(placement_path).parent_path() / field;
  if (fs::is_regular_file(relative, ec)) return relative.string();
  throw Error(placement_path + ": field 'cluster' is '" + field +
              "', which is neither a preset (see `allot clusters`) nor a cluster file; pass --cluster");
}

// Takes `from_file` into `value` when the option was not given; refuses a given value that differs.
template <typename T>
void Take(const std::string& path, const char* field, const std::string& option, const T& from_file, T& value,
          bool given, bool present) {
  if (!present) return;
  if (!given) {
    value = from_file;
    return;
  }
  if (value != from_file) {
    std::ostringstream file_text, option_text;
    file_text << from_file;
    option_text << value;
    throw Error(path + ": field '" + field + "' is " + file_text.str() + " but the command line gives " + option +
                " " + option_text.str() + "; drop the option, or use a placement made for it");
  }
}

}  // namespace

void TakePlacementContext(const std::string& path, ModelArgs& model, std::string* cluster,
                          const CLI::Option* cluster_option) {
  const PlacementContext c = ReadPlacementContext(path);
  if (cluster && !c.cluster.empty() && !Given(cluster_option)) *cluster = ResolveCluster(c.cluster, path);
  Take(path, "mode", "--mode", c.mode, model.mode, Given(model.mode_option), !c.mode.empty());
  Take(path, "optimizer", "--optimizer", c.optimizer, model.optimizer, Given(model.optimizer_option),
       !c.optimizer.empty() && model.mode == "training");
  Take(path, "bindings.batch", "--batch", c.bindings.batch, model.batch, Given(model.batch_option),
       c.bindings.batch > 0);
  Take(path, "bindings.seq", "--seq", c.bindings.seq, model.seq, Given(model.seq_option), c.bindings.seq > 0);
  // --dim: the file's bindings, each unless the command line binds the same name (to the same size).
  const DimBindings given = ParseBindings(model);
  std::map<std::string, int64_t> by_name(given.dims.begin(), given.dims.end());
  for (const auto& [name, size] : c.bindings.dims) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      model.dims.push_back(name + "=" + std::to_string(size));
    } else if (it->second != size) {
      throw Error(path + ": field 'bindings.dims." + name + "' is " + std::to_string(size) +
                  " but the command line gives --dim " + name + "=" + std::to_string(it->second) +
                  "; drop the option, or use a placement made for it");
    }
  }
}

}  // namespace allot::tools
