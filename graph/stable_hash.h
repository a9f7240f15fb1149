#pragma once
// Word-at-a-time hashing: a multiply-rotate round per 8 bytes (as in xxHash/wyhash) and a final avalanche.
// Names are short and hashed several times per node while importing, so it is inline; and it is defined here,
// not by the standard library, so a graph's hash is the same on every machine and toolchain (little-endian).
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

namespace allot {

class StableHasher {
 public:
  void Add(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      Round(w);
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < n; ++i) tail |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    Round(tail ^ (static_cast<uint64_t>(s.size()) << 56));  // the length ends the string: ("ab","c") != ("a","bc")
  }
  void Add(int64_t v) { Round(static_cast<uint64_t>(v)); }
  // The bytes of a column of padding-free values (ids, offsets, small enums): a whole array at word speed.
  template <typename T>
  void AddColumn(const std::vector<T>& column) {
    static_assert(std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>,
                  "padding bytes would make the hash depend on garbage");
    Add(std::string_view(reinterpret_cast<const char*>(column.data()), column.size() * sizeof(T)));
  }
  uint64_t value() const {
    uint64_t h = h_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
  }

 private:
  void Round(uint64_t w) {
    h_ ^= w * 0x9e3779b97f4a7c15ull;
    h_ = ((h_ << 31) | (h_ >> 33)) * 0xbf58476d1ce4e5b9ull;
  }
  uint64_t h_ = 0x243f6a8885a308d3ull;
};

inline uint32_t HashName(std::string_view name) {
  StableHasher h;
  h.Add(name);
  return static_cast<uint32_t>(h.value());
}

}  // namespace allot
