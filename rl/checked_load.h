#pragma once
// Parameters read back from files a user may have edited, truncated or swapped: LibTorch's Module::load copies
// whatever tensors the archive holds into the parameters (set_), whatever their shapes, so a policy.pt of another
// configuration would load and fail later, deep in a forward pass or an optimizer step. These check first.
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>

namespace allot::rl {

// Loads `archive` into `module`, then checks that every parameter and buffer kept the shape and type the module
// was built with. Throws Error "SOURCE: parameter 'NAME' is [a, b] in the file, [c, d] for this policy", or naming
// any LibTorch failure to read it.
void LoadModuleChecked(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& source);

// Checks Adam's per-parameter state, after Adam::load, against the parameters it optimizes: each moment has its
// parameter's shape and type. Throws Error naming `source`.
void CheckAdamState(const torch::optim::Adam& adam, const std::string& source);

}  // namespace allot::rl
