#pragma once
// Chrome / Perfetto trace JSON of a recorded schedule (SimOptions::record_schedule): process "devices" with a
// track per device, process "links" with a track per link; opens in chrome://tracing and ui.perfetto.dev.
#include <string>

#include "cost_model/cluster.h"
#include "cost_model/simulator.h"
#include "graph/graph.h"

namespace allot {

std::string ChromeTrace(const Graph& graph, const Cluster& cluster, const SimResult& result);

}  // namespace allot
