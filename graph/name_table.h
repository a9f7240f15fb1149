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
  // since the importer hashes every name reference (std::hash is an out-of-line byte loop). The last partial
  // word is read as overlapping loads, as wyhash does, not byte by byte: most names are shorter than 8 bytes.
  // The values live only in memory (Graph::hash() is a separate, stable hash), so the function may change.
  [[gnu::always_inline]] static uint32_t Hash(std::string_view key) {
    uint64_t h = 0x243f6a8885a308d3ull;
    auto round = [&h](uint64_t w) {
      h ^= w * 0x9e3779b97f4a7c15ull;
      h = ((h << 31) | (h >> 33)) * 0xbf58476d1ce4e5b9ull;
    };
    const char* p = key.data();
    const size_t n = key.size();
    uint64_t tail;
    if (n >= 8) {
      size_t i = 0;
      for (; i + 8 < n; i += 8) round(Load64(p + i));
      tail = Load64(p + n - 8);  // overlaps the last full word when n is not a multiple of 8
    } else if (n >= 4) {
      tail = static_cast<uint64_t>(Load32(p)) << 32 | Load32(p + n - 4);
    } else if (n > 0) {
      const auto b = [p](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(p[i])); };
      tail = b(0) << 16 | b(n / 2) << 8 | b(n - 1);
    } else {
      tail = 0;
    }
    round(tail ^ (static_cast<uint64_t>(n) << 56));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return static_cast<uint32_t>(h);
  }

  // Name equality, inline and word-at-a-time: a probe that matches a hash compares names once, and names are
  // short enough (under 40 bytes in the papers' models) that a call to memcmp costs more than the comparison.
  [[gnu::always_inline]] static bool Equal(std::string_view a, std::string_view b) {
    const size_t n = a.size();
    if (n != b.size()) return false;
    const char* p = a.data();
    const char* q = b.data();
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8)
        if (Load64(p + i) != Load64(q + i)) return false;
      return Load64(p + n - 8) == Load64(q + n - 8);
    }
    if (n >= 4) return Load32(p) == Load32(q) && Load32(p + n - 4) == Load32(q + n - 4);
    for (size_t i = 0; i < n; ++i)
      if (p[i] != q[i]) return false;
    return true;
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
      if (s.hash == hash && Equal(key_of(s.id), key)) return s.id;
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
      if (s.hash == hash && Equal(key_of(s.id), key)) return s.id;
    }
  }

 private:
  static uint64_t Load64(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static uint32_t Load32(const char* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  }
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
