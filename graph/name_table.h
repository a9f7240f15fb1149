#pragma once
// An open-addressing hash table from names to dense ids. Keys are string_views into storage the caller keeps
// alive and unmoved (an ONNX ModelProto during import, a frozen Graph's nodes afterwards), so building it copies
// no strings: the importer resolves every tensor name through one, which is most of the IR build.
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace allot {

class NameTable {
 public:
  static constexpr uint32_t kMissing = 0xffffffffu;

  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (cap > slots_.size()) Rehash(cap);
  }
  uint32_t Find(std::string_view key) const {
    if (slots_.empty()) return kMissing;
    const size_t mask = slots_.size() - 1;
    const uint64_t h = Hash(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id == kMissing) return kMissing;
      if (s.hash == h && s.key == key) return s.id;
    }
  }
  // Inserts key -> id unless the key is present; returns the id stored for the key.
  uint32_t Insert(std::string_view key, uint32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.empty() ? 16 : slots_.size() * 2);
    const size_t mask = slots_.size() - 1;
    const uint64_t h = Hash(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id == kMissing) {
        s = Slot{key, h, id};
        ++size_;
        return id;
      }
      if (s.hash == h && s.key == key) return s.id;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    std::string_view key;
    uint64_t hash = 0;
    uint32_t id = kMissing;
  };
  static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  void Rehash(size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    size_ = 0;
    for (const Slot& s : old)
      if (s.id != kMissing) Insert(s.key, s.id);
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace allot
