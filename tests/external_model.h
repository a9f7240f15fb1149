#pragma once
// A model whose weight W (4x8 float, values 0.01 * i) is ONNX external data, for the importer's and the
// runtime's tests: y = x[2x4] @ W.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace allot::test {

inline std::filesystem::path ExternalModelDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes DIR/model.onnx referring to `location`, and DIR/w.bin with `file_bytes` bytes of W (all 128 when -1).
// `length` >= 0 writes that external "length" entry. Returns the model's path.
inline std::string WriteExternalModel(const std::filesystem::path& dir, const std::string& location,
                                      int file_bytes = -1, int length = -1) {
  std::vector<float> w(32);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i);
  std::ofstream(dir / "w.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(w.data()), file_bytes < 0 ? 128 : file_bytes);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(14);
  auto* g = m.mutable_graph();
  g->set_name("external");
  auto typed = [](onnx::ValueInfoProto* vi, const std::string& name, std::vector<int64_t> dims) {
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  };
  typed(g->add_input(), "x", {2, 4});
  typed(g->add_output(), "y", {2, 8});
  auto* init = g->add_initializer();
  init->set_name("W");
  init->set_data_type(onnx::TensorProto::FLOAT);
  init->add_dims(4);
  init->add_dims(8);
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  auto entry = [init](const std::string& key, const std::string& value) {
    auto* e = init->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  entry("location", location);
  if (length >= 0) entry("length", std::to_string(length));
  auto* node = g->add_node();
  node->set_op_type("MatMul");
  node->add_input("x");
  node->add_input("W");
  node->add_output("y");
  const std::string path = (dir / "model.onnx").string();
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

}  // namespace allot::test
