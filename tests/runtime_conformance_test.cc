// ONNX's node-level backend tests (libonnx-testdata's data/node) through the reference interpreter. Every case
// whose ops and types the runtime supports must pass, except the known failures below.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "runtime/conformance.h"

namespace allot::runtime {
namespace {

const char kNodeCases[] = "/usr/share/libonnx-testdata/data/node";

// Cases that are supported but cannot pass, each with its reason. Keep this short: a kernel bug is fixed, not
// listed.
const std::map<std::string, std::string> kKnownFailures = {
    // ONNX 1.12's expected bfloat16 values truncate the float's low 16 bits; the runtime rounds to nearest even
    // like LibTorch, ONNX Runtime and later ONNX test data (the spec leaves the rounding open at opset 13-17).
    {"test_cast_FLOAT_to_BFLOAT16", "bfloat16 rounding: truncation expected"},
    {"test_castlike_FLOAT_to_BFLOAT16", "bfloat16 rounding: truncation expected"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", "bfloat16 rounding: truncation expected"},
};

TEST(RuntimeConformance, NodeCases) {
  if (!std::filesystem::exists(kNodeCases)) GTEST_SKIP() << kNodeCases << " is missing (libonnx-testdata)";
  at::set_num_threads(1);  // the machine is shared
  const SuiteSummary summary = RunConformanceSuite(kNodeCases);
  std::cout << "[conformance] node/: " << summary.CountsLine() << std::endl;
  for (const CaseResult& r : summary.results) {
    const bool known = kKnownFailures.count(r.name) > 0;
    if (r.status == CaseStatus::kFailed && !known) ADD_FAILURE() << r.name << ": " << r.detail;
    if (r.status == CaseStatus::kPassed && known) ADD_FAILURE() << r.name << " passes now; drop it from the list";
    if (r.status == CaseStatus::kUnsupported && known)
      ADD_FAILURE() << r.name << " is no longer supported: " << r.detail;
  }
}

}  // namespace
}  // namespace allot::runtime
