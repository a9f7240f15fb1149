// The learned placer seq2seq (rl/): features, training to a known optimum on tiny graphs, determinism across
// thread counts, and the placer and policy directory behind `allot place` (resume: rl_framework_test.cc).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <set>

#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/features.h"
#include "rl/policy_io.h"
#include "tests/rl_test_util.h"

namespace allot {
namespace {

using namespace rltest;  // tests/rl_test_util.h

TEST(RlFeaturesTest, ShapesPaddingAndRanges) {
  auto f = Chains(kUnequal, {1, 1});
  const CoarseGraph groups = rl::DecisionGroups(f->graph, 0, true);
  ASSERT_EQ(groups.num_groups(), kUnequal.size());  // chain fusion: one group per chain
  const rl::GroupFeatures feat = rl::ComputeGroupFeatures(f->graph, groups);
  const int64_t G = static_cast<int64_t>(kUnequal.size());
  EXPECT_EQ(feat.op_type.sizes(), (std::vector<int64_t>{G}));
  EXPECT_EQ(feat.output_shape.sizes(), (std::vector<int64_t>{G, rl::kShapeDims}));
  EXPECT_EQ(feat.work.sizes(), (std::vector<int64_t>{G, rl::kWorkFeatures}));
  EXPECT_EQ(feat.adjacency.sizes(), (std::vector<int64_t>{G, rl::kMaxNeighbours}));
  EXPECT_EQ(feat.Numeric().sizes(), (std::vector<int64_t>{G, rl::kNumericFeatures}));
  EXPECT_EQ(feat.Numeric().scalar_type(), at::kFloat);
  EXPECT_TRUE(feat.op_type.lt(rl::OpTypeVocabulary()).all().item<bool>());
  // Two MatMuls and a Relu per chain: the majority family is matmul for every group.
  EXPECT_TRUE(feat.op_type.eq(feat.op_type[0]).all().item<bool>());
  // Output shape [16, 32]: two log-scaled dims, then zero padding.
  EXPECT_NEAR(feat.output_shape[0][0].item<float>(), std::log1p(16.0) / 10, 1e-6);
  EXPECT_NEAR(feat.output_shape[0][1].item<float>(), std::log1p(32.0) / 10, 1e-6);
  EXPECT_EQ(feat.output_shape[0][2].item<float>(), 0.f);
  // Independent chains have no neighbours: all adjacency padded.
  EXPECT_TRUE(feat.adjacency.eq(-1).all().item<bool>());
  // Heavier chains have more FLOPs.
  EXPECT_LT(feat.work[0][0].item<float>(), feat.work[G - 1][0].item<float>());
  EXPECT_TRUE(at::isfinite(feat.Numeric()).all().item<bool>());
}

TEST(RlFeaturesTest, AdjacencyListsNeighboursHeaviestFirst) {
  // a -> b (big), a -> c (small), b,c -> d: no chain fusion, four groups.
  GraphBuilder b("diamond");
  auto tensor = [&](const std::string& name, int64_t elems) {
    const TensorId t = b.Tensor(name);
    b.SetType(t, DType::kFloat32, {elems});
    return t;
  };
  const TensorId x = tensor("x", 4);
  b.tensor(x).is_graph_input = true;
  const TensorId big = tensor("big", 1000), small = tensor("small", 10), ob = tensor("ob", 4), oc = tensor("oc", 4),
                 y = tensor("y", 4);
  b.tensor(y).is_graph_output = true;
  auto add = [&](const std::string& name, const std::string& op, std::vector<TensorId> in, std::vector<TensorId> out) {
    NodeDef n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    b.AddNode(std::move(n));
  };
  add("a", "Split", {x}, {big, small});
  add("b", "Relu", {big}, {ob});
  add("c", "Relu", {small}, {oc});
  add("d", "Add", {ob, oc}, {y});
  const Graph g = b.Finalize();
  const CoarseGraph groups = rl::DecisionGroups(g, 0, false);
  ASSERT_EQ(groups.num_groups(), 4u);
  const rl::GroupFeatures feat = rl::ComputeGroupFeatures(g, groups);
  const uint32_t ga = groups.group_of[g.FindNode("a")], gb = groups.group_of[g.FindNode("b")],
                 gc = groups.group_of[g.FindNode("c")];
  EXPECT_EQ(feat.adjacency[ga][0].item<int64_t>(), gb);
  EXPECT_EQ(feat.adjacency[ga][1].item<int64_t>(), gc);
  EXPECT_EQ(feat.adjacency[ga][2].item<int64_t>(), -1);
  EXPECT_GT(feat.adjacency_bytes[ga][0].item<float>(), feat.adjacency_bytes[ga][1].item<float>());
  // Output shape of a: its largest tensor leaving the group.
  EXPECT_NEAR(feat.output_shape[ga][0].item<float>(), std::log1p(1000.0) / 10, 1e-6);
}

TEST(RlReinforceTest, CostIsSqrtStepTimeAndTenWhenInvalid) {
  EXPECT_DOUBLE_EQ(rl::PlacementCost(0.25, true), 0.5);
  EXPECT_DOUBLE_EQ(rl::PlacementCost(0.25, false), 10.0);
}

TEST(RlSeq2SeqTest, LearnsToSplitUnequalChainsEvenly) {
  auto f = Chains(kUnequal, {1, 1});
  auto trainer = SmallTrainer(f->problem, "seq2seq", 300);
  const rl::TrainResult r = trainer->Train();
  ASSERT_FALSE(r.best_placement.empty());
  EXPECT_NEAR(r.best_step_time, 18e-3, 1e-9);
  EXPECT_NEAR(StepTime(*f, r.best_placement), r.best_step_time, 1e-12);
  // The policy itself has learned it: its greedy placement is optimal, and late samples are close to it.
  EXPECT_NEAR(StepTime(*f, GreedyPlacement(*trainer)), 18e-3, 1e-9);
  double late = 0;
  for (size_t i = r.curve.size() - 20; i < r.curve.size(); ++i) late += r.curve[i].mean_step_time / 20;
  EXPECT_LT(late, 19e-3);
  EXPECT_LT(r.curve.back().entropy, r.curve.front().entropy);
}

TEST(RlSeq2SeqTest, LearnsToAvoidTheSlowDevice) {
  // cpu:0 is 100x slower: even the lightest chain there (100 ms) is slower than everything on the GPU (36 ms).
  auto f = Chains(kUnequal, {100, 1});
  auto trainer = SmallTrainer(f->problem, "seq2seq", 200);
  const rl::TrainResult r = trainer->Train();
  EXPECT_NEAR(r.best_step_time, 36e-3, 1e-9);
  for (DeviceId d : GreedyPlacement(*trainer)) EXPECT_EQ(d, 1u);
}

TEST(RlSeq2SeqTest, GpuOnlyNeverChoosesTheHost) {
  // cpu:0, cuda:1, cuda:2: the policy chooses between the two GPUs only, from the first sample on.
  auto f = Chains(kUnequal, {100, 1, 1});
  auto trainer = SmallTrainer(f->problem, "seq2seq", 20, {}, "devices=gpu");
  EXPECT_EQ(trainer->decision_map().devices, (std::vector<DeviceId>{1, 2}));
  EXPECT_EQ(trainer->policy().num_devices(), 2);
  EXPECT_EQ(SmallTrainer(f->problem, "seq2seq", 20)->decision_map().devices.size(), 3u);
  const rl::TrainResult r = trainer->Train();
  ASSERT_FALSE(r.best_placement.empty());
  for (DeviceId d : r.best_placement) EXPECT_NE(d, 0u);
  // The balanced split of the two GPUs (18 + 18 ms) is within reach of a few steps.
  EXPECT_LT(r.best_step_time, 36e-3);
}

TEST(RlSeq2SeqTest, ThreadCountDoesNotChangeTheRun) {
  auto f = Chains(kUnequal, {1, 1, 1});
  auto one = SmallTrainer(f->problem, "seq2seq", 15, {}, "samples=5");
  const rl::TrainResult a = one->Train();
  auto three = SmallTrainer(f->problem, "seq2seq", 15, {}, "samples=5,threads=3");
  const rl::TrainResult b = three->Train();
  EXPECT_EQ(a.best_groups, b.best_groups);
  EXPECT_EQ(a.best_step_time, b.best_step_time);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) EXPECT_EQ(a.curve[i].mean_reward, b.curve[i].mean_reward) << i;
  ExpectSameParameters(Parameters(*one), Parameters(*three));
}

TEST(RlSeq2SeqPlacerTest, RegisteredTrainsAndDecodesASavedPolicy) {
  const PlacerRegistry& registry = rltest::Learned();
  const PlacerInfo* info = registry.Find("seq2seq");
  ASSERT_NE(info, nullptr);
  std::set<std::string> names;
  for (const OptionSpec& o : info->options) names.insert(o.name);
  for (const char* expected : {"steps", "samples", "lr", "hidden", "groups", "temperature", "logit_clip", "entropy",
                               "seed", "policy"})
    EXPECT_TRUE(names.count(expected)) << expected;

  auto f = Chains(kUnequal, {1, 1});
  f->problem.pinned[f->graph.FindNode("c7/op1")] = 0;  // pins chain 7 (one decision group) to cuda:0
  const auto placement = registry.Create("seq2seq:steps=20,hidden=32,seed=3,groups=0,devices=all")->place(f->problem);
  ASSERT_EQ(placement.size(), f->graph.num_nodes());
  for (int k = 0; k < 3; ++k) EXPECT_EQ(placement[f->graph.FindNode("c7/op" + std::to_string(k))], 0);
  StepTime(*f, placement);

  // A policy trained and saved as `allot train` does, decoded by the placer: its greedy placement.
  const std::string dir = TempDir("policy");
  auto trainer = SmallTrainer(f->problem, "seq2seq", 10);
  const rl::TrainResult r = trainer->Train();
  rl::PolicyMetadata meta = rl::MetadataOf(*trainer, r);
  rl::SavePolicyDirectory(dir, trainer->policy(), meta);
  const auto decoded = registry.Create("seq2seq:policy=" + dir)->place(f->problem);
  EXPECT_EQ(decoded, GreedyPlacement(*trainer));
  EXPECT_EQ(SavedPolicyPlacer(dir), "seq2seq");
  // Another graph is refused.
  auto other = Chains({1, 2, 3}, {1, 1});
  EXPECT_THROW(registry.Create("seq2seq:policy=" + dir)->place(other->problem), Error);
  EXPECT_THROW(registry.Create("seq2seq:policy=/nonexistent")->place(f->problem), Error);
  std::filesystem::remove_all(dir);
}

// Edited or damaged policy folders and checkpoints are one-line errors naming the file, before any network is built
// from their numbers or their tensors are used (rl/checked_load.h; tests/fuzz/policy_fuzzer.cc fuzzes both).
TEST(RlSeq2SeqPlacerTest, EditedPoliciesAndCheckpointsAreOneLineErrors) {
  const PlacerRegistry& registry = rltest::Learned();
  auto f = Chains(kUnequal, {1, 1});
  const std::string dir = TempDir("edited"), policy = dir + "/policy";
  rl::TrainerConfig config;
  config.out_dir = dir;
  auto trainer = SmallTrainer(f->problem, "seq2seq", 2, config);
  const rl::TrainResult r = trainer->Train();
  rl::SavePolicyDirectory(policy, trainer->policy(), rl::MetadataOf(*trainer, r));
  const std::string json = ReadFile(policy + "/policy.json"), pt = ReadFile(policy + "/policy.pt");
  auto refused = [&](const std::string& edited_json, const std::string& edited_pt, const std::string& needle) {
    WriteFileAtomic(policy + "/policy.json", edited_json);
    WriteFileAtomic(policy + "/policy.pt", edited_pt);
    try {
      registry.Create("seq2seq:policy=" + policy)->place(f->problem);
      ADD_FAILURE() << "placed with an edited policy; wanted: " << needle;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  auto with = [&](const std::string& key, const std::string& value) {
    nlohmann::json j = nlohmann::json::parse(json);
    j[key] = nlohmann::json::parse(value);
    return j.dump();
  };
  refused(with("hidden", "1099511627776"), pt, "field 'hidden'");
  refused(with("hidden", "15"), pt, "field 'hidden' must be even");  // fuzz_policy_dir's finding: it aborted
  refused(with("num_devices", "0"), pt, "field 'num_devices'");
  refused(with("temperature", "0"), pt, "field 'temperature'");
  refused(with("bidirectional", "\"yes\""), pt, "field 'bidirectional'");
  refused(with("hidden", "64"), pt, "policy.pt: parameter '");  // a policy.pt of another width
  refused(json, pt.substr(0, pt.size() / 2), "truncated");
  std::string flipped = pt;
  flipped[flipped.size() / 2] ^= 0x20;
  refused(json, flipped, "damaged");  // LibTorch's loader never sees it (rl/archive_file.h)
  refused(json, "", "cannot read");

  // A checkpoint cut short.
  const std::string checkpoint = dir + "/checkpoint.pt";
  WriteFileAtomic(checkpoint, ReadFile(checkpoint).substr(0, 200));
  config.resume = true;
  try {
    SmallTrainer(f->problem, "seq2seq", 3, config)->Train();
    ADD_FAILURE() << "resumed from a truncated checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume: cannot read " + checkpoint), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace allot
