// Small and synthetic generators: mlp (unit tests), chain and synthetic (scaling benchmarks, e.g. importing a
// 100k-node graph). Their ops are cheap on purpose: these graphs measure allot's own overheads, not kernels.
#include <random>

#include "graph/error.h"
#include "models/generators.h"
#include "models/layers.h"

namespace allot::models::detail {
namespace {

// Node-count options of chain and synthetic are capped so a typo cannot ask for billions of nodes.
constexpr int64_t kMaxSyntheticNodes = 10'000'000;

int64_t SyntheticNodes(const std::string& name, const ModelOptions& options) {
  const int64_t nodes = OrDefault(options.layers, 1000);
  if (nodes > kMaxSyntheticNodes) {
    throw Error("model generator '" + name + "': layers=" + std::to_string(nodes) + " exceeds the limit of " +
                std::to_string(kMaxSyntheticNodes) + " nodes");
  }
  return nodes;
}

}  // namespace

onnx::ModelProto GenerateMlp(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 32), hidden = OrDefault(options.hidden, 256);
  const int64_t layers = OrDefault(options.layers, 2);
  constexpr int64_t kInputs = 784, kClasses = 10;  // MNIST-shaped
  OnnxBuilder b("mlp", options.weights, options.seed);
  Tensor x = b.Input("input", onnx::TensorProto::FLOAT, {batch, kInputs});
  for (int64_t l = 0; l < layers; ++l) {
    const std::string scope = "fc" + std::to_string(l + 1);
    const bool last = l + 1 == layers;
    const int64_t in = x.dim(1), out = last ? kClasses : hidden;
    // PyTorch Linear layout ([out, in], transB=1), as torch.onnx exports it.
    const Tensor w = b.Parameter(scope + "/weight", {out, in}, in);
    const Tensor bias = b.Parameter(scope + "/bias", {out}, in);
    x = b.Gemm(x, w, bias, true, last ? "logits" : scope + "/gemm");
    if (!last) x = b.Relu(x, scope + "/relu");
  }
  b.Output(x);
  return b.Finish(DescribeModel("mlp", options, {{"batch", batch}, {"layers", layers}, {"hidden", hidden}}));
}

onnx::ModelProto GenerateChain(const ModelOptions& options) {
  const int64_t nodes = SyntheticNodes("chain", options);
  const int64_t batch = OrDefault(options.batch, 1), hidden = OrDefault(options.hidden, 64);
  static const char* const kOps[] = {"Relu", "Tanh", "Sigmoid", "Neg", "Abs"};
  OnnxBuilder b("chain", options.weights, options.seed);
  Tensor x = b.Input("input", onnx::TensorProto::FLOAT, {batch, hidden});
  for (int64_t n = 0; n < nodes; ++n) {
    const char* op = kOps[n % 5];
    x = b.Unary(op, x, n + 1 == nodes ? std::string("output") : "n" + std::to_string(n));
  }
  b.Output(x);
  return b.Finish(DescribeModel("chain", options, {{"layers", nodes}, {"batch", batch}, {"hidden", hidden}}));
}

onnx::ModelProto GenerateSynthetic(const ModelOptions& options) {
  const int64_t nodes = SyntheticNodes("synthetic", options);
  const int64_t batch = OrDefault(options.batch, 1), hidden = OrDefault(options.hidden, 64);
  // Each op reads tensors made by the last kWindow ops: the graph is deep (a placement must pipeline it) but
  // also wide enough to have parallel branches and skip connections. A tensor about to leave the window
  // without a consumer is consumed right away, so at most kWindow dangling tensors remain; they become the
  // graph outputs and no op is dead.
  constexpr int64_t kWindow = 8;
  static const char* const kUnary[] = {"Relu", "Tanh", "Sigmoid", "Neg", "Abs"};
  static const char* const kBinary[] = {"Add", "Sub", "Mul"};
  std::mt19937_64 rng(options.seed);
  auto below = [&rng](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };

  OnnxBuilder b("synthetic", options.weights, options.seed);
  std::vector<Tensor> tensors{b.Input("input", onnx::TensorProto::FLOAT, {batch, hidden})};
  std::vector<bool> consumed{false};
  auto pick = [&](int64_t avoid) -> int64_t {
    const int64_t size = static_cast<int64_t>(tensors.size());
    const int64_t begin = std::max<int64_t>(0, size - kWindow);
    if (!consumed[begin] && begin != avoid && size > kWindow) return begin;  // about to leave the window
    std::vector<int64_t> fresh;
    for (int64_t i = begin; i < size; ++i) {
      if (!consumed[i] && i != avoid) fresh.push_back(i);
    }
    if (!fresh.empty() && below(4) != 0) return fresh[below(static_cast<int64_t>(fresh.size()))];
    int64_t i = begin + below(size - begin);
    if (i == avoid && size - begin > 1) i = i + 1 < size ? i + 1 : begin;
    return i;
  };
  for (int64_t n = 0; n < nodes; ++n) {
    const std::string name = "n" + std::to_string(n);
    const int64_t roll = below(20);
    const int64_t a = pick(-1);
    Tensor out;
    if (roll < 2) {  // ~10%: a dense op with its own weight
      const Tensor w = b.Parameter(name + "/weight", {hidden, hidden}, hidden);
      out = b.MatMul(tensors[a], w, name);
      consumed[a] = true;
    } else if (roll < 11) {
      out = b.Unary(kUnary[below(5)], tensors[a], name);
      consumed[a] = true;
    } else {
      const int64_t c = pick(a);
      out = b.Binary(kBinary[below(3)], tensors[a], tensors[c], name);
      consumed[a] = consumed[c] = true;
    }
    tensors.push_back(out);
    consumed.push_back(false);
  }
  for (size_t i = 1; i < tensors.size(); ++i) {
    if (!consumed[i]) b.Output(tensors[i]);
  }
  return b.Finish(DescribeModel("synthetic", options, {{"layers", nodes}, {"batch", batch}, {"hidden", hidden}}));
}

}  // namespace allot::models::detail
