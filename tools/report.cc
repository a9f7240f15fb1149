#include "tools/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/format.h"

namespace allot::tools {
namespace {

std::string Printf(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a);
  return buf;
}

std::string Ratio(double r) { return Printf(r >= 100 ? "%.0fx" : "%.2fx", r); }

// A coordinate with one decimal, without a trailing ".0".
std::string Px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

std::string Truncate(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return s.substr(0, cut) + "\xE2\x80\xA6";  // …
}

// A Markdown table cell: no pipes or line breaks.
std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string MdCode(const std::string& s) {
  const std::string fence = s.find('`') == std::string::npos ? "`" : "`` ";
  const std::string close = fence == "`" ? "`" : " ``";
  std::string flat;
  for (char c : s) flat += (c == '\n' || c == '\r') ? ' ' : c;
  return fence + flat + close;
}

uint64_t MaxPeak(const CompareRow& row) {
  uint64_t m = 0;
  for (uint64_t b : row.peak_memory) m = std::max(m, b);
  return m;
}

std::string PeakList(const CompareRow& row) {
  std::string s;
  for (size_t d = 0; d < row.peak_memory.size(); ++d) s += (d ? " / " : "") + FormatBytes(double(row.peak_memory[d]));
  return s;
}

// The table cells every output shares.
struct Cells {
  std::string step, speedup, lb_ratio, seconds, peak_max, peak_list, status;
};

Cells RowCells(const CompareModel& model, const CompareRow& row) {
  Cells c;
  const std::string none = "-";
  c.step = row.placed ? FormatSeconds(row.step_time) : none;
  if (!SingleStepTime(model)) c.speedup = "n/a";
  else if (auto s = Speedup(model, row)) c.speedup = Ratio(*s);
  else c.speedup = none;
  c.lb_ratio = row.placed && model.lower_bound > 0 ? Ratio(row.step_time / model.lower_bound) : none;
  c.seconds = row.from_file ? "(file)" : row.placed || row.seconds > 0 ? FormatSeconds(row.seconds) : none;
  c.peak_max = row.placed && !row.peak_memory.empty() ? FormatBytes(double(MaxPeak(row))) : none;
  c.peak_list = row.placed && !row.peak_memory.empty() ? PeakList(row) : none;
  if (row.ok()) c.status = "ok";
  else if (row.placed) c.status = "invalid: " + row.error;
  else c.status = "error: " + row.error;
  return c;
}

std::string StatusLine(const CompareReport& r) {
  if (r.interrupted)
    return "interrupted (Ctrl-C) after " + std::to_string(r.runs_done) + " of " + std::to_string(r.runs_total) +
           " runs";
  if (!r.finished) return "running: " + std::to_string(r.runs_done) + " of " + std::to_string(r.runs_total) + " runs";
  return "complete: " + std::to_string(r.runs_done) + " runs";
}

std::string ModelSummary(const CompareModel& m) {
  std::string s;
  if (m.nodes) s += std::to_string(m.nodes) + " nodes";
  if (m.lower_bound > 0)
    s += (s.empty() ? "" : ", ") + std::string("lower bound ") + FormatSeconds(m.lower_bound) + " (critical path " +
         FormatSeconds(m.critical_path) + ", work " + FormatSeconds(m.work) + ")";
  return s;
}

std::string BaselineNote(const CompareModel& m) {
  const bool has_single_row =
      std::any_of(m.rows.begin(), m.rows.end(), [](const CompareRow& r) { return r.placer_name == "single"; });
  if (has_single_row) return "";
  if (m.baseline_single > 0)
    return "speedup is over `single` run as a baseline (not in --placers): " + FormatSeconds(m.baseline_single);
  return "";
}

const char* const kKindNames[] = {"forward", "gradient", "update", "transfer"};

// ---- SVG ----

struct Tick {
  double t;
  std::string label;
};
std::vector<Tick> TimeTicks(double span, int target) {
  std::vector<Tick> ticks;
  if (!(span > 0)) return ticks;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (int i = 0; i * step <= span * (1 + 1e-9); ++i) ticks.push_back({i * step, FormatSeconds(i * step)});
  return ticks;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<double> SingleStepTime(const CompareModel& model) {
  for (const CompareRow& r : model.rows)
    if (r.placer_name == "single") {
      if (r.ok() && r.step_time > 0) return r.step_time;
      return std::nullopt;
    }
  if (model.baseline_single > 0) return model.baseline_single;
  return std::nullopt;
}

std::optional<double> Speedup(const CompareModel& model, const CompareRow& row) {
  const std::optional<double> single = SingleStepTime(model);
  if (!single || !row.ok() || !(row.step_time > 0)) return std::nullopt;
  return *single / row.step_time;
}

std::optional<size_t> BestRow(const CompareModel& model) {
  std::optional<size_t> best;
  for (size_t i = 0; i < model.rows.size(); ++i)
    if (model.rows[i].ok() && (!best || model.rows[i].step_time < model.rows[*best].step_time)) best = i;
  return best;
}

GanttChart MakeGanttChart(const Graph& graph, const Cluster& cluster, const SimResult& schedule, bool with_links) {
  GanttChart chart;
  for (const Device& d : cluster.devices()) chart.lanes.push_back(d.name);
  chart.bars.reserve(schedule.ops.size());
  double span = schedule.step_time;
  for (const ScheduledOp& op : schedule.ops) {
    const Node& n = graph.node(op.node);
    chart.bars.push_back({op.device, op.start, op.end, static_cast<GanttKind>(n.role), std::string(n.name)});
    span = std::max(span, op.end);
  }
  if (with_links && !schedule.transfers.empty()) {
    std::vector<int64_t> lane_of(cluster.links().size(), -1);
    for (const ScheduledTransfer& t : schedule.transfers)
      for (uint32_t l : cluster.route(t.from, t.to)) lane_of[l] = 0;
    for (size_t l = 0; l < lane_of.size(); ++l) {
      if (lane_of[l] < 0) continue;
      lane_of[l] = static_cast<int64_t>(chart.lanes.size());
      const Link& link = cluster.links()[l];
      chart.lanes.push_back(link.name.empty() ? link.from + "->" + link.to : link.name);
    }
    for (const ScheduledTransfer& t : schedule.transfers) {
      const std::string label = std::string(graph.tensor_name(t.tensor)) + " (" + cluster.device(t.from).name + " -> " +
                                cluster.device(t.to).name + ", " + FormatBytes(double(t.bytes)) + ")";
      for (uint32_t l : cluster.route(t.from, t.to))
        chart.bars.push_back({static_cast<uint32_t>(lane_of[l]), t.start, t.end, GanttKind::kTransfer, label});
      span = std::max(span, t.end);
    }
  }
  chart.span = span;
  return chart;
}

std::string StepTimeBarsSvg(const CompareModel& model) {
  const double label_w = 210, bar_w = 520, value_w = 190, row_h = 22, top = 22, bottom = 8;
  const size_t n = model.rows.size();
  double scale = model.lower_bound;
  for (const CompareRow& r : model.rows)
    if (r.placed) scale = std::max(scale, r.step_time);
  if (!(scale > 0)) scale = 1;
  const std::optional<size_t> best = BestRow(model);
  const double width = label_w + bar_w + value_w, height = top + n * row_h + bottom;
  std::string s = "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Px(width) + "\" height=\"" +
                  Px(height) + "\" viewBox=\"0 0 " + Px(width) + " " + Px(height) + "\">\n";
  s += "<line class=\"axis\" x1=\"" + Px(label_w) + "\" y1=\"" + Px(top - 4) + "\" x2=\"" + Px(label_w) + "\" y2=\"" +
       Px(top + n * row_h) + "\"/>\n";
  for (size_t i = 0; i < n; ++i) {
    const CompareRow& r = model.rows[i];
    const double y = top + i * row_h;
    s += "<text class=\"label\" x=\"" + Px(label_w - 6) + "\" y=\"" + Px(y + row_h * 0.68) + "\"><title>" +
         HtmlEscape(r.placer) + "</title>" + HtmlEscape(Truncate(r.placer, 30)) + "</text>\n";
    if (!r.placed) {
      s += "<text class=\"fail\" x=\"" + Px(label_w + 6) + "\" y=\"" + Px(y + row_h * 0.68) + "\"><title>" +
           HtmlEscape(r.error) + "</title>failed: " + HtmlEscape(Truncate(r.error, 90)) + "</text>\n";
      continue;
    }
    const double w = std::max(1.0, bar_w * r.step_time / scale);
    const char* cls = !r.ok() ? "invalid" : (best && *best == i ? "best" : "ok");
    const std::string value = FormatSeconds(r.step_time) + (r.ok() ? "" : " (invalid)");
    s += "<rect class=\"" + std::string(cls) + "\" x=\"" + Px(label_w) + "\" y=\"" + Px(y + 3) + "\" width=\"" +
         Px(w) + "\" height=\"" + Px(row_h - 6) + "\"><title>" + HtmlEscape(r.placer + ": " + value) +
         (r.ok() ? "" : "\n" + HtmlEscape(r.error)) + "</title></rect>\n";
    s += "<text class=\"value\" x=\"" + Px(label_w + w + 5) + "\" y=\"" + Px(y + row_h * 0.68) + "\">" +
         HtmlEscape(value) + "</text>\n";
  }
  if (model.lower_bound > 0) {
    const double x = label_w + bar_w * model.lower_bound / scale;
    s += "<line class=\"lb\" x1=\"" + Px(x) + "\" y1=\"" + Px(top - 6) + "\" x2=\"" + Px(x) + "\" y2=\"" +
         Px(top + n * row_h) + "\"><title>lower bound " + FormatSeconds(model.lower_bound) + "</title></line>\n";
    s += "<text class=\"lbtext\" x=\"" + Px(x) + "\" y=\"" + Px(top - 9) + "\">lower bound " +
         FormatSeconds(model.lower_bound) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

std::string GanttSvg(const GanttChart& chart, const HtmlOptions& options, size_t* drawn) {
  const double label_w = 130, plot_w = std::max(100.0, options.gantt_width), right = 40, lane_h = 16, pitch = 20,
               top = 6, axis_h = 26;
  const size_t L = chart.lanes.size();
  const double span = chart.span > 0 ? chart.span : 1;
  const double width = label_w + plot_w + right, height = top + L * pitch + axis_h;
  const double px_per_s = plot_w / span;

  // Bars per lane, in start order.
  std::vector<std::vector<const GanttBar*>> lanes(L);
  for (const GanttBar& b : chart.bars)
    if (b.lane < L) lanes[b.lane].push_back(&b);
  for (auto& lane : lanes)
    std::stable_sort(lane.begin(), lane.end(), [](const GanttBar* a, const GanttBar* b) { return a->start < b->start; });

  // What is drawn: a bar at least `threshold` pixels wide as itself, and runs of narrower bars separated by less
  // than `threshold` pixels merged into one rectangle. The threshold doubles until the count fits the cap.
  struct Rect {
    uint32_t lane;
    double x0, x1;
    size_t count;
    std::array<double, 4> kind_time;
    const GanttBar* first;
    const GanttBar* last;
  };
  std::vector<Rect> rects;
  const size_t cap = std::max<size_t>(options.max_gantt_rects, 1);
  for (double threshold = 1.0;; threshold *= 2) {
    rects.clear();
    for (uint32_t l = 0; l < L; ++l) {
      bool open = false;
      Rect cur{};
      for (const GanttBar* b : lanes[l]) {
        const double x0 = b->start * px_per_s, x1 = std::max(x0, b->end * px_per_s);
        const size_t k = static_cast<size_t>(b->kind) & 3;
        if (x1 - x0 >= threshold) {
          if (open) rects.push_back(cur), open = false;
          Rect r{l, x0, x1, 1, {}, b, b};
          r.kind_time[k] = b->end - b->start;
          rects.push_back(r);
        } else if (open && x0 - cur.x1 < threshold) {
          cur.x1 = std::max(cur.x1, x1);
          ++cur.count;
          cur.kind_time[k] += b->end - b->start;
          cur.last = b;
        } else {
          if (open) rects.push_back(cur);
          cur = Rect{l, x0, x1, 1, {}, b, b};
          cur.kind_time[k] = b->end - b->start;
          open = true;
        }
      }
      if (open) rects.push_back(cur);
    }
    if (rects.size() <= cap || threshold > plot_w) break;
  }

  std::string s = "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Px(width) + "\" height=\"" +
                  Px(height) + "\" viewBox=\"0 0 " + Px(width) + " " + Px(height) + "\">\n";
  for (size_t l = 0; l < L; ++l) {
    const double y = top + l * pitch;
    s += "<rect class=\"lane\" x=\"" + Px(label_w) + "\" y=\"" + Px(y) + "\" width=\"" + Px(plot_w) +
         "\" height=\"" + Px(lane_h) + "\"/>";
    s += "<text class=\"label\" x=\"" + Px(label_w - 6) + "\" y=\"" + Px(y + lane_h * 0.78) + "\">" +
         HtmlEscape(Truncate(chart.lanes[l], 18)) + "</text>\n";
  }
  const double axis_y = top + L * pitch;
  for (const Tick& t : TimeTicks(span, 8)) {
    const double x = label_w + t.t * px_per_s;
    s += "<line class=\"grid\" x1=\"" + Px(x) + "\" y1=\"" + Px(top) + "\" x2=\"" + Px(x) + "\" y2=\"" +
         Px(axis_y + 4) + "\"/><text class=\"tick\" x=\"" + Px(x) + "\" y=\"" + Px(axis_y + 16) + "\">" +
         HtmlEscape(t.label) + "</text>\n";
  }
  for (const Rect& r : rects) {
    size_t kind = 0;
    for (size_t k = 1; k < 4; ++k)
      if (r.kind_time[k] > r.kind_time[kind]) kind = k;
    std::string title;
    if (r.count == 1) {
      title = r.first->label + ", " + FormatSeconds(r.first->end - r.first->start) + " at " +
              FormatSeconds(r.first->start);
    } else {
      title = std::to_string(r.count) + " ops (";
      bool first = true;
      for (size_t k = 0; k < 4; ++k)
        if (r.kind_time[k] > 0) title += (first ? "" : ", ") + std::string(kKindNames[k]), first = false;
      if (first) title += kKindNames[kind];
      title += ") from " + FormatSeconds(r.first->start) + ": " + Truncate(r.first->label, 80) + " ... " +
               Truncate(r.last->label, 80);
    }
    const double w = std::max(0.5, r.x1 - r.x0);
    s += "<rect class=\"k" + std::to_string(kind) + (r.count > 1 ? " m" : "") + "\" x=\"" + Px(label_w + r.x0) +
         "\" y=\"" + Px(top + r.lane * pitch) + "\" width=\"" + Px(w) + "\" height=\"" + Px(lane_h) + "\"><title>" +
         HtmlEscape(title) + "</title></rect>\n";
  }
  s += "</svg>\n";
  if (drawn) *drawn = rects.size();
  return s;
}

std::string SearchCurvesSvg(const CompareModel& model) {
  static const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f"};
  const double left = 80, plot_w = 640, legend_w = 240, top = 14, plot_h = 260, bottom = 40;
  double lo = INFINITY, hi = 0;
  int64_t max_x = 1;
  size_t lines = 0;
  for (const CompareRow& r : model.rows) {
    if (r.search.empty()) continue;
    ++lines;
    for (const SearchPoint& p : r.search) {
      max_x = std::max(max_x, p.evaluated);
      if (std::isfinite(p.best_step_time) && p.best_step_time > 0) {
        lo = std::min(lo, p.best_step_time);
        hi = std::max(hi, p.best_step_time);
      }
    }
  }
  if (lines == 0 || !std::isfinite(lo)) return "";
  if (hi <= lo * 1.0001) {
    lo /= 1.05;
    hi *= 1.05;
  }
  const double width = left + plot_w + legend_w, height = top + plot_h + bottom;
  auto X = [&](double x) { return left + plot_w * x / static_cast<double>(max_x); };
  auto Y = [&](double v) { return top + plot_h * (1 - (v - lo) / (hi - lo)); };
  std::string s = "<svg class=\"curves\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Px(width) + "\" height=\"" +
                  Px(height) + "\" viewBox=\"0 0 " + Px(width) + " " + Px(height) + "\">\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4, y = Y(v);
    s += "<line class=\"grid\" x1=\"" + Px(left) + "\" y1=\"" + Px(y) + "\" x2=\"" + Px(left + plot_w) + "\" y2=\"" +
         Px(y) + "\"/><text class=\"label\" x=\"" + Px(left - 6) + "\" y=\"" + Px(y + 4) + "\">" +
         HtmlEscape(FormatSeconds(v)) + "</text>\n";
    const double x = static_cast<double>(max_x) * i / 4;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", x);
    s += "<text class=\"tick\" x=\"" + Px(X(x)) + "\" y=\"" + Px(top + plot_h + 16) + "\">" + buf + "</text>\n";
  }
  s += "<text class=\"tick\" x=\"" + Px(left + plot_w / 2) + "\" y=\"" + Px(top + plot_h + 34) +
       "\">placements evaluated</text>\n";
  size_t line = 0;
  for (const CompareRow& r : model.rows) {
    if (r.search.empty()) continue;
    const char* color = kColors[line % (sizeof kColors / sizeof *kColors)];
    std::string points;
    for (const SearchPoint& p : r.search)
      if (std::isfinite(p.best_step_time) && p.best_step_time > 0)
        points += Px(X(static_cast<double>(p.evaluated))) + "," + Px(Y(p.best_step_time)) + " ";
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\" points=\"" + points +
         "\"><title>" + HtmlEscape(r.placer) + "</title></polyline>\n";
    const double ly = top + 14 + 18 * static_cast<double>(line);
    s += "<line x1=\"" + Px(left + plot_w + 14) + "\" y1=\"" + Px(ly - 4) + "\" x2=\"" + Px(left + plot_w + 34) +
         "\" y2=\"" + Px(ly - 4) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/><text class=\"value\" x=\"" +
         Px(left + plot_w + 40) + "\" y=\"" + Px(ly) + "\">" + HtmlEscape(Truncate(r.placer, 30)) + "</text>\n";
    ++line;
  }
  s += "</svg>\n";
  return s;
}

std::string MarkdownTables(const CompareReport& report) {
  std::string s;
  for (const CompareModel& m : report.models) {
    s += "## " + MdCell(m.spec) + "\n\n";
    const std::string summary = ModelSummary(m);
    if (!summary.empty()) s += summary + "\n\n";
    if (!m.error.empty()) s += "model failed to load: " + MdCell(m.error) + "\n\n";
    const std::string note = BaselineNote(m);
    if (!note.empty()) s += note + "\n\n";
    if (!report.devices.empty()) {
      s += "peak memory per device: ";
      for (size_t d = 0; d < report.devices.size(); ++d) s += (d ? " / " : "") + MdCell(report.devices[d]);
      s += "\n\n";
    }
    s += "| placer | step time | speedup vs single | x lower bound | placement time | peak memory (max) | "
         "peak memory per device | status |\n";
    s += "|---|---:|---:|---:|---:|---:|---|---|\n";
    const std::optional<size_t> best = BestRow(m);
    for (size_t i = 0; i < m.rows.size(); ++i) {
      const CompareRow& r = m.rows[i];
      const Cells c = RowCells(m, r);
      s += "| " + MdCell(r.placer) + (best && *best == i ? " **(best)**" : "") + " | " + c.step + " | " +
           c.speedup + " | " + c.lb_ratio + " | " + c.seconds + " | " + c.peak_max + " | " + c.peak_list + " | " +
           MdCell(c.status) + " |\n";
    }
    s += "\n";
  }
  return s;
}

std::string ReportMarkdown(const CompareReport& r) {
  std::string s = "# allot compare\n\n";
  s += "- command: " + MdCode(r.command_line) + "\n";
  s += "- cluster: " + r.cluster;
  if (!r.devices.empty()) {
    s += " (";
    for (size_t d = 0; d < r.devices.size(); ++d) s += (d ? ", " : "") + r.devices[d];
    s += ")";
  }
  s += "\n- mode: " + r.mode + "\n";
  s += "- dispatch order: " + r.order + "; seed: " + (r.seed >= 0 ? std::to_string(r.seed) : "placer default") +
       "; batch: " + (r.batch > 0 ? std::to_string(r.batch) : "model default") + "\n";
  s += "- date: " + r.date + "\n";
  s += "- status: " + StatusLine(r) + "\n\n";
  s += "Speedup is `single`'s step time over the placer's (n/a when `single` failed or was not run; - for a placer "
       "without a valid placement). Step times are simulated; x lower bound is the step time over max(critical "
       "path, work / devices).\n\n";
  s += MarkdownTables(r);
  return s;
}

std::string ReportHtml(const CompareReport& r, const HtmlOptions& options) {
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>allot compare: " +
      HtmlEscape(r.cluster) + "</title>\n<style>\n"
      "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}\n"
      "h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ccc}h3{font-size:15px}\n"
      "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
      "th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}th{background:#f3f3f3;text-align:left}\n"
      "td.n{text-align:right;white-space:nowrap}td.err{color:#b00020}td.inv{color:#a15c00}tr.best td{background:#eef8ee}\n"
      "table.meta th{width:110px}code{font-size:12px;word-break:break-all}\n"
      ".note{color:#555;font-size:13px}.legend span{display:inline-block;margin-right:14px;font-size:12px}\n"
      ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}\n"
      "svg{display:block;margin:6px 0 12px 0;font-size:11px}\n"
      "svg text.label{text-anchor:end;fill:#333}svg text.value{fill:#333}svg text.fail{fill:#b00020}\n"
      "svg text.tick{text-anchor:middle;fill:#555}svg text.lbtext{text-anchor:middle;fill:#c00}\n"
      "svg .axis{stroke:#888}svg .grid{stroke:#e4e4e4}svg .lb{stroke:#c00;stroke-width:1.5;stroke-dasharray:4 3}\n"
      "svg rect.ok{fill:#4e79a7}svg rect.best{fill:#2e9e44}svg rect.invalid{fill:#bbb}\n"
      "svg rect.lane{fill:#f7f7f7}\n"
      ".k0{fill:#4e79a7;background:#4e79a7}.k1{fill:#f28e2b;background:#f28e2b}.k2{fill:#59a14f;background:#59a14f}"
      ".k3{fill:#9c755f;background:#9c755f}svg rect.m{fill-opacity:.65}\n"
      "</style>\n</head>\n<body>\n<h1>allot compare</h1>\n<table class=\"meta\">\n";
  auto meta = [&](const char* k, const std::string& v) {
    s += "<tr><th>" + std::string(k) + "</th><td>" + v + "</td></tr>\n";
  };
  meta("command", "<code>" + HtmlEscape(r.command_line) + "</code>");
  std::string cluster = HtmlEscape(r.cluster);
  if (!r.devices.empty()) {
    cluster += " (";
    for (size_t d = 0; d < r.devices.size(); ++d) cluster += (d ? ", " : "") + HtmlEscape(r.devices[d]);
    cluster += ")";
  }
  meta("cluster", cluster);
  meta("mode", HtmlEscape(r.mode));
  meta("dispatch order", HtmlEscape(r.order));
  meta("seed", r.seed >= 0 ? std::to_string(r.seed) : "placer default");
  meta("batch", r.batch > 0 ? std::to_string(r.batch) : "model default");
  meta("date", HtmlEscape(r.date));
  meta("status", HtmlEscape(StatusLine(r)));
  s += "</table>\n<p class=\"note\">Step times are simulated. Speedup is <code>single</code>'s step time over the "
       "placer's (n/a when <code>single</code> failed or was not run; - for a placer without a valid placement); "
       "x lower bound is the step time over max(critical path, work / devices).</p>\n";
  if (r.models.size() > 1) {
    s += "<ul>\n";
    for (size_t i = 0; i < r.models.size(); ++i)
      s += "<li><a href=\"#model-" + std::to_string(i + 1) + "\">" + HtmlEscape(r.models[i].spec) + "</a></li>\n";
    s += "</ul>\n";
  }
  for (size_t mi = 0; mi < r.models.size(); ++mi) {
    const CompareModel& m = r.models[mi];
    s += "<section id=\"model-" + std::to_string(mi + 1) + "\">\n<h2>" + HtmlEscape(m.spec) + "</h2>\n";
    const std::string summary = ModelSummary(m);
    if (!summary.empty()) s += "<p class=\"note\">" + HtmlEscape(summary) + "</p>\n";
    if (!m.error.empty()) s += "<p class=\"err\">model failed to load: " + HtmlEscape(m.error) + "</p>\n";
    const std::string note = BaselineNote(m);
    if (!note.empty()) s += "<p class=\"note\">" + HtmlEscape(note) + "</p>\n";
    std::string per_device = "peak memory per device";
    if (!r.devices.empty()) {
      per_device += " (";
      for (size_t d = 0; d < r.devices.size(); ++d) per_device += (d ? " / " : "") + r.devices[d];
      per_device += ")";
    }
    s += "<table class=\"rows\">\n<tr><th>placer</th><th>step time</th><th>speedup vs single</th><th>x lower "
         "bound</th><th>placement time</th><th>peak memory (max)</th><th>" +
         HtmlEscape(per_device) + "</th><th>status</th></tr>\n";
    const std::optional<size_t> best = BestRow(m);
    for (size_t i = 0; i < m.rows.size(); ++i) {
      const CompareRow& row = m.rows[i];
      const Cells c = RowCells(m, row);
      const bool is_best = best && *best == i;
      s += std::string(is_best ? "<tr class=\"best\">" : "<tr>") + "<td>" + HtmlEscape(row.placer) +
           (row.options.empty() ? "" : "<br><small>" + HtmlEscape(row.options) + "</small>") + "</td><td class=\"n\">" +
           HtmlEscape(c.step) + "</td><td class=\"n\">" + HtmlEscape(c.speedup) + "</td><td class=\"n\">" +
           HtmlEscape(c.lb_ratio) + "</td><td class=\"n\">" + HtmlEscape(c.seconds) + "</td><td class=\"n\">" +
           HtmlEscape(c.peak_max) + "</td><td>" + HtmlEscape(c.peak_list) + "</td><td" +
           (row.ok() ? "" : row.placed ? " class=\"inv\"" : " class=\"err\"") + ">" +
           HtmlEscape(c.status + (is_best ? " (best)" : "")) + "</td></tr>\n";
    }
    s += "</table>\n";
    if (!m.rows.empty()) {
      s += "<h3>Step time</h3>\n" + StepTimeBarsSvg(m);
    }
    const std::string curves = SearchCurvesSvg(m);
    if (!curves.empty()) s += "<h3>Search: best step time against placements evaluated</h3>\n" + curves;
    if (!m.best_schedule.empty()) {
      s += "<h3>Schedule of the best placement: " + HtmlEscape(m.best_schedule.title.empty() ? m.best_placer
                                                                                          : m.best_schedule.title) +
           "</h3>\n<div class=\"legend\">";
      for (size_t k = 0; k < 4; ++k)
        s += "<span><i class=\"k" + std::to_string(k) + "\"></i>" + kKindNames[k] + "</span>";
      s += "<span>(faded: several short ops merged; hover for names)</span></div>\n";
      s += GanttSvg(m.best_schedule, options);
    }
    s += "</section>\n";
  }
  s += "</body>\n</html>\n";
  return s;
}

std::string ReportJson(const CompareReport& r) {
  using json = nlohmann::ordered_json;
  auto opt = [](std::optional<double> v) { return v ? json(*v) : json(nullptr); };
  json j;
  j["command_line"] = r.command_line;
  j["date"] = r.date;
  j["cluster"] = r.cluster;
  j["devices"] = r.devices;
  j["mode"] = r.mode;
  j["order"] = r.order;
  j["seed"] = r.seed >= 0 ? json(r.seed) : json(nullptr);
  j["batch"] = r.batch > 0 ? json(r.batch) : json(nullptr);
  j["status"] = r.interrupted ? "interrupted" : r.finished ? "complete" : "running";
  j["runs_done"] = r.runs_done;
  j["runs_total"] = r.runs_total;
  json models = json::array();
  for (const CompareModel& m : r.models) {
    json jm;
    jm["model"] = m.spec;
    jm["error"] = m.error.empty() ? json(nullptr) : json(m.error);
    jm["nodes"] = m.nodes;
    jm["lower_bound"] = m.lower_bound;
    jm["critical_path"] = m.critical_path;
    jm["work"] = m.work;
    jm["single_step_time"] = opt(SingleStepTime(m));
    const std::optional<size_t> best = BestRow(m);
    jm["best"] = best ? json(m.rows[*best].placer) : json(nullptr);
    json rows = json::array();
    for (const CompareRow& row : m.rows) {
      json jr;
      jr["model"] = m.spec;
      jr["placer"] = row.placer;
      jr["name"] = row.placer_name;
      jr["options"] = row.options;
      jr["placed"] = row.placed;
      jr["valid"] = row.ok();
      jr["step_time"] = row.placed ? json(row.step_time) : json(nullptr);
      jr["speedup"] = opt(Speedup(m, row));
      jr["lower_bound_ratio"] =
          row.placed && m.lower_bound > 0 ? json(row.step_time / m.lower_bound) : json(nullptr);
      jr["placement_seconds"] = row.from_file ? json(nullptr) : json(row.seconds);
      jr["peak_memory"] = row.peak_memory;
      jr["peak_memory_max"] = row.placed ? json(MaxPeak(row)) : json(nullptr);
      jr["error"] = row.error.empty() ? json(nullptr) : json(row.error);
      if (!row.search.empty()) {
        json curve = json::array();
        for (const SearchPoint& p : row.search)
          curve.push_back({{"placements", p.evaluated},
                           {"best_step_time", std::isfinite(p.best_step_time) ? json(p.best_step_time) : json(nullptr)},
                           {"seconds", p.seconds}});
        jr["search"] = std::move(curve);
      }
      rows.push_back(std::move(jr));
    }
    jm["rows"] = std::move(rows);
    models.push_back(std::move(jm));
  }
  j["models"] = std::move(models);
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace allot::tools
