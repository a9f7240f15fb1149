// The wire-format reader the importer builds the IR from: it must read what protobuf parses, the way protobuf
// parses it (packed or not, merged messages, unknown fields, groups), and refuse malformed bytes without crashing.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <random>
#include <string>
#include <vector>

#include "graph/onnx_import.h"
#include "graph/onnx_wire.h"
#include "tests/test_models.h"

namespace allot {
namespace {

using onnx_wire::kBytes;
using onnx_wire::kStartGroup;
using onnx_wire::kEndGroup;
using onnx_wire::kVarint;
using onnx_wire::Tag;

// Hand-encoding, to write what protobuf's serializer never does (unpacked, repeated or interleaved fields).
void Varint(std::string& out, uint64_t v) {
  do {
    out.push_back(static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    v >>= 7;
  } while (v);
}
void Field(std::string& out, uint32_t field, uint64_t value) {
  Varint(out, Tag(field, kVarint));
  Varint(out, value);
}
void Field(std::string& out, uint32_t field, const std::string& bytes) {
  Varint(out, Tag(field, kBytes));
  Varint(out, bytes.size());
  out += bytes;
}

TEST(OnnxWireTest, ReadsWhatProtobufWrote) {
  onnx::ModelProto m = test::Mlp(5);
  onnx::AttributeProto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("pads");
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : {1, -2, 300}) a->add_ints(v);
  const std::string bytes = m.SerializeAsString();

  onnx_wire::Graph g;
  ASSERT_TRUE(onnx_wire::ReadModelGraph(bytes, g));
  const onnx::GraphProto& proto = m.graph();
  ASSERT_EQ(g.nodes.size(), static_cast<size_t>(proto.node_size()));
  EXPECT_EQ(g.inputs.size(), static_cast<size_t>(proto.input_size()));
  EXPECT_EQ(g.initializers.size(), static_cast<size_t>(proto.initializer_size()));
  int i = 0;
  onnx_wire::Node node;
  for (std::string_view n : g.nodes) {
    ASSERT_TRUE(onnx_wire::ReadNode(n, node));
    EXPECT_EQ(node.name, proto.node(i).name());
    EXPECT_EQ(node.op_type, proto.node(i).op_type());
    EXPECT_EQ(std::vector<std::string>(node.inputs.begin(), node.inputs.end()),
              std::vector<std::string>(proto.node(i).input().begin(), proto.node(i).input().end()));
    EXPECT_EQ(node.attributes.size(), static_cast<size_t>(proto.node(i).attribute_size()));
    ++i;
  }
  ASSERT_TRUE(onnx_wire::ReadNode(*g.nodes.begin(), node));
  onnx_wire::Attribute attr;
  ASSERT_TRUE(onnx_wire::ReadAttribute(node.attributes.back(), attr));
  EXPECT_EQ(attr.name, "pads");
  EXPECT_EQ(attr.ints, (std::vector<int64_t>{1, -2, 300}));

  onnx_wire::ValueInfo vi;
  ASSERT_TRUE(onnx_wire::ReadValueInfo(*g.inputs.begin(), vi));
  EXPECT_EQ(vi.name, proto.input(0).name());
  EXPECT_TRUE(vi.type.is_tensor);
  EXPECT_EQ(vi.type.elem_type, onnx::TensorProto::FLOAT);
  EXPECT_EQ(vi.type.dims, (std::vector<int64_t>{5, 4}));
  onnx_wire::TensorMeta init;
  ASSERT_TRUE(onnx_wire::ReadTensor(*g.initializers.begin(), init));
  EXPECT_EQ(init.name, proto.initializer(0).name());
  EXPECT_EQ(init.dims, std::vector<int64_t>(proto.initializer(0).dims().begin(), proto.initializer(0).dims().end()));
}

TEST(OnnxWireTest, FollowsProtobufsRulesForRepeatedMergedAndUnknownFields) {
  // A NodeProto with an unknown varint, an unknown group, the name given twice (the last wins) and an input of
  // the wrong wire type (skipped, as protobuf keeps it as an unknown field).
  std::string node;
  Field(node, 1, "a");
  Field(node, 99, 7);
  Varint(node, Tag(98, kStartGroup));
  Field(node, 1, "inside the group");
  Varint(node, Tag(98, kEndGroup));
  Field(node, 3, "first");
  Field(node, 1, 5);
  Field(node, 3, "second");
  Field(node, 2, "b");
  onnx::NodeProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(node));
  onnx_wire::Node n;
  ASSERT_TRUE(onnx_wire::ReadNode(node, n));
  EXPECT_EQ(n.name, parsed.name());
  EXPECT_EQ(n.name, "second");
  ASSERT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(n.inputs[0], "a");
  EXPECT_EQ(n.outputs.size(), 1u);

  // TensorProto dims unpacked, then packed, in two runs: all append.
  std::string tensor;
  Field(tensor, 1, 2);
  std::string packed;
  Varint(packed, 3);
  Varint(packed, 4);
  Field(tensor, 1, packed);
  Field(tensor, 2, onnx::TensorProto::FLOAT);
  Field(tensor, 8, "w");
  onnx::TensorProto parsed_tensor;
  ASSERT_TRUE(parsed_tensor.ParseFromString(tensor));
  onnx_wire::TensorMeta t;
  ASSERT_TRUE(onnx_wire::ReadTensor(tensor, t));
  EXPECT_EQ(t.dims, std::vector<int64_t>(parsed_tensor.dims().begin(), parsed_tensor.dims().end()));
  EXPECT_EQ(t.dims, (std::vector<int64_t>{2, 3, 4}));

  // A ValueInfoProto whose type comes in two pieces (merged: the shape of the second, the elem_type of the
  // first), and a dim whose dim_value is overridden by a later dim_param (a oneof: the last wins).
  std::string dim;
  Field(dim, 1, 8);
  Field(dim, 2, "batch");
  std::string shape;
  Field(shape, 1, dim);
  std::string first, second;
  Field(first, 1, onnx::TensorProto::INT64);
  Field(second, 2, shape);
  std::string type1, type2;
  Field(type1, 1, first);
  Field(type2, 1, second);
  std::string value;
  Field(value, 1, "v");
  Field(value, 2, type1);
  Field(value, 2, type2);
  onnx::ValueInfoProto parsed_value;
  ASSERT_TRUE(parsed_value.ParseFromString(value));
  ASSERT_EQ(parsed_value.type().tensor_type().elem_type(), onnx::TensorProto::INT64);
  ASSERT_TRUE(parsed_value.type().tensor_type().shape().dim(0).has_dim_param());
  onnx_wire::ValueInfo vi;
  ASSERT_TRUE(onnx_wire::ReadValueInfo(value, vi));
  EXPECT_EQ(vi.type.elem_type, onnx::TensorProto::INT64);
  EXPECT_EQ(vi.type.dims, (std::vector<int64_t>{-1}));
  EXPECT_EQ(vi.type.first_param, "batch");

  // A graph whose node fields are interleaved with others: the node list skips them.
  std::string graph;
  Field(graph, 1, node);
  Field(graph, 2, "name");
  Field(graph, 1, node);
  onnx_wire::Graph g;
  ASSERT_TRUE(onnx_wire::ReadGraph(graph, g));
  EXPECT_EQ(g.nodes.size(), 2u);
  size_t count = 0;
  for (std::string_view bytes : g.nodes) {
    EXPECT_EQ(bytes, node);
    ++count;
  }
  EXPECT_EQ(count, 2u);
}

TEST(OnnxWireTest, RefusesMalformedBytesWithoutCrashing) {
  const std::string bytes = test::Mlp(5).SerializeAsString();
  onnx_wire::Graph g;
  // Every truncation of a valid model, and random bytes: each either decodes or is refused, never read past.
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string cut = bytes.substr(0, n);  // its own allocation, so a read past the end is caught by ASan
    if (!onnx_wire::ReadModelGraph(cut, g)) continue;
    onnx_wire::Node node;
    for (std::string_view b : g.nodes) onnx_wire::ReadNode(b, node);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string noise(1 + rng() % 64, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    onnx_wire::ValueInfo vi;
    onnx_wire::TensorMeta t;
    onnx_wire::Attribute a;
    onnx_wire::Node node;
    onnx_wire::ReadValueInfo(noise, vi);
    onnx_wire::ReadTensor(noise, t);
    onnx_wire::ReadAttribute(noise, a);
    onnx_wire::ReadNode(noise, node);
    onnx_wire::ReadGraph(noise, g);
  }
  // A length running past the end, a bad wire type, an unterminated group, field number 0.
  for (const std::string& bad : {std::string("\x0a\x05" "ab", 4), std::string("\x0f", 1), std::string("\x0b", 1),
                                 std::string("\x00\x01", 2)}) {
    onnx_wire::Node node;
    EXPECT_FALSE(onnx_wire::ReadNode(bad, node)) << bad.size();
  }
}

// A file's bytes are read as they are (by an IR build that runs while they are parsed), unless binding a symbolic
// dim changed the parsed model: then that build is void and the importer must read the bound model.
TEST(OnnxWireTest, BindingDimsOverridesTheFilesBytes) {
  const std::string bytes = test::MlpWithSymbolicBatch().SerializeAsString();
  ImportOptions opt;
  opt.batch = 7;
  onnx::ModelProto parsed;
  const Graph g = ParseAndImport(bytes, "sym.onnx", opt, parsed);
  EXPECT_EQ(g.tensor(g.FindTensor("x")).shape, (std::vector<int64_t>{7, 4}));
  EXPECT_EQ(g.tensor(g.FindTensor("y")).shape, (std::vector<int64_t>{7, 3}));

  EXPECT_EQ(parsed.graph().input(0).type().tensor_type().shape().dim(0).dim_value(), 7);

  const std::string mlp = test::Mlp(2).SerializeAsString();
  onnx::ModelProto same;
  const Graph from_bytes = ParseAndImport(mlp, "mlp", ImportOptions{}, same);
  onnx::ModelProto again = test::Mlp(2);
  EXPECT_EQ(from_bytes.hash(), ImportModel(again, "mlp", ImportOptions{}).hash());
}

// A model whose graph field comes twice is valid protobuf (the two are merged), though no encoder writes one:
// the wire reader refuses it, and the import reads the parsed model instead.
TEST(OnnxWireTest, AGraphGivenTwiceIsReadFromTheParsedModel) {
  std::string bytes = test::Mlp(2).SerializeAsString();
  std::string more;
  Field(more, 10, "a second graph field, merged by protobuf");  // GraphProto.doc_string
  Field(bytes, 7, more);
  onnx_wire::Graph g;
  EXPECT_FALSE(onnx_wire::ReadModelGraph(bytes, g));
  onnx::ModelProto parsed;
  const Graph graph = ParseAndImport(bytes, "twice.onnx", ImportOptions{}, parsed);
  onnx::ModelProto plain = test::Mlp(2);
  EXPECT_EQ(graph.hash(), ImportModel(plain, "mlp", ImportOptions{}).hash());
}

// The importer serializes a model it was given without bytes, or after binding dims or inferring shapes, with
// its weights set aside: they must be back in the model afterwards (the runtime and exporters read them), and
// the graph must not miss them.
TEST(OnnxWireTest, SerializingForTheIrLeavesTheWeightsInTheModel) {
  onnx::ModelProto m = test::Mlp(2);  // no value_info: shape inference runs, then a second serialization
  const onnx::ModelProto before = m;
  ImportReport report;
  const Graph g = ImportModel(m, "mlp", ImportOptions{}, &report);
  EXPECT_TRUE(report.ran_shape_inference);
  ASSERT_EQ(m.graph().initializer_size(), before.graph().initializer_size());
  for (int i = 0; i < m.graph().initializer_size(); ++i)
    EXPECT_EQ(m.graph().initializer(i).SerializeAsString(), before.graph().initializer(i).SerializeAsString()) << i;
  EXPECT_EQ(g.total_parameter_bytes(), (4u * 8u + 8u + 8u * 3u + 3u) * 4u);
}

}  // namespace
}  // namespace allot
