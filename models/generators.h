#pragma once
// The individual generators behind Generate() (internal to models/). model_zoo.cc owns the registry, the
// option checks that all generators share (non-negative sizes, options a generator does not take), and the
// spec parser; each generator resolves its own defaults and checks its architecture-specific limits.
// onnx_pb.h, not onnx-ml.pb.h directly: it defines ONNX_API, which onnx-ml.pb.h needs, then includes it.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "models/model_zoo.h"

namespace allot::models::detail {

inline int64_t OrDefault(int64_t value, int64_t fallback) { return value > 0 ? value : fallback; }

// The model's doc_string: which generator made it and with which resolved sizes, so a stored .onnx file says
// what it is.
std::string DescribeModel(const std::string& generator, const ModelOptions& options,
                          std::initializer_list<std::pair<const char*, int64_t>> sizes);

onnx::ModelProto GenerateMlp(const ModelOptions& options);
onnx::ModelProto GenerateChain(const ModelOptions& options);
onnx::ModelProto GenerateSynthetic(const ModelOptions& options);
onnx::ModelProto GenerateInceptionV3(const ModelOptions& options);
onnx::ModelProto GenerateResNet(const ModelOptions& options);
onnx::ModelProto GenerateRnnLm(const ModelOptions& options);
onnx::ModelProto GenerateNmt(const ModelOptions& options);
onnx::ModelProto GenerateTransformer(const ModelOptions& options);
onnx::ModelProto GenerateGpt2(const ModelOptions& options);
onnx::ModelProto GenerateNasCnn(const ModelOptions& options);
onnx::ModelProto GenerateNasRnn(const ModelOptions& options);

}  // namespace allot::models::detail
