#pragma once
// The learning algorithms behind one interface: reinforce (rl/reinforce.h), ppo (rl/ppo.h), ce (rl/cross_entropy.h).
// An algorithm owns its optimizer over a policy's parameters and turns one batch of K scored samples into an
// update; the trainer (rl/trainer.h) calls it once per batch and never looks inside. GDP's batch training hands it
// several graphs' batches at once: one optimizer step on the mean of their losses (UpdateAll).
//
// Shared by all (REFERENCES Part I §7.1): a sample's cost is c = sqrt(step time in seconds), an invalid placement
// (out of memory) counts as a 100 s step (cost 10, HDP's failing_signal); lower is better.
#include <torch/optim/adam.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rl/archive_file.h"
#include "rl/policy.h"

namespace allot::rl {

inline constexpr double kInvalidStepTime = 100.0;  // seconds, HDP code's failing_signal

// sqrt(step time), or sqrt(kInvalidStepTime) for an invalid placement.
double PlacementCost(double step_time, bool valid);

struct Batch {
  const Decoded& decoded;           // as sampled (its tensors carry the sampling pass's autograd graph)
  std::vector<double> costs;        // per sample, PlacementCost
  std::vector<uint8_t> valid;       // per sample
  int64_t step = 0;                 // 0-based index of this update
  Policy* policy = nullptr;         // the policy that sampled it (null: the algorithm's own)
  int64_t task = 0;                 // the graph it was sampled on (multi-graph training): baselines are per graph
};

struct UpdateStats {
  double loss = 0;
  double mean_cost = 0;
  double baseline = 0;  // the one the update used
  double entropy = 0;   // mean over samples of the mean per-decision entropy
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // One batch: UpdateAll of it alone.
  UpdateStats Update(const Batch& batch);
  // Batches of distinct graphs sharing one network (GDP-batch): each batch's loss as Update alone would form it
  // (its own baseline and advantage scale), their mean minimised in one optimizer step; one UpdateStats per batch.
  // Algorithms whose state follows one graph's samples (ce) throw Error for more than one batch.
  virtual std::vector<UpdateStats> UpdateAll(const std::vector<Batch>& batches) = 0;
  virtual void SetLearningRate(double lr) = 0;
  // Its state (optimizer moments, baselines, buffers): a resumed run continues bit for bit.
  virtual void Save(ArchiveWriter archive) const = 0;
  // Throws Error naming `source` for state that does not fit the policy (rl/checked_load.h).
  virtual void Load(const ArchiveReader& archive, const std::string& source) = 0;
  // Its hyper-parameters, "key=value;..." (a checkpoint resumes only under the same ones).
  virtual std::string Fingerprint() const = 0;
};

// The exponential moving average of the batches' mean cost (ColocRL, HDP: decay 0.9). It starts at the first
// batch's mean (HDP's code starts at the failing cost 10 instead; starting at the first batch gives an unbiased
// first update rather than one that rewards every sample).
class EmaBaseline {
 public:
  explicit EmaBaseline(double decay) : decay_(decay) {}
  // The baseline for a batch of mean cost `mean` (set from it on the first batch).
  double Before(double mean);
  void After(double mean) { value_ = decay_ * value_ + (1.0 - decay_) * mean; }
  double value() const { return value_; }
  void Save(ArchiveWriter archive, const std::string& suffix = "") const;
  void Load(const ArchiveReader& archive, const std::string& source, const std::string& suffix = "");

 private:
  double decay_;
  double value_ = 0;
  bool started_ = false;
};

// One EmaBaseline per graph of a multi-graph run (a graph's step times say nothing about another's), created on
// first use. The first graph's saves under EmaBaseline's own keys, so a one-graph checkpoint is unchanged.
class TaskBaselines {
 public:
  explicit TaskBaselines(double decay) : decay_(decay) {}
  EmaBaseline& of(int64_t task);
  void Save(ArchiveWriter archive) const;
  void Load(const ArchiveReader& archive, const std::string& source);

 private:
  double decay_;
  std::vector<EmaBaseline> baselines_;
};

// Cost advantages A_k = (c_k - b) · s (positive: worse than the baseline), with s = 1 / (std_k(c) + 1e-6 · |b|) when `normalize` (not in the papers;
// standard practice, e.g. GRPO's per-group scaling: the policy-gradient term's scale stops depending on how much the
// batch's step times differ, so the entropy bonus and learning rate keep one meaning as the policy sharpens), else 1.
// `mask`: samples whose entry is 0 get advantage 0.
std::vector<float> Advantages(const std::vector<double>& costs, double baseline, bool normalize,
                              const std::vector<uint8_t>* mask = nullptr);
// s above.
double AdvantageScale(const std::vector<double>& costs, double baseline, bool normalize);

// Adam over a policy's parameters with global-norm gradient clipping (HDP's grad_bound = 1.0; 0: off), shared by
// the algorithms, with its save/load.
class PolicyOptimizer {
 public:
  PolicyOptimizer(Policy& policy, double lr, double grad_clip);
  // zero_grad, backward, clip, step; a loss without a gradient (a graph without decision units) is skipped.
  void Step(const at::Tensor& loss);
  void SetLearningRate(double lr);
  void Save(ArchiveWriter archive, const std::string& key) const;
  void Load(const ArchiveReader& archive, const std::string& key, const std::string& source);

 private:
  Policy& policy_;
  torch::optim::Adam adam_;
  double grad_clip_;
};

std::string FingerprintNumber(double v);  // %.17g

}  // namespace allot::rl
