// The `allot compare` report (tools/report.h): Markdown rows, HTML well-formedness and escaping, speedups, and the
// Gantt chart's cap on drawn rectangles.
//
// tools/ builds only the `allot` executable and allot_tests links the core libraries alone, so the report's two
// sources are compiled into this test directly (define ALLOT_TOOLS_REPORT_LINKED if a build links them instead).
#ifndef ALLOT_TOOLS_REPORT_LINKED
#include "tools/format.cc"
#include "tools/report.cc"
#endif

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tools/report.h"

namespace allot::tools {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

CompareRow Row(const std::string& placer, double step, const std::string& error = "", bool placed = true) {
  CompareRow r;
  r.placer = placer;
  r.placer_name = placer.substr(0, placer.find(':'));
  r.placed = placed;
  r.step_time = placed ? step : 0;
  r.seconds = 0.01;
  if (placed) r.peak_memory = {0, uint64_t(1) << 30, uint64_t(2) << 30};
  r.error = error;
  return r;
}

// Two models: on the first, single takes 40 ms, metis 10 ms, etf 20 ms, sct fails, random is invalid; on the
// second, single is out of memory.
CompareReport HandMadeReport() {
  CompareReport r;
  r.command_line = "allot compare --models 'gen:nmt,layers=2;x.onnx' --cluster p100x2 -o out";
  r.date = "2024-01-02 03:04:05 UTC";
  r.cluster = "p100x2";
  r.devices = {"cpu:0", "cuda:0", "cuda:1"};
  r.mode = "training";
  r.order = "fifo";
  r.runs_done = r.runs_total = 8;

  CompareModel a;
  a.spec = "gen:nmt,layers=2";
  a.nodes = 1234;
  a.lower_bound = 0.005;
  a.critical_path = 0.005;
  a.work = 0.004;
  a.rows.push_back(Row("single", 0.040));
  a.rows.push_back(Row("metis", 0.010));
  a.rows.push_back(Row("etf", 0.020));
  a.rows.push_back(Row("sct", 0, "sct: no <solution> & no luck", /*placed=*/false));
  a.rows.push_back(Row("random", 0.005, "placer 'random' produced a placement that does not fit: cuda:0 needs more"));
  a.best_placer = "metis";
  a.best_schedule.title = "metis, 10 ms";
  a.best_schedule.lanes = {"cuda:0", "cuda:1", "pcie0-up"};
  a.best_schedule.span = 0.010;
  a.best_schedule.bars.push_back({0, 0.0, 0.004, GanttKind::kForward, "enc/<matmul>&1"});
  a.best_schedule.bars.push_back({1, 0.004, 0.009, GanttKind::kGradient, "grad \"x\""});
  a.best_schedule.bars.push_back({2, 0.003, 0.004, GanttKind::kTransfer, "t0"});
  r.models.push_back(a);

  CompareModel b;
  b.spec = "x.onnx";
  b.nodes = 10;
  b.lower_bound = 0.001;
  b.rows.push_back(Row("single", 0.009, "placer 'single' produced a placement that does not fit: oom"));
  b.rows.push_back(Row("metis", 0.003));
  b.rows.push_back(Row("refine:from=metis", 0.002));
  r.models.push_back(b);
  return r;
}

TEST(ReportTest, SpeedupOverSingle) {
  const CompareReport r = HandMadeReport();
  const CompareModel& a = r.models[0];
  ASSERT_TRUE(SingleStepTime(a).has_value());
  EXPECT_DOUBLE_EQ(*SingleStepTime(a), 0.040);
  EXPECT_DOUBLE_EQ(*Speedup(a, a.rows[0]), 1.0);
  EXPECT_DOUBLE_EQ(*Speedup(a, a.rows[1]), 4.0);
  EXPECT_DOUBLE_EQ(*Speedup(a, a.rows[2]), 2.0);
  EXPECT_FALSE(Speedup(a, a.rows[3]).has_value());  // failed
  EXPECT_FALSE(Speedup(a, a.rows[4]).has_value());  // invalid
  EXPECT_EQ(BestRow(a), std::optional<size_t>(1));  // the invalid 5 ms placement is not the best

  const CompareModel& b = r.models[1];
  EXPECT_FALSE(SingleStepTime(b).has_value());  // single ran out of memory
  EXPECT_FALSE(Speedup(b, b.rows[1]).has_value());
  EXPECT_EQ(BestRow(b), std::optional<size_t>(2));

  // Without a `single` row, the baseline run counts.
  CompareModel c = b;
  c.rows.erase(c.rows.begin());
  c.baseline_single = 0.006;
  EXPECT_DOUBLE_EQ(*Speedup(c, c.rows[0]), 2.0);
  c.baseline_single = 0;
  EXPECT_FALSE(Speedup(c, c.rows[0]).has_value());
}

TEST(ReportTest, MarkdownHasOneRowPerModelAndPlacer) {
  const CompareReport r = HandMadeReport();
  const std::string md = ReportMarkdown(r);
  EXPECT_NE(md.find(r.command_line), std::string::npos);
  EXPECT_NE(md.find("p100x2"), std::string::npos);
  EXPECT_NE(md.find("training"), std::string::npos);
  EXPECT_NE(md.find("2024-01-02 03:04:05 UTC"), std::string::npos);

  const std::string tables = MarkdownTables(r);
  // Every table line starts with "| "; per model a header and the rows (the separator starts with "|---").
  EXPECT_EQ(Count(tables, "\n| "), 2u + 8u);
  EXPECT_EQ(tables.rfind("## ", 0), 0u);
  EXPECT_EQ(Count(tables, "\n|---"), 2u);
  size_t rows = 0;
  for (const char* placer : {"single", "metis", "etf", "sct", "random", "refine:from=metis"})
    rows += Count(tables, "\n| " + std::string(placer) + " ");
  EXPECT_EQ(rows, 8u);

  // The failing placer is a row with its error; the invalid one says so.
  EXPECT_NE(tables.find("| sct | - | - | - | 10.00 ms | - | - | error: sct: no <solution> & no luck |"),
            std::string::npos)
      << tables;
  EXPECT_NE(tables.find("invalid: placer 'random' produced"), std::string::npos);
  // Speedups: 4x for metis on the first model; n/a on the second, where single failed.
  EXPECT_NE(tables.find("| metis **(best)** | 10.00 ms | 4.00x | 2.00x |"), std::string::npos) << tables;
  EXPECT_NE(tables.find("| etf | 20.00 ms | 2.00x | 4.00x |"), std::string::npos) << tables;
  EXPECT_NE(tables.find("| metis | 3.00 ms | n/a | 3.00x |"), std::string::npos) << tables;
  // Peak memory: the max and the per-device list.
  EXPECT_NE(tables.find("| 2.00 GiB | 0 B / 1.00 GiB / 2.00 GiB |"), std::string::npos) << tables;
}

TEST(ReportTest, HtmlIsSelfContainedAndEscaped) {
  const CompareReport r = HandMadeReport();
  const std::string html = ReportHtml(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  // Charts: a bar chart per model and a Gantt chart for the first (the second has no schedule).
  EXPECT_EQ(Count(html, "<svg"), 3u);
  EXPECT_EQ(Count(html, "</svg>"), 3u);
  // No external resources.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Node names and errors are escaped.
  EXPECT_EQ(html.find("enc/<matmul>&1"), std::string::npos);
  EXPECT_NE(html.find("enc/&lt;matmul&gt;&amp;1"), std::string::npos);
  EXPECT_EQ(html.find("<solution>"), std::string::npos);
  EXPECT_NE(html.find("no &lt;solution&gt; &amp; no luck"), std::string::npos);
  EXPECT_NE(html.find("grad &quot;x&quot;"), std::string::npos);
  // The command line (with its quotes) is shown, escaped.
  EXPECT_NE(html.find("--models &#39;gen:nmt,layers=2;x.onnx&#39;"), std::string::npos);
  // Every '<' opens a tag or a comment: no stray text '<' (a cheap well-formedness check).
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    const char next = html[at + 1];
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!')
        << html.substr(at, 40);
  }
  // Every row is in the HTML table.
  EXPECT_EQ(Count(html, "<tr><td>") + Count(html, "<tr class=\"best\"><td>"), 8u);
}

TEST(ReportTest, GanttCapsTheNumberOfRectangles) {
  GanttChart chart;
  chart.lanes = {"cuda:0", "cuda:1", "cuda:2", "cuda:3"};
  const size_t n = 20000;
  double t = 0;
  for (size_t i = 0; i < n; ++i) {
    // Mostly tiny ops, with a long one now and then.
    const double d = i % 500 == 0 ? 1e-3 : 1e-6;
    chart.bars.push_back({uint32_t(i % 4), t, t + d, static_cast<GanttKind>(i % 3), "op<" + std::to_string(i) + ">"});
    if (i % 4 == 3) t += d;
  }
  chart.span = t;
  HtmlOptions options;
  options.max_gantt_rects = 1000;
  size_t drawn = 0;
  const std::string svg = GanttSvg(chart, options, &drawn);
  EXPECT_LE(drawn, 1000u);
  EXPECT_GT(drawn, 10u);
  EXPECT_EQ(Count(svg, "<svg"), 1u);
  EXPECT_LT(svg.size(), 400u * 1000);
  EXPECT_EQ(svg.find("op<"), std::string::npos);  // names escaped in the tooltips

  // A small chart draws every op on its own.
  GanttChart small;
  small.lanes = {"cuda:0"};
  small.span = 1;
  for (int i = 0; i < 10; ++i) small.bars.push_back({0, i * 0.1, i * 0.1 + 0.05, GanttKind::kForward, "n"});
  GanttSvg(small, HtmlOptions{}, &drawn);
  EXPECT_EQ(drawn, 10u);
}

TEST(ReportTest, JsonHasEveryRow) {
  const CompareReport r = HandMadeReport();
  const nlohmann::json j = nlohmann::json::parse(ReportJson(r));
  ASSERT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][0]["rows"].size(), 5u);
  EXPECT_EQ(j["models"][1]["rows"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["models"][0]["rows"][1]["speedup"].get<double>(), 4.0);
  EXPECT_TRUE(j["models"][1]["rows"][1]["speedup"].is_null());
  EXPECT_EQ(j["models"][0]["rows"][3]["error"], "sct: no <solution> & no luck");
  EXPECT_FALSE(j["models"][0]["rows"][4]["valid"].get<bool>());
  EXPECT_EQ(j["models"][0]["best"], "metis");
  EXPECT_EQ(j["mode"], "training");
  EXPECT_EQ(j["status"], "complete");
}

}  // namespace
}  // namespace allot::tools

namespace allot::tools {
namespace {

TEST(ReportTest, SearchCurvesChartOneLinePerSearchingPlacer) {
  CompareReport r = HandMadeReport();
  CompareModel& m = r.models[0];
  EXPECT_EQ(SearchCurvesSvg(m), "");  // no placer searched: no chart
  m.rows[1].search = {{16, INFINITY, 0.1}, {32, 0.012, 0.2}, {48, 0.010, 0.3}};
  m.rows[2].search = {{16, 0.030, 0.1}, {32, 0.020, 0.2}};
  const std::string svg = SearchCurvesSvg(m);
  EXPECT_EQ(Count(svg, "<polyline"), 2u);
  EXPECT_NE(svg.find("placements evaluated"), std::string::npos);
  // The point before any valid placement is left out of the line: metis's line has two points.
  const size_t metis = svg.find("<polyline");
  const std::string points = svg.substr(metis, svg.find("</polyline>", metis) - metis);
  EXPECT_EQ(Count(points, ","), 2u);
  const std::string html = ReportHtml(r);
  EXPECT_NE(html.find("Search: best step time against placements evaluated"), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(ReportJson(r));
  const nlohmann::json& curve = j["models"][0]["rows"][1]["search"];
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_TRUE(curve[0]["best_step_time"].is_null());
  EXPECT_EQ(curve[2]["placements"], 48);
  EXPECT_FALSE(j["models"][0]["rows"][0].contains("search"));
}

}  // namespace
}  // namespace allot::tools
