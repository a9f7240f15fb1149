#include "tools/place_run.h"

#include <chrono>

#include "cost_model/placement.h"
#include "graph/error.h"
#include "placers/placer.h"
#include "tools/all_placers.h"

namespace allot::tools {

PlacementProblem MakeProblem(const CostedModel& m) {
  try {
    return PlacementProblem::Make(m.model.graph, m.cluster, m.costs, &m.model.constraints);
  } catch (const Error& e) {
    throw Error(m.model.source + ": " + e.what());
  }
}

namespace {

// Simulates a run's placement; an invalid one becomes the run's error.
void Score(const CostedModel& m, DispatchOrder order, PlaceRun& run) {
  Simulator sim(m.model.graph, m.cluster, m.costs, SimOptions{order, false});
  run.result = sim.Run(run.placement);
  if (!run.result.valid)
    run.error = "placer '" + run.placer + "' produced a placement that does not fit: " + run.result.error;
}

}  // namespace

PlaceRun ScorePlacementFile(const CostedModel& m, const std::string& path, DispatchOrder order) {
  PlaceRun run;
  run.lower_bound = ComputeLowerBound(m.model.graph, m.costs);
  try {
    run.placer = ReadPlacementContext(path).placer;
    if (run.placer.empty()) run.placer = "file";
    run.placement = ReadPlacementFile(path, m.model.graph, m.cluster);
    MakeProblem(m).Legalize(run.placement);
  } catch (const Error& e) {
    run.error = e.what();
    return run;
  }
  Score(m, order, run);
  return run;
}

PlaceRun RunPlacer(const CostedModel& m, const std::string& spec, int64_t seed, DispatchOrder order) {
  PlaceRun run;
  run.placer = spec.substr(0, spec.find(':'));
  run.lower_bound = ComputeLowerBound(m.model.graph, m.costs);
  try {
    PlacementProblem problem = MakeProblem(m);
    problem.order = order;
    OptionValues options = AllPlacers().ParseOptions(spec);
    if (seed >= 0 && options.Has("seed")) options.Set("seed", std::to_string(seed));
    run.options_spec = options.ToSpec();
    run.options_json = options.ToJson();
    std::unique_ptr<Placer> placer = AllPlacers().Find(run.placer)->create(options);
    const auto t0 = std::chrono::steady_clock::now();
    run.placement = placer->place(problem);
    run.search = placer->search_curve();
    problem.Legalize(run.placement);  // a placer that does not search within allowed devices is corrected here
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } catch (const Error& e) {
    run.error = e.what();
    return run;
  }
  Score(m, order, run);
  return run;
}

}  // namespace allot::tools
