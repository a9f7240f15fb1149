#pragma once
// Training-step synthesis: extends a forward graph with a loss, a backward pass and optimizer updates inside the
// IR, the way the papers' TensorFlow graphs had them (torch 1.13 exports no backward pass).
//
// - Loss: one forward node "allot/loss" (op "allot.Loss", the mean of every floating graph output a gradient
//   reaches) producing a scalar.
// - Gradients: one op "grad/<node>" (role kGradient, co-located with <node>) per differentiable forward op that a
//   gradient reaches, in reverse topological order. It reads the gradients of the op's outputs from each consumer's
//   gradient op (accumulation happens inside it, as TF's AddN next to the op would), the activations the op saves
//   (its inputs, except for ops whose gradient needs only shapes or only the output; its outputs for ops such as
//   Relu, Sigmoid, Tanh, Softmax, Exp), and writes one gradient "grad:<tensor>@<node>" per input that needs one.
//   Saved activations therefore stay alive until the gradient op has run.
// - Cost: a Conv/MatMul/Gemm/recurrent gradient costs one forward per input needing a gradient (data and weight:
//   about two forwards); other ops cost one forward (at least one FLOP per output element); accumulating k
//   gradients adds (k - 1) element-wise sums.
// - Updates: one op "update/<parameter>" (role kUpdate) per parameter, co-located with the parameter's first
//   consumer, reading the parameter and its gradients. State bytes: momentum SGD 1x, Adam 2x the parameter.
#include <string_view>

#include "graph/graph.h"

namespace allot {

enum class Optimizer : uint8_t { kSgd, kSgdMomentum, kAdam };
// Parses "sgd", "momentum" or "adam"; throws Error otherwise.
Optimizer ParseOptimizer(std::string_view name);
std::string_view OptimizerName(Optimizer o);

struct TrainingOptions {
  Optimizer optimizer = Optimizer::kSgdMomentum;
};

// `forward` must be an inference graph (is_training() false). Forward node ids are preserved.
Graph SynthesizeTrainingGraph(const Graph& forward, const TrainingOptions& options = {});

}  // namespace allot
