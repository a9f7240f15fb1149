#include "runtime/conformance.h"

#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "graph/onnx_import.h"
#include "runtime/reference_interpreter.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {
namespace {

namespace fs = std::filesystem;

std::string ShapeString(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << sizes;
  return s.str();
}

std::string ValueString(const at::Tensor& flat, int64_t i) {
  std::ostringstream s;
  at::Tensor v = flat[i];
  if (v.is_complex()) s << at::real(v).item<double>() << (at::imag(v).item<double>() < 0 ? "" : "+")
                        << at::imag(v).item<double>() << "i";
  else if (at::isFloatingType(v.scalar_type())) s << v.item<double>();
  else s << v.to(at::kLong).item<int64_t>();
  return s.str();
}

// Numbered files "<prefix><K>.pb" of a test data set, K = 0, 1, ... while they exist.
std::vector<fs::path> Numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int k = 0;; ++k) {
    fs::path p = dir / (prefix + std::to_string(k) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

std::vector<fs::path> SortedSubdirs(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> dirs;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind(prefix, 0) == 0) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// The element type that the graph declares for value `names[k]`; 0 when unknown.
int32_t DeclaredType(const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& values,
                     const std::vector<std::string>& names, size_t k) {
  if (k >= names.size()) return 0;
  for (const onnx::ValueInfoProto& v : values)
    if (v.name() == names[k] && v.type().has_tensor_type()) return v.type().tensor_type().elem_type();
  return 0;
}

// numpy has no bfloat16: the test data stores bfloat16 (and some float16) values as their uint16 bit patterns.
at::Tensor LoadTensor(const fs::path& path, int32_t declared_type) {
  onnx::TensorProto proto = ReadTensorProto(path.string());
  const bool half = declared_type == onnx::TensorProto::BFLOAT16 || declared_type == onnx::TensorProto::FLOAT16;
  if (half && proto.data_type() == onnx::TensorProto::UINT16) proto.set_data_type(declared_type);
  return TensorFromProto(proto);
}

}  // namespace

std::string CompareTensors(const at::Tensor& expected, const at::Tensor& actual, double rtol, double atol) {
  if (expected.scalar_type() != actual.scalar_type())
    return std::string("element type ") + c10::toString(actual.scalar_type()) + ", expected " +
           c10::toString(expected.scalar_type());
  if (expected.sizes() != actual.sizes())
    return "shape " + ShapeString(actual.sizes()) + ", expected " + ShapeString(expected.sizes());
  if (expected.numel() == 0) return "";
  at::Tensor e = expected.reshape({-1}), a = actual.reshape({-1});
  at::Tensor error, bad;
  if (expected.is_complex() || at::isFloatingType(expected.scalar_type())) {
    const at::ScalarType wide = expected.is_complex() ? at::kComplexDouble : at::kDouble;
    e = e.to(wide);
    a = a.to(wide);
    error = at::abs(a - e);
    at::Tensor ok = (error <= atol + rtol * at::abs(e)) | (at::isnan(a) & at::isnan(e)) | (a == e);
    bad = ok.logical_not();
    error = at::where(at::isnan(error), at::full_like(error, INFINITY), error);
  } else {
    bad = e != a;
    error = bad.to(at::kDouble);
  }
  const int64_t count = bad.sum().item<int64_t>();
  if (count == 0) return "";
  const int64_t worst = at::where(bad, error, at::full_like(error, -1.0)).argmax().item<int64_t>();
  return std::to_string(count) + " of " + std::to_string(expected.numel()) + " elements differ; worst at flat index " +
         std::to_string(worst) + ": expected " + ValueString(e, worst) + ", got " + ValueString(a, worst);
}

CaseResult RunConformanceCase(const std::string& dir) {
  CaseResult result;
  result.name = fs::path(dir).filename().string();
  try {
    const onnx::ModelProto model = ReadModelProto((fs::path(dir) / "model.onnx").string());
    if (std::vector<std::string> problems = UnsupportedFeatures(model); !problems.empty()) {
      result.status = CaseStatus::kUnsupported;
      for (size_t i = 0; i < problems.size(); ++i) result.detail += (i ? ", " : "") + problems[i];
      return result;
    }
    const ReferenceInterpreter interpreter(model);
    for (const fs::path& data_set : SortedSubdirs(dir, "test_data_set_")) {
      std::vector<at::Tensor> inputs;
      const std::vector<fs::path> input_files = Numbered(data_set, "input_");
      for (size_t k = 0; k < input_files.size(); ++k)
        inputs.push_back(LoadTensor(input_files[k], DeclaredType(model.graph().input(), interpreter.input_names(), k)));
      const std::vector<fs::path> expected = Numbered(data_set, "output_");
      const std::vector<at::Tensor> outputs = interpreter.Run(inputs);
      if (expected.size() != outputs.size())
        throw std::runtime_error(std::to_string(outputs.size()) + " outputs, expected " +
                                 std::to_string(expected.size()));
      for (size_t k = 0; k < expected.size(); ++k) {
        const at::Tensor want =
            LoadTensor(expected[k], DeclaredType(model.graph().output(), interpreter.output_names(), k));
        const std::string mismatch = CompareTensors(want, outputs[k]);
        if (!mismatch.empty())
          throw std::runtime_error(data_set.filename().string() + " output '" + interpreter.output_names()[k] +
                                   "': " + mismatch);
      }
    }
    result.status = CaseStatus::kPassed;
  } catch (const std::exception& e) {
    result.status = CaseStatus::kFailed;
    result.detail = e.what();
  }
  return result;
}

std::string SuiteSummary::CountsLine() const {
  return "supported " + std::to_string(supported) + " / passed " + std::to_string(passed) + " / failed " +
         std::to_string(failed) + " / skipped (unsupported) " + std::to_string(unsupported);
}

SuiteSummary RunConformanceSuite(const std::string& root) {
  SuiteSummary summary;
  for (const fs::path& dir : SortedSubdirs(root, "")) {
    if (!fs::exists(dir / "model.onnx")) continue;
    CaseResult r = RunConformanceCase(dir.string());
    switch (r.status) {
      case CaseStatus::kPassed: ++summary.passed; break;
      case CaseStatus::kFailed: ++summary.failed; break;
      case CaseStatus::kUnsupported: ++summary.unsupported; break;
    }
    summary.results.push_back(std::move(r));
  }
  summary.supported = summary.passed + summary.failed;
  return summary;
}

}  // namespace allot::runtime
