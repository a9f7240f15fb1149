#include "graph/onnx_limits.h"

#include <cstdint>
#include <type_traits>

#include "graph/error.h"
#include "graph/onnx_wire.h"

namespace allot {
namespace {

using onnx_wire::kBytes;
using onnx_wire::Reader;
using onnx_wire::Tag;

constexpr uint64_t kGraphListCap = uint64_t{1} << 22;
constexpr uint64_t kNodeIoCap = 65536, kNodeAttributeCap = 4096;
constexpr uint64_t kNumbersCap = uint64_t{1} << 24, kAttributeListCap = 65536;
constexpr uint64_t kRankCap = 64, kExternalDataCap = 1024;
constexpr uint64_t kOpsetCap = 1024, kModelListCap = 65536;
constexpr int kDepthCap = 64;

// Elements in one occurrence of a repeated numeric field: a packed run holds many, an unpacked value one.
uint64_t NumericElements(Reader& r, uint32_t field, bool fixed32) {
  if (r.tag() != Tag(field, kBytes)) {
    r.Skip();
    return 1;
  }
  const std::string_view packed = r.Bytes();
  if (fixed32) return packed.size() / 4;
  uint64_t n = 0;
  for (char c : packed) n += static_cast<uint8_t>(c) < 0x80;  // a varint ends at a byte below 0x80
  return n;
}

class Walker {
 public:
  explicit Walker(const std::string& source) : source_(source) {}

  void Model(std::string_view bytes) {
    uint64_t opsets = 0, metadata = 0, functions = 0;
    Reader r(bytes);
    while (r.Next()) {
      switch (r.tag()) {
        case Tag(7, kBytes): GraphProto(r.Bytes(), "the main graph", 0); break;
        case Tag(8, kBytes): Over(++opsets, kOpsetCap, "the model", "opset_import entries"); r.Skip(); break;
        case Tag(14, kBytes): Over(++metadata, kModelListCap, "the model", "metadata_props"); r.Skip(); break;
        case Tag(20, kBytes): TrainingInfo(r.Bytes()); break;
        case Tag(25, kBytes):
          Over(++functions, kModelListCap, "the model", "functions");
          Function(r.Bytes());
          break;
        default: r.Skip();
      }
    }
  }

 private:
  // The label is built only for the message: a walk over 10^5 nodes must not build 10^5 strings.
  template <class Label>
  void Over(uint64_t count, uint64_t cap, const Label& what, const char* field) const {
    if (count <= cap) return;
    std::string label;
    if constexpr (std::is_invocable_v<Label>) label = what();
    else label = what;
    throw Error(source_ + ": " + label + " has more than " + std::to_string(cap) + " " + field +
                " (allot's cap on a repeated field, checked before parsing)");
  }

  void GraphProto(std::string_view bytes, const std::string& label, int depth) {
    if (depth > kDepthCap) throw Error(source_ + ": graphs nested more than " + std::to_string(kDepthCap) + " deep");
    uint64_t nodes = 0, initializers = 0, inputs = 0, outputs = 0, value_infos = 0;
    Reader r(bytes);
    while (r.Next()) {
      switch (r.tag()) {
        case Tag(1, kBytes):
          Over(++nodes, kGraphListCap, label, "nodes");
          Node(r.Bytes(), depth);
          break;
        case Tag(5, kBytes):
          Over(++initializers, kGraphListCap, label, "initializers");
          TensorProto(r.Bytes(), [&] { return label + "'s initializer"; });
          break;
        case Tag(11, kBytes): Over(++inputs, kGraphListCap, label, "inputs"); r.Skip(); break;
        case Tag(12, kBytes): Over(++outputs, kGraphListCap, label, "outputs"); r.Skip(); break;
        case Tag(13, kBytes): Over(++value_infos, kGraphListCap, label, "value_info entries"); r.Skip(); break;
        default: r.Skip();
      }
    }
  }

  void Node(std::string_view bytes, int depth) {
    uint64_t inputs = 0, outputs = 0, attributes = 0;
    std::string_view name, op;
    Reader r(bytes);
    while (r.Next()) {
      switch (r.tag()) {
        case Tag(1, kBytes): ++inputs; r.Skip(); break;
        case Tag(2, kBytes): ++outputs; r.Skip(); break;
        case Tag(3, kBytes): name = r.Bytes(); break;
        case Tag(4, kBytes): op = r.Bytes(); break;
        case Tag(5, kBytes): ++attributes; r.Skip(); break;
        default: r.Skip();
      }
    }
    const auto label = [&] { return "node " + Quote(std::string(name)) + " (" + std::string(op.substr(0, 60)) + ")"; };
    Over(inputs, kNodeIoCap, label, "inputs");
    Over(outputs, kNodeIoCap, label, "outputs");
    Over(attributes, kNodeAttributeCap, label, "attributes");
    if (attributes == 0) return;
    // Attributes second: the first pass found the node's name for their messages.
    Reader a(bytes);
    while (a.Next())
      if (a.tag() == Tag(5, kBytes)) Attribute(a.Bytes(), label, depth);
      else a.Skip();
  }

  template <class NodeLabel>
  void Attribute(std::string_view bytes, const NodeLabel& node, int depth) {
    uint64_t floats = 0, ints = 0, strings = 0, tensors = 0, graphs = 0;
    std::string_view name;
    Reader r(bytes);
    while (r.Next()) {
      const uint32_t field = r.tag() >> 3;
      switch (field) {
        case 1: name = r.tag() == Tag(1, kBytes) ? r.Bytes() : (r.Skip(), std::string_view()); break;
        case 7: floats += NumericElements(r, 7, true); break;
        case 8: ints += NumericElements(r, 8, false); break;
        case 9: ++strings; r.Skip(); break;
        case 10: ++tensors; r.Skip(); break;
        case 11: ++graphs; r.Skip(); break;
        default: r.Skip();
      }
    }
    const auto label = [&] { return node() + "'s attribute " + Quote(std::string(name)); };
    Over(floats, kNumbersCap, label, "floats");
    Over(ints, kNumbersCap, label, "ints");
    Over(strings, kAttributeListCap, label, "strings");
    Over(tensors, kAttributeListCap, label, "tensors");
    Over(graphs, kAttributeListCap, label, "graphs");
    Reader b(bytes);
    while (b.Next()) {
      if (b.tag() == Tag(6, kBytes) || b.tag() == Tag(11, kBytes)) GraphProto(b.Bytes(), label() + "'s body", depth + 1);
      else if (b.tag() == Tag(5, kBytes) || b.tag() == Tag(10, kBytes)) TensorProto(b.Bytes(), label);
      else b.Skip();
    }
  }

  template <class Owner>
  void TensorProto(std::string_view bytes, const Owner& owner) {
    uint64_t dims = 0, strings = 0, external = 0;
    std::string_view name;
    Reader r(bytes);
    while (r.Next()) {
      switch (r.tag() >> 3) {
        case 1: dims += NumericElements(r, 1, false); break;
        case 6: ++strings; r.Skip(); break;
        case 8: name = r.tag() == Tag(8, kBytes) ? r.Bytes() : (r.Skip(), std::string_view()); break;
        case 13: ++external; r.Skip(); break;
        default: r.Skip();
      }
    }
    const auto label = [&] {
      std::string o;
      if constexpr (std::is_invocable_v<Owner>) o = owner();
      else o = owner;
      return o + " tensor " + Quote(std::string(name));
    };
    Over(dims, kRankCap, label, "dims");
    Over(strings, kNumbersCap, label, "string_data entries");
    Over(external, kExternalDataCap, label, "external_data entries");
  }

  void Function(std::string_view bytes) {
    uint64_t nodes = 0;
    Reader r(bytes);
    while (r.Next())
      if (r.tag() == Tag(7, kBytes)) {
        Over(++nodes, kGraphListCap, "a function", "nodes");
        Node(r.Bytes(), 1);
      } else {
        r.Skip();
      }
  }

  void TrainingInfo(std::string_view bytes) {
    Reader r(bytes);
    while (r.Next())
      if (r.tag() == Tag(1, kBytes) || r.tag() == Tag(2, kBytes)) GraphProto(r.Bytes(), "a training_info graph", 1);
      else r.Skip();
  }

  const std::string& source_;
};

}  // namespace

void CheckRepeatedFieldCaps(std::string_view model_bytes, const std::string& source) {
  Walker(source).Model(model_bytes);
}

}  // namespace allot
