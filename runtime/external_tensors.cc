#include "runtime/external_tensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <onnx/onnx_pb.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/external_data.h"
#include "runtime/tensor_proto.h"

namespace allot::runtime {

struct ExternalTensors::Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
  }
};

ExternalTensors::ExternalTensors(std::string model_dir, std::string source)
    : model_dir_(std::move(model_dir)), source_(std::move(source)) {}

ExternalTensors::~ExternalTensors() = default;

std::shared_ptr<ExternalTensors::Mapping> ExternalTensors::Map(const std::string& file, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = files_[file];
  if (slot) return slot;
  // `file` is canonical (ResolveExternalData): no symlink to follow, unless one was put there since the check.
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw Error(what + ": external data file '" + file + "' cannot be opened: " + std::strerror(errno));
  struct stat st;
  auto mapping = std::make_shared<Mapping>();
  bool failed = fstat(fd, &st) != 0;
  if (!failed && st.st_size > 0) {  // an empty file maps nothing; Load refuses any bytes read from it
    mapping->size = static_cast<size_t>(st.st_size);
    // Private and writable: pages are shared with the file until a training step updates a weight in place.
    mapping->data = mmap(nullptr, mapping->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    failed = mapping->data == MAP_FAILED;
  }
  const int error = errno;
  close(fd);
  if (failed) throw Error(what + ": external data file '" + file + "' cannot be mapped: " + std::strerror(error));
  slot = mapping;
  return slot;
}

at::Tensor ExternalTensors::Load(const onnx::TensorProto& proto) {
  const std::string what = source_ + ": initializer '" + proto.name() + "'";
  const at::ScalarType type = ScalarTypeFromOnnx(proto.data_type(), what);
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  if (model_dir_.empty())
    throw Error(what + " keeps its weights in an external file, but the model was not read from a file whose "
                "folder would locate it");
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count))
      throw Error(what + ": its dims hold more elements than 64 bits count");
  }
  const int32_t dt = proto.data_type();
  const bool widened = dt == onnx::TensorProto::UINT16 || dt == onnx::TensorProto::UINT32 ||
                       dt == onnx::TensorProto::UINT64;
  const uint64_t width = dt == onnx::TensorProto::UINT16 ? 2 : dt == onnx::TensorProto::UINT32 ? 4
                       : dt == onnx::TensorProto::UINT64 ? 8 : at::elementSize(type);
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (const auto& e : proto.external_data()) entries.emplace_back(e.key(), e.value());
  uint64_t bytes;
  if (__builtin_mul_overflow(count, width, &bytes)) throw Error(what + ": its size in bytes overflows 64 bits");
  const ExternalRef ref = ResolveExternalData(entries, bytes, model_dir_, what);
  const std::shared_ptr<Mapping> mapping = Map(ref.file, what);
  if (ref.offset > mapping->size || ref.length > mapping->size - ref.offset)
    throw Error(what + ": external data file '" + ref.file + "' is shorter than offset + length");
  if (ref.length == 0) return at::empty(dims, at::TensorOptions().dtype(type));
  char* data = static_cast<char*>(mapping->data) + ref.offset;
  if (widened || reinterpret_cast<uintptr_t>(data) % width != 0)
    return TensorFromBytes(std::string_view(data, ref.length), proto);
  // The tensor holds the mapping: it stays mapped while any tensor over it lives.
  return at::from_blob(data, dims, [mapping](void*) {}, at::TensorOptions().dtype(type));
}

}  // namespace allot::runtime
