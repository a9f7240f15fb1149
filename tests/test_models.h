#pragma once
// Small hand-built ONNX models for tests.
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace allot::test {

inline void SetType(onnx::ValueInfoProto* vi, const std::string& name, std::vector<int64_t> shape,
                    int elem_type = onnx::TensorProto::FLOAT) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* s = tt->mutable_shape();
  for (int64_t d : shape) s->add_dim()->set_dim_value(d);
}

inline onnx::TensorProto* AddInitializer(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    n *= d;
  }
  for (int64_t i = 0; i < n; ++i) t->add_float_data(0.01f * static_cast<float>(i % 7));
  return t;
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, const std::string& name,
                                std::vector<std::string> inputs, std::vector<std::string> outputs) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : inputs) n->add_input(i);
  for (auto& o : outputs) n->add_output(o);
  return n;
}

// An INT or INTS attribute on `node`.
inline void SetInt(onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void SetInts(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

inline onnx::ModelProto NewModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(14);
  m.mutable_graph()->set_name("test");
  return m;
}

// x[batch,4] -> fc1 (Gemm 4->8) -> relu -> fc2 (Gemm 8->3) -> y; weights as initializers.
inline onnx::ModelProto Mlp(int64_t batch = 2) {
  onnx::ModelProto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "x", {batch, 4});
  AddInitializer(g, "W1", {4, 8});
  AddInitializer(g, "b1", {8});
  AddInitializer(g, "W2", {8, 3});
  AddInitializer(g, "b2", {3});
  AddNode(g, "Gemm", "fc1", {"x", "W1", "b1"}, {"h"});
  AddNode(g, "Relu", "relu", {"h"}, {"r"});
  AddNode(g, "Gemm", "fc2", {"r", "W2", "b2"}, {"y"});
  SetType(g->add_output(), "y", {batch, 3});
  return m;
}

// The same with a symbolic batch dim "batch_size" on x and y.
inline onnx::ModelProto MlpWithSymbolicBatch() {
  onnx::ModelProto m = Mlp(2);
  for (auto* vi : {m.mutable_graph()->mutable_input(0), m.mutable_graph()->mutable_output(0)})
    vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("batch_size");
  return m;
}

}  // namespace allot::test
