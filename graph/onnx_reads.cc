#include "graph/onnx_reads.h"

#include <onnx/onnx_pb.h>

#include <set>
#include <unordered_set>

namespace allot {
namespace {

void CollectOuterReads(const onnx::GraphProto& g, std::set<std::string>& out);

void CollectAttributeReads(const onnx::NodeProto& node, const std::unordered_set<std::string>& local,
                           std::set<std::string>& out) {
  for (const auto& attr : node.attribute()) {
    std::set<std::string> inner;
    if (attr.has_g()) CollectOuterReads(attr.g(), inner);
    for (const auto& body : attr.graphs()) CollectOuterReads(body, inner);
    for (const auto& n : inner)
      if (!local.count(n)) out.insert(n);
  }
}

// Names a body reads from enclosing scopes (as the importer computes them).
void CollectOuterReads(const onnx::GraphProto& g, std::set<std::string>& out) {
  std::unordered_set<std::string> local;
  for (const auto& vi : g.input()) local.insert(vi.name());
  for (const auto& init : g.initializer()) local.insert(init.name());
  for (const auto& sparse : g.sparse_initializer()) local.insert(sparse.values().name());
  for (const auto& node : g.node()) {
    for (const auto& in : node.input())
      if (!in.empty() && !local.count(in)) out.insert(in);
    CollectAttributeReads(node, local, out);
    for (const auto& o : node.output()) local.insert(o);
  }
  for (const auto& o : g.output())
    if (!local.count(o.name())) out.insert(o.name());
}

}  // namespace

std::vector<std::string> NodeReads(const onnx::NodeProto& node) {
  std::vector<std::string> reads;
  std::unordered_set<std::string> seen;
  for (const auto& in : node.input())
    if (!in.empty() && seen.insert(in).second) reads.push_back(in);
  std::set<std::string> outer;
  CollectAttributeReads(node, {}, outer);
  for (const auto& name : outer)
    if (seen.insert(name).second) reads.push_back(name);
  return reads;
}

}  // namespace allot
