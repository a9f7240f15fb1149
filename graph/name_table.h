#pragma once
// An open-addressing hash index from names to dense ids. It stores no keys: a slot is a 32-bit hash and an id,
// and the caller says how to read an id's name back (from a Graph's character arena), so the index copies and
// moves with the graph that owns the names, and a probe touches 8 bytes until a hash matches. The importer
// resolves every tensor reference through one, which is most of the IR build.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace allot {

class NameTable {
 public:
  static constexpr uint32_t kMissing = 0xffffffffu;

  // A multiply-rotate round per 8 bytes (as in xxHash/wyhash) and a final avalanche: inline and word-at-a-time,
  // since the importer hashes every name reference (std::hash is an out-of-line byte loop).
  static uint32_t Hash(std::string_view key) {
    uint64_t h = 0x243f6a8885a308d3ull;
    auto round = [&h](uint64_t w) {
      h ^= w * 0x9e3779b97f4a7c15ull;
      h = ((h << 31) | (h >> 33)) * 0xbf58476d1ce4e5b9ull;
    };
    const char* p = key.data();
    size_t n = key.size();
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      round(w);
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < n; ++i) tail |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    round(tail ^ (static_cast<uint64_t>(key.size()) << 56));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return static_cast<uint32_t>(h);
  }

  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (cap > slots_.size()) Rehash(cap);
  }
  size_t size() const { return size_; }
  // Starts loading the slot a probe for this hash begins at: the importer prefetches a few nodes ahead, so the
  // table's cache misses overlap instead of each stalling in turn. (Unconditional on purpose: GCC 12 drops a
  // prefetch guarded by an emptiness test, which is why the table is never empty.)
  void Prefetch(uint32_t hash) const { __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1))); }

  // The id whose name (key_of(id)) equals key, or kMissing.
  template <typename KeyOf>
  uint32_t Find(std::string_view key, uint32_t hash, KeyOf key_of) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id == kMissing) return kMissing;
      if (s.hash == hash && key_of(s.id) == key) return s.id;
    }
  }
  template <typename KeyOf>
  uint32_t Find(std::string_view key, KeyOf key_of) const {
    return Find(key, Hash(key), key_of);
  }

  // Returns the id stored for key if present; otherwise records new_id under key (without reading new_id's
  // name, which the caller stores next) and returns new_id.
  template <typename KeyOf>
  uint32_t FindOrInsert(std::string_view key, uint32_t hash, uint32_t new_id, KeyOf key_of) {
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id == kMissing) {
        s = Slot{hash, new_id};
        ++size_;
        return new_id;
      }
      if (s.hash == hash && key_of(s.id) == key) return s.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t id = kMissing;
  };
  void Rehash(size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    const size_t mask = cap - 1;
    for (const Slot& s : old) {
      if (s.id == kMissing) continue;
      size_t i = s.hash & mask;
      while (slots_[i].id != kMissing) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_ = std::vector<Slot>(16);  // a power of two, never empty
  size_t size_ = 0;
};

}  // namespace allot
