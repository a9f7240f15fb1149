#include "runtime/executor.h"

#include <onnx/onnx_pb.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/Event.h>
#include <c10/core/GradMode.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "graph/error.h"
#include "graph/shape_inference.h"
#include "runtime/devices.h"
#include "runtime/external_tensors.h"
#include "runtime/graph_runner.h"
#include "runtime/rank_link.h"
#include "runtime/kernels.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// "Float[32, 256]"
std::string TypeString(c10::ScalarType type, at::IntArrayRef shape) {
  std::string s = std::string(c10::toString(type)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int OpsetFor(const onnx::ModelProto& model, const std::string& domain) {
  for (const auto& op : model.opset_import())
    if (op.domain() == domain || (domain.empty() && op.domain() == "ai.onnx") || (domain == "ai.onnx" && op.domain().empty()))
      return static_cast<int>(op.version());
  return 13;
}

// Seeded values for parameters a generated model leaves to the runtime ("allot:parameter" inputs): uniform in
// +-1/sqrt(fan_in), and in [0.5, 1.5] for non-trained state (BatchNormalization statistics, whose variance
// must be positive).
at::Tensor SeededTensor(const Tensor& t, std::mt19937_64& rng, bool positive) {
  std::vector<int64_t> shape = t.shape.vec();
  const int64_t n = std::max<int64_t>(0, NumElements(shape));
  std::vector<float> data(static_cast<size_t>(n));
  const double fan_in = shape.size() >= 2 ? static_cast<double>(n / std::max<int64_t>(1, shape[0])) : std::max<double>(1, static_cast<double>(n));
  const double a = 1.0 / std::sqrt(fan_in);
  std::uniform_real_distribution<double> u(positive ? 0.5 : -a, positive ? 1.5 : a);
  for (auto& v : data) v = static_cast<float>(u(rng));
  at::Tensor out = at::from_blob(data.data(), shape, at::kFloat).clone();
  if (IsFloating(t.dtype) && t.dtype != DType::kFloat32)
    out = out.to(ScalarTypeFromOnnx(static_cast<int32_t>(t.dtype), t.name));
  else if (!IsFloating(t.dtype))
    out = at::zeros(shape, at::TensorOptions().dtype(ScalarTypeFromOnnx(static_cast<int32_t>(t.dtype), t.name)));
  return out;
}

struct Task {
  bool copy = false;
  uint32_t id = 0;       // node, or tensor for a copy
  DeviceId from = 0;     // copies
};

}  // namespace

class Executor::Impl {
 public:
  Impl(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster, std::vector<DeviceId> placement,
       RunOptions options)
      : model_(model), g_(graph), cluster_(cluster), place_(std::move(placement)), options_(options) {
    N_ = g_.num_nodes();
    T_ = g_.num_tensors();
    D_ = cluster.num_devices();
    if (place_.size() != N_) throw Error("executor: the placement does not cover the graph");
    BindRanks();
    BindDevices();
    training_ = g_.is_training();
    BindNodes();
    BindTensors();
    BindEvents();
    BindTransfers();
    if (options_.intra_op_threads <= 0) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      options_.intra_op_threads = std::max(1, cores / static_cast<int>(std::max<size_t>(1, UsedDevices())));
    }
    std::vector<Queue>(D_).swap(queues_);  // condition variables cannot move: build in place
    for (DeviceId d = 0; d < D_; ++d)
      if (local_[d]) workers_.emplace_back([this, d] { Work(d); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    for (auto& q : queues_) q.cv.notify_all();
    for (auto& w : workers_) w.join();
  }

  size_t num_inputs() const { return input_tensors_.size(); }

  void SetInputs(const std::vector<at::Tensor>& inputs) {
    if (inputs.size() != input_tensors_.size())
      throw Error("executor: the model has " + std::to_string(input_tensors_.size()) + " inputs, got " +
                  std::to_string(inputs.size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = g_.tensor(input_tensors_[i]);
      if (inputs[i].sizes().vec() != t.shape)
        throw Error("input '" + std::string(t.name) + "': shape " + ShapeString(inputs[i].sizes().vec()) + " does not match the model's " +
                    ShapeString(t.shape.vec()));
      shared_[input_tensors_[i]] = inputs[i].contiguous();
      MakeResident(input_tensors_[i]);
    }
    SynchronizeGpus();
  }

  StepStats Step() {
    if (failed_) throw Error("executor: a previous step failed: " + error_);
    if (link_) link_->Barrier();
    StepStats stats;
    stats.busy.assign(D_, 0);
    busy_.assign(D_, 0);
    bytes_copied_ = 0;
    copies_ = 0;
    ops_timed_.clear();
    copies_timed_.clear();
    for (NodeId n = 0; n < N_; ++n) pending_[n].store(in_count_[n], std::memory_order_relaxed);
    for (auto& c : copied_) c.store(0, std::memory_order_relaxed);
    for (size_t i = 0; i < uses_.size(); ++i) uses_[i].store(uses_init_[i], std::memory_order_relaxed);
    for (auto& v : values_) v.reset();
    for (auto& p : produced_) p.store(0, std::memory_order_relaxed);
    bytes_sent_ = 0;
    send_queue_.clear();
    remaining_.store(static_cast<int64_t>(local_nodes_ + sends_.size()));
    start_ = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (NodeId n = 0; n < N_; ++n)
        if (in_count_[n] == 0 && local_[place_[n]]) queues_[place_[n]].tasks.push_back({false, n, 0});
    }
    for (auto& q : queues_) q.cv.notify_all();
    std::vector<std::thread> comm;
    if (!sends_.empty()) comm.emplace_back([this] { Communicate(&Impl::SendAll); });
    if (!recvs_.empty()) comm.emplace_back([this] { Communicate(&Impl::ReceiveAll); });
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return remaining_.load() == 0 || failed_; });
      if (failed_) {
        // Drop what is queued, end the transfers in flight, and wait for every thread to go idle before reporting.
        for (auto& q : queues_) q.tasks.clear();
        if (link_) link_->Abort();
        send_cv_.notify_all();
        lock.unlock();
        for (auto& t : comm) t.join();
        lock.lock();
        done_cv_.wait(lock, [this] { return active_ == 0; });
        throw Error(error_);
      }
    }
    for (auto& t : comm) t.join();
    // GPU workers finish when their last op is queued on the device: the step ends when the devices are done.
    for (DeviceId d = 0; d < D_; ++d)
      if (gpu_[d]) streams_[d]->synchronize();
    SynchronizeGpus();  // parameter updates issued from other devices' workers, on the default stream
    stats.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    stats.busy = busy_;
    stats.bytes_copied = bytes_copied_;
    stats.copies = copies_;
    stats.loss = loss_value_;
    if (options_.record) {
      stats.ops = ops_timed_;
      stats.copies_timed = copies_timed_;
    }
    if (link_) {
      SyncParameters();
      GatherStats(stats);
    }
    return stats;
  }

  std::vector<at::Tensor> Outputs() {
    std::vector<at::Tensor> out;
    int tag = OutputTagBase();
    for (const auto& vi : model_.graph().output()) {
      const TensorId t = g_.FindTensor(vi.name());
      if (t == kNone) continue;
      const NodeId p = g_.tensor(t).producer;
      const int owner = p == kNone ? 0 : RankOf(place_[p]);
      at::Tensor value;
      if (owner == rank_) value = (p == kNone ? shared_[t] : values_[static_cast<size_t>(t) * D_ + place_[p]]).cpu();
      if (owner != 0 && owner == rank_) link_->Send(value, 0, tag);
      if (owner != 0 && rank_ == 0) value = link_->Recv(owner, tag);
      ++tag;
      if (rank_ == 0) out.push_back(value);
    }
    return out;
  }

 private:
  static std::string ShapeString(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
  }

  size_t UsedDevices() const {
    std::vector<char> used(D_, 0);
    for (DeviceId d : place_) used[d] = 1;  // across processes too: the ranks share this machine's cores
    return static_cast<size_t>(std::count(used.begin(), used.end(), 1));
  }

  // The LibTorch device of each allot device that runs an op, and a stream of its own for each GPU's worker.
  void BindDevices() {
    tdev_.assign(D_, c10::Device(c10::kCPU));
    gpu_.assign(D_, 0);
    streams_.assign(D_, std::nullopt);
    std::vector<NodeId> first(D_, kNone);
    for (NodeId n = N_; n-- > 0;) first[place_[n]] = n;
    for (DeviceId d = 0; d < D_; ++d) {
      if (first[d] == kNone || !local_[d] || cluster_.device(d).kind == DeviceKind::kCpu) continue;
      try {
        tdev_[d] = TorchDevice(cluster_.device(d));
      } catch (const Error& e) {
        throw Error("node '" + std::string(g_.node_name(first[d])) + "': " + e.what());
      }
      gpu_[d] = 1;
      streams_[d] = WorkerStream(tdev_[d]);
    }
  }

  // Parameters, constants and graph inputs live on every GPU that reads them (copied there once, not per step:
  // the simulator charges them no transfer either). The copies are queued: SynchronizeGpus() before a step.
  void MakeResident(TensorId t) {
    for (NodeId c : g_.consumers(t)) {
      const DeviceId d = place_[c];
      if (gpu_[d] && shared_[t].defined()) resident_[static_cast<size_t>(t) * D_ + d] = shared_[t].to(tdev_[d]);
    }
  }

  // Waits for what this thread queued on every GPU.
  void SynchronizeGpus() {
    for (DeviceId d = 0; d < D_; ++d)
      if (gpu_[d]) SynchronizeCurrent(tdev_[d]);
  }

  // An op on a GPU whose outputs another device reads marks, with an event on its stream, when they are computed:
  // the reader's copy waits on it on the device, not on the host.
  void BindEvents() {
    done_.resize(N_);
    for (NodeId n = 0; n < N_; ++n) {
      if (!gpu_[place_[n]]) continue;
      bool read_elsewhere = false;
      for (TensorId t : g_.node(n).outputs)
        for (NodeId c : g_.consumers(t)) read_elsewhere |= place_[c] != place_[n];
      if (read_elsewhere) done_[n] = std::make_unique<c10::Event>(c10::kCUDA);
    }
  }

  // Kernels and ONNX positions of forward ops; island bookkeeping of training ops.
  void BindNodes() {
    const auto& onnx_nodes = model_.graph().node();
    proto_.assign(N_, nullptr);
    kernel_.assign(N_, nullptr);
    positional_inputs_.resize(N_);
    positional_outputs_.resize(N_);
    outer_reads_.resize(N_);
    in_count_.assign(N_, 0);
    distinct_inputs_.resize(N_);
    pending_ = std::vector<std::atomic<int64_t>>(N_);
    islands_.resize(N_);
    wants_grad_.resize(N_);
    // Every op without a kernel is named in the one error, so a user sees the whole gap at once.
    std::vector<std::string> missing;
    std::string first_missing;
    for (NodeId n = 0; n < N_; ++n) {
      const Node& node = g_.node(n);
      std::vector<TensorId> distinct;
      for (TensorId t : node.inputs)
        if (g_.tensor(t).producer != kNone && std::find(distinct.begin(), distinct.end(), t) == distinct.end())
          distinct.push_back(t);
      in_count_[n] = static_cast<int64_t>(distinct.size());
      distinct_inputs_[n] = distinct;
      if (node.role != NodeRole::kForward) continue;
      if (node.op_type == "allot.Loss") {
        loss_node_ = n;
        continue;
      }
      if (n >= static_cast<NodeId>(onnx_nodes.size()))
        throw Error("executor: node '" + std::string(node.name) + "' is not in the ONNX model");
      const onnx::NodeProto& proto = onnx_nodes.Get(static_cast<int>(n));
      proto_[n] = &proto;
      ForEachNode(proto, [&](const onnx::NodeProto& inner) {
        if (FindKernel(inner.op_type(), inner.domain())) return;
        const std::string op = (inner.domain().empty() ? "" : inner.domain() + "::") + inner.op_type();
        if (missing.empty())
          first_missing = "node '" + std::string(node.name) + "': " +
                          (&inner == &proto ? "" : "its body's " + NodeLabel(inner) + ": ") + "op " + op +
                          " has no runtime kernel (see runtime/OPS.md)";
        if (std::find(missing.begin(), missing.end(), op) == missing.end()) missing.push_back(op);
      });
      if (!missing.empty()) continue;
      kernel_[n] = FindKernel(proto.op_type(), proto.domain());
      // Its IR inputs are the ONNX inputs and what its bodies read from the main graph (graph/onnx_import.cc).
      if (HasBodies(proto)) outer_reads_[n] = node.inputs.vec();
      for (const auto& name : proto.input()) positional_inputs_[n].push_back(name.empty() ? kNone : g_.FindTensor(name));
      for (const auto& name : proto.output()) positional_outputs_[n].push_back(name.empty() ? kNone : g_.FindTensor(name));
    }
    if (!missing.empty()) {
      std::string others;
      for (size_t i = 1; i < missing.size(); ++i) others += (i > 1 ? ", " : "") + missing[i];
      throw Error(first_missing + (others.empty() ? "" : "; nor have " + others));
    }
    // A gradient op's outputs name the forward inputs its island must differentiate.
    for (NodeId n = 0; n < N_; ++n) {
      const Node& node = g_.node(n);
      if (node.role != NodeRole::kGradient) continue;
      for (TensorId out : node.outputs) wants_grad_[node.forward].push_back(g_.tensor(out).gradient_of);
    }
  }

  void BindTensors() {
    values_.assign(T_ * D_, at::Tensor());
    copied_ = std::vector<std::atomic<uint8_t>>(T_ * D_);
    // Uses of each value per device (local consumers, and copies out on the producer's device): a value is
    // dropped after its last use, as the simulator frees memory.
    uses_init_.assign(T_ * D_, 0);
    for (TensorId t = 0; t < T_; ++t) {
      const NodeId p = g_.tensor(t).producer;
      if (p == kNone) continue;
      std::vector<char> seen(D_, 0);
      for (NodeId c : g_.consumers(t)) {
        ++uses_init_[static_cast<size_t>(t) * D_ + place_[c]];
        if (place_[c] != place_[p] && !seen[place_[c]]) {
          seen[place_[c]] = 1;
          ++uses_init_[static_cast<size_t>(t) * D_ + place_[p]];
        }
      }
    }
    uses_ = std::vector<std::atomic<int32_t>>(T_ * D_);
    shared_.assign(T_, at::Tensor());
    std::mt19937_64 rng(options_.seed);
    std::unordered_map<std::string, const onnx::TensorProto*> initializers;
    for (const auto& init : model_.graph().initializer()) initializers.emplace(init.name(), &init);
    for (const auto& vi : model_.graph().input()) {
      const TensorId t = g_.FindTensor(vi.name());
      if (t == kNone || initializers.count(vi.name())) continue;
      const Tensor& tensor = g_.tensor(t);
      if (tensor.is_graph_input) input_tensors_.push_back(t);
      shared_[t] = SeededTensor(tensor, rng, tensor.is_constant);
    }
    for (const auto& [name, proto] : initializers) {
      const TensorId t = g_.FindTensor(name);
      if (t == kNone || g_.consumers(t).empty()) continue;
      if (proto->data_location() == onnx::TensorProto::EXTERNAL && !external_)
        external_ = std::make_unique<ExternalTensors>(
            options_.model_dir, options_.model_dir.empty() ? std::string("the model")
                                                           : "the model in '" + options_.model_dir + "'");
      shared_[t] = TensorFromProto(*proto, external_.get());
    }
    resident_.assign(T_ * D_, at::Tensor());
    if (std::find(gpu_.begin(), gpu_.end(), 1) != gpu_.end())
      for (TensorId t = 0; t < T_; ++t)
        if (g_.tensor(t).producer == kNone) MakeResident(t);
    SynchronizeGpus();
  }

  const at::Tensor& Value(TensorId t, DeviceId d) const {
    const size_t i = static_cast<size_t>(t) * D_ + d;
    if (g_.tensor(t).producer != kNone) return values_[i];
    return gpu_[d] ? resident_[i] : shared_[t];
  }

  void RunForward(NodeId n, DeviceId d) {
    const Node& node = g_.node(n);
    const bool island = training_ && !wants_grad_[n].empty();
    std::vector<at::Tensor> inputs;
    if (node.op_type == "allot.Loss") {
      std::vector<at::Tensor> leaves;
      at::Tensor loss;
      for (TensorId t : node.inputs) {
        at::Tensor x = Value(t, d).detach().requires_grad_(island);
        leaves.push_back(x);
        at::Tensor m = x.to(at::kFloat).mean();
        loss = loss.defined() ? loss + m : m;
      }
      Store(node.outputs[0], d, loss.detach());
      loss_value_ = loss.item<double>();
      if (island) islands_[n] = {std::move(leaves), {loss}};
      return;
    }
    runtime::KernelContext ctx{*proto_[n], {}, OpsetFor(model_, proto_[n]->domain())};
    std::vector<at::Tensor> leaves(wants_grad_[n].size());
    // An input the gradient op differentiates is read through its island's leaf, however the kernel reads it.
    auto bind = [&](TensorId t) {
      const at::Tensor& x = Value(t, d);
      const auto it = std::find(wants_grad_[n].begin(), wants_grad_[n].end(), t);
      if (!island || it == wants_grad_[n].end()) return x;
      at::Tensor& leaf = leaves[it - wants_grad_[n].begin()];
      if (!leaf.defined()) leaf = x.detach().requires_grad_(true);
      return leaf;
    };
    for (TensorId t : positional_inputs_[n]) ctx.inputs.push_back(t == kNone ? at::Tensor() : bind(t));
    std::unordered_map<std::string, at::Tensor> outer;
    for (TensorId t : outer_reads_[n]) outer.emplace(g_.tensor(t).name, bind(t));
    const Scope scope{outer};
    if (!outer_reads_[n].empty()) ctx.outer = &scope;
    std::vector<at::Tensor> outputs;
    if (island) {
      c10::AutoGradMode enable(true);
      outputs = RunKernel(*kernel_[n], ctx);
    } else {
      c10::NoGradGuard no_grad;
      outputs = RunKernel(*kernel_[n], ctx);
    }
    std::vector<at::Tensor> kept;
    for (size_t i = 0; i < positional_outputs_[n].size() && i < outputs.size(); ++i) {
      const TensorId t = positional_outputs_[n][i];
      if (t == kNone) continue;
      // Shape arithmetic and host-only kernels (runtime/kernels.h) answer on the host: the value lives on d.
      if (outputs[i].defined() && outputs[i].device() != tdev_[d]) outputs[i] = outputs[i].to(tdev_[d]);
      Store(t, d, island ? outputs[i].detach() : outputs[i]);
      if (island) kept.push_back(outputs[i]);
    }
    if (island) islands_[n] = {std::move(leaves), std::move(kept)};
  }

  void RunGradient(NodeId n, DeviceId d) {
    const Node& node = g_.node(n);
    const NodeId f = node.forward;
    Island island = std::move(islands_[f]);
    islands_[f] = {};
    const Node& fwd = g_.node(f);
    // Forward outputs with their gradients summed over the consumers that sent one.
    std::vector<at::Tensor> outs, grads;
    if (f == loss_node_) {  // the seed: d(loss)/d(loss) = 1
      outs.push_back(island.outputs[0]);
      grads.push_back(at::ones_like(island.outputs[0]));
    }
    std::vector<TensorId> fwd_outputs = f == loss_node_ ? std::vector<TensorId>{} : fwd.outputs.vec();
    for (size_t i = 0; i < fwd_outputs.size() && i < island.outputs.size(); ++i) {
      at::Tensor sum;
      for (TensorId t : node.inputs)
        if (g_.tensor(t).gradient_of == fwd_outputs[i]) {
          const at::Tensor& gi = Value(t, d);
          sum = sum.defined() ? sum + gi : gi;
        }
      if (sum.defined() && island.outputs[i].requires_grad()) {
        outs.push_back(island.outputs[i]);
        grads.push_back(sum.to(island.outputs[i].scalar_type()));
      }
    }
    std::vector<at::Tensor> results;
    if (!outs.empty()) results = torch::autograd::grad(outs, island.leaves, grads, false, false, true);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const TensorId of = g_.tensor(node.outputs[i]).gradient_of;
      at::Tensor r = i < results.size() ? results[i] : at::Tensor();
      if (!r.defined()) r = at::zeros_like(island.leaves[i].defined() ? island.leaves[i].detach() : Value(of, d));
      // A parameter's running gradient sum from the previous consumer (graph/training.h) accumulates here.
      for (TensorId t : node.inputs)
        if (g_.tensor(t).gradient_of == of) r = r + Value(t, d);
      Store(node.outputs[i], d, r);
    }
  }

  void RunUpdate(NodeId n, DeviceId d) {
    const Node& node = g_.node(n);
    c10::NoGradGuard no_grad;
    const TensorId p = node.inputs[0];
    at::Tensor sum;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      const at::Tensor& gi = Value(node.inputs[i], d);
      sum = sum.defined() ? sum + gi : gi;
    }
    if (!sum.defined()) return;
    // The host copy and every GPU's resident copy take the same step.
    auto step = [&](at::Tensor& param) { param.sub_(sum.to(param.device(), param.scalar_type()), options_.learning_rate); };
    step(shared_[p]);
    for (DeviceId e = 0; e < D_; ++e)
      if (at::Tensor& copy = resident_[static_cast<size_t>(p) * D_ + e]; copy.defined()) step(copy);
  }

  void Store(TensorId t, DeviceId d, at::Tensor value) { values_[static_cast<size_t>(t) * D_ + d] = std::move(value); }

  void Push(DeviceId d, Task task, bool front) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (front) queues_[d].tasks.push_front(task);
      else queues_[d].tasks.push_back(task);
    }
    queues_[d].cv.notify_one();
  }

  void Ready(NodeId c) { Push(place_[c], {false, c, 0}, false); }

  // After node n ran on d: local consumers may become ready; other devices get one copy each.
  void Finish(NodeId n, DeviceId d) {
    for (TensorId t : distinct_inputs_[n]) Release(t, d);
    for (TensorId t : g_.node(n).outputs)
      for (NodeId c : g_.consumers(t)) {
        const DeviceId dc = place_[c];
        if (dc == d) {
          if (pending_[c].fetch_sub(1) == 1) Ready(c);
        } else if (!local_[dc]) {
          if (produced_[t].exchange(1) == 0) {  // the sender thread sends it, in the order tensors are produced
            const auto [first, last] = send_range_.at(t);
            std::lock_guard<std::mutex> lock(mu_);
            for (uint32_t i = first; i < last; ++i) send_queue_.push_back(sends_[i]);
            send_cv_.notify_all();
          }
        } else if (copied_[static_cast<size_t>(t) * D_ + dc].exchange(1) == 0) {
          Push(dc, {true, t, d}, true);
        }
      }
  }

  void Release(TensorId t, DeviceId d) {
    if (uses_[static_cast<size_t>(t) * D_ + d].fetch_sub(1) == 1 && !g_.tensor(t).is_graph_output)
      values_[static_cast<size_t>(t) * D_ + d].reset();
  }

  void RunCopy(TensorId t, DeviceId from, DeviceId to) {
    const at::Tensor& src = values_[static_cast<size_t>(t) * D_ + from];
    at::Tensor& dst = values_[static_cast<size_t>(t) * D_ + to];
    if (!gpu_[from] && !gpu_[to]) {
      dst = src.clone();
    } else {
      if (gpu_[from]) {
        // The producer's op may still be running: the copy waits for it on the device. Read by a CPU worker, the
        // copy runs on this thread's current stream and returns when done; read by a GPU, on that GPU's stream.
        const c10::Event& computed = *done_[g_.tensor(t).producer];
        computed.block(CurrentStream(tdev_[from]));
        if (gpu_[to]) computed.block(*streams_[to]);
      }
      // From the host, a non-blocking copy returns once the source is read (pageable memory is staged).
      dst = src.to(tdev_[to], src.scalar_type(), /*non_blocking=*/!gpu_[from], /*copy=*/true);
      // The source, allocated on the producer's stream, is in use on the reader's until the copy is done there.
      if (gpu_[from] && gpu_[to])
        c10::impl::VirtualGuardImpl(c10::kCUDA).recordDataPtrOnStream(src.storage().data_ptr(), *streams_[to]);
    }
    Release(t, from);
    for (NodeId c : g_.consumers(t))
      if (place_[c] == to && pending_[c].fetch_sub(1) == 1) Ready(c);
  }

  void Work(DeviceId d) {
    at::set_num_threads(options_.intra_op_threads);
    if (gpu_[d]) UseStream(*streams_[d]);
    Queue& q = queues_[d];
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        q.cv.wait(lock, [&] { return stop_ || !q.tasks.empty(); });
        if (stop_) return;
        task = q.tasks.front();
        q.tasks.pop_front();
        ++active_;
      }
      const auto t0 = Clock::now();
      try {
        if (task.copy) {
          RunCopy(task.id, task.from, d);
        } else {
          const Node& node = g_.node(task.id);
          if (node.role == NodeRole::kForward) RunForward(task.id, d);
          else if (node.role == NodeRole::kGradient) RunGradient(task.id, d);
          else RunUpdate(task.id, d);
          if (done_[task.id]) done_[task.id]->record(*streams_[d]);
          Finish(task.id, d);
        }
        // A GPU worker only queues work on its device; a recorded step times each op and copy to its end.
        if (options_.record && gpu_[d]) streams_[d]->synchronize();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!failed_) {
          failed_ = true;
          error_ = task.copy ? std::string(e.what()) : "node '" + std::string(g_.node_name(task.id)) + "': " + FirstLine(e.what());
        }
      }
      const auto t1 = Clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      busy_[d] += std::chrono::duration<double>(t1 - t0).count();
      const double s = std::chrono::duration<double>(t0 - start_).count(), e = std::chrono::duration<double>(t1 - start_).count();
      if (task.copy) {
        const uint64_t bytes = g_.tensor(task.id).bytes;
        bytes_copied_ += bytes;
        ++copies_;
        if (options_.record) copies_timed_.push_back({task.id, task.from, d, s, e, bytes});
      } else {
        if (options_.record) ops_timed_.push_back({task.id, d, s, e});
        if (remaining_.fetch_sub(1) == 1) done_cv_.notify_all();
      }
      --active_;
      if (failed_) done_cv_.notify_all();
    }
  }

  static std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

  // --- Across processes --------------------------------------------------------------------------------------
  int RankOf(DeviceId d) const { return link_ ? options_.device_rank[d] : 0; }

  void BindRanks() {
    link_ = options_.link;
    rank_ = link_ ? link_->rank() : 0;
    local_.assign(D_, 1);
    if (!link_) return;
    if (options_.device_rank.size() != D_) throw Error("executor: device_rank must give a rank for every device");
    for (DeviceId d = 0; d < D_; ++d) {
      if (options_.device_rank[d] < 0 || options_.device_rank[d] >= link_->world_size())
        throw Error("device " + cluster_.device(d).name + ": rank " + std::to_string(options_.device_rank[d]) +
                    " is not below the world size " + std::to_string(link_->world_size()));
      local_[d] = options_.device_rank[d] == rank_;
    }
  }

  // Every (tensor, device on another rank that reads it), ordered by the producer's topological position: the
  // list every rank builds alike, whose index is the transfer's tag.
  void BindTransfers() {
    produced_ = std::vector<std::atomic<uint8_t>>(T_);
    for (NodeId n = 0; n < N_; ++n) local_nodes_ += local_[place_[n]];
    if (!link_) return;
    const std::vector<char> exact = ExactShapes();
    std::vector<char> seen(D_);
    for (NodeId p : g_.topo_order())
      for (TensorId t : g_.node(p).outputs) {
        std::fill(seen.begin(), seen.end(), 0);
        for (NodeId c : g_.consumers(t)) {
          const DeviceId dc = place_[c];
          if (RankOf(dc) == RankOf(place_[p]) || seen[dc]) continue;
          seen[dc] = 1;
          const auto k = static_cast<uint32_t>(xfers_.size());
          xfers_.push_back(MakeTransfer(t, place_[p], dc, exact[t]));
          if (RankOf(place_[p]) == rank_) {
            auto& range = send_range_.try_emplace(t, static_cast<uint32_t>(sends_.size()), 0).first->second;
            sends_.push_back(k);
            range.second = static_cast<uint32_t>(sends_.size());
          }
          if (RankOf(dc) == rank_) recvs_.push_back(k);
        }
      }
    // Parameters updated on one rank and read on others: sent to them after each training step.
    for (NodeId u = 0; u < N_; ++u) {
      const Node& node = g_.node(u);
      if (node.role != NodeRole::kUpdate || node.inputs.empty()) continue;
      const TensorId p = node.inputs[0];
      std::vector<char> reader(static_cast<size_t>(link_->world_size()), 0);
      for (NodeId c : g_.consumers(p)) reader[static_cast<size_t>(RankOf(place_[c]))] = 1;
      for (int r = 0; r < link_->world_size(); ++r)
        if (reader[static_cast<size_t>(r)] && r != RankOf(place_[u])) param_syncs_.push_back({p, RankOf(place_[u]), r});
    }
  }

  // Per tensor: its graph shape is the one it has at run time. Not so for a dim shape inference set to its upper
  // bound (NonZero's, ...: marked in value_info), nor, conservatively, for whatever is computed from such a tensor.
  std::vector<char> ExactShapes() const {
    std::vector<char> exact(T_, 1);
    auto mark = [&](const onnx::ValueInfoProto& vi) {
      for (const auto& dim : vi.type().tensor_type().shape().dim())
        if (dim.denotation() == kUpperBoundDenotation)
          if (const TensorId t = g_.FindTensor(vi.name()); t != kNone) exact[t] = 0;
    };
    for (const auto& vi : model_.graph().value_info()) mark(vi);
    for (const auto& vi : model_.graph().output()) mark(vi);
    for (NodeId n : g_.topo_order()) {
      bool in_exact = true;
      for (TensorId t : g_.node(n).inputs) in_exact = in_exact && exact[t];
      if (!in_exact)
        for (TensorId t : g_.node(n).outputs) exact[t] = 0;
    }
    return exact;
  }

  // Runs a communication thread's loop; a failure fails the step (and Step() aborts the link).
  void Communicate(void (Impl::*loop)()) {
    try {
      (this->*loop)();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_) {
        failed_ = true;
        error_ = FirstLine(e.what());
      }
      done_cv_.notify_all();
    }
  }

  // Posts each send as its tensor is produced (the order the device workers finish in) and never waits on the
  // network until all are posted: no send holds up another.
  void SendAll() {
    for (size_t i = 0; i < sends_.size(); ++i) {
      uint32_t k = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        send_cv_.wait(lock, [&] { return !send_queue_.empty() || failed_; });
        if (failed_) return;
        k = send_queue_.front();
        send_queue_.pop_front();
      }
      const Transfer& x = xfers_[k];
      const auto t0 = Clock::now();
      const NodeId producer = g_.tensor(x.tensor).producer;
      // A GPU producer may still be running: the host copy below waits for it on this thread's stream.
      if (gpu_[x.from]) done_[producer]->block(CurrentStream(tdev_[x.from]));
      const at::Tensor value = values_[static_cast<size_t>(x.tensor) * D_ + x.from].cpu();
      if (x.fixed && (value.sizes() != at::IntArrayRef(x.shape) || value.scalar_type() != x.dtype))
        throw Error("rank " + std::to_string(rank_) + ": node '" + std::string(g_.node(producer).name) + "' made '" +
                    std::string(g_.tensor(x.tensor).name) + "' " + TypeString(value.scalar_type(), value.sizes()) +
                    ", not the graph's " + TypeString(x.dtype, x.shape) +
                    ": its receiver posted a buffer of the graph's");
      link_->PostSend(value, RankOf(x.to), static_cast<int>(k), !x.fixed);
      Release(x.tensor, x.from);
      const auto t1 = Clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t bytes = static_cast<uint64_t>(value.nbytes());
      bytes_copied_ += bytes;
      bytes_sent_ += bytes;
      ++copies_;
      if (options_.record)
        copies_timed_.push_back({x.tensor, x.from, x.to, std::chrono::duration<double>(t0 - start_).count(),
                                 std::chrono::duration<double>(t1 - start_).count(), bytes});
      if (remaining_.fetch_sub(1) == 1) done_cv_.notify_all();
    }
    link_->WaitSends();
  }

  // Receives in list order. Receives of fixed-shape tensors are posted ahead (a window of them, bounded in count
  // and bytes so that buffers are not all allocated at the start of a step), so their data lands without a round
  // trip; the others take a header first.
  void ReceiveAll() {
    constexpr size_t kWindow = 64;
    constexpr uint64_t kWindowBytes = uint64_t{256} << 20;
    std::vector<size_t> ticket(recvs_.size(), 0);
    size_t posted = 0;
    uint64_t posted_bytes = 0;
    for (size_t i = 0; i < recvs_.size(); ++i) {
      for (; posted < recvs_.size() && posted < i + kWindow && (posted == i || posted_bytes < kWindowBytes); ++posted) {
        const Transfer& y = xfers_[recvs_[posted]];
        if (!y.fixed) continue;
        at::Tensor buffer = at::empty(y.shape, at::TensorOptions().dtype(y.dtype));
        posted_bytes += static_cast<uint64_t>(buffer.nbytes());
        ticket[posted] = link_->PostRecv(std::move(buffer), RankOf(y.from), static_cast<int>(recvs_[posted]));
      }
      const Transfer& x = xfers_[recvs_[i]];
      at::Tensor value;
      if (x.fixed) {
        value = link_->WaitRecv(ticket[i]);
        posted_bytes -= static_cast<uint64_t>(value.nbytes());
      } else {
        value = link_->Recv(RankOf(x.from), static_cast<int>(recvs_[i]));
      }
      if (gpu_[x.to]) {
        // Copied on this thread's stream: done before the device's worker, on its own stream, reads it.
        value = value.to(tdev_[x.to]);
        SynchronizeCurrent(tdev_[x.to]);
      }
      Store(x.tensor, x.to, std::move(value));
      for (NodeId c : g_.consumers(x.tensor))
        if (place_[c] == x.to && pending_[c].fetch_sub(1) == 1) Ready(c);
    }
    link_->ClearRecvs();
  }

  // Tags after the step's transfers: parameter updates, then statistics; outputs after those.
  int ParamTagBase() const { return static_cast<int>(xfers_.size()); }
  int StatsTagBase() const { return ParamTagBase() + static_cast<int>(param_syncs_.size()); }
  int OutputTagBase() const { return StatsTagBase() + 3 * (link_ ? link_->world_size() : 1); }

  void SyncParameters() {
    int tag = ParamTagBase();
    for (const ParamSync& p : param_syncs_) {
      if (p.from == rank_) link_->Send(shared_[p.tensor], p.to, tag);
      if (p.to == rank_) {
        const at::Tensor value = link_->Recv(p.from, tag);
        c10::NoGradGuard no_grad;
        shared_[p.tensor].copy_(value);
        for (DeviceId e = 0; e < D_; ++e)
          if (at::Tensor& copy = resident_[static_cast<size_t>(p.tensor) * D_ + e]; copy.defined()) copy.copy_(value);
      }
      ++tag;
    }
  }

  // Rank 0 combines every rank's statistics: the slowest rank's time, each device's busy time from its rank.
  void GatherStats(StepStats& stats) {
    const int world = link_->world_size();
    stats.rank_bytes_sent.assign(static_cast<size_t>(world), 0);
    stats.rank_bytes_sent[static_cast<size_t>(rank_)] = bytes_sent_;
    const bool has_loss = loss_node_ != kNone && local_[place_[loss_node_]];
    for (int r = 1; r < world; ++r) {
      const int tag = StatsTagBase() + 3 * r;
      if (rank_ == r) {
        std::vector<double> v{stats.seconds, has_loss ? 1.0 : 0.0, stats.loss, static_cast<double>(bytes_sent_),
                              static_cast<double>(stats.copies), static_cast<double>(stats.bytes_copied)};
        for (DeviceId d = 0; d < D_; ++d) v.push_back(local_[d] ? stats.busy[d] : 0.0);
        link_->Send(at::tensor(v, at::kDouble), 0, tag);
        std::vector<double> ops, copies;
        for (const OpTiming& o : stats.ops) ops.insert(ops.end(), {double(o.node), double(o.device), o.start, o.end});
        for (const CopyTiming& c : stats.copies_timed)
          copies.insert(copies.end(), {double(c.tensor), double(c.from), double(c.to), c.start, c.end, double(c.bytes)});
        link_->Send(at::tensor(ops, at::kDouble), 0, tag + 1);
        link_->Send(at::tensor(copies, at::kDouble), 0, tag + 2);
      }
      if (rank_ == 0) {
        const at::Tensor t = link_->Recv(r, tag);
        const double* v = t.data_ptr<double>();
        stats.seconds = std::max(stats.seconds, v[0]);
        if (v[1] != 0) stats.loss = v[2];
        stats.rank_bytes_sent[static_cast<size_t>(r)] = static_cast<uint64_t>(v[3]);
        stats.copies += static_cast<size_t>(v[4]);
        stats.bytes_copied += static_cast<uint64_t>(v[5]);
        for (DeviceId d = 0; d < D_; ++d)
          if (options_.device_rank[d] == r) stats.busy[d] = v[6 + d];
        const at::Tensor ops = link_->Recv(r, tag + 1), copies = link_->Recv(r, tag + 2);
        const double* o = ops.data_ptr<double>();
        for (int64_t i = 0; i + 4 <= ops.numel(); i += 4)
          stats.ops.push_back({static_cast<NodeId>(o[i]), static_cast<DeviceId>(o[i + 1]), o[i + 2], o[i + 3]});
        const double* c = copies.data_ptr<double>();
        for (int64_t i = 0; i + 6 <= copies.numel(); i += 6)
          stats.copies_timed.push_back({static_cast<TensorId>(c[i]), static_cast<DeviceId>(c[i + 1]),
                                        static_cast<DeviceId>(c[i + 2]), c[i + 3], c[i + 4], static_cast<uint64_t>(c[i + 5])});
      }
    }
  }

  struct Island {
    std::vector<at::Tensor> leaves;   // inputs needing a gradient, in the gradient op's output order
    std::vector<at::Tensor> outputs;  // the op's outputs, attached to the island's autograd graph
  };
  struct Queue {
    std::deque<Task> tasks;
    std::condition_variable cv;
  };
  struct Transfer {
    TensorId tensor;
    DeviceId from, to;
    bool fixed = false;  // dtype and shape known from the graph: received into a buffer posted ahead, no header
    std::vector<int64_t> shape;
    c10::ScalarType dtype = at::kFloat;
  };
  Transfer MakeTransfer(TensorId t, DeviceId from, DeviceId to, bool exact) const {
    Transfer x;
    x.tensor = t;
    x.from = from;
    x.to = to;
    const Tensor tensor = g_.tensor(t);
    if (!exact || NumElements(tensor.shape) <= 0 || tensor.dtype == DType::kUndefined) return x;
    try {
      x.dtype = ScalarTypeFromOnnx(static_cast<int32_t>(tensor.dtype), tensor.name);
    } catch (const Error&) {
      return x;
    }
    x.shape = tensor.shape.vec();
    x.fixed = true;
    return x;
  }

  struct ParamSync {
    TensorId tensor;
    int from, to;  // ranks
  };

  const onnx::ModelProto& model_;
  const Graph& g_;
  const Cluster& cluster_;
  std::vector<DeviceId> place_;
  RunOptions options_;
  std::unique_ptr<ExternalTensors> external_;  // maps external-data files, when the model has any
  size_t N_ = 0, T_ = 0, D_ = 0;
  bool training_ = false;
  NodeId loss_node_ = kNone;
  double loss_value_ = 0;

  std::vector<const onnx::NodeProto*> proto_;
  std::vector<const Kernel*> kernel_;
  std::vector<std::vector<TensorId>> positional_inputs_, positional_outputs_;
  std::vector<std::vector<TensorId>> outer_reads_;  // of nodes with bodies: all their IR inputs
  std::vector<int64_t> in_count_;
  std::vector<std::vector<TensorId>> wants_grad_;
  std::vector<TensorId> input_tensors_;

  std::vector<c10::Device> tdev_;                // per device: where its ops run
  std::vector<char> gpu_;                        // per device: a CUDA device that runs ops
  std::vector<std::optional<c10::Stream>> streams_;  // per GPU: its worker's stream
  std::vector<std::unique_ptr<c10::Event>> done_;    // per node on a GPU read elsewhere: its outputs are computed

  std::vector<at::Tensor> values_;  // [tensor * D + device]
  std::vector<at::Tensor> resident_;  // [tensor * D + GPU]: parameters, constants, graph inputs on a GPU
  std::vector<at::Tensor> shared_;  // parameters, constants, graph inputs
  std::vector<std::atomic<int64_t>> pending_;
  std::vector<std::atomic<uint8_t>> copied_;
  std::vector<int32_t> uses_init_;
  std::vector<std::atomic<int32_t>> uses_;
  std::vector<std::vector<TensorId>> distinct_inputs_;  // produced input tensors, once each
  std::vector<Island> islands_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<Queue> queues_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  bool failed_ = false;
  std::string error_;
  int active_ = 0;
  std::atomic<int64_t> remaining_{0};
  Clock::time_point start_;
  std::vector<double> busy_;
  uint64_t bytes_copied_ = 0;
  size_t copies_ = 0;
  std::vector<OpTiming> ops_timed_;
  std::vector<CopyTiming> copies_timed_;

  // Across processes.
  RankLink* link_ = nullptr;
  int rank_ = 0;
  std::vector<char> local_;  // per device: runs in this process
  size_t local_nodes_ = 0;
  std::vector<Transfer> xfers_;
  std::vector<uint32_t> sends_, recvs_;       // indices into xfers_ this rank sends / receives, in order
  std::vector<ParamSync> param_syncs_;
  std::vector<std::atomic<uint8_t>> produced_;  // per tensor: its producer ran (the sender may send it)
  std::condition_variable send_cv_;
  std::deque<uint32_t> send_queue_;  // transfers whose tensor was produced, in that order, not yet sent
  std::unordered_map<TensorId, std::pair<uint32_t, uint32_t>> send_range_;  // tensor -> its range in sends_
  uint64_t bytes_sent_ = 0;
};

Executor::Executor(const onnx::ModelProto& model, const Graph& graph, const Cluster& cluster,
                   std::vector<DeviceId> placement, RunOptions options)
    : impl_(std::make_unique<Impl>(model, graph, cluster, std::move(placement), options)) {}
Executor::~Executor() = default;
void Executor::SetInputs(const std::vector<at::Tensor>& inputs) { impl_->SetInputs(inputs); }
size_t Executor::num_inputs() const { return impl_->num_inputs(); }
StepStats Executor::Step() { return impl_->Step(); }
std::vector<at::Tensor> Executor::Outputs() { return impl_->Outputs(); }

}  // namespace allot::runtime
