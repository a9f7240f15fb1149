#include "rl/archive_file.h"

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string_view>

#include "graph/error.h"
#include "graph/file_io.h"

namespace allot::rl {
namespace {

constexpr std::string_view kMagic = "allot torch archive 1\n";
constexpr size_t kHeader = kMagic.size() + 16;  // magic, length (u64 LE), hash (u64 LE)

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return v;
}

}  // namespace

void SaveArchive(torch::serialize::OutputArchive& archive, const std::string& path) {
  std::ostringstream payload;
  try {
    archive.save_to(payload);
  } catch (const std::exception& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
  const std::string archive_bytes = payload.str();
  std::string file(kMagic);
  PutU64(file, archive_bytes.size());
  PutU64(file, Fnv1a(archive_bytes));
  file += archive_bytes;
  WriteFileAtomic(path, file);
}

void LoadArchive(torch::serialize::InputArchive& archive, const std::string& path) {
  const std::string file = ReadFile(path);
  const std::string_view bytes(file);
  if (bytes.size() < kHeader || bytes.substr(0, kMagic.size()) != kMagic)
    throw Error("cannot read " + path + ": not written by this version of allot (no allot archive header)");
  const std::string_view body = bytes.substr(kHeader);
  if (GetU64(bytes.substr(kMagic.size(), 8)) != body.size())
    throw Error("cannot read " + path + ": truncated or extended (its length does not match its header)");
  if (GetU64(bytes.substr(kMagic.size() + 8, 8)) != Fnv1a(body))
    throw Error("cannot read " + path + ": damaged (its contents do not match the hash in its header)");
  std::istringstream in{std::string(body)};
  try {
    archive.load_from(in);
  } catch (const c10::Error& e) {
    throw Error("cannot read " + path + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Error("cannot read " + path + ": " + e.what());
  }
}

}  // namespace allot::rl
