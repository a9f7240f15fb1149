// The multi-device executor: placements across virtual CPU devices compute what one device computes, a training
// step's loss falls, and unsupported ops or devices are refused before anything runs; where LibTorch has CUDA, a
// host + GPU placement computes what the host computes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "cost_model/cluster.h"
#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "models/model_zoo.h"
#include "runtime/devices.h"
#include "runtime/executor.h"
#include "runtime/measure.h"
#include "tests/test_models.h"

namespace allot {
namespace {

struct Model {
  onnx::ModelProto proto;
  Graph graph;
};

Model Generated(const std::string& spec, bool training) {
  auto [name, options] = models::ParseModelSpec(spec);
  Model m{models::Generate(name, options), {}};
  onnx::ModelProto copy = m.proto;
  m.graph = ImportModel(copy, spec, ImportOptions{});
  if (training) m.graph = SynthesizeTrainingGraph(m.graph);
  return m;
}

std::vector<DeviceId> Alternate(const Graph& g) {
  std::vector<DeviceId> p(g.num_nodes());
  for (NodeId n = 0; n < g.num_nodes(); ++n) p[n] = static_cast<DeviceId>(n % 2);
  for (NodeId n = 0; n < g.num_nodes(); ++n)
    if (g.node(n).forward != kNone) p[n] = p[g.node(n).forward];
  return p;
}

// Three SGD steps of each placement from the same weights: the same loss trajectory.
void ExpectSameLosses(const Model& m, const Cluster& cluster, const std::vector<DeviceId>& a,
                      const std::vector<DeviceId>& b, double tolerance) {
  runtime::MeasureOptions options;
  options.steps = 3;
  options.warmup = 0;
  options.learning_rate = 0.1;
  const auto one = runtime::MeasurePlacement(m.proto, m.graph, cluster, a, options);
  const auto two = runtime::MeasurePlacement(m.proto, m.graph, cluster, b, options);
  ASSERT_EQ(one.losses.size(), two.losses.size());
  for (size_t i = 0; i < one.losses.size(); ++i) EXPECT_NEAR(one.losses[i], two.losses[i], tolerance) << i;
}

TEST(RuntimeExecutorTest, SplitPlacementComputesWhatOneDeviceComputes) {
  at::set_num_threads(1);
  const Model m = Generated("nmt,layers=2,seq=3,hidden=16,vocab=40,batch=2", false);
  const Cluster cluster = MakePreset("cpu2");
  runtime::Executor one(m.proto, m.graph, cluster, std::vector<DeviceId>(m.graph.num_nodes(), 0));
  runtime::Executor two(m.proto, m.graph, cluster, Alternate(m.graph));
  one.Step();
  const runtime::StepStats split = two.Step();
  EXPECT_GT(split.copies, 0u);
  const auto a = one.Outputs(), b = two.Outputs();
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::allclose(a[i], b[i], 1e-5, 1e-6)) << i;
}

TEST(RuntimeExecutorTest, TrainingStepLossFalls) {
  at::set_num_threads(1);
  const Model m = Generated("mlp,batch=16,hidden=32", true);
  const Cluster cluster = MakePreset("cpu2");
  runtime::MeasureOptions options;
  options.steps = 8;
  options.warmup = 0;
  options.learning_rate = 0.05;
  const runtime::Measurement r = runtime::MeasurePlacement(m.proto, m.graph, cluster, Alternate(m.graph), options);
  ASSERT_EQ(r.losses.size(), 8u);
  EXPECT_LT(r.losses.back(), r.losses.front());
  for (size_t i = 1; i < r.losses.size(); ++i) EXPECT_LE(r.losses[i], r.losses[i - 1] + 1e-6) << i;
}

TEST(RuntimeExecutorTest, GradientsMatchOneBackwardPass) {
  // The islands' chained gradients equal autograd's over the whole forward (checked through SGD: one step of
  // each placement from the same weights gives the same loss trajectory).
  at::set_num_threads(1);
  const Model m = Generated("mlp,batch=8,hidden=16", true);
  ExpectSameLosses(m, MakePreset("cpu2"), std::vector<DeviceId>(m.graph.num_nodes(), 1), Alternate(m.graph), 1e-5);
}

TEST(RuntimeExecutorTest, RefusesUnsupportedOpsAndDevicesBeforeRunning) {
  onnx::ModelProto proto = test::NewModel();
  auto* g = proto.mutable_graph();
  test::SetType(g->add_input(), "x", {2});
  auto* node = test::AddNode(g, "MadeUpOp", "weird", {"x"}, {"y"});
  node->set_domain("com.example");
  test::AddNode(g, "OtherOp", "other", {"y"}, {"z"})->set_domain("com.example");  // the error names every op
  test::SetType(g->add_output(), "z", {2});
  test::SetType(g->add_value_info(), "y", {2});
  test::SetType(g->add_value_info(), "z", {2});
  onnx::ModelProto copy = proto;
  ImportOptions no_check;
  no_check.check = false;
  const Graph graph = ImportModel(copy, "weird", no_check);
  const Cluster cluster = MakePreset("cpu2");
  try {
    runtime::Executor exec(proto, graph, cluster, {0, 0});
    FAIL() << "ran an unknown op";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'weird'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("op com.example::MadeUpOp has no runtime kernel"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("; nor have com.example::OtherOp"), std::string::npos) << e.what();
  }
}

// A GPU this machine lacks is refused before anything runs, naming the first node placed there and the device: on
// a CPU-only LibTorch every cuda:K, elsewhere one past the machine's GPUs.
TEST(RuntimeExecutorTest, RefusesGpusThisMachineLacks) {
  const Model mlp = Generated("mlp,batch=2,hidden=4", false);
  const Cluster gpus = MakePreset("h100x8");
  const int have = runtime::CudaDeviceCount();
  if (have >= 8) GTEST_SKIP() << "this machine has 8 GPUs";
  const DeviceId missing = gpus.FindDevice("cuda:" + std::to_string(have));
  ASSERT_NE(missing, Cluster::kNoDevice);
  try {
    runtime::Executor exec(mlp.proto, mlp.graph, gpus, std::vector<DeviceId>(mlp.graph.num_nodes(), missing));
    FAIL() << "ran on a GPU this machine lacks";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("node '" + std::string(mlp.graph.node_name(0)) + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("'cuda:" + std::to_string(have) + "'"), std::string::npos) << what;
    EXPECT_NE(what.find(have == 0 ? "this LibTorch has no CUDA" : "this machine has"), std::string::npos) << what;
  }
}

// Where LibTorch has CUDA (scripts/gpu_check.sh builds allot so): a placement split between the host and cuda:0
// computes what the host alone computes, for inference and through training steps.
TEST(RuntimeExecutorTest, HostAndGpuPlacementComputesWhatTheHostComputes) {
  if (runtime::CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device (Debian's LibTorch is CPU-only)";
  const Cluster cluster = MakePreset("h200x1");  // cpu:0, cuda:0
  const Model m = Generated("nmt,layers=2,seq=3,hidden=16,vocab=40,batch=2", false);
  runtime::Executor host(m.proto, m.graph, cluster, std::vector<DeviceId>(m.graph.num_nodes(), 0));
  runtime::Executor split(m.proto, m.graph, cluster, Alternate(m.graph));
  host.Step();
  EXPECT_GT(split.Step().copies, 0u);
  const auto a = host.Outputs(), b = split.Outputs();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::allclose(a[i], b[i], 1e-4, 1e-5)) << i;

  const Model mlp = Generated("mlp,batch=8,hidden=16", true);
  ExpectSameLosses(mlp, cluster, std::vector<DeviceId>(mlp.graph.num_nodes(), 0), Alternate(mlp.graph), 1e-4);
}

}  // namespace
}  // namespace allot
