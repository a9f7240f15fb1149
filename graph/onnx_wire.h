#pragma once
// ONNX read straight from its serialized bytes: a zero-copy reader of the protobuf wire format
// (protobuf.dev/programming-guides/encoding) and decoders for the onnx.proto messages the IR build reads.
//
// Why not the parsed ModelProto: read from the bytes, the IR build needs nothing from protobuf's parse, so it runs
// on a second thread while protobuf parses the same bytes for the checker and shape inference (ParseAndImport in
// onnx_import.h); and it reads one sequential buffer instead of the parse's objects scattered over the heap
// (the IR build alone, with the word-at-a-time name hashing of the same change: 100k-node synthetic graph 35.6 ->
// 31.4 ms, NMT-8 3.9 -> 3.1 ms). protobuf's CodedInputStream can walk the bytes too, but sets up a stream per nested message and measured
// 1.9x slower than this reader on the same walk (value_info's five nesting levels: 5.0 vs 1.8 ms).
//
// Decoding follows protobuf's rules: unknown fields and fields of an unexpected wire type are skipped, a repeated
// integer field may be packed or not, a scalar given twice keeps its last value and a message given twice is
// merged (repeated parts append). Every read is bounds-checked; a decoder returns false on malformed bytes.
// Views point into the bytes, which must outlive them.
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace allot::onnx_wire {

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };
// A field's key on the wire: its number and wire type. Decoders switch on it, so a field of an unexpected wire
// type falls through to the default and is skipped, as protobuf treats it (an unknown field).
constexpr uint32_t Tag(uint32_t field, WireType type) { return field << 3 | type; }

// One message's fields, in order: `while (r.Next()) switch (r.tag()) { case ...: use r.Varint() or r.Bytes();
// default: r.Skip(); }`, then check ok(). Exactly one of Varint, Bytes, AppendInts or Skip consumes each field's
// payload, the one its tag's wire type calls for. Inline, with one-byte varints on the fast path: the importer
// reads a few million fields per 100k nodes.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  // Reads the next field's tag; false at the end or on malformed bytes.
  bool Next() {
    if (p_ >= end_) return false;
    uint64_t tag;
    if (!ReadVarint(tag)) return false;
    tag_ = static_cast<uint32_t>(tag);
    if (tag_ < 8 || tag != tag_) return Fail();  // field number 0, or out of range
    return true;
  }
  uint32_t tag() const { return tag_; }
  bool ok() const { return ok_; }
  // Where the next tag starts (after the current field, once its payload is consumed).
  const char* position() const { return reinterpret_cast<const char*>(p_); }

  uint64_t Varint() {
    uint64_t v = 0;
    return ReadVarint(v) ? v : 0;
  }
  std::string_view Bytes() {
    uint64_t n;
    if (!ReadVarint(n) || n > static_cast<uint64_t>(end_ - p_)) {
      Fail();
      return {};
    }
    const std::string_view v(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return v;
  }
  // A repeated integer field's values in this occurrence (a packed run, or one varint), appended to `out`.
  void AppendInts(std::vector<int64_t>& out);
  // Skips the payload of a field the decoder does not read (any wire type, groups included).
  void Skip() {
    if (!SkipPayload(tag_, 0)) Fail();
  }

 private:
  bool ReadVarint(uint64_t& v) {
    if (p_ < end_ && *p_ < 0x80) {
      v = *p_++;
      return true;
    }
    return ReadLongVarint(v);
  }
  bool ReadLongVarint(uint64_t& v);
  bool SkipPayload(uint32_t tag, int depth);
  bool Fail() {
    p_ = end_;
    ok_ = false;
    return false;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t tag_ = 0;
  bool ok_ = true;
};

struct Graph;

// One repeated message field of a message, read in place: iterating walks the parent's bytes from the field's
// first occurrence to past its last, skipping any other fields in between (an encoder may interleave them), and
// yields each message's bytes. Nothing is copied, so a 100k-node graph costs no list of its nodes.
class Repeated {
 public:
  class iterator {
   public:
    std::string_view operator*() const { return value_; }
    iterator& operator++() {
      --left_;
      Advance();
      return *this;
    }
    bool operator!=(const iterator& o) const { return left_ != o.left_; }
    bool operator==(const iterator& o) const { return left_ == o.left_; }

   private:
    friend class Repeated;
    iterator(std::string_view range, uint32_t tag, size_t left) : reader_(range), tag_(tag), left_(left) { Advance(); }
    void Advance() {
      while (left_ > 0 && reader_.Next()) {
        if (reader_.tag() == tag_) {
          value_ = reader_.Bytes();
          return;
        }
        reader_.Skip();
      }
      if (left_ > 0) left_ = 0;  // unreachable for bytes ReadGraph accepted
    }
    Reader reader_;
    uint32_t tag_;
    size_t left_;
    std::string_view value_;
  };
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t bytes() const { return range_.size(); }  // the span of the parent the occurrences cover
  iterator begin() const { return iterator(range_, tag_, count_); }
  iterator end() const { return iterator({}, tag_, 0); }

 private:
  friend bool ReadGraph(std::string_view bytes, Graph& graph);
  // Extends the range over one more occurrence starting at `at` and ending at `end`.
  void Add(const char* at, const char* end) {
    if (count_++ == 0) range_ = std::string_view(at, 0);
    range_ = std::string_view(range_.data(), static_cast<size_t>(end - range_.data()));
  }
  std::string_view range_;
  uint32_t tag_ = 0;
  size_t count_ = 0;
};

// A GraphProto's repeated messages, in file order.
struct Graph {
  Repeated nodes, initializers, inputs, outputs, value_infos;
};
bool ReadGraph(std::string_view bytes, Graph& graph);
// The graph of a ModelProto; false also when the model has none, or more than one graph field to merge (never
// written by an encoder; the importer then reads the model protobuf parsed).
bool ReadModelGraph(std::string_view bytes, Graph& graph);

// A NodeProto. Reading into the same struct again reuses its vectors.
struct Node {
  std::string_view name, op_type, domain;
  std::vector<std::string_view> inputs, outputs, attributes;  // attributes: AttributeProto bytes
};
bool ReadNode(std::string_view bytes, Node& node);

// An AttributeProto: the parts the importer reads.
struct Attribute {
  std::string_view name;
  int64_t i = 0;
  std::vector<int64_t> ints;
  std::vector<std::string_view> graphs;  // `g` and `graphs`: body GraphProto bytes
};
bool ReadAttribute(std::string_view bytes, Attribute& attr);

// A TypeProto, as far as tensors go.
struct Type {
  bool is_tensor = false;
  int32_t elem_type = 0;
  bool has_shape = false;
  std::vector<int64_t> dims;    // -1 for a dim without a value
  std::string_view first_param;  // the first such dim's dim_param ("?" when it has none)
};
// A ValueInfoProto.
struct ValueInfo {
  std::string_view name, doc_string;
  Type type;
};
bool ReadValueInfo(std::string_view bytes, ValueInfo& value);

// A TensorProto (an initializer): its name, type and dims, where its data lives, and the first int64_data value
// (for scalar constants such as Loop's trip count); other data is skipped.
struct TensorMeta {
  std::string_view name;
  int32_t data_type = 0;
  std::vector<int64_t> dims;
  bool external = false;  // data_location == EXTERNAL
  std::vector<std::pair<std::string_view, std::string_view>> external_data;  // key, value
  std::string_view raw_data;
  bool has_int64_data = false;
  int64_t first_int64_data = 0;
};
bool ReadTensor(std::string_view bytes, TensorMeta& tensor);

}  // namespace allot::onnx_wire
