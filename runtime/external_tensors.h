#pragma once
// Initializers stored as ONNX external data (graph/external_data.h), as tensors over private, copy-on-write
// memory maps of their files: a model's weights are paged in as the ops read them instead of being read (and held
// twice) up front, and a training step's in-place update writes private pages, never the file. Each file is
// mapped once and stays mapped while a tensor over it lives. A tensor whose bytes are not aligned for its type,
// or whose type LibTorch lacks (uint16/32/64, widened), is copied out of the mapping instead.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <ATen/core/Tensor.h>

namespace onnx {
class TensorProto;
}

namespace allot::runtime {

class ExternalTensors {
 public:
  // `model_dir`: the folder locations are relative to; `source` names the model in errors.
  ExternalTensors(std::string model_dir, std::string source);
  ~ExternalTensors();

  // The tensor of an initializer whose data_location is EXTERNAL. Errors (a location outside the model's folder,
  // a missing or short file, a length that disagrees with the dims) name the model, the tensor and the file.
  at::Tensor Load(const onnx::TensorProto& proto);

 private:
  struct Mapping;
  std::shared_ptr<Mapping> Map(const std::string& file, const std::string& what);
  std::string model_dir_, source_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Mapping>> files_;
};

}  // namespace allot::runtime
