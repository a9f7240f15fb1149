#pragma once
// Placeto (Addanki et al., NeurIPS 2019; REFERENCES Part II §1; reference code aravic/generalizable-device-placement):
// placement as progressive refinement. An episode starts from a placement and visits every decision unit once, in
// topological order; at each visit the policy, reading the graph *with its current placement*, moves the unit to a
// device, and the placement is re-simulated. The reward of step t is the drop in cost, r_t = c(T_t) - c(T_{t+1})
// (c = sqrt(step time), rl/algorithm.h), so the return from step t is c(T_t) - c(T_final): what the moves from t
// on gained. The paper's algorithm (rl/progressive_reinforce.h) weighs each step's log-probability by its return
// against a per-step baseline; `algorithm=ppo` trains on the final cost instead (below).
//
// State per unit (the reference code's NodeEmbeddings, pgraph.py): Placeto's columns — compute time (the members'
// times, averaged over the devices the policy offers), bytes exchanged with other units and resident memory, each
// divided by its maximum over the graph as the reference normalises them — ‖ the size-independent unit features
// (rl/unit_graph.h: op family, shapes, position; not in Placeto, kept for graphs of many kinds) ‖ one-hot of its
// current device ‖ done bit (visited this episode) ‖ current bit (being placed) ‖ its start time in the last
// simulation minus the current unit's (the reference's normalize_start_time), divided by the largest absolute such
// difference (the reference divides by the largest difference, which is near 0 when the current unit starts last: the
// state blew up and the policy turned deterministic within 30 updates even at lr 1e-4). Network: Placeto's encoder
// (rl/placeto_encoder.h: two sweeps, then own ‖ ancestors ‖ descendants ‖ parallel for the current unit) and a
// classifier MLP with hidden layers [2·in, in] to one logit per device. The device count is part of the network: a
// policy refuses a cluster that offers it another.
//
// Choices and deviations, and why:
// - Scale. Under PyTorch's ±1/sqrt(fan-in) init this network's eight or more ReLU layers shrank the logits to
//   about 1e-3 whatever the state: on the tests' toy (8 unequal chains, 2 devices) the policy stayed uniform for 300
//   updates at lr 0.001, or collapsed at 0.01. Now: Glorot-uniform layers with zero biases (TensorFlow's default,
//   what the reference code ran with), the output layer's weights times 0.01 (Glorot alone started nas_cnn graphs
//   at logit gaps of 2-4, 85-97% on one device), the three sets averaged (the reference's --normalize-aggs: summed
//   over Inception-V3's 128 units the hidden values reached ~15 and the policy was deterministic in 5 updates), and
//   the sweeps layer-normalised (rl/placeto_encoder.h). On the toy (RlPlacerTest's setup with seed=1, 2, 3, 7, 11,
//   13) 5 of 6 seeds reach the optimum (18 ms) within 200 updates, seed 11 settles at 21 ms.
// - What it learns on real graphs: on nas_cnn graphs (32 units) and Inception-V3 it turns deterministic within
//   about 25 updates on `single`'s placement, every unit left on (or gathered onto) one GPU. Its first samples are
//   near-uniform moves, all slower than `single`, so the per-step returns reward staying. Random starts and starts
//   from the best placement so far (the reference's random and --init-best-pl options; tried, not kept) gather onto
//   one GPU the same way; in builds without the layer normalisation a lower lr (1e-4) did not learn in 200 updates
//   and an entropy bonus (0.03) did not delay it. README Status.
// - algorithm=ppo (not in Placeto; the default stays its REINFORCE): the whole episode's cost, the final placement's,
//   against the batch's mean, PPO's clipped surrogate over 4 epochs that replay the episodes with their moves
//   forced (Evaluate). On one nas_cnn graph (seed 1, 32 units, 8 episodes per update, 110 s) it settles at 8.67 ms
//   where REINFORCE is deterministic on `single`'s 9.37 by update 19 (refine: 7.59): the per-step returns' credit
//   assignment, not the network, drives that collapse. On 20 nas_cnn graphs it too ends on `single` (entropy 0 by
//   update ~120 of 226 in 600 s; with an entropy bonus of 0.03 it keeps sampling but decodes `single`, with 0.1 it
//   stays near-uniform). On the tests' toy (lr 0.001) 4 of 6 seeds end on the optimum, seed 3 at 21 ms and seed 11
//   drifts back to 36 ms after reaching it (at lr 0.0003: 5 of 6, seed 1 at 19 ms). At 64 units with an entropy
//   bonus of 0.03 (268 updates in 600 s on the 20 graphs) it beats `single` zero-shot on 5 of 8 unseen graphs, and
//   fine-tuned for 120 s each ends 2.2% behind `refine` searching over the same 64 units (README).
// - keep_best (not Placeto's output; its reward is the reference code's use-min-runtime return): an episode's
//   placement is the best one it visited, i.e. its moves up to the step that reached the lowest cost with the later
//   units back on the start device, and step t's return is the drop of the best cost so far from t to the end.
//   Every visited placement is simulated anyway, so this is free; a greedy decode is then never worse than the
//   start (`single`'s placement on identical GPUs), and exploring moves no longer costs an episode its result. On
//   20 nas_cnn graphs (600 s, 8 episodes per update) it does not find much more: for about 60 updates nearly every
//   near-uniform episode's best is its start (any prefix of random moves is slower than `single`), then the policy
//   turns deterministic (REINFORCE by update 71, PPO by update 15); zero-shot on 8 unseen graphs REINFORCE's policy
//   beats `single` by 0.3-4.9% on 4 of them and equals it on the others (README).
// - Episodes start from every unit on the first offered device (the reference code's "all-zeros" start): a start
//   that is the same for training and for placing an unseen graph, so a placement is a function of the policy.
// - The K episodes of an update run side by side, one batched encoder pass per step for all of them (the reference
//   runs one episode per worker), without gradients; their re-simulations run on the policy's own simulator, which
//   records start times. Every step's state is kept, and Score() computes the log-probabilities and entropies of
//   the choices for all U x K states in one differentiable pass (the same values; the reference differentiates
//   each step's pass): on Inception-V3 an update is 4x faster and needs a sixth of the memory.
// - Re-simulation is a full run of allot's simulator per step (U runs per episode), not an incremental one: on
//   graphs of up to ~10k nodes the encoder costs more than the simulator (at 50k nodes the re-simulations take
//   about 45% of an update: README, Encoder cost).
// - Decision units as the other placers': forced co-location groups, chain fusion, cut to at most `max_groups`
//   (Placeto coarsens its graphs before placing them: REFERENCES §1 "Graph coarsening").
#include <torch/nn/modules/container/sequential.h>

#include <memory>
#include <string>

#include "cost_model/simulator.h"
#include "placers/placer.h"
#include "rl/placeto_encoder.h"
#include "rl/policy.h"
#include "rl/unit_graph.h"

namespace allot::rl {

struct PlacetoConfig {
  int64_t num_devices = 2;  // set from the decision map
  int64_t width = 32;       // the encoder's d
  size_t max_groups = 128;
  bool fuse_chains = true;
  bool gpu_only = true;
  bool mean_sets = true;  // average the ancestor/descendant/parallel sets (below: why)
  bool keep_best = false;  // an episode's placement: the best it visited, not its last (below)
};

// Placeto's network: the encoder and the classifier, shared by the policies of every graph it trains on.
class PlacetoNetImpl : public torch::nn::Module {
 public:
  explicit PlacetoNetImpl(const PlacetoConfig& config);
  // x [U, J, F] (F = state_width(): J states of the graph) and the position placed in each ([J] int64) -> logits
  // [J, num_devices].
  at::Tensor forward(const at::Tensor& x, const SweepPlan& plan, const at::Tensor& current);
  const PlacetoConfig& config() const { return config_; }
  int64_t state_width() const;
  // Glorot-uniform layers, the output layer's weights scaled down (below: why).
  void ResetParameters(uint64_t seed);

 private:
  PlacetoConfig config_;
  PlacetoEncoder encoder_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(PlacetoNet);

class PlacetoPolicy : public Policy {
 public:
  PlacetoPolicy(const PlacementProblem& problem, PlacetoConfig config, PlacetoNet net = nullptr);

  std::string_view kind() const override { return "placeto"; }
  // K episodes; Decoded::step_returns holds each step's return (cost units; positive: the moves gained).
  Decoded Sample(int64_t samples, std::mt19937_64& rng, double logit_noise) override;
  Decoded Greedy() override;
  // Scores batch.actions (the moves, whatever keep_best kept) again: from the states the last Sample() recorded
  // where they are its episodes, else by replaying the moves.
  Decoded Evaluate(const Decoded& batch) override;
  void CheckActions(const Decoded& d, const std::string& source) const override;
  double simulation_seconds() const override { return simulation_seconds_; }
  torch::nn::Module& module() override { return *net_; }
  void ResetParameters(uint64_t seed) override { net_->ResetParameters(seed); }
  nlohmann::ordered_json Config() const override;

  PlacetoNet net() const { return net_; }
  const PlacetoConfig& config() const { return config_; }

 private:
  // K episodes: actions drawn from `rng`, or greedy (rng null), or `forced` (K x U, in unit order).
  Decoded Episodes(int64_t K, std::mt19937_64* rng, const int64_t* forced);
  // out's step_log_prob, log_prob and entropy (differentiable) for its actions, from every step's state ([step]
  // [position][episode][feature], as Episodes records them), all steps in one pass (or a few).
  void Score(const std::vector<float>& states, Decoded& out);
  // Simulates `devices` (one per decision unit): cost, and each unit's start time (seconds, by position) into `start`.
  double Simulate(const std::vector<int64_t>& devices, float* start);
  // Placeto's static columns [U, kPlacetoColumns], by position.
  at::Tensor PlacetoColumns() const;
  // Keeps the sampled episodes of `out` (states as Score reads them), so that Evaluate scores them again without
  // replaying their K x U simulations: PPO's epochs re-score one batch 4 times.
  void Remember(const std::vector<float>& states, const Decoded& out);

  const PlacementProblem& problem_;
  PlacetoConfig config_;
  UnitGraph graph_;
  struct Replay {  // one sampled episode: its moves, what they gave, and every step's state ([step][position][Fd])
    std::vector<int64_t> actions, devices;
    std::vector<double> step_returns;
    std::vector<float> states;
  };
  std::vector<Replay> replays_;  // the last Sample()'s
  double simulation_seconds_ = 0;
  SweepPlan plan_;
  at::Tensor fixed_;  // [U, 1, kColumns + unit features]: PlacetoColumns() ‖ the unit features, made once
  Simulator simulator_;
  PlacetoNet net_{nullptr};
};

std::unique_ptr<Policy> LoadPlacetoPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                          const std::string& source);

}  // namespace allot::rl
