#pragma once
// The `allot compare` report: plain data (one row per model and placer, and the best placement's schedule) in,
// Markdown, self-contained HTML (inline CSS and SVG, no external resources) and JSON out. Everything here is a
// pure function of its arguments, so tests build rows by hand.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/simulator.h"
#include "graph/graph.h"
#include "placers/placer.h"

namespace allot::tools {

// One placer run on one model.
struct CompareRow {
  std::string placer;       // the spec as given ("refine:from=metis")
  std::string placer_name;  // the registry name ("refine")
  std::string options;      // resolved options, "k=v,..." (empty when the spec did not parse)
  bool placed = false;      // the placer returned a placement: step_time, peak_memory etc. are set
  double step_time = 0;     // seconds (simulated)
  double seconds = 0;       // placement time
  bool from_file = false;   // a placement file's row (compare --placements): no placement time
  std::vector<uint64_t> peak_memory;  // per device, bytes
  std::string error;        // empty: a valid placement; else the placer's error or why the placement is invalid
  std::vector<SearchPoint> search;  // a searching placer's progress (Placer::search_curve); empty for the others
  bool ok() const { return placed && error.empty(); }
};

// A Gantt chart: lanes (devices, then links) and the intervals drawn on them.
enum class GanttKind : uint8_t { kForward = 0, kGradient = 1, kUpdate = 2, kTransfer = 3 };
struct GanttBar {
  uint32_t lane = 0;
  double start = 0, end = 0;  // seconds
  GanttKind kind = GanttKind::kForward;
  std::string label;  // node or tensor name (the tooltip)
};
struct GanttChart {
  std::string title;               // e.g. "metis: 12.3 ms"
  std::vector<std::string> lanes;  // lane names, top to bottom
  std::vector<GanttBar> bars;
  double span = 0;  // seconds: the x axis runs from 0 to span
  bool empty() const { return bars.empty(); }
};

// The chart of a recorded schedule (SimOptions::record_schedule): one lane per device, then one per link that
// carried a transfer (a transfer is drawn on every link of its route) when `with_links`.
GanttChart MakeGanttChart(const Graph& graph, const Cluster& cluster, const SimResult& schedule,
                          bool with_links = true);

// Every placer on one model.
struct CompareModel {
  std::string spec;   // model spec as given (a path or gen:SPEC)
  std::string error;  // the model failed to load (its rows carry the error too)
  size_t nodes = 0;
  double lower_bound = 0;  // seconds: max(critical_path, work)
  double critical_path = 0, work = 0;
  // The step time of `single` when no row is the `single` placer (compare runs it as a baseline then); 0: unknown.
  double baseline_single = 0;
  std::vector<CompareRow> rows;
  GanttChart best_schedule;  // the best valid placement's schedule; empty when none
  std::string best_placer;   // its spec
};

struct CompareReport {
  std::string command_line;
  std::string date;  // "2024-05-01 12:00:00 UTC"
  std::string cluster;
  std::vector<std::string> devices;  // device names, in the order of CompareRow::peak_memory
  std::string mode;                  // inference | training
  std::string order;                 // fifo | critical-path
  int64_t seed = -1;                 // -1: each placer's default
  int64_t batch = 0;                 // 0: the model's own
  std::vector<CompareModel> models;
  size_t runs_done = 0, runs_total = 0;
  bool interrupted = false;  // stopped by Ctrl-C: the report covers runs_done of runs_total
  bool finished = true;      // false while compare is still running (a report written between models)
};

// The step time `single` gives on this model: a valid `single` row's (the first), else baseline_single when no row
// is `single`. nullopt when single failed, is invalid or was not run.
std::optional<double> SingleStepTime(const CompareModel& model);
// single's step time over the row's: nullopt when single's is unknown or the row has no valid placement.
std::optional<double> Speedup(const CompareModel& model, const CompareRow& row);
// The index of the valid row with the least step time (the first on ties); nullopt when no row is valid.
std::optional<size_t> BestRow(const CompareModel& model);

// The per-model Markdown tables (what compare prints to stdout).
std::string MarkdownTables(const CompareReport& report);
// report.md: a header (command line, cluster, mode, date) and the tables.
std::string ReportMarkdown(const CompareReport& report);

struct HtmlOptions {
  size_t max_gantt_rects = 3000;  // per Gantt chart: sub-pixel ops are merged until at most this many remain
  double gantt_width = 960;       // pixels of the time axis
};
// report.html: one document with inline CSS, per model a table, a bar chart, the learned placers' search curves
// and the best schedule's Gantt chart.
std::string ReportHtml(const CompareReport& report, const HtmlOptions& options = {});
// results.json: every row, machine-readable.
std::string ReportJson(const CompareReport& report);

// Pieces, exposed for tests.
std::string HtmlEscape(std::string_view text);  // & < > " '
std::string StepTimeBarsSvg(const CompareModel& model);
// Best step time so far against placements evaluated, one line per row with a search curve; "" when none has one.
std::string SearchCurvesSvg(const CompareModel& model);
// `drawn` (optional) receives the number of rectangles drawn for bars.
std::string GanttSvg(const GanttChart& chart, const HtmlOptions& options = {}, size_t* drawn = nullptr);

}  // namespace allot::tools
