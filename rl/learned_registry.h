#pragma once
// The learned placers as one explicit table (rl/learned_placers.cc): for each, its options, the policy it trains
// (rl/policy.h), the algorithm that trains it (rl/algorithm.h) and how a saved policy of it is rebuilt. The placer
// registry (RegisterLearnedPlacers), `allot train` and `allot place --policy` all read this table; nothing else
// lists the learned placers.
//
//   seq2seq       ColocRL (ICML'17): attention seq2seq over co-location groups, REINFORCE
//   hierarchical  HDP (ICLR'18): a Grouper over every op and a seq2seq Placer over its groups, joint REINFORCE
//   spotlight     Spotlight (ICML'18): the seq2seq policy with a value head, PPO over the multi-stage MDP
//   post          Post (NeurIPS'18): a categorical distribution per group, PPO every batch, a closed-form
//                 cross-entropy refit to the elite 10% every N samples
//   gdp           GDP (2019): GraphSAGE + segment attention, one-shot, PPO; trains on many graphs and places unseen
//                 ones
//   placeto       Placeto (NeurIPS'19): progressive episodes over a placement, a two-sweep graph network,
//                 REINFORCE with per-step baselines; trains on many graphs and places unseen ones
#include <memory>
#include <string>
#include <vector>

#include "placers/options.h"
#include "placers/placer.h"
#include "rl/algorithm.h"
#include "rl/policy.h"
#include "rl/trainer.h"

namespace allot::rl {

struct LearnedPlacerDef {
  const char* name;
  const char* description;
  std::vector<OptionSpec> (*options)();
  // A fresh policy for `problem` from the placer's options (parameters are set by the trainer from its seed).
  std::unique_ptr<Policy> (*make_policy)(const PlacementProblem& problem, const OptionValues& options);
  std::unique_ptr<Algorithm> (*make_algorithm)(Policy& policy, const OptionValues& options);
  // A saved policy's network over `problem`, from policy.json (`source`); parameters are loaded after.
  std::unique_ptr<Policy> (*load_policy)(const PlacementProblem& problem, const nlohmann::json& j, const std::string& source);
  // Graph-generic placers (their network reads any graph): a policy over `problem` that shares `trained`'s network.
  // Null for the placers whose network is tied to one graph; only the generic ones train on many graphs, and
  // their saved policies place graphs other than the ones they were trained on.
  std::unique_ptr<Policy> (*share_policy)(const PlacementProblem& problem, Policy& trained) = nullptr;
};

const std::vector<LearnedPlacerDef>& LearnedPlacerDefs();
// Throws Error naming the learned placers when `name` is none of them.
const LearnedPlacerDef& FindLearnedPlacer(const std::string& name);

// A trainer for learned placer `name` with its options: the loop's settings (steps, samples, seed, threads,
// noise, lr decay, budgets) come from the options, the run's (out_dir, progress, stop, reward, scorer, resume,
// checkpoints) from `run`. Errors (bad option combinations, a network LibTorch refuses) are Error.
std::unique_ptr<Trainer> MakeTrainer(const PlacementProblem& problem, const std::string& name,
                                     const OptionValues& options, TrainerConfig run = {});
// The same over several graphs, one policy each sharing one network (graph-generic placers only; Error otherwise).
// `start`: a trained policy to continue from (fine-tuning; its parameters are kept, run.init_parameters is
// cleared); null: a fresh network.
std::unique_ptr<Trainer> MakeTrainer(const std::vector<const PlacementProblem*>& problems, const std::string& name,
                                     const OptionValues& options, TrainerConfig run = {},
                                     std::unique_ptr<Policy> start = nullptr);

}  // namespace allot::rl
