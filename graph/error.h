#pragma once
// The one exception type of allot's boundaries (files, ONNX, CLI, JSON). Its message is a single line that names
// the file, node or field at fault; the CLI prints it as "allot: <message>" and exits non-zero. Internal
// invariants are asserts, never Errors.
#include <stdexcept>
#include <string>

namespace allot {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace allot
