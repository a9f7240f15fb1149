#pragma once
// Running the built `allot` binary from a test, and the boundary contract every command keeps: one line on
// stderr starting "allot: ", a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace allot::test {

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// The built binary's path, for commands that wrap it (timeout, env).
inline std::string AllotBinary() { return std::string(ALLOT_BINARY_DIR) + "/allot"; }

// Runs a shell command line, stdout and stderr together.
inline Outcome RunCommand(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  Outcome o;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return o;
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), pipe)) o.out += buf.data();
  const int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

inline Outcome RunAllot(const std::string& args) { return RunCommand(AllotBinary() + " " + args); }

// A path under a per-suite temporary folder.
inline std::string TempPath(const std::string& folder, const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / folder;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline void ExpectOneLineError(const Outcome& o, const std::string& needle) {
  EXPECT_EQ(o.exit_code, 1) << o.out;  // 2 is an internal error: a bug, never the input's fault
  EXPECT_EQ(o.out.rfind("allot: ", 0), 0u) << o.out;
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 1) << o.out;
  EXPECT_NE(o.out.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << o.out;
}

}  // namespace allot::test
