// `allot compare`: every placer on every model, one report (Markdown, HTML with charts, JSON).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cost_model/bounds.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "tools/all_placers.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/spec_lists.h"
#include "tools/format.h"
#include "tools/place_run.h"
#include "tools/report.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

struct CompareArgs {
  std::string models, placers = "all", output, order = "fifo";
  std::string placements;  // placement files: rows beside the placers' for the models they were made for
  ClusterArgs cluster;
  std::string mode = "inference", optimizer = "momentum";
  int64_t batch = 0, seq = 0, seed = -1;
  int64_t budget_samples = 0;
  double budget_seconds = 0;
  bool no_links = false;
};

// Ctrl-C: the first sets the flag (the current placer finishes, then the report is written); the handler is
// installed with SA_RESETHAND, so a second Ctrl-C ends the process at once.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnSigint(int) {
  g_interrupted = 1;
  static const char msg[] =
      "\ncompare: Ctrl-C: finishing the current placer, then writing the report (Ctrl-C again to quit now)\n";
  const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = OnSigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    installed_ = sigaction(SIGINT, &sa, &old_) == 0;
  }
  ~SigintGuard() {
    if (installed_) sigaction(SIGINT, &old_, nullptr);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
  bool installed_ = false;
};

std::string ShortNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string ShellQuote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+@%-") ==
                        std::string::npos)
    return a;
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The command line as typed (from /proc/self/cmdline), or rebuilt from the parsed arguments elsewhere.
std::string CommandLine(const CompareArgs& a) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!raw.empty()) {
    std::string line;
    size_t start = 0;
    while (start < raw.size()) {
      size_t end = raw.find('\0', start);
      if (end == std::string::npos) end = raw.size();
      line += (line.empty() ? "" : " ") + ShellQuote(raw.substr(start, end - start));
      start = end + 1;
    }
    return line;
  }
  std::string line = "allot compare --models " + ShellQuote(a.models) + " --cluster " + ShellQuote(a.cluster.cluster) +
                     " --placers " + ShellQuote(a.placers) + " --mode " + a.mode + " --order " + a.order;
  if (!a.cluster.profile.empty()) line += " --profile " + ShellQuote(a.cluster.profile);
  if (a.batch > 0) line += " --batch " + std::to_string(a.batch);
  if (a.seq > 0) line += " --seq " + std::to_string(a.seq);
  if (a.seed >= 0) line += " --seed " + std::to_string(a.seed);
  if (a.budget_samples > 0) line += " --budget-samples " + std::to_string(a.budget_samples);
  if (a.budget_seconds > 0) line += " --budget-seconds " + ShortNumber(a.budget_seconds);
  return line + " -o " + ShellQuote(a.output);
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Runs one placer; never throws (an exception becomes the row's error).
PlaceRun SafeRun(const CostedModel& m, const std::string& spec, int64_t seed, DispatchOrder order) {
  try {
    return RunPlacer(m, spec, seed, order);
  } catch (const std::exception& e) {
    PlaceRun run;
    run.placer = spec.substr(0, spec.find(':'));
    run.error = std::string("placer threw: ") + e.what();
    return run;
  }
}

void WriteReport(const std::string& dir, const CompareReport& report) {
  WriteFileAtomic(dir + "/report.md", ReportMarkdown(report));
  WriteFileAtomic(dir + "/report.html", ReportHtml(report));
  WriteFileAtomic(dir + "/results.json", ReportJson(report));
}

// A learned placer's spec under compare's budgets: the same number of placements and/or seconds for every learned
// placer, which then trains until the budget (not its default step count) ends it, unless the spec sets steps.
std::string WithBudget(const std::string& spec, const CompareArgs& args) {
  const std::string name = spec.substr(0, spec.find(':'));
  if ((args.budget_samples <= 0 && args.budget_seconds <= 0) || LearnedPlacers().Find(name) == nullptr) return spec;
  std::string extra;
  auto add = [&](const std::string& kv) {
    const std::string key = kv.substr(0, kv.find('=') + 1);
    if (spec.find(":" + key) == std::string::npos && spec.find("," + key) == std::string::npos)
      extra += (extra.empty() ? "" : ",") + kv;
  };
  add("steps=1000000000");
  if (args.budget_samples > 0) add("placements=" + std::to_string(args.budget_samples));
  if (args.budget_seconds > 0) add("seconds=" + ShortNumber(args.budget_seconds));
  if (extra.empty()) return spec;
  return spec + (spec.find(':') == std::string::npos ? ":" : ",") + extra;
}

void RunCompare(const CompareArgs& args) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  const std::vector<std::string> models = SplitModels(args.models);
  std::vector<std::string> placers = SplitPlacers(args.placers);
  for (std::string& p : placers) p = WithBudget(p, args);
  if (models.empty()) throw Error("--models: no model given");
  if (placers.empty() && args.placements.empty()) throw Error("--placers: no placer given");
  // A placement file belongs to the model whose graph hash it records: read them all now, so a bad one fails first.
  std::vector<std::string> files = SplitModels(args.placements);
  std::vector<std::string> file_hashes;
  for (const std::string& f : files) {
    const PlacementContext c = ReadPlacementContext(f);
    if (c.graph_hash.empty())
      throw Error(f + ": --placements needs the field 'graph_hash' (`allot place -o` and the Python module's "
                      "write_placement record it) to tell which model it places");
    file_hashes.push_back(c.graph_hash);
  }
  std::vector<char> file_used(files.size(), 0);
  for (const std::string& p : placers) AllPlacers().ParseOptions(p);  // an unknown placer or option: fail now
  const DispatchOrder order = ParseDispatchOrder(args.order);
  const Cluster cluster = LoadCluster(args.cluster.cluster);  // fail early on a bad cluster

  std::error_code ec;
  std::filesystem::create_directories(args.output, ec);
  if (ec || !std::filesystem::is_directory(args.output))
    throw Error(args.output + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));

  CompareReport report;
  report.command_line = CommandLine(args);
  report.date = UtcNow();
  report.cluster = cluster.name();
  for (const Device& d : cluster.devices()) report.devices.push_back(d.name);
  report.mode = args.mode;
  report.order = args.order;
  report.seed = args.seed;
  report.batch = args.batch;
  report.runs_total = models.size() * placers.size() + files.size();
  report.finished = false;

  const bool have_single_row = std::any_of(placers.begin(), placers.end(), [](const std::string& p) {
    return p.substr(0, p.find(':')) == "single";
  });
  const bool can_baseline = AllPlacers().Find("single") != nullptr;

  SigintGuard sigint;
  for (size_t mi = 0; mi < models.size() && !g_interrupted; ++mi) {
    report.models.emplace_back();
    CompareModel& cm = report.models.back();
    cm.spec = models[mi];
    std::fprintf(stderr, "[%7.1f s] model %zu/%zu %s: loading\n", elapsed(), mi + 1, models.size(), cm.spec.c_str());
    ModelArgs ma;
    ma.model = cm.spec;
    ma.mode = args.mode;
    ma.optimizer = args.optimizer;
    ma.batch = args.batch;
    ma.seq = args.seq;
    CostedModel m;
    try {
      m = LoadCostedModel(ma, args.cluster);
    } catch (const std::exception& e) {
      cm.error = e.what();
    }
    if (!cm.error.empty()) {
      std::fprintf(stderr, "[%7.1f s] model %zu/%zu failed to load: %s\n", elapsed(), mi + 1, models.size(),
                   cm.error.c_str());
      for (const std::string& p : placers) {
        CompareRow row;
        row.placer = p;
        row.placer_name = p.substr(0, p.find(':'));
        row.error = "model failed to load: " + cm.error;
        cm.rows.push_back(std::move(row));
        ++report.runs_done;
      }
      WriteReport(args.output, report);
      continue;
    }
    cm.nodes = m.model.graph.num_nodes();
    const LowerBound lb = ComputeLowerBound(m.model.graph, m.costs);
    cm.lower_bound = lb.value();
    cm.critical_path = lb.critical_path;
    cm.work = lb.work;

    if (!have_single_row && can_baseline) {
      std::fprintf(stderr, "[%7.1f s] model %zu/%zu: baseline single ... ", elapsed(), mi + 1, models.size());
      std::fflush(stderr);
      const PlaceRun base = SafeRun(m, "single", args.seed, order);
      if (base.error.empty()) cm.baseline_single = base.result.step_time;
      std::fprintf(stderr, "%s\n", base.error.empty() ? FormatSeconds(base.result.step_time).c_str() : "failed");
    }

    // The placers' rows, then a row for each placement file made for this model.
    std::vector<std::string> specs = placers;
    std::vector<size_t> file_of(placers.size(), files.size());
    for (size_t f = 0; f < files.size(); ++f) {
      if (file_hashes[f] != m.model.graph.hash_hex()) continue;
      file_used[f] = 1;
      specs.push_back(files[f]);
      file_of.push_back(f);
    }
    std::vector<DeviceId> best_placement;
    double best_time = 0;
    for (size_t pi = 0; pi < specs.size(); ++pi) {
      if (g_interrupted) break;
      const bool file = file_of[pi] < files.size();
      std::string spec = specs[pi];
      // A line when the placer starts and one when it ends: placers may log to stderr in between.
      char where[64];
      std::snprintf(where, sizeof where, "model %zu/%zu | placer %zu/%zu", mi + 1, models.size(), pi + 1,
                    specs.size());
      std::fprintf(stderr, "[%7.1f s] %s %s: running on %zu nodes\n", elapsed(), where, spec.c_str(), cm.nodes);
      PlaceRun run = file ? ScorePlacementFile(m, spec, order) : SafeRun(m, spec, args.seed, order);
      if (file) spec = run.placer + " (" + spec + ")";
      CompareRow row;
      row.placer = spec;
      row.placer_name = run.placer;
      row.options = run.options_spec;
      row.placed = !run.placement.empty();
      row.seconds = run.seconds;
      row.from_file = file;
      row.error = run.error;
      row.search = std::move(run.search);
      if (row.placed) {
        row.step_time = run.result.step_time;
        row.peak_memory = run.result.peak_memory;
      }
      std::fprintf(stderr, "[%7.1f s] %s %s: ", elapsed(), where, spec.c_str());
      if (row.ok()) {
        std::fprintf(stderr, "%s step (placed in %s)\n", FormatSeconds(row.step_time).c_str(),
                     FormatSeconds(row.seconds).c_str());
        if (best_placement.empty() || row.step_time < best_time) {
          best_time = row.step_time;
          best_placement = std::move(run.placement);
          cm.best_placer = spec;
        }
      } else {
        std::fprintf(stderr, "%s: %s\n", row.placed ? "INVALID" : "FAILED", row.error.c_str());
      }
      cm.rows.push_back(std::move(row));
      ++report.runs_done;
    }

    if (!best_placement.empty()) {
      Simulator sim(m.model.graph, m.cluster, m.costs, SimOptions{order, true});
      const SimResult& schedule = sim.Run(best_placement);
      cm.best_schedule = MakeGanttChart(m.model.graph, m.cluster, schedule, !args.no_links);
      cm.best_schedule.title = cm.best_placer + ", " + FormatSeconds(schedule.step_time) + " (" +
                               std::to_string(schedule.ops.size()) + " ops, " +
                               std::to_string(schedule.transfers.size()) + " transfers)";
    }
    if (mi + 1 < models.size() && !g_interrupted) WriteReport(args.output, report);  // viewable while running
  }

  report.interrupted = g_interrupted != 0;
  report.finished = !report.interrupted;
  WriteReport(args.output, report);
  std::cout << MarkdownTables(report) << std::flush;
  std::fprintf(stderr, "[%7.1f s] wrote %s/report.md, %s/report.html, %s/results.json\n", elapsed(),
               args.output.c_str(), args.output.c_str(), args.output.c_str());
  for (size_t f = 0; f < files.size() && !report.interrupted; ++f)
    if (!file_used[f])
      throw Error(files[f] + ": placement for none of --models (its graph_hash matches no model's graph as loaded "
                             "with this --mode, --batch and --seq)");
  if (report.interrupted)
    throw Error("interrupted: the report in " + args.output + " covers " + std::to_string(report.runs_done) +
                " of " + std::to_string(report.runs_total) + " runs");
}

}  // namespace

void RegisterCompare(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Run every placer on every model and write a report (report.md, report.html, results.json)");
  cmd->footer(
      "Model lists: models are separated by ';' when the list has one (--models 'a.onnx;gen:nmt,layers=4'), else by "
      "commas, where a comma inside a gen: spec stays in it: a token starts a new model when it starts with 'gen:', "
      "contains '.onnx' or '.json', or follows a file (--models gen:nmt,layers=4,gen:rnnlm,model.onnx is three).\n"
      "Placer lists: 'all' (every placer of `allot placers`), 'classic', 'learned' (seq2seq, hierarchical, spotlight, "
      "post) or specs, separated by ';' when the list has one, else "
      "by commas, where a key=value token is one more option of the spec before it (--placers "
      "single,refine:from=metis,iterations=500,etf is three).\n"
      "Budgets (--budget-samples, --budget-seconds) apply to each learned placer alike: it trains until the budget "
      "ends it (unless its spec sets steps); the HTML report charts their best step time against placements "
      "evaluated.\n"
      "Progress goes to stderr; the Markdown tables to stdout at the end. Ctrl-C finishes the current placer, "
      "writes the report of the runs done and exits non-zero (a second Ctrl-C quits at once).");
  cmd->add_option("--models", args->models, "models: ONNX files, JSON cost graphs or gen:SPECs (see below)")
      ->required();
  AddClusterOptions(*cmd, args->cluster);
  cmd->add_option("--placers", args->placers,
                  "all, classic (no learned placers), learned, or placer specs NAME[:key=value,...] (see below)");
  cmd->add_option("--placements", args->placements,
                  "placement files (from `allot place -o` or Python's Problem.write_placement), each a row beside the "
                  "placers for the model it was made for");
  cmd->add_option("--budget-samples", args->budget_samples, "learned placers: placements each may evaluate")
      ->check(kCount);
  cmd->add_option("--budget-seconds", args->budget_seconds, "learned placers: seconds each may train")
      ->check(kSeconds);
  cmd->add_option("--mode", args->mode, "inference, or training (adds backward and optimizer ops)")
      ->check(CLI::IsMember({"inference", "training"}));
  cmd->add_option("--optimizer", args->optimizer, "training optimizer: sgd, momentum, adam")
      ->check(CLI::IsMember({"sgd", "momentum", "adam"}));
  cmd->add_option("--batch", args->batch, "bind symbolic batch dims (gen: the generator's batch)")->check(kCount);
  cmd->add_option("--seq", args->seq, "bind symbolic sequence dims (gen: the generator's sequence length)")->check(kCount);
  cmd->add_option("--seed", args->seed, "seed for placers that take one");
  cmd->add_option("--order", args->order, "simulator dispatch order: fifo or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->add_flag("--no-link-lanes", args->no_links, "Gantt charts: devices only, no lanes for link transfers");
  cmd->add_option("-o,--output", args->output, "directory to write report.md, report.html and results.json")
      ->required()
      ->check(kOutputPath);
  cmd->callback([args] { RunCompare(*args); });
}

}  // namespace allot::tools
