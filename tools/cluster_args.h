#pragma once
// The --cluster and --profile options every placing and simulating command takes, and the cost set-up they imply.
#include <memory>
#include <string>

#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "cost_model/profile.h"
#include "tools/model_loader.h"

namespace CLI {
class App;
class Option;
}

namespace allot::tools {

struct ClusterArgs {
  std::string cluster = "p100x4";
  std::string profile;  // optional profile JSON
  const CLI::Option* cluster_option = nullptr;  // as added, to tell a given --cluster from the default
};
void AddClusterOptions(CLI::App& app, ClusterArgs& args);

// A model with its cluster and cost table: what placers and the simulator take.
struct CostedModel {
  LoadedModel model;
  Cluster cluster;
  std::unique_ptr<Profile> profile;
  CostTable costs;
};
CostedModel LoadCostedModel(const ModelArgs& model, const ClusterArgs& cluster);
// The same for a model already loaded, on a cluster already loaded; `profile` is a profile JSON path or "".
CostedModel AttachCosts(LoadedModel model, Cluster cluster, const std::string& profile);

}  // namespace allot::tools
