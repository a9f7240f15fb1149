// The learned placer seq2seq (rl/): features, training to a known optimum on tiny graphs, determinism across
// thread counts, bit-exact checkpoint/resume, and the placer and policy directory behind `allot place`.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <set>

#include "cost_model/simulator.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/graph_builder.h"
#include "rl/features.h"
#include "rl/learned_placers.h"
#include "rl/policy_io.h"
#include "rl/reinforce.h"
#include "rl/trainer.h"

namespace allot {
namespace {

// Devices with per-device speed: `slowdown[d]` multiplies every op's time on d. Links between every pair.
Cluster MakeCluster(const std::vector<double>& slowdown) {
  std::vector<Device> ds;
  std::vector<Link> links;
  for (size_t i = 0; i < slowdown.size(); ++i)
    ds.push_back({(slowdown[i] > 1 ? "cpu:" : "cuda:") + std::to_string(i),
                  slowdown[i] > 1 ? DeviceKind::kCpu : DeviceKind::kGpu, "test", 1e12, 0, 1e12, 1ull << 40, 0});
  for (size_t i = 0; i < ds.size(); ++i)
    for (size_t j = 0; j < ds.size(); ++j)
      if (i != j) links.push_back({ds[i].name + "-" + ds[j].name, ds[i].name, ds[j].name, 10e9, 0});
  return Cluster("test", ds, links);
}

struct Case {
  Graph graph;
  Cluster cluster;
  CostTable costs;
  PlacementProblem problem;
};

// Independent chains of three ops reading one small graph input x; chain c's ops take chain_ms[c] / 3 ms each on a
// device with slowdown 1. With chain fusion every chain is one decision group.
std::unique_ptr<Case> Chains(const std::vector<double>& chain_ms, const std::vector<double>& slowdown) {
  GraphBuilder b("chains");
  const TensorId x = b.Tensor("x");
  b.SetType(x, DType::kFloat32, {4, 4});
  b.tensor(x).is_graph_input = true;
  std::vector<double> node_ms;
  for (size_t c = 0; c < chain_ms.size(); ++c) {
    TensorId in = x;
    for (int k = 0; k < 3; ++k) {
      NodeDef n;
      n.name = "c" + std::to_string(c) + "/op" + std::to_string(k);
      n.op_type = k == 1 ? "Relu" : "MatMul";
      n.inputs = {in};
      const TensorId out = b.Tensor(n.name + ":0");
      b.SetType(out, DType::kFloat32, {16, 32});
      if (k == 2) b.tensor(out).is_graph_output = true;
      n.outputs = {out};
      n.flops = chain_ms[c] * 1e6;
      b.AddNode(std::move(n));
      node_ms.push_back(chain_ms[c] / 3);
      in = out;
    }
  }
  auto f = std::make_unique<Case>();
  f->graph = b.Finalize();
  f->cluster = MakeCluster(slowdown);
  f->costs.num_nodes = f->graph.num_nodes();
  f->costs.num_devices = slowdown.size();
  for (double ms : node_ms)
    for (double s : slowdown) f->costs.time.push_back(ms * 1e-3 * s);
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs);
  return f;
}

double StepTime(const Case& f, const std::vector<DeviceId>& placement) {
  Simulator sim(f.graph, f.cluster, f.costs);
  const SimResult& r = sim.Run(placement);
  EXPECT_TRUE(r.valid) << r.error;
  return r.step_time;
}

rl::TrainerConfig SmallConfig(int64_t steps) {
  rl::TrainerConfig c;
  c.steps = steps;
  c.policy.hidden = 32;
  c.policy.op_embedding = 8;
  c.policy.device_embedding = 8;
  c.reinforce.lr = 0.01;
  c.samples = 4;
  c.seed = 7;
  c.max_groups = 0;  // no cap: chains fuse completely, one decision group per chain
  return c;
}

std::vector<at::Tensor> Parameters(const rl::Trainer& t) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : t.policy()->parameters()) out.push_back(p.detach().clone());
  return out;
}

void ExpectSameParameters(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "parameter " << i;
}

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("allot_rl_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

const std::vector<double> kUnequal = {1, 2, 3, 4, 5, 6, 7, 8};  // 36 ms in all: the best split is 18 + 18

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
  rl::TrainerConfig c = SmallConfig(300);
  rl::Trainer trainer(f->problem, c);
  const rl::TrainResult r = trainer.Train();
  ASSERT_FALSE(r.best_placement.empty());
  EXPECT_NEAR(r.best_step_time, 18e-3, 1e-9);
  EXPECT_NEAR(StepTime(*f, r.best_placement), r.best_step_time, 1e-12);
  // The policy itself has learned it: its greedy placement is optimal, and late samples are close to it.
  torch::NoGradGuard no_grad;
  const rl::Decoded greedy = trainer.policy()->Greedy(trainer.input());
  EXPECT_NEAR(StepTime(*f, rl::ExpandDecision(f->problem, trainer.decision_map(), greedy.devices.data())), 18e-3, 1e-9);
  double late = 0;
  for (size_t i = r.curve.size() - 20; i < r.curve.size(); ++i) late += r.curve[i].mean_step_time / 20;
  EXPECT_LT(late, 19e-3);
  EXPECT_LT(r.curve.back().entropy, r.curve.front().entropy);
}

TEST(RlSeq2SeqTest, LearnsToAvoidTheSlowDevice) {
  // cpu:0 is 100x slower: even the lightest chain there (100 ms) is slower than everything on the GPU (36 ms).
  auto f = Chains(kUnequal, {100, 1});
  rl::Trainer trainer(f->problem, SmallConfig(200));
  const rl::TrainResult r = trainer.Train();
  EXPECT_NEAR(r.best_step_time, 36e-3, 1e-9);
  torch::NoGradGuard no_grad;
  const rl::Decoded greedy = trainer.policy()->Greedy(trainer.input());
  for (int64_t d : greedy.devices) EXPECT_EQ(d, 1);
}

TEST(RlSeq2SeqTest, GpuOnlyNeverChoosesTheHost) {
  // cpu:0, cuda:1, cuda:2: the policy chooses between the two GPUs only, from the first sample on.
  auto f = Chains(kUnequal, {100, 1, 1});
  rl::TrainerConfig c = SmallConfig(20);
  c.gpu_only = true;
  rl::Trainer trainer(f->problem, c);
  EXPECT_EQ(trainer.decision_map().devices, (std::vector<DeviceId>{1, 2}));
  EXPECT_EQ(trainer.config().policy.num_devices, 2);
  rl::TrainerConfig all = c;
  all.gpu_only = false;
  EXPECT_EQ(rl::Trainer(f->problem, all).decision_map().devices.size(), 3u);
  const rl::TrainResult r = trainer.Train();
  ASSERT_FALSE(r.best_placement.empty());
  for (DeviceId d : r.best_placement) EXPECT_NE(d, 0u);
  // The balanced split of the two GPUs (18 + 18 ms) is within reach of a few steps.
  EXPECT_LT(r.best_step_time, 36e-3);
}

TEST(RlSeq2SeqTest, ThreadCountDoesNotChangeTheRun) {
  auto f = Chains(kUnequal, {1, 1, 1});
  rl::TrainerConfig c = SmallConfig(15);
  c.samples = 5;
  rl::Trainer one(f->problem, c);
  const rl::TrainResult a = one.Train();
  c.threads = 3;
  rl::Trainer three(f->problem, c);
  const rl::TrainResult b = three.Train();
  EXPECT_EQ(a.best_groups, b.best_groups);
  EXPECT_EQ(a.best_step_time, b.best_step_time);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) EXPECT_EQ(a.curve[i].mean_reward, b.curve[i].mean_reward) << i;
  ExpectSameParameters(Parameters(one), Parameters(three));
}

TEST(RlSeq2SeqTest, ResumeReachesExactlyTheUninterruptedRun) {
  auto f = Chains(kUnequal, {1, 1, 1});
  const int64_t N = 12;
  rl::TrainerConfig c = SmallConfig(2 * N);
  rl::Trainer full(f->problem, c);
  const rl::TrainResult uninterrupted = full.Train();

  // N steps, then a new process (a new Trainer) resumes to 2N.
  const std::string dir = TempDir("resume");
  c.out_dir = dir;
  c.steps = N;
  rl::Trainer first(f->problem, c);
  first.Train();
  ASSERT_TRUE(std::filesystem::exists(dir + "/checkpoint.pt"));
  c.steps = 2 * N;
  c.resume = true;
  rl::Trainer second(f->problem, c);
  const rl::TrainResult resumed = second.Train();
  EXPECT_EQ(resumed.steps_done, 2 * N);
  EXPECT_EQ(resumed.best_step_time, uninterrupted.best_step_time);
  EXPECT_EQ(resumed.best_groups, uninterrupted.best_groups);
  ASSERT_EQ(resumed.curve.size(), uninterrupted.curve.size());
  for (size_t i = 0; i < resumed.curve.size(); ++i)
    EXPECT_EQ(resumed.curve[i].mean_reward, uninterrupted.curve[i].mean_reward) << i;
  ExpectSameParameters(Parameters(full), Parameters(second));
  // The curve files cover every step, the resumed ones included.
  const std::string csv = ReadFile(dir + "/learning_curve.csv");
  EXPECT_EQ(csv.rfind("step,mean_step_time_s,best_step_time_s,mean_reward,entropy,elapsed_s,valid_fraction\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2 * N + 1);
  EXPECT_NE(ReadFile(dir + "/learning_curve.svg").find("<polyline"), std::string::npos);

  // A stop request (what SIGINT sets) after step 5 finishes that step, checkpoints and returns; resuming from it
  // reaches the same state too.
  const std::string dir2 = TempDir("stop");
  std::atomic<bool> stop{false};
  c.out_dir = dir2;
  c.resume = false;
  c.stop = &stop;
  c.checkpoint_every = 4;
  c.after_step = [&](int64_t step) {
    if (step == 5) stop = true;
  };
  rl::Trainer interrupted(f->problem, c);
  const rl::TrainResult part = interrupted.Train();
  EXPECT_TRUE(part.interrupted);
  EXPECT_EQ(part.steps_done, 5);
  c.stop = nullptr;
  c.after_step = nullptr;
  c.resume = true;
  rl::Trainer rest(f->problem, c);
  const rl::TrainResult after = rest.Train();
  EXPECT_FALSE(after.interrupted);
  EXPECT_EQ(after.best_step_time, uninterrupted.best_step_time);
  ExpectSameParameters(Parameters(full), Parameters(rest));

  // Resuming with other hyper-parameters is refused, naming the difference.
  c.reinforce.lr = 0.5;
  rl::Trainer other(f->problem, c);
  try {
    other.Train();
    FAIL() << "resumed a different run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir2);
}

TEST(RlSeq2SeqPlacerTest, RegisteredTrainsAndDecodesASavedPolicy) {
  PlacerRegistry registry;
  RegisterLearnedPlacers(registry);
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
  rl::Trainer trainer(f->problem, SmallConfig(10));
  const rl::TrainResult r = trainer.Train();
  rl::PolicyMetadata meta = rl::MetadataOf(trainer, r);
  rl::SavePolicyDirectory(dir, trainer.policy(), meta);
  const auto decoded = registry.Create("seq2seq:policy=" + dir)->place(f->problem);
  torch::NoGradGuard no_grad;
  const rl::Decoded greedy = trainer.policy()->Greedy(trainer.input());
  EXPECT_EQ(decoded, rl::ExpandDecision(f->problem, trainer.decision_map(), greedy.devices.data()));
  // Another graph is refused.
  auto other = Chains({1, 2, 3}, {1, 1});
  EXPECT_THROW(registry.Create("seq2seq:policy=" + dir)->place(other->problem), Error);
  EXPECT_THROW(registry.Create("seq2seq:policy=/nonexistent")->place(f->problem), Error);
  std::filesystem::remove_all(dir);
}

// Edited or damaged policy folders and checkpoints are one-line errors naming the file, before any network is built
// from their numbers or their tensors are used (rl/checked_load.h; tests/fuzz/policy_fuzzer.cc fuzzes both).
TEST(RlSeq2SeqPlacerTest, EditedPoliciesAndCheckpointsAreOneLineErrors) {
  PlacerRegistry registry;
  RegisterLearnedPlacers(registry);
  auto f = Chains(kUnequal, {1, 1});
  const std::string dir = TempDir("edited"), policy = dir + "/policy";
  rl::TrainerConfig config = SmallConfig(2);
  config.out_dir = dir;
  rl::Trainer trainer(f->problem, config);
  const rl::TrainResult r = trainer.Train();
  rl::SavePolicyDirectory(policy, trainer.policy(), rl::MetadataOf(trainer, r));
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
  config.steps = 3;
  try {
    rl::Trainer(f->problem, config).Train();
    ADD_FAILURE() << "resumed from a truncated checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume: cannot read " + checkpoint), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace allot
