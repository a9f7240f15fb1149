#include "rl/checked_load.h"

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
// the pointer itself in 2.x. Finds `p`'s entry either way.
template <class Map>
const torch::optim::OptimizerParamState* StateOf(const Map& state, const at::Tensor& p) {
  using Key = typename Map::key_type;
  Key key;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    key = s.str();
  } else {
    key = p.unsafeGetTensorImpl();
  }
  const auto it = state.find(key);
  return it == state.end() ? nullptr : it->second.get();
}

}  // namespace

void LoadModuleChecked(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& source) {
  std::vector<std::pair<std::string, at::Tensor>> expected;
  for (const auto& p : module.named_parameters()) expected.emplace_back(p.key(), at::empty_like(p.value()));
  for (const auto& b : module.named_buffers()) expected.emplace_back(b.key(), at::empty_like(b.value()));
  try {
    module.load(archive);
  } catch (const c10::Error& e) {
    throw Error(source + ": " + e.what_without_backtrace());
  }
  auto named = module.named_parameters();
  auto buffers = module.named_buffers();
  for (const auto& [name, want] : expected) {
    const at::Tensor* got = named.find(name);
    if (!got) got = buffers.find(name);
    if (!got || !got->defined()) throw Error(source + ": parameter " + Quote(name) + " is missing");
    if (got->sizes() != want.sizes() || got->scalar_type() != want.scalar_type())
      throw Error(source + ": parameter " + Quote(name) + " is " + ShapeOf(*got) + " in the file, " + ShapeOf(want) +
                  " for this policy");
    if (!at::isfinite(*got).all().item<bool>()) throw Error(source + ": parameter " + Quote(name) + " is not finite");
  }
}

void CheckAdamState(const torch::optim::Adam& adam, const std::string& source) {
  size_t matched = 0;
  for (const auto& group : adam.param_groups())
    for (const at::Tensor& p : group.params()) {
      const auto* state = StateOf(adam.state(), p);
      if (!state) continue;
      ++matched;
      const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(state);
      if (!s) throw Error(source + ": the optimizer state is not Adam's");
      for (const at::Tensor* moment : {&s->exp_avg(), &s->exp_avg_sq()})
        if (!moment->defined() || moment->sizes() != p.sizes() || moment->scalar_type() != p.scalar_type())
          throw Error(source + ": the optimizer state does not fit the policy (a moment of " + ShapeOf(p) +
                      " is " + (moment->defined() ? ShapeOf(*moment) : std::string("missing")) + ")");
      if (s->step() < 0) throw Error(source + ": the optimizer's step count is negative");
    }
  if (matched != adam.state().size()) throw Error(source + ": the optimizer state names parameters the policy lacks");
}

}  // namespace allot::rl
