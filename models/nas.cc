// Families of related graphs: architectures sampled from the ENAS search spaces (Pham et al. 2018), as in
// Placeto's (Addanki et al. 2019) datasets, so that a learned placer can be trained on many graphs of one family
// and tested on members it has not seen. `seed` selects the architecture: each generator draws its cells from a
// std::mt19937_64 seeded with it (rng() % n, not std::uniform_int_distribution, whose output is
// implementation-defined), so the same seed gives the same model on every platform, and different seeds give
// different wirings and ops (distinct in all but a vanishing fraction of pairs). The same seed also seeds the
// weights=1 initializers, as everywhere.
#include <array>
#include <random>
#include <vector>

#include "models/generators.h"
#include "models/layers.h"

namespace allot::models::detail {
namespace {

int Below(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

// ---- nas_cnn: the ENAS micro (convolutional cell) search space ---------------------------------------------------
constexpr int kCellNodes = 5;           // ENAS's B
constexpr float kCnnBnEpsilon = 1e-5f;  // ENAS's batch_norm
constexpr int64_t kCifarClasses = 10;

enum class CellOp { kSepConv3x3, kSepConv5x5, kAvgPool3x3, kMaxPool3x3, kIdentity };
constexpr int kCellOps = 5;

// Node i of a cell reads two of the states before it (0: the cell's prev-prev input, 1: its prev input, 2 + k:
// node k) through one op each and adds the results.
struct CellNode {
  std::array<int, 2> input;
  std::array<CellOp, 2> op;
};
using CellArc = std::array<CellNode, kCellNodes>;

// Uniform over the search space: a family covers it evenly instead of following one controller's preferences.
CellArc SampleCell(std::mt19937_64& rng) {
  CellArc arc;
  for (int i = 0; i < kCellNodes; ++i) {
    for (int k = 0; k < 2; ++k) {
      arc[i].input[k] = Below(rng, i + 2);
      arc[i].op[k] = static_cast<CellOp>(Below(rng, kCellOps));
    }
  }
  return arc;
}

// ReLU, 1x1 Conv, BN: ENAS's calibration of a cell input to the cell's channels, its final conv after the
// concatenation, and (stride 2) a simplified factorized reduction: ENAS's version halves the resolution with two
// stride-2 1x1 convolutions on offset grids and concatenates them; one convolution keeps the op's cost and
// dependencies without the Pad and Slice around the second.
Tensor ReluConv1x1Bn(OnnxBuilder& b, const Tensor& x, int64_t channels, int64_t stride, const std::string& scope) {
  return ConvBn(b, b.Relu(x, scope + "/relu"), channels, 1, 1, stride, {0, 0, 0, 0}, kCnnBnEpsilon, false, scope);
}

// ReLU, depthwise Conv, pointwise 1x1 Conv, BN. ENAS (and DARTS) stack this twice per sep_conv op; once keeps
// the sampled graphs moderate (a few hundred ops) with the same dependency structure.
Tensor SepConv(OnnxBuilder& b, const Tensor& x, int64_t kernel, int64_t stride, const std::string& scope) {
  const int64_t channels = x.dim(1), pad = kernel / 2;
  const Tensor w = b.Parameter(scope + "/depthwise/weight", {channels, 1, kernel, kernel}, kernel * kernel);
  const Tensor depthwise = b.Conv(b.Relu(x, scope + "/relu"), w, nullptr, {stride, stride}, {pad, pad, pad, pad},
                                  scope + "/depthwise", channels);
  return ConvBn(b, depthwise, channels, 1, 1, 1, {0, 0, 0, 0}, kCnnBnEpsilon, false, scope + "/pointwise");
}

Tensor ApplyCellOp(OnnxBuilder& b, CellOp op, const Tensor& x, int64_t stride, const std::string& scope) {
  switch (op) {
    case CellOp::kSepConv3x3: return SepConv(b, x, 3, stride, scope + "/sep_conv_3x3");
    case CellOp::kSepConv5x5: return SepConv(b, x, 5, stride, scope + "/sep_conv_5x5");
    // TF's "SAME" average pooling, which ENAS uses, does not count the padding.
    case CellOp::kAvgPool3x3:
      return b.AveragePool(x, {3, 3}, {stride, stride}, {1, 1, 1, 1}, false, scope + "/avg_pool_3x3");
    case CellOp::kMaxPool3x3: return b.MaxPool(x, {3, 3}, {stride, stride}, {1, 1, 1, 1}, scope + "/max_pool_3x3");
    case CellOp::kIdentity: break;
  }
  return stride == 1 ? x : ReluConv1x1Bn(b, x, x.dim(1), stride, scope + "/reduce");
}

// One cell with `channels` output channels. A reduction cell halves the resolution: the ops that read a cell
// input run with stride 2 (ENAS's fixed-architecture form; its search-time child instead reduces the input
// first and runs a stride-1 cell).
Tensor Cell(OnnxBuilder& b, const CellArc& arc, Tensor prev_prev, Tensor prev, int64_t channels, bool reduction,
            const std::string& scope) {
  // ENAS's _maybe_calibrate_size: both inputs brought to `channels`, prev-prev also to prev's resolution when
  // a reduction cell lies between them.
  if (prev_prev.dim(2) != prev.dim(2)) {
    prev_prev = ReluConv1x1Bn(b, prev_prev, channels, prev_prev.dim(2) / prev.dim(2), scope + "/calibrate0");
  } else if (prev_prev.dim(1) != channels) {
    prev_prev = ReluConv1x1Bn(b, prev_prev, channels, 1, scope + "/calibrate0");
  }
  if (prev.dim(1) != channels) prev = ReluConv1x1Bn(b, prev, channels, 1, scope + "/calibrate1");

  std::vector<Tensor> states{prev_prev, prev};
  std::vector<bool> used(kCellNodes + 2, false);
  for (int i = 0; i < kCellNodes; ++i) {
    const std::string node = scope + "/node" + std::to_string(i);
    std::array<Tensor, 2> branch;
    for (int k = 0; k < 2; ++k) {
      const int input = arc[i].input[k];
      const int64_t stride = reduction && input < 2 ? 2 : 1;
      branch[k] = ApplyCellOp(b, arc[i].op[k], states[input], stride, node + "/in" + std::to_string(k));
      used[input] = true;
    }
    states.push_back(b.Add(branch[0], branch[1], node + "/add"));
  }
  // The output concatenates the states no node read: loose-end nodes (the last one always among them) and, as
  // in ENAS, an unread cell input, reduced in a reduction cell. Without the inputs, a cell whose wiring never
  // reads its prev input would leave the output of the cell before the last one dead.
  std::vector<Tensor> loose;
  for (int i = 0; i < kCellNodes + 2; ++i) {
    if (used[i]) continue;
    const bool reduce_input = reduction && i < 2;
    loose.push_back(reduce_input ? ReluConv1x1Bn(b, states[i], channels, 2, scope + "/reduce" + std::to_string(i))
                                 : states[i]);
  }
  const Tensor out = loose.size() == 1 ? loose[0] : b.Concat(loose, 1, scope + "/concat");
  return ReluConv1x1Bn(b, out, channels, 1, scope + "/final_conv");
}

// ---- nas_rnn: the ENAS recurrent cell search space ---------------------------------------------------------------
// ENAS searches cells of 12 nodes; 8 keeps the default unrolled graph (35 steps) under a thousand forward ops.
constexpr int kRnnNodes = 8;

enum class Activation { kTanh, kRelu, kIdentity, kSigmoid };
constexpr int kActivations = 4;

struct RnnNode {
  int input;  // the earlier node this one reads; node 0 reads x_t and h_{t-1} instead
  Activation activation;
};
using RnnArc = std::array<RnnNode, kRnnNodes>;

RnnArc SampleRnnCell(std::mt19937_64& rng) {
  RnnArc arc;
  for (int i = 0; i < kRnnNodes; ++i) {
    arc[i].input = i == 0 ? -1 : Below(rng, i);
    arc[i].activation = static_cast<Activation>(Below(rng, kActivations));
  }
  return arc;
}

Tensor Activate(OnnxBuilder& b, Activation activation, const Tensor& x, const std::string& scope) {
  switch (activation) {
    case Activation::kTanh: return b.Tanh(x, scope + "/tanh");
    case Activation::kRelu: return b.Relu(x, scope + "/relu");
    case Activation::kSigmoid: return b.Sigmoid(x, scope + "/sigmoid");
    case Activation::kIdentity: break;
  }
  return x;
}

// One layer's weights, shared by all its time steps.
struct RnnCellWeights {
  Tensor w_x;                            // [input, hidden]
  Tensor w_h;                            // [hidden, hidden]
  std::array<Tensor, kRnnNodes> w_node;  // [hidden, hidden] for nodes 1..N-1 (w_node[0] unused)
};

RnnCellWeights MakeRnnCell(OnnxBuilder& b, const std::string& scope, int64_t input, int64_t hidden) {
  RnnCellWeights w;
  w.w_x = b.Parameter(scope + "/w_x", {input, hidden}, input);
  w.w_h = b.Parameter(scope + "/w_h", {hidden, hidden}, hidden);
  for (int i = 1; i < kRnnNodes; ++i) {
    w.w_node[i] = b.Parameter(scope + "/node" + std::to_string(i) + "/weight", {hidden, hidden}, hidden);
  }
  return w;
}

// One time step: node 0 = act(x W_x + h W_h), node i = act(node_j W_i), h' = the mean of the nodes no other
// node read. ENAS's implementation also gives every node a highway gate; leaving the gates out makes a node
// one MatMul and its activation, and keeps the sampled DAG as the cell's only structure.
Tensor RnnCell(OnnxBuilder& b, const RnnArc& arc, const RnnCellWeights& w, const Tensor& x, const Tensor& h,
               const std::string& scope) {
  std::vector<Tensor> nodes;
  std::vector<bool> used(kRnnNodes, false);
  {
    const std::string s = scope + "/node0";
    const Tensor pre = b.Add(b.MatMul(x, w.w_x, s + "/matmul_x"), b.MatMul(h, w.w_h, s + "/matmul_h"), s + "/add");
    nodes.push_back(Activate(b, arc[0].activation, pre, s));
  }
  for (int i = 1; i < kRnnNodes; ++i) {
    const std::string s = scope + "/node" + std::to_string(i);
    used[arc[i].input] = true;
    nodes.push_back(Activate(b, arc[i].activation, b.MatMul(nodes[arc[i].input], w.w_node[i], s + "/matmul"), s));
  }
  std::vector<Tensor> loose;
  for (int i = 0; i < kRnnNodes; ++i) {
    if (!used[i]) loose.push_back(nodes[i]);
  }
  if (loose.size() == 1) return loose[0];
  Tensor sum = loose[0];
  for (size_t k = 1; k < loose.size(); ++k) sum = b.Add(sum, loose[k], scope + "/sum");
  const float inverse = 1.0f / static_cast<float>(loose.size());
  return b.Mul(sum, b.ScalarFloat(inverse, "const/mean_of_" + std::to_string(loose.size())), scope + "/h");
}

}  // namespace

// Defaults: ENAS's search-time CIFAR-10 child network (child_num_layers=6, i.e. 2 normal cells per stage, and
// 20 initial channels); layers=5,hidden=36 gives the size of its final network. The stem has 3x the initial
// channels, as in ENAS. One normal and one reduction cell are sampled per network and shared by all cells of
// their kind.
onnx::ModelProto GenerateNasCnn(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 32), layers = OrDefault(options.layers, 2);
  const int64_t channels = OrDefault(options.hidden, 20);
  std::mt19937_64 rng(options.seed);
  const CellArc normal = SampleCell(rng);
  const CellArc reduce = SampleCell(rng);

  OnnxBuilder b("nas_cnn", options.weights, options.seed);
  const Tensor images = b.Input("images", onnx::TensorProto::FLOAT, {batch, 3, 32, 32});
  const Tensor stem = ConvBn(b, images, 3 * channels, 3, 3, 1, {1, 1, 1, 1}, kCnnBnEpsilon, false, "stem");
  Tensor prev_prev = stem, prev = stem;
  int64_t width = channels;
  int cell = 0;
  auto add_cell = [&](const CellArc& arc, bool reduction) {
    Tensor next = Cell(b, arc, prev_prev, prev, width, reduction, "cell" + std::to_string(cell++));
    prev_prev = prev;
    prev = next;
  };
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      width *= 2;
      add_cell(reduce, true);
    }
    for (int64_t l = 0; l < layers; ++l) add_cell(normal, false);
  }
  const Tensor pooled = b.GlobalAveragePool(b.Relu(prev, "relu"), "avgpool");
  b.Output(Classifier(b, pooled, kCifarClasses));
  return b.Finish(DescribeModel("nas_cnn", options, {{"batch", batch}, {"layers", layers}, {"hidden", channels}}));
}

// Defaults: PTB (10k-word vocabulary) with ENAS's 35-step truncated backpropagation and batch 64, and a 200-wide
// cell. Embedding and cell are hidden wide. One cell is sampled per network; every layer uses it, with its own
// weights.
onnx::ModelProto GenerateNasRnn(const ModelOptions& options) {
  const int64_t batch = OrDefault(options.batch, 64), steps = OrDefault(options.seq, 35);
  const int64_t layers = OrDefault(options.layers, 1), hidden = OrDefault(options.hidden, 200);
  const int64_t vocab = OrDefault(options.vocab, 10000);
  std::mt19937_64 rng(options.seed);
  const RnnArc arc = SampleRnnCell(rng);

  OnnxBuilder b("nas_rnn", options.weights, options.seed);
  const Tensor tokens = b.Input("tokens", onnx::TensorProto::INT64, {batch, steps});
  std::vector<Tensor> x = EmbedSteps(b, b.Parameter("embedding", {vocab, hidden}, hidden), tokens, "embed");
  const Tensor zero = b.ZerosFloat({batch, hidden}, "const/zero_state");
  for (int64_t l = 0; l < layers; ++l) {
    const std::string scope = "cell/l" + std::to_string(l);
    const RnnCellWeights w = MakeRnnCell(b, scope, x[0].dim(1), hidden);
    Tensor h = zero;
    for (int64_t t = 0; t < steps; ++t) {
      h = RnnCell(b, arc, w, x[t], h, scope + "/t" + std::to_string(t));
      x[t] = h;
    }
  }
  const DenseWeights softmax = MakeDense(b, "softmax", hidden, vocab);
  for (int64_t t = 0; t < steps; ++t) ProjectStep(b, softmax, x[t], t);
  return b.Finish(DescribeModel("nas_rnn", options,
                                {{"batch", batch}, {"seq", steps}, {"layers", layers}, {"hidden", hidden}, {"vocab", vocab}}));
}

}  // namespace allot::models::detail
