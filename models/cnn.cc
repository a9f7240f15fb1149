// The convolutional benchmarks: Inception-V3 (ColocRL, Post, Spotlight, Baechi) and ResNet (HDP).
// Both follow torchvision's definitions (the same networks models/export_torch.py exports), so a generated
// graph and PyTorch's export can be compared op by op; the differences are that BN stays a separate op here
// (TF graphs kept it separate, torch.onnx folds it into Conv in eval mode) and there is no Dropout.
#include "graph/error.h"
#include "models/generators.h"
#include "models/layers.h"

namespace allot::models::detail {
namespace {

// ---- Inception-V3 -------------------------------------------------------------------------------------------
constexpr float kInceptionBnEpsilon = 1e-3f;  // torchvision BasicConv2d and TF-slim

// BasicConv2d: Conv + BN + Relu with a square or (1,n)/(n,1) kernel and "same" padding for stride 1.
Tensor Unit(OnnxBuilder& b, const Tensor& x, int64_t out, int64_t kh, int64_t kw, const std::string& scope,
            int64_t stride = 1, bool same = true) {
  const int64_t ph = same ? (kh - 1) / 2 : 0, pw = same ? (kw - 1) / 2 : 0;
  return ConvBn(b, x, out, kh, kw, stride, {ph, pw, ph, pw}, kInceptionBnEpsilon, true, scope);
}

Tensor AvgPool3x3Same(OnnxBuilder& b, const Tensor& x, const std::string& name) {
  // torch's avg_pool2d counts the zero padding (count_include_pad=True), as its ONNX export says.
  return b.AveragePool(x, {3, 3}, {1, 1}, {1, 1, 1, 1}, true, name);
}

Tensor MaxPool3x3Stride2(OnnxBuilder& b, const Tensor& x, const std::string& name) {
  return b.MaxPool(x, {3, 3}, {2, 2}, {0, 0, 0, 0}, name);
}

// 35x35 blocks (Mixed_5b..5d).
Tensor InceptionA(OnnxBuilder& b, const Tensor& x, int64_t pool_features, const std::string& s) {
  const Tensor b1 = Unit(b, x, 64, 1, 1, s + "/branch1x1");
  Tensor b5 = Unit(b, x, 48, 1, 1, s + "/branch5x5_1");
  b5 = Unit(b, b5, 64, 5, 5, s + "/branch5x5_2");
  Tensor b3 = Unit(b, x, 64, 1, 1, s + "/branch3x3dbl_1");
  b3 = Unit(b, b3, 96, 3, 3, s + "/branch3x3dbl_2");
  b3 = Unit(b, b3, 96, 3, 3, s + "/branch3x3dbl_3");
  const Tensor bp = Unit(b, AvgPool3x3Same(b, x, s + "/branch_pool/avg"), pool_features, 1, 1, s + "/branch_pool");
  return b.Concat({b1, b5, b3, bp}, 1, s + "/concat");
}

// 35x35 -> 17x17 reduction (Mixed_6a).
Tensor InceptionB(OnnxBuilder& b, const Tensor& x, const std::string& s) {
  const Tensor b3 = Unit(b, x, 384, 3, 3, s + "/branch3x3", 2, false);
  Tensor bd = Unit(b, x, 64, 1, 1, s + "/branch3x3dbl_1");
  bd = Unit(b, bd, 96, 3, 3, s + "/branch3x3dbl_2");
  bd = Unit(b, bd, 96, 3, 3, s + "/branch3x3dbl_3", 2, false);
  const Tensor bp = MaxPool3x3Stride2(b, x, s + "/branch_pool");
  return b.Concat({b3, bd, bp}, 1, s + "/concat");
}

// 17x17 blocks with factorized 7x7 convolutions (Mixed_6b..6e).
Tensor InceptionC(OnnxBuilder& b, const Tensor& x, int64_t c7, const std::string& s) {
  const Tensor b1 = Unit(b, x, 192, 1, 1, s + "/branch1x1");
  Tensor b7 = Unit(b, x, c7, 1, 1, s + "/branch7x7_1");
  b7 = Unit(b, b7, c7, 1, 7, s + "/branch7x7_2");
  b7 = Unit(b, b7, 192, 7, 1, s + "/branch7x7_3");
  Tensor bd = Unit(b, x, c7, 1, 1, s + "/branch7x7dbl_1");
  bd = Unit(b, bd, c7, 7, 1, s + "/branch7x7dbl_2");
  bd = Unit(b, bd, c7, 1, 7, s + "/branch7x7dbl_3");
  bd = Unit(b, bd, c7, 7, 1, s + "/branch7x7dbl_4");
  bd = Unit(b, bd, 192, 1, 7, s + "/branch7x7dbl_5");
  const Tensor bp = Unit(b, AvgPool3x3Same(b, x, s + "/branch_pool/avg"), 192, 1, 1, s + "/branch_pool");
  return b.Concat({b1, b7, bd, bp}, 1, s + "/concat");
}

// 17x17 -> 8x8 reduction (Mixed_7a).
Tensor InceptionD(OnnxBuilder& b, const Tensor& x, const std::string& s) {
  Tensor b3 = Unit(b, x, 192, 1, 1, s + "/branch3x3_1");
  b3 = Unit(b, b3, 320, 3, 3, s + "/branch3x3_2", 2, false);
  Tensor b7 = Unit(b, x, 192, 1, 1, s + "/branch7x7x3_1");
  b7 = Unit(b, b7, 192, 1, 7, s + "/branch7x7x3_2");
  b7 = Unit(b, b7, 192, 7, 1, s + "/branch7x7x3_3");
  b7 = Unit(b, b7, 192, 3, 3, s + "/branch7x7x3_4", 2, false);
  const Tensor bp = MaxPool3x3Stride2(b, x, s + "/branch_pool");
  return b.Concat({b3, b7, bp}, 1, s + "/concat");
}

// 8x8 blocks with expanded filter banks (Mixed_7b, 7c).
Tensor InceptionE(OnnxBuilder& b, const Tensor& x, const std::string& s) {
  const Tensor b1 = Unit(b, x, 320, 1, 1, s + "/branch1x1");
  const Tensor b3 = Unit(b, x, 384, 1, 1, s + "/branch3x3_1");
  const Tensor b3_cat = b.Concat(
      {Unit(b, b3, 384, 1, 3, s + "/branch3x3_2a"), Unit(b, b3, 384, 3, 1, s + "/branch3x3_2b")}, 1,
      s + "/branch3x3/concat");
  Tensor bd = Unit(b, x, 448, 1, 1, s + "/branch3x3dbl_1");
  bd = Unit(b, bd, 384, 3, 3, s + "/branch3x3dbl_2");
  const Tensor bd_cat = b.Concat(
      {Unit(b, bd, 384, 1, 3, s + "/branch3x3dbl_3a"), Unit(b, bd, 384, 3, 1, s + "/branch3x3dbl_3b")}, 1,
      s + "/branch3x3dbl/concat");
  const Tensor bp = Unit(b, AvgPool3x3Same(b, x, s + "/branch_pool/avg"), 192, 1, 1, s + "/branch_pool");
  return b.Concat({b1, b3_cat, bd_cat, bp}, 1, s + "/concat");
}

// ---- ResNet -----------------------------------------------------------------------------------------------------
constexpr float kResNetBnEpsilon = 1e-5f;  // torchvision

// Bottleneck v1.5: the stride sits on the 3x3 convolution (torchvision, NVIDIA's reference), not on the 1x1.
Tensor Bottleneck(OnnxBuilder& b, const Tensor& x, int64_t width, int64_t stride, const std::string& s) {
  const int64_t out = 4 * width;
  Tensor y = ConvBn(b, x, width, 1, 1, 1, {0, 0, 0, 0}, kResNetBnEpsilon, true, s + "/conv1");
  y = ConvBn(b, y, width, 3, 3, stride, {1, 1, 1, 1}, kResNetBnEpsilon, true, s + "/conv2");
  y = ConvBn(b, y, out, 1, 1, 1, {0, 0, 0, 0}, kResNetBnEpsilon, false, s + "/conv3");
  Tensor shortcut = x;
  if (stride != 1 || x.dim(1) != out) {
    shortcut = ConvBn(b, x, out, 1, 1, stride, {0, 0, 0, 0}, kResNetBnEpsilon, false, s + "/downsample");
  }
  return b.Relu(b.Add(y, shortcut, s + "/residual"), s + "/relu");
}

}  // namespace

onnx::ModelProto GenerateInceptionV3(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 32);
  OnnxBuilder b("inception_v3", options.weights, options.seed);
  Tensor x = b.Input("images", onnx::TensorProto::FLOAT, {batch, 3, 299, 299});
  x = Unit(b, x, 32, 3, 3, "Conv2d_1a_3x3", 2, false);  // 149
  x = Unit(b, x, 32, 3, 3, "Conv2d_2a_3x3", 1, false);  // 147
  x = Unit(b, x, 64, 3, 3, "Conv2d_2b_3x3");            // 147
  x = MaxPool3x3Stride2(b, x, "maxpool1");               // 73
  x = Unit(b, x, 80, 1, 1, "Conv2d_3b_1x1");
  x = Unit(b, x, 192, 3, 3, "Conv2d_4a_3x3", 1, false);  // 71
  x = MaxPool3x3Stride2(b, x, "maxpool2");                // 35
  x = InceptionA(b, x, 32, "Mixed_5b");                   // 256 channels
  x = InceptionA(b, x, 64, "Mixed_5c");                   // 288
  x = InceptionA(b, x, 64, "Mixed_5d");                   // 288
  x = InceptionB(b, x, "Mixed_6a");                       // 768, 17x17
  x = InceptionC(b, x, 128, "Mixed_6b");
  x = InceptionC(b, x, 160, "Mixed_6c");
  x = InceptionC(b, x, 160, "Mixed_6d");
  x = InceptionC(b, x, 192, "Mixed_6e");
  x = InceptionD(b, x, "Mixed_7a");  // 1280, 8x8
  x = InceptionE(b, x, "Mixed_7b");  // 2048
  x = InceptionE(b, x, "Mixed_7c");  // 2048
  x = b.GlobalAveragePool(x, "avgpool");
  b.Output(Classifier(b, x, 1000));
  return b.Finish(DescribeModel("inception_v3", options, {{"batch", batch}}));
}

onnx::ModelProto GenerateResNet(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 32);
  const int depth = options.layers > 0 ? options.layers : 50;
  std::vector<int> blocks;
  switch (depth) {
    case 50: blocks = {3, 4, 6, 3}; break;
    case 101: blocks = {3, 4, 23, 3}; break;
    case 152: blocks = {3, 8, 36, 3}; break;
    default:
      throw Error("model generator 'resnet50': layers=" + std::to_string(depth) + " is not a bottleneck ResNet "
                  "depth (50, 101 or 152)");
  }
  OnnxBuilder b("resnet" + std::to_string(depth), options.weights, options.seed);
  Tensor x = b.Input("images", onnx::TensorProto::FLOAT, {batch, 3, 224, 224});
  x = ConvBn(b, x, 64, 7, 7, 2, {3, 3, 3, 3}, kResNetBnEpsilon, true, "conv1");  // 112
  x = b.MaxPool(x, {3, 3}, {2, 2}, {1, 1, 1, 1}, "maxpool");                    // 56
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    const int64_t width = int64_t{64} << stage;
    for (int block = 0; block < blocks[stage]; ++block) {
      const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
      x = Bottleneck(b, x, width, stride, "layer" + std::to_string(stage + 1) + "/" + std::to_string(block));
    }
  }
  x = b.GlobalAveragePool(x, "avgpool");
  b.Output(Classifier(b, x, 1000));
  return b.Finish(DescribeModel("resnet50", options, {{"batch", batch}, {"layers", depth}}));
}

}  // namespace allot::models::detail
