#pragma once
// The symbolic dims a model is imported with (--batch, --seq, --dim NAME=N), and their JSON form, which placement
// files ("bindings") and annotated models (metadata "allot.bindings") record so that a placement can be read
// back against the same graph.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace allot {

struct DimBindings {
  int64_t batch = 0;  // binds symbolic batch dims (dim 0 of inputs, or names like "batch", "N"); 0: leave
  int64_t seq = 0;    // binds symbolic sequence dims (names containing "seq", "len", "time", "step", "token")
  std::vector<std::pair<std::string, int64_t>> dims;  // explicit bindings by dim_param name; win over the above

  bool empty() const { return batch == 0 && seq == 0 && dims.empty(); }
};

// {"batch": 8, "seq": 50, "dims": {"N": 8}}, with only the bindings given.
std::string BindingsToJson(const DimBindings& b);
// Parses that form; `what` names it in errors ("P.json: field 'bindings'").
DimBindings BindingsFromJson(const std::string& json, const std::string& what);

}  // namespace allot
