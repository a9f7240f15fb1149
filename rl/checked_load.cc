#include "rl/checked_load.h"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <set>
#include <sstream>
#include <type_traits>
#include <vector>

#include "graph/error.h"

namespace allot::rl {
namespace {

std::string ShapeOf(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes() << " " << t.scalar_type();
  return s.str();
}

// Adam keeps its state in a hash map keyed by the parameter's TensorImpl: a string of the pointer in LibTorch 1.x,
// the pointer itself in 2.x. `p`'s key either way.
template <class Map>
typename Map::key_type KeyOf(const at::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

using AdamState = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>;

std::vector<at::Tensor> ParamsOf(const torch::optim::Adam& adam) {
  std::vector<at::Tensor> params;
  for (const auto& group : adam.param_groups())
    for (const at::Tensor& p : group.params()) params.push_back(p);
  return params;
}

}  // namespace

void SaveModule(const torch::nn::Module& module, ArchiveWriter archive) {
  for (const auto& p : module.named_parameters()) archive.PutTensor(p.key(), p.value());
  for (const auto& b : module.named_buffers()) archive.PutTensor(b.key(), b.value());
}

void LoadModuleChecked(torch::nn::Module& module, const ArchiveReader& archive, const std::string& source) {
  std::vector<std::pair<std::string, at::Tensor>> mine;
  for (const auto& p : module.named_parameters()) mine.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) mine.emplace_back(b.key(), b.value());
  std::set<std::string> names;
  std::vector<at::Tensor> read;
  for (const auto& [name, want] : mine) {
    names.insert(name);
    if (!archive.Has(name)) throw Error(source + ": parameter " + Quote(name) + " is missing");
    at::Tensor got = archive.GetTensor(name);
    if (got.sizes() != want.sizes() || got.scalar_type() != want.scalar_type())
      throw Error(source + ": parameter " + Quote(name) + " is " + ShapeOf(got) + " in the file, " + ShapeOf(want) +
                  " for this policy");
    if (at::isFloatingType(got.scalar_type()) && !at::isfinite(got).all().item<bool>())
      throw Error(source + ": parameter " + Quote(name) + " is not finite");
    read.push_back(std::move(got));
  }
  for (const std::string& key : archive.Keys())
    if (!names.count(key)) throw Error(source + ": parameter " + Quote(key) + " is not one of this policy's");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < mine.size(); ++i) mine[i].second.copy_(read[i]);
}

void SaveAdam(const torch::optim::Adam& adam, ArchiveWriter archive) {
  const std::vector<at::Tensor> params = ParamsOf(adam);
  archive.PutInt("params", static_cast<int64_t>(params.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    const auto it = adam.state().find(KeyOf<AdamState>(params[i]));
    if (it == adam.state().end()) continue;
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    ArchiveWriter a = archive.Scope(std::to_string(i));
    a.PutInt("step", s.step());
    a.PutTensor("exp_avg", s.exp_avg());
    a.PutTensor("exp_avg_sq", s.exp_avg_sq());
    if (s.max_exp_avg_sq().defined()) a.PutTensor("max_exp_avg_sq", s.max_exp_avg_sq());
  }
}

void LoadAdamChecked(torch::optim::Adam& adam, const ArchiveReader& archive, const std::string& source) {
  const std::vector<at::Tensor> params = ParamsOf(adam);
  if (archive.GetInt("params") != static_cast<int64_t>(params.size()))
    throw Error(source + ": the optimizer state is for " + std::to_string(archive.GetInt("params")) +
                " parameters, this policy has " + std::to_string(params.size()));
  std::set<std::string> known{"params"};
  AdamState state;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string k = std::to_string(i);
    if (!archive.Has(k + "/step")) continue;
    const ArchiveReader a = archive.Scope(k);
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->step(a.GetInt("step"));
    if (s->step() < 0) throw Error(source + ": the optimizer's step count is negative");
    known.insert(k + "/step");
    auto moment = [&](const char* name) {
      const at::Tensor m = a.GetTensor(name);
      if (m.sizes() != params[i].sizes() || m.scalar_type() != params[i].scalar_type())
        throw Error(source + ": the optimizer state does not fit the policy (a moment of " + ShapeOf(params[i]) +
                    " is " + ShapeOf(m) + ")");
      if (!at::isfinite(m).all().item<bool>()) throw Error(source + ": the optimizer state is not finite");
      known.insert(k + "/" + name);
      return m;
    };
    s->exp_avg(moment("exp_avg"));
    s->exp_avg_sq(moment("exp_avg_sq"));
    if (a.Has("max_exp_avg_sq")) s->max_exp_avg_sq(moment("max_exp_avg_sq"));  // amsgrad only
    state[KeyOf<AdamState>(params[i])] = std::move(s);
  }
  for (const std::string& key : archive.Keys())
    if (!known.count(key)) throw Error(source + ": the optimizer state names parameters the policy lacks ('" + key + "')");
  adam.state() = std::move(state);
}

}  // namespace allot::rl
