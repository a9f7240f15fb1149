#pragma once
// allot's envelope around a LibTorch archive (policy.pt, checkpoint.pt): a magic line, the archive's length and its
// FNV-1a 64-bit hash, then the archive. LibTorch's loader (a zip reader and a TorchScript parser) was not made for
// damaged input: tests/fuzz/policy_fuzzer.cc crashed it (SIGSEGV in torch::jit::ScriptTypeParser) with a few
// mutated bytes of a checkpoint. A file cut short, corrupted or edited now fails the envelope's check with a
// one-line error before LibTorch reads a byte of it. The check is of integrity, not of trust: a file crafted with a
// matching hash still reaches LibTorch's loader, which, like torch.load, must only be given files you or allot wrote.
#include <string>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

namespace allot::rl {

// Writes `archive` to `path` atomically (a temporary, then a rename). Throws Error naming the path.
void SaveArchive(torch::serialize::OutputArchive& archive, const std::string& path);

// Reads `path` into `archive` after checking its envelope. Throws Error "cannot read PATH: ..." for a missing,
// foreign, truncated or damaged file and for anything LibTorch then refuses.
void LoadArchive(torch::serialize::InputArchive& archive, const std::string& path);

}  // namespace allot::rl
