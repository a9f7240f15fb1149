// libonnx-testdata's PyTorch-exported cases (data/pytorch-converted: nn modules at opset 6-9; data/pytorch-operator:
// single operators) through the reference interpreter. Every supported case must pass.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "runtime/conformance.h"

namespace allot::runtime {
namespace {

void ExpectAllSupportedPass(const std::string& suite) {
  const std::string root = "/usr/share/libonnx-testdata/data/" + suite;
  if (!std::filesystem::exists(root)) GTEST_SKIP() << root << " is missing (libonnx-testdata)";
  at::set_num_threads(1);  // the machine is shared
  const SuiteSummary summary = RunConformanceSuite(root);
  std::cout << "[conformance] " << suite << "/: " << summary.CountsLine() << std::endl;
  for (const CaseResult& r : summary.results)
    if (r.status == CaseStatus::kFailed) ADD_FAILURE() << r.name << ": " << r.detail;
  EXPECT_GT(summary.supported, 0);
}

TEST(RuntimeConformance, PytorchConverted) { ExpectAllSupportedPass("pytorch-converted"); }
TEST(RuntimeConformance, PytorchOperator) { ExpectAllSupportedPass("pytorch-operator"); }

}  // namespace
}  // namespace allot::runtime
