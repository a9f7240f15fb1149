#include "graph/external_data.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "graph/error.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

// Whether `path` (canonical) lies inside `folder` (canonical).
bool Inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin();
  for (auto f = folder.begin(); f != folder.end(); ++f, ++p)
    if (p == path.end() || *p != *f) return false;
  return p != path.end();
}

}  // namespace

ExternalRef ResolveExternalData(const std::vector<std::pair<std::string_view, std::string_view>>& entries,
                                uint64_t bytes, const std::string& model_dir, const std::string& what) {
  ExternalRef ref;
  ref.length = bytes;
  bool has_length = false;
  for (const auto& [key, value] : entries) {
    if (key == "location") {
      ref.location = value;
    } else if (key == "offset" || key == "length") {
      uint64_t& field = key == "offset" ? ref.offset : ref.length;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), field);
      if (ec != std::errc() || end != value.data() + value.size() || value.empty())
        throw Error(what + ": external data " + std::string(key) + " '" + std::string(value) +
                    "' is not a byte count");
      has_length |= key == "length";
    }
  }
  if (ref.location.empty()) throw Error(what + " has external data without a location");
  if (has_length && ref.length != bytes)
    throw Error(what + ": external data length " + std::to_string(ref.length) + " differs from the " +
                std::to_string(bytes) + " bytes its dims and type take");
  const fs::path location(ref.location);
  const bool climbs = std::any_of(location.begin(), location.end(), [](const fs::path& part) { return part == ".."; });
  if (location.is_absolute() || location.has_root_name() || climbs)
    throw Error(what + ": external data location '" + ref.location +
                "' is outside the model's folder (it must be a relative path without '..')");
  if (model_dir.empty()) return ref;
  std::error_code ec;
  const fs::path folder = fs::weakly_canonical(fs::absolute(model_dir), ec);
  const fs::path file = fs::weakly_canonical(fs::absolute(fs::path(model_dir) / location), ec);
  if (ec || !Inside(file, folder))
    throw Error(what + ": external data location '" + ref.location +
                "' leads outside the model's folder (through a symlink)");
  ref.file = file.string();
  const uintmax_t size = fs::file_size(file, ec);
  if (ec || !fs::is_regular_file(file, ec))
    throw Error(what + ": external data file '" + ref.file + "' cannot be read");
  if (ref.offset > size || ref.length > size - ref.offset)
    throw Error(what + ": external data file '" + ref.file + "' is shorter than offset + length (" +
                std::to_string(ref.offset + ref.length) + " > " + std::to_string(size) + " bytes)");
  return ref;
}

}  // namespace allot
