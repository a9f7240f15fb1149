#include "tools/cluster_args.h"

#include <CLI/CLI.hpp>

namespace allot::tools {

void AddClusterOptions(CLI::App& app, ClusterArgs& args) {
  args.cluster_option = app.add_option("--cluster", args.cluster, "preset (see `allot clusters`) or a cluster JSON file");
  app.add_option("--profile", args.profile, "measured op times and links (from `allot profile`)");
}

CostedModel LoadCostedModel(const ModelArgs& model, const ClusterArgs& cluster) {
  LoadedModel loaded = LoadModel(model);
  return AttachCosts(std::move(loaded), LoadCluster(cluster.cluster), cluster.profile);
}

CostedModel AttachCosts(LoadedModel model, Cluster cluster, const std::string& profile) {
  CostedModel m;
  m.model = std::move(model);
  m.cluster = std::move(cluster);
  if (!profile.empty()) {
    m.profile = std::make_unique<Profile>(Profile::Load(profile));
    ApplyProfiledLinks(*m.profile, m.cluster);
  }
  m.costs = ComputeCosts(m.model.graph, m.cluster, m.profile.get(), &m.model.times);
  return m;
}

}  // namespace allot::tools
