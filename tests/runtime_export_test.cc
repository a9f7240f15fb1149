// Per-device sub-models, executed by the runtime in manifest order and fed their transfers, compute the whole
// model's outputs: on a generated NMT with a ping-pong placement, and on a torchvision export, whose outputs also
// match PyTorch's own.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "graph/onnx_export.h"
#include "graph/onnx_import.h"
#include "models/model_zoo.h"
#include "runtime/reference_interpreter.h"
#include "runtime/tensor_proto.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

// Seeded inputs of the declared shapes (token ids in [0, 8) for integer inputs).
std::map<std::string, at::Tensor> Inputs(const onnx::ModelProto& model) {
  at::manual_seed(3);
  std::map<std::string, at::Tensor> inputs;
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  for (const auto& vi : model.graph().input()) {
    if (initializers.count(vi.name())) continue;
    std::vector<int64_t> shape;
    for (const auto& d : vi.type().tensor_type().shape().dim()) shape.push_back(d.dim_value());
    const int elem = vi.type().tensor_type().elem_type();
    inputs[vi.name()] = elem == onnx::TensorProto::FLOAT ? at::rand(shape) : at::randint(0, 8, shape, at::kLong);
  }
  return inputs;
}

std::vector<at::Tensor> RunWhole(const onnx::ModelProto& model, const std::map<std::string, at::Tensor>& inputs) {
  runtime::ReferenceInterpreter whole(model);
  std::vector<at::Tensor> args;
  for (const std::string& name : whole.input_names()) args.push_back(inputs.at(name));
  return whole.Run(args);
}

std::vector<at::Tensor> RunSplit(const onnx::ModelProto& model, const std::vector<std::string>& devices,
                                 const std::map<std::string, at::Tensor>& inputs, size_t* parts) {
  const SplitModelResult split = SplitModel(model, devices);
  *parts = split.submodels.size();
  return RunSplitModel<at::Tensor>(split, inputs, [](const Submodel& sub, const std::vector<at::Tensor>& in) {
    return runtime::RunModel(sub.model, in);
  });
}

void ExpectClose(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::allclose(a[i], b[i], 1e-4, 1e-5)) << "output " << i;
}

TEST(RuntimeExportTest, GeneratedNmtSplitIntoStagesComputesTheWholeModel) {
  at::set_num_threads(1);
  auto [name, options] = models::ParseModelSpec("nmt,layers=2,seq=4,hidden=16,vocab=30,batch=2,weights=1");
  const onnx::ModelProto model = models::Generate(name, options);
  // Blocks of 40 nodes alternate between two devices: the stages go back and forth.
  std::vector<std::string> devices(static_cast<size_t>(model.graph().node_size()));
  for (size_t n = 0; n < devices.size(); ++n) devices[n] = (n / 40) % 2 ? "cpu:1" : "cpu:0";
  const auto inputs = Inputs(model);
  size_t parts = 0;
  const auto split = RunSplit(model, devices, inputs, &parts);
  EXPECT_GT(parts, 2u);
  ExpectClose(RunWhole(model, inputs), split);
}

// A PyTorch export (export_torch.py), split half and half over two devices: the split runs as the whole model
// does, and the whole model as PyTorch does. The transformer's attention reshapes take their sizes from Shape
// chains, which the split's typing has to fold (graph/shape_inference.h).
void ExpectSplitExportMatchesPyTorch(const std::string& name) {
  const fs::path out = fs::temp_directory_path() / "allot_torch_export";
  const std::string script = std::string(ALLOT_SOURCE_DIR) + "/models/export_torch.py";
  const std::string cmd = "/usr/bin/python3 " + script + " --out " + out.string() + " --models " + name + " > /dev/null 2>&1";
  if (!fs::exists(out / name / "model.onnx") && std::system(cmd.c_str()) != 0)
    GTEST_SKIP() << "python3-torch/torchvision not available to export the model";
  at::set_num_threads(1);
  const onnx::ModelProto model = ReadModelProto((out / name / "model.onnx").string());
  const fs::path data = out / name / "test_data_set_0";
  const at::Tensor input = runtime::TensorFromProto(runtime::ReadTensorProto((data / "input_0.pb").string()));
  const at::Tensor expected = runtime::TensorFromProto(runtime::ReadTensorProto((data / "output_0.pb").string()));
  std::map<std::string, at::Tensor> inputs;
  runtime::ReferenceInterpreter whole(model);
  ASSERT_EQ(whole.input_names().size(), 1u);
  inputs[whole.input_names()[0]] = input;

  const std::vector<at::Tensor> reference = RunWhole(model, inputs);
  ASSERT_EQ(reference.size(), 1u);
  EXPECT_TRUE(at::allclose(reference[0], expected, 1e-3, 1e-4)) << "allot's runtime against PyTorch";

  std::vector<std::string> devices(static_cast<size_t>(model.graph().node_size()));
  for (size_t n = 0; n < devices.size(); ++n) devices[n] = n < devices.size() / 2 ? "cpu:0" : "cpu:1";
  size_t parts = 0;
  const auto split = RunSplit(model, devices, inputs, &parts);
  EXPECT_GE(parts, 2u);
  ExpectClose(reference, split);
}

TEST(RuntimeExportTest, TorchvisionExportSplitMatchesTheWholeModelAndPyTorch) {
  ExpectSplitExportMatchesPyTorch("mobilenet_v2");
}

TEST(RuntimeExportTest, TransformerExportSplitMatchesTheWholeModelAndPyTorch) {
  ExpectSplitExportMatchesPyTorch("transformer_encoder");
}

}  // namespace
}  // namespace allot
