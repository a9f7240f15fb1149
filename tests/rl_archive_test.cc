// allot's archive (rl/archive_file.h): what is written reads back exactly, and a file crafted with a valid hash —
// which LibTorch's loader, behind the old envelope, would have parsed — is a one-line error naming it.
#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "graph/error.h"
#include "rl/archive_file.h"
#include "rl/checked_load.h"

namespace allot {
namespace {

using rl::ArchiveReader;
using rl::ArchiveWriter;

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RlArchiveTest, EveryKindReadsBackExactly) {
  ArchiveWriter w;
  const at::Tensor f = at::randn({3, 4}), d = at::randn({5}, at::kDouble), empty = at::zeros({0, 7}, at::kDouble);
  const at::Tensor l = at::arange(-3, 3, at::kLong), b = at::tensor({1, 0, 1}).to(at::kBool), scalar = at::scalar_tensor(2.5);
  w.PutTensor("f", f.t());  // not contiguous: written as its values
  w.PutTensor("d", d);
  w.PutTensor("empty", empty);
  w.PutTensor("l", l);
  w.PutTensor("b", b);
  w.PutTensor("scalar", scalar);
  w.PutDouble("inf", std::numeric_limits<double>::infinity());
  w.PutDouble("tiny", std::numeric_limits<double>::denorm_min());
  w.PutDouble("nan", std::nan(""));
  w.PutInt("min", std::numeric_limits<int64_t>::min());
  w.PutBool("yes", true);
  w.PutString("bytes", std::string("a\0b\n", 4));
  ArchiveWriter inner = w.Scope("outer").Scope("inner");
  inner.PutInt("x", 7);

  const ArchiveReader r = ArchiveReader::Parse(w.Bytes(), "t.pt");
  EXPECT_TRUE(at::equal(r.GetTensor("f"), f.t()));
  EXPECT_TRUE(at::equal(r.GetTensor("d"), d));
  EXPECT_EQ(r.GetTensor("empty").sizes(), empty.sizes());
  EXPECT_TRUE(at::equal(r.GetTensor("l"), l));
  EXPECT_TRUE(at::equal(r.GetTensor("b"), b));
  EXPECT_EQ(r.GetTensor("scalar").dim(), 0);
  EXPECT_EQ(r.GetTensor("scalar").item<double>(), 2.5);
  EXPECT_EQ(r.GetDouble("inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.GetDouble("tiny"), std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::isnan(r.GetDouble("nan")));
  EXPECT_EQ(r.GetInt("min"), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(r.GetBool("yes"));
  EXPECT_EQ(r.GetString("bytes"), std::string("a\0b\n", 4));
  EXPECT_EQ(r.Scope("outer").Scope("inner").GetInt("x"), 7);
  EXPECT_EQ(r.Scope("outer").Keys(), std::vector<std::string>{"inner/x"});
  EXPECT_FALSE(r.Has("x"));
  EXPECT_EQ(ErrorOf([&] { r.GetDouble("min"); }), "t.pt: entry 'min' is a int, not a double");
  EXPECT_EQ(ErrorOf([&] { r.Scope("outer").GetInt("y"); }), "t.pt: no entry 'outer/y'");
  EXPECT_EQ(ErrorOf([&] { w.PutInt("min", 1); }), "archive: key 'min' is written twice");
}

// Each index is sealed with a valid hash, so only the reader's own checks stand between it and a tensor.
TEST(RlArchiveTest, CraftedFilesWithAValidHashAreOneLineErrors) {
  const std::string data(16, '\0');
  auto entry = [](const std::string& fields) { return R"({"entries": [{"key": "k", )" + fields + "}]}"; };
  const std::string ok = R"("kind": "tensor", "dtype": "float32", "shape": [4], "offset": 0, "bytes": 16)";
  ASSERT_EQ(ArchiveReader::Parse(rl::SealArchive(entry(ok), data), "c.pt").GetTensor("k").numel(), 4);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "malformed index"},
      {R"({"entries": 3})", "malformed index"},
      {R"({"entries": [5]})", "lacks 'key'"},
      {entry(R"("kind": "tensor", "dtype": "float32", "shape": [4], "offset": 0)"), "lacks 'bytes'"},
      {entry(R"("kind": "tensor", "dtype": "complex64", "shape": [4], "offset": 0, "bytes": 16)"), "no known kind"},
      {entry(R"("kind": "tensor", "dtype": "float32", "shape": [4], "offset": 8, "bytes": 16)"), "outside the file"},
      {entry(R"("kind": "tensor", "dtype": "float32", "shape": [4], "offset": 18446744073709551615, "bytes": 16)"),
       "outside the file"},
      {entry(R"("kind": "tensor", "dtype": "float32", "shape": [3], "offset": 0, "bytes": 16)"), "does not fit its shape"},
      {entry(R"("kind": "tensor", "dtype": "float32", "shape": [-4], "offset": 0, "bytes": 16)"), "malformed shape"},
      {entry(R"("kind": "tensor", "dtype": "uint8", "shape": [16, 16], "offset": 0, "bytes": 16)"), "larger than the file"},
      {entry(R"("kind": "tensor", "dtype": "uint8", "shape": [0, 16, 16, 16, 16, 16, 16, 16, 16], "offset": 0, "bytes": 0)"),
       "malformed shape"},
      {entry(R"("kind": "double", "dtype": "float32", "shape": [], "offset": 0, "bytes": 4)"), "of another dtype or shape"},
      {entry(R"("kind": "string", "dtype": "uint8", "shape": [], "offset": 0, "bytes": 1)"), "of another dtype or shape"},
      {R"({"entries": [{"key": "k", )" + ok + R"(}, {"key": "k", )" + ok + "}]}", "appears twice"},
  };
  for (const auto& [index, needle] : cases) {
    const std::string what = ErrorOf([&] { ArchiveReader::Parse(rl::SealArchive(index, data), "c.pt"); });
    EXPECT_EQ(what.rfind("cannot read c.pt: ", 0), 0u) << index << " -> " << what;
    EXPECT_NE(what.find(needle), std::string::npos) << index << " -> " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  // A boolean stored as 2, hash and all.
  const std::string two(1, '\2');
  const ArchiveReader r = ArchiveReader::Parse(
      rl::SealArchive(entry(R"("kind": "bool", "dtype": "uint8", "shape": [], "offset": 0, "bytes": 1)"), two), "c.pt");
  EXPECT_EQ(ErrorOf([&] { r.GetBool("k"); }), "c.pt: entry 'k' is not a boolean");
  // Damage, truncation and foreign files.
  std::string sealed = rl::SealArchive(entry(ok), data);
  EXPECT_NE(ErrorOf([&] { ArchiveReader::Parse(sealed.substr(0, sealed.size() - 1), "c.pt"); }).find("truncated"),
            std::string::npos);
  sealed[sealed.size() - 3] ^= 1;
  EXPECT_NE(ErrorOf([&] { ArchiveReader::Parse(sealed, "c.pt"); }).find("damaged"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ArchiveReader::Parse("PK\3\4 a zip", "c.pt"); }).find("not written by this version"),
            std::string::npos);
}

TEST(RlArchiveTest, ModulesAndAdamStateReadBackOnlyIntoTheirOwnShape) {
  torch::nn::Linear net(3, 2);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(0.01));
  adam.zero_grad();
  net->forward(at::ones({1, 3})).sum().backward();
  adam.step();
  ArchiveWriter w;
  rl::SaveModule(*net, w.Scope("policy"));
  rl::SaveAdam(adam, w.Scope("adam"));
  const ArchiveReader r = ArchiveReader::Parse(w.Bytes(), "p.pt");

  torch::nn::Linear copy(3, 2);
  torch::optim::Adam copy_adam(copy->parameters(), torch::optim::AdamOptions(0.01));
  rl::LoadModuleChecked(*copy, r.Scope("policy"), "p.pt");
  rl::LoadAdamChecked(copy_adam, r.Scope("adam"), "p.pt");
  EXPECT_TRUE(at::equal(copy->weight, net->weight));
  // One more identical step on each gives identical parameters: the moments and step count came back.
  adam.zero_grad();
  net->forward(at::ones({1, 3})).sum().backward();
  adam.step();
  copy_adam.zero_grad();
  copy->forward(at::ones({1, 3})).sum().backward();
  copy_adam.step();
  EXPECT_TRUE(at::equal(copy->weight, net->weight));

  torch::nn::Linear wider(3, 4);
  EXPECT_EQ(ErrorOf([&] { rl::LoadModuleChecked(*wider, r.Scope("policy"), "p.pt"); }),
            "p.pt: parameter 'weight' is [2, 3] Float in the file, [4, 3] Float for this policy");
  torch::nn::Linear no_bias(torch::nn::LinearOptions(3, 2).bias(false));
  EXPECT_EQ(ErrorOf([&] { rl::LoadModuleChecked(*no_bias, r.Scope("policy"), "p.pt"); }),
            "p.pt: parameter 'bias' is not one of this policy's");
  torch::optim::Adam other(wider->parameters(), torch::optim::AdamOptions(0.01));
  const std::string what = ErrorOf([&] { rl::LoadAdamChecked(other, r.Scope("adam"), "p.pt"); });
  EXPECT_NE(what.find("p.pt: the optimizer state does not fit the policy"), std::string::npos) << what;
}

}  // namespace
}  // namespace allot
