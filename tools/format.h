#pragma once
// Human-readable numbers for the CLI's tables.
#include <cstdint>
#include <string>

namespace allot::tools {

std::string FormatBytes(double bytes);   // "1.23 GiB"
std::string FormatCount(double n);       // "12.3 M", "1.23 G"
std::string FormatFlops(double flops);   // "1.23 TFLOP"
std::string FormatSeconds(double s);     // "12.3 ms"
std::string WithCommas(uint64_t n);      // "12,345"

}  // namespace allot::tools
