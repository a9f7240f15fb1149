#pragma once
// Whole-file reads and atomic writes: a failed command never leaves a partial output file behind.
#include <string>

namespace allot {

// Throws Error naming the path when the file cannot be read.
std::string ReadFile(const std::string& path);
// Writes to "<path>.tmp" then renames over `path`; on failure removes the temporary and throws Error.
void WriteFileAtomic(const std::string& path, const std::string& data);

}  // namespace allot
