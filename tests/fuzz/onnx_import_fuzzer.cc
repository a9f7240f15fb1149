// libFuzzer target: bytes as an ONNX file through the importer, as `allot inspect` reads one (ParseAndImport: parse,
// checker, shape pass, IR build), then the training-step synthesis over what imported. Any allot::Error is the
// expected answer to bad input; a crash, a sanitizer report or another exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <onnx/onnx_pb.h>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "graph/training.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    onnx::ModelProto model;
    // No model folder: external-data locations are checked, their files never opened.
    const allot::Graph forward = allot::ParseAndImport(bytes, "fuzz.onnx", allot::ImportOptions{}, model);
    allot::SynthesizeTrainingGraph(forward);
  } catch (const allot::Error&) {
  }
  return 0;
}
