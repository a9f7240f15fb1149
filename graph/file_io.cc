#include "graph/file_io.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "graph/error.h"

namespace allot {

std::string ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    if (!std::filesystem::exists(path, ec)) throw FileNotFound(path + ": cannot open file: no such file");
    throw Error(path + ": cannot open file");
  }
  // One read into a buffer of the file's size: models run to gigabytes, and a stringstream copies twice.
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(path + ": cannot determine the file size");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (size > 0 && !in.read(bytes.data(), size)) throw Error(path + ": read error");
  return bytes;
}

void WriteFileAtomic(const std::string& path, const std::string& data) {
  if (path.empty()) throw Error("an output file name is empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory; name an output file");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write");
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": write failed");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename the temporary file: " + ec.message());
  }
}

}  // namespace allot
