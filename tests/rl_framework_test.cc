// The learned-placer framework (rl/): every registered learned placer on the shared trainer — each algorithm finds
// the known optimum of a tiny graph, a resumed run equals an uninterrupted one bit for bit, PPO's clipped objective
// and the cross-entropy refit against hand-computed values, HDP's Grouper within forced co-location and pins, and
// saved policies decoded through the registry.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <set>

#include "cost_model/node_constraints.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/cross_entropy.h"
#include "rl/policy_categorical.h"
#include "rl/policy_hierarchical.h"
#include "rl/policy_io.h"
#include "rl/policy_seq2seq.h"
#include "rl/ppo.h"
#include "rl/reinforce.h"
#include "tests/rl_test_util.h"

namespace allot {
namespace {

using namespace rltest;  // tests/rl_test_util.h

// Small settings per variant for the chains graph (8 chains; 24 ops for the Grouper). Without advantage normalisation
// PPO's 4 epochs at lr 0.01 take calmer steps on this 8-decision problem (late mean 18.2 ms against 20.6 ms).
// A variant is a registered placer's name, or "placeto_ppo": placeto with algorithm=ppo.
std::string Tiny(const std::string& variant) {
  if (variant == "placeto_ppo") return "algorithm=ppo";
  if (variant == "hierarchical") return "groups=4";
  if (variant == "spotlight") return "normalize=false";
  if (variant == "post") return "every=20";
  if (variant == "gdp") return "lr=0.001,entropy=0,fuse_chains=true";
  return "";
}

TEST(RlFrameworkTest, EveryLearnedPlacerIsRegisteredWithItsOptions) {
  std::set<std::string> names;
  for (const rl::LearnedPlacerDef& d : rl::LearnedPlacerDefs()) names.insert(d.name);
  EXPECT_EQ(names, (std::set<std::string>{"seq2seq", "hierarchical", "spotlight", "post", "gdp", "placeto"}));
  for (const std::string& name : names) {
    const PlacerInfo* info = rltest::Learned().Find(name);
    ASSERT_NE(info, nullptr) << name;
    std::set<std::string> options;
    for (const OptionSpec& o : info->options) options.insert(o.name);
    for (const char* common : {"steps", "samples", "seed", "lr", "seconds", "placements", "policy"})
      EXPECT_TRUE(options.count(common)) << name << " lacks " << common;
  }
  EXPECT_THROW(rl::FindLearnedPlacer("etf"), Error);
}

std::string PlacerOf(const std::string& variant) { return variant == "placeto_ppo" ? "placeto" : variant; }

class RlPlacerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RlPlacerTest, FindsTheOptimumOfUnequalChains) {
  const std::string variant = GetParam(), placer = PlacerOf(variant);
  auto f = Chains(kUnequal, {1, 1});
  // placeto's PPO replays each batch 4 times; it is on the optimum by update 150.
  const int64_t steps = variant == "placeto_ppo" ? 150 : placer == "hierarchical" || placer == "placeto" ? 300 : 200;
  auto trainer = SmallTrainer(f->problem, placer, steps, {}, Tiny(variant));
  const rl::TrainResult r = trainer->Train();
  ASSERT_FALSE(r.best_placement.empty());
  EXPECT_NEAR(r.best_step_time, 18e-3, 1e-9) << placer;
  EXPECT_NEAR(StepTime(*f, r.best_placement), r.best_step_time, 1e-12);
  EXPECT_EQ(r.placements_evaluated, static_cast<int64_t>(r.curve.size()) * 4);
  // The policy has learned it, not just sampled it: late samples are near the optimum (a uniform policy's mean is
  // about 23 ms). (The hierarchical planner, which learns the grouping of 24 ops and the placement of 4 groups
  // jointly, stalled at 20.5 ms here until its Grouper was told each op's position: rl/policy_hierarchical.h.)
  double late = 0;
  for (size_t i = r.curve.size() - 10; i < r.curve.size(); ++i) late += r.curve[i].mean_step_time / 10;
  EXPECT_LT(late, 19.5e-3) << placer;
  EXPECT_LT(late, r.curve.front().mean_step_time) << placer;
}

TEST_P(RlPlacerTest, ResumeReachesExactlyTheUninterruptedRun) {
  const std::string variant = GetParam(), placer = PlacerOf(variant);
  auto f = Chains(kUnequal, {1, 1, 1});
  const int64_t N = 6;
  auto full = SmallTrainer(f->problem, placer, 2 * N, {}, Tiny(variant));
  const rl::TrainResult uninterrupted = full->Train();

  // N steps, then a new trainer (a new process) resumes to 2N.
  const std::string dir = TempDir("resume_" + variant);
  rl::TrainerConfig run;
  run.out_dir = dir;
  SmallTrainer(f->problem, placer, N, run, Tiny(variant))->Train();
  ASSERT_TRUE(std::filesystem::exists(dir + "/checkpoint.pt"));
  run.resume = true;
  auto second = SmallTrainer(f->problem, placer, 2 * N, run, Tiny(variant));
  const rl::TrainResult resumed = second->Train();
  EXPECT_EQ(resumed.steps_done, 2 * N);
  EXPECT_EQ(resumed.best_step_time, uninterrupted.best_step_time);
  EXPECT_EQ(resumed.best_groups, uninterrupted.best_groups);
  ASSERT_EQ(resumed.curve.size(), uninterrupted.curve.size());
  for (size_t i = 0; i < resumed.curve.size(); ++i)
    EXPECT_EQ(resumed.curve[i].mean_reward, uninterrupted.curve[i].mean_reward) << placer << " step " << i;
  ExpectSameParameters(Parameters(*full), Parameters(*second));
  const std::string csv = ReadFile(dir + "/learning_curve.csv");
  EXPECT_EQ(csv.rfind("step,mean_step_time_s,best_step_time_s,mean_reward,entropy,elapsed_s,valid_fraction\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2 * N + 1);
  EXPECT_NE(ReadFile(dir + "/learning_curve.svg").find("<polyline"), std::string::npos);

  // A stop request (what SIGINT sets) after step 5 finishes that step, checkpoints and returns; resuming from it
  // reaches the same state too.
  const std::string dir2 = TempDir("stop_" + variant);
  std::atomic<bool> stop{false};
  rl::TrainerConfig stopping;
  stopping.out_dir = dir2;
  stopping.stop = &stop;
  stopping.checkpoint_every = 4;
  stopping.after_step = [&](int64_t step) {
    if (step == 5) stop = true;
  };
  const rl::TrainResult part = SmallTrainer(f->problem, placer, 2 * N, stopping, Tiny(variant))->Train();
  EXPECT_TRUE(part.interrupted);
  EXPECT_EQ(part.steps_done, 5);
  rl::TrainerConfig rest_run;
  rest_run.out_dir = dir2;
  rest_run.resume = true;
  auto rest = SmallTrainer(f->problem, placer, 2 * N, rest_run, Tiny(variant));
  const rl::TrainResult after = rest->Train();
  EXPECT_FALSE(after.interrupted);
  EXPECT_EQ(after.best_step_time, uninterrupted.best_step_time);
  ExpectSameParameters(Parameters(*full), Parameters(*rest));

  // Resuming with other hyper-parameters is refused, naming the difference.
  try {
    SmallTrainer(f->problem, placer, 2 * N, rest_run, Tiny(variant) + (Tiny(variant).empty() ? "" : ",") + "lr=0.5")
        ->Train();
    ADD_FAILURE() << placer << " resumed a different run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir2);
}

TEST_P(RlPlacerTest, SavedPolicyDecodesThroughTheRegistry) {
  const std::string variant = GetParam(), placer = PlacerOf(variant);
  auto f = Chains(kUnequal, {1, 1});
  const std::string dir = TempDir("saved_" + variant);
  rl::TrainerConfig run;
  run.out_dir = dir;
  auto trainer = SmallTrainer(f->problem, placer, 5, run, Tiny(variant));
  const rl::TrainResult r = trainer->Train();
  rl::SavePolicyDirectory(dir + "/policy", trainer->policy(), rl::MetadataOf(*trainer, r));
  EXPECT_EQ(SavedPolicyPlacer(dir), placer);
  // The training output folder itself is accepted, and the decoded placement is the policy's greedy one.
  const auto decoded = rltest::Learned().Create(placer + ":policy=" + dir)->place(f->problem);
  EXPECT_EQ(decoded, GreedyPlacement(*trainer));
  const std::string other = placer == "post" ? "seq2seq" : "post";
  try {
    rltest::Learned().Create(other + ":policy=" + dir)->place(f->problem);
    ADD_FAILURE() << "a " << placer << " policy decoded as " << other;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a " + placer + " policy"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Learned, RlPlacerTest,
                         ::testing::Values("seq2seq", "hierarchical", "spotlight", "post", "gdp", "placeto", "placeto_ppo"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(RlPpoTest, ClippedSurrogateMatchesHandComputedValues) {
  // One sample, four stages. Cost advantages A (positive: worse than the baseline) and ratios r = exp(new - old):
  //   r = 1.5, A = +1: max(1.5, 1.2) = 1.5   (unclipped: the step makes a bad choice likelier, fully penalised)
  //   r = 0.5, A = -1: max(-0.5, -0.8) = -0.5 (unclipped)
  //   r = 1.5, A = -1: max(-1.5, -1.2) = -1.2 (clipped: no credit beyond 1 + eps)
  //   r = 0.5, A = +1: max(0.5, 0.8) = 0.8    (clipped)
  const at::Tensor old_lp = at::zeros({1, 4});
  at::Tensor new_lp = at::log(at::tensor({1.5f, 0.5f, 1.5f, 0.5f})).view({1, 4}).set_requires_grad(true);
  const at::Tensor adv = at::tensor({1.f, -1.f, -1.f, 1.f}).view({1, 4});
  const at::Tensor loss = rl::Ppo::ClippedSurrogate(new_lp, old_lp, adv, 0.2);
  EXPECT_NEAR(loss.item<double>(), 1.5 - 0.5 - 1.2 + 0.8, 1e-6);
  loss.backward();
  // d/d(log r) of r·A is r·A where unclipped; 0 where the clipped term wins.
  const at::Tensor g = new_lp.grad().view({4});
  EXPECT_NEAR(g[0].item<double>(), 1.5, 1e-6);
  EXPECT_NEAR(g[1].item<double>(), -0.5, 1e-6);
  EXPECT_EQ(g[2].item<double>(), 0.0);
  EXPECT_EQ(g[3].item<double>(), 0.0);
  // Summed over stages, averaged over samples.
  const at::Tensor two = rl::Ppo::ClippedSurrogate(at::zeros({2, 3}), at::zeros({2, 3}), at::ones({2, 3}), 0.2);
  EXPECT_NEAR(two.item<double>(), 3.0, 1e-6);
}

// With the batch's mean as baseline (gdp's), a batch of one placement carries no signal and changes nothing; a
// batch with spread moves the policy towards its cheaper samples.
TEST(RlPpoTest, BatchBaselineIgnoresABatchWithoutSpread) {
  auto f = Chains({1, 2}, {1, 1});
  rl::CategoricalConfig config;
  config.max_groups = 0;
  config.gpu_only = false;
  rl::CategoricalPolicy policy(f->problem, config);
  rl::PpoConfig ppo;
  ppo.lr = 0.1;
  ppo.batch_baseline = true;
  rl::Ppo algorithm(policy, ppo);
  std::mt19937_64 rng(3);
  const rl::Decoded batch = policy.Sample(4, rng, 0);
  const at::Tensor before = policy.Probabilities().clone();
  algorithm.Update(rl::Batch{batch, {0.2, 0.2, 0.2, 0.2}, {1, 1, 1, 1}, 0});
  EXPECT_TRUE(at::equal(policy.Probabilities(), before));
  // Sample 0 cheaper than the rest: its devices become likelier.
  const rl::Decoded next = policy.Sample(4, rng, 0);
  algorithm.Update(rl::Batch{next, {0.1, 0.2, 0.2, 0.2}, {1, 1, 1, 1}, 1});
  const at::Tensor after = policy.Probabilities();
  for (int64_t g = 0; g < next.groups; ++g) {
    const int64_t d = next.device(0, g);
    bool shared = true;  // a unit every sample put on the same device gets no push either way
    for (int64_t k = 1; k < 4; ++k) shared &= next.device(k, g) == d;
    if (!shared) {
      EXPECT_GT(after[g][d].item<double>(), 0.5) << "unit " << g;
    }
  }
}

// GDP-batch: one optimizer step on the mean of the graphs' losses, each with its own baseline. The same batch
// handed in twice, as two graphs, must step exactly as the batch alone (a sum would step on twice the gradient;
// a baseline shared across graphs would see the first graph's mean before the second's). The cross-entropy
// method, whose elite window follows one graph, refuses two.
TEST(RlAlgorithmTest, UpdateAllStepsOnTheMeanOfItsGraphsLosses) {
  auto f = Chains({1, 2, 3}, {1, 1});
  rl::CategoricalConfig config;
  config.max_groups = 0;
  config.gpu_only = false;
  using Make = std::function<std::unique_ptr<rl::Algorithm>(rl::Policy&)>;
  const std::vector<std::pair<std::string, Make>> algorithms = {
      {"reinforce", [](rl::Policy& p) {
         rl::ReinforceConfig c;
         c.lr = 0.05;
         c.normalize = true;
         c.entropy = 0.01;
         return std::unique_ptr<rl::Algorithm>(std::make_unique<rl::Reinforce>(p, c));
       }},
      {"ppo", [](rl::Policy& p) {
         rl::PpoConfig c;
         c.lr = 0.05;
         c.entropy = 0.01;
         return std::unique_ptr<rl::Algorithm>(std::make_unique<rl::Ppo>(p, c));
       }}};
  for (const auto& [name, make] : algorithms) {
    rl::CategoricalPolicy joint_policy(f->problem, config), alone_policy(f->problem, config);
    auto joint = make(joint_policy), alone = make(alone_policy);
    for (int64_t step = 0; step < 3; ++step) {
      std::mt19937_64 rng_joint(7 + step), rng_alone(7 + step);
      const rl::Decoded a = joint_policy.Sample(6, rng_joint, 0), b = alone_policy.Sample(6, rng_alone, 0);
      ASSERT_EQ(a.devices, b.devices);
      const std::vector<double> costs = {0.3, 0.1, 0.2, 0.25, 0.15 + 0.01 * step, 0.2};
      const std::vector<uint8_t> valid(6, 1);
      const std::vector<rl::UpdateStats> stats = joint->UpdateAll(
          {rl::Batch{a, costs, valid, step, nullptr, 0}, rl::Batch{a, costs, valid, step, nullptr, 1}});
      const rl::UpdateStats one = alone->Update(rl::Batch{b, costs, valid, step, nullptr, 0});
      ASSERT_EQ(stats.size(), 2u);
      for (const rl::UpdateStats& s : stats) {
        EXPECT_DOUBLE_EQ(s.baseline, one.baseline) << name << " step " << step;
        EXPECT_DOUBLE_EQ(s.loss, one.loss) << name << " step " << step;
      }
    }
    EXPECT_TRUE(at::allclose(joint_policy.Probabilities(), alone_policy.Probabilities(), 0, 1e-6)) << name;
    EXPECT_FALSE(at::allclose(joint_policy.Probabilities(), at::full_like(joint_policy.Probabilities(), 0.5), 0, 1e-3)) << name << " learned nothing";
  }
  rl::CategoricalPolicy policy(f->problem, config);
  rl::CrossEntropy ce(policy, rl::CrossEntropyConfig{});
  std::mt19937_64 rng(1);
  const rl::Decoded a = policy.Sample(2, rng, 0);
  EXPECT_THROW(ce.UpdateAll({rl::Batch{a, {1, 2}, {1, 1}, 0, nullptr, 0}, rl::Batch{a, {1, 2}, {1, 1}, 0, nullptr, 1}}),
               Error);
}

// The adaptive entropy weight (PpoConfig::entropy_target): with every unit pushed towards device 0, a fixed small
// weight lets the policy turn deterministic for good, while under a target the weight rises until the entropy
// comes back above the target and falls again once it is above (it integrates the deficit, so it swings through
// the target rather than settling: rl/ppo.h).
TEST(RlPpoTest, AnEntropyTargetBringsBackTheExplorationAFixedWeightLoses) {
  auto f = Chains({1, 2, 3, 4}, {1, 1});
  rl::CategoricalConfig config;
  config.max_groups = 0;
  config.gpu_only = false;
  auto entropies = [&](double target) {
    rl::CategoricalPolicy policy(f->problem, config);
    rl::PpoConfig c;
    c.lr = 0.01;
    c.entropy = 0.01;
    c.entropy_target = target;
    rl::Ppo algorithm(policy, c);
    std::mt19937_64 rng(5);
    std::vector<double> out;
    for (int64_t step = 0; step < 600; ++step) {
      const rl::Decoded d = policy.Sample(8, rng, 0);
      std::vector<double> costs(8, 1.0);
      for (int64_t k = 0; k < 8; ++k)
        for (int64_t g = 0; g < d.groups; ++g) costs[k] += 0.1 * static_cast<double>(d.device(k, g));
      out.push_back(algorithm.Update(rl::Batch{d, costs, std::vector<uint8_t>(8, 1), step}).entropy);
    }
    return out;
  };
  const std::vector<double> fixed = entropies(0), held = entropies(0.3);
  EXPECT_LT(*std::max_element(fixed.begin() + 150, fixed.end()), 0.01);
  EXPECT_LT(held[150], 0.01) << "the policy first saturates under both";
  const auto peak = std::max_element(held.begin() + 150, held.end());
  EXPECT_GT(*peak, 0.3) << "the weight rose until the entropy passed the target";
  EXPECT_LT(*std::min_element(peak, held.end()), 0.3) << "then fell until it passed it again";
}

TEST(RlCrossEntropyTest, EliteRefitIsTheElitesFrequenciesMixedWithUniform) {
  EXPECT_EQ(rl::CrossEntropy::EliteIndices({3, 1, 2, 5, 4, 0.5, 9, 8, 7, 6}, 0.2), (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(rl::CrossEntropy::EliteIndices({3, 1, 2}, 0.1), (std::vector<int64_t>{1}));  // at least one
  EXPECT_EQ(rl::CrossEntropy::EliteIndices({2, 1, 1}, 0.5), (std::vector<int64_t>{1, 2}));  // ties: lower index

  auto f = Chains({1, 2}, {1, 1});
  rl::CategoricalConfig config;
  config.max_groups = 0;
  config.gpu_only = false;
  rl::CategoricalPolicy policy(f->problem, config);
  ASSERT_EQ(policy.decision_groups().num_groups(), 2u);
  // Starts uniform.
  EXPECT_TRUE(at::allclose(policy.Probabilities(), at::full({2, 2}, 0.5)));
  rl::Decoded elite;
  elite.samples = 2;
  elite.groups = elite.decisions = elite.action_width = 2;
  elite.devices = {0, 1, 0, 0};  // unit 0: device 0 twice; unit 1: device 1 once, device 0 once
  elite.actions = elite.devices;
  ASSERT_TRUE(policy.FitElite(elite, 0.1));
  const at::Tensor p = policy.Probabilities();
  // (1 - 0.1) · frequency + 0.1 / 2.
  EXPECT_NEAR(p[0][0].item<double>(), 0.95, 1e-6);
  EXPECT_NEAR(p[0][1].item<double>(), 0.05, 1e-6);
  EXPECT_NEAR(p[1][0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(p[1][1].item<double>(), 0.5, 1e-6);
}

// The cross-entropy method alone, with no PPO between refits: in closed form on Post's categorical policy, and by
// gradient steps on a network without one (the seq2seq policy).
TEST(RlCrossEntropyTest, AloneFindsTheOptimumInClosedFormAndByGradient) {
  auto f = Chains(kUnequal, {1, 1});
  rl::TrainerConfig run;
  run.steps = 60;
  run.samples = 8;
  run.seed = 3;
  rl::CrossEntropyConfig ce;
  ce.every = 16;
  ce.elite = 0.125;
  ce.mix = 0.05;
  {
    rl::CategoricalConfig c;
    c.max_groups = 0;
    auto policy = std::make_unique<rl::CategoricalPolicy>(f->problem, c);
    auto algorithm = std::make_unique<rl::CrossEntropy>(*policy, ce);
    rl::Trainer trainer(f->problem, run, std::move(policy), std::move(algorithm));
    EXPECT_NEAR(trainer.Train().best_step_time, 18e-3, 1e-9);
  }
  {
    rl::Seq2SeqPolicyConfig c;
    c.max_groups = 0;
    c.net.hidden = 32;
    c.net.op_embedding = 8;
    c.net.device_embedding = 8;
    auto policy = std::make_unique<rl::Seq2SeqPolicy>(f->problem, c, "seq2seq");
    ce.lr = 0.01;
    auto algorithm = std::make_unique<rl::CrossEntropy>(*policy, ce);
    rl::Trainer trainer(f->problem, run, std::move(policy), std::move(algorithm));
    EXPECT_NEAR(trainer.Train().best_step_time, 18e-3, 1e-9);
  }
}

rl::HierarchicalConfig TinyHierarchical(int64_t groups) {
  rl::HierarchicalConfig config;
  config.groups = groups;
  config.grouper_hidden = 16;
  config.placer.hidden = 16;
  config.placer.device_embedding = 8;
  config.gpu_only = false;
  return config;
}

TEST(RlHierarchicalTest, GrouperRespectsForcedColocationAndPins) {
  auto f = Chains(kUnequal, {1, 1, 1});
  NodeConstraints constraints;
  constraints.colocation.assign(f->graph.num_nodes(), "");
  constraints.devices.assign(f->graph.num_nodes(), {});
  const NodeId a = f->graph.FindNode("c0/op0"), b = f->graph.FindNode("c7/op2"), pinned = f->graph.FindNode("c3/op1");
  constraints.colocation[a] = constraints.colocation[b] = "together";
  constraints.devices[pinned] = {"cuda:2"};
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs, &constraints);
  rl::HierarchicalPolicy policy(f->problem, TinyHierarchical(4));
  policy.ResetParameters(5);
  // Its decision units are the forced groups: the co-located pair is one unit.
  EXPECT_EQ(policy.decision_groups().group_of[a], policy.decision_groups().group_of[b]);
  EXPECT_EQ(policy.GroupInputs(std::vector<int64_t>(policy.decision_groups().num_groups(), 0), 1).size(2),
            policy.GroupFeatureWidth());
  std::mt19937_64 rng(11);
  torch::NoGradGuard no_grad;
  const rl::Decoded d = policy.Sample(32, rng, 0.5);
  std::set<DeviceId> used;
  for (int64_t k = 0; k < d.samples; ++k) {
    const std::vector<DeviceId> placement =
        rl::ExpandDecision(f->problem, policy.decision_map(), d.devices.data() + k * d.groups);
    EXPECT_EQ(placement[a], placement[b]) << "sample " << k;
    EXPECT_EQ(placement[pinned], 2u) << "sample " << k;
    used.insert(placement.begin(), placement.end());
    // Every unit's device is its group's.
    const int64_t U = d.groups;
    for (int64_t u = 0; u < U; ++u) EXPECT_EQ(d.device(k, u), d.actions_of(k)[U + d.actions_of(k)[u]]);
  }
  EXPECT_EQ(used.size(), 3u);  // a random start uses every device
  // Evaluate re-scores the sampled actions: without noise the log-probabilities are those of a noise-free sample.
  const rl::Decoded again = policy.Evaluate(d);
  EXPECT_EQ(again.devices, d.devices);
  EXPECT_EQ(again.step_log_prob.sizes(), d.step_log_prob.sizes());
  EXPECT_NO_THROW(policy.CheckActions(d, "test"));
  rl::Decoded bad = d;
  bad.actions[0] = 99;
  EXPECT_THROW(policy.CheckActions(bad, "test"), Error);
}

// The positional prior starts the Grouper on runs of the topological order, where a random network's logits alone
// ignore it; a policy saved before the prior existed loads without one.
TEST(RlHierarchicalTest, ThePositionalPriorGroupsUnitsByTopologicalPosition) {
  auto f = Chains(std::vector<double>(24, 1.0), {1, 1});
  rl::HierarchicalConfig config = TinyHierarchical(16);
  torch::NoGradGuard no_grad;
  const double nodes = static_cast<double>(f->graph.num_nodes());
  for (const double width : {0.2, 0.0}) {
    config.prior_width = width;
    rl::HierarchicalPolicy policy(f->problem, config);
    policy.ResetParameters(5);
    const rl::Decoded d = policy.Greedy();
    const CoarseGraph& units = policy.decision_groups();
    int64_t off_run = 0;  // units more than one group from the run of their position
    for (int64_t u = 0; u < d.groups; ++u) {
      const double r = f->graph.topo_rank()[units.members[units.member_offsets[u]]] / nodes;
      off_run += std::abs(d.actions_of(0)[u] - static_cast<int64_t>(r * 16)) > 1;
    }
    if (width > 0) {
      EXPECT_EQ(off_run, 0);
    } else {
      EXPECT_GT(off_run, d.groups / 2);
    }
  }
  config.prior_width = 0.2;
  rl::HierarchicalPolicy saved(f->problem, config);
  nlohmann::json j = nlohmann::json::parse(saved.Config().dump());
  EXPECT_EQ(rl::LoadHierarchicalPolicy(f->problem, j, "policy.json")->Config()["prior_width"], 0.2);
  j.erase("prior_width");
  EXPECT_EQ(rl::LoadHierarchicalPolicy(f->problem, j, "policy.json")->Config()["prior_width"], 0.0);
  j["prior_width"] = 1e-3;
  EXPECT_THROW(rl::LoadHierarchicalPolicy(f->problem, j, "policy.json"), Error);
}

TEST(RlTrainerTest, TimeBudgetEndsARun) {
  auto f = Chains(kUnequal, {1, 1});
  const rl::TrainResult r = SmallTrainer(f->problem, "post", 1000000, {}, "seconds=0.2")->Train();
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_LT(r.steps_done, 1000000);
  EXPECT_GT(r.steps_done, 0);
  // A placement budget caps the steps: ceil(10 / 4) = 3.
  EXPECT_EQ(SmallTrainer(f->problem, "post", 1000, {}, "placements=10")->Train().steps_done, 3);
}

}  // namespace
}  // namespace allot
