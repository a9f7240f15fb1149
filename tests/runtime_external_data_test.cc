// The runtime reads external-data initializers from their files, mapped: the results equal the weights', and a
// training step updates its private copy, never the file.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cost_model/cluster.h"
#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"
#include "runtime/executor.h"
#include "tests/external_model.h"

namespace allot::runtime {
namespace {

TEST(RuntimeExternalData, MappedWeightsComputeAndTrainingLeavesTheFileAlone) {
  const std::filesystem::path dir = test::ExternalModelDir("allot_runtime_external");
  const std::string path = test::WriteExternalModel(dir, "w.bin");
  auto file_bytes = [&] {
    std::ifstream in(dir / "w.bin", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string before = file_bytes();
  onnx::ModelProto model;
  const Graph g = ParseAndImport([&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }(), path, ImportOptions{}, model, nullptr, dir.string());
  const Cluster cluster = MakePreset("cpu2");
  RunOptions options;
  options.model_dir = dir.string();
  Executor exec(model, g, cluster, std::vector<DeviceId>(g.num_nodes(), 0), options);
  const at::Tensor x = at::ones({2, 4});
  exec.SetInputs({x});
  exec.Step();
  const at::Tensor w = at::arange(32, at::kFloat).mul(0.01f).reshape({4, 8});
  EXPECT_TRUE(at::allclose(exec.Outputs()[0], at::matmul(x, w)));

  const Graph training = SynthesizeTrainingGraph(g, TrainingOptions{});
  RunOptions train = options;
  train.learning_rate = 0.5;
  Executor trainer(model, training, cluster, std::vector<DeviceId>(training.num_nodes(), 1), train);
  trainer.SetInputs({x});
  trainer.Step();
  trainer.Step();
  EXPECT_FALSE(at::allclose(trainer.Outputs()[0], at::matmul(x, w)));  // the weights moved
  EXPECT_EQ(file_bytes(), before);                                     // in memory only

  // Without the model's folder, external data is an error naming the tensor.
  RunOptions no_dir;
  EXPECT_THROW(Executor(model, g, cluster, std::vector<DeviceId>(g.num_nodes(), 0), no_dir), allot::Error);
}

}  // namespace
}  // namespace allot::runtime
