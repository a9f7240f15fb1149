#pragma once
// allot's own archive for policies and checkpoints (policy.pt, checkpoint.pt): named tensors and scalars, read back
// without LibTorch's loader. LibTorch's archive is a zip of TorchScript pickles, and its loader was not made for
// hostile input: tests/fuzz/policy_fuzzer.cc crashed it (SIGSEGV in torch::jit::ScriptTypeParser) with a few mutated
// bytes, and a hash over the bytes only moved that crash to files crafted with a matching hash. Here every byte is
// parsed by allot: a magic line, the lengths of a JSON index and of the data, their FNV-1a 64-bit hash, the index
// (each entry's key, kind, dtype, shape, offset and size), then the raw data (little-endian: allot builds only on
// little-endian hosts). Reading checks the
// hash, then every entry against the data's bounds before any tensor is made, so a damaged, truncated, edited or
// crafted file is a one-line error naming it.
//
// Keys are paths: Scope("policy") writes and reads "policy/..." (a checkpoint holds the policy, the algorithm and
// the trainer's state side by side).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace allot::rl {

// The file for an index (JSON text) and its data: magic, lengths, hash, then both. ArchiveWriter writes this; tests
// and fuzzers build crafted archives with it.
std::string SealArchive(std::string_view index, std::string_view data);

class ArchiveWriter {
 public:
  ArchiveWriter();
  // A writer whose keys go under "name/" in the same archive.
  ArchiveWriter Scope(const std::string& name) const;

  // A contiguous copy of `t` (float, double, int64, int32, uint8 or bool).
  void PutTensor(const std::string& key, const at::Tensor& t);
  void PutDouble(const std::string& key, double v);
  void PutInt(const std::string& key, int64_t v);
  void PutBool(const std::string& key, bool v);
  void PutString(const std::string& key, const std::string& v);

  // Writes the archive to `path` atomically (a temporary, then a rename). Throws Error naming the path.
  void Save(const std::string& path) const;
  std::string Bytes() const;

 private:
  struct Store;
  ArchiveWriter(std::shared_ptr<Store> store, std::string prefix);
  std::shared_ptr<Store> store_;
  std::string prefix_;
};

class ArchiveReader {
 public:
  // Reads and checks `path`. Throws Error "cannot read PATH: ..." for a missing, foreign, truncated, damaged or
  // malformed file.
  static ArchiveReader Load(const std::string& path);
  // The same from bytes; `source` names them in errors.
  static ArchiveReader Parse(const std::string& bytes, const std::string& source);

  ArchiveReader Scope(const std::string& name) const;
  bool Has(const std::string& key) const;
  // Each throws Error "SOURCE: no entry 'KEY'" or "SOURCE: entry 'KEY' is not a ..." on a missing or mistyped key.
  at::Tensor GetTensor(const std::string& key) const;  // a fresh tensor, never sharing the file's bytes
  double GetDouble(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  std::string GetString(const std::string& key) const;
  // Keys under this scope, relative to it, in order.
  std::vector<std::string> Keys() const;
  const std::string& source() const { return store_->source; }

 private:
  struct Entry {
    std::string kind;  // tensor, double, int, bool, string
    at::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t offset = 0, bytes = 0;
  };
  struct Store {
    std::string source;
    std::string data;
    std::map<std::string, Entry> entries;
  };
  ArchiveReader(std::shared_ptr<const Store> store, std::string prefix);
  const Entry& Find(const std::string& key, const char* kind) const;
  std::shared_ptr<const Store> store_;
  std::string prefix_;
};

}  // namespace allot::rl
