#pragma once
// Running one placer on one costed model, timed and scored: shared by `place` and `compare`.
#include <string>
#include <vector>

#include "cost_model/bounds.h"
#include "cost_model/simulator.h"
#include "placers/placer.h"
#include "tools/cluster_args.h"

namespace allot::tools {

struct PlaceRun {
  std::string placer;        // name
  std::string options_spec;  // "seed=1,..."
  std::string options_json;
  std::vector<DeviceId> placement;
  SimResult result;
  LowerBound lower_bound;
  double seconds = 0;  // placement time
  std::string error;   // non-empty: the placer failed or produced an invalid placement
  std::vector<SearchPoint> search;  // Placer::search_curve
};

// The placement problem of a costed model, with the model's own constraints; errors name the model.
PlacementProblem MakeProblem(const CostedModel& model);

// A placement file made for this model (`allot place -o`, the Python module's write_placement), scored as a run of
// the placer it names; errors name the file.
PlaceRun ScorePlacementFile(const CostedModel& model, const std::string& path, DispatchOrder order);

// `seed` >= 0 overrides the placer's "seed" option when it has one.
PlaceRun RunPlacer(const CostedModel& model, const std::string& spec, int64_t seed, DispatchOrder order);

}  // namespace allot::tools
