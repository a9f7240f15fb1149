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

// An input file that does not exist (the Python module raises FileNotFoundError for it; the CLI prints it as any
// Error).
class FileNotFound : public Error {
 public:
  using Error::Error;
};

// A value from the input quoted in an Error: at most `max_chars` of it, then "...' (N characters)", so that a
// hostile 10 MB name does not become a 10 MB message.
inline std::string Quote(const std::string& value, size_t max_chars = 60) {
  if (value.size() <= max_chars) return "'" + value + "'";
  return "'" + value.substr(0, max_chars) + "...' (" + std::to_string(value.size()) + " characters)";
}

}  // namespace allot
