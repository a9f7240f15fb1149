#pragma once
// HDP's hierarchical planner (Mirhoseini, Goldie, Pham, Steiner, Le, Dean, ICLR 2018; REFERENCES Part I §2): a
// Grouper assigns every op to one of G groups, a Placer assigns every group to a device, and both are trained
// jointly with one objective on log π_grouper + log π_placer (rl/reinforce.h, with HDP's masking of failing
// samples). No chain fusion or hand coarsening: the Grouper learns the grouping, from a positional prior (below).
//
// Decision units: the problem's forced co-location groups (an op with its gradient and update ops, the model's
// colocation classes), the finest partition a placement may use; the Grouper assigns each to a group.
//   Grouper  per unit: op-type embedding (op families, 20 wide as the paper's) ‖ the unit's features
//            (rl/features.h: output shape, work, neighbours) ‖ its topological position (sin/cos of 8 octaves)
//            -> Linear(64) -> tanh -> Linear(G) -> softmax; one sample per unit. HDP's code tells the Grouper
//            where an op is by its neighbours' raw topological indices; a raw index is a poor input to a tanh
//            layer, so allot encodes the position as a Transformer does. HDP's code has no nonlinearity between its two matmuls (one linear map); the paper
//            says "feed-forward": the tanh is ours, as a linear grouper can only cut the feature space by
//            hyperplanes.
//   Groups   per sample, each group's embedding as the paper lists it: per-op-family op counts, summed output
//            shapes, and its adjacency to the other groups (counts of edges out to and in from each group, each row
//            divided by its max + 1 as HDP's code does); plus its summed FLOPs and memory (ours: the simulator's
//            costs depend on them; the paper's runtime did too). Counts, shapes and work are log-scaled like
//            rl/features.h's.
//   Placer   the seq2seq network (rl/seq2seq_net.h) over the G group embeddings, one input per sample (each
//            sample has its own grouping); the paper's 2-layer bi-LSTM becomes allot's one-layer bi-LSTM with the
//            decoder reading its aligned state (seq2seq_net.h says why).
// Positional prior (ours; `prior`, σ in groups, 0.2 by default, 0 for none): unit u's logit for group g gains -((g +
//            1/2 - r_u G) / σ)^2 / 2, r_u its topological rank in [0, 1), so the Grouper starts on G runs of the
//            topological order and its network learns the departures (at σ = 0.2 a unit in the middle of a run needs
//            a 25-nat push to leave it, one at a run's edge none). Why: every sample draws a group per unit, and in
//            allot's simulator a grouping that is not nearly deterministic scatters each group's units over the
//            graph, so every placement but "all groups on one GPU" pays for transfers along most edges; the Placer
//            learns exactly that and stays there (NMT-4: `single`'s 380.8 ms at every budget). HDP's code does not
//            hit this: its Grouper reads raw topological indices through a linear map, whose logits are large and
//            monotone in the position, so its first groupings are near-deterministic runs too. Measured on NMT-4
//            (p100x4, training, 150 s, seed 1: `allot train gen:nmt,layers=4 --mode training --cluster p100x4
//            --placer hierarchical:seconds=150,prior=S --steps 1000000 --seed 1 --out DIR`): no prior 380.8 ms
//            (`single`'s), σ = 1: 376.1, 0.5: 367.4, 0.3: 345.8, 0.2: 327.7, 0.1: 313.1 (where the Grouper can move
//            only the units at a run's edge); the runs themselves, fixed (the Grouper bypassed): 314.5. 0.2 keeps
//            the Grouper something to learn; the README's 30-minute runs use it. Tried without it: a
//            sharper random Grouper (its output layer's init x10, x40: 378.5, 377.5), the rank as a raw input
//            (378.5), HDP's lr 0.1 (the Grouper collapses to a few groups: 380.7), one grouping shared by the K
//            samples as HDP (σ = 0.5: 367.7), no entropy bonus on the Grouper (σ = 0.3: 347.0) (experiments, not
//            options). The noise below is scaled to the learned logits and added before the prior.
// G = min(256, 20 x devices) by default (HDP's code). Empty groups are placed too (as HDP's): they cost nothing.
// Exploration noise (HDP's code: std 0.5 x RMS(logits) until step 750, on both) applies to the Placer per sample
// and step as in seq2seq, and to the Grouper's logits once per batch (one [units, G] noise matrix shared by the K
// samples: per-sample noise would take K x units x G normal draws per update).
// Deviation: HDP samples one grouping and k = 4 placements of it per update; here each of the K samples draws its
// own grouping and placement, so every sample informs both policies.
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>

#include "placers/placer.h"
#include "rl/seq2seq_net.h"

namespace allot::rl {

struct HierarchicalConfig {
  int64_t groups = 0;          // G; 0: min(256, 20 x devices)
  int64_t grouper_hidden = 64;  // HDP: 64
  int64_t op_embedding = 20;    // HDP paper: 20
  double prior_width = 0.2;     // σ of the Grouper's positional prior, in groups (above); 0: none, as HDP
  Seq2SeqConfig placer;         // op_embedding, numeric and num_devices are set by the policy
  bool gpu_only = true;
};

class HierarchicalPolicy : public Policy {
 public:
  HierarchicalPolicy(const PlacementProblem& problem, HierarchicalConfig config);

  std::string_view kind() const override { return "hierarchical"; }
  // Actions per sample: the group of every unit, then the device of every group.
  Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) override;
  Decoded Greedy() override;
  Decoded Evaluate(const Decoded& batch) override;
  void CheckActions(const Decoded& d, const std::string& source) const override;
  torch::nn::Module& module() override { return module_; }
  void ResetParameters(uint64_t seed) override;
  nlohmann::ordered_json Config() const override;

  int64_t num_groups() const { return config_.groups; }
  // Width of a group's embedding: families + shape dims + 2 work features + 2G adjacency.
  int64_t GroupFeatureWidth() const;
  // The placer's input for `samples` groupings (samples x units group indices): [samples, G, width].
  at::Tensor GroupInputs(const std::vector<int64_t>& groups, int64_t samples) const;

 private:
  at::Tensor GrouperLogits();
  // Scores (and, with `rng`, draws or, without, takes the argmax of) the groupings, then runs the placer.
  Decoded Decode(int64_t samples, std::mt19937_64* rng, double logit_noise, const Decoded* forced);

  HierarchicalConfig config_;
  at::Tensor unit_types_;    // [U] op family
  at::Tensor unit_numeric_;  // [U, kNumericFeatures]
  at::Tensor unit_position_;  // [U, 16]: sinusoidal encoding of the unit's topological position
  at::Tensor grouper_prior_;  // [U, G] positional prior added to the Grouper's logits; undefined without one
  std::vector<float> unit_families_;  // [U, OpTypeVocabulary()]: each unit's members per op family
  torch::nn::Module module_;
  torch::nn::Embedding op_embedding_{nullptr};
  torch::nn::Linear grouper_hidden_{nullptr}, grouper_out_{nullptr};
  Seq2SeqNet placer_{nullptr};
};

std::unique_ptr<Policy> LoadHierarchicalPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                               const std::string& source);

}  // namespace allot::rl
