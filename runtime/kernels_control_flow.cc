// Control flow: If, Loop and Scan run their bodies with a GraphRunner, whose nodes read the enclosing graphs'
// values through the node's outer scope (KernelContext::outer). The executor runs such a node as one op on its
// device; in a training step it is one autograd island, differentiable through its body's ATen kernels.
#include <onnx/onnx_pb.h>

#include <algorithm>

#include "runtime/graph_runner.h"
#include "runtime/kernels_common.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

bool Truth(const KernelContext& ctx, const at::Tensor& t, const std::string& what) {
  if (t.numel() != 1) Fail(ctx, what + " must hold one value, holds " + std::to_string(t.numel()));
  return ToInt(t) != 0;
}

void CheckBodyInputs(const KernelContext& ctx, const GraphRunner& body, size_t expected, const std::string& what) {
  if (body.input_names().size() != expected)
    Fail(ctx, "the body takes " + std::to_string(body.input_names().size()) + " inputs, expected " +
                  std::to_string(expected) + " (" + what + ")");
}

// Zero iterations stacked: the body output's declared element type, with a 0-long axis inserted at `axis` of its
// declared shape ([0] when the body declares no static shape: nothing says what one iteration would give).
at::Tensor EmptyStack(const KernelContext& ctx, const onnx::ValueInfoProto& value, int64_t axis) {
  const onnx::TypeProto::Tensor& type = value.type().tensor_type();
  std::vector<int64_t> shape;
  bool known = type.has_shape();
  for (const auto& dim : type.shape().dim()) {
    known = known && dim.has_dim_value();
    shape.push_back(dim.dim_value());
  }
  if (!known) shape.clear();
  axis = known ? NormalizeAxis(ctx, axis, static_cast<int64_t>(shape.size()) + 1) : 0;
  shape.insert(shape.begin() + axis, 0);
  const at::ScalarType dtype =
      type.elem_type() ? ScalarTypeFromOnnx(type.elem_type(), "body output '" + value.name() + "'") : at::kFloat;
  return at::empty(shape, at::TensorOptions().dtype(dtype));
}

// One value per iteration stacked along a new axis `axis` (of the stacked rank), the last iteration first when
// `prepend`; `declared` is the body output they came from.
at::Tensor Stack(const KernelContext& ctx, Tensors values, int64_t axis, bool prepend,
                 const onnx::ValueInfoProto& declared) {
  if (values.empty()) return EmptyStack(ctx, declared, axis);
  if (prepend) std::reverse(values.begin(), values.end());
  return at::stack(values, NormalizeAxis(ctx, axis, values[0].dim() + 1));
}

struct ScanAxes {
  std::vector<int64_t> input_axes, input_reverse, output_axes, output_prepend;
};

// `length` iterations of a Scan body: the state variables are carried from one to the next, scan input j gives
// the body its slice t along input_axes[j] (counting from the end when reversed), and each scan output is
// stacked along its output axis. Returns the final states, then the scan outputs.
Tensors ScanSequence(const KernelContext& ctx, const onnx::GraphProto& graph, const GraphRunner& body,
                     Tensors states, const Tensors& scans, int64_t length, const ScanAxes& axes) {
  const size_t n = states.size(), k = static_cast<size_t>(graph.output_size()) - n;
  std::vector<Tensors> produced(k);
  for (int64_t t = 0; t < length; ++t) {
    Tensors in = states;
    for (size_t j = 0; j < scans.size(); ++j)
      in.push_back(scans[j].select(axes.input_axes[j], axes.input_reverse[j] ? length - 1 - t : t));
    Tensors out = body.Run(in, ctx.outer);
    std::move(out.begin(), out.begin() + static_cast<int64_t>(n), states.begin());
    for (size_t i = 0; i < k; ++i) produced[i].push_back(std::move(out[n + i]));
  }
  for (size_t i = 0; i < k; ++i)
    states.push_back(Stack(ctx, std::move(produced[i]), axes.output_axes[i], axes.output_prepend[i] != 0,
                           graph.output(static_cast<int>(n + i))));
  return states;
}

std::vector<int64_t> ListAttr(const KernelContext& ctx, const std::string& name, size_t count) {
  std::vector<int64_t> values = ctx.Ints(name, std::vector<int64_t>(count, 0));
  if (values.size() != count) Fail(ctx, name + " must have " + std::to_string(count) + " entries");
  return values;
}

// Scan-8: input 0 is sequence_lens, axis 0 of every input and output is a batch, and each batch element is
// scanned along its axis 0 for its own length; shorter scan outputs are padded with zeros to the longest.
Tensors BatchedScan(const KernelContext& ctx, const onnx::GraphProto& graph, const GraphRunner& body,
                    const Tensors& states, const Tensors& scans, const ScanAxes& axes) {
  const int64_t batch = scans[0].size(0), max_length = scans[0].dim() > 1 ? scans[0].size(1) : 0;
  std::vector<int64_t> lengths(static_cast<size_t>(batch), max_length);
  if (ctx.HasInput(0)) lengths = ToInts(ctx.Input(0));
  if (static_cast<int64_t>(lengths.size()) != batch) Fail(ctx, "sequence_lens must have one length per batch element");
  const size_t n = states.size();
  std::vector<Tensors> per_batch(static_cast<size_t>(graph.output_size()));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = lengths[static_cast<size_t>(b)];
    if (length < 0 || length > max_length)
      Fail(ctx, "sequence length " + std::to_string(length) + " is outside [0, " + std::to_string(max_length) + "]");
    Tensors s, x;
    for (const at::Tensor& t : states) s.push_back(t[b]);
    for (const at::Tensor& t : scans) x.push_back(t[b]);
    Tensors out = ScanSequence(ctx, graph, body, s, x, length, axes);
    for (size_t i = 0; i < out.size(); ++i)
      per_batch[i].push_back(i < n ? out[i] : PadDims(out[i], 0, {0}, {max_length - length}, 0));
  }
  Tensors outputs;
  for (const Tensors& values : per_batch) outputs.push_back(at::stack(values));
  return outputs;
}

}  // namespace

ALLOT_KERNEL(If) {
  const bool cond = Truth(ctx, ctx.Required(0), "the condition");
  const std::string branch = cond ? "then_branch" : "else_branch";
  Tensors outputs = GraphRunner(ctx.GraphAttr(branch), ctx.opset).Run({}, ctx.outer);
  if (outputs.size() != ctx.NumOutputs())
    Fail(ctx, branch + " has " + std::to_string(outputs.size()) + " outputs, the node " +
                  std::to_string(ctx.NumOutputs()));
  return outputs;
}

// Runs while the iteration count is below M (when given) and the condition holds (when given); the body's
// condition output is ignored without a condition input, as ONNX's for-loop form says.
ALLOT_KERNEL(Loop) {
  const onnx::GraphProto& graph = ctx.GraphAttr("body");
  const GraphRunner body(graph, ctx.opset);
  const bool counted = ctx.HasInput(0), conditional = ctx.HasInput(1);
  if (!counted && !conditional) Fail(ctx, "neither a trip count M nor a condition: the loop would not end");
  const int64_t trips = counted ? ToInt(ctx.Input(0)) : 0;
  bool cond = !conditional || Truth(ctx, ctx.Input(1), "the condition");
  Tensors carried(ctx.inputs.begin() + std::min<size_t>(2, ctx.inputs.size()), ctx.inputs.end());
  const size_t n = carried.size();
  CheckBodyInputs(ctx, body, 2 + n, "iteration number, condition, " + std::to_string(n) + " loop-carried values");
  if (static_cast<size_t>(graph.output_size()) < 1 + n)
    Fail(ctx, "the body must output the condition and the " + std::to_string(n) + " loop-carried values");
  const size_t k = static_cast<size_t>(graph.output_size()) - 1 - n;
  std::vector<Tensors> scans(k);
  for (int64_t i = 0; (!counted || i < trips) && cond; ++i) {
    Tensors in{at::scalar_tensor(i, at::kLong), at::scalar_tensor(cond, at::kBool)};
    in.insert(in.end(), carried.begin(), carried.end());
    Tensors out = body.Run(in, ctx.outer);
    if (conditional) cond = Truth(ctx, out[0], "the body's condition");
    std::move(out.begin() + 1, out.begin() + 1 + static_cast<int64_t>(n), carried.begin());
    for (size_t j = 0; j < k; ++j) scans[j].push_back(std::move(out[1 + n + j]));
  }
  for (size_t j = 0; j < k; ++j)
    carried.push_back(Stack(ctx, std::move(scans[j]), 0, false, graph.output(static_cast<int>(1 + n + j))));
  return carried;
}

ALLOT_KERNEL(Scan) {
  const onnx::GraphProto& graph = ctx.GraphAttr("body");
  const GraphRunner body(graph, ctx.opset);
  const bool batched = ctx.opset < 9;
  const size_t first = batched ? 1 : 0;  // Scan-8's sequence_lens
  const int64_t m = ctx.Int("num_scan_inputs", 0);
  if (m < 1 || first + static_cast<size_t>(m) > ctx.inputs.size())
    Fail(ctx, "num_scan_inputs must be between 1 and the number of inputs");
  const size_t n = ctx.inputs.size() - first - static_cast<size_t>(m);
  CheckBodyInputs(ctx, body, n + static_cast<size_t>(m),
                  std::to_string(n) + " state variables, " + std::to_string(m) + " scan inputs");
  if (static_cast<size_t>(graph.output_size()) < n)
    Fail(ctx, "the body must output the " + std::to_string(n) + " state variables");
  const size_t k = static_cast<size_t>(graph.output_size()) - n;
  const Tensors states(ctx.inputs.begin() + static_cast<int64_t>(first),
                       ctx.inputs.begin() + static_cast<int64_t>(first + n));
  const Tensors scans(ctx.inputs.begin() + static_cast<int64_t>(first + n), ctx.inputs.end());
  ScanAxes axes;
  axes.input_reverse = ListAttr(ctx, batched ? "directions" : "scan_input_directions", static_cast<size_t>(m));
  axes.input_axes = batched ? std::vector<int64_t>(m, 0) : ListAttr(ctx, "scan_input_axes", static_cast<size_t>(m));
  axes.output_axes = batched ? std::vector<int64_t>(k, 0) : ListAttr(ctx, "scan_output_axes", k);
  axes.output_prepend = batched ? std::vector<int64_t>(k, 0) : ListAttr(ctx, "scan_output_directions", k);
  if (batched) return BatchedScan(ctx, graph, body, states, scans, axes);
  int64_t length = -1;
  for (size_t j = 0; j < scans.size(); ++j) {
    axes.input_axes[j] = NormalizeAxis(ctx, axes.input_axes[j], scans[j].dim());
    const int64_t l = scans[j].size(axes.input_axes[j]);
    if (length >= 0 && l != length)
      Fail(ctx, "scan inputs have different lengths (" + std::to_string(length) + " and " + std::to_string(l) + ")");
    length = l;
  }
  return ScanSequence(ctx, graph, body, states, scans, length, axes);
}

}  // namespace allot::runtime
