#include "tools/format.h"

#include <cstdio>

namespace allot::tools {
namespace {

std::string Scaled(double v, const char* const* units, int n_units, double step, const char* suffix) {
  int u = 0;
  while (v >= step && u + 1 < n_units) {
    v /= step;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s%s" : "%.2f %s%s", v, units[u], suffix);
  return buf;
}

}  // namespace

std::string FormatBytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  return Scaled(bytes, units, 5, 1024, "");
}

std::string FormatCount(double n) {
  static const char* const units[] = {"", "K", "M", "G", "T"};
  std::string s = Scaled(n, units, 5, 1000, "");
  if (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string FormatFlops(double flops) {
  static const char* const units[] = {"", "K", "M", "G", "T", "P"};
  return Scaled(flops, units, 6, 1000, "FLOP");
}

std::string FormatSeconds(double s) {
  char buf[64];
  if (s >= 1) std::snprintf(buf, sizeof buf, "%.2f s", s);
  else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  return buf;
}

std::string WithCommas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace allot::tools
