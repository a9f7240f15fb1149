#include "rl/trainer.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <sstream>
#include <thread>

#include "cost_model/bounds.h"
#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/archive_file.h"
#include "rl/checked_load.h"

namespace allot::rl {
namespace {

constexpr const char* kCheckpointFormat = "allot-learned-checkpoint-3";
constexpr int kCurveColumns = 7;       // one graph
constexpr int kMultiCurveColumns = 9;  // + graph, relative step time

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string Num(double v) { return FingerprintNumber(v); }

class SimulatorScorer : public PlacementScorer {
 public:
  SimulatorScorer(const PlacementProblem& p, int threads) {
    const SimOptions options{p.order, false};
    for (int i = 0; i < std::max(1, threads); ++i)
      simulators_.push_back(std::make_unique<Simulator>(*p.graph, *p.cluster, *p.costs, options));
  }
  void ScoreAll(const std::vector<std::vector<DeviceId>>& placements, std::vector<Score>& scores) override {
    scores.assign(placements.size(), Score{});
    const size_t T = std::min(simulators_.size(), placements.size());
    auto work = [&](size_t t) {
      for (size_t k = t; k < placements.size(); k += T) {
        const SimResult& r = simulators_[t]->Run(placements[k]);
        scores[k] = Score{r.step_time, r.valid};
      }
    };
    if (T <= 1) {
      work(0);
      return;
    }
    std::vector<std::thread> pool;
    for (size_t t = 1; t < T; ++t) pool.emplace_back(work, t);
    work(0);
    for (std::thread& th : pool) th.join();
  }

 private:
  std::vector<std::unique_ptr<Simulator>> simulators_;
};

// "k=v;k=v" -> map, to name the first difference between two fingerprints.
std::map<std::string, std::string> SplitFingerprint(const std::string& s) {
  std::map<std::string, std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ';')) {
    const size_t eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

}  // namespace

RewardSource ParseRewardSource(const std::string& name) {
  if (name == "simulated") return RewardSource::kSimulated;
  if (name == "measured") return RewardSource::kMeasured;
  throw Error("unknown reward source '" + name + "' (known: simulated, measured)");
}

std::unique_ptr<PlacementScorer> MakeSimulatorScorer(const PlacementProblem& problem, int threads) {
  return std::make_unique<SimulatorScorer>(problem, threads);
}

std::string FormatStepTime(double s) {
  char buf[32];
  if (!std::isfinite(s)) return "-";
  if (s >= 1) std::snprintf(buf, sizeof buf, "%.3f s", s);
  else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.3f us", s * 1e6);
  return buf;
}

namespace {
std::vector<TrainTask> OneTask(const PlacementProblem& problem, std::unique_ptr<Policy> policy) {
  std::vector<TrainTask> tasks(1);
  tasks[0].problem = &problem;
  tasks[0].policy = std::move(policy);
  return tasks;
}
}  // namespace

Trainer::Trainer(const PlacementProblem& problem, TrainerConfig config, std::unique_ptr<Policy> policy,
                 std::unique_ptr<Algorithm> algorithm)
    : Trainer(OneTask(problem, std::move(policy)), std::move(config), std::move(algorithm)) {}

Trainer::Trainer(std::vector<TrainTask> tasks, TrainerConfig config, std::unique_ptr<Algorithm> algorithm)
    : tasks_(std::move(tasks)), config_(std::move(config)), algorithm_(std::move(algorithm)), rng_(config_.seed) {
  if (tasks_.empty()) throw Error("training needs at least one graph");
  const std::string name(policy().kind());
  if (config_.samples < 1) throw Error(name + ": samples must be at least 1");
  if (config_.graphs_per_update < 1) throw Error(name + ": graphs per update must be at least 1");
  if (config_.steps < 0) throw Error(name + ": steps must not be negative");
  if (config_.reward == RewardSource::kMeasured && !config_.scorer)
    throw Error(name + ": measured rewards need a scorer that runs placements (allot train --reward measured)");
  if ((config_.resume || config_.checkpoint_every > 0) && config_.out_dir.empty())
    throw Error(name + ": checkpoints need an output directory");
  if (config_.scorer && multi()) throw Error(name + ": a custom scorer serves one graph; train on one model");
  if (config_.init_parameters) policy().ResetParameters(config_.seed * 0x9E3779B97F4A7C15ull + 0x5eed);
  const int threads = std::min<int>(std::max(1, config_.threads), static_cast<int>(config_.samples));
  for (const TrainTask& t : tasks_) {
    scorers_.push_back(config_.scorer ? config_.scorer : std::shared_ptr<PlacementScorer>(MakeSimulatorScorer(*t.problem, threads)));
    if (multi()) lower_bounds_.push_back(ComputeLowerBound(*t.problem->graph, *t.problem->costs).value());
  }
}

Trainer::~Trainer() = default;

std::string Trainer::CheckpointPath() const { return (std::filesystem::path(config_.out_dir) / "checkpoint.pt").string(); }

std::string Trainer::Fingerprint() const {
  std::ostringstream s;
  const PlacementProblem& p = problem();
  s << "placer=" << policy().kind() << ";graph=" << p.graph->hash_hex();
  for (size_t t = 1; t < tasks_.size(); ++t) s << "," << tasks_[t].problem->graph->hash_hex();
  s << ";cluster=" << p.cluster->name() << ";devices=" << p.cluster->num_devices() << ";order=" << static_cast<int>(p.order)
    << ";units=" << policy().decision_groups().num_groups();
  for (size_t t = 1; t < tasks_.size(); ++t) s << "," << tasks_[t].policy->decision_groups().num_groups();
  s << ";policy_devices=" << policy().num_devices();
  const nlohmann::ordered_json config = policy().Config();
  for (const auto& [key, value] : config.items()) s << ";" << key << "=" << value.dump();
  s << ";" << algorithm_->Fingerprint() << ";logit_noise=" << Num(config_.logit_noise)
    << ";noise_steps=" << config_.noise_steps << ";lr_decay=" << Num(config_.lr_decay)
    << ";lr_decay_every=" << config_.lr_decay_every << ";lr_decay_start=" << config_.lr_decay_start
    << ";samples=" << config_.samples << ";seed=" << config_.seed << ";reward=" << static_cast<int>(config_.reward);
  if (multi() && config_.graphs_per_update > 1)
    s << ";graphs_per_update=" << std::min<int64_t>(config_.graphs_per_update, static_cast<int64_t>(tasks_.size()));
  return s.str();
}

void Trainer::SaveCheckpoint(const TrainResult& r, double elapsed, int64_t evaluated_total) const {
  ArchiveWriter a;
  a.PutString("format", kCheckpointFormat);
  a.PutString("fingerprint", Fingerprint());
  SaveModule(this->policy().module(), a.Scope("policy"));
  algorithm_->Save(a.Scope("algorithm"));
  a.PutInt("step", r.steps_done);
  std::ostringstream rng;
  rng << rng_;
  a.PutString("rng", rng.str());
  a.PutDouble("best_step_time", r.best_step_time);
  a.PutInt("best_step", r.best_step);
  a.PutTensor("best_groups", at::tensor(r.best_groups, at::TensorOptions().dtype(at::kLong)));
  for (size_t t = 1; t < r.tasks.size(); ++t) {
    const std::string k = std::to_string(t);
    a.PutTensor("best_groups_" + k, at::tensor(r.tasks[t].groups, at::TensorOptions().dtype(at::kLong)));
    a.PutDouble("best_step_time_" + k, r.tasks[t].step_time);
    a.PutInt("best_step_" + k, r.tasks[t].step);
  }
  const int columns = multi() ? kMultiCurveColumns : kCurveColumns;
  std::vector<double> curve;
  curve.reserve(r.curve.size() * columns);
  for (const CurvePoint& c : r.curve) {
    curve.insert(curve.end(), {static_cast<double>(c.step), c.mean_step_time, c.best_step_time, c.mean_reward,
                               c.entropy, c.elapsed, c.valid_fraction});
    if (multi()) curve.insert(curve.end(), {static_cast<double>(c.task), c.relative});
  }
  a.PutTensor("curve", at::tensor(curve, at::TensorOptions().dtype(at::kDouble))
                           .reshape({static_cast<int64_t>(r.curve.size()), columns}));
  a.PutDouble("elapsed", elapsed);
  a.PutInt("placements", evaluated_total);

  std::filesystem::create_directories(config_.out_dir);
  a.Save(CheckpointPath());
}

void Trainer::LoadCheckpoint(TrainResult& r, double& elapsed, int64_t& evaluated_total) {
  const std::string path = CheckpointPath();
  if (!std::filesystem::exists(path)) throw Error("--resume: no checkpoint at " + path);
  try {
    const ArchiveReader a = ArchiveReader::Load(path);
    const std::string format = a.GetString("format");
    if (format != kCheckpointFormat) throw Error(path + ": not a checkpoint of this version (" + format + ")");
    const std::string theirs_text = a.GetString("fingerprint"), mine = Fingerprint();
    if (theirs_text != mine) {
      const auto theirs = SplitFingerprint(theirs_text), ours = SplitFingerprint(mine);
      std::string what;
      for (const auto& [key, value] : ours) {
        const auto it = theirs.find(key);
        if (it == theirs.end() || it->second != value) {
          what = key + " " + (it == theirs.end() ? std::string("(absent)") : it->second) + " in the checkpoint, " +
                 value + " now";
          break;
        }
      }
      throw Error(path + " is from a different run: " + what);
    }
    // The fingerprint matched, but a file can be edited or damaged: every value is checked before it is used.
    auto bad = [&](const std::string& what) { return Error(path + ": " + what); };
    LoadModuleChecked(this->policy().module(), a.Scope("policy"), path);
    algorithm_->Load(a.Scope("algorithm"), path);
    r.steps_done = a.GetInt("step");
    if (r.steps_done < 0) throw bad("negative step");
    std::istringstream rng(a.GetString("rng"));
    rng >> rng_;
    if (!rng) throw bad("the random generator's state is malformed");
    r.best_step_time = a.GetDouble("best_step_time");
    if (!(r.best_step_time >= 0)) throw bad("the best step time is negative or NaN");
    r.best_step = a.GetInt("best_step");
    r.tasks.assign(tasks_.size(), TaskBest{});
    for (size_t t = 0; t < tasks_.size(); ++t) {
      const std::string k = t == 0 ? "" : "_" + std::to_string(t);
      TaskBest& best_of = r.tasks[t];
      if (t == 0) {
        best_of.step_time = r.best_step_time;
        best_of.step = r.best_step;
      } else {
        best_of.step_time = a.GetDouble("best_step_time" + k);
        if (!(best_of.step_time >= 0)) throw bad("a best step time is negative or NaN");
        best_of.step = a.GetInt("best_step" + k);
      }
      at::Tensor best = a.GetTensor("best_groups" + k);
      const Policy& policy_t = *tasks_[t].policy;
      const int64_t groups = static_cast<int64_t>(policy_t.decision_groups().num_groups()), devices = policy_t.num_devices();
      if (best.scalar_type() != at::kLong || best.dim() != 1 || (best.numel() != 0 && best.numel() != groups))
        throw bad("the best placement is not one device per decision group");
      best = best.contiguous();
      best_of.groups.assign(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel());
      for (int64_t g : best_of.groups)
        if (g < 0 || g >= devices) throw bad("the best placement names device " + std::to_string(g));
    }
    r.best_groups = r.tasks[0].groups;
    const int columns = multi() ? kMultiCurveColumns : kCurveColumns;
    at::Tensor curve = a.GetTensor("curve");
    if (curve.scalar_type() != at::kDouble || curve.dim() != 2 || curve.size(1) != columns)
      throw bad("the learning curve is not a [steps, " + std::to_string(columns) + "] double tensor");
    curve = curve.contiguous();
    const double* c = curve.data_ptr<double>();
    r.curve.clear();
    for (int64_t i = 0; i < curve.size(0); ++i, c += columns) {
      r.curve.push_back(CurvePoint{static_cast<int64_t>(c[0]), c[1], c[2], c[3], c[4], c[5], c[6]});
      if (multi()) {
        if (!(c[7] >= 0 && c[7] < static_cast<double>(tasks_.size()))) throw bad("the learning curve names no graph");
        r.curve.back().task = static_cast<int64_t>(c[7]);
        r.curve.back().relative = c[8];
      }
    }
    elapsed = a.GetDouble("elapsed");
    if (!(elapsed >= 0 && std::isfinite(elapsed))) throw bad("the elapsed time is negative or not finite");
    evaluated_total = a.GetInt("placements");
    if (evaluated_total < 0) throw bad("a negative count of placements");
  } catch (const Error& e) {
    throw Error(std::string("--resume: ") + e.what());
  } catch (const c10::Error& e) {
    throw Error("--resume: cannot read " + path + ": " + e.what_without_backtrace());
  }
}

void Trainer::WriteCurve(const std::vector<CurvePoint>& curve) const {
  const std::filesystem::path dir(config_.out_dir);
  std::filesystem::create_directories(dir);
  WriteFileAtomic((dir / "learning_curve.csv").string(), LearningCurveCsv(curve, multi()));
  const std::string on = std::string(policy().kind()) + " on " + problem().cluster->name();
  WriteFileAtomic((dir / "learning_curve.svg").string(),
                  multi() ? LearningCurveSvg(curve, on + ", " + std::to_string(tasks_.size()) + " graphs: mean step time / lower bound", true)
                          : LearningCurveSvg(curve, on + ": step time per policy step"));
}

TrainResult Trainer::Train() {
  struct ThreadsGuard {
    int saved = at::get_num_threads();
    explicit ThreadsGuard(int n) { at::set_num_threads(std::max(1, n)); }
    ~ThreadsGuard() { at::set_num_threads(saved); }
  } threads_guard(config_.policy_threads);
  TrainResult r;
  r.tasks.assign(tasks_.size(), TaskBest{});
  double elapsed_before = 0;
  int64_t evaluated_total = 0;
  if (config_.resume) LoadCheckpoint(r, elapsed_before, evaluated_total);

  const int64_t K = config_.samples;
  const size_t B = static_cast<size_t>(std::min<int64_t>(config_.graphs_per_update, static_cast<int64_t>(tasks_.size())));
  std::vector<size_t> pool(tasks_.size());  // the graphs, partially shuffled by each GDP-batch draw
  std::vector<std::vector<DeviceId>> placements(static_cast<size_t>(K));
  const auto t0 = Clock::now();
  auto last_progress = t0;
  bool printed_last = false;
  auto report = [&](const CurvePoint& c) {
    if (!config_.progress) return;
    const double secs = Since(t0);
    char buf[256];
    std::snprintf(buf, sizeof buf, "step %lld/%lld  best %s  mean %s  mean reward %.4f  entropy %.3f  valid %.0f%%  %.1f placements/s",
                  static_cast<long long>(c.step), static_cast<long long>(config_.steps),
                  FormatStepTime(c.best_step_time).c_str(), FormatStepTime(c.mean_step_time).c_str(), c.mean_reward,
                  c.entropy, 100 * c.valid_fraction, secs > 0 ? static_cast<double>(r.placements_evaluated) / secs : 0.0);
    config_.progress(buf);
  };

  while (r.steps_done < config_.steps) {
    // r.steps_done is the 0-based index of this update.
    const double noise = r.steps_done < config_.noise_steps ? config_.logit_noise : 0.0;
    if (config_.lr_decay_every > 0) {
      const int64_t past = r.steps_done - config_.lr_decay_start;
      const double lr = config_.lr *
                        (past > 0 ? std::pow(config_.lr_decay, static_cast<double>(past / config_.lr_decay_every)) : 1.0);
      algorithm_->SetLearningRate(lr);
    }
    // The graphs of this update: one, drawn uniformly (no draw for a single graph), or B distinct ones.
    std::vector<size_t> drawn;
    if (!multi()) {
      drawn.push_back(0);
    } else if (B == 1) {
      drawn.push_back(static_cast<size_t>(rng_() % tasks_.size()));
    } else {
      std::iota(pool.begin(), pool.end(), size_t{0});  // a function of the RNG alone, so a resumed run draws alike
      for (size_t i = 0; i < B; ++i) {
        std::swap(pool[i], pool[i + static_cast<size_t>(rng_() % (tasks_.size() - i))]);
        drawn.push_back(pool[i]);
      }
    }
    std::vector<Decoded> decoded(drawn.size());
    std::vector<std::vector<Score>> scores(drawn.size());
    std::vector<double> simulated_before(drawn.size());
    for (size_t b = 0; b < drawn.size(); ++b) {
      const auto t_sample = Clock::now();
      Policy& policy = *tasks_[drawn[b]].policy;
      simulated_before[b] = policy.simulation_seconds();
      const int64_t G = static_cast<int64_t>(policy.decision_groups().num_groups());
      decoded[b] = policy.Sample(K, rng_, noise);
      for (int64_t k = 0; k < K; ++k)
        placements[k] = ExpandDecision(*tasks_[drawn[b]].problem, policy.decision_map(), decoded[b].devices.data() + k * G);
      const auto t_score = Clock::now();
      scorers_[drawn[b]]->ScoreAll(placements, scores[b]);
      r.scoring_seconds += Since(t_score);
      r.policy_seconds += std::chrono::duration<double>(t_score - t_sample).count();
    }
    const auto t_update = Clock::now();
    std::vector<Batch> batches;
    for (size_t b = 0; b < drawn.size(); ++b) {
      batches.push_back(Batch{decoded[b], std::vector<double>(static_cast<size_t>(K)),
                              std::vector<uint8_t>(static_cast<size_t>(K)), r.steps_done, tasks_[drawn[b]].policy.get(),
                              static_cast<int64_t>(drawn[b])});
      for (int64_t k = 0; k < K; ++k) {
        batches[b].costs[k] = PlacementCost(scores[b][k].step_time, scores[b][k].valid);
        batches[b].valid[k] = scores[b][k].valid;
      }
    }
    const std::vector<UpdateStats> stats = algorithm_->UpdateAll(batches);
    double simulated = 0;  // Placeto's moves, counted as scoring
    for (size_t b = 0; b < drawn.size(); ++b) simulated += tasks_[drawn[b]].policy->simulation_seconds() - simulated_before[b];
    r.scoring_seconds += simulated;
    r.policy_seconds += Since(t_update) - simulated;
    ++r.steps_done;
    for (size_t b = 0; b < drawn.size(); ++b) {
      const size_t task = drawn[b];
      const int64_t G = static_cast<int64_t>(tasks_[task].policy->decision_groups().num_groups());
      TaskBest& best = r.tasks[task];
      double valid_time = 0;
      int valid = 0;
      for (int64_t k = 0; k < K; ++k) {
        if (!scores[b][k].valid) continue;
        valid_time += scores[b][k].step_time;
        ++valid;
        if (scores[b][k].step_time < best.step_time) {
          best.step_time = scores[b][k].step_time;
          best.step = r.steps_done;
          best.groups.assign(decoded[b].devices.begin() + k * G, decoded[b].devices.begin() + (k + 1) * G);
        }
      }
      r.best_step_time = r.tasks[0].step_time;
      r.best_step = r.tasks[0].step;
      if (task == 0 && best.step == r.steps_done) r.best_groups = best.groups;
      r.placements_evaluated += K;
      evaluated_total += K;
      CurvePoint c;
      c.step = r.steps_done;
      c.mean_step_time = valid ? valid_time / valid : std::nan("");
      c.best_step_time = r.best_step_time;
      double mean_cost = 0;
      for (double cost : batches[b].costs) mean_cost += cost;
      c.mean_reward = -(mean_cost / static_cast<double>(K));
      c.entropy = stats[b].entropy;
      c.elapsed = elapsed_before + Since(t0);
      c.valid_fraction = static_cast<double>(valid) / static_cast<double>(K);
      if (multi()) {
        c.task = static_cast<int64_t>(task);
        c.relative = c.mean_step_time / lower_bounds_[task];
        c.best_step_time = best.step_time;
      }
      r.curve.push_back(c);
    }

    printed_last = false;
    if (std::chrono::duration<double>(Clock::now() - last_progress).count() >= config_.progress_interval) {
      report(r.curve.back());
      last_progress = Clock::now();
      printed_last = true;
    }
    if (config_.checkpoint_every > 0 && r.steps_done % config_.checkpoint_every == 0 && r.steps_done < config_.steps) {
      SaveCheckpoint(r, elapsed_before + Since(t0), evaluated_total);
      WriteCurve(r.curve);
    }
    if (config_.after_step) config_.after_step(r.steps_done);
    if (config_.stop != nullptr && config_.stop->load() && r.steps_done < config_.steps) {
      r.interrupted = true;
      break;
    }
    if (config_.max_seconds > 0 && Since(t0) >= config_.max_seconds && r.steps_done < config_.steps) {
      r.budget_exhausted = true;
      break;
    }
  }
  if (!printed_last && !r.curve.empty() && r.curve.back().step == r.steps_done && r.placements_evaluated > 0)
    report(r.curve.back());
  r.seconds = Since(t0);
  r.placements_per_second = r.seconds > 0 ? static_cast<double>(r.placements_evaluated) / r.seconds : 0;
  if (!config_.out_dir.empty()) {
    SaveCheckpoint(r, elapsed_before + r.seconds, evaluated_total);
    WriteCurve(r.curve);
  }
  if (!r.best_groups.empty()) r.best_placement = ExpandDecision(problem(), policy().decision_map(), r.best_groups.data());
  return r;
}

std::string LearningCurveCsv(const std::vector<CurvePoint>& curve, bool multi) {
  std::string out = "step,mean_step_time_s,best_step_time_s,mean_reward,entropy,elapsed_s,valid_fraction";
  out += multi ? ",graph,relative_step_time\n" : "\n";
  char buf[320];
  for (const CurvePoint& c : curve) {
    std::snprintf(buf, sizeof buf, "%lld,%s,%s,%.9g,%.6g,%.3f,%.4g", static_cast<long long>(c.step),
                  std::isfinite(c.mean_step_time) ? Num(c.mean_step_time).c_str() : "",
                  std::isfinite(c.best_step_time) ? Num(c.best_step_time).c_str() : "", c.mean_reward, c.entropy,
                  c.elapsed, c.valid_fraction);
    out += buf;
    if (multi) {
      std::snprintf(buf, sizeof buf, ",%lld,%s", static_cast<long long>(c.task),
                    std::isfinite(c.relative) ? Num(c.relative).c_str() : "");
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::string LearningCurveSvg(const std::vector<CurvePoint>& curve, const std::string& title, bool relative) {
  const double W = 800, H = 440, left = 80, right = 20, top = 40, bottom = 50;
  double lo = INFINITY, hi = -INFINITY;
  int64_t max_step = 1;
  for (const CurvePoint& c : curve) {
    for (double v : {relative ? c.relative : c.mean_step_time, relative ? c.relative : c.best_step_time})
      if (std::isfinite(v) && v > 0) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    max_step = std::max(max_step, c.step);
  }
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::string escaped;
  for (char ch : title) escaped += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
  s << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escaped << "</text>\n";
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << W - left - right << "\" height=\""
    << H - top - bottom << "\" fill=\"none\" stroke=\"#888\"/>\n";
  if (!std::isfinite(lo)) {
    s << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no valid placement yet</text>\n</svg>\n";
    return s.str();
  }
  if (hi <= lo * 1.0001) {
    lo /= 1.1;
    hi *= 1.1;
  }
  const double llo = std::log10(lo), lhi = std::log10(hi);
  auto X = [&](double step) { return left + (W - left - right) * step / static_cast<double>(max_step); };
  auto Y = [&](double v) { return top + (H - top - bottom) * (1 - (std::log10(v) - llo) / (lhi - llo)); };
  char buf[96];
  for (int i = 0; i <= 5; ++i) {  // y ticks, log-spaced
    const double v = std::pow(10.0, llo + (lhi - llo) * i / 5);
    s << "<line x1=\"" << left - 4 << "\" x2=\"" << W - right << "\" y1=\"" << Y(v) << "\" y2=\"" << Y(v)
      << "\" stroke=\"#eee\"/>\n<text x=\"" << left - 6 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">";
    if (relative) {
      std::snprintf(buf, sizeof buf, "%.3gx", v);
      s << buf << "</text>\n";
    } else {
      s << FormatStepTime(v) << "</text>\n";
    }
  }
  for (int i = 0; i <= 5; ++i) {  // x ticks
    const double step = static_cast<double>(max_step) * i / 5;
    std::snprintf(buf, sizeof buf, "%.0f", step);
    s << "<text x=\"" << X(step) << "\" y=\"" << H - bottom + 16 << "\" text-anchor=\"middle\">" << buf << "</text>\n";
  }
  s << "<text x=\"" << (left + W - right) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">policy step</text>\n";
  auto series = [&](bool best, const char* color, const char* label, double y_label) {
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"" << (best ? 2 : 1) << "\" points=\"";
    for (const CurvePoint& c : curve) {
      const double v = relative ? c.relative : best ? c.best_step_time : c.mean_step_time;
      if (std::isfinite(v) && v > 0) {
        std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(static_cast<double>(c.step)), Y(v));
        s << buf;
      }
    }
    s << "\"/>\n<text x=\"" << W - right - 8 << "\" y=\"" << y_label << "\" text-anchor=\"end\" fill=\"" << color
      << "\">" << label << "</text>\n";
  };
  if (relative) {
    series(false, "#7fa7d9", "mean step time of the step's valid samples / the graph's lower bound", top + 16);
  } else {
    series(false, "#7fa7d9", "mean step time of the step's valid samples", top + 16);
    series(true, "#d9480f", "best step time so far", top + 32);
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace allot::rl
