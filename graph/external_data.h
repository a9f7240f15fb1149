#pragma once
// Initializers stored outside the model file (ONNX external data): where their bytes are, and whether a location
// may be read at all. A location is a path relative to the model's folder; one that is absolute, climbs out with
// "..", or reaches outside through a symlink is refused (as ONNX's checker does in later releases), so a model
// file cannot make allot read /etc/passwd. Shared by the importer (which checks the files) and the runtime
// (which maps them).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace allot {

struct ExternalRef {
  std::string location;  // as written in the model
  std::string file;      // the file it names, resolved inside the model's folder ("" when no folder is known)
  uint64_t offset = 0;
  uint64_t length = 0;   // the tensor's bytes when the model does not say
};

// Reads a tensor's external_data entries (key, value) and checks them: a location (inside `model_dir`, if it is
// not empty: then the file must hold offset + length bytes) and byte counts for offset and length. `bytes` is the
// tensor's size from its dims and type; a length that differs from it is refused. `what` names the tensor in
// errors ("m.onnx: initializer 'W'").
ExternalRef ResolveExternalData(const std::vector<std::pair<std::string_view, std::string_view>>& entries,
                                uint64_t bytes, const std::string& model_dir, const std::string& what);

}  // namespace allot
