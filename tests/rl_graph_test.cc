// The graph-neural placers' pieces (rl/unit_graph.h, rl/sage_encoder.h, rl/segment_attention.h) on hand-made
// graphs, and GDP (rl/policy_gdp.h) trained on several graphs placing one it never saw.
#include <gtest/gtest.h>

#include <torch/nn/modules/linear.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "graph/error.h"
#include "graph/file_io.h"
#include "rl/algorithm.h"
#include "rl/policy_gdp.h"
#include "rl/placeto_encoder.h"
#include "rl/policy_placeto.h"
#include "rl/policy_io.h"
#include "rl_test_util.h"

namespace allot {
namespace {

using namespace rltest;  // tests/rl_test_util.h

// Op i reads the outputs of inputs[i] (the graph input when empty) and takes ms[i] milliseconds at slowdown 1.
std::unique_ptr<Case> Dag(const std::vector<std::vector<int>>& inputs, const std::vector<double>& ms,
                          const std::vector<double>& slowdown) {
  GraphBuilder b("dag");
  const TensorId x = b.Tensor("x");
  b.SetType(x, DType::kFloat32, {4, 4});
  b.tensor(x).is_graph_input = true;
  std::vector<TensorId> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    NodeDef n;
    n.name = "op" + std::to_string(i);
    n.op_type = inputs[i].size() > 1 ? "Add" : "Relu";
    for (int j : inputs[i]) n.inputs.push_back(out[j]);
    if (inputs[i].empty()) n.inputs.push_back(x);
    out.push_back(b.Tensor(n.name + ":0"));
    b.SetType(out.back(), DType::kFloat32, {16, 32});
    n.outputs = {out.back()};
    n.flops = ms[i] * 1e6;
    b.AddNode(std::move(n));
  }
  std::vector<bool> read(inputs.size(), false);
  for (const auto& in : inputs)
    for (int j : in) read[j] = true;
  auto f = std::make_unique<Case>();
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!read[i]) b.tensor(out[i]).is_graph_output = true;
  f->graph = b.Finalize();
  f->cluster = MakeCluster(slowdown);
  f->costs.num_nodes = f->graph.num_nodes();
  f->costs.num_devices = slowdown.size();
  for (double m : ms)
    for (double s : slowdown) f->costs.time.push_back(m * 1e-3 * s);
  f->problem = PlacementProblem::Make(f->graph, f->cluster, f->costs);
  return f;
}

std::vector<std::vector<int>> Chain(int n) {
  std::vector<std::vector<int>> in(static_cast<size_t>(n));
  for (int i = 1; i < n; ++i) in[i] = {i - 1};
  return in;
}

TEST(UnitGraphTest, OrderEdgesLevelsAndReachabilityOfADiamond) {
  // 0 -> {1, 2} -> 3, and 4 alone.
  auto f = Dag({{}, {0}, {0}, {1, 2}, {}}, {1, 1, 1, 1, 1}, {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  ASSERT_EQ(g.units, 5);
  std::vector<std::string> names;
  for (uint32_t u : g.order) names.push_back(f->problem.groups.group_names[u]);
  // Topological order (ties by node id): the isolated op 4 last.
  EXPECT_EQ(names, (std::vector<std::string>{"op0", "op1", "op2", "op3", "op4"}));
  auto preds = [&](int i) { return std::vector<uint32_t>(g.preds.begin() + g.pred_offsets[i], g.preds.begin() + g.pred_offsets[i + 1]); };
  auto succs = [&](int i) { return std::vector<uint32_t>(g.succs.begin() + g.succ_offsets[i], g.succs.begin() + g.succ_offsets[i + 1]); };
  EXPECT_EQ(succs(0), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(preds(3), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(preds(4).empty() && succs(4).empty());
  EXPECT_EQ(g.level, (std::vector<uint32_t>{0, 1, 1, 2, 0}));
  EXPECT_EQ(g.level_offsets, (std::vector<uint32_t>{0, 2, 4, 5}));
  EXPECT_EQ(g.level_members, (std::vector<uint32_t>{0, 4, 1, 2, 3}));
  EXPECT_EQ(g.num_edges(), 4);
  EXPECT_EQ(g.features.sizes(), (at::IntArrayRef{5, rl::UnitFeatureWidth()}));

  g.ComputeReachability();
  EXPECT_TRUE(g.IsAncestor(3, 0) && g.IsAncestor(3, 1) && g.IsAncestor(3, 2));
  EXPECT_FALSE(g.IsAncestor(3, 4));
  EXPECT_TRUE(g.IsDescendant(0, 3));
  EXPECT_FALSE(g.IsAncestor(1, 2) || g.IsDescendant(1, 2));  // the two branches are parallel
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(g.IsAncestor(i, i) || g.IsDescendant(i, i));
}

TEST(UnitGraphTest, ReachabilityOfALongChainCrossesWordBoundaries) {
  auto f = Dag(Chain(150), std::vector<double>(150, 1), {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  EXPECT_EQ(g.words, 3);
  EXPECT_TRUE(g.IsAncestor(149, 0) && g.IsDescendant(0, 149) && g.IsAncestor(130, 64));
  EXPECT_FALSE(g.IsAncestor(64, 130));
  EXPECT_EQ(g.level.back(), 149u);
}

TEST(SageEncoderTest, RelabellingTheNodesPermutesTheEmbeddings) {
  auto f = Dag({{}, {0}, {0}, {1, 2}, {}, {3, 4}}, {1, 2, 3, 4, 5, 6}, {1, 1});
  const rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  const rl::EdgeTensors e = rl::EdgeTensors::Of(g);
  rl::SageEncoder encoder(rl::UnitFeatureWidth(), 16, 2);
  rl::InitLinearLayers(*encoder, 3);
  torch::NoGradGuard no_grad;
  const at::Tensor h = encoder->forward(g.features, e);
  // The same graph with its rows in another order: new row i holds old row perm[i].
  const std::vector<int64_t> perm = {5, 2, 0, 4, 1, 3};
  std::vector<int64_t> where(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) where[perm[i]] = static_cast<int64_t>(i);
  const at::Tensor index = at::tensor(perm, at::TensorOptions().dtype(at::kLong));
  rl::EdgeTensors p = e;
  const at::Tensor map = at::tensor(where, at::TensorOptions().dtype(at::kLong));
  p.source = map.index_select(0, e.source);
  p.target = map.index_select(0, e.target);
  p.in_degree = e.in_degree.index_select(0, index);
  p.out_degree = e.out_degree.index_select(0, index);
  const at::Tensor hp = encoder->forward(g.features.index_select(0, index), p);
  EXPECT_TRUE(at::allclose(hp, h.index_select(0, index), 1e-5, 1e-6));
  // Direction matters: reversing every edge changes the embeddings.
  rl::EdgeTensors r = e;
  std::swap(r.source, r.target);
  std::swap(r.in_degree, r.out_degree);
  EXPECT_FALSE(at::allclose(encoder->forward(g.features, r), h, 1e-4, 1e-5));
}

// A level reads its messages from the outputs of the earlier levels they come from: the plan's rows resolve to
// exactly the unit graph's edges, in both sweeps, on a graph whose levels draw from one, two and three levels.
TEST(PlacetoEncoderTest, EveryLevelReadsExactlyItsEdgesFromEarlierLevels) {
  // 0 -> 2 -> 3 -> 4 with skips 0 -> 3 and 0 -> 4, and the second source 1 -> 4.
  auto f = Dag({{}, {}, {0}, {0, 2}, {0, 1, 2, 3}}, {1, 1, 1, 1, 1}, {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  const rl::SweepPlan plan = rl::SweepPlan::Of(g);
  auto edges_of = [](const rl::SweepPlan::Sweep& sweep) {
    std::set<std::pair<int64_t, int64_t>> edges;
    std::vector<int64_t> all;
    for (const rl::SweepPlan::Level& level : sweep.levels) {
      std::vector<int64_t> rows;  // the concatenated members of the levels it reads
      for (int64_t m : level.source_levels)
        for (int64_t j = 0; j < sweep.levels[m].members.size(0); ++j)
          rows.push_back(sweep.levels[m].members[j].item<int64_t>());
      for (int64_t j = 0; j < level.sources.size(0); ++j)
        edges.insert({rows.at(level.sources[j].item<int64_t>()),
                      level.members[level.targets[j].item<int64_t>()].item<int64_t>()});
      for (int64_t j = 0; j < level.members.size(0); ++j) all.push_back(level.members[j].item<int64_t>());
    }
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(all.at(sweep.row_of[i].item<int64_t>()), i);
    return edges;
  };
  std::set<std::pair<int64_t, int64_t>> preds, succs;
  for (int64_t i = 0; i < g.units; ++i) {
    for (uint32_t k = g.pred_offsets[i]; k < g.pred_offsets[i + 1]; ++k) preds.insert({g.preds[k], i});
    for (uint32_t k = g.succ_offsets[i]; k < g.succ_offsets[i + 1]; ++k) succs.insert({g.succs[k], i});
  }
  EXPECT_EQ(preds.size(), 7u);
  EXPECT_EQ(edges_of(plan.forward), preds);
  EXPECT_EQ(edges_of(plan.backward), succs);
  size_t most = 0;
  for (const rl::SweepPlan::Level& level : plan.forward.levels) most = std::max(most, level.source_levels.size());
  EXPECT_EQ(most, 3u) << "the last unit reads levels 0, 1 and 2";
}

TEST(PlacetoEncoderTest, OneSweepCarriesInformationAlongTheWholeChainInItsDirection) {
  auto f = Dag(Chain(6), std::vector<double>(6, 1), {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  const rl::SweepPlan plan = rl::SweepPlan::Of(g);
  EXPECT_EQ(plan.forward.levels.size(), 6u);
  EXPECT_EQ(plan.backward.levels.size(), 6u);
  rl::PlacetoEncoder encoder(rl::UnitFeatureWidth(), 8);
  rl::InitLinearLayers(*encoder, 11);
  // Which inputs each half of each unit's embedding depends on (the gradient's non-zero rows: structure, not
  // magnitude, which shrinks by every MLP it crosses).
  auto depends = [&](int64_t unit, bool forward_half) {
    const at::Tensor x = g.features.clone().requires_grad_(true);
    // Weighted: a layer-normalised row sums to 0 whatever its inputs.
    (encoder->Embed(x, plan).narrow(1, forward_half ? 0 : 8, 8)[unit] * at::arange(1, 9)).sum().backward();
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 6; ++i)
      if (x.grad()[i].abs().sum().item<double>() > 0) rows.push_back(i);
    return rows;
  };
  ASSERT_EQ(encoder->Embed(g.features, plan).sizes(), (at::IntArrayRef{6, 16}));
  // One forward sweep carries the first unit to the last; each half sees only its own direction.
  EXPECT_EQ(depends(5, true), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(depends(2, true), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(depends(0, false), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(depends(3, false), (std::vector<int64_t>{3, 4, 5}));
}

TEST(PlacetoEncoderTest, SetsOfADiamond) {
  // 0 -> {1, 2} -> 3, and 4 alone.
  auto f = Dag({{}, {0}, {0}, {1, 2}, {}}, {1, 1, 1, 1, 1}, {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  const rl::SweepPlan plan = rl::SweepPlan::Of(g);
  auto row = [](const at::Tensor& m, int64_t i) {
    std::vector<int64_t> out;
    for (int64_t j = 0; j < m.size(1); ++j)
      if (m[i][j].item<float>() > 0) out.push_back(j);
    return out;
  };
  EXPECT_EQ(row(plan.ancestors, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(row(plan.descendants, 0), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(row(plan.parallel, 1), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(row(plan.parallel, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  rl::PlacetoEncoder encoder(rl::UnitFeatureWidth(), 8);
  rl::InitLinearLayers(*encoder, 2);
  const at::Tensor h = encoder->Embed(g.features.unsqueeze(1).expand({5, 2, rl::UnitFeatureWidth()}), plan);
  const at::Tensor a = encoder->Aggregate(h, plan, at::tensor({1, 3}, at::TensorOptions().dtype(at::kLong)));
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, encoder->output_width()}));
  // Column j aggregates for its own current unit: its own embedding comes first.
  EXPECT_TRUE(at::allclose(a[0].narrow(0, 0, 16), h[1][0]));
  EXPECT_TRUE(at::allclose(a[1].narrow(0, 0, 16), h[3][1]));
  // Gradients reach the encoder's first layer through the sweeps and the sets.
  a.sum().backward();
  EXPECT_GT(encoder->parameters().front().grad().abs().sum().item<double>(), 0);
}

TEST(PlacetoEncoderTest, AveragedSetsWeighEachMemberByOneOverTheSetSize) {
  auto f = Dag({{}, {0}, {0}, {1, 2}, {}}, {1, 1, 1, 1, 1}, {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  const rl::SweepPlan sum = rl::SweepPlan::Of(g), mean = rl::SweepPlan::Of(g, /*mean_sets=*/true);
  for (auto [s, m] : {std::pair{&sum.ancestors, &mean.ancestors}, {&sum.descendants, &mean.descendants},
                      {&sum.parallel, &mean.parallel}})
    for (int64_t i = 0; i < 5; ++i) {
      const double count = (*s)[i].sum().item<double>();
      EXPECT_TRUE(at::allclose((*m)[i], count > 0 ? (*s)[i] / count : (*s)[i])) << i;
    }
  EXPECT_FLOAT_EQ(mean.descendants[0][3].item<float>(), 1.f / 3);  // 0's descendants: 1, 2, 3
}

TEST(PlacetoEncoderTest, SweepsStayBoundedAlongADeepGraphWhateverTheWeights) {
  // A sweep is a recurrence over the graph's depth; with amplifying f and g, unnormalised sums grew geometrically
  // along a 120-unit chain. Layer-normalised, every unit's embedding keeps mean 0 and variance 1.
  auto f = Dag(Chain(120), std::vector<double>(120, 1), {1, 1});
  rl::UnitGraph g = rl::BuildUnitGraph(f->graph, f->problem.groups);
  g.ComputeReachability();
  rl::PlacetoEncoder encoder(rl::UnitFeatureWidth(), 8);
  rl::InitLinearLayers(*encoder, 3, rl::LinearInit::kGlorot);
  torch::NoGradGuard no_grad;
  for (at::Tensor& p : encoder->parameters()) p.mul_(4);
  const at::Tensor h = encoder->Embed(g.features, rl::SweepPlan::Of(g));
  ASSERT_EQ(h.sizes(), (at::IntArrayRef{120, 16}));
  for (const at::Tensor& half : {h.narrow(1, 0, 8), h.narrow(1, 8, 8)}) {
    EXPECT_LT(half.mean(1).abs().max().item<double>(), 1e-4);
    EXPECT_LT((half.var(1, /*unbiased=*/false) - 1).abs().max().item<double>(), 1e-2);
  }
}

TEST(InitTest, GlorotBoundsMatricesByFanInPlusFanOutAndZeroesBiases) {
  torch::nn::Linear layer(torch::nn::LinearOptions(30, 10));
  rl::InitLinearLayers(*layer, 9, rl::LinearInit::kGlorot);
  const double bound = std::sqrt(6.0 / 40);
  EXPECT_LE(layer->weight.abs().max().item<double>(), bound);
  EXPECT_GT(layer->weight.abs().max().item<double>(), 0.9 * bound);
  EXPECT_EQ(layer->bias.abs().max().item<double>(), 0);
  rl::InitLinearLayers(*layer, 9);  // PyTorch's: ±1/sqrt(fan-in) for both
  EXPECT_LE(layer->weight.abs().max().item<double>(), 1 / std::sqrt(30.0));
  EXPECT_GT(layer->bias.abs().max().item<double>(), 0);
}

// Placeto on tiny graphs: every op its own decision unit, every device offered.
rl::PlacetoConfig EveryOpAUnit() {
  rl::PlacetoConfig c;
  c.max_groups = 0;
  c.fuse_chains = false;
  c.gpu_only = false;
  return c;
}

TEST(PlacetoPolicyTest, StartsNearUniformOnADeepGraph) {
  // Its first samples must explore: Glorot's scale alone started nas_cnn graphs at 85-97% on one device; the output
  // layer's small weights keep every decision's entropy near log(devices).
  auto f = Dag(Chain(60), std::vector<double>(60, 1), {1, 1, 1, 1});
  rl::PlacetoConfig c = EveryOpAUnit();
  rl::PlacetoPolicy policy(f->problem, c);
  policy.ResetParameters(5);
  std::mt19937_64 rng(1);
  torch::NoGradGuard no_grad;
  const rl::Decoded d = policy.Sample(2, rng, 0);
  ASSERT_EQ(d.decisions, 60);
  EXPECT_GT(d.entropy.min().item<double>(), 0.99 * std::log(4.0));
}

// An episode chooses step by step without gradients, then scores every step in one batched pass: the two must
// agree, so on 2 devices each greedy choice has probability at least 1/2 under the batched scores.
TEST(PlacetoPolicyTest, GreedyChoicesAreTheMostLikelyUnderTheBatchedScores) {
  auto f = Dag(Chain(12), {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, {1, 1});
  rl::PlacetoConfig c = EveryOpAUnit();
  rl::PlacetoPolicy policy(f->problem, c);
  policy.ResetParameters(9);
  for (at::Tensor& w : policy.parameters()) {  // away from the near-uniform start, so the choices mean something
    torch::NoGradGuard no_grad;
    w.mul_(3.0);
  }
  const rl::Decoded d = policy.Greedy();
  ASSERT_EQ(d.step_log_prob.size(1), 12);
  double far = 0;
  for (int64_t t = 0; t < 12; ++t) {
    const double p = std::exp(d.step_log_prob[0][t].item<double>());
    EXPECT_GE(p, 0.5 - 1e-5) << "step " << t;
    far = std::max(far, p);
  }
  EXPECT_GT(far, 0.6) << "some choice is not a near-tie";
}

// keep_best: an episode yields the best placement it visited (the moves up to some step, the later units back on
// their start device), never worse than its start or its end, and its moves replay to the same probabilities.
TEST(PlacetoPolicyTest, KeepBestYieldsTheBestPlacementAnEpisodeVisited) {
  auto f = Chains(kUnequal, {1, 1});
  rl::PlacetoConfig c = EveryOpAUnit();
  std::vector<rl::Decoded> runs;
  for (bool keep : {false, true}) {
    c.keep_best = keep;
    rl::PlacetoPolicy policy(f->problem, c);
    policy.ResetParameters(5);
    std::mt19937_64 rng(3);
    runs.push_back(policy.Sample(8, rng, 0));
    if (keep) {
      const rl::Decoded replay = policy.Evaluate(runs.back());
      EXPECT_TRUE(at::allclose(replay.step_log_prob, runs.back().step_log_prob));
    }
  }
  const rl::Decoded &last = runs[0], &best = runs[1];
  EXPECT_EQ(best.actions, last.devices) << "the same moves";
  const int64_t U = best.groups;
  auto cost = [&](const int64_t* row) {
    const rl::PlacetoPolicy policy(f->problem, c);
    return rl::PlacementCost(StepTime(*f, rl::ExpandDecision(f->problem, policy.decision_map(), row)), true);
  };
  const std::vector<int64_t> start(static_cast<size_t>(U), 0);
  int64_t improved = 0;
  for (int64_t k = 0; k < best.samples; ++k) {
    const double kept = cost(best.devices.data() + k * U), end = cost(last.devices.data() + k * U);
    EXPECT_LE(kept, cost(start.data()));
    EXPECT_LE(kept, end);
    EXPECT_NEAR(best.step_returns[k * U], cost(start.data()) - kept, 1e-12) << "the return of the whole episode";
    improved += kept < end;
  }
  EXPECT_GT(improved, 0) << "some episode ended worse than its best";
}

// Evaluate re-scores the last sampled episodes from their recorded states (PPO's epochs): exactly what replaying
// their moves through the simulator gives, for the batch, a reordered subset of it, and with keep_best.
TEST(PlacetoPolicyTest, ReScoringSampledEpisodesEqualsReplayingThem) {
  auto f = Dag(Chain(12), {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, {1, 1});
  for (bool keep : {false, true}) {
    rl::PlacetoConfig c = EveryOpAUnit();
    c.keep_best = keep;
    rl::PlacetoPolicy sampled(f->problem, c);
    sampled.ResetParameters(4);
    rl::PlacetoPolicy fresh(f->problem, c, sampled.net());  // the same network, nothing sampled: replays
    std::mt19937_64 rng(11);
    const rl::Decoded batch = sampled.Sample(6, rng, 0);
    const double simulated = sampled.simulation_seconds();
    EXPECT_GT(simulated, 0);
    for (const rl::Decoded& b : {batch, batch.Select({4, 1, 1})}) {
      const rl::Decoded cached = sampled.Evaluate(b), replayed = fresh.Evaluate(b);
      EXPECT_EQ(sampled.simulation_seconds(), simulated) << "re-scored without a simulation";
      EXPECT_TRUE(at::equal(cached.step_log_prob, replayed.step_log_prob)) << "keep_best " << keep;
      EXPECT_TRUE(at::equal(cached.entropy, replayed.entropy));
      EXPECT_EQ(cached.devices, replayed.devices);
      EXPECT_EQ(cached.step_returns, replayed.step_returns);
      EXPECT_EQ(cached.actions, b.actions);
    }
    EXPECT_TRUE(at::equal(sampled.Evaluate(batch).log_prob, batch.log_prob)) << "the sampling pass's scores";
    rl::Decoded other = batch.Select({0});
    other.actions.assign(other.actions.size(), 1);  // never sampled: replayed
    EXPECT_TRUE(at::equal(sampled.Evaluate(other).log_prob, fresh.Evaluate(other).log_prob));
  }
}

TEST(SegmentAttentionTest, AUnitSeesItsSegmentAndThePreviousOnly) {
  rl::SegmentAttentionConfig c;
  c.width = 8;
  c.heads = 2;
  c.layers = 1;
  c.segment = 4;
  rl::SegmentAttention attention(c);
  rl::InitLinearLayers(*attention, 5);
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({14, 8}), context = at::randn({8});
  const at::Tensor y = attention->forward(x, context);
  ASSERT_EQ(y.sizes(), x.sizes());
  at::Tensor x2 = x.clone();
  x2[1] += 1.0;  // a unit of segment 0
  const at::Tensor y2 = attention->forward(x2, context);
  auto changed = [&](int64_t from, int64_t to) { return !at::allclose(y.narrow(0, from, to - from), y2.narrow(0, from, to - from)); };
  EXPECT_TRUE(changed(0, 4));    // its own segment
  EXPECT_TRUE(changed(4, 8));    // the next, through its memory
  EXPECT_FALSE(changed(8, 14));  // beyond: out of reach of one layer
  // The padding of the last segment (14 = 3 x 4 + 2) is never attended: appending units changes no earlier output
  // beyond the last segment's window.
  const at::Tensor longer = attention->forward(at::cat({x, at::randn({2, 8})}, 0), context);
  EXPECT_TRUE(at::allclose(longer.narrow(0, 0, 8), y.narrow(0, 0, 8)));
}

// The graph-generic placers (gdp, placeto) with settings for tiny graphs: every op its own unit.
OptionValues GenericOptions(const std::string& placer, int64_t steps) {
  return SmallOptions(placer, steps, "lr=0.01,fuse_chains=false");
}

class GraphPlacerTest : public ::testing::TestWithParam<std::string> {};

// Single chains on a fast and a very slow device: whatever the length, the optimum runs everything on the fast
// one. Trained on chains of 2-6 ops, the policy places chains of 9 and 13 it never saw at that optimum.
TEST_P(GraphPlacerTest, TrainedOnSeveralGraphsPlacesAnUnseenOneAtItsOptimum) {
  const std::string placer = GetParam();
  std::vector<std::unique_ptr<Case>> train, unseen;
  for (int n : {2, 3, 4, 6}) train.push_back(Dag(Chain(n), std::vector<double>(n, 1), {1, 100}));
  for (int n : {9, 13}) unseen.push_back(Dag(Chain(n), std::vector<double>(n, 1), {1, 100}));
  std::vector<const PlacementProblem*> problems;
  for (const auto& c : train) problems.push_back(&c->problem);
  const std::string dir = TempDir(placer + "_family");
  rl::TrainerConfig run;
  run.out_dir = dir;
  auto trainer = rl::MakeTrainer(problems, placer, GenericOptions(placer, 60), run);
  const rl::TrainResult r = trainer->Train();
  ASSERT_EQ(r.tasks.size(), 4u);
  for (size_t t = 0; t < train.size(); ++t) EXPECT_NEAR(r.tasks[t].step_time, t == 3 ? 6e-3 : (t + 2) * 1e-3, 1e-9);
  std::set<int64_t> graphs;
  for (const rl::CurvePoint& c : r.curve) graphs.insert(c.task);
  EXPECT_EQ(graphs.size(), 4u) << "every graph is drawn";
  rl::PolicyMetadata meta = rl::MetadataOf(*trainer, r);
  rl::SavePolicyDirectory(dir + "/policy", trainer->policy(), meta);
  EXPECT_NE(ReadFile(dir + "/learning_curve.csv").find(",graph,relative_step_time\n"), std::string::npos);

  for (const auto& c : unseen) {
    const std::vector<DeviceId> placed = Learned().Create(placer + ":policy=" + dir)->place(c->problem);
    EXPECT_NEAR(StepTime(*c, placed), static_cast<double>(c->graph.num_nodes()) * 1e-3, 1e-9);
  }
  // Another device count is refused in one line.
  auto three = Dag(Chain(5), std::vector<double>(5, 1), {1, 1, 100});
  try {
    Learned().Create(placer + ":policy=" + dir)->place(three->problem);
    ADD_FAILURE() << "a 2-device policy placed on 3 devices";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("places on 2 devices"), std::string::npos) << e.what();
  }
  // Fine-tuning on the unseen graph keeps the optimum (the best of the zero-shot decode and the samples).
  const std::vector<DeviceId> tuned =
      Learned().Create(placer + ":policy=" + dir + ",finetune_steps=3,samples=4")->place(unseen[0]->problem);
  EXPECT_NEAR(StepTime(*unseen[0], tuned), 9e-3, 1e-9);
  std::filesystem::remove_all(dir);
}

// One graph per update, and two (GDP-batch: two distinct graphs per step, one curve point each).
TEST_P(GraphPlacerTest, AMultiGraphRunResumesExactly) {
  const std::string placer = GetParam();
  std::vector<std::unique_ptr<Case>> cases;
  cases.push_back(Chains(kUnequal, {1, 1}));
  cases.push_back(Dag({{}, {0}, {0}, {1, 2}, {}}, {1, 2, 3, 4, 5}, {1, 1}));
  cases.push_back(Dag(Chain(7), std::vector<double>(7, 1), {1, 1}));
  const int64_t N = 5;
  for (const int64_t graphs : {1, 2}) {
    SCOPED_TRACE("graphs=" + std::to_string(graphs));
    std::vector<const PlacementProblem*> problems;
    for (const auto& c : cases) problems.push_back(&c->problem);
    auto options = [&](int64_t steps) {
      // gdp's adapted entropy weights are part of the state a resumed run must restore.
      return SmallOptions(placer, steps, "lr=0.01,fuse_chains=false,graphs=" + std::to_string(graphs) +
                                             (placer == "gdp" ? ",entropy=0.03,entropy_target=0.5" : ""));
    };
    auto full = rl::MakeTrainer(problems, placer, options(2 * N));
    const rl::TrainResult uninterrupted = full->Train();
    ASSERT_EQ(uninterrupted.curve.size(), static_cast<size_t>(2 * N * graphs));
    for (size_t i = 0; i < uninterrupted.curve.size(); i += static_cast<size_t>(graphs)) {
      std::set<int64_t> drawn;
      for (int64_t b = 0; b < graphs; ++b) {
        EXPECT_EQ(uninterrupted.curve[i + b].step, static_cast<int64_t>(i) / graphs + 1);
        drawn.insert(uninterrupted.curve[i + b].task);
      }
      EXPECT_EQ(drawn.size(), static_cast<size_t>(graphs)) << "distinct graphs in one update";
    }
    const std::string dir = TempDir(placer + "_resume");
    rl::TrainerConfig run;
    run.out_dir = dir;
    rl::MakeTrainer(problems, placer, options(N), run)->Train();
    run.resume = true;
    auto second = rl::MakeTrainer(problems, placer, options(2 * N), run);
    const rl::TrainResult resumed = second->Train();
    ASSERT_EQ(resumed.curve.size(), uninterrupted.curve.size());
    for (size_t i = 0; i < resumed.curve.size(); ++i) {
      EXPECT_EQ(resumed.curve[i].task, uninterrupted.curve[i].task) << i;
      EXPECT_EQ(resumed.curve[i].mean_reward, uninterrupted.curve[i].mean_reward) << i;
    }
    for (size_t t = 0; t < problems.size(); ++t) {
      EXPECT_EQ(resumed.tasks[t].step_time, uninterrupted.tasks[t].step_time) << t;
      EXPECT_EQ(resumed.tasks[t].groups, uninterrupted.tasks[t].groups) << t;
    }
    ExpectSameParameters(Parameters(*full), Parameters(*second));
    // Another number of graphs per update is another run.
    EXPECT_THROW(rl::MakeTrainer(problems, placer, SmallOptions(placer, 2 * N, "lr=0.01,fuse_chains=false,graphs=" +
                                                                                   std::to_string(3 - graphs)),
                                 run)->Train(),
                 Error);
    // The same graphs in another order are another run.
    std::swap(problems[0], problems[2]);
    EXPECT_THROW(rl::MakeTrainer(problems, placer, options(2 * N), run)->Train(), Error);
    // Placers tied to one graph refuse several.
    EXPECT_THROW(rl::MakeTrainer(problems, "seq2seq", SmallOptions("seq2seq", 2)), Error);
    std::filesystem::remove_all(dir);
  }
}

INSTANTIATE_TEST_SUITE_P(Generic, GraphPlacerTest, ::testing::Values("gdp", "placeto"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace allot
