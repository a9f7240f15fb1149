// Real exports end to end through the CLI: a few models of the coverage zoo (models/export_zoo.py), exported by
// PyTorch, imported, placed on cpu2, run, and matched against PyTorch's outputs by models/zoo_coverage.py. They
// are the model classes the importer once refused: torch.chunk's Slice (ShuffleNet), attention's reshapes
// (MultiheadAttention), F.interpolate's Resize (LR-ASPP), detection models' NonMaxSuppression, NonZero and If
// (SSDlite; Faster R-CNN's roi pooling, an If on bounded sizes whose branches differ in rank), and a GRU, with and
// without a dynamic batch axis.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

TEST(ZooTest, RealExportsImportPlaceRunAndMatchPyTorch) {
  if (std::system("/usr/bin/python3 -c 'import torch, torchvision, onnx' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-torch, torchvision or onnx not available to export the models";
  const fs::path out = fs::temp_directory_path() / "allot_zoo_test";
  fs::remove(out / "coverage.json");
  const std::string cmd = "/usr/bin/python3 " + std::string(ALLOT_SOURCE_DIR) + "/models/zoo_coverage.py --out " +
                          out.string() + " --allot " + std::string(ALLOT_BINARY_DIR) +
                          "/allot --models 'shufflenet_v2_x0_5,multihead_attention,lraspp_mobilenet_v3_large,"
                          "ssdlite320_mobilenet_v3_large,fasterrcnn_mobilenet_v3_large_320_fpn,gru_lm' --opsets 13 > " +
                          (out / "log.txt").string() + " 2>&1";
  fs::create_directories(out);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "see " << (out / "log.txt");
  std::ifstream in(out / "coverage.json");
  const nlohmann::json coverage = nlohmann::json::parse(in);
  size_t entries = 0;
  for (const auto& [key, entry] : coverage["entries"].items()) {
    ++entries;
    EXPECT_EQ(entry["status"], "matched") << key << ": " << entry.value("error", nlohmann::json()).dump();
  }
  EXPECT_EQ(entries, 10u);  // six models at opset 13, and four with a dynamic batch (not the detection models)
}

}  // namespace
