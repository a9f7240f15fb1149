#pragma once
// A policy's parameters and its optimizer's state in allot's archives (rl/archive_file.h), read back from files a
// user may have edited, truncated or swapped: every parameter, buffer and Adam moment must be present and keep the
// shape and type the policy was built with, and nothing else may be there, before a value is copied in. A file of
// another configuration is one line naming the file and the parameter, not a failure deep in a forward pass or an
// optimizer step.
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/adam.h>

#include "rl/archive_file.h"

namespace allot::rl {

// Every parameter and buffer of `module` under its name (Module::named_parameters' dotted path).
void SaveModule(const torch::nn::Module& module, ArchiveWriter archive);

// Copies them back into `module`'s tensors (their identity kept: an optimizer's state stays attached). Throws Error
// "SOURCE: parameter 'NAME' is [a, b] in the file, [c, d] for this policy", or naming a missing, extra or
// non-finite one.
void LoadModuleChecked(torch::nn::Module& module, const ArchiveReader& archive, const std::string& source);

// Adam's per-parameter state (step count, moments), by the parameter's index in its param groups.
void SaveAdam(const torch::optim::Adam& adam, ArchiveWriter archive);

// Replaces `adam`'s state by the archive's, after checking each moment against its parameter. Throws Error naming
// `source`.
void LoadAdamChecked(torch::optim::Adam& adam, const ArchiveReader& archive, const std::string& source);

}  // namespace allot::rl
