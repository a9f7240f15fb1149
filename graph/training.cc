#include "graph/training.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <unordered_set>

#include "graph/error.h"
#include "graph/graph_builder.h"
#include "graph/op_work.h"

namespace allot {
namespace {

bool NonDifferentiable(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {
      "Shape", "Size", "Constant", "ConstantOfShape", "Range", "ArgMax", "ArgMin", "Floor", "Ceil", "Round",
      "Sign", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
      "Bernoulli", "EyeLike", "NonZero", "OneHot", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
      "And", "Or", "Xor", "Not", "IsNaN", "IsInf", "NonMaxSuppression", "Unique", "Hardmax"};
  return ops.count(op) != 0;
}

// Ops whose gradient needs no input activation (only shapes, or the output instead).
bool SavesNoInputs(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {
      "Add", "Sub", "Neg", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat",
      "Split", "Slice", "Pad", "Expand", "Tile", "Cast", "Sum", "Mean", "ReduceSum", "ReduceMean",
      "GlobalAveragePool", "AveragePool", "Dropout", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
      "LogSoftmax", "Exp", "Sqrt", "Elu", "Reciprocal", "HardSigmoid", "Softplus", "allot.Loss"};
  return ops.count(op) != 0;
}
bool SavesOutputs(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
                                                      "LogSoftmax", "Exp", "Sqrt", "Elu", "Reciprocal",
                                                      "HardSigmoid", "Softplus", "allot.Loss"};
  return ops.count(op) != 0;
}

}  // namespace

Optimizer ParseOptimizer(std::string_view name) {
  if (name == "sgd") return Optimizer::kSgd;
  if (name == "momentum") return Optimizer::kSgdMomentum;
  if (name == "adam") return Optimizer::kAdam;
  throw Error("unknown optimizer '" + std::string(name) + "' (known: sgd, momentum, adam)");
}

std::string_view OptimizerName(Optimizer o) {
  switch (o) {
    case Optimizer::kSgd: return "sgd";
    case Optimizer::kSgdMomentum: return "momentum";
    case Optimizer::kAdam: return "adam";
  }
  return "momentum";
}

Graph SynthesizeTrainingGraph(const Graph& fwd, const TrainingOptions& options) {
  if (fwd.is_training()) throw Error("the graph is already a training graph");
  const size_t n_tensors = fwd.num_tensors();

  // Which tensors a gradient must be computed for: parameters and what depends on them differentiably.
  std::vector<char> needs_grad(n_tensors, 0);
  for (TensorId t = 0; t < n_tensors; ++t) needs_grad[t] = fwd.tensor(t).is_parameter;
  for (NodeId n : fwd.topo_order()) {
    const Node& node = fwd.node(n);
    if (NonDifferentiable(node.op_type)) continue;
    const bool any = std::any_of(node.inputs.begin(), node.inputs.end(), [&](TensorId t) { return needs_grad[t]; });
    if (!any) continue;
    for (TensorId t : node.outputs) needs_grad[t] = IsFloating(fwd.tensor(t).dtype);
  }

  GraphBuilder b(fwd, "<training>");
  b.set_training(true);

  // Loss over the outputs a gradient reaches.
  NodeDef loss;
  loss.name = b.UniqueNodeName("allot/loss");
  const std::string loss_name = loss.name;
  loss.op_type = "allot.Loss";
  loss.domain = "ai.allot";
  for (TensorId t = 0; t < n_tensors; ++t)
    if (fwd.tensor(t).is_graph_output && needs_grad[t] && fwd.tensor(t).producer != kNone) loss.inputs.push_back(t);
  if (loss.inputs.empty())
    throw Error("training mode: no floating graph output depends on a trainable parameter (nothing to train)");
  double loss_elems = 0;
  for (TensorId t : loss.inputs) loss_elems += static_cast<double>(NumElements(fwd.tensor(t).shape));
  const TensorId loss_out = b.Tensor(b.UniqueNodeName("allot/loss"));
  b.SetType(loss_out, DType::kFloat32, {});
  loss.outputs.push_back(loss_out);
  loss.flops = loss_elems;
  const std::vector<TensorId> loss_inputs = loss.inputs;
  const NodeId loss_id = b.AddNode(loss);

  // grads_of[t]: the gradient tensors of t, one per consumer's gradient op.
  std::vector<std::vector<TensorId>> grads_of(n_tensors);
  auto make_grad = [&](TensorId t, std::string_view consumer) {
    const Tensor src = fwd.tensor(t);  // t is a forward tensor: read it from fwd, whose storage stays put
    const TensorId g = b.Tensor("grad:" + std::string(src.name) + "@" + std::string(consumer));
    b.SetType(g, src.dtype, src.shape);
    b.tensor(g).gradient_of = t;
    grads_of[t].push_back(g);
    return g;
  };

  // Loss gradient: the seed. It reads the loss value, so it runs after the forward pass.
  {
    NodeDef grad;
    grad.name = b.UniqueNodeName("grad/" + loss_name);
    grad.op_type = "allot.LossGrad";
    grad.domain = "ai.allot";
    grad.role = NodeRole::kGradient;
    grad.forward = loss_id;
    grad.inputs.push_back(loss_out);
    for (TensorId t : loss_inputs) grad.inputs.push_back(t);
    for (TensorId t : loss_inputs) grad.outputs.push_back(make_grad(t, loss_name));
    grad.flops = loss_elems;
    for (TensorId t : grad.inputs) grad.bytes_accessed += static_cast<double>(b.tensor(t).bytes);
    for (TensorId t : grad.outputs) grad.bytes_accessed += static_cast<double>(b.tensor(t).bytes);
    b.AddNode(grad);
  }

  // Backward, reverse topological order of the forward graph.
  const auto& order = fwd.topo_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodeId n = *it;
    const Node& node = fwd.node(n);
    if (NonDifferentiable(node.op_type)) continue;
    bool reached = false;
    for (TensorId t : node.outputs) reached |= !grads_of[t].empty();
    if (!reached) continue;
    std::vector<TensorId> want;  // inputs needing a gradient, deduplicated
    for (TensorId t : node.inputs)
      if (needs_grad[t] && std::find(want.begin(), want.end(), t) == want.end()) want.push_back(t);
    if (want.empty()) continue;

    NodeDef grad;
    grad.name = b.UniqueNodeName("grad/" + std::string(node.name));
    grad.op_type = std::string(node.op_type) + "Grad";
    grad.domain = "ai.allot";
    grad.role = NodeRole::kGradient;
    grad.forward = n;
    double accumulate = 0;
    for (TensorId t : node.outputs) {
      for (TensorId g : grads_of[t]) grad.inputs.push_back(g);
      if (grads_of[t].size() > 1)
        accumulate += static_cast<double>(grads_of[t].size() - 1) * static_cast<double>(NumElements(fwd.tensor(t).shape));
    }
    if (!SavesNoInputs(node.op_type))
      for (TensorId t : node.inputs) grad.inputs.push_back(t);
    if (SavesOutputs(node.op_type))
      for (TensorId t : node.outputs) grad.inputs.push_back(t);
    for (TensorId t : want) {
      // A parameter's gradient accumulates in place along its consumers' gradient ops (PyTorch's AccumulateGrad,
      // TF's accumulate-N): each reads the running sum and writes the new one, so one buffer is alive and it
      // only crosses devices where consecutive consumers sit apart. (Summing every partial at the update, AddN
      // style, would keep one full-size partial per time step of an unrolled RNN alive until the update.)
      const bool accumulate_into = fwd.tensor(t).is_parameter && !grads_of[t].empty();
      const TensorId running = accumulate_into ? grads_of[t].back() : kNone;
      if (accumulate_into) {
        grad.inputs.push_back(running);
        accumulate += static_cast<double>(NumElements(fwd.tensor(t).shape));
        grads_of[t].clear();
      }
      grad.outputs.push_back(make_grad(t, node.name));
    }

    const OpFamily family = ClassifyOp(node.op_type);
    double out_elems = 0;
    for (TensorId t : node.outputs) out_elems += static_cast<double>(std::max<int64_t>(0, NumElements(fwd.tensor(t).shape)));
    if (family == OpFamily::kConv || family == OpFamily::kMatMul || family == OpFamily::kRecurrent) {
      // One forward-sized product per operand needing a gradient (input 0: data, input 1: weight).
      double products = 0;
      for (size_t i = 0; i < node.inputs.size() && i < 2; ++i) products += needs_grad[node.inputs[i]] ? 1 : 0;
      grad.flops = std::max(products, 1.0) * node.flops;
    } else {
      grad.flops = std::max(node.flops, out_elems);
    }
    grad.flops += accumulate;
    for (TensorId t : grad.inputs) grad.bytes_accessed += static_cast<double>(b.tensor(t).bytes);
    for (TensorId t : grad.outputs) grad.bytes_accessed += static_cast<double>(b.tensor(t).bytes);
    grad.known_op = node.known_op;
    b.AddNode(grad);
  }

  // Optimizer updates, in parameter order.
  const double flops_per_elem = options.optimizer == Optimizer::kAdam ? 12 : options.optimizer == Optimizer::kSgdMomentum ? 4 : 2;
  const uint64_t state_copies = options.optimizer == Optimizer::kAdam ? 2 : options.optimizer == Optimizer::kSgdMomentum ? 1 : 0;
  for (TensorId t = 0; t < n_tensors; ++t) {
    const Tensor& param = fwd.tensor(t);
    if (!param.is_parameter || grads_of[t].empty()) continue;
    const auto readers = fwd.consumers(t);
    assert(!readers.empty());
    NodeDef update;
    update.name = b.UniqueNodeName("update/" + std::string(param.name));
    update.op_type = std::string("allot.Update") + (options.optimizer == Optimizer::kAdam ? "Adam" : options.optimizer == Optimizer::kSgd ? "Sgd" : "Momentum");
    update.domain = "ai.allot";
    update.role = NodeRole::kUpdate;
    update.forward = readers[0];
    update.inputs.push_back(t);
    for (TensorId g : grads_of[t]) update.inputs.push_back(g);
    const double elems = static_cast<double>(NumElements(param.shape));
    update.flops = elems * (flops_per_elem + static_cast<double>(grads_of[t].size() - 1));
    update.state_bytes = state_copies * param.bytes;
    update.bytes_accessed = static_cast<double>(param.bytes * (2 + 2 * state_copies + grads_of[t].size()));
    b.AddNode(update);
  }
  return b.Finalize();
}

}  // namespace allot
