// The import-time evaluator (graph/constant_folding.h) against ONNX's own node tests: every single-node case of
// libonnx-testdata whose op allot folds, with its inputs as values, must give the expected outputs wherever the
// evaluator accepts the case.
#include "graph/constant_folding.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include "graph/file_io.h"
#include "graph/onnx_import.h"

namespace allot {
namespace {

const char kNodeCases[] = "/usr/share/libonnx-testdata/data/node";

onnx::TensorProto ReadTensor(const std::filesystem::path& path) {
  onnx::TensorProto t;
  EXPECT_TRUE(t.ParseFromString(ReadFile(path.string()))) << path;
  return t;
}

bool SameValues(const ConstTensor& a, const ConstTensor& e) {
  if (a.dtype != e.dtype || a.dims != e.dims || a.size() != e.size()) return false;
  for (size_t i = 0; i < e.size(); ++i) {
    if (!e.is_real()) {
      if (a.ints[i] != e.ints[i]) return false;
    } else if (!(std::isnan(a.reals[i]) && std::isnan(e.reals[i])) &&
               !(std::fabs(a.reals[i] - e.reals[i]) <= 1e-6 + 1e-5 * std::fabs(e.reals[i]))) {
      return false;
    }
  }
  return true;
}

TEST(ConstantFolding, MatchesOnnxNodeTestsWhereverItFolds) {
  if (!std::filesystem::exists(kNodeCases)) GTEST_SKIP() << kNodeCases << " is missing (libonnx-testdata)";
  size_t folded = 0, declined = 0;
  std::map<std::string, size_t> ops_folded;
  for (const auto& dir : std::filesystem::directory_iterator(kNodeCases)) {
    const std::string name = dir.path().filename().string();
    const onnx::ModelProto model = ReadModelProto((dir.path() / "model.onnx").string());
    const onnx::GraphProto& g = model.graph();
    if (g.node_size() != 1 || !IsFoldableOp(g.node(0).op_type(), g.node(0).domain())) continue;
    int opset = 1;
    for (const auto& op : model.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") opset = static_cast<int>(op.version());
    const auto data = dir.path() / "test_data_set_0";
    // Graph inputs are input_K.pb in order; the node reads them by name.
    std::map<std::string, std::pair<std::optional<ConstTensor>, const onnx::TypeProto*>> values;
    bool readable = true;
    for (int k = 0; k < g.input_size() && readable; ++k) {
      const onnx::TypeProto& type = g.input(k).type();
      if (!type.has_tensor_type()) {  // sequences, optionals
        readable = false;
        break;
      }
      const onnx::TensorProto proto = ReadTensor(data / ("input_" + std::to_string(k) + ".pb"));
      // ONNX 1.12 stores some bfloat16 inputs as uint16: not the declared type, so not a fold's input.
      auto v = proto.data_type() == type.tensor_type().elem_type() ? ConstFromProto(proto, name) : std::nullopt;
      readable = v.has_value();
      values[g.input(k).name()] = {std::move(v), &g.input(k).type()};
    }
    if (!readable) continue;  // strings, or larger than the evaluator takes
    const onnx::NodeProto& node = g.node(0);
    std::vector<FoldInput> inputs;
    for (const std::string& in : node.input()) {
      FoldInput f;
      f.present = !in.empty();
      if (auto it = values.find(in); f.present && it != values.end()) {
        f.value = &*it->second.first;
        f.type = it->second.second;
      }
      inputs.push_back(f);
    }
    std::vector<ConstTensor> outputs;
    bool ok = false;
    try {
      ok = FoldNode(node, opset, inputs, outputs);
    } catch (const FoldError& e) {
      ADD_FAILURE() << name << ": valid values refused: " << e.message;
      continue;
    }
    if (!ok) {
      ++declined;
      continue;
    }
    ++folded;
    ++ops_folded[node.op_type()];
    for (int k = 0; k < g.output_size(); ++k) {
      const onnx::TensorProto proto = ReadTensor(data / ("output_" + std::to_string(k) + ".pb"));
      if (proto.data_type() != g.output(k).type().tensor_type().elem_type()) continue;  // bfloat16 as uint16
      const auto expected = ConstFromProto(proto, name);
      ASSERT_TRUE(expected.has_value()) << name;
      if (!SameValues(outputs[static_cast<size_t>(k)], *expected))
        ADD_FAILURE() << name << ": output " << k << " is " << FormatDims(outputs[k].dims) << " "
                      << FormatValue(outputs[k]) << ", expected " << FormatDims(expected->dims) << " "
                      << FormatValue(*expected);
    }
  }
  std::cout << "[folding] " << folded << " node cases folded (" << ops_folded.size() << " ops), " << declined
            << " declined" << std::endl;
  // Most of the evaluated ops' cases fold; a regression that declines them shows here.
  EXPECT_GE(folded, 200u);
  EXPECT_GE(ops_folded.size(), 40u);
}

// Integer edge cases the node tests leave out: each folds exactly or not at all (never a wrapped value).
std::optional<ConstTensor> FoldInts(const std::string& op, std::vector<std::vector<int64_t>> inputs, int opset = 17) {
  onnx::NodeProto node;
  node.set_op_type(op);
  std::vector<ConstTensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.add_input("in" + std::to_string(i));
    values.push_back(ConstTensor{DType::kInt64, {static_cast<int64_t>(inputs[i].size())}, inputs[i], {}});
  }
  node.add_output("out");
  std::vector<FoldInput> in;
  for (const ConstTensor& v : values) in.push_back(FoldInput{&v, nullptr, true});
  std::vector<ConstTensor> out;
  if (!FoldNode(node, opset, in, out)) return std::nullopt;
  return out.at(0);
}

TEST(ConstantFolding, IntegersFoldExactlyOrNotAtAll) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  // Range counts in int64: through a double, 2^53 + 3 - 2^53 would count 4.
  const int64_t big = int64_t{1} << 53;
  auto r = FoldInts("Range", {{big}, {big + 3}, {1}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ints, (std::vector<int64_t>{big, big + 1, big + 2}));
  EXPECT_FALSE(FoldInts("Range", {{kMin}, {kMax}, {1}}));  // the span overflows
  // Pow: exact where it fits, unfolded where it overflows.
  EXPECT_EQ(FoldInts("Pow", {{3}, {39}})->ints, (std::vector<int64_t>{4052555153018976267}));
  EXPECT_FALSE(FoldInts("Pow", {{3}, {40}}));
  // Clip saturates its bounds instead of casting 2^63 back.
  auto clipped = FoldInts("Clip", {{kMax, kMin, 5}, {kMin}, {kMax}});
  ASSERT_TRUE(clipped);
  EXPECT_EQ(clipped->ints, (std::vector<int64_t>{kMax, kMin, 5}));
}

TEST(ConstantFolding, InvalidSplitsAndShapesAreFoldErrors) {
  onnx::NodeProto split;
  split.set_op_type("Split");
  split.add_input("x");
  split.add_input("split");
  split.add_output("a");
  split.add_output("b");
  const ConstTensor x{DType::kInt64, {4}, {1, 2, 3, 4}, {}}, sizes{DType::kInt64, {2}, {6, -2}, {}};
  std::vector<ConstTensor> out;
  EXPECT_THROW(FoldNode(split, 17, {{&x, nullptr, true}, {&sizes, nullptr, true}}, out), FoldError);
  // A Slice with the most negative step counts one element, not |INT64_MIN|.
  auto one = FoldInts("Slice", {{1, 2, 3}, {2}, {-5}, {0}, {std::numeric_limits<int64_t>::min()}});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->ints, (std::vector<int64_t>{3}));
  // Later opsets may redefine an op: nothing is folded past the last one known.
  EXPECT_FALSE(FoldInts("Add", {{1}, {2}}, /*opset=*/18));
}

}  // namespace
}  // namespace allot
