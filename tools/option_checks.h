#pragma once
// Checks on command-line values shared by allot's commands, so that a bad one is a one-line error naming the
// option (CLI11 prefixes the option's name) instead of a run on nonsense: `--batch 0`, `--steps -1`, `-o ""`.
#include <CLI/CLI.hpp>
#include <string>

namespace allot::tools {

// Counts (steps, repeats, batch and sequence sizes): 1 to 2^31 - 1. Larger ones are typos, and their products
// overflow the sizes they scale.
inline const CLI::Range kCount(1, 2147483647, "COUNT >= 1");
// The same where 0 has a meaning (warm-up steps, "0: automatic" thread counts).
inline const CLI::Range kCountOrZero(0, 2147483647, "COUNT >= 0");
// A duration in seconds: above 0, at most about 31 years.
inline const CLI::Range kSeconds(1e-3, 1e9, "SECONDS > 0");
// A file or folder to write: an empty name is refused (a missing -o is the option's default, not "").
inline const CLI::Validator kOutputPath(
    [](std::string& path) { return path.empty() ? std::string("an output path must not be empty") : std::string(); },
    "PATH");

}  // namespace allot::tools
