// External-data initializers at import: locations stay inside the model's folder, and the files hold the bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "tests/external_model.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

std::string ImportError(const std::string& path) {
  try {
    ImportOnnxFile(path, ImportOptions{});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ExternalDataTest, ModelsWhoseWeightsLiveBesideThemImport) {
  const fs::path dir = test::ExternalModelDir("allot_external_ok");
  const std::string model = test::WriteExternalModel(dir, "w.bin");
  const Graph g = ImportOnnxFile(model, ImportOptions{});
  EXPECT_TRUE(g.tensor(g.FindTensor("W")).is_parameter);
  EXPECT_EQ(g.tensor(g.FindTensor("W")).bytes, 4u * 8u * 4u);
}

TEST(ExternalDataTest, LocationsOutsideTheModelsFolderAreRefused) {
  const fs::path dir = test::ExternalModelDir("allot_external_outside");
  for (const std::string location : {"/etc/passwd", "../../../../etc/passwd", "sub/../../w.bin"}) {
    const std::string model = test::WriteExternalModel(dir, location);
    const std::string error = ImportError(model);
    EXPECT_NE(error.find("initializer 'W': external data location '" + location + "' is outside the model's folder"),
              std::string::npos)
        << error;
  }
  // A symlink inside the folder that leads out of it.
  fs::create_symlink("/etc/passwd", dir / "link.bin");
  const std::string error = ImportError(test::WriteExternalModel(dir, "link.bin"));
  EXPECT_NE(error.find("'link.bin' leads outside the model's folder"), std::string::npos) << error;
}

TEST(ExternalDataTest, ShortFilesAndWrongLengthsAreRefused) {
  const fs::path dir = test::ExternalModelDir("allot_external_short");
  const std::string model = test::WriteExternalModel(dir, "w.bin", /*file_bytes=*/100);
  EXPECT_NE(ImportError(model).find("is shorter than offset + length (128 > 100 bytes)"), std::string::npos);
  const std::string lying = test::WriteExternalModel(dir, "w.bin", 128, /*length=*/64);
  EXPECT_NE(ImportError(lying).find("external data length 64 differs from the 128 bytes its dims and type take"),
            std::string::npos);
}

}  // namespace
}  // namespace allot
