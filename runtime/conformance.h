#pragma once
// Runs ONNX backend-test cases (libonnx-testdata's layout: <case>/model.onnx and <case>/test_data_set_N/
// {input_K.pb, output_K.pb}) through the reference interpreter and compares like ONNX's backend runner.
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace allot::runtime {

// ONNX's backend tests: numpy.testing.assert_allclose(rtol=1e-3, atol=1e-7) after an exact dtype check.
constexpr double kConformanceRtol = 1e-3;
constexpr double kConformanceAtol = 1e-7;

// "" when `actual` matches `expected`: same element type and shape; floating and complex values within
// atol + rtol * |expected| (NaN matches NaN, infinities match themselves); other types exactly. Otherwise one
// line describing the mismatch (the worst element).
std::string CompareTensors(const at::Tensor& expected, const at::Tensor& actual, double rtol = kConformanceRtol,
                           double atol = kConformanceAtol);

enum class CaseStatus { kPassed, kFailed, kUnsupported };

struct CaseResult {
  std::string name;  // the case's directory name
  CaseStatus status = CaseStatus::kFailed;
  std::string detail;  // why it failed, or what it needs that the runtime lacks
};

// One case directory; every test_data_set_* must match for kPassed.
CaseResult RunConformanceCase(const std::string& dir);

struct SuiteSummary {
  std::vector<CaseResult> results;  // sorted by name
  int supported = 0, passed = 0, failed = 0, unsupported = 0;
  std::string CountsLine() const;  // "supported S / passed P / failed F / skipped (unsupported) U"
};

// Every subdirectory of `root` that holds a model.onnx.
SuiteSummary RunConformanceSuite(const std::string& root);

}  // namespace allot::runtime
