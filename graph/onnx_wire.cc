#include "graph/onnx_wire.h"

#include <cstring>

namespace allot::onnx_wire {
namespace {

// Protobuf's own limit on nested groups and messages.
constexpr int kMaxDepth = 100;

// Field numbers of onnx.proto (ONNX 1.12), by message.
namespace model { enum : uint32_t { kGraph = 7 }; }
namespace graph { enum : uint32_t { kNode = 1, kInitializer = 5, kInput = 11, kOutput = 12, kValueInfo = 13 }; }
namespace node { enum : uint32_t { kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7 }; }
namespace attribute { enum : uint32_t { kName = 1, kI = 3, kG = 6, kInts = 8, kGraphs = 11 }; }
namespace value_info { enum : uint32_t { kName = 1, kType = 2, kDocString = 3 }; }
// TypeProto's oneof `value`: tensor_type, or one of the other kinds (sequence, map, opaque, sparse, optional).
namespace type {
enum : uint32_t { kTensor = 1, kSequence = 4, kMap = 5, kOpaque = 7, kSparseTensor = 8, kOptional = 9 };
}
namespace tensor_type { enum : uint32_t { kElemType = 1, kShape = 2 }; }
namespace shape { enum : uint32_t { kDim = 1 }; }
namespace dim { enum : uint32_t { kValue = 1, kParam = 2 }; }
namespace tensor {
enum : uint32_t { kDims = 1, kDataType = 2, kInt64Data = 7, kName = 8, kRawData = 9, kExternalData = 13,
                  kDataLocation = 14 };
constexpr uint64_t kExternalLocation = 1;  // TensorProto.DataLocation.EXTERNAL
}
namespace entry { enum : uint32_t { kKey = 1, kValue = 2 }; }

}  // namespace

bool Reader::ReadLongVarint(uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
    const uint8_t b = *p_++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return Fail();
}

bool Reader::SkipPayload(uint32_t tag, int depth) {
  uint64_t v;
  switch (tag & 7) {
    case kVarint:
      return ReadVarint(v);
    case kFixed64:
      if (end_ - p_ < 8) return false;
      p_ += 8;
      return true;
    case kFixed32:
      if (end_ - p_ < 4) return false;
      p_ += 4;
      return true;
    case kBytes:
      if (!ReadVarint(v) || v > static_cast<uint64_t>(end_ - p_)) return false;
      p_ += v;
      return true;
    case kStartGroup:  // deprecated, but a parser keeps unknown groups: skip to the matching end
      if (depth >= kMaxDepth) return false;
      for (;;) {
        uint64_t inner;
        if (p_ >= end_ || !ReadVarint(inner)) return false;
        if ((inner & 7) == kEndGroup) return inner >> 3 == tag >> 3;
        if (!SkipPayload(static_cast<uint32_t>(inner), depth + 1)) return false;
      }
    default:
      return false;
  }
}

void Reader::AppendInts(std::vector<int64_t>& out) {
  if ((tag_ & 7) == kVarint) {
    out.push_back(static_cast<int64_t>(Varint()));
    return;
  }
  Reader packed(Bytes());
  while (packed.p_ < packed.end_) out.push_back(static_cast<int64_t>(packed.Varint()));
  if (!packed.ok_) Fail();
}

bool ReadGraph(std::string_view bytes, Graph& g) {
  static constexpr uint32_t kTags[] = {Tag(graph::kNode, kBytes), Tag(graph::kInitializer, kBytes),
                                       Tag(graph::kInput, kBytes), Tag(graph::kOutput, kBytes),
                                       Tag(graph::kValueInfo, kBytes)};
  Repeated* lists[] = {&g.nodes, &g.initializers, &g.inputs, &g.outputs, &g.value_infos};
  for (size_t k = 0; k < 5; ++k) {
    *lists[k] = Repeated();
    lists[k]->tag_ = kTags[k];
  }
  Reader r(bytes);
  const char* field_start = r.position();
  while (r.Next()) {
    size_t k = 0;
    while (k < 5 && r.tag() != kTags[k]) ++k;
    if (k < 5) {
      r.Bytes();
      lists[k]->Add(field_start, r.position());
    } else {
      r.Skip();
    }
    field_start = r.position();
  }
  return r.ok();
}

bool ReadModelGraph(std::string_view bytes, Graph& g) {
  Reader r(bytes);
  std::string_view graph;
  int found = 0;
  while (r.Next()) {
    if (r.tag() != Tag(model::kGraph, kBytes)) {
      r.Skip();
      continue;
    }
    graph = r.Bytes();
    ++found;
  }
  return r.ok() && found == 1 && ReadGraph(graph, g);
}

bool ReadNode(std::string_view bytes, Node& n) {
  n.name = n.op_type = n.domain = {};
  n.inputs.clear();
  n.outputs.clear();
  n.attributes.clear();
  Reader r(bytes);
  while (r.Next()) {
    switch (r.tag()) {
      case Tag(node::kInput, kBytes): n.inputs.push_back(r.Bytes()); break;
      case Tag(node::kOutput, kBytes): n.outputs.push_back(r.Bytes()); break;
      case Tag(node::kName, kBytes): n.name = r.Bytes(); break;
      case Tag(node::kOpType, kBytes): n.op_type = r.Bytes(); break;
      case Tag(node::kDomain, kBytes): n.domain = r.Bytes(); break;
      case Tag(node::kAttribute, kBytes): n.attributes.push_back(r.Bytes()); break;
      default: r.Skip(); break;
    }
  }
  return r.ok();
}

bool ReadAttribute(std::string_view bytes, Attribute& a) {
  a.name = {};
  a.i = 0;
  a.ints.clear();
  a.graphs.clear();
  Reader r(bytes);
  while (r.Next()) {
    switch (r.tag()) {
      case Tag(attribute::kName, kBytes): a.name = r.Bytes(); break;
      case Tag(attribute::kI, kVarint): a.i = static_cast<int64_t>(r.Varint()); break;
      case Tag(attribute::kInts, kVarint):
      case Tag(attribute::kInts, kBytes): r.AppendInts(a.ints); break;
      case Tag(attribute::kG, kBytes):
      case Tag(attribute::kGraphs, kBytes): a.graphs.push_back(r.Bytes()); break;
      default: r.Skip(); break;
    }
  }
  return r.ok();
}

namespace {

bool ReadDim(std::string_view bytes, Type& t) {
  bool has_value = false;
  int64_t value = -1;
  std::string_view param = "?";  // a dim with neither member is unknown too
  Reader r(bytes);
  while (r.Next()) {
    if (r.tag() == Tag(dim::kValue, kVarint)) {  // dim_value and dim_param are a oneof: the last one wins
      has_value = true;
      value = static_cast<int64_t>(r.Varint());
    } else if (r.tag() == Tag(dim::kParam, kBytes)) {
      has_value = false;
      param = r.Bytes();
    } else {
      r.Skip();
    }
  }
  t.dims.push_back(has_value ? value : -1);
  if (!has_value && t.first_param.empty()) t.first_param = param;
  return r.ok();
}

bool ReadTensorType(std::string_view bytes, Type& t) {
  Reader r(bytes);
  while (r.Next()) {
    if (r.tag() == Tag(tensor_type::kElemType, kVarint)) {
      t.elem_type = static_cast<int32_t>(r.Varint());
    } else if (r.tag() == Tag(tensor_type::kShape, kBytes)) {
      t.has_shape = true;
      Reader s(r.Bytes());
      while (s.Next()) {
        if (s.tag() != Tag(shape::kDim, kBytes)) s.Skip();
        else if (!ReadDim(s.Bytes(), t)) return false;
      }
      if (!s.ok()) return false;
    } else {
      r.Skip();
    }
  }
  return r.ok();
}

void ClearType(Type& t) {
  t.is_tensor = false;
  t.elem_type = 0;
  t.has_shape = false;
  t.dims.clear();
  t.first_param = {};
}

bool ReadType(std::string_view bytes, Type& t) {
  Reader r(bytes);
  while (r.Next()) {
    switch (r.tag()) {
      case Tag(type::kTensor, kBytes):
        if (!t.is_tensor) ClearType(t);  // switching the oneof clears the other member; the same one merges
        t.is_tensor = true;
        if (!ReadTensorType(r.Bytes(), t)) return false;
        break;
      case Tag(type::kSequence, kBytes):
      case Tag(type::kMap, kBytes):
      case Tag(type::kOpaque, kBytes):
      case Tag(type::kSparseTensor, kBytes):
      case Tag(type::kOptional, kBytes):
        r.Skip();
        ClearType(t);
        break;
      default:
        r.Skip();
        break;
    }
  }
  return r.ok();
}

}  // namespace

bool ReadValueInfo(std::string_view bytes, ValueInfo& v) {
  v.name = v.doc_string = {};
  ClearType(v.type);
  Reader r(bytes);
  while (r.Next()) {
    switch (r.tag()) {
      case Tag(value_info::kName, kBytes): v.name = r.Bytes(); break;
      case Tag(value_info::kDocString, kBytes): v.doc_string = r.Bytes(); break;
      case Tag(value_info::kType, kBytes):
        if (!ReadType(r.Bytes(), v.type)) return false;
        break;
      default: r.Skip(); break;
    }
  }
  return r.ok();
}

bool ReadTensor(std::string_view bytes, TensorMeta& t) {
  t.name = t.raw_data = {};
  t.data_type = 0;
  t.dims.clear();
  t.external = false;
  t.external_data.clear();
  t.has_int64_data = false;
  t.first_int64_data = 0;
  Reader r(bytes);
  while (r.Next()) {
    switch (r.tag()) {
      case Tag(tensor::kDims, kVarint):
      case Tag(tensor::kDims, kBytes): r.AppendInts(t.dims); break;
      case Tag(tensor::kDataType, kVarint): t.data_type = static_cast<int32_t>(r.Varint()); break;
      case Tag(tensor::kName, kBytes): t.name = r.Bytes(); break;
      case Tag(tensor::kRawData, kBytes): t.raw_data = r.Bytes(); break;
      case Tag(tensor::kDataLocation, kVarint): t.external = r.Varint() == tensor::kExternalLocation; break;
      case Tag(tensor::kInt64Data, kVarint):
        if (!t.has_int64_data) {
          t.has_int64_data = true;
          t.first_int64_data = static_cast<int64_t>(r.Varint());
        } else {
          r.Skip();
        }
        break;
      case Tag(tensor::kInt64Data, kBytes): {  // packed: only the first value is kept (a constant can be large)
        const std::string_view packed = r.Bytes();
        if (t.has_int64_data || packed.empty()) break;
        Reader values(packed);
        t.has_int64_data = true;
        t.first_int64_data = static_cast<int64_t>(values.Varint());
        if (!values.ok()) return false;
        break;
      }
      case Tag(tensor::kExternalData, kBytes): {
        std::string_view key, value;
        Reader e(r.Bytes());
        while (e.Next()) {
          if (e.tag() == Tag(entry::kKey, kBytes)) key = e.Bytes();
          else if (e.tag() == Tag(entry::kValue, kBytes)) value = e.Bytes();
          else e.Skip();
        }
        if (!e.ok()) return false;
        t.external_data.emplace_back(key, value);
        break;
      }
      default: r.Skip(); break;
    }
  }
  return r.ok();
}

}  // namespace allot::onnx_wire
