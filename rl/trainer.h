#pragma once
// The training loop shared by every learned placer: sample K placements from the policy (rl/policy.h), score them,
// hand the batch to the learning algorithm (rl/algorithm.h), keep the best placement seen; checkpoint, resume,
// stop on request or when a time budget runs out, and record a learning curve. A new learned placer brings a
// policy (and maybe an algorithm), never a copy of this loop.
//
// Where this departs from the papers (REFERENCES Part I §1-§4) and why:
// - Placements are scored by allot's simulator (cost_model/simulator.h), not by running them on GPUs: the
//   simulator is deterministic, so one run per placement replaces the papers' repeated timing (HDP: 10 steps,
//   drop 5, median), and a step takes milliseconds instead of seconds. `RewardSource::kMeasured` times each
//   placement on the runtime instead (the caller supplies that scorer: `allot train --reward measured` wires
//   runtime/measure.h, keeping rl/ free of the runtime); measured runs are not reproducible bit for bit.
// - One synchronous controller: the K samples of a step are decoded as one batch and simulated in parallel on up
//   to `threads` std::threads (one Simulator each), instead of the papers' asynchronous controllers sharing a
//   parameter server. Sample k always goes to the same slot of the batch, so the result does not depend on the
//   thread count.
// - Determinism: everything random comes from one std::mt19937_64 seeded by `seed` (policy initialisation from a
//   second one derived from it); with the same `policy_threads` (LibTorch intra-op threads; 1 by default), the
//   same seed gives the same placements, and a resumed run reaches exactly the state of an uninterrupted one (the
//   checkpoint holds the parameters, the algorithm's state, the step, the RNG state, the best placement and the
//   curve). A time budget (`max_seconds`) ends a run at a step that depends on the machine's speed; the steps it
//   did are still a function of the seed.
// - Many graphs (GDP's batch training, Placeto's generalisation): a trainer may hold several tasks, one policy per
//   graph, all sharing one network. Each update draws its graph uniformly from the seeded RNG (one graph per
//   batch of K samples), so baselines and advantage scales stay per graph (rl/algorithm.h Batch::task); the best
//   placement is kept per graph, and the curve gains the graph and the step time relative to the graph's lower
//   bound (cost_model/bounds.h), the one number comparable across graphs. With one task no draw is made: the
//   single-graph runs are unchanged. GDP-batch (`graphs_per_update` B > 1): each update draws B distinct graphs,
//   samples K placements on each and takes one optimizer step on the mean of their losses (Algorithm::UpdateAll),
//   so no single graph's batch steers the shared network alone; the curve gets one point per graph drawn.
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "rl/algorithm.h"
#include "rl/policy.h"

namespace allot::rl {

enum class RewardSource : uint8_t { kSimulated, kMeasured };
// "simulated" or "measured"; throws Error otherwise.
RewardSource ParseRewardSource(const std::string& name);

class PlacementScorer;

struct TrainerConfig {
  int64_t steps = 500;       // total policy updates (a resumed run continues up to this count)
  int64_t samples = 4;       // K placements per update (HDP: k = 4)
  int64_t graphs_per_update = 1;  // B: graphs per update of a multi-graph run (at most the number of graphs)
  // HDP's exploration noise on the logits (rl/seq2seq_net.h): std logit_noise x RMS(logits) for the first
  // noise_steps updates (HDP code: 0.5 until step 750; 0: none).
  double logit_noise = 0;
  int64_t noise_steps = 0;
  // Learning-rate decay, staircase as HDP's code (x0.95 every 50 steps after step 400): lr x lr_decay every
  // lr_decay_every steps after lr_decay_start (lr_decay_every 0: constant lr, and `lr` unused).
  double lr = 0.001;
  double lr_decay = 1.0;
  int64_t lr_decay_every = 0;
  int64_t lr_decay_start = 0;
  uint64_t seed = 1;
  int threads = 1;           // simulator threads (results do not depend on it)
  // LibTorch intra-op threads while training (restored after). The policy's matrices are small (K x hidden): a
  // second thread gains nothing (Inception-V3, 128 groups: 87 placements/s with 1, 86 with 2), and 1 keeps a
  // seed's results independent of the machine's core count.
  int policy_threads = 1;
  // false: keep the policy's parameters as given (fine-tuning a trained policy) instead of initialising them from
  // the seed.
  bool init_parameters = true;
  // Budget: stop after this many seconds of training in this process (0: none). Checked after every step.
  double max_seconds = 0;
  RewardSource reward = RewardSource::kSimulated;
  // Scores the samples; null: the simulator (required for kMeasured). Called from the training thread only.
  std::shared_ptr<PlacementScorer> scorer;

  std::string out_dir;           // empty: no files (the placer's in-process training)
  int64_t checkpoint_every = 0;  // steps between checkpoints (0: only the final one); needs out_dir
  bool resume = false;           // continue from out_dir/checkpoint.pt

  // Progress lines ("step 120/500  best 12.3 ms  ..."), at most one per progress_interval seconds plus the last.
  std::function<void(const std::string&)> progress;
  double progress_interval = 2.0;
  // Checked after every step: when set, the trainer finishes the step, checkpoints and returns (SIGINT).
  const std::atomic<bool>* stop = nullptr;
  // Called after every completed step with its number (1-based) — tests use it to interrupt a run.
  std::function<void(int64_t)> after_step;
};

struct CurvePoint {
  int64_t step = 0;              // 1-based
  double mean_step_time = 0;     // seconds, over the step's valid samples (NaN if none was valid)
  double best_step_time = 0;     // seconds, best valid so far (inf if none yet)
  double mean_reward = 0;        // -mean cost
  double entropy = 0;            // mean per-group entropy, nats
  double elapsed = 0;            // seconds since the run started (resumed runs continue the count)
  double valid_fraction = 0;
  int64_t task = 0;              // the graph this step trained on (multi-graph runs)
  double relative = 0;           // mean_step_time / the graph's lower bound (multi-graph runs; NaN if none valid)
};

// The best placement sampled for one graph.
struct TaskBest {
  std::vector<int64_t> groups;   // per decision group; empty while none was valid
  double step_time = std::numeric_limits<double>::infinity();
  int64_t step = 0;
};

struct TrainResult {
  std::vector<DeviceId> best_placement;  // per node; empty when no valid placement was found
  std::vector<int64_t> best_groups;      // per decision group
  double best_step_time = std::numeric_limits<double>::infinity();
  int64_t best_step = 0;                 // the step that found it
  int64_t steps_done = 0;                // including the steps of the run resumed from
  bool interrupted = false;
  int64_t placements_evaluated = 0;      // in this process
  double placements_per_second = 0;      // in this process, over the whole loop (policy + simulation)
  double seconds = 0;                    // this process's training time
  double policy_seconds = 0;             // of which sampling and updating the policy
  double scoring_seconds = 0;            // of which scoring placements (simulator or runtime; Placeto: its moves too)
  bool budget_exhausted = false;         // stopped by max_seconds
  std::vector<CurvePoint> curve;
  std::vector<TaskBest> tasks;           // per graph; best_* above are the first graph's
};

// Scores placements (one device per node): a step time and whether it fits.
struct Score {
  double step_time = 0;
  bool valid = true;
};
class PlacementScorer {
 public:
  virtual ~PlacementScorer() = default;
  virtual void ScoreAll(const std::vector<std::vector<DeviceId>>& placements, std::vector<Score>& scores) = 0;
};
// The simulator, `threads` of them in parallel (one Simulator per thread, created once).
std::unique_ptr<PlacementScorer> MakeSimulatorScorer(const PlacementProblem& problem, int threads);

// One graph of a training run: its problem (borrowed; it must outlive the trainer) and the policy bound to it.
struct TrainTask {
  const PlacementProblem* problem = nullptr;
  std::unique_ptr<Policy> policy;
};

class Trainer {
 public:
  // The problem (and its graph, cluster and costs) must outlive the trainer; `algorithm` optimizes `policy`.
  Trainer(const PlacementProblem& problem, TrainerConfig config, std::unique_ptr<Policy> policy,
          std::unique_ptr<Algorithm> algorithm);
  // Several graphs: the tasks' policies share one network (the first's module() is the one saved and optimized).
  // A custom scorer (config.scorer) is for one graph only.
  Trainer(std::vector<TrainTask> tasks, TrainerConfig config, std::unique_ptr<Algorithm> algorithm);
  ~Trainer();

  TrainResult Train();

  Policy& policy() const { return *tasks_[0].policy; }
  const TrainerConfig& config() const { return config_; }
  const PlacementProblem& problem() const { return *tasks_[0].problem; }
  size_t num_tasks() const { return tasks_.size(); }
  const TrainTask& task(size_t i) const { return tasks_[i]; }
  const CoarseGraph& decision_groups() const { return policy().decision_groups(); }
  const DecisionMap& decision_map() const { return policy().decision_map(); }
  // The checkpoint's path: out_dir/checkpoint.pt.
  std::string CheckpointPath() const;

 private:
  std::string Fingerprint() const;
  void SaveCheckpoint(const TrainResult& r, double elapsed, int64_t evaluated_total) const;
  void LoadCheckpoint(TrainResult& r, double& elapsed, int64_t& evaluated_total);
  void WriteCurve(const std::vector<CurvePoint>& curve) const;

  bool multi() const { return tasks_.size() > 1; }

  std::vector<TrainTask> tasks_;
  TrainerConfig config_;
  std::unique_ptr<Algorithm> algorithm_;
  std::vector<std::shared_ptr<PlacementScorer>> scorers_;  // per task
  std::vector<double> lower_bounds_;                       // per task, seconds (multi-graph runs)
  std::mt19937_64 rng_;
};

// Learning curve as CSV (step,mean_step_time_s,best_step_time_s,mean_reward,entropy,elapsed_s,valid_fraction, and
// with `multi` graph,relative_step_time) and as an SVG plot (step time per step, log scale: the step's mean over
// valid samples and the best so far).
std::string LearningCurveCsv(const std::vector<CurvePoint>& curve, bool multi = false);
// `relative`: plot the multi-graph curve's relative step times instead.
std::string LearningCurveSvg(const std::vector<CurvePoint>& curve, const std::string& title, bool relative = false);

// "12.3 ms", "1.23 s", "45.6 us".
std::string FormatStepTime(double seconds);

}  // namespace allot::rl
