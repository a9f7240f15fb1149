#include "rl/policy_placeto.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "graph/error.h"
#include "graph/json_io.h"
#include "rl/algorithm.h"
#include "rl/features.h"

namespace allot::rl {
namespace {
constexpr int64_t kBits = 3;     // done, current, start time
constexpr int64_t kColumns = 3;  // Placeto's cost, out_size, mem
constexpr double kOutputScale = 0.01;
constexpr int64_t kScoreColumns = int64_t{1} << 17;  // unit x state pairs per scoring pass

// Each column of the row-major [rows, cols] `x` divided by its maximum (left alone where that is not positive).
void NormalizeColumns(std::vector<float>& x, int64_t rows, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    float top = 0.f;
    for (int64_t r = 0; r < rows; ++r) top = std::max(top, x[r * cols + c]);
    if (top > 0.f)
      for (int64_t r = 0; r < rows; ++r) x[r * cols + c] /= top;
  }
}
}

PlacetoNetImpl::PlacetoNetImpl(const PlacetoConfig& config) : config_(config) {
  encoder_ = register_module("encoder", PlacetoEncoder(state_width(), config_.width));
  const int64_t in = encoder_->output_width();
  classifier_ = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Linear(in, 2 * in), torch::nn::ReLU(), torch::nn::Linear(2 * in, in),
                                          torch::nn::ReLU(), torch::nn::Linear(in, config_.num_devices)));
}

void PlacetoNetImpl::ResetParameters(uint64_t seed) {
  InitLinearLayers(*this, seed, LinearInit::kGlorot);
  torch::NoGradGuard no_grad;
  classifier_->ptr<torch::nn::LinearImpl>(classifier_->size() - 1)->weight.mul_(kOutputScale);
}

int64_t PlacetoNetImpl::state_width() const { return kColumns + UnitFeatureWidth() + config_.num_devices + kBits; }

at::Tensor PlacetoNetImpl::forward(const at::Tensor& x, const SweepPlan& plan, const at::Tensor& current) {
  return classifier_->forward(encoder_->Aggregate(encoder_->Embed(x, plan), plan, current));
}

PlacetoPolicy::PlacetoPolicy(const PlacementProblem& problem, PlacetoConfig config, PlacetoNet net)
    : problem_(problem),
      config_(std::move(config)),
      simulator_(*problem.graph, *problem.cluster, *problem.costs, SimOptions{problem.order, /*record_schedule=*/true}) {
  decision_ = DecisionGroups(*problem.graph, config_.max_groups, config_.fuse_chains, problem.classes);
  map_ = MapDecision(problem, decision_, config_.gpu_only);
  config_.num_devices = num_devices();
  graph_ = BuildUnitGraph(*problem.graph, decision_);
  graph_.ComputeReachability();
  plan_ = SweepPlan::Of(graph_, config_.mean_sets);
  fixed_ = at::cat({PlacetoColumns(), graph_.features}, 1).unsqueeze(1);
  if (!net) {
    net_ = PlacetoNet(config_);
  } else {
    if (net->config().num_devices != config_.num_devices)
      throw Error("placeto: the shared network places on " + std::to_string(net->config().num_devices) +
                  " devices, this cluster offers it " + std::to_string(config_.num_devices));
    net_ = net;
  }
}

at::Tensor PlacetoPolicy::PlacetoColumns() const {
  const CostTable& costs = *problem_.costs;
  const int64_t U = graph_.units;
  std::vector<float> x(static_cast<size_t>(U * kColumns), 0.f);
  for (int64_t i = 0; i < U; ++i) {
    const uint32_t unit = graph_.order[i];
    double time = 0;
    for (uint32_t m = decision_.member_offsets[unit]; m < decision_.member_offsets[unit + 1]; ++m)
      for (DeviceId d : map_.devices) time += costs.at(decision_.members[m], d) / static_cast<double>(map_.devices.size());
    uint64_t exchanged = 0;
    for (uint32_t e = decision_.out_offsets[unit]; e < decision_.out_offsets[unit + 1]; ++e) exchanged += decision_.out_bytes[e];
    x[i * kColumns] = static_cast<float>(time);
    x[i * kColumns + 1] = static_cast<float>(exchanged);
    x[i * kColumns + 2] = static_cast<float>(decision_.memory_bytes[unit]);
  }
  NormalizeColumns(x, U, kColumns);
  return at::tensor(x, at::TensorOptions().dtype(at::kFloat)).view({U, kColumns});
}

double PlacetoPolicy::Simulate(const std::vector<int64_t>& devices, float* start) {
  const auto began = std::chrono::steady_clock::now();
  const SimResult& r = simulator_.Run(ExpandDecision(problem_, map_, devices.data()));
  const int64_t U = graph_.units;
  std::fill(start, start + U, std::numeric_limits<float>::infinity());
  std::vector<uint32_t> position(static_cast<size_t>(U));
  for (int64_t i = 0; i < U; ++i) position[graph_.order[i]] = static_cast<uint32_t>(i);
  for (const ScheduledOp& op : r.ops) {
    float& s = start[position[decision_.group_of[op.node]]];
    s = std::min(s, static_cast<float>(op.start));
  }
  for (int64_t i = 0; i < U; ++i)
    if (!std::isfinite(start[i])) start[i] = 0.f;
  simulation_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return PlacementCost(r.step_time, r.valid);
}

Decoded PlacetoPolicy::Episodes(int64_t K, std::mt19937_64* rng, const int64_t* forced) {
  const int64_t U = graph_.units, D = num_devices(), Fd = D + kBits;
  Decoded out;
  out.samples = K;
  out.groups = U;
  out.decisions = U;
  out.action_width = U;
  out.devices.assign(static_cast<size_t>(K * U), 0);  // the all-zeros start
  out.step_returns.assign(static_cast<size_t>(K * U), 0.0);
  if (U == 0) {
    out.actions = out.devices;
    out.step_log_prob = at::zeros({K, 0});
    out.log_prob = at::zeros({K});
    out.entropy = at::zeros({K});
    return out;
  }
  std::vector<float> start(static_cast<size_t>(K * U)), shifted(start.size());
  std::vector<double> cost(static_cast<size_t>(K * (U + 1)));  // cost before step t, per episode
  std::vector<int64_t> row(static_cast<size_t>(U));
  for (int64_t k = 0; k < K; ++k) {
    row.assign(out.devices.begin() + k * U, out.devices.begin() + (k + 1) * U);
    cost[k * (U + 1)] = Simulate(row, start.data() + k * U);
  }
  // Every step's state, [step][position][episode][Fd]: the choices are made step by step without gradients, then
  // Score() runs the network once over all of them (it costs a U-th of the ops of one pass per step).
  std::vector<float> states(static_cast<size_t>(U * U * K * Fd), 0.f);
  std::vector<int64_t> chosen(static_cast<size_t>(K));
  for (int64_t t = 0; t < U; ++t) {
    float* dynamic = states.data() + t * U * K * Fd;
    for (int64_t k = 0; k < K; ++k) {  // start times shifted by the current unit's, over their largest
      float* s = shifted.data() + k * U;
      float top = 0.f;
      for (int64_t i = 0; i < U; ++i) top = std::max(top, std::abs(s[i] = start[k * U + i] - start[k * U + t]));
      if (top > 0.f)
        for (int64_t i = 0; i < U; ++i) s[i] /= top;
    }
    for (int64_t i = 0; i < U; ++i) {
      const uint32_t unit = graph_.order[i];
      for (int64_t k = 0; k < K; ++k) {
        float* d = dynamic + (i * K + k) * Fd;
        d[out.devices[k * U + unit]] = 1.f;
        d[D] = i < t ? 1.f : 0.f;
        d[D + 1] = i == t ? 1.f : 0.f;
        d[D + 2] = shifted[k * U + i];
      }
    }
    const uint32_t unit = graph_.order[t];
    if (forced != nullptr) {
      for (int64_t k = 0; k < K; ++k) chosen[k] = forced[k * U + unit];
    } else {
      torch::NoGradGuard no_grad;
      const at::Tensor x = at::cat({fixed_.expand({U, K, fixed_.size(2)}),
                                    at::from_blob(dynamic, {U, K, Fd}, at::TensorOptions().dtype(at::kFloat))},
                                   2);
      const at::Tensor probs =
          at::softmax(net_->forward(x, plan_, at::full({K}, t, at::TensorOptions().dtype(at::kLong))), 1).contiguous();
      for (int64_t k = 0; k < K; ++k) {
        const float* p = probs.data_ptr<float>() + k * D;
        chosen[k] = rng != nullptr ? DrawIndex(p, D, UniformDouble(*rng)) : ArgMax(p, D);
      }
    }
    for (int64_t k = 0; k < K; ++k) {
      double& after = cost[k * (U + 1) + t + 1];
      if (out.devices[k * U + unit] == chosen[k]) {  // the unit stays: the same placement, cost and start times
        after = cost[k * (U + 1) + t];
        continue;
      }
      out.devices[k * U + unit] = chosen[k];
      row.assign(out.devices.begin() + k * U, out.devices.begin() + (k + 1) * U);
      after = Simulate(row, start.data() + k * U);
    }
  }
  out.actions = out.devices;
  Score(states, out);
  for (int64_t k = 0; k < K; ++k) {
    double* c = cost.data() + k * (U + 1);
    if (config_.keep_best) {  // c(T_s) -> the best cost up to s; the episode's placement: the first reaching it
      int64_t argmin = 0;
      for (int64_t s = 1; s <= U; ++s) {
        if (c[s] < c[s - 1]) argmin = s;
        c[s] = std::min(c[s], c[s - 1]);
      }
      // Moves after step argmin undone: units at positions >= argmin back on their start device (0).
      for (int64_t i = argmin; i < U; ++i) out.devices[k * U + graph_.order[i]] = 0;
    }
    for (int64_t t = 0; t < U; ++t) out.step_returns[k * U + t] = c[t] - c[U];
  }
  if (rng != nullptr) Remember(states, out);
  return out;
}

void PlacetoPolicy::Remember(const std::vector<float>& states, const Decoded& out) {
  const int64_t U = graph_.units, K = out.samples, Fd = num_devices() + kBits;
  replays_.resize(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    Replay& r = replays_[k];
    r.actions.assign(out.actions.begin() + k * U, out.actions.begin() + (k + 1) * U);
    r.devices.assign(out.devices.begin() + k * U, out.devices.begin() + (k + 1) * U);
    r.step_returns.assign(out.step_returns.begin() + k * U, out.step_returns.begin() + (k + 1) * U);
    r.states.resize(static_cast<size_t>(U * U * Fd));
    for (int64_t t = 0; t < U; ++t)
      for (int64_t i = 0; i < U; ++i)
        std::copy_n(states.data() + ((t * U + i) * K + k) * Fd, Fd, r.states.data() + (t * U + i) * Fd);
  }
}

void PlacetoPolicy::Score(const std::vector<float>& states, Decoded& out) {
  const int64_t U = graph_.units, K = out.samples, D = num_devices(), Fd = D + kBits;
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  // Steps in chunks of at most kScoreColumns / U states, so a pass's [U, states, width] tensors stay bounded.
  const int64_t chunk = std::max<int64_t>(1, kScoreColumns / (U * K));
  std::vector<at::Tensor> log_prob, entropy;
  for (int64_t t0 = 0; t0 < U; t0 += chunk) {
    const int64_t T = std::min(chunk, U - t0), J = T * K;
    float* first = const_cast<float*>(states.data()) + t0 * U * K * Fd;  // only read: the cat below copies it
    const at::Tensor dynamic =  // [T, U, K, Fd] -> [U, T * K, Fd]: column t * K + k is episode k at step t0 + t
        at::from_blob(first, {T, U, K, Fd}, at::TensorOptions().dtype(at::kFloat))
            .permute({1, 0, 2, 3})
            .reshape({U, J, Fd});
    const at::Tensor x = at::cat({fixed_.expand({U, J, fixed_.size(2)}), dynamic}, 2);
    const at::Tensor current = at::arange(t0, t0 + T, i64).repeat_interleave(K);
    const at::Tensor logp = at::log_softmax(net_->forward(x, plan_, current), 1);  // [J, D]
    std::vector<int64_t> taken(static_cast<size_t>(J));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < K; ++k) taken[t * K + k] = out.actions[k * U + graph_.order[t0 + t]];
    log_prob.push_back(logp.gather(1, at::tensor(taken, i64).unsqueeze(1)).view({T, K}));
    entropy.push_back(-(logp.exp() * logp).sum(1).view({T, K}));
  }
  out.step_log_prob = at::cat(log_prob, 0).t();  // [K, U], by step
  out.log_prob = out.step_log_prob.sum(1);
  out.entropy = at::cat(entropy, 0).mean(0);
}

Decoded PlacetoPolicy::Sample(int64_t K, std::mt19937_64& rng, double) { return Episodes(K, &rng, nullptr); }

Decoded PlacetoPolicy::Greedy() { return Episodes(1, nullptr, nullptr); }

Decoded PlacetoPolicy::Evaluate(const Decoded& batch) {
  const int64_t K = batch.samples, U = graph_.units, Fd = num_devices() + kBits;
  std::vector<const Replay*> replay(static_cast<size_t>(K), nullptr);
  for (int64_t k = 0; k < K && U > 0; ++k)
    for (const Replay& r : replays_)
      if (std::equal(r.actions.begin(), r.actions.end(), batch.actions.begin() + k * U)) replay[k] = &r;
  if (U == 0 || std::find(replay.begin(), replay.end(), nullptr) != replay.end())
    return Episodes(K, nullptr, batch.actions.data());
  // Every episode was sampled last: the same simulations would give the same states.
  Decoded out;
  out.samples = K;
  out.groups = out.decisions = out.action_width = U;
  out.actions = batch.actions;
  std::vector<float> states(static_cast<size_t>(U * U * K * Fd));
  for (int64_t k = 0; k < K; ++k) {
    out.devices.insert(out.devices.end(), replay[k]->devices.begin(), replay[k]->devices.end());
    out.step_returns.insert(out.step_returns.end(), replay[k]->step_returns.begin(), replay[k]->step_returns.end());
    for (int64_t t = 0; t < U; ++t)
      for (int64_t i = 0; i < U; ++i)
        std::copy_n(replay[k]->states.data() + (t * U + i) * Fd, Fd, states.data() + ((t * U + i) * K + k) * Fd);
  }
  Score(states, out);
  return out;
}

void PlacetoPolicy::CheckActions(const Decoded& d, const std::string& source) const {
  for (const std::vector<int64_t>* v : {&d.actions, &d.devices})
    for (int64_t x : *v)
      if (x < 0 || x >= num_devices()) throw Error(source + ": a sample names device " + std::to_string(x));
}

nlohmann::ordered_json PlacetoPolicy::Config() const {
  nlohmann::ordered_json j;
  j["width"] = config_.width;
  j["max_groups"] = config_.max_groups;
  j["fuse_chains"] = config_.fuse_chains;
  j["gpu_only"] = config_.gpu_only;
  j["mean_sets"] = config_.mean_sets;
  j["keep_best"] = config_.keep_best;
  return j;
}

std::unique_ptr<Policy> LoadPlacetoPolicy(const PlacementProblem& problem, const nlohmann::json& j,
                                          const std::string& source) {
  PlacetoConfig c;
  c.width = JsonInteger(j, "width", source, 1, 4096);
  c.max_groups = static_cast<size_t>(JsonInteger(j, "max_groups", source, 0, int64_t{1} << 22));
  c.fuse_chains = JsonBool(j, "fuse_chains", source);
  c.gpu_only = JsonBool(j, "gpu_only", source);
  c.mean_sets = JsonBool(j, "mean_sets", source);
  c.keep_best = JsonBool(j, "keep_best", source);
  return std::make_unique<PlacetoPolicy>(problem, c);
}

}  // namespace allot::rl
