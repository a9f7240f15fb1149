#include "tools/cluster_args.h"

#include <CLI/CLI.hpp>

namespace allot::tools {

void AddClusterOptions(CLI::App& app, ClusterArgs& args) {
  args.cluster_option = app.add_option("--cluster", args.cluster, "preset (see `allot clusters`) or a cluster JSON file");
  app.add_option("--profile", args.profile, "measured op times and links (from `allot profile`)");
}

CostedModel LoadCostedModel(const ModelArgs& model, const ClusterArgs& cluster) {
  CostedModel m;
  m.model = LoadModel(model);
  m.cluster = LoadCluster(cluster.cluster);
  if (!cluster.profile.empty()) {
    m.profile = std::make_unique<Profile>(Profile::Load(cluster.profile));
    ApplyProfiledLinks(*m.profile, m.cluster);
  }
  m.costs = ComputeCosts(m.model.graph, m.cluster, m.profile.get(), &m.model.times);
  return m;
}

}  // namespace allot::tools
